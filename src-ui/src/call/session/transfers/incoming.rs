//! The receiver's side of a transfer in the session: its channel opened
//! once the scratch file is ready, and every message of bytes taken in,
//! checked when the last one arrives.

use std::rc::Rc;

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::MessageEvent;

use super::Transfer;
use crate::call::chat::PeerMessage;
use crate::call::session::Session;
use crate::call::transfer::receive::{ReceiveError, Receiver};
use crate::call::transfer::TransferState;

impl Session {
    /// Receiver: opens the transfer's channel and says yes.
    pub(super) fn take_file(self: &Rc<Self>, t: &Rc<Transfer>, receiver: Receiver) {
        let key = t.key();
        let Some(channel) = self
            .peer_of(key)
            .and_then(|p| p.open_channel(t.stream, "file"))
        else {
            receiver.discard();
            self.finish_transfer(t, TransferState::Failed);
            return;
        };
        *t.receiver.borrow_mut() = Some(receiver);
        let (weak_session, weak_t) = (Rc::downgrade(self), Rc::downgrade(t));
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let (Some(session), Some(t)) = (weak_session.upgrade(), weak_t.upgrade()) else {
                return;
            };
            session.on_file_bytes(&t, &event);
        });
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        *t.on_message.borrow_mut() = Some(on_message);
        self.watch_close(t, &channel);
        *t.channel.borrow_mut() = Some(channel);
        if !self.say_to(
            key,
            &PeerMessage::FileAnswer {
                id: t.wire,
                accept: true,
            },
        ) {
            self.finish_transfer(t, TransferState::Failed);
        }
    }

    /// Receiver: one message of file bytes.
    fn on_file_bytes(self: &Rc<Self>, t: &Rc<Transfer>, event: &MessageEvent) {
        let Ok(buffer) = event.data().dyn_into::<js_sys::ArrayBuffer>() else {
            return;
        };
        let pushed = t
            .receiver
            .borrow_mut()
            .as_mut()
            .map(|r| r.push(&buffer).map(|()| (r.bytes(), r.complete())));
        match pushed {
            None => {}
            Some(Err(error)) => {
                self.say_to(
                    t.key(),
                    &PeerMessage::FileCancel {
                        id: t.wire,
                        from_sender: false,
                    },
                );
                let state = match error {
                    ReceiveError::TooLong | ReceiveError::Corrupt => TransferState::Corrupt,
                    ReceiveError::Storage => TransferState::Failed,
                };
                self.finish_transfer(t, state);
            }
            Some(Ok((bytes, complete))) => {
                self.transfer_progress(t, bytes, complete);
                if complete {
                    let Some(receiver) = t.receiver.borrow_mut().take() else {
                        return;
                    };
                    let sha256 = t.sha256.borrow().clone();
                    let name = t.view.borrow().name.clone();
                    let (session, key, wire) = (self.clone(), t.key(), t.wire);
                    let t = t.clone();
                    wasm_bindgen_futures::spawn_local(async move {
                        let result = receiver.finish(&sha256, &name).await;
                        if t.state().finished() {
                            return;
                        }
                        let ok = result.is_ok();
                        session.say_to(key, &PeerMessage::FileResult { id: wire, ok });
                        let state = match result {
                            Ok(()) => TransferState::Done,
                            Err(ReceiveError::Corrupt) => TransferState::Corrupt,
                            Err(_) => TransferState::Failed,
                        };
                        session.finish_transfer(&t, state);
                    });
                }
            }
        }
    }
}
