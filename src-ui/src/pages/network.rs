//! What the host and join screens share: entering a call on another server
//! (in this window, or in the system browser where this web engine has no
//! WebRTC), and the words for each way joining can fail.

use yew::prelude::*;

use crate::components::BrowserOutcome;
use crate::hooks::SettingsStore;
use crate::i18n::Text;
use crate::platform::Platform;
use crate::state::{Action, AppContext, Page, Remote, ServerStatus};
use peercall_signal::address::PageAddress;
use peercall_signal::shell::JoinFailure;

/// Enters `room` on the server at `ws_url`: here, or in the system browser
/// (reporting to `outcome`) where this web engine can't call.
pub fn enter_remote_call(
    app: &AppContext,
    platform: &Platform,
    store: &SettingsStore,
    room: String,
    ws_url: String,
    password: Option<String>,
    outcome: UseStateHandle<Option<BrowserOutcome>>,
) {
    if platform.needs_browser() {
        let address = PageAddress {
            room: Some(room),
            server: Some(ws_url),
            password,
            name: Some(app.display_name()),
            ..PageAddress::default()
        };
        open_in_browser(platform, Some(address), outcome);
    } else {
        store.remember_name(app.display_name());
        app.dispatch(Action::Navigate(Page::Call {
            room,
            via: Some(Remote { ws_url, password }),
        }));
    }
}

/// Opens this UI in the system browser at `address` (the call, where this
/// web engine can't carry it), reporting to `outcome`.
pub fn open_in_browser(
    platform: &Platform,
    address: Option<PageAddress>,
    outcome: UseStateHandle<Option<BrowserOutcome>>,
) {
    let platform = platform.clone();
    wasm_bindgen_futures::spawn_local(async move {
        let query = address.map(|a| a.to_query());
        let result = platform.open_in_browser(query).await;
        if let Err(error) = &result {
            gloo::console::error!(format!("open_in_browser: {error:?}"));
        }
        outcome.set(Some(if result.is_ok() {
            BrowserOutcome::Opened
        } else {
            BrowserOutcome::Failed
        }));
    });
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

/// The words for a failed pre-join check.
pub fn join_error_text(failure: JoinFailure) -> Text {
    match failure {
        JoinFailure::Unreachable => Text::JoinErrUnreachable,
        JoinFailure::Tls => Text::JoinErrTls,
        JoinFailure::OriginRefused => Text::JoinErrOrigin,
        JoinFailure::VersionMismatch => Text::JoinErrVersion,
        JoinFailure::RoomFull => Text::JoinErrRoomFull,
        JoinFailure::WrongPassword => Text::JoinErrPassword,
        JoinFailure::TooManyAttempts => Text::JoinErrTooManyAttempts,
        JoinFailure::NotPeercall => Text::JoinErrNotPeercall,
        JoinFailure::TimedOut => Text::JoinErrTimeout,
        JoinFailure::InvalidAddress => Text::JoinErrAddress,
        JoinFailure::InvalidRoom => Text::JoinErrRoomInvalid,
        JoinFailure::RoomMissing => Text::JoinErrRoom,
        JoinFailure::Unexpected => Text::JoinErrOther,
    }
}
