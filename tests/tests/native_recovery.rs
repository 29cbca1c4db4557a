//! Two apps in a call, each on its own native engine, when the network
//! under them changes (as when a laptop moves to another Wi-Fi): their
//! addresses go away and others come. `webrtcbin` neither notices nor can
//! restart ICE, so the pages must find out and build the connection again
//! (`session/liveness.rs`). What is checked is what the people see: each
//! app's tile of the other says it is reconnecting, then draws moving
//! video again.
//!
//! The test runs itself again in a network namespace of its own (as
//! `native_engine.rs` does): its veth pair's two addresses are the apps'
//! only ones, so moving them moves the whole network the call runs on.
//! Signaling stays on loopback, as a server elsewhere would stay reachable.
#![cfg(target_os = "linux")]

use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use fantoccini::Client;
use peercall_e2e::native::{in_network_namespace, rerun_in_network_namespace};
use peercall_e2e::{wait_for, wait_until, App};

/// Frames the tile of the other person has drawn.
const REMOTE_FRAMES: &str =
    "Number(document.querySelector('.tile[data-peer-id] canvas')?.getAttribute('data-frames') ?? 0)";

#[test]
fn a_call_between_two_apps_survives_a_network_change() -> Result<()> {
    if in_network_namespace() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        return runtime.block_on(async {
            tokio::time::timeout(Duration::from_secs(240), scenario())
                .await
                .context("the test took over 4 minutes")?
        });
    }
    rerun_in_network_namespace(&[
        "a_call_between_two_apps_survives_a_network_change",
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ])
}

async fn frames(client: &Client) -> Result<f64> {
    Ok(client
        .execute(&format!("return {REMOTE_FRAMES};"), vec![])
        .await?
        .as_f64()
        .unwrap_or(0.0))
}

/// Waits until the other person's tile has drawn `more` frames past `from`.
async fn drawing(client: &Client, who: &str, from: f64, more: f64) -> Result<()> {
    wait_until(
        client,
        &format!("{who}'s tile of the other to draw"),
        &format!("{REMOTE_FRAMES} >= {}", from + more),
    )
    .await
    .map(drop)
}

fn ip(command: &str) -> Result<()> {
    let status = std::process::Command::new("sh")
        .args(["-c", command])
        .status()?;
    ensure!(status.success(), "`{command}` failed: {status}");
    Ok(())
}

async fn scenario() -> Result<()> {
    let appa = App::launch_native("Appa", Vec::new()).await?;
    let outcome = async {
        let a = &appa.client;
        let invite = appa.start_call().await?;
        let bomi = App::launch_native("Bomi", vec![invite]).await?;
        let result = async {
            let b = &bomi.client;
            wait_for(b, "#call[data-phase='joined']").await?;
            for (client, who) in [(a, "Appa"), (b, "Bomi")] {
                drawing(client, who, 0.0, 30.0).await?;
            }

            // The network changes under the call: every address goes, the
            // IPv6 link-local ones too (ICE may have paired those), and new
            // ones come.
            ip("ip addr flush dev pc-a && ip addr flush dev pc-b \
                && ip addr add 10.213.1.1/24 dev pc-a && ip addr add 10.213.1.2/24 dev pc-b")?;
            let moved = Instant::now();
            // (The tiles may draw a frame or two still on their way.)
            tokio::time::sleep(Duration::from_secs(2)).await;
            // Both say so, though `webrtcbin` still reports it connected.
            for (client, who) in [(a, "Appa"), (b, "Bomi")] {
                wait_for(
                    client,
                    ".tile[data-peer-id][data-connection-state='reconnecting']",
                )
                .await
                .with_context(|| format!("{who}'s tile never said it was reconnecting"))?;
            }
            appa.capture_screen("native-recovery-reconnecting")?;
            let stalled = [frames(a).await?, frames(b).await?];
            for ((client, who), stalled) in [(a, "Appa"), (b, "Bomi")].into_iter().zip(stalled) {
                // A connection built again draws on a new canvas, counting
                // from zero: first a change, then 30 frames more.
                wait_until(
                    client,
                    &format!("{who}'s tile of the other to change"),
                    &format!("{REMOTE_FRAMES} != {stalled}"),
                )
                .await?;
                let from = frames(client).await?;
                drawing(client, who, from, 30.0).await?;
            }
            println!(
                "after the network changed, both apps saw each other's video again in {:?}",
                moved.elapsed()
            );
            appa.capture_screen("native-recovery-appa")?;
            Ok::<_, anyhow::Error>(())
        }
        .await;
        let _ = bomi.quit().await;
        result
    }
    .await;
    let _ = appa.quit().await;
    outcome
}
