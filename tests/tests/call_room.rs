//! Room calls in real browsers: three headless Chromium sessions with fake
//! cameras and microphones, a real `peercall-signal` server, the real UI.

use std::time::Duration;

use anyhow::{ensure, Result};
use fantoccini::Locator;
use peercall_e2e::{
    all_media_flowing, call_stats, click, room_url, screenshot, stats_peers, type_into, wait_for,
    wait_for_stats, wait_for_text, wait_until, with_browsers, Browser, SignalServer,
};
use serde_json::Value;

/// How long a mesh of fake-media browsers may take to connect on a busy
/// two-core machine.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);
/// The most a whole test may take.
const TEST_LIMIT: Duration = Duration::from_secs(240);

/// Three people join one room by its link: everyone reaches `connected`
/// with everyone else, decodes everyone's video and receives their audio,
/// every ICE candidate sent arrives, a tile per person shows their name,
/// and a chat line typed by one appears for the other two.
#[tokio::test(flavor = "multi_thread")]
async fn three_people_in_a_room_see_hear_and_chat() -> Result<()> {
    let server = SignalServer::start(&[]).await?;
    with_browsers(3, TEST_LIMIT, move |browsers| {
        Box::pin(async move { three_people(&server, browsers).await })
    })
    .await
}

async fn three_people(server: &SignalServer, browsers: &[Browser]) -> Result<()> {
    {
        let names = ["Alice", "Bora", "Chen"];
        for (browser, name) in browsers.iter().zip(names) {
            browser
                .client
                .goto(&room_url(server, "e2e-room", name))
                .await?;
            wait_for(&browser.client, "#call[data-phase='joined']").await?;
        }

        // Everyone decodes everyone.
        let mut all_stats = Vec::new();
        for (browser, name) in browsers.iter().zip(names) {
            let stats = wait_for_stats(
                &browser.client,
                &format!("{name} to receive video and audio from both others"),
                CONNECT_TIMEOUT,
                |s| all_media_flowing(s, 2),
            )
            .await?;
            all_stats.push(stats);
        }

        // Trickle ICE: every candidate one side sent was added by the other.
        // (Gathering may still be finishing: wait for the counts to settle.)
        for (i, browser) in browsers.iter().enumerate() {
            for (j, other) in browsers.iter().enumerate() {
                if i == j {
                    continue;
                }
                let their_id = call_stats(&other.client).await?["myId"].clone();
                let my_id = call_stats(&browser.client).await?["myId"].clone();
                let deadline = std::time::Instant::now() + Duration::from_secs(15);
                loop {
                    let sent = peer_field(
                        &call_stats(&browser.client).await?,
                        &their_id,
                        "candidatesSent",
                    );
                    let added =
                        peer_field(&call_stats(&other.client).await?, &my_id, "candidatesAdded");
                    if sent > 0.0 && sent == added {
                        break;
                    }
                    ensure!(
                        std::time::Instant::now() < deadline,
                        "{} sent {sent} candidates to {}, which added {added}",
                        names[i],
                        names[j]
                    );
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
            }
        }

        // A tile per remote person, with their name, connected.
        for (i, browser) in browsers.iter().enumerate() {
            let client = &browser.client;
            let tiles = client
                .find_all(Locator::Css(
                    ".tile[data-peer-id][data-connection-state='connected']",
                ))
                .await?;
            ensure!(
                tiles.len() == 2,
                "{} sees {} connected tiles",
                names[i],
                tiles.len()
            );
            let text = client.find(Locator::Css(".stage")).await?.text().await?;
            for (j, other) in names.iter().enumerate() {
                if i != j {
                    ensure!(
                        text.contains(other),
                        "{}'s screen doesn't name {other}: {text}",
                        names[i]
                    );
                }
            }
        }
        // Wait a moment so the screenshot shows moving video, not first frames.
        tokio::time::sleep(Duration::from_secs(2)).await;
        screenshot(&browsers[2].client, "call-room-three").await?;
        // The smallest window the app supports stays usable.
        let chen = &browsers[2].client;
        let chrome = chen
            .execute(
                "return [window.outerWidth - window.innerWidth, window.outerHeight - window.innerHeight];",
                vec![],
            )
            .await?;
        let extra = |i: usize| chrome[i].as_u64().unwrap_or(0) as u32;
        chen.set_window_size(640 + extra(0), 480 + extra(1)).await?;
        tokio::time::sleep(Duration::from_millis(600)).await;
        screenshot(chen, "call-room-three-small").await?;
        chen.set_window_size(1280, 800).await?;

        // Chat over the data channels.
        let alice = &browsers[0].client;
        click(alice, "#chat-toggle").await?;
        wait_for(alice, "#chat-panel.open").await?;
        type_into(alice, "#chat-input", "Hello from Alice — café ☕").await?;
        click(alice, "#chat-send").await?;
        wait_until(
            alice,
            "Alice's own line in her chat",
            "[...document.querySelectorAll('.chat-line.mine')].some(l => l.textContent.includes('Hello from Alice'))",
        )
        .await?;
        for (browser, name) in browsers.iter().zip(names).skip(1) {
            let client = &browser.client;
            let unread = wait_for(client, "#chat-unread").await?.text().await?;
            ensure!(
                unread.trim() == "1",
                "{name} has {unread} unread, expected 1"
            );
            click(client, "#chat-toggle").await?;
            wait_until(
                client,
                &format!("Alice's line in {name}'s chat"),
                "[...document.querySelectorAll('.chat-line:not(.mine)')].some(l => l.textContent.includes('Hello from Alice — café ☕') && l.textContent.includes('Alice'))",
            )
            .await?;
        }
        type_into(&browsers[1].client, "#chat-input", "Hi Alice, Bora here").await?;
        click(&browsers[1].client, "#chat-send").await?;
        wait_until(
            &browsers[1].client,
            "Bora's line",
            "document.querySelectorAll('.chat-line').length === 2",
        )
        .await?;
        wait_until(
            &browsers[2].client,
            "Bora's line at Chen",
            "[...document.querySelectorAll('.chat-line')].some(l => l.textContent.includes('Bora here'))",
        )
        .await?;
        screenshot(&browsers[2].client, "call-room-three-chat").await?;
    }
    Ok(())
}

/// `peers[id == id][field]` of a stats snapshot, 0 when absent.
fn peer_field(stats: &Value, id: &Value, field: &str) -> f64 {
    stats_peers(stats)
        .iter()
        .find(|p| p["id"] == *id)
        .and_then(|p| p[field].as_f64())
        .unwrap_or(0.0)
}

/// The signaling server stops mid-call: the call goes on (frames keep being
/// decoded on the same connections), the UI says it is reconnecting, and
/// once the server is back both clients reconnect, find each other under
/// their new ids without a new connection, and a newcomer can join them.
#[tokio::test(flavor = "multi_thread")]
async fn call_survives_a_signaling_restart() -> Result<()> {
    let server = SignalServer::start(&[]).await?;
    with_browsers(3, TEST_LIMIT, move |browsers| {
        Box::pin(signaling_restart(server, browsers))
    })
    .await
}

async fn signaling_restart(server: SignalServer, browsers: &[Browser]) -> Result<()> {
    {
        let port = server.port;
        let (alice, bora, chen) = (
            &browsers[0].client,
            &browsers[1].client,
            &browsers[2].client,
        );
        alice.goto(&room_url(&server, "restart", "Alice")).await?;
        bora.goto(&room_url(&server, "restart", "Bora")).await?;
        let mut before = Vec::new();
        for (client, name) in [(alice, "Alice"), (bora, "Bora")] {
            let stats =
                wait_for_stats(client, &format!("{name} connected"), CONNECT_TIMEOUT, |s| {
                    all_media_flowing(s, 1)
                })
                .await?;
            before.push(stats);
        }

        // The server goes away.
        drop(server);
        for client in [alice, bora] {
            wait_for(client, "#signal-status[data-state='offline']").await?;
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        for ((client, name), before) in [(alice, "Alice"), (bora, "Bora")].into_iter().zip(&before)
        {
            let old = &stats_peers(before)[0];
            wait_for_stats(
                client,
                &format!("{name}'s media to keep flowing without the server"),
                Duration::from_secs(20),
                |s| {
                    let peers = stats_peers(s);
                    peers.len() == 1
                        && peers[0]["key"] == old["key"]
                        && peers[0]["state"] == "connected"
                        && peers[0]["framesDecoded"].as_f64()
                            > Some(old["framesDecoded"].as_f64().unwrap_or(0.0) + 30.0)
                        && peers[0]["audioPacketsReceived"].as_f64()
                            > old["audioPacketsReceived"].as_f64()
                },
            )
            .await?;
        }
        screenshot(alice, "call-signaling-down").await?;

        // It comes back on the same address: both reconnect and re-find each
        // other on the connection they already have.
        let server = SignalServer::start_on(port, &[]).await?;
        for client in [alice, bora] {
            wait_for(client, "#signal-status[data-state='online']").await?;
        }
        let ids = [
            call_stats(alice).await?["myId"].clone(),
            call_stats(bora).await?["myId"].clone(),
        ];
        for (i, (client, name)) in [(alice, "Alice"), (bora, "Bora")].into_iter().enumerate() {
            let old = stats_peers(&before[i])[0].clone();
            let other_id = ids[1 - i].clone();
            ensure!(
                other_id != old["id"],
                "the server gave the same id after a restart"
            );
            wait_for_stats(
                client,
                &format!("{name} to know the other's new id"),
                Duration::from_secs(20),
                |s| {
                    let peers = stats_peers(s);
                    s["phase"] == "joined"
                        && peers.len() == 1
                        && peers[0]["key"] == old["key"]
                        && peers[0]["id"] == other_id
                        && peers[0]["detached"] == false
                        && peers[0]["state"] == "connected"
                        && peers[0]["framesDecoded"].as_f64() > old["framesDecoded"].as_f64()
                },
            )
            .await?;
        }

        // The room works again: a newcomer connects with both.
        chen.goto(&room_url(&server, "restart", "Chen")).await?;
        for (client, name) in [(alice, "Alice"), (bora, "Bora"), (chen, "Chen")] {
            wait_for_stats(
                client,
                &format!("{name} to see everyone after the restart"),
                CONNECT_TIMEOUT,
                |s| all_media_flowing(s, 2),
            )
            .await?;
        }
    }
    Ok(())
}

/// An invite link opened by someone Peercall doesn't know yet stops in a
/// lobby (camera preview, name field); the name is required, then
/// remembered: the next invite goes straight into the call. Alone in the
/// room, the page says so and shows the invite link.
#[tokio::test(flavor = "multi_thread")]
async fn invite_link_asks_for_a_name_once() -> Result<()> {
    let server = SignalServer::start(&[]).await?;
    with_browsers(1, TEST_LIMIT, move |browsers| {
        Box::pin(async move { lobby(&server, browsers).await })
    })
    .await
}

async fn lobby(server: &SignalServer, browsers: &[Browser]) -> Result<()> {
    let client = &browsers[0].client;
    client
        .goto(&format!("{}?room=kfd-mwpa-xzt", server.http_url))
        .await?;
    wait_for(client, "#lobby").await?;
    wait_until(
        client,
        "the camera preview",
        "document.querySelector('#lobby video')?.srcObject?.getVideoTracks().length > 0",
    )
    .await?;
    click(client, "#join-now").await?;
    let error = wait_for(client, "#display-name-error")
        .await?
        .text()
        .await?;
    ensure!(
        error.contains("name"),
        "joining without a name should ask for one: {error}"
    );
    ensure!(
        client.find(Locator::Css("#call")).await.is_err(),
        "joined without a name"
    );
    screenshot(client, "call-lobby").await?;
    type_into(client, "#display-name", "Dana Park").await?;
    click(client, "#join-now").await?;
    wait_for(client, "#call[data-phase='joined']").await?;
    wait_until(
        client,
        "the invite link on the waiting card",
        &format!(
            "document.querySelector('#waiting #invite-link')?.textContent === '{}?room=kfd-mwpa-xzt'",
            server.http_url
        ),
    )
    .await?;
    ensure!(
        wait_for(client, "#room-code").await?.text().await? == "kfd-mwpa-xzt",
        "the room code should show at the top"
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    screenshot(client, "call-waiting-alone").await?;

    // The name was kept: the next invite goes straight in.
    client
        .goto(&format!("{}?room=other-room", server.http_url))
        .await?;
    wait_for(client, "#call[data-phase='joined']").await?;
    ensure!(
        client.find(Locator::Css("#lobby")).await.is_err(),
        "the lobby showed again although the name is known"
    );
    let stats = call_stats(client).await?;
    ensure!(stats["room"] == "other-room", "joined {}", stats["room"]);
    let tile = wait_for(client, ".tile.self .tile-name")
        .await?
        .text()
        .await?;
    ensure!(tile.contains("Dana Park"), "the self view is named {tile}");
    Ok(())
}

/// A room at its cap turns the next person away with a plain message (and
/// their camera is released), while the people inside are unaffected.
#[tokio::test(flavor = "multi_thread")]
async fn a_full_room_says_so() -> Result<()> {
    let server = SignalServer::start(&["--room-capacity", "2"]).await?;
    with_browsers(3, TEST_LIMIT, move |browsers| {
        Box::pin(async move { full_room(&server, browsers).await })
    })
    .await
}

async fn full_room(server: &SignalServer, browsers: &[Browser]) -> Result<()> {
    let (alice, bora, chen) = (
        &browsers[0].client,
        &browsers[1].client,
        &browsers[2].client,
    );
    for (client, name) in [(alice, "Alice"), (bora, "Bora")] {
        client.goto(&room_url(server, "pair", name)).await?;
        wait_for(client, "#call[data-phase='joined']").await?;
    }
    chen.goto(&room_url(server, "pair", "Chen")).await?;
    wait_for(chen, "#call-ended[data-reason='room_full']").await?;
    wait_for_text(chen, "#call-ended h1", "This call is full").await?;
    ensure!(
        call_stats(chen).await?["liveTracks"] == 0,
        "turned away but the camera is still open"
    );
    for (client, name) in [(alice, "Alice"), (bora, "Bora")] {
        wait_for_stats(
            client,
            &format!("{name} still in the call"),
            CONNECT_TIMEOUT,
            |s| all_media_flowing(s, 1),
        )
        .await?;
    }
    screenshot(chen, "call-room-full").await?;
    Ok(())
}
