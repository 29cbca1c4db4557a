//! Room calls in real browsers: three headless Chromium sessions with fake
//! cameras and microphones, a real `peercall-signal` server, the real UI.

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use fantoccini::Locator;
use peercall_e2e::{
    click, connection, connection_to, connections, live_connections, media_flowing,
    my_signaling_id, num, observed, plays_from, room_url, screenshot, tile_track_ids, type_into,
    wait_for, wait_for_observed, wait_for_text, wait_until, with_browsers, Browser, SignalServer,
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

        // Everyone decodes everyone, on exactly one connection per other person.
        let mut seen = Vec::new();
        for (browser, name) in browsers.iter().zip(names) {
            let snapshot = wait_for_observed(
                &browser.client,
                &format!("{name} to receive video and audio from both others"),
                CONNECT_TIMEOUT,
                |s| media_flowing(s, 2),
            )
            .await?;
            seen.push(snapshot);
        }
        // Those connections pair up: each of a browser's two connections
        // ends at one of the other two browsers.
        for (i, name) in names.iter().enumerate() {
            for (j, other) in names.iter().enumerate() {
                if i != j {
                    ensure!(
                        connection_to(&seen[i], &seen[j]).is_some(),
                        "{name} has no connection to {other}: {:#}",
                        seen[i]
                    );
                }
            }
        }

        // Trickle ICE: every candidate one browser gathered on its
        // connection to another was added by the other's browser on its
        // connection back. (Gathering may still be finishing: wait for the
        // counts to settle.)
        for (i, browser) in browsers.iter().enumerate() {
            for (j, other) in browsers.iter().enumerate() {
                if i == j {
                    continue;
                }
                let deadline = std::time::Instant::now() + Duration::from_secs(15);
                loop {
                    let (mine, theirs) = (
                        observed(&browser.client).await?,
                        observed(&other.client).await?,
                    );
                    let to_them = connection_to(&mine, &theirs);
                    let from_me = connection_to(&theirs, &mine);
                    let gathered = to_them
                        .as_ref()
                        .map_or(0.0, |c| num(c, "candidatesGathered"));
                    let added = from_me.as_ref().map_or(0.0, |c| num(c, "candidatesAdded"));
                    if gathered > 0.0 && gathered == added {
                        break;
                    }
                    ensure!(
                        std::time::Instant::now() < deadline,
                        "{}'s browser gathered {gathered} candidates for {}, whose browser added {added}",
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
            let mine = observed(client).await?;
            for (j, other) in names.iter().enumerate() {
                if i != j {
                    ensure!(
                        text.contains(other),
                        "{}'s screen doesn't name {other}: {text}",
                        names[i]
                    );
                    // The tile with their name plays what arrives from them.
                    let theirs = observed(&browsers[j].client).await?;
                    let from_them = connection_to(&mine, &theirs)
                        .with_context(|| format!("{}'s connection from {other}", names[i]))?;
                    let tracks = tile_track_ids(client, other).await?;
                    ensure!(
                        plays_from(&tracks, &from_them),
                        "{}'s tile named {other} plays {tracks:?}, not what arrives from {other}: {from_them:#}",
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
    let port = server.port;
    let (alice, bora, chen) = (
        &browsers[0].client,
        &browsers[1].client,
        &browsers[2].client,
    );
    let pair = [(alice, "Alice"), (bora, "Bora")];
    alice.goto(&room_url(&server, "restart", "Alice")).await?;
    bora.goto(&room_url(&server, "restart", "Bora")).await?;
    let mut before = Vec::new();
    for (client, name) in pair {
        let snapshot =
            wait_for_observed(client, &format!("{name} connected"), CONNECT_TIMEOUT, |s| {
                media_flowing(s, 1)
            })
            .await?;
        before.push(snapshot);
    }
    // The one connection each browser has, carrying the other's media, and
    // the ids the server gave them.
    let mut call = Vec::new();
    let mut old_ids = Vec::new();
    for i in 0..2 {
        let c = connection_to(&before[i], &before[1 - i])
            .with_context(|| format!("{}'s connection to the other", pair[i].1))?;
        call.push(c["index"].as_u64().context("connection index")?);
        old_ids.push(my_signaling_id(&before[i]).context("a signaling id")?);
    }
    let created: Vec<usize> = before.iter().map(|s| connections(s).len()).collect();
    // The same connection, still up, and no other connection made.
    let same_call = |s: &Value, i: usize| {
        connections(s).len() == created[i]
            && connection(s, call[i])
                .is_some_and(|c| c["closed"] == false && c["connectionState"] == "connected")
    };

    // The server goes away.
    drop(server);
    for client in [alice, bora] {
        wait_for(client, "#signal-status[data-state='offline']").await?;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut offline = Vec::new();
    for (i, (client, name)) in pair.into_iter().enumerate() {
        let old = connection(&before[i], call[i]).context("the call's connection")?;
        let snapshot = wait_for_observed(
            client,
            &format!("{name}'s media to keep flowing without the server"),
            Duration::from_secs(20),
            |s| {
                same_call(s, i)
                    && connection(s, call[i]).is_some_and(|c| {
                        num(&c, "framesDecoded") > num(&old, "framesDecoded") + 30.0
                            && num(&c, "audioPacketsReceived") > num(&old, "audioPacketsReceived")
                    })
            },
        )
        .await?;
        offline.push(snapshot);
    }
    screenshot(alice, "call-signaling-down").await?;

    // It comes back on the same address: both reconnect under new ids and
    // re-find each other on the connection they already have.
    let server = SignalServer::start_on(port, &[]).await?;
    for client in [alice, bora] {
        wait_for(client, "#signal-status[data-state='online']").await?;
    }
    let mut new_ids = Vec::new();
    for (i, (client, name)) in pair.into_iter().enumerate() {
        let old_id = old_ids[i].clone();
        let snapshot = wait_for_observed(
            client,
            &format!("{name}'s browser to get a new signaling id"),
            Duration::from_secs(20),
            |s| my_signaling_id(s).is_some_and(|id| id != old_id),
        )
        .await?;
        new_ids.push(my_signaling_id(&snapshot).context("a signaling id")?);
    }
    for (i, (client, name)) in pair.into_iter().enumerate() {
        let other_id = &new_ids[1 - i];
        // The page shows the other person, under their new id, connected.
        wait_for(client, "#call[data-phase='joined']").await?;
        wait_for(
            client,
            &format!(".tile[data-peer-id='{other_id}'][data-connection-state='connected']"),
        )
        .await
        .with_context(|| format!("{name}'s page never showed the other under their new id"))?;
        let tiles = client.find_all(Locator::Css(".tile[data-peer-id]")).await?;
        ensure!(tiles.len() == 1, "{name} sees {} remote tiles", tiles.len());
        // On the connection they had, which keeps decoding.
        let old = connection(&offline[i], call[i]).context("the call's connection")?;
        wait_for_observed(
            client,
            &format!("{name}'s call to go on on the same connection"),
            Duration::from_secs(20),
            |s| {
                same_call(s, i)
                    && connection(s, call[i])
                        .is_some_and(|c| num(&c, "framesDecoded") > num(&old, "framesDecoded"))
            },
        )
        .await?;
    }

    // The room works again: a newcomer connects with both, and Alice and
    // Bora still talk over the connection they had.
    chen.goto(&room_url(&server, "restart", "Chen")).await?;
    let mut after = Vec::new();
    for (client, name) in [(alice, "Alice"), (bora, "Bora"), (chen, "Chen")] {
        let snapshot = wait_for_observed(
            client,
            &format!("{name} to see everyone after the restart"),
            CONNECT_TIMEOUT,
            |s| media_flowing(s, 2),
        )
        .await?;
        after.push(snapshot);
    }
    for i in 0..2 {
        let between = connection_to(&after[i], &after[1 - i])
            .with_context(|| format!("{}'s connection to the other", pair[i].1))?;
        ensure!(
            between["index"].as_u64() == Some(call[i])
                && connections(&after[i]).len() == created[i] + 1,
            "{} reconnected to the other on a new connection: {:#}",
            pair[i].1,
            after[i]
        );
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
    let room = wait_for(client, "#room-code").await?.text().await?;
    ensure!(room == "other-room", "joined {room}");
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
    let turned_away = observed(chen).await?;
    ensure!(
        turned_away["liveTracks"] == 0 && live_connections(&turned_away).is_empty(),
        "turned away but the camera (or a connection) is still open: {turned_away:#}"
    );
    for (client, name) in [(alice, "Alice"), (bora, "Bora")] {
        wait_for_observed(
            client,
            &format!("{name} still in the call"),
            CONNECT_TIMEOUT,
            |s| media_flowing(s, 1),
        )
        .await?;
    }
    screenshot(chen, "call-room-full").await?;
    Ok(())
}
