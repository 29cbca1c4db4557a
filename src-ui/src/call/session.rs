//! One call: a room (everyone connected to everyone, one
//! `RTCPeerConnection` per remote participant) or a direct call by id.
//!
//! # Surviving the signaling server
//!
//! Peer connections carry media browser to browser, so a dropped signaling
//! socket must not end a call. When the socket comes back the server gives
//! us a *new* id, and so it does to anyone else who reconnected; a room
//! rejoin then looks, to everyone, like a new member. Tearing down a
//! working connection for that would cut the call, so:
//!
//! - each participant has a stable local *slot* (`key`); the signaling id is
//!   just its current address, and can change;
//! - `peer_left` for a participant whose connection is up only marks the
//!   slot *detached*: the call goes on. It is dropped when the connection
//!   itself dies (data channel closed, ICE failed) or they say `bye`;
//! - after every welcome, each client announces its new id to everyone it is
//!   connected to over the data channel (`hello`), which re-addresses the
//!   slot on the other side;
//! - a "new member" whose name matches a detached slot is given a short
//!   grace period to be claimed by such an announcement before we treat it
//!   as a stranger and connect afresh; a member that is really new (no
//!   detached slot has their name) is connected at once;
//! - if, despite this, the other side does start a new connection, its offer
//!   carries another SDP session id (`o=` line) than the connection we have,
//!   and we replace ours with a fresh one rather than fail the negotiation.
//!
//! A direct call is re-established the same way: the caller rings the
//! callee's new id, and the callee's engine accepts a ring from its current
//! partner without asking (see `Engine::on_message`).

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use gloo::timers::callback::Timeout;
use peercall_signal::protocol::{ClientMessage, ErrorCode, Member, PeerId, ServerMessage};
use web_sys::MediaStreamTrack;
use yew::Callback;

use super::chat::{self, ChatLine, PeerMessage};
use super::media::{self, DeviceError, LocalMedia, MediaPreferences};
use super::peer::{ConnState, Incoming, LocalTracks, Peer, PeerEvent, PeerStats, Role};
use super::{
    js, sdp, CallEvent, CallPhase, CallTarget, DirectRole, EndReason, Engine, EngineInner,
    LocalView, PeerView,
};

/// How long a member that may be a reconnected participant waits to be
/// claimed over the data channel before getting a connection of its own.
const REKEY_GRACE_MS: u32 = 3_000;
/// A responder that has seen no offer this long makes one itself.
const RESPONDER_FALLBACK_MS: u32 = 5_000;
/// How long goodbyes get to leave before the connections close.
const BYE_GRACE_MS: u32 = 150;
/// Signaling messages kept for ids we don't know yet.
const MAX_EARLY: usize = 200;

/// How a call starts.
#[derive(Clone, Debug, PartialEq)]
pub struct CallOptions {
    /// Our display name.
    pub name: String,
    /// Which devices to open, and how.
    pub preferences: MediaPreferences,
    /// Join with the microphone muted.
    pub start_muted: bool,
    /// Join with the camera off.
    pub start_camera_off: bool,
    /// The room's password, when it has one.
    pub password: Option<String>,
}

/// One remote participant.
struct Slot {
    key: u32,
    id: RefCell<PeerId>,
    name: RefCell<String>,
    peer: RefCell<Option<Peer>>,
    fallback: RefCell<Option<Timeout>>,
    audio_muted: Cell<bool>,
    video_muted: Cell<bool>,
    /// The server says they left, but our connection to them is up.
    detached: Cell<bool>,
}

/// A member waiting out [`REKEY_GRACE_MS`].
struct Pending {
    member: Member,
    role: Role,
    _timer: Timeout,
}

pub(super) struct Session {
    engine: Weak<EngineInner>,
    target: CallTarget,
    options: CallOptions,
    /// Devices in use; starts as `options.preferences`, changes when the
    /// user picks another camera or microphone during the call.
    preferences: RefCell<MediaPreferences>,
    on_event: Callback<CallEvent>,
    started_at: f64,
    phase: RefCell<CallPhase>,
    media: RefCell<Option<LocalMedia>>,
    opening: Cell<bool>,
    mic_muted: Cell<bool>,
    camera_on: Cell<bool>,
    camera_error: Cell<Option<DeviceError>>,
    slots: RefCell<Vec<Rc<Slot>>>,
    next_key: Cell<u32>,
    pending: RefCell<Vec<Pending>>,
    early: RefCell<Vec<(PeerId, ServerMessage)>>,
    chat_seq: Cell<u64>,
    /// The direct-call partner's name, once they told it (or the ring did).
    partner_name: RefCell<Option<String>>,
    /// When milestones were reached (`performance.now()`), for the debug hook.
    milestones: RefCell<Vec<(&'static str, f64)>>,
}

impl Session {
    pub(super) fn new(
        engine: Weak<EngineInner>,
        target: CallTarget,
        options: CallOptions,
        on_event: Callback<CallEvent>,
    ) -> Rc<Self> {
        let partner_name = match &target {
            CallTarget::Direct { name, .. } => name.clone().filter(|n| !n.is_empty()),
            CallTarget::Room(_) => None,
        };
        Rc::new(Self {
            engine,
            mic_muted: Cell::new(options.start_muted),
            camera_on: Cell::new(!options.start_camera_off),
            target,
            preferences: RefCell::new(options.preferences.clone()),
            options,
            on_event,
            started_at: js::now(),
            phase: RefCell::new(CallPhase::Preparing),
            media: RefCell::new(None),
            opening: Cell::new(true),
            camera_error: Cell::new(None),
            slots: RefCell::new(Vec::new()),
            next_key: Cell::new(1),
            pending: RefCell::new(Vec::new()),
            early: RefCell::new(Vec::new()),
            chat_seq: Cell::new(0),
            partner_name: RefCell::new(partner_name),
            milestones: RefCell::new(Vec::new()),
        })
    }

    fn engine(&self) -> Option<Engine> {
        self.engine.upgrade().map(Engine)
    }

    fn send(&self, message: ClientMessage) -> bool {
        self.engine().is_some_and(|e| e.send(&message))
    }

    fn my_id(&self) -> Option<PeerId> {
        self.engine().and_then(|e| e.my_id())
    }

    fn emit(&self, event: CallEvent) {
        self.on_event.emit(event);
    }

    fn phase(&self) -> CallPhase {
        self.phase.borrow().clone()
    }

    fn set_phase(&self, phase: CallPhase) {
        if *self.phase.borrow() == phase {
            return;
        }
        *self.phase.borrow_mut() = phase.clone();
        self.emit(CallEvent::Phase(phase));
    }

    fn ended(&self) -> bool {
        matches!(*self.phase.borrow(), CallPhase::Ended(_))
    }

    fn milestone(&self, name: &'static str) {
        let mut milestones = self.milestones.borrow_mut();
        if !milestones.iter().any(|(n, _)| *n == name) {
            milestones.push((name, js::now()));
        }
    }

    /// Milestones reached, in ms since the start (debug hook).
    pub(super) fn debug_milestones(&self) -> Vec<(&'static str, f64)> {
        self.milestones
            .borrow()
            .iter()
            .map(|(n, at)| (*n, at - self.started_at))
            .collect()
    }

    /// When the call started (`performance.now()`), for the join-time figure.
    pub(super) fn started_at(&self) -> f64 {
        self.started_at
    }

    /// Joins at once (the server connection is usually up already) while
    /// the devices open, or are taken over from the preview the person was
    /// looking at. Connections made before the devices are ready carry
    /// empty senders on the call's own stream, and the tracks are swapped in
    /// when they arrive (`replaceTrack`, no renegotiation), so opening a
    /// camera never delays meeting the others.
    pub(super) fn start(self: &Rc<Self>) {
        *self.media.borrow_mut() = Some(LocalMedia::pending());
        self.emit(CallEvent::Phase(CallPhase::Preparing));
        self.emit_local();
        self.begin();
        let session = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            // Joining with the camera off doesn't open it at all (no light).
            let mut preferences = session.preferences.borrow().clone();
            preferences.want_camera = session.camera_on.get();
            let handed_over = session
                .engine()
                .and_then(|engine| engine.take_handed_over(&preferences));
            let mut local = match handed_over {
                Some(local) => local,
                None => media::acquire_with(&preferences).await,
            };
            if !preferences.want_camera {
                local.camera_error = None;
            }
            if session.ended() {
                local.stop();
                return;
            }
            if let Some(media) = session.media.borrow_mut().as_mut() {
                for track in js::items::<MediaStreamTrack>(&local.stream.get_tracks()) {
                    if track.kind() == "audio" {
                        track.set_enabled(!session.mic_muted.get());
                    }
                    media.stream.add_track(&track);
                }
                media.mic_error = local.mic_error;
                if let Some(engine) = session.engine() {
                    engine.opened(&media.stream);
                }
            }
            session.camera_error.set(local.camera_error);
            session.opening.set(false);
            session.milestone("media");
            session.update_tracks();
            session.announce_media();
        });
    }

    /// Joins (first time) or rejoins (after a reconnect) once both the
    /// devices and the server are ready.
    fn begin(self: &Rc<Self>) {
        if self.ended() || self.my_id().is_none() {
            return;
        }
        match &self.target {
            CallTarget::Room(room) => {
                self.milestone("join_sent");
                self.send(ClientMessage::JoinRoom {
                    room: room.clone(),
                    name: self.options.name.clone(),
                    password: self.options.password.clone(),
                });
            }
            CallTarget::Direct { peer, name, role } => match (role, self.phase()) {
                (DirectRole::Caller, CallPhase::Preparing)
                    if self.send(ClientMessage::Call {
                        to: peer.clone(),
                        name: Some(self.options.name.clone()),
                    }) =>
                {
                    self.set_phase(CallPhase::Ringing);
                }
                (DirectRole::Callee, CallPhase::Preparing) => {
                    let member = Member {
                        id: peer.clone(),
                        name: name.clone().unwrap_or_default(),
                    };
                    self.add_slot(&member, Role::Responder);
                    if self.send(ClientMessage::Accept {
                        to: peer.clone(),
                        name: Some(self.options.name.clone()).filter(|n| !n.is_empty()),
                    }) {
                        self.set_phase(CallPhase::Joined);
                    }
                }
                (DirectRole::Caller, CallPhase::Joined) => self.recall_partner(),
                _ => {}
            },
        }
    }

    /// Called on every welcome: tell the people we are connected to our new
    /// id, then rejoin.
    pub(super) fn on_welcome(self: &Rc<Self>) {
        if self.ended() {
            return;
        }
        self.say_hello_to_all();
        self.begin();
        // Connections that broke while we couldn't signal get their ICE
        // restart (or their unanswered offer) now.
        for slot in self.slots() {
            if let Some(peer) = slot.peer.borrow().clone() {
                if matches!(peer.state(), ConnState::Failed | ConnState::Reconnecting) {
                    peer.restart();
                }
            }
        }
    }

    /// Whether this is a direct call still going on.
    pub(super) fn in_direct_call(&self) -> bool {
        matches!(self.target, CallTarget::Direct { .. }) && !self.ended()
    }

    /// Whether `id` is the person we are in a direct call with.
    pub(super) fn is_partner(&self, id: &PeerId) -> bool {
        matches!(self.target, CallTarget::Direct { .. })
            && !self.ended()
            && self.slots().iter().any(|s| *s.id.borrow() == *id)
    }

    /// After a reconnect the server forgot our direct call: the caller
    /// rings the partner's current id again (accepted without a prompt).
    fn recall_partner(&self) {
        if let CallTarget::Direct {
            role: DirectRole::Caller,
            ..
        } = self.target
        {
            if let Some(slot) = self.slots().first() {
                let to = slot.id.borrow().clone();
                self.send(ClientMessage::Call {
                    to,
                    name: Some(self.options.name.clone()),
                });
            }
        }
    }

    pub(super) fn on_message(self: &Rc<Self>, message: ServerMessage) {
        if self.ended() {
            return;
        }
        match message {
            ServerMessage::RoomJoined { members, .. } => {
                self.milestone("room_joined");
                self.set_phase(CallPhase::Joined);
                // Anyone we're connected to who isn't in the room under the
                // id we know is detached until they announce a new one.
                for slot in self.slots() {
                    let id = slot.id.borrow().clone();
                    if !members.iter().any(|m| m.id == id) {
                        self.detach(&slot);
                    }
                }
                for member in &members {
                    self.member_appeared(member, Role::Initiator);
                }
            }
            ServerMessage::PeerJoined { peer, .. } => self.member_appeared(&peer, Role::Responder),
            ServerMessage::PeerLeft { id, .. } => {
                self.pending.borrow_mut().retain(|p| p.member.id != id);
                if let Some(slot) = self.slot_by_id(&id) {
                    self.detach(&slot);
                }
            }
            ServerMessage::Offer { from, offer } => self.on_offer(from, offer),
            ServerMessage::Answer { from, answer } => {
                self.milestone("answer_received");
                self.deliver(from, Incoming::Description(answer), |from, answer| {
                    ServerMessage::Answer { from, answer }
                })
            }
            ServerMessage::Candidate { from, candidate } => {
                self.deliver(from, Incoming::Candidate(candidate), |from, candidate| {
                    ServerMessage::Candidate { from, candidate }
                })
            }
            ServerMessage::Ringing { from, name }
                if self.phase() == CallPhase::Ringing && self.is_direct_with(&from) =>
            {
                self.partner_named(Some(name));
            }
            ServerMessage::Accepted { from, name } => {
                if let CallTarget::Direct {
                    peer,
                    role: DirectRole::Caller,
                    ..
                } = &self.target
                {
                    if self.phase() == CallPhase::Ringing && from == *peer {
                        self.partner_named(name);
                        let member = Member {
                            id: from,
                            name: self.partner_name.borrow().clone().unwrap_or_default(),
                        };
                        self.add_slot(&member, Role::Initiator);
                        self.set_phase(CallPhase::Joined);
                    }
                }
            }
            ServerMessage::Declined { from, name }
                if self.is_direct_with(&from) && self.phase() == CallPhase::Ringing =>
            {
                self.partner_named(name);
                self.end(EndReason::Declined);
            }
            ServerMessage::HungUp { from } if self.is_direct_with(&from) => {
                self.end(EndReason::HungUp);
            }
            ServerMessage::PeerMediaState {
                from,
                audio_muted,
                video_muted,
            } => {
                if let Some(slot) = self.slot_by_id(&from) {
                    slot.audio_muted.set(audio_muted);
                    slot.video_muted.set(video_muted);
                    self.emit_slot(&slot);
                }
            }
            ServerMessage::Error { code, message } => {
                gloo::console::warn!(format!("signaling error {code}: {message}"));
                match code {
                    ErrorCode::RoomFull => self.end(EndReason::RoomFull),
                    ErrorCode::WrongPassword => self.end(EndReason::WrongPassword),
                    ErrorCode::TooManyAttempts => self.end(EndReason::TooManyAttempts),
                    ErrorCode::VersionMismatch => self.end(EndReason::VersionMismatch),
                    ErrorCode::InvalidName | ErrorCode::InvalidRoom => self.end(EndReason::Refused),
                    ErrorCode::UnknownPeer if self.phase() == CallPhase::Ringing => {
                        self.end(EndReason::Unreachable)
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }

    /// The direct-call partner told us their name: the page shows it.
    fn partner_named(&self, name: Option<String>) {
        let Some(name) = name.and_then(|n| chat::clean(&n)) else {
            return;
        };
        if self.partner_name.borrow().as_ref() != Some(&name) {
            *self.partner_name.borrow_mut() = Some(name.clone());
            self.emit(CallEvent::PartnerName(name));
        }
    }

    fn is_direct_with(&self, id: &PeerId) -> bool {
        match &self.target {
            CallTarget::Direct { peer, .. } => {
                peer == id || self.slots().iter().any(|s| *s.id.borrow() == *id)
            }
            CallTarget::Room(_) => false,
        }
    }

    fn slots(&self) -> Vec<Rc<Slot>> {
        self.slots.borrow().clone()
    }

    fn slot_by_id(&self, id: &PeerId) -> Option<Rc<Slot>> {
        self.slots
            .borrow()
            .iter()
            .find(|s| *s.id.borrow() == *id)
            .cloned()
    }

    fn slot_by_key(&self, key: u32) -> Option<Rc<Slot>> {
        self.slots.borrow().iter().find(|s| s.key == key).cloned()
    }

    /// A member is in the room: someone we know, a participant who
    /// reconnected (grace period), or someone new.
    fn member_appeared(self: &Rc<Self>, member: &Member, role: Role) {
        if Some(&member.id) == self.my_id().as_ref() {
            return;
        }
        if let Some(slot) = self.slot_by_id(&member.id) {
            slot.detached.set(false);
            if slot.name.borrow().is_empty() {
                *slot.name.borrow_mut() = member.name.clone();
                self.emit_slot(&slot);
            }
            return;
        }
        if self
            .pending
            .borrow()
            .iter()
            .any(|p| p.member.id == member.id)
        {
            return;
        }
        let maybe_reconnected = self
            .slots()
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
            self.pending.borrow_mut().push(Pending {
                member: member.clone(),
                role,
                _timer: timer,
            });
        } else {
            self.add_slot(member, role);
        }
    }

    fn grace_expired(self: &Rc<Self>, id: &PeerId) {
        let pending = {
            let mut all = self.pending.borrow_mut();
            all.iter()
                .position(|p| p.member.id == *id)
                .map(|i| all.remove(i))
        };
        if let Some(pending) = pending {
            if !self.ended() && self.slot_by_id(id).is_none() {
                self.add_slot(&pending.member, pending.role);
            }
        }
    }

    /// A new participant: an initiator connects now, a responder waits for
    /// their offer (and makes one itself if none comes).
    fn add_slot(self: &Rc<Self>, member: &Member, role: Role) -> Rc<Slot> {
        let key = self.next_key.get();
        self.next_key.set(key + 1);
        let slot = Rc::new(Slot {
            key,
            id: RefCell::new(member.id.clone()),
            name: RefCell::new(member.name.clone()),
            peer: RefCell::new(None),
            fallback: RefCell::new(None),
            audio_muted: Cell::new(false),
            video_muted: Cell::new(false),
            detached: Cell::new(false),
        });
        self.slots.borrow_mut().push(slot.clone());
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
        self.replay_early(&slot);
        slot
    }

    /// Gives `slot` a fresh peer connection (closing any old one).
    fn connect(self: &Rc<Self>, slot: &Rc<Slot>, role: Role) {
        let Some(engine) = self.engine() else { return };
        let me = engine.my_id().unwrap_or_else(|| PeerId::new(""));
        let polite = me > *slot.id.borrow();
        let weak_session = Rc::downgrade(self);
        let key = slot.key;
        let on_event = move |event| {
            if let Some(session) = weak_session.upgrade() {
                session.on_peer_event(key, event);
            }
        };
        let preferences = self.preferences.borrow().clone();
        match Peer::new(
            &engine.ice_servers(),
            polite,
            role,
            self.local_tracks(),
            sdp::start_kbps(preferences.size, preferences.frame_rate),
            on_event,
        ) {
            Ok(peer) => {
                slot.fallback.borrow_mut().take();
                if let Some(old) = slot.peer.borrow_mut().replace(peer) {
                    old.close();
                }
            }
            Err(error) => gloo::console::error!(format!(
                "RTCPeerConnection failed: {}",
                js::describe(&error)
            )),
        }
        self.emit_slot(slot);
    }

    fn on_offer(self: &Rc<Self>, from: PeerId, offer: serde_json::Value) {
        let slot = match self.slot_by_id(&from) {
            Some(slot) => slot,
            None => {
                // An offer ends any grace period: they chose a new connection.
                let pending = {
                    let mut all = self.pending.borrow_mut();
                    all.iter()
                        .position(|p| p.member.id == from)
                        .map(|i| all.remove(i))
                };
                let member = match pending {
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
        let current = slot.peer.borrow().clone();
        let replace = match &current {
            None => true,
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
        let peer = slot.peer.borrow().clone();
        if let Some(peer) = peer {
            peer.deliver(Incoming::Description(offer));
        }
    }

    /// Offers from ids we don't know are accepted in rooms (the server only
    /// relays between members) and from the partner of a direct call.
    fn accepts_strangers(&self) -> bool {
        matches!(self.target, CallTarget::Room(_)) && self.phase() == CallPhase::Joined
    }

    fn deliver(
        &self,
        from: PeerId,
        message: Incoming,
        keep: impl FnOnce(PeerId, serde_json::Value) -> ServerMessage,
    ) {
        let peer = self.slot_by_id(&from).and_then(|s| s.peer.borrow().clone());
        match peer {
            Some(peer) => peer.deliver(message),
            None => {
                // Candidates can outrun the offer that needs them.
                let value = match message {
                    Incoming::Description(v) | Incoming::Candidate(v) => v,
                };
                let mut early = self.early.borrow_mut();
                if early.len() < MAX_EARLY {
                    early.push((from.clone(), keep(from, value)));
                }
            }
        }
    }

    fn replay_early(self: &Rc<Self>, slot: &Rc<Slot>) {
        let id = slot.id.borrow().clone();
        let mine: Vec<ServerMessage> = {
            let mut early = self.early.borrow_mut();
            let (mine, rest): (Vec<_>, Vec<_>) = early.drain(..).partition(|(from, _)| *from == id);
            *early = rest;
            mine.into_iter().map(|(_, m)| m).collect()
        };
        for message in mine {
            self.on_message(message);
        }
    }

    /// The server says they're gone. If our connection to them is up, they
    /// may only have lost the server: keep the call going.
    fn detach(self: &Rc<Self>, slot: &Rc<Slot>) {
        let connected = slot
            .peer
            .borrow()
            .as_ref()
            .is_some_and(|p| p.channel_open() || p.state() == ConnState::Connected);
        if connected {
            slot.detached.set(true);
        } else {
            self.remove_slot(slot.key, true);
        }
    }

    /// Drops a participant's slot and connection. `left`: they are gone
    /// from the call (the page says so), not merely replaced by another slot.
    fn remove_slot(&self, key: u32, left: bool) {
        let slot = {
            let mut slots = self.slots.borrow_mut();
            slots
                .iter()
                .position(|s| s.key == key)
                .map(|i| slots.remove(i))
        };
        if let Some(slot) = slot {
            slot.fallback.borrow_mut().take();
            if let Some(peer) = slot.peer.borrow_mut().take() {
                peer.close();
            }
            self.emit(CallEvent::PeerGone { key, left });
        }
    }

    fn on_peer_event(self: &Rc<Self>, key: u32, event: PeerEvent) {
        let Some(slot) = self.slot_by_key(key) else {
            return;
        };
        if self.ended() {
            return;
        }
        let to = Some(slot.id.borrow().clone());
        match event {
            PeerEvent::Offer(offer) => {
                self.milestone("offer_sent");
                self.send(ClientMessage::Offer { to, offer });
            }
            PeerEvent::Answer(answer) => {
                self.send(ClientMessage::Answer { to, answer });
            }
            PeerEvent::Candidate(candidate) => {
                self.send(ClientMessage::Candidate { to, candidate });
            }
            PeerEvent::State(state) => {
                if state == ConnState::Connected {
                    self.milestone("connected");
                }
                if state == ConnState::Failed && slot.detached.get() {
                    // Gone from the server and from the network: they left.
                    self.remove_slot(key, true);
                } else {
                    self.emit_slot(&slot);
                }
            }
            PeerEvent::FirstFrame => {
                self.milestone("first_frame");
                self.emit_slot(&slot);
            }
            PeerEvent::Track => {
                self.milestone("track");
                self.emit_slot(&slot);
            }
            PeerEvent::ChannelOpen => {
                self.say_hello(&slot);
                self.emit_slot(&slot);
            }
            PeerEvent::ChannelClosed => {
                // The channel only closes when the other side closed its
                // connection (hung up, closed the page): they left, whether
                // or not the server has said so yet. (A connection we
                // replace ourselves reports nothing.)
                self.remove_slot(key, true);
            }
            PeerEvent::Message(message) => self.on_peer_message(&slot, message),
        }
    }

    fn on_peer_message(self: &Rc<Self>, slot: &Rc<Slot>, message: PeerMessage) {
        match message {
            PeerMessage::Hello {
                id,
                name,
                audio_muted,
                video_muted,
            } => {
                if let Some(name) = chat::clean(&name) {
                    *slot.name.borrow_mut() = name;
                }
                slot.audio_muted.set(audio_muted);
                slot.video_muted.set(video_muted);
                if let Some(id) = id {
                    if *slot.id.borrow() != id {
                        self.readdress(slot, id);
                    }
                }
                self.emit_slot(slot);
            }
            PeerMessage::Chat { text } => {
                let line = ChatLine {
                    seq: self.next_chat_seq(),
                    from: Some(slot.key),
                    name: slot.name.borrow().clone(),
                    text,
                    at: js_sys::Date::now(),
                };
                self.emit(CallEvent::Chat(line));
            }
            PeerMessage::Media {
                audio_muted,
                video_muted,
            } => {
                slot.audio_muted.set(audio_muted);
                slot.video_muted.set(video_muted);
                self.emit_slot(slot);
            }
            PeerMessage::Bye => self.remove_slot(slot.key, true),
        }
    }

    /// A participant we're connected to has a new signaling id.
    fn readdress(self: &Rc<Self>, slot: &Rc<Slot>, id: PeerId) {
        *slot.id.borrow_mut() = id.clone();
        slot.detached.set(false);
        // The id may already be waiting out its grace period, or (if that
        // ran out first) have a slot of its own: this one, connected, wins.
        self.pending.borrow_mut().retain(|p| p.member.id != id);
        let duplicates: Vec<u32> = self
            .slots()
            .iter()
            .filter(|s| s.key != slot.key && *s.id.borrow() == id)
            .map(|s| s.key)
            .collect();
        for key in duplicates {
            self.remove_slot(key, false);
        }
        // The direct-call partner changed address: ring it so the server
        // relays between us again.
        if self
            .engine()
            .is_some_and(|e| e.0.signaling.borrow().as_ref().is_some_and(|s| s.is_up()))
        {
            self.recall_partner();
        }
    }

    fn next_chat_seq(&self) -> u64 {
        let seq = self.chat_seq.get() + 1;
        self.chat_seq.set(seq);
        seq
    }

    fn hello(&self) -> PeerMessage {
        let view = self.local_view();
        PeerMessage::Hello {
            id: self.my_id(),
            name: self.options.name.clone(),
            audio_muted: view.audio_muted,
            video_muted: view.video_muted,
        }
    }

    fn say_hello(&self, slot: &Slot) {
        if let Some(peer) = slot.peer.borrow().as_ref() {
            peer.send(&self.hello());
        }
    }

    fn say_hello_to_all(&self) {
        for slot in self.slots() {
            self.say_hello(&slot);
        }
    }

    fn local_tracks(&self) -> LocalTracks {
        let media = self.media.borrow();
        let Some(media) = media.as_ref() else {
            return LocalTracks::default();
        };
        LocalTracks {
            stream: Some(Clone::clone(&media.stream)),
            audio: media.audio_track(),
            video: media.video_track().filter(|_| self.camera_on.get()),
        }
    }

    fn local_view(&self) -> LocalView {
        let media = self.media.borrow();
        let has_audio = media.as_ref().and_then(LocalMedia::audio_track).is_some();
        let has_video = media.as_ref().and_then(LocalMedia::video_track).is_some();
        LocalView {
            stream: media.as_ref().map(|m| Clone::clone(&m.stream)),
            audio_muted: self.mic_muted.get() || !has_audio,
            video_muted: !self.camera_on.get() || !has_video,
            mic_error: media.as_ref().and_then(|m| m.mic_error),
            camera_error: self.camera_error.get(),
            opening: self.opening.get(),
        }
    }

    fn emit_local(&self) {
        self.emit(CallEvent::Local(self.local_view()));
    }

    fn emit_slot(&self, slot: &Slot) {
        let peer = slot.peer.borrow().clone();
        let view = PeerView {
            key: slot.key,
            id: slot.id.borrow().clone(),
            name: slot.name.borrow().clone(),
            state: peer.as_ref().map_or(ConnState::Connecting, Peer::state),
            stream: peer.as_ref().map(Peer::remote_stream),
            audio_muted: slot.audio_muted.get(),
            video_muted: slot.video_muted.get(),
        };
        self.emit(CallEvent::Peer(view));
    }

    /// Tells everyone our mute state: over the data channels (works without
    /// the server) and through the server (reaches connections still opening).
    fn announce_media(&self) {
        let view = self.local_view();
        let message = PeerMessage::Media {
            audio_muted: view.audio_muted,
            video_muted: view.video_muted,
        };
        for slot in self.slots() {
            if let Some(peer) = slot.peer.borrow().as_ref() {
                peer.send(&message);
            }
        }
        self.send(ClientMessage::MediaState {
            audio_muted: view.audio_muted,
            video_muted: view.video_muted,
        });
        self.emit_local();
    }

    pub(super) fn set_mic_muted(&self, muted: bool) {
        if self.ended() {
            return;
        }
        self.mic_muted.set(muted);
        if let Some(track) = self
            .media
            .borrow()
            .as_ref()
            .and_then(LocalMedia::audio_track)
        {
            track.set_enabled(!muted);
        }
        self.announce_media();
    }

    /// Camera off stops the track (the camera light goes off) and sends
    /// nothing; camera on reopens it and swaps it into every connection.
    pub(super) fn set_camera_on(self: &Rc<Self>, on: bool) {
        if self.ended() || self.opening.get() {
            return;
        }
        self.camera_on.set(on);
        if !on {
            let media = self.media.borrow().clone();
            if let Some(media) = media {
                if let Some(track) = media.video_track() {
                    track.stop();
                    media.stream.remove_track(&track);
                }
            }
            self.update_tracks();
            self.announce_media();
            return;
        }
        if self
            .media
            .borrow()
            .as_ref()
            .and_then(LocalMedia::video_track)
            .is_some()
        {
            self.announce_media();
            return;
        }
        self.opening.set(true);
        self.emit_local();
        let session = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let preferences = session.preferences.borrow().clone();
            let result = media::camera_with(&preferences).await;
            session.opening.set(false);
            match result {
                Ok(track) if !session.ended() && session.camera_on.get() => {
                    session.camera_error.set(None);
                    if let Some(media) = session.media.borrow().as_ref() {
                        media.stream.add_track(&track);
                        if let Some(engine) = session.engine() {
                            engine.opened(&media.stream);
                        }
                    }
                }
                Ok(track) => track.stop(),
                Err(error) => {
                    session.camera_error.set(Some(error));
                    session.camera_on.set(false);
                }
            }
            session.update_tracks();
            session.announce_media();
        });
    }

    /// Moves the call to another camera and/or microphone: the new track is
    /// opened, swapped into every connection with `replaceTrack` (no
    /// renegotiation, the call never drops), and the old one is released.
    pub(super) fn switch_devices(self: &Rc<Self>, next: MediaPreferences) {
        if self.ended() {
            return;
        }
        let previous = self.preferences.replace(next.clone());
        let media = self.media.borrow().clone();
        let Some(media) = media else { return };
        let new_camera = next.camera != previous.camera && media.video_track().is_some();
        let new_microphone =
            next.microphone != previous.microphone && media.audio_track().is_some();
        if !new_camera && !new_microphone {
            return;
        }
        let session = self.clone();
        let next = MediaPreferences {
            exact_devices: true,
            ..next
        };
        wasm_bindgen_futures::spawn_local(async move {
            let mut swapped = false;
            if new_camera {
                match media::camera_with(&next).await {
                    Ok(track) if !session.ended() && session.camera_on.get() => {
                        if let Some(old) = media.video_track() {
                            media.stream.remove_track(&old);
                            old.stop();
                        }
                        media.stream.add_track(&track);
                        swapped = true;
                    }
                    Ok(track) => track.stop(),
                    Err(error) => session.camera_error.set(Some(error)),
                }
            }
            if new_microphone {
                match media::microphone_with(&next).await {
                    Ok(track) if !session.ended() => {
                        track.set_enabled(!session.mic_muted.get());
                        if let Some(old) = media.audio_track() {
                            media.stream.remove_track(&old);
                            old.stop();
                        }
                        media.stream.add_track(&track);
                        swapped = true;
                    }
                    Ok(track) => track.stop(),
                    Err(error) => {
                        gloo::console::warn!(format!("switching microphone: {error:?}"))
                    }
                }
            }
            if swapped {
                if let Some(engine) = session.engine() {
                    engine.opened(&media.stream);
                }
                session.update_tracks();
            }
            session.emit_local();
        });
    }

    fn update_tracks(&self) {
        let tracks = self.local_tracks();
        for slot in self.slots() {
            if let Some(peer) = slot.peer.borrow().as_ref() {
                peer.set_local(tracks.clone());
            }
        }
    }

    pub(super) fn send_chat(&self, text: &str) {
        let Some(text) = chat::clean(text) else {
            return;
        };
        if self.ended() {
            return;
        }
        let message = PeerMessage::Chat { text: text.clone() };
        let sent = self
            .slots()
            .iter()
            .filter(|s| s.peer.borrow().as_ref().is_some_and(|p| p.send(&message)))
            .count();
        if sent == 0 {
            return;
        }
        let line = ChatLine {
            seq: self.next_chat_seq(),
            from: None,
            name: self.options.name.clone(),
            text,
            at: js_sys::Date::now(),
        };
        self.emit(CallEvent::Chat(line));
    }

    /// Ends the call: says goodbye, closes every connection, stops every
    /// local track (the camera light goes off).
    pub(super) fn end(&self, reason: EndReason) {
        if self.ended() {
            return;
        }
        let mut peers = Vec::new();
        for slot in self.slots() {
            slot.fallback.borrow_mut().take();
            if let Some(peer) = slot.peer.borrow_mut().take() {
                peer.send(&PeerMessage::Bye);
                peers.push(peer);
            }
        }
        // A moment for the goodbyes to leave before the connections close.
        Timeout::new(BYE_GRACE_MS, move || peers.iter().for_each(Peer::close)).forget();
        self.pending.borrow_mut().clear();
        if let Some(media) = self.media.borrow().as_ref() {
            media.stop();
        }
        match &self.target {
            CallTarget::Room(_) => {
                if self.phase() == CallPhase::Joined {
                    self.send(ClientMessage::LeaveRoom);
                }
            }
            CallTarget::Direct { peer, .. } => {
                if reason == EndReason::Left {
                    let to = self
                        .slots()
                        .first()
                        .map(|s| s.id.borrow().clone())
                        .unwrap_or_else(|| peer.clone());
                    self.send(ClientMessage::HangUp { to });
                }
            }
        }
        self.set_phase(CallPhase::Ended(reason));
        self.emit_local();
    }

    /// Restarts ICE on every connection (debug hook; the same as a failure).
    pub(super) fn restart_ice(&self) {
        for slot in self.slots() {
            if let Some(peer) = slot.peer.borrow().as_ref() {
                peer.restart();
            }
        }
    }

    /// Everything the debug hook shows about this call.
    pub(super) async fn debug_peers(&self) -> Vec<(PeerView, bool, PeerStats)> {
        let mut out = Vec::new();
        for slot in self.slots() {
            let peer = slot.peer.borrow().clone();
            let stats = match &peer {
                Some(peer) => peer.stats().await,
                None => PeerStats::default(),
            };
            let view = PeerView {
                key: slot.key,
                id: slot.id.borrow().clone(),
                name: slot.name.borrow().clone(),
                state: peer.as_ref().map_or(ConnState::Connecting, Peer::state),
                stream: None,
                audio_muted: slot.audio_muted.get(),
                video_muted: slot.video_muted.get(),
            };
            out.push((view, slot.detached.get(), stats));
        }
        out
    }

    /// The local view for the debug hook.
    pub(super) fn debug_local(&self) -> LocalView {
        self.local_view()
    }

    /// The phase for the debug hook.
    pub(super) fn debug_phase(&self) -> CallPhase {
        self.phase()
    }

    /// The target for the debug hook.
    pub(super) fn target(&self) -> &CallTarget {
        &self.target
    }
}

/// Live tracks (for the debug hook's "is the camera free" check).
pub(super) fn track_states(stream: &web_sys::MediaStream) -> Vec<(String, String, bool, String)> {
    js::items::<MediaStreamTrack>(&stream.get_tracks())
        .into_iter()
        .map(|t| {
            let state = match t.ready_state() {
                web_sys::MediaStreamTrackState::Live => "live",
                _ => "ended",
            };
            (t.kind(), state.to_owned(), t.enabled(), t.label())
        })
        .collect()
}
