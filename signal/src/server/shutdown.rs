//! Each connection task's view of the server's shutdown, as in mini-redis.
//!
//! [`run`](super::run) holds a broadcast sender that never sends: dropping
//! it is the signal, and every [`Shutdown`] then sees the channel closed.
//! Each task also holds a clone of an mpsc sender; once all are dropped,
//! `run` knows every task has finished.

use tokio::sync::broadcast;

/// A connection task's view of the shutdown signal.
pub(crate) struct Shutdown {
    is_shutdown: bool,
    notify: broadcast::Receiver<()>,
}

impl Shutdown {
    /// Listens on `notify`, a receiver of the server's shutdown channel.
    pub(super) fn new(notify: broadcast::Receiver<()>) -> Self {
        Self {
            is_shutdown: false,
            notify,
        }
    }

    /// Completes once shutdown has begun (immediately if it already had).
    /// Cancel-safe, so it can sit in a `select!` loop.
    pub(crate) async fn recv(&mut self) {
        if self.is_shutdown {
            return;
        }
        // Nothing is ever sent; the only outcome is `Closed` on shutdown.
        let _ = self.notify.recv().await;
        self.is_shutdown = true;
    }
}
