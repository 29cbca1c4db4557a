//! A shared screen on one connection: ours goes out on a video transceiver
//! of its own (after the camera's), theirs arrives on one and is kept in a
//! stream apart from their camera.
//!
//! The screen transceiver is the connection's second video transceiver,
//! whoever created it: the sharer sets it `sendrecv` with the screen track,
//! and back to `recvonly` without one when sharing stops, so the other side
//! can later share on the same transceiver (both changes renegotiate through
//! perfect negotiation). A remote video track counts as a screen when it
//! arrives on that transceiver or in the stream the sharer announced
//! (`PeerMessage::Screen`, over the data channel).

use std::cell::{Cell, RefCell};

use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{
    MediaStream, MediaStreamTrack, MediaStreamTrackState, RtcPeerConnection, RtcRtpTransceiver,
    RtcRtpTransceiverDirection, RtcRtpTransceiverInit, RtcTrackEvent,
};

use super::{Inner, Peer};
use crate::call::js;

/// The connection's screen bits.
#[derive(Default)]
pub(super) struct ScreenState {
    /// Their screen, once a screen track arrived.
    remote: RefCell<Option<MediaStream>>,
    /// The stream id they announced for it.
    announced: RefCell<Option<String>>,
    /// They say they are sharing.
    sharing: Cell<bool>,
}

/// The live video transceivers, camera first.
fn video_transceivers(pc: &RtcPeerConnection) -> Vec<RtcRtpTransceiver> {
    js::items::<RtcRtpTransceiver>(&pc.get_transceivers())
        .into_iter()
        .filter(|t| {
            js::get_string(t, "currentDirection").as_deref() != Some("stopped")
                && js::get_string(t, "direction").as_deref() != Some("stopped")
                && t.receiver().track().kind() == "video"
        })
        .collect()
}

/// Takes a remote track that is a screen into the screen stream; `false`
/// when it is not one (it is their camera or microphone).
pub(super) fn take_track(inner: &Inner, event: &RtcTrackEvent) -> bool {
    let track = event.track();
    if track.kind() != "video" {
        return false;
    }
    let announced = inner.screen.announced.borrow().clone();
    let in_announced = announced.is_some_and(|id| {
        js::items::<MediaStream>(&event.streams())
            .iter()
            .any(|s| s.id() == id)
    });
    let camera = video_transceivers(&inner.pc).into_iter().next();
    if !in_announced && camera.as_ref() == Some(&event.transceiver()) {
        return false;
    }
    let mut remote = inner.screen.remote.borrow_mut();
    if remote.is_none() {
        *remote = MediaStream::new().ok();
    }
    if let Some(stream) = remote.as_ref() {
        for old in js::items::<MediaStreamTrack>(&stream.get_tracks()) {
            if old.id() != track.id() {
                stream.remove_track(&old);
            }
        }
        stream.add_track(&track);
    }
    true
}

impl Peer {
    /// Sends `screen` (a track and its own stream) on this connection, or
    /// stops sending one (`None`).
    pub fn set_screen(&self, screen: Option<(&MediaStreamTrack, &MediaStream)>) {
        let inner = &self.0;
        if inner.closed.get() {
            return;
        }
        let existing = video_transceivers(&inner.pc).into_iter().nth(1);
        let track = screen.map(|(track, _)| track);
        match (existing, screen) {
            (Some(transceiver), _) => {
                let sender = transceiver.sender();
                transceiver.set_direction(if screen.is_some() {
                    RtcRtpTransceiverDirection::Sendrecv
                } else {
                    RtcRtpTransceiverDirection::Recvonly
                });
                if let Some((_, stream)) = screen {
                    js::set_streams(&sender, stream);
                }
                let promise = sender.replace_track(track);
                spawn_local(async move {
                    if let Err(error) = JsFuture::from(promise).await {
                        gloo::console::warn!(format!(
                            "replaceTrack (screen) failed: {}",
                            js::describe(&error)
                        ));
                    }
                });
            }
            (None, Some((track, stream))) => {
                let init = RtcRtpTransceiverInit::new();
                init.set_direction(RtcRtpTransceiverDirection::Sendrecv);
                init.set_streams(&js_sys::Array::of1(stream));
                inner
                    .pc
                    .add_transceiver_with_media_stream_track_and_init(track, &init);
            }
            (None, None) => {}
        }
    }

    /// They say they are (or no longer are) sharing the screen in `stream`.
    pub fn set_remote_screen(&self, sharing: bool, stream: Option<String>) {
        self.0.screen.sharing.set(sharing);
        if sharing {
            *self.0.screen.announced.borrow_mut() = stream;
        }
    }

    /// Their shared screen, while they share one and its track is live.
    pub fn remote_screen(&self) -> Option<MediaStream> {
        if !self.0.screen.sharing.get() {
            return None;
        }
        let stream = self.0.screen.remote.borrow().clone()?;
        let live = js::items::<MediaStreamTrack>(&stream.get_video_tracks())
            .iter()
            .any(|t| t.ready_state() == MediaStreamTrackState::Live);
        live.then_some(stream)
    }
}
