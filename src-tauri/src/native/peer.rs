//! One native peer: a `webrtcbin` in a pipeline of its own, doing for one
//! remote person what an `RTCPeerConnection` does in the browser engine.
//!
//! - Sends VP8 and Opus from `appsrc`s the capture fills ([`super::capture`]),
//!   on two `sendrecv` transceivers (pads requested as `sink_%u`, so a
//!   browser's offer may order them either way), `max-bundle`.
//! - The chat data channel is negotiated (label `peercall`, id 0, ordered),
//!   as the browser engine's, so it is made up front on both sides.
//! - Offers at most once, when told to (the first offer, with default
//!   payload types); otherwise it waits for theirs and answers with *their*
//!   payload types (a mismatch makes webrtcbin add a receive-only
//!   transceiver and send nothing). It never offers again: webrtcbin has no
//!   rollback, so it is the impolite side, ignores an offer that crosses its
//!   own, and answers every later offer (renegotiation, ICE restart).
//! - Remote candidates wait until their description is set; `.local`
//!   (mDNS) ones are dropped.
//! - Receives through `decodebin`: video to the frames server (its
//!   [`StreamId`], announced by [`NativeEvent::RemoteVideo`] on the first
//!   frame), audio to the playback mixer.
//! - Everything it reports goes to the [`EventSink`] it was opened with,
//!   from GStreamer's threads.

use std::sync::{Arc, Mutex, Weak};

use gst::glib;
use gst::prelude::*;
use gst_webrtc::{WebRTCDataChannel, WebRTCSDPType, WebRTCSessionDescription};
use peercall_signal::protocol::IceServer;
use peercall_signal::shell::native::{
    IceCandidate, NativeEvent, PeerKey, PeerState, RemoteSignal, SdpKind, SessionDescription,
    StreamId,
};

use super::capture::{self, AUDIO_CAPS, VIDEO_CAPS};
use super::playback::Playback;
use super::sdp::{self, PayloadTypes};
use super::{frames, EventSink, NativeError};

/// The chat channel's label (the browser engine's `CHANNEL_LABEL`).
pub const CHANNEL_LABEL: &str = "peercall";

/// What a peer shares with the engine.
pub struct Context {
    /// Where its events go.
    pub sink: Arc<dyn EventSink>,
    /// Where the local media comes from.
    pub fanout: Arc<capture::Fanout>,
    /// Where its audio goes.
    pub playback: Arc<Playback>,
    /// Where its video goes.
    pub frames: frames::Frames,
    /// Its video's stream.
    pub stream: StreamId,
}

/// One native peer. Dropping it closes it.
pub struct Peer {
    inner: Arc<Inner>,
}

struct Inner {
    key: PeerKey,
    context: Context,
    ice_servers: Vec<IceServer>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    built: Option<Built>,
    /// A remote description has been set (candidates can be added).
    remote_set: bool,
    /// The remote description's SDP, for candidates' `sdpMid`.
    remote_sdp: String,
    pending: Vec<IceCandidate>,
    /// We offered and have no answer yet.
    offering: bool,
    closed: bool,
}

struct Built {
    pipeline: gst::Pipeline,
    webrtc: gst::Element,
    channel: Option<WebRTCDataChannel>,
}

impl Peer {
    /// Opens the peer; with `offer`, builds it and makes the first offer at
    /// once, otherwise waits for the remote offer.
    pub fn open(
        key: PeerKey,
        ice_servers: Vec<IceServer>,
        offer: bool,
        context: Context,
    ) -> Result<Self, NativeError> {
        let inner = Arc::new(Inner {
            key,
            context,
            ice_servers,
            state: Mutex::new(State::default()),
        });
        if offer {
            let webrtc = {
                let mut state = inner.lock();
                build(&inner, &mut state, PayloadTypes::default())?
            };
            let weak = Arc::downgrade(&inner);
            let promise = gst::Promise::with_change_func(move |reply| {
                let Some(inner) = weak.upgrade() else { return };
                match description(reply, "offer") {
                    Ok(offer) => inner.set_local(offer, SdpKind::Offer),
                    Err(error) => inner.error(format!("could not make an offer: {error}")),
                }
            });
            inner.lock().offering = true;
            webrtc.emit_by_name::<()>("create-offer", &[&None::<gst::Structure>, &promise]);
        }
        Ok(Self { inner })
    }

    /// Takes what the remote side sent.
    pub fn signal(&self, signal: RemoteSignal) -> Result<(), NativeError> {
        match signal {
            RemoteSignal::Description { description } => self.inner.remote(description),
            RemoteSignal::Candidate { candidate } => {
                self.inner.candidate(candidate);
                Ok(())
            }
        }
    }

    /// Sends `text` on the chat channel.
    pub fn send(&self, text: &str) -> Result<(), NativeError> {
        let state = self.inner.lock();
        let channel = state
            .built
            .as_ref()
            .and_then(|b| b.channel.clone())
            .filter(|c| c.ready_state() == gst_webrtc::WebRTCDataChannelState::Open)
            .ok_or(NativeError::ChannelNotOpen(self.inner.key.0))?;
        drop(state);
        channel
            .send_string_full(Some(text))
            .map_err(|e| NativeError::Gst(format!("sending on the data channel: {e}")))
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let built = {
            let mut state = self.inner.lock();
            state.closed = true;
            state.built.take()
        };
        let key = self.inner.key;
        self.inner.context.fanout.remove(key);
        if let Some(built) = built {
            if let Some(channel) = &built.channel {
                channel.close();
            }
            let _ = built.pipeline.set_state(gst::State::Null);
        }
        self.inner.context.playback.remove(key);
        self.inner.context.frames.remove(self.inner.context.stream);
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn emit(&self, event: NativeEvent) {
        if !self.lock().closed {
            self.context.sink.send(event);
        }
    }

    fn error(&self, message: String) {
        tracing::warn!(peer = self.key.0, %message, "native peer");
        self.emit(NativeEvent::Error {
            peer: Some(self.key),
            message,
        });
    }

    fn webrtc(&self) -> Option<gst::Element> {
        self.lock().built.as_ref().map(|b| b.webrtc.clone())
    }

    /// Sends our description to the page, then sets it (so no candidate of
    /// ours can reach the page before it).
    fn set_local(&self, description: WebRTCSessionDescription, kind: SdpKind) {
        let Some(webrtc) = self.webrtc() else { return };
        match description.sdp().as_text() {
            Ok(sdp) => self.emit(NativeEvent::LocalDescription {
                peer: self.key,
                description: SessionDescription { kind, sdp },
            }),
            Err(error) => return self.error(format!("unreadable local description: {error}")),
        }
        webrtc.emit_by_name::<()>(
            "set-local-description",
            &[&description, &None::<gst::Promise>],
        );
    }

    fn remote(self: &Arc<Self>, description: SessionDescription) -> Result<(), NativeError> {
        let message = gst_sdp::SDPMessage::parse_buffer(description.sdp.as_bytes())
            .map_err(|e| NativeError::Sdp(e.to_string()))?;
        let webrtc = {
            let mut state = self.lock();
            match description.kind {
                SdpKind::Offer if state.offering => {
                    // The impolite side: our own offer stands.
                    tracing::info!(peer = self.key.0, "ignoring an offer that crossed ours");
                    return Ok(());
                }
                SdpKind::Answer if !state.offering => {
                    return Err(NativeError::Sdp("an answer without our offer".into()));
                }
                _ => {}
            }
            let webrtc = match &state.built {
                Some(built) => built.webrtc.clone(),
                None => build(self, &mut state, PayloadTypes::from_sdp(&description.sdp))?,
            };
            state.remote_sdp = description.sdp.clone();
            webrtc
        };
        let kind = match description.kind {
            SdpKind::Offer => WebRTCSDPType::Offer,
            SdpKind::Answer => WebRTCSDPType::Answer,
        };
        let is_offer = kind == WebRTCSDPType::Offer;
        let weak = Arc::downgrade(self);
        let promise = gst::Promise::with_change_func(move |reply| {
            let Some(inner) = weak.upgrade() else { return };
            if let Err(error) = failure(reply) {
                return inner.error(format!("their description was refused: {error}"));
            }
            inner.remote_applied(is_offer);
        });
        webrtc.emit_by_name::<()>(
            "set-remote-description",
            &[&WebRTCSessionDescription::new(kind, message), &promise],
        );
        Ok(())
    }

    /// Their description is set: add the candidates that waited, and answer
    /// an offer.
    fn remote_applied(self: &Arc<Self>, was_offer: bool) {
        let (webrtc, pending) = {
            let mut state = self.lock();
            state.remote_set = true;
            if !was_offer {
                state.offering = false;
            }
            (
                state.built.as_ref().map(|b| b.webrtc.clone()),
                std::mem::take(&mut state.pending),
            )
        };
        let Some(webrtc) = webrtc else { return };
        for candidate in pending {
            self.add_candidate(&webrtc, &candidate);
        }
        if was_offer {
            let weak: Weak<Inner> = Arc::downgrade(self);
            let promise = gst::Promise::with_change_func(move |reply| {
                let Some(inner) = weak.upgrade() else { return };
                match description(reply, "answer") {
                    Ok(answer) => inner.set_local(answer, SdpKind::Answer),
                    Err(error) => inner.error(format!("could not answer: {error}")),
                }
            });
            webrtc.emit_by_name::<()>("create-answer", &[&None::<gst::Structure>, &promise]);
        }
    }

    fn candidate(&self, candidate: IceCandidate) {
        if candidate.candidate.trim().is_empty() || sdp::is_mdns(&candidate.candidate) {
            return;
        }
        let webrtc = {
            let mut state = self.lock();
            match (&state.built, state.remote_set) {
                (Some(built), true) => built.webrtc.clone(),
                _ => {
                    state.pending.push(candidate);
                    return;
                }
            }
        };
        self.add_candidate(&webrtc, &candidate);
    }

    fn add_candidate(&self, webrtc: &gst::Element, candidate: &IceCandidate) {
        let index = candidate.sdp_m_line_index.unwrap_or_else(|| {
            let state = self.lock();
            candidate
                .sdp_mid
                .as_deref()
                .and_then(|mid| sdp::index_of_mid(&state.remote_sdp, mid))
                .unwrap_or(0)
        });
        webrtc.emit_by_name::<()>("add-ice-candidate", &[&index, &candidate.candidate]);
    }
}

/// The description a promise answered with under `field`.
fn description(
    reply: Result<Option<&gst::StructureRef>, gst::PromiseError>,
    field: &str,
) -> Result<WebRTCSessionDescription, String> {
    let reply = reply.map_err(|e| format!("{e:?}"))?.ok_or("no reply")?;
    if let Ok(error) = reply.get::<glib::Error>("error") {
        return Err(error.to_string());
    }
    reply
        .get::<WebRTCSessionDescription>(field)
        .map_err(|e| e.to_string())
}

/// Whether a promise's reply says it failed.
fn failure(reply: Result<Option<&gst::StructureRef>, gst::PromiseError>) -> Result<(), String> {
    match reply {
        Err(e) => Err(format!("{e:?}")),
        Ok(Some(reply)) => match reply.get::<glib::Error>("error") {
            Ok(error) => Err(error.to_string()),
            Err(_) => Ok(()),
        },
        Ok(None) => Ok(()),
    }
}

/// Builds and plays the peer's pipeline with `payload` types; answers its
/// `webrtcbin`.
fn build(
    inner: &Arc<Inner>,
    state: &mut State,
    payload: PayloadTypes,
) -> Result<gst::Element, NativeError> {
    let gst_error = |e: &dyn std::fmt::Display| NativeError::Gst(format!("peer pipeline: {e}"));
    let pipeline = gst::Pipeline::with_name(&format!("peercall-peer-{}", inner.key.0));
    let webrtc = gst::ElementFactory::make("webrtcbin")
        .name("webrtc")
        .property_from_str("bundle-policy", "max-bundle")
        .property("latency", 100u32)
        .build()
        .map_err(|e| gst_error(&e))?;
    configure_ice(&webrtc, &inner.ice_servers);
    pipeline.add(&webrtc).map_err(|e| gst_error(&e))?;

    let audio_rtp = format!(
        "application/x-rtp,media=audio,encoding-name=OPUS,payload={},clock-rate=48000,encoding-params=(string)2",
        payload.opus
    );
    let video_rtp = format!(
        "application/x-rtp,media=video,encoding-name=VP8,payload={},clock-rate=90000",
        payload.vp8
    );
    let audio = format!(
        "appsrc name=src is-live=true do-timestamp=true format=time leaky-type=downstream max-buffers=5 ! \
         {AUDIO_CAPS} ! queue ! audioconvert ! audioresample ! opusenc bitrate=32000 ! \
         rtpopuspay pt={} ! queue ! capsfilter name=rtp",
        payload.opus
    );
    let video = format!(
        "appsrc name=src is-live=true do-timestamp=true format=time leaky-type=downstream max-buffers=2 ! \
         {VIDEO_CAPS} ! queue max-size-buffers=2 leaky=downstream ! \
         vp8enc deadline=1 target-bitrate=1000000 keyframe-max-dist=60 ! \
         rtpvp8pay pt={} picture-id-mode=15-bit mtu=1200 ! queue ! capsfilter name=rtp",
        payload.vp8
    );
    let mut sources = Vec::new();
    for (description, rtp_caps) in [(audio, audio_rtp), (video, video_rtp)] {
        let caps: gst::Caps = rtp_caps.parse().map_err(|e| gst_error(&e))?;
        let bin = gst::parse::bin_from_description(&description, true).map_err(|e| gst_error(&e))?;
        bin.by_name("rtp")
            .ok_or_else(|| gst_error(&"no rtp capsfilter"))?
            .set_property("caps", &caps);
        pipeline.add(&bin).map_err(|e| gst_error(&e))?;
        let pad = webrtc
            .request_pad_simple("sink_%u")
            .ok_or_else(|| gst_error(&"webrtcbin gave no sink pad"))?;
        bin.static_pad("src")
            .ok_or_else(|| gst_error(&"no src pad"))?
            .link(&pad)
            .map_err(|e| gst_error(&e))?;
        let transceiver = pad.property::<gst_webrtc::WebRTCRTPTransceiver>("transceiver");
        transceiver.set_property(
            "direction",
            gst_webrtc::WebRTCRTPTransceiverDirection::Sendrecv,
        );
        transceiver.set_property("codec-preferences", &caps);
        let src = appsrc(&bin)?;
        sources.push(src);
    }
    connect_signals(inner, &webrtc);
    watch_bus(inner, &pipeline);
    let audio_src = sources.remove(0);
    let video_src = sources.remove(0);

    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| gst_error(&e))?;
    inner.context.fanout.add(inner.key, video_src, audio_src);
    inner.context.playback.play();

    let config = gst::Structure::builder("config")
        .field("negotiated", true)
        .field("id", 0i32)
        .field("ordered", true)
        .build();
    let channel = webrtc.emit_by_name::<Option<WebRTCDataChannel>>(
        "create-data-channel",
        &[&CHANNEL_LABEL, &Some(config)],
    );
    if let Some(channel) = &channel {
        connect_channel(inner, channel);
    }
    state.built = Some(Built {
        pipeline,
        webrtc: webrtc.clone(),
        channel,
    });
    Ok(webrtc)
}

/// Handles the pipeline's messages as they are posted (nothing piles up on
/// its bus): an error is reported to the page, a new latency (a stream
/// added) is applied.
fn watch_bus(inner: &Arc<Inner>, pipeline: &gst::Pipeline) {
    let weak = Arc::downgrade(inner);
    let pipeline_weak = pipeline.downgrade();
    let bus = pipeline.bus().expect("a pipeline has a bus");
    bus.set_sync_handler(move |_, message| {
        match message.view() {
            gst::MessageView::Error(error) => {
                if let Some(inner) = weak.upgrade() {
                    inner.error(format!("pipeline: {}", error.error()));
                }
            }
            gst::MessageView::Latency(_) => {
                let pipeline = pipeline_weak.clone();
                // Not from the streaming thread that posted it.
                std::thread::spawn(move || {
                    if let Some(pipeline) = pipeline.upgrade() {
                        let _ = pipeline.recalculate_latency();
                    }
                });
            }
            _ => {}
        }
        gst::BusSyncReply::Drop
    });
}

/// STUN and TURN servers from the page's list (webrtcbin takes one STUN
/// server and any number of TURN servers, as URLs with the credentials in
/// them).
fn configure_ice(webrtc: &gst::Element, servers: &[IceServer]) {
    let mut stun_set = false;
    for server in servers {
        for url in &server.urls {
            let (scheme, rest) = match url.split_once(':') {
                Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest.trim_start_matches("//")),
                None => continue,
            };
            match scheme.as_str() {
                "stun" if !stun_set => {
                    webrtc.set_property("stun-server", format!("stun://{rest}"));
                    stun_set = true;
                }
                "turn" | "turns" => {
                    let escape = |s: &str| -> String {
                        s.bytes()
                            .map(|b| match b {
                                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                                    (b as char).to_string()
                                }
                                _ => format!("%{b:02X}"),
                            })
                            .collect()
                    };
                    let user = escape(server.username.as_deref().unwrap_or_default());
                    let pass = escape(server.credential.as_deref().unwrap_or_default());
                    let url = format!("{scheme}://{user}:{pass}@{rest}");
                    let _ = webrtc.emit_by_name::<bool>("add-turn-server", &[&url]);
                }
                _ => {}
            }
        }
    }
}

fn connect_signals(inner: &Arc<Inner>, webrtc: &gst::Element) {
    let weak = Arc::downgrade(inner);
    webrtc.connect("on-ice-candidate", false, move |values| {
        let inner = weak.upgrade()?;
        let index = values[1].get::<u32>().ok()?;
        let candidate = values[2].get::<String>().ok()?;
        let webrtc = values[0].get::<gst::Element>().ok()?;
        let mid = webrtc
            .property::<Option<WebRTCSessionDescription>>("local-description")
            .and_then(|d| d.sdp().as_text().ok())
            .and_then(|sdp| sdp::mid_of(&sdp, index));
        inner.emit(NativeEvent::LocalCandidate {
            peer: inner.key,
            candidate: IceCandidate {
                candidate,
                sdp_mid: mid,
                sdp_m_line_index: Some(index),
                username_fragment: None,
            },
        });
        None
    });
    let weak = Arc::downgrade(inner);
    webrtc.connect_notify(Some("connection-state"), move |webrtc, _| {
        let Some(inner) = weak.upgrade() else { return };
        use gst_webrtc::WebRTCPeerConnectionState as S;
        let state = match webrtc.property::<S>("connection-state") {
            S::New => PeerState::New,
            S::Connecting => PeerState::Connecting,
            S::Connected => PeerState::Connected,
            S::Disconnected => PeerState::Disconnected,
            S::Failed => PeerState::Failed,
            _ => PeerState::Closed,
        };
        inner.emit(NativeEvent::State {
            peer: inner.key,
            state,
        });
    });
    let weak = Arc::downgrade(inner);
    webrtc.connect_pad_added(move |webrtc, pad| {
        let Some(inner) = weak.upgrade() else { return };
        if pad.direction() != gst::PadDirection::Src {
            return;
        }
        if let Err(error) = super::receive::decode(&inner_receiver(&inner), webrtc, pad) {
            inner.error(error.to_string());
        }
    });
}

/// What the receiving side needs of a peer.
fn inner_receiver(inner: &Arc<Inner>) -> super::receive::Receiver {
    let weak = Arc::downgrade(inner);
    let on_error_weak = Arc::downgrade(inner);
    super::receive::Receiver {
        on_error: Arc::new(move |message| {
            if let Some(inner) = on_error_weak.upgrade() {
                inner.error(format!("a received stream: {message}"));
            }
        }),
        peer: inner.key,
        stream: inner.context.stream,
        frames: inner.context.frames.clone(),
        playback: Arc::clone(&inner.context.playback),
        on_video: Arc::new(move || {
            if let Some(inner) = weak.upgrade() {
                inner.emit(NativeEvent::RemoteVideo {
                    peer: inner.key,
                    stream: inner.context.stream,
                });
            }
        }),
    }
}

fn connect_channel(inner: &Arc<Inner>, channel: &WebRTCDataChannel) {
    let weak = Arc::downgrade(inner);
    channel.connect_on_open(move |_| {
        if let Some(inner) = weak.upgrade() {
            inner.emit(NativeEvent::ChannelOpen { peer: inner.key });
        }
    });
    let weak = Arc::downgrade(inner);
    channel.connect_on_close(move |_| {
        if let Some(inner) = weak.upgrade() {
            inner.emit(NativeEvent::ChannelClosed { peer: inner.key });
        }
    });
    let weak = Arc::downgrade(inner);
    channel.connect_on_message_string(move |_, text| {
        if let (Some(inner), Some(text)) = (weak.upgrade(), text) {
            inner.emit(NativeEvent::ChannelMessage {
                peer: inner.key,
                text: text.to_owned(),
            });
        }
    });
    let weak = Arc::downgrade(inner);
    channel.connect_on_error(move |_, error| {
        if let Some(inner) = weak.upgrade() {
            inner.error(format!("data channel: {error}"));
        }
    });
}


/// The `appsrc` called `src` in `bin`.
fn appsrc(bin: &gst::Bin) -> Result<gst_app::AppSrc, NativeError> {
    bin.by_name("src")
        .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
        .ok_or_else(|| NativeError::Gst("no appsrc".into()))
}
