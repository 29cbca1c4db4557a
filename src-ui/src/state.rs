//! App-wide state: one reducer, changed only through [`Action`]s.

use std::rc::Rc;

use yew::Reducible;

use crate::i18n::Lang;
use crate::platform::ServerInfo;

/// The screen being shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Page {
    /// Start or join a call.
    Home,
    /// In (or entering) the call in `room`.
    Call {
        /// The room code.
        room: String,
    },
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
    /// The UI language.
    pub lang: Lang,
    /// The signaling server.
    pub server: ServerStatus,
    /// The current screen.
    pub page: Page,
}

impl AppState {
    /// The state at launch: `page` comes from the address (`?room=…`), so the
    /// system-browser fallback lands in the call the app was opening.
    pub fn new(lang: Lang, page: Page) -> Self {
        Self {
            lang,
            server: ServerStatus::Starting,
            page,
        }
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
}

impl Reducible for AppState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            Action::ServerReady(info) => next.server = ServerStatus::Ready(info),
            Action::ServerUnavailable => next.server = ServerStatus::Unavailable,
            Action::Navigate(page) => next.page = page,
        }
        Rc::new(next)
    }
}
