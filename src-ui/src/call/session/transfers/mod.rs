//! The call's file transfers (see `transfer` for how a file travels): the
//! list of them, what the page asks (send, accept or decline, cancel), what
//! peers say about them on the chat channel, and their end when a
//! participant leaves or the call ends.

mod incoming;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use gloo::timers::callback::Timeout;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{File, MessageEvent, RtcDataChannel, RtcDataChannelState};

use super::Session;
use crate::call::chat::PeerMessage;
use crate::call::peer::Peer;
use crate::call::transfer::receive::Receiver;
use crate::call::transfer::send::{self, SendError};
use crate::call::transfer::{self, TransferId, TransferState, TransferView};
use crate::call::{js, CallEvent};

/// Progress reaches the page at most this often.
const EMIT_EVERY_MS: f64 = 200.0;
/// The rate is measured over at least this long.
const RATE_EVERY_MS: f64 = 500.0;
/// A channel that closes mid-transfer gets this long for the reason (a
/// cancel, a participant leaving) to arrive on the chat channel.
const CLOSE_GRACE_MS: u32 = 800;
/// The receiver acknowledges what it stored about this often (bytes).
const ACK_EVERY: u64 = 1024 * 1024;
/// How long a sender waits for the receiver's channel to open.
const OPEN_TIMEOUT_MS: f64 = 15_000.0;

/// A data channel's `message` handler.
type OnMessage = Closure<dyn FnMut(MessageEvent)>;

/// Every transfer of the call.
#[derive(Default)]
pub(super) struct Transfers {
    list: RefCell<Vec<Rc<Transfer>>>,
    last_id: Cell<u64>,
    last_wire: Cell<u32>,
}

struct Transfer {
    view: RefCell<TransferView>,
    /// The sender's number for it on its connection.
    wire: u32,
    stream: u16,
    sha256: RefCell<String>,
    /// The file (sender).
    file: Option<File>,
    channel: RefCell<Option<RtcDataChannel>>,
    receiver: RefCell<Option<Receiver>>,
    /// Stops the sender's loops.
    stop: Cell<bool>,
    /// Sender: bytes the receiver says it stored.
    acked: Cell<u64>,
    emitted_at: Cell<f64>,
    rate_mark: Cell<(f64, u64)>,
    on_message: RefCell<Option<OnMessage>>,
    on_close: RefCell<Option<Closure<dyn FnMut()>>>,
}

impl Transfer {
    fn new(view: TransferView, wire: u32, stream: u16, file: Option<File>) -> Rc<Self> {
        Rc::new(Self {
            view: RefCell::new(view),
            wire,
            stream,
            sha256: RefCell::new(String::new()),
            file,
            channel: RefCell::new(None),
            receiver: RefCell::new(None),
            stop: Cell::new(false),
            acked: Cell::new(0),
            emitted_at: Cell::new(0.0),
            rate_mark: Cell::new((js::now(), 0)),
            on_message: RefCell::new(None),
            on_close: RefCell::new(None),
        })
    }

    fn state(&self) -> TransferState {
        self.view.borrow().state
    }

    fn key(&self) -> u32 {
        self.view.borrow().peer
    }

    fn incoming(&self) -> bool {
        self.view.borrow().incoming
    }
}

impl Session {
    fn emit_transfer(&self, t: &Transfer) {
        self.emit(CallEvent::Transfer(t.view.borrow().clone()));
    }

    fn set_transfer_state(&self, t: &Transfer, state: TransferState) {
        t.view.borrow_mut().state = state;
        t.rate_mark.set((js::now(), t.view.borrow().bytes));
        self.emit_transfer(t);
    }

    fn transfer_progress(&self, t: &Transfer, bytes: u64, force: bool) {
        let now = js::now();
        let (at, then) = t.rate_mark.get();
        {
            let mut view = t.view.borrow_mut();
            view.bytes = bytes;
            if now - at >= RATE_EVERY_MS {
                view.rate = transfer::smooth_rate(
                    view.rate,
                    bytes.saturating_sub(then),
                    (now - at) / 1000.0,
                );
                t.rate_mark.set((now, bytes));
            }
        }
        if force || now - t.emitted_at.get() >= EMIT_EVERY_MS {
            t.emitted_at.set(now);
            self.emit_transfer(t);
        }
    }

    /// Ends a transfer (once): its channel closes, what arrived is dropped.
    fn finish_transfer(&self, t: &Transfer, state: TransferState) {
        if t.state().finished() {
            return;
        }
        t.stop.set(true);
        if let Some(channel) = t.channel.borrow_mut().take() {
            channel.set_onmessage(None);
            channel.set_onclose(None);
            channel.close();
        }
        if let Some(receiver) = t.receiver.borrow_mut().take() {
            receiver.discard();
        }
        // A handler may be running right now: drop them afterwards.
        let closures = (
            t.on_message.borrow_mut().take(),
            t.on_close.borrow_mut().take(),
        );
        wasm_bindgen_futures::spawn_local(async move { drop(closures) });
        self.set_transfer_state(t, state);
    }

    fn transfer(&self, find: impl Fn(&Transfer) -> bool) -> Option<Rc<Transfer>> {
        self.transfers
            .list
            .borrow()
            .iter()
            .find(|t| find(t))
            .cloned()
    }

    fn add_transfer(&self, t: &Rc<Transfer>) {
        let mut list = self.transfers.list.borrow_mut();
        // Finished ones are only kept for a while.
        if list.len() >= 200 {
            list.retain(|t| !t.state().finished());
        }
        list.push(t.clone());
    }

    fn next_transfer_id(&self) -> TransferId {
        let id = self.transfers.last_id.get() + 1;
        self.transfers.last_id.set(id);
        id
    }

    fn peer_of(&self, key: u32) -> Option<Peer> {
        self.roster.by_key(key)?.peer()?.web()
    }

    fn say_to(&self, key: u32, message: &PeerMessage) -> bool {
        self.peer_of(key).is_some_and(|p| p.send(message))
    }

    /// Offers `file` to participant `to`, or to everyone connected.
    pub(in crate::call) fn send_file(self: &Rc<Self>, file: File, to: Option<u32>) {
        if self.ended() {
            return;
        }
        let name = transfer::clean_name(&file.name());
        let size = file.size() as u64;
        let mut transfers = Vec::new();
        for slot in self.roster.all() {
            let Some(peer) = slot
                .peer()
                .and_then(|c| c.web())
                .filter(|p| p.channel_open())
            else {
                continue;
            };
            if to.is_some_and(|key| key != slot.key) {
                continue;
            }
            let wire = self.transfers.last_wire.get() + 1;
            self.transfers.last_wire.set(wire);
            let view = TransferView {
                id: self.next_transfer_id(),
                peer: slot.key,
                peer_name: slot.name(),
                incoming: false,
                name: name.clone(),
                size,
                bytes: 0,
                rate: 0.0,
                state: TransferState::Preparing,
            };
            let stream = transfer::stream_for(wire, peer.polite());
            let t = Transfer::new(view, wire, stream, Some(Clone::clone(&file)));
            self.add_transfer(&t);
            self.emit_transfer(&t);
            transfers.push(t);
        }
        if transfers.is_empty() {
            return;
        }
        let session = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let stop = Cell::new(false);
            let hashed = send::hash(&file, &stop, |bytes| {
                for t in &transfers {
                    session.transfer_progress(t, bytes, false);
                }
                stop.set(transfers.iter().all(|t| t.state().finished()));
            })
            .await;
            for t in &transfers {
                if t.state().finished() {
                    continue;
                }
                let Ok(sha256) = &hashed else {
                    session.finish_transfer(t, TransferState::Failed);
                    continue;
                };
                *t.sha256.borrow_mut() = sha256.clone();
                t.view.borrow_mut().bytes = 0;
                let offer = PeerMessage::FileOffer {
                    id: t.wire,
                    name: name.clone(),
                    size,
                    sha256: sha256.clone(),
                    stream: t.stream,
                };
                if session.say_to(t.key(), &offer) {
                    session.set_transfer_state(t, TransferState::Offered);
                } else {
                    session.finish_transfer(t, TransferState::Failed);
                }
            }
        });
    }

    /// Accepts or declines an offered file.
    pub(in crate::call) fn answer_file(self: &Rc<Self>, id: TransferId, accept: bool) {
        let Some(t) = self.transfer(|t| t.view.borrow().id == id) else {
            return;
        };
        if !t.incoming() || t.state() != TransferState::Offered {
            return;
        }
        let key = t.key();
        if !accept {
            self.say_to(
                key,
                &PeerMessage::FileAnswer {
                    id: t.wire,
                    accept: false,
                },
            );
            self.finish_transfer(&t, TransferState::Declined);
            return;
        }
        // Bytes may arrive as soon as we answer: the scratch file comes first.
        self.set_transfer_state(&t, TransferState::Moving);
        let (session, size) = (self.clone(), t.view.borrow().size);
        wasm_bindgen_futures::spawn_local(async move {
            let entry = format!(
                "peercall-transfer-{}-{}",
                js_sys::Date::now() as u64,
                t.view.borrow().id
            );
            // Tell the sender what is stored, every MiB or so.
            let on_stored: Rc<dyn Fn(u64)> = {
                let (weak, key, id) = (Rc::downgrade(&session), t.key(), t.wire);
                let told = Cell::new(0u64);
                Rc::new(move |bytes: u64| {
                    if bytes >= told.get() + ACK_EVERY || bytes == size {
                        told.set(bytes);
                        if let Some(session) = weak.upgrade() {
                            session.say_to(key, &PeerMessage::FileAck { id, bytes });
                        }
                    }
                })
            };
            let name = t.view.borrow().name.clone();
            let receiver = Receiver::open(&name, size, entry, on_stored).await;
            if t.state().finished() {
                receiver.discard();
            } else {
                session.take_file(&t, receiver);
            }
        });
    }

    /// Stops a transfer, ours or theirs.
    pub(in crate::call) fn cancel_file(self: &Rc<Self>, id: TransferId) {
        let Some(t) = self.transfer(|t| t.view.borrow().id == id) else {
            return;
        };
        if t.state().finished() {
            return;
        }
        let message = PeerMessage::FileCancel {
            id: t.wire,
            from_sender: !t.incoming(),
        };
        if t.state() != TransferState::Preparing {
            self.say_to(t.key(), &message);
        }
        self.finish_transfer(&t, TransferState::Cancelled(true));
    }

    /// What a participant said about a transfer.
    pub(super) fn on_file_message(self: &Rc<Self>, key: u32, name: String, message: PeerMessage) {
        match message {
            PeerMessage::FileOffer {
                id,
                name: file,
                size,
                sha256,
                stream,
            } => {
                let known = self.transfer(|t| t.key() == key && t.incoming() && t.wire == id);
                let Some(file) = transfer::check_offer(&file, size, &sha256, stream) else {
                    gloo::console::warn!("ignored a malformed file offer");
                    return;
                };
                if known.is_some() {
                    return;
                }
                let view = TransferView {
                    id: self.next_transfer_id(),
                    peer: key,
                    peer_name: name,
                    incoming: true,
                    name: file,
                    size,
                    bytes: 0,
                    rate: 0.0,
                    state: TransferState::Offered,
                };
                let t = Transfer::new(view, id, stream, None);
                *t.sha256.borrow_mut() = sha256;
                self.add_transfer(&t);
                self.emit_transfer(&t);
            }
            PeerMessage::FileAnswer { id, accept } => {
                let outgoing = |t: &Transfer| t.key() == key && !t.incoming() && t.wire == id;
                let Some(t) = self.transfer(outgoing) else {
                    return;
                };
                if t.state() != TransferState::Offered {
                    return;
                }
                if accept {
                    self.start_sending(&t);
                } else {
                    self.finish_transfer(&t, TransferState::Declined);
                }
            }
            PeerMessage::FileCancel { id, from_sender } => {
                let theirs =
                    |t: &Transfer| t.key() == key && t.incoming() == from_sender && t.wire == id;
                if let Some(t) = self.transfer(theirs) {
                    self.finish_transfer(&t, TransferState::Cancelled(false));
                }
            }
            PeerMessage::FileAck { id, bytes } => {
                let outgoing = |t: &Transfer| t.key() == key && !t.incoming() && t.wire == id;
                if let Some(t) = self.transfer(outgoing) {
                    t.acked.set(t.acked.get().max(bytes));
                }
            }
            PeerMessage::FileResult { id, ok } => {
                let outgoing = |t: &Transfer| t.key() == key && !t.incoming() && t.wire == id;
                if let Some(t) = self.transfer(outgoing) {
                    let state = if ok {
                        TransferState::Done
                    } else {
                        TransferState::Corrupt
                    };
                    self.finish_transfer(&t, state);
                }
            }
            _ => {}
        }
    }

    /// A participant is gone: their transfers end, saying so.
    pub(super) fn end_transfers_with(&self, key: u32) {
        let theirs: Vec<_> = self
            .transfers
            .list
            .borrow()
            .iter()
            .filter(|t| t.key() == key)
            .cloned()
            .collect();
        for t in theirs {
            self.finish_transfer(&t, TransferState::PeerLeft);
        }
    }

    /// The call is over: every transfer stops. (The others learn it from
    /// our goodbye: to them, we left.)
    pub(super) fn end_transfers(&self) {
        let all: Vec<_> = self.transfers.list.borrow().clone();
        for t in all {
            self.finish_transfer(&t, TransferState::Cancelled(true));
        }
    }

    /// A channel closing before its transfer finished: after a moment for
    /// the reason to arrive, it failed.
    fn watch_close(self: &Rc<Self>, t: &Rc<Transfer>, channel: &RtcDataChannel) {
        let (weak_session, weak_t) = (Rc::downgrade(self), Rc::downgrade(t));
        let on_close = Closure::<dyn FnMut()>::new(move || {
            let (weak_session, weak_t) = (weak_session.clone(), weak_t.clone());
            Timeout::new(CLOSE_GRACE_MS, move || {
                if let (Some(session), Some(t)) = (weak_session.upgrade(), weak_t.upgrade()) {
                    if t.state() != TransferState::Checking {
                        session.finish_transfer(&t, TransferState::Failed);
                    }
                }
            })
            .forget();
        });
        channel.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        *t.on_close.borrow_mut() = Some(on_close);
    }

    /// Sender: the receiver accepted and opened its channel.
    fn start_sending(self: &Rc<Self>, t: &Rc<Transfer>) {
        let (Some(channel), Some(file)) = (
            self.peer_of(t.key())
                .and_then(|p| p.open_channel(t.stream, "file")),
            t.file.clone(),
        ) else {
            self.finish_transfer(t, TransferState::Failed);
            return;
        };
        self.watch_close(t, &channel);
        *t.channel.borrow_mut() = Some(Clone::clone(&channel));
        self.set_transfer_state(t, TransferState::Moving);
        let (session, t) = (self.clone(), t.clone());
        wasm_bindgen_futures::spawn_local(async move {
            let opened_at = js::now();
            while channel.ready_state() == RtcDataChannelState::Connecting
                && js::now() - opened_at < OPEN_TIMEOUT_MS
                && !t.stop.get()
            {
                gloo::timers::future::TimeoutFuture::new(20).await;
            }
            let sent = send::send(&file, &channel, &t.stop, &t.acked, |bytes| {
                session.transfer_progress(&t, bytes, false);
            })
            .await;
            match sent {
                Ok(()) if !t.state().finished() => {
                    let size = t.view.borrow().size;
                    session.transfer_progress(&t, size, true);
                    session.set_transfer_state(&t, TransferState::Checking);
                }
                Ok(()) | Err(SendError::Cancelled) => {}
                Err(_) => {
                    let message = PeerMessage::FileCancel {
                        id: t.wire,
                        from_sender: true,
                    };
                    session.say_to(t.key(), &message);
                    session.finish_transfer(&t, TransferState::Failed);
                }
            }
        });
    }
}
