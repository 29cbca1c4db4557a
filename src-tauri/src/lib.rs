//! The Peercall desktop shell.
//!
//! Owns the window, the embedded signaling server's lifecycle, the user's
//! settings and the OS-facing bits (camera/microphone permissions, opening
//! the system browser). The UI reaches all of it through the typed commands
//! in [`commands`].

mod commands;
mod deep_link;
mod embedded;
mod error;
mod lan;
mod mailbox;
/// The native call engine (GStreamer), where the webview has no WebRTC.
#[cfg(target_os = "linux")]
pub mod native;
mod permissions;
mod saves;
mod settings;
mod shutdown;
mod single_instance;
mod window;

pub use error::AppError;

use tauri::Manager;

/// Starts the app: tracing, settings, the embedded signaling server, the
/// main window. Run with [`native::process::child::ARG`], it is a call's
/// engine process instead.
pub fn run() {
    #[cfg(target_os = "linux")]
    {
        if std::env::args().nth(1).as_deref() == Some(native::process::child::ARG) {
            std::process::exit(match run_call_engine() {
                std::process::ExitCode::SUCCESS => 0,
                _ => 1,
            });
        }
        native::tune_malloc();
        window::prefer_software_drawing();
    }
    let launched = commands::LaunchClock::default();
    init_tracing();

    let app = tauri::Builder::default()
        // First: a second launch hands its link over and exits here.
        .plugin(single_instance::plugin())
        .manage(launched)
        .manage(commands::NativeEngine::default())
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_deep_link::init())
        .invoke_handler(tauri::generate_handler![
            commands::server_info,
            commands::open_in_browser,
            commands::get_settings,
            commands::update_settings,
            commands::reset_settings,
            commands::media_permission_status,
            commands::request_media_permission,
            commands::start_hosting,
            commands::hosting_info,
            commands::stop_hosting,
            commands::lan_calls,
            commands::check_server,
            commands::ui_ready,
            commands::native_availability,
            commands::native_devices,
            commands::native_attach,
            commands::native_events,
            commands::native_set_media,
            commands::native_close_media,
            commands::native_peer_open,
            commands::native_peer_signal,
            commands::native_peer_send,
            commands::native_peer_close,
            commands::save_open,
            commands::save_write,
            commands::save_finish,
            commands::save_abort,
        ])
        .setup(|app| {
            // The page asks first thing whether the native engine can run.
            #[cfg(target_os = "linux")]
            native::support::check_early();
            let config_dir = match std::env::var_os(settings::CONFIG_DIR_ENV) {
                Some(dir) => dir.into(),
                None => app.path().app_config_dir()?,
            };
            let store = settings::SettingsStore::load(&config_dir);
            let server_settings = store.get().embedded_server;
            app.manage(store);

            let server = embedded::EmbeddedServer::default();
            if server_settings.enabled {
                let info = tauri::async_runtime::block_on(
                    server.start(app.handle().clone(), server_settings.port),
                )?;
                tracing::info!(url = %info.ws_url, "embedded signaling server listening");
            }
            app.manage(server);
            app.manage(lan::Lan::default());
            app.manage(saves::Saves::new(saves::Saves::downloads(
                app.path().download_dir().ok(),
            )));
            let launch_link = deep_link::launch_link(app);
            window::build_main_window(app.handle(), launch_link.as_deref())?;
            shutdown::exit_on_os_request(app.handle());
            Ok(())
        })
        .build(tauri::generate_context!())
        .expect("Peercall could not start");

    app.run(|handle, event| {
        if let tauri::RunEvent::Exit = event {
            let handle = handle.clone();
            shutdown::clean_up_within(shutdown::EXIT_LIMIT, move || {
                if let Some(native) = handle.try_state::<commands::NativeEngine>() {
                    native.close_all();
                }
                if let Some(saves) = handle.try_state::<saves::Saves>() {
                    saves.abort_all();
                }
                if let Some(lan) = handle.try_state::<lan::Lan>() {
                    tauri::async_runtime::block_on(lan.stop_hosting());
                }
                if let Some(server) = handle.try_state::<embedded::EmbeddedServer>() {
                    tauri::async_runtime::block_on(server.stop());
                }
            });
        }
    });
}

/// Runs a call's engine process (see `native::process`) until the shell
/// lets it go: what `peercall-engine` runs, and `peercall --call-engine`
/// where that binary is missing.
#[cfg(target_os = "linux")]
pub fn run_call_engine() -> std::process::ExitCode {
    init_tracing();
    let args: Vec<String> = std::env::args().collect();
    match native::process::child::serve(&args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "the call engine could not start");
            std::process::ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,tao=warn,wry=warn"));
    // On stderr, where a program's diagnostics go (and where WebDriver's
    // launcher keeps them).
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
