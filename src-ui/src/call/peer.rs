//! One `RTCPeerConnection` to one remote participant, negotiated with the
//! *perfect negotiation* pattern (W3C WebRTC §10.7), so both sides may start
//! a negotiation at any time and simultaneous offers never deadlock:
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
//!   and incoming messages are handled strictly one at a time, in order.
//!
//! The chat channel is *negotiated* (`id` 0 on both sides), so neither side
//! waits for `datachannel` and both may create it up front.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use gloo::timers::callback::{Interval, Timeout};
use peercall_signal::protocol::IceServer;
use serde_json::Value;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{
    Event, MediaStream, MediaStreamTrack, MessageEvent, RtcConfiguration, RtcDataChannel,
    RtcDataChannelInit, RtcDataChannelState, RtcIceCandidateInit, RtcPeerConnection,
    RtcPeerConnectionIceEvent, RtcPeerConnectionState, RtcRtpTransceiver,
    RtcRtpTransceiverDirection, RtcRtpTransceiverInit, RtcSessionDescriptionInit,
    RtcSignalingState, RtcTrackEvent,
};

use super::chat::{PeerMessage, CHANNEL_LABEL};
use super::{js, sdp};

/// After this long in `disconnected`, restart ICE rather than wait for the
/// browser to declare the connection failed (~30 s in Chromium).
const RESTART_AFTER_DISCONNECTED_MS: u32 = 4_000;
/// How often to look for the first decoded remote video frame.
const FIRST_FRAME_POLL_MS: u32 = 20;

/// The connection as the person sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnState {
    /// Setting up for the first time.
    Connecting,
    /// Media can flow.
    Connected,
    /// Was connected, lost the path, trying again (ICE restart).
    Reconnecting,
    /// Gave up (ICE failed); a restart is attempted whenever signaling can
    /// carry it.
    Failed,
}

impl ConnState {
    /// Stable name for `data-connection-state`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Connected => "connected",
            Self::Reconnecting => "reconnecting",
            Self::Failed => "failed",
        }
    }
}

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

/// Counters and figures for the debug hook.
#[derive(Clone, Debug, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerStats {
    /// `RTCPeerConnection.connectionState`.
    pub connection_state: String,
    /// `RTCPeerConnection.iceConnectionState`.
    pub ice_connection_state: String,
    /// Video frames decoded (inbound-rtp).
    pub frames_decoded: f64,
    /// Video frames received (inbound-rtp).
    pub frames_received: f64,
    /// Audio packets received (inbound-rtp).
    pub audio_packets_received: f64,
    /// Audio samples received (inbound-rtp `totalSamplesReceived`).
    pub audio_samples_received: f64,
    /// Audio energy received (inbound-rtp `totalAudioEnergy`).
    pub audio_energy: f64,
    /// Bytes received over all inbound-rtp streams.
    pub bytes_received: f64,
    /// Video frames received that were key frames (inbound-rtp).
    pub key_frames_decoded: f64,
    /// Picture-loss indications we sent (inbound-rtp `pliCount`).
    pub pli_sent: f64,
    /// Video frames we encoded (outbound-rtp).
    pub frames_encoded: f64,
    /// Key frames we encoded (outbound-rtp).
    pub key_frames_encoded: f64,
    /// Video frames we sent (outbound-rtp).
    pub frames_sent: f64,
    /// Why our video quality is limited (outbound-rtp), if it is.
    pub quality_limitation: String,
    /// Frames our camera track delivered to this connection (media-source).
    pub source_frames: f64,
    /// Local candidates sent to the remote peer.
    pub candidates_sent: u32,
    /// Remote candidates added to this connection.
    pub candidates_added: u32,
    /// ICE restarts started here.
    pub ice_restarts: u32,
    /// Offers that collided with our own (glare), ignored or rolled back.
    pub collisions: u32,
    /// Remote ICE username fragment in use (changes on an ICE restart).
    pub remote_ufrag: String,
    /// `performance.now()` of the first decoded remote video frame.
    pub first_frame_at: Option<f64>,
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
            on_event: Box::new(on_event),
            closures: RefCell::new(Vec::new()),
        });
        install_handlers(&inner);
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
                    handle(&inner, message).await;
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
            if let Some((_, offer)) = local_description(inner) {
                (inner.on_event)(PeerEvent::Offer(offer));
                return;
            }
        }
        inner.ice_restarts.set(inner.ice_restarts.get() + 1);
        js::restart_ice(&inner.pc);
    }

    /// Reads `getStats()` for the debug hook.
    pub async fn stats(&self) -> PeerStats {
        let inner = &self.0;
        let mut stats = PeerStats {
            connection_state: js::get_string(&inner.pc, "connectionState").unwrap_or_default(),
            ice_connection_state: js::get_string(&inner.pc, "iceConnectionState")
                .unwrap_or_default(),
            candidates_sent: inner.candidates_sent.get(),
            candidates_added: inner.candidates_added.get(),
            ice_restarts: inner.ice_restarts.get(),
            collisions: inner.collisions.get(),
            remote_ufrag: inner
                .pc
                .remote_description()
                .and_then(|d| {
                    d.sdp()
                        .lines()
                        .find_map(|l| l.strip_prefix("a=ice-ufrag:").map(str::to_owned))
                })
                .unwrap_or_default(),
            first_frame_at: inner.first_frame_at.get(),
            ..PeerStats::default()
        };
        let Ok(report) = JsFuture::from(inner.pc.get_stats()).await else {
            return stats;
        };
        for entry in report_entries(&report) {
            let field = |name| js::get_f64(&entry, name).unwrap_or(0.0);
            let kind = js::get_string(&entry, "kind");
            match js::get_string(&entry, "type").as_deref() {
                Some("media-source") if kind.as_deref() == Some("video") => {
                    stats.source_frames += field("frames");
                    continue;
                }
                Some("outbound-rtp") if kind.as_deref() == Some("video") => {
                    stats.quality_limitation =
                        js::get_string(&entry, "qualityLimitationReason").unwrap_or_default();
                    stats.frames_encoded += field("framesEncoded");
                    stats.key_frames_encoded += field("keyFramesEncoded");
                    stats.frames_sent += field("framesSent");
                    continue;
                }
                Some("inbound-rtp") => {}
                _ => continue,
            }
            stats.bytes_received += field("bytesReceived");
            match kind.as_deref() {
                Some("video") => {
                    stats.frames_decoded += field("framesDecoded");
                    stats.frames_received += field("framesReceived");
                    stats.key_frames_decoded += field("keyFramesDecoded");
                    stats.pli_sent += field("pliCount");
                }
                Some("audio") => {
                    stats.audio_packets_received += field("packetsReceived");
                    stats.audio_samples_received += field("totalSamplesReceived");
                    stats.audio_energy += field("totalAudioEnergy");
                }
                _ => {}
            }
        }
        stats
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

/// Our current local description as it goes to the other side: its type,
/// and its JSON with the video start bitrate we ask for
/// ([`sdp::with_start_bitrate`]).
fn local_description(inner: &Inner) -> Option<(web_sys::RtcSdpType, Value)> {
    let description = inner.pc.local_description()?;
    let mut json = js::to_json(&description)?;
    if let Some(text) = json.get("sdp").and_then(Value::as_str) {
        json["sdp"] = Value::from(sdp::with_start_bitrate(text, inner.start_kbps));
    }
    Some((description.type_(), json))
}

/// The values of an `RTCStatsReport` (a JS maplike).
fn report_entries(report: &JsValue) -> Vec<JsValue> {
    let Ok(Some(iterator)) = js_sys::try_iter(report) else {
        return Vec::new();
    };
    iterator
        .filter_map(Result::ok)
        .filter_map(|pair| {
            js_sys::Array::from(&pair)
                .get(1)
                .dyn_into::<js_sys::Object>()
                .ok()
        })
        .map(JsValue::from)
        .collect()
}

async fn handle(inner: &Rc<Inner>, message: Incoming) {
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

fn install_handlers(inner: &Rc<Inner>) {
    let weak = Rc::downgrade(inner);
    let mut closures: Vec<Box<dyn std::any::Any>> = Vec::new();

    let on_negotiation = handler(&weak, |inner, _: Event| {
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
    });
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
        let track = event.track();
        for old in js::items::<MediaStreamTrack>(&inner.remote_stream.get_tracks()) {
            if old.kind() == track.kind() && old.id() != track.id() {
                inner.remote_stream.remove_track(&old);
            }
        }
        inner.remote_stream.add_track(&track);
        if track.kind() == "video" && inner.first_frame_at.get().is_none() {
            watch_first_frame(inner, event.receiver());
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

/// Polls the video receiver's stats until a frame is decoded, then reports
/// it once (the "join to first remote frame" figure).
fn watch_first_frame(inner: &Rc<Inner>, receiver: web_sys::RtcRtpReceiver) {
    let weak = Rc::downgrade(inner);
    let busy = Rc::new(Cell::new(false));
    let interval = Interval::new(FIRST_FRAME_POLL_MS, move || {
        if busy.get() {
            return;
        }
        let Some(inner) = weak.upgrade() else { return };
        busy.set(true);
        let receiver = receiver.clone();
        let busy = busy.clone();
        spawn_local(async move {
            if let Ok(report) = JsFuture::from(receiver.get_stats()).await {
                let decoded = report_entries(&report).iter().any(|entry| {
                    js::get_string(entry, "type").as_deref() == Some("inbound-rtp")
                        && js::get_f64(entry, "framesDecoded").unwrap_or(0.0) > 0.0
                });
                if decoded && inner.first_frame_at.get().is_none() && !inner.closed.get() {
                    inner.first_frame_at.set(Some(js::now()));
                    let poll = inner.frame_poll.borrow_mut().take();
                    spawn_local(async move { drop(poll) });
                    (inner.on_event)(PeerEvent::FirstFrame);
                }
            }
            busy.set(false);
        });
    });
    *inner.frame_poll.borrow_mut() = Some(interval);
}
