//! Abuse from outside, each case over real sockets on loopback: closes are
//! answered, error replies stay short whatever the input, pongs and
//! fragments are counted, duplicate keys are refused, one address cannot
//! starve the others, and HTTP responses carry their security headers.
//! (The memory budget is tested on the real binary, in `binary.rs`.)
#![cfg(feature = "server")]

mod common;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use common::{header, Client, TestServer, STEP};
use futures_util::{SinkExt, StreamExt};
use peercall_signal::server::Config;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::{timeout, Instant};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::MaybeTlsStream;

/// The longest error explanation the server may send.
const MAX_ERROR_CHARS: usize = 200;

/// A TCP connection to `server` from the loopback address `local` (all of
/// 127.0.0.0/8 is loopback, so each is a distinct client address).
async fn connect_from(local: [u8; 4], server: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(IpAddr::from(local), 0))?;
    socket.connect(server).await
}

/// A signaling client connecting from `local`.
async fn client_from(local: [u8; 4], server: &TestServer) -> Result<Client, String> {
    let tcp = connect_from(local, server.addr)
        .await
        .map_err(|e| e.to_string())?;
    let (ws, _) = timeout(
        STEP,
        tokio_tungstenite::client_async(server.url(), MaybeTlsStream::Plain(tcp)),
    )
    .await
    .map_err(|_| "handshake timed out".to_owned())?
    .map_err(|e| e.to_string())?;
    Ok(Client::from_ws(ws).await)
}

/// Reads until the server's close frame, skipping everything else; `None`
/// if the connection ended without one.
async fn close_frame(client: &mut Client) -> Option<CloseFrame> {
    loop {
        match timeout(STEP, client.ws.next())
            .await
            .expect("the server closes in time")
        {
            Some(Ok(Message::Close(frame))) => return frame,
            Some(Ok(_)) => continue,
            _ => return None,
        }
    }
}

#[tokio::test]
async fn a_clients_close_is_answered_with_its_code_then_eof() {
    let server = TestServer::default_config().await;
    for (code, reason) in [(CloseCode::Normal, "bye"), (CloseCode::Library(4001), "")] {
        let mut watcher = server.client().await;
        let mut client = server.client().await;
        watcher.join("closing", "W").await;
        client.join("closing", "C").await;
        watcher.expect("peer_joined").await;

        client
            .ws
            .close(Some(CloseFrame {
                code,
                reason: reason.into(),
            }))
            .await
            .unwrap();
        let echoed = timeout(STEP, client.ws.next())
            .await
            .expect("the close is answered in time");
        match echoed {
            Some(Ok(Message::Close(Some(frame)))) => {
                assert_eq!(frame.code, code);
                assert_eq!(frame.reason.as_str(), reason);
            }
            other => panic!("expected the close echoed with {code:?}, got {other:?}"),
        }
        // Then the end of the stream, not a reset.
        let end = timeout(STEP, client.ws.next())
            .await
            .expect("the server hangs up in time");
        assert!(end.is_none(), "expected EOF after the close, got {end:?}");
        let left = watcher.expect("peer_left").await;
        assert_eq!(left["id"], client.id());
    }
}

/// Hostile inputs of every kind, each far larger than any error reply.
fn hostile_inputs() -> Vec<(String, &'static str, &'static [&'static str])> {
    let del = "\u{7f}".repeat(40_000);
    let wide = "é".repeat(25_000);
    let controls = "\u{1}".repeat(9_000);
    let key = "\u{7f}".repeat(20_000);
    let quote = |s: &str| serde_json::to_string(s).unwrap();
    vec![
        // The reported case: serde's own message echoed all of it, escaped.
        (
            format!(r#"{{"type":"hello","version":"{del}"}}"#),
            "invalid_message",
            &["version", "integer"],
        ),
        (
            format!(r#"{{"type":"hello","version":{}}}"#, quote(&controls)),
            "invalid_message",
            &["version", "integer"],
        ),
        (
            format!(r#"{{"type":"media_state","audio_muted":"{wide}","video_muted":false}}"#),
            "invalid_message",
            &["audio_muted", "boolean"],
        ),
        (
            format!(r#"{{"type":"join_room","room":["{del}"],"name":"n"}}"#),
            "invalid_message",
            &["room", "string"],
        ),
        (
            format!(r#"{{"type":"call","to":{{"{del}":1}}}}"#),
            "invalid_message",
            &["to", "string"],
        ),
        (
            format!(r#"{{"type":"{del}"}}"#),
            "unknown_type",
            &["join_room"],
        ),
        (
            format!(r#"{{"type":{}}}"#, quote(&controls)),
            "unknown_type",
            &[],
        ),
        (
            format!(r#"{{"type":"join_room","{del}":1}}"#),
            "invalid_message",
            &["room"],
        ),
        (
            format!(r#"{{"type":"hello","version":1,"{key}":1,"{key}":2}}"#),
            "duplicate_key",
            &[],
        ),
        (format!("{{\"type\":\"{del}"), "bad_json", &[]),
        (format!("{{\"{wide}\" 1}}"), "bad_json", &[]),
        ("[".repeat(60_000), "bad_json", &[]),
        (
            format!(r#"{{"type":"join_room","room":"{wide}","name":"n"}}"#),
            "invalid_room",
            &[],
        ),
        (
            format!(r#"{{"type":"join_room","room":"r","name":"{del}"}}"#),
            "invalid_name",
            &[],
        ),
        (
            format!(r#"{{"type":"candidate","to":"{wide}","candidate":{{}}}}"#),
            "unknown_peer",
            &[],
        ),
        (
            format!(r#"{{"type":"hang_up","to":{}}}"#, quote(&controls)),
            "unknown_peer",
            &[],
        ),
    ]
}

#[tokio::test]
async fn error_replies_stay_short_whatever_the_input() {
    let server = TestServer::default_config().await;
    let mut client = server.client().await;
    for (input, code, mentions) in hostile_inputs() {
        assert!(input.len() < 64 * 1024, "within the message limit");
        client.send_text(&input).await;
        let reply = match timeout(STEP, client.ws.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => text,
            other => panic!("expected an error for {:.40}…, got {other:?}", input),
        };
        assert!(
            reply.len() <= 4 * MAX_ERROR_CHARS + 100,
            "a {} byte reply to {:.40}…",
            reply.len(),
            input
        );
        let reply: Value = serde_json::from_str(&reply).unwrap();
        assert_eq!(reply["type"], "error", "{reply}");
        assert_eq!(reply["code"], code, "{:.60}… -> {reply}", input);
        let message = reply["message"].as_str().unwrap();
        assert!(!message.is_empty());
        assert!(
            message.chars().count() <= MAX_ERROR_CHARS,
            "{} chars: {message}",
            message.chars().count()
        );
        assert!(
            !message.chars().any(|c| c.is_control()),
            "control characters are escaped: {message:?}"
        );
        for word in mentions {
            assert!(message.contains(word), "{message:?} names {word:?}");
        }
    }
    client.assert_alive().await;
}

#[tokio::test]
async fn unsolicited_pongs_are_counted() {
    let server = TestServer::default_config().await;
    let mut bystander = server.client().await;
    let mut pinger = server.client().await;
    // One now and then (a keep-alive) is fine.
    for _ in 0..3 {
        pinger.ws.send(Message::Pong(vec![].into())).await.unwrap();
    }
    pinger.assert_alive().await;
    let started = Instant::now();
    let mut sent = 0;
    while sent < 20_000 && started.elapsed() < STEP {
        if pinger.ws.feed(Message::Pong(vec![].into())).await.is_err() {
            break;
        }
        sent += 1;
        if sent % 100 == 0 && pinger.ws.flush().await.is_err() {
            break;
        }
    }
    let _ = pinger.ws.flush().await;
    // (Most of what was sent may still sit in socket buffers, unread.)
    let frame = close_frame(&mut pinger).await.expect("a close frame");
    assert_eq!(frame.code, CloseCode::Policy, "{frame:?}");
    assert_eq!(frame.reason.as_str(), "too many pongs");
    bystander.assert_alive().await;
}

fn fragment(opcode: Data, payload: &str, last: bool) -> Message {
    Message::Frame(Frame::message(
        payload.as_bytes().to_vec(),
        OpCode::Data(opcode),
        last,
    ))
}

#[tokio::test]
async fn fragments_per_message_are_capped() {
    let server = TestServer::default_config().await;
    let mut a = server.client().await;
    let mut b = server.client().await;

    // A message in a few fragments is relayed like any other.
    let text = json!({"type":"candidate","to":b.id(),"candidate":{"c":"few"}}).to_string();
    let (first, rest) = text.split_at(10);
    let (middle, last) = rest.split_at(10);
    a.ws.feed(fragment(Data::Text, first, false)).await.unwrap();
    a.ws.feed(fragment(Data::Continue, middle, false))
        .await
        .unwrap();
    a.ws.send(fragment(Data::Continue, last, true))
        .await
        .unwrap();
    assert_eq!(b.expect("candidate").await["candidate"]["c"], "few");

    // One message in 20 002 fragments is not.
    a.ws.feed(fragment(Data::Text, "{", false)).await.unwrap();
    let started = Instant::now();
    let mut sent = 1;
    while sent < 20_001 && started.elapsed() < STEP {
        if a.ws
            .feed(fragment(Data::Continue, "", false))
            .await
            .is_err()
        {
            break;
        }
        sent += 1;
        if sent % 100 == 0 && a.ws.flush().await.is_err() {
            break;
        }
    }
    if sent == 20_001 {
        let _ = a.ws.send(fragment(Data::Continue, "}", true)).await;
    }
    let _ = a.ws.flush().await;
    let frame = close_frame(&mut a).await.expect("a close frame");
    assert_eq!(frame.code, CloseCode::Size, "{frame:?}");
    assert_eq!(frame.reason.as_str(), "message in too many frames");
    b.assert_alive().await;
}

#[tokio::test]
async fn duplicate_keys_are_refused() {
    let server = TestServer::default_config().await;
    let mut a = server.client().await;
    let mut b = server.client().await;
    let mut c = server.client().await;

    // `to` twice: neither recipient hears anything.
    a.send_text(&format!(
        r#"{{"type":"candidate","to":"{}","candidate":{{}},"to":"{}"}}"#,
        b.id(),
        c.id()
    ))
    .await;
    let error = a.expect_error("duplicate_key").await;
    assert!(error["message"].as_str().unwrap().contains("to"), "{error}");
    // `type` twice: not handled as either.
    a.send_text(r#"{"type":"leave_room","type":"hello","version":1}"#)
        .await;
    let error = a.expect_error("duplicate_key").await;
    assert!(
        error["message"].as_str().unwrap().contains("type"),
        "{error}"
    );
    a.send_text(r#"{"type":"hello","type":"hello","version":1}"#)
        .await;
    a.expect_error("duplicate_key").await;
    // Even a key the server would otherwise ignore, even when the rest is
    // a valid message.
    a.send_text(r#"{"type":"hello","version":1,"x":1,"x":2}"#)
        .await;
    a.expect_error("duplicate_key").await;
    a.send_text(&format!(
        r#"{{"type":"offer","to":"{}","offer":{{"sdp":"v=0"}},"offer":{{}}}}"#,
        b.id()
    ))
    .await;
    a.expect_error("duplicate_key").await;
    b.expect_silence().await;
    c.expect_silence().await;

    // Keys repeated inside the opaque payload are the payload's business,
    // and the same key in two nested objects is not a duplicate.
    a.send_text(&format!(
        r#"{{"type":"candidate","to":"{}","candidate":{{"to":1,"x":{{"to":2}}}}}}"#,
        c.id()
    ))
    .await;
    let got = c.expect("candidate").await;
    assert_eq!(got["from"], a.id());
    assert_eq!(got["candidate"]["x"]["to"], 2);
    a.expect_silence().await;
    b.expect_silence().await;
}

#[tokio::test]
async fn silent_sockets_from_one_address_cannot_keep_others_out() {
    let server = TestServer::start(Config {
        max_connections: 20,
        max_handshakes_per_address: 4,
        limit_loopback: true,
        ..Config::default()
    })
    .await;
    // 20 silent sockets from 127.0.0.2, as many as the whole cap.
    let mut silent = Vec::new();
    for _ in 0..20 {
        silent.push(connect_from([127, 0, 0, 2], server.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Someone else gets in at once, not after the handshake timeout (10 s).
    let started = Instant::now();
    let mut client = timeout(Duration::from_secs(2), server.client())
        .await
        .expect("another address is admitted at once");
    client.assert_alive().await;
    assert!(started.elapsed() < Duration::from_secs(2));

    // Most of the silent sockets were closed at once.
    let mut closed = 0;
    for socket in &mut silent {
        let mut byte = [0u8; 1];
        if let Ok(Ok(0) | Err(_)) = timeout(Duration::from_millis(20), socket.read(&mut byte)).await
        {
            closed += 1;
        }
    }
    assert!(closed >= 10, "{closed} of 20 closed");
}

#[tokio::test]
async fn one_address_cannot_hold_every_connection() {
    let server = TestServer::start(Config {
        max_connections: 20,
        max_connections_per_address: 5,
        limit_loopback: true,
        ..Config::default()
    })
    .await;
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..20 {
        match timeout(Duration::from_secs(2), client_from([127, 0, 0, 3], &server)).await {
            Ok(Ok(client)) => held.push(client),
            _ => refused += 1,
        }
    }
    assert!(refused >= 10, "{} of 20 admitted", held.len());
    for client in &mut held {
        client.assert_alive().await;
    }
    let mut other = timeout(Duration::from_secs(2), server.client())
        .await
        .expect("another address is admitted at once");
    other.assert_alive().await;
    // A slot freed by the address lets it in again.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut again = client_from([127, 0, 0, 3], &server).await.unwrap();
    again.assert_alive().await;
}

/// Sends a raw request head and returns the status and head of the answer.
async fn raw_request(addr: SocketAddr, head: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    // Up to the end of the response head (a 101 keeps the socket open).
    let mut response = Vec::new();
    let mut byte = [0u8; 1];
    while !response.ends_with(b"\r\n\r\n") {
        match timeout(STEP, stream.read(&mut byte)).await {
            Ok(Ok(1)) => response.push(byte[0]),
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {text:?}"));
    let head = text.split("\r\n\r\n").next().unwrap_or_default().to_owned();
    (status, head)
}

#[tokio::test]
async fn an_upgrade_without_host_is_refused() {
    let server = TestServer::default_config().await;
    let upgrade = "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                   Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
    let (status, _) = raw_request(server.addr, &format!("{upgrade}\r\n")).await;
    assert_eq!(status, 400);
    let (status, _) = raw_request(server.addr, &format!("{upgrade}Host:\r\n\r\n")).await;
    assert_eq!(status, 400);
    let (status, _) =
        raw_request(server.addr, &format!("{upgrade}Host: a\r\nHost: b\r\n\r\n")).await;
    assert_eq!(status, 400);
    let (status, _) = raw_request(server.addr, &format!("{upgrade}Host: x\r\n\r\n")).await;
    assert_eq!(status, 101);
}

#[tokio::test]
async fn http_responses_carry_security_headers() {
    let server = TestServer::start(Config {
        static_files: Some(std::sync::Arc::new(common::Embedded)),
        ..Config::default()
    })
    .await;
    for path in ["/", "/missing.js"] {
        let (status, head, _) = common::http_request(server.addr, "GET", path).await;
        assert!(status == 200 || status == 404, "{status}");
        let csp = header(&head, "content-security-policy").expect("a CSP");
        let directives: Vec<&str> = csp.split(';').map(str::trim).collect();
        for expected in [
            "default-src 'self'",
            "script-src 'self' 'wasm-unsafe-eval'",
            "connect-src 'self' ws: wss:",
            "frame-ancestors 'none'",
            "object-src 'none'",
            "base-uri 'none'",
        ] {
            assert!(directives.contains(&expected), "{expected:?} in {csp:?}");
        }
        assert!(!csp.contains("'unsafe-eval'"), "{csp}");
        assert_eq!(header(&head, "x-content-type-options"), Some("nosniff"));
        assert_eq!(header(&head, "x-frame-options"), Some("DENY"));
        assert_eq!(header(&head, "referrer-policy"), Some("no-referrer"));
    }
}
