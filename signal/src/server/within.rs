//! A write within a time limit, whose timer is only started when the write
//! has to wait.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{sleep_until, Instant, Sleep};
use tokio_tungstenite::tungstenite::error::Error as WsError;
use tracing::debug;

/// A write within a time limit, whose timer is only started when the
/// write has to wait: most writes complete at once and never touch the
/// timer wheel, and the session's future holds a pointer to a timer rather
/// than one (as [`tokio::time::timeout`] would: over a hundred bytes a
/// connection).
pub(crate) struct Within<'a, W> {
    write: W,
    limit: Duration,
    /// The session's timer, made at its first slow write.
    timer: &'a mut Option<Pin<Box<Sleep>>>,
    started: bool,
}

impl<'a, W> Within<'a, W> {
    pub(crate) fn new(write: W, limit: Duration, timer: &'a mut Option<Pin<Box<Sleep>>>) -> Self {
        Self {
            write,
            limit,
            timer,
            started: false,
        }
    }
}

impl<W> Future for Within<'_, W>
where
    W: Future<Output = Result<(), WsError>> + Unpin,
{
    /// False if the client is gone or too slow.
    type Output = bool;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<bool> {
        let this = self.get_mut();
        if let Poll::Ready(result) = Pin::new(&mut this.write).poll(cx) {
            if let Err(error) = &result {
                debug!(%error, "write failed");
            }
            return Poll::Ready(result.is_ok());
        }
        if !this.started {
            this.started = true;
            let deadline = Instant::now() + this.limit;
            match this.timer {
                Some(timer) => timer.as_mut().reset(deadline),
                None => *this.timer = Some(Box::pin(sleep_until(deadline))),
            }
        }
        let Some(timer) = this.timer else {
            unreachable!("started above");
        };
        if timer.as_mut().poll(cx).is_ready() {
            debug!("write timed out; client too slow");
            return Poll::Ready(false);
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use futures_util::SinkExt;
    use tokio::io::AsyncReadExt;
    use tokio_tungstenite::tungstenite::protocol::Role;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::WebSocketStream;

    use super::*;

    const LIMIT: Duration = Duration::from_millis(100);

    #[tokio::test]
    async fn a_write_that_waits_too_long_fails_and_its_timer_is_kept() {
        // The other end takes 64 bytes, then nothing until it reads.
        let (ours, mut theirs) = tokio::io::duplex(64);
        let mut ws = WebSocketStream::from_raw_socket(ours, Role::Server, None).await;
        let mut timer = None;

        let quick = ws.send(Message::text("hello"));
        assert!(Within::new(quick, LIMIT, &mut timer).await);
        assert!(timer.is_none(), "a write that did not wait made no timer");

        // Waits, and is read in time.
        let reader = tokio::spawn(async move {
            tokio::time::sleep(LIMIT / 4).await;
            let mut read = vec![0; 2048];
            let mut got = 0;
            while got < 7 + 504 {
                got += theirs.read(&mut read).await.unwrap();
            }
            theirs
        });
        let waits = ws.send(Message::text("x".repeat(500)));
        assert!(Within::new(waits, LIMIT, &mut timer).await);
        assert!(timer.is_some(), "kept for the next slow write");
        let _theirs = reader.await.unwrap();

        // Waits, and nobody reads: false once the limit has passed, on the
        // kept timer, started afresh.
        let started = Instant::now();
        let stuck = ws.send(Message::text("y".repeat(500)));
        assert!(!Within::new(stuck, LIMIT, &mut timer).await);
        assert!(started.elapsed() >= LIMIT);
    }
}
