//! The engine as the UI sees it: [`CallEngine`], the operations a page may
//! ask for, and the words both sides share ([`CallTarget`], [`CallOptions`],
//! [`CallEvent`], [`AppEvent`], …).
//!
//! This is the seam between the pages and WebRTC. The pages hold an
//! [`Engine`] (through `use_engine`) and only ever call the trait's methods
//! on it; what happens is reported back through two callbacks: app-wide
//! [`AppEvent`]s given to [`CallEngine::connect`], and one call's
//! [`CallEvent`]s given to [`CallEngine::start`]. Nothing a page sees names
//! an `RTCPeerConnection`.
//!
//! [`PageEngine`] implements it on the browser's own WebRTC;
//! [`PageEngine::native`] the same engine whose connections and devices
//! are the shell's native engine (`native/`: where the webview has no
//! WebRTC, WebKitGTK on Linux): the signaling client, the roster and the
//! session stay in the page, SDP and candidates travel between the page and
//! the shell. [`Engine::new`] is the one place that picks one, from the
//! platform's [`EngineChoice`].

use std::ops::Deref;
use std::rc::Rc;

use std::future::Future;
use std::pin::Pin;

use peercall_signal::protocol::{IceServer, PeerId};
use peercall_signal::shell::native::StreamId;
use web_sys::MediaStream;
use yew::Callback;

use super::chat::ChatLine;
use super::media::{DeviceError, MediaPreferences};
use super::native::Frames;
use super::quality::StatsSample;
use super::transfer::{TransferId, TransferView};
use super::PageEngine;
use crate::platform::EngineChoice;

/// A future the engine hands the UI.
pub type Pending<T> = Pin<Box<dyn Future<Output = T>>>;

/// What the UI asks of a call engine. One engine lives as long as the page:
/// it keeps the signaling connection (so our id is known and calls can ring
/// us on any screen) and runs at most one call at a time.
pub trait CallEngine {
    /// Connects to the signaling server at `url` (again only if it
    /// changed), reporting app-wide events to `on_app`.
    fn connect(&self, url: &str, on_app: Callback<AppEvent>);

    /// ICE servers from settings, used before the server's.
    fn set_settings_ice_servers(&self, servers: Vec<IceServer>);

    /// Our display name, as callers see it while we ring and after we answer.
    fn set_name(&self, name: &str);

    /// Declines a ring.
    fn decline(&self, from: &PeerId);

    /// Starts a call (ending any other), reporting to `on_event`. Returns
    /// its token for [`CallEngine::end_call`].
    fn start(
        &self,
        target: CallTarget,
        options: CallOptions,
        on_event: Callback<CallEvent>,
    ) -> CallToken;

    /// Ends the call started with `token`, if it is still the current one
    /// (a page being torn down must not end the call that replaced it).
    fn end_call(&self, token: CallToken);

    /// Leaves the current call, if any: hangs up, closes every connection,
    /// stops every local track.
    fn end(&self);

    /// Hangs up but keeps the ended call on screen ("You left the call").
    fn hang_up(&self);

    /// Mutes or unmutes the microphone.
    fn set_mic_muted(&self, muted: bool);

    /// Turns the camera off (releasing it) or on (reopening it).
    fn set_camera_on(&self, on: bool);

    /// Switches the call to the camera and microphone `preferences` name,
    /// without renegotiating.
    fn switch_devices(&self, preferences: MediaPreferences);

    /// Sends a chat line to everyone in the call.
    fn send_chat(&self, text: &str);

    /// Opens the devices `preferences` names for a preview (or takes what
    /// the previous screen left, see `handoff`).
    fn open_preview(&self, preferences: &MediaPreferences) -> Pending<PreviewMedia>;

    /// A preview going off screen leaves its devices for the next screen
    /// (see `handoff`): a call or preview that wants the same devices
    /// takes them without opening them again; otherwise they stop shortly.
    fn hand_over(&self, media: PreviewMedia, preferences: MediaPreferences);

    /// Reads the statistics of the connection to participant `key` once,
    /// for the quality panel and badges (`None`: no such connection).
    fn sample_stats(&self, key: u32, on_sample: Callback<Option<StatsSample>>);

    /// How loud each participant is right now (0..1), by key.
    fn audio_levels(&self) -> Vec<(u32, f64)>;

    /// Whether this engine can share a screen (the button shows only then).
    fn can_share_screen(&self) -> bool;

    /// Starts sharing a screen (the system's picker opens; it must follow a
    /// click or key press) or stops sharing it.
    fn share_screen(&self, on: bool);

    /// Offers `file` to participant `to`, or to everyone connected.
    fn send_file(&self, file: web_sys::File, to: Option<u32>);

    /// Accepts or declines a file offered to us.
    fn answer_file(&self, id: TransferId, accept: bool);

    /// Stops a transfer, either way.
    fn cancel_file(&self, id: TransferId);
}

/// A preview's open devices, whichever engine opened them.
pub struct PreviewMedia {
    /// What to show.
    pub video: Option<VideoSource>,
    /// Why there is no camera, if there is none.
    pub camera_error: Option<DeviceError>,
    /// Why there is no microphone, if there is none.
    pub mic_error: Option<DeviceError>,
    /// What keeps them open.
    pub held: Held,
}

/// What keeps a preview's devices open.
pub enum Held {
    /// The browser's tracks (they stop when nobody takes them).
    Web(super::media::LocalMedia),
    /// A hold on the shell's capture (released when dropped).
    Native(super::native::MediaHold),
}

/// What a tile shows.
#[derive(Clone, Debug, PartialEq)]
pub enum VideoSource {
    /// A browser stream, played by a `<video>` (video, and for a remote
    /// person their audio too).
    Stream(MediaStream),
    /// Frames from the shell's native engine, drawn on a `<canvas>` (the
    /// shell plays the audio itself).
    Native {
        /// Which of the shell's streams.
        stream: StreamId,
        /// The page's frames connection.
        frames: Frames,
    },
}

impl VideoSource {
    /// Whether there is a picture to show (a stream with a video track; a
    /// native stream always has one).
    pub fn has_video(&self) -> bool {
        match self {
            Self::Stream(stream) => stream.get_video_tracks().length() > 0,
            Self::Native { .. } => true,
        }
    }
}

/// The engine handle the UI holds (cheap to clone; equal when it is the
/// same engine). Its methods are [`CallEngine`]'s.
#[derive(Clone)]
pub struct Engine(Rc<dyn CallEngine>);

impl Engine {
    /// The engine for this page, not connected yet: the browser's WebRTC,
    /// or the shell's native engine where the platform chose it.
    pub fn new(choice: &EngineChoice) -> Self {
        match choice {
            EngineChoice::Native { .. } => Self(Rc::new(PageEngine::native())),
            EngineChoice::WebView | EngineChoice::Browser { .. } => {
                Self(Rc::new(PageEngine::browser()))
            }
        }
    }
}

impl PartialEq for Engine {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

impl Deref for Engine {
    type Target = dyn CallEngine;

    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

/// Which call [`CallEngine::start`] started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallToken(pub(super) u64);

/// How a call starts.
#[derive(Clone, Debug, PartialEq)]
pub struct CallOptions {
    /// Our display name.
    pub name: String,
    /// Which devices to open, and how.
    pub preferences: MediaPreferences,
    /// Join with the microphone muted.
    pub start_muted: bool,
    /// Join with the camera off.
    pub start_camera_off: bool,
    /// The room's password, when it has one.
    pub password: Option<String>,
}

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
    /// The self view (`None` until opened).
    pub video: Option<VideoSource>,
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
    /// Their video (and audio, for the browser engine).
    pub video: Option<VideoSource>,
    /// Their microphone is muted.
    pub audio_muted: bool,
    /// Their camera is off.
    pub video_muted: bool,
    /// The connection's safety code (see `safety`), once negotiated.
    pub safety_code: Option<String>,
    /// The screen they share, while they share one.
    pub screen: Option<MediaStream>,
}

/// The connection to a participant as the person sees it.
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
    /// We started sharing this screen (`Some`), or stopped (`None`: from our
    /// button, or the browser's own "stop sharing").
    LocalScreen(Option<MediaStream>),
    /// Sharing the screen failed (not cancelled: failed).
    ScreenFailed,
    /// A file transfer appeared or changed.
    Transfer(TransferView),
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
