//! Benchmark (not a test): a call in the desktop app's own window on the
//! native engine (GStreamer, test camera and microphone), against a
//! headless Chromium participant, and the same call between two Chromiums,
//! in one run. Prints, per call:
//!
//! - **join → first remote frame on each side**: the moment the second
//!   person opens the room's link (Chromium navigates to it: it loads the
//!   UI, opens its fake camera and joins) to (a) the first frame of their
//!   video the first person's window draws (the app's tile `<canvas>`
//!   counting frames, or Chromium's `<video>` presenting one), read by
//!   polling every 20 ms, and (b) the first frame of the first person's
//!   video the newcomer's page presents (the observer's
//!   `requestVideoFrameCallback` time, on the page's clock from its
//!   navigation);
//! - **a steady two-party call** for [`STEADY`]: CPU (share of one core)
//!   and memory (PSS) of the app with every process it started (its WebKit
//!   web and network processes), against one Chromium (every process of
//!   that browser) in the Chromium↔Chromium call.
//!
//! The app runs through tauri-driver like the end-to-end tests (WebDriver
//! attached), with `PEERCALL_FAKE_MEDIA=1`. Run with `cargo xtask bench` or
//! `cargo bench -p peercall-e2e --bench app_call` after building the app
//! and the UI (`PEERCALL_APP_BIN`, `PEERCALL_UI_DIST` as for the tests).

#[cfg(target_os = "linux")]
fn main() -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(linux::main())
}

#[cfg(not(target_os = "linux"))]
fn main() {
    println!("the native engine is Linux only");
}

#[cfg(target_os = "linux")]
mod linux {
    use std::collections::HashMap;
    use std::time::{Duration, Instant};

    use anyhow::{bail, Context, Result};
    use fantoccini::Client;
    use peercall_e2e::{
        click, family_cpu_ticks, family_pss_kib, media_flowing, observed, observed_timeline,
        room_url, type_into, wait_for, wait_for_observed, App, AppOptions, Browser, SignalServer,
    };

    /// Calls of each kind.
    const CALLS: usize = 3;
    /// How long the steady call is measured.
    const STEADY: Duration = Duration::from_secs(10);
    /// The most a call may take to get its first frames.
    const CONNECT: Duration = Duration::from_secs(60);
    /// How often the first person's page is read for a first frame.
    const POLL: Duration = Duration::from_millis(20);

    /// What one call measured.
    struct Call {
        /// Join → the first person draws the newcomer's video (ms).
        first_sees: f64,
        /// Join → the newcomer presents the first person's video (ms).
        newcomer_sees: f64,
        /// CPU of the first person's side (share of one core), PSS (MiB).
        cpu: f64,
        pss: f64,
        /// The same for the newcomer's Chromium.
        newcomer_cpu: f64,
        newcomer_pss: f64,
    }

    pub async fn main() -> Result<()> {
        println!("join → first remote frame, and a steady two-party call ({STEADY:?})");
        let mut app_calls = Vec::new();
        let mut browser_calls = Vec::new();
        for n in 0..CALLS {
            let call = app_call().await.context("app ↔ Chromium")?;
            print("app (native engine) ↔ Chromium", n, &call);
            app_calls.push(call);
            let call = browser_call().await.context("Chromium ↔ Chromium")?;
            print("Chromium ↔ Chromium", n, &call);
            browser_calls.push(call);
        }
        println!();
        summary("app (native engine) ↔ Chromium", "app", &app_calls);
        summary("Chromium ↔ Chromium", "first Chromium", &browser_calls);
        Ok(())
    }

    fn print(kind: &str, n: usize, call: &Call) {
        println!(
            "  {kind} #{}: first person draws the newcomer after {:.0} ms, newcomer presents the first after {:.0} ms; \
             first person {:.1} % of a core, {:.0} MiB PSS; newcomer {:.1} %, {:.0} MiB",
            n + 1,
            call.first_sees,
            call.newcomer_sees,
            call.cpu * 100.0,
            call.pss,
            call.newcomer_cpu * 100.0,
            call.newcomer_pss
        );
    }

    fn summary(kind: &str, first: &str, calls: &[Call]) {
        let median = |f: fn(&Call) -> f64| {
            let mut values: Vec<f64> = calls.iter().map(f).collect();
            values.sort_by(f64::total_cmp);
            values[values.len() / 2]
        };
        println!(
            "{kind}, median of {}: join → {first} draws the newcomer {:.0} ms, → newcomer presents {first} {:.0} ms; \
             {first} {:.1} % of a core, {:.0} MiB PSS; its Chromium peer {:.1} %, {:.0} MiB",
            calls.len(),
            median(|c| c.first_sees),
            median(|c| c.newcomer_sees),
            median(|c| c.cpu) * 100.0,
            median(|c| c.pss),
            median(|c| c.newcomer_cpu) * 100.0,
            median(|c| c.newcomer_pss),
        );
    }

    /// The app starts a call; Chromium joins it by its link.
    async fn app_call() -> Result<Call> {
        let mut env = vec![("PEERCALL_FAKE_MEDIA".into(), "1".into())];
        // The app's own log, for looking into where the time goes.
        if let Ok(filter) = std::env::var("RUST_LOG") {
            env.push(("RUST_LOG".into(), filter));
        }
        let app = App::launch(AppOptions {
            env,
            ..AppOptions::default()
        })
        .await?;
        let outcome = async {
            let browser = Browser::launch().await?;
            let result = async {
                let window = &app.client;
                wait_for(window, "#home[data-engine='native']").await?;
                wait_for(window, "#server-status[data-state='ready']").await?;
                type_into(window, "#display-name", "Appa").await?;
                click(window, "#start-call").await?;
                let call = wait_for(window, "#call[data-phase='joined']").await?;
                let room = call.attr("data-room").await?.context("no room")?;
                let link = format!(
                    "http://127.0.0.1:{}/?room={room}&name=Chromium",
                    app.preferred_port
                );
                let app_draws =
                    "return Number(document.querySelector('.tile[data-peer-id] canvas')\
                                 ?.getAttribute('data-frames') ?? 0) > 0;";
                let pid = app.pid()?;
                measure(window, app_draws, pid, &browser, &link).await
            }
            .await;
            let _ = browser.client.close().await;
            result
        }
        .await;
        let _ = app.quit().await;
        outcome
    }

    /// One Chromium is in a room; another joins it by its link.
    async fn browser_call() -> Result<Call> {
        let server = SignalServer::start(&[]).await?;
        let first = Browser::launch().await?;
        let outcome = async {
            let newcomer = Browser::launch().await?;
            let result = async {
                first
                    .client
                    .goto(&room_url(&server, "bench-call", "First"))
                    .await?;
                wait_for(&first.client, "#call[data-phase='joined']").await?;
                let presents = "return (window.__observedState?.framesDrawn ?? []).length > 0;";
                let link = room_url(&server, "bench-call", "Newcomer");
                measure(
                    &first.client,
                    presents,
                    first.driver_pid(),
                    &newcomer,
                    &link,
                )
                .await
            }
            .await;
            let _ = newcomer.client.close().await;
            result
        }
        .await;
        let _ = first.client.close().await;
        outcome
    }

    /// The newcomer opens `link`; `sees` (a script answering whether the
    /// first person's page shows the newcomer's video) is polled; then the
    /// steady call is measured: `first_pid`'s family and the newcomer's.
    async fn measure(
        first: &Client,
        sees: &str,
        first_pid: u32,
        newcomer: &Browser,
        link: &str,
    ) -> Result<Call> {
        let joined = Instant::now();
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        newcomer.client.goto(link).await?;
        let loaded = joined.elapsed();
        let deadline = joined + CONNECT;
        // Where the first person's page got to, and when: the newcomer's
        // tile, its connection state, a frame.
        let mut timeline: Vec<(String, Duration)> = vec![("newcomer's page loaded".into(), loaded)];
        let first_sees = loop {
            let stage = first
                .execute(
                    "const t = document.querySelector('.tile[data-peer-id]'); \
                     return t ? 'tile ' + t.getAttribute('data-connection-state') : 'no tile';",
                    vec![],
                )
                .await?;
            let stage = stage.as_str().unwrap_or_default().to_owned();
            if timeline.last().is_none_or(|(s, _)| *s != stage) {
                timeline.push((stage, joined.elapsed()));
            }
            if first.execute(sees, vec![]).await?.as_bool() == Some(true) {
                break joined.elapsed();
            }
            if Instant::now() > deadline {
                bail!("the first person saw no frame of the newcomer in {CONNECT:?}");
            }
            tokio::time::sleep(POLL).await;
        };
        let timeline: Vec<String> = timeline
            .iter()
            .map(|(stage, at)| format!("{stage} {}", at.as_millis()))
            .collect();
        println!(
            "    first person's page (ms from the join at {}.{:03} s since the epoch): {}",
            wall.as_secs(),
            wall.subsec_millis(),
            timeline.join(", ")
        );
        let state = wait_for_observed(
            &newcomer.client,
            "the newcomer to present the first person's video",
            CONNECT,
            |o| media_flowing(o, 1) && !o["framesDrawn"].as_array().is_none_or(Vec::is_empty),
        )
        .await?;
        // The newcomer's side, as its observer noted it (the first of each
        // kind of event, ms from its navigation).
        let timeline = observed_timeline(&newcomer.client).await?;
        let mut seen = std::collections::HashSet::new();
        let steps: Vec<String> = timeline["timeline"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| Some((e["event"].as_str()?, e["at"].as_f64()?)))
            .filter(|(event, _)| seen.insert(event.to_string()))
            .map(|(event, at)| format!("{event} {at:.0}"))
            .collect();
        println!("    newcomer's page: {}", steps.join(", "));
        let newcomer_sees = state["framesDrawn"]
            .as_array()
            .and_then(|d| d.iter().filter_map(|f| f["at"].as_f64()).reduce(f64::min))
            .context("no frame time")?;

        // The steady call.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let newcomer_pid = newcomer.driver_pid();
        let (first_before, newcomer_before) =
            (family_cpu_ticks(first_pid), family_cpu_ticks(newcomer_pid));
        let start = Instant::now();
        tokio::time::sleep(STEADY).await;
        let window = start.elapsed().as_secs_f64();
        let (first_after, newcomer_after) =
            (family_cpu_ticks(first_pid), family_cpu_ticks(newcomer_pid));
        let pss = family_pss_kib(first_pid) as f64 / 1024.0;
        let newcomer_pss = family_pss_kib(newcomer_pid) as f64 / 1024.0;
        // Still in the call at the end: the figures are a call's.
        let still = observed(&newcomer.client).await?;
        if !media_flowing(&still, 1) {
            bail!("the call stopped during the measurement");
        }
        Ok(Call {
            first_sees: first_sees.as_secs_f64() * 1000.0,
            newcomer_sees,
            cpu: share(&first_before, &first_after, window),
            pss,
            newcomer_cpu: share(&newcomer_before, &newcomer_after, window),
            newcomer_pss,
        })
    }

    /// Share of one core a family used between two readings.
    fn share(before: &HashMap<u32, u64>, after: &HashMap<u32, u64>, seconds: f64) -> f64 {
        // /proc counts in USER_HZ, 100 a second in Linux's ABI.
        let hz = 100.0;
        let ticks: u64 = after
            .iter()
            .map(|(pid, t)| t.saturating_sub(before.get(pid).copied().unwrap_or(0)))
            .sum();
        ticks as f64 / hz / seconds
    }
}
