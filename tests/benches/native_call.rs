//! Benchmark (not a test): the shell's native call engine (GStreamer
//! `webrtcbin`, fake camera and microphone) in a call with headless
//! Chromium (fake devices), and the same Chromium calling itself, in one
//! run. Prints:
//!
//! - start → first remote frame on each side, in both offer directions:
//!   from the moment both sides are told to start (the page's
//!   `getUserMedia` + `RTCPeerConnection`, then the engine's `open_peer`;
//!   the engine's camera and microphone are open already) to the
//!   engine's first decoded frame (`RemoteVideo`) and to the first frame a
//!   `<video>` in the page presents (`requestVideoFrameCallback`);
//! - during a steady two-party call (640×480 VP8 + Opus both ways), for
//!   [`STEADY`]: the engine's CPU (this process, which is little else) and
//!   its resident memory, against one Chromium side's CPU when Chromium
//!   calls itself (two connections in one page: the browser's CPU halved);
//!   Chromium's CPU is every process under this one but itself.
//!
//! Without the UI: the app's own join → first frame needs the UI half.
//! Runs in a network namespace of its own, like the `native_engine` test.
//! `cargo bench -p peercall-e2e --bench native_call` (root, or user
//! namespaces).

#[cfg(target_os = "linux")]
fn main() -> anyhow::Result<()> {
    linux::main()
}

#[cfg(not(target_os = "linux"))]
fn main() {
    println!("the native engine is Linux only");
}

#[cfg(target_os = "linux")]
mod linux {
    use std::time::{Duration, Instant};

    use anyhow::{bail, Context, Result};
    use peercall::native::frames::FramesServer;
    use peercall::native::Engine;
    use peercall_e2e::native::{
        event_sink, in_network_namespace, rerun_in_network_namespace, serve_blank_page, Relay, PAGE,
    };
    use peercall_e2e::Browser;
    use peercall_signal::shell::native::{
        MediaRequest, NativeEvent, PeerKey, PeerOpenArgs, StreamId,
    };
    use serde_json::json;

    /// How long the steady call is measured.
    const STEADY: Duration = Duration::from_secs(10);
    /// Calls per offer direction.
    const CALLS: u32 = 3;

    /// Plays the page's remote video in a `<video>` and notes when its
    /// first frame is presented, on the page's clock from `t.start`.
    const FIRST_FRAME: &str = r#"
t.start = performance.now();
t.firstFrameMs = null;
const watchVideo = () => {
  t.pc.addEventListener('track', (e) => {
    if (e.track.kind !== 'video') return;
    const video = document.createElement('video');
    video.muted = true;
    video.autoplay = true;
    video.srcObject = new MediaStream([e.track]);
    document.body.append(video);
    video.requestVideoFrameCallback(() => { t.firstFrameMs = performance.now() - t.start; });
  });
};
"#;

    pub fn main() -> Result<()> {
        if !in_network_namespace() {
            return rerun_in_network_namespace(&["--bench"]);
        }
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(run())
    }

    async fn run() -> Result<()> {
        let rss_before = rss_kib();
        let server = FramesServer::start(&tokio::runtime::Handle::current())?;
        let engine = Engine::new(server.frames().clone(), true, StreamId(1))?;
        let browser = Browser::launch().await?;
        let page = &browser.client;
        let url = serve_blank_page().await?;
        let outcome = async {
            println!("start → first remote frame (ms):");
            let mut key = 0;
            for native_offers in [true, false] {
                for _ in 0..CALLS {
                    key += 1;
                    let (native, chromium) = first_frames(&engine, page, &url, PeerKey(key), native_offers).await?;
                    println!(
                        "  {:<16} native decodes Chromium: {native:>5.0}   Chromium decodes native: {chromium:>5.0}",
                        if native_offers { "native offers" } else { "Chromium offers" }
                    );
                }
            }

            println!("steady two-party call, {} s:", STEADY.as_secs());
            key += 1;
            let (mut relay, _) = start_call(&engine, page, &url, PeerKey(key), true).await?;
            relay.until("connected", |_, s| s["framesDecoded"].as_f64() > Some(30.0)).await?;
            let (engine_cpu, chromium_cpu) = measure(&mut relay).await?;
            println!(
                "  native engine: {engine_cpu:>5.1} % of a core, RSS {:.0} MiB ({:.0} MiB before it started)   its Chromium peer: {chromium_cpu:>5.1} %",
                rss_kib() as f64 / 1024.0,
                rss_before as f64 / 1024.0
            );
            engine.close_all();
            page.execute("t.close()", vec![]).await?;

            let (_, loopback_cpu) = chromium_calls_itself(page, &url).await?;
            println!(
                "  Chromium calling itself: {:>5.1} % of a core for both sides, {:>5.1} % per side",
                loopback_cpu,
                loopback_cpu / 2.0
            );
            anyhow::Ok(())
        }
        .await;
        let _ = browser.client.close().await;
        outcome
    }

    /// Opens a call; answers the relay carrying it.
    async fn start_call<'a>(
        engine: &'a Engine,
        page: &'a fantoccini::Client,
        url: &str,
        peer: PeerKey,
        native_offers: bool,
    ) -> Result<(Relay<'a>, Instant)> {
        let (sink, events) = event_sink();
        engine.attach(sink);
        engine.set_media(&MediaRequest {
            video: true,
            audio: true,
            ..MediaRequest::default()
        });
        page.goto(url).await?;
        page.execute(PAGE, vec![]).await?;
        let started = Instant::now();
        page.execute(
            &format!("{FIRST_FRAME} return t.setup(arguments[0]).then(watchVideo)"),
            vec![json!(!native_offers)],
        )
        .await?;
        engine.open_peer(PeerOpenArgs {
            peer,
            ice_servers: Vec::new(),
            offer: native_offers,
        })?;
        Ok((
            Relay {
                engine,
                page,
                events,
                peer,
                seen: Vec::new(),
            },
            started,
        ))
    }

    /// One call's start → first frame on each side, in ms.
    async fn first_frames(
        engine: &Engine,
        page: &fantoccini::Client,
        url: &str,
        peer: PeerKey,
        native_offers: bool,
    ) -> Result<(f64, f64)> {
        let (mut relay, started) = start_call(engine, page, url, peer, native_offers).await?;
        let native = relay
            .until_event("the native side's first frame", |event| {
                matches!(event, NativeEvent::RemoteVideo { .. }).then_some(())
            })
            .await
            .map(|()| {
                relay
                    .seen
                    .iter()
                    .find(|(_, e)| matches!(e, NativeEvent::RemoteVideo { .. }))
                    .map(|(at, _)| at.duration_since(started).as_secs_f64() * 1000.0)
                    .unwrap_or_default()
            })?;
        let mut chromium = None;
        for _ in 0..100 {
            relay.pump().await?;
            let value = page.execute("return t.firstFrameMs", vec![]).await?;
            if let Some(ms) = value.as_f64() {
                chromium = Some(ms);
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        engine.close_all();
        page.execute("t.close()", vec![]).await?;
        Ok((native, chromium.context("Chromium presented no frame")?))
    }

    /// The engine's (this process's) and Chromium's CPU over [`STEADY`], in
    /// % of one core.
    async fn measure(relay: &mut Relay<'_>) -> Result<(f64, f64)> {
        let (own, browser, started) = (
            cpu_ticks(Some(std::process::id())),
            chromium_ticks(),
            Instant::now(),
        );
        while started.elapsed() < STEADY {
            relay.pump().await?;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let wall = started.elapsed().as_secs_f64();
        let percent = |ticks: u64| ticks as f64 / 100.0 / wall * 100.0;
        Ok((
            percent(cpu_ticks(Some(std::process::id())) - own),
            percent(chromium_ticks().saturating_sub(browser)),
        ))
    }

    /// Chromium calling itself: two connections in one page, both with the
    /// fake camera and microphone, for [`STEADY`]; its CPU in % of a core.
    async fn chromium_calls_itself(page: &fantoccini::Client, url: &str) -> Result<((), f64)> {
        page.goto(url).await?;
        page.execute(
            r#"
return (async () => {
const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: true });
const other = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: true });
const a = new RTCPeerConnection(), b = new RTCPeerConnection();
window.loop = { a, b };
a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate);
b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate);
for (const t of stream.getTracks()) a.addTrack(t, stream);
for (const t of other.getTracks()) b.addTrack(t, other);
for (const pc of [a, b]) pc.ontrack = (e) => {
  const el = document.createElement(e.track.kind);
  el.muted = true; el.autoplay = true; el.srcObject = new MediaStream([e.track]);
  document.body.append(el);
};
await a.setLocalDescription(await a.createOffer());
await b.setRemoteDescription(a.localDescription);
await b.setLocalDescription(await b.createAnswer());
await a.setRemoteDescription(b.localDescription);
})();
"#,
            vec![],
        )
        .await?;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let state = page
                .execute(
                    "return loop.a.connectionState + loop.b.connectionState",
                    vec![],
                )
                .await?;
            if state == "connectedconnected" {
                break;
            }
            if Instant::now() > deadline {
                bail!("Chromium did not connect to itself: {state}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (before, started) = (chromium_ticks(), Instant::now());
        tokio::time::sleep(STEADY).await;
        let wall = started.elapsed().as_secs_f64();
        let percent = chromium_ticks().saturating_sub(before) as f64 / 100.0 / wall * 100.0;
        page.execute("loop.a.close(); loop.b.close();", vec![])
            .await?;
        Ok(((), percent))
    }

    /// utime + stime of `pid`, in clock ticks (100 a second).
    fn cpu_ticks(pid: Option<u32>) -> u64 {
        let Some(stat) = pid.and_then(|p| std::fs::read_to_string(format!("/proc/{p}/stat")).ok())
        else {
            return 0;
        };
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, r)| r)
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        let field = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        field(11) + field(12)
    }

    /// The CPU ticks of every process below this one (chromedriver,
    /// Chromium and its helpers).
    fn chromium_ticks() -> u64 {
        let me = std::process::id();
        let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter_map(|pid| {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
                let ppid = stat
                    .rsplit_once(')')?
                    .1
                    .split_whitespace()
                    .nth(1)?
                    .parse()
                    .ok()?;
                Some((pid, ppid))
            })
            .collect();
        let mut below = vec![me];
        let mut i = 0;
        while i < below.len() {
            let parent = below[i];
            below.extend(
                parents
                    .iter()
                    .filter(|(_, p)| *p == parent)
                    .map(|(pid, _)| *pid),
            );
            i += 1;
        }
        below.iter().skip(1).map(|pid| cpu_ticks(Some(*pid))).sum()
    }

    /// This process's resident memory, in KiB.
    fn rss_kib() -> u64 {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            })
            .unwrap_or(0)
    }
}
