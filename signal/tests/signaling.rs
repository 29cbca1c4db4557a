//! Signaling behaviour over real WebSocket connections: the demo protocol,
//! rooms, direct calls, relay rules, media state, ICE servers.
#![cfg(feature = "server")]

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::TestServer;
use hmac::{Hmac, Mac};
use peercall_signal::protocol::{ServerMessage, PROTOCOL_VERSION};
use peercall_signal::server::Config;
use serde_json::json;
use sha1::Sha1;

#[tokio::test]
async fn welcome_is_the_first_message() {
    let server = TestServer::default_config().await;
    let mut client = server.client().await;
    let welcome = &client.welcome;
    assert_eq!(welcome["version"], PROTOCOL_VERSION);
    assert_eq!(welcome["ice_servers"], json!([]));
    let id = client.id().to_owned();
    assert!(
        id.len() >= 10,
        "ids are long enough to be unguessable: {id}"
    );
    assert!(id
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
    // It parses as the typed message the UI uses.
    let typed = ServerMessage::from_json(&welcome.to_string()).unwrap();
    assert!(matches!(typed, ServerMessage::Join { .. }));
    let other = server.client().await;
    assert_ne!(other.id, client.id);
    client.expect_silence().await;
}

/// A realistic exchange as the original demo client performs it: ids from
/// `join`, offer and answer with `to`, candidates without `to`, and a
/// renegotiation offer without `to`.
#[tokio::test]
async fn demo_protocol_exchange() {
    let server = TestServer::default_config().await;
    let mut a = server.client().await;
    let mut b = server.client().await;
    let sdp_offer = json!({"type":"offer","sdp":"v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n"});
    let sdp_answer =
        json!({"type":"answer","sdp":"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"});

    a.send(json!({"type":"offer","to":b.id(),"offer":sdp_offer}))
        .await;
    let got = b.expect("offer").await;
    assert_eq!(got["from"], a.id());
    assert_eq!(got["offer"], sdp_offer, "SDP forwarded untouched");

    b.send(json!({"type":"answer","to":a.id(),"answer":sdp_answer}))
        .await;
    let got = a.expect("answer").await;
    assert_eq!(got["from"], b.id());
    assert_eq!(got["answer"], sdp_answer);

    let candidate = |n: u32| {
        json!({
            "candidate": format!("candidate:{n} 1 udp 2122260223 192.0.2.{n} 5{n:04} typ host generation 0"),
            "sdpMid": "0",
            "sdpMLineIndex": 0,
            "usernameFragment": "abcd"
        })
    };
    for n in 1..=3 {
        a.send(json!({"type":"candidate","candidate":candidate(n)}))
            .await;
        b.send(json!({"type":"candidate","candidate":candidate(n + 10)}))
            .await;
    }
    // End of candidates.
    a.send(json!({"type":"candidate","candidate":null})).await;
    for n in 1..=3 {
        let got = b.expect("candidate").await;
        assert_eq!(got["from"], a.id());
        assert_eq!(got["candidate"], candidate(n));
        let got = a.expect("candidate").await;
        assert_eq!(got["from"], b.id());
        assert_eq!(got["candidate"], candidate(n + 10));
    }
    let got = b.expect("candidate").await;
    assert_eq!(got["candidate"], json!(null));

    // The demo's renegotiation offer has no `to`.
    a.send(json!({"type":"offer","offer":sdp_offer})).await;
    let got = b.expect("offer").await;
    assert_eq!(got["from"], a.id());
    a.expect_silence().await;
}

#[tokio::test]
async fn relay_without_to_and_without_partner_is_no_partner() {
    let server = TestServer::default_config().await;
    let mut a = server.client().await;
    let mut b = server.client().await;
    a.send(json!({"type":"candidate","candidate":{"candidate":"x"}}))
        .await;
    a.expect_error("no_partner").await;
    a.send(json!({"type":"offer","offer":{"sdp":"x"}})).await;
    a.expect_error("no_partner").await;

    // Once negotiating, `to` may be left out; when the partner leaves, it
    // is `no_partner` again.
    a.send(json!({"type":"offer","to":b.id(),"offer":{}})).await;
    b.expect("offer").await;
    drop(b);
    tokio::time::sleep(Duration::from_millis(100)).await;
    a.send(json!({"type":"candidate","candidate":{}})).await;
    a.expect_error("no_partner").await;
    a.assert_alive().await;
}

#[tokio::test]
async fn unknown_and_self_targets() {
    let server = TestServer::default_config().await;
    let mut a = server.client().await;
    a.send(json!({"type":"offer","to":"zzzzzzzzzzzzzz","offer":{}}))
        .await;
    let error = a.expect_error("unknown_peer").await;
    assert!(error["message"]
        .as_str()
        .unwrap()
        .contains("zzzzzzzzzzzzzz"));
    let me = a.id().to_owned();
    a.send(json!({"type":"answer","to":me,"answer":{}})).await;
    a.expect_error("not_permitted").await;
}

#[tokio::test]
async fn rooms_members_and_events() {
    let server = TestServer::default_config().await;
    let mut a = server.client().await;
    let mut b = server.client().await;
    let mut c = server.client().await;

    let joined = a.join("lobby", "Ada").await;
    assert_eq!(joined["room"], "lobby");
    assert_eq!(joined["you"], a.id());
    assert_eq!(joined["members"], json!([]));

    let joined = b.join("  lobby ", "Bo").await;
    assert_eq!(joined["room"], "lobby", "room names are trimmed");
    assert_eq!(joined["members"], json!([{"id": a.id(), "name": "Ada"}]));
    let event = a.expect("peer_joined").await;
    assert_eq!(
        event,
        json!({"type":"peer_joined","room":"lobby","peer":{"id":b.id(),"name":"Bo"}})
    );

    let joined = c.join("lobby", "Cy").await;
    assert_eq!(
        joined["members"],
        json!([{"id": a.id(), "name": "Ada"}, {"id": b.id(), "name": "Bo"}]),
        "members in join order, without the joiner"
    );
    a.expect("peer_joined").await;
    b.expect("peer_joined").await;

    b.send(json!({"type":"leave_room"})).await;
    for member in [&mut a, &mut c] {
        let event = member.expect("peer_left").await;
        assert_eq!(
            event,
            json!({"type":"peer_left","room":"lobby","id":b.id()})
        );
    }
    b.expect_silence().await;

    // Disconnecting counts as leaving.
    let c_id = c.id().to_owned();
    drop(c);
    let event = a.expect("peer_left").await;
    assert_eq!(event["id"], c_id);
}

#[tokio::test]
async fn room_membership_errors() {
    let server = TestServer::default_config().await;
    let mut a = server.client().await;
    a.send(json!({"type":"leave_room"})).await;
    a.expect_error("not_in_room").await;
    a.send(json!({"type":"join_room","room":"   ","name":"Ada"}))
        .await;
    a.expect_error("invalid_room").await;
    a.send(json!({"type":"join_room","room":"x".repeat(65),"name":"Ada"}))
        .await;
    a.expect_error("invalid_room").await;
    a.send(json!({"type":"join_room","room":"r","name":""}))
        .await;
    a.expect_error("invalid_name").await;
    a.send(json!({"type":"join_room","room":"r","name":"a\u{7}b"}))
        .await;
    a.expect_error("invalid_name").await;
    a.send(json!({"type":"join_room","room":"r","name":"Ada","password":"p".repeat(300)}))
        .await;
    a.expect_error("invalid_message").await;
    a.join("r", "Ada").await;
    a.send(json!({"type":"join_room","room":"other","name":"Ada"}))
        .await;
    a.expect_error("already_in_room").await;
    // Leave and join elsewhere works.
    a.send(json!({"type":"leave_room"})).await;
    a.join("other", "Ada").await;
}

#[tokio::test]
async fn relay_stays_inside_the_room() {
    let server = TestServer::default_config().await;
    let mut a = server.client().await;
    let mut b = server.client().await;
    let mut c = server.client().await;
    let mut loner = server.client().await;
    a.join("one", "A").await;
    b.join("one", "B").await;
    a.expect("peer_joined").await;
    c.join("two", "C").await;

    a.send(json!({"type":"offer","to":b.id(),"offer":{"sdp":"1"}}))
        .await;
    assert_eq!(b.expect("offer").await["from"], a.id());

    // Another room: refused, and nothing reaches C.
    a.send(json!({"type":"offer","to":c.id(),"offer":{}})).await;
    a.expect_error("not_permitted").await;
    a.send(json!({"type":"candidate","to":c.id(),"candidate":{}}))
        .await;
    a.expect_error("not_permitted").await;
    // Room-less peers cannot reach into a room, nor be reached from one.
    loner
        .send(json!({"type":"offer","to":a.id(),"offer":{}}))
        .await;
    loner.expect_error("not_permitted").await;
    a.send(json!({"type":"answer","to":loner.id(),"answer":{}}))
        .await;
    a.expect_error("not_permitted").await;
    c.expect_silence().await;
    loner.expect_silence().await;

    // If the negotiation partner moves to another room, `to`-less relay stops.
    b.send(json!({"type":"leave_room"})).await;
    a.expect("peer_left").await;
    b.join("two", "B").await;
    c.expect("peer_joined").await;
    a.send(json!({"type":"candidate","candidate":{}})).await;
    a.expect_error("not_permitted").await;
    b.expect_silence().await;
}

#[tokio::test]
async fn room_capacity_is_enforced() {
    let server = TestServer::start(Config {
        room_capacity: 2,
        ..Config::default()
    })
    .await;
    let mut a = server.client().await;
    let mut b = server.client().await;
    let mut c = server.client().await;
    a.join("small", "A").await;
    b.join("small", "B").await;
    c.send(json!({"type":"join_room","room":"small","name":"C"}))
        .await;
    let error = c.expect_error("room_full").await;
    assert!(error["message"].as_str().unwrap().contains("small"));
    a.expect("peer_joined").await;
    a.expect_silence().await;
    // A slot frees when someone leaves.
    b.send(json!({"type":"leave_room"})).await;
    c.join("small", "C").await;
}

#[tokio::test]
async fn default_room_capacity_is_six() {
    let server = TestServer::default_config().await;
    let mut clients = Vec::new();
    for n in 0..6 {
        let mut client = server.client().await;
        client.join("six", &format!("p{n}")).await;
        clients.push(client);
    }
    let mut seventh = server.client().await;
    seventh
        .send(json!({"type":"join_room","room":"six","name":"late"}))
        .await;
    seventh.expect_error("room_full").await;
}

#[tokio::test]
async fn room_passwords() {
    let server = TestServer::default_config().await;
    let mut a = server.client().await;
    let mut b = server.client().await;
    let mut c = server.client().await;
    a.send(json!({"type":"join_room","room":"secret","name":"A","password":"hunter2"}))
        .await;
    a.expect("room_joined").await;

    b.send(json!({"type":"join_room","room":"secret","name":"B","password":"hunter3"}))
        .await;
    b.expect_error("wrong_password").await;
    b.send(json!({"type":"join_room","room":"secret","name":"B"}))
        .await;
    b.expect_error("wrong_password").await;
    b.send(json!({"type":"join_room","room":"secret","name":"B","password":""}))
        .await;
    b.expect_error("wrong_password").await;
    a.expect_silence().await;

    b.send(json!({"type":"join_room","room":"secret","name":"B","password":"hunter2"}))
        .await;
    assert_eq!(b.expect("room_joined").await["members"][0]["id"], a.id());
    a.expect("peer_joined").await;

    // A room without a password refuses one, so nobody joins it believing
    // it is private.
    c.join("open", "C").await;
    a.send(json!({"type":"leave_room"})).await;
    a.send(json!({"type":"join_room","room":"open","name":"A","password":"x"}))
        .await;
    a.expect_error("wrong_password").await;

    // The room closes when empty: the next joiner sets a new password.
    b.expect("peer_left").await;
    b.send(json!({"type":"leave_room"})).await;
    let mut d = server.client().await;
    d.send(json!({"type":"join_room","room":"secret","name":"D","password":"new"}))
        .await;
    assert_eq!(
        d.expect("room_joined").await["members"],
        json!([]),
        "a fresh room"
    );
    a.send(json!({"type":"join_room","room":"secret","name":"A","password":"hunter2"}))
        .await;
    a.expect_error("wrong_password").await;
    a.send(json!({"type":"join_room","room":"secret","name":"A","password":"new"}))
        .await;
    a.expect("room_joined").await;
}

#[tokio::test]
async fn direct_call_ring_accept_hang_up() {
    let server = TestServer::default_config().await;
    let mut a = server.client().await;
    let mut b = server.client().await;
    // Different rooms: only the call lets them signal each other.
    a.join("ra", "Ada").await;
    b.join("rb", "Bo").await;
    a.send(json!({"type":"offer","to":b.id(),"offer":{}})).await;
    a.expect_error("not_permitted").await;

    a.send(json!({"type":"call","to":b.id(),"name":"Ada Lovelace"}))
        .await;
    let ring = b.expect("ring").await;
    assert_eq!(
        ring,
        json!({"type":"ring","from":a.id(),"name":"Ada Lovelace"})
    );
    // Still not partners while ringing.
    a.send(json!({"type":"offer","to":b.id(),"offer":{}})).await;
    a.expect_error("not_permitted").await;

    b.send(json!({"type":"accept","to":a.id()})).await;
    assert_eq!(
        a.expect("accepted").await,
        json!({"type":"accepted","from":b.id()})
    );

    a.send(json!({"type":"offer","to":b.id(),"offer":{"sdp":"call"}}))
        .await;
    assert_eq!(b.expect("offer").await["offer"]["sdp"], "call");
    b.send(json!({"type":"answer","answer":{"sdp":"ok"}})).await;
    assert_eq!(a.expect("answer").await["from"], b.id());
    b.send(json!({"type":"candidate","candidate":{"c":1}}))
        .await;
    assert_eq!(a.expect("candidate").await["candidate"], json!({"c":1}));

    a.send(json!({"type":"hang_up","to":b.id()})).await;
    assert_eq!(
        b.expect("hung_up").await,
        json!({"type":"hung_up","from":a.id()})
    );
    a.send(json!({"type":"offer","to":b.id(),"offer":{}})).await;
    a.expect_error("not_permitted").await;
    a.send(json!({"type":"hang_up","to":b.id()})).await;
    a.expect_error("not_in_call").await;
}

#[tokio::test]
async fn direct_call_decline_cancel_and_errors() {
    let server = TestServer::default_config().await;
    let mut a = server.client().await;
    let mut b = server.client().await;

    // A ring without a name from a room member shows the room name.
    a.join("ra", "Ada").await;
    a.send(json!({"type":"call","to":b.id()})).await;
    assert_eq!(b.expect("ring").await["name"], "Ada");
    b.send(json!({"type":"decline","to":a.id()})).await;
    assert_eq!(
        a.expect("declined").await,
        json!({"type":"declined","from":b.id()})
    );
    b.send(json!({"type":"accept","to":a.id()})).await;
    b.expect_error("no_pending_call").await;

    // The caller cancels a ringing call with hang_up.
    a.send(json!({"type":"call","to":b.id()})).await;
    b.expect("ring").await;
    a.send(json!({"type":"hang_up","to":b.id()})).await;
    assert_eq!(b.expect("hung_up").await["from"], a.id());
    b.send(json!({"type":"accept","to":a.id()})).await;
    b.expect_error("no_pending_call").await;

    a.send(json!({"type":"call","to":"nobody"})).await;
    a.expect_error("unknown_peer").await;
    let me = a.id().to_owned();
    a.send(json!({"type":"call","to":me})).await;
    a.expect_error("not_permitted").await;
    a.send(json!({"type":"decline","to":"nobody"})).await;
    a.expect_error("unknown_peer").await;
    a.send(json!({"type":"hang_up","to":b.id()})).await;
    a.expect_error("not_in_call").await;
    a.send(json!({"type":"call","to":b.id(),"name":"\n"})).await;
    a.expect_error("invalid_name").await;
}

#[tokio::test]
async fn disconnect_ends_calls_and_rings() {
    let server = TestServer::default_config().await;
    let mut a = server.client().await;
    let mut b = server.client().await;
    let mut c = server.client().await;
    a.send(json!({"type":"call","to":b.id()})).await;
    b.expect("ring").await;
    b.send(json!({"type":"accept","to":a.id()})).await;
    a.expect("accepted").await;
    c.send(json!({"type":"call","to":a.id()})).await;
    a.expect("ring").await;

    let a_id = a.id().to_owned();
    drop(a);
    assert_eq!(
        b.expect("hung_up").await["from"],
        a_id,
        "the partner hears it"
    );
    assert_eq!(
        c.expect("hung_up").await["from"],
        a_id,
        "the ringing caller hears it"
    );
    b.send(json!({"type":"hang_up","to":a_id})).await;
    b.expect_error("unknown_peer").await;
}

#[tokio::test]
async fn media_state_reaches_room_and_partners_only() {
    let server = TestServer::default_config().await;
    let mut a = server.client().await;
    let mut b = server.client().await;
    let mut partner = server.client().await;
    let mut stranger = server.client().await;
    a.join("m", "A").await;
    b.join("m", "B").await;
    a.expect("peer_joined").await;
    a.send(json!({"type":"call","to":partner.id()})).await;
    partner.expect("ring").await;
    partner.send(json!({"type":"accept","to":a.id()})).await;
    a.expect("accepted").await;

    a.send(json!({"type":"media_state","audio_muted":true,"video_muted":false}))
        .await;
    let expected =
        json!({"type":"peer_media_state","from":a.id(),"audio_muted":true,"video_muted":false});
    assert_eq!(b.recv().await, expected);
    assert_eq!(partner.recv().await, expected);
    stranger.expect_silence().await;
    a.expect_silence().await;

    a.send(json!({"type":"media_state","audio_muted":"yes","video_muted":false}))
        .await;
    a.expect_error("invalid_message").await;
}

#[tokio::test]
async fn hello_and_version_mismatch() {
    let server = TestServer::default_config().await;
    let mut a = server.client().await;
    a.send(json!({"type":"hello","version":PROTOCOL_VERSION}))
        .await;
    a.expect_silence().await;
    a.send(json!({"type":"hello","version":PROTOCOL_VERSION + 1}))
        .await;
    let error = a.expect_error("version_mismatch").await;
    let message = error["message"].as_str().unwrap();
    assert!(message.contains(&PROTOCOL_VERSION.to_string()), "{message}");
    assert!(
        message.contains(&(PROTOCOL_VERSION + 1).to_string()),
        "{message}"
    );
    a.assert_alive().await;
}

#[tokio::test]
async fn welcome_carries_ice_servers_and_turn_rest_credentials() {
    let secret = "coturn-static-auth-secret";
    let ttl = Duration::from_secs(600);
    let server = TestServer::start(Config {
        ice_servers: vec![
            "stun:stun.example.org:3478".into(),
            "turn:turn.example.org:3478?transport=udp".into(),
            "turns:turn.example.org:5349".into(),
        ],
        turn_secret: Some(secret.into()),
        turn_ttl: ttl,
        ..Config::default()
    })
    .await;
    let client = server.client().await;
    let servers = client.welcome["ice_servers"].as_array().unwrap().clone();
    assert_eq!(servers.len(), 2);
    assert_eq!(servers[0], json!({"urls": ["stun:stun.example.org:3478"]}));
    assert_eq!(
        servers[1]["urls"],
        json!([
            "turn:turn.example.org:3478?transport=udp",
            "turns:turn.example.org:5349"
        ])
    );
    let username = servers[1]["username"].as_str().unwrap();
    let credential = servers[1]["credential"].as_str().unwrap();

    let (expiry, peer) = username.split_once(':').unwrap();
    assert_eq!(peer, client.id());
    let expiry: u64 = expiry.parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        expiry > now && expiry <= now + ttl.as_secs() + 1,
        "expiry {expiry}, now {now}"
    );

    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(username.as_bytes());
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    assert_eq!(credential, expected);
}

#[tokio::test]
async fn room_less_peers_signal_directly_but_not_into_rooms_after_joining() {
    let server = TestServer::default_config().await;
    let mut a = server.client().await;
    let mut b = server.client().await;
    // Both room-less: any relay with `to` is fine.
    a.send(json!({"type":"candidate","to":b.id(),"candidate":{"x":1}}))
        .await;
    assert_eq!(b.expect("candidate").await["from"], a.id());
    // Once B is in a room, A can no longer reach it.
    b.join("r", "B").await;
    a.send(json!({"type":"candidate","to":b.id(),"candidate":{}}))
        .await;
    a.expect_error("not_permitted").await;
}

#[tokio::test]
async fn many_pairs_interleave_without_crosstalk() {
    let server = TestServer::default_config().await;
    let mut clients = Vec::new();
    for _ in 0..20 {
        clients.push(server.client().await);
    }
    for pair in clients.chunks_mut(2) {
        let (left, right) = pair.split_at_mut(1);
        let (x, y) = (&mut left[0], &mut right[0]);
        x.send(json!({"type":"offer","to":y.id(),"offer":{"n":x.id()}}))
            .await;
    }
    for pair in clients.chunks_mut(2) {
        let (left, right) = pair.split_at_mut(1);
        let (x, y) = (&mut left[0], &mut right[0]);
        let got = y.expect("offer").await;
        assert_eq!(got["from"], x.id());
        assert_eq!(got["offer"]["n"], x.id());
    }
}
