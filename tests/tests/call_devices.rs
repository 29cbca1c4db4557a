//! Switching microphone in the middle of a call, in real browsers: the new
//! device's track replaces the old one on the existing connection (no
//! renegotiation, no new connection), the old device is released, and the
//! other side keeps hearing.

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use fantoccini::Locator;
use peercall_e2e::{
    click, connection, connection_to, connections, live_connections, live_tracks, media_flowing,
    num, room_url, wait_for, wait_for_observed, wait_until, with_browsers, Browser, SignalServer,
};
use serde_json::Value;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

/// The live microphone track the page's one open connection sends.
fn sent_microphone(observed: &Value) -> Option<Value> {
    let open = live_connections(observed);
    let [connection] = open.as_slice() else {
        return None;
    };
    connection["senderTracks"]
        .as_array()?
        .iter()
        .find(|t| t["kind"] == "audio" && t["readyState"] == "live")
        .cloned()
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
    // Both see and hear each other; which connection is Bora's to Alice is
    // read from the connections themselves.
    let alice_before = wait_for_observed(alice, "Alice connected", CONNECT_TIMEOUT, |s| {
        media_flowing(s, 1)
    })
    .await?;
    let connected = |s: &Value| {
        connection_to(s, &alice_before).is_some_and(|c| {
            c["connectionState"] == "connected" && num(&c, "audioPacketsReceived") > 0.0
        })
    };
    let before = wait_for_observed(bora, "Bora to hear Alice", CONNECT_TIMEOUT, connected).await?;
    let bora_call = connection_to(&before, &alice_before).context("Bora's connection to Alice")?;
    let old = sent_microphone(&alice_before).context("Alice sends a live microphone track")?;
    let old_label = old["label"].as_str().unwrap_or_default().to_owned();
    let alice_call = live_connections(&alice_before)[0]["index"].clone();

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

    // Her call now sends the new microphone, on the same connection, and
    // it is the only microphone open in her browser: the old one is
    // released.
    let switched = wait_for_observed(
        alice,
        "Alice's call to send the new microphone, and the old one to close",
        Duration::from_secs(20),
        |s| {
            let live = live_tracks(s, "audio");
            sent_microphone(s).is_some_and(|sent| {
                sent["label"] != old_label.as_str()
                    && live.len() == 1
                    && live[0]["id"] == sent["id"]
                    && live[0]["label"] == sent["label"]
            })
        },
    )
    .await?;
    ensure!(
        connections(&switched).len() == connections(&alice_before).len()
            && live_connections(&switched)[0]["index"] == alice_call,
        "a device switch made a new connection: {switched:#}"
    );

    // Bora keeps hearing her on the same connection.
    let heard = num(&bora_call, "audioPacketsReceived");
    let after = wait_for_observed(bora, "Bora to keep hearing Alice", CONNECT_TIMEOUT, |s| {
        connected(s)
            && connection_to(s, &alice_before)
                .is_some_and(|c| num(&c, "audioPacketsReceived") > heard + 50.0)
    })
    .await?;
    let index = bora_call["index"].as_u64().context("connection index")?;
    ensure!(
        connection_to(&after, &alice_before).is_some_and(|c| c["index"] == bora_call["index"])
            && connection(&after, index).is_some_and(|c| c["closed"] == false)
            && connections(&after).len() == connections(&before).len(),
        "the same connection should carry the call: {after:#}"
    );
    Ok(())
}
