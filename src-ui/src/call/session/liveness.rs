//! Native↔native connections that lost their network.
//!
//! `webrtcbin` never reports such a connection: measured in a network
//! namespace, a minute with both ends' addresses gone read as `connected`
//! throughout, and it cannot restart ICE either. On the same addresses the
//! media comes back by itself when the network does; on new ones (another
//! Wi-Fi, a cable plugged in) it never would. Browsers watch their
//! connections themselves (consent freshness) and restart ICE, and a
//! native peer answers that; two native ends have no one to do it.
//!
//! So two native ends (they say so in their `hello`) tell each other they
//! are there, [`PeerMessage::Alive`] on the data channel every
//! [`ALIVE_EVERY_MS`]. After [`STALL_MS`] with nothing at all from the
//! other, the tile says the connection is reconnecting; after
//! [`QUIET_MS`], the end with the smaller signaling id builds the
//! connection again: a fresh peer and a fresh offer, gathered on whatever
//! network there is now, which the other end takes as a new connection
//! (its SDP session differs, see `roster::on_offer`) and answers. It tries
//! again after another [`QUIET_MS`] if that one doesn't come up (say the
//! signaling socket was down too and the offer was lost).
//!
//! The same rebuilding follows the shell's engine stopping by itself (its
//! process crashed, taking every native peer and the capture with it):
//! the capture opens again, in a fresh engine, and this end builds every
//! connection again at once.

use std::rc::Rc;

use gloo::timers::callback::Interval;

use super::local::Local;
use super::Session;
use crate::call::chat::PeerMessage;
use crate::call::peer::Role;

/// How many times a call opens everything again after the shell's engine
/// stopped by itself (a crash that comes back each time, a driver say, is
/// not retried for ever).
pub const ENGINE_RESTARTS: u32 = 3;

/// How often a native end says it is there.
pub const ALIVE_EVERY_MS: u32 = 2_000;
/// How long a native↔native connection may be silent before people see
/// it as reconnecting.
pub const STALL_MS: f64 = 5_000.0;
/// How long a native↔native connection may be silent before it is built
/// again: a few missed [`PeerMessage::Alive`]s, so a busy moment isn't
/// taken for a lost network.
pub const QUIET_MS: f64 = 10_000.0;

impl Session {
    /// Starts the tick (once per call), when a native connection exists.
    pub(super) fn watch_liveness(self: &Rc<Self>) {
        if self.liveness.borrow().is_some() {
            return;
        }
        let weak = Rc::downgrade(self);
        let tick = Interval::new(ALIVE_EVERY_MS, move || {
            if let Some(session) = weak.upgrade() {
                session.liveness_tick();
            }
        });
        *self.liveness.borrow_mut() = Some(tick);
    }

    fn liveness_tick(self: &Rc<Self>) {
        if self.ended() {
            self.liveness.borrow_mut().take();
            return;
        }
        let Some(me) = self.my_id() else { return };
        let now = js_sys::Date::now();
        for slot in self.roster.all() {
            let Some(conn) = slot.peer() else { continue };
            if !conn.is_native() || !slot.native.get() {
                continue;
            }
            conn.send(&PeerMessage::Alive);
            let silent = now - slot.heard.get();
            if silent > STALL_MS && !slot.quiet.replace(true) {
                self.emit_slot(&slot);
            }
            if silent > QUIET_MS && me.as_str() < slot.id().as_str() {
                gloo::console::warn!(format!(
                    "nothing from {} for {:.0} s: connecting again",
                    slot.id(),
                    (now - slot.heard.get()) / 1000.0
                ));
                self.connect(&slot, Role::Initiator);
            }
        }
    }

    /// The shell's engine stopped by itself: opens the capture again, then
    /// builds every native connection again, offered from here (the other
    /// end takes it as a new connection).
    pub(super) fn engine_stopped(self: &Rc<Self>) {
        if self.ended() {
            return;
        }
        let session = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            if let Local::Native(local) = &session.local {
                if !local.open().await {
                    return;
                }
                session.emit_local();
                session.announce_media();
            }
            for slot in session.roster.all() {
                if slot.peer().is_some_and(|conn| conn.is_native()) {
                    session.connect(&slot, Role::Initiator);
                }
            }
        });
    }
}
