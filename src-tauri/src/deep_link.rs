//! `peercall://HOST:PORT/ROOM` invite links opening the app.
//!
//! The scheme is declared in `tauri.conf.json` (`plugins.deep-link`), so the
//! bundles register it: the `.desktop` file's MimeType on Linux, the
//! registry on Windows, `CFBundleURLTypes` on macOS. A link that launches
//! the app arrives as its argument (Windows, Linux); one clicked while it
//! runs arrives as an event: from macOS, or from the second instance the
//! click started, which [`crate::single_instance`] forwards here (Windows,
//! Linux). Either way the UI gets it and opens the join screen on it; only
//! links that parse as an invite are passed on.

use peercall_signal::address::{self, INVITE_SCHEME};
use peercall_signal::shell::{LAUNCH_LINK_GLOBAL, LINK_EVENT};
use tauri::{App, AppHandle, Manager};
use tauri_plugin_deep_link::DeepLinkExt;

/// The invite link the app was launched with, if any, after registering a
/// handler for links that arrive later.
pub fn launch_link(app: &App) -> Option<String> {
    let handle = app.handle().clone();
    app.deep_link().on_open_url(move |event| {
        if let Some(link) = event
            .urls()
            .into_iter()
            .find_map(|url| invite(url.as_str()))
        {
            deliver(&handle, &link);
        }
    });
    let current = app
        .deep_link()
        .get_current()
        .ok()
        .flatten()
        .unwrap_or_default();
    // Linux and Windows pass the link as the only argument; also accept it
    // when started by hand as `peercall peercall://…`.
    current
        .iter()
        .map(|url| url.to_string())
        .chain(std::env::args().skip(1))
        .find_map(|candidate| invite(&candidate))
}

/// A script that hands the launch link to the page before it starts.
pub fn init_script(link: Option<&str>) -> String {
    let value = serde_json::to_string(&link).unwrap_or_else(|_| "null".into());
    format!("window.{LAUNCH_LINK_GLOBAL} = {value};")
}

/// The link, if it is a valid invite.
fn invite(candidate: &str) -> Option<String> {
    let is_invite = candidate
        .split_once("://")
        .is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case(INVITE_SCHEME));
    (is_invite && address::parse(candidate).is_ok()).then(|| candidate.to_owned())
}

fn deliver(app: &AppHandle, link: &str) {
    let Some(window) = app.get_webview_window("main") else {
        return;
    };
    // The page reads the link from the same global as at launch.
    let _ = window.eval(format!(
        "{} window.dispatchEvent(new Event('{LINK_EVENT}'));",
        init_script(Some(link))
    ));
    let _ = window.set_focus();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_valid_invites_are_passed_on() {
        assert!(invite("peercall://192.168.1.2:7778/abc-defg-hij").is_some());
        assert!(invite("PEERCALL://host/room").is_some());
        assert!(invite("https://evil.example").is_none());
        assert!(invite("peercall://").is_none());
        assert!(invite("--flag").is_none());
    }

    #[test]
    fn the_script_quotes_the_link() {
        assert_eq!(init_script(None), "window.__peercallLaunchLink = null;");
        assert_eq!(
            init_script(Some("peercall://a/\"x")),
            "window.__peercallLaunchLink = \"peercall://a/\\\"x\";"
        );
    }
}
