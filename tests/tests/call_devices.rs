//! Switching microphone in the middle of a call, in real browsers: the new
//! device's track replaces the old one on the existing connection (no
//! renegotiation, no new connection), the old device is released, and the
//! other side keeps hearing.

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use fantoccini::Locator;
use peercall_e2e::{
    call_stats, click, room_url, stats_peer, wait_for, wait_for_stats, wait_until, with_browsers,
    Browser, SignalServer,
};
use serde_json::Value;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

fn audio_packets(stats: &Value, name: &str) -> f64 {
    stats_peer(stats, name)
        .and_then(|p| p["audioPacketsReceived"].as_f64())
        .unwrap_or(0.0)
}

fn live_audio_labels(stats: &Value) -> Vec<String> {
    stats["local"]["tracks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["kind"] == "audio" && t["readyState"] == "live")
        .filter_map(|t| t["label"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn switching_microphone_mid_call_keeps_the_call() -> Result<()> {
    let server = SignalServer::start(&[]).await?;
    with_browsers(2, Duration::from_secs(180), move |browsers| {
        Box::pin(async move { scenario(&server, browsers).await })
    })
    .await
}

async fn scenario(server: &SignalServer, browsers: &[Browser]) -> Result<()> {
    let (alice, bora) = (&browsers[0].client, &browsers[1].client);
    for (client, name) in [(alice, "Alice"), (bora, "Bora")] {
        client.goto(&room_url(server, "switch", name)).await?;
        wait_for(client, "#call[data-phase='joined']").await?;
    }
    let connected = |s: &Value| {
        stats_peer(s, "Alice").is_some_and(|p| p["state"] == "connected")
            && audio_packets(s, "Alice") > 0.0
    };
    let before = wait_for_stats(bora, "Bora to hear Alice", CONNECT_TIMEOUT, connected).await?;
    let alice_before = call_stats(alice).await?;
    let old_label = live_audio_labels(&alice_before)
        .pop()
        .context("Alice has a live microphone track")?;
    let bora_key = stats_peer(&before, "Alice").context("Alice's slot")?["key"].clone();

    // Alice opens the device chooser and picks another microphone.
    click(alice, "#devices-toggle").await?;
    wait_until(
        alice,
        "several microphones to choose from",
        "document.querySelectorAll('#call-microphone-select option').length > 2",
    )
    .await?;
    let choice = alice
        .execute(
            &format!(
                "return [...document.querySelectorAll('#call-microphone-select option')]
                    .filter(o => o.value && o.value !== 'default' && !o.text.includes({old:?}))
                    .pop()?.value",
                old = old_label
            ),
            vec![],
        )
        .await?;
    let choice = choice.as_str().context("another microphone")?.to_owned();
    alice
        .find(Locator::Css("#call-microphone-select"))
        .await?
        .select_by_value(&choice)
        .await?;

    // Her call now sends the new microphone; the old one is released.
    let mut switched = Value::Null;
    for _ in 0..100 {
        switched = call_stats(alice).await?;
        let labels = live_audio_labels(&switched);
        if labels.len() == 1 && labels[0] != old_label {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let labels = live_audio_labels(&switched);
    ensure!(
        labels.len() == 1 && labels[0] != old_label,
        "Alice should send exactly one, new, microphone: {labels:?} (was {old_label})"
    );
    ensure!(
        switched["openConnections"] == alice_before["openConnections"],
        "no new connection for a device switch"
    );

    // Bora keeps hearing her on the same connection.
    let heard = audio_packets(&before, "Alice");
    let after = wait_for_stats(bora, "Bora to keep hearing Alice", CONNECT_TIMEOUT, |s| {
        connected(s) && audio_packets(s, "Alice") > heard + 50.0
    })
    .await?;
    ensure!(
        stats_peer(&after, "Alice").context("Alice's slot")?["key"] == bora_key,
        "the same connection carries the call"
    );
    Ok(())
}
