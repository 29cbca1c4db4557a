//! Benchmark (not a test): the desktop app's launch-to-interactive time and
//! idle memory under Xvfb. Run with `cargo xtask bench` (release app) or
//! `cargo bench -p peercall-e2e --bench app_launch`.
//!
//! Launch-to-interactive: from asking WebKitWebDriver for a session (which
//! starts the app) until "Start a call" is enabled, i.e. the UI has loaded
//! and learnt the embedded server's address. It includes WebDriver's own
//! start-up, so it is an upper bound on what a user waits.
//! Idle memory: the app process plus every process it started (WebKit's web
//! and network processes), 5 s after it became interactive, as RSS and as
//! PSS (shared pages split between processes; the honest total).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use peercall_e2e::{app_bin, wait_until, App, AppOptions};

const RUNS: usize = 5;

#[tokio::main]
async fn main() -> Result<()> {
    let app_path = app_bin()?;
    println!("app: {}", app_path.display());
    let mut launch = Vec::new();
    let mut memory = Vec::new();
    for run in 1..=RUNS {
        let started = Instant::now();
        let app = App::launch(AppOptions::default()).await?;
        wait_until(
            &app.client,
            "the home screen to be interactive",
            "document.querySelector('#start-call') && !document.querySelector('#start-call').disabled",
        )
        .await?;
        let interactive = started.elapsed();
        tokio::time::sleep(Duration::from_secs(5)).await;
        let usage = app_memory(&app_path.file_name().unwrap().to_string_lossy())?;
        println!(
            "run {run}: interactive after {:>5.0} ms; idle memory {:>6.1} MiB RSS, {:>6.1} MiB PSS over {} processes",
            interactive.as_secs_f64() * 1000.0,
            usage.rss_kib as f64 / 1024.0,
            usage.pss_kib as f64 / 1024.0,
            usage.processes
        );
        launch.push(interactive);
        memory.push(usage);
        app.quit().await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    launch.sort();
    memory.sort_by_key(|m| m.pss_kib);
    let median = &memory[RUNS / 2];
    println!(
        "\nmedian of {RUNS}: launch-to-interactive {:.0} ms; idle memory {:.1} MiB PSS ({:.1} MiB RSS), app + {} WebKit processes",
        launch[RUNS / 2].as_secs_f64() * 1000.0,
        median.pss_kib as f64 / 1024.0,
        median.rss_kib as f64 / 1024.0,
        median.processes - 1
    );
    Ok(())
}

struct Usage {
    rss_kib: u64,
    pss_kib: u64,
    processes: usize,
}

/// Sums the newest process named `name` and all its descendants.
fn app_memory(name: &str) -> Result<Usage> {
    let mut parent_of = HashMap::new();
    let mut candidates = Vec::new();
    for entry in std::fs::read_dir("/proc")?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // comm is in parentheses and may contain spaces: split after the last ')'.
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let comm = head.split_once('(').map(|(_, c)| c).unwrap_or_default();
        let ppid: u32 = rest
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        parent_of.insert(pid, ppid);
        if name.starts_with(comm) {
            candidates.push(pid);
        }
    }
    let app = *candidates
        .iter()
        .max()
        .context("the app process is not running")?;
    let mut family = vec![app];
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
    let mut usage = Usage {
        rss_kib: 0,
        pss_kib: 0,
        processes: family.len(),
    };
    for pid in family {
        let rollup =
            std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
        for line in rollup.lines() {
            let mut parts = line.split_whitespace();
            let (Some(key), Some(value)) = (parts.next(), parts.next()) else {
                continue;
            };
            let value: u64 = value.parse().unwrap_or(0);
            match key {
                "Rss:" => usage.rss_kib += value,
                "Pss:" => usage.pss_kib += value,
                _ => {}
            }
        }
    }
    Ok(usage)
}
