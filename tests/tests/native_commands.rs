//! The native call engine's commands in the real app (WebKitGTK, fake
//! media): called from the app's own page through Tauri's IPC, as the UI
//! will call them, with events read by a long poll (`native_events`) and the
//! preview's frames read from the frames WebSocket. (Calls with a browser
//! are `native_engine.rs`; this checks the shell's wiring: commands
//! registered and granted, the events, typed errors, hang-up.)
#![cfg(target_os = "linux")]

use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use futures_util::StreamExt;
use peercall_e2e::{wait_for, App, AppOptions};
use peercall_signal::shell::native::{FrameFormat, FrameHeader, StreamId};
use serde_json::Value;

/// Runs `body` (an async JavaScript function body with `ipc` and
/// `window.nativeEvents` in scope) in the page and answers its result.
async fn in_page(app: &App, body: &str) -> Result<Value> {
    let script = format!(
        "const done = arguments[arguments.length - 1];
         const ipc = window.__TAURI_INTERNALS__;
         (async () => {{ {body} }})().then(done, (e) => done({{ failed: JSON.stringify(e) || String(e) }}));"
    );
    let value = app.client.execute_async(&script, vec![]).await?;
    ensure!(
        value.get("failed").is_none(),
        "the page's calls failed: {value}"
    );
    Ok(value)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_drives_the_native_engine_through_its_commands() -> Result<()> {
    let app = App::launch(AppOptions {
        env: vec![("PEERCALL_FAKE_MEDIA".to_owned(), "1".to_owned())],
        ..AppOptions::default()
    })
    .await?;
    let outcome = scenario(&app).await;
    let _ = app.quit().await;
    outcome
}

async fn scenario(app: &App) -> Result<()> {
    wait_for(&app.client, "#home").await?;
    app.client
        .update_timeouts(fantoccini::wd::TimeoutConfiguration::new(
            None,
            None,
            Some(Duration::from_secs(30)),
        ))
        .await?;

    let opened = in_page(
        app,
        r#"
        window.nativeEvents = [];
        const support = await ipc.invoke('native_availability', { args: {} });
        const devices = await ipc.invoke('native_devices', { args: {} });
        const attached = await ipc.invoke('native_attach', { args: {} });
        const frames = attached.frames;
        // Reads the events as the page does: one long poll at a time.
        window.nativeReader = (async () => {
          for (;;) {
            try {
              const batch = await ipc.invoke('native_events', { args: { attachment: attached.events } });
              window.nativeEvents.push(...batch);
            } catch (e) {
              return e;
            }
          }
        })();
        const media = await ipc.invoke('native_set_media', {
          args: {
            camera: null, microphone: null, video: true, audio: true, mic_muted: false,
            format: { width: 640, height: 480, frame_rate: 30 },
            processing: { echo_cancellation: true, noise_suppression: true, auto_gain: true },
          },
        });
        return { support, devices, frames, media };
        "#,
    )
    .await?;
    ensure!(
        opened["support"]["state"] == "ready",
        "the native engine is not available: {opened}"
    );
    ensure!(
        opened["devices"].as_array().map(Vec::len) == Some(2),
        "the fake camera and microphone are not listed: {opened}"
    );
    ensure!(
        opened["media"]["preview"] == StreamId::LOCAL.0
            && opened["media"]["camera"]["id"] == "fake-camera"
            && opened["media"]["microphone"]["id"] == "fake-microphone",
        "the fake devices did not open: {opened}"
    );

    // The preview's frames, with the secret.
    let url = opened["frames"]["url"].as_str().context("no frames URL")?;
    ensure!(url.starts_with("ws://127.0.0.1:"), "frames from {url}");
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut previews = 0;
    while previews < 10 {
        let message = tokio::time::timeout_at(deadline.into(), socket.next())
            .await
            .context("fewer than 10 preview frames in 10 s")?
            .context("the frames socket closed")??;
        let data = message.into_data();
        let (header, picture) = FrameHeader::decode(&data).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        if header.stream == StreamId::LOCAL
            && header.format == FrameFormat::Jpeg
            && picture.starts_with(&[0xFF, 0xD8])
        {
            previews += 1;
        }
    }

    // A peer offers: its description and candidates come back as
    // events; a peer the engine doesn't hold is a typed error; hanging up
    // closes everything.
    let call = in_page(
        app,
        r#"
        await ipc.invoke('native_peer_open', { args: { peer: 1, ice_servers: [], offer: true } });
        const deadline = Date.now() + 10000;
        const has = (type) => window.nativeEvents.some((e) => e.type === type);
        while (!(has('local_description') && has('local_candidate')) && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 50));
        }
        let unknown = null;
        try {
          await ipc.invoke('native_peer_send', { args: { peer: 9, text: 'hello' } });
        } catch (e) {
          unknown = e;
        }
        await ipc.invoke('native_peer_close', { args: { peer: 1 } });
        await ipc.invoke('native_close_media', { args: {} });
        const events = window.nativeEvents.slice();
        // A page attaching again (a reload) ends the earlier reader.
        await ipc.invoke('native_attach', { args: {} });
        const ended = await Promise.race([
          window.nativeReader,
          new Promise((r) => setTimeout(() => r('still reading'), 5000)),
        ]);
        return { events, unknown, ended };
        "#,
    )
    .await?;
    let events = call["events"].as_array().context("no events")?;
    let offer = events
        .iter()
        .find(|e| e["type"] == "local_description")
        .with_context(|| format!("no local description among the events: {call}"))?;
    ensure!(
        offer["peer"] == 1
            && offer["description"]["type"] == "offer"
            && offer["description"]["sdp"]
                .as_str()
                .is_some_and(|sdp| sdp.contains("VP8/90000") && sdp.contains("webrtc-datachannel")),
        "not an offer with VP8 and the data channel: {offer}"
    );
    ensure!(
        events
            .iter()
            .any(|e| e["type"] == "local_candidate" && e["candidate"]["sdpMLineIndex"].is_u64()),
        "no candidate among the events: {call}"
    );
    ensure!(
        call["unknown"]["kind"] == "native",
        "sending to an unknown peer is not a typed error: {call}"
    );
    ensure!(
        call["ended"]["kind"] == "native",
        "attaching again did not end the earlier reader with a typed error: {call}"
    );

    // After hang-up no frame arrives (one already in flight is let go).
    let drain_until = tokio::time::Instant::now() + Duration::from_millis(500);
    while tokio::time::timeout_at(drain_until, socket.next())
        .await
        .is_ok_and(|m| m.is_some())
    {}
    let silent = tokio::time::timeout(Duration::from_secs(2), socket.next()).await;
    ensure!(
        silent.is_err(),
        "frames keep coming after hang-up: {silent:?}"
    );
    Ok(())
}
