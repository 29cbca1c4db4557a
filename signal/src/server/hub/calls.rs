//! Direct calls by peer id: ringing, the callee's name, accepting,
//! declining and hanging up.
//!
//! Every call lives in one table, [`Calls`], keyed by the pair of peers
//! rather than recorded on each side, so the two sides of a call can never
//! disagree. Between two peers there is at most one entry: a ring one way,
//! rings both ways (they called each other at once), an established call,
//! or an established call with the other way's ring still unanswered. An
//! established call lets the two signal each other whatever their rooms.
//!
//! A peer holds at most [`super::HubLimits::max_calls_per_peer`] calls: the
//! calls it is in and the rings it placed. Rings it receives don't count
//! against it.

use std::collections::{HashMap, HashSet};

use super::{frame, quote, unknown_peer, Deliveries, Hub, State};
use crate::protocol::{ErrorCode, MessageError, PeerId, ServerMessage};

/// Every direct call: one entry per pair of peers with anything between
/// them, plus an index of each peer's counterparts (for departures and
/// counting), both kept by the methods here alone.
#[derive(Debug, Default)]
pub(super) struct Calls {
    table: HashMap<Pair, Call>,
    /// For each peer with an entry in `table`, the other side of each.
    counterparts: HashMap<PeerId, HashSet<PeerId>>,
}

/// Two peers, the lesser id first: a call's key, the same from either side.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Pair {
    low: PeerId,
    high: PeerId,
}

impl Pair {
    fn new(a: &PeerId, b: &PeerId) -> Self {
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        Self {
            low: low.clone(),
            high: high.clone(),
        }
    }

    /// Index of `caller`'s ring in [`Call::rings`].
    fn side(&self, caller: &PeerId) -> usize {
        usize::from(*caller != self.low)
    }
}

/// What stands between two peers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Call {
    /// The callee accepted: the two may signal each other.
    established: bool,
    /// Unanswered rings: `[0]` by the pair's `low` (ringing `high`), `[1]`
    /// by `high`. Both when they called each other at once; accepting one
    /// leaves the other ringing.
    rings: [bool; 2],
}

impl Call {
    /// Nothing left between the two: the entry goes.
    fn is_over(&self) -> bool {
        !self.established && self.rings == [false, false]
    }
}

/// How the callee answers a ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Answer {
    Accept,
    Decline,
}

impl Calls {
    fn get(&self, a: &PeerId, b: &PeerId) -> Option<&Call> {
        self.table.get(&Pair::new(a, b))
    }

    /// Whether `caller` rings `callee`, unanswered.
    pub(super) fn rings(&self, caller: &PeerId, callee: &PeerId) -> bool {
        let pair = Pair::new(caller, callee);
        self.table
            .get(&pair)
            .is_some_and(|call| caller != callee && call.rings[pair.side(caller)])
    }

    /// Whether `a` and `b` are in an established call.
    pub(super) fn connected(&self, a: &PeerId, b: &PeerId) -> bool {
        self.get(a, b).is_some_and(|call| call.established)
    }

    /// The peers `peer` is in an established call with.
    pub(super) fn partners<'a>(&'a self, peer: &'a PeerId) -> impl Iterator<Item = &'a PeerId> {
        self.counterparts
            .get(peer)
            .into_iter()
            .flatten()
            .filter(move |other| self.connected(peer, other))
    }

    /// The calls `peer` holds against the limit: each established call and
    /// each ring it placed (both, for a call accepted while `peer`'s own
    /// ring the other way is still unanswered).
    pub(super) fn load(&self, peer: &PeerId) -> usize {
        self.counterparts.get(peer).map_or(0, |others| {
            others
                .iter()
                .map(|other| {
                    usize::from(self.connected(peer, other)) + usize::from(self.rings(peer, other))
                })
                .sum()
        })
    }

    /// `caller` rings `callee` (again, if it already did).
    pub(super) fn ring(&mut self, caller: &PeerId, callee: &PeerId) {
        debug_assert_ne!(caller, callee, "a peer cannot call itself");
        let pair = Pair::new(caller, callee);
        let side = pair.side(caller);
        self.table.entry(pair).or_default().rings[side] = true;
        self.index(caller, callee);
        self.index(callee, caller);
    }

    /// `callee` answers `caller`'s ring: the ring ends, and accepting
    /// establishes the call.
    pub(super) fn answer(&mut self, caller: &PeerId, callee: &PeerId, answer: Answer) {
        let pair = Pair::new(caller, callee);
        let side = pair.side(caller);
        let Some(call) = self.table.get_mut(&pair) else {
            return;
        };
        call.rings[side] = false;
        if answer == Answer::Accept {
            call.established = true;
        }
        if call.is_over() {
            self.end(caller, callee);
        }
    }

    /// Ends everything between `a` and `b`: the call and the rings either
    /// way. Whether there was anything.
    pub(super) fn end(&mut self, a: &PeerId, b: &PeerId) -> bool {
        if self.table.remove(&Pair::new(a, b)).is_none() {
            return false;
        }
        self.unindex(a, b);
        self.unindex(b, a);
        true
    }

    /// Ends every call and ring `peer` has; returns the peers on the other
    /// side.
    pub(super) fn remove_peer(&mut self, peer: &PeerId) -> HashSet<PeerId> {
        let others = self.counterparts.remove(peer).unwrap_or_default();
        for other in &others {
            self.table.remove(&Pair::new(peer, other));
            self.unindex(other, peer);
        }
        others
    }

    /// Whether there are no calls at all (for the tests).
    #[cfg(test)]
    pub(super) fn is_empty(&self) -> bool {
        self.table.is_empty() && self.counterparts.is_empty()
    }

    /// Whether the table is consistent: keys ordered, no entry empty, none
    /// established with rings both ways, both sides `connected`, the index
    /// exactly the table's pairs seen from each side, and no peer over
    /// `max_calls`.
    #[cfg(any(test, fuzzing))]
    pub(super) fn check(
        &self,
        connected: impl Fn(&PeerId) -> bool,
        max_calls: usize,
    ) -> Result<(), String> {
        for (pair, call) in &self.table {
            let Pair { low, high } = pair;
            if low >= high {
                return Err(format!("call key ({low}, {high}) out of order"));
            }
            if call.is_over() || (call.established && call.rings == [true, true]) {
                return Err(format!("call between {low} and {high}: {call:?}"));
            }
            if !connected(low) || !connected(high) {
                return Err(format!("call between {low} and {high}: one is gone"));
            }
            let indexed = |a: &PeerId, b: &PeerId| {
                self.counterparts
                    .get(a)
                    .is_some_and(|others| others.contains(b))
            };
            if !indexed(low, high) || !indexed(high, low) {
                return Err(format!("call between {low} and {high} not indexed"));
            }
        }
        let indexed: usize = self.counterparts.values().map(HashSet::len).sum();
        if indexed != 2 * self.table.len() || self.counterparts.values().any(HashSet::is_empty) {
            return Err(format!(
                "call index lists {indexed} sides for {} calls",
                self.table.len()
            ));
        }
        if let Some(peer) = self
            .counterparts
            .keys()
            .find(|peer| self.load(peer) > max_calls)
        {
            return Err(format!("{peer} holds {} calls", self.load(peer)));
        }
        Ok(())
    }

    fn index(&mut self, peer: &PeerId, other: &PeerId) {
        self.counterparts
            .entry(peer.clone())
            .or_default()
            .insert(other.clone());
    }

    fn unindex(&mut self, peer: &PeerId, other: &PeerId) {
        if let Some(others) = self.counterparts.get_mut(peer) {
            others.remove(other);
            if others.is_empty() {
                self.counterparts.remove(peer);
            }
        }
    }
}

impl Hub {
    /// `from` rings `to`, named `name` (or by its room display name).
    pub(super) fn call(
        &self,
        state: &mut State,
        from: &PeerId,
        to: &PeerId,
        name: Option<String>,
    ) -> Result<Deliveries, MessageError> {
        let Some(caller) = state.peers.get(from) else {
            return Ok(Deliveries::none());
        };
        if to == from {
            return Err(MessageError::new(
                ErrorCode::NotPermitted,
                "cannot call yourself",
            ));
        }
        if !state.peers.contains_key(to) {
            return Err(unknown_peer(to));
        }
        if state.calls.connected(from, to) {
            return Err(MessageError::new(
                ErrorCode::NotPermitted,
                format!("already in a call with {}", quote(to.as_str())),
            ));
        }
        let max = self.limits.max_calls_per_peer;
        if !state.calls.rings(from, to) && state.calls.load(from) >= max {
            return Err(too_many_calls(max));
        }
        // Without a name, show the caller's room display name, if any.
        let name = name.or_else(|| caller.room.as_ref().map(|m| m.name.clone()));
        state.calls.ring(from, to);
        let ring = frame(&ServerMessage::Ring {
            from: from.clone(),
            name,
        });
        Ok(Deliveries::one(to, ring))
    }

    /// `from` answers the call ringing from `caller`, naming itself `name`.
    pub(super) fn answer_call(
        &self,
        state: &mut State,
        from: &PeerId,
        caller: &PeerId,
        answer: Answer,
        name: Option<String>,
    ) -> Result<Deliveries, MessageError> {
        if !state.peers.contains_key(from) {
            return Ok(Deliveries::none());
        }
        if !state.calls.rings(caller, from) {
            return Err(no_pending_call(state, caller));
        }
        let max = self.limits.max_calls_per_peer;
        if answer == Answer::Accept && state.calls.load(from) >= max {
            return Err(too_many_calls(max));
        }
        state.calls.answer(caller, from, answer);
        let from = from.clone();
        let reply = match answer {
            Answer::Accept => ServerMessage::Accepted { from, name },
            Answer::Decline => ServerMessage::Declined { from, name },
        };
        Ok(Deliveries::one(caller, frame(&reply)))
    }
}

impl State {
    /// The callee `from` tells `caller`, whose call rings it, its name.
    pub(super) fn ringing(
        &mut self,
        from: &PeerId,
        caller: &PeerId,
        name: String,
    ) -> Result<Deliveries, MessageError> {
        if !self.peers.contains_key(from) {
            return Ok(Deliveries::none());
        }
        if !self.calls.rings(caller, from) {
            return Err(no_pending_call(self, caller));
        }
        let reply = ServerMessage::Ringing {
            from: from.clone(),
            name,
        };
        Ok(Deliveries::one(caller, frame(&reply)))
    }

    /// `from` ends its call with `to`, or the rings between them either way
    /// (two people may ring each other at once; hanging up ends both).
    pub(super) fn hang_up(
        &mut self,
        from: &PeerId,
        to: &PeerId,
    ) -> Result<Deliveries, MessageError> {
        if !self.peers.contains_key(from) {
            return Ok(Deliveries::none());
        }
        if !self.peers.contains_key(to) {
            return Err(unknown_peer(to));
        }
        if !self.calls.end(from, to) {
            return Err(MessageError::new(
                ErrorCode::NotInCall,
                format!("no call with {}", quote(to.as_str())),
            ));
        }
        let hung_up = frame(&ServerMessage::HungUp { from: from.clone() });
        Ok(Deliveries::one(to, hung_up))
    }
}

/// `caller` rings nobody here: it is gone, or its call is not ringing.
fn no_pending_call(state: &State, caller: &PeerId) -> MessageError {
    if state.peers.contains_key(caller) {
        MessageError::new(
            ErrorCode::NoPendingCall,
            format!("no call from {} is ringing", quote(caller.as_str())),
        )
    } else {
        unknown_peer(caller)
    }
}

fn too_many_calls(max: usize) -> MessageError {
    MessageError::new(
        ErrorCode::NotPermitted,
        format!("too many calls at once (at most {max})"),
    )
}
