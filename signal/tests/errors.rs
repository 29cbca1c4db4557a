//! Bad input and abuse: every bad message gets a typed error and the
//! connection lives on; oversize and flooding close it with the proper code;
//! other clients never notice.
#![cfg(feature = "server")]

mod common;

use std::time::Duration;

use common::{Client, TestServer};
use futures_util::{SinkExt, StreamExt};
use peercall_signal::server::Config;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

/// Two room members who keep talking while a third misbehaves.
struct Bystanders {
    x: Client,
    y: Client,
}

impl Bystanders {
    async fn new(server: &TestServer) -> Self {
        let mut x = server.client().await;
        let mut y = server.client().await;
        x.join("calm", "X").await;
        y.join("calm", "Y").await;
        x.expect("peer_joined").await;
        Self { x, y }
    }

    async fn still_fine(&mut self) {
        self.x
            .send(json!({"type":"candidate","to":self.y.id(),"candidate":{"ok":true}}))
            .await;
        let got = self.y.expect("candidate").await;
        assert_eq!(got["from"], self.x.id());
        self.x.expect_silence().await;
    }
}

#[tokio::test]
async fn bad_messages_get_typed_errors_and_the_connection_lives_on() {
    let server = TestServer::default_config().await;
    let mut others = Bystanders::new(&server).await;
    let mut bad = server.client().await;

    let cases: &[(&str, &str)] = &[
        ("{not json", "bad_json"),
        ("", "bad_json"),
        ("\"just a string\"", "invalid_message"),
        ("[1,2,3]", "invalid_message"),
        (r#"{"to":"x"}"#, "invalid_message"),
        (r#"{"type":42}"#, "invalid_message"),
        (r#"{"type":"teleport"}"#, "unknown_type"),
        (r#"{"type":"OFFER","offer":{}}"#, "unknown_type"),
        (r#"{"type":"offer"}"#, "invalid_message"),
        (r#"{"type":"offer","to":7,"offer":{}}"#, "invalid_message"),
        (
            r#"{"type":"join_room","room":["x"],"name":"n"}"#,
            "invalid_message",
        ),
        (r#"{"type":"join_room","room":"x"}"#, "invalid_message"),
        (r#"{"type":"hello","version":-1}"#, "invalid_message"),
        (r#"{"type":"call"}"#, "invalid_message"),
        (
            r#"{"type":"media_state","audio_muted":1,"video_muted":0}"#,
            "invalid_message",
        ),
    ];
    for (text, code) in cases {
        bad.send_text(text).await;
        let error = bad.expect_error(code).await;
        assert!(
            !error["message"].as_str().unwrap().is_empty(),
            "{text} -> {error}"
        );
    }
    // Helpful messages: the unknown type is named along with the known ones.
    bad.send_text(r#"{"type":"teleport"}"#).await;
    let error = bad.expect_error("unknown_type").await;
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("teleport") && message.contains("join_room"),
        "{message}"
    );
    // The missing field is named.
    bad.send_text(r#"{"type":"offer","to":"x"}"#).await;
    let error = bad.expect_error("invalid_message").await;
    assert!(
        error["message"].as_str().unwrap().contains("offer"),
        "{error}"
    );

    bad.ws
        .send(Message::Binary(vec![1, 2, 3].into()))
        .await
        .unwrap();
    bad.expect_error("invalid_message").await;

    bad.assert_alive().await;
    let joined = bad.join("after", "Still here").await;
    assert_eq!(joined["you"], bad.id());
    others.still_fine().await;
}

#[tokio::test]
async fn oversize_message_closes_with_1009() {
    let server = TestServer::start(Config {
        max_message_bytes: 8 * 1024,
        ..Config::default()
    })
    .await;
    let mut others = Bystanders::new(&server).await;
    let mut big = server.client().await;

    // Just under the limit is fine.
    let fits = json!({"type":"candidate","to":"nobody","candidate":"x".repeat(7 * 1024)});
    big.send(fits).await;
    big.expect_error("unknown_peer").await;

    let huge = json!({"type":"offer","to":others.x.id(),"offer":"x".repeat(100 * 1024)});
    // The server may stop reading mid-message; a failed send is fine.
    let _ = timeout(
        Duration::from_secs(5),
        big.ws.send(Message::text(huge.to_string())),
    )
    .await;
    let (_, frame) = big.expect_close().await;
    let frame = frame.expect("a close frame");
    assert_eq!(frame.code, CloseCode::Size);
    assert_eq!(u16::from(frame.code), 1009);

    others.x.expect_silence().await;
    others.still_fine().await;
}

#[tokio::test]
async fn oversize_default_limit_is_64_kib() {
    let server = TestServer::default_config().await;
    let mut client = server.client().await;
    let fits = json!({"type":"candidate","to":"nobody","candidate":"x".repeat(60 * 1024)});
    client.send(fits).await;
    client.expect_error("unknown_peer").await;
    let huge = json!({"type":"candidate","to":"nobody","candidate":"x".repeat(65 * 1024)});
    let _ = timeout(
        Duration::from_secs(5),
        client.ws.send(Message::text(huge.to_string())),
    )
    .await;
    let (_, frame) = client.expect_close().await;
    assert_eq!(frame.unwrap().code, CloseCode::Size);
}

#[tokio::test]
async fn flooding_closes_with_1008() {
    let server = TestServer::start(Config {
        rate_per_sec: 5,
        rate_burst: 10,
        ..Config::default()
    })
    .await;
    let mut others = Bystanders::new(&server).await;
    let mut flood = server.client().await;
    for _ in 0..200 {
        let message = Message::text(r#"{"type":"hello","version":1}"#);
        if flood.ws.feed(message).await.is_err() {
            break;
        }
    }
    let _ = flood.ws.flush().await;
    let (seen, frame) = flood.expect_close().await;
    assert_eq!(
        seen.iter().filter(|m| m["code"] == "rate_limited").count(),
        1,
        "told once, not once per dropped message: {seen:?}"
    );
    let frame = frame.expect("a close frame");
    assert_eq!(frame.code, CloseCode::Policy);
    assert_eq!(u16::from(frame.code), 1008);
    others.still_fine().await;
}

#[tokio::test]
async fn bursts_over_the_limit_are_dropped_with_rate_limited_then_recover() {
    let server = TestServer::start(Config {
        rate_per_sec: 20,
        rate_burst: 10,
        ..Config::default()
    })
    .await;
    let mut client = server.client().await;
    // The first 10 are allowed; most of the rest are dropped, with a
    // `rate_limited` error, yet this is well short of flooding (debt < 10).
    for _ in 0..16 {
        client
            .ws
            .feed(Message::text(r#"{"type":"leave_room"}"#))
            .await
            .unwrap();
    }
    client.ws.flush().await.unwrap();
    let mut replies = Vec::new();
    loop {
        match timeout(Duration::from_millis(300), client.ws.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => {
                replies.push(serde_json::from_str::<serde_json::Value>(&text).unwrap())
            }
            Ok(Some(Ok(_))) => {}
            Ok(other) => panic!("connection must stay open: {other:?}"),
            Err(_) => break,
        }
    }
    let count = |code: &str| replies.iter().filter(|m| m["code"] == code).count();
    // Refill during the exchange may let one or two more through.
    assert!((10..16).contains(&count("not_in_room")), "{replies:?}");
    assert!(count("rate_limited") >= 1, "{replies:?}");
    let limited = replies
        .iter()
        .find(|m| m["code"] == "rate_limited")
        .unwrap();
    assert!(
        limited["message"].as_str().unwrap().contains("20"),
        "{limited}"
    );
    // Tokens refill at 20/s.
    tokio::time::sleep(Duration::from_millis(800)).await;
    client.assert_alive().await;
}

#[tokio::test]
async fn ice_candidate_bursts_within_the_default_limit_pass() {
    let server = TestServer::default_config().await;
    let mut a = server.client().await;
    let mut b = server.client().await;
    a.send(json!({"type":"offer","to":b.id(),"offer":{}})).await;
    b.expect("offer").await;
    // A browser gathering many candidates at once: 90 back to back.
    for n in 0..90 {
        a.ws.feed(Message::text(
            json!({"type":"candidate","candidate":{"candidate":format!("candidate:{n}")}})
                .to_string(),
        ))
        .await
        .unwrap();
    }
    a.ws.flush().await.unwrap();
    for n in 0..90 {
        let got = b.expect("candidate").await;
        assert_eq!(got["candidate"]["candidate"], format!("candidate:{n}"));
    }
    a.expect_silence().await;
}

#[tokio::test]
async fn idle_clients_are_pinged_and_dropped() {
    let server = TestServer::start(Config {
        ping_interval: Duration::from_millis(100),
        idle_timeout: Duration::from_millis(300),
        ..Config::default()
    })
    .await;
    let mut lively = server.client().await;
    let mut idle = server.client().await;

    // `lively` keeps reading, so its client library answers every ping.
    let mut pings = 0;
    let until = tokio::time::Instant::now() + Duration::from_millis(700);
    while let Ok(next) = tokio::time::timeout_at(until, lively.ws.next()).await {
        match next {
            Some(Ok(Message::Ping(_))) => pings += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(pings >= 3, "pinged every 100 ms, got {pings}");
    lively.assert_alive().await;

    // `idle` read nothing, so it answered no ping: closed by now.
    let (_, frame) = idle.expect_close().await;
    let frame = frame.expect("a close frame");
    assert_eq!(frame.reason.as_str(), "idle timeout");
}

#[tokio::test]
async fn silent_tcp_connections_time_out_in_the_handshake() {
    let server = TestServer::start(Config {
        handshake_timeout: Duration::from_millis(200),
        ..Config::default()
    })
    .await;
    let mut socket = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    socket.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    let mut buf = [0u8; 64];
    let read = timeout(Duration::from_secs(3), socket.read(&mut buf))
        .await
        .expect("the server hangs up after the handshake timeout");
    assert!(matches!(read, Ok(0) | Err(_)));
}

#[tokio::test]
async fn garbage_and_protocol_violations_do_not_hurt_others() {
    let server = TestServer::default_config().await;
    let mut others = Bystanders::new(&server).await;

    // Not HTTP at all.
    let mut socket = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    socket
        .write_all(b"\x16\x03\x01\x02\x00garbage\r\n\r\n")
        .await
        .unwrap();
    let mut response = Vec::new();
    let _ = timeout(Duration::from_secs(3), socket.read_to_end(&mut response)).await;
    assert!(
        response.starts_with(b"HTTP/1.1 400"),
        "{:?}",
        String::from_utf8_lossy(&response)
    );

    // An oversized request head.
    let mut socket = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let head = format!("GET / HTTP/1.1\r\nX-Pad: {}\r\n\r\n", "a".repeat(10_000));
    let _ = socket.write_all(head.as_bytes()).await;
    let mut response = Vec::new();
    let _ = timeout(Duration::from_secs(3), socket.read_to_end(&mut response)).await;
    assert!(
        response.starts_with(b"HTTP/1.1 431"),
        "{:?}",
        String::from_utf8_lossy(&response)
    );

    // A WebSocket client that sends an unmasked frame (a protocol error).
    let mut client = server.client().await;
    let raw = client.ws.get_mut();
    if let tokio_tungstenite::MaybeTlsStream::Plain(tcp) = raw {
        tcp.write_all(&[0x81, 0x02, b'h', b'i']).await.unwrap();
    }
    let (_, frame) = client.expect_close().await;
    assert_eq!(frame.unwrap().code, CloseCode::Protocol);

    others.still_fine().await;
}

#[tokio::test]
async fn bad_websocket_upgrades_get_http_errors() {
    let server = TestServer::default_config().await;
    let upgrade = |version: &str| {
        format!(
            "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: {version}\r\n\r\n"
        )
    };
    let stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let (status, head, _) = common::http_exchange(stream, &upgrade("8")).await;
    assert_eq!(status, 426);
    assert_eq!(common::header(&head, "sec-websocket-version"), Some("13"));

    let stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let missing_key = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let (status, _, _) = common::http_exchange(stream, missing_key).await;
    assert_eq!(status, 400);

    let stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let (status, _, _) =
        common::http_exchange(stream, &upgrade("13").replacen("GET", "POST", 1)).await;
    assert_eq!(status, 405);
}

#[tokio::test]
async fn replies_keep_the_order_of_requests() {
    let server = TestServer::default_config().await;
    let mut client = server.client().await;
    // Sent back to back: the join's reply must come before the next error.
    client
        .ws
        .feed(Message::text(
            r#"{"type":"join_room","room":"o","name":"N"}"#,
        ))
        .await
        .unwrap();
    client.ws.feed(Message::text("nonsense")).await.unwrap();
    client
        .ws
        .feed(Message::text(r#"{"type":"leave_room"}"#))
        .await
        .unwrap();
    client
        .ws
        .feed(Message::text(r#"{"type":"leave_room"}"#))
        .await
        .unwrap();
    client.ws.flush().await.unwrap();
    client.expect("room_joined").await;
    client.expect_error("bad_json").await;
    client.expect_error("not_in_room").await;
}
