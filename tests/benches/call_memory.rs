//! Benchmark (not a test): does a person's side give back what a call
//! took? Ten calls in a row from one home screen, on each engine:
//!
//! - **native engine**: the desktop app (GStreamer, test camera and
//!   microphone, `PEERCALL_FAKE_MEDIA=1`, driven through tauri-driver) starts
//!   a call, a headless Chromium joins it by its link, both draw each other,
//!   the app hangs up and goes back home;
//! - **browser engine**: the same from the UI in a headless Chromium tab
//!   (fake devices) on a `peercall-signal`, another Chromium joining.
//!
//! Memory is the PSS of the first person's whole side (the app with its
//! WebKit processes; that Chromium with all its processes), read from
//! `/proc`: idle on the home screen before the first call, in each call,
//! and after each hang-up, once the home screen has been back for
//! [`SETTLE`]. It prints every figure and the last one against idle (the
//! goal: within 10 %). Beside PSS, the same side's resident memory with
//! each page counted once (`family_resident_once_kib`): PSS also splits
//! library pages with unrelated processes (the other person's Chromium),
//! which moved the side's idle figure by up to 9 MiB between runs. The joining Chromium is a fresh page each call.
//!
//! Run with `cargo xtask bench` or `cargo bench -p peercall-e2e --bench
//! call_memory` after building the app, the UI and `peercall-signal`
//! (`PEERCALL_APP_BIN`, `PEERCALL_UI_DIST`, `PEERCALL_SIGNAL_BIN` as for the
//! tests).

#[cfg(target_os = "linux")]
fn main() -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(linux::main())
}

#[cfg(not(target_os = "linux"))]
fn main() {
    println!("the desktop app's native engine is Linux only");
}

#[cfg(target_os = "linux")]
mod linux {
    use std::time::Duration;

    use anyhow::{Context, Result};
    use fantoccini::Client;
    use peercall_e2e::{
        click, family, family_pss_kib, family_resident_once_kib, home_url, media_flowing, pss_kib,
        type_into, wait_for, wait_for_observed, wait_until, App, AppOptions, Browser, SignalServer,
    };

    /// Calls in a row (`PEERCALL_BENCH_CALLS` to change it).
    const CALLS: usize = 10;
    /// Which engines (`PEERCALL_BENCH_ENGINES`: `native`, `browser` or both).
    fn engines() -> String {
        std::env::var("PEERCALL_BENCH_ENGINES").unwrap_or_else(|_| "native,browser".into())
    }
    fn calls_in_a_row() -> usize {
        std::env::var("PEERCALL_BENCH_CALLS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(CALLS)
    }
    /// How long each call runs once both sides draw each other.
    const IN_CALL: Duration = Duration::from_secs(3);
    /// How long the home screen is left before memory is read.
    const SETTLE: Duration = Duration::from_secs(3);
    /// After the last call, when memory is read again (from the first
    /// reading, [`SETTLE`] after it ended).
    const LATER: [Duration; 3] = [
        Duration::from_secs(7),
        Duration::from_secs(27),
        Duration::from_secs(57),
    ];
    /// The most a call may take to get its first frames.
    const CONNECT: Duration = Duration::from_secs(60);

    /// One side that starts calls from its home screen.
    struct Side<'a> {
        /// Its page.
        client: &'a Client,
        /// The root of its processes.
        pid: u32,
        /// Where the joining Chromium opens a room (`{room}` replaced).
        link: String,
        /// A script answering whether the page draws the other person.
        draws: &'static str,
        /// What the home screen looks like when it is back.
        home: &'static str,
    }

    pub async fn main() -> Result<()> {
        println!(
            "memory across {} calls in a row (PSS of the whole side, MiB; {SETTLE:?} on the home screen after each)",
            calls_in_a_row()
        );
        if engines().contains("native") {
            native().await.context("native engine")?;
        }
        if engines().contains("browser") {
            browser().await.context("browser engine")?;
        }
        Ok(())
    }

    async fn native() -> Result<()> {
        let app = App::launch(AppOptions {
            env: vec![("PEERCALL_FAKE_MEDIA".into(), "1".into())],
            ..AppOptions::default()
        })
        .await?;
        let outcome = async {
            let peer = Browser::launch().await?;
            let side = Side {
                client: &app.client,
                pid: app.pid()?,
                link: format!(
                    "http://127.0.0.1:{}/?room={{room}}&name=Chromium",
                    app.preferred_port
                ),
                draws: "Number(document.querySelector('.tile[data-peer-id] canvas')\
                        ?.getAttribute('data-frames') ?? 0) > 0",
                home: "#home[data-engine='native']",
            };
            let result = calls("app (native engine)", &side, &peer).await;
            let _ = peer.client.close().await;
            result
        }
        .await;
        let _ = app.quit().await;
        outcome
    }

    async fn browser() -> Result<()> {
        let server = SignalServer::start(&[]).await?;
        // The measured tab without the tests' observer, which keeps every
        // connection and track the page made.
        let first = Browser::launch_unobserved().await?;
        let outcome = async {
            first.client.goto(&home_url(&server, "Alma")).await?;
            let peer = Browser::launch().await?;
            let side = Side {
                client: &first.client,
                pid: first.driver_pid(),
                link: format!("{}?room={{room}}&name=Chromium", server.http_url),
                draws: "(document.querySelector('.tile[data-peer-id] video')?.videoWidth ?? 0) > 0",
                home: "#home",
            };
            let result = calls("Chromium tab (browser engine)", &side, &peer).await;
            let _ = peer.client.close().await;
            result
        }
        .await;
        let _ = first.client.close().await;
        outcome
    }

    async fn calls(kind: &str, side: &Side<'_>, peer: &Browser) -> Result<()> {
        let window = side.client;
        wait_for(window, side.home).await?;
        wait_for(window, "#server-status[data-state='ready']").await?;
        type_into(window, "#display-name", "Alma").await?;
        tokio::time::sleep(SETTLE).await;
        let idle = mib(side.pid);
        let idle_once = once(side.pid);
        println!(
            "{kind}: idle on the home screen {idle:.1} (each page once: {})",
            shown(idle_once)
        );
        let mut after = Vec::new();
        let mut last_once = idle_once;
        let calls = calls_in_a_row();
        for n in 1..=calls {
            click(window, "#start-call").await?;
            let call = wait_for(window, "#call[data-phase='joined']").await?;
            let room = call.attr("data-room").await?.context("no room")?;
            peer.client
                .goto(&side.link.replace("{room}", &room))
                .await?;
            wait_until(window, "the first person drawing the other", side.draws).await?;
            wait_for_observed(&peer.client, "the other drawing the first", CONNECT, |o| {
                media_flowing(o, 1)
            })
            .await?;
            tokio::time::sleep(IN_CALL).await;
            let in_call = mib(side.pid);
            click(window, "#hang-up").await?;
            wait_for(window, "#call-ended").await?;
            peer.client.goto("about:blank").await?;
            click(window, "#back-home").await?;
            wait_for(window, side.home).await?;
            tokio::time::sleep(SETTLE).await;
            let back = mib(side.pid);
            let back_once = once(side.pid);
            println!(
                "  call {n:>2}: in the call {in_call:.1}, after it {back:.1} ({:+.1} % of idle; each page once {}, {}; {}; the page's wasm heap {})",
                (back / idle - 1.0) * 100.0,
                shown(back_once),
                growth(idle_once, back_once),
                largest(side.pid),
                wasm_heap(window).await
            );
            after.push(back);
            last_once = back_once;
        }
        // What a person leaves on the home screen: the figure a while later,
        // once the page's garbage collector and allocators have had time.
        let mut waited = Duration::ZERO;
        let mut later = Vec::new();
        for mark in LATER {
            tokio::time::sleep(mark - waited).await;
            waited = mark;
            let now = mib(side.pid);
            later.push(format!(
                "{}s {now:.1} ({:+.1} %)",
                (SETTLE + mark).as_secs(),
                (now / idle - 1.0) * 100.0
            ));
        }
        println!(
            "  later on the home screen after call {calls}: {}",
            later.join(", ")
        );
        let last = after.last().copied().unwrap_or(idle);
        let first = after.first().copied().unwrap_or(idle);
        println!(
            "{kind}: after call 1 {first:.1}, after call {calls} {last:.1}: {:+.1} % of idle (goal: within 10 %), {:+.2} MiB a call from call 1 on",
            (last / idle - 1.0) * 100.0,
            (last - first) / (calls.max(2) - 1) as f64
        );
        println!(
            "{kind}: each page once: idle {}, after call {calls} {}: {} of idle",
            shown(idle_once),
            shown(last_once),
            growth(idle_once, last_once)
        );
        Ok(())
    }

    /// The side's resident memory (MiB) with each page counted once
    /// ([`family_resident_once_kib`]), `None` where it can't be read.
    fn once(pid: u32) -> Option<f64> {
        family_resident_once_kib(pid).map(|kib| kib as f64 / 1024.0)
    }

    fn shown(mib: Option<f64>) -> String {
        mib.map_or_else(|| "unknown (needs root)".to_owned(), |m| format!("{m:.1}"))
    }

    fn growth(idle: Option<f64>, now: Option<f64>) -> String {
        match (idle, now) {
            (Some(idle), Some(now)) => format!("{:+.1} %", (now / idle - 1.0) * 100.0),
            _ => "unknown".to_owned(),
        }
    }

    /// What the page's wasm memory has grown to (it never shrinks), from
    /// the page's diagnostics hook.
    async fn wasm_heap(window: &Client) -> String {
        let bytes = window
            .execute(
                "return window.__peercall?.wasmMemory?.buffer?.byteLength ?? null;",
                vec![],
            )
            .await;
        match bytes.ok().and_then(|b| b.as_f64()) {
            Some(bytes) => format!("{:.2} MiB", bytes / (1024.0 * 1024.0)),
            None => "unknown".to_owned(),
        }
    }

    fn mib(pid: u32) -> f64 {
        family_pss_kib(pid) as f64 / 1024.0
    }

    /// The side's three largest processes: name and PSS (MiB).
    fn largest(root: u32) -> String {
        let mut sizes: Vec<(String, f64)> = family(root)
            .into_iter()
            .map(|pid| {
                let name = std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .unwrap_or_default()
                    .trim()
                    .to_owned();
                (name, pss_kib(pid) as f64 / 1024.0)
            })
            .collect();
        sizes.sort_by(|a, b| b.1.total_cmp(&a.1));
        let threads = std::fs::read_dir(format!("/proc/{root}/task"))
            .map(|tasks| tasks.count())
            .unwrap_or(0);
        let mut parts: Vec<String> = sizes
            .iter()
            .take(3)
            .map(|(name, size)| format!("{name} {size:.1}"))
            .collect();
        parts.push(format!("{threads} threads in the first"));
        parts.join(", ")
    }
}
