//! Instances sharing rooms through a real `redis-server`: clients on
//! different instances meet in one room, negotiate both ways, call each
//! other by id; capacity and passwords hold across instances; nothing
//! crosses from one room to another.
#![cfg(feature = "redis")]

mod common;

use common::redis::Redis;
use common::{http_request, Client, TestServer, STEP};
use std::time::Duration;

use peercall_signal::server::{Config, ThrottleLimits};
use serde_json::{json, Value};

/// `n` in-process instances sharing `redis`, with `config` otherwise.
async fn instances(redis: &Redis, n: usize, config: Config) -> Vec<TestServer> {
    let mut servers = Vec::new();
    for _ in 0..n {
        let config = Config {
            redis: Some(redis.url()),
            ..config.clone()
        };
        servers.push(TestServer::start(config).await);
    }
    servers
}

async fn join_with(client: &mut Client, room: &str, name: &str, password: Option<&str>) -> Value {
    client
        .send(json!({"type":"join_room","room":room,"name":name,"password":password}))
        .await;
    client.recv().await
}

fn ids(joined: &Value) -> Vec<String> {
    joined["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn clients_on_two_instances_negotiate_in_one_room() {
    let redis = Redis::start();
    let servers = instances(&redis, 2, Config::default()).await;
    let mut a = servers[0].client().await;
    let mut b = servers[1].client().await;

    assert_eq!(a.join("meet", "Ann").await["members"], json!([]));
    let joined = b.join("meet", "Bob").await;
    assert_eq!(joined["members"], json!([{"id": a.id(), "name": "Ann"}]));
    let seen = a.expect("peer_joined").await;
    assert_eq!(seen["peer"], json!({"id": b.id(), "name": "Bob"}));

    // Offer with `to`, answer without (it goes to whoever offered), then
    // candidates without `to` both ways: the demo dialect, across instances.
    let offer = json!({"type":"offer","sdp":"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"});
    b.send(json!({"type":"offer","to":a.id(),"offer":offer}))
        .await;
    let got = a.expect("offer").await;
    assert_eq!((&got["from"], &got["offer"]), (&json!(b.id()), &offer));
    let answer = json!({"type":"answer","sdp":"v=0\r\n"});
    a.send(json!({"type":"answer","answer":answer})).await;
    let got = b.expect("answer").await;
    assert_eq!((&got["from"], &got["answer"]), (&json!(a.id()), &answer));
    for n in 0..3 {
        let candidate = json!({"candidate":format!("candidate:{n} 1 udp 1 127.0.0.1 {n} typ host"),"sdpMid":"0"});
        a.send(json!({"type":"candidate","candidate":candidate}))
            .await;
        assert_eq!(b.expect("candidate").await["candidate"], candidate);
        b.send(json!({"type":"candidate","candidate":candidate}))
            .await;
        assert_eq!(a.expect("candidate").await["candidate"], candidate);
    }
    // A message the fast path leaves to the full parser (a key it does not
    // know is refused, so use a non-ASCII payload) still crosses.
    let odd = json!({"type":"offer","sdp":"v=0 ünïcode"});
    a.send(json!({"type":"offer","to":b.id(),"offer":odd}))
        .await;
    assert_eq!(b.expect("offer").await["offer"], odd);

    b.send(json!({"type":"media_state","audio_muted":true,"video_muted":false}))
        .await;
    let got = a.expect("peer_media_state").await;
    assert_eq!(
        (&got["from"], &got["audio_muted"]),
        (&json!(b.id()), &json!(true))
    );

    // Leaving and disconnecting are seen on the other instance.
    b.send(json!({"type":"leave_room"})).await;
    assert_eq!(a.expect("peer_left").await["id"], b.id());
    assert_eq!(ids(&b.join("meet", "Bob").await), [a.id()]);
    a.expect("peer_joined").await;
    let gone = b.id().to_owned();
    drop(b);
    assert_eq!(a.expect("peer_left").await["id"], gone);
    a.expect_silence().await;
}

#[tokio::test]
async fn capacity_and_passwords_hold_across_instances() {
    let redis = Redis::start();
    let config = Config {
        room_capacity: 2,
        ..Config::default()
    };
    let servers = instances(&redis, 3, config).await;
    let mut a = servers[0].client().await;
    let mut b = servers[1].client().await;
    let mut c = servers[2].client().await;
    let mut d = servers[0].client().await;

    assert_eq!(
        join_with(&mut a, "full", "A", None).await["type"],
        "room_joined"
    );
    assert_eq!(
        join_with(&mut b, "full", "B", None).await["type"],
        "room_joined"
    );
    c.send(json!({"type":"join_room","room":"full","name":"C"}))
        .await;
    c.expect_error("room_full").await;
    d.send(json!({"type":"join_room","room":"full","name":"D"}))
        .await;
    d.expect_error("room_full").await;
    c.send(json!({"type":"check_room","room":"full"})).await;
    c.expect_error("room_full").await;

    // A room with a password set on one instance, tried from the others.
    assert_eq!(
        join_with(&mut c, "locked", "C", Some("s3cret")).await["type"],
        "room_joined"
    );
    d.send(json!({"type":"join_room","room":"locked","name":"D"}))
        .await;
    assert!(d.expect_error("wrong_password").await["message"]
        .as_str()
        .unwrap()
        .contains("needs a password"));
    d.send(json!({"type":"join_room","room":"locked","name":"D","password":"guess"}))
        .await;
    d.expect_error("wrong_password").await;
    d.send(json!({"type":"check_room","room":"locked","password":"s3cret"}))
        .await;
    let status = d.expect("room_status").await;
    assert_eq!(
        (&status["members"], &status["password_required"]),
        (&json!(1), &json!(true))
    );
    let joined = join_with(&mut d, "locked", "D", Some("s3cret")).await;
    assert_eq!(ids(&joined), [c.id()]);
    c.expect("peer_joined").await;

    // A password-less room refuses one, wherever it is asked.
    let mut e = servers[2].client().await;
    e.send(json!({"type":"join_room","room":"full","name":"E","password":"x"}))
        .await;
    let error = e.expect("error").await;
    assert!(
        ["wrong_password", "room_full"].contains(&error["code"].as_str().unwrap()),
        "{error}"
    );
}

#[tokio::test]
async fn nothing_crosses_rooms_through_redis() {
    let redis = Redis::start();
    let servers = instances(&redis, 2, Config::default()).await;
    let mut a = servers[0].client().await;
    let mut b = servers[1].client().await;
    let mut lone = servers[0].client().await;
    a.join("x", "A").await;
    b.join("y", "B").await;

    // By id, to a peer in another room on another instance.
    for kind in ["offer", "answer", "candidate"] {
        a.send(json!({"type":kind,"to":b.id(),kind:{"sdp":"v=0"}}))
            .await;
        a.expect_error("not_permitted").await;
    }
    // From outside every room, too: `b` is in a room.
    lone.send(json!({"type":"offer","to":b.id(),"offer":{}}))
        .await;
    lone.expect_error("not_permitted").await;
    // Media state goes only to those who see the sender.
    a.send(json!({"type":"media_state","audio_muted":true,"video_muted":true}))
        .await;
    b.expect_silence().await;

    // Once both are in one room, the same message goes through.
    b.send(json!({"type":"leave_room"})).await;
    b.join("x", "B").await;
    a.expect("peer_joined").await;
    a.send(json!({"type":"offer","to":b.id(),"offer":{"sdp":"v=0"}}))
        .await;
    assert_eq!(b.expect("offer").await["from"], a.id());
    // And once they are apart again, it does not.
    b.send(json!({"type":"leave_room"})).await;
    a.expect("peer_left").await;
    a.send(json!({"type":"candidate","candidate":{}})).await;
    a.expect_error("not_permitted").await;
    b.expect_silence().await;
}

#[tokio::test]
async fn direct_calls_ring_accept_and_decline_across_instances() {
    let redis = Redis::start();
    let servers = instances(&redis, 2, Config::default()).await;
    let mut a = servers[0].client().await;
    let mut b = servers[1].client().await;
    let mut c = servers[1].client().await;

    a.send(json!({"type":"call","to":b.id(),"name":"Ann"}))
        .await;
    let ring = b.expect("ring").await;
    assert_eq!(
        (&ring["from"], &ring["name"]),
        (&json!(a.id()), &json!("Ann"))
    );
    b.send(json!({"type":"ringing","to":a.id(),"name":"Bob"}))
        .await;
    assert_eq!(a.expect("ringing").await["name"], "Bob");
    b.send(json!({"type":"accept","to":a.id(),"name":"Bob"}))
        .await;
    assert_eq!(a.expect("accepted").await["from"], b.id());
    a.send(json!({"type":"offer","to":b.id(),"offer":{"sdp":"v=0"}}))
        .await;
    assert_eq!(b.expect("offer").await["from"], a.id());
    b.send(json!({"type":"answer","answer":{"sdp":"v=0"}}))
        .await;
    assert_eq!(a.expect("answer").await["from"], b.id());
    a.send(json!({"type":"hang_up","to":b.id()})).await;
    assert_eq!(b.expect("hung_up").await["from"], a.id());

    c.send(json!({"type":"call","to":a.id()})).await;
    a.expect("ring").await;
    a.send(json!({"type":"decline","to":c.id(),"name":"Ann"}))
        .await;
    assert_eq!(c.expect("declined").await["from"], a.id());
    // Declined: nothing rings any more.
    a.send(json!({"type":"accept","to":c.id()})).await;
    a.expect_error("no_pending_call").await;

    // A caller that disconnects hangs up for the callee.
    c.send(json!({"type":"call","to":a.id()})).await;
    a.expect("ring").await;
    let caller = c.id().to_owned();
    drop(c);
    assert_eq!(a.expect("hung_up").await["from"], caller);

    // An id nobody has is unknown on every instance.
    a.send(json!({"type":"call","to":"nobody-at-all"})).await;
    a.expect_error("unknown_peer").await;
}

#[tokio::test]
async fn health_reports_redis() {
    let redis = Redis::start();
    let servers = instances(&redis, 1, Config::default()).await;
    let alone = TestServer::default_config().await;
    let body = |(status, _, body): (u16, String, Vec<u8>)| {
        assert_eq!(status, 200);
        serde_json::from_slice::<Value>(&body).unwrap()
    };
    let health = body(http_request(servers[0].addr, "GET", "/healthz").await);
    assert_eq!(health["redis"], "connected", "{health}");
    let health = body(http_request(alone.addr, "GET", "/healthz").await);
    assert_eq!(health["redis"], "off", "{health}");
    let _ = STEP;
}

#[tokio::test]
async fn password_guessers_are_throttled_but_may_join_open_rooms() {
    let redis = Redis::start();
    let servers = instances(&redis, 2, Config::default()).await;
    let mut owner = servers[0].client().await;
    let mut guesser = servers[1].client().await;
    join_with(&mut owner, "vault", "Owner", Some("right")).await;
    let mut throttled = false;
    for n in 0..20 {
        guesser
            .send(json!({"type":"join_room","room":"vault","name":"G","password":format!("wrong{n}")}))
            .await;
        let error = guesser.expect("error").await;
        if error["code"] == "too_many_attempts" {
            throttled = true;
            break;
        }
        assert_eq!(error["code"], "wrong_password", "{error}");
    }
    assert!(throttled, "wrong guesses are throttled");
    // Even the right password waits now…
    guesser
        .send(json!({"type":"join_room","room":"vault","name":"G","password":"right"}))
        .await;
    guesser.expect_error("too_many_attempts").await;
    // …but a room without a password is no guess.
    assert_eq!(
        join_with(&mut guesser, "open", "G", None).await["type"],
        "room_joined"
    );
}

/// Guessing spread over the instances counts as it would on one server:
/// one address alternating between two instances is locked after the free
/// tries it would have on one, and may try again once the wait is over;
/// guessers from many addresses lock the room for guessers only, on every
/// instance, while someone who never guessed wrong still gets in.
#[tokio::test]
async fn guessing_counts_across_instances() {
    let redis = Redis::start();
    let config = Config {
        password_throttle: ThrottleLimits {
            free_per_address: 2,
            free_per_room: 3,
            base: Duration::from_millis(1500),
            max: Duration::from_secs(3),
        },
        ..Config::default()
    };
    let servers = instances(&redis, 2, config).await;
    let mut owner = servers[0].client_from("127.0.0.40").await;
    let joined = join_with(&mut owner, "vault", "Owner", Some("right")).await;
    assert_eq!(joined["type"], "room_joined", "{joined}");

    // One address, both instances: two free tries in all, not per instance.
    let mut guessers = [
        servers[0].client_from("127.0.0.41").await,
        servers[1].client_from("127.0.0.41").await,
    ];
    for n in 0..3 {
        let error = join_with(&mut guessers[n % 2], "vault", "G", Some("wrong")).await;
        assert_eq!(error["code"], "wrong_password", "guess {n}: {error}");
    }
    let error = join_with(&mut guessers[1], "vault", "G", Some("right")).await;
    assert_eq!(error["code"], "too_many_attempts", "{error}");
    assert!(error["message"]
        .as_str()
        .unwrap()
        .contains("try again in 2 s"));
    // The wait over, the right password is taken (and clears the record).
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let joined = join_with(&mut guessers[1], "vault", "G", Some("right")).await;
    assert_eq!(joined["type"], "room_joined", "{joined}");

    // Many addresses, one wrong guess each, spread over the instances: past
    // the room's free tries, those who guessed must wait everywhere…
    let mut owner = servers[1].client_from("127.0.0.42").await;
    join_with(&mut owner, "safe", "Owner", Some("right")).await;
    for n in 0..4 {
        let mut guesser = servers[n % 2]
            .client_from(&format!("127.0.0.{}", 50 + n))
            .await;
        let error = join_with(&mut guesser, "safe", "G", Some("wrong")).await;
        assert_eq!(error["code"], "wrong_password", "guesser {n}: {error}");
        if n == 3 {
            let mut elsewhere = servers[0].client_from("127.0.0.53").await;
            let error = join_with(&mut elsewhere, "safe", "G", Some("right")).await;
            assert_eq!(error["code"], "too_many_attempts", "{error}");
        }
    }
    // …but a member who never guessed wrong gets in, on either instance.
    let mut member = servers[0].client_from("127.0.0.60").await;
    let joined = join_with(&mut member, "safe", "M", Some("right")).await;
    assert_eq!(joined["type"], "room_joined", "{joined}");
    // And a room check is a guess like a join.
    let mut checker = servers[1].client_from("127.0.0.53").await;
    checker
        .send(json!({"type":"check_room","room":"safe","password":"right"}))
        .await;
    checker.expect_error("too_many_attempts").await;
}
