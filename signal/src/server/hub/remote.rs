//! Peers of other instances, when servers share their rooms through Redis
//! (`server/cluster/`).
//!
//! The hub mirrors a peer of another instance once it matters here: it was
//! in a room with a member here, in a call or ring with one, or someone here
//! looked its id up; until it is gone (`G` on `pc:all`). Its frames are not queued: a step reports
//! them as [`Forward`]s, the caller sends the client's message to that
//! instance, and its hub replays it ([`Hub::replay`]) with this peer
//! mirrored there, so every rule is checked again on the receiving side
//! against what it knows. Who may enter a room (capacity, password) is
//! decided in Redis, atomically for all instances; [`Hub::join_admitted`]
//! then only enters it.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr};

use super::rooms::{enter, Membership, Room};
use super::{frame, quote, AddressKey, Deliveries, Hub, Link, Peer, State};
use crate::protocol::{ClientMessage, ErrorCode, Member, MessageError, PeerId, ServerMessage};
use crate::server::splice::RawRelay;

/// A peer of another instance, as mirrored here.
pub(crate) struct Remote {
    /// The instance its client is connected to.
    pub(crate) instance: u64,
    /// Whether it is in no room at all (it may be in one not mirrored here).
    pub(crate) roomless: bool,
}

/// A frame a step sent to a peer of another instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Forward {
    pub(crate) instance: u64,
    pub(crate) to: PeerId,
}

/// A room member connected to another instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RemoteMember {
    pub(crate) id: PeerId,
    pub(crate) name: String,
    pub(crate) instance: u64,
}

/// Who a replayed message is from: a peer of `instance`, in no room
/// unless `roomless` is false.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    pub(crate) instance: u64,
    pub(crate) from: PeerId,
    pub(crate) roomless: bool,
}

impl Hub {
    /// `from` enters `room` as `name`, admitted by Redis (whose list of the
    /// members elsewhere is `members`); the room's password here is `tag`.
    pub(crate) fn join_admitted(
        &self,
        from: &PeerId,
        room: String,
        name: String,
        tag: Option<[u8; 20]>,
        members: Vec<RemoteMember>,
    ) -> Result<(), MessageError> {
        let forwards = self.step(|state| {
            let Some(peer) = state.peers.get(from) else {
                return Ok(Deliveries::none());
            };
            if let Some(current) = &peer.room {
                return Err(already_in_room(&current.room));
            }
            let mut out = Deliveries::none();
            for member in members {
                out.extend(state.mirror(&room, member));
            }
            out.extend(enter(state, from, room.clone(), name, tag));
            if let Some(entry) = state.rooms.get_mut(&room) {
                // Redis checked it against the room's: it is the room's.
                entry.password = tag;
            }
            Ok(out)
        });
        forwards.map(drop)
    }

    /// Whether `from` may be in a room: not in one already.
    pub(crate) fn room_of(&self, from: &PeerId) -> Option<String> {
        let state = self.lock();
        let peer = state.peers.get(from)?;
        peer.room.as_ref().map(|m| m.room.clone())
    }

    /// Sends `message` to `to`, in order with everything else it is sent.
    pub(crate) fn tell(&self, to: &PeerId, message: &ServerMessage) {
        let _ = self.step(|_| Ok::<_, Infallible>(Deliveries::one(to, frame(message))));
    }

    /// `member` of another instance joined `room`: mirrored (and announced)
    /// if the room is mirrored here or someone here is `joining` it, else
    /// only noted.
    pub(crate) fn remote_joined(&self, room: &str, member: RemoteMember, joining: bool) {
        let _ = self.step(|state| {
            if joining || state.rooms.contains_key(room) {
                return Ok::<_, Infallible>(state.mirror(room, member));
            }
            if let Some(Peer {
                link: Link::Remote(remote),
                ..
            }) = state.peers.get_mut(&member.id)
            {
                remote.roomless = false;
            }
            Ok(Deliveries::none())
        });
    }

    /// `id` of another instance left `room`: the members here hear
    /// `peer_left`.
    pub(crate) fn remote_left(&self, room: &str, id: &PeerId) {
        let _ = self.step(|state| {
            let Some(peer) = state.peers.get_mut(id) else {
                return Ok::<_, Infallible>(Deliveries::none());
            };
            let Link::Remote(remote) = &mut peer.link else {
                return Ok(Deliveries::none());
            };
            remote.roomless = true;
            if peer.room.as_ref().is_none_or(|m| m.room != room) {
                return Ok(Deliveries::none());
            }
            peer.room = None;
            Ok(state.leave(id, room))
        });
    }

    /// `id` of another instance is gone: its room and call partners here
    /// hear of it as of any departure.
    pub(crate) fn remote_gone(&self, id: &PeerId) {
        let _ = self.step(|state| {
            let remote = state.peers.get(id).is_some_and(|p| !p.is_local());
            Ok::<_, Infallible>(match remote.then(|| state.peers.remove(id)).flatten() {
                Some(peer) => state.depart(id, peer),
                None => Deliveries::none(),
            })
        });
    }

    /// Mirrors `origin`'s peer (if it isn't known yet) as in no room or a
    /// room not mirrored here. False if the id is a client of this server.
    pub(crate) fn learn(&self, origin: &Origin) -> bool {
        let mut state = self.lock();
        match state.peers.get_mut(&origin.from) {
            Some(Peer {
                link: Link::Local(_),
                ..
            }) => false,
            Some(Peer {
                link: Link::Remote(remote),
                room,
                ..
            }) => {
                if room.is_none() {
                    remote.roomless = origin.roomless;
                }
                true
            }
            None => {
                let peer = phantom(origin.instance, origin.roomless);
                state.peers.insert(origin.from.clone(), peer);
                true
            }
        }
    }

    /// Replays a message a client of another instance sent, forwarded here
    /// because it concerns a client of this server: the same step as on
    /// its own instance, checked again against this hub's state. Joining,
    /// leaving and checking rooms are not replayed (Redis decides them).
    pub(crate) fn replay(
        &self,
        origin: &Origin,
        message: ClientMessage,
    ) -> Result<(), MessageError> {
        match message {
            ClientMessage::Hello { .. }
            | ClientMessage::JoinRoom { .. }
            | ClientMessage::LeaveRoom
            | ClientMessage::CheckRoom { .. } => Ok(()),
            message if self.learn(origin) => self.apply(&origin.from, message).map(drop),
            _ => Ok(()),
        }
    }

    /// [`Hub::replay`] for a relay read by the fast path.
    pub(crate) fn replay_relay(
        &self,
        origin: &Origin,
        relay: RawRelay<'_>,
    ) -> Result<(), MessageError> {
        if !self.learn(origin) {
            return Ok(());
        }
        self.relay_forwarding(&origin.from, relay).map(drop)
    }

    /// Drops `room` if nobody here is in it (a join that Redis refused
    /// after members elsewhere were mirrored for it).
    pub(crate) fn drop_if_deserted(&self, room: &str) {
        let state = &mut *self.lock();
        let deserted = state.rooms.get(room).is_some_and(|entry| {
            !entry
                .members
                .iter()
                .any(|m| state.peers.get(m).is_some_and(Peer::is_local))
        });
        if deserted {
            if let Some(entry) = state.rooms.remove(room) {
                state.forget(entry.members);
            }
        }
    }

    /// Every client of this server, with its room and name if in one: what
    /// Redis must know of this instance.
    pub(crate) fn local_peers(&self) -> Vec<(PeerId, Option<(String, String)>)> {
        let state = self.lock();
        state
            .peers
            .iter()
            .filter(|(_, p)| p.is_local())
            .map(|(id, p)| {
                let room = p.room.as_ref().map(|m| (m.room.clone(), m.name.clone()));
                (id.clone(), room)
            })
            .collect()
    }

    /// The rooms mirrored here (each has a member here).
    pub(crate) fn rooms(&self) -> Vec<String> {
        self.lock().rooms.keys().cloned().collect()
    }

    /// Mirrors `room`'s members elsewhere that Redis lists (`members`) and
    /// this hub missed: the members here hear `peer_joined`. Returns those
    /// mirrored here that Redis does not list; they may be gone (see
    /// `cluster/tasks.rs`).
    pub(crate) fn reconcile(&self, room: &str, members: Vec<RemoteMember>) -> Vec<PeerId> {
        let mut unlisted = Vec::new();
        let _ = self.step(|state| {
            let Some(entry) = state.rooms.get(room) else {
                return Ok::<_, Infallible>(Deliveries::none());
            };
            unlisted = entry
                .members
                .iter()
                .filter(|id| state.peers.get(*id).is_some_and(|p| !p.is_local()))
                .filter(|id| !members.iter().any(|m| &m.id == *id))
                .cloned()
                .collect();
            let mut out = Deliveries::none();
            for member in members {
                out.extend(state.mirror(room, member));
            }
            Ok(out)
        });
        unlisted
    }

    /// Where `from` connects from, as the password throttle counts it.
    pub(crate) fn address_of(&self, from: &PeerId) -> Option<AddressKey> {
        self.lock().peers.get(from).map(|p| p.address)
    }
}

impl State {
    /// Mirrors `member` of another instance in `room` (made if need be);
    /// the others there hear `peer_joined`.
    fn mirror(&mut self, room: &str, member: RemoteMember) -> Deliveries {
        let RemoteMember { id, name, instance } = member;
        let peer = self
            .peers
            .entry(id.clone())
            .or_insert_with(|| phantom(instance, false));
        if peer.is_local() || peer.room.is_some() {
            return Deliveries::none();
        }
        peer.room = Some(Membership {
            room: room.to_owned(),
            name: name.clone(),
        });
        let entry = self.rooms.entry(room.to_owned()).or_insert_with(|| Room {
            password: None,
            members: Vec::new(),
        });
        let announce = frame(&ServerMessage::PeerJoined {
            room: room.to_owned(),
            peer: Member {
                id: id.clone(),
                name,
            },
        });
        let mut out = Deliveries::none();
        out.push_each(&entry.members, &announce);
        entry.members.push(id);
        out
    }

    /// The members of a room no longer mirrored: those of other instances
    /// are still in it there. They stay known here (as in a room elsewhere)
    /// until they are gone, so that messages to them are refused as they
    /// would be on one server.
    pub(super) fn forget(&mut self, members: Vec<PeerId>) {
        for id in members {
            if let Some(peer) = self.peers.get_mut(&id) {
                if let Link::Remote(remote) = &mut peer.link {
                    peer.room = None;
                    remote.roomless = false;
                }
            }
        }
    }
}

/// A peer of `instance`, mirrored here.
fn phantom(instance: u64, roomless: bool) -> Peer {
    Peer {
        link: Link::Remote(Remote { instance, roomless }),
        // Never counted: only clients of this server join rooms here.
        address: AddressKey::from(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        room: None,
        negotiating: None,
        offered_by: None,
    }
}

fn already_in_room(room: &str) -> MessageError {
    MessageError::new(
        ErrorCode::AlreadyInRoom,
        format!("already in room {}; leave it first", quote(room)),
    )
}
