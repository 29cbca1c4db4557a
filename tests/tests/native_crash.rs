//! The call engine in a process of its own (Linux): when that process
//! dies in a call (a crash in GStreamer, say), the call's connection ends
//! and the app does not. What is checked is what the people see: the app
//! stays, its tile of the other person says the connection was lost, and
//! calling again from the same window brings the app's video back to
//! Chromium, the other person, through a fresh engine.
#![cfg(target_os = "linux")]

use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use fantoccini::Client;
use peercall_e2e::native::{engine_processes, start_call_with_chromium, with_app_and_chromium};
use peercall_e2e::{click, type_into, wait_for, wait_for_observed, App};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_of_the_call_engine_ends_the_connection_not_the_app() -> Result<()> {
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

    // The app is still there, and its window says the connection is lost.
    wait_for(
        window,
        ".tile[data-peer-id][data-connection-state='failed']",
    )
    .await?;
    ensure!(
        std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the app died with its call engine"
    );
    app.capture_screen("native-crash-after")?;

    // Hanging up and calling again (same room) brings the app's video back
    // to Chromium, on a new connection.
    click(window, "#hang-up").await?;
    wait_for(window, "#call-ended").await?;
    click(window, "#call-again").await?;
    wait_for(window, "#call[data-phase='joined']").await?;
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
        "the app's video was back at Chromium {:.1} s after its engine was killed \
         (hung up and called again at once)",
        crashed.elapsed().as_secs_f64()
    );
    app.capture_screen("native-crash-back")?;
    Ok(())
}
