//! The in-call tools in real browsers (headless Chromium, fake devices, the
//! real signaling server and UI), asserted from what the other side sees:
//! the safety code, the live call quality panel, who is talking.

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use peercall_e2e::{
    click, connection_to, media_flowing, room_url, screenshot, wait_for, wait_for_observed,
    wait_until, with_browsers, Browser, SignalServer,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// How long two fake-media browsers may take to connect on a busy machine.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);
/// The most a whole test may take.
const TEST_LIMIT: Duration = Duration::from_secs(240);

/// The safety code of a connection whose ends announced fingerprints `a`
/// and `b` (`sha-256 AB:…`), the way the call page derives it: SHA-256 over
/// both, sorted, as six digits in two groups.
fn expected_code(a: &str, b: &str) -> String {
    let normalise = |f: &str| {
        let mut parts = f.split_whitespace();
        format!(
            "{} {}",
            parts.next().unwrap_or_default().to_ascii_lowercase(),
            parts.next().unwrap_or_default().to_ascii_uppercase()
        )
    };
    let (a, b) = (normalise(a), normalise(b));
    let (first, second) = if a <= b { (a, b) } else { (b, a) };
    let digest = Sha256::digest(format!("peercall safety code v1\n{first}\n{second}"));
    let mut top = [0u8; 8];
    top.copy_from_slice(&digest[..8]);
    let digits = format!("{:06}", u64::from_be_bytes(top) % 1_000_000);
    format!("{} {}", &digits[..3], &digits[3..])
}

/// The text of `css` on the page, once it appears.
async fn text_of(browser: &Browser, css: &str) -> Result<String> {
    Ok(wait_for(&browser.client, css)
        .await?
        .text()
        .await?
        .trim()
        .to_owned())
}

/// Alice and Bora each open the other's connection details: both read the
/// same six-digit safety code, the one both certificates' fingerprints give
/// (as the browsers announced them in their SDPs). The quality panel shows,
/// for a call on one machine, a non-zero round trip, bitrates in and out,
/// a frame rate, and the path "Direct on this network".
#[tokio::test(flavor = "multi_thread")]
async fn safety_code_and_quality_panel() -> Result<()> {
    let server = SignalServer::start(&[]).await?;
    with_browsers(2, TEST_LIMIT, move |browsers| {
        Box::pin(async move { safety_and_quality(&server, browsers).await })
    })
    .await
}

async fn safety_and_quality(server: &SignalServer, browsers: &[Browser]) -> Result<()> {
    let names = ["Alice", "Bora"];
    for (browser, name) in browsers.iter().zip(names) {
        browser
            .client
            .goto(&room_url(server, "tools-safety", name))
            .await?;
    }
    let mut seen = Vec::new();
    for (browser, name) in browsers.iter().zip(names) {
        seen.push(
            wait_for_observed(
                &browser.client,
                &format!("{name} to receive media"),
                CONNECT_TIMEOUT,
                |s| media_flowing(s, 1),
            )
            .await?,
        );
    }
    let mut codes = Vec::new();
    for (i, (browser, name)) in browsers.iter().zip(names).enumerate() {
        click(&browser.client, ".tile[data-peer-id] .tile-quality").await?;
        wait_for(&browser.client, "#details-panel").await?;
        let code = text_of(browser, "#safety-code").await?;
        let connection = connection_to(&seen[i], &seen[1 - i])
            .with_context(|| format!("{name}'s connection to the other"))?;
        let fingerprint = |side: &str| {
            connection[format!("{side}Fingerprint")]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        };
        let (local, remote) = (fingerprint("local"), fingerprint("remote"));
        ensure!(
            !local.is_empty() && !remote.is_empty() && local != remote,
            "{name}'s connection announces fingerprints {local:?} and {remote:?}"
        );
        ensure!(
            code == expected_code(&local, &remote),
            "{name} shows {code:?}, but the fingerprints give {:?}",
            expected_code(&local, &remote)
        );
        println!("{name} reads safety code {code}");
        codes.push((code, local, remote));
    }
    ensure!(
        codes[0].0 == codes[1].0,
        "Alice reads {:?}, Bora {:?}",
        codes[0].0,
        codes[1].0
    );
    // Each side's certificate is the one the other side was told about.
    ensure!(
        codes[0].1 == codes[1].2 && codes[0].2 == codes[1].1,
        "the fingerprints don't pair up: {codes:?}"
    );

    // The quality panel, refreshed every second while open.
    for (browser, name) in browsers.iter().zip(names) {
        let value =
            |id: &str| format!("Number(document.querySelector('#{id}')?.dataset.value ?? 0)");
        let figures = wait_until(
            &browser.client,
            &format!("{name}'s quality panel to show the call's figures"),
            &format!(
                "({rtt} > 0 && {kin} > 0 && {kout} > 0 && {fps} > 0 \
                 && document.querySelector('#quality-path')?.textContent.includes('Direct on this network')) \
                 && [...document.querySelectorAll('#details-panel .quality-list dt, #details-panel .quality-list dd')].map(e => e.textContent).join(' | ')",
                rtt = value("quality-rtt"),
                kin = value("quality-in"),
                kout = value("quality-out"),
                fps = value("quality-video"),
            ),
        )
        .await?;
        println!(
            "{name}'s quality panel: {}",
            figures.as_str().unwrap_or_default()
        );
        // It keeps refreshing: the bitrate reading changes within seconds.
        let first = browser
            .client
            .execute(
                "return document.querySelector('#quality-in').dataset.value;",
                vec![],
            )
            .await?;
        wait_until(
            &browser.client,
            &format!("{name}'s panel to refresh"),
            &format!(
                "document.querySelector('#quality-in')?.dataset.value !== {}",
                serde_json::to_string(&first)?
            ),
        )
        .await?;
    }
    // The badge on the tile tells the level at a glance.
    let badge = browsers[1]
        .client
        .execute(
            "return document.querySelector('.tile[data-peer-id] .tile-quality')?.dataset.quality ?? null;",
            vec![],
        )
        .await?;
    ensure!(
        badge != Value::Null,
        "Bora's tile of Alice has no quality level"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    screenshot(&browsers[0].client, "call-tools-details").await?;

    // Escape closes the panel; the code stays the same when it reopens.
    click(&browsers[0].client, "#details-close").await?;
    wait_until(
        &browsers[0].client,
        "the panel to close",
        "!document.querySelector('#details-panel')",
    )
    .await?;
    Ok(())
}

/// Starts sampling, every 100 ms, which tiles show the speaking ring (by
/// the name on the tile), into `window.__speakingSeen`.
const SAMPLE_SPEAKING: &str = "
    window.__speakingSeen = new Set();
    clearInterval(window.__speakingTimer);
    window.__speakingTimer = setInterval(() => {
        for (const tile of document.querySelectorAll('.tile.speaking')) {
            window.__speakingSeen.add(tile.querySelector('.tile-name-text')?.textContent ?? '?');
        }
    }, 100);";

/// Three people; only Alice's microphone is on (the fake microphone beeps).
/// Bora sees a ring on Alice's tile and never on Chen's. Then Alice mutes
/// and Chen unmutes: Bora sees the ring on Chen's tile, never on Alice's,
/// and Chen's tile moves to the grid's first place.
#[tokio::test(flavor = "multi_thread")]
async fn the_speaker_gets_a_ring() -> Result<()> {
    let server = SignalServer::start(&[]).await?;
    with_browsers(3, TEST_LIMIT, move |browsers| {
        Box::pin(async move { speaking(&server, browsers).await })
    })
    .await
}

async fn speaking(server: &SignalServer, browsers: &[Browser]) -> Result<()> {
    let names = ["Alice", "Bora", "Chen"];
    for (browser, name) in browsers.iter().zip(names) {
        browser
            .client
            .goto(&room_url(server, "tools-speaking", name))
            .await?;
    }
    for (browser, name) in browsers.iter().zip(names) {
        wait_for_observed(
            &browser.client,
            &format!("{name} to receive media from both others"),
            CONNECT_TIMEOUT,
            |s| media_flowing(s, 2),
        )
        .await?;
    }
    let (alice, bora, chen) = (&browsers[0], &browsers[1], &browsers[2]);
    for browser in [bora, chen] {
        click(&browser.client, "#mute").await?;
        wait_for(&browser.client, "#mute[aria-pressed='true']").await?;
    }
    // A moment for the last unmuted audio to drain.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let seen = |who: &str| {
        format!(
            "window.__speakingSeen.has({})",
            serde_json::to_string(who).unwrap_or_default()
        )
    };
    bora.client.execute(SAMPLE_SPEAKING, vec![]).await?;
    wait_until(
        &bora.client,
        "a ring on Alice's tile at Bora",
        &seen("Alice"),
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rings = bora
        .client
        .execute("return [...window.__speakingSeen];", vec![])
        .await?;
    ensure!(
        !rings.to_string().contains("Chen"),
        "Bora saw a ring on muted Chen: {rings}"
    );

    click(&alice.client, "#mute").await?;
    wait_for(&alice.client, "#mute[aria-pressed='true']").await?;
    click(&chen.client, "#mute").await?;
    wait_for(&chen.client, "#mute[aria-pressed='false']").await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    bora.client.execute(SAMPLE_SPEAKING, vec![]).await?;
    wait_until(&bora.client, "a ring on Chen's tile at Bora", &seen("Chen")).await?;
    wait_for(&bora.client, ".tile.speaking").await?;
    screenshot(&bora.client, "call-tools-speaking").await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rings = bora
        .client
        .execute("return [...window.__speakingSeen];", vec![])
        .await?;
    ensure!(
        !rings.to_string().contains("Alice"),
        "Bora saw a ring on muted Alice: {rings}"
    );
    // The last speaker is the grid's first tile (top left).
    wait_until(
        &bora.client,
        "Chen's tile in the grid's first place",
        "(() => { const tiles = [...document.querySelectorAll('.stage .tile')]; \
           const pos = t => { const r = t.getBoundingClientRect(); return r.top * 10000 + r.left; }; \
           tiles.sort((a, b) => pos(a) - pos(b)); \
           return tiles[0]?.querySelector('.tile-name-text')?.textContent === 'Chen'; })()",
    )
    .await?;
    Ok(())
}

/// The ids of the video tracks the element matching `css` plays.
async fn video_track_ids(browser: &Browser, css: &str) -> Result<Vec<String>> {
    let ids = browser
        .client
        .execute(
            &format!(
                "const v = document.querySelector({}); \
                 return v && v.srcObject ? v.srcObject.getVideoTracks().map(t => t.id) : [];",
                serde_json::to_string(css)?
            ),
            vec![],
        )
        .await?;
    Ok(serde_json::from_value(ids)?)
}

/// Alice shares her screen: Bora's browser decodes a second video track
/// from Alice and shows it large, with Alice's camera small beside it, and
/// Bora's own share button says one screen at a time. Alice stops: the
/// screen tile goes from Bora's page, and Bora can share (with S) in turn;
/// Bora stops from the browser's own "stop sharing" bar: Alice's screen
/// tile goes, and Bora's capture is released.
#[tokio::test(flavor = "multi_thread")]
async fn screen_share_reaches_the_other_side() -> Result<()> {
    let server = SignalServer::start(&[]).await?;
    with_browsers(2, TEST_LIMIT, move |browsers| {
        Box::pin(async move { screen_share(&server, browsers).await })
    })
    .await
}

async fn screen_share(server: &SignalServer, browsers: &[Browser]) -> Result<()> {
    let names = ["Alice", "Bora"];
    for (browser, name) in browsers.iter().zip(names) {
        browser
            .client
            .goto(&room_url(server, "tools-screen", name))
            .await?;
    }
    for (browser, name) in browsers.iter().zip(names) {
        wait_for_observed(
            &browser.client,
            &format!("{name} to receive media"),
            CONNECT_TIMEOUT,
            |s| media_flowing(s, 1),
        )
        .await?;
    }
    let (alice, bora) = (&browsers[0], &browsers[1]);
    let camera_tracks = video_track_ids(bora, ".tile[data-peer-id] video").await?;
    click(&alice.client, "#screen-share").await?;
    wait_for(&alice.client, "#screen-share[aria-pressed='true']").await?;
    wait_for(&alice.client, "#sharing-banner").await?;

    // Bora: a screen tile, large, playing a new remote track that draws frames.
    wait_for(&bora.client, ".stage.present .tile.screen").await?;
    let drawn = wait_for_observed(
        &bora.client,
        "Bora's page to draw the frames of Alice's screen",
        CONNECT_TIMEOUT,
        |s| {
            s["framesDrawn"].as_array().is_some_and(|drawn| {
                drawn
                    .iter()
                    .any(|d| !camera_tracks.iter().any(|c| d["trackId"] == c.as_str()))
            })
        },
    )
    .await?;
    let screen_tracks = video_track_ids(bora, ".tile.screen video").await?;
    ensure!(
        screen_tracks.len() == 1 && !camera_tracks.contains(&screen_tracks[0]),
        "Bora's screen tile plays {screen_tracks:?} (camera {camera_tracks:?})"
    );
    ensure!(
        drawn["framesDrawn"].to_string().contains(&screen_tracks[0]),
        "the screen tile's track drew no frame: {}",
        drawn["framesDrawn"]
    );
    // Alice's camera is still there, from the same connection, small.
    let still_camera = video_track_ids(bora, ".tile[data-peer-id] video").await?;
    ensure!(
        still_camera == camera_tracks,
        "Alice's camera tile at Bora changed from {camera_tracks:?} to {still_camera:?}"
    );
    let sizes = bora
        .client
        .execute(
            "return [document.querySelector('.tile.screen').getBoundingClientRect().width, \
                     document.querySelector('.tile[data-peer-id]').getBoundingClientRect().width];",
            vec![],
        )
        .await?;
    let width = |i: usize| sizes[i].as_f64().unwrap_or(0.0);
    ensure!(
        width(0) > 2.5 * width(1),
        "the screen ({}) is not large next to the camera ({})",
        width(0),
        width(1)
    );
    let name = wait_for(&bora.client, ".tile.screen .tile-name-text")
        .await?
        .text()
        .await?;
    ensure!(name.contains("Alice"), "the screen tile is named {name:?}");
    // One screen at a time: Bora's button is off and says why.
    let blocked = wait_for(&bora.client, "#screen-share[disabled]")
        .await?
        .attr("aria-label")
        .await?
        .unwrap_or_default();
    ensure!(
        blocked.contains("Alice is sharing"),
        "Bora's button says {blocked:?}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    screenshot(&bora.client, "call-tools-screen-share").await?;
    screenshot(&alice.client, "call-tools-screen-sharer").await?;

    // Alice sends two video tracks: her camera and her screen.
    const LIVE_VIDEO_SENT: &str =
        "window.__observedState.connections.flatMap(c => c.pc.getSenders()) \
        .filter(s => s.track && s.track.kind === 'video' && s.track.readyState === 'live').length";
    wait_until(
        &alice.client,
        "Alice to send her camera and her screen",
        &format!("{LIVE_VIDEO_SENT} === 2"),
    )
    .await?;

    // Alice stops: the screen goes from Bora's page.
    click(&alice.client, "#screen-share").await?;
    wait_for(&alice.client, "#screen-share[aria-pressed='false']").await?;
    wait_until(
        &bora.client,
        "Alice's screen to leave Bora's page",
        "!document.querySelector('.tile.screen') && !document.querySelector('.stage.present')",
    )
    .await?;
    let live = alice
        .client
        .execute(&format!("return {LIVE_VIDEO_SENT};"), vec![])
        .await?;
    ensure!(
        live == 1,
        "Alice sends {live} live video tracks: her camera alone is expected"
    );

    // Now Bora can share, with the S key, on the same connection.
    wait_for(&bora.client, "#screen-share:not([disabled])").await?;
    bora.client
        .execute("document.activeElement?.blur();", vec![])
        .await?;
    bora.client
        .find(fantoccini::Locator::Css("body"))
        .await?
        .send_keys("s")
        .await?;
    wait_for(&alice.client, ".stage.present .tile.screen").await?;

    // Bora stops from the browser's own "stop sharing" bar, which ends the
    // captured track (`ended`): the screen leaves Alice's page too, and
    // Bora's capture is released.
    bora.client
        .execute(
            "const screen = window.__observedState.connections.flatMap(c => c.pc.getSenders()) \
               .map(s => s.track).find(t => t && t.kind === 'video' && 'displaySurface' in t.getSettings()); \
             if (!screen) { throw new Error('Bora sends no screen track'); } \
             window.__screenTrack = screen; \
             screen.dispatchEvent(new Event('ended'));",
            vec![],
        )
        .await?;
    wait_until(
        &alice.client,
        "Bora's screen to leave Alice's page",
        "!document.querySelector('.tile.screen')",
    )
    .await?;
    wait_for(&bora.client, "#screen-share[aria-pressed='false']").await?;
    wait_until(
        &bora.client,
        "Bora's screen capture to be released",
        "window.__screenTrack.readyState === 'ended'",
    )
    .await?;
    Ok(())
}
