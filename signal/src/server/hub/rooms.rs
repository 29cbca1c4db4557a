//! Rooms: joining (room names, passwords, the guessing throttle, capacity),
//! checking a room before joining it, and leaving.
//!
//! A room exists while it has members: the first joiner creates it (and
//! sets its password), the last to leave closes it, so the next joiner
//! starts afresh. Passwords are kept only as HMAC tags (see
//! [`Hub::password_tag`]).

use std::time::Instant;

use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;
use tracing::debug;

use super::{frame, quote, Deliveries, Hub, State};
use crate::protocol::{
    validate_name, ErrorCode, Member, MessageError, PeerId, ServerMessage, MAX_PASSWORD_BYTES,
};

/// A peer's place in a room.
pub(super) struct Membership {
    pub(super) room: String,
    /// The display name it joined with.
    pub(super) name: String,
}

/// One room.
pub(super) struct Room {
    /// The password's tag, if it has one.
    pub(super) password: Option<[u8; 20]>,
    /// In join order.
    pub(super) members: Vec<PeerId>,
}

impl Hub {
    /// A room name as it is kept (trimmed), or why it can't be one: invalid,
    /// or not the one room this server hosts.
    pub(crate) fn valid_room(&self, room: &str) -> Result<String, MessageError> {
        let room = validate_name(room, self.limits.max_room_name_chars)
            .map(str::to_owned)
            .map_err(|e| MessageError::new(ErrorCode::InvalidRoom, format!("room name {e}")))?;
        match &self.only_room {
            Some((only, _)) if *only != room => Err(MessageError::new(
                ErrorCode::NotPermitted,
                format!("this server hosts only the call {}", quote(only)),
            )),
            _ => Ok(room),
        }
    }

    /// The password's tag, `None` for no password (an empty form field means
    /// none).
    pub(crate) fn valid_password(
        &self,
        password: Option<String>,
    ) -> Result<Option<[u8; 20]>, MessageError> {
        let password = password.filter(|p| !p.is_empty());
        if password
            .as_ref()
            .is_some_and(|p| p.len() > MAX_PASSWORD_BYTES)
        {
            return Err(MessageError::new(
                ErrorCode::InvalidMessage,
                format!("password must be at most {MAX_PASSWORD_BYTES} bytes"),
            ));
        }
        Ok(password.map(|p| self.password_tag(&p)))
    }

    /// The HMAC of `password` under this process's key.
    pub(super) fn password_tag(&self, password: &str) -> [u8; 20] {
        let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(&self.password_key)
            .expect("HMAC accepts keys of any length");
        mac.update(password.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Answers [`crate::protocol::ClientMessage::CheckRoom`]: the same
    /// checks as joining, without joining or telling anyone.
    pub(super) fn check_room(
        &self,
        state: &mut State,
        from: &PeerId,
        room: String,
        tag: Option<[u8; 20]>,
    ) -> Result<Deliveries, MessageError> {
        let (members, password_required) = self.admits(state, from, &room, &tag)?;
        let status = frame(&ServerMessage::RoomStatus {
            members,
            password_required,
            room,
        });
        Ok(Deliveries::one(from, status))
    }

    /// Whether `from`, with password `tag`, may enter `room`: it is not
    /// throttled for guessing, the password matches (compared in constant
    /// time) and there is a free place. If so, answers how many are in the
    /// room and whether it has a password. Wrong passwords count towards
    /// the throttle, a right one clears the address's record.
    fn admits(
        &self,
        state: &mut State,
        from: &PeerId,
        room: &str,
        tag: &Option<[u8; 20]>,
    ) -> Result<(usize, bool), MessageError> {
        let (password, members) = match (state.rooms.get(room), &self.only_room) {
            (Some(existing), _) => (existing.password, existing.members.len()),
            (None, Some((_, password))) => (*password, 0),
            (None, None) => return Ok((0, false)),
        };
        let matches = match (&password, tag) {
            (None, None) => true,
            (Some(a), Some(b)) => bool::from(a[..].ct_eq(&b[..])),
            _ => false,
        };
        // Only a room with a password can be guessed at.
        let address = state.peers.get(from).map(|p| p.address);
        if let (Some(_), Some(address)) = (password, address) {
            let now = Instant::now();
            if let Err(locked) = state.guesses.check(now, address, room) {
                return Err(locked.error());
            }
            if matches {
                state.guesses.succeeded(address);
            } else {
                state.guesses.failed(now, address, room);
            }
        }
        if !matches {
            let why = match (&password, tag) {
                (Some(_), None) => "needs a password",
                (None, Some(_)) => "has no password",
                _ => "has a different password",
            };
            return Err(MessageError::new(
                ErrorCode::WrongPassword,
                format!("room {} {why}", quote(room)),
            ));
        }
        if members >= self.limits.room_capacity {
            return Err(MessageError::new(
                ErrorCode::RoomFull,
                format!(
                    "room {} is full ({} members)",
                    quote(room),
                    self.limits.room_capacity
                ),
            ));
        }
        Ok((members, password.is_some()))
    }

    /// `from` joins `room` as `name` with password `tag`: it hears
    /// `room_joined` with who is there, and they hear `peer_joined`.
    pub(super) fn join_room(
        &self,
        state: &mut State,
        from: &PeerId,
        room: String,
        name: String,
        tag: Option<[u8; 20]>,
    ) -> Result<Deliveries, MessageError> {
        let Some(peer) = state.peers.get(from) else {
            return Ok(Deliveries::none());
        };
        if let Some(current) = &peer.room {
            return Err(MessageError::new(
                ErrorCode::AlreadyInRoom,
                format!("already in room {}; leave it first", quote(&current.room)),
            ));
        }
        self.admits(state, from, &room, &tag)?;
        Ok(enter(state, from, room, name, tag))
    }
}

/// `from` enters `room` (admitted, not in a room yet) as `name`; a new room
/// gets password `tag`. It hears `room_joined` with who is there, and they
/// hear `peer_joined`.
pub(super) fn enter(
    state: &mut State,
    from: &PeerId,
    room: String,
    name: String,
    tag: Option<[u8; 20]>,
) -> Deliveries {
    let others: Vec<PeerId> = state
        .rooms
        .get(&room)
        .map(|r| r.members.clone())
        .unwrap_or_default();
    let members: Vec<Member> = others
        .iter()
        .filter_map(|id| {
            let membership = state.peers.get(id)?.room.as_ref()?;
            Some(Member {
                id: id.clone(),
                name: membership.name.clone(),
            })
        })
        .collect();
    state
        .rooms
        .entry(room.clone())
        .or_insert_with(|| Room {
            password: tag,
            members: Vec::new(),
        })
        .members
        .push(from.clone());
    if let Some(peer) = state.peers.get_mut(from) {
        peer.room = Some(Membership {
            room: room.clone(),
            name: name.clone(),
        });
    }
    debug!(peer = %from, room = %room, "joined room");

    let joined = frame(&ServerMessage::RoomJoined {
        room: room.clone(),
        you: from.clone(),
        members,
    });
    let mut out = Deliveries::one(from, joined);
    let announce = frame(&ServerMessage::PeerJoined {
        room,
        peer: Member {
            id: from.clone(),
            name,
        },
    });
    out.push_each(&others, &announce);
    out
}

impl State {
    /// `from` leaves its room; the others hear `peer_left`.
    pub(super) fn leave_room(&mut self, from: &PeerId) -> Result<Deliveries, MessageError> {
        let Some(peer) = self.peers.get_mut(from) else {
            return Ok(Deliveries::none());
        };
        let Some(membership) = peer.room.take() else {
            return Err(MessageError::new(ErrorCode::NotInRoom, "not in a room"));
        };
        Ok(self.leave(from, &membership.room))
    }

    /// Takes `id` out of `room` (its membership is already gone), tells the
    /// remaining members, and closes the room once empty (so the next joiner
    /// starts afresh, password included).
    pub(super) fn leave(&mut self, id: &PeerId, room: &str) -> Deliveries {
        let Some(entry) = self.rooms.get_mut(room) else {
            return Deliveries::none();
        };
        entry.members.retain(|m| m != id);
        // With Redis, a room whose last member here left is no longer
        // mirrored: its members elsewhere are forgotten.
        #[cfg(feature = "redis")]
        let deserted = !entry
            .members
            .iter()
            .any(|m| self.peers.get(m).is_some_and(super::Peer::is_local));
        #[cfg(not(feature = "redis"))]
        let deserted = entry.members.is_empty();
        if deserted {
            #[cfg(feature = "redis")]
            if let Some(entry) = self.rooms.remove(room) {
                self.forget(entry.members);
            }
            #[cfg(not(feature = "redis"))]
            self.rooms.remove(room);
            debug!(room = %room, "room closed");
            return Deliveries::none();
        }
        // Shutting down: everyone has been told why; see `Hub::begin_shutdown`.
        if self.closing {
            return Deliveries::none();
        }
        let left = frame(&ServerMessage::PeerLeft {
            room: room.to_owned(),
            id: id.clone(),
        });
        let mut out = Deliveries::none();
        out.push_each(&entry.members, &left);
        out
    }
}
