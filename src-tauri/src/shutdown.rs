//! Every way the app is told to end takes the path closing the window
//! takes: `AppHandle::exit`, whose `RunEvent::Exit` (in `lib.rs`) withdraws
//! the LAN advertisement (mDNS goodbye), tells the hosted call it is over and
//! stops the servers. Without this, a logout, a shutdown or `kill` (SIGTERM,
//! SIGHUP when the session ends, SIGINT from a terminal) ended the process
//! on the spot: the call stayed listed on the LAN for minutes and its members
//! saw the connection drop instead of "the host ended this call".

use tauri::AppHandle;

/// Watches for the operating system asking the app to end, and exits
/// cleanly when it does.
pub fn exit_on_os_request(app: &AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        match os_request().await {
            Ok(what) => {
                tracing::info!(signal = what, "asked to quit: exiting cleanly");
                app.exit(0);
            }
            Err(error) => tracing::warn!(%error, "cannot watch for quit signals"),
        }
    });
}

/// Resolves when the OS asks the process to end; says how.
#[cfg(unix)]
async fn os_request() -> std::io::Result<&'static str> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut hang_up = signal(SignalKind::hangup())?;
    Ok(tokio::select! {
        _ = terminate.recv() => "SIGTERM",
        _ = interrupt.recv() => "SIGINT",
        _ = hang_up.recv() => "SIGHUP",
    })
}

/// Resolves when the OS asks the process to end; says how.
#[cfg(windows)]
async fn os_request() -> std::io::Result<&'static str> {
    use tokio::signal::windows::{ctrl_break, ctrl_c, ctrl_close, ctrl_logoff, ctrl_shutdown};
    let mut c = ctrl_c()?;
    let mut brk = ctrl_break()?;
    let mut close = ctrl_close()?;
    let mut logoff = ctrl_logoff()?;
    let mut shutdown = ctrl_shutdown()?;
    Ok(tokio::select! {
        _ = c.recv() => "Ctrl-C",
        _ = brk.recv() => "Ctrl-Break",
        _ = close.recv() => "close",
        _ = logoff.recv() => "logoff",
        _ = shutdown.recv() => "shutdown",
    })
}
