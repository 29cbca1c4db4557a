//! The instance's three tasks: one sends what nobody waits for, in order;
//! one listens to the instance's channels; one beats the heartbeat, takes
//! dead instances away and writes this instance's state again after Redis
//! was lost.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio::time::{interval, sleep, timeout, MissedTickBehavior};
use tracing::{debug, info, warn};

use super::{events, Cluster, Outgoing, DEAD_AFTER, HEARTBEAT, REDIS_WAIT};
use crate::protocol::PeerId;
use crate::server::shared::Shared;

/// Most messages sent to Redis in one round trip.
const BATCH: usize = 512;

/// The server is shutting down once the sender of `stop` is dropped. (A
/// `watch` of their own, not the connections' `Shutdown`: another user of
/// that in the binary changes how the compiler inlines it into every
/// session's loop, measurably.)
#[derive(Clone)]
pub(crate) struct Stop(watch::Receiver<()>);

impl Stop {
    pub(crate) fn new(stop: watch::Receiver<()>) -> Self {
        Self(stop)
    }

    /// Completes once the server shuts down. Cancel-safe.
    async fn recv(&mut self) {
        while self.0.changed().await.is_ok() {}
    }
}

/// Starts the tasks of `shared`'s cluster (if it has one). They end on
/// shutdown (`stop`); `done` is dropped once the heartbeat has said
/// goodbye.
pub(crate) fn spawn(shared: &Arc<Shared>, stop: &Stop, done: mpsc::Sender<()>) {
    let Some(cluster) = &shared.cluster else {
        return;
    };
    let outgoing = cluster.outgoing_rx.lock().ok().and_then(|mut rx| rx.take());
    if let Some(outgoing) = outgoing {
        tokio::spawn(send(Arc::downgrade(shared), outgoing));
    }
    tokio::spawn(listen(Arc::clone(shared), stop.clone()));
    tokio::spawn(beat(Arc::clone(shared), stop.clone(), done));
}

/// Sends queued messages in order, publications pipelined.
async fn send(shared: std::sync::Weak<Shared>, mut outgoing: mpsc::Receiver<Outgoing>) {
    let mut batch = Vec::with_capacity(BATCH);
    while outgoing.recv_many(&mut batch, BATCH).await > 0 {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        if let Some(cluster) = &shared.cluster {
            if let Err(error) = cluster.send_batch(batch.drain(..)).await {
                debug!(%error, "sending to Redis failed");
            }
        }
        batch.clear();
    }
}

impl Cluster {
    async fn send_batch(
        &self,
        batch: impl Iterator<Item = Outgoing>,
    ) -> Result<(), redis::RedisError> {
        let mut connection = self.connection.clone();
        let mut pipe = redis::pipe();
        let mut queued = 0;
        let name = self.instance_name();
        for message in batch {
            let script = match message {
                Outgoing::Publish { channel, payload } => {
                    pipe.cmd("PUBLISH").arg(channel).arg(payload).ignore();
                    queued += 1;
                    continue;
                }
                Outgoing::Register(id) => {
                    let mut script = self.scripts.register.prepare_invoke();
                    script.arg(id.as_str()).arg(&name);
                    script
                }
                Outgoing::Leave { room, id } => {
                    let mut script = self.scripts.leave.prepare_invoke();
                    script.arg(room).arg(id.as_str()).arg(&name);
                    script
                }
                Outgoing::Gone(id) => {
                    let mut script = self.scripts.gone.prepare_invoke();
                    script.arg(id.as_str()).arg(&name);
                    script
                }
            };
            // Scripts go in order with the publications around them.
            if queued > 0 {
                pipe.query_async::<()>(&mut connection).await?;
                pipe.clear();
                queued = 0;
            }
            script.invoke_async::<i64>(&mut connection).await?;
        }
        if queued > 0 {
            pipe.query_async::<()>(&mut connection).await?;
        }
        Ok(())
    }
}

/// Listens to this instance's channel and `pc:all`, subscribing again
/// whenever the connection drops.
async fn listen(shared: Arc<Shared>, mut shutdown: Stop) {
    let Some(cluster) = &shared.cluster else {
        return;
    };
    let channels = [events::channel_of(cluster.instance), events::ALL.to_owned()];
    let mut subscription = cluster.subscription.lock().ok().and_then(|mut s| s.take());
    loop {
        if let Some(pubsub) = subscription.take() {
            cluster.listening.store(true, Ordering::Relaxed);
            if !serve_messages(&shared, cluster, pubsub, &mut shutdown).await {
                return;
            }
            cluster.listening.store(false, Ordering::Relaxed);
            warn!("lost Redis: serving this instance's clients alone until it is back");
        }
        let subscribe = async {
            let mut pubsub = cluster.client.get_async_pubsub().await?;
            pubsub.subscribe(&channels).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        let subscribed = tokio::select! {
            subscribed = timeout(REDIS_WAIT, subscribe) => subscribed,
            () = shutdown.recv() => return,
        };
        match subscribed {
            Ok(Ok(pubsub)) => {
                // Whatever was published meanwhile is lost: start again
                // from what Redis holds.
                info!("Redis subscription back");
                subscription = Some(pubsub);
                cluster.resync.notify_one();
            }
            _ => tokio::select! {
                () = sleep(REDIS_WAIT / 4) => {}
                () = shutdown.recv() => return,
            },
        }
    }
}

/// Acts on each message of `pubsub` until it ends (true) or the server
/// shuts down (false).
async fn serve_messages(
    shared: &Arc<Shared>,
    cluster: &Cluster,
    pubsub: redis::aio::PubSub,
    shutdown: &mut Stop,
) -> bool {
    let mut messages = pubsub.into_on_message();
    loop {
        tokio::select! {
            message = messages.next() => match message {
                Some(message) => match std::str::from_utf8(message.get_payload_bytes()) {
                    Ok(payload) => events::receive(shared, cluster, payload),
                    Err(_) => debug!("non-UTF-8 message from Redis"),
                },
                None => return true,
            },
            () = shutdown.recv() => return false,
        }
    }
}

/// Says this instance is alive once per [`HEARTBEAT`], takes dead
/// instances away, and writes this instance's state again when Redis is
/// back (or forgot it). On shutdown, says goodbye: its peers leave at once.
async fn beat(shared: Arc<Shared>, mut shutdown: Stop, done: mpsc::Sender<()>) {
    let Some(cluster) = &shared.cluster else {
        return;
    };
    let mut ticks = interval(HEARTBEAT);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut first = true;
    let mut write_back = false;
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = cluster.resync.notified() => write_back = true,
            () = shutdown.recv() => break,
        }
        let mut connection = cluster.connection.clone();
        let ttl = DEAD_AFTER.as_millis().to_string();
        let mut script = cluster.scripts.heartbeat.prepare_invoke();
        script.arg(cluster.instance_name()).arg(ttl);
        let beat = timeout(REDIS_WAIT, script.invoke_async::<i64>(&mut connection)).await;
        let Ok(Ok(added)) = beat else {
            if cluster.beating.swap(false, Ordering::Relaxed) {
                warn!("lost Redis: serving this instance's clients alone until it is back");
            }
            continue;
        };
        if !cluster.beating.swap(true, Ordering::Relaxed) {
            info!("Redis is back: writing this instance's state again");
            write_back = true;
        }
        if added == 1 && !first {
            // Taken for dead meanwhile (or Redis restarted empty).
            write_back = true;
        }
        first = false;
        if write_back && cluster.listening.load(Ordering::Relaxed) {
            match cluster.write_back(&shared).await {
                Ok(()) => {
                    write_back = false;
                    // Not here: it may wait, and the heartbeat must not.
                    let shared = Arc::clone(&shared);
                    tokio::spawn(async move {
                        if let Some(cluster) = &shared.cluster {
                            cluster.reconcile(&shared).await;
                        }
                    });
                }
                Err(error) => warn!(%error, "writing this instance's state to Redis failed"),
            }
        }
        let reap = cluster.scripts.reap.prepare_invoke();
        match timeout(REDIS_WAIT, reap.invoke_async::<i64>(&mut connection)).await {
            Ok(Ok(gone)) if gone > 0 => info!(gone, "peers of a dead instance removed"),
            _ => {}
        }
    }
    // Goodbye: this instance's peers leave their rooms now, not when its
    // heartbeat would have expired.
    let mut connection = cluster.connection.clone();
    let goodbye = async {
        redis::cmd("DEL")
            .arg(format!("pc:alive:{}", cluster.instance_name()))
            .query_async::<()>(&mut connection)
            .await?;
        cluster
            .scripts
            .reap
            .prepare_invoke()
            .invoke_async::<i64>(&mut connection)
            .await
    };
    let _ = timeout(REDIS_WAIT, goodbye).await;
    drop(done);
}

impl Cluster {
    /// Writes this instance's peers and rooms to Redis again (after Redis
    /// was lost, or took it for dead), forgets those it no longer has, and
    /// tells the others.
    async fn write_back(&self, shared: &Shared) -> Result<(), redis::RedisError> {
        let name = self.instance_name();
        let index = format!("pc:inst:{name}");
        let mut connection = self.connection.clone();
        let peers = shared.hub.local_peers();
        let known: Vec<String> = redis::cmd("HKEYS")
            .arg(&index)
            .query_async(&mut connection)
            .await?;
        for id in known {
            let id = PeerId::from(id.as_str());
            if !peers.iter().any(|(local, _)| *local == id) {
                self.scripts
                    .gone
                    .arg(id.as_str())
                    .arg(&name)
                    .invoke_async::<i64>(&mut connection)
                    .await?;
                self.broadcast(events::gone(self.instance, &id));
            }
        }
        let passwords = self.passwords().clone();
        let mut pipe = redis::pipe();
        pipe.cmd("SADD").arg("pc:instances").arg(&name).ignore();
        for (id, room) in &peers {
            let id = id.as_str();
            let (room, member) = room.clone().unwrap_or_default();
            pipe.cmd("HSET")
                .arg("pc:peers")
                .arg(id)
                .arg(format!("{name}\t{room}"))
                .ignore();
            pipe.cmd("HSET").arg(&index).arg(id).arg(&room).ignore();
            if !room.is_empty() {
                let key = format!("pc:room:{room}");
                let field = passwords.get(&room).cloned().unwrap_or_default();
                pipe.cmd("HSETNX").arg(&key).arg("pw").arg(field).ignore();
                pipe.cmd("HSET")
                    .arg(&key)
                    .arg(format!("m:{id}"))
                    .arg(format!("{name}\t{member}"))
                    .ignore();
            }
        }
        pipe.query_async::<()>(&mut connection).await?;
        self.passwords().retain(|room, _| {
            peers
                .iter()
                .any(|(_, r)| r.as_ref().is_some_and(|(r, _)| r == room))
        });
        self.broadcast(events::resynced(self.instance));
        Ok(())
    }

    /// Makes the members elsewhere of every room mirrored here those Redis
    /// lists.
    pub(super) async fn reconcile(&self, shared: &Shared) {
        let mut connection = self.connection.clone();
        let mut unlisted = Vec::new();
        for room in shared.hub.rooms() {
            let mut command = redis::cmd("HGETALL");
            command.arg(format!("pc:room:{room}"));
            let entries = command.query_async::<Vec<(String, String)>>(&mut connection);
            let Ok(Ok(entries)) = timeout(REDIS_WAIT, entries).await else {
                return;
            };
            let members = entries
                .into_iter()
                .filter_map(|(field, entry)| {
                    let id = field.strip_prefix("m:")?.to_owned();
                    events::member(id, &entry)
                })
                .filter(|m| m.instance != self.instance)
                .collect();
            for id in shared.hub.reconcile(&room, members) {
                unlisted.push((room.clone(), id));
            }
        }
        if unlisted.is_empty() {
            return;
        }
        // Redis may just have come back empty, with the other instances
        // about to write theirs: only those still missing once every live
        // instance has had its heartbeat are gone (their `G` was missed).
        sleep(DEAD_AFTER + HEARTBEAT).await;
        for (room, id) in unlisted {
            let script = self.scripts.lookup.arg(id.as_str());
            let found = timeout(
                REDIS_WAIT,
                script.invoke_async::<Option<Vec<String>>>(&mut connection),
            )
            .await;
            match found {
                Ok(Ok(None)) => shared.hub.remote_gone(&id),
                Ok(Ok(Some(entry))) if entry.get(1) != Some(&room) => {
                    shared.hub.remote_left(&room, &id);
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse_instance;

    #[test]
    fn instance_names_read_back() {
        assert_eq!(parse_instance("ff"), Some(255));
        assert_eq!(parse_instance("zz"), None);
    }
}
