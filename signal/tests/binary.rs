//! The headless `peercall-signal` binary, as an operator runs it.
#![cfg(all(feature = "server", feature = "tls", unix))]

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::binary::{rss_kib, start, Server};
use common::{connect_ws, header, http_request, Client, TempDir, STEP};
use serde_json::json;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

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

/// A client whose socket takes almost nothing in and that never reads past
/// its welcome.
async fn slow_reader(url: &str) -> Client {
    let addr: std::net::SocketAddr = url
        .trim_start_matches("ws://")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let tcp = socket.connect(addr).await.unwrap();
    let (ws, _) =
        tokio_tungstenite::client_async(url, tokio_tungstenite::MaybeTlsStream::Plain(tcp))
            .await
            .unwrap();
    Client::from_ws(ws).await
}

/// Slow readers whose senders flood them pin only the memory budget: the
/// server's RSS stays bounded, the slow readers are closed with 1008 or
/// 1013, and a well-behaved pair keeps relaying throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_readers_cannot_run_the_server_out_of_memory() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    const PAIRS: usize = 6;
    const MESSAGES: usize = 400;
    let (server, url) = start(
        &[
            "--bind",
            "127.0.0.1:0",
            "--rate-per-sec",
            "1000000",
            "--rate-burst",
            "1000000",
            // Less than the slow readers' queues together (6 × 1 MiB).
            "--max-queued-bytes",
            "4194304",
        ],
        &[],
    )
    .await;
    let pid = server.0.id();
    let mut good_a = Client::connect(&url).await;
    let mut good_b = Client::connect(&url).await;
    good_a.join("good", "A").await;
    good_b.join("good", "B").await;
    good_a.expect("peer_joined").await;
    let before = rss_kib(pid);

    let mut slow = Vec::new();
    let mut floods = Vec::new();
    for _ in 0..PAIRS {
        let reader = slow_reader(&url).await;
        let sender = Client::connect(&url).await;
        let text = json!({"type":"candidate","to":reader.id(),"candidate":"x".repeat(60 * 1024)})
            .to_string();
        slow.push(reader);
        let (mut sink, mut replies) = sender.ws.split();
        floods.push(tokio::spawn(async move {
            // Whatever comes back (errors once the reader is gone) is read.
            let drain = tokio::spawn(async move { while replies.next().await.is_some() {} });
            for _ in 0..MESSAGES {
                if sink.send(Message::text(text.clone())).await.is_err() {
                    break;
                }
            }
            drain.abort();
        }));
    }

    // While they flood, the good pair relays and the server's memory is
    // sampled.
    let mut peak = before;
    let mut relayed = 0;
    let started = std::time::Instant::now();
    while floods.iter().any(|f| !f.is_finished()) && started.elapsed() < Duration::from_secs(30) {
        good_a
            .send(json!({"type":"candidate","to":good_b.id(),"candidate":{"n":relayed}}))
            .await;
        let got = good_b.expect("candidate").await;
        assert_eq!(got["candidate"]["n"], relayed);
        relayed += 1;
        peak = peak.max(rss_kib(pid));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for flood in floods {
        timeout(STEP, flood).await.expect("floods end").unwrap();
    }
    peak = peak.max(rss_kib(pid));
    let grown_mib = peak.saturating_sub(before) / 1024;
    eprintln!("RSS {before} KiB before, {peak} KiB at peak (+{grown_mib} MiB); {relayed} relays");
    assert!(relayed >= 5, "the good pair kept relaying: {relayed}");
    // Unbounded, each slow reader pinned 256 × 60 KiB ≈ 15 MiB.
    assert!(grown_mib < 40, "grew by {grown_mib} MiB");

    // The slow readers were cut off with a close code that says why.
    for mut reader in slow {
        let mut frame = None;
        while let Ok(Some(Ok(message))) = timeout(STEP, reader.ws.next()).await {
            if let Message::Close(close) = message {
                frame = close;
                break;
            }
        }
        let code = u16::from(frame.expect("a close frame").code);
        assert!(code == 1008 || code == 1013, "{code}");
    }
    good_a.assert_alive().await;
}
