//! Benchmark (not a test): the desktop app as a person launches it — how
//! soon its window shows and the home screen is interactive, and how much
//! memory it takes idle. Run with `cargo xtask bench` (release app) or
//! `cargo bench -p peercall-e2e --bench app_launch`.
//!
//! The app is started the way a desktop launcher starts it: its own X
//! screen (Xvfb, so software rendering), a home directory (a fresh one for
//! a first launch on a machine; for a later launch, the home an earlier
//! launch used), and no other environment (no test settings, no WebDriver
//! attached). Everything
//! is observed from outside:
//! - *window*: the moment `xdotool` finds a visible window named Peercall;
//! - *interactive*: the moment the app's log says `home screen
//!   interactive` (the page tells the shell once "Start a call" is
//!   enabled; a person starting it from a terminal sees the same line);
//! - *first paint*: interactive minus how long before that the page drew
//!   its first frame (the page's own marks, `requestAnimationFrame` and
//!   `performance.now()`, carried in that log line);
//! - *memory*: 8 s after launch, idle on the home screen, PSS (shared pages
//!   split between processes, the honest total) of the app and every
//!   process it started, per process.
//!
//! Each run is repeated with accelerated compositing forced on, and the
//! OpenGL set-up the shell skips without a GPU put back
//! (`WEBKIT_FORCE_COMPOSITING_MODE=1`, `WEBKIT_DISABLE_DMABUF_RENDERER=0`,
//! `GDK_GL` and `WEBKIT_WEB_RENDER_DEVICE_FILE` empty), to show what
//! WebKit's GPU path costs on this software-rendered screen.
//!
//! Last, the floor: `bare_webview` (this crate's), a WebKitGTK window with
//! one paragraph and nothing else, launched the same way with the
//! environment the app gives itself without a GPU. What it takes idle,
//! every app this WebKitGTK draws takes before its own first byte.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use peercall_e2e::{app_bin, family, require, temp_dir, Display, Process};

const RUNS: usize = 3;
/// When idle memory is read, from launch.
const IDLE_AT: Duration = Duration::from_secs(8);

fn main() -> Result<()> {
    let app = app_bin()?;
    println!("app: {}", app.display());
    for (label, extra, kept_home) in [
        (
            "first launch on this machine (a fresh home each time)",
            &[][..],
            false,
        ),
        ("a later launch (the home of an earlier launch)", &[], true),
        (
            "compositing forced on, OpenGL set up (a later launch)",
            &[
                ("WEBKIT_FORCE_COMPOSITING_MODE", "1"),
                ("WEBKIT_DISABLE_DMABUF_RENDERER", "0"),
                ("GDK_GL", ""),
                ("WEBKIT_WEB_RENDER_DEVICE_FILE", ""),
            ],
            true,
        ),
    ] {
        println!("\n{label}:");
        // A later launch finds what the first one left: settings, and the
        // caches GStreamer and WebKit make once (GStreamer's plugin
        // registry alone takes 0.2–0.45 s to build here).
        let home = if kept_home {
            let home = temp_dir("launch-home-kept");
            let first = launch_once(&app, extra, Some(&home)).or_else(|error| {
                println!("  a launch failed ({error:#}); launching again");
                launch_once(&app, extra, Some(&home))
            })?;
            println!("  (first launch in that home, not counted: {first})");
            Some(home)
        } else {
            None
        };
        let mut runs = Vec::new();
        let mut failures = 0;
        while runs.len() < RUNS {
            match launch_once(&app, extra, home.as_deref()) {
                Ok(result) => {
                    println!("  run {}: {result}", runs.len() + 1);
                    runs.push(result);
                }
                // A launch that never got there is reported, not hidden.
                Err(error) if failures < RUNS => {
                    failures += 1;
                    println!("  a launch failed ({error:#}); launching again");
                }
                Err(error) => return Err(error),
            }
        }
        runs.sort_by_key(|r| r.total_kib());
        let median = &runs[RUNS / 2];
        let mut window: Vec<_> = runs.iter().map(|r| r.window).collect();
        let mut first_paint: Vec<_> = runs.iter().map(|r| r.first_paint).collect();
        first_paint.sort();
        let mut interactive: Vec<_> = runs.iter().map(|r| r.interactive).collect();
        window.sort();
        interactive.sort();
        println!(
            "  median of {RUNS}: window after {:.0} ms, first paint after {:.0} ms, interactive after {:.0} ms; idle {:.1} MiB PSS ({})",
            ms(window[RUNS / 2]),
            ms(first_paint[RUNS / 2]),
            ms(interactive[RUNS / 2]),
            mib(median.total_kib()),
            median.breakdown()
        );
    }
    println!(
        "\nthe floor: a bare WebKitGTK window (bare_webview: one paragraph, the app's web settings and software-drawing environment):"
    );
    let mut floors = Vec::new();
    for run in 1..=RUNS {
        let memory = floor_once()?;
        println!(
            "  run {run}: idle {:.1} MiB PSS ({})",
            mib(total(&memory)),
            breakdown(&memory)
        );
        floors.push(memory);
    }
    floors.sort_by_key(|m| total(m));
    let median = &floors[RUNS / 2];
    println!(
        "  median of {RUNS}: idle {:.1} MiB PSS ({})",
        mib(total(median)),
        breakdown(median)
    );
    Ok(())
}

/// `bare_webview`, launched as the app is, read at [`IDLE_AT`].
fn floor_once() -> Result<Vec<(String, u64)>> {
    let display = Display::start()?;
    let home = temp_dir("floor-home");
    let runtime = home.join("run");
    std::fs::create_dir_all(&runtime)?;
    let mut command = Command::new(env!("CARGO_BIN_EXE_bare_webview"));
    command
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("DISPLAY", &display.name)
        .env("HOME", &home)
        .env("XDG_RUNTIME_DIR", &runtime)
        // What the app sets for itself on a screen without a GPU.
        .env("GDK_GL", "disable")
        .env("WEBKIT_DISABLE_DMABUF_RENDERER", "1")
        .env("WEBKIT_WEB_RENDER_DEVICE_FILE", "/dev/null");
    let bare = Process::spawn("bare-webview", &mut command)?;
    std::thread::sleep(IDLE_AT);
    let memory = family_pss(bare.pid())?;
    if memory.len() < 3 {
        bail!(
            "bare_webview runs {} processes, not 3 (window, web, network); its log: {}",
            memory.len(),
            bare.log()
        );
    }
    Ok(memory)
}

fn total(memory: &[(String, u64)]) -> u64 {
    memory.iter().map(|(_, kib)| kib).sum()
}

fn breakdown(memory: &[(String, u64)]) -> String {
    memory
        .iter()
        .map(|(name, kib)| format!("{name} {:.1}", mib(*kib)))
        .collect::<Vec<_>>()
        .join(", ")
}

struct Launch {
    window: Duration,
    first_paint: Duration,
    interactive: Duration,
    /// (process, PSS KiB), the app first.
    memory: Vec<(String, u64)>,
}

impl Launch {
    fn total_kib(&self) -> u64 {
        total(&self.memory)
    }

    fn breakdown(&self) -> String {
        breakdown(&self.memory)
    }
}

impl std::fmt::Display for Launch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "window {:>4.0} ms, first paint {:>4.0} ms, interactive {:>4.0} ms; idle {:>5.1} MiB PSS ({})",
            ms(self.window),
            ms(self.first_paint),
            ms(self.interactive),
            mib(self.total_kib()),
            self.breakdown()
        )
    }
}

/// One launch, in `home` (a fresh one when `None`).
fn launch_once(
    app: &std::path::Path,
    extra: &[(&str, &str)],
    home: Option<&std::path::Path>,
) -> Result<Launch> {
    let display = Display::start()?;
    let home = home.map_or_else(|| temp_dir("launch-home"), std::path::Path::to_path_buf);
    let runtime = home.join("run");
    std::fs::create_dir_all(&runtime)?;
    let mut command = Command::new(app);
    command
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("DISPLAY", &display.name)
        .env("HOME", &home)
        .env("XDG_RUNTIME_DIR", &runtime);
    for (key, value) in extra {
        command.env(key, value);
    }
    let xdotool = require("xdotool")?;
    let started = Instant::now();
    let app = Process::spawn("launch-app", &mut command)?;

    let (mut window, mut marks) = (None, None);
    while window.is_none() || marks.is_none() {
        if started.elapsed() > Duration::from_secs(30) {
            let shown = if window.is_some() {
                "shown"
            } else {
                "never shown"
            };
            bail!(
                "within 30 s: window {shown}, interactive {}; its log ends: {}",
                if marks.is_some() { "yes" } else { "never" },
                app.log()
                    .lines()
                    .rev()
                    .take(5)
                    .collect::<Vec<_>>()
                    .join(" | "),
            );
        }
        if marks.is_none() {
            marks = interactive_marks(&app.log()).map(|paint_before| Marks {
                seen: Instant::now(),
                paint_before,
            });
        }
        if window.is_none() && window_shown(&xdotool, &display.name) {
            window = Some(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let marks = marks.expect("waited for it");
    let interactive = marks.seen.duration_since(started);
    let first_paint = interactive.saturating_sub(marks.paint_before);
    if let Some(rest) = IDLE_AT.checked_sub(started.elapsed()) {
        std::thread::sleep(rest);
    }
    let memory = family_pss(app.pid())?;
    Ok(Launch {
        window: window.unwrap_or_default(),
        first_paint,
        interactive,
        memory,
    })
}

/// The app's `home screen interactive` log line, when it was read.
struct Marks {
    seen: Instant,
    /// How long before interactive the first frame was drawn.
    paint_before: Duration,
}

/// From the app's log (what a person sees when starting it from a
/// terminal), the line `home screen interactive first_paint_ms=…
/// interactive_ms=…`: how long before interactive the first frame was drawn.
fn interactive_marks(log: &str) -> Option<Duration> {
    log.lines().map(strip_ansi).find_map(|line| {
        if !line.contains("home screen interactive") {
            return None;
        }
        let field = |key: &str| -> Option<f64> {
            let (_, rest) = line.split_once(&format!("{key}="))?;
            rest.split_whitespace().next()?.parse().ok()
        };
        let (paint, interactive) = (field("first_paint_ms")?, field("interactive_ms")?);
        Some(Duration::from_secs_f64(
            (interactive - paint).max(0.0) / 1000.0,
        ))
    })
}

/// The text of a log line without its terminal colours.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn window_shown(xdotool: &std::path::Path, display: &str) -> bool {
    Command::new(xdotool)
        .args(["search", "--onlyvisible", "--name", "^Peercall$"])
        .env("DISPLAY", display)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// PSS of `root` and every process it started, one entry per process.
fn family_pss(root: u32) -> Result<Vec<(String, u64)>> {
    let mut memory = Vec::new();
    for pid in family(root) {
        let rollup =
            std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
        let pss = rollup
            .lines()
            .find_map(|l| l.strip_prefix("Pss:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0);
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok();
        let name = match comm.as_deref().map(str::trim) {
            Some(n) if n.starts_with("WebKitWebProces") => "web".to_owned(),
            Some(n) if n.starts_with("WebKitNetworkPr") => "network".to_owned(),
            _ if pid == root => "shell".to_owned(),
            Some(n) => n.to_owned(),
            None => pid.to_string(),
        };
        memory.push((name, pss));
    }
    Ok(memory)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
