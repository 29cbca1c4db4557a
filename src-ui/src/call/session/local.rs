//! Our own camera and microphone in a call: the call's one local stream,
//! mute, camera off and on, and switching devices mid-call.
//!
//! [`Local`] is either engine's devices: [`WebLocal`] here (the browser's
//! tracks) or `NativeLocal` (the shell's capture). Neither knows of the
//! others; the session's methods at the bottom pass changes on to every
//! connection (`replaceTrack`, never a renegotiation; native peers get the
//! shell's capture by themselves) and tell everyone our mute state.
//! Whatever opens after the call ended is stopped at once.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;

use peercall_signal::protocol::ClientMessage;
use web_sys::{MediaStream, MediaStreamTrack};

use super::native_local::NativeLocal;
use super::Session;
use crate::call::chat::PeerMessage;
use crate::call::engine::Pending;
use crate::call::media::{self, DeviceError, LocalMedia, MediaPreferences};
use crate::call::native::NativeShell;
use crate::call::peer::LocalTracks;
use crate::call::{js, CallEvent, CallOptions, LocalView, VideoSource};

/// Our devices in one call, on either engine.
pub(super) enum Local {
    /// The browser's tracks.
    Web(Rc<WebLocal>),
    /// The shell's capture.
    Native(Rc<NativeLocal>),
}

impl Local {
    pub(super) fn new(options: &CallOptions, native: Option<NativeShell>) -> Self {
        match native {
            None => Self::Web(WebLocal::new(options)),
            Some(shell) => Self::Native(NativeLocal::new(options, shell)),
        }
    }

    pub(super) fn opening(&self) -> bool {
        match self {
            Self::Web(local) => local.opening(),
            Self::Native(local) => local.opening(),
        }
    }

    pub(super) fn preferences(&self) -> MediaPreferences {
        match self {
            Self::Web(local) => local.preferences(),
            Self::Native(local) => local.preferences(),
        }
    }

    pub(super) fn view(&self) -> LocalView {
        match self {
            Self::Web(local) => local.view(),
            Self::Native(local) => local.view(),
        }
    }

    /// What every browser connection sends (nothing for the native engine).
    pub(super) fn tracks(&self) -> LocalTracks {
        match self {
            Self::Web(local) => local.tracks(),
            Self::Native(_) => LocalTracks::default(),
        }
    }

    /// The browser engine's call stream (to count its tracks).
    pub(super) fn web_stream(&self) -> Option<MediaStream> {
        match self {
            Self::Web(local) => Some(local.stream()),
            Self::Native(_) => None,
        }
    }

    /// Opens the devices (or takes what `handed_over` gives, browser only);
    /// `false` when the call ended meanwhile.
    pub(super) async fn open(
        &self,
        handed_over: impl FnOnce(&MediaPreferences) -> Option<LocalMedia>,
    ) -> bool {
        match self {
            Self::Web(local) => local.open(handed_over).await,
            Self::Native(local) => local.open().await,
        }
    }

    fn set_mic_muted(&self, muted: bool) {
        match self {
            Self::Web(local) => local.set_mic_muted(muted),
            Self::Native(local) => local.set_mic_muted(muted),
        }
    }

    fn set_camera_on(&self, on: bool) -> Option<Pending<bool>> {
        match self {
            Self::Web(local) => local
                .set_camera_on(on)
                .map(|f| Box::pin(f) as Pending<bool>),
            Self::Native(local) => Some(local.set_camera_on(on)),
        }
    }

    fn switch_devices(&self, next: MediaPreferences) -> Option<Pending<bool>> {
        match self {
            Self::Web(local) => local
                .switch_devices(next)
                .map(|f| Box::pin(f) as Pending<bool>),
            Self::Native(local) => local.switch_devices(next),
        }
    }

    pub(super) fn release(&self) {
        match self {
            Self::Web(local) => local.release(),
            Self::Native(local) => local.release(),
        }
    }
}

/// Our devices in one call on the browser's WebRTC.
pub(super) struct WebLocal {
    /// Devices in use; starts as the call's preferences, changes when the
    /// user picks another camera or microphone during the call.
    preferences: RefCell<MediaPreferences>,
    /// The call's own stream: tracks come and go, the stream stays.
    media: RefCell<LocalMedia>,
    opening: Cell<bool>,
    mic_muted: Cell<bool>,
    camera_on: Cell<bool>,
    camera_error: Cell<Option<DeviceError>>,
    /// The call ended: every track is stopped, and so is any that opens now.
    released: Cell<bool>,
}

impl WebLocal {
    /// No devices yet (they are opening), with the mute state the call
    /// starts with.
    pub(super) fn new(options: &CallOptions) -> Rc<Self> {
        Rc::new(Self {
            preferences: RefCell::new(options.preferences.clone()),
            media: RefCell::new(LocalMedia::pending()),
            opening: Cell::new(true),
            mic_muted: Cell::new(options.start_muted),
            camera_on: Cell::new(!options.start_camera_off),
            camera_error: Cell::new(None),
            released: Cell::new(false),
        })
    }

    /// Still opening a device.
    pub(super) fn opening(&self) -> bool {
        self.opening.get()
    }

    /// The devices in use.
    pub(super) fn preferences(&self) -> MediaPreferences {
        self.preferences.borrow().clone()
    }

    /// The call's local stream.
    pub(super) fn stream(&self) -> MediaStream {
        Clone::clone(&self.media.borrow().stream)
    }

    /// Opens the devices for the call, or takes what `handed_over` gives
    /// for them (a preview's), and puts their tracks on the call's stream.
    /// `false` when the call ended meanwhile (they are stopped then).
    pub(super) async fn open(
        &self,
        handed_over: impl FnOnce(&MediaPreferences) -> Option<LocalMedia>,
    ) -> bool {
        // Joining with the camera off doesn't open it at all (no light).
        let mut wanted = self.preferences();
        wanted.want_camera = self.camera_on.get();
        let mut opened = match handed_over(&wanted) {
            Some(opened) => opened,
            None => media::acquire_with(&wanted).await,
        };
        if !wanted.want_camera {
            opened.camera_error = None;
        }
        if self.released.get() {
            opened.stop();
            return false;
        }
        {
            let mut media = self.media.borrow_mut();
            for track in js::items::<MediaStreamTrack>(&opened.stream.get_tracks()) {
                if track.kind() == "audio" {
                    track.set_enabled(!self.mic_muted.get());
                }
                media.stream.add_track(&track);
            }
            media.mic_error = opened.mic_error;
        }
        self.camera_error.set(opened.camera_error);
        self.opening.set(false);
        true
    }

    /// What every connection sends.
    pub(super) fn tracks(&self) -> LocalTracks {
        let media = self.media.borrow();
        LocalTracks {
            stream: Some(Clone::clone(&media.stream)),
            audio: media.audio_track(),
            video: media.video_track().filter(|_| self.camera_on.get()),
        }
    }

    /// What the page shows.
    pub(super) fn view(&self) -> LocalView {
        let media = self.media.borrow();
        LocalView {
            video: Some(VideoSource::Stream(Clone::clone(&media.stream))),
            audio_muted: self.mic_muted.get() || media.audio_track().is_none(),
            video_muted: !self.camera_on.get() || media.video_track().is_none(),
            mic_error: media.mic_error,
            camera_error: self.camera_error.get(),
            opening: self.opening.get(),
        }
    }

    pub(super) fn set_mic_muted(&self, muted: bool) {
        self.mic_muted.set(muted);
        if let Some(track) = self.media.borrow().audio_track() {
            track.set_enabled(!muted);
        }
    }

    /// Camera off stops its track (the camera light goes off). Camera on
    /// with no track returns the reopening, which yields whether the new
    /// track joined the stream; `None` when there is nothing to wait for.
    pub(super) fn set_camera_on(self: &Rc<Self>, on: bool) -> Option<impl Future<Output = bool>> {
        self.camera_on.set(on);
        let media = self.media.borrow().clone();
        if !on {
            if let Some(track) = media.video_track() {
                track.stop();
                media.stream.remove_track(&track);
            }
            return None;
        }
        if media.video_track().is_some() {
            return None;
        }
        self.opening.set(true);
        let local = self.clone();
        Some(async move {
            let result = media::camera_with(&local.preferences()).await;
            local.opening.set(false);
            match result {
                Ok(track) if !local.released.get() && local.camera_on.get() => {
                    local.camera_error.set(None);
                    media.stream.add_track(&track);
                    true
                }
                Ok(track) => {
                    track.stop();
                    false
                }
                Err(error) => {
                    local.camera_error.set(Some(error));
                    local.camera_on.set(false);
                    false
                }
            }
        })
    }

    /// Moves to the camera and/or microphone `next` names: the returned
    /// switch opens the new track, swaps it into the stream and releases
    /// the old one, and yields whether any track changed. `None` when no
    /// device in use changes.
    pub(super) fn switch_devices(
        self: &Rc<Self>,
        next: MediaPreferences,
    ) -> Option<impl Future<Output = bool>> {
        let previous = self.preferences.replace(next.clone());
        let media = self.media.borrow().clone();
        let new_camera = next.camera != previous.camera && media.video_track().is_some();
        let new_microphone =
            next.microphone != previous.microphone && media.audio_track().is_some();
        if !new_camera && !new_microphone {
            return None;
        }
        let local = self.clone();
        let next = MediaPreferences {
            exact_devices: true,
            ..next
        };
        Some(async move {
            let mut swapped = false;
            if new_camera {
                match media::camera_with(&next).await {
                    Ok(track) if !local.released.get() && local.camera_on.get() => {
                        if let Some(old) = media.video_track() {
                            media.stream.remove_track(&old);
                            old.stop();
                        }
                        media.stream.add_track(&track);
                        swapped = true;
                    }
                    Ok(track) => track.stop(),
                    Err(error) => local.camera_error.set(Some(error)),
                }
            }
            if new_microphone {
                match media::microphone_with(&next).await {
                    Ok(track) if !local.released.get() => {
                        track.set_enabled(!local.mic_muted.get());
                        if let Some(old) = media.audio_track() {
                            media.stream.remove_track(&old);
                            old.stop();
                        }
                        media.stream.add_track(&track);
                        swapped = true;
                    }
                    Ok(track) => track.stop(),
                    Err(error) => {
                        gloo::console::warn!(format!("switching microphone: {error:?}"))
                    }
                }
            }
            swapped
        })
    }

    /// The call is over: every track stops (the camera light goes off).
    pub(super) fn release(&self) {
        self.released.set(true);
        self.media.borrow().stop();
    }
}

impl Session {
    pub(super) fn emit_local(&self) {
        self.emit(CallEvent::Local(self.local.view()));
    }

    /// The call's stream gained tracks: the engine keeps count of them.
    pub(super) fn tracks_opened(&self) {
        if let (Some(link), Some(stream)) = (self.link(), self.local.web_stream()) {
            link.opened(&stream);
        }
    }

    /// Puts our current tracks on every connection.
    pub(super) fn update_tracks(&self) {
        let tracks = self.local.tracks();
        for peer in self.roster.peers() {
            peer.set_local(tracks.clone());
        }
    }

    /// Tells everyone our mute state: over the data channels (works without
    /// the server) and through the server (reaches connections still opening).
    pub(super) fn announce_media(&self) {
        let view = self.local.view();
        let message = PeerMessage::Media {
            audio_muted: view.audio_muted,
            video_muted: view.video_muted,
        };
        for peer in self.roster.peers() {
            peer.send(&message);
        }
        self.send(ClientMessage::MediaState {
            audio_muted: view.audio_muted,
            video_muted: view.video_muted,
        });
        self.emit_local();
    }

    pub(in crate::call) fn set_mic_muted(&self, muted: bool) {
        if self.ended() {
            return;
        }
        self.local.set_mic_muted(muted);
        self.announce_media();
    }

    /// Camera off stops the track and sends nothing; camera on reopens it
    /// and swaps it into every connection.
    pub(in crate::call) fn set_camera_on(self: &Rc<Self>, on: bool) {
        if self.ended() || self.local.opening() {
            return;
        }
        let Some(reopening) = self.local.set_camera_on(on) else {
            if !on {
                self.update_tracks();
            }
            self.announce_media();
            return;
        };
        self.emit_local();
        let session = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            if reopening.await {
                session.tracks_opened();
            }
            session.update_tracks();
            session.announce_media();
        });
    }

    /// Moves the call to another camera and/or microphone: the new track is
    /// opened, swapped into every connection with `replaceTrack` (no
    /// renegotiation, the call never drops), and the old one is released.
    pub(in crate::call) fn switch_devices(self: &Rc<Self>, next: MediaPreferences) {
        if self.ended() {
            return;
        }
        let Some(switching) = self.local.switch_devices(next) else {
            return;
        };
        let session = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            if switching.await {
                session.tracks_opened();
                session.update_tracks();
            }
            session.emit_local();
        });
    }
}
