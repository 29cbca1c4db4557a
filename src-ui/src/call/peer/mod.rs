//! One `RTCPeerConnection` to one remote participant, with its chat
//! `RTCDataChannel`: our tracks on it, its remote stream, ICE restarts, and
//! closing it for good.
//!
//! - [`negotiation`]: perfect negotiation, offers and answers both ways,
//!   remote candidates.
//! - [`handlers`]: the connection's and channel's JS events, turned into
//!   [`PeerEvent`]s and connection states.
//! - [`stats`]: `getStats()` for the debug hook, and the first decoded
//!   remote frame.
//! - [`channels`]: the data channels of file transfers.
//! - [`inspect`]: what the in-call tools read (safety code, a statistics
//!   reading, audio level).
//! - [`screen`]: a shared screen, ours or theirs, on a video transceiver of
//!   its own.
//!
//! The chat channel is *negotiated* (`id` 0 on both sides), so neither side
//! waits for `datachannel` and both may create it up front.

mod channels;
mod handlers;
mod inspect;
mod negotiation;
mod screen;
mod stats;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use gloo::timers::callback::{Interval, Timeout};
use peercall_signal::protocol::IceServer;
use serde_json::Value;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{
    MediaStream, MediaStreamTrack, RtcConfiguration, RtcDataChannel, RtcDataChannelInit,
    RtcDataChannelState, RtcPeerConnection, RtcRtpTransceiver, RtcRtpTransceiverDirection,
    RtcRtpTransceiverInit, RtcSignalingState,
};

use super::chat::{PeerMessage, CHANNEL_LABEL};
use super::{js, sdp, ConnState};
pub use stats::PeerStats;

/// Who makes the first offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Adds tracks now, so `negotiationneeded` makes the first offer.
    Initiator,
    /// Attaches tracks when the first offer arrives, inside that
    /// negotiation, so the answer carries them and no glare happens.
    Responder,
}

/// What a peer connection reports to its session.
#[derive(Clone, Debug)]
pub enum PeerEvent {
    /// An offer to send to the remote peer.
    Offer(Value),
    /// An answer to send.
    Answer(Value),
    /// A local ICE candidate to send (trickle).
    Candidate(Value),
    /// The connection state changed.
    State(ConnState),
    /// The remote stream gained a track.
    Track,
    /// The data channel opened.
    ChannelOpen,
    /// The data channel closed (the remote side hung up or the connection died).
    ChannelClosed,
    /// A data-channel message.
    Message(PeerMessage),
    /// The first remote video frame was decoded (for the join-time figure).
    FirstFrame,
}

/// Our current tracks, attached to every connection.
#[derive(Clone, Debug, Default)]
pub struct LocalTracks {
    /// The local stream (for `msid`).
    pub stream: Option<MediaStream>,
    /// Microphone.
    pub audio: Option<MediaStreamTrack>,
    /// Camera.
    pub video: Option<MediaStreamTrack>,
}

impl LocalTracks {
    fn get(&self, kind: &str) -> Option<&MediaStreamTrack> {
        match kind {
            "audio" => self.audio.as_ref(),
            _ => self.video.as_ref(),
        }
    }
}

/// Inbound signaling for this connection.
#[derive(Clone, Debug)]
pub enum Incoming {
    /// An offer or answer (`RTCSessionDescriptionInit` JSON).
    Description(Value),
    /// A remote candidate (`RTCIceCandidateInit` JSON).
    Candidate(Value),
}

struct Inner {
    pc: RtcPeerConnection,
    channel: RtcDataChannel,
    polite: bool,
    /// The bitrate (kbit/s) we ask the other side's video encoder to start at.
    start_kbps: u32,
    remote_stream: MediaStream,
    local: RefCell<LocalTracks>,
    local_attached: Cell<bool>,
    making_offer: Cell<bool>,
    ignore_offer: Cell<bool>,
    setting_answer: Cell<bool>,
    inbox: RefCell<VecDeque<Incoming>>,
    pumping: Cell<bool>,
    waiting_candidates: RefCell<Vec<Value>>,
    state: Cell<ConnState>,
    ever_connected: Cell<bool>,
    restart_timer: RefCell<Option<Timeout>>,
    frame_poll: RefCell<Option<Interval>>,
    first_frame_at: Cell<Option<f64>>,
    candidates_sent: Cell<u32>,
    candidates_added: Cell<u32>,
    ice_restarts: Cell<u32>,
    collisions: Cell<u32>,
    closed: Cell<bool>,
    /// Screen sharing on this connection.
    screen: screen::ScreenState,
    on_event: Box<dyn Fn(PeerEvent)>,
    closures: RefCell<Vec<Box<dyn std::any::Any>>>,
}

thread_local! {
    /// Peer connections created and not closed yet (debug hook).
    static OPEN: Cell<u32> = const { Cell::new(0) };
}

/// How many peer connections are open (debug hook: none may leak).
pub fn open_connections() -> u32 {
    OPEN.with(Cell::get)
}

/// One peer connection. Cloning shares it.
#[derive(Clone)]
pub struct Peer(Rc<Inner>);

impl Peer {
    /// Creates the connection and its chat channel. An initiator attaches
    /// `local` at once (which starts the first negotiation); a responder
    /// waits for the remote offer.
    pub fn new(
        ice_servers: &[IceServer],
        polite: bool,
        role: Role,
        local: LocalTracks,
        start_kbps: u32,
        on_event: impl Fn(PeerEvent) + 'static,
    ) -> Result<Self, JsValue> {
        let config = RtcConfiguration::new();
        config.set_ice_servers(&js::to_js(ice_servers));
        let pc = RtcPeerConnection::new_with_configuration(&config)?;
        let init = RtcDataChannelInit::new();
        init.set_negotiated(true);
        init.set_id(0);
        init.set_ordered(true);
        let channel = pc.create_data_channel_with_data_channel_dict(CHANNEL_LABEL, &init);
        let inner = Rc::new(Inner {
            pc,
            channel,
            polite,
            start_kbps,
            remote_stream: MediaStream::new()?,
            local: RefCell::new(local),
            local_attached: Cell::new(false),
            making_offer: Cell::new(false),
            ignore_offer: Cell::new(false),
            setting_answer: Cell::new(false),
            inbox: RefCell::new(VecDeque::new()),
            pumping: Cell::new(false),
            waiting_candidates: RefCell::new(Vec::new()),
            state: Cell::new(ConnState::Connecting),
            ever_connected: Cell::new(false),
            restart_timer: RefCell::new(None),
            frame_poll: RefCell::new(None),
            first_frame_at: Cell::new(None),
            candidates_sent: Cell::new(0),
            candidates_added: Cell::new(0),
            ice_restarts: Cell::new(0),
            collisions: Cell::new(0),
            closed: Cell::new(false),
            screen: screen::ScreenState::default(),
            on_event: Box::new(on_event),
            closures: RefCell::new(Vec::new()),
        });
        handlers::install(&inner);
        OPEN.with(|open| open.set(open.get() + 1));
        let peer = Self(inner);
        if role == Role::Initiator {
            peer.attach_local();
        }
        Ok(peer)
    }

    /// The remote participant's audio and video.
    pub fn remote_stream(&self) -> MediaStream {
        Clone::clone(&self.0.remote_stream)
    }

    /// The connection state as shown to people.
    pub fn state(&self) -> ConnState {
        self.0.state.get()
    }

    /// Whether the chat channel is open.
    pub fn channel_open(&self) -> bool {
        self.0.channel.ready_state() == RtcDataChannelState::Open
    }

    /// Sends a data-channel message; `false` when the channel isn't open.
    pub fn send(&self, message: &PeerMessage) -> bool {
        self.channel_open() && self.0.channel.send_with_str(&message.to_json()).is_ok()
    }

    /// The SDP session id (`o=` line) of the remote description, which is
    /// fixed for the lifetime of the remote `RTCPeerConnection`: an offer
    /// with another one comes from a new connection on the other side.
    pub fn remote_session(&self) -> Option<String> {
        self.0
            .pc
            .remote_description()
            .and_then(|d| sdp::session_id(&d.sdp()).map(str::to_owned))
    }

    /// Handles inbound signaling, strictly in arrival order.
    pub fn deliver(&self, message: Incoming) {
        if self.0.closed.get() {
            return;
        }
        self.0.inbox.borrow_mut().push_back(message);
        if !self.0.pumping.get() {
            self.0.pumping.set(true);
            let inner = self.0.clone();
            spawn_local(async move {
                loop {
                    let next = inner.inbox.borrow_mut().pop_front();
                    let Some(message) = next else { break };
                    if inner.closed.get() {
                        break;
                    }
                    negotiation::handle(&inner, message).await;
                }
                inner.pumping.set(false);
            });
        }
    }

    /// Switches the microphone or camera track on this connection (`None`:
    /// send nothing). Uses `replaceTrack`, so no renegotiation is needed
    /// unless the transceiver wasn't sending before.
    pub fn set_local(&self, local: LocalTracks) {
        *self.0.local.borrow_mut() = local;
        if self.0.local_attached.get() {
            self.attach_local();
        }
    }

    /// Restarts ICE (after a failure, or when signaling came back while the
    /// connection was down). An offer still waiting for its answer — lost
    /// with a dead signaling socket — is sent again instead.
    pub fn restart(&self) {
        let inner = &self.0;
        if inner.closed.get() {
            return;
        }
        if inner.pc.signaling_state() == RtcSignalingState::HaveLocalOffer {
            if let Some((_, offer)) = negotiation::local_description(inner) {
                (inner.on_event)(PeerEvent::Offer(offer));
                return;
            }
        }
        inner.ice_restarts.set(inner.ice_restarts.get() + 1);
        js::restart_ice(&inner.pc);
    }

    /// Closes the connection for good (no events after this).
    pub fn close(&self) {
        let inner = &self.0;
        if inner.closed.replace(true) {
            return;
        }
        OPEN.with(|open| open.set(open.get().saturating_sub(1)));
        inner.restart_timer.borrow_mut().take();
        inner.frame_poll.borrow_mut().take();
        // Events already queued (the channel's `close`, a last candidate)
        // still fire after `close()`: detach every handler first, so none
        // reaches a closure that is about to be dropped.
        inner.pc.set_onnegotiationneeded(None);
        inner.pc.set_onicecandidate(None);
        inner.pc.set_ontrack(None);
        inner.pc.set_onconnectionstatechange(None);
        inner.channel.set_onopen(None);
        inner.channel.set_onclose(None);
        inner.channel.set_onmessage(None);
        inner.channel.close();
        inner.pc.close();
        for track in js::items::<MediaStreamTrack>(&inner.remote_stream.get_tracks()) {
            inner.remote_stream.remove_track(&track);
        }
        // The handlers may be running right now: let them finish first.
        let closures = std::mem::take(&mut *inner.closures.borrow_mut());
        spawn_local(async move { drop(closures) });
    }

    /// Puts our tracks on the connection: reuses the transceiver of each
    /// kind when there is one (the remote offer made it), else adds one. Both
    /// kinds are always `sendrecv` on the call's one stream, even without a
    /// track, so tracks that arrive later (devices still opening, the camera
    /// turned back on) are a `replaceTrack`, not a renegotiation.
    fn attach_local(&self) {
        let inner = &self.0;
        if inner.closed.get() {
            return;
        }
        inner.local_attached.set(true);
        let local = inner.local.borrow().clone();
        for kind in ["audio", "video"] {
            let track = local.get(kind);
            match transceiver(&inner.pc, kind) {
                Some(transceiver) => {
                    // The remote offer's transceiver, or ours: set it sending
                    // and swap the track in. (Never `addTrack`: on a
                    // transceiver that has sent before it would add a new
                    // one, and a renegotiation with it.)
                    let sender = transceiver.sender();
                    if transceiver.direction() != RtcRtpTransceiverDirection::Sendrecv {
                        transceiver.set_direction(RtcRtpTransceiverDirection::Sendrecv);
                    }
                    if sender.track().as_ref() != track {
                        let promise = sender.replace_track(track);
                        spawn_local(async move {
                            if let Err(error) = JsFuture::from(promise).await {
                                gloo::console::warn!(format!(
                                    "replaceTrack failed: {}",
                                    js::describe(&error)
                                ));
                            }
                        });
                    }
                    if let Some(stream) = &local.stream {
                        js::set_streams(&sender, stream);
                    }
                }
                None => {
                    let init = RtcRtpTransceiverInit::new();
                    init.set_direction(RtcRtpTransceiverDirection::Sendrecv);
                    if let Some(stream) = &local.stream {
                        init.set_streams(&js_sys::Array::of1(stream));
                    }
                    match track {
                        Some(track) => inner
                            .pc
                            .add_transceiver_with_media_stream_track_and_init(track, &init),
                        None => inner.pc.add_transceiver_with_str_and_init(kind, &init),
                    };
                }
            }
        }
    }
}

/// The live transceiver that carries `kind`.
fn transceiver(pc: &RtcPeerConnection, kind: &str) -> Option<RtcRtpTransceiver> {
    js::items::<RtcRtpTransceiver>(&pc.get_transceivers())
        .into_iter()
        .filter(|t| {
            js::get_string(t, "currentDirection").as_deref() != Some("stopped")
                && js::get_string(t, "direction").as_deref() != Some("stopped")
        })
        .find(|t| t.receiver().track().kind() == kind)
}
