//! A call between two people whose browsers reach different instances of
//! the signaling server, sharing rooms through a real `redis-server`
//! (`--redis`): headless Chromium with fake devices, the real UI and
//! binaries.

use std::time::Duration;

use anyhow::{ensure, Result};
use peercall_e2e::{
    connection_to, media_flowing, room_url, wait_for, wait_for_observed, with_browsers, Browser,
    RedisServer, SignalServer,
};

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
