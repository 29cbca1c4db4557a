//! Which Redis pub/sub layout carries relays between instances more
//! cheaply: a channel per instance (what `--redis` does, `pc:to:INSTANCE`)
//! or a channel per room. Not a test: run with
//! `cargo bench -p peercall-signal --bench pubsub_layout` and copy the
//! figures into `docs/signal-bench.md`.
//!
//! Straight against a real `redis-server`, without the signaling servers:
//! whichever channel a message takes, an instance does the same work for
//! it, but for the copies it must drop. Three "instances", each a
//! publishing connection and a subscribed one; 1000 members in 500 rooms of
//! two, placed as `scale_out.rs` places clients (partners always on
//! different instances). For each layout:
//! - **membership**: the subscriptions the rooms need, and what making and
//!   dropping them one join or leave at a time costs Redis (CPU per join +
//!   leave, from `/proc/PID/stat`, over 20 rounds of filling and emptying
//!   the rooms) and the instance (round trips to Redis per join + leave);
//! - **relays**: 200 000 ~500-byte messages, each from a member to its
//!   partner, published in pipelined batches from every instance at once:
//!   relays per second until the last copy arrived, Redis CPU per relay,
//!   and copies delivered per relay (a room's channel also hands each
//!   message back to the sender's own instance, which must drop it).

mod common;
#[path = "../tests/common/redis.rs"]
mod redis_server;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{cpu_time, machine};
use futures_util::StreamExt;
use redis_server::Redis;

const INSTANCES: usize = 3;
const MEMBERS: usize = 1000;
const RELAYS: usize = 200_000;
/// Relays per pipeline: one instance's burst of forwarded messages.
const BATCH: usize = 200;
/// Times the rooms are filled and emptied to measure membership.
const MEMBERSHIP_ROUNDS: usize = 20;
/// The longest a layout's relays may take before the run is called stuck.
const LIMIT: Duration = Duration::from_secs(120);

#[derive(Clone, Copy, PartialEq)]
enum Layout {
    PerInstance,
    PerRoom,
}

impl Layout {
    fn name(self) -> &'static str {
        match self {
            Self::PerInstance => "channel per instance",
            Self::PerRoom => "channel per room",
        }
    }

    /// The channels `instance` listens on while every room is full.
    fn subscriptions(self, instance: usize) -> Vec<String> {
        match self {
            Self::PerInstance => vec![format!("pc:to:{instance}")],
            Self::PerRoom => {
                let mut rooms: Vec<String> = (0..MEMBERS)
                    .filter(|member| member % INSTANCES == instance)
                    .map(|member| format!("pc:room:{}", member / 2))
                    .collect();
                rooms.dedup();
                rooms
            }
        }
    }

    /// Where a relay from `member` to its partner is published.
    fn channel(self, member: usize) -> String {
        match self {
            Self::PerInstance => format!("pc:to:{}", (member ^ 1) % INSTANCES),
            Self::PerRoom => format!("pc:room:{}", member / 2),
        }
    }
}

/// What one layout measured.
struct Measured {
    subscriptions: usize,
    membership_redis_us: f64,
    membership_round_trips: usize,
    relays_per_sec: f64,
    redis_us_per_relay: f64,
    copies_per_relay: f64,
}

async fn measure(redis: &Redis, layout: Layout) -> Measured {
    let client = redis::Client::open(redis.url()).expect("Redis URL");
    let redis_cpu = || cpu_time(&redis.pid().to_string());

    // Membership: one SUBSCRIBE per room an instance gains a member in,
    // one UNSUBSCRIBE per room it loses its last member in; the rooms
    // filled and emptied [`MEMBERSHIP_ROUNDS`] times (the CPU clock ticks
    // in 10 ms).
    let mut sinks = Vec::new();
    let mut streams = Vec::new();
    for _ in 0..INSTANCES {
        let pubsub = client.get_async_pubsub().await.expect("subscribe");
        let (sink, stream) = pubsub.split();
        sinks.push(sink);
        streams.push(stream);
    }
    let mut subscriptions = 0;
    let before = redis_cpu();
    for round in 0..MEMBERSHIP_ROUNDS {
        for (instance, sink) in sinks.iter_mut().enumerate() {
            for channel in layout.subscriptions(instance) {
                sink.subscribe(&channel).await.expect("SUBSCRIBE");
                if round == 0 {
                    subscriptions += 1;
                }
            }
        }
        if round + 1 == MEMBERSHIP_ROUNDS {
            break;
        }
        for (instance, sink) in sinks.iter_mut().enumerate() {
            for channel in layout.subscriptions(instance) {
                sink.unsubscribe(&channel).await.expect("UNSUBSCRIBE");
            }
        }
    }
    let membership = redis_cpu().saturating_sub(before);

    // Relays: every copy counted where it arrives.
    let copies = Arc::new(AtomicU64::new(0));
    let listeners: Vec<_> = streams
        .into_iter()
        .map(|mut stream| {
            let copies = copies.clone();
            tokio::spawn(async move {
                while stream.next().await.is_some() {
                    copies.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let payload = "x".repeat(500);
    // A room's channel reaches both of its instances.
    let copies_each = match layout {
        Layout::PerInstance => 1,
        Layout::PerRoom => 2,
    };
    let before = redis_cpu();
    let start = Instant::now();
    let publishers: Vec<_> = (0..INSTANCES)
        .map(|instance| {
            let (client, payload) = (client.clone(), payload.clone());
            tokio::spawn(async move {
                let mut connection = client
                    .get_multiplexed_async_connection()
                    .await
                    .expect("connect");
                // This instance's members, in turn.
                let mine: Vec<usize> = (0..MEMBERS).filter(|m| m % INSTANCES == instance).collect();
                let share = RELAYS / INSTANCES;
                let mut sent = 0;
                while sent < share {
                    let mut pipe = redis::pipe();
                    for k in sent..(sent + BATCH).min(share) {
                        let member = mine[k % mine.len()];
                        pipe.cmd("PUBLISH")
                            .arg(layout.channel(member))
                            .arg(&payload)
                            .ignore();
                    }
                    let () = pipe.query_async(&mut connection).await.expect("PUBLISH");
                    sent += BATCH;
                }
            })
        })
        .collect();
    for publisher in publishers {
        publisher.await.expect("publisher");
    }
    let published = (RELAYS / INSTANCES * INSTANCES) as u64;
    let expected = published * copies_each;
    while copies.load(Ordering::Relaxed) < expected {
        assert!(start.elapsed() < LIMIT, "copies stopped arriving");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let elapsed = start.elapsed();
    let relaying = redis_cpu().saturating_sub(before);

    drop(sinks);
    for listener in listeners {
        listener.abort();
    }

    // Each round but the last subscribed and unsubscribed; the last only
    // subscribed (the relays needed it).
    let joins = (MEMBERSHIP_ROUNDS * MEMBERS) as f64 - MEMBERS as f64 / 2.0;
    Measured {
        subscriptions,
        membership_redis_us: membership.as_secs_f64() * 1e6 / joins,
        // An instance's own channel is subscribed once, at its start.
        membership_round_trips: match layout {
            Layout::PerInstance => 0,
            Layout::PerRoom => 2 * subscriptions,
        },
        relays_per_sec: published as f64 / elapsed.as_secs_f64(),
        redis_us_per_relay: relaying.as_secs_f64() * 1e6 / published as f64,
        copies_per_relay: copies.load(Ordering::Relaxed) as f64 / published as f64,
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    println!("machine: {}", machine());
    println!(
        "pub/sub layouts: {INSTANCES} instances, {MEMBERS} members in rooms of 2 \
         (partners on different instances), {RELAYS} relays of 500 bytes"
    );
    println!(
        "{:<22} {:>13} {:>19} {:>17} {:>10} {:>14} {:>12}",
        "layout",
        "subscriptions",
        "redis µs/join+leave",
        "round trips/join",
        "relays/s",
        "redis µs/relay",
        "copies/relay"
    );
    runtime.block_on(async {
        for layout in [Layout::PerInstance, Layout::PerRoom] {
            // A fresh server each: nothing of one layout's run is left for
            // the other.
            let redis = Redis::start();
            let m = measure(&redis, layout).await;
            println!(
                "{:<22} {:>13} {:>19.2} {:>17.2} {:>10.0} {:>14.2} {:>12.2}",
                layout.name(),
                m.subscriptions,
                m.membership_redis_us,
                m.membership_round_trips as f64 / MEMBERS as f64,
                m.relays_per_sec,
                m.redis_us_per_relay,
                m.copies_per_relay,
            );
        }
    });
}
