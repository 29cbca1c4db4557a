//! The hub driven message by message, with each peer's queue read back.

use super::*;
use serde_json::json;

use crate::server::budget::{self, Inbox};

fn hub() -> Hub {
    Hub::new(HubLimits {
        room_capacity: 2,
        max_room_name_chars: 16,
        max_display_name_chars: 16,
        max_calls_per_peer: 2,
    })
}

struct TestPeer {
    id: PeerId,
    rx: Inbox,
}

impl TestPeer {
    fn new(hub: &Hub, capacity: usize) -> Self {
        let (tx, rx) = budget::unlimited(capacity);
        Self {
            id: hub.register(tx, IpAddr::from([127, 0, 0, 1])),
            rx,
        }
    }

    fn next(&mut self) -> ServerMessage {
        let text = self.rx.try_recv().expect("a queued message");
        ServerMessage::from_json(&text).unwrap()
    }

    fn nothing(&mut self) {
        assert!(self.rx.try_recv().is_none(), "no message expected");
    }
}

fn join(room: &str, name: &str) -> ClientMessage {
    ClientMessage::JoinRoom {
        room: room.into(),
        name: name.into(),
        password: None,
    }
}

#[test]
fn ids_are_random_and_readable() {
    let a = random_peer_id();
    let b = random_peer_id();
    assert_ne!(a, b);
    assert_eq!(a.as_str().len(), ID_LEN);
    assert!(a.as_str().bytes().all(|c| ID_ALPHABET.contains(&c)));
}

#[test]
fn shutdown_reaches_every_session_through_its_queue() {
    use futures_util::FutureExt;

    let hub = hub();
    let budget = budget::Budget::new(usize::MAX);
    let (outbox, _inbox, mut before) = budget::channel(&budget, 16, usize::MAX);
    hub.register(outbox, IpAddr::from([127, 0, 0, 1]));
    assert_eq!(before.recv().now_or_never(), None, "nothing to hear yet");
    hub.begin_shutdown();
    assert_eq!(before.recv().now_or_never(), Some(Eviction::Shutdown));
    // A session that registers afterwards hears it at once.
    let (outbox, _inbox, mut after) = budget::channel(&budget, 16, usize::MAX);
    hub.register(outbox, IpAddr::from([127, 0, 0, 1]));
    assert_eq!(after.recv().now_or_never(), Some(Eviction::Shutdown));
}

#[test]
fn slow_peer_is_dropped_and_others_hear_it() {
    let hub = hub();
    let mut fast = TestPeer::new(&hub, 16);
    let mut slow = TestPeer::new(&hub, 1);
    hub.handle(&fast.id, join("r", "fast")).unwrap();
    hub.handle(&slow.id, join("r", "slow")).unwrap();
    fast.next();
    fast.next();
    // `slow` has its room_joined queued and reads nothing more.
    let candidate = || ClientMessage::Candidate {
        to: Some(slow.id.clone()),
        candidate: json!({}),
    };
    hub.handle(&fast.id, candidate()).unwrap();
    assert_eq!(hub.peer_count(), 1, "slow peer dropped");
    assert_eq!(
        fast.next(),
        ServerMessage::PeerLeft {
            room: "r".into(),
            id: slow.id.clone()
        }
    );
    let error = hub.handle(&fast.id, candidate()).unwrap_err();
    assert_eq!(error.code, ErrorCode::UnknownPeer);
    // The queue's sender is gone: its task sees the end after draining.
    assert!(matches!(slow.next(), ServerMessage::RoomJoined { .. }));
    assert!(slow.rx.try_recv().is_none());
    assert!(slow.rx.is_abandoned());
}

#[test]
fn call_limits_and_cleanup() {
    let hub = hub();
    let mut a = TestPeer::new(&hub, 16);
    let mut b = TestPeer::new(&hub, 16);
    let c = TestPeer::new(&hub, 16);
    let d = TestPeer::new(&hub, 16);
    for to in [&b.id, &c.id] {
        hub.handle(
            &a.id,
            ClientMessage::Call {
                to: to.clone(),
                name: None,
            },
        )
        .unwrap();
    }
    let error = hub
        .handle(
            &a.id,
            ClientMessage::Call {
                to: d.id.clone(),
                name: None,
            },
        )
        .unwrap_err();
    assert_eq!(error.code, ErrorCode::NotPermitted);
    assert!(matches!(b.next(), ServerMessage::Ring { .. }));
    hub.handle(
        &b.id,
        ClientMessage::Accept {
            to: a.id.clone(),
            name: None,
        },
    )
    .unwrap();
    assert_eq!(
        a.next(),
        ServerMessage::Accepted {
            from: b.id.clone(),
            name: None
        }
    );
    hub.unregister(&a.id);
    assert_eq!(b.next(), ServerMessage::HungUp { from: a.id.clone() });
    b.nothing();
    assert!(hub.lock().calls.is_empty());
}

/// Names travel with the ring both ways: the callee's `ringing` and its
/// answer reach the caller with its name, and only while the call rings.
#[test]
fn the_callee_names_itself_to_the_caller() {
    let hub = hub();
    let mut a = TestPeer::new(&hub, 16);
    let mut b = TestPeer::new(&hub, 16);
    let c = TestPeer::new(&hub, 16);
    let ringing = |to: &PeerId| ClientMessage::Ringing {
        to: to.clone(),
        name: " Bora ".into(),
    };
    // Nobody rings B yet: B can't send A anything.
    let error = hub.handle(&b.id, ringing(&a.id)).unwrap_err();
    assert_eq!(error.code, ErrorCode::NoPendingCall);
    a.nothing();
    hub.handle(
        &a.id,
        ClientMessage::Call {
            to: b.id.clone(),
            name: Some("Alice".into()),
        },
    )
    .unwrap();
    assert_eq!(
        b.next(),
        ServerMessage::Ring {
            from: a.id.clone(),
            name: Some("Alice".into())
        }
    );
    hub.handle(&b.id, ringing(&a.id)).unwrap();
    assert_eq!(
        a.next(),
        ServerMessage::Ringing {
            from: b.id.clone(),
            name: "Bora".into()
        }
    );
    // C isn't rung by A: refused, and A hears nothing from C.
    let error = hub.handle(&c.id, ringing(&a.id)).unwrap_err();
    assert_eq!(error.code, ErrorCode::NoPendingCall);
    let error = hub
        .handle(
            &b.id,
            ClientMessage::Ringing {
                to: a.id.clone(),
                name: "x".repeat(1_000),
            },
        )
        .unwrap_err();
    assert_eq!(error.code, ErrorCode::InvalidName);
    hub.handle(
        &b.id,
        ClientMessage::Decline {
            to: a.id.clone(),
            name: Some("Bora".into()),
        },
    )
    .unwrap();
    assert_eq!(
        a.next(),
        ServerMessage::Declined {
            from: b.id.clone(),
            name: Some("Bora".into())
        }
    );
    // Declined: no longer ringing, so no more names.
    let error = hub.handle(&b.id, ringing(&a.id)).unwrap_err();
    assert_eq!(error.code, ErrorCode::NoPendingCall);
    a.nothing();
    hub.check_invariants().unwrap();
}

/// Two people ring each other at once, then one hangs up: both rings
/// end, on both sides.
#[test]
fn hanging_up_crossed_rings_ends_both() {
    let hub = hub();
    let mut a = TestPeer::new(&hub, 16);
    let mut b = TestPeer::new(&hub, 16);
    for (from, to) in [(&a.id, &b.id), (&b.id, &a.id)] {
        hub.handle(
            from,
            ClientMessage::Call {
                to: to.clone(),
                name: None,
            },
        )
        .unwrap();
    }
    hub.handle(&a.id, ClientMessage::HangUp { to: b.id.clone() })
        .unwrap();
    hub.check_invariants().unwrap();
    assert!(hub.lock().calls.is_empty());
    assert!(matches!(a.next(), ServerMessage::Ring { .. }));
    assert!(matches!(b.next(), ServerMessage::Ring { .. }));
    assert_eq!(b.next(), ServerMessage::HungUp { from: a.id.clone() });
}

/// Two people ring each other at once and one accepts: the other ring
/// still rings (the accepter may be told the caller's name, and may accept
/// it too), and until it ends it counts against the accepter's limit.
#[test]
fn accepting_one_of_crossed_rings_leaves_the_other() {
    let hub = hub();
    let mut a = TestPeer::new(&hub, 16);
    let mut b = TestPeer::new(&hub, 16);
    let c = TestPeer::new(&hub, 16);
    let call = |to: &PeerId| ClientMessage::Call {
        to: to.clone(),
        name: None,
    };
    hub.handle(&a.id, call(&b.id)).unwrap();
    hub.handle(&b.id, call(&a.id)).unwrap();
    let accept = |to: &PeerId| ClientMessage::Accept {
        to: to.clone(),
        name: None,
    };
    hub.handle(&b.id, accept(&a.id)).unwrap();
    hub.check_invariants().unwrap();
    assert!(matches!(b.next(), ServerMessage::Ring { .. }));
    assert!(matches!(a.next(), ServerMessage::Ring { .. }));
    assert!(matches!(a.next(), ServerMessage::Accepted { .. }));
    // B is in a call with A and still rings A: two calls, its limit.
    let error = hub.handle(&b.id, call(&c.id)).unwrap_err();
    assert_eq!(error.code, ErrorCode::NotPermitted);
    let error = hub.handle(&a.id, call(&b.id)).unwrap_err();
    assert_eq!(error.code, ErrorCode::NotPermitted);
    hub.handle(
        &a.id,
        ClientMessage::Ringing {
            to: b.id.clone(),
            name: "Ada".into(),
        },
    )
    .unwrap();
    assert!(matches!(b.next(), ServerMessage::Ringing { .. }));
    hub.handle(&a.id, accept(&b.id)).unwrap();
    assert_eq!(
        b.next(),
        ServerMessage::Accepted {
            from: a.id.clone(),
            name: None
        }
    );
    hub.check_invariants().unwrap();
    // The ring is answered: one call each, and room for another.
    hub.handle(&b.id, call(&c.id)).unwrap();
    let error = hub.handle(&a.id, accept(&b.id)).unwrap_err();
    assert_eq!(error.code, ErrorCode::NoPendingCall);
    hub.handle(&a.id, ClientMessage::HangUp { to: b.id.clone() })
        .unwrap();
    assert_eq!(b.next(), ServerMessage::HungUp { from: a.id.clone() });
    b.nothing();
    hub.check_invariants().unwrap();
}

/// A step returns what it sends and sends nothing itself: the frames go
/// out when its deliveries reach `State::deliver`.
#[test]
fn a_step_returns_its_deliveries() {
    let hub = hub();
    let mut a = TestPeer::new(&hub, 16);
    let mut b = TestPeer::new(&hub, 16);
    let mut state = hub.lock();
    let out = hub
        .call(&mut state, &a.id, &b.id, Some("Ada".into()))
        .unwrap();
    let [(to, text)] = out.as_slice() else {
        panic!("one delivery expected, got {out:?}");
    };
    assert_eq!(to, &b.id);
    let ring = ServerMessage::Ring {
        from: a.id.clone(),
        name: Some("Ada".into()),
    };
    assert_eq!(ServerMessage::from_json(text).unwrap(), ring);
    b.nothing();
    assert!(state.calls.rings(&a.id, &b.id));
    state.deliver(out);
    drop(state);
    assert_eq!(b.next(), ring);
    a.nothing();
    hub.check_invariants().unwrap();
}

/// Peers of other instances (`remote.rs`): a relay to one is reported as a
/// forward, not queued; a replayed message is checked against this hub.
#[cfg(feature = "redis")]
#[test]
fn peers_of_other_instances_are_forwarded_to_and_checked_again() {
    let hub = Hub::new(HubLimits {
        room_capacity: 3,
        ..hub().limits
    });
    let mut here = TestPeer::new(&hub, 8);
    let mut elsewhere = TestPeer::new(&hub, 8);
    let far = RemoteMember {
        id: PeerId::from("far"),
        name: "Far".into(),
        instance: 7,
    };
    hub.join_admitted(&here.id, "r".into(), "Here".into(), None, vec![far.clone()])
        .unwrap();
    let ServerMessage::RoomJoined { members, .. } = here.next() else {
        panic!("room_joined expected");
    };
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].id, far.id);

    let offer = ClientMessage::Offer {
        to: Some(far.id.clone()),
        offer: json!({"sdp": "v=0"}),
    };
    let forwards = hub.apply(&here.id, offer).unwrap();
    assert_eq!(
        forwards,
        [Forward {
            instance: 7,
            to: far.id.clone()
        }]
    );
    hub.check_invariants().unwrap();

    // Replayed from its instance: reaches a member of its room here, not a
    // peer outside it.
    let origin = Origin {
        instance: 7,
        from: far.id.clone(),
        roomless: false,
    };
    let candidate = |to: &PeerId| ClientMessage::Candidate {
        to: Some(to.clone()),
        candidate: json!({}),
    };
    hub.replay(&origin, candidate(&here.id)).unwrap();
    assert!(matches!(here.next(), ServerMessage::Candidate { .. }));
    let refused = hub.replay(&origin, candidate(&elsewhere.id)).unwrap_err();
    assert_eq!(refused.code, ErrorCode::NotPermitted);
    elsewhere.nothing();
    // A message claiming to come from a client of this server is ignored.
    let forged = Origin {
        from: here.id.clone(),
        ..origin
    };
    hub.replay(&forged, candidate(&elsewhere.id)).unwrap();
    elsewhere.nothing();

    // It leaves: the member here hears it; the room is still here's.
    hub.remote_left("r", &far.id);
    assert!(matches!(here.next(), ServerMessage::PeerLeft { .. }));
    hub.check_invariants().unwrap();
    // The last member here leaves: nothing of the room is kept.
    hub.apply(&here.id, ClientMessage::LeaveRoom).unwrap();
    assert!(hub.rooms().is_empty());
    hub.remote_gone(&far.id);
    assert_eq!(hub.peer_count(), 2);
}
