//! Relay cost, round-trip latency and memory of the signaling server, side
//! by side with the original demo's Node relay (`node-baseline/`, Node +
//! `ws`), in one run. Not a test: run with
//! `cargo bench -p peercall-signal --bench relay` and copy the figures into
//! `docs/signal-bench.md`.
//!
//! Each server runs as a separate process (the built `peercall-signal`
//! binary; `node server.mjs`) so its memory and CPU come from
//! `/proc/<pid>/…` alone. Both are driven by the same load generator
//! (`common/raw.rs`: pre-masked frames, no JSON parsing on the hot path) in
//! this process, which shares the machine's cores with the server; its own
//! CPU is measured too, and the output says when it was the bottleneck.
//!
//! 1. Relay (two rounds per server, alternated, then combined): 1000
//!    clients in 500 pairs, demo dialect. In each pair one side
//!    sends a ~500-byte offer (`{"type":"offer","to":ID,"offer":{…}}`) to
//!    the other through the server, which answers with an answer of the
//!    same size; the next offer goes out when the answer arrives (one round
//!    trip in flight per pair). Over a fixed window after a warm-up:
//!    messages relayed per second, round trip p50/p99 (two relays), server
//!    CPU per relayed message, and the server's RSS before connecting,
//!    once connected, and its peak (VmHWM).
//! 2. Idle memory: 10 000 WebSocket connections opened and held (each has
//!    read its welcome); server VmRSS before and after, per connection.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::raw::{text_frame, RawWs};
use common::{cpu_time, machine, ServerProcess};
use futures_util::stream::{self, StreamExt};

const CLIENTS: usize = 1000;
const WARMUP: Duration = Duration::from_secs(1);
const WINDOW: Duration = Duration::from_secs(5);
/// Relay runs per server, alternated between the servers.
const ROUNDS: usize = 2;
const IDLE_CONNECTIONS: usize = 10_000;
/// Connections opened at once while filling up.
const CONNECT_CONCURRENCY: usize = 64;
/// Threads of the load generator's runtime.
const LOAD_THREADS: usize = 2;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Server {
    Peercall,
    Node,
}

impl Server {
    fn start(self, relay: bool) -> ServerProcess {
        match (self, relay) {
            // The bench sends far above a human client's rate: lift the
            // limiter. Connection cap: room for everyone plus a margin.
            (Self::Peercall, true) => ServerProcess::start(&[
                "--rate-per-sec",
                "1000000",
                "--rate-burst",
                "1000000",
                "--max-connections",
                "20000",
            ]),
            (Self::Peercall, false) => ServerProcess::start(&["--max-connections", "10100"]),
            (Self::Node, _) => ServerProcess::node(),
        }
    }

    fn name(self) -> String {
        match self {
            Self::Peercall => "peercall-signal".to_owned(),
            Self::Node => {
                let manifest = concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/benches/node-baseline/node_modules/ws/package.json"
                );
                let version = std::fs::read_to_string(manifest)
                    .ok()
                    .and_then(|m| serde_json::from_str::<serde_json::Value>(&m).ok())
                    .and_then(|m| m["version"].as_str().map(str::to_owned))
                    .unwrap_or_default();
                format!("Node demo (ws {version})")
            }
        }
    }
}

/// Opens `count` connections, `CONNECT_CONCURRENCY` at a time.
async fn connect_many(url: &str, count: usize) -> Vec<(RawWs, String)> {
    stream::iter(0..count)
        .map(|_| async { RawWs::connect(url).await.expect("connect to the server") })
        .buffer_unordered(CONNECT_CONCURRENCY)
        .collect()
        .await
}

/// ~480 bytes of SDP-looking text.
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

/// A demo-dialect `offer` or `answer` for `to`, its keys in the order a
/// browser client writes them.
fn message(kind: &str, to: &str) -> String {
    let description = serde_json::json!({"type": kind, "sdp": sdp(kind)});
    format!(
        r#"{{"type":"{kind}","to":{},"{kind}":{description}}}"#,
        serde_json::json!(to)
    )
}

/// What one relay run (or several, combined) measured.
struct RelayResult {
    /// Round-trip times in µs, sorted.
    samples: Vec<u64>,
    /// Messages relayed in the window(s), and the windows' length in s.
    messages: f64,
    window: f64,
    /// Server CPU (user + system) and system time over the window(s), in s.
    server_cpu: f64,
    server_sys: f64,
    /// The load generator's (this process's) CPU over the window(s), in s.
    load_cpu: f64,
    rss_before_kib: u64,
    rss_connected_kib: u64,
    peak_kib: u64,
    /// The machine's 1-minute load average at the end of each run.
    loadavg: Vec<f64>,
}

impl RelayResult {
    /// All `runs` as one: totals summed, samples merged, the largest RSS.
    fn combine(runs: Vec<Self>) -> Self {
        let mut all = runs.into_iter();
        let mut total = all.next().expect("at least one run");
        for run in all {
            total.samples.extend(run.samples);
            total.messages += run.messages;
            total.window += run.window;
            total.server_cpu += run.server_cpu;
            total.server_sys += run.server_sys;
            total.load_cpu += run.load_cpu;
            total.rss_before_kib = total.rss_before_kib.max(run.rss_before_kib);
            total.rss_connected_kib = total.rss_connected_kib.max(run.rss_connected_kib);
            total.peak_kib = total.peak_kib.max(run.peak_kib);
            total.loadavg.extend(run.loadavg);
        }
        total.samples.sort_unstable();
        total
    }

    fn percentile_us(&self, p: f64) -> u64 {
        let index = ((self.samples.len() as f64 - 1.0) * p).round() as usize;
        self.samples.get(index).copied().unwrap_or_default()
    }

    fn messages_per_sec(&self) -> f64 {
        self.messages / self.window
    }

    /// Server CPU time per relayed message: what the comparison rests on.
    fn server_us_per_message(&self) -> f64 {
        self.server_cpu * 1e6 / self.messages
    }

    /// Of which in the kernel (system time): the socket reads and writes.
    fn server_sys_us_per_message(&self) -> f64 {
        self.server_sys * 1e6 / self.messages
    }

    /// Server CPU over the window, in cores (1.0 = one core busy).
    fn server_cores(&self) -> f64 {
        self.server_cpu / self.window
    }

    fn load_cores(&self) -> f64 {
        self.load_cpu / self.window
    }

    fn load_us_per_message(&self) -> f64 {
        self.load_cpu * 1e6 / self.messages
    }

    fn peak_growth_kib(&self) -> u64 {
        self.peak_kib.saturating_sub(self.rss_before_kib)
    }

    /// Whether the load generator, not the server, limited the rate: it
    /// used (nearly) all of its threads, or more CPU than the server on a
    /// machine whose cores were all busy.
    fn load_bound(&self) -> bool {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get()) as f64;
        let (load, server) = (self.load_cores(), self.server_cores());
        load >= 0.9 * LOAD_THREADS as f64 || (load > server && load + server >= 0.9 * cores)
    }
}

/// The machine's 1-minute load average: how busy the neighbours were.
fn loadavg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// One relay run against `server`.
async fn relay_run(server: Server) -> RelayResult {
    let server = server.start(true);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_before_kib = server.rss_kib();
    let mut sockets = connect_many(&server.url, CLIENTS).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_connected_kib = server.rss_kib();
    let relayed = Arc::new(AtomicU64::new(0));
    let measuring = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let measure_from = start + WARMUP;
    let end = measure_from + WINDOW;

    let mut tasks = Vec::new();
    while let (Some((mut a, a_id)), Some((mut b, b_id))) = (sockets.pop(), sockets.pop()) {
        let (relayed, measuring) = (relayed.clone(), measuring.clone());
        tasks.push(tokio::spawn(async move {
            let (offer, answer) = (
                text_frame(&message("offer", &b_id)),
                text_frame(&message("answer", &a_id)),
            );
            let mut samples = Vec::with_capacity(4096);
            while Instant::now() < end {
                let sent = Instant::now();
                a.send(&offer).await.expect("send offer");
                let got = b.recv_text().await.expect("receive offer");
                assert!(
                    got.starts_with(br#"{"type":"offer""#),
                    "{}",
                    String::from_utf8_lossy(got)
                );
                b.send(&answer).await.expect("send answer");
                let got = a.recv_text().await.expect("receive answer");
                assert!(
                    got.starts_with(br#"{"type":"answer""#),
                    "{}",
                    String::from_utf8_lossy(got)
                );
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
    let (user_start, sys_start) = server.cpu_times();
    let load_start = cpu_time("self");
    tokio::time::sleep_until(end.into()).await;
    let (user_end, sys_end) = server.cpu_times();
    let sys = sys_end.saturating_sub(sys_start);
    let cpu = user_end.saturating_sub(user_start) + sys;
    let load = cpu_time("self").saturating_sub(load_start);
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
    let peak_kib = server.status_kib("VmHWM");
    samples.sort_unstable();
    let result = RelayResult {
        samples,
        messages: relayed.load(Ordering::Relaxed).max(1) as f64,
        window: window.as_secs_f64(),
        server_cpu: cpu.as_secs_f64(),
        server_sys: sys.as_secs_f64(),
        load_cpu: load.as_secs_f64(),
        rss_before_kib,
        rss_connected_kib,
        peak_kib,
        loadavg: vec![loadavg()],
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

impl MemoryResult {
    fn per_connection_kib(&self) -> f64 {
        self.after_kib.saturating_sub(self.before_kib) as f64 / self.connections.max(1) as f64
    }
}

async fn idle_memory_run(server: Server) -> MemoryResult {
    let server = server.start(false);
    // Let the runtime and allocator settle, with one connection served, so
    // one-time allocations are not billed to the idle connections.
    let warm = RawWs::connect(&server.url)
        .await
        .expect("connect to the server");
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

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn print_relay(name: &str, r: &RelayResult) {
    println!(
        "  {name:<24} {:>9.0} {:>8.2} {:>8.2} {:>6.2} {:>7.1} {:>7.1} {:>7.1} {:>7.1} {:>7.1} {:>7.1} {:>6.2} {:>6.1}  {}{}",
        r.messages_per_sec(),
        r.percentile_us(0.50) as f64 / 1000.0,
        r.percentile_us(0.99) as f64 / 1000.0,
        r.server_cores(),
        r.server_us_per_message(),
        r.server_sys_us_per_message(),
        mib(r.rss_before_kib),
        mib(r.rss_connected_kib),
        mib(r.peak_kib),
        mib(r.peak_growth_kib()),
        r.load_cores(),
        r.load_us_per_message(),
        r.loadavg
            .iter()
            .map(|l| format!("{l:.1}"))
            .collect::<Vec<_>>()
            .join("/"),
        if r.load_bound() {
            "  <- load generator was the bottleneck"
        } else {
            ""
        }
    );
}

fn ratio(ours: f64, theirs: f64) -> f64 {
    ours / theirs.max(f64::MIN_POSITIVE)
}

fn goal(what: &str, value: f64, at_most: f64) {
    let verdict = if value <= at_most { "met" } else { "NOT met" };
    println!("  {what:<44} {value:>5.2} (goal <= {at_most:.2}): {verdict}");
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
        .worker_threads(LOAD_THREADS)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let servers = [Server::Peercall, Server::Node];
    println!("machine: {}", machine());
    runtime.block_on(async {
        // Alternated rounds, so that a busy spell of the shared machine
        // does not fall on one server only; each server's rounds are then
        // combined (totals summed, round trips merged).
        let mut rounds: [Vec<RelayResult>; 2] = [Vec::new(), Vec::new()];
        for _ in 0..ROUNDS {
            for (server, runs) in servers.iter().zip(&mut rounds) {
                runs.push(relay_run(*server).await);
            }
        }
        println!(
            "\nrelay: {CLIENTS} clients ({} pairs), ~500-byte offers and answers, one round trip \
             in flight per pair; {ROUNDS} alternated rounds per server, each a {WINDOW:?} window \
             after {WARMUP:?} warm-up",
            CLIENTS / 2
        );
        println!(
            "  {:<24} {:>9} {:>8} {:>8} {:>6} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>6} {:>6}  loadavg",
            "server",
            "msg/s",
            "p50 ms",
            "p99 ms",
            "cores",
            "µs/msg",
            "in sys",
            "RSS MiB",
            "conn'd",
            "peak",
            "growth",
            "load",
            "µs/msg"
        );
        for (server, runs) in servers.iter().zip(&rounds) {
            for (round, r) in runs.iter().enumerate() {
                print_relay(&format!("{} #{}", server.name(), round + 1), r);
            }
        }
        let relay = rounds.map(RelayResult::combine);
        for (server, r) in servers.iter().zip(&relay) {
            print_relay(&format!("{}, all", server.name()), r);
        }
        let (ours, node) = (&relay[0], &relay[1]);
        println!(
            "  ({} and {} round trips; µs/msg: server CPU per relayed message, `in sys` the \
             kernel's part of it; RSS in MiB before connecting, connected, peak (VmHWM) and \
             peak growth; load = the load generator's cores and µs per message; loadavg: the \
             machine's, after each round)",
            ours.samples.len(),
            node.samples.len()
        );

        let mut idle = Vec::new();
        for server in servers {
            idle.push(idle_memory_run(server).await);
        }
        println!("\nidle: {IDLE_CONNECTIONS} connections held");
        for (server, m) in servers.iter().zip(&idle) {
            println!(
                "  {:<24} VmRSS {:>6.1} MiB -> {:>6.1} MiB: {:.2} KiB per connection ({} held)",
                server.name(),
                mib(m.before_kib),
                mib(m.after_kib),
                m.per_connection_kib(),
                m.connections
            );
        }

        println!("\npeercall-signal / Node demo:");
        println!(
            "  messages relayed/s {:.2}, round trip p50 {:.2}",
            ratio(ours.messages_per_sec(), node.messages_per_sec()),
            ratio(
                ours.percentile_us(0.50) as f64,
                node.percentile_us(0.50) as f64
            )
        );
        goal(
            "server CPU per relayed message",
            ratio(ours.server_us_per_message(), node.server_us_per_message()),
            0.25,
        );
        goal(
            "round trip p99",
            ratio(
                ours.percentile_us(0.99) as f64,
                node.percentile_us(0.99) as f64,
            ),
            0.5,
        );
        goal(
            "idle memory per connection",
            ratio(idle[0].per_connection_kib(), idle[1].per_connection_kib()),
            0.5,
        );
        goal(
            "peak memory growth under the relay load",
            ratio(ours.peak_growth_kib() as f64, node.peak_growth_kib() as f64),
            1.0 / 3.0,
        );
    });
}
