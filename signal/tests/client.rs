//! The pre-join check (`client::check_server`) against real servers on
//! loopback: each way joining can fail gets its own [`JoinError`].
#![cfg(all(feature = "server", feature = "tls", feature = "client"))]

mod common;

use std::time::Duration;

use common::{TestServer, STEP};
use futures_util::{SinkExt, StreamExt};
use peercall_signal::client::{check_server, CheckOptions, JoinError, RoomCheck};
use peercall_signal::protocol::PROTOCOL_VERSION;
use peercall_signal::server::{self, Config};
use peercall_signal::shell::JoinFailure;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

fn room(name: &str, password: Option<&str>) -> CheckOptions {
    CheckOptions {
        room: Some((name.to_owned(), password.map(str::to_owned))),
        timeout: STEP,
        ..CheckOptions::default()
    }
}

#[tokio::test]
async fn a_reachable_server_and_open_room_pass() {
    let server = TestServer::default_config().await;
    let empty = check_server(&server.url(), &room("team", None))
        .await
        .unwrap();
    assert_eq!(empty.version, PROTOCOL_VERSION);
    assert_eq!(
        empty.room,
        Some(RoomCheck {
            members: 0,
            password_required: false
        })
    );

    let mut host = server.client().await;
    host.send(json!({"type": "join_room", "room": "team", "name": "Host", "password": "s3cret"}))
        .await;
    host.expect("room_joined").await;
    let right = check_server(&server.url(), &room("team", Some("s3cret")))
        .await
        .unwrap();
    assert_eq!(
        right.room,
        Some(RoomCheck {
            members: 1,
            password_required: true
        })
    );
    // Checking never shows up in the room.
    host.expect_silence().await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn wrong_password_and_full_room_are_told_apart() {
    let server = TestServer::start(Config {
        room_capacity: 1,
        ..Config::default()
    })
    .await;
    let mut host = server.client().await;
    host.send(json!({"type": "join_room", "room": "locked", "name": "Host", "password": "a"}))
        .await;
    host.expect("room_joined").await;
    let mut other = server.client().await;
    other.join("busy", "Other").await;

    for password in [None, Some("b")] {
        let error = check_server(&server.url(), &room("locked", password))
            .await
            .unwrap_err();
        assert_eq!(error, JoinError::WrongPassword, "password {password:?}");
    }
    let full = check_server(&server.url(), &room("busy", None))
        .await
        .unwrap_err();
    assert_eq!(full, JoinError::RoomFull);
    assert_eq!(full.failure(), JoinFailure::RoomFull);
    let bad = check_server(&server.url(), &room("bad\u{7}room", None))
        .await
        .unwrap_err();
    assert!(matches!(bad, JoinError::InvalidRoom(_)), "{bad:?}");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn nothing_listening_is_unreachable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let error = check_server(&format!("ws://{addr}/"), &CheckOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(error, JoinError::Unreachable(_)), "{error:?}");
    assert!(error.to_string().starts_with("can't reach the server"));
}

#[tokio::test]
async fn a_refused_origin_is_reported_as_such() {
    let server = TestServer::start(Config {
        allow_loopback_origins: false,
        ..Config::default()
    })
    .await;
    let page = |origin: &str| CheckOptions {
        origin: Some(origin.to_owned()),
        timeout: STEP,
        ..CheckOptions::default()
    };
    let error = check_server(&server.url(), &page("https://evil.example"))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        JoinError::OriginRefused("https://evil.example".into())
    );
    // A loopback page on another port: refused only when the server says so.
    let other_port = page("http://127.0.0.1:1");
    assert!(matches!(
        check_server(&server.url(), &other_port).await,
        Err(JoinError::OriginRefused(_))
    ));
    let default = TestServer::default_config().await;
    check_server(&default.url(), &other_port).await.unwrap();
    check_server(&default.url(), &page("tauri://localhost"))
        .await
        .unwrap();
    server.stop().await.unwrap();
    default.stop().await.unwrap();
}

#[tokio::test]
async fn wss_with_a_trusted_test_certificate_and_without() {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_pem = certified.cert.pem();
    let key_pem = certified.key_pair.serialize_pem();
    let tls = server::tls_config_from_pem(cert_pem.as_bytes(), key_pem.as_bytes()).unwrap();
    let server = TestServer::start(Config {
        tls: Some(tls),
        ..Config::default()
    })
    .await;
    let url = format!("wss://localhost:{}/", server.addr.port());
    let trusting = CheckOptions {
        extra_roots_pem: vec![cert_pem.clone().into_bytes()],
        timeout: STEP,
        ..room("secure", None)
    };
    let passed = check_server(&url, &trusting).await.unwrap();
    assert_eq!(passed.room.map(|r| r.members), Some(0));

    let untrusting = room("secure", None);
    let error = check_server(&url, &untrusting).await.unwrap_err();
    assert!(matches!(error, JoinError::Tls(_)), "{error:?}");

    // wss:// to a plain server is a TLS problem too, not "unreachable".
    let plain = TestServer::default_config().await;
    let error = check_server(
        &format!("wss://localhost:{}/", plain.addr.port()),
        &trusting,
    )
    .await
    .unwrap_err();
    assert!(matches!(error, JoinError::Tls(_)), "{error:?}");
    server.stop().await.unwrap();
    plain.stop().await.unwrap();
}

/// A WebSocket server of another protocol version (a future Peercall).
#[tokio::test]
async fn another_protocol_version_is_a_mismatch() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let future_server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        let welcome =
            json!({"type": "join", "id": "x", "version": PROTOCOL_VERSION + 1, "ice_servers": []});
        ws.send(Message::text(welcome.to_string())).await.unwrap();
        let _ = tokio::time::timeout(STEP, ws.next()).await;
    });
    let error = check_server(&format!("ws://{addr}/"), &CheckOptions::default())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        JoinError::VersionMismatch {
            server: PROTOCOL_VERSION + 1,
            client: PROTOCOL_VERSION
        }
    );
    future_server.abort();
}

#[tokio::test]
async fn a_web_server_or_a_silent_one_is_not_taken_for_peercall() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let web = tokio::spawn(async move {
        loop {
            let (mut tcp, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = tcp.read(&mut buf).await;
            let _ = tcp
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi")
                .await;
        }
    });
    let error = check_server(&format!("ws://{addr}/"), &CheckOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(error, JoinError::NotPeercall(_)), "{error:?}");
    web.abort();

    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let options = CheckOptions {
        timeout: Duration::from_millis(300),
        ..CheckOptions::default()
    };
    let error = check_server(&format!("ws://{addr}/"), &options)
        .await
        .unwrap_err();
    assert_eq!(error.failure(), JoinFailure::TimedOut);
    drop(silent);
}

#[tokio::test]
async fn a_bad_address_is_refused_before_connecting() {
    let error = check_server("http://example.com", &CheckOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(error, JoinError::InvalidAddress(_)), "{error:?}");
}

#[tokio::test]
async fn a_hosts_shutdown_tells_clients_the_call_ended() {
    let server = TestServer::start(Config {
        shutdown_ends_calls: true,
        ..Config::default()
    })
    .await;
    let mut member = server.client().await;
    member.join("team", "Joiner").await;
    let stopping = tokio::spawn(server.stop());
    let (messages, close) = member.expect_close().await;
    let shutdown = messages
        .iter()
        .find(|m| m["type"] == "shutdown")
        .expect("a shutdown notice");
    assert_eq!(shutdown["call_ended"], true);
    assert_eq!(shutdown["reason"], "the host stopped hosting this call");
    assert_eq!(close.map(|c| u16::from(c.code)), Some(1001));
    stopping.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_hosted_room_has_its_password_before_anyone_joins() {
    let server = TestServer::start(Config {
        hosted_room: Some(server::HostedRoom {
            name: "hosted".into(),
            password: Some("s3cret".into()),
        }),
        ..Config::default()
    })
    .await;
    // Nobody is in it yet, and still the password holds.
    let wrong = check_server(&server.url(), &room("hosted", Some("guess")))
        .await
        .unwrap_err();
    assert_eq!(wrong, JoinError::WrongPassword);
    let right = check_server(&server.url(), &room("hosted", Some("s3cret")))
        .await
        .unwrap();
    assert_eq!(
        right.room,
        Some(RoomCheck {
            members: 0,
            password_required: true
        })
    );
    let mut guest = server.client().await;
    guest
        .send(json!({"type": "join_room", "room": "hosted", "name": "Early", "password": "mine"}))
        .await;
    guest.expect_error("wrong_password").await;
    // Only the hosted call: no other room can be opened here.
    guest
        .send(json!({"type": "join_room", "room": "other", "name": "Early"}))
        .await;
    guest.expect_error("not_permitted").await;
    guest
        .send(json!({"type": "join_room", "room": "hosted", "name": "Early", "password": "s3cret"}))
        .await;
    guest.expect("room_joined").await;
    server.stop().await.unwrap();
}
