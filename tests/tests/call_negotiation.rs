//! Perfect negotiation and ICE restarts, in real browsers: both sides of a
//! call restart ICE at the same instant, so their offers cross on the wire
//! (glare). Neither may deadlock: one side rolls its offer back, ICE
//! restarts with fresh credentials, the same connection carries on.

use std::time::Duration;

use anyhow::{ensure, Result};
use peercall_e2e::{
    all_media_flowing, call_stats, room_url, stats_peers, wait_for, wait_for_stats, with_browsers,
    Browser, SignalServer,
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

fn peer(stats: &Value) -> Value {
    stats_peers(stats).first().cloned().unwrap_or_default()
}

async fn glare(server: &SignalServer, browsers: &[Browser]) -> Result<()> {
    let clients = [&browsers[0].client, &browsers[1].client];
    for (client, name) in clients.iter().zip(["Alice", "Bora"]) {
        client.goto(&room_url(server, "glare", name)).await?;
        wait_for(client, "#call[data-phase='joined']").await?;
    }
    for client in clients {
        wait_for_stats(client, "media both ways", Duration::from_secs(60), |s| {
            all_media_flowing(s, 1)
        })
        .await?;
    }

    let mut collisions = 0.0;
    for round in 1..=ROUNDS {
        let before: Vec<Value> = [
            peer(&call_stats(clients[0]).await?),
            peer(&call_stats(clients[1]).await?),
        ]
        .into();
        // Both pages share this machine's clock: fire at the same instant.
        let now = clients[0].execute("return Date.now();", vec![]).await?;
        let at = now.as_f64().unwrap_or(0.0) + 600.0;
        for client in clients {
            client
                .execute(
                    "setTimeout(() => window.__peercall.restartIce(), arguments[0] - Date.now());",
                    vec![Value::from(at)],
                )
                .await?;
        }
        for (i, client) in clients.iter().enumerate() {
            let old = &before[i];
            wait_for_stats(
                client,
                &format!("round {round}: the restart to complete on side {i}"),
                Duration::from_secs(30),
                |s| {
                    let p = peer(s);
                    p["key"] == old["key"]
                        && p["state"] == "connected"
                        && p["remoteUfrag"] != old["remoteUfrag"]
                        && p["iceRestarts"].as_u64() > old["iceRestarts"].as_u64()
                        && p["framesDecoded"].as_f64()
                            > Some(old["framesDecoded"].as_f64().unwrap_or(0.0) + 15.0)
                        && p["audioPacketsReceived"].as_f64() > old["audioPacketsReceived"].as_f64()
                },
            )
            .await?;
        }
        collisions = 0.0;
        for client in clients {
            collisions += peer(&call_stats(client).await?)["collisions"]
                .as_f64()
                .unwrap_or(0.0);
        }
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
