//! Per-connection message rate limiting.
//!
//! A token bucket that may go into debt. Each message costs one token; tokens
//! refill at the sustained rate up to the burst size. A message arriving with
//! the bucket empty is dropped (the client is told once, with a
//! `rate_limited` error) but still costs a token, so a client that keeps
//! sending while limited digs itself deeper; once the debt reaches a whole
//! burst the client is flooding and is disconnected. A client that is merely
//! bursty (a browser trickling 150 ICE candidates) loses a few messages; one
//! that ignores the error is cut off within a fraction of a second.

use std::time::Instant;

/// What to do with one incoming message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Within the limit: handle it.
    Allow,
    /// Over the limit: drop it. `notify` is true for the first message of a
    /// limited stretch, so the client is told once rather than per message
    /// (which would turn a flood into an amplified flood of replies).
    Limited { notify: bool },
    /// Far over the limit: close the connection (1008).
    Flooding,
}

/// A bucket's sustained rate and burst: the same for every connection, so
/// passed in rather than kept in each one's bucket.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limit {
    rate_per_sec: f64,
    burst: f64,
}

impl Limit {
    /// Refilling at `rate_per_sec` up to `burst` tokens.
    pub(crate) fn new(rate_per_sec: u32, burst: u32) -> Self {
        Self {
            rate_per_sec: f64::from(rate_per_sec.max(1)),
            burst: f64::from(burst.max(1)),
        }
    }
}

/// A token bucket with debt; see the module docs.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    tokens: f64,
    last: Instant,
    notified: bool,
}

impl TokenBucket {
    /// A full bucket.
    pub(crate) fn new(limit: Limit, now: Instant) -> Self {
        Self {
            tokens: limit.burst,
            last: now,
            notified: false,
        }
    }

    /// When the last message came (or the bucket was made).
    pub(crate) fn last(&self) -> Instant {
        self.last
    }

    /// Charges one message arriving at `now`.
    pub(crate) fn check(&mut self, limit: Limit, now: Instant) -> Verdict {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * limit.rate_per_sec).min(limit.burst);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            self.notified = false;
            Verdict::Allow
        } else if self.tokens <= -limit.burst {
            Verdict::Flooding
        } else {
            let notify = !self.notified;
            self.notified = true;
            Verdict::Limited { notify }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_limit_then_flood() {
        let start = Instant::now();
        let limit = Limit::new(10, 5);
        let mut bucket = TokenBucket::new(limit, start);
        for _ in 0..5 {
            assert_eq!(bucket.check(limit, start), Verdict::Allow);
        }
        assert_eq!(
            bucket.check(limit, start),
            Verdict::Limited { notify: true }
        );
        for _ in 0..3 {
            assert_eq!(
                bucket.check(limit, start),
                Verdict::Limited { notify: false }
            );
        }
        assert_eq!(bucket.check(limit, start), Verdict::Flooding);
    }

    #[test]
    fn refills_at_the_rate() {
        let start = Instant::now();
        let limit = Limit::new(10, 5);
        let mut bucket = TokenBucket::new(limit, start);
        for _ in 0..5 {
            bucket.check(limit, start);
        }
        assert_eq!(
            bucket.check(limit, start),
            Verdict::Limited { notify: true }
        );
        // 1 s later: debt of 1 repaid, 9 tokens refilled, capped at 5.
        let later = start + Duration::from_secs(1);
        assert_eq!(bucket.check(limit, later), Verdict::Allow);
        // Notified again after a fresh limited stretch.
        for _ in 0..4 {
            assert_eq!(bucket.check(limit, later), Verdict::Allow);
        }
        assert_eq!(
            bucket.check(limit, later),
            Verdict::Limited { notify: true }
        );
    }

    #[test]
    fn sustained_rate_is_allowed() {
        let start = Instant::now();
        let limit = Limit::new(40, 100);
        let mut bucket = TokenBucket::new(limit, start);
        for i in 0..2_000u32 {
            let now = start + Duration::from_millis(25) * i;
            assert_eq!(bucket.check(limit, now), Verdict::Allow, "message {i}");
        }
    }
}
