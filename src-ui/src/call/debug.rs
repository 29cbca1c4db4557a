//! `window.__peercall`: a small window into the engine for end-to-end tests
//! and benchmarks. Everything it reports is read from the live objects
//! (`getStats()`, track states), nothing is kept for it. Its one action,
//! `restartIce()`, does exactly what the engine does when a connection
//! fails, so tests can exercise ICE restarts and colliding offers on a
//! loopback network that never fails by itself.
//!
//! `await window.__peercall.stats()` returns
//! `{ myId, online, phase, room, startedAt, local: {...}, openedTracks,
//! liveTracks, peers: [{ key, id, name, state, detached, audioMuted,
//! videoMuted, connectionState, framesDecoded, audioPacketsReceived,
//! audioSamplesReceived, candidatesSent, candidatesAdded, firstFrameMs, ... }] }`.

use std::rc::Rc;

use serde_json::{json, Value};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsValue;

use super::{js, session, CallPhase, CallTarget, Engine};

/// Puts the hook on `window`.
pub(super) fn install(engine: &Engine) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let weak = Rc::downgrade(&engine.0);
    let stats = Closure::<dyn Fn() -> js_sys::Promise>::new(move || {
        let weak = weak.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let Some(inner) = weak.upgrade() else {
                return Ok(JsValue::NULL);
            };
            Ok(js::to_js(&snapshot(&Engine(inner)).await))
        })
    });
    let weak = Rc::downgrade(&engine.0);
    let restart = Closure::<dyn Fn()>::new(move || {
        if let Some(session) = weak.upgrade().and_then(|inner| Engine(inner).session()) {
            session.restart_ice();
        }
    });
    let hook = js_sys::Object::new();
    js::set(&hook, "stats", stats.as_ref().clone());
    js::set(&hook, "restartIce", restart.as_ref().clone());
    // The engine lives as long as the page, and so does its hook.
    stats.forget();
    restart.forget();
    js::set(&window, "__peercall", hook);
}

async fn snapshot(engine: &Engine) -> Value {
    let opened = engine.0.opened_tracks.borrow().clone();
    let live = opened
        .iter()
        .filter(|t| t.ready_state() == web_sys::MediaStreamTrackState::Live)
        .count();
    let mut out = json!({
        "myId": engine.my_id(),
        "online": engine.my_id().is_some(),
        "openedTracks": opened.len(),
        "liveTracks": live,
        "openConnections": super::peer::open_connections(),
        "phase": Value::Null,
        "peers": [],
    });
    let Some(session) = engine.session() else {
        return out;
    };
    let phase = match session.debug_phase() {
        CallPhase::Preparing => "preparing".to_owned(),
        CallPhase::Ringing => "ringing".to_owned(),
        CallPhase::Joined => "joined".to_owned(),
        CallPhase::Ended(reason) => format!("ended:{}", reason.as_str()),
    };
    let started_at = session.started_at();
    let local = session.debug_local();
    let tracks: Vec<Value> = local
        .stream
        .as_ref()
        .map(session::track_states)
        .unwrap_or_default()
        .into_iter()
        .map(|(kind, state, enabled, label)| {
            json!({ "kind": kind, "readyState": state, "enabled": enabled, "label": label })
        })
        .collect();
    let mut peers = Vec::new();
    for (view, detached, stats) in session.debug_peers().await {
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
        .debug_milestones()
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
