//! Perfect negotiation and ICE restarts, in real browsers: both sides of a
//! call restart ICE at the same instant, so their offers cross on the wire
//! (glare). Neither may deadlock: one side rolls its offer back, ICE
//! restarts with fresh credentials, the same connection carries on.

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use peercall_e2e::{
    connection, connections, live_connections, media_flowing, num, observed, room_url, wait_for,
    wait_for_observed, with_browsers, Browser, SignalServer,
};
use serde_json::Value;

const ROUNDS: usize = 4;

#[tokio::test(flavor = "multi_thread")]
async fn simultaneous_ice_restarts_never_deadlock() -> Result<()> {
    let server = SignalServer::start(&[]).await?;
    with_browsers(2, Duration::from_secs(240), move |browsers| {
        Box::pin(async move { glare(&server, browsers).await })
    })
    .await
}

/// Offers rolled back on every connection of a page: each is a collision
/// (the other side's offer crossed ours) resolved by the polite side.
fn rollbacks(observed: &Value) -> f64 {
    connections(observed)
        .iter()
        .map(|c| num(c, "rollbacks"))
        .sum()
}

/// At `at` (the page's `Date.now()` clock), restart ICE on every open
/// connection of the page, as the browser's own `restartIce()`: what the
/// app does when a connection fails.
const RESTART_AT: &str = "
    setTimeout(() => {
        for (const c of window.__observedState.connections) {
            if (c.pc.connectionState !== 'closed') c.pc.restartIce();
        }
    }, arguments[0] - Date.now());";

async fn glare(server: &SignalServer, browsers: &[Browser]) -> Result<()> {
    let clients = [&browsers[0].client, &browsers[1].client];
    for (client, name) in clients.iter().zip(["Alice", "Bora"]) {
        client.goto(&room_url(server, "glare", name)).await?;
        wait_for(client, "#call[data-phase='joined']").await?;
    }
    let mut start = Vec::new();
    for client in clients {
        let snapshot = wait_for_observed(client, "media both ways", Duration::from_secs(60), |s| {
            media_flowing(s, 1)
        })
        .await?;
        start.push(snapshot);
    }
    // Each side's one connection, for the whole test.
    let call: Vec<u64> = start
        .iter()
        .map(|s| {
            live_connections(s)[0]["index"]
                .as_u64()
                .context("connection index")
        })
        .collect::<Result<_>>()?;
    let created: Vec<usize> = start.iter().map(|s| connections(s).len()).collect();
    let rolled_back_before: f64 = start.iter().map(rollbacks).sum();

    let mut collisions = 0.0;
    for round in 1..=ROUNDS {
        let mut before = Vec::new();
        for (i, client) in clients.iter().enumerate() {
            before.push(connection(&observed(client).await?, call[i]).context("the connection")?);
        }
        // Both pages share this machine's clock: fire at the same instant.
        let now = clients[0].execute("return Date.now();", vec![]).await?;
        let at = now.as_f64().unwrap_or(0.0) + 600.0;
        for client in clients {
            client.execute(RESTART_AT, vec![Value::from(at)]).await?;
        }
        for (i, client) in clients.iter().enumerate() {
            let old = &before[i];
            wait_for_observed(
                client,
                &format!("round {round}: the restart to complete on side {i}"),
                Duration::from_secs(30),
                |s| {
                    connections(s).len() == created[i]
                        && connection(s, call[i]).is_some_and(|c| {
                            c["closed"] == false
                                && c["connectionState"] == "connected"
                                && c["signalingState"] == "stable"
                                && c["remoteUfrag"] != old["remoteUfrag"]
                                && c["localUfrag"] != old["localUfrag"]
                                && num(&c, "framesDecoded") > num(old, "framesDecoded") + 15.0
                                && num(&c, "audioPacketsReceived")
                                    > num(old, "audioPacketsReceived")
                        })
                },
            )
            .await?;
        }
        let mut rolled_back = 0.0;
        for client in clients {
            rolled_back += rollbacks(&observed(client).await?);
        }
        collisions = rolled_back - rolled_back_before;
        println!("round {round}: {collisions} colliding offers so far, all resolved");
        if collisions > 0.0 && round >= 2 {
            break;
        }
    }
    ensure!(
        collisions > 0.0,
        "{ROUNDS} simultaneous restarts and the offers never collided: the test didn't exercise glare"
    );
    Ok(())
}
