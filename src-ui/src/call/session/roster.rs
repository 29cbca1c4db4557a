//! The other participants of a call: one *slot* each, keyed by a local
//! number that outlives their signaling id, with the connection to them.
//!
//! Besides the slots the roster keeps the members waiting out
//! [`REKEY_GRACE_MS`] (they may be someone we are still connected to, back
//! under a new id) and the signaling messages that arrived for ids we don't
//! know yet. The session's participant life cycle is here too: a member
//! appearing, a slot getting its connection, an offer replacing one, a
//! participant being re-addressed, detached, or removed.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use gloo::timers::callback::Timeout;
use peercall_signal::protocol::{Member, PeerId, ServerMessage};

use super::Session;
use crate::call::conn::Conn;
use crate::call::native::negotiation::{self, Glare};
use crate::call::native::{Frames, NativePeer};
use crate::call::peer::{Incoming, Peer, Role};
use crate::call::{js, sdp, CallEvent, CallPhase, CallTarget, ConnState, PeerView};

/// How long a member that may be a reconnected participant waits to be
/// claimed over the data channel before getting a connection of its own.
const REKEY_GRACE_MS: u32 = 3_000;
/// A responder that has seen no offer this long makes one itself.
const RESPONDER_FALLBACK_MS: u32 = 5_000;
/// Signaling messages kept for ids we don't know yet.
const MAX_EARLY: usize = 200;

/// One remote participant.
pub(super) struct Slot {
    /// Stable for the whole call (their signaling id is not).
    pub(super) key: u32,
    id: RefCell<PeerId>,
    name: RefCell<String>,
    peer: RefCell<Option<Conn>>,
    fallback: RefCell<Option<Timeout>>,
    audio_muted: Cell<bool>,
    video_muted: Cell<bool>,
    /// The server says they left, but our connection to them is up.
    detached: Cell<bool>,
    /// Their side of the connection is the native engine (their hello).
    pub(super) native: Cell<bool>,
    /// When anything last came from them on the connection, or it was
    /// made (`Date.now()`).
    pub(super) heard: Cell<f64>,
    /// A native↔native connection silent for a while: shown as
    /// reconnecting, whatever `webrtcbin` says (see `liveness.rs`).
    pub(super) quiet: Cell<bool>,
}

impl Slot {
    /// Their current signaling id.
    pub(super) fn id(&self) -> PeerId {
        self.id.borrow().clone()
    }

    /// Their display name (empty until known).
    pub(super) fn name(&self) -> String {
        self.name.borrow().clone()
    }

    pub(super) fn set_name(&self, name: String) {
        *self.name.borrow_mut() = name;
    }

    /// The connection to them, once there is one.
    pub(super) fn peer(&self) -> Option<Conn> {
        self.peer.borrow().clone()
    }

    /// Their mute state, as they announced it.
    pub(super) fn set_media(&self, audio_muted: bool, video_muted: bool) {
        self.audio_muted.set(audio_muted);
        self.video_muted.set(video_muted);
    }

    pub(super) fn detached(&self) -> bool {
        self.detached.get()
    }

    /// Stops waiting for their offer and hands back the connection, for
    /// the caller to close.
    fn disconnect(&self) -> Option<Conn> {
        self.fallback.borrow_mut().take();
        self.peer.borrow_mut().take()
    }

    /// How the page shows them (`frames`: the native engine's video).
    pub(super) fn view(&self, frames: Option<&Frames>) -> PeerView {
        let peer = self.peer();
        PeerView {
            key: self.key,
            id: self.id(),
            name: self.name(),
            state: match peer.as_ref().map_or(ConnState::Connecting, Conn::state) {
                ConnState::Connected if self.quiet.get() => ConnState::Reconnecting,
                state => state,
            },
            video: peer.as_ref().and_then(|p| p.video(frames)),
            audio_muted: self.audio_muted.get(),
            video_muted: self.video_muted.get(),
            safety_code: peer
                .as_ref()
                .and_then(Conn::web)
                .and_then(|p| p.safety_code()),
            screen: peer
                .as_ref()
                .and_then(Conn::web)
                .and_then(|p| p.remote_screen()),
        }
    }
}

/// A member waiting out [`REKEY_GRACE_MS`].
struct Pending {
    member: Member,
    role: Role,
    _timer: Timeout,
}

/// Everyone else in the call.
#[derive(Default)]
pub(super) struct Roster {
    slots: RefCell<Vec<Rc<Slot>>>,
    last_key: Cell<u32>,
    pending: RefCell<Vec<Pending>>,
    early: RefCell<Vec<(PeerId, ServerMessage)>>,
}

impl Roster {
    /// Every slot, in the order they came.
    pub(super) fn all(&self) -> Vec<Rc<Slot>> {
        self.slots.borrow().clone()
    }

    /// Every connection there is.
    pub(super) fn peers(&self) -> Vec<Conn> {
        self.all().iter().filter_map(|s| s.peer()).collect()
    }

    pub(super) fn by_id(&self, id: &PeerId) -> Option<Rc<Slot>> {
        self.slots
            .borrow()
            .iter()
            .find(|s| *s.id.borrow() == *id)
            .cloned()
    }

    pub(super) fn by_key(&self, key: u32) -> Option<Rc<Slot>> {
        self.slots.borrow().iter().find(|s| s.key == key).cloned()
    }

    /// The first participant's id (a direct call's partner).
    pub(super) fn first_id(&self) -> Option<PeerId> {
        self.slots.borrow().first().map(|s| s.id())
    }

    /// Stops waiting on `id`'s grace period.
    pub(super) fn forget_pending(&self, id: &PeerId) {
        self.pending.borrow_mut().retain(|p| p.member.id != *id);
    }

    /// The call is over: every timer stops, and the connections are handed
    /// back for their goodbyes.
    pub(super) fn take_connections(&self) -> Vec<Conn> {
        let peers = self.all().iter().filter_map(|s| s.disconnect()).collect();
        self.pending.borrow_mut().clear();
        peers
    }

    fn add(&self, member: &Member) -> Rc<Slot> {
        let key = self.last_key.get() + 1;
        self.last_key.set(key);
        let slot = Rc::new(Slot {
            key,
            id: RefCell::new(member.id.clone()),
            name: RefCell::new(member.name.clone()),
            peer: RefCell::new(None),
            fallback: RefCell::new(None),
            audio_muted: Cell::new(false),
            video_muted: Cell::new(false),
            detached: Cell::new(false),
            native: Cell::new(false),
            heard: Cell::new(js_sys::Date::now()),
            quiet: Cell::new(false),
        });
        self.slots.borrow_mut().push(slot.clone());
        slot
    }

    fn remove(&self, key: u32) -> Option<Rc<Slot>> {
        let mut slots = self.slots.borrow_mut();
        let index = slots.iter().position(|s| s.key == key)?;
        Some(slots.remove(index))
    }

    fn take_pending(&self, id: &PeerId) -> Option<Pending> {
        let mut all = self.pending.borrow_mut();
        let index = all.iter().position(|p| p.member.id == *id)?;
        Some(all.remove(index))
    }

    /// Keeps a message for an id we don't know yet (up to [`MAX_EARLY`]).
    fn keep_early(&self, from: PeerId, message: ServerMessage) {
        let mut early = self.early.borrow_mut();
        if early.len() < MAX_EARLY {
            early.push((from, message));
        }
    }

    /// The messages kept for `id`, in arrival order.
    fn take_early(&self, id: &PeerId) -> Vec<ServerMessage> {
        let mut early = self.early.borrow_mut();
        let (mine, rest): (Vec<_>, Vec<_>) = early.drain(..).partition(|(from, _)| from == id);
        *early = rest;
        mine.into_iter().map(|(_, m)| m).collect()
    }
}

impl Session {
    pub(super) fn emit_slot(&self, slot: &Slot) {
        self.emit(CallEvent::Peer(slot.view(self.frames().as_ref())));
    }

    /// A member is in the room: someone we know, a participant who
    /// reconnected (grace period), or someone new.
    pub(super) fn member_appeared(self: &Rc<Self>, member: &Member, role: Role) {
        if Some(&member.id) == self.my_id().as_ref() {
            return;
        }
        if let Some(slot) = self.roster.by_id(&member.id) {
            slot.detached.set(false);
            if slot.name.borrow().is_empty() {
                slot.set_name(member.name.clone());
                self.emit_slot(&slot);
            }
            return;
        }
        let roster = &self.roster;
        if roster
            .pending
            .borrow()
            .iter()
            .any(|p| p.member.id == member.id)
        {
            return;
        }
        let maybe_reconnected = roster
            .all()
            .iter()
            .any(|s| s.detached.get() && *s.name.borrow() == member.name);
        if maybe_reconnected {
            let weak = Rc::downgrade(self);
            let id = member.id.clone();
            let timer = Timeout::new(REKEY_GRACE_MS, move || {
                if let Some(session) = weak.upgrade() {
                    session.grace_expired(&id);
                }
            });
            roster.pending.borrow_mut().push(Pending {
                member: member.clone(),
                role,
                _timer: timer,
            });
        } else {
            self.add_slot(member, role);
        }
    }

    fn grace_expired(self: &Rc<Self>, id: &PeerId) {
        if let Some(pending) = self.roster.take_pending(id) {
            if !self.ended() && self.roster.by_id(id).is_none() {
                self.add_slot(&pending.member, pending.role);
            }
        }
    }

    /// A new participant: an initiator connects now, a responder waits for
    /// their offer (and makes one itself if none comes).
    pub(super) fn add_slot(self: &Rc<Self>, member: &Member, role: Role) -> Rc<Slot> {
        let slot = self.roster.add(member);
        match role {
            Role::Initiator => self.connect(&slot, Role::Initiator),
            Role::Responder => {
                let weak_session = Rc::downgrade(self);
                let weak_slot = Rc::downgrade(&slot);
                *slot.fallback.borrow_mut() =
                    Some(Timeout::new(RESPONDER_FALLBACK_MS, move || {
                        if let (Some(session), Some(slot)) =
                            (weak_session.upgrade(), weak_slot.upgrade())
                        {
                            if slot.peer.borrow().is_none() && !session.ended() {
                                session.connect(&slot, Role::Initiator);
                            }
                        }
                    }));
            }
        }
        self.emit_slot(&slot);
        for message in self.roster.take_early(&slot.id()) {
            self.on_message(message);
        }
        slot
    }

    /// Gives `slot` a fresh connection (closing any old one): a browser
    /// `RTCPeerConnection`, or a native peer when the shell carries the call.
    pub(super) fn connect(self: &Rc<Self>, slot: &Rc<Slot>, role: Role) {
        let Some(link) = self.link() else { return };
        let me = link.my_id().unwrap_or_else(|| PeerId::new(""));
        let polite = me > *slot.id.borrow();
        let weak_session = Rc::downgrade(self);
        let key = slot.key;
        let on_event = move |event| {
            if let Some(session) = weak_session.upgrade() {
                session.on_peer_event(key, event);
            }
        };
        let conn = match link.native() {
            Some(shell) => Conn::Native(NativePeer::open(
                &shell,
                link.ice_servers(),
                negotiation::offers_first(role),
                on_event,
            )),
            None => {
                let preferences = self.local.preferences();
                match Peer::new(
                    &link.ice_servers(),
                    polite,
                    role,
                    self.local.tracks(),
                    sdp::start_kbps(preferences.size, preferences.frame_rate),
                    on_event,
                ) {
                    Ok(peer) => Conn::Web(peer),
                    Err(error) => {
                        gloo::console::error!(format!(
                            "RTCPeerConnection failed: {}",
                            js::describe(&error)
                        ));
                        self.emit_slot(slot);
                        return;
                    }
                }
            }
        };
        slot.fallback.borrow_mut().take();
        slot.heard.set(js_sys::Date::now());
        slot.quiet.set(false);
        if conn.is_native() {
            self.watch_liveness();
        }
        if let Some(old) = slot.peer.borrow_mut().replace(conn) {
            old.close();
        }
        self.emit_slot(slot);
    }

    pub(super) fn on_offer(self: &Rc<Self>, from: PeerId, offer: serde_json::Value) {
        let slot = match self.roster.by_id(&from) {
            Some(slot) => slot,
            None => {
                // An offer ends any grace period: they chose a new connection.
                let member = match self.roster.take_pending(&from) {
                    Some(pending) => pending.member,
                    None if self.accepts_strangers() => Member {
                        id: from.clone(),
                        name: String::new(),
                    },
                    None => return,
                };
                self.add_slot(&member, Role::Responder)
            }
        };
        let replace = match slot.peer() {
            None => true,
            // Glare with a native peer, which can't roll back its offer.
            Some(peer) if peer.native_offer_pending() => {
                let me = self.my_id().unwrap_or_else(|| PeerId::new(""));
                match negotiation::on_colliding_offer(me.as_str(), from.as_str()) {
                    Glare::Yield => true,
                    Glare::Ignore => return,
                }
            }
            Some(peer) => {
                let incoming = offer
                    .get("sdp")
                    .and_then(|s| s.as_str())
                    .and_then(sdp::session_id)
                    .map(str::to_owned);
                peer.remote_session()
                    .is_some_and(|known| Some(known) != incoming)
            }
        };
        if replace {
            self.connect(&slot, Role::Responder);
        }
        if let Some(peer) = slot.peer() {
            peer.deliver(Incoming::Description(offer));
        }
    }

    /// Offers from ids we don't know are accepted in rooms (the server only
    /// relays between members) and from the partner of a direct call.
    fn accepts_strangers(&self) -> bool {
        matches!(self.target, CallTarget::Room(_)) && self.phase() == CallPhase::Joined
    }

    /// Hands an answer or candidate to its connection, or keeps it for a
    /// slot still to come (`keep` rebuilds the message to replay).
    pub(super) fn deliver(
        &self,
        from: PeerId,
        message: Incoming,
        keep: impl FnOnce(PeerId, serde_json::Value) -> ServerMessage,
    ) {
        match self.roster.by_id(&from).and_then(|s| s.peer()) {
            Some(peer) => peer.deliver(message),
            None => {
                // Candidates can outrun the offer that needs them.
                let value = match message {
                    Incoming::Description(v) | Incoming::Candidate(v) => v,
                };
                self.roster.keep_early(from.clone(), keep(from, value));
            }
        }
    }

    /// The server says they're gone. If our connection to them is up, they
    /// may only have lost the server: keep the call going.
    pub(super) fn detach(self: &Rc<Self>, slot: &Rc<Slot>) {
        let connected = slot
            .peer()
            .is_some_and(|p| p.channel_open() || p.state() == ConnState::Connected);
        if connected {
            slot.detached.set(true);
        } else {
            self.remove_slot(slot.key, true);
        }
    }

    /// Drops a participant's slot and connection. `left`: they are gone
    /// from the call (the page says so), not merely replaced by another slot.
    pub(super) fn remove_slot(&self, key: u32, left: bool) {
        if let Some(slot) = self.roster.remove(key) {
            self.end_transfers_with(key);
            if let Some(peer) = slot.disconnect() {
                peer.close();
            }
            self.emit(CallEvent::PeerGone { key, left });
        }
    }

    /// A participant we're connected to has a new signaling id.
    pub(super) fn readdress(self: &Rc<Self>, slot: &Rc<Slot>, id: PeerId) {
        *slot.id.borrow_mut() = id.clone();
        slot.detached.set(false);
        // The id may already be waiting out its grace period, or (if that
        // ran out first) have a slot of its own: this one, connected, wins.
        self.roster.forget_pending(&id);
        let duplicates: Vec<u32> = self
            .roster
            .all()
            .iter()
            .filter(|s| s.key != slot.key && *s.id.borrow() == id)
            .map(|s| s.key)
            .collect();
        for key in duplicates {
            self.remove_slot(key, false);
        }
        // The direct-call partner changed address: ring it so the server
        // relays between us again.
        if self.link().is_some_and(|link| link.is_up()) {
            self.recall_partner();
        }
    }
}
