//! The headless `peercall-signal` binary, as an operator runs it.
#![cfg(all(feature = "server", feature = "tls", unix))]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{connect_ws, header, http_request, Client, TempDir, STEP};
use serde_json::json;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// The binary, killed if a test fails half-way.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary and returns it with the URL from its `listening on` line.
async fn start(args: &[&str], envs: &[(&str, &str)]) -> (Server, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_peercall-signal"));
    command
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (key, value) in envs {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("the binary starts");
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let line = timeout(
        STEP,
        tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).unwrap();
            line
        }),
    )
    .await
    .expect("it prints its address in time")
    .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    (server, url)
}

fn sigterm(server: &Server) {
    let pid = libc::pid_t::try_from(server.0.id()).unwrap();
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
}

#[tokio::test]
async fn runs_serves_and_stops_on_sigterm() {
    let ui_dir = TempDir::new("bin-ui");
    let ui = &ui_dir.0;
    std::fs::write(ui.join("index.html"), "<p>ui</p>").unwrap();
    let (mut server, url) = start(
        &[
            "--bind",
            "127.0.0.1:0",
            "--ice-server",
            "stun:stun.example.org:3478",
            "--ice-server",
            "turn:turn.example.org:3478",
            "--turn-ttl",
            "120",
            "--allow-origin",
            "https://call.example.com",
            "--room-capacity",
            "1",
            "--serve-ui",
            ui.to_str().unwrap(),
        ],
        &[("PEERCALL_TURN_SECRET", "from-the-environment")],
    )
    .await;
    assert!(url.starts_with("ws://127.0.0.1:"), "{url}");
    let port: u16 = url
        .trim_start_matches("ws://127.0.0.1:")
        .trim_end_matches('/')
        .parse()
        .expect("the real port, not 0");
    assert_ne!(port, 0);

    let mut a = Client::connect(&url).await;
    let ice = &a.welcome["ice_servers"];
    assert_eq!(ice[0]["urls"], json!(["stun:stun.example.org:3478"]));
    assert!(ice[1]["username"].as_str().unwrap().ends_with(a.id()));
    assert!(ice[1]["credential"].is_string());

    // Limits from the command line apply.
    a.join("solo", "A").await;
    let mut b = Client::connect(&url).await;
    b.send(json!({"type":"join_room","room":"solo","name":"B"}))
        .await;
    b.expect_error("room_full").await;

    // Origins from the command line apply.
    assert!(connect_ws(&url, Some("https://call.example.com"))
        .await
        .is_ok());
    assert!(connect_ws(&url, Some("https://evil.example"))
        .await
        .is_err());

    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    let (status, head, body) = http_request(addr, "GET", "/").await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&head, "content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(body, b"<p>ui</p>");

    sigterm(&server);
    let (seen, frame) = a.expect_close().await;
    assert_eq!(seen[0]["type"], "shutdown");
    assert_eq!(frame.unwrap().code, CloseCode::Away);
    let status = timeout(STEP, tokio::task::spawn_blocking(move || server.0.wait()))
        .await
        .expect("it exits in time")
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn bad_arguments_fail_with_a_message() {
    let output = Command::new(env!("CARGO_BIN_EXE_peercall-signal"))
        .args(["--bind", "127.0.0.1:0", "--ice-server", "https://not-ice"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("stun:"), "{stderr}");

    let output = Command::new(env!("CARGO_BIN_EXE_peercall-signal"))
        .args(["--tls-cert", "/nonexistent.pem"])
        .output()
        .unwrap();
    assert!(!output.status.success(), "--tls-cert needs --tls-key");
}

#[tokio::test]
async fn sigint_also_stops_it() {
    let (server, url) = start(&["--bind", "127.0.0.1:0"], &[]).await;
    let _client = Client::connect(&url).await;
    let pid = libc::pid_t::try_from(server.0.id()).unwrap();
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let mut server = server;
    let status = timeout(
        Duration::from_secs(5),
        tokio::task::spawn_blocking(move || server.0.wait()),
    )
    .await
    .expect("it exits in time")
    .unwrap()
    .unwrap();
    assert!(status.success(), "{status}");
}
