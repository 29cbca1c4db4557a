//! What each participant's connection reports (signaling to relay, its
//! state, its data channel) and the conversation on that channel: who we
//! are now (`hello`, also after every reconnect to the server), mute state,
//! chat, and goodbye.

use std::rc::Rc;

use peercall_signal::protocol::ClientMessage;

use super::roster::Slot;
use super::Session;
use crate::call::chat::{self, ChatLine, PeerMessage};
use crate::call::peer::PeerEvent;
use crate::call::{CallEvent, ConnState};

impl Session {
    pub(super) fn on_peer_event(self: &Rc<Self>, key: u32, event: PeerEvent) {
        let Some(slot) = self.roster.by_key(key) else {
            return;
        };
        if self.ended() {
            return;
        }
        let to = Some(slot.id());
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
                if state == ConnState::Failed && slot.detached() {
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
                self.screen_to(&slot);
                self.emit_slot(&slot);
            }
            PeerEvent::ChannelClosed => {
                // The channel only closes when the other side closed its
                // connection (hung up, closed the page): they left, whether
                // or not the server has said so yet. (A connection we
                // replace ourselves reports nothing.)
                self.remove_slot(key, true);
            }
            PeerEvent::Message(message) => {
                slot.heard.set(js_sys::Date::now());
                if slot.quiet.replace(false) {
                    self.emit_slot(&slot);
                }
                self.on_peer_message(&slot, message);
            }
        }
    }

    fn on_peer_message(self: &Rc<Self>, slot: &Rc<Slot>, message: PeerMessage) {
        match message {
            PeerMessage::Hello {
                id,
                name,
                audio_muted,
                video_muted,
                native,
            } => {
                slot.native.set(native);
                if let Some(name) = chat::clean(&name) {
                    slot.set_name(name);
                }
                slot.set_media(audio_muted, video_muted);
                if let Some(id) = id {
                    if slot.id() != id {
                        self.readdress(slot, id);
                    }
                }
                self.emit_slot(slot);
            }
            PeerMessage::Chat { text } => {
                let line = ChatLine {
                    seq: self.next_chat_seq(),
                    from: Some(slot.key),
                    name: slot.name(),
                    text,
                    at: js_sys::Date::now(),
                };
                self.emit(CallEvent::Chat(line));
            }
            PeerMessage::Media {
                audio_muted,
                video_muted,
            } => {
                slot.set_media(audio_muted, video_muted);
                self.emit_slot(slot);
            }
            PeerMessage::Bye => self.remove_slot(slot.key, true),
            PeerMessage::Alive => {}
            message @ (PeerMessage::FileOffer { .. }
            | PeerMessage::FileAnswer { .. }
            | PeerMessage::FileCancel { .. }
            | PeerMessage::FileAck { .. }
            | PeerMessage::FileResult { .. }) => {
                self.on_file_message(slot.key, slot.name(), message);
            }
            PeerMessage::Screen { sharing, stream } => {
                if let Some(peer) = slot.peer().and_then(|conn| conn.web()) {
                    peer.set_remote_screen(sharing, stream);
                }
                self.emit_slot(slot);
            }
        }
    }

    fn next_chat_seq(&self) -> u64 {
        let seq = self.chat_seq.get() + 1;
        self.chat_seq.set(seq);
        seq
    }

    fn hello(&self) -> PeerMessage {
        let view = self.local.view();
        PeerMessage::Hello {
            id: self.my_id(),
            name: self.options.name.clone(),
            audio_muted: view.audio_muted,
            video_muted: view.video_muted,
            native: self.link().is_some_and(|link| link.native().is_some()),
        }
    }

    fn say_hello(&self, slot: &Slot) {
        if let Some(peer) = slot.peer() {
            peer.send(&self.hello());
        }
    }

    pub(super) fn say_hello_to_all(&self) {
        for slot in self.roster.all() {
            self.say_hello(&slot);
        }
    }

    pub(in crate::call) fn send_chat(&self, text: &str) {
        let Some(text) = chat::clean(text) else {
            return;
        };
        if self.ended() {
            return;
        }
        let message = PeerMessage::Chat { text: text.clone() };
        let sent = self
            .roster
            .all()
            .iter()
            .filter(|s| s.peer().is_some_and(|p| p.send(&message)))
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
}
