//! What the debug hook (`call/debug.rs`) reads from a call, and its one
//! action: read-only views of the session's live state.

use super::Session;
use crate::call::peer::PeerStats;
use crate::call::{CallPhase, CallTarget, LocalView, PeerView};

impl Session {
    /// Restarts ICE on every connection (debug hook; the same as a failure).
    pub(in crate::call) fn restart_ice(&self) {
        for peer in self.roster.peers() {
            peer.restart();
        }
    }

    /// Milestones reached, in ms since the start (debug hook).
    pub(in crate::call) fn milestones(&self) -> Vec<(&'static str, f64)> {
        self.milestones
            .borrow()
            .iter()
            .map(|(n, at)| (*n, at - self.started_at))
            .collect()
    }

    /// When the call started (`performance.now()`), for the join-time figure.
    pub(in crate::call) fn started_at(&self) -> f64 {
        self.started_at
    }

    /// Every participant as the debug hook shows them: their view, whether
    /// they are detached, and their connection's stats.
    pub(in crate::call) async fn peers(&self) -> Vec<(PeerView, bool, PeerStats)> {
        let mut out = Vec::new();
        for slot in self.roster.all() {
            let stats = match slot.peer() {
                Some(peer) => peer.stats().await,
                None => PeerStats::default(),
            };
            out.push((slot.view(self.frames().as_ref()), slot.detached(), stats));
        }
        out
    }

    /// Our devices as the page sees them.
    pub(in crate::call) fn local_view(&self) -> LocalView {
        self.local.view()
    }

    /// Where the call is.
    pub(in crate::call) fn current_phase(&self) -> CallPhase {
        self.phase()
    }

    /// Whom the call is with.
    pub(in crate::call) fn target(&self) -> &CallTarget {
        &self.target
    }
}
