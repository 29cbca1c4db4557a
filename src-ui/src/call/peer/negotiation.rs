//! Perfect negotiation (W3C WebRTC §10.7), so both sides may start a
//! negotiation at any time and simultaneous offers never deadlock:
//!
//! - every change that needs negotiation (tracks, the data channel, an ICE
//!   restart) fires `negotiationneeded`, answered by an implicit
//!   `setLocalDescription()` whose offer goes out at once;
//! - a colliding offer (we are making one, or are not `stable`) is ignored by
//!   the *impolite* side and accepted by the *polite* one, whose
//!   `setRemoteDescription` rolls its own offer back implicitly. Politeness
//!   is fixed when the connection is made, from the two signaling ids (the
//!   larger id is polite), so both sides always disagree about it;
//! - remote candidates that arrive before a remote description are queued,
//!   and incoming messages are handled strictly one at a time, in order
//!   (`Peer::deliver` feeds [`handle`]).

use std::rc::Rc;

use serde_json::Value;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{RtcIceCandidateInit, RtcSessionDescriptionInit, RtcSignalingState};

use super::{Incoming, Inner, Peer, PeerEvent};
use crate::call::{js, sdp};

/// `negotiationneeded`: an implicit `setLocalDescription()`, whose offer
/// (an answer, if a remote offer is being handled) goes out at once.
pub(super) fn make_offer(inner: &Rc<Inner>) {
    let inner = inner.clone();
    spawn_local(async move {
        if inner.closed.get() {
            return;
        }
        inner.making_offer.set(true);
        let result = js::set_local_description(&inner.pc).await;
        if let Err(error) = result {
            gloo::console::warn!(format!("offer failed: {}", js::describe(&error)));
        } else if let Some((kind, json)) = local_description(&inner) {
            let event = match kind {
                web_sys::RtcSdpType::Answer => PeerEvent::Answer(json),
                _ => PeerEvent::Offer(json),
            };
            (inner.on_event)(event);
        }
        inner.making_offer.set(false);
    });
}

/// Handles one inbound description or candidate.
pub(super) async fn handle(inner: &Rc<Inner>, message: Incoming) {
    match message {
        Incoming::Description(description) => {
            if let Err(error) = handle_description(inner, description).await {
                gloo::console::warn!(format!("negotiation failed: {}", js::describe(&error)));
            }
        }
        Incoming::Candidate(candidate) => {
            if inner.pc.remote_description().is_none() {
                inner.waiting_candidates.borrow_mut().push(candidate);
            } else {
                add_candidate(inner, candidate).await;
            }
        }
    }
}

async fn handle_description(inner: &Rc<Inner>, description: Value) -> Result<(), JsValue> {
    let pc = &inner.pc;
    let kind = description
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let is_offer = kind == "offer";
    let ready_for_offer = !inner.making_offer.get()
        && (pc.signaling_state() == RtcSignalingState::Stable || inner.setting_answer.get());
    let collision = is_offer && !ready_for_offer;
    if collision {
        inner.collisions.set(inner.collisions.get() + 1);
    }
    inner.ignore_offer.set(!inner.polite && collision);
    if inner.ignore_offer.get() {
        return Ok(());
    }
    inner.setting_answer.set(kind == "answer");
    let init: RtcSessionDescriptionInit = js::to_js(&description).unchecked_into();
    let result = JsFuture::from(pc.set_remote_description(&init)).await;
    inner.setting_answer.set(false);
    result?;
    if is_offer {
        if !inner.local_attached.get() {
            // A responder's tracks join the answer to the first offer.
            Peer(inner.clone()).attach_local();
        }
        js::set_local_description(pc).await?;
        if let Some((_, answer)) = local_description(inner) {
            (inner.on_event)(PeerEvent::Answer(answer));
        }
    }
    let waiting = std::mem::take(&mut *inner.waiting_candidates.borrow_mut());
    for candidate in waiting {
        add_candidate(inner, candidate).await;
    }
    Ok(())
}

async fn add_candidate(inner: &Rc<Inner>, candidate: Value) {
    if candidate.is_null() || candidate.get("candidate").and_then(Value::as_str) == Some("") {
        // End of candidates: nothing to add.
        return;
    }
    let init: RtcIceCandidateInit = js::to_js(&candidate).unchecked_into();
    let promise = inner
        .pc
        .add_ice_candidate_with_opt_rtc_ice_candidate_init(Some(&init));
    match JsFuture::from(promise).await {
        Ok(_) => inner.candidates_added.set(inner.candidates_added.get() + 1),
        // Candidates for an offer we ignored are expected to fail.
        Err(_) if inner.ignore_offer.get() => {}
        Err(error) => gloo::console::warn!(format!("addIceCandidate: {}", js::describe(&error))),
    }
}

/// Our current local description as it goes to the other side: its type,
/// and its JSON with the video start bitrate we ask for
/// ([`sdp::with_start_bitrate`]).
pub(super) fn local_description(inner: &Inner) -> Option<(web_sys::RtcSdpType, Value)> {
    let description = inner.pc.local_description()?;
    let mut json = js::to_json(&description)?;
    if let Some(text) = json.get("sdp").and_then(Value::as_str) {
        json["sdp"] = Value::from(sdp::with_start_bitrate(text, inner.start_kbps));
    }
    Some((description.type_(), json))
}
