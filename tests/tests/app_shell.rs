//! The real desktop app under Xvfb, driven through tauri-driver + WebKitWebDriver.

use anyhow::{ensure, Context, Result};
use fantoccini::Locator;
use peercall_e2e::{
    click, http_get, opened_url, recording_browser, signaling_welcome, wait_for, wait_for_text,
    without_native_engine, App, AppOptions,
};

/// The home screen renders, the embedded server answers on the port the UI
/// was told, and on this machine's WebKitGTK (no RTCPeerConnection), with
/// the native engine's GStreamer plugins out of reach, the app says so
/// (Settings → About names what is missing) and carries the call to the
/// system browser, on a page its own server serves.
#[tokio::test(flavor = "multi_thread")]
async fn home_screen_embedded_server_and_browser_fallback() -> Result<()> {
    // Stand-in for the system browser, registered the way a desktop
    // registers one; it records what the app asked to open.
    let (opened, mut env) = recording_browser()?;
    env.extend(without_native_engine());
    let app = App::launch(AppOptions {
        env,
        ..AppOptions::default()
    })
    .await?;
    let client = &app.client;

    // The home screen, with its main actions.
    let home = wait_for(client, "#home").await?;
    wait_for(client, "#start-call").await?;
    wait_for(client, "#join-input").await?;

    // The embedded server: the UI was told a URL, and a client connecting
    // there gets the signaling welcome.
    let status = wait_for(client, "#server-status[data-state='ready']").await?;
    let ws_url = status
        .attr("data-ws-url")
        .await?
        .context("the UI shows no server URL")?;
    ensure!(
        ws_url == format!("ws://127.0.0.1:{}/", app.preferred_port),
        "the app should listen on its preferred port, the UI says {ws_url}"
    );
    let welcome = signaling_welcome(&ws_url).await?;
    ensure!(welcome["type"] == "join", "unexpected welcome {welcome:?}");
    ensure!(
        welcome["id"].as_str().is_some_and(|id| !id.is_empty()),
        "welcome has no peer id: {welcome:?}"
    );

    // The same server serves the app's own UI for the browser fallback.
    let (code, content_type, body) = http_get(app.preferred_port, "/").await?;
    ensure!(code == 200, "GET / answered {code}");
    ensure!(
        content_type.starts_with("text/html"),
        "GET / is {content_type}"
    );
    ensure!(
        String::from_utf8_lossy(&body).contains("boot.js"),
        "GET / is not the Peercall UI"
    );
    let (code, content_type, _) = http_get(app.preferred_port, "/peercall_ui_bg.wasm").await?;
    ensure!(
        code == 200 && content_type == "application/wasm",
        "wasm: {code} {content_type}"
    );

    // This WebKitGTK has no WebRTC: a plain notice and the browser action.
    ensure!(
        home.attr("data-webrtc").await?.as_deref() == Some("false"),
        "WebKitGTK was expected to lack RTCPeerConnection on this machine"
    );
    let notice = wait_for(client, "#webrtc-notice").await?;
    ensure!(
        notice.text().await?.contains("browser"),
        "the notice does not mention the browser"
    );
    wait_for(client, "#open-in-browser").await?;
    app.capture_screen("app-home")?;

    // "Start a call" opens the call in the system browser, at a room on the
    // embedded server's loopback page.
    client
        .find(Locator::Css("#start-call"))
        .await?
        .click()
        .await?;
    let url = opened_url(&opened, 0).await?;
    let expected = format!("http://127.0.0.1:{}/?room=", app.preferred_port);
    ensure!(
        url.starts_with(&expected),
        "opened {url}, expected {expected}…"
    );
    wait_for(client, ".notice-outcome.ok").await?;
    app.capture_screen("app-home-opened-browser")?;

    // Settings → About says where calls run, and why.
    click(client, "#open-settings").await?;
    wait_for_text(client, "#call-engine[data-engine='browser']", "browser").await?;
    wait_for_text(client, "#call-engine-why", "webrtcbin").await?;

    app.quit().await
}
