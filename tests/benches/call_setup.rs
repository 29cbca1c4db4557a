//! Benchmark (not a test): from a click on Join to the first remote video
//! frame drawn on screen, for Peercall and for the browser's own floor.
//!
//! Run with `cargo bench -p peercall-e2e --bench call_setup` after
//! `cargo xtask ui` and `cargo build -p peercall-signal`.
//!
//! - **Peercall**: a real `peercall-signal` server and two headless Chromium
//!   browsers, one per person (each has its own fake camera). Bora waits in
//!   a room; Alice, on the home screen (her camera preview showing), types
//!   the room code and clicks Join, [`CALLS`] times (hanging up in
//!   between). Measured in Alice's page from outside the app, by the tests'
//!   observer (`tests/src/observe.js`): from the click event to the first
//!   frame of Bora's video that a `<video>` element on the page presents
//!   (`requestVideoFrameCallback`). It includes everything a person waits
//!   for: the page reacting, the camera, joining over the WebSocket, the
//!   offer/answer and trickled candidates through the server, ICE, DTLS,
//!   the first key frame, decoding and drawing.
//! - **Floor**: in the same browser, two `RTCPeerConnection`s in one page
//!   signalling each other directly in memory, with the same media
//!   constraints (opening the camera included), the same negotiated data
//!   channel, the same answering side (a stream opened beforehand) and the
//!   same measurement (the first frame a `<video>` presents). Nothing
//!   tuned: what the browser itself needs.
//!
//! Prints every run with where its time went, the medians and their ratio.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use fantoccini::wd::TimeoutConfiguration;
use peercall_e2e::{
    click, home_url, live_connections, observed_timeline, room_url, type_into, wait_for,
    wait_for_observed, with_browsers, Browser, SignalServer,
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
const drawn = (track) => new Promise((resolve) => {
  const element = document.createElement('video');
  element.muted = true;
  element.autoplay = true;
  element.playsInline = true;
  element.style.cssText = 'position:fixed;left:0;top:0;width:320px;height:180px';
  document.body.appendChild(element);
  element.srcObject = new MediaStream([track]);
  element.requestVideoFrameCallback(() => { resolve(performance.now()); element.remove(); });
});
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
(async () => {
  // The other side is already in the call: its camera is open.
  const theirs = await navigator.mediaDevices.getUserMedia({ audio, video });
  const times = [];
  for (let i = 0; i < calls; i++) {
    await pause(arguments[1]);
    const start = performance.now();
    const mine = await navigator.mediaDevices.getUserMedia({ audio, video });
    const a = new RTCPeerConnection(), b = new RTCPeerConnection();
    a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate);
    b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate);
    a.createDataChannel('peercall', { negotiated: true, id: 0 });
    b.createDataChannel('peercall', { negotiated: true, id: 0 });
    const frame = new Promise((resolve) => {
      a.ontrack = (e) => { if (e.track.kind === 'video') drawn(e.track).then(resolve); };
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

    println!("Peercall: click on Join → first remote frame drawn ({CALLS} calls)");
    let mut peercall = Vec::new();
    for run in 1..=CALLS {
        wait_for_observed(
            bora,
            "Bora to be alone in the room",
            Duration::from_secs(30),
            |s| live_connections(s).is_empty(),
        )
        .await?;
        // Someone joins a person who has been in the room a while (see
        // `GAP` for joins right after someone left).
        tokio::time::sleep(GAP).await;
        type_into(alice, "#join-input", "bench").await?;
        click(alice, "#join-button").await?;
        let (ms, steps) = click_to_first_frame(alice).await?;
        println!("  call {run:>2}: {ms:>6.0} ms   ({steps})");
        peercall.push(ms);
        click(alice, "#hang-up").await?;
        click(alice, "#back-home").await?;
        wait_for(alice, "#home").await?;
    }

    println!("Floor: two RTCPeerConnections in one page, in-memory signaling ({CALLS} calls)");
    let result = alice
        .execute_async(
            FLOOR_SCRIPT,
            vec![Value::from(CALLS), Value::from(GAP.as_millis() as u64)],
        )
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
    println!("median click → first remote frame drawn, {CALLS} calls each:");
    println!("  Peercall (server, UI, two browsers): {app:>6.0} ms");
    println!("  floor (one page, in-memory):         {base:>6.0} ms");
    println!(
        "  ratio:                               {:>6.2}×",
        app / base
    );
    Ok(())
}

/// Waits (up to a minute) for the first remote frame drawn after the last
/// click on Join, from the observer's timeline; returns the milliseconds
/// between them and where they went ("received room_joined 30 · …": the
/// first time each thing happened after the click).
async fn click_to_first_frame(client: &fantoccini::Client) -> Result<(f64, String)> {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let timeline = observed_timeline(client).await?;
        let events: Vec<(String, f64)> = timeline["timeline"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| {
                let mut name = e["event"].as_str()?.to_owned();
                if let Some(detail) = e["kind"].as_str().or(e["target"].as_str()) {
                    name = format!("{name} {detail}");
                }
                Some((name, e["at"].as_f64()?))
            })
            .collect();
        let click = events
            .iter()
            .rev()
            .find(|(name, _)| name == "click join-button")
            .map(|(_, at)| *at)
            .context("the click on Join was not seen")?;
        let drawn = events
            .iter()
            .find(|(name, at)| name == "remote frame drawn" && *at >= click)
            .map(|(_, at)| *at);
        if let Some(drawn) = drawn {
            let mut steps: Vec<(&str, f64)> = Vec::new();
            for (name, at) in &events {
                if *at > click && *at <= drawn && !steps.iter().any(|(n, _)| n == name) {
                    steps.push((name, at - click));
                }
            }
            let steps = steps
                .iter()
                .map(|(name, ms)| format!("{name} {ms:.0}"))
                .collect::<Vec<_>>()
                .join(" · ");
            return Ok((drawn - click, steps));
        }
        if std::time::Instant::now() > deadline {
            bail!("no remote frame drawn within 60 s of Join");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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
