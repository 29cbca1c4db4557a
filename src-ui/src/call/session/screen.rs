//! The screen we share: opened through the system's picker, sent to
//! everyone on a transceiver of its own (see `peer::screen`), announced over
//! the data channels, and stopped from our button, from the browser's own
//! "stop sharing", or when the call ends. Whoever joins while we share gets
//! it as soon as their data channel opens.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{MediaStream, MediaStreamTrack};

use super::roster::Slot;
use super::Session;
use crate::call::chat::PeerMessage;
use crate::call::conn::Conn;
use crate::call::screen::{self, ScreenError};
use crate::call::{js, CallEvent};

/// Our shared screen.
#[derive(Default)]
pub(super) struct Sharing {
    current: RefCell<Option<Shared>>,
    /// The picker is open.
    opening: std::cell::Cell<bool>,
}

struct Shared {
    stream: MediaStream,
    track: MediaStreamTrack,
    _on_ended: Closure<dyn FnMut()>,
}

impl Session {
    /// Starts sharing (opens the picker) or stops.
    pub(in crate::call) fn share_screen(self: &Rc<Self>, on: bool) {
        if !on {
            self.stop_screen();
            return;
        }
        if self.ended() || self.screen.opening.get() || self.screen.current.borrow().is_some() {
            return;
        }
        self.screen.opening.set(true);
        let session = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let opened = screen::open().await;
            session.screen.opening.set(false);
            let stream = match opened {
                Ok(stream) => stream,
                Err(ScreenError::Cancelled) => return,
                Err(_) => {
                    session.emit(CallEvent::ScreenFailed);
                    return;
                }
            };
            let Some(track) = js::items::<MediaStreamTrack>(&stream.get_video_tracks())
                .into_iter()
                .next()
            else {
                session.emit(CallEvent::ScreenFailed);
                return;
            };
            if session.ended() {
                track.stop();
                return;
            }
            // The browser's own "stop sharing" ends the track.
            let weak = Rc::downgrade(&session);
            let on_ended = Closure::<dyn FnMut()>::new(move || {
                // Later: stopping drops this very closure.
                let weak = weak.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    if let Some(session) = weak.upgrade() {
                        session.stop_screen();
                    }
                });
            });
            track.set_onended(Some(on_ended.as_ref().unchecked_ref()));
            *session.screen.current.borrow_mut() = Some(Shared {
                stream: Clone::clone(&stream),
                track,
                _on_ended: on_ended,
            });
            for slot in session.roster.all() {
                session.screen_to(&slot);
            }
            session.emit(CallEvent::LocalScreen(Some(stream)));
        });
    }

    /// Stops sharing, everywhere (nothing when we don't share).
    pub(super) fn stop_screen(&self) {
        let Some(shared) = self.screen.current.borrow_mut().take() else {
            return;
        };
        shared.track.set_onended(None);
        shared.track.stop();
        let message = PeerMessage::Screen {
            sharing: false,
            stream: None,
        };
        for peer in self.roster.peers().iter().filter_map(Conn::web) {
            peer.set_screen(None);
            peer.send(&message);
        }
        self.emit(CallEvent::LocalScreen(None));
    }

    /// Sends our screen, if we share one, to `slot` (its data channel is
    /// open, so its connection is set up).
    pub(super) fn screen_to(&self, slot: &Slot) {
        let current = self.screen.current.borrow();
        let (Some(shared), Some(peer)) = (current.as_ref(), slot.peer().and_then(|c| c.web()))
        else {
            return;
        };
        peer.set_screen(Some((&shared.track, &shared.stream)));
        peer.send(&PeerMessage::Screen {
            sharing: true,
            stream: Some(shared.stream.id()),
        });
    }
}
