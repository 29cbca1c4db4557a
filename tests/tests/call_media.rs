//! Calls with missing or refused devices, in real browsers: no camera gives
//! an audio-only call, blocked camera and microphone a receive-only one,
//! each with a plain message, and everyone still sees and hears whatever
//! the others can send.

use std::time::Duration;

use anyhow::{ensure, Result};
use peercall_e2e::{
    close_all, room_url, screenshot, stats_peer, wait_for, wait_for_stats, wait_for_text, Browser,
    FakeMedia, SignalServer,
};
use serde_json::Value;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

fn num(peer: &Option<Value>, field: &str) -> f64 {
    peer.as_ref().and_then(|p| p[field].as_f64()).unwrap_or(0.0)
}

fn connected(peer: &Option<Value>) -> bool {
    peer.as_ref().is_some_and(|p| p["state"] == "connected")
}

fn video_from(stats: &Value, name: &str) -> bool {
    let peer = stats_peer(stats, name);
    connected(&peer) && num(&peer, "framesDecoded") > 0.0
}

fn audio_from(stats: &Value, name: &str) -> bool {
    let peer = stats_peer(stats, name);
    connected(&peer) && num(&peer, "audioPacketsReceived") > 0.0
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_camera_is_audio_only_and_blocked_devices_receive_only() -> Result<()> {
    let server = SignalServer::start(&[]).await?;
    let launched = futures_util::future::join_all([
        Browser::launch_with_media(FakeMedia::Devices),
        Browser::launch_with_media(FakeMedia::NoCamera),
        Browser::launch_with_media(FakeMedia::Blocked),
    ])
    .await;
    let mut browsers = Vec::new();
    let mut failure = None;
    for result in launched {
        match result {
            Ok(browser) => browsers.push(browser),
            Err(error) => failure = Some(error),
        }
    }
    if let Some(error) = failure {
        close_all(browsers).await;
        return Err(error);
    }
    let outcome =
        tokio::time::timeout(Duration::from_secs(240), scenario(&server, &browsers)).await;
    close_all(browsers).await;
    outcome??;
    Ok(())
}

async fn scenario(server: &SignalServer, browsers: &[Browser]) -> Result<()> {
    let (alice, bora, chen) = (
        &browsers[0].client,
        &browsers[1].client,
        &browsers[2].client,
    );
    for (client, name) in [(alice, "Alice"), (bora, "Bora"), (chen, "Chen")] {
        client.goto(&room_url(server, "devices", name)).await?;
        wait_for(client, "#call[data-phase='joined']").await?;
    }

    // Each is told, in words, what is missing and what still works.
    let notice = wait_for(bora, "#media-notice[data-camera-error='missing']").await?;
    ensure!(
        notice.attr("data-mic-error").await?.is_none(),
        "Bora's microphone works; the notice says otherwise"
    );
    wait_for_text(bora, "#media-notice", "audio only").await?;
    wait_for(
        chen,
        "#media-notice[data-camera-error='denied'][data-mic-error='denied']",
    )
    .await?;
    wait_for_text(chen, "#media-notice", "see and hear the others").await?;
    ensure!(
        wait_for(alice, "#call")
            .await?
            .attr("data-phase")
            .await?
            .as_deref()
            == Some("joined")
            && alice
                .find(fantoccini::Locator::Css("#media-notice"))
                .await
                .is_err(),
        "Alice has her devices: no notice for her"
    );

    // Alice sees and hears Bora's audio, and Bora and Chen as camera-off tiles.
    wait_for_stats(
        alice,
        "Alice to hear Bora and connect to Chen",
        CONNECT_TIMEOUT,
        |s| audio_from(s, "Bora") && connected(&stats_peer(s, "Chen")),
    )
    .await?;
    wait_for(
        alice,
        ".tile[data-peer-id][data-video-muted='true'][aria-label='Bora'] .tile-avatar",
    )
    .await?;
    wait_for(
        alice,
        ".tile[data-peer-id][data-video-muted='true'][data-audio-muted='true'][aria-label='Chen']",
    )
    .await?;
    // Bora (no camera) sees and hears Alice; Chen (blocked) sees and hears
    // Alice and hears Bora.
    wait_for_stats(bora, "Bora to see and hear Alice", CONNECT_TIMEOUT, |s| {
        video_from(s, "Alice") && audio_from(s, "Alice") && connected(&stats_peer(s, "Chen"))
    })
    .await?;
    wait_for_stats(
        chen,
        "Chen to see and hear Alice and hear Bora",
        CONNECT_TIMEOUT,
        |s| video_from(s, "Alice") && audio_from(s, "Alice") && audio_from(s, "Bora"),
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    screenshot(bora, "call-audio-only").await?;
    screenshot(chen, "call-receive-only").await?;
    Ok(())
}
