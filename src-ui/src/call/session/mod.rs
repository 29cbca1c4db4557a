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
//! partner without asking (see `PageEngine::on_message`).
//!
//! # The parts
//!
//! This file is the orchestration: the call's phase, joining and rejoining,
//! what the server says, hanging up. [`roster`] keeps the other
//! participants (slots, members in their grace period, early messages,
//! re-addressing, detaching), [`peer_events`] handles what their
//! connections report and say, [`local`] our own camera and microphone
//! ([`native_local`] when the shell captures them), [`screen`] the screen
//! we share, [`transfers`] files sent and received, [`tools`] what the
//! in-call tools read, and [`liveness`] native↔native connections that
//! went silent (built again). The session reaches its engine only through
//! [`Link`].
//!
//! # Either engine
//!
//! Each participant's connection is a [`Conn`]: the browser's
//! `RTCPeerConnection` or a native peer in the shell (when [`Link::native`]
//! gives one). Who offers is the same [`Role`] for both; a native peer can't
//! roll back, so the session settles glare for it (see
//! `native::negotiation`).

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use peercall_signal::protocol::{
    ClientMessage, ErrorCode, IceServer, Member, PeerId, ServerMessage,
};
use web_sys::MediaStream;
use yew::Callback;

use super::chat::{self, PeerMessage};
use super::conn::Conn;
use super::media::{LocalMedia, MediaPreferences};
use super::native::NativeShell;
use super::peer::{Incoming, Role};
use super::{js, CallEvent, CallOptions, CallPhase, CallTarget, ConnState, DirectRole, EndReason};

mod inspect;
mod liveness;
mod local;
mod native_local;
mod peer_events;
mod roster;
mod screen;
mod tools;
mod transfers;

use local::Local;
pub(super) use native_local::{native_request, native_view};
use roster::Roster;

/// How long goodbyes get to leave before the connections close.
const BYE_GRACE_MS: u32 = 150;

/// What a session needs from the engine that runs it, and nothing more.
pub(super) trait Link {
    /// Sends to the signaling server; `false` when it is not connected.
    fn send(&self, message: &ClientMessage) -> bool;
    /// Our id on the server, while connected.
    fn my_id(&self) -> Option<PeerId>;
    /// The ICE servers for a new connection (the settings' first).
    fn ice_servers(&self) -> Vec<IceServer>;
    /// Whether the signaling socket is open.
    fn is_up(&self) -> bool;
    /// The devices a preview left, if they are the ones `wanted` asks for.
    fn take_handed_over(&self, wanted: &MediaPreferences) -> Option<LocalMedia>;
    /// Remembers the tracks of `stream`, which the call opened, so the debug
    /// hook can show that hanging up released them.
    fn opened(&self, stream: &MediaStream);
    /// The shell's native engine, when it carries the call.
    fn native(&self) -> Option<NativeShell>;
}

/// One call, from joining to its end.
pub(super) struct Session {
    link: Weak<dyn Link>,
    target: CallTarget,
    options: CallOptions,
    on_event: Callback<CallEvent>,
    started_at: f64,
    phase: RefCell<CallPhase>,
    /// Our camera and microphone.
    local: Local,
    /// Everyone else in the call.
    roster: Roster,
    chat_seq: Cell<u64>,
    /// The direct-call partner's name, once they told it (or the ring did).
    partner_name: RefCell<Option<String>>,
    /// When milestones were reached (`performance.now()`), for the debug hook.
    milestones: RefCell<Vec<(&'static str, f64)>>,
    /// The screen we share, while we share one.
    screen: screen::Sharing,
    /// Files sent and received.
    transfers: transfers::Transfers,
    /// The tick that keeps native↔native connections honest, once one
    /// exists (`liveness.rs`).
    liveness: RefCell<Option<gloo::timers::callback::Interval>>,
}

impl Session {
    pub(super) fn new(
        link: Weak<dyn Link>,
        target: CallTarget,
        options: CallOptions,
        on_event: Callback<CallEvent>,
    ) -> Rc<Self> {
        let partner_name = match &target {
            CallTarget::Direct { name, .. } => name.clone().filter(|n| !n.is_empty()),
            CallTarget::Room(_) => None,
        };
        let native = link.upgrade().and_then(|link| link.native());
        Rc::new(Self {
            link,
            local: Local::new(&options, native),
            target,
            options,
            on_event,
            started_at: js::now(),
            phase: RefCell::new(CallPhase::Preparing),
            roster: Roster::default(),
            chat_seq: Cell::new(0),
            partner_name: RefCell::new(partner_name),
            milestones: RefCell::new(Vec::new()),
            screen: screen::Sharing::default(),
            transfers: transfers::Transfers::default(),
            liveness: RefCell::new(None),
        })
    }

    fn link(&self) -> Option<Rc<dyn Link>> {
        self.link.upgrade()
    }

    fn send(&self, message: ClientMessage) -> bool {
        self.link().is_some_and(|link| link.send(&message))
    }

    fn my_id(&self) -> Option<PeerId> {
        self.link().and_then(|link| link.my_id())
    }

    /// The native engine's frames connection, when it carries the call.
    fn frames(&self) -> Option<super::native::Frames> {
        self.link()?.native()?.frames()
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

    /// Joins at once (the server connection is usually up already) while
    /// the devices open, or are taken over from the preview the person was
    /// looking at. Connections made before the devices are ready carry
    /// empty senders on the call's own stream, and the tracks are swapped in
    /// when they arrive (`replaceTrack`, no renegotiation), so opening a
    /// camera never delays meeting the others.
    pub(super) fn start(self: &Rc<Self>) {
        if let (Local::Native(local), Some(shell)) =
            (&self.local, self.link().and_then(|l| l.native()))
        {
            let (local, session) = (Rc::downgrade(local), Rc::downgrade(self));
            shell.on_local_change(move |media| {
                if let (Some(local), Some(session)) = (local.upgrade(), session.upgrade()) {
                    local.changed(media);
                    session.announce_media();
                }
            });
            let session = Rc::downgrade(self);
            let restarts = Cell::new(0);
            shell.on_engine_stopped(move || {
                let Some(session) = session.upgrade() else {
                    return;
                };
                if restarts.get() < liveness::ENGINE_RESTARTS {
                    restarts.set(restarts.get() + 1);
                    session.engine_stopped();
                } else {
                    gloo::console::warn!("the native engine stopped again: not starting it again");
                }
            });
        }
        self.emit(CallEvent::Phase(CallPhase::Preparing));
        self.emit_local();
        self.begin();
        let session = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let handed_over = |wanted: &MediaPreferences| {
                session
                    .link()
                    .and_then(|link| link.take_handed_over(wanted))
            };
            if !session.local.open(handed_over).await {
                return;
            }
            session.tracks_opened();
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
        for peer in self.roster.peers() {
            if matches!(peer.state(), ConnState::Failed | ConnState::Reconnecting) {
                peer.restart();
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
            && self.roster.by_id(id).is_some()
    }

    /// After a reconnect the server forgot our direct call: the caller
    /// rings the partner's current id again (accepted without a prompt).
    fn recall_partner(&self) {
        if let CallTarget::Direct {
            role: DirectRole::Caller,
            ..
        } = self.target
        {
            if let Some(to) = self.roster.first_id() {
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
                for slot in self.roster.all() {
                    let id = slot.id();
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
                self.roster.forget_pending(&id);
                if let Some(slot) = self.roster.by_id(&id) {
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
                if let Some(slot) = self.roster.by_id(&from) {
                    slot.set_media(audio_muted, video_muted);
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
            CallTarget::Direct { peer, .. } => peer == id || self.roster.by_id(id).is_some(),
            CallTarget::Room(_) => false,
        }
    }

    /// Ends the call: says goodbye, closes every connection, stops every
    /// local track (the camera light goes off).
    pub(super) fn end(&self, reason: EndReason) {
        if self.ended() {
            return;
        }
        self.end_transfers();
        let peers = self.roster.take_connections();
        for peer in &peers {
            peer.send(&PeerMessage::Bye);
        }
        // A moment for the goodbyes to leave before the connections close.
        wasm_bindgen_futures::spawn_local(async move {
            gloo::timers::future::TimeoutFuture::new(BYE_GRACE_MS).await;
            peers.iter().for_each(Conn::close);
        });
        self.local.release();
        self.stop_screen();
        match &self.target {
            CallTarget::Room(_) => {
                if self.phase() == CallPhase::Joined {
                    self.send(ClientMessage::LeaveRoom);
                }
            }
            CallTarget::Direct { peer, .. } => {
                if reason == EndReason::Left {
                    let to = self.roster.first_id().unwrap_or_else(|| peer.clone());
                    self.send(ClientMessage::HangUp { to });
                }
            }
        }
        self.set_phase(CallPhase::Ended(reason));
        self.emit_local();
    }
}
