//! The transport around signaling: origin checks, static files on the same
//! port, the connection cap and graceful shutdown. TLS is in `tls.rs`.
#![cfg(feature = "server")]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{connect_ws, header, http_request, Client, Embedded, TempDir, TestServer, STEP};
use peercall_signal::server::{self, Config, DirFiles};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Error as WsError;

fn assert_forbidden(result: Result<common::Ws, WsError>) {
    match result {
        Err(WsError::Http(response)) => assert_eq!(response.status(), 403),
        Err(other) => panic!("expected HTTP 403, got {other}"),
        Ok(_) => panic!("expected HTTP 403, got a WebSocket"),
    }
}

#[tokio::test]
async fn origin_allow_list() {
    let server = TestServer::start(Config {
        allowed_origins: vec!["https://call.example.com".into()],
        allow_loopback_origins: false,
        ..Config::default()
    })
    .await;
    let url = server.url();
    let port = server.addr.port();

    assert_forbidden(connect_ws(&url, Some("https://evil.example")).await);
    assert_forbidden(connect_ws(&url, Some("https://call.example.com.evil.example")).await);
    assert_forbidden(connect_ws(&url, Some(&format!("http://127.0.0.1:{}", port + 1))).await);
    assert_forbidden(connect_ws(&url, Some("null")).await);

    let allowed = [
        "https://call.example.com".to_owned(),
        "HTTPS://CALL.EXAMPLE.COM".to_owned(),
        "tauri://localhost".to_owned(),
        "http://tauri.localhost".to_owned(),
        "https://tauri.localhost".to_owned(),
        format!("http://127.0.0.1:{port}"),
        format!("https://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
        format!("http://[::1]:{port}"),
    ];
    for origin in &allowed {
        let ws = connect_ws(&url, Some(origin))
            .await
            .unwrap_or_else(|e| panic!("{origin} is allowed: {e}"));
        Client::from_ws(ws).await;
    }
    // Non-browser clients send no Origin and are allowed by default.
    Client::from_ws(connect_ws(&url, None).await.unwrap()).await;

    // By default a page on any loopback port may connect (the desktop app's
    // system-browser fallback, served by the app's own server).
    let default = TestServer::default_config().await;
    let other_port = format!("http://127.0.0.1:{}", port + 1);
    Client::from_ws(connect_ws(&default.url(), Some(&other_port)).await.unwrap()).await;
    assert_forbidden(connect_ws(&default.url(), Some("https://evil.example")).await);
}

#[tokio::test]
async fn a_tls_hello_on_the_plain_port_is_refused_at_once() {
    let server = TestServer::default_config().await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    // The first bytes of a TLS ClientHello.
    tcp.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc])
        .await
        .unwrap();
    let mut answer = Vec::new();
    timeout(STEP, tcp.read_to_end(&mut answer))
        .await
        .expect("answered well before the handshake timeout")
        .unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 400"), "{answer:?}");
}

#[tokio::test]
async fn require_origin_refuses_clients_without_one() {
    let server = TestServer::start(Config {
        require_origin: true,
        ..Config::default()
    })
    .await;
    let url = server.url();
    assert_forbidden(connect_ws(&url, None).await);
    Client::from_ws(connect_ws(&url, Some("tauri://localhost")).await.unwrap()).await;
}

const WASM: &[u8] = b"\0asm\x01\0\0\0";

#[tokio::test]
async fn serves_static_files() {
    let base = TempDir::new("static");
    let root = base.0.join("ui");
    std::fs::create_dir_all(root.join("pkg")).unwrap();
    std::fs::write(
        root.join("index.html"),
        "<!doctype html><title>Peercall</title>",
    )
    .unwrap();
    std::fs::write(root.join("pkg/peercall_bg.wasm"), WASM).unwrap();
    std::fs::write(root.join("pkg/peercall.js"), "export default 1;\n").unwrap();
    std::fs::write(base.0.join("secret.txt"), "do not serve").unwrap();

    let server = TestServer::start(Config {
        static_files: Some(Arc::new(DirFiles::new(&root).unwrap())),
        ..Config::default()
    })
    .await;
    let addr = server.addr;

    let (status, head, body) = http_request(addr, "GET", "/").await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&head, "content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(header(&head, "cache-control"), Some("no-cache"));
    assert_eq!(header(&head, "connection"), Some("close"));
    assert_eq!(body, b"<!doctype html><title>Peercall</title>");
    let (status, _, body) = http_request(addr, "GET", "/index.html?v=3").await;
    assert_eq!(status, 200);
    assert!(body.starts_with(b"<!doctype"));

    let (status, head, body) = http_request(addr, "GET", "/pkg/peercall_bg.wasm").await;
    assert_eq!(status, 200);
    assert_eq!(header(&head, "content-type"), Some("application/wasm"));
    assert_eq!(body, WASM);

    let (status, head, body) = http_request(addr, "HEAD", "/pkg/peercall.js").await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&head, "content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(header(&head, "content-length"), Some("18"));
    assert!(body.is_empty(), "HEAD has no body");

    for missing in ["/nope.js", "/pkg", "/pkg/"] {
        let (status, _, _) = http_request(addr, "GET", missing).await;
        assert_eq!(status, 404, "{missing}");
    }
    let (status, _, body) = http_request(addr, "HEAD", "/nope.js").await;
    assert_eq!(status, 404);
    assert!(body.is_empty(), "HEAD has no body, even for 404");
    for traversal in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/pkg/..%2f..%2fsecret.txt",
        "/pkg/%2E%2E/%2E%2E/secret.txt",
        "/..\\secret.txt",
        "http://x/../secret.txt",
    ] {
        let (status, _, body) = http_request(addr, "GET", traversal).await;
        assert_eq!(status, 404, "{traversal}");
        assert!(!String::from_utf8_lossy(&body).contains("do not serve"));
    }

    let (status, head, _) = http_request(addr, "POST", "/").await;
    assert_eq!(status, 405);
    assert_eq!(header(&head, "allow"), Some("GET, HEAD"));

    // WebSocket signaling shares the port.
    server.client().await;
}

#[tokio::test]
async fn without_static_files_http_is_404() {
    let server = TestServer::default_config().await;
    let (status, _, _) = http_request(server.addr, "GET", "/").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn serves_embedded_files_through_the_trait() {
    let server = TestServer::start(Config {
        static_files: Some(Arc::new(Embedded)),
        ..Config::default()
    })
    .await;
    let (status, head, body) = http_request(server.addr, "GET", "/").await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&head, "content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(body, b"embedded");
}

#[tokio::test]
async fn connection_cap_holds_new_clients_until_a_slot_frees() {
    let server = TestServer::start(Config {
        max_connections: 2,
        ..Config::default()
    })
    .await;
    let a = server.client().await;
    let mut b = server.client().await;
    let url = server.url();
    let third = tokio::spawn(async move { Client::connect(&url).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !third.is_finished(),
        "no third connection while two are open"
    );
    drop(a);
    let mut c = timeout(STEP, third)
        .await
        .expect("admitted once a slot frees")
        .unwrap();
    c.send(json!({"type":"offer","to":b.id(),"offer":{}})).await;
    assert_eq!(b.expect("offer").await["from"], c.id());
}

#[tokio::test]
async fn graceful_shutdown_tells_every_client() {
    let server = TestServer::default_config().await;
    let addr = server.addr;
    let mut a = server.client().await;
    let mut b = server.client().await;
    a.join("r", "A").await;
    b.join("r", "B").await;
    a.expect("peer_joined").await;
    // A connection still in its handshake must not hold shutdown up.
    let _half_open = TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;

    let started = Instant::now();
    let stopping = tokio::spawn(server.stop());
    for client in [&mut a, &mut b] {
        let (seen, frame) = client.expect_close().await;
        assert_eq!(
            seen,
            vec![json!({"type":"shutdown","reason":"server shutting down","call_ended":false})]
        );
        let frame = frame.expect("a close frame");
        assert_eq!(frame.code, CloseCode::Away);
        assert_eq!(u16::from(frame.code), 1001);
    }
    timeout(STEP, stopping)
        .await
        .expect("run() returns")
        .unwrap()
        .expect("run() returns Ok");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the listener is closed"
    );
}

#[tokio::test]
async fn shutdown_with_no_clients_is_immediate() {
    let server = TestServer::default_config().await;
    let started = Instant::now();
    server.stop().await.unwrap();
    assert!(started.elapsed() < Duration::from_millis(500));
}

#[tokio::test]
async fn invalid_config_is_refused() {
    let listener = server::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let result = server::run(
        listener,
        Config {
            ice_servers: vec!["http://not-ice".into()],
            ..Config::default()
        },
        async {},
    )
    .await;
    assert!(
        matches!(result, Err(server::ServerError::InvalidConfig(_))),
        "{result:?}"
    );
    for bad in [
        Config {
            max_connections: 0,
            ..Config::default()
        },
        Config {
            rate_per_sec: 0,
            ..Config::default()
        },
        Config {
            room_capacity: 0,
            ..Config::default()
        },
        Config {
            idle_timeout: Duration::ZERO,
            ..Config::default()
        },
        Config {
            turn_secret: Some(String::new()),
            ..Config::default()
        },
    ] {
        assert!(bad.validate().is_err(), "{bad:?}");
    }
    Config::default().validate().unwrap();
}
