//! Relay throughput, round trips and CPU with instances sharing rooms
//! through Redis (`--redis`). Not a test: run with
//! `cargo bench -p peercall-signal --bench scale_out` and copy the figures
//! into `docs/signal-bench.md`.
//!
//! The same load as `relay.rs` (same load generator, `common/raw.rs`):
//! 1000 clients in 500 pairs, demo dialect, a ~500-byte offer answered by
//! an answer of the same size, one round trip in flight per pair, over a
//! 5 s window after a 1 s warm-up. Clients are spread over the instances
//! in turn and paired with the next one, so with two or three instances
//! every relay crosses Redis (the worst case: no two partners share an
//! instance). Measured: messages relayed per second, round trip p50/p99,
//! and CPU per relayed message of the instances and of `redis-server`
//! (each its own process, from `/proc/PID/stat`).
//!
//! Runs: one instance without Redis (the baseline), one with `--redis`
//! (the cost of the mode when nothing crosses), two and three instances;
//! `SCALE_OUT_RUNS=1:0,2:1` (instances:with Redis, …) picks others,
//! `PEERCALL_SIGNAL_BIN` another build of the server (to compare two) and
//! `SCALE_OUT_ROUND_TRIPS` a fixed number of round trips per pair.

mod common;
#[path = "../tests/common/redis.rs"]
mod redis;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::raw::{text_frame, RawWs};
use common::{cpu_time, machine, ServerProcess};
use futures_util::stream::{self, StreamExt};
use redis::Redis;

const CLIENTS: usize = 1000;
const WARMUP: Duration = Duration::from_secs(1);
const WINDOW: Duration = Duration::from_secs(5);
const CONNECT_CONCURRENCY: usize = 64;
const LOAD_THREADS: usize = 2;

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

fn message(kind: &str, to: &str) -> String {
    let description = serde_json::json!({"type": kind, "sdp": sdp(kind)});
    format!(
        r#"{{"type":"{kind}","to":{},"{kind}":{description}}}"#,
        serde_json::json!(to)
    )
}

/// What one run measured.
struct Run {
    samples: Vec<u64>,
    messages: f64,
    window: f64,
    instances_cpu: f64,
    redis_cpu: f64,
    load_cpu: f64,
}

impl Run {
    fn percentile_us(&self, p: f64) -> u64 {
        let index = ((self.samples.len() as f64 - 1.0) * p).round() as usize;
        self.samples.get(index).copied().unwrap_or_default()
    }

    fn per_message_us(&self, cpu: f64) -> f64 {
        cpu * 1e6 / self.messages
    }
}

/// Relays between `CLIENTS` clients spread over `instances` processes,
/// sharing `redis` if given.
async fn run(instances: usize, redis: Option<&Redis>) -> Run {
    let url = redis.map(Redis::url);
    let mut args = vec![
        "--rate-per-sec",
        "1000000",
        "--rate-burst",
        "1000000",
        "--max-connections",
        "20000",
    ];
    if let Some(url) = &url {
        args.extend(["--redis", url.as_str()]);
    }
    let servers: Vec<ServerProcess> = (0..instances)
        .map(|_| ServerProcess::start(&args))
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let urls: Vec<String> = servers.iter().map(|s| s.url.clone()).collect();
    let mut connected: Vec<(usize, (RawWs, String))> = stream::iter(0..CLIENTS)
        .map(|i| {
            let url = urls[i % instances].clone();
            async move { (i, RawWs::connect(&url).await.expect("connect")) }
        })
        .buffer_unordered(CONNECT_CONCURRENCY)
        .collect()
        .await;
    connected.sort_unstable_by_key(|(i, _)| *i);
    let mut sockets: Vec<(RawWs, String)> = connected.into_iter().map(|(_, s)| s).collect();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let relayed = Arc::new(AtomicU64::new(0));
    let measuring = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let measure_from = start + WARMUP;
    let end = measure_from + WINDOW;
    let mut tasks = Vec::new();
    // Client 2k (instance 2k mod n) pairs with 2k+1 (the next instance).
    sockets.reverse();
    while let (Some((mut a, a_id)), Some((mut b, b_id))) = (sockets.pop(), sockets.pop()) {
        let (relayed, measuring) = (relayed.clone(), measuring.clone());
        tasks.push(tokio::spawn(async move {
            let (offer, answer) = (
                text_frame(&message("offer", &b_id)),
                text_frame(&message("answer", &a_id)),
            );
            let mut samples = Vec::with_capacity(4096);
            let mut left = round_trips();
            let fixed = left < u64::MAX;
            while left > 0 && (fixed || Instant::now() < end) {
                left -= 1;
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
    let cpu_of = |servers: &[ServerProcess]| -> Duration {
        servers.iter().map(ServerProcess::cpu_time).sum()
    };
    let redis_cpu = || redis.map_or(Duration::ZERO, |r| cpu_time(&r.pid().to_string()));
    tokio::time::sleep_until(measure_from.into()).await;
    measuring.store(true, Ordering::Relaxed);
    let window_start = Instant::now();
    let (servers_start, redis_start, load_start) =
        (cpu_of(&servers), redis_cpu(), cpu_time("self"));
    tokio::time::sleep_until(end.into()).await;
    let instances_cpu = cpu_of(&servers).saturating_sub(servers_start);
    let redis_used = redis_cpu().saturating_sub(redis_start);
    let load_cpu = cpu_time("self").saturating_sub(load_start);
    let window = end.saturating_duration_since(window_start);
    let mut samples = Vec::new();
    let mut keep = Vec::new();
    for task in tasks {
        let (task_samples, a, b) = task.await.expect("pair task");
        samples.extend(task_samples);
        keep.push((a, b));
    }
    samples.sort_unstable();
    drop(keep);
    for server in servers {
        server.stop();
    }
    Run {
        samples,
        messages: relayed.load(Ordering::Relaxed).max(1) as f64,
        window: window.as_secs_f64(),
        instances_cpu: instances_cpu.as_secs_f64(),
        redis_cpu: redis_used.as_secs_f64(),
        load_cpu: load_cpu.as_secs_f64(),
    }
}

/// Round trips per pair: as many as fit the window, or
/// `SCALE_OUT_ROUND_TRIPS` however long they take (a fixed amount of work,
/// to count a server's instructions per relay under callgrind; the
/// printed rates then mean nothing).
fn round_trips() -> u64 {
    std::env::var("SCALE_OUT_ROUND_TRIPS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(u64::MAX)
}

/// The setups to run: `SCALE_OUT_RUNS`, or all four.
fn runs() -> Vec<(usize, bool)> {
    let spec = std::env::var("SCALE_OUT_RUNS").unwrap_or_else(|_| "1:0,1:1,2:1,3:1".into());
    spec.split(',')
        .map(|run| {
            let (n, redis) = run.split_once(':').expect("INSTANCES:REDIS");
            (n.parse().expect("a number of instances"), redis == "1")
        })
        .collect()
}

fn main() {
    peercall_signal::server::raise_fd_limit().expect("raise RLIMIT_NOFILE");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(LOAD_THREADS)
        .enable_all()
        .build()
        .expect("tokio runtime");
    println!("machine: {}", machine());
    println!(
        "relay through Redis: {CLIENTS} clients in pairs across instances, \
         {}s window after {}s warm-up",
        WINDOW.as_secs(),
        WARMUP.as_secs()
    );
    println!(
        "{:<24} {:>10} {:>9} {:>9} {:>16} {:>13} {:>11}",
        "setup", "msgs/s", "p50 ms", "p99 ms", "instances µs/msg", "redis µs/msg", "load cores"
    );
    runtime.block_on(async {
        for (instances, with_redis) in runs() {
            let redis = with_redis.then(Redis::start);
            let result = run(instances, redis.as_ref()).await;
            let setup = match (instances, with_redis) {
                (1, false) => "1 instance, no Redis".to_owned(),
                (n, _) => format!("{n} instance{} + Redis", if n > 1 { "s" } else { "" }),
            };
            println!(
                "{setup:<24} {:>10.0} {:>9.2} {:>9.2} {:>16.2} {:>13.2} {:>11.2}",
                result.messages / result.window,
                result.percentile_us(0.50) as f64 / 1000.0,
                result.percentile_us(0.99) as f64 / 1000.0,
                result.per_message_us(result.instances_cpu),
                result.per_message_us(result.redis_cpu),
                result.load_cpu / result.window,
            );
        }
    });
}
