//! Shared signaling state: peers, rooms, direct calls, and routing.
//!
//! One [`Hub`] per server, its state behind a synchronous mutex. Every
//! operation locks, decides, pushes frames into the recipients' bounded
//! queues with `try_send`, and unlocks; nothing awaits while the lock is held,
//! so the lock is held for microseconds and a plain `std::sync::Mutex` beats
//! an async one. A recipient whose queue is full cannot keep up and is dropped
//! on the spot (its connection task then closes it), so one slow client never
//! delays anyone else.
//!
//! Frames are serialized before locking where possible, and shared
//! ([`Utf8Bytes`] is reference-counted) when one message goes to many peers.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use hmac::{Hmac, Mac};
use rand::Rng;
use sha1::Sha1;
use subtle::ConstantTimeEq;
use tokio_tungstenite::tungstenite::Utf8Bytes;
use tracing::{debug, warn};

use super::throttle::{AddressKey, Throttle, ThrottleLimits};
use crate::protocol::{
    validate_name, ClientMessage, ErrorCode, Member, MessageError, PeerId, ServerMessage,
    MAX_PASSWORD_BYTES, PROTOCOL_VERSION,
};

/// Characters of generated peer ids: lowercase letters and digits without
/// the look-alikes 0/o, 1/l/i, so an id read aloud or retyped survives.
const ID_ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";
/// 31^14 ≈ 2^69 ids: unguessable, yet short enough to read out.
const ID_LEN: usize = 14;

/// The queue end the hub pushes a peer's outbound frames into.
pub(crate) use super::budget::Outbox;
use super::budget::{Eviction, Refused};

/// The limits the hub enforces.
#[derive(Debug, Clone)]
pub(crate) struct HubLimits {
    pub(crate) room_capacity: usize,
    pub(crate) max_room_name_chars: usize,
    pub(crate) max_display_name_chars: usize,
    pub(crate) max_calls_per_peer: usize,
}

/// Peers, rooms and calls; see the module docs.
pub(crate) struct Hub {
    state: Mutex<State>,
    limits: HubLimits,
    /// Room passwords are kept only as HMACs under this per-process key: the
    /// plaintext never sits in memory longer than a join, and comparing
    /// fixed-length tags in constant time leaks neither content nor length.
    password_key: [u8; 32],
    /// Set when this server hosts one call only (the app's LAN listener):
    /// every other room is refused, and this one has its password from the
    /// start, whoever joins first.
    only_room: Option<(String, Option<[u8; 20]>)>,
}

struct State {
    peers: HashMap<PeerId, Peer>,
    rooms: HashMap<String, Room>,
    /// Wrong room passwords, per address and per room.
    guesses: Throttle,
    /// Set on server shutdown: everyone is leaving at once and has been told
    /// why, so departures are no longer announced to the others.
    closing: bool,
}

struct Peer {
    outbox: Outbox,
    /// Where it connects from, as the password throttle counts it.
    address: AddressKey,
    room: Option<Membership>,
    /// Established direct calls (symmetric).
    partners: HashSet<PeerId>,
    /// Callees this peer is ringing.
    ringing: HashSet<PeerId>,
    /// Callers ringing this peer.
    rung_by: HashSet<PeerId>,
    /// The last peer this one sent an offer or answer to: where a relay
    /// without `to` goes (the demo dialect's implicit partner).
    negotiating: Option<PeerId>,
    /// The last peer whose offer this one received: where its `to`-less
    /// answer goes (and only its answer).
    offered_by: Option<PeerId>,
}

struct Membership {
    room: String,
    name: String,
}

struct Room {
    password: Option<[u8; 20]>,
    /// In join order.
    members: Vec<PeerId>,
}

impl Hub {
    /// An empty hub.
    pub(crate) fn new(limits: HubLimits) -> Self {
        Self {
            state: Mutex::new(State {
                peers: HashMap::new(),
                rooms: HashMap::new(),
                guesses: Throttle::new(ThrottleLimits::default()),
                closing: false,
            }),
            limits,
            password_key: rand::random(),
            only_room: None,
        }
    }

    /// Serves only `room`, with `password` (see [`super::HostedRoom`]).
    pub(crate) fn hosting_only(mut self, room: &str, password: Option<&str>) -> Self {
        let tag = password
            .filter(|p| !p.is_empty())
            .map(|p| self.password_tag(p));
        self.only_room = Some((room.to_owned(), tag));
        self
    }

    /// Throttles wrong room passwords with `limits` (see [`super::throttle`]).
    pub(crate) fn with_password_throttle(self, limits: ThrottleLimits) -> Self {
        self.lock().guesses = Throttle::new(limits);
        self
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // No code path panics while holding the lock; if one ever did, keep
        // serving everyone else rather than cascading the panic to every task.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a peer connected from `address`, whose frames go to `outbox`;
    /// returns its new random id.
    pub(crate) fn register(&self, outbox: impl Into<Outbox>, address: IpAddr) -> PeerId {
        let outbox = outbox.into();
        let mut state = self.lock();
        let id = loop {
            let id = random_peer_id();
            // A collision is astronomically unlikely; still, never alias.
            if !state.peers.contains_key(&id) {
                break id;
            }
        };
        state.peers.insert(
            id.clone(),
            Peer {
                outbox,
                address: AddressKey::from(address),
                room: None,
                partners: HashSet::new(),
                ringing: HashSet::new(),
                rung_by: HashSet::new(),
                negotiating: None,
                offered_by: None,
            },
        );
        id
    }

    /// Removes a peer (idempotent): its room hears `peer_left`, its call
    /// partners and pending calls hear `hung_up` (unless the server is
    /// shutting down).
    pub(crate) fn unregister(&self, id: &PeerId) {
        let mut state = self.lock();
        let mut overflowed = Vec::new();
        if let Some(peer) = state.peers.remove(id) {
            depart(&mut state, id, peer, &mut overflowed);
        }
        drop_overflowed(&mut state, overflowed);
    }

    /// Marks the server as shutting down: from now on departures are not
    /// announced, so clients hear `shutdown` rather than a flurry of
    /// `peer_left` / `hung_up` for peers that are only leaving because of it.
    pub(crate) fn begin_shutdown(&self) {
        self.lock().closing = true;
    }

    /// Whether the state is consistent: rooms and memberships agree, no
    /// room is empty, over its cap or lists someone twice, calls and rings
    /// are recorded on both sides. For the tests and the fuzzer.
    #[cfg(any(test, fuzzing))]
    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        let state = self.lock();
        for (name, room) in &state.rooms {
            let unique: HashSet<&PeerId> = room.members.iter().collect();
            if room.members.is_empty()
                || unique.len() != room.members.len()
                || room.members.len() > self.limits.room_capacity
            {
                return Err(format!("room {name}: members {:?}", room.members));
            }
            for id in &room.members {
                let inside = state.peers.get(id).and_then(|p| p.room.as_ref());
                if inside.map(|m| m.room.as_str()) != Some(name.as_str()) {
                    return Err(format!("{id} listed in {name} but not a member"));
                }
            }
        }
        for (id, peer) in &state.peers {
            if let Some(membership) = &peer.room {
                let listed = state
                    .rooms
                    .get(&membership.room)
                    .is_some_and(|r| r.members.contains(id));
                if !listed {
                    return Err(format!("{id} in {} but not listed", membership.room));
                }
            }
            let other = |p: &PeerId| state.peers.get(p);
            let one_sided = peer
                .partners
                .iter()
                .any(|p| !other(p).is_some_and(|o| o.partners.contains(id)))
                || peer
                    .ringing
                    .iter()
                    .any(|p| !other(p).is_some_and(|o| o.rung_by.contains(id)))
                || peer
                    .rung_by
                    .iter()
                    .any(|p| !other(p).is_some_and(|o| o.ringing.contains(id)));
            if one_sided {
                return Err(format!("{id}'s calls are recorded on one side only"));
            }
        }
        Ok(())
    }

    /// Number of connected peers.
    pub(crate) fn peer_count(&self) -> usize {
        self.lock().peers.len()
    }

    /// Handles one message from `from`. `Err` is the error reply to send back;
    /// nothing else changed.
    pub(crate) fn handle(&self, from: &PeerId, message: ClientMessage) -> Result<(), MessageError> {
        match message {
            ClientMessage::Hello { version } => {
                if version == PROTOCOL_VERSION {
                    Ok(())
                } else {
                    Err(MessageError::new(
                        ErrorCode::VersionMismatch,
                        format!(
                            "this server speaks protocol version {PROTOCOL_VERSION}, \
                             the client speaks version {version}"
                        ),
                    ))
                }
            }
            ClientMessage::JoinRoom {
                room,
                name,
                password,
            } => self.join_room(from, &room, &name, password),
            ClientMessage::LeaveRoom => self.leave_room(from),
            ClientMessage::CheckRoom { room, password } => self.check_room(from, &room, password),
            ClientMessage::Offer { to, offer } => self.relay(
                from,
                to,
                true,
                ServerMessage::Offer {
                    from: from.clone(),
                    offer,
                },
            ),
            ClientMessage::Answer { to, answer } => self.relay(
                from,
                to,
                true,
                ServerMessage::Answer {
                    from: from.clone(),
                    answer,
                },
            ),
            ClientMessage::Candidate { to, candidate } => self.relay(
                from,
                to,
                false,
                ServerMessage::Candidate {
                    from: from.clone(),
                    candidate,
                },
            ),
            ClientMessage::Call { to, name } => self.call(from, &to, name),
            ClientMessage::Ringing { to, name } => self.ringing(from, &to, &name),
            ClientMessage::Accept { to, name } => self.answer_call(from, &to, true, name),
            ClientMessage::Decline { to, name } => self.answer_call(from, &to, false, name),
            ClientMessage::HangUp { to } => self.hang_up(from, &to),
            ClientMessage::MediaState {
                audio_muted,
                video_muted,
            } => self.media_state(from, audio_muted, video_muted),
        }
    }

    /// Answers [`ClientMessage::CheckRoom`]: the same checks as joining,
    /// without joining or telling anyone.
    fn check_room(
        &self,
        from: &PeerId,
        room: &str,
        password: Option<String>,
    ) -> Result<(), MessageError> {
        let room = self.valid_room(room)?;
        let tag = self.valid_password(password)?;
        let mut state = self.lock();
        let (members, password_required) = self.admits(&mut state, from, &room, &tag)?;
        let status = frame(&ServerMessage::RoomStatus {
            members,
            password_required,
            room,
        });
        let mut overflowed = Vec::new();
        deliver(&state, from, &status, &mut overflowed);
        drop_overflowed(&mut state, overflowed);
        Ok(())
    }

    fn valid_name(&self, name: &str) -> Result<String, MessageError> {
        validate_name(name, self.limits.max_display_name_chars)
            .map(str::to_owned)
            .map_err(|e| MessageError::new(ErrorCode::InvalidName, format!("display name {e}")))
    }

    fn valid_room(&self, room: &str) -> Result<String, MessageError> {
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
    fn valid_password(&self, password: Option<String>) -> Result<Option<[u8; 20]>, MessageError> {
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
                let secs = locked.retry_after.as_secs_f64().ceil().max(1.0);
                return Err(MessageError::new(
                    ErrorCode::TooManyAttempts,
                    format!("too many wrong passwords; try again in {secs:.0} s"),
                ));
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

    fn join_room(
        &self,
        from: &PeerId,
        room: &str,
        name: &str,
        password: Option<String>,
    ) -> Result<(), MessageError> {
        let room = self.valid_room(room)?;
        let name = self.valid_name(name)?;
        let tag = self.valid_password(password)?;

        let mut state = self.lock();
        let Some(peer) = state.peers.get(from) else {
            return Ok(());
        };
        if let Some(current) = &peer.room {
            return Err(MessageError::new(
                ErrorCode::AlreadyInRoom,
                format!("already in room {}; leave it first", quote(&current.room)),
            ));
        }
        self.admits(&mut state, from, &room, &tag)?;

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

        let mut overflowed = Vec::new();
        let joined = frame(&ServerMessage::RoomJoined {
            room: room.clone(),
            you: from.clone(),
            members,
        });
        deliver(&state, from, &joined, &mut overflowed);
        let announce = frame(&ServerMessage::PeerJoined {
            room,
            peer: Member {
                id: from.clone(),
                name,
            },
        });
        for other in &others {
            deliver(&state, other, &announce, &mut overflowed);
        }
        drop_overflowed(&mut state, overflowed);
        Ok(())
    }

    fn leave_room(&self, from: &PeerId) -> Result<(), MessageError> {
        let mut state = self.lock();
        let Some(peer) = state.peers.get_mut(from) else {
            return Ok(());
        };
        let Some(membership) = peer.room.take() else {
            return Err(MessageError::new(ErrorCode::NotInRoom, "not in a room"));
        };
        let mut overflowed = Vec::new();
        leave(&mut state, from, &membership.room, &mut overflowed);
        drop_overflowed(&mut state, overflowed);
        Ok(())
    }

    /// Relays an offer/answer/candidate; `negotiation` (offer/answer) makes
    /// the recipient the sender's partner for its `to`-less relays.
    fn relay(
        &self,
        from: &PeerId,
        to: Option<PeerId>,
        negotiation: bool,
        message: ServerMessage,
    ) -> Result<(), MessageError> {
        // Serialize before locking: SDP can be several KiB.
        let text = frame(&message);
        let mut state = self.lock();
        let Some(sender) = state.peers.get(from) else {
            return Ok(());
        };
        let explicit = to.is_some();
        let implicit = match message {
            ServerMessage::Answer { .. } => {
                sender.offered_by.clone().or(sender.negotiating.clone())
            }
            _ => sender.negotiating.clone(),
        };
        let Some(target) = to.or(implicit) else {
            return Err(MessageError::new(
                ErrorCode::NoPartner,
                format!(
                    "{} has no \"to\" and you are not negotiating with anyone; \
                     send an offer or answer with \"to\" first",
                    message_kind(&message)
                ),
            ));
        };
        if &target == from {
            return Err(MessageError::new(
                ErrorCode::NotPermitted,
                "cannot send to yourself",
            ));
        }
        let Some(recipient) = state.peers.get(&target) else {
            return Err(if explicit {
                unknown_peer(&target)
            } else {
                MessageError::new(
                    ErrorCode::NoPartner,
                    format!(
                        "the peer you were negotiating with ({}) has left",
                        quote(target.as_str())
                    ),
                )
            });
        };
        if !may_signal(sender, recipient, &target) {
            return Err(not_reachable(&target));
        }
        if negotiation {
            // Only the sender's own offer or answer decides where its
            // `to`-less messages go: receiving an offer must not, or anyone
            // who may signal a peer could redirect its candidates with one
            // offer. Receiving one only says where a `to`-less answer goes.
            if let Some(sender) = state.peers.get_mut(from) {
                sender.negotiating = Some(target.clone());
            }
            if matches!(message, ServerMessage::Offer { .. }) {
                if let Some(recipient) = state.peers.get_mut(&target) {
                    recipient.offered_by = Some(from.clone());
                }
            }
        }
        let mut overflowed = Vec::new();
        deliver(&state, &target, &text, &mut overflowed);
        drop_overflowed(&mut state, overflowed);
        Ok(())
    }

    fn call(&self, from: &PeerId, to: &PeerId, name: Option<String>) -> Result<(), MessageError> {
        let name = name.map(|n| self.valid_name(&n)).transpose()?;
        let mut state = self.lock();
        let Some(caller) = state.peers.get(from) else {
            return Ok(());
        };
        if to == from {
            return Err(MessageError::new(
                ErrorCode::NotPermitted,
                "cannot call yourself",
            ));
        }
        if !state.peers.contains_key(to) {
            return Err(unknown_peer(to));
        }
        if caller.partners.contains(to) {
            return Err(MessageError::new(
                ErrorCode::NotPermitted,
                format!("already in a call with {}", quote(to.as_str())),
            ));
        }
        let calls = caller.ringing.len() + caller.partners.len();
        if !caller.ringing.contains(to) && calls >= self.limits.max_calls_per_peer {
            return Err(too_many_calls(self.limits.max_calls_per_peer));
        }
        // Without a name, show the caller's room display name, if any.
        let name = name.or_else(|| caller.room.as_ref().map(|m| m.name.clone()));
        if let Some(caller) = state.peers.get_mut(from) {
            caller.ringing.insert(to.clone());
        }
        if let Some(callee) = state.peers.get_mut(to) {
            callee.rung_by.insert(from.clone());
        }
        let mut overflowed = Vec::new();
        let ring = frame(&ServerMessage::Ring {
            from: from.clone(),
            name,
        });
        deliver(&state, to, &ring, &mut overflowed);
        drop_overflowed(&mut state, overflowed);
        Ok(())
    }

    /// The callee tells `caller`, whose call rings it, its name.
    fn ringing(&self, from: &PeerId, caller: &PeerId, name: &str) -> Result<(), MessageError> {
        let name = self.valid_name(name)?;
        let mut state = self.lock();
        let Some(callee) = state.peers.get(from) else {
            return Ok(());
        };
        if !callee.rung_by.contains(caller) {
            return Err(no_pending_call(&state, caller));
        }
        let reply = ServerMessage::Ringing {
            from: from.clone(),
            name,
        };
        let mut overflowed = Vec::new();
        deliver(&state, caller, &frame(&reply), &mut overflowed);
        drop_overflowed(&mut state, overflowed);
        Ok(())
    }

    /// `accept` (true) or `decline` (false) a call ringing from `caller`.
    fn answer_call(
        &self,
        from: &PeerId,
        caller: &PeerId,
        accept: bool,
        name: Option<String>,
    ) -> Result<(), MessageError> {
        let name = name.map(|n| self.valid_name(&n)).transpose()?;
        let mut state = self.lock();
        let Some(callee) = state.peers.get(from) else {
            return Ok(());
        };
        if !callee.rung_by.contains(caller) {
            return Err(no_pending_call(&state, caller));
        }
        if accept && callee.partners.len() + callee.ringing.len() >= self.limits.max_calls_per_peer
        {
            return Err(too_many_calls(self.limits.max_calls_per_peer));
        }
        if let Some(callee) = state.peers.get_mut(from) {
            callee.rung_by.remove(caller);
            if accept {
                callee.partners.insert(caller.clone());
            }
        }
        if let Some(caller_peer) = state.peers.get_mut(caller) {
            caller_peer.ringing.remove(from);
            if accept {
                caller_peer.partners.insert(from.clone());
            }
        }
        let from = from.clone();
        let reply = if accept {
            ServerMessage::Accepted { from, name }
        } else {
            ServerMessage::Declined { from, name }
        };
        let mut overflowed = Vec::new();
        deliver(&state, caller, &frame(&reply), &mut overflowed);
        drop_overflowed(&mut state, overflowed);
        Ok(())
    }

    fn hang_up(&self, from: &PeerId, to: &PeerId) -> Result<(), MessageError> {
        let mut state = self.lock();
        if !state.peers.contains_key(from) {
            return Ok(());
        }
        if !state.peers.contains_key(to) {
            return Err(unknown_peer(to));
        }
        // All three, not the first that matches: two people may ring each
        // other at once, and hanging up ends both rings (found by the hub
        // fuzzer: a short-circuit left the other ring behind on one side).
        let ended = state.peers.get_mut(from).is_some_and(|me| {
            let partner = me.partners.remove(to);
            let ringing = me.ringing.remove(to);
            let rung = me.rung_by.remove(to);
            partner || ringing || rung
        });
        if !ended {
            return Err(MessageError::new(
                ErrorCode::NotInCall,
                format!("no call with {}", quote(to.as_str())),
            ));
        }
        if let Some(other) = state.peers.get_mut(to) {
            other.partners.remove(from);
            other.ringing.remove(from);
            other.rung_by.remove(from);
        }
        let mut overflowed = Vec::new();
        deliver(
            &state,
            to,
            &frame(&ServerMessage::HungUp { from: from.clone() }),
            &mut overflowed,
        );
        drop_overflowed(&mut state, overflowed);
        Ok(())
    }

    fn media_state(
        &self,
        from: &PeerId,
        audio_muted: bool,
        video_muted: bool,
    ) -> Result<(), MessageError> {
        let text = frame(&ServerMessage::PeerMediaState {
            from: from.clone(),
            audio_muted,
            video_muted,
        });
        let mut state = self.lock();
        let Some(me) = state.peers.get(from) else {
            return Ok(());
        };
        // Room members, call partners, and (for the room-less demo flow) the
        // peer being negotiated with if it may still be reached; each once.
        let mut recipients: Vec<&PeerId> = Vec::new();
        if let Some(room) = me.room.as_ref().and_then(|m| state.rooms.get(&m.room)) {
            recipients.extend(room.members.iter().filter(|id| *id != from));
        }
        recipients.extend(me.partners.iter());
        if let Some(target) = &me.negotiating {
            if let Some(peer) = state.peers.get(target) {
                if may_signal(me, peer, target) {
                    recipients.push(target);
                }
            }
        }
        recipients.sort_unstable();
        recipients.dedup();
        let recipients: Vec<PeerId> = recipients.into_iter().cloned().collect();
        let mut overflowed = Vec::new();
        for to in &recipients {
            deliver(&state, to, &text, &mut overflowed);
        }
        drop_overflowed(&mut state, overflowed);
        Ok(())
    }

    fn password_tag(&self, password: &str) -> [u8; 20] {
        let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(&self.password_key)
            .expect("HMAC accepts keys of any length");
        mac.update(password.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

/// Whether `sender` may relay to `recipient` (id `recipient_id`): same room,
/// direct-call partners, or both outside any room (the demo's flow).
fn may_signal(sender: &Peer, recipient: &Peer, recipient_id: &PeerId) -> bool {
    match (&sender.room, &recipient.room) {
        (Some(a), Some(b)) if a.room == b.room => true,
        (None, None) => true,
        _ => sender.partners.contains(recipient_id),
    }
}

/// Takes `id` out of `room`, tells the remaining members, and closes the room
/// once empty (so the next joiner starts afresh, password included).
fn leave(state: &mut State, id: &PeerId, room: &str, overflowed: &mut Vec<PeerId>) {
    let Some(entry) = state.rooms.get_mut(room) else {
        return;
    };
    entry.members.retain(|m| m != id);
    if entry.members.is_empty() {
        state.rooms.remove(room);
        debug!(room = %room, "room closed");
        return;
    }
    // Shutting down: everyone has been told why; see `Hub::begin_shutdown`.
    if state.closing {
        return;
    }
    let left = frame(&ServerMessage::PeerLeft {
        room: room.to_owned(),
        id: id.clone(),
    });
    for member in &state.rooms[room].members {
        deliver(state, member, &left, overflowed);
    }
}

/// Cleans up after a peer that is gone (already removed from `state.peers`):
/// its room and call partners hear of it, unless the server is shutting down.
fn depart(state: &mut State, id: &PeerId, peer: Peer, overflowed: &mut Vec<PeerId>) {
    if let Some(membership) = &peer.room {
        leave(state, id, &membership.room, overflowed);
    }
    let others: HashSet<&PeerId> = peer
        .partners
        .iter()
        .chain(&peer.ringing)
        .chain(&peer.rung_by)
        .collect();
    for other_id in &others {
        if let Some(other) = state.peers.get_mut(*other_id) {
            other.partners.remove(id);
            other.ringing.remove(id);
            other.rung_by.remove(id);
        }
    }
    if others.is_empty() || state.closing {
        return;
    }
    let hung_up = frame(&ServerMessage::HungUp { from: id.clone() });
    for other_id in others {
        deliver(state, other_id, &hung_up, overflowed);
    }
}

/// Queues `text` for `to` without waiting. A full queue means the client is
/// not reading: it is evicted, and remembered, to be dropped once this
/// operation is done. With the server-wide budget spent, the slowest
/// consumers (the most bytes waiting) are evicted until the frame fits; see
/// [`super::budget`].
fn deliver(state: &State, to: &PeerId, text: &Utf8Bytes, overflowed: &mut Vec<PeerId>) {
    let Some(peer) = state.peers.get(to) else {
        return;
    };
    loop {
        match peer.outbox.try_send(text) {
            Ok(()) => return,
            Err(Refused::Full) => {
                warn!(peer = %to, "outbound queue full; dropping slow client");
                overflowed.push(to.clone());
                return;
            }
            // Its connection task is already ending and will unregister it.
            Err(Refused::Closed) => return,
            Err(Refused::OverBudget) => {}
        }
        let slowest = state
            .peers
            .iter()
            .map(|(id, p)| (p.outbox.queued_bytes(), id, p))
            .filter(|(queued, ..)| *queued > 0)
            .max_by_key(|(queued, ..)| *queued);
        // Evicting frees budget, and a frame always fits an empty one, so
        // this ends; `None` only if another thread is mid-way taking frames
        // out: then this one frame is lost.
        let Some((queued, id, slowest)) = slowest else {
            warn!(peer = %to, "queued-bytes budget spent; frame dropped");
            return;
        };
        warn!(peer = %id, queued, "queued-bytes budget spent; dropping the slowest client");
        slowest.outbox.evict(Eviction::ServerBusy);
        overflowed.push(id.clone());
        if id == to {
            return;
        }
    }
}

/// Drops every peer that could not keep up. Removing one notifies others,
/// which may overflow more, hence the work list.
fn drop_overflowed(state: &mut State, mut overflowed: Vec<PeerId>) {
    while let Some(id) = overflowed.pop() {
        // It was evicted: its connection task throws its queue away and
        // closes the connection.
        if let Some(peer) = state.peers.remove(&id) {
            depart(state, &id, peer, &mut overflowed);
        }
    }
}

fn frame(message: &ServerMessage) -> Utf8Bytes {
    Utf8Bytes::from(message.to_json())
}

fn random_peer_id() -> PeerId {
    let mut rng = rand::thread_rng();
    let id: String = (0..ID_LEN)
        .map(|_| char::from(ID_ALPHABET[rng.gen_range(0..ID_ALPHABET.len())]))
        .collect();
    PeerId::new(id)
}

fn message_kind(message: &ServerMessage) -> &'static str {
    match message {
        ServerMessage::Offer { .. } => "offer",
        ServerMessage::Answer { .. } => "answer",
        _ => "candidate",
    }
}

/// `caller` rings nobody here: it is gone, or its call is not ringing.
fn no_pending_call(state: &State, caller: &PeerId) -> MessageError {
    if state.peers.contains_key(caller) {
        MessageError::new(
            ErrorCode::NoPendingCall,
            format!("no call from {} is ringing", quote(caller.as_str())),
        )
    } else {
        unknown_peer(caller)
    }
}

fn unknown_peer(id: &PeerId) -> MessageError {
    MessageError::new(
        ErrorCode::UnknownPeer,
        format!("no peer with id {}", quote(id.as_str())),
    )
}

fn not_reachable(id: &PeerId) -> MessageError {
    MessageError::new(
        ErrorCode::NotPermitted,
        format!(
            "peer {} is not in your room and not in a call with you",
            quote(id.as_str())
        ),
    )
}

fn too_many_calls(max: usize) -> MessageError {
    MessageError::new(
        ErrorCode::NotPermitted,
        format!("too many calls at once (at most {max})"),
    )
}

/// Quotes client-supplied text (room names, ids) for an error message.
fn quote(text: &str) -> String {
    crate::protocol::quoted(text, 64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tokio::sync::mpsc;

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
        rx: mpsc::Receiver<Utf8Bytes>,
    }

    impl TestPeer {
        fn new(hub: &Hub, capacity: usize) -> Self {
            let (tx, rx) = mpsc::channel(capacity);
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
            assert!(self.rx.try_recv().is_err(), "no message expected");
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
        assert!(matches!(
            slow.rx.try_recv(),
            Err(mpsc::error::TryRecvError::Disconnected)
        ));
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
        let state = hub.lock();
        assert!(state
            .peers
            .values()
            .all(|p| p.partners.is_empty() && p.ringing.is_empty() && p.rung_by.is_empty()));
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
        let state = hub.lock();
        assert!(state
            .peers
            .values()
            .all(|p| p.partners.is_empty() && p.ringing.is_empty() && p.rung_by.is_empty()));
        drop(state);
        assert!(matches!(a.next(), ServerMessage::Ring { .. }));
        assert!(matches!(b.next(), ServerMessage::Ring { .. }));
        assert_eq!(b.next(), ServerMessage::HungUp { from: a.id.clone() });
    }
}
