//! Abuse that targets other people's calls, over real sockets: guessing
//! room passwords, and redirecting a demo-dialect client's `to`-less
//! messages.

mod common;

use std::time::Duration;

use common::{Client, TestServer};
use peercall_signal::server::{Config, ThrottleLimits};
use serde_json::json;

fn check(room: &str, password: &str) -> serde_json::Value {
    json!({"type": "check_room", "room": room, "password": password})
}

fn join(room: &str, name: &str, password: &str) -> serde_json::Value {
    json!({"type": "join_room", "room": room, "name": name, "password": password})
}

/// A server whose throttle is quick enough to test: 2 free wrong passwords
/// per address and 3 per room, then 400 ms, 800 ms, … up to 2 s.
async fn throttled_server() -> TestServer {
    TestServer::start(Config {
        password_throttle: ThrottleLimits {
            free_per_address: 2,
            free_per_room: 3,
            base: Duration::from_millis(400),
            max: Duration::from_secs(2),
        },
        ..Config::default()
    })
    .await
}

/// Wrong passwords from one address: a couple are answered plainly, then
/// the address must wait, and while it waits even the right password is
/// refused without being checked (`too_many_attempts`); after the wait it
/// may try again, and a right password clears its record.
#[tokio::test]
async fn an_address_guessing_a_password_is_made_to_wait() {
    let server = throttled_server().await;
    let mut owner = server.client_from("127.0.0.10").await;
    owner.send(join("vault", "Owner", "correct horse")).await;
    owner.expect("room_joined").await;

    let mut guesser = server.client_from("127.0.0.11").await;
    for guess in ["1234", "0000", "1111"] {
        guesser.send(check("vault", guess)).await;
        guesser.expect_error("wrong_password").await;
    }
    // The third wrong one (one past the free two) locked the address.
    guesser.send(check("vault", "correct horse")).await;
    let error = guesser.expect_error("too_many_attempts").await;
    assert!(
        error["message"].as_str().unwrap().contains("try again in"),
        "{error}"
    );
    // A new connection from the same address is no way around it.
    let mut again = server.client_from("127.0.0.11").await;
    again.send(join("vault", "Guesser", "correct horse")).await;
    again.expect_error("too_many_attempts").await;

    // After the wait, the right password works and clears the record.
    tokio::time::sleep(Duration::from_millis(500)).await;
    again.send(join("vault", "Guesser", "correct horse")).await;
    again.expect("room_joined").await;
    owner.expect("peer_joined").await;
    guesser.send(check("vault", "wrong")).await;
    guesser.expect_error("wrong_password").await;
    guesser.assert_alive().await;
}

/// Guessing spread over many addresses locks the room — for guessers only:
/// a member who gives the right password first time still gets in, and
/// other rooms are untouched.
#[tokio::test]
async fn guessing_from_many_addresses_cannot_lock_members_out() {
    let server = throttled_server().await;
    let mut owner = server.client_from("127.0.0.20").await;
    owner.send(join("office", "Owner", "s3cret-enough")).await;
    owner.expect("room_joined").await;

    // Four addresses, one wrong guess each: past the room's free three.
    let mut guessers = Vec::new();
    for n in 21..=24 {
        let mut guesser = server.client_from(&format!("127.0.0.{n}")).await;
        guesser.send(check("office", "guess")).await;
        guesser.expect_error("wrong_password").await;
        guessers.push(guesser);
    }
    // Any of them trying again now must wait, right password or not.
    guessers[0].send(check("office", "s3cret-enough")).await;
    guessers[0].expect_error("too_many_attempts").await;

    // A member who never guessed wrong walks in.
    let mut member = server.client_from("127.0.0.30").await;
    member.send(join("office", "Member", "s3cret-enough")).await;
    member.expect("room_joined").await;
    // A room without a password is no guessing target at all.
    guessers[1].send(join("lobby", "Guesser", "")).await;
    guessers[1].expect("room_joined").await;
}

/// The demo dialect's `to`-less messages go to the peer the sender itself
/// last sent an offer or answer to. Someone else's offer must not redirect
/// them: before this was fixed, any peer allowed to signal A could make
/// A's candidates (and so A's network addresses) go to itself with one
/// offer.
#[tokio::test]
async fn an_offer_from_a_stranger_does_not_redirect_to_less_messages() {
    let server = TestServer::default_config().await;
    let mut a = server.client().await;
    let mut b = server.client().await;
    let mut x = server.client().await;

    // A and B negotiate as the demo client does.
    a.send(json!({"type": "offer", "to": b.id(), "offer": {"sdp": "a"}}))
        .await;
    b.expect("offer").await;
    b.send(json!({"type": "answer", "to": a.id(), "answer": {"sdp": "b"}}))
        .await;
    a.expect("answer").await;

    // X (also outside any room, so allowed to signal A) sends A an offer.
    x.send(json!({"type": "offer", "to": a.id(), "offer": {"sdp": "x"}}))
        .await;
    a.expect("offer").await;

    // A's candidates without `to` still go to B, and only to B.
    a.send(json!({"type": "candidate", "candidate": {"candidate": "c1"}}))
        .await;
    let got = b.expect("candidate").await;
    assert_eq!(got["from"], a.id());
    x.expect_silence().await;

    // B's go to A (B answered A), none to X.
    b.send(json!({"type": "candidate", "candidate": {"candidate": "c2"}}))
        .await;
    assert_eq!(a.expect("candidate").await["from"], b.id());
    x.expect_silence().await;

    // X never offered to by A: X's own `to`-less candidate goes to A, whom
    // X itself offered to, and to nobody else.
    x.send(json!({"type": "candidate", "candidate": {"candidate": "c3"}}))
        .await;
    assert_eq!(a.expect("candidate").await["from"], x.id());
    b.expect_silence().await;
}

/// Rooms bound the implicit partner too: once A and B are in different
/// rooms, A's `to`-less messages to B are refused, not delivered.
#[tokio::test]
async fn the_implicit_partner_never_crosses_rooms() {
    let server = TestServer::default_config().await;
    let mut a = server.client().await;
    let mut b = server.client().await;
    a.join("one", "A").await;
    b.join("one", "B").await;
    a.expect("peer_joined").await;
    a.send(json!({"type": "offer", "to": b.id(), "offer": {"sdp": "a"}}))
        .await;
    b.expect("offer").await;
    b.send(json!({"type": "leave_room"})).await;
    a.expect("peer_left").await;
    b.join("two", "B").await;
    a.send(json!({"type": "candidate", "candidate": {"candidate": "c"}}))
        .await;
    a.expect_error("not_permitted").await;
    b.expect_silence().await;
}

/// A WebSocket from loopback that says, as a reverse proxy would, which
/// client it forwards.
async fn forwarded(server: &TestServer, client: &str) -> Client {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = server.url().into_client_request().unwrap();
    request.headers_mut().insert(
        "X-Forwarded-For",
        format!("10.9.8.7, {client}").parse().unwrap(),
    );
    let (ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    Client::from_ws(ws).await
}

/// Behind a reverse proxy, with `trust_forwarded_for`, wrong passwords
/// count per forwarded client (the proxy's last `X-Forwarded-For` entry),
/// so one guesser does not make every client of the proxy wait; without
/// it, the header counts for nothing.
#[tokio::test]
async fn behind_a_trusted_proxy_guesses_count_per_client() {
    let limits = ThrottleLimits {
        free_per_address: 1,
        free_per_room: 100,
        base: Duration::from_secs(30),
        max: Duration::from_secs(30),
    };
    for trusted in [true, false] {
        let server = TestServer::start(Config {
            password_throttle: limits,
            trust_forwarded_for: trusted,
            ..Config::default()
        })
        .await;
        let mut owner = forwarded(&server, "198.51.100.1").await;
        owner.send(join("vault", "Owner", "right")).await;
        owner.expect("room_joined").await;
        let mut guesser = forwarded(&server, "203.0.113.5").await;
        for _ in 0..2 {
            guesser.send(check("vault", "wrong")).await;
            guesser.expect_error("wrong_password").await;
        }
        guesser.send(check("vault", "right")).await;
        guesser.expect_error("too_many_attempts").await;
        // Another client of the same proxy who also mistyped once.
        let mut other = forwarded(&server, "203.0.113.6").await;
        other.send(check("vault", "typo")).await;
        if trusted {
            other.expect_error("wrong_password").await;
        } else {
            other.expect_error("too_many_attempts").await;
        }
    }
}
