//! Calls between people whose browsers reach different instances of the
//! signaling server, sharing rooms through a real `redis-server`
//! (`--redis`): headless Chromium with fake devices, the real UI and
//! binaries. One call across two instances; one that goes on when an
//! instance dies.

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use fantoccini::Locator;
use peercall_e2e::{
    connection, connection_to, connections, media_flowing, my_signaling_id, num, room_url,
    wait_for, wait_for_observed, with_browsers, Browser, RedisServer, SignalServer,
};
use serde_json::Value;

/// How long fake-media browsers may take to connect on a busy machine.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);
/// The most the whole test may take.
const TEST_LIMIT: Duration = Duration::from_secs(180);

/// Alice's page comes from one instance, Bora's from another; each page
/// signals through the instance that served it. They meet in one room and
/// each decodes the other's video and receives their audio.
#[tokio::test(flavor = "multi_thread")]
async fn two_people_on_different_instances_have_a_call() -> Result<()> {
    let redis = RedisServer::start().await?;
    let first = SignalServer::start(&["--redis", &redis.url]).await?;
    let second = SignalServer::start(&["--redis", &redis.url]).await?;
    with_browsers(2, TEST_LIMIT, move |browsers| {
        Box::pin(async move {
            let result = call(&first, &second, browsers).await;
            drop(redis);
            result
        })
    })
    .await
}

async fn call(first: &SignalServer, second: &SignalServer, browsers: &[Browser]) -> Result<()> {
    let pages = [
        room_url(first, "scale-out", "Alice"),
        room_url(second, "scale-out", "Bora"),
    ];
    for (browser, page) in browsers.iter().zip(&pages) {
        browser.client.goto(page).await?;
        wait_for(&browser.client, "#call[data-phase='joined']").await?;
    }
    let mut seen = Vec::new();
    for (browser, name) in browsers.iter().zip(["Alice", "Bora"]) {
        let snapshot = wait_for_observed(
            &browser.client,
            &format!("{name} to receive video and audio from the other"),
            CONNECT_TIMEOUT,
            |s| media_flowing(s, 1),
        )
        .await?;
        seen.push(snapshot);
    }
    ensure!(
        connection_to(&seen[0], &seen[1]).is_some(),
        "Alice's connection does not end at Bora's: {:#}",
        seen[0]
    );
    // Each page signalled through its own instance, and only through it.
    for (snapshot, server) in seen.iter().zip([first, second]) {
        let sockets = snapshot["sockets"].as_array().cloned().unwrap_or_default();
        let port = format!(":{}/", server.port);
        ensure!(
            !sockets.is_empty()
                && sockets
                    .iter()
                    .all(|s| s["url"].as_str().is_some_and(|u| u.contains(&port))),
            "signalling sockets {sockets:?} are not all to {}",
            server.ws_url
        );
    }
    Ok(())
}

/// Alice's instance dies (SIGKILL: no goodbye) in the middle of a call
/// with Bora, who is on another instance. Bora's instance hears it through
/// Redis; their media keeps flowing. When Alice's instance is back, she
/// reconnects under a new id and the two re-find each other on the
/// connection they already had, as after a single server's restart.
#[tokio::test(flavor = "multi_thread")]
async fn a_call_goes_on_when_an_instance_dies() -> Result<()> {
    let redis = RedisServer::start().await?;
    let first = SignalServer::start(&["--redis", &redis.url]).await?;
    let second = SignalServer::start(&["--redis", &redis.url]).await?;
    with_browsers(2, TEST_LIMIT, move |browsers| {
        Box::pin(async move {
            let result = instance_dies(first, &second, &redis.url, browsers).await;
            drop(redis);
            result
        })
    })
    .await
}

async fn instance_dies(
    first: SignalServer,
    second: &SignalServer,
    redis: &str,
    browsers: &[Browser],
) -> Result<()> {
    let (alice, bora) = (&browsers[0].client, &browsers[1].client);
    let pair = [(alice, "Alice"), (bora, "Bora")];
    alice.goto(&room_url(&first, "failover", "Alice")).await?;
    bora.goto(&room_url(second, "failover", "Bora")).await?;
    let mut before = Vec::new();
    for (client, name) in pair {
        let snapshot =
            wait_for_observed(client, &format!("{name} connected"), CONNECT_TIMEOUT, |s| {
                media_flowing(s, 1)
            })
            .await?;
        before.push(snapshot);
    }
    let mut call = Vec::new();
    let mut old_ids = Vec::new();
    for i in 0..2 {
        let c = connection_to(&before[i], &before[1 - i])
            .with_context(|| format!("{}'s connection to the other", pair[i].1))?;
        call.push(c["index"].as_u64().context("connection index")?);
        old_ids.push(my_signaling_id(&before[i]).context("a signaling id")?);
    }
    let created: Vec<usize> = before.iter().map(|s| connections(s).len()).collect();
    let same_call = |s: &Value, i: usize| {
        connections(s).len() == created[i]
            && connection(s, call[i])
                .is_some_and(|c| c["closed"] == false && c["connectionState"] == "connected")
    };

    // Alice's instance dies.
    let port = first.port;
    std::process::Command::new("kill")
        .args(["-9", &first.process.pid().to_string()])
        .status()?;
    drop(first);
    wait_for(alice, "#signal-status[data-state='offline']").await?;
    // Bora's page still shows Alice, and their media keeps flowing while
    // Bora's instance takes the dead one's members out (within seconds).
    tokio::time::sleep(Duration::from_secs(4)).await;
    for (i, (client, name)) in pair.into_iter().enumerate() {
        let old = connection(&before[i], call[i]).context("the call's connection")?;
        wait_for_observed(
            client,
            &format!("{name}'s media to keep flowing"),
            Duration::from_secs(20),
            |s| {
                same_call(s, i)
                    && connection(s, call[i])
                        .is_some_and(|c| num(&c, "framesDecoded") > num(&old, "framesDecoded"))
            },
        )
        .await?;
    }

    // It comes back (a restart, or the load balancer's next instance):
    // Alice rejoins under a new id and both keep the connection they had.
    let first = SignalServer::start_on(port, &["--redis", redis]).await?;
    wait_for(alice, "#signal-status[data-state='online']").await?;
    let alice_old = old_ids[0].clone();
    let snapshot = wait_for_observed(
        alice,
        "Alice's browser to get a new signaling id",
        Duration::from_secs(20),
        |s| my_signaling_id(s).is_some_and(|id| id != alice_old),
    )
    .await?;
    let alice_new = my_signaling_id(&snapshot).context("a signaling id")?;
    let ids = [alice_new, old_ids[1].clone()];
    for (i, (client, name)) in pair.into_iter().enumerate() {
        let other = &ids[1 - i];
        wait_for(
            client,
            &format!(".tile[data-peer-id='{other}'][data-connection-state='connected']"),
        )
        .await
        .with_context(|| format!("{name}'s page never showed the other as {other}"))?;
        let tiles = client.find_all(Locator::Css(".tile[data-peer-id]")).await?;
        ensure!(tiles.len() == 1, "{name} sees {} remote tiles", tiles.len());
        let now = wait_for_observed(
            client,
            &format!("{name}'s call to go on on the same connection"),
            Duration::from_secs(20),
            |s| same_call(s, i),
        )
        .await?;
        let old = connection(&now, call[i]).context("the call's connection")?;
        wait_for_observed(
            client,
            &format!("{name} to keep decoding on it"),
            Duration::from_secs(20),
            |s| {
                same_call(s, i)
                    && connection(s, call[i])
                        .is_some_and(|c| num(&c, "framesDecoded") > num(&old, "framesDecoded"))
            },
        )
        .await?;
    }
    drop(first);
    Ok(())
}
