//! The call engine in a process of its own (Linux): when that process
//! dies in a call (a crash in GStreamer, say), the app does not, and the
//! call comes back by itself. What is checked is what the people see: the
//! app stays, and Chromium, the other person, decodes the app's video
//! again on a new connection (a fresh engine, the camera opened again),
//! with nobody clicking anything.
#![cfg(target_os = "linux")]

use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use fantoccini::Client;
use peercall_e2e::native::{
    canvas_drawing, engine_processes, start_call_with_chromium, with_app_and_chromium,
};
use peercall_e2e::{type_into, wait_for, wait_for_observed, App};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread")]
async fn a_call_comes_back_by_itself_when_its_engine_crashes() -> Result<()> {
    with_app_and_chromium(Duration::from_secs(180), |app, chromium| {
        Box::pin(scenario(app, chromium))
    })
    .await
}

async fn scenario(app: &App, chromium: &Client) -> Result<()> {
    let window = &app.client;
    wait_for(window, "#home[data-engine='native']").await?;
    wait_for(window, "#server-status[data-state='ready']").await?;
    type_into(window, "#display-name", "Appa").await?;
    start_call_with_chromium(app, chromium, CONNECT_TIMEOUT).await?;

    let before = peercall_e2e::observed(chromium).await?;
    let old_ufrag = peercall_e2e::live_connections(&before)
        .first()
        .map(|c| c["remoteUfrag"].clone())
        .context("Chromium has no live connection to the app")?;

    let pid = app.pid()?;
    let engines = engine_processes(pid);
    ensure!(
        engines.len() == 1,
        "engine processes in the call: {engines:?}"
    );
    let crashed = Instant::now();
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &engines[0].to_string()])
        .status()?;
    ensure!(killed.success(), "kill -KILL {} failed", engines[0]);

    // The app is still there; the call is built again on a new connection.
    tokio::time::sleep(Duration::from_millis(500)).await;
    ensure!(
        std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the app died with its call engine"
    );
    wait_for_observed(
        chromium,
        "Chromium decoding the app's video again after the engine crashed",
        CONNECT_TIMEOUT,
        |o| {
            peercall_e2e::live_connections(o).iter().any(|c| {
                c["remoteUfrag"] != old_ufrag
                    && peercall_e2e::video_flowing(c)
                    && peercall_e2e::audio_flowing(c)
            })
        },
    )
    .await?;
    println!(
        "the app's video was back at Chromium {:.1} s after its engine was killed",
        crashed.elapsed().as_secs_f64()
    );
    // And the app draws Chromium's moving video again.
    canvas_drawing(
        window,
        ".tile[data-peer-id] canvas",
        "Chromium's tile in the app, after the crash",
    )
    .await?;
    let engines = engine_processes(pid);
    ensure!(
        engines.len() == 1,
        "engine processes after the crash: {engines:?}"
    );
    app.capture_screen("native-crash-back")?;
    Ok(())
}
