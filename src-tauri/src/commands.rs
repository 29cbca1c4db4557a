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
use peercall_signal::shell::native::{
    Attachment, EventsArgs, LocalMedia, MediaRequest, NativeDevice, NativeEvent, NativeSupport,
    PeerCloseArgs, PeerOpenArgs, PeerSendArgs, PeerSignalArgs,
};
use peercall_signal::shell::save::{
    SaveArgs, SaveFinishArgs, SaveId, SaveOpenArgs, SavedFile, ARGS_HEADER,
};
use peercall_signal::shell::{LanCall, PermissionState, ServerInfo, SettingsSnapshot};
use tauri::State;
use tauri_plugin_opener::OpenerExt;

use crate::embedded::EmbeddedServer;
use crate::lan::{HostingInfo, Lan};
use crate::mailbox::Mailbox;
use crate::permissions;
use crate::saves::Saves;
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

/// The native call engine, in a process of its own for each call
/// ([`crate::native::process`]); the frames server the page reads its
/// video from, started on the first command that needs it.
#[derive(Default)]
pub struct NativeEngine {
    #[cfg(target_os = "linux")]
    engine: std::sync::OnceLock<Result<NativeParts, String>>,
    /// Its events, until the page reads them.
    events: std::sync::Arc<Mailbox<NativeEvent>>,
}

/// What the shell keeps of the native engine.
#[cfg(target_os = "linux")]
#[derive(Clone)]
struct NativeParts {
    process: std::sync::Arc<crate::native::process::EngineProcess>,
    frames: std::sync::Arc<crate::native::frames::FramesServer>,
}

/// How long a `native_events` call waits for the first event before it
/// answers empty (the page asks again at once).
const EVENTS_WAIT: std::time::Duration = std::time::Duration::from_secs(20);

impl NativeEngine {
    /// Lets the engine's process go, if there is one: it closes every peer
    /// and the local media (the app is exiting).
    pub fn close_all(&self) {
        #[cfg(target_os = "linux")]
        if let Some(Ok(parts)) = self.engine.get() {
            parts.process.close_all();
        }
    }
}

#[cfg(target_os = "linux")]
impl NativeEngine {
    fn get(&self) -> Result<NativeParts, AppError> {
        self.engine
            .get_or_init(|| {
                crate::native::support::ready()?;
                let frames = crate::native::frames::FramesServer::start(
                    tauri::async_runtime::handle().inner(),
                )
                .map_err(|e| e.to_string())?;
                let process = crate::native::process::EngineProcess::new(
                    frames.frames().clone(),
                    crate::native::fake_media_from_env(),
                );
                Ok(NativeParts {
                    process: std::sync::Arc::new(process),
                    frames: std::sync::Arc::new(frames),
                })
            })
            .clone()
            .map_err(AppError::NativeUnsupported)
    }
}

/// What every native command but [`native_availability`] answers where
/// the engine is not built.
#[cfg(not(target_os = "linux"))]
fn not_built() -> AppError {
    AppError::NativeUnsupported(
        "this build has no native call engine (the webview has WebRTC)".to_owned(),
    )
}

/// Runs `$body` (an async closure over the engine's process) where the
/// engine is built, and fails with [`not_built`] elsewhere.
macro_rules! on_engine {
    ($native:expr, $body:expr) => {{
        #[cfg(target_os = "linux")]
        {
            let process = $native.get()?.process;
            ($body)(process).await.map_err(AppError::from)
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = &$native;
            Err(not_built())
        }
    }};
}

/// The engine's process, as the commands get it.
#[cfg(target_os = "linux")]
type Engine = std::sync::Arc<crate::native::process::EngineProcess>;

/// Whether the native engine can run here, and if not why.
#[tauri::command]
pub async fn native_availability() -> Result<NativeSupport, AppError> {
    #[cfg(target_os = "linux")]
    {
        tauri::async_runtime::spawn_blocking(crate::native::support::checked)
            .await
            .map_err(|e| AppError::Native(e.to_string()))
    }
    #[cfg(not(target_os = "linux"))]
    {
        Ok(NativeSupport::NotBuilt)
    }
}

/// The cameras and microphones the native engine can open.
/// From the first call on, the page hears of devices plugged in and out
/// (the window event `DEVICES_EVENT`).
#[tauri::command]
pub async fn native_devices(
    app: tauri::AppHandle,
    native: State<'_, NativeEngine>,
) -> Result<Vec<NativeDevice>, AppError> {
    #[cfg(target_os = "linux")]
    {
        let process = native.get()?.process;
        process.watch_devices(move || {
            use tauri::Manager;
            let event = peercall_signal::shell::DEVICES_EVENT;
            if let Some(window) = app.get_webview_window("main") {
                tracing::info!("cameras or microphones plugged in or out");
                let _ = window.eval(format!("window.dispatchEvent(new Event('{event}'));"));
            }
        });
        tauri::async_runtime::spawn_blocking(move || process.devices())
            .await
            .map_err(|e| AppError::Native(e.to_string()))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (&app, &native);
        Err(not_built())
    }
}

/// Attaches the page: whatever a previous page left is closed, and the
/// engine's events are kept for this page's [`native_events`] from now on.
#[tauri::command]
pub async fn native_attach(native: State<'_, NativeEngine>) -> Result<Attachment, AppError> {
    let mailbox = std::sync::Arc::clone(&native.events);
    let events = mailbox.open();
    let sink = std::sync::Arc::new(move |event: NativeEvent| mailbox.post(events, event));
    #[cfg(target_os = "linux")]
    {
        let parts = native.get()?;
        parts.process.attach(sink);
        Ok(Attachment {
            frames: parts.frames.endpoint(),
            events,
        })
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (sink, events);
        Err(not_built())
    }
}

/// The engine's events for the page's attachment, in order, once there is
/// at least one (empty after [`EVENTS_WAIT`]); fails once another page has
/// attached.
#[tauri::command]
pub async fn native_events(
    native: State<'_, NativeEngine>,
    args: EventsArgs,
) -> Result<Vec<NativeEvent>, AppError> {
    native
        .events
        .take(args.attachment, EVENTS_WAIT)
        .await
        .map_err(|detached| AppError::Native(detached.to_string()))
}

/// Opens, switches or closes the camera and microphone, and mutes.
#[tauri::command]
pub async fn native_set_media(
    native: State<'_, NativeEngine>,
    args: MediaRequest,
) -> Result<LocalMedia, AppError> {
    #[cfg(not(target_os = "linux"))]
    let _ = args;
    on_engine!(native, move |engine: Engine| async move {
        engine.set_media(args).await
    })
}

/// Stops the camera and microphone.
#[tauri::command]
pub async fn native_close_media(native: State<'_, NativeEngine>) -> Result<(), AppError> {
    on_engine!(native, |engine: Engine| async move {
        engine.close_media().await
    })
}

/// Opens a native peer.
#[tauri::command]
pub async fn native_peer_open(
    native: State<'_, NativeEngine>,
    args: PeerOpenArgs,
) -> Result<(), AppError> {
    #[cfg(not(target_os = "linux"))]
    let _ = args;
    on_engine!(native, move |engine: Engine| async move {
        engine.open_peer(args).await
    })
}

/// Gives a native peer a remote description or candidate.
#[tauri::command]
pub async fn native_peer_signal(
    native: State<'_, NativeEngine>,
    args: PeerSignalArgs,
) -> Result<(), AppError> {
    #[cfg(not(target_os = "linux"))]
    let _ = args;
    on_engine!(native, move |engine: Engine| async move {
        engine.signal_peer(args).await
    })
}

/// Sends text on a native peer's chat channel.
#[tauri::command]
pub async fn native_peer_send(
    native: State<'_, NativeEngine>,
    args: PeerSendArgs,
) -> Result<(), AppError> {
    #[cfg(not(target_os = "linux"))]
    let _ = args;
    on_engine!(native, move |engine: Engine| async move {
        engine.send(args).await
    })
}

/// Closes a native peer.
#[tauri::command]
pub async fn native_peer_close(
    native: State<'_, NativeEngine>,
    args: PeerCloseArgs,
) -> Result<(), AppError> {
    #[cfg(not(target_os = "linux"))]
    let _ = args;
    on_engine!(native, move |engine: Engine| async move {
        engine.close_peer(args.peer).await
    })
}

/// Starts writing a received file into the Downloads folder.
#[tauri::command]
pub async fn save_open(saves: State<'_, Saves>, args: SaveOpenArgs) -> Result<SaveId, AppError> {
    Ok(saves.open(&args.name, args.size)?)
}

/// Writes the next bytes of a save: the raw body, with the [`SaveArgs`]
/// in the [`ARGS_HEADER`] header. Answers the bytes the file holds now.
#[tauri::command]
pub async fn save_write(
    saves: State<'_, Saves>,
    request: tauri::ipc::Request<'_>,
) -> Result<u64, AppError> {
    let tauri::ipc::InvokeBody::Raw(bytes) = request.body() else {
        return Err(AppError::Bridge("save_write takes raw bytes".to_owned()));
    };
    let args: SaveArgs = request
        .headers()
        .get(ARGS_HEADER)
        .and_then(|value| value.to_str().ok())
        .and_then(|json| serde_json::from_str(json).ok())
        .ok_or_else(|| AppError::Bridge(format!("save_write needs its {ARGS_HEADER} header")))?;
    Ok(saves.write(args.id, bytes)?)
}

/// Checks a save's hash and gives the file its name.
#[tauri::command]
pub async fn save_finish(
    saves: State<'_, Saves>,
    args: SaveFinishArgs,
) -> Result<SavedFile, AppError> {
    Ok(saves.finish(args.id, &args.sha256)?)
}

/// Drops a save and what it wrote.
#[tauri::command]
pub async fn save_abort(saves: State<'_, Saves>, args: SaveArgs) -> Result<(), AppError> {
    saves.abort(args.id);
    Ok(())
}
