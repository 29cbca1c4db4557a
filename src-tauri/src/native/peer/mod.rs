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
    IceCandidate, NativeEvent, PeerKey, RemoteSignal, SdpKind, SessionDescription, StreamId,
};

use super::capture;
use super::playback::Playback;
use super::sdp::{self, PayloadTypes};
use super::{frames, EventSink, NativeError};

mod pipeline;

use pipeline::build;

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
    /// Our DTLS role once the first exchange settled it: webrtcbin 1.22
    /// forgets it when answering a later offer (an ICE restart) and the
    /// browser refuses a role change, so later answers are kept to it.
    dtls_role: Option<&'static str>,
    closed: bool,
    /// The chat channel closed: the person has gone.
    gone: bool,
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
        let sdp = match description.sdp().as_text() {
            Ok(sdp) => sdp,
            Err(error) => return self.error(format!("unreadable local description: {error}")),
        };
        let (sdp, description) = match (kind, self.keep_dtls_role(&sdp)) {
            (SdpKind::Answer, Some(kept)) if kept != sdp => {
                match gst_sdp::SDPMessage::parse_buffer(kept.as_bytes()) {
                    Ok(message) => (
                        kept,
                        WebRTCSessionDescription::new(WebRTCSDPType::Answer, message),
                    ),
                    Err(error) => return self.error(format!("our answer, amended: {error}")),
                }
            }
            _ => (sdp, description),
        };
        self.emit(NativeEvent::LocalDescription {
            peer: self.key,
            description: SessionDescription { kind, sdp },
        });
        webrtc.emit_by_name::<()>(
            "set-local-description",
            &[&description, &None::<gst::Promise>],
        );
    }

    /// Our answer `sdp` with the DTLS role the first exchange settled
    /// (recording it on the first answer).
    fn keep_dtls_role(&self, sdp: &str) -> Option<String> {
        let mut state = self.lock();
        match state.dtls_role {
            Some(role) => Some(sdp::with_dtls_role(sdp, role)),
            None => {
                state.dtls_role = sdp::dtls_role(sdp);
                None
            }
        }
    }

    fn remote(self: &Arc<Self>, description: SessionDescription) -> Result<(), NativeError> {
        tracing::debug!(peer = self.key.0, kind = ?description.kind, "their description arrives");
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
                None => {
                    let started = std::time::Instant::now();
                    let webrtc = build(self, &mut state, PayloadTypes::from_sdp(&description.sdp))?;
                    tracing::debug!(peer = self.key.0, took = ?started.elapsed(), "built");
                    webrtc
                }
            };
            if description.kind == SdpKind::Answer && state.dtls_role.is_none() {
                state.dtls_role = sdp::dtls_role(&description.sdp).map(sdp::opposite);
            }
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
        tracing::debug!(peer = self.key.0, was_offer, "their description is set");
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
