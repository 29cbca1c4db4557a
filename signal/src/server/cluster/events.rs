//! What instances tell each other over Redis pub/sub, and what an instance
//! does with what it hears.
//!
//! One line of tab-separated fields (room and display names can't hold
//! control characters, ids are the server's own), the instance that sends
//! it second:
//! - `O\tINST\tFROM\tROOMLESS\tTO\nTEXT` on `pc:to:INST`: a client's
//!   message `TEXT` (as the client sent it) concerning a client of the
//!   receiving instance, `TO` the resolved target of a relay (empty
//!   otherwise), `ROOMLESS` `1` if the sender is in no room. It is
//!   replayed on the receiving hub, which checks it again.
//! - `J\tINST\tID\tROOM\tNAME` / `L\tINST\tID\tROOM` on `pc:all`: a peer
//!   joined or left a room.
//! - `G\tINST\tID` on `pc:all`: a peer is gone (disconnected, or its
//!   instance died: then Redis itself publishes it).
//! - `S\tINST` on `pc:all`: an instance wrote its state again after losing
//!   Redis; everyone compares the rooms they mirror with Redis's.

use std::sync::Arc;

use tracing::debug;

use super::{parse_instance, Cluster};
use crate::protocol::{ClientMessage, PeerId};
use crate::server::hub::{Origin, RemoteMember};
use crate::server::shared::Shared;
use crate::server::splice;

/// The channel every instance listens to.
pub(super) const ALL: &str = "pc:all";

/// The channel of `instance`'s own messages.
pub(super) fn channel_of(instance: u64) -> String {
    format!("pc:to:{instance:x}")
}

pub(super) fn op(origin: &Origin, to: Option<&PeerId>, text: &str) -> String {
    let roomless = if origin.roomless { "1" } else { "0" };
    let to = to.map_or("", PeerId::as_str);
    format!(
        "O\t{:x}\t{}\t{roomless}\t{to}\n{text}",
        origin.instance, origin.from
    )
}

pub(super) fn joined(instance: u64, id: &PeerId, room: &str, name: &str) -> String {
    format!("J\t{instance:x}\t{id}\t{room}\t{name}")
}

pub(super) fn left(instance: u64, id: &PeerId, room: &str) -> String {
    format!("L\t{instance:x}\t{id}\t{room}")
}

pub(super) fn gone(instance: u64, id: &PeerId) -> String {
    format!("G\t{instance:x}\t{id}")
}

pub(super) fn resynced(instance: u64) -> String {
    format!("S\t{instance:x}")
}

/// Acts on one message from Redis. Malformed ones (none should be) are
/// dropped.
pub(super) fn receive(shared: &Arc<Shared>, cluster: &Cluster, payload: &str) {
    let (head, text) = payload.split_once('\n').unwrap_or((payload, ""));
    let mut fields = head.split('\t');
    let (Some(kind), Some(instance)) = (fields.next(), fields.next().and_then(parse_instance))
    else {
        debug!("malformed message from Redis");
        return;
    };
    if instance == cluster.instance {
        return;
    }
    let hub = &shared.hub;
    let mut next = || fields.next().unwrap_or_default();
    match kind {
        "O" => {
            let origin = Origin {
                instance,
                from: PeerId::from(next()),
                roomless: next() == "1",
            };
            let to = Some(next()).filter(|to| !to.is_empty()).map(PeerId::from);
            replay(shared, &origin, to, text);
        }
        "J" => {
            let id = PeerId::from(next());
            let room = next();
            let name = next().to_owned();
            let member = RemoteMember { id, name, instance };
            hub.remote_joined(room, member, cluster.is_joining(room));
        }
        "L" => {
            let id = PeerId::from(next());
            hub.remote_left(next(), &id);
        }
        "G" => hub.remote_gone(&PeerId::from(next())),
        "S" => {
            let shared = Arc::clone(shared);
            tokio::spawn(async move {
                if let Some(cluster) = &shared.cluster {
                    cluster.reconcile(&shared).await;
                }
            });
        }
        _ => debug!(kind, "unknown message from Redis"),
    }
}

/// Replays `text`, a client's message forwarded from `origin`'s instance,
/// on this hub (to `to`, for a relay). Refusals are only logged: the sender
/// is on the other instance.
fn replay(shared: &Shared, origin: &Origin, to: Option<PeerId>, text: &str) {
    let hub = &shared.hub;
    let outcome = match splice::parse(text) {
        Some(mut relay) => {
            if to.is_some() {
                relay.to = to;
            }
            hub.replay_relay(origin, relay)
        }
        None => ClientMessage::parse(text).and_then(|message| {
            let message = match (message, to) {
                (ClientMessage::Offer { offer, .. }, Some(to)) => ClientMessage::Offer {
                    to: Some(to),
                    offer,
                },
                (ClientMessage::Answer { answer, .. }, Some(to)) => ClientMessage::Answer {
                    to: Some(to),
                    answer,
                },
                (ClientMessage::Candidate { candidate, .. }, Some(to)) => {
                    ClientMessage::Candidate {
                        to: Some(to),
                        candidate,
                    }
                }
                (message, _) => message,
            };
            hub.replay(origin, message)
        }),
    };
    if let Err(error) = outcome {
        debug!(from = %origin.from, code = %error.code, "forwarded message refused here");
    }
}

/// Parses a member entry of a room hash, `INSTANCE\tNAME`.
pub(super) fn member(id: String, entry: &str) -> Option<RemoteMember> {
    let (instance, name) = entry.split_once('\t')?;
    Some(RemoteMember {
        id: PeerId::from(id.as_str()),
        name: name.to_owned(),
        instance: parse_instance(instance)?,
    })
}
