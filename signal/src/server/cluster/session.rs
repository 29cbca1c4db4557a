//! A client's message when instances share rooms: rooms are joined,
//! checked and left in Redis; everything else is a step of the local hub
//! whose frames for peers of other instances are forwarded to them.

use std::time::Duration;

use tokio::time::timeout;
use tracing::{debug, warn};

use super::{events, scripts, Cluster, REDIS_WAIT};
use crate::protocol::{quoted, ClientMessage, ErrorCode, MessageError, PeerId, ServerMessage};
use crate::server::hub::{Forwards, Hub, Origin, RemoteMember};
use crate::server::shared::Shared;
use crate::server::splice;
use crate::server::throttle::Locked;

/// Handles `text` from `id`, a client of this instance; `Err` is the
/// error reply.
pub(crate) async fn handle(
    shared: &Shared,
    cluster: &Cluster,
    id: &PeerId,
    text: &str,
) -> Result<(), MessageError> {
    let hub = &shared.hub;
    if let Some(relay) = splice::parse(text) {
        let to = relay.to.clone();
        let mut outcome = hub.relay_forwarding(id, relay);
        if unknown(&outcome) && cluster.look_up(hub, to.as_ref()).await {
            let relay = splice::parse(text).expect("parsed before");
            outcome = hub.relay_forwarding(id, relay);
        }
        return outcome.map(|forwards| cluster.forward(hub, id, text, forwards));
    }
    match ClientMessage::parse(text)? {
        ClientMessage::JoinRoom {
            room,
            name,
            password,
        } => cluster.join(hub, id, &room, &name, password).await,
        ClientMessage::CheckRoom { room, password } => {
            cluster.check(hub, id, &room, password).await
        }
        ClientMessage::LeaveRoom => {
            let room = hub.room_of(id);
            hub.apply(id, ClientMessage::LeaveRoom)?;
            if let Some(room) = room {
                cluster.left(id, room);
            }
            Ok(())
        }
        message => {
            let to = target(&message);
            let mut outcome = hub.apply(id, message.clone());
            if unknown(&outcome) && cluster.look_up(hub, to.as_ref()).await {
                outcome = hub.apply(id, message);
            }
            outcome.map(|forwards| cluster.forward(hub, id, text, forwards))
        }
    }
}

/// The peer a message names.
fn target(message: &ClientMessage) -> Option<PeerId> {
    match message {
        ClientMessage::Offer { to, .. }
        | ClientMessage::Answer { to, .. }
        | ClientMessage::Candidate { to, .. } => to.clone(),
        ClientMessage::Call { to, .. }
        | ClientMessage::Ringing { to, .. }
        | ClientMessage::Accept { to, .. }
        | ClientMessage::Decline { to, .. }
        | ClientMessage::HangUp { to } => Some(to.clone()),
        _ => None,
    }
}

fn unknown(outcome: &Result<Forwards, MessageError>) -> bool {
    matches!(outcome, Err(e) if e.code == ErrorCode::UnknownPeer)
}

/// What a join script answered.
enum Admission {
    /// In, with the room's `pw` field and its members elsewhere.
    Admitted(String, Vec<RemoteMember>),
    /// Entered nothing; the error reply.
    Refused(MessageError),
}

impl Cluster {
    /// Publishes `text` (from `id`) to each instance a step forwarded to.
    pub(super) fn forward(&self, hub: &Hub, id: &PeerId, text: &str, mut forwards: Forwards) {
        if forwards.is_empty() {
            return;
        }
        let origin = Origin {
            instance: self.instance,
            from: id.clone(),
            roomless: hub.room_of(id).is_none(),
        };
        forwards.sort_unstable_by_key(|f| f.instance);
        for (i, forward) in forwards.iter().enumerate() {
            if i > 0 && forwards[i - 1].instance == forward.instance {
                continue;
            }
            // A relay has one recipient, named; a message for several (media
            // state) is worked out again there.
            let alone = forwards
                .iter()
                .filter(|f| f.instance == forward.instance)
                .count()
                == 1;
            let to = alone.then_some(&forward.to);
            self.publish(
                events::channel_of(forward.instance),
                events::op(&origin, to, text),
            );
        }
    }

    /// Whether `to` turned out to be a peer of another instance, now
    /// mirrored here.
    async fn look_up(&self, hub: &Hub, to: Option<&PeerId>) -> bool {
        let Some(to) = to else { return false };
        if !self.connected() {
            return false;
        }
        let mut connection = self.connection.clone();
        let script = self.scripts.lookup.arg(to.as_str());
        let found = timeout(
            REDIS_WAIT,
            script.invoke_async::<Option<Vec<String>>>(&mut connection),
        );
        let Ok(Ok(Some(found))) = found.await else {
            return false;
        };
        let (Some(instance), Some(room)) = (found.first(), found.get(1)) else {
            return false;
        };
        let Some(instance) = super::parse_instance(instance) else {
            return false;
        };
        if instance == self.instance {
            return false;
        }
        let origin = Origin {
            instance,
            from: to.clone(),
            roomless: room.is_empty(),
        };
        hub.learn(&origin)
    }

    /// Joins `room` in Redis (capacity and password for all instances),
    /// then here; alone, by this hub's view, while Redis is away.
    async fn join(
        &self,
        hub: &Hub,
        id: &PeerId,
        room: &str,
        name: &str,
        password: Option<String>,
    ) -> Result<(), MessageError> {
        let room = hub.valid_room(room)?;
        let name = hub.valid_name(name)?;
        let password = password.filter(|p| !p.is_empty());
        let tag = hub.valid_password(password.clone())?;
        if let Some(current) = hub.room_of(id) {
            return Err(MessageError::new(
                ErrorCode::AlreadyInRoom,
                format!("already in room {}; leave it first", quoted(&current, 64)),
            ));
        }
        let password = password.unwrap_or_default();
        *self.joining().entry(room.clone()).or_default() += 1;
        let admission = self.admit(hub, id, &room, &name, &password).await;
        let outcome = match admission {
            Some(Admission::Admitted(field, members)) => {
                self.passwords().insert(room.clone(), field);
                let members = members
                    .into_iter()
                    .filter(|m| m.instance != self.instance)
                    .collect();
                let joined = hub.join_admitted(id, room.clone(), name.clone(), tag, members);
                if joined.is_ok() {
                    let event = events::joined(self.instance, id, &room, &name);
                    self.broadcast(event);
                }
                joined
            }
            Some(Admission::Refused(error)) => Err(error),
            None => {
                // Alone: the room is written to Redis when it is back.
                let salt = format!("{:016x}", rand::random::<u64>());
                let field = scripts::password_field(&salt, &password);
                let message = ClientMessage::JoinRoom {
                    room: room.clone(),
                    name,
                    password: Some(password).filter(|p| !p.is_empty()),
                };
                let joined = hub.apply(id, message).map(drop);
                if joined.is_ok() {
                    self.passwords().entry(room.clone()).or_insert(field);
                }
                joined
            }
        };
        let mut joining = self.joining();
        if let Some(count) = joining.get_mut(&room) {
            *count -= 1;
            if *count == 0 {
                joining.remove(&room);
            }
        }
        drop(joining);
        if outcome.is_err() {
            hub.drop_if_deserted(&room);
        }
        outcome
    }

    /// Runs the join script; `None` if Redis can't be asked.
    async fn admit(
        &self,
        hub: &Hub,
        id: &PeerId,
        room: &str,
        name: &str,
        password: &str,
    ) -> Option<Admission> {
        if !self.connected() {
            return None;
        }
        let salt = format!("{:016x}", rand::random::<u64>());
        let mut connection = self.connection.clone();
        let mut script = self.scripts.join.prepare_invoke();
        script
            .arg(room)
            .arg(id.as_str())
            .arg(self.instance_name())
            .arg(name)
            .arg(password)
            .arg(salt)
            .arg(self.room_capacity);
        self.throttle_args(&mut script, hub.address_of(id));
        let reply = match timeout(
            REDIS_WAIT,
            script.invoke_async::<Vec<String>>(&mut connection),
        )
        .await
        {
            Ok(Ok(reply)) => reply,
            Ok(Err(error)) => {
                warn!(%error, "Redis refused a join; joining by this instance's view");
                return None;
            }
            Err(_) => {
                warn!("Redis did not answer a join in time; joining by this instance's view");
                return None;
            }
        };
        let mut reply = reply.into_iter();
        match reply.next().as_deref() {
            Some("ok") => {
                let field = reply.next().unwrap_or_default();
                let mut members = Vec::new();
                while let (Some(id), Some(entry)) = (reply.next(), reply.next()) {
                    members.extend(events::member(id, &entry));
                }
                Some(Admission::Admitted(field, members))
            }
            Some(other) => Some(Admission::Refused(self.refusal(room, other, reply.next()))),
            None => None,
        }
    }

    /// The error for a script's `full`, `locked` or `wrong` reply (`more`
    /// is its second element: the wait, or why the password is wrong).
    fn refusal(&self, room: &str, kind: &str, more: Option<String>) -> MessageError {
        match kind {
            "full" => MessageError::new(
                ErrorCode::RoomFull,
                format!(
                    "room {} is full ({} members)",
                    quoted(room, 64),
                    self.room_capacity
                ),
            ),
            "locked" => {
                let wait = more.and_then(|ms| ms.parse().ok()).unwrap_or(1000);
                Locked {
                    retry_after: Duration::from_millis(wait),
                }
                .error()
            }
            _ => MessageError::new(
                ErrorCode::WrongPassword,
                format!("room {} {}", quoted(room, 64), more.unwrap_or_default()),
            ),
        }
    }

    /// Answers a room check from Redis (or this hub alone while Redis is
    /// away).
    async fn check(
        &self,
        hub: &Hub,
        id: &PeerId,
        room: &str,
        password: Option<String>,
    ) -> Result<(), MessageError> {
        let room = hub.valid_room(room)?;
        let password = password.filter(|p| !p.is_empty());
        hub.valid_password(password.clone())?;
        if self.connected() {
            let mut connection = self.connection.clone();
            let mut script = self.scripts.check.prepare_invoke();
            script
                .arg(&room)
                .arg(password.as_deref().unwrap_or_default())
                .arg(self.room_capacity);
            self.throttle_args(&mut script, hub.address_of(id));
            let reply = timeout(
                REDIS_WAIT,
                script.invoke_async::<Vec<String>>(&mut connection),
            );
            if let Ok(Ok(reply)) = reply.await {
                let mut reply = reply.into_iter();
                return match reply.next().as_deref() {
                    Some("ok") => {
                        let members = reply.next().and_then(|n| n.parse().ok()).unwrap_or(0);
                        let password_required = reply.next().as_deref() == Some("1");
                        let status = ServerMessage::RoomStatus {
                            room,
                            members,
                            password_required,
                        };
                        hub.tell(id, &status);
                        Ok(())
                    }
                    Some(kind) => Err(self.refusal(&room, kind, reply.next())),
                    None => Ok(()),
                };
            }
            debug!("Redis did not answer a room check; answering by this instance's view");
        }
        hub.apply(id, ClientMessage::CheckRoom { room, password })
            .map(drop)
    }

    /// `id` left `room` here: Redis and the other instances hear of it.
    fn left(&self, id: &PeerId, room: String) {
        self.broadcast(events::left(self.instance, id, &room));
        self.send(super::Outgoing::Leave {
            room,
            id: id.clone(),
        });
    }
}
