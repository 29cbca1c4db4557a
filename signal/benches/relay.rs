//! Relay throughput, round-trip latency and idle memory of the signaling
//! server. Not a test: run with `cargo bench -p peercall-signal --bench relay`
//! and copy the figures into `docs/signal-bench.md`.
//!
//! The server runs as a separate process (the built `peercall-signal`
//! binary) so its memory can be read from `/proc/<pid>/status` in isolation;
//! the load generator shares the machine with it, so throughput figures are
//! for server and clients together on the same cores.
//!
//! 1. Relay: N clients (200, then 1000) in N/2 pairs. In each pair one side
//!    sends a ~500-byte offer-shaped message to the other through the
//!    server, which answers with an answer of the same size; the next offer
//!    goes out when the answer arrives. Counted over a fixed window after a
//!    warm-up: messages relayed per second (both directions) and round-trip
//!    p50/p99 (offer out to answer back, i.e. two relays).
//! 2. Idle memory: 10 000 WebSocket connections opened and held (each has
//!    read its welcome); server VmRSS before and after, per connection.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{connect, machine, ServerProcess, Ws};
use futures_util::stream::{self, StreamExt};
use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;

const WARMUP: Duration = Duration::from_secs(1);
const WINDOW: Duration = Duration::from_secs(5);
const IDLE_CONNECTIONS: usize = 10_000;
/// Connections opened at once while filling up.
const CONNECT_CONCURRENCY: usize = 64;

/// Opens `count` connections, `CONNECT_CONCURRENCY` at a time.
async fn connect_many(url: &str, count: usize) -> Vec<(Ws, String)> {
    stream::iter(0..count)
        .map(|_| async { connect(url).await.expect("connect to the server") })
        .buffer_unordered(CONNECT_CONCURRENCY)
        .collect()
        .await
}

/// ~500 bytes of SDP-looking text.
fn sdp(kind: &str) -> String {
    let mut sdp = format!(
        "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
         a=group:BUNDLE 0 1\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS\r\n\
         m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\nc=IN IP4 0.0.0.0\r\n\
         a=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:{kind}\r\na=ice-pwd:"
    );
    while sdp.len() < 480 {
        sdp.push('x');
    }
    sdp.push_str("\r\n");
    sdp
}

fn next_text(message: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>) -> String {
    match message {
        Some(Ok(Message::Text(text))) => text.to_string(),
        other => panic!("expected a relayed message, got {other:?}"),
    }
}

struct RelayResult {
    clients: usize,
    messages_per_sec: f64,
    p50_us: u64,
    p99_us: u64,
    round_trips: usize,
    /// Server CPU time over the window, in cores (1.0 = one core busy).
    server_cpu_share: f64,
    /// Server CPU time per relayed message: independent of how busy the
    /// machine's other cores were.
    server_cpu_per_message_us: f64,
}

/// One relay run with `clients` clients in pairs.
async fn relay_run(clients: usize) -> RelayResult {
    // The bench sends far above a human client's rate: lift the limiter.
    let server = ServerProcess::start(&[
        "--rate-per-sec",
        "1000000",
        "--rate-burst",
        "1000000",
        "--max-connections",
        "20000",
    ]);
    let mut sockets = connect_many(&server.url, clients).await;
    let relayed = Arc::new(AtomicU64::new(0));
    let measuring = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let measure_from = start + WARMUP;
    let end = measure_from + WINDOW;

    let mut tasks = Vec::new();
    while let (Some((mut a, a_id)), Some((mut b, b_id))) = (sockets.pop(), sockets.pop()) {
        let (relayed, measuring) = (relayed.clone(), measuring.clone());
        tasks.push(tokio::spawn(async move {
            let offer = serde_json::json!({"type":"offer","to":b_id,"offer":{"type":"offer","sdp":sdp("offer")}})
                .to_string();
            let answer = serde_json::json!({"type":"answer","to":a_id,"answer":{"type":"answer","sdp":sdp("answer")}})
                .to_string();
            let mut samples = Vec::new();
            loop {
                if Instant::now() >= end {
                    break;
                }
                let sent = Instant::now();
                a.send(Message::text(offer.clone())).await.expect("send offer");
                let got = next_text(b.next().await);
                assert!(got.starts_with(r#"{"type":"offer""#), "{got}");
                b.send(Message::text(answer.clone())).await.expect("send answer");
                let got = next_text(a.next().await);
                assert!(got.starts_with(r#"{"type":"answer""#), "{got}");
                let finished = Instant::now();
                if measuring.load(Ordering::Relaxed) && finished <= end {
                    relayed.fetch_add(2, Ordering::Relaxed);
                    samples.push(u64::try_from((finished - sent).as_micros()).unwrap_or(u64::MAX));
                }
            }
            (samples, a, b)
        }));
    }
    tokio::time::sleep_until(measure_from.into()).await;
    measuring.store(true, Ordering::Relaxed);
    let window_start = Instant::now();
    let cpu_start = server.cpu_time();
    tokio::time::sleep_until(end.into()).await;
    let cpu = server.cpu_time().saturating_sub(cpu_start);
    let window = end
        .saturating_duration_since(window_start)
        .max(Duration::from_millis(1));
    let mut samples = Vec::new();
    let mut keep = Vec::new();
    for task in tasks {
        let (task_samples, a, b) = task.await.expect("pair task");
        samples.extend(task_samples);
        keep.push((a, b));
    }
    let total = relayed.load(Ordering::Relaxed);
    samples.sort_unstable();
    let percentile = |p: f64| {
        let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
        samples.get(index).copied().unwrap_or_default()
    };
    let result = RelayResult {
        clients,
        messages_per_sec: total as f64 / window.as_secs_f64(),
        p50_us: percentile(0.50),
        p99_us: percentile(0.99),
        round_trips: samples.len(),
        server_cpu_share: cpu.as_secs_f64() / window.as_secs_f64(),
        server_cpu_per_message_us: cpu.as_secs_f64() * 1e6 / total.max(1) as f64,
    };
    drop(keep);
    server.stop();
    result
}

struct MemoryResult {
    before_kib: u64,
    after_kib: u64,
    connections: usize,
}

async fn idle_memory_run() -> MemoryResult {
    // Default limits, except room for 10 000 clients plus a margin.
    let server = ServerProcess::start(&["--max-connections", "10100"]);
    // Let the runtime and allocator settle, with one connection served, so
    // one-time allocations are not billed to the idle connections.
    let warm = connect(&server.url).await.expect("connect to the server");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before_kib = server.rss_kib();
    let held = connect_many(&server.url, IDLE_CONNECTIONS).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after_kib = server.rss_kib();
    let result = MemoryResult {
        before_kib,
        after_kib,
        connections: held.len(),
    };
    drop(held);
    drop(warm);
    server.stop();
    result
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to filter here.
    let limit = peercall_signal::server::raise_fd_limit().expect("raise RLIMIT_NOFILE");
    if let Some(limit) = limit {
        assert!(
            limit >= IDLE_CONNECTIONS as u64 + 100,
            "open-file hard limit {limit} is too low for {IDLE_CONNECTIONS} connections"
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    println!("machine: {}", machine());
    runtime.block_on(async {
        for clients in [200, 1000] {
            let r = relay_run(clients).await;
            println!(
                "relay, {} clients ({} pairs), {:?} window: {:.0} messages relayed/s, \
                 round trip p50 {:.2} ms, p99 {:.2} ms ({} round trips); \
                 server CPU {:.2} cores, {:.1} µs per relayed message",
                r.clients,
                r.clients / 2,
                WINDOW,
                r.messages_per_sec,
                r.p50_us as f64 / 1000.0,
                r.p99_us as f64 / 1000.0,
                r.round_trips,
                r.server_cpu_share,
                r.server_cpu_per_message_us
            );
        }
        let m = idle_memory_run().await;
        let per = (m.after_kib.saturating_sub(m.before_kib)) as f64 * 1024.0 / m.connections as f64;
        println!(
            "idle: {} connections held; server VmRSS {:.1} MiB -> {:.1} MiB; {:.1} KiB per connection",
            m.connections,
            m.before_kib as f64 / 1024.0,
            m.after_kib as f64 / 1024.0,
            per / 1024.0
        );
    });
}
