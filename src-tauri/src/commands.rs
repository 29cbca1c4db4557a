//! The typed commands the UI calls (`invoke`). Each is named, typed and
//! listed in [`peercall_signal::shell::command`] (the contract the UI uses
//! too), declared from that list in `build.rs` and granted explicitly in
//! `capabilities/default.json`. Arguments arrive as one `args` parameter of
//! the command's shared `Args` type.

use peercall_signal::settings::Settings;
use peercall_signal::shell::command::{
    CheckServerArgs, OpenInBrowserArgs, PermissionArgs, StartHostingArgs, UiReadyArgs,
    UpdateSettingsArgs,
};
use peercall_signal::shell::{LanCall, PermissionState, ServerInfo, SettingsSnapshot};
use tauri::State;
use tauri_plugin_opener::OpenerExt;

use crate::embedded::EmbeddedServer;
use crate::lan::{HostingInfo, Lan};
use crate::permissions;
use crate::settings::SettingsStore;
use crate::AppError;

/// The embedded server's addresses.
#[tauri::command]
pub fn server_info(server: State<'_, EmbeddedServer>) -> Result<ServerInfo, AppError> {
    server.info().ok_or(AppError::ServerNotRunning)
}

/// Opens the UI, served by the embedded server on loopback, in the system
/// browser: the fallback where this webview has no WebRTC.
///
/// `query` (e.g. `room=abc`) is passed on so the browser lands where the user
/// was heading; it is limited to URL-safe characters first.
#[tauri::command]
pub fn open_in_browser(
    app: tauri::AppHandle,
    server: State<'_, EmbeddedServer>,
    args: OpenInBrowserArgs,
) -> Result<(), AppError> {
    let mut url = server.info().ok_or(AppError::ServerNotRunning)?.page_url;
    if let Some(query) = args.query.filter(|q| !q.is_empty()) {
        // The UI builds this from its own state; still, never let it change
        // the scheme or host we open.
        let safe: String = query
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || "-_.~=&%+".contains(*c))
            .collect();
        url.push('?');
        url.push_str(&safe);
    }
    tracing::info!(%url, "opening the call in the system browser");
    app.opener()
        .open_url(url, None::<&str>)
        .map_err(|e| AppError::OpenBrowser(e.to_string()))
}

/// The settings in force, and a one-time notice if the file was damaged.
#[tauri::command]
pub fn get_settings(store: State<'_, SettingsStore>) -> SettingsSnapshot {
    store.snapshot()
}

/// Validates and saves `settings`; a bad value gets field-level errors and
/// nothing is written.
#[tauri::command]
pub fn update_settings(
    store: State<'_, SettingsStore>,
    args: UpdateSettingsArgs,
) -> Result<Settings, AppError> {
    store.update(args.settings)
}

/// Restores the defaults.
#[tauri::command]
pub fn reset_settings(store: State<'_, SettingsStore>) -> Result<Settings, AppError> {
    store.reset()
}

/// Whether Peercall may use the camera or microphone.
#[tauri::command]
pub fn media_permission_status(
    store: State<'_, SettingsStore>,
    args: PermissionArgs,
) -> PermissionState {
    permissions::status(args.kind, &store)
}

/// Asks for camera or microphone access (the OS prompt on macOS).
#[tauri::command]
pub async fn request_media_permission(
    store: State<'_, SettingsStore>,
    args: PermissionArgs,
) -> Result<PermissionState, AppError> {
    permissions::request(args.kind, &store).await
}

/// Hosts `room` for the LAN: a listener on every interface, an mDNS
/// advertisement, and what joiners need (addresses, invite links).
#[tauri::command]
pub async fn start_hosting(
    lan: State<'_, Lan>,
    store: State<'_, SettingsStore>,
    args: StartHostingArgs,
) -> Result<HostingInfo, AppError> {
    let StartHostingArgs { room, password } = args;
    let settings = store.get();
    // The loopback server holds the settings' port; hosting prefers the next.
    let port = settings.embedded_server.port.saturating_add(1);
    let name = settings.display_name.trim().to_owned();
    lan.start_hosting(room, password, port, Some(name).filter(|n| !n.is_empty()))
        .await
}

/// What is being hosted, if anything.
#[tauri::command]
pub async fn hosting_info(lan: State<'_, Lan>) -> Result<Option<HostingInfo>, AppError> {
    Ok(lan.hosting().await)
}

/// Stops hosting: everyone in the call is told it ended, the LAN listener
/// closes and the advertisement is withdrawn.
#[tauri::command]
pub async fn stop_hosting(lan: State<'_, Lan>) -> Result<(), AppError> {
    lan.stop_hosting().await;
    Ok(())
}

/// The calls advertised on the LAN right now (the join screen polls this).
#[tauri::command]
pub async fn lan_calls(lan: State<'_, Lan>) -> Result<Vec<LanCall>, AppError> {
    lan.calls().await
}

/// Checks a server before joining it, as the page will connect (`origin`):
/// each failure comes back as its own [`peercall_signal::shell::JoinFailure`]
/// (unreachable, TLS, origin refused, version mismatch, room full, wrong
/// password, …). Answers how many are in the room, when one was given.
#[tauri::command]
pub async fn check_server(args: CheckServerArgs) -> Result<Option<usize>, AppError> {
    let CheckServerArgs {
        url,
        room,
        password,
        origin,
    } = args;
    use peercall_signal::client::{self, CheckOptions};
    let options = CheckOptions {
        origin: origin.filter(|o| !o.is_empty()),
        room: room.map(|room| (room, password)),
        ..CheckOptions::default()
    };
    let check = client::check_server(&url, &options).await?;
    Ok(check.room.map(|room| room.members))
}

/// When the shell started, for the start-up figures [`ui_ready`] logs.
pub struct LaunchClock(std::time::Instant);

impl Default for LaunchClock {
    fn default() -> Self {
        Self(std::time::Instant::now())
    }
}

/// The page says the home screen is interactive: log how long the launch
/// took, from the shell's start, to the first frame and to interactive (the
/// page's marks are on its own clock, so the first frame is placed before
/// now by their difference). People see this in the terminal; the launch
/// benchmark reads it.
#[tauri::command]
pub fn ui_ready(clock: State<'_, LaunchClock>, args: UiReadyArgs) {
    let interactive = clock.0.elapsed().as_secs_f64() * 1000.0;
    let before = (args.interactive_ms - args.first_paint_ms).clamp(0.0, interactive);
    tracing::info!(
        first_paint_ms = (interactive - before).round(),
        interactive_ms = interactive.round(),
        "home screen interactive"
    );
}
