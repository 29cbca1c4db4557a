//! Scale-out (feature `redis`, `--redis URL`): several servers share their
//! rooms, peers and direct calls through Redis.
//!
//! Each instance keeps serving its own clients from its own hub; what the
//! others must know lives in Redis (`scripts.rs`: rooms with their
//! passwords and members, every peer's instance), changed by Lua scripts
//! that are atomic for all instances, so capacity and passwords hold
//! across them. A room's members on other instances are mirrored in the
//! hub (`hub/remote.rs`), kept current by membership events on `pc:all`.
//! A message that reaches a peer of another instance is published to that
//! instance's channel, `pc:to:INSTANCE` (one channel per instance: each
//! peer belongs to one), and replayed there on its hub, which checks it
//! again against its own state (`events.rs`); nothing a client sends can
//! reach a room it is not in.
//!
//! A heartbeat (`tasks.rs`) keeps `pc:alive:INSTANCE` alive with a short
//! TTL and takes away dead instances' peers; their rooms and call partners
//! hear `peer_left` / `hung_up` within [`DEAD_AFTER`] plus a beat. When
//! Redis is lost, each instance keeps serving its own clients (joining
//! rooms by its own view), reports it in the log and on `GET /healthz`,
//! and when Redis is back writes its state again and reconciles the rooms
//! it mirrors with everyone's.
//!
//! Without `--redis` none of this runs: the hub has no mirrored peers and
//! its steps forward nothing.

mod events;
mod inbound;
mod scripts;
mod session;
mod tasks;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::{mpsc, Notify};
use tracing::warn;

pub(crate) use inbound::Inbound;
use session::handle;
pub(crate) use tasks::{spawn, Stop};

use crate::protocol::PeerId;
use crate::server::throttle::{AddressKey, FORGET_AFTER};
use crate::server::ThrottleLimits;
use scripts::Scripts;

/// How often an instance says it is alive.
const HEARTBEAT: Duration = Duration::from_millis(500);
/// An instance silent this long is taken for dead and its peers leave
/// (within a heartbeat more: the next live instance's).
const DEAD_AFTER: Duration = Duration::from_secs(2);
/// Longest wait for Redis on a client's behalf (a join, a lookup) before
/// the instance serves it alone.
const REDIS_WAIT: Duration = Duration::from_secs(1);
/// Messages for Redis waiting to be sent; beyond it they are dropped (Redis
/// is too slow or gone; the state is written again when it is back).
const QUEUE: usize = 64 * 1024;

/// Why the server could not use Redis.
#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    /// The URL is not a Redis URL.
    #[error("invalid Redis URL: {0}")]
    Url(String),
    /// Redis did not answer.
    #[error("cannot reach Redis: {0}")]
    Unreachable(String),
}

/// This instance's link to Redis, shared by its connection tasks.
pub(crate) struct Cluster {
    /// This instance's id, random at each start.
    instance: u64,
    client: redis::Client,
    /// Multiplexed, reconnecting: scripts and publishing.
    connection: ConnectionManager,
    scripts: Scripts,
    /// Fire-and-forget messages, sent in order by one task.
    outgoing: mpsc::Sender<Outgoing>,
    outgoing_rx: Mutex<Option<mpsc::Receiver<Outgoing>>>,
    /// The heartbeat reaches Redis.
    beating: AtomicBool,
    /// The subscription is up.
    listening: AtomicBool,
    /// The first subscription, made before serving, for the listening task.
    subscription: Mutex<Option<redis::aio::PubSub>>,
    /// Wakes the heartbeat to write this instance's state again.
    resync: Notify,
    /// Rooms someone here is joining: their members elsewhere are mirrored
    /// as they come, before the join completes.
    joining: Mutex<HashMap<String, usize>>,
    /// The `pw` field of each room joined here, to write it back if Redis
    /// lost it.
    passwords: Mutex<HashMap<String, String>>,
    room_capacity: usize,
    /// How hard password guessing is made, for every instance alike.
    throttle: ThrottleLimits,
}

/// Something for Redis that nobody waits for.
enum Outgoing {
    Publish { channel: String, payload: String },
    Register(PeerId),
    Leave { room: String, id: PeerId },
    Gone(PeerId),
}

impl Cluster {
    /// Connects to Redis at `url` (answering a PING), or says why not.
    pub(crate) async fn connect(
        url: &str,
        room_capacity: usize,
        throttle: ThrottleLimits,
    ) -> Result<Self, RedisError> {
        let client = redis::Client::open(url).map_err(|e| RedisError::Url(e.to_string()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(REDIS_WAIT)
            .set_response_timeout(REDIS_WAIT)
            .set_number_of_retries(2)
            .set_max_delay(500);
        let unreachable = |e: redis::RedisError| RedisError::Unreachable(e.to_string());
        let mut connection = tokio::time::timeout(
            REDIS_WAIT * 3,
            client.get_connection_manager_with_config(config),
        )
        .await
        .map_err(|_| RedisError::Unreachable("timed out".into()))?
        .map_err(unreachable)?;
        let _: String = redis::cmd("PING")
            .query_async(&mut connection)
            .await
            .map_err(unreachable)?;
        let instance = rand::random::<u64>() >> 1;
        // Subscribed before serving: a client's first join already hears
        // the other instances.
        let subscribe = async {
            let mut pubsub = client.get_async_pubsub().await?;
            let channels = [events::channel_of(instance), events::ALL.to_owned()];
            pubsub.subscribe(&channels).await?;
            Ok(pubsub)
        };
        let subscription = tokio::time::timeout(REDIS_WAIT * 3, subscribe)
            .await
            .map_err(|_| RedisError::Unreachable("timed out".into()))?
            .map_err(unreachable)?;
        let (outgoing, outgoing_rx) = mpsc::channel(QUEUE);
        Ok(Self {
            instance,
            client,
            connection,
            scripts: Scripts::new(),
            outgoing,
            outgoing_rx: Mutex::new(Some(outgoing_rx)),
            beating: AtomicBool::new(true),
            listening: AtomicBool::new(true),
            subscription: Mutex::new(Some(subscription)),
            resync: Notify::new(),
            joining: Mutex::new(HashMap::new()),
            passwords: Mutex::new(HashMap::new()),
            room_capacity,
            throttle,
        })
    }

    /// Whether Redis is reachable: the heartbeat and the subscription work.
    pub(crate) fn connected(&self) -> bool {
        self.beating.load(Ordering::Relaxed) && self.listening.load(Ordering::Relaxed)
    }

    /// This instance's id as it appears in Redis.
    pub(crate) fn instance_name(&self) -> String {
        format!("{:x}", self.instance)
    }

    /// A client connected here.
    pub(crate) fn registered(&self, id: &PeerId) {
        self.send(Outgoing::Register(id.clone()));
    }

    /// A client of this instance disconnected: Redis forgets it and every
    /// instance hears it is gone.
    pub(crate) fn gone(&self, id: &PeerId) {
        self.send(Outgoing::Gone(id.clone()));
        self.broadcast(events::gone(self.instance, id));
    }

    fn broadcast(&self, payload: String) {
        self.publish(events::ALL.to_owned(), payload);
    }

    fn publish(&self, channel: String, payload: String) {
        self.send(Outgoing::Publish { channel, payload });
    }

    fn send(&self, message: Outgoing) {
        if self.outgoing.try_send(message).is_err() {
            warn!("Redis is not keeping up; a message for the other instances was dropped");
        }
    }

    fn joining(&self) -> MutexGuard<'_, HashMap<String, usize>> {
        self.joining.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn passwords(&self) -> MutexGuard<'_, HashMap<String, String>> {
        self.passwords
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The guessing limits a join or check script takes after its own
    /// arguments (see `scripts.rs`, `GUESSES`), for a client at `address`.
    fn throttle_args(&self, script: &mut redis::ScriptInvocation<'_>, address: Option<AddressKey>) {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let limits = &self.throttle;
        script
            .arg(address.map(|a| a.hex()).unwrap_or_default())
            .arg(limits.free_per_address)
            .arg(limits.free_per_room)
            .arg(ms(limits.base).max(1))
            .arg(ms(limits.max).max(1))
            .arg(ms(FORGET_AFTER));
    }

    /// Whether someone here is joining `room` right now.
    fn is_joining(&self, room: &str) -> bool {
        self.joining().contains_key(room)
    }
}

/// An instance id as written in Redis.
fn parse_instance(text: &str) -> Option<u64> {
    u64::from_str_radix(text, 16).ok()
}
