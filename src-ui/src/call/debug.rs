//! `window.__peercall`: a small window into the engine for end-to-end tests
//! and benchmarks. Everything it reports is read from the live objects
//! (`getStats()`, track states), nothing is kept for it. Its one action,
//! `restartIce()`, does exactly what the engine does when a connection
//! fails, so tests can exercise ICE restarts and colliding offers on a
//! loopback network that never fails by itself.
//!
//! `window.__peercall.wasmMemory` is the page's `WebAssembly.Memory`.
//!
//! `await window.__peercall.stats()` returns
//! `{ myId, online, phase, room, startedAt, local: {...}, openedTracks,
//! liveTracks, peers: [{ key, id, name, state, detached, audioMuted,
//! videoMuted, connectionState, framesDecoded, audioPacketsReceived,
//! audioSamplesReceived, candidatesSent, candidatesAdded, firstFrameMs, ... }] }`.

use serde_json::{json, Value};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsValue;
use web_sys::{MediaStream, MediaStreamTrack};

use super::{js, peer, CallPhase, CallTarget, PageEngine, VideoSource};

/// Puts the hook on `window`; `engine` gives the engine while it lives.
pub(super) fn install(engine: impl Fn() -> Option<PageEngine> + Clone + 'static) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let stats = {
        let engine = engine.clone();
        Closure::<dyn Fn() -> js_sys::Promise>::new(move || {
            let engine = engine();
            wasm_bindgen_futures::future_to_promise(async move {
                let Some(engine) = engine else {
                    return Ok(JsValue::NULL);
                };
                Ok(js::to_js(&snapshot(&engine).await))
            })
        })
    };
    let restart = Closure::<dyn Fn()>::new(move || {
        if let Some(session) = engine().and_then(|engine| engine.session()) {
            session.restart_ice();
        }
    });
    let hook = js_sys::Object::new();
    js::set(&hook, "stats", stats.as_ref().clone());
    js::set(&hook, "restartIce", restart.as_ref().clone());
    // The page's wasm memory (`wasmMemory.buffer.byteLength`: what the
    // wasm heap has grown to, which it never gives back).
    js::set(&hook, "wasmMemory", wasm_bindgen::memory());
    // The engine lives as long as the page, and so does its hook.
    stats.forget();
    restart.forget();
    js::set(&window, "__peercall", hook);
}

async fn snapshot(engine: &PageEngine) -> Value {
    let (opened, live) = engine.opened_tracks();
    let mut out = json!({
        "myId": engine.my_id(),
        "online": engine.my_id().is_some(),
        "openedTracks": opened,
        "liveTracks": live,
        "openConnections": peer::open_connections(),
        "phase": Value::Null,
        "peers": [],
    });
    let Some(session) = engine.session() else {
        return out;
    };
    let phase = match session.current_phase() {
        CallPhase::Preparing => "preparing".to_owned(),
        CallPhase::Ringing => "ringing".to_owned(),
        CallPhase::Joined => "joined".to_owned(),
        CallPhase::Ended(reason) => format!("ended:{}", reason.as_str()),
    };
    let started_at = session.started_at();
    let local = session.local_view();
    let tracks: Vec<Value> = match &local.video {
        Some(VideoSource::Stream(stream)) => Some(stream),
        _ => None,
    }
    .map(track_states)
        .unwrap_or_default()
        .into_iter()
        .map(|(kind, state, enabled, label)| {
            json!({ "kind": kind, "readyState": state, "enabled": enabled, "label": label })
        })
        .collect();
    let mut peers = Vec::new();
    for (view, detached, stats) in session.peers().await {
        let mut peer = serde_json::to_value(&stats).unwrap_or_else(|_| json!({}));
        peer["key"] = json!(view.key);
        peer["id"] = json!(view.id);
        peer["name"] = json!(view.name);
        peer["state"] = json!(view.state.as_str());
        peer["detached"] = json!(detached);
        peer["audioMuted"] = json!(view.audio_muted);
        peer["videoMuted"] = json!(view.video_muted);
        peer["firstFrameMs"] = json!(stats.first_frame_at.map(|at| at - started_at));
        peers.push(peer);
    }
    out["phase"] = json!(phase);
    out["room"] = match session.target() {
        CallTarget::Room(room) => json!(room),
        CallTarget::Direct { .. } => Value::Null,
    };
    out["startedAt"] = json!(started_at);
    out["milestones"] = session
        .milestones()
        .into_iter()
        .map(|(name, ms)| (name.to_owned(), json!(ms)))
        .collect::<serde_json::Map<_, _>>()
        .into();
    out["local"] = json!({
        "audioMuted": local.audio_muted,
        "videoMuted": local.video_muted,
        "micError": local.mic_error.map(|e| e.as_str()),
        "cameraError": local.camera_error.map(|e| e.as_str()),
        "tracks": tracks,
    });
    out["peers"] = json!(peers);
    out
}

/// Each track of `stream`: kind, ready state, enabled, label (for the
/// "is the camera free" check).
fn track_states(stream: &MediaStream) -> Vec<(String, String, bool, String)> {
    js::items::<MediaStreamTrack>(&stream.get_tracks())
        .into_iter()
        .map(|t| {
            let state = match t.ready_state() {
                web_sys::MediaStreamTrackState::Live => "live",
                _ => "ended",
            };
            (t.kind(), state.to_owned(), t.enabled(), t.label())
        })
        .collect()
}
