//! Every way the app is told to end takes the path closing the window
//! takes: `AppHandle::exit`, whose `RunEvent::Exit` (in `lib.rs`) withdraws
//! the LAN advertisement (mDNS goodbye), tells the hosted call it is over and
//! stops the servers. Without this, a logout, a shutdown or `kill` (SIGTERM,
//! SIGHUP when the session ends, SIGINT from a terminal) ended the process
//! on the spot: the call stayed listed on the LAN for minutes and its members
//! saw the connection drop instead of "the host ended this call".
//!
//! That clean-up is bounded ([`clean_up_within`]): whatever it waits on
//! (a device pipeline stopping, a connection closing), the app is gone
//! within [`EXIT_LIMIT`] of being told to quit.

use std::sync::mpsc;
use std::time::Duration;

use tauri::AppHandle;

/// The longest the app takes to quit: its clean-up gets this long.
/// Closing connections takes at most a few seconds (each session's close
/// grace); the rest is immediate unless something is stuck.
pub const EXIT_LIMIT: Duration = Duration::from_secs(5);

/// Runs `clean_up` on a thread of its own and waits for it at most
/// `limit`: a clean-up stuck on something (a device, a connection) must not
/// leave a window that no longer answers and a process that never ends.
/// Answers whether it finished.
pub fn clean_up_within(limit: Duration, clean_up: impl FnOnce() + Send + 'static) -> bool {
    let (done, finished) = mpsc::channel::<()>();
    let spawned = std::thread::Builder::new()
        .name("exit-clean-up".into())
        .spawn(move || {
            clean_up();
            let _ = done.send(());
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "no thread for the clean-up: quitting without it");
        return false;
    }
    match finished.recv_timeout(limit) {
        Ok(()) => true,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            tracing::warn!(
                limit_s = limit.as_secs_f32(),
                "the clean-up did not finish in time: quitting without it"
            );
            false
        }
        // It panicked: what it did not do is lost either way.
        Err(mpsc::RecvTimeoutError::Disconnected) => false,
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_clean_up_that_finishes_is_waited_for() {
        let (ran, seen) = mpsc::channel();
        assert!(clean_up_within(Duration::from_secs(5), move || {
            std::thread::sleep(Duration::from_millis(50));
            ran.send(()).unwrap();
        }));
        assert!(
            seen.try_recv().is_ok(),
            "it had finished when the wait ended"
        );
    }

    #[test]
    fn a_stuck_clean_up_is_given_up_on_in_time() {
        let started = Instant::now();
        let finished = clean_up_within(Duration::from_millis(200), || {
            std::thread::sleep(Duration::from_secs(30));
        });
        assert!(!finished);
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_clean_up_that_panics_ends_the_wait() {
        let started = Instant::now();
        assert!(!clean_up_within(Duration::from_secs(30), || panic!(
            "stuck"
        )));
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
