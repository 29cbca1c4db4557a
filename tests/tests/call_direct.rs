//! Calling someone by id (the original demo's flow) in real browsers: the
//! callee declines, then accepts; mute and camera-off reach the other side;
//! hanging up releases the camera and microphone.

use std::time::Duration;

use anyhow::{ensure, Result};
use fantoccini::Locator;
use peercall_e2e::{
    all_media_flowing, call_stats, click, home_url, screenshot, stats_peers, type_into, wait_for,
    wait_for_stats, wait_for_text, wait_until, with_browsers, Browser, SignalServer,
};
use serde_json::Value;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

fn frames(stats: &Value) -> f64 {
    stats_peers(stats)
        .first()
        .and_then(|p| p["framesDecoded"].as_f64())
        .unwrap_or(0.0)
}

fn live_local(stats: &Value, kind: &str) -> bool {
    stats["local"]["tracks"].as_array().is_some_and(|t| {
        t.iter()
            .any(|t| t["kind"] == kind && t["readyState"] == "live")
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn call_by_id_decline_accept_mute_camera_and_hang_up() -> Result<()> {
    let server = SignalServer::start(&[]).await?;
    with_browsers(2, Duration::from_secs(240), move |browsers| {
        Box::pin(async move { decline_accept_mute_hang_up(&server, browsers).await })
    })
    .await
}

async fn decline_accept_mute_hang_up(server: &SignalServer, browsers: &[Browser]) -> Result<()> {
    {
        let (alice, bora) = (&browsers[0].client, &browsers[1].client);
        alice.goto(&home_url(server, "Alice")).await?;
        bora.goto(&home_url(server, "Bora")).await?;

        // Bora's id is on her home screen; Alice rings it.
        let bora_id = wait_for(bora, "#my-id").await?.text().await?;
        ensure!(!bora_id.trim().is_empty(), "Bora's id is empty");
        type_into(alice, "#call-id-input", bora_id.trim()).await?;
        click(alice, "#call-button").await?;
        wait_for(alice, "#call[data-phase='ringing'] #ringing").await?;
        wait_for_text(bora, "#incoming-call h2", "Alice is calling").await?;
        screenshot(bora, "call-direct-incoming").await?;
        screenshot(alice, "call-direct-ringing").await?;

        // Bora declines: Alice is told, and her camera is released.
        click(bora, "#decline-call").await?;
        wait_for(alice, "#call-ended[data-reason='declined']").await?;
        wait_for_text(alice, "#call-ended h1", "declined your call").await?;
        wait_until(
            bora,
            "the prompt to go away",
            "!document.querySelector('#incoming-call')",
        )
        .await?;
        let stats = call_stats(alice).await?;
        ensure!(
            stats["liveTracks"] == 0,
            "a declined call left devices open: {stats:#}"
        );

        // Alice calls again; this time Bora accepts and they see and hear each other.
        click(alice, "#call-again").await?;
        click(bora, "#accept-call").await?;
        for (client, name) in [(alice, "Alice"), (bora, "Bora")] {
            wait_for_stats(
                client,
                &format!("{name} to see and hear the other"),
                CONNECT_TIMEOUT,
                |s| all_media_flowing(s, 1),
            )
            .await?;
        }
        wait_until(
            alice,
            "Bora's name on her tile",
            "[...document.querySelectorAll('.tile[data-peer-id] .tile-name')].some(t => t.textContent.includes('Bora'))",
        )
        .await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        screenshot(alice, "call-two-people").await?;

        // Mute: Bora sees Alice muted.
        click(alice, "#mute").await?;
        wait_for(bora, ".tile[data-peer-id][data-audio-muted='true']").await?;
        ensure!(
            wait_for(alice, "#mute")
                .await?
                .attr("aria-pressed")
                .await?
                .as_deref()
                == Some("true"),
            "the mute button doesn't show it is on"
        );
        // Camera off: Bora sees Alice's avatar, and Alice's camera is released.
        click(alice, "#camera").await?;
        wait_for(
            bora,
            ".tile[data-peer-id][data-video-muted='true'] .tile-avatar",
        )
        .await?;
        let stats = call_stats(alice).await?;
        ensure!(
            !live_local(&stats, "video"),
            "camera off but the camera is still open: {stats:#}"
        );
        ensure!(
            live_local(&stats, "audio"),
            "muting must not close the microphone: {stats:#}"
        );
        screenshot(bora, "call-two-people-remote-muted").await?;

        // Keyboard: M unmutes, V turns the camera back on; video flows again.
        alice.active_element().await?.send_keys("m").await?;
        wait_for(bora, ".tile[data-peer-id][data-audio-muted='false']").await?;
        let before = frames(&call_stats(bora).await?);
        alice.active_element().await?.send_keys("v").await?;
        wait_for(bora, ".tile[data-peer-id][data-video-muted='false']").await?;
        wait_for_stats(bora, "Alice's video to come back", CONNECT_TIMEOUT, |s| {
            frames(s) > before + 10.0
        })
        .await?;
        ensure!(
            live_local(&call_stats(alice).await?, "video"),
            "the camera did not reopen"
        );

        // Hang up: every device Alice opened is released, and Bora is told.
        click(alice, "#hang-up").await?;
        wait_for(alice, "#call-ended[data-reason='left']").await?;
        let stats = call_stats(alice).await?;
        ensure!(
            stats["openedTracks"].as_u64().unwrap_or(0) >= 2 && stats["liveTracks"] == 0,
            "hanging up left devices open: {stats:#}"
        );
        ensure!(
            stats["local"]["tracks"]
                .as_array()
                .is_some_and(|t| !t.is_empty() && t.iter().all(|t| t["readyState"] == "ended")),
            "the call's tracks are not all ended: {stats:#}"
        );
        wait_for(bora, "#call-ended[data-reason='hung_up']").await?;
        ensure!(
            call_stats(bora).await?["liveTracks"] == 0,
            "Bora's devices stayed open after the other side hung up"
        );
        screenshot(bora, "call-direct-ended").await?;

        // Bora calls back from there; Alice accepts on her own "ended" screen.
        click(bora, "#call-again").await?;
        wait_for_text(alice, "#incoming-call h2", "Bora is calling").await?;
        click(alice, "#accept-call").await?;
        for (client, name) in [(alice, "Alice"), (bora, "Bora")] {
            wait_for_stats(
                client,
                &format!("{name} connected again"),
                CONNECT_TIMEOUT,
                |s| all_media_flowing(s, 1),
            )
            .await?;
        }
        click(bora, "#hang-up").await?;
        wait_for(alice, "#call-ended[data-reason='hung_up']").await?;
        click(alice, "#back-home").await?;
        wait_for(alice, "#home").await?;
        ensure!(
            alice.find(Locator::Css("#call")).await.is_err(),
            "back home still shows the call"
        );
        for (client, name) in [(alice, "Alice"), (bora, "Bora")] {
            wait_for_stats(
                client,
                &format!("{name}'s peer connections to close"),
                Duration::from_secs(5),
                |s| s["openConnections"] == 0 && s["liveTracks"] == 0,
            )
            .await?;
        }
    }
    Ok(())
}
