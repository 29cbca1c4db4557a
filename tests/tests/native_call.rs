//! The desktop app on its own engine: on this machine's WebKitGTK (no
//! WebRTC) the shell's GStreamer engine carries the call inside the app's
//! window, with test sources for camera and microphone
//! (`PEERCALL_FAKE_MEDIA=1`), against a headless Chromium participant in
//! the same room on the app's embedded server. Everything is observed from
//! outside: Chromium's own `getStats()` (through the observer), the app's
//! page (tiles, the frames its canvases drew), and the threads and
//! processes of the app in `/proc`.

#![cfg(target_os = "linux")]

use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use fantoccini::{Client, Locator};
use peercall_e2e::native::{
    canvas_drawing, engine_processes, keeps_drawing, start_call_with_chromium,
    with_app_and_chromium,
};
use peercall_e2e::{
    click, connection, connections, live_connections, media_flowing, num, observed, room_url,
    screenshot, type_into, wait_for, wait_for_observed, wait_for_text, wait_until, App, Browser,
    SignalServer,
};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

/// The app joins a room in its own window and a Chromium participant
/// joins it: Chromium decodes the app's video and receives its audio, the
/// app's remote tile draws Chromium's moving video, chat goes both ways,
/// mute and camera-off at the app reach Chromium, and hanging up stops
/// every streaming thread of the app's pipelines and ends the process they
/// ran in (the app gets back what the call took). The home screen shows no
/// browser notice and Settings → About names the engine.
#[tokio::test(flavor = "multi_thread")]
async fn app_calls_chromium_on_its_native_engine() -> Result<()> {
    with_app_and_chromium(Duration::from_secs(240), |app, chromium| {
        Box::pin(scenario(app, chromium))
    })
    .await
}

async fn scenario(app: &App, chromium: &Client) -> Result<()> {
    let window = &app.client;

    // No browser notice: calls run here, on the native engine.
    wait_for(window, "#home[data-engine='native']").await?;
    wait_for(window, "#server-status[data-state='ready']").await?;
    ensure!(
        window.find(Locator::Css("#webrtc-notice")).await.is_err(),
        "the home screen shows the browser notice although the native engine runs"
    );
    // Its own preview shows the (test) camera, drawn from the shell's frames.
    canvas_drawing(window, ".home-preview canvas", "the home preview").await?;
    type_into(window, "#display-name", "Appa").await?;
    app.capture_screen("native-home")?;

    // Start a call in the window; Chromium joins the same room on the app's
    // embedded server, and decodes the app's video and receives its audio.
    start_call_with_chromium(app, chromium, CONNECT_TIMEOUT).await?;
    // At the settings' resolution (720p, the default), as the browser
    // engine would have asked its camera for.
    wait_for_observed(
        chromium,
        "Chromium decoding the app's video at 1280×720",
        CONNECT_TIMEOUT,
        |o| {
            live_connections(o)
                .iter()
                .any(|c| c["frameWidthReceived"] == 1280 && c["frameHeightReceived"] == 720)
        },
    )
    .await?;
    // The app's remote tile draws Chromium's moving video.
    wait_for(
        window,
        ".tile[data-peer-id][data-connection-state='connected']",
    )
    .await?;
    canvas_drawing(
        window,
        ".tile[data-peer-id] canvas",
        "Chromium's tile in the app",
    )
    .await?;
    app.capture_screen("native-call-app")?;
    screenshot(chromium, "native-call-chromium").await?;

    // Chat both ways.
    click(window, "#chat-toggle").await?;
    type_into(window, "#chat-input", "hello from the app").await?;
    click(window, "#chat-send").await?;
    click(chromium, "#chat-toggle").await?;
    wait_for_text(
        chromium,
        ".chat-line:not(.mine) .chat-text",
        "hello from the app",
    )
    .await?;
    type_into(chromium, "#chat-input", "hello from Chromium").await?;
    click(chromium, "#chat-send").await?;
    wait_for_text(
        window,
        ".chat-line:not(.mine) .chat-text",
        "hello from Chromium",
    )
    .await?;

    // Mute and camera off at the app, as Chromium shows them.
    click(window, "#mute").await?;
    wait_for(chromium, ".tile[data-peer-id][data-audio-muted='true']").await?;
    click(window, "#camera").await?;
    wait_for(chromium, ".tile[data-peer-id][data-video-muted='true']").await?;
    click(window, "#camera").await?;
    wait_for(chromium, ".tile[data-peer-id][data-video-muted='false']").await?;

    // While the call runs, the app's pipelines stream (GStreamer names each
    // streaming thread `element:pad`), in a process of the app's own;
    // after hanging up none does, and that process is gone.
    let pid = app.pid()?;
    ensure!(
        !busy_streaming_threads(pid).await?.is_empty(),
        "no GStreamer streaming thread of the app is busy during the call"
    );
    let engines = engine_processes(pid);
    ensure!(
        engines.len() == 1,
        "the call runs in {} engine processes of the app (one expected)",
        engines.len()
    );
    click(window, "#hang-up").await?;
    wait_for(window, "#call-ended").await?;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let busy = busy_streaming_threads(pid).await?;
        if busy.is_empty() {
            break;
        }
        if Instant::now() > deadline {
            bail!("after hanging up these streaming threads still run: {busy:?}");
        }
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    // (The home screen's camera may start a fresh one.)
    while engines
        .iter()
        .any(|engine| std::path::Path::new(&format!("/proc/{engine}")).exists())
    {
        ensure!(
            Instant::now() < deadline,
            "the call's engine process is still there 15 s after hanging up"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Chromium sees the app leave.
    wait_until(
        chromium,
        "the app's tile to go away at Chromium",
        "document.querySelectorAll('.tile[data-peer-id]').length === 0",
    )
    .await?;
    let seen = observed(chromium).await?;
    ensure!(
        !media_flowing(&seen, 1),
        "Chromium still has a live connection to the app"
    );

    // Back home: still no browser notice; Settings → About names the engine.
    click(window, "#back-home").await?;
    wait_for(window, "#home[data-engine='native']").await?;
    ensure!(
        window.find(Locator::Css("#webrtc-notice")).await.is_err(),
        "the browser notice appeared after the call"
    );
    click(window, "#open-settings").await?;
    wait_for_text(window, "#call-engine[data-engine='native']", "GStreamer").await?;
    Ok(())
}

/// Two apps (each on its own native engine) and Chromium in one room:
/// everyone decodes the other two — the apps' canvases draw both remote
/// videos, Chromium's `getStats()` shows both connections decoding video
/// and audio. The second app joins the first app's server by its invite
/// link (opened with it, as a clicked link opens the app), so the two
/// native engines negotiate with each other.
#[tokio::test(flavor = "multi_thread")]
async fn two_apps_and_chromium_in_a_mesh() -> Result<()> {
    let appa = App::launch_native("Appa", Vec::new()).await?;
    let outcome = tokio::time::timeout(Duration::from_secs(240), async {
        let a = &appa.client;
        let invite = appa.start_call().await?;
        let room = invite.rsplit('/').next().unwrap_or_default().to_owned();
        let bomi = App::launch_native("Bomi", vec![invite]).await?;
        let chromium = Browser::launch().await;
        let result = async {
            let b = &bomi.client;
            let chromium = &chromium
                .as_ref()
                .map_err(|e| anyhow::anyhow!("{e:#}"))?
                .client;
            // Opened by the link, the app checks the server and goes in.
            wait_for(b, "#call[data-phase='joined']").await?;
            chromium
                .goto(&format!(
                    "http://127.0.0.1:{}/?room={room}&name=Chromium",
                    appa.preferred_port
                ))
                .await?;
            wait_for(chromium, "#call[data-phase='joined']").await?;
            wait_for_observed(
                chromium,
                "Chromium decoding both apps' video and audio",
                CONNECT_TIMEOUT,
                |o| media_flowing(o, 2),
            )
            .await?;
            for (client, who) in [(a, "Appa"), (b, "Bomi")] {
                remote_canvases_drawing(client, 2, who).await?;
            }
            appa.capture_screen("native-mesh-appa")?;
            bomi.capture_screen("native-mesh-bomi")?;
            screenshot(chromium, "native-mesh-chromium").await?;
            Ok::<_, anyhow::Error>(())
        }
        .await;
        if let Ok(browser) = chromium {
            let _ = browser.client.close().await;
        }
        let _ = bomi.quit().await;
        result
    })
    .await;
    let _ = appa.quit().await;
    outcome.context("the mesh took over 4 minutes")?
}

/// The app (native engine) and Chromium in a room on a separate signaling
/// server, which stops mid-call: media keeps flowing both ways on the same
/// connection, both pages say they are offline, and when the server is
/// back on its address both reconnect and find each other again under
/// their new ids, on the connection they had.
#[tokio::test(flavor = "multi_thread")]
async fn native_call_survives_a_signaling_restart() -> Result<()> {
    let server = SignalServer::start(&[]).await?;
    let port = server.port;
    let room = "native-restart";
    let app =
        App::launch_native("Appa", vec![format!("peercall://127.0.0.1:{port}/{room}")]).await?;
    let browser = match Browser::launch().await {
        Ok(browser) => browser,
        Err(error) => {
            let _ = app.quit().await;
            return Err(error);
        }
    };
    let outcome = tokio::time::timeout(Duration::from_secs(240), async {
        let (window, chromium) = (&app.client, &browser.client);
        wait_for(window, "#call[data-phase='joined']").await?;
        chromium.goto(&room_url(&server, room, "Chromium")).await?;
        let before = wait_for_observed(
            chromium,
            "Chromium decoding the app",
            CONNECT_TIMEOUT,
            |o| media_flowing(o, 1),
        )
        .await?;
        canvas_drawing(
            window,
            ".tile[data-peer-id] canvas",
            "Chromium's tile in the app",
        )
        .await?;
        let call = live_connections(&before)[0]["index"]
            .as_u64()
            .context("the connection's index")?;
        let created = connections(&before).len();
        let same_call = move |s: &serde_json::Value| {
            connections(s).len() == created
                && connection(s, call)
                    .is_some_and(|c| c["closed"] == false && c["connectionState"] == "connected")
        };

        // Whom each page shows, by the other's signaling id.
        let mut ids = Vec::new();
        for client in [window, chromium] {
            let tile = wait_for(client, ".tile[data-peer-id]").await?;
            ids.push(tile.attr("data-peer-id").await?.context("a peer id")?);
        }

        // The server goes away: both say so, and the call goes on.
        drop(server);
        for client in [window, chromium] {
            wait_for(client, "#signal-status[data-state='offline']").await?;
        }
        let old = connection(&before, call).context("the call's connection")?;
        let offline = wait_for_observed(
            chromium,
            "the app's media to keep flowing without the server",
            Duration::from_secs(20),
            |s| {
                same_call(s)
                    && connection(s, call).is_some_and(|c| {
                        num(&c, "framesDecoded") > num(&old, "framesDecoded") + 30.0
                            && num(&c, "audioPacketsReceived") > num(&old, "audioPacketsReceived")
                    })
            },
        )
        .await?;
        canvas_drawing(
            window,
            ".tile[data-peer-id] canvas",
            "Chromium's tile without the server",
        )
        .await?;
        app.capture_screen("native-signaling-down")?;

        // Back on the same address: both reconnect and find each other again.
        let server = SignalServer::start_on(port, &[]).await?;
        for client in [window, chromium] {
            wait_for(client, "#signal-status[data-state='online']").await?;
        }
        for ((client, who), old_id) in [(window, "the app"), (chromium, "Chromium")]
            .into_iter()
            .zip(&ids)
        {
            wait_until(
                client,
                &format!("{who} to see the other under their new id, connected"),
                &format!(
                    "[...document.querySelectorAll('.tile[data-peer-id]')].some(t => \
                       t.dataset.peerId !== {} && t.dataset.connectionState === 'connected')",
                    serde_json::to_string(old_id)?
                ),
            )
            .await?;
        }
        for (client, who) in [(window, "the app"), (chromium, "Chromium")] {
            let tiles = client.find_all(Locator::Css(".tile[data-peer-id]")).await?;
            ensure!(tiles.len() == 1, "{who} sees {} remote tiles", tiles.len());
        }
        let old = connection(&offline, call).context("the call's connection")?;
        wait_for_observed(
            chromium,
            "the call to go on on the same connection",
            Duration::from_secs(20),
            |s| {
                same_call(s)
                    && connection(s, call)
                        .is_some_and(|c| num(&c, "framesDecoded") > num(&old, "framesDecoded"))
            },
        )
        .await?;
        canvas_drawing(
            window,
            ".tile[data-peer-id] canvas",
            "Chromium's tile after the restart",
        )
        .await?;
        // Chat goes through again (the data channel never dropped).
        click(chromium, "#chat-toggle").await?;
        type_into(chromium, "#chat-input", "still here").await?;
        click(chromium, "#chat-send").await?;
        wait_for_text(window, ".chat-line:not(.mine) .chat-text", "still here").await?;
        drop(server);
        Ok::<_, anyhow::Error>(())
    })
    .await;
    let _ = browser.client.close().await;
    let _ = app.quit().await;
    outcome.context("the scenario took over 4 minutes")?
}

/// Direct calls by id both ways between the app (native engine) and
/// Chromium: the app rings Chromium (the native side offers), Chromium
/// accepts, each decodes the other, Chromium hangs up and the app says so;
/// then Chromium rings the app (the native side answers), the app accepts,
/// and the app hangs up.
#[tokio::test(flavor = "multi_thread")]
async fn direct_calls_both_ways() -> Result<()> {
    let app = App::launch_native("Appa", Vec::new()).await?;
    let browser = match Browser::launch().await {
        Ok(browser) => browser,
        Err(error) => {
            let _ = app.quit().await;
            return Err(error);
        }
    };
    let outcome = tokio::time::timeout(Duration::from_secs(240), async {
        let (window, chromium) = (&app.client, &browser.client);
        wait_for(window, "#home[data-engine='native']").await?;
        chromium
            .goto(&format!(
                "http://127.0.0.1:{}/?name=Chromium",
                app.preferred_port
            ))
            .await?;

        // The app rings Chromium.
        let chromium_id = wait_for(chromium, "#my-id").await?.text().await?;
        type_into(window, "#call-id-input", chromium_id.trim()).await?;
        click(window, "#call-button").await?;
        click(chromium, "#accept-call").await?;
        both_see_each_other(window, chromium).await?;
        click(chromium, "#hang-up").await?;
        wait_for(window, "#call-ended[data-reason='hung_up']").await?;
        click(window, "#back-home").await?;
        click(chromium, "#back-home").await?;

        // Chromium rings the app.
        let app_id = wait_for(window, "#my-id").await?.text().await?;
        type_into(chromium, "#call-id-input", app_id.trim()).await?;
        click(chromium, "#call-button").await?;
        click(window, "#accept-call").await?;
        both_see_each_other(window, chromium).await?;
        click(window, "#hang-up").await?;
        wait_for(chromium, "#call-ended[data-reason='hung_up']").await?;
        Ok::<_, anyhow::Error>(())
    })
    .await;
    let _ = browser.client.close().await;
    let _ = app.quit().await;
    outcome.context("the scenario took over 4 minutes")?
}

/// Chromium decodes the app's video and audio on its one live connection,
/// and the app's remote tile draws Chromium's moving video.
async fn both_see_each_other(window: &Client, chromium: &Client) -> Result<()> {
    wait_for_observed(
        chromium,
        "Chromium decoding the app's video and audio",
        CONNECT_TIMEOUT,
        |o| media_flowing(o, 1),
    )
    .await?;
    canvas_drawing(
        window,
        ".tile[data-peer-id] canvas",
        "Chromium's tile in the app",
    )
    .await
}

/// Waits until the page shows `count` remote tiles whose canvases all draw
/// frames, and keep drawing.
async fn remote_canvases_drawing(client: &Client, count: usize, who: &str) -> Result<()> {
    let least = format!(
        "(() => {{ const c = [...document.querySelectorAll('.tile[data-peer-id] canvas')]; \
           return c.length === {count} ? Math.min(...c.map(e => Number(e.dataset.frames))) : 0; }})()"
    );
    keeps_drawing(client, &least, &format!("{who}'s {count} remote tiles")).await
}

/// CPU ticks (user + system) of each thread of the app's processes (`pid`
/// and those it started), by name.
fn thread_ticks(pid: u32) -> Result<Vec<(u32, String, u64)>> {
    let mut out = Vec::new();
    let tasks = peercall_e2e::family(pid)
        .into_iter()
        .filter_map(|p| std::fs::read_dir(format!("/proc/{p}/task")).ok())
        .flatten();
    for entry in tasks {
        let entry = entry?;
        let Ok(tid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ...`: the name may hold spaces, so split at the
        // last ')'; utime and stime are fields 14 and 15.
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let name = head
            .split_once('(')
            .map(|(_, n)| n)
            .unwrap_or("")
            .to_owned();
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
        if let (Some(user), Some(system)) = (ticks(11), ticks(12)) {
            out.push((tid, name, user + system));
        }
    }
    Ok(out)
}

/// The GStreamer streaming threads (`element:pad`) that used CPU over two
/// seconds: pipelines that run. Idle pooled threads keep their last name
/// but use nothing.
async fn busy_streaming_threads(pid: u32) -> Result<Vec<String>> {
    let before = thread_ticks(pid)?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = thread_ticks(pid)?;
    Ok(after
        .into_iter()
        .filter(|(tid, name, ticks)| {
            name.contains(':')
                && before
                    .iter()
                    .find(|(t, _, _)| t == tid)
                    .is_none_or(|(_, _, was)| ticks > was)
        })
        .map(|(_, name, _)| name)
        .collect())
}
