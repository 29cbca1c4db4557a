//! What the shell has to tell the page, kept until the page asks for it
//! (a long poll: the page always has one `native_events` command waiting).
//!
//! Not a Tauri channel: every channel message is an `eval` in the webview.
//! In WebKitGTK the first one starts a JavaScript engine in the shell's own
//! process, kept for the app's life (+3.4 MiB PSS, measured by evaluating
//! one script in the idle app), and each one is a script the page parses
//! and compiles. A command's answer is neither.
//!
//! One page reads at a time: [`Mailbox::open`] starts a new attachment
//! (a page load), which drops what the previous one had not read and ends
//! its wait.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;

/// Most items kept for a page that has stopped reading; beyond this the
/// oldest go (a live page reads within milliseconds).
pub const MAX_QUEUED: usize = 4096;

/// The mailbox belongs to a later attachment (the page was reloaded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("another page has attached since")]
pub struct Detached;

/// Items for one reader at a time.
pub struct Mailbox<T> {
    state: Mutex<State<T>>,
    posted: Notify,
}

struct State<T> {
    attachment: u32,
    queue: VecDeque<T>,
}

impl<T> Default for Mailbox<T> {
    fn default() -> Self {
        Self {
            state: Mutex::new(State {
                attachment: 0,
                queue: VecDeque::new(),
            }),
            posted: Notify::new(),
        }
    }
}

impl<T> Mailbox<T> {
    fn lock(&self) -> std::sync::MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a new attachment: what is queued is dropped and the previous
    /// attachment's reader is told it is [`Detached`].
    pub fn open(&self) -> u32 {
        let attachment = {
            let mut state = self.lock();
            state.attachment = state.attachment.wrapping_add(1);
            state.queue.clear();
            state.attachment
        };
        self.posted.notify_waiters();
        attachment
    }

    /// Queues `item` for `attachment`'s reader; dropped if another page
    /// has attached since.
    pub fn post(&self, attachment: u32, item: T) {
        {
            let mut state = self.lock();
            if state.attachment != attachment {
                return;
            }
            if state.queue.len() == MAX_QUEUED {
                state.queue.pop_front();
                tracing::warn!("the page is not reading the shell's events; dropping the oldest");
            }
            state.queue.push_back(item);
        }
        self.posted.notify_waiters();
    }

    /// Everything queued for `attachment`, in order, waiting up to `wait`
    /// for the first item (empty if none came).
    pub async fn take(&self, attachment: u32, wait: Duration) -> Result<Vec<T>, Detached> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            // Registered before looking, so a post in between still wakes it.
            let posted = self.posted.notified();
            tokio::pin!(posted);
            posted.as_mut().enable();
            {
                let mut state = self.lock();
                if state.attachment != attachment {
                    return Err(Detached);
                }
                if !state.queue.is_empty() {
                    return Ok(state.queue.drain(..).collect());
                }
            }
            if tokio::time::timeout_at(deadline, posted).await.is_err() {
                return Ok(Vec::new());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    const LONG: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn queued_items_come_in_order() {
        let mailbox = Mailbox::default();
        let a = mailbox.open();
        for i in 0..3 {
            mailbox.post(a, i);
        }
        assert_eq!(mailbox.take(a, LONG).await, Ok(vec![0, 1, 2]));
    }

    #[tokio::test]
    async fn a_waiting_reader_wakes_on_a_post() {
        let mailbox = Arc::new(Mailbox::default());
        let a = mailbox.open();
        let reader = tokio::spawn({
            let mailbox = Arc::clone(&mailbox);
            async move { mailbox.take(a, LONG).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        mailbox.post(a, "hello");
        let started = std::time::Instant::now();
        assert_eq!(reader.await.unwrap(), Ok(vec!["hello"]));
        assert!(started.elapsed() < LONG);
    }

    #[tokio::test]
    async fn an_idle_wait_ends_empty() {
        let mailbox = Mailbox::<u8>::default();
        let a = mailbox.open();
        let answer = mailbox.take(a, Duration::from_millis(20)).await;
        assert_eq!(answer, Ok(vec![]));
    }

    #[tokio::test]
    async fn a_new_attachment_detaches_the_old_reader_and_drops_its_items() {
        let mailbox = Arc::new(Mailbox::default());
        let old = mailbox.open();
        mailbox.post(old, 1);
        let reader = tokio::spawn({
            let mailbox = Arc::clone(&mailbox);
            async move {
                // Reads what it had, then waits for more.
                let first = mailbox.take(old, LONG).await;
                (first, mailbox.take(old, LONG).await)
            }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let new = mailbox.open();
        assert_eq!(reader.await.unwrap(), (Ok(vec![1]), Err(Detached)));
        mailbox.post(old, 2);
        mailbox.post(new, 3);
        assert_eq!(mailbox.take(new, LONG).await, Ok(vec![3]));
    }

    #[tokio::test]
    async fn a_reader_that_stopped_keeps_only_the_newest() {
        let mailbox = Mailbox::default();
        let a = mailbox.open();
        for i in 0..MAX_QUEUED + 10 {
            mailbox.post(a, i);
        }
        let items = mailbox.take(a, LONG).await.unwrap();
        assert_eq!(items.len(), MAX_QUEUED);
        assert_eq!(items.first(), Some(&10));
        assert_eq!(items.last(), Some(&(MAX_QUEUED + 9)));
    }
}
