//! App-wide state: one reducer, changed only through [`Action`]s, and the
//! context pages read it from ([`AppProvider`], [`use_app`]).

use std::rc::Rc;

use yew::prelude::*;

use peercall_signal::protocol::PeerId;
use peercall_signal::settings::{Language, Settings};

use crate::call::DirectRole;

use crate::i18n::Lang;
use crate::platform::{LoadNotice, ServerInfo, SettingsSnapshot};

/// The screen being shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Page {
    /// Start or join a call.
    Home,
    /// In (or entering) the call in `room`.
    Call {
        /// The room code.
        room: String,
        /// Another server than this app's own (a LAN host, a remote
        /// server), with the room's password.
        via: Option<Remote>,
    },
    /// Hosting a call for the LAN.
    Host,
    /// Finding a call on the LAN, or joining one by link or address;
    /// `link` pre-fills the address (an invite link that opened the app).
    Join {
        /// The address to start from.
        link: Option<String>,
    },
    /// The settings page.
    Settings,
    /// A direct call with one person, by id (ringing, or in it).
    Direct {
        /// Their id.
        peer: PeerId,
        /// Their name, when known.
        name: Option<String>,
        /// Whether we rang them or they rang us.
        role: DirectRole,
    },
}

/// A signaling server other than the app's own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remote {
    /// Its WebSocket URL.
    pub ws_url: String,
    /// The room's password, if it has one.
    pub password: Option<String>,
}

/// Our connection to the signaling server, as far as the UI knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignalStatus {
    /// Not connected yet (first attempt).
    Connecting,
    /// Connected, reachable by this id.
    Online(PeerId),
    /// Dropped; retrying.
    Offline,
}

/// Someone ringing us.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncomingCall {
    /// Their id.
    pub from: PeerId,
    /// Their name, if they gave one.
    pub name: Option<String>,
}

/// The signaling server as far as the UI knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerStatus {
    /// Asked the platform, no answer yet.
    Starting,
    /// Known and reachable.
    Ready(ServerInfo),
    /// The platform said it is not running.
    Unavailable,
}

/// Everything the app-level reducer holds.
#[derive(Clone, Debug, PartialEq)]
pub struct AppState {
    /// The UI language (from settings, or the system's).
    pub lang: Lang,
    /// The user's settings (defaults until loaded).
    pub settings: Settings,
    /// Whether [`AppState::settings`] came from storage yet.
    pub settings_loaded: bool,
    /// Where settings are kept (shown in Settings › About).
    pub settings_path: String,
    /// A one-time notice about the stored settings, until dismissed.
    pub settings_notice: Option<LoadNotice>,
    /// The signaling server.
    pub server: ServerStatus,
    /// The current screen.
    pub page: Page,
    /// The display name for calls when it differs from the settings' one:
    /// from the address (`?name=`) or typed in a lobby.
    pub name: Option<String>,
    /// The signaling connection.
    pub signal: SignalStatus,
    /// A call ringing for us, until answered.
    pub incoming: Option<IncomingCall>,
}

impl AppState {
    /// The state at launch: `page` comes from the address (`?room=…`), so the
    /// system-browser fallback lands in the call the app was opening.
    pub fn new(lang: Lang, page: Page) -> Self {
        Self {
            lang,
            settings: Settings::default(),
            settings_loaded: false,
            settings_path: String::new(),
            settings_notice: None,
            server: ServerStatus::Starting,
            page,
            name: None,
            signal: SignalStatus::Connecting,
            incoming: None,
        }
    }

    /// The name as typed (for the name field: spaces and all).
    pub fn typed_name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| self.settings.display_name.clone())
    }

    /// The signaling server to be connected to now: the current call's,
    /// else the app's own.
    pub fn signal_url(&self) -> Option<String> {
        match (&self.page, &self.server) {
            (
                Page::Call {
                    via: Some(remote), ..
                },
                _,
            ) => Some(remote.ws_url.clone()),
            (_, ServerStatus::Ready(info)) => Some(info.ws_url.clone()),
            _ => None,
        }
    }

    /// The name to join calls with (empty: ask first).
    pub fn display_name(&self) -> String {
        self.typed_name().trim().to_owned()
    }
}

/// Everything that changes [`AppState`].
#[derive(Clone, Debug)]
pub enum Action {
    /// The platform told us where the server is.
    ServerReady(ServerInfo),
    /// The platform said the server is not running.
    ServerUnavailable,
    /// Go to another screen.
    Navigate(Page),
    /// Settings came from storage at start.
    SettingsLoaded(SettingsSnapshot),
    /// Settings were saved.
    SettingsChanged(Settings),
    /// The user has read the settings notice.
    DismissSettingsNotice,
    /// The display name for calls changed.
    SetName(String),
    /// The signaling connection changed.
    Signal(SignalStatus),
    /// Someone is ringing us.
    Ring(IncomingCall),
    /// A ring stopped (answered, declined, or the caller gave up).
    RingEnded(PeerId),
}

impl Reducible for AppState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            Action::ServerReady(info) => next.server = ServerStatus::Ready(info),
            Action::ServerUnavailable => next.server = ServerStatus::Unavailable,
            Action::Navigate(page) => next.page = page,
            Action::SettingsLoaded(snapshot) => {
                next.settings_notice = snapshot.notice;
                next.settings_path = snapshot.path;
                next.settings_loaded = true;
                next.lang = lang_for(&snapshot.settings);
                next.settings = snapshot.settings;
            }
            Action::SettingsChanged(settings) => {
                next.lang = lang_for(&settings);
                next.settings = settings;
            }
            Action::DismissSettingsNotice => next.settings_notice = None,
            Action::SetName(name) => next.name = Some(name),
            Action::Signal(status) => next.signal = status,
            Action::Ring(call) => next.incoming = Some(call),
            Action::RingEnded(from) => {
                if next.incoming.as_ref().is_some_and(|c| c.from == from) {
                    next.incoming = None;
                }
            }
        }
        Rc::new(next)
    }
}

/// The language settings ask for, or the system's.
pub fn lang_for(settings: &Settings) -> Lang {
    match settings.language {
        Language::En => Lang::En,
        Language::Ko => Lang::Ko,
        Language::System => Lang::detect(),
    }
}

/// The app-state handle pages use to read state and dispatch actions.
pub type AppContext = UseReducerHandle<AppState>;

/// Props for [`AppProvider`].
#[derive(Properties, PartialEq)]
pub struct AppProviderProps {
    /// The state at launch.
    pub initial: AppState,
    /// Everything that reads the state.
    pub children: Html,
}

/// Holds the app state and provides it to everything inside.
#[function_component(AppProvider)]
pub fn app_provider(props: &AppProviderProps) -> Html {
    let initial = props.initial.clone();
    let state = use_reducer(move || initial);
    html! {
        <ContextProvider<AppContext> context={state}>
            { props.children.clone() }
        </ContextProvider<AppContext>>
    }
}

/// The app state and its dispatcher (inside [`AppProvider`]).
#[hook]
pub fn use_app() -> AppContext {
    use_context::<AppContext>().expect("use_app outside AppProvider")
}
