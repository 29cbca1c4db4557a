//! Calling someone by id (the original demo's flow) in real browsers: the
//! callee declines, then accepts; mute and camera-off reach the other side;
//! hanging up releases the camera and microphone.

use std::time::Duration;

use anyhow::{ensure, Result};
use fantoccini::Locator;
use peercall_e2e::{
    click, home_url, live_connections, live_tracks, media_flowing, num, observed, screenshot,
    type_into, wait_for, wait_for_observed, wait_for_text, wait_until, with_browsers, Browser,
    SignalServer,
};
use serde_json::Value;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

/// Video frames decoded on the page's one open connection.
fn frames(observed: &Value) -> f64 {
    live_connections(observed)
        .first()
        .map_or(0.0, |c| num(c, "framesDecoded"))
}

/// Whether a live camera (`video`) or microphone (`audio`) track is open
/// anywhere in the page.
fn live_local(observed: &Value, kind: &str) -> bool {
    !live_tracks(observed, kind).is_empty()
}

/// Whether the page's open connection sends a live track of `kind`.
fn sends(observed: &Value, kind: &str) -> bool {
    live_connections(observed).iter().any(|c| {
        c["senderTracks"].as_array().is_some_and(|t| {
            t.iter()
                .any(|t| t["kind"] == kind && t["readyState"] == "live")
        })
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
        let seen = observed(alice).await?;
        ensure!(
            seen["liveTracks"] == 0 && live_connections(&seen).is_empty(),
            "a declined call left devices (or a connection) open: {seen:#}"
        );

        // Alice calls again; this time Bora accepts and they see and hear each other.
        click(alice, "#call-again").await?;
        click(bora, "#accept-call").await?;
        for (client, name) in [(alice, "Alice"), (bora, "Bora")] {
            wait_for_observed(
                client,
                &format!("{name} to see and hear the other"),
                CONNECT_TIMEOUT,
                |s| media_flowing(s, 1),
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
        let seen = observed(alice).await?;
        ensure!(
            !live_local(&seen, "video") && !sends(&seen, "video"),
            "camera off but the camera is still open: {seen:#}"
        );
        ensure!(
            live_local(&seen, "audio"),
            "muting must not close the microphone: {seen:#}"
        );
        screenshot(bora, "call-two-people-remote-muted").await?;

        // Keyboard: M unmutes, V turns the camera back on; video flows again.
        alice.active_element().await?.send_keys("m").await?;
        wait_for(bora, ".tile[data-peer-id][data-audio-muted='false']").await?;
        let before = frames(&observed(bora).await?);
        alice.active_element().await?.send_keys("v").await?;
        wait_for(bora, ".tile[data-peer-id][data-video-muted='false']").await?;
        wait_for_observed(bora, "Alice's video to come back", CONNECT_TIMEOUT, |s| {
            frames(s) > before + 10.0
        })
        .await?;
        let seen = observed(alice).await?;
        ensure!(
            live_local(&seen, "video") && sends(&seen, "video"),
            "the camera did not reopen (or isn't sent): {seen:#}"
        );

        // Hang up: every device Alice opened is released, and Bora is told.
        click(alice, "#hang-up").await?;
        wait_for(alice, "#call-ended[data-reason='left']").await?;
        // Every camera and microphone track the page ever got (call,
        // preview, clones) has ended.
        let seen = observed(alice).await?;
        ensure!(
            seen["tracks"]
                .as_array()
                .is_some_and(|t| { t.len() >= 2 && t.iter().all(|t| t["readyState"] == "ended") })
                && seen["liveTracks"] == 0,
            "hanging up left devices open: {seen:#}"
        );
        wait_for(bora, "#call-ended[data-reason='hung_up']").await?;
        let seen = observed(bora).await?;
        ensure!(
            seen["liveTracks"] == 0,
            "Bora's devices stayed open after the other side hung up: {seen:#}"
        );
        screenshot(bora, "call-direct-ended").await?;

        // Bora calls back from there; Alice accepts on her own "ended" screen.
        click(bora, "#call-again").await?;
        wait_for_text(alice, "#incoming-call h2", "Bora is calling").await?;
        click(alice, "#accept-call").await?;
        for (client, name) in [(alice, "Alice"), (bora, "Bora")] {
            wait_for_observed(
                client,
                &format!("{name} connected again"),
                CONNECT_TIMEOUT,
                |s| media_flowing(s, 1),
            )
            .await?;
        }
        click(bora, "#hang-up").await?;
        wait_for(alice, "#call-ended[data-reason='hung_up']").await?;
        wait_for(bora, "#call-ended[data-reason='left']").await?;
        // On both "ended" screens: every connection closed, every device
        // released.
        let mut ended = Vec::new();
        for (client, name) in [(alice, "Alice"), (bora, "Bora")] {
            let snapshot = wait_for_observed(
                client,
                &format!("{name}'s peer connections to close and devices to be released"),
                Duration::from_secs(5),
                |s| {
                    live_connections(s).is_empty()
                        && s["connections"].as_array().is_some_and(|c| c.len() >= 2)
                        && s["liveTracks"] == 0
                },
            )
            .await?;
            ended.push(snapshot);
        }
        // Back home (where the camera preview may open the camera afresh):
        // no connection reopened, none of the call's tracks came back.
        click(alice, "#back-home").await?;
        wait_for(alice, "#home").await?;
        ensure!(
            alice.find(Locator::Css("#call")).await.is_err(),
            "back home still shows the call"
        );
        let home = observed(alice).await?;
        let call_tracks = ended[0]["tracks"].as_array().map_or(0, Vec::len);
        let tracks = home["tracks"].as_array().cloned().unwrap_or_default();
        ensure!(
            live_connections(&home).is_empty()
                && tracks.len() >= call_tracks
                && tracks[..call_tracks]
                    .iter()
                    .all(|t| t["readyState"] == "ended"),
            "back home, a connection or one of the call's devices is open: {home:#}"
        );
    }
    Ok(())
}
