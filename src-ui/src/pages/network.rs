//! What the host and join screens share: entering a call on another server
//! (in this window, or in the system browser where this web engine has no
//! WebRTC), and the words for each way joining can fail.

use yew::prelude::*;

use crate::app::AppContext;
use crate::i18n::Text;
use crate::pages::call::remember_name;
use crate::platform::Platform;
use crate::state::{Action, Page, Remote, ServerStatus};

/// What happened when a call was handed to the system browser.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrowserOutcome {
    /// The browser opened on the call.
    Opened,
    /// It didn't.
    Failed,
}

impl BrowserOutcome {
    /// The line shown under the buttons.
    pub fn view(&self, tr: &impl Fn(Text) -> &'static str) -> Html {
        match self {
            Self::Opened => html! {
                <p class="notice-outcome ok" id="browser-outcome" data-state="opened" role="status">{ tr(Text::OpenedInBrowser) }</p>
            },
            Self::Failed => html! {
                <p class="notice-outcome error" id="browser-outcome" data-state="failed" role="alert">{ tr(Text::OpenFailed) }</p>
            },
        }
    }
}

/// Enters `room` on the server at `ws_url`: here, or in the system browser
/// (reporting to `outcome`) where this web engine can't call.
pub fn enter_remote_call(
    app: &AppContext,
    platform: &Platform,
    room: String,
    ws_url: String,
    password: Option<String>,
    outcome: UseStateHandle<Option<BrowserOutcome>>,
) {
    if platform.needs_browser() {
        let mut query = format!("room={}&server={}", encode(&room), encode(&ws_url));
        if let Some(password) = password.as_deref().filter(|p| !p.is_empty()) {
            query.push_str(&format!("&password={}", encode(password)));
        }
        let name = app.display_name();
        if !name.is_empty() {
            query.push_str(&format!("&name={}", encode(&name)));
        }
        let platform = platform.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let result = platform.open_in_browser(Some(query)).await;
            if let Err(error) = &result {
                gloo::console::error!(format!("open_in_browser: {error:?}"));
            }
            outcome.set(Some(if result.is_ok() {
                BrowserOutcome::Opened
            } else {
                BrowserOutcome::Failed
            }));
        });
    } else {
        remember_name(app, platform, app.display_name());
        app.dispatch(Action::Navigate(Page::Call {
            room,
            via: Some(Remote { ws_url, password }),
        }));
    }
}

/// The origin the call's page will connect from: this page, or the
/// embedded server's loopback page when the call goes to the browser.
pub fn calling_origin(app: &AppContext, platform: &Platform) -> String {
    match (&app.server, platform.needs_browser()) {
        (ServerStatus::Ready(info), true) => info.page_url.trim_end_matches('/').to_owned(),
        _ => gloo::utils::window()
            .location()
            .origin()
            .unwrap_or_default(),
    }
}

/// The words for a failed pre-join check, by the shell's error kind.
pub fn join_error_text(kind: &str) -> Text {
    match kind {
        "unreachable" => Text::JoinErrUnreachable,
        "tls" => Text::JoinErrTls,
        "origin_refused" => Text::JoinErrOrigin,
        "version_mismatch" => Text::JoinErrVersion,
        "room_full" => Text::JoinErrRoomFull,
        "wrong_password" => Text::JoinErrPassword,
        "not_peercall" => Text::JoinErrNotPeercall,
        "timed_out" => Text::JoinErrTimeout,
        "invalid_address" => Text::JoinErrAddress,
        "invalid_room" => Text::JoinErrRoomInvalid,
        _ => Text::JoinErrOther,
    }
}

/// Percent-encodes everything but unreserved characters (the shell passes
/// only those on to the browser).
fn encode(text: &str) -> String {
    String::from(js_sys::encode_uri_component(text))
        .replace('!', "%21")
        .replace('\'', "%27")
        .replace('(', "%28")
        .replace(')', "%29")
        .replace('*', "%2A")
}
