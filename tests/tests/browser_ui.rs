//! The same UI, served over HTTP by the real signaling server, in headless
//! Chromium with fake media devices.

use anyhow::{ensure, Context, Result};
use fantoccini::Locator;
use peercall_e2e::{screenshot, wait_for, Browser, SignalServer};

/// The home screen renders in a plain tab, finds its server from the page
/// address, and detects WebRTC as present (so no fallback notice).
#[tokio::test(flavor = "multi_thread")]
async fn home_screen_in_chromium_detects_webrtc() -> Result<()> {
    let server = SignalServer::start(&[]).await?;
    let browser = Browser::launch().await?;
    let client = &browser.client;
    client.goto(&server.http_url).await?;

    let home = wait_for(client, "#home").await?;
    ensure!(
        home.attr("data-webrtc").await?.as_deref() == Some("true"),
        "Chromium has WebRTC, the UI should detect it"
    );
    let status = wait_for(client, "#server-status[data-state='ready']").await?;
    let ws_url = status.attr("data-ws-url").await?.context("no server URL")?;
    ensure!(
        ws_url == server.ws_url,
        "UI derived {ws_url}, server is {}",
        server.ws_url
    );
    ensure!(
        client.find(Locator::Css("#webrtc-notice")).await.is_err(),
        "no fallback notice where WebRTC works"
    );
    ensure!(
        wait_for(client, "#start-call").await?.is_enabled().await?,
        "Start a call is enabled once the server is known"
    );
    screenshot(client, "browser-home").await?;

    // A join with nothing usable gets a clear message next to the field.
    client
        .find(Locator::Css("#join-button"))
        .await?
        .click()
        .await?;
    let error = wait_for(client, "#join-error").await?;
    ensure!(
        error.text().await?.contains("room code"),
        "the join error should say what to type"
    );
    browser.client.close().await?;
    Ok(())
}
