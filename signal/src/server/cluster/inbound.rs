//! A client's messages when rooms are shared through Redis: its session
//! hands them over without waiting (its loop is the one this server runs
//! alone, [`Dispatch`] aside). A relay, most of the traffic, is one step
//! of the hub there and then, as on one server, when nothing of the
//! client's is waiting; anything else (and a relay behind it, to keep the
//! order) is queued for a task of the client's own, which handles them in
//! order (`session.rs` of this folder), waiting for Redis when a join
//! needs it. Its error replies go into the client's queue, in order with
//! everything else it is sent.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::{handle, REDIS_WAIT};
use crate::protocol::{ErrorCode, MessageError, PeerId};
use crate::server::session::Dispatch;
use crate::server::shared::Shared;
use crate::server::splice;

/// Messages of one client waiting to be handled; its rate limit keeps the
/// queue far from full.
const WAITING: usize = 128;

/// One client's queue of messages and the task that handles them.
pub(crate) struct Inbound {
    queue: mpsc::Sender<Utf8Bytes>,
    /// Messages queued and not handled yet.
    waiting: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Inbound {
    /// Starts handling `id`'s messages, if rooms are shared through Redis.
    pub(crate) fn start(shared: &Arc<Shared>, id: &PeerId) -> Option<Self> {
        shared.cluster.as_ref()?;
        let (queue, mut messages) = mpsc::channel::<Utf8Bytes>(WAITING);
        let waiting = Arc::new(AtomicUsize::new(0));
        let shared = Arc::clone(shared);
        let id = id.clone();
        let handled = Arc::clone(&waiting);
        let task = tokio::spawn(async move {
            let Some(cluster) = &shared.cluster else {
                return;
            };
            while let Some(text) = messages.recv().await {
                if let Err(error) = handle(&shared, cluster, &id, &text).await {
                    shared.hub.tell(&id, &error.to_server_message());
                }
                handled.fetch_sub(1, Ordering::Release);
            }
        });
        Some(Self {
            queue,
            waiting,
            task,
        })
    }

    /// Lets what is queued be handled (bounded) before the client is
    /// unregistered: a join in flight must not outlive it in Redis.
    pub(crate) async fn finish(self) {
        drop(self.queue);
        let mut task = self.task;
        if timeout(REDIS_WAIT * 2, &mut task).await.is_err() {
            task.abort();
        }
    }
}

impl Dispatch for Inbound {
    fn text(&self, shared: &Shared, id: &PeerId, text: Utf8Bytes) -> Result<(), MessageError> {
        if self.waiting.load(Ordering::Acquire) == 0 {
            if let (Some(cluster), Some(relay)) = (&shared.cluster, splice::parse(&text)) {
                match shared.hub.relay_forwarding(id, relay) {
                    Ok(forwards) => {
                        cluster.forward(&shared.hub, id, &text, forwards);
                        return Ok(());
                    }
                    // Perhaps a peer of another instance: the task looks
                    // it up in Redis.
                    Err(error) if error.code == ErrorCode::UnknownPeer => {}
                    Err(error) => return Err(error),
                }
            }
        }
        self.waiting.fetch_add(1, Ordering::AcqRel);
        self.queue.try_send(text).map_err(|_| {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            MessageError::new(
                ErrorCode::RateLimited,
                "too many messages waiting to be handled; message dropped",
            )
        })
    }
}
