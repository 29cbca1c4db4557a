//! Entry points for the `cargo fuzz` targets in `signal/fuzz/`; compiled
//! only with `--cfg fuzzing` (which `cargo fuzz` sets), so they are no part
//! of the crate's API. Each panics when a property fails; the fuzzer
//! reports the input.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use super::budget::{self, Inbox};

use super::http;
use super::hub::{Hub, HubLimits};
use crate::protocol::{ClientMessage, PeerId, ServerMessage};

/// The HTTP head parser on any bytes: never panics, and a static path it
/// accepts never leaves the served directory.
pub fn http_head(data: &[u8]) {
    let Some(request) = http::parse_head(data) else {
        return;
    };
    if let Some(path) = http::static_path(&request.target) {
        assert!(!path.starts_with('/'), "absolute path {path:?}");
        assert!(
            path.split(['/', '\\'])
                .all(|part| part != ".." && part != "."),
            "path {path:?} from {:?} leaves the root",
            request.target
        );
        assert!(!path.contains('\0'), "NUL in {path:?}");
    }
}

/// The protocol parser on any text: never panics, and what it accepts
/// survives a round trip.
pub fn parse(text: &str) {
    if let Ok(message) = ClientMessage::parse(text) {
        let again = ClientMessage::parse(&message.to_json())
            .unwrap_or_else(|e| panic!("{message:?} does not re-parse: {e:?}"));
        assert_eq!(again, message);
    }
}

const PEERS: usize = 4;
const ROOMS: [&str; 2] = ["red", "blue"];

/// The hub as a state machine: a byte string is a script of joins, leaves,
/// relays and calls by a handful of peers (and peers leaving and coming
/// back). After every step, nothing a peer received came from someone it
/// may not hear from (another room, and no call between them) — judged by
/// a model kept from the hub's own answers — and the hub's state is
/// consistent.
pub fn hub(data: &[u8]) {
    let hub = Hub::new(HubLimits {
        room_capacity: 3,
        max_room_name_chars: 16,
        max_display_name_chars: 16,
        max_calls_per_peer: 2,
    });
    let mut peers: Vec<Option<(PeerId, Inbox)>> = (0..PEERS).map(|_| None).collect();
    // What the script has been told: each peer's room, and calls.
    let mut rooms: HashMap<usize, &str> = HashMap::new();
    let mut partners: HashSet<(usize, usize)> = HashSet::new();
    let connect = |slot: &mut Option<(PeerId, Inbox)>| {
        let (tx, rx) = budget::unlimited(64);
        *slot = Some((hub.register(tx, IpAddr::from([127, 0, 0, 1])), rx));
    };
    for slot in &mut peers {
        connect(slot);
    }
    for step in data.chunks(3) {
        let [op, a, b] = [
            step[0],
            *step.get(1).unwrap_or(&0),
            *step.get(2).unwrap_or(&0),
        ];
        let (a, b) = (a as usize % PEERS, b as usize % PEERS);
        let id =
            |i: usize, peers: &[Option<(PeerId, _)>]| peers[i].as_ref().map(|(id, _)| id.clone());
        let (Some(from), Some(to)) = (id(a, &peers), id(b, &peers)) else {
            connect(&mut peers[a]);
            continue;
        };
        let room = ROOMS[(op as usize / 16) % ROOMS.len()];
        let message = match op % 12 {
            0 => ClientMessage::JoinRoom {
                room: room.into(),
                name: format!("p{a}"),
                password: None,
            },
            1 => ClientMessage::LeaveRoom,
            2 => ClientMessage::Offer {
                to: Some(to),
                offer: serde_json::json!({"sdp": "o"}),
            },
            3 => ClientMessage::Answer {
                to: Some(to),
                answer: serde_json::json!({"sdp": "a"}),
            },
            4 => ClientMessage::Candidate {
                to: (op & 0x40 != 0).then_some(to),
                candidate: serde_json::json!({"candidate": "c"}),
            },
            5 => ClientMessage::Call { to, name: None },
            6 => ClientMessage::Accept { to, name: None },
            7 => ClientMessage::Decline { to, name: None },
            8 => ClientMessage::HangUp { to },
            9 => ClientMessage::Ringing {
                to,
                name: "n".into(),
            },
            10 => ClientMessage::MediaState {
                audio_muted: true,
                video_muted: false,
            },
            _ => {
                // Disconnect and come back under a new id.
                hub.unregister(&from);
                rooms.remove(&a);
                partners.retain(|(x, y)| *x != a && *y != a);
                connect(&mut peers[a]);
                continue;
            }
        };
        let joined = matches!(message, ClientMessage::JoinRoom { .. });
        let left = matches!(message, ClientMessage::LeaveRoom);
        let accepted = matches!(message, ClientMessage::Accept { .. });
        let hung_up = matches!(message, ClientMessage::HangUp { .. });
        let ok = hub.handle(&from, message).is_ok();
        if ok && joined {
            rooms.insert(a, room);
        }
        if ok && left {
            rooms.remove(&a);
        }
        if ok && accepted {
            partners.insert((a.min(b), a.max(b)));
        }
        if ok && hung_up {
            partners.remove(&(a.min(b), a.max(b)));
        }
        // Everything delivered so far: relays only between peers that may
        // hear each other.
        let ids: Vec<Option<PeerId>> = peers
            .iter()
            .map(|p| p.as_ref().map(|(id, _)| id.clone()))
            .collect();
        for (receiver, slot) in peers.iter_mut().enumerate() {
            let Some((_, rx)) = slot.as_mut() else {
                continue;
            };
            while let Some(frame) = rx.try_recv() {
                let message = ServerMessage::from_json(&frame).expect("the hub sends valid JSON");
                let from = match &message {
                    ServerMessage::Offer { from, .. }
                    | ServerMessage::Answer { from, .. }
                    | ServerMessage::Candidate { from, .. } => from,
                    _ => continue,
                };
                let Some(sender) = ids.iter().position(|id| id.as_ref() == Some(from)) else {
                    continue;
                };
                let same_room = rooms.get(&sender) == rooms.get(&receiver);
                let called = partners.contains(&(sender.min(receiver), sender.max(receiver)));
                assert!(
                    same_room || called,
                    "peer {sender} (room {:?}) reached peer {receiver} (room {:?}): {message:?}",
                    rooms.get(&sender),
                    rooms.get(&receiver),
                );
            }
        }
        if let Err(broken) = hub.check_invariants() {
            panic!("inconsistent hub after {step:?}: {broken}");
        }
    }
}

/// The corpus kept in the repository runs with the unit tests too, so a
/// regression the fuzzer once found fails `cargo test` without the fuzzer.
#[cfg(test)]
mod tests {
    use std::path::Path;

    fn corpus(target: &str) -> Vec<Vec<u8>> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus")
            .join(target);
        let inputs: Vec<Vec<u8>> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
            .collect();
        assert!(!inputs.is_empty(), "no corpus in {}", dir.display());
        inputs
    }

    #[test]
    fn the_parser_corpus_passes() {
        for input in corpus("parse") {
            if let Ok(text) = std::str::from_utf8(&input) {
                super::parse(text);
            }
        }
    }

    #[test]
    fn the_http_head_corpus_passes() {
        for input in corpus("http_head") {
            super::http_head(&input);
        }
    }

    #[test]
    fn the_hub_corpus_passes() {
        for input in corpus("hub") {
            super::hub(&input);
        }
    }
}
