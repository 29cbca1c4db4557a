//! [`NativePeer`]: one remote person's connection, carried by the shell.
//! It behaves towards the session like the browser's `Peer`: it reports
//! [`PeerEvent`]s (descriptions and candidates to relay, states, the data
//! channel) and takes the other side's descriptions and candidates, strictly
//! in order (one [`Turnstile`] per peer).
//!
//! It offers at most once, when opened as the initiator, and never restarts
//! ICE itself (see [`super::negotiation`]).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use peercall_signal::protocol::IceServer;
use peercall_signal::shell::command;
use peercall_signal::shell::native::{
    IceCandidate, NativeEvent, PeerCloseArgs, PeerKey, PeerOpenArgs, PeerSendArgs, PeerSignalArgs,
    PeerState, RemoteSignal, SdpKind, SessionDescription, StreamId,
};
use serde_json::Value;

use super::{NativeShell, Turnstile};
use crate::call::chat::PeerMessage;
use crate::call::peer::{Incoming, PeerEvent};
use crate::call::{sdp, ConnState};

struct Inner {
    shell: NativeShell,
    key: PeerKey,
    turns: Turnstile,
    state: Cell<ConnState>,
    ever_connected: Cell<bool>,
    channel_open: Cell<bool>,
    /// The SDP session id of their last description.
    remote_session: RefCell<Option<String>>,
    /// Our offer, until its answer arrives.
    pending_offer: RefCell<Option<Value>>,
    /// Opened to offer, until the answer arrives: the shell may take a
    /// while to make the offer (its DTLS certificate, under load), and an
    /// offer of theirs meanwhile is glare all the same.
    offering: Cell<bool>,
    video: Cell<Option<StreamId>>,
    closed: Cell<bool>,
    on_event: Box<dyn Fn(PeerEvent)>,
}

/// One native peer (cloning shares it).
#[derive(Clone)]
pub struct NativePeer(Rc<Inner>);

impl NativePeer {
    /// Opens a peer in the shell; it makes the first offer if `offer`.
    pub fn open(
        shell: &NativeShell,
        ice_servers: Vec<IceServer>,
        offer: bool,
        on_event: impl Fn(PeerEvent) + 'static,
    ) -> Self {
        let inner = Rc::new_cyclic(|weak: &std::rc::Weak<Inner>| {
            let weak = weak.clone();
            let key = shell.register(Rc::new(move |event| {
                if let Some(inner) = weak.upgrade() {
                    if !inner.closed.get() {
                        on_shell_event(&inner, event);
                    }
                }
            }));
            Inner {
                shell: shell.clone(),
                key,
                turns: Turnstile::default(),
                state: Cell::new(ConnState::Connecting),
                ever_connected: Cell::new(false),
                channel_open: Cell::new(false),
                remote_session: RefCell::new(None),
                pending_offer: RefCell::new(None),
                offering: Cell::new(offer),
                video: Cell::new(None),
                closed: Cell::new(false),
                on_event: Box::new(on_event),
            }
        });
        let peer = Self(inner);
        let args = PeerOpenArgs {
            peer: peer.0.key,
            ice_servers,
            offer,
        };
        peer.command::<command::NativePeerOpen>(args);
        peer
    }

    /// Runs a command for this peer after every earlier one.
    fn command<C>(&self, args: C::Args)
    where
        C: command::Command<Output = ()> + 'static,
    {
        let inner = self.0.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let _turn = inner.turns.turn().await;
            if let Err(error) = inner.shell.call::<C>(args).await {
                gloo::console::warn!(format!("{}: {error:?}", C::NAME));
            }
        });
    }

    /// The connection state as shown to people.
    pub fn state(&self) -> ConnState {
        self.0.state.get()
    }

    /// Whether the chat channel is open.
    pub fn channel_open(&self) -> bool {
        self.0.channel_open.get() && !self.0.closed.get()
    }

    /// Sends a data-channel message; `false` when the channel isn't open.
    pub fn send(&self, message: &PeerMessage) -> bool {
        if !self.channel_open() {
            return false;
        }
        self.command::<command::NativePeerSend>(PeerSendArgs {
            peer: self.0.key,
            text: message.to_json(),
        });
        true
    }

    /// Their SDP session id, once a description of theirs arrived.
    pub fn remote_session(&self) -> Option<String> {
        self.0.remote_session.borrow().clone()
    }

    /// Whether our first offer is still waiting for its answer.
    pub fn offer_pending(&self) -> bool {
        self.0.offering.get() || self.0.pending_offer.borrow().is_some()
    }

    /// Their video's stream, once its first frame came.
    pub fn video(&self) -> Option<StreamId> {
        self.0.video.get()
    }

    /// Hands their description or candidate to the shell, in order.
    pub fn deliver(&self, message: Incoming) {
        if self.0.closed.get() {
            return;
        }
        let signal = match message {
            Incoming::Description(value) => {
                let Ok(description) = serde_json::from_value::<SessionDescription>(value) else {
                    gloo::console::warn!("ignored a malformed remote description");
                    return;
                };
                if description.kind == SdpKind::Answer {
                    self.0.pending_offer.borrow_mut().take();
                    self.0.offering.set(false);
                }
                *self.0.remote_session.borrow_mut() =
                    sdp::session_id(&description.sdp).map(str::to_owned);
                RemoteSignal::Description { description }
            }
            Incoming::Candidate(value) => {
                let Ok(candidate) = serde_json::from_value::<IceCandidate>(value) else {
                    return;
                };
                if !worth_adding(&candidate.candidate) {
                    return;
                }
                RemoteSignal::Candidate { candidate }
            }
        };
        self.command::<command::NativePeerSignal>(PeerSignalArgs {
            peer: self.0.key,
            signal,
        });
    }

    /// The native side can't restart ICE (the other side does); an offer
    /// of ours still unanswered — lost with a dead signaling socket — is
    /// sent again.
    pub fn restart(&self) {
        let pending = self.0.pending_offer.borrow().clone();
        if let Some(offer) = pending {
            (self.0.on_event)(PeerEvent::Offer(offer));
        }
    }

    /// Closes the peer in the shell for good (no events after this).
    pub fn close(&self) {
        if self.0.closed.replace(true) {
            return;
        }
        self.0.shell.forget(self.0.key);
        self.command::<command::NativePeerClose>(PeerCloseArgs { peer: self.0.key });
    }
}

/// End-of-candidates needs nothing, and `.local` (mDNS) names would make
/// the shell wait on the system resolver (webrtcbin hands them over and
/// hangs for seconds).
fn worth_adding(candidate: &str) -> bool {
    !candidate.is_empty()
        && !candidate
            .split_whitespace()
            .nth(4)
            .is_some_and(|address| address.ends_with(".local"))
}

fn on_shell_event(inner: &Rc<Inner>, event: NativeEvent) {
    let emit = |event| (inner.on_event)(event);
    match event {
        NativeEvent::LocalDescription { description, .. } => {
            let offer = description.kind == SdpKind::Offer;
            let Ok(json) = serde_json::to_value(&description) else {
                return;
            };
            if offer {
                *inner.pending_offer.borrow_mut() = Some(json.clone());
                emit(PeerEvent::Offer(json));
            } else {
                emit(PeerEvent::Answer(json));
            }
        }
        NativeEvent::LocalCandidate { candidate, .. } => {
            if let Ok(json) = serde_json::to_value(&candidate) {
                emit(PeerEvent::Candidate(json));
            }
        }
        NativeEvent::State { state, .. } => {
            let shown = conn_state(state, inner.ever_connected.get());
            if shown == ConnState::Connected {
                inner.ever_connected.set(true);
            }
            if inner.state.replace(shown) != shown {
                emit(PeerEvent::State(shown));
            }
        }
        NativeEvent::ChannelOpen { .. } => {
            inner.channel_open.set(true);
            emit(PeerEvent::ChannelOpen);
        }
        NativeEvent::ChannelClosed { .. } => {
            inner.channel_open.set(false);
            emit(PeerEvent::ChannelClosed);
        }
        NativeEvent::ChannelMessage { text, .. } => match PeerMessage::parse(&text) {
            Some(message) => emit(PeerEvent::Message(message)),
            None => gloo::console::warn!("ignored a malformed data-channel message"),
        },
        NativeEvent::RemoteVideo { stream, .. } => {
            let first = inner.video.replace(Some(stream)).is_none();
            emit(PeerEvent::Track);
            if first {
                emit(PeerEvent::FirstFrame);
            }
        }
        NativeEvent::Error { .. } => {
            // An offer that failed to be made never will be: their offer
            // is welcome again.
            if inner.pending_offer.borrow().is_none() {
                inner.offering.set(false);
            }
        }
        NativeEvent::LocalChanged { .. } | NativeEvent::EngineStopped => {}
    }
}

/// A native peer's state as people see it (as the browser engine shows an
/// `RTCPeerConnection`'s).
pub fn conn_state(state: PeerState, ever_connected: bool) -> ConnState {
    match state {
        PeerState::Connected => ConnState::Connected,
        PeerState::Failed | PeerState::Closed => ConnState::Failed,
        PeerState::Disconnected => ConnState::Reconnecting,
        PeerState::New | PeerState::Connecting if ever_connected => ConnState::Reconnecting,
        PeerState::New | PeerState::Connecting => ConnState::Connecting,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_read_as_the_browser_engine_shows_them() {
        assert_eq!(conn_state(PeerState::New, false), ConnState::Connecting);
        assert_eq!(
            conn_state(PeerState::Connecting, true),
            ConnState::Reconnecting
        );
        assert_eq!(
            conn_state(PeerState::Connected, false),
            ConnState::Connected
        );
        assert_eq!(
            conn_state(PeerState::Disconnected, true),
            ConnState::Reconnecting
        );
        assert_eq!(conn_state(PeerState::Failed, true), ConnState::Failed);
    }

    #[test]
    fn mdns_and_end_of_candidates_are_not_handed_over() {
        assert!(!worth_adding(""));
        assert!(!worth_adding(
            "candidate:1 1 udp 2122260223 0b1c2d3e-aaaa.local 54400 typ host"
        ));
        assert!(worth_adding(
            "candidate:1 1 udp 2122260223 192.0.2.7 54400 typ host generation 0"
        ));
    }
}
