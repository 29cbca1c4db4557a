//! The call engine: everything WebRTC and signaling, with no UI in it.
//!
//! One [`Engine`] lives as long as the app. It holds the signaling
//! connection (so our id is known and calls can ring us on any screen) and
//! at most one call [`session`] at a time. It reports to the UI through two
//! callbacks: app-wide [`AppEvent`]s (online/offline, incoming rings) and, per
//! call, [`CallEvent`]s that the call page folds into its reducer.
//!
//! - [`signaling`]: the WebSocket client, typed messages, reconnect + backoff.
//! - [`media`]: `getUserMedia`, error classification, fallbacks.
//! - [`handoff`]: devices a preview passes on to the next screen or call.
//! - [`peer`]: one `RTCPeerConnection` per remote participant, perfect negotiation.
//! - [`sdp`]: what the engine reads from, or adds to, session descriptions.
//! - [`chat`]: what peers say over the data channel.
//! - [`session`]: a call — rooms (mesh), direct calls, surviving reconnects.
//! - [`debug`]: the read-only `window.__peercall` hook tests and benches read.

pub mod chat;
mod debug;
mod handoff;
pub mod js;
pub mod media;
pub mod peer;
pub mod sdp;
mod session;
pub mod signaling;

use std::cell::RefCell;
use std::rc::Rc;

use gloo::timers::callback::Timeout;
use peercall_signal::protocol::{ClientMessage, IceServer, PeerId, ServerMessage};
use web_sys::{MediaStream, MediaStreamTrack};
use yew::Callback;

pub use chat::ChatLine;
use handoff::Handoff;
pub use media::{DeviceError, LocalMedia, MediaPreferences};
pub use peer::ConnState;
pub use session::CallOptions;
use session::Session;
use signaling::{SignalEvent, Signaling};

/// What a call is with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallTarget {
    /// Everyone in a room (mesh).
    Room(String),
    /// One person, called by id.
    Direct {
        /// Their id.
        peer: PeerId,
        /// Their name, when known (from the ring).
        name: Option<String>,
        /// Whether we rang them or they rang us.
        role: DirectRole,
    },
}

/// Our side of a direct call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirectRole {
    /// We rang them.
    Caller,
    /// They rang us and we accepted.
    Callee,
}

/// Where a call is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallPhase {
    /// Opening the camera, reaching the server, joining.
    Preparing,
    /// A direct call: their side is ringing.
    Ringing,
    /// In the room or call (possibly alone, waiting for others).
    Joined,
    /// Over.
    Ended(EndReason),
}

/// Why a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// We hung up.
    Left,
    /// The person we rang declined.
    Declined,
    /// The other side of a direct call hung up.
    HungUp,
    /// Nobody with that id is online.
    Unreachable,
    /// The room is at its cap.
    RoomFull,
    /// The server refused to let us in (bad name or room).
    Refused,
    /// The room has another password.
    WrongPassword,
    /// Too many wrong passwords lately: the server makes us wait.
    TooManyAttempts,
    /// The server speaks another protocol version.
    VersionMismatch,
    /// The host stopped hosting the call.
    HostEnded,
}

impl EndReason {
    /// Stable name for `data-reason`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Left => "left",
            Self::Declined => "declined",
            Self::HungUp => "hung_up",
            Self::Unreachable => "unreachable",
            Self::RoomFull => "room_full",
            Self::Refused => "refused",
            Self::WrongPassword => "wrong_password",
            Self::TooManyAttempts => "too_many_attempts",
            Self::VersionMismatch => "version_mismatch",
            Self::HostEnded => "host_ended",
        }
    }
}

/// Our camera and microphone as the UI shows them.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct LocalView {
    /// The local stream for the self view (`None` until opened).
    pub stream: Option<MediaStream>,
    /// Microphone muted (by us, or because there is none).
    pub audio_muted: bool,
    /// Camera off (by us, or because there is none).
    pub video_muted: bool,
    /// Why there is no microphone.
    pub mic_error: Option<DeviceError>,
    /// Why there is no camera.
    pub camera_error: Option<DeviceError>,
    /// Still opening the devices.
    pub opening: bool,
}

/// A remote participant as the UI shows them.
#[derive(Clone, Debug, PartialEq)]
pub struct PeerView {
    /// Stable key for this participant in this call (ids change on reconnect).
    pub key: u32,
    /// Their current signaling id.
    pub id: PeerId,
    /// Their display name (empty until known).
    pub name: String,
    /// The connection to them.
    pub state: ConnState,
    /// Their audio and video.
    pub stream: Option<MediaStream>,
    /// Their microphone is muted.
    pub audio_muted: bool,
    /// Their camera is off.
    pub video_muted: bool,
}

/// What a call reports to the page.
#[derive(Clone, Debug, PartialEq)]
pub enum CallEvent {
    /// The call moved on.
    Phase(CallPhase),
    /// Our devices changed.
    Local(LocalView),
    /// A participant appeared or changed.
    Peer(PeerView),
    /// A participant's tile goes away.
    PeerGone {
        /// Their key.
        key: u32,
        /// They left the call (hung up, closed the page, lost for good),
        /// as opposed to their slot being merged into another one.
        left: bool,
    },
    /// A chat line (ours or theirs).
    Chat(ChatLine),
    /// The person in a direct call told us their name (while ringing, or
    /// with their answer).
    PartnerName(String),
}

/// What the engine reports to the app.
#[derive(Clone, Debug, PartialEq)]
pub enum AppEvent {
    /// Connected to the server, with this id.
    Online(PeerId),
    /// The server connection dropped; retrying after `retry_in_ms`.
    Offline {
        /// Failed attempts in a row.
        attempt: u32,
        /// Until the next attempt.
        retry_in_ms: u32,
    },
    /// Someone is calling us.
    Ring {
        /// Their id.
        from: PeerId,
        /// Their name, if they gave one.
        name: Option<String>,
    },
    /// A ring stopped (the caller gave up).
    RingEnded(PeerId),
}

/// How long a ring during a direct call waits to be recognised as the
/// partner re-ringing after a reconnect.
const RING_GRACE_MS: u32 = 1_000;

pub(crate) struct EngineInner {
    signaling: RefCell<Option<Signaling>>,
    url: RefCell<Option<String>>,
    me: RefCell<Option<PeerId>>,
    server_ice: RefCell<Vec<IceServer>>,
    settings_ice: RefCell<Vec<IceServer>>,
    session: RefCell<Option<(u64, Rc<Session>)>>,
    sessions_started: std::cell::Cell<u64>,
    on_app: RefCell<Callback<AppEvent>>,
    /// Our display name, told to whoever rings us.
    name: RefCell<String>,
    /// Every camera/mic track calls opened, so the debug hook can show that
    /// hanging up really released the devices.
    opened_tracks: RefCell<Vec<MediaStreamTrack>>,
    /// Devices a preview left for the next screen.
    handoff: Handoff,
}

/// The engine handle (cheap to clone; equal when it is the same engine).
#[derive(Clone)]
pub struct Engine(Rc<EngineInner>);

impl PartialEq for Engine {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

impl Default for Engine {
    fn default() -> Self {
        Self::new()
    }
}

impl Engine {
    /// An engine, not connected yet.
    pub fn new() -> Self {
        let engine = Self(Rc::new(EngineInner {
            signaling: RefCell::new(None),
            url: RefCell::new(None),
            me: RefCell::new(None),
            server_ice: RefCell::new(Vec::new()),
            settings_ice: RefCell::new(Vec::new()),
            session: RefCell::new(None),
            sessions_started: std::cell::Cell::new(0),
            on_app: RefCell::new(Callback::noop()),
            name: RefCell::new(String::new()),
            opened_tracks: RefCell::new(Vec::new()),
            handoff: Handoff::default(),
        }));
        debug::install(&engine);
        engine
    }

    /// Connects to the signaling server at `url` (again only if it changed),
    /// reporting app-wide events to `on_app`.
    pub fn connect(&self, url: &str, on_app: Callback<AppEvent>) {
        *self.0.on_app.borrow_mut() = on_app;
        if self.0.url.borrow().as_deref() == Some(url) {
            return;
        }
        *self.0.url.borrow_mut() = Some(url.to_owned());
        let weak = Rc::downgrade(&self.0);
        let signaling = Signaling::connect(url.to_owned(), move |event| {
            if let Some(inner) = weak.upgrade() {
                Engine(inner).on_signal(event);
            }
        });
        // Replacing a connection drops it after this call returns.
        if let Some(old) = self.0.signaling.borrow_mut().replace(signaling) {
            wasm_bindgen_futures::spawn_local(async move { drop(old) });
        }
    }

    /// ICE servers from settings, used before the server's.
    pub fn set_settings_ice_servers(&self, servers: Vec<IceServer>) {
        *self.0.settings_ice.borrow_mut() = servers;
    }

    /// Our display name, as callers see it while we ring and after we answer.
    pub fn set_name(&self, name: &str) {
        *self.0.name.borrow_mut() = name.trim().to_owned();
    }

    fn name(&self) -> Option<String> {
        Some(self.0.name.borrow().clone()).filter(|n| !n.is_empty())
    }

    /// Our id on the server, while connected.
    pub fn my_id(&self) -> Option<PeerId> {
        self.0.me.borrow().clone()
    }

    /// Starts a call (ending any other), reporting to `on_event`. Returns
    /// its token for [`Engine::end_call`].
    pub fn start(
        &self,
        target: CallTarget,
        options: CallOptions,
        on_event: Callback<CallEvent>,
    ) -> u64 {
        self.end();
        let token = self.0.sessions_started.get() + 1;
        self.0.sessions_started.set(token);
        let session = Session::new(Rc::downgrade(&self.0), target, options, on_event);
        *self.0.session.borrow_mut() = Some((token, session.clone()));
        session.start();
        token
    }

    /// Ends the call started with `token`, if it is still the current one
    /// (a page being torn down must not end the call that replaced it).
    pub fn end_call(&self, token: u64) {
        let current = self.0.session.borrow().as_ref().map(|(t, _)| *t);
        if current == Some(token) {
            self.end();
        }
    }

    /// A preview going off screen leaves its devices for the next screen
    /// (see [`handoff`]): a call or preview that wants the same devices
    /// takes them without opening them again; otherwise they stop shortly.
    pub fn hand_over(&self, media: LocalMedia, preferences: MediaPreferences) {
        self.0.handoff.hand_over(media, preferences);
    }

    /// The devices a preview left, if they are the ones `wanted` asks for.
    pub fn take_handed_over(&self, wanted: &MediaPreferences) -> Option<LocalMedia> {
        self.0.handoff.take(wanted)
    }

    /// Remembers tracks a call opened (see [`EngineInner::opened_tracks`]).
    fn opened(&self, stream: &MediaStream) {
        let mut tracks = self.0.opened_tracks.borrow_mut();
        tracks.retain(|t| t.ready_state() == web_sys::MediaStreamTrackState::Live);
        for track in js::items::<MediaStreamTrack>(&stream.get_tracks()) {
            if !tracks.contains(&track) {
                tracks.push(track);
            }
        }
    }

    /// Leaves the current call, if any: hangs up, closes every connection,
    /// stops every local track.
    pub fn end(&self) {
        let session = self.0.session.borrow_mut().take();
        if let Some((_, session)) = session {
            session.end(EndReason::Left);
        }
    }

    /// Hangs up but keeps the ended call on screen ("You left the call").
    pub fn hang_up(&self) {
        if let Some(session) = self.session() {
            session.end(EndReason::Left);
        }
    }

    /// Mutes or unmutes the microphone.
    pub fn set_mic_muted(&self, muted: bool) {
        if let Some(session) = self.session() {
            session.set_mic_muted(muted);
        }
    }

    /// Turns the camera off (releasing it) or on (reopening it).
    pub fn set_camera_on(&self, on: bool) {
        if let Some(session) = self.session() {
            session.set_camera_on(on);
        }
    }

    /// Switches the call to the camera and microphone `preferences` name,
    /// without renegotiating.
    pub fn switch_devices(&self, preferences: MediaPreferences) {
        if let Some(session) = self.session() {
            session.switch_devices(preferences);
        }
    }

    /// Sends a chat line to everyone in the call.
    pub fn send_chat(&self, text: &str) {
        if let Some(session) = self.session() {
            session.send_chat(text);
        }
    }

    /// Declines a ring.
    pub fn decline(&self, from: &PeerId) {
        self.send(&ClientMessage::Decline {
            to: from.clone(),
            name: self.name(),
        });
    }

    fn session(&self) -> Option<Rc<Session>> {
        self.0.session.borrow().as_ref().map(|(_, s)| s.clone())
    }

    fn send(&self, message: &ClientMessage) -> bool {
        self.0
            .signaling
            .borrow()
            .as_ref()
            .is_some_and(|s| s.send(message))
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

    fn ice_servers(&self) -> Vec<IceServer> {
        let mut servers = self.0.settings_ice.borrow().clone();
        servers.extend(self.0.server_ice.borrow().iter().cloned());
        servers
    }
}
