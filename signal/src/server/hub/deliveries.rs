//! What one step of the hub sends, and the one place it is sent.
//!
//! A step decides and returns [`Deliveries`]: who gets which frame, in
//! order. [`State::deliver`] then queues them all, still under the lock, so
//! every recipient sees one step's frames before the next step's. A frame
//! that does not fit evicts its recipient (or, with the server-wide budget
//! spent, the slowest readers; see [`super::super::budget`]); those peers
//! are dropped once the step's frames are out, and their departures are
//! delivered the same way (which may evict more, hence the work list).

use tokio_tungstenite::tungstenite::Utf8Bytes;
use tracing::warn;

use super::super::budget::{Eviction, Refused};
#[cfg(feature = "redis")]
use super::Link;
use super::State;
use crate::protocol::PeerId;

/// The frames one step of the hub sends, in the order they go out. A frame
/// for many recipients is shared, not copied ([`Utf8Bytes`] is
/// reference-counted).
#[derive(Debug, Default)]
#[must_use = "nothing is sent until the deliveries reach `State::deliver`"]
pub(super) struct Deliveries(Vec<(PeerId, Utf8Bytes)>);

impl Deliveries {
    /// Nothing to send.
    pub(super) fn none() -> Self {
        Self::default()
    }

    /// `text` for `to` alone.
    pub(super) fn one(to: &PeerId, text: Utf8Bytes) -> Self {
        Self(vec![(to.clone(), text)])
    }

    /// Adds `text` for `to`.
    pub(super) fn push(&mut self, to: &PeerId, text: &Utf8Bytes) {
        self.0.push((to.clone(), text.clone()));
    }

    /// Adds `text` for each of `recipients`, in their order.
    pub(super) fn push_each<'a>(
        &mut self,
        recipients: impl IntoIterator<Item = &'a PeerId>,
        text: &Utf8Bytes,
    ) {
        for to in recipients {
            self.push(to, text);
        }
    }

    /// Adds everything `other` sends, after what this one does.
    #[cfg(feature = "redis")]
    pub(super) fn extend(&mut self, other: Deliveries) {
        self.0.extend(other.0);
    }

    /// Who gets what, in order (for the tests).
    #[cfg(test)]
    pub(super) fn as_slice(&self) -> &[(PeerId, Utf8Bytes)] {
        &self.0
    }
}

impl State {
    /// Queues every frame of `deliveries` in order, then drops the peers
    /// that could not keep up. Removing one notifies others, which may
    /// overflow more, hence the work list.
    pub(super) fn deliver(&mut self, deliveries: Deliveries) {
        let mut overflowed = Vec::new();
        self.queue(deliveries, &mut overflowed);
        while let Some(id) = overflowed.pop() {
            // It was evicted: its connection task throws its queue away and
            // closes the connection.
            if let Some(peer) = self.peers.remove(&id) {
                let departure = self.depart(&id, peer);
                self.queue(departure, &mut overflowed);
            }
        }
    }

    fn queue(&mut self, deliveries: Deliveries, overflowed: &mut Vec<PeerId>) {
        for (to, text) in &deliveries.0 {
            self.queue_one(to, text, overflowed);
        }
    }

    /// Queues `text` for `to` without waiting. A full queue means the client
    /// is not reading: it is evicted, and remembered in `overflowed`, to be
    /// dropped once this step's frames are out. With the server-wide budget
    /// spent, the slowest consumers (the most bytes waiting) are evicted
    /// until the frame fits.
    fn queue_one(&mut self, to: &PeerId, text: &Utf8Bytes, overflowed: &mut Vec<PeerId>) {
        let Some(peer) = self.peers.get(to) else {
            return;
        };
        let Some(outbox) = peer.link.local() else {
            // Its own instance sends it this (see `remote.rs`).
            #[cfg(feature = "redis")]
            if let Link::Remote(remote) = &peer.link {
                let forward = super::Forward {
                    instance: remote.instance,
                    to: to.clone(),
                };
                self.forwards.push(forward);
            }
            return;
        };
        loop {
            match outbox.try_send(text) {
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
            let slowest = self
                .peers
                .iter()
                .filter_map(|(id, p)| p.link.local().map(|o| (o.queued_bytes(), id, o)))
                .filter(|(queued, ..)| *queued > 0)
                .max_by_key(|(queued, ..)| *queued);
            // Evicting frees budget, and a frame always fits an empty one, so
            // this ends; `None` only if another thread is mid-way taking
            // frames out: then this one frame is lost.
            let Some((queued, id, slowest)) = slowest else {
                warn!(peer = %to, "queued-bytes budget spent; frame dropped");
                return;
            };
            warn!(peer = %id, queued, "queued-bytes budget spent; dropping the slowest client");
            slowest.evict(Eviction::ServerBusy);
            overflowed.push(id.clone());
            if id == to {
                return;
            }
        }
    }
}
