//! What the signaling benchmarks share: the server as a child process
//! (the built binary, or the Node baseline in `node-baseline/`; its memory
//! and CPU read from `/proc`), client connections (tungstenite's, and the
//! load generator's cheap one in `raw.rs`), and a description of the
//! machine.
#![allow(dead_code)] // each bench uses a different subset

pub mod raw;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A client's WebSocket.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The server process; killed if the bench stops half-way.
pub struct ServerProcess {
    child: Child,
    /// `ws://127.0.0.1:PORT/`.
    pub url: String,
}

/// Where the Node baseline lives (`server.mjs` and its `node_modules`).
const NODE_BASELINE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/node-baseline");

impl ServerProcess {
    /// The built `peercall-signal` with `extra` arguments (another build
    /// of it if `PEERCALL_SIGNAL_BIN` names one, to compare two versions).
    pub fn start(extra: &[&str]) -> Self {
        let binary = std::env::var_os("PEERCALL_SIGNAL_BIN")
            .unwrap_or_else(|| env!("CARGO_BIN_EXE_peercall-signal").into());
        let mut command = Command::new(binary);
        command
            .args(["--bind", "127.0.0.1:0"])
            .args(extra)
            .env("RUST_LOG", "error");
        Self::spawn(command, "peercall-signal")
    }

    /// The original demo's Node relay (`benches/node-baseline/server.mjs`).
    pub fn node() -> Self {
        let ws = std::path::Path::new(NODE_BASELINE).join("node_modules/ws/package.json");
        assert!(
            ws.exists(),
            "the Node baseline's `ws` is not installed: run `cargo xtask setup` \
             (or `npm ci --prefix signal/benches/node-baseline`)"
        );
        let mut command = Command::new("node");
        command
            .arg("server.mjs")
            .current_dir(NODE_BASELINE)
            .env("PORT", "0")
            .env("ALLOWED_ORIGIN", raw::ORIGIN);
        Self::spawn(command, "the Node baseline (node server.mjs)")
    }

    /// Starts `command`, which prints `listening on URL` first.
    fn spawn(mut command: Command, what: &str) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start {what}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
            .expect("read the listening line");
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Self { child, url }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// VmRSS of the server, in KiB.
    pub fn rss_kib(&self) -> u64 {
        self.status_kib("VmRSS")
    }

    /// A `/proc/<pid>/status` field of the server in KiB (`VmRSS`, or
    /// `VmHWM`, the peak).
    pub fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("read /proc/<pid>/status");
        status
            .lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} line"))
    }

    /// CPU time (user + system) the server has used so far.
    pub fn cpu_time(&self) -> Duration {
        cpu_time(&self.child.id().to_string())
    }

    /// User and system CPU time the server has used so far.
    pub fn cpu_times(&self) -> (Duration, Duration) {
        cpu_times(&self.child.id().to_string())
    }

    pub fn stop(mut self) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid fits");
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

/// CPU time (user + system) of process `pid` (`"self"` for this one).
pub fn cpu_time(pid: &str) -> Duration {
    let (user, system) = cpu_times(pid);
    user + system
}

/// User and system CPU time of process `pid` (`"self"` for this one).
pub fn cpu_times(pid: &str) -> (Duration, Duration) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/<pid>/stat");
    // Fields after the parenthesised command name; utime and stime are
    // fields 14 and 15 of the whole line, in clock ticks.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let user: u64 = fields[11].parse().expect("utime");
    let system: u64 = fields[12].parse().expect("stime");
    // SAFETY: sysconf has no preconditions.
    let per_sec = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) })
        .unwrap_or(100)
        .max(1) as f64;
    (
        Duration::from_secs_f64(user as f64 / per_sec),
        Duration::from_secs_f64(system as f64 / per_sec),
    )
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Connects and returns the socket and the peer id from the welcome;
/// `None` if the server refused or closed.
pub async fn connect(url: &str) -> Option<(Ws, String)> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.ok()?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => {
                let welcome: serde_json::Value = serde_json::from_str(&text).ok()?;
                return Some((ws, welcome["id"].as_str()?.to_owned()));
            }
            Some(Ok(_)) => continue,
            _ => return None,
        }
    }
}

/// CPU model, cores and memory, for the figures' context.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0 / 1024.0);
    format!("{model}, {cores} cores, {mem_gib:.1} GiB")
}
