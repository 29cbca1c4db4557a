//! A bound on how long a test may keep an app or a browser: a test waiting
//! on a WebDriver answer from a hung app (or a hung browser) otherwise waits
//! forever, and the whole run with it, saying only that the test "has been
//! running for over 60 seconds".
//!
//! When the bound passes, the [`Watchdog`] prints every thread's stack of
//! every process it watches (gdb), into the test's output and
//! `tests/artifacts/hang-NAME.txt`, then kills them: the test's pending
//! WebDriver request fails, and so does the test, with what was stuck.

use std::fmt::Write as _;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use crate::process::{artifacts, family, require};

/// How long a test or benchmark may keep one app or browser. The longest
/// tests keep theirs about two minutes on two cores, the longest benchmarks
/// (ten calls in a row, a 1 GiB file) about four.
pub const LIFETIME_LIMIT: Duration = Duration::from_secs(10 * 60);

/// Watches a process and everything it started, from [`Watchdog::start`]
/// until dropped.
pub struct Watchdog {
    _dropped: mpsc::Sender<()>,
}

impl Watchdog {
    /// Watches `root` (and its descendants) as `name`: still alive after
    /// `limit`, their stacks are printed and they are killed.
    pub fn start(name: &str, root: u32, limit: Duration) -> Self {
        let (dropped, watched) = mpsc::channel::<()>();
        let watched_name = name.to_owned();
        let spawned = std::thread::Builder::new()
            .name(format!("watchdog-{name}"))
            .spawn(move || {
                // Dropping the guard disconnects the channel: no report.
                if watched.recv_timeout(limit) == Err(mpsc::RecvTimeoutError::Timeout) {
                    report_and_kill(&watched_name, root, limit);
                }
            });
        if let Err(error) = spawned {
            eprintln!("watchdog for {name} not started: {error}");
        }
        Self { _dropped: dropped }
    }
}

/// Prints every thread's stack of `root`'s family, then kills it.
fn report_and_kill(name: &str, root: u32, limit: Duration) {
    let pids = family(root);
    let mut report = format!(
        "{name} still running after {} s: the test hung. Every process's threads:\n",
        limit.as_secs()
    );
    for &pid in &pids {
        let command = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
            .unwrap_or_default();
        let _ = writeln!(report, "\n=== process {pid}: {}", command.trim());
        report.push_str(&stacks(pid));
    }
    let path = artifacts().join(format!("hang-{name}.txt"));
    let _ = std::fs::write(&path, &report);
    eprintln!("{report}\n(saved to {})", path.display());
    // Children first, so none is left to a parent that goes before it.
    for &pid in pids.iter().rev() {
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    }
}

/// The top frames of every thread of `pid`, from gdb (or, without it, what
/// each thread waits in, from `/proc`).
fn stacks(pid: u32) -> String {
    if let Ok(gdb) = require("gdb") {
        let output = Command::new("timeout")
            .arg("60")
            .arg(gdb)
            .args(["-batch", "-nx", "-p", &pid.to_string()])
            .args(["-ex", "thread apply all bt 16"])
            .output();
        if let Ok(output) = output {
            return String::from_utf8_lossy(&output.stdout)
                .lines()
                .filter(|l| l.starts_with("Thread ") || l.starts_with('#'))
                .fold(String::new(), |mut out, line| {
                    let _ = writeln!(out, "{line}");
                    out
                });
        }
    }
    let mut out = String::new();
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten();
    for task in tasks.flatten() {
        let read = |file: &str| std::fs::read_to_string(task.path().join(file)).unwrap_or_default();
        let _ = writeln!(out, "{} waits in {}", read("comm").trim(), read("wchan"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;
    use std::process::Child;
    use std::time::Instant;

    fn sleeper() -> Child {
        Command::new("sleep").arg("60").spawn().expect("sleep")
    }

    /// Waits (at most 20 s) for `child` to end; its status.
    fn ended(child: &mut Child) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(status) = child.try_wait().expect("try_wait") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    #[test]
    fn a_process_kept_too_long_is_reported_and_killed() {
        let mut child = sleeper();
        let name = format!("watchdog-test-{}", child.id());
        let _watchdog = Watchdog::start(&name, child.id(), Duration::from_millis(300));
        let status = ended(&mut child).expect("killed");
        assert_eq!(status.signal(), Some(9), "killed: {status}");
        let path = artifacts().join(format!("hang-{name}.txt"));
        let report = std::fs::read_to_string(&path).expect("the report");
        let _ = std::fs::remove_file(&path);
        assert!(
            report.contains(&format!("=== process {}: sleep 60", child.id())),
            "{report}"
        );
        // A thread's stack (gdb) or where it waits (/proc).
        assert!(
            report.contains("Thread ") || report.contains("waits in"),
            "{report}"
        );
    }

    #[test]
    fn a_process_let_go_in_time_is_left_alone() {
        let mut child = sleeper();
        drop(Watchdog::start(
            "watchdog-test-dropped",
            child.id(),
            Duration::from_millis(200),
        ));
        std::thread::sleep(Duration::from_millis(700));
        assert!(
            child.try_wait().expect("try_wait").is_none(),
            "still running"
        );
        child.kill().expect("kill");
        let _ = child.wait();
    }
}
