//! Processes and files: where the built binaries and tools are, the
//! `tests/artifacts` folder, free ports, [`Process`] (a child killed when
//! dropped), and fresh temp and settings directories.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// The workspace root: from the manifest directory `cargo test` names at
/// run time (a build shared between checkouts keeps the compile-time path
/// of whichever checkout compiled it), else the compile-time one.
pub fn root() -> PathBuf {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest.parent().unwrap().to_path_buf()
}

fn built(env: &str, default: &str) -> Result<PathBuf> {
    let path = std::env::var_os(env)
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(default));
    if !path.exists() {
        bail!(
            "{} not found ({env}); run `cargo xtask test`, which builds it",
            path.display()
        );
    }
    Ok(path)
}

/// The desktop app binary.
pub fn app_bin() -> Result<PathBuf> {
    built("PEERCALL_APP_BIN", "target/debug/peercall")
}

/// The headless signaling server binary.
pub fn signal_bin() -> Result<PathBuf> {
    built("PEERCALL_SIGNAL_BIN", "target/debug/peercall-signal")
}

/// The built UI (`src-ui/dist`).
pub fn ui_dist() -> Result<PathBuf> {
    built("PEERCALL_UI_DIST", "src-ui/dist")
}

/// Where tests put screenshots and logs, for people to look at.
pub fn artifacts() -> PathBuf {
    let dir = root().join("tests/artifacts");
    let _ = std::fs::create_dir_all(&dir);
    dir
}

pub fn require(program: &str) -> Result<PathBuf> {
    let from_cargo = std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".cargo/bin").join(program))
        .filter(|p| p.is_file());
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    });
    on_path
        .or(from_cargo)
        .with_context(|| format!("`{program}` is not installed; run `cargo xtask setup`"))
}

/// A free TCP port on 127.0.0.1 (bound then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port on 127.0.0.1")
}

pub(crate) async fn wait_for_port(port: u16, what: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("{what} did not listen on port {port} within 20 s")
}

/// A child process killed when dropped.
pub struct Process {
    pub(crate) child: Child,
    name: String,
}

impl Process {
    /// Starts `command`, its stdout and stderr going to
    /// `tests/artifacts/NAME.log` ([`Process::log`]).
    pub fn spawn(name: &str, command: &mut Command) -> Result<Self> {
        let log = std::fs::File::create(artifacts().join(format!("{name}.log")))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        Ok(Self {
            child,
            name: name.to_owned(),
        })
    }

    /// The OS process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it has written so far (stdout and stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(artifacts().join(format!("{}.log", self.name))).unwrap_or_default()
    }

    /// Fatal GLib errors in the log (`g_error`, which kills the process
    /// that logs it: a WebKit web process among the app's children), for a
    /// failing test's output: a crashed page otherwise shows only as
    /// WebDriver's "page crash or hang".
    fn report_fatal_errors(&self) {
        let log = self.log();
        for line in log.lines().filter(|line| line.contains("-ERROR **")) {
            eprintln!("{}: {line}", self.name);
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.report_fatal_errors();
        // SIGTERM first so servers shut down cleanly, then make sure.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("{} did not stop on SIGTERM; killing it", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh, empty directory under the system temp dir.
pub fn temp_dir(name: &str) -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("peercall-e2e-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creating a temp dir");
    dir
}

/// A fresh config directory holding `stored` as the app's `settings.json`.
pub fn settings_dir(name: &str, stored: &str) -> Result<PathBuf> {
    let dir = temp_dir(name);
    std::fs::write(dir.join("settings.json"), stored)?;
    Ok(dir)
}

/// Process `root` and every process it started (read from /proc).
pub fn family(root: u32) -> Vec<u32> {
    let mut parent_of = std::collections::HashMap::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // comm is in parentheses and may hold spaces: split after the last ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok())
            .unwrap_or(0);
        parent_of.insert(pid, ppid);
    }
    let mut family = vec![root];
    let mut grew = true;
    while grew {
        grew = false;
        for (pid, ppid) in &parent_of {
            if family.contains(ppid) && !family.contains(pid) {
                family.push(*pid);
                grew = true;
            }
        }
    }
    family
}

/// PSS (KiB) of process `root` and every process it started (PSS splits
/// shared pages fairly between processes).
pub fn family_pss_kib(root: u32) -> u64 {
    family(root).into_iter().map(pss_kib).sum()
}

/// Resident memory (KiB) of process `root` and every process it started,
/// each physical page counted once however many of them map it. Unlike
/// PSS it does not move when an unrelated program maps the same libraries
/// (PSS splits a page among every process on the machine mapping it: the
/// other person's browser starting or ending changed the side's figure by
/// up to 9 MiB). Reads page frame numbers from `/proc/PID/pagemap`, which
/// needs root: `None` without.
pub fn family_resident_once_kib(root: u32) -> Option<u64> {
    use std::os::unix::fs::FileExt;
    const PAGE: u64 = 4096;
    const PRESENT: u64 = 1 << 63;
    const PFN: u64 = (1 << 55) - 1;
    let mut frames = std::collections::HashSet::new();
    for pid in family(root) {
        let (Ok(smaps), Ok(pagemap)) = (
            std::fs::read_to_string(format!("/proc/{pid}/smaps")),
            std::fs::File::open(format!("/proc/{pid}/pagemap")),
        ) else {
            continue;
        };
        let mut range = None;
        for line in smaps.lines() {
            if let Some(rss) = line.strip_prefix("Rss:") {
                let resident = rss.split_whitespace().next() != Some("0");
                if let (true, Some((start, end))) = (resident, range.take()) {
                    let mut entries = vec![0u8; ((end - start) / PAGE * 8) as usize];
                    if pagemap
                        .read_exact_at(&mut entries, start / PAGE * 8)
                        .is_err()
                    {
                        continue;
                    }
                    for entry in entries.chunks_exact(8) {
                        let entry = u64::from_le_bytes(entry.try_into().expect("8 bytes"));
                        if entry & PRESENT != 0 {
                            if entry & PFN == 0 {
                                return None;
                            }
                            frames.insert(entry & PFN);
                        }
                    }
                }
            } else if let Some((start, end)) = line
                .split_whitespace()
                .next()
                .and_then(|r| r.split_once('-'))
                .and_then(|(a, b)| {
                    Some((
                        u64::from_str_radix(a, 16).ok()?,
                        u64::from_str_radix(b, 16).ok()?,
                    ))
                })
            {
                range = Some((start, end));
            }
        }
    }
    Some(frames.len() as u64 * PAGE / 1024)
}

/// PSS (KiB) of process `pid` alone (0 once it is gone).
pub fn pss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap_or(0)
}

/// CPU time (user + system, in clock ticks) each process of `root`'s
/// family has used so far, by pid: two readings give the CPU of a window
/// (a process that started or ended between them counts from or until
/// then).
pub fn family_cpu_ticks(root: u32) -> std::collections::HashMap<u32, u64> {
    family(root)
        .into_iter()
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let rest = stat.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            // utime and stime: fields 14 and 15 of the line, 12 and 13 here.
            let ticks =
                fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
            Some((pid, ticks))
        })
        .collect()
}
