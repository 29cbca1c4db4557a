//! The embedded signaling server's lifecycle: started with the app on
//! loopback, stopped (telling every client) when the app exits.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use peercall_signal::server::{self, StaticFile, StaticFiles};
use tauri::AppHandle;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::AppError;
use peercall_signal::shell::ServerInfo;

/// Environment variable to choose another preferred port than the one in
/// settings (tests run several apps side by side).
pub const PORT_ENV: &str = "PEERCALL_PORT";

type Running = (ServerInfo, ServerTask);

/// A signaling server running on the app's async runtime (the embedded one,
/// or the LAN listener while hosting).
pub struct ServerTask {
    stop: oneshot::Sender<()>,
    task: tauri::async_runtime::JoinHandle<()>,
}

impl ServerTask {
    /// Runs `config` on `listener`; `what` names it in logs.
    pub fn spawn(listener: TcpListener, config: server::Config, what: &'static str) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tauri::async_runtime::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            if let Err(error) = server::run(listener, config, shutdown).await {
                tracing::error!(%error, "{what} failed");
            }
        });
        Self { stop, task }
    }

    /// Shuts it down gracefully (clients are told) and waits for it.
    pub async fn stop(self) {
        drop(self.stop);
        let _ = self.task.await;
    }
}

/// The embedded server, managed as Tauri state.
#[derive(Default)]
pub struct EmbeddedServer {
    /// `None` when it is not running (turned off in settings, or stopped).
    running: Mutex<Option<Running>>,
}

impl EmbeddedServer {
    /// Binds 127.0.0.1 (`preferred_port`, else any free one) and starts
    /// serving signaling plus the app's own UI for the system-browser
    /// fallback.
    pub async fn start(&self, app: AppHandle, preferred_port: u16) -> Result<ServerInfo, AppError> {
        let listener = bind_loopback(preferred_port)
            .await
            .map_err(AppError::ServerStart)?;
        let port = listener.local_addr().map_err(AppError::ServerStart)?.port();
        let config = server::Config {
            static_files: Some(Arc::new(EmbeddedAssets(app))),
            ..server::Config::default()
        };
        let task = ServerTask::spawn(listener, config, "embedded signaling server");
        let info = ServerInfo {
            ws_url: format!("ws://127.0.0.1:{port}/"),
            page_url: format!("http://127.0.0.1:{port}/"),
            port,
        };
        *self.running.lock().expect("server lock") = Some((info.clone(), task));
        Ok(info)
    }

    /// Its addresses, while it runs.
    pub fn info(&self) -> Option<ServerInfo> {
        let running = self.running.lock().ok()?;
        running.as_ref().map(|(info, _)| info.clone())
    }

    /// Stops it gracefully: clients are told, then the task is awaited.
    pub async fn stop(&self) {
        let taken = self.running.lock().ok().and_then(|mut r| r.take());
        if let Some((_, task)) = taken {
            task.stop().await;
        }
    }
}

async fn bind_loopback(preferred_port: u16) -> std::io::Result<TcpListener> {
    let preferred = std::env::var(PORT_ENV)
        .ok()
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or(preferred_port);
    bind_preferring(IpAddr::V4(Ipv4Addr::LOCALHOST), preferred).await
}

/// Binds `ip:preferred_port`, or any free port on `ip` when that one is
/// taken (another app, or a second Peercall).
pub async fn bind_preferring(ip: IpAddr, preferred_port: u16) -> std::io::Result<TcpListener> {
    match TcpListener::bind(SocketAddr::new(ip, preferred_port)).await {
        Ok(listener) => Ok(listener),
        Err(error) => {
            tracing::info!(%error, %ip, preferred_port, "preferred port unavailable, using a free one");
            TcpListener::bind(SocketAddr::new(ip, 0)).await
        }
    }
}

/// Serves the UI embedded in the app binary, so the system browser gets the
/// very same build the window runs.
struct EmbeddedAssets(AppHandle);

impl StaticFiles for EmbeddedAssets {
    fn get(&self, path: &str) -> Option<StaticFile> {
        let asset = self.0.asset_resolver().get(path.to_owned())?;
        Some(StaticFile {
            bytes: Cow::Owned(asset.bytes),
            content_type: asset.mime_type,
        })
    }
}
