//! Who offers, when one side is the shell's native engine.
//!
//! `webrtcbin` has no SDP rollback and refuses a remote offer while its own
//! is pending, so a native peer can never be the *polite* side of perfect
//! negotiation, and it offers at most once (when it is opened with
//! `offer: true`); everything after that — renegotiation, ICE restarts —
//! comes from the other side. The page makes up for it:
//!
//! - **Who offers first** is the session's [`Role`], as for the browser
//!   engine: the newcomer to a room (and the caller of a direct call) is
//!   the initiator, everyone it meets waits. Both ends agree on it, so two
//!   native peers normally never both offer.
//! - **Glare** (both offered anyway: a responder's fallback offer crossing
//!   a late first offer) is settled by the same rule browsers use, the
//!   larger signaling id being polite ([`on_colliding_offer`]): the polite
//!   native side *replaces* its peer — a fresh one that has offered
//!   nothing — and answers theirs (a rollback by replacement, possible
//!   because nothing was connected yet); the impolite one ignores their
//!   offer and waits for the answer to its own. A browser on the other end
//!   computes the opposite politeness from the same ids, so exactly one
//!   side yields: no deadlock with a browser, nor between two native peers.
//! - **ICE restarts** only ever come from a browser peer; a native peer
//!   whose offer is unanswered after signaling came back sends it again.
//!   Between two native peers, a connection gone silent (its network
//!   changed) is built again from scratch (`session/liveness.rs`).

use crate::call::peer::Role;

/// Whether a new native peer makes the first offer.
pub fn offers_first(role: Role) -> bool {
    role == Role::Initiator
}

/// What to do with an offer that arrives while our native peer's own first
/// offer is unanswered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Glare {
    /// Close our peer, open a fresh one that doesn't offer, give it theirs.
    Yield,
    /// Ignore their offer: they will answer ours.
    Ignore,
}

/// Settles glare from the two signaling ids, as perfect negotiation does
/// (the larger id is polite).
pub fn on_colliding_offer(me: &str, them: &str) -> Glare {
    if me > them {
        Glare::Yield
    } else {
        Glare::Ignore
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a browser peer (perfect negotiation, `polite = me > them`) does
    /// with a colliding offer: `true` if it accepts (rolls back) theirs.
    fn browser_accepts(me: &str, them: &str) -> bool {
        me > them
    }

    #[test]
    fn only_the_initiator_offers_first() {
        assert!(offers_first(Role::Initiator));
        assert!(!offers_first(Role::Responder));
    }

    #[test]
    fn two_native_peers_settle_glare_one_way() {
        for (a, b) in [("p1", "p2"), ("zz", "aa"), ("abc", "abd")] {
            let a_does = on_colliding_offer(a, b);
            let b_does = on_colliding_offer(b, a);
            assert_ne!(a_does, b_does, "{a} vs {b}: exactly one yields");
        }
    }

    #[test]
    fn a_native_peer_and_a_browser_never_deadlock() {
        for (native, browser) in [("p1", "p2"), ("p9", "p2")] {
            let native_yields = on_colliding_offer(native, browser) == Glare::Yield;
            let browser_yields = browser_accepts(browser, native);
            // Exactly one side gives way: one offer gets answered.
            assert!(native_yields ^ browser_yields, "{native} vs {browser}");
        }
    }
}
