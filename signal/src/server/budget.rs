//! The memory budget for queued outbound frames.
//!
//! Every peer's frames wait in a bounded queue between the hub, which
//! pushes, and the peer's connection task, which writes them to the socket.
//! A client that stops reading lets its queue fill, so the queue is bounded
//! three ways: in frames ([`super::Config::outbound_queue`]), in bytes per
//! connection ([`super::Config::max_queued_bytes_per_connection`]) and in
//! bytes server-wide ([`super::Config::max_queued_bytes`]).
//!
//! A frame that would overflow its own queue evicts that peer ("too slow",
//! 1008). A frame that would overflow the server-wide budget makes the hub
//! evict the slowest consumers first (the most bytes waiting, "server
//! busy", 1013) until it fits. An evicted peer's bytes leave the budget at
//! once; its connection task hears of it through [`Evicted`], throws
//! its queue away without writing it, and closes with the code and reason
//! of [`Eviction::close`].
//!
//! The queue is a `VecDeque` under the account's own short lock, allocated
//! at the first frame, and the connection task waits on it with a waker:
//! an idle connection's queue costs a few dozen bytes (a channel's first
//! block was over a KiB per connection).

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Poll;

use futures_util::task::AtomicWaker;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// The server-wide count of queued bytes.
#[derive(Debug)]
pub(crate) struct Budget {
    limit: usize,
    queued: AtomicUsize,
}

impl Budget {
    /// A budget of `limit` queued bytes for all connections together.
    pub(crate) fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            limit,
            queued: AtomicUsize::new(0),
        })
    }

    /// Bytes queued right now, server-wide.
    pub(crate) fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Takes `bytes` from the budget if they fit. A frame always fits an
    /// empty budget, so one frame larger than the whole budget still gets
    /// through rather than never.
    fn reserve(&self, bytes: usize) -> bool {
        self.queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
                (queued == 0 || queued.saturating_add(bytes) <= self.limit)
                    .then(|| queued.saturating_add(bytes))
            })
            .is_ok()
    }

    fn release(&self, bytes: usize) {
        self.queued.fetch_sub(bytes, Ordering::AcqRel);
    }
}

/// Why a peer's queue was thrown away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Eviction {
    /// Its own queue was full: it does not read fast enough.
    TooSlow,
    /// The server-wide budget was spent and this peer had the most waiting.
    ServerBusy,
    /// The server is shutting down: the session says so and closes (the
    /// hub tells every session this way, so that a session's loop waits on
    /// one notice rather than two).
    Shutdown,
}

impl Eviction {
    /// The close code and reason its connection ends with.
    pub(crate) fn close(self) -> (CloseCode, &'static str) {
        match self {
            Self::TooSlow => (CloseCode::Policy, "too slow: outbound queue overflowed"),
            Self::ServerBusy => (
                CloseCode::Again,
                "server busy: too much queued for this slow connection",
            ),
            // Not used to close: a session told of the shutdown says so
            // first and closes as `session::end` does (this is for totality).
            Self::Shutdown => (CloseCode::Away, "server shutting down"),
        }
    }
}

/// Why a frame was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The peer's own queue is full; the peer has been evicted for it.
    Full,
    /// The server-wide budget is spent; nothing changed.
    OverBudget,
    /// The peer is gone or already evicted.
    Closed,
}

/// One peer's queue, shared by both ends: its frames and what they count
/// against. Nothing is allocated for the frames until the first is queued
/// (most connections idle, and the welcome is written directly), and a
/// waiting end costs no more than a waker.
#[derive(Debug)]
struct Account {
    budget: Arc<Budget>,
    /// Bytes this queue may hold.
    limit: usize,
    /// Frames this queue may hold.
    max_frames: usize,
    state: Mutex<AccountState>,
    /// The connection task, waiting for a frame or its eviction: one task
    /// owns both ends ([`Inbox`], [`Evicted`]), so one waker serves both.
    task: AtomicWaker,
}

#[derive(Debug, Default)]
struct AccountState {
    frames: VecDeque<Utf8Bytes>,
    /// Bytes queued and not yet taken out (0 once evicted).
    queued: usize,
    evicted: Option<Eviction>,
    /// The connection task refuses more (it is ending).
    closed: bool,
    /// The hub dropped its end: once empty, the queue has ended.
    abandoned: bool,
}

impl Account {
    fn new(budget: Arc<Budget>, max_frames: usize, limit: usize) -> Arc<Self> {
        Arc::new(Self {
            budget,
            limit,
            max_frames,
            state: Mutex::default(),
            task: AtomicWaker::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, AccountState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks the peer evicted (first reason wins): its bytes leave the
    /// budget now, and its connection task is told.
    fn evict(&self, state: &mut AccountState, why: Eviction) {
        if state.evicted.is_some() {
            return;
        }
        state.evicted = Some(why);
        self.budget.release(std::mem::take(&mut state.queued));
        self.task.wake();
    }

    /// The next frame, if one is waiting, taken out of the counts.
    fn take(&self) -> Option<Utf8Bytes> {
        let mut state = self.lock();
        let text = state.frames.pop_front()?;
        // Once evicted, the bytes were released all at once.
        if state.evicted.is_none() {
            state.queued -= text.len();
            self.budget.release(text.len());
        }
        Some(text)
    }
}

/// The hub's end of a peer's queue.
#[derive(Debug)]
pub(crate) struct Outbox {
    account: Arc<Account>,
}

impl Outbox {
    /// Queues `text` without waiting; see the module docs for the limits.
    pub(crate) fn try_send(&self, text: &Utf8Bytes) -> Result<(), Refused> {
        let bytes = text.len();
        let account = &*self.account;
        let mut state = account.lock();
        if state.evicted.is_some() || state.closed {
            return Err(Refused::Closed);
        }
        // Like the server-wide budget, an empty queue takes any one frame.
        if state.queued > 0 && state.queued.saturating_add(bytes) > account.limit {
            account.evict(&mut state, Eviction::TooSlow);
            return Err(Refused::Full);
        }
        if !account.budget.reserve(bytes) {
            return Err(Refused::OverBudget);
        }
        if state.frames.len() >= account.max_frames {
            account.budget.release(bytes);
            account.evict(&mut state, Eviction::TooSlow);
            return Err(Refused::Full);
        }
        state.queued += bytes;
        state.frames.push_back(text.clone());
        drop(state);
        account.task.wake();
        Ok(())
    }

    /// Bytes waiting in this queue (0 once evicted).
    pub(crate) fn queued_bytes(&self) -> usize {
        self.account.lock().queued
    }

    /// Whether the peer was evicted.
    #[cfg(test)]
    pub(crate) fn is_evicted(&self) -> bool {
        self.account.lock().evicted.is_some()
    }

    /// Evicts the peer (see the module docs).
    pub(crate) fn evict(&self, why: Eviction) {
        let mut state = self.account.lock();
        self.account.evict(&mut state, why);
    }
}

impl Drop for Outbox {
    /// The queue ends: the connection task hears of it once it is empty.
    fn drop(&mut self) {
        self.account.lock().abandoned = true;
        self.account.task.wake();
    }
}

/// The connection task's end of its queue.
#[derive(Debug)]
pub(crate) struct Inbox {
    account: Arc<Account>,
}

/// Tells the connection task that its peer was evicted.
#[derive(Debug)]
pub(crate) struct Evicted {
    account: Arc<Account>,
    /// Reported already: never again.
    told: bool,
}

impl Evicted {
    /// Completes when the peer is evicted, with why (once); never
    /// otherwise. Cancel-safe.
    pub(crate) async fn recv(&mut self) -> Eviction {
        let why = poll_fn(|cx| {
            if self.told {
                return Poll::Pending;
            }
            let evicted = || self.account.lock().evicted;
            if let Some(why) = evicted() {
                return Poll::Ready(why);
            }
            self.account.task.register(cx.waker());
            evicted().map_or(Poll::Pending, Poll::Ready)
        })
        .await;
        self.told = true;
        why
    }
}

impl Inbox {
    /// The next queued frame; `None` once the hub dropped the queue.
    /// Cancel-safe.
    pub(crate) async fn recv(&mut self) -> Option<Utf8Bytes> {
        poll_fn(|cx| {
            let next = || match self.account.take() {
                Some(text) => Poll::Ready(Some(text)),
                None if self.account.lock().abandoned => Poll::Ready(None),
                None => Poll::Pending,
            };
            if let Poll::Ready(next) = next() {
                return Poll::Ready(next);
            }
            self.account.task.register(cx.waker());
            next()
        })
        .await
    }

    /// The next queued frame, if one is waiting.
    pub(crate) fn try_recv(&mut self) -> Option<Utf8Bytes> {
        self.account.take()
    }

    /// Throws away everything queued, unsent, and refuses more.
    pub(crate) fn discard(&mut self) {
        self.account.lock().closed = true;
        while self.try_recv().is_some() {}
    }

    /// Whether the hub has dropped its end (for the hub's tests).
    #[cfg(test)]
    pub(crate) fn is_abandoned(&self) -> bool {
        self.account.lock().abandoned
    }
}

impl Drop for Inbox {
    /// Whatever is still queued leaves the budget with the inbox.
    fn drop(&mut self) {
        self.discard();
    }
}

/// A queue of at most `frames` frames and `bytes` bytes, within `budget`,
/// and the notice of its eviction.
pub(crate) fn channel(
    budget: &Arc<Budget>,
    frames: usize,
    bytes: usize,
) -> (Outbox, Inbox, Evicted) {
    let account = Account::new(budget.clone(), frames, bytes);
    (
        Outbox {
            account: account.clone(),
        },
        Inbox {
            account: account.clone(),
        },
        Evicted {
            account,
            told: false,
        },
    )
}

/// For the hub's unit tests and fuzzing: a queue of `frames` frames and
/// no byte limits.
#[cfg(any(test, fuzzing))]
pub(crate) fn unlimited(frames: usize) -> (Outbox, Inbox) {
    let (outbox, inbox, _) = channel(&Budget::new(usize::MAX), frames, usize::MAX);
    (outbox, inbox)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(bytes: usize) -> Utf8Bytes {
        Utf8Bytes::from("x".repeat(bytes))
    }

    #[tokio::test]
    async fn bytes_per_queue_are_bounded() {
        let budget = Budget::new(1_000_000);
        let (outbox, mut inbox, mut evicted) = channel(&budget, 100, 250);
        // An empty queue takes even an oversized frame.
        outbox.try_send(&frame(300)).unwrap();
        assert_eq!(inbox.recv().await.unwrap().len(), 300);
        assert_eq!(budget.queued(), 0);
        outbox.try_send(&frame(100)).unwrap();
        outbox.try_send(&frame(100)).unwrap();
        assert_eq!((outbox.queued_bytes(), budget.queued()), (200, 200));
        assert_eq!(outbox.try_send(&frame(100)), Err(Refused::Full));
        assert!(outbox.is_evicted());
        assert_eq!(evicted.recv().await, Eviction::TooSlow);
        // Its bytes left the budget at once; taking the frames out later
        // does not count them twice.
        assert_eq!(budget.queued(), 0);
        inbox.discard();
        assert_eq!(budget.queued(), 0);
        assert_eq!(outbox.try_send(&frame(1)), Err(Refused::Closed));
    }

    #[test]
    fn a_dropped_inbox_gives_its_bytes_back() {
        let budget = Budget::new(1_000);
        let (outbox, inbox, _) = channel(&budget, 10, 1_000);
        outbox.try_send(&frame(10)).unwrap();
        outbox.try_send(&frame(20)).unwrap();
        assert_eq!(budget.queued(), 30);
        drop(inbox);
        assert_eq!(budget.queued(), 0);
        assert_eq!(outbox.try_send(&frame(1)), Err(Refused::Closed));
    }

    #[tokio::test]
    async fn frames_per_queue_are_bounded() {
        let budget = Budget::new(1_000_000);
        let (outbox, _inbox, mut evicted) = channel(&budget, 2, 1_000);
        outbox.try_send(&frame(1)).unwrap();
        outbox.try_send(&frame(1)).unwrap();
        assert_eq!(outbox.try_send(&frame(1)), Err(Refused::Full));
        assert_eq!(evicted.recv().await, Eviction::TooSlow);
        assert_eq!(budget.queued(), 0);
    }

    #[tokio::test]
    async fn the_server_wide_budget_is_shared() {
        let budget = Budget::new(300);
        let (a, _a_inbox, mut a_evicted) = channel(&budget, 100, 1_000);
        let (b, mut b_inbox, _) = channel(&budget, 100, 1_000);
        a.try_send(&frame(200)).unwrap();
        b.try_send(&frame(100)).unwrap();
        assert_eq!(b.try_send(&frame(1)), Err(Refused::OverBudget));
        assert!(!b.is_evicted(), "over budget changes nothing by itself");
        a.evict(Eviction::ServerBusy);
        assert_eq!(budget.queued(), 100);
        b.try_send(&frame(150)).unwrap();
        assert_eq!(a_evicted.recv().await, Eviction::ServerBusy);
        assert_eq!(b_inbox.recv().await.unwrap().len(), 100);
        assert_eq!(budget.queued(), 150);
        drop(b_inbox);
        assert_eq!(b.try_send(&frame(1)), Err(Refused::Closed));
    }

    #[test]
    fn evictions_close_with_a_code_that_says_why() {
        assert_eq!(u16::from(Eviction::TooSlow.close().0), 1008);
        assert_eq!(u16::from(Eviction::ServerBusy.close().0), 1013);
    }
}
