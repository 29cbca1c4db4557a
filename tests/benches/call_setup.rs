//! Benchmark (not a test): how long from "join" to the first decoded remote
//! video frame, for Peercall and for the browser's own floor.
//!
//! Run with `cargo bench -p peercall-e2e --bench call_setup` after
//! `cargo xtask ui` and `cargo build -p peercall-signal`.
//!
//! - **Peercall**: a real `peercall-signal` server and two headless Chromium
//!   sessions. Bora waits in a room; Alice, on the home screen, types the
//!   room code and presses Join, [`CALLS`] times (hanging up in between).
//!   Measured in Alice's page from the moment the call starts (the call
//!   page opens) to the first video frame from Bora that her browser
//!   decodes (`getStats()` `framesDecoded` > 0, polled every 20 ms). It
//!   includes opening the camera and microphone, joining over the
//!   WebSocket, the offer/answer and trickled candidates through the
//!   server, ICE, DTLS and the first key frame.
//! - **Floor**: in the same browser, two `RTCPeerConnection`s in one page
//!   signalling each other directly in memory, with the same media
//!   constraints, the same negotiated data channel, the same receiving
//!   side (a stream opened beforehand) and the same measurement.
//!
//! Prints every run, the medians and their ratio.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use fantoccini::wd::TimeoutConfiguration;
use peercall_e2e::{
    click, home_url, room_url, stats_peers, type_into, wait_for, wait_for_stats, with_browsers,
    Browser, SignalServer,
};
use serde_json::Value;

/// Calls measured on each side.
const CALLS: usize = 15;

/// Pause between one call's hang-up and the next join. Chromium stalls a
/// camera track's frames to a new connection for ~2 s when the previous
/// connection that sent it closed less than ~2 s before; see
/// docs/call-bench.md.
const GAP: Duration = Duration::from_secs(3);

/// The browser's floor: the same media and negotiation, no server, no UI.
const FLOOR_SCRIPT: &str = r#"
const [calls, done] = [arguments[0], arguments[arguments.length - 1]];
const audio = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
const video = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30, max: 30 } };
const firstFrame = (receiver) => new Promise((resolve) => {
  const poll = setInterval(async () => {
    const stats = await receiver.getStats();
    for (const s of stats.values()) {
      if (s.type === 'inbound-rtp' && s.framesDecoded > 0) { clearInterval(poll); resolve(performance.now()); return; }
    }
  }, 20);
});
(async () => {
  // The other side is already in the call: its camera is open.
  const theirs = await navigator.mediaDevices.getUserMedia({ audio, video });
  const times = [];
  for (let i = 0; i < calls; i++) {
    const start = performance.now();
    const mine = await navigator.mediaDevices.getUserMedia({ audio, video });
    const a = new RTCPeerConnection(), b = new RTCPeerConnection();
    a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate);
    b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate);
    a.createDataChannel('peercall', { negotiated: true, id: 0 });
    b.createDataChannel('peercall', { negotiated: true, id: 0 });
    const frame = new Promise((resolve) => {
      a.ontrack = (e) => { if (e.track.kind === 'video') firstFrame(e.receiver).then(resolve); };
    });
    for (const t of mine.getTracks()) a.addTrack(t, mine);
    await a.setLocalDescription();
    await b.setRemoteDescription(a.localDescription);
    for (const t of theirs.getTracks()) b.addTrack(t, theirs);
    await b.setLocalDescription();
    await a.setRemoteDescription(b.localDescription);
    times.push((await frame) - start);
    a.close(); b.close();
    for (const t of mine.getTracks()) t.stop();
  }
  for (const t of theirs.getTracks()) t.stop();
  done(times);
})().catch((e) => done({ error: String(e) }));
"#;

#[tokio::main]
async fn main() -> Result<()> {
    let server = SignalServer::start(&[]).await?;
    with_browsers(2, Duration::from_secs(600), move |browsers| {
        Box::pin(async move { bench(&server, browsers).await })
    })
    .await
}

async fn bench(server: &SignalServer, browsers: &[Browser]) -> Result<()> {
    let (alice, bora) = (&browsers[0].client, &browsers[1].client);
    alice
        .update_timeouts(TimeoutConfiguration::new(
            Some(Duration::from_secs(180)),
            Some(Duration::from_secs(60)),
            Some(Duration::ZERO),
        ))
        .await?;

    bora.goto(&room_url(server, "bench", "Bora")).await?;
    wait_for(bora, "#call[data-phase='joined']").await?;
    alice.goto(&home_url(server, "Alice")).await?;
    wait_for(alice, "#my-id").await?;

    println!("Peercall: join → first decoded remote frame ({CALLS} calls)");
    let mut peercall = Vec::new();
    for run in 1..=CALLS {
        wait_for_stats(
            bora,
            "Bora to be alone in the room",
            Duration::from_secs(30),
            |s| stats_peers(s).is_empty(),
        )
        .await?;
        // Someone joins a person who has been in the room a while (see
        // `GAP` for joins right after someone left).
        tokio::time::sleep(GAP).await;
        type_into(alice, "#join-input", "bench").await?;
        click(alice, "#join-button").await?;
        let stats = wait_for_stats(
            alice,
            "Alice's first frame from Bora",
            Duration::from_secs(60),
            |s| {
                stats_peers(s)
                    .first()
                    .is_some_and(|p| p["firstFrameMs"].is_number())
            },
        )
        .await?;
        let ms = stats_peers(&stats)[0]["firstFrameMs"]
            .as_f64()
            .context("firstFrameMs")?;
        println!("  call {run:>2}: {ms:>6.0} ms   ({})", milestones(&stats));
        peercall.push(ms);
        click(alice, "#hang-up").await?;
        click(alice, "#back-home").await?;
        wait_for(alice, "#home").await?;
    }

    println!("Floor: two RTCPeerConnections in one page, in-memory signaling ({CALLS} calls)");
    let result = alice
        .execute_async(FLOOR_SCRIPT, vec![Value::from(CALLS)])
        .await
        .context("running the floor script")?;
    let Some(times) = result.as_array() else {
        bail!("floor script failed: {result}");
    };
    let mut floor: Vec<f64> = times.iter().filter_map(Value::as_f64).collect();
    for (run, ms) in floor.iter().enumerate() {
        println!("  call {:>2}: {ms:>6.0} ms", run + 1);
    }

    let (app, base) = (median(&mut peercall), median(&mut floor));
    println!();
    println!("median join → first remote frame, {CALLS} calls each:");
    println!("  Peercall (server, UI, two browsers): {app:>6.0} ms");
    println!("  floor (one page, in-memory):         {base:>6.0} ms");
    println!(
        "  ratio:                               {:>6.2}×",
        app / base
    );
    Ok(())
}

/// "media 40 · room_joined 52 · …": where the time went in one call.
fn milestones(stats: &Value) -> String {
    let Some(map) = stats["milestones"].as_object() else {
        return String::new();
    };
    let mut steps: Vec<(&String, f64)> = map
        .iter()
        .filter_map(|(name, ms)| Some((name, ms.as_f64()?)))
        .collect();
    steps.sort_by(|a, b| a.1.total_cmp(&b.1));
    steps
        .iter()
        .map(|(name, ms)| format!("{name} {ms:.0}"))
        .collect::<Vec<_>>()
        .join(" · ")
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}
