//! Relaying WebRTC negotiation (offers, answers, ICE candidates) between
//! peers, and media state to everyone who sees the sender.
//!
//! A peer may signal another in its room, one it is in an established call
//! with, or (the room-less demo flow) any other peer outside every room. A
//! relay without `to` goes to the peer the sender last sent an offer or
//! answer to; a `to`-less answer goes first to whoever last offered.

use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::super::splice::{self, RawRelay};
use super::{quote, unknown_peer, Deliveries, Hub, State};
use crate::protocol::{ErrorCode, MessageError, PeerId};

/// What a relay carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Relayed {
    Offer,
    Answer,
    Candidate,
}

impl Relayed {
    /// Its name: its `type` on the wire, and in error messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Offer => "offer",
            Self::Answer => "answer",
            Self::Candidate => "candidate",
        }
    }
}

impl Hub {
    /// Handles a relay from the fast path ([`splice`]): the same step as
    /// [`Hub::handle`] takes for a parsed one, with the frame spliced
    /// rather than serialized.
    pub(crate) fn relay(&self, from: &PeerId, relay: RawRelay<'_>) -> Result<(), MessageError> {
        #[cfg_attr(not(feature = "redis"), allow(clippy::unit_arg))]
        self.relay_forwarding(from, relay).map(drop)
    }

    /// [`Hub::relay`], returning what went to a peer of another instance.
    pub(crate) fn relay_forwarding(
        &self,
        from: &PeerId,
        relay: RawRelay<'_>,
    ) -> Result<super::Forwards, MessageError> {
        let text = splice::frame(relay.kind, from, relay.payload);
        self.step(|state| state.relay(from, relay.to, relay.kind, text))
    }
}

impl State {
    /// Whether `from` may relay to `to`: same room, an established call
    /// between them, or both outside any room (the demo's flow). False if
    /// either is gone.
    pub(super) fn may_signal(&self, from: &PeerId, to: &PeerId) -> bool {
        let (Some(sender), Some(recipient)) = (self.peers.get(from), self.peers.get(to)) else {
            return false;
        };
        match (&sender.room, &recipient.room) {
            (Some(a), Some(b)) if a.room == b.room => true,
            // A peer of another instance may be in a room not mirrored here.
            (None, None) => sender.roomless() && recipient.roomless(),
            _ => self.calls.connected(from, to),
        }
    }

    /// Relays `text`, a `kind` from `from`, to `to` or, without `to`, to the
    /// peer it negotiates with. An offer or answer makes the recipient the
    /// sender's partner for its `to`-less relays.
    pub(super) fn relay(
        &mut self,
        from: &PeerId,
        to: Option<PeerId>,
        kind: Relayed,
        text: Utf8Bytes,
    ) -> Result<Deliveries, MessageError> {
        let Some(sender) = self.peers.get(from) else {
            return Ok(Deliveries::none());
        };
        let explicit = to.is_some();
        let implicit = || match kind {
            Relayed::Answer => sender.offered_by.clone().or(sender.negotiating.clone()),
            Relayed::Offer | Relayed::Candidate => sender.negotiating.clone(),
        };
        let Some(target) = to.or_else(implicit) else {
            return Err(MessageError::new(
                ErrorCode::NoPartner,
                format!(
                    "{} has no \"to\" and you are not negotiating with anyone; \
                     send an offer or answer with \"to\" first",
                    kind.name()
                ),
            ));
        };
        if &target == from {
            return Err(MessageError::new(
                ErrorCode::NotPermitted,
                "cannot send to yourself",
            ));
        }
        if !self.peers.contains_key(&target) {
            return Err(if explicit {
                unknown_peer(&target)
            } else {
                MessageError::new(
                    ErrorCode::NoPartner,
                    format!(
                        "the peer you were negotiating with ({}) has left",
                        quote(target.as_str())
                    ),
                )
            });
        }
        if !self.may_signal(from, &target) {
            return Err(not_reachable(&target));
        }
        if kind != Relayed::Candidate {
            // Only the sender's own offer or answer decides where its
            // `to`-less messages go: receiving an offer must not, or anyone
            // who may signal a peer could redirect its candidates with one
            // offer. Receiving one only says where a `to`-less answer goes.
            // (Most relays repeat the last one's partner: no new copy then.)
            if let Some(sender) = self.peers.get_mut(from) {
                if sender.negotiating.as_ref() != Some(&target) {
                    sender.negotiating = Some(target.clone());
                }
            }
            if kind == Relayed::Offer {
                if let Some(recipient) = self.peers.get_mut(&target) {
                    if recipient.offered_by.as_ref() != Some(from) {
                        recipient.offered_by = Some(from.clone());
                    }
                }
            }
        }
        Ok(Deliveries::one(&target, text))
    }

    /// Sends `text`, `from`'s media state, to its room, its call partners
    /// and (for the room-less demo flow) the peer it negotiates with if that
    /// one may still be reached; each once.
    pub(super) fn media_state(&self, from: &PeerId, text: &Utf8Bytes) -> Deliveries {
        let Some(me) = self.peers.get(from) else {
            return Deliveries::none();
        };
        let mut recipients: Vec<&PeerId> = Vec::new();
        if let Some(room) = me.room.as_ref().and_then(|m| self.rooms.get(&m.room)) {
            recipients.extend(room.members.iter().filter(|id| *id != from));
        }
        recipients.extend(self.calls.partners(from));
        if let Some(target) = &me.negotiating {
            if self.may_signal(from, target) {
                recipients.push(target);
            }
        }
        recipients.sort_unstable();
        recipients.dedup();
        let mut out = Deliveries::none();
        out.push_each(recipients, text);
        out
    }
}

fn not_reachable(id: &PeerId) -> MessageError {
    MessageError::new(
        ErrorCode::NotPermitted,
        format!(
            "peer {} is not in your room and not in a call with you",
            quote(id.as_str())
        ),
    )
}
