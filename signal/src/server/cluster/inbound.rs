//! A client's messages when rooms are shared through Redis: its session
//! queues them without waiting (its loop is the one this server runs
//! alone, [`Dispatch`] aside) and a task of the client's own handles them
//! in order (`session.rs` of this folder), waiting for Redis when a join
//! needs it. Error replies go into the client's queue, in order with
//! everything else it is sent.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::{handle, REDIS_WAIT};
use crate::protocol::{ErrorCode, MessageError, PeerId};
use crate::server::session::Dispatch;
use crate::server::shared::Shared;

/// Messages of one client waiting to be handled; its rate limit keeps the
/// queue far from full.
const WAITING: usize = 128;

/// One client's queue of messages and the task that handles them.
pub(crate) struct Inbound {
    queue: mpsc::Sender<Utf8Bytes>,
    task: JoinHandle<()>,
}

impl Inbound {
    /// Starts handling `id`'s messages, if rooms are shared through Redis.
    pub(crate) fn start(shared: &Arc<Shared>, id: &PeerId) -> Option<Self> {
        shared.cluster.as_ref()?;
        let (queue, mut messages) = mpsc::channel::<Utf8Bytes>(WAITING);
        let shared = Arc::clone(shared);
        let id = id.clone();
        let task = tokio::spawn(async move {
            let Some(cluster) = &shared.cluster else {
                return;
            };
            while let Some(text) = messages.recv().await {
                if let Err(error) = handle(&shared, cluster, &id, &text).await {
                    shared.hub.tell(&id, &error.to_server_message());
                }
            }
        });
        Some(Self { queue, task })
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
    fn text(&self, _: &Shared, _: &PeerId, text: Utf8Bytes) -> Result<(), MessageError> {
        self.queue.try_send(text).map_err(|_| {
            MessageError::new(
                ErrorCode::RateLimited,
                "too many messages waiting to be handled; message dropped",
            )
        })
    }
}
