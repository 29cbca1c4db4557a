//! One running app per user session.
//!
//! `tauri-plugin-single-instance` finds an already running Peercall (a
//! D-Bus name on the session bus on Linux, a named mutex on Windows, a Unix
//! socket on macOS). A second launch — a `peercall://` link clicked while
//! the app runs, or the launcher clicked again — hands its command line to
//! the running app and exits. With the plugin's `deep-link` feature the
//! link goes through `tauri-plugin-deep-link`'s `on_open_url`, the same
//! path [`crate::deep_link`] registers for links that arrive while the app
//! runs, so the page opens the join screen on it; here the running window
//! is only brought to the front (also when there is no link).
//!
//! Without a session bus (a bare Linux console) the plugin cannot find
//! other instances and each launch runs on its own.

use tauri::plugin::TauriPlugin;
use tauri::{AppHandle, Manager, Runtime};

/// The plugin; register it before every other plugin, so a second
/// instance exits before anything else starts (the embedded server, the
/// window).
pub fn plugin<R: Runtime>() -> TauriPlugin<R> {
    tauri_plugin_single_instance::init(|app, _argv, _cwd| bring_to_front(app))
}

/// Shows, restores and focuses the main window.
fn bring_to_front<R: Runtime>(app: &AppHandle<R>) {
    let Some(window) = app.get_webview_window("main") else {
        return;
    };
    let _ = window.unminimize();
    let _ = window.show();
    let _ = window.set_focus();
}
