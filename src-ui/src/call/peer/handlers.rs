//! The JS event handlers of a connection and its chat channel: each one
//! reaches the peer only while it is alive and open, and is detached before
//! the peer closes. Connection states become [`ConnState`]s, with an ICE
//! restart after a failure or a while `disconnected`.

use std::rc::{Rc, Weak};

use gloo::timers::callback::Timeout;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{
    Event, MediaStreamTrack, MessageEvent, RtcPeerConnectionIceEvent, RtcPeerConnectionState,
    RtcTrackEvent,
};

use super::{negotiation, screen, stats, Inner, Peer, PeerEvent};
use crate::call::chat::PeerMessage;
use crate::call::{js, ConnState};

/// After this long in `disconnected`, restart ICE rather than wait for the
/// browser to declare the connection failed (~30 s in Chromium).
const RESTART_AFTER_DISCONNECTED_MS: u32 = 4_000;

/// Sets every handler on the connection and its channel.
pub(super) fn install(inner: &Rc<Inner>) {
    let weak = Rc::downgrade(inner);
    let mut closures: Vec<Box<dyn std::any::Any>> = Vec::new();

    let on_negotiation = handler(&weak, |inner, _: Event| negotiation::make_offer(inner));
    inner
        .pc
        .set_onnegotiationneeded(Some(on_negotiation.as_ref().unchecked_ref()));
    closures.push(Box::new(on_negotiation));

    let on_candidate = handler(&weak, |inner, event: RtcPeerConnectionIceEvent| {
        // `null` marks the end of gathering; the remote side needs nothing.
        let Some(candidate) = event.candidate() else {
            return;
        };
        if let Some(json) = js::to_json(&candidate) {
            inner.candidates_sent.set(inner.candidates_sent.get() + 1);
            (inner.on_event)(PeerEvent::Candidate(json));
        }
    });
    inner
        .pc
        .set_onicecandidate(Some(on_candidate.as_ref().unchecked_ref()));
    closures.push(Box::new(on_candidate));

    let on_track = handler(&weak, |inner, event: RtcTrackEvent| {
        if screen::take_track(inner, &event) {
            (inner.on_event)(PeerEvent::Track);
            return;
        }
        let track = event.track();
        for old in js::items::<MediaStreamTrack>(&inner.remote_stream.get_tracks()) {
            if old.kind() == track.kind() && old.id() != track.id() {
                inner.remote_stream.remove_track(&old);
            }
        }
        inner.remote_stream.add_track(&track);
        if track.kind() == "video" && inner.first_frame_at.get().is_none() {
            stats::watch_first_frame(inner, event.receiver());
        }
        (inner.on_event)(PeerEvent::Track);
    });
    inner
        .pc
        .set_ontrack(Some(on_track.as_ref().unchecked_ref()));
    closures.push(Box::new(on_track));

    let on_state = handler(&weak, |inner, _: Event| update_state(inner));
    inner
        .pc
        .set_onconnectionstatechange(Some(on_state.as_ref().unchecked_ref()));
    closures.push(Box::new(on_state));

    let on_open = handler(&weak, |inner, _: Event| {
        (inner.on_event)(PeerEvent::ChannelOpen)
    });
    inner
        .channel
        .set_onopen(Some(on_open.as_ref().unchecked_ref()));
    closures.push(Box::new(on_open));

    let on_close = handler(&weak, |inner, _: Event| {
        (inner.on_event)(PeerEvent::ChannelClosed)
    });
    inner
        .channel
        .set_onclose(Some(on_close.as_ref().unchecked_ref()));
    closures.push(Box::new(on_close));

    let on_message = handler(&weak, |inner, event: MessageEvent| {
        let Some(text) = event.data().as_string() else {
            return;
        };
        match PeerMessage::parse(&text) {
            Some(message) => (inner.on_event)(PeerEvent::Message(message)),
            None => gloo::console::warn!("ignored a malformed data-channel message"),
        }
    });
    inner
        .channel
        .set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    closures.push(Box::new(on_message));

    *inner.closures.borrow_mut() = closures;
}

/// A JS event handler that reaches the peer while it is alive and open.
fn handler<E>(weak: &Weak<Inner>, f: impl Fn(&Rc<Inner>, E) + 'static) -> Closure<dyn FnMut(E)>
where
    E: JsCast + wasm_bindgen::convert::FromWasmAbi + 'static,
{
    let weak = weak.clone();
    Closure::new(move |event: E| {
        if let Some(inner) = weak.upgrade() {
            if !inner.closed.get() {
                f(&inner, event);
            }
        }
    })
}

fn update_state(inner: &Rc<Inner>) {
    let raw = inner.pc.connection_state();
    let state = match raw {
        RtcPeerConnectionState::Connected => ConnState::Connected,
        RtcPeerConnectionState::Failed => ConnState::Failed,
        RtcPeerConnectionState::Disconnected => ConnState::Reconnecting,
        _ if inner.ever_connected.get() => ConnState::Reconnecting,
        _ => ConnState::Connecting,
    };
    match raw {
        RtcPeerConnectionState::Connected => {
            inner.ever_connected.set(true);
            inner.restart_timer.borrow_mut().take();
        }
        RtcPeerConnectionState::Failed => {
            inner.restart_timer.borrow_mut().take();
            Peer(inner.clone()).restart();
        }
        RtcPeerConnectionState::Disconnected => {
            let weak = Rc::downgrade(inner);
            *inner.restart_timer.borrow_mut() =
                Some(Timeout::new(RESTART_AFTER_DISCONNECTED_MS, move || {
                    if let Some(inner) = weak.upgrade() {
                        if inner.pc.connection_state() == RtcPeerConnectionState::Disconnected {
                            Peer(inner).restart();
                        }
                    }
                }));
        }
        _ => {}
    }
    if inner.state.replace(state) != state {
        (inner.on_event)(PeerEvent::State(state));
    }
}
