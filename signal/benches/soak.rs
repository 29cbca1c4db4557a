//! Soak: 10 000 connections in 1 000 rooms relaying for a minute, with a
//! few hostile clients among them. Not a test: run with
//! `cargo bench -p peercall-signal --bench soak` and copy the figures into
//! `docs/signal-bench.md`.
//!
//! The server is the built binary with its default limits (only the
//! connection cap and room size raised to fit the load). Every
//! well-behaved client is in a room of ten and, about once a second, sends
//! a ping (a `candidate` with `to`) to another member of its room, which
//! answers with a pong; the ping's round trip is two relays. Each message
//! names its intended recipient inside its payload, so a client can tell a
//! message meant for someone else (misrouted) or from outside its room
//! (leaked) from a good one. After the run the clients stop sending, wait
//! for what is in flight, and count pings and pongs sent against received
//! (lost).
//!
//! For the first third of the run everyone behaves (the baseline RTT); then
//! hostile clients start: slow readers (joined to their own rooms, sent
//! large messages by a partner, never reading), flooders (relays as fast as
//! the socket takes them, reconnecting when the server closes them), and
//! password guessers (`check_room` against a room with a password, as fast
//! as the server answers). Printed: relays lost, misrouted or leaked (all
//! must be 0), the server's peak RSS, and well-behaved clients' RTT p50/p99
//! before and while the hostile clients run.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{connect, machine, ServerProcess, Ws};
use futures_util::stream::{self, StreamExt};
use futures_util::SinkExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

const CLIENTS: usize = 10_000;
const ROOM_SIZE: usize = 10;
const RUN: Duration = Duration::from_secs(60);
/// Hostile clients start this far into the run.
const HOSTILE_FROM: Duration = Duration::from_secs(20);
const PING_EVERY: Duration = Duration::from_secs(1);
const SLOW_READERS: usize = 10;
const FLOODERS: usize = 5;
const GUESSERS: usize = 5;
const CONNECT_CONCURRENCY: usize = 64;

/// Sends `message` and reads until a message of `kind` (or an error) comes.
async fn request(ws: &mut Ws, message: Value, kind: &str) -> Value {
    ws.send(Message::text(message.to_string()))
        .await
        .expect("send");
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => {
                let value: Value = serde_json::from_str(&text).expect("JSON");
                if value["type"] == kind || value["type"] == "error" {
                    return value;
                }
            }
            Some(Ok(_)) => continue,
            other => panic!("connection ended waiting for {kind}: {other:?}"),
        }
    }
}

/// What the well-behaved clients counted.
#[derive(Default)]
struct Counts {
    pings_sent: AtomicU64,
    pings_received: AtomicU64,
    pongs_sent: AtomicU64,
    pongs_received: AtomicU64,
    misrouted: AtomicU64,
    leaked: AtomicU64,
    /// Round trips (µs) before and while the hostile clients run.
    rtt_calm: Mutex<Vec<u64>>,
    rtt_hostile: Mutex<Vec<u64>>,
}

/// One well-behaved client: pings a member of its room about once a
/// second, answers pings, checks every message it gets.
async fn behave(
    mut ws: Ws,
    me: String,
    room: Vec<String>,
    started: Instant,
    stop: Arc<AtomicBool>,
    counts: Arc<Counts>,
) -> Ws {
    let others: Vec<&String> = room.iter().filter(|id| **id != me).collect();
    let mut seq = 0usize;
    // Spread the pings over the second.
    let offset = Duration::from_micros(rand_u64(&me) % 1_000_000);
    let mut next_ping = tokio::time::Instant::now() + offset;
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(next_ping), if !stop.load(Ordering::Relaxed) => {
                next_ping += PING_EVERY;
                seq += 1;
                let to = others[seq % others.len()];
                let at = started.elapsed().as_micros() as u64;
                let ping = json!({"type": "candidate", "to": to,
                    "candidate": {"ping": at, "for": to}});
                if ws.send(Message::text(ping.to_string())).await.is_err() {
                    break;
                }
                counts.pings_sent.fetch_add(1, Ordering::Relaxed);
            }
            message = ws.next() => {
                let Some(Ok(Message::Text(text))) = message else {
                    match message {
                        Some(Ok(_)) => continue,
                        _ => break,
                    }
                };
                let value: Value = serde_json::from_str(&text).expect("JSON from the server");
                if value["type"] != "candidate" {
                    continue;
                }
                let from = value["from"].as_str().unwrap_or_default();
                let candidate = &value["candidate"];
                if candidate["for"] != me.as_str() {
                    counts.misrouted.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                if !room.iter().any(|id| id == from) {
                    counts.leaked.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                if let Some(at) = candidate["ping"].as_u64() {
                    counts.pings_received.fetch_add(1, Ordering::Relaxed);
                    let pong = json!({"type": "candidate", "to": from,
                        "candidate": {"pong": at, "for": from}});
                    if ws.send(Message::text(pong.to_string())).await.is_err() {
                        break;
                    }
                    counts.pongs_sent.fetch_add(1, Ordering::Relaxed);
                } else if let Some(at) = candidate["pong"].as_u64() {
                    counts.pongs_received.fetch_add(1, Ordering::Relaxed);
                    let now = started.elapsed().as_micros() as u64;
                    let rtt = now.saturating_sub(at);
                    let bucket = if Duration::from_micros(at) < HOSTILE_FROM {
                        &counts.rtt_calm
                    } else {
                        &counts.rtt_hostile
                    };
                    bucket.lock().expect("rtt lock").push(rtt);
                }
            }
        }
    }
    ws
}

/// A cheap per-client number (no RNG dependency in the bench).
fn rand_u64(seed: &str) -> u64 {
    seed.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// A slow reader and its partner: the partner sends it 60 KiB messages as
/// fast as it can; the reader never reads. Returns how each ended.
async fn slow_reader(url: String, n: usize, stop: Arc<AtomicBool>) -> &'static str {
    let (Some((mut reader, reader_id)), Some((mut writer, _))) =
        (connect(&url).await, connect(&url).await)
    else {
        return "could not connect";
    };
    let room = format!("slow-{n}");
    request(
        &mut reader,
        json!({"type":"join_room","room":room,"name":"slow"}),
        "room_joined",
    )
    .await;
    request(
        &mut writer,
        json!({"type":"join_room","room":room,"name":"writer"}),
        "room_joined",
    )
    .await;
    let big =
        json!({"type":"offer","to":reader_id,"offer":{"sdp":"x".repeat(60 * 1024)}}).to_string();
    while !stop.load(Ordering::Relaxed) {
        if writer.send(Message::text(big.clone())).await.is_err() {
            return "writer closed";
        }
        // Drain the writer's side (errors, peer_left) without blocking.
        while let Ok(Some(message)) =
            tokio::time::timeout(Duration::from_millis(1), writer.next()).await
        {
            if let Ok(Message::Text(text)) = message {
                if text.contains("peer_left") {
                    drop(reader);
                    return "reader evicted";
                }
            }
        }
    }
    drop(reader);
    "ran to the end"
}

/// A flooder: relays to random ids as fast as the socket takes them;
/// reconnects when closed. Returns how many times it was closed.
async fn flooder(url: String, stop: Arc<AtomicBool>) -> u64 {
    let mut closed = 0;
    while !stop.load(Ordering::Relaxed) {
        let Some((mut ws, _)) = connect(&url).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let junk =
            json!({"type":"candidate","to":"zzzzzzzzzzzzzz","candidate":{"c":"x"}}).to_string();
        loop {
            if stop.load(Ordering::Relaxed) {
                return closed;
            }
            if ws.send(Message::text(junk.clone())).await.is_err() {
                break;
            }
            while let Ok(Some(message)) =
                tokio::time::timeout(Duration::from_micros(100), ws.next()).await
            {
                if !matches!(message, Ok(Message::Text(_)) | Ok(Message::Ping(_))) {
                    break;
                }
            }
        }
        closed += 1;
    }
    closed
}

/// A password guesser against `room`: returns (wrong, throttled) answers.
async fn guesser(url: String, room: String, stop: Arc<AtomicBool>) -> (u64, u64) {
    let (mut wrong, mut throttled) = (0, 0);
    let mut guess = 0u32;
    while !stop.load(Ordering::Relaxed) {
        let Some((mut ws, _)) = connect(&url).await else {
            continue;
        };
        while !stop.load(Ordering::Relaxed) {
            guess += 1;
            let check = json!({"type":"check_room","room":room,"password":format!("{guess:04}")});
            if ws.send(Message::text(check.to_string())).await.is_err() {
                break;
            }
            match ws.next().await {
                Some(Ok(Message::Text(text))) if text.contains("too_many_attempts") => {
                    throttled += 1
                }
                Some(Ok(Message::Text(text))) if text.contains("wrong_password") => wrong += 1,
                Some(Ok(_)) => {}
                _ => break,
            }
        }
    }
    (wrong, throttled)
}

fn percentile(samples: &mut [u64], p: f64) -> f64 {
    samples.sort_unstable();
    let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples.get(index).copied().unwrap_or_default() as f64 / 1000.0
}

fn main() {
    peercall_signal::server::raise_fd_limit().expect("raise RLIMIT_NOFILE");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(soak());
}

async fn soak() {
    let capacity = ROOM_SIZE.to_string();
    let server =
        ServerProcess::start(&["--max-connections", "12000", "--room-capacity", &capacity]);
    let url = server.url.clone();
    let rss_start = server.rss_kib();
    println!("machine: {}", machine());
    println!(
        "soak: {CLIENTS} clients in {} rooms of {ROOM_SIZE}, {RUN:?}; hostile from {HOSTILE_FROM:?}: \
         {SLOW_READERS} slow readers, {FLOODERS} flooders, {GUESSERS} password guessers",
        CLIENTS / ROOM_SIZE
    );

    // Everyone connects and joins their room.
    let connect_started = Instant::now();
    let clients: Vec<(Ws, String)> = stream::iter(0..CLIENTS)
        .map(|_| {
            let url = url.clone();
            async move { connect(&url).await.expect("connect") }
        })
        .buffer_unordered(CONNECT_CONCURRENCY)
        .collect()
        .await;
    let mut rooms: HashMap<usize, Vec<String>> = HashMap::new();
    let mut joined = Vec::with_capacity(CLIENTS);
    let joins = stream::iter(clients.into_iter().enumerate())
        .map(|(i, (mut ws, id))| async move {
            let room = i / ROOM_SIZE;
            let reply = request(
                &mut ws,
                json!({"type":"join_room","room":format!("soak-{room}"),"name":format!("c{i}")}),
                "room_joined",
            )
            .await;
            assert_eq!(reply["type"], "room_joined", "{reply}");
            (room, ws, id)
        })
        .buffer_unordered(CONNECT_CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    for (room, ws, id) in joins {
        rooms.entry(room).or_default().push(id.clone());
        joined.push((room, ws, id));
    }
    println!(
        "  {} connected and joined in {:.1} s; server VmRSS {:.0} MiB -> {:.0} MiB",
        joined.len(),
        connect_started.elapsed().as_secs_f64(),
        rss_start as f64 / 1024.0,
        server.rss_kib() as f64 / 1024.0
    );
    // The room the guessers try.
    let (mut vault, _) = connect(&url).await.expect("connect");
    request(
        &mut vault,
        json!({"type":"join_room","room":"vault","name":"owner","password":"a password nobody guesses"}),
        "room_joined",
    )
    .await;

    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let counts = Arc::new(Counts::default());
    let mut tasks = Vec::with_capacity(joined.len());
    for (room, ws, id) in joined {
        let members = rooms[&room].clone();
        tasks.push(tokio::spawn(behave(
            ws,
            id,
            members,
            started,
            stop.clone(),
            counts.clone(),
        )));
    }

    tokio::time::sleep(HOSTILE_FROM).await;
    let hostile_stop = Arc::new(AtomicBool::new(false));
    let slow: Vec<_> = (0..SLOW_READERS)
        .map(|n| tokio::spawn(slow_reader(url.clone(), n, hostile_stop.clone())))
        .collect();
    let floods: Vec<_> = (0..FLOODERS)
        .map(|_| tokio::spawn(flooder(url.clone(), hostile_stop.clone())))
        .collect();
    let guesses: Vec<_> = (0..GUESSERS)
        .map(|_| tokio::spawn(guesser(url.clone(), "vault".into(), hostile_stop.clone())))
        .collect();

    tokio::time::sleep(RUN.saturating_sub(HOSTILE_FROM)).await;
    hostile_stop.store(true, Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    // What is in flight arrives; then the clients are done.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let peak_kib = server.status_kib("VmHWM");
    let rss_end = server.rss_kib();
    drop(server);
    let mut slow_outcomes: HashMap<&str, usize> = HashMap::new();
    for task in slow {
        *slow_outcomes
            .entry(task.await.expect("slow reader"))
            .or_default() += 1;
    }
    let mut closed = 0;
    for task in floods {
        closed += task.await.expect("flooder");
    }
    let (mut wrong, mut throttled) = (0, 0);
    for task in guesses {
        let (w, t) = task.await.expect("guesser");
        wrong += w;
        throttled += t;
    }
    for task in tasks {
        let _ = task.await;
    }
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let lost = get(&counts.pings_sent).saturating_sub(get(&counts.pings_received))
        + get(&counts.pongs_sent).saturating_sub(get(&counts.pongs_received));
    let mut calm = counts.rtt_calm.lock().expect("rtt").clone();
    let mut hostile = counts.rtt_hostile.lock().expect("rtt").clone();
    println!(
        "  relayed: {} pings, {} pongs sent; lost {lost}, misrouted {}, leaked across rooms {}",
        get(&counts.pings_sent),
        get(&counts.pongs_sent),
        get(&counts.misrouted),
        get(&counts.leaked)
    );
    println!(
        "  server memory: peak {:.0} MiB (VmHWM), {:.0} MiB at the end",
        peak_kib as f64 / 1024.0,
        rss_end as f64 / 1024.0
    );
    println!(
        "  well-behaved RTT (two relays): before hostile clients p50 {:.2} ms, p99 {:.2} ms ({} samples); \
         with them p50 {:.2} ms, p99 {:.2} ms ({} samples); p99 ratio {:.2}",
        percentile(&mut calm, 0.5),
        percentile(&mut calm, 0.99),
        calm.len(),
        percentile(&mut hostile, 0.5),
        percentile(&mut hostile, 0.99),
        hostile.len(),
        percentile(&mut hostile, 0.99) / percentile(&mut calm, 0.99).max(0.001)
    );
    println!(
        "  hostile: slow readers {slow_outcomes:?}; flooders closed {closed} times; \
         guessers got {wrong} wrong-password answers and {throttled} too_many_attempts"
    );
}
