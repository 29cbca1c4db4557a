//! [`PageEngine`]: the [`CallEngine`], on the browser's (or webview's) own
//! WebRTC, or on the shell's native engine ([`PageEngine::native`]) where
//! the webview has none. Either way the signaling client, rings and the
//! call's session run here in the page; only the connections and the
//! devices differ (`conn.rs`, `session/local.rs`).
//!
//! It holds the signaling connection for as long as the page lives, so our
//! id is known and calls can ring us on any screen, and at most one call
//! [`Session`] at a time. Server messages about rings are handled here;
//! everything else goes to the session. The session reaches back only
//! through its narrow [`Link`] (send, our id, ICE servers, whether the
//! server is up, and the devices a preview left), never into these fields.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use gloo::timers::callback::Timeout;
use peercall_signal::protocol::{ClientMessage, IceServer, PeerId, ServerMessage};
use web_sys::{MediaStream, MediaStreamTrack};
use yew::Callback;

use super::engine::{Held, Pending, PreviewMedia};
use super::handoff::Handoff;
use super::media::{self, LocalMedia, MediaPreferences};
use super::native::NativeShell;
use super::quality::StatsSample;
use super::session::{native_request, Link, Session};
use super::signaling::{SignalEvent, Signaling};
use super::transfer::TransferId;
use super::{
    debug, js, AppEvent, CallEngine, CallEvent, CallOptions, CallTarget, CallToken, EndReason,
    VideoSource,
};

/// How long a ring during a direct call waits to be recognised as the
/// partner re-ringing after a reconnect.
const RING_GRACE_MS: u32 = 1_000;

struct Inner {
    signaling: RefCell<Option<Signaling>>,
    url: RefCell<Option<String>>,
    me: RefCell<Option<PeerId>>,
    server_ice: RefCell<Vec<IceServer>>,
    settings_ice: RefCell<Vec<IceServer>>,
    session: RefCell<Option<(CallToken, Rc<Session>)>>,
    sessions_started: Cell<u64>,
    on_app: RefCell<Callback<AppEvent>>,
    /// Our display name, told to whoever rings us.
    name: RefCell<String>,
    /// Every camera/mic track calls opened, so the debug hook can show that
    /// hanging up really released the devices.
    opened_tracks: RefCell<Vec<MediaStreamTrack>>,
    /// Devices a preview left for the next screen.
    handoff: Handoff,
    /// The shell's native engine, when it carries the calls.
    native: Option<NativeShell>,
}

/// The engine (cheap to clone: clones share it).
#[derive(Clone)]
pub struct PageEngine(Rc<Inner>);

impl PageEngine {
    /// An engine on the browser's WebRTC, not connected yet, with the debug
    /// hook on `window`.
    pub fn browser() -> Self {
        Self::with(None)
    }

    /// An engine whose connections and devices are the shell's native
    /// engine (attached now).
    pub fn native() -> Self {
        Self::with(Some(NativeShell::attach()))
    }

    fn with(native: Option<NativeShell>) -> Self {
        let engine = Self(Rc::new(Inner {
            signaling: RefCell::new(None),
            url: RefCell::new(None),
            me: RefCell::new(None),
            server_ice: RefCell::new(Vec::new()),
            settings_ice: RefCell::new(Vec::new()),
            session: RefCell::new(None),
            sessions_started: Cell::new(0),
            on_app: RefCell::new(Callback::noop()),
            name: RefCell::new(String::new()),
            opened_tracks: RefCell::new(Vec::new()),
            handoff: Handoff::default(),
            native,
        }));
        let weak = Rc::downgrade(&engine.0);
        debug::install(move || weak.upgrade().map(Self));
        engine
    }

    /// Our id on the server, while connected.
    pub fn my_id(&self) -> Option<PeerId> {
        self.0.my_id()
    }

    /// The call going on (or ended but still on screen), if any.
    pub fn session(&self) -> Option<Rc<Session>> {
        self.0.session.borrow().as_ref().map(|(_, s)| s.clone())
    }

    /// How many camera/mic tracks calls have opened, and how many of those
    /// are still live (the debug hook's "is the camera free" check).
    pub fn opened_tracks(&self) -> (usize, usize) {
        let opened = self.0.opened_tracks.borrow();
        let live = opened
            .iter()
            .filter(|t| t.ready_state() == web_sys::MediaStreamTrackState::Live)
            .count();
        (opened.len(), live)
    }

    fn name(&self) -> Option<String> {
        Some(self.0.name.borrow().clone()).filter(|n| !n.is_empty())
    }

    fn send(&self, message: &ClientMessage) -> bool {
        self.0.send(message)
    }

    fn emit_app(&self, event: AppEvent) {
        let callback = self.0.on_app.borrow().clone();
        callback.emit(event);
    }

    fn on_signal(&self, event: SignalEvent) {
        match event {
            SignalEvent::Welcome { id, ice_servers } => {
                *self.0.me.borrow_mut() = Some(id.clone());
                *self.0.server_ice.borrow_mut() = ice_servers;
                self.emit_app(AppEvent::Online(id));
                if let Some(session) = self.session() {
                    session.on_welcome();
                }
            }
            SignalEvent::Down {
                attempt,
                retry_in_ms,
            } => {
                let was_online = self.0.me.borrow_mut().take().is_some();
                if was_online || attempt == 1 {
                    gloo::console::warn!("signaling: connection lost, reconnecting");
                }
                self.emit_app(AppEvent::Offline {
                    attempt,
                    retry_in_ms,
                });
            }
            SignalEvent::Message(message) => self.on_message(message),
        }
    }

    fn on_message(&self, message: ServerMessage) {
        let session = self.session();
        match message {
            ServerMessage::Ring { from, name } => {
                // A partner we are already talking to re-rings after it
                // reconnected to the server: accept silently. Its new id
                // comes over the data channel, which may be a moment behind
                // the ring, so a ring during a direct call waits a second
                // before it counts as someone else calling.
                let engine = self.clone();
                let decide = move || {
                    if engine.session().is_some_and(|s| s.is_partner(&from)) {
                        engine.send(&ClientMessage::Accept {
                            to: from,
                            name: engine.name(),
                        });
                    } else {
                        // The caller sees whom it is calling while it rings.
                        if let Some(me) = engine.name() {
                            engine.send(&ClientMessage::Ringing {
                                to: from.clone(),
                                name: me,
                            });
                        }
                        engine.emit_app(AppEvent::Ring { from, name });
                    }
                };
                if session.is_some_and(|s| s.in_direct_call()) {
                    Timeout::new(RING_GRACE_MS, decide).forget();
                } else {
                    decide();
                }
            }
            ServerMessage::HungUp { from } => {
                self.emit_app(AppEvent::RingEnded(from.clone()));
                if let Some(session) = session {
                    session.on_message(ServerMessage::HungUp { from });
                }
            }
            ServerMessage::Shutdown { reason, call_ended } => {
                gloo::console::warn!(format!("signaling server shutting down: {reason}"));
                if call_ended {
                    if let Some(session) = session {
                        session.end(EndReason::HostEnded);
                    }
                }
            }
            other => match session {
                Some(session) => session.on_message(other),
                None => {
                    if let ServerMessage::Error { code, message } = other {
                        gloo::console::warn!(format!("signaling error {code}: {message}"));
                    }
                }
            },
        }
    }
}

impl CallEngine for PageEngine {
    fn connect(&self, url: &str, on_app: Callback<AppEvent>) {
        *self.0.on_app.borrow_mut() = on_app;
        if self.0.url.borrow().as_deref() == Some(url) {
            return;
        }
        *self.0.url.borrow_mut() = Some(url.to_owned());
        let weak = Rc::downgrade(&self.0);
        let signaling = Signaling::connect(url.to_owned(), move |event| {
            if let Some(inner) = weak.upgrade() {
                Self(inner).on_signal(event);
            }
        });
        // Replacing a connection drops it after this call returns.
        if let Some(old) = self.0.signaling.borrow_mut().replace(signaling) {
            wasm_bindgen_futures::spawn_local(async move { drop(old) });
        }
    }

    fn set_settings_ice_servers(&self, servers: Vec<IceServer>) {
        *self.0.settings_ice.borrow_mut() = servers;
    }

    fn set_name(&self, name: &str) {
        *self.0.name.borrow_mut() = name.trim().to_owned();
    }

    fn decline(&self, from: &PeerId) {
        self.send(&ClientMessage::Decline {
            to: from.clone(),
            name: self.name(),
        });
    }

    fn start(
        &self,
        target: CallTarget,
        options: CallOptions,
        on_event: Callback<CallEvent>,
    ) -> CallToken {
        self.end();
        let token = CallToken(self.0.sessions_started.get() + 1);
        self.0.sessions_started.set(token.0);
        let link: Weak<dyn Link> = Rc::downgrade(&self.0) as Weak<Inner>;
        let session = Session::new(link, target, options, on_event);
        *self.0.session.borrow_mut() = Some((token, session.clone()));
        session.start();
        token
    }

    fn end_call(&self, token: CallToken) {
        let current = self.0.session.borrow().as_ref().map(|(t, _)| *t);
        if current == Some(token) {
            self.end();
        }
    }

    fn end(&self) {
        let session = self.0.session.borrow_mut().take();
        if let Some((_, session)) = session {
            session.end(EndReason::Left);
        }
    }

    fn hang_up(&self) {
        if let Some(session) = self.session() {
            session.end(EndReason::Left);
        }
    }

    fn set_mic_muted(&self, muted: bool) {
        if let Some(session) = self.session() {
            session.set_mic_muted(muted);
        }
    }

    fn set_camera_on(&self, on: bool) {
        if let Some(session) = self.session() {
            session.set_camera_on(on);
        }
    }

    fn switch_devices(&self, preferences: MediaPreferences) {
        if let Some(session) = self.session() {
            session.switch_devices(preferences);
        }
    }

    fn send_chat(&self, text: &str) {
        if let Some(session) = self.session() {
            session.send_chat(text);
        }
    }

    fn open_preview(&self, preferences: &MediaPreferences) -> Pending<PreviewMedia> {
        let preferences = preferences.clone();
        match self.0.native.clone() {
            None => {
                let handed_over = self.0.handoff.take(&preferences);
                Box::pin(async move {
                    let local = match handed_over {
                        Some(local) => local,
                        None => media::acquire_with(&preferences).await,
                    };
                    PreviewMedia {
                        video: Some(VideoSource::Stream(Clone::clone(&local.stream))),
                        camera_error: local.camera_error,
                        mic_error: local.mic_error,
                        held: Held::Web(local),
                    }
                })
            }
            Some(shell) => Box::pin(async move {
                let hold = shell.hold();
                let request = native_request(&preferences, preferences.want_camera, false);
                let opened = shell.set_media(request).await;
                let (video, camera_error, mic_error) =
                    super::session::native_view(&shell, &preferences, &opened);
                PreviewMedia {
                    video,
                    camera_error,
                    mic_error,
                    held: Held::Native(hold),
                }
            }),
        }
    }

    fn hand_over(&self, media: PreviewMedia, preferences: MediaPreferences) {
        match media.held {
            Held::Web(local) => self.0.handoff.hand_over(local, preferences),
            // The shell keeps the capture a moment for the next screen.
            Held::Native(hold) => hold.release(false),
        }
    }

    fn sample_stats(&self, key: u32, on_sample: Callback<Option<StatsSample>>) {
        let Some(session) = self.session() else {
            on_sample.emit(None);
            return;
        };
        wasm_bindgen_futures::spawn_local(async move {
            on_sample.emit(session.stats_sample(key).await);
        });
    }

    fn can_share_screen(&self) -> bool {
        // The native engine's connections are the shell's: no screen track.
        self.0.native.is_none() && super::screen::supported()
    }

    fn share_screen(&self, on: bool) {
        if let Some(session) = self.session() {
            session.share_screen(on);
        }
    }

    fn send_file(&self, file: web_sys::File, to: Option<u32>) {
        if let Some(session) = self.session() {
            session.send_file(file, to);
        }
    }

    fn answer_file(&self, id: TransferId, accept: bool) {
        if let Some(session) = self.session() {
            session.answer_file(id, accept);
        }
    }

    fn cancel_file(&self, id: TransferId) {
        if let Some(session) = self.session() {
            session.cancel_file(id);
        }
    }

    fn audio_levels(&self) -> Vec<(u32, f64)> {
        self.session().map(|s| s.audio_levels()).unwrap_or_default()
    }
}

impl Link for Inner {
    fn send(&self, message: &ClientMessage) -> bool {
        self.signaling
            .borrow()
            .as_ref()
            .is_some_and(|s| s.send(message))
    }

    fn my_id(&self) -> Option<PeerId> {
        self.me.borrow().clone()
    }

    fn ice_servers(&self) -> Vec<IceServer> {
        let mut servers = self.settings_ice.borrow().clone();
        servers.extend(self.server_ice.borrow().iter().cloned());
        servers
    }

    fn is_up(&self) -> bool {
        self.signaling.borrow().as_ref().is_some_and(|s| s.is_up())
    }

    fn take_handed_over(&self, wanted: &MediaPreferences) -> Option<LocalMedia> {
        self.handoff.take(wanted)
    }

    fn native(&self) -> Option<NativeShell> {
        self.native.clone()
    }

    fn opened(&self, stream: &MediaStream) {
        let mut tracks = self.opened_tracks.borrow_mut();
        tracks.retain(|t| t.ready_state() == web_sys::MediaStreamTrackState::Live);
        for track in js::items::<MediaStreamTrack>(&stream.get_tracks()) {
            if !tracks.contains(&track) {
                tracks.push(track);
            }
        }
    }
}
