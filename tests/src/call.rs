//! The signaling server a call goes through: [`SignalServer`] (and the
//! [`RedisServer`] instances of it share rooms through), the page
//! URLs that open a room or the home page on it, and talking to it
//! directly (plain HTTP, a bare signaling client). What the browser does
//! during a call is read from outside the app, by the observer (`observe`).

use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use peercall_signal::address::PageAddress;
use serde_json::{Map, Value};

use crate::process::{free_port, signal_bin, ui_dist, wait_for_port, Process};

/// The real headless signaling server, optionally serving the built UI.
pub struct SignalServer {
    /// `ws://127.0.0.1:PORT/`.
    pub ws_url: String,
    /// `http://127.0.0.1:PORT/`.
    pub http_url: String,
    /// The port.
    pub port: u16,
    /// The process.
    pub process: Process,
}

impl SignalServer {
    /// Starts `peercall-signal --bind 127.0.0.1:PORT` serving `src-ui/dist`.
    pub async fn start(extra_args: &[&str]) -> Result<Self> {
        let port = free_port();
        Self::start_on(port, extra_args).await
    }

    /// Same, on a given port (to restart on the same address).
    pub async fn start_on(port: u16, extra_args: &[&str]) -> Result<Self> {
        let mut command = Command::new(signal_bin()?);
        command
            .args(["--bind", &format!("127.0.0.1:{port}")])
            .arg("--serve-ui")
            .arg(ui_dist()?)
            .args(extra_args)
            .env("RUST_LOG", "info");
        let process = Process::spawn(&format!("peercall-signal-{port}"), &mut command)?;
        wait_for_port(port, "peercall-signal").await?;
        Ok(Self {
            ws_url: format!("ws://127.0.0.1:{port}/"),
            http_url: format!("http://127.0.0.1:{port}/"),
            port,
            process,
        })
    }
}

/// A real `redis-server` (Debian's package, installed by `cargo xtask
/// setup`) on a free loopback port, without persistence; killed when
/// dropped, like every [`Process`].
pub struct RedisServer {
    /// `redis://127.0.0.1:PORT/`.
    pub url: String,
    pub process: Process,
}

impl RedisServer {
    /// Starts one and waits until it accepts connections.
    pub async fn start() -> Result<Self> {
        let port = free_port();
        let mut command = Command::new("redis-server");
        command
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"]);
        let process = Process::spawn(&format!("redis-server-{port}"), &mut command)?;
        wait_for_port(port, "redis-server").await?;
        Ok(Self {
            url: format!("redis://127.0.0.1:{port}/"),
            process,
        })
    }
}

/// The page URL that lands straight in `room` as `name`.
pub fn room_url(server: &SignalServer, room: &str, name: &str) -> String {
    let address = PageAddress {
        name: Some(name.to_owned()),
        ..PageAddress::room(room)
    };
    format!("{}?{}", server.http_url, address.to_query())
}

/// The home page URL with `name` as the display name.
pub fn home_url(server: &SignalServer, name: &str) -> String {
    let address = PageAddress {
        name: Some(name.to_owned()),
        ..PageAddress::default()
    };
    format!("{}?{}", server.http_url, address.to_query())
}

/// Minimal HTTP GET on loopback, returning (status, content-type, body).
pub async fn http_get(port: u16, path: &str) -> Result<(u16, String, Vec<u8>)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await?;
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response)).await??;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("no end of HTTP head")?;
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no HTTP status")?;
    let content_type = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-type")
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_default();
    Ok((status, content_type, response[split + 4..].to_vec()))
}

/// Connects to a signaling server as a plain client and returns the first
/// message it sends (the `join` welcome).
pub async fn signaling_welcome(ws_url: &str) -> Result<Map<String, Value>> {
    use futures_util::StreamExt;
    let (mut socket, _) = tokio_tungstenite::connect_async(ws_url)
        .await
        .with_context(|| format!("connecting to {ws_url}"))?;
    let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
        .await
        .context("no welcome within 10 s")?
        .context("closed before the welcome")??;
    let text = message.into_text()?;
    match serde_json::from_str::<Value>(&text)? {
        Value::Object(map) => Ok(map),
        other => bail!("welcome is not an object: {other}"),
    }
}
