//! Calls with missing or refused devices, in real browsers: no camera gives
//! an audio-only call, blocked camera and microphone a receive-only one,
//! each with a plain message, and everyone still sees and hears whatever
//! the others can send.

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use peercall_e2e::{
    close_all, connection_to, live_connections, num, observed, plays_from, room_url, screenshot,
    tile_track_ids, video_flowing, wait_for, wait_for_observed, wait_for_text, Browser, FakeMedia,
    SignalServer,
};
use serde_json::Value;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

/// Whether the connection to `theirs` (another page's snapshot) is
/// connected and decodes their video.
fn video_from(mine: &Value, theirs: &Value) -> bool {
    connection_to(mine, theirs).is_some_and(|c| video_flowing(&c))
}

/// Whether the connection to `theirs` is connected and receives their
/// audio.
fn audio_from(mine: &Value, theirs: &Value) -> bool {
    connection_to(mine, theirs).is_some_and(|c| {
        c["connectionState"] == "connected" && num(&c, "audioPacketsReceived") > 0.0
    })
}

/// Whether the connection to `theirs` is connected.
fn connected_to(mine: &Value, theirs: &Value) -> bool {
    connection_to(mine, theirs).is_some_and(|c| c["connectionState"] == "connected")
}

/// Whether the page has exactly two open connections (one per other
/// person in the room), both connected.
fn both_connected(observed: &Value) -> bool {
    let open = live_connections(observed);
    open.len() == 2 && open.iter().all(|c| c["connectionState"] == "connected")
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

    // Everyone is connected to both others (one connection each); which
    // connection goes to whom is read from the connections themselves.
    let mut pages = Vec::new();
    for (client, name) in [(alice, "Alice"), (bora, "Bora"), (chen, "Chen")] {
        let snapshot = wait_for_observed(
            client,
            &format!("{name} connected to both others"),
            CONNECT_TIMEOUT,
            both_connected,
        )
        .await?;
        pages.push(snapshot);
    }
    let [alice_seen, bora_seen, chen_seen] = [&pages[0], &pages[1], &pages[2]];

    // Alice hears Bora and is connected to Chen, and sees both as
    // camera-off tiles; Bora's tile plays what arrives from Bora.
    let seen = wait_for_observed(
        alice,
        "Alice to hear Bora and connect to Chen",
        CONNECT_TIMEOUT,
        |s| audio_from(s, bora_seen) && connected_to(s, chen_seen),
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
    let from_bora = connection_to(&seen, bora_seen).context("Alice's connection to Bora")?;
    let tracks = tile_track_ids(alice, "Bora").await?;
    ensure!(
        plays_from(&tracks, &from_bora),
        "Alice's tile named Bora plays {tracks:?}, not what arrives from Bora: {from_bora:#}"
    );
    // Bora (no camera) sees and hears Alice and is connected to Chen;
    // Chen (blocked) sees and hears Alice and hears Bora.
    wait_for_observed(bora, "Bora to see and hear Alice", CONNECT_TIMEOUT, |s| {
        video_from(s, alice_seen) && audio_from(s, alice_seen) && connected_to(s, chen_seen)
    })
    .await?;
    wait_for_observed(
        chen,
        "Chen to see and hear Alice and hear Bora",
        CONNECT_TIMEOUT,
        |s| video_from(s, alice_seen) && audio_from(s, alice_seen) && audio_from(s, bora_seen),
    )
    .await?;
    // Bora's browser opened no camera; Chen's opened nothing.
    let bora_now = observed(bora).await?;
    ensure!(
        bora_now["tracks"]
            .as_array()
            .is_some_and(|t| !t.is_empty() && t.iter().all(|t| t["kind"] == "audio")),
        "Bora has a microphone and no camera: {bora_now:#}"
    );
    let chen_now = observed(chen).await?;
    ensure!(
        chen_now["tracks"].as_array().is_some_and(Vec::is_empty),
        "Chen's devices are blocked, yet a track was opened: {chen_now:#}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    screenshot(bora, "call-audio-only").await?;
    screenshot(chen, "call-receive-only").await?;
    Ok(())
}
