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
