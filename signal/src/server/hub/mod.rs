//! Shared signaling state: peers, rooms, direct calls, and routing.
//!
//! One [`Hub`] per server, its [`State`] behind a synchronous mutex. The hub
//! is a state machine that returns what it sends: every step locks, decides
//! (changes the state and lists the frames that go out, as [`Deliveries`]),
//! delivers that list in one place ([`State::deliver`]) and unlocks.
//! Delivering pushes frames into the recipients' bounded queues with
//! `try_send`; nothing awaits while the lock is held, so the lock is held for
//! microseconds and a plain `std::sync::Mutex` beats an async one. A
//! recipient whose queue is full cannot keep up and is dropped on the spot
//! (its connection task then closes it), so one slow client never delays
//! anyone else; dropping it is a departure like any other, announced the
//! same way.
//!
//! Split by concern, as mini-redis splits its commands:
//! - this file: the [`Hub`] and its [`State`], peers coming and going,
//!   [`Hub::handle`] (one client message, one step), the invariants;
//! - `rooms.rs`: joining (names, passwords, the throttle, capacity),
//!   checking and leaving rooms;
//! - `calls.rs`: direct calls by id, in one table keyed by the pair of
//!   peers ([`calls::Calls`]), so its two sides can never disagree;
//! - `relay.rs`: offers, answers and candidates between peers that may
//!   signal each other, and media state to everyone who sees the sender;
//! - `deliveries.rs`: [`Deliveries`] and the one place frames are queued
//!   and peers that cannot keep up are dropped;
//! - `remote.rs` (feature `redis`): peers of other instances, mirrored
//!   here while a local peer shares a room or a call with them. A frame for
//!   one is not queued: the step reports it as a [`Forward`] and the caller
//!   sends the client's message to that instance, which replays it on its
//!   own hub (and so checks it again against its own state).
//!
//! Frames are serialized before locking where possible, and shared
//! ([`Utf8Bytes`] is reference-counted) when one message goes to many peers.

mod calls;
mod deliveries;
mod relay;
#[cfg(feature = "redis")]
mod remote;
mod rooms;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};

use rand::Rng;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::throttle::{AddressKey, Throttle, ThrottleLimits};
use crate::protocol::{
    validate_name, ClientMessage, ErrorCode, MessageError, PeerId, ServerMessage, PROTOCOL_VERSION,
};
use calls::{Answer, Calls};
use deliveries::Deliveries;
pub(crate) use relay::Relayed;
#[cfg(feature = "redis")]
pub(crate) use remote::{Forward, Origin, Remote, RemoteMember};
use rooms::{Membership, Room};

use super::budget::Eviction;
/// The queue end the hub pushes a peer's outbound frames into.
pub(crate) use super::budget::Outbox;

/// Characters of generated peer ids: lowercase letters and digits without
/// the look-alikes 0/o, 1/l/i, so an id read aloud or retyped survives.
const ID_ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";
/// 31^14 ≈ 2^69 ids: unguessable, yet short enough to read out.
const ID_LEN: usize = 14;

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

/// The peers' table hashes with foldhash, not the standard library's
/// SipHash, which was a twentieth of a relay's instructions (several
/// lookups a relay). A fast hash is safe here: the keys are ids servers
/// make up at random ([`random_peer_id`], or another instance's through
/// Redis), never a client's choice, so no client can make them collide;
/// a client's own strings only look up.
type Peers = HashMap<PeerId, Peer, foldhash::fast::RandomState>;

/// Everything the hub's mutex guards.
struct State {
    peers: Peers,
    rooms: HashMap<String, Room>,
    /// Every direct call, rung or established, once per pair of peers.
    calls: Calls,
    /// Wrong room passwords, per address and per room.
    guesses: Throttle,
    /// Set on server shutdown: everyone is leaving at once and has been told
    /// why, so departures are no longer announced to the others.
    closing: bool,
    /// Frames of this step meant for peers of other instances.
    #[cfg(feature = "redis")]
    forwards: Vec<Forward>,
}

/// What a step sent to peers of other instances: nothing without Redis.
#[cfg(feature = "redis")]
pub(crate) type Forwards = Vec<Forward>;
/// What a step sent to peers of other instances: nothing without Redis.
#[cfg(not(feature = "redis"))]
pub(crate) type Forwards = ();

/// Where a peer's frames go.
enum Link {
    /// A client of this server: its queue.
    Local(Outbox),
    /// A client of another instance (see `remote.rs`).
    #[cfg(feature = "redis")]
    Remote(Remote),
}

impl Link {
    /// The queue of a client of this server.
    fn local(&self) -> Option<&Outbox> {
        match self {
            Self::Local(outbox) => Some(outbox),
            #[cfg(feature = "redis")]
            Self::Remote(_) => None,
        }
    }
}

/// One connected client.
struct Peer {
    link: Link,
    /// Where it connects from, as the password throttle counts it.
    address: AddressKey,
    room: Option<Membership>,
    /// The last peer this one sent an offer or answer to: where a relay
    /// without `to` goes (the demo dialect's implicit partner).
    negotiating: Option<PeerId>,
    /// The last peer whose offer this one received: where its `to`-less
    /// answer goes (and only its answer).
    offered_by: Option<PeerId>,
}

impl Hub {
    /// An empty hub.
    pub(crate) fn new(limits: HubLimits) -> Self {
        Self {
            state: Mutex::new(State {
                peers: Peers::default(),
                rooms: HashMap::new(),
                calls: Calls::default(),
                guesses: Throttle::new(ThrottleLimits::default()),
                closing: false,
                #[cfg(feature = "redis")]
                forwards: Vec::new(),
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

    /// One step of the state machine: `change` decides under the lock, and
    /// what it sends is delivered before unlocking, in order. Every frame
    /// the hub sends goes through here. On `Err` nothing is sent (the
    /// error is the caller's reply).
    /// Returns what went to peers of other instances (nothing without the
    /// `redis` feature).
    fn step<E>(
        &self,
        change: impl FnOnce(&mut State) -> Result<Deliveries, E>,
    ) -> Result<Forwards, E> {
        let mut state = self.lock();
        let deliveries = change(&mut state)?;
        state.deliver(deliveries);
        #[cfg(feature = "redis")]
        return Ok(std::mem::take(&mut state.forwards));
        #[cfg(not(feature = "redis"))]
        Ok(())
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
        if state.closing {
            outbox.evict(Eviction::Shutdown);
        }
        state.peers.insert(
            id.clone(),
            Peer {
                link: Link::Local(outbox),
                address: AddressKey::from(address),
                room: None,
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
        let gone = |state: &mut State| {
            Ok::<_, Infallible>(match state.peers.remove(id) {
                Some(peer) => state.depart(id, peer),
                None => Deliveries::none(),
            })
        };
        // A departure forwards nothing: the cluster tells the other
        // instances itself (`Cluster::gone`).
        self.step(gone).unwrap_or_else(|never| match never {});
    }

    /// Marks the server as shutting down: from now on departures are not
    /// announced, so clients hear `shutdown` rather than a flurry of
    /// `peer_left` / `hung_up` for peers that are only leaving because of it.
    /// Every session is told through its queue (and so is one that
    /// registers after this).
    pub(crate) fn begin_shutdown(&self) {
        let mut state = self.lock();
        state.closing = true;
        for peer in state.peers.values() {
            if let Some(outbox) = peer.link.local() {
                outbox.evict(Eviction::Shutdown);
            }
        }
    }

    /// Whether the state is consistent: rooms and memberships agree, no
    /// room is empty, over its cap or lists someone twice; the call table
    /// only names connected peers, agrees with its index and keeps everyone
    /// within the call limit (see [`Calls::check`]). For the tests and the
    /// fuzzer.
    #[cfg(any(test, fuzzing))]
    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        use std::collections::HashSet;

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
        }
        state.calls.check(
            |id| state.peers.contains_key(id),
            self.limits.max_calls_per_peer,
        )
    }

    /// Number of connected peers.
    pub(crate) fn peer_count(&self) -> usize {
        self.lock().peers.len()
    }

    /// Handles one message from `from`. `Err` is the error reply to send back;
    /// nothing else changed.
    ///
    /// What needs no state (names, passwords, the frame a relay forwards) is
    /// checked and built before locking; the rest is one [`Hub::step`].
    pub(crate) fn handle(&self, from: &PeerId, message: ClientMessage) -> Result<(), MessageError> {
        #[cfg_attr(not(feature = "redis"), allow(clippy::unit_arg))]
        self.apply(from, message).map(drop)
    }

    /// [`Hub::handle`], returning what went to peers of other instances.
    #[cfg_attr(not(feature = "redis"), allow(clippy::unit_arg))]
    pub(crate) fn apply(
        &self,
        from: &PeerId,
        message: ClientMessage,
    ) -> Result<Forwards, MessageError> {
        match message {
            ClientMessage::Hello { version } => {
                check_version(version)?;
                Ok(Forwards::default())
            }
            ClientMessage::JoinRoom {
                room,
                name,
                password,
            } => {
                let room = self.valid_room(&room)?;
                let name = self.valid_name(&name)?;
                let tag = self.valid_password(password)?;
                self.step(|state| self.join_room(state, from, room, name, tag))
            }
            ClientMessage::LeaveRoom => self.step(|state| state.leave_room(from)),
            ClientMessage::CheckRoom { room, password } => {
                let room = self.valid_room(&room)?;
                let tag = self.valid_password(password)?;
                self.step(|state| self.check_room(state, from, room, tag))
            }
            ClientMessage::Offer { to, offer } => {
                let text = frame(&ServerMessage::Offer {
                    from: from.clone(),
                    offer,
                });
                self.step(|state| state.relay(from, to, Relayed::Offer, text))
            }
            ClientMessage::Answer { to, answer } => {
                let text = frame(&ServerMessage::Answer {
                    from: from.clone(),
                    answer,
                });
                self.step(|state| state.relay(from, to, Relayed::Answer, text))
            }
            ClientMessage::Candidate { to, candidate } => {
                let text = frame(&ServerMessage::Candidate {
                    from: from.clone(),
                    candidate,
                });
                self.step(|state| state.relay(from, to, Relayed::Candidate, text))
            }
            ClientMessage::Call { to, name } => {
                let name = name.map(|n| self.valid_name(&n)).transpose()?;
                self.step(|state| self.call(state, from, &to, name))
            }
            ClientMessage::Ringing { to, name } => {
                let name = self.valid_name(&name)?;
                self.step(|state| state.ringing(from, &to, name))
            }
            ClientMessage::Accept { to, name } => {
                let name = name.map(|n| self.valid_name(&n)).transpose()?;
                self.step(|state| self.answer_call(state, from, &to, Answer::Accept, name))
            }
            ClientMessage::Decline { to, name } => {
                let name = name.map(|n| self.valid_name(&n)).transpose()?;
                self.step(|state| self.answer_call(state, from, &to, Answer::Decline, name))
            }
            ClientMessage::HangUp { to } => self.step(|state| state.hang_up(from, &to)),
            ClientMessage::MediaState {
                audio_muted,
                video_muted,
            } => {
                let text = frame(&ServerMessage::PeerMediaState {
                    from: from.clone(),
                    audio_muted,
                    video_muted,
                });
                self.step(|state| Ok(state.media_state(from, &text)))
            }
        }
    }

    /// A display name as shown to others (trimmed), or why it can't be one.
    pub(crate) fn valid_name(&self, name: &str) -> Result<String, MessageError> {
        validate_name(name, self.limits.max_display_name_chars)
            .map(str::to_owned)
            .map_err(|e| MessageError::new(ErrorCode::InvalidName, format!("display name {e}")))
    }
}

impl Peer {
    /// Whether it is in no room at all: a peer of another instance may be
    /// in one this hub does not mirror.
    fn roomless(&self) -> bool {
        match &self.link {
            Link::Local(_) => self.room.is_none(),
            #[cfg(feature = "redis")]
            Link::Remote(remote) => self.room.is_none() && remote.roomless,
        }
    }

    /// Whether it is a client of this server.
    #[cfg(feature = "redis")]
    fn is_local(&self) -> bool {
        matches!(self.link, Link::Local(_))
    }
}

impl State {
    /// Cleans up after a peer that is gone (already removed from `peers`):
    /// it leaves its room and every call, and the others hear of it, unless
    /// the server is shutting down.
    fn depart(&mut self, id: &PeerId, peer: Peer) -> Deliveries {
        let mut out = match &peer.room {
            Some(membership) => self.leave(id, &membership.room),
            None => Deliveries::none(),
        };
        let others = self.calls.remove_peer(id);
        if others.is_empty() || self.closing {
            return out;
        }
        let hung_up = frame(&ServerMessage::HungUp { from: id.clone() });
        out.push_each(&others, &hung_up);
        out
    }
}

/// Answers [`ClientMessage::Hello`]: fine if the client speaks our version.
fn check_version(version: u32) -> Result<(), MessageError> {
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

fn unknown_peer(id: &PeerId) -> MessageError {
    MessageError::new(
        ErrorCode::UnknownPeer,
        format!("no peer with id {}", quote(id.as_str())),
    )
}

/// Quotes client-supplied text (room names, ids) for an error message.
fn quote(text: &str) -> String {
    crate::protocol::quoted(text, 64)
}
