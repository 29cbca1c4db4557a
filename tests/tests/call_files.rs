//! File transfer between real browsers (headless Chromium, fake devices,
//! the real signaling server and UI): the bytes go over data channels of
//! their own, and what arrives is checked from outside, on disk, where the
//! receiving browser saved it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Result};
use fantoccini::Locator;
use peercall_e2e::{
    click, family_pss_kib, listing, media_flowing, random_file, room_url, screenshot, sha256_of,
    temp_dir, wait_for, wait_for_observed, wait_until, with_browsers, Browser, SignalServer,
};
use serde_json::Value;

/// How long fake-media browsers may take to connect on a busy machine.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);
/// The most a whole test may take.
const TEST_LIMIT: Duration = Duration::from_secs(420);
/// The big file.
const BIG: u64 = 200 * 1024 * 1024;

/// Waits until the browser saved `name` completely in its downloads.
async fn downloaded(browser: &Browser, name: &str, size: u64) -> Result<PathBuf> {
    let path = browser.downloads.join(name);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let partial = listing(&browser.downloads)
            .iter()
            .any(|n| n.ends_with(".crdownload"));
        if !partial && std::fs::metadata(&path).is_ok_and(|m| m.len() == size) {
            return Ok(path);
        }
        if Instant::now() > deadline {
            bail!(
                "{name} ({size} bytes) never finished downloading: {:?}",
                listing(&browser.downloads)
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Clicks `css` on a card that re-renders as progress comes in: a click
/// that lands on an element just replaced is tried again.
async fn click_card(browser: &Browser, css: &str) -> Result<()> {
    let mut tries = 0;
    loop {
        match click(&browser.client, css).await {
            Ok(()) => return Ok(()),
            Err(error) if tries < 5 && format!("{error:#}").contains("stale element") => {
                tries += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

/// The sender picks `path` in the call's file field (to everyone).
async fn pick_file(browser: &Browser, path: &Path) -> Result<()> {
    let input = browser.client.find(Locator::Css("#file-input")).await?;
    input.send_keys(&path.display().to_string()).await?;
    Ok(())
}

/// The transfer card matching `css` (under `#transfers`), as its data.
async fn card(browser: &Browser, css: &str) -> Result<Value> {
    Ok(browser
        .client
        .execute(
            &format!(
                "const c = document.querySelector('#transfers ' + {}); \
                 return c ? {{ state: c.dataset.state, bytes: Number(c.dataset.bytes), size: Number(c.dataset.size), \
                 name: c.dataset.name, text: c.textContent }} : null;",
                serde_json::to_string(css)?
            ),
            vec![],
        )
        .await?)
}

/// What a person's browser holds (MiB): the PSS of all its processes, and
/// the page's JavaScript heap still in use after a garbage collection.
async fn memory_mib(browser: &Browser) -> Result<[f64; 2]> {
    let used = browser
        .client
        .execute(
            "if (window.gc) { gc(); } return performance.memory ? performance.memory.usedJSHeapSize : 0;",
            vec![],
        )
        .await?;
    let pss = family_pss_kib(browser.driver_pid()) as f64 / 1024.0;
    Ok([pss, used.as_f64().unwrap_or(0.0) / 1048576.0])
}

async fn join(
    server: &SignalServer,
    browsers: &[Browser],
    room: &str,
    names: &[&str],
) -> Result<()> {
    for (browser, name) in browsers.iter().zip(names) {
        browser.client.goto(&room_url(server, room, name)).await?;
    }
    for (browser, name) in browsers.iter().zip(names) {
        wait_for_observed(
            &browser.client,
            &format!("{name} to receive media from everyone"),
            CONNECT_TIMEOUT,
            |s| media_flowing(s, browsers.len() - 1),
        )
        .await?;
    }
    Ok(())
}

/// 200 MiB from Alice to Bora: Bora sees the offer (name, size) and
/// accepts; both see progress; the file Bora's browser saves is
/// byte-identical; neither browser's memory grows with the file (printed:
/// PSS of all its processes, and the page's heap after a collection), and
/// the throughput is printed.
#[tokio::test(flavor = "multi_thread")]
async fn a_big_file_arrives_whole() -> Result<()> {
    let server = SignalServer::start(&[]).await?;
    let dir = temp_dir("big-file");
    let path = dir.join("big-file.bin");
    let sha = random_file(&path, BIG, 0x5eed)?;
    let outcome = with_browsers(2, TEST_LIMIT, move |browsers| {
        Box::pin(async move { big_file(&server, browsers, &path, &sha).await })
    })
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}

async fn big_file(
    server: &SignalServer,
    browsers: &[Browser],
    path: &Path,
    sha: &str,
) -> Result<()> {
    join(server, browsers, "files-big", &["Alice", "Bora"]).await?;
    let (alice, bora) = (&browsers[0], &browsers[1]);
    let before = [memory_mib(alice).await?, memory_mib(bora).await?];
    pick_file(alice, path).await?;
    wait_for(
        &bora.client,
        "#transfers .transfer[data-state='offered'][data-incoming='true']",
    )
    .await?;
    let offer = card(bora, ".transfer[data-incoming='true']").await?;
    ensure!(
        offer["name"] == "big-file.bin" && offer["size"].as_u64() == Some(BIG),
        "Bora is offered {offer}"
    );
    ensure!(
        offer["text"]
            .as_str()
            .unwrap_or_default()
            .contains("From Alice"),
        "the offer doesn't say who sends it: {offer}"
    );
    screenshot(&bora.client, "call-files-offer").await?;
    let started = Instant::now();
    click(&bora.client, ".transfer-accept").await?;

    // Progress on both sides, memory sampled as it goes.
    let mut seen_moving = (false, false);
    // Per side and figure (PSS, heap), the peak while the first half
    // arrives and while the second does: a side holding the file would
    // grow by half of it (100 MiB) between the two.
    let mut halves = [[[0.0f64; 2]; 2]; 2];
    let mut shot = false;
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let sending = card(alice, ".transfer[data-incoming='false']").await?;
        let receiving = card(bora, ".transfer[data-incoming='true']").await?;
        let partial = |c: &Value| {
            c["state"] == "moving"
                && c["bytes"].as_u64().is_some_and(|b| b > 0 && b < BIG)
                && c["text"]
                    .as_str()
                    .is_some_and(|t| t.contains(" of ") && t.contains("/s"))
        };
        seen_moving.0 |= partial(&sending);
        seen_moving.1 |= partial(&receiving);
        if receiving["state"] == "moving" {
            let half = usize::from(receiving["bytes"].as_u64().unwrap_or(0) > BIG / 2);
            let now = [memory_mib(alice).await?, memory_mib(bora).await?];
            for side in 0..2 {
                for figure in 0..2 {
                    let peak = &mut halves[side][half][figure];
                    *peak = peak.max(now[side][figure]);
                }
            }
        }
        if !shot && partial(&receiving) && receiving["bytes"].as_u64().unwrap_or(0) > BIG / 3 {
            screenshot(&bora.client, "call-files-progress").await?;
            shot = true;
        }
        if receiving["state"] == "done" && sending["state"] == "done" {
            break;
        }
        for c in [&sending, &receiving] {
            let state = c["state"].as_str().unwrap_or_default();
            ensure!(
                !matches!(
                    state,
                    "failed" | "corrupt" | "peer-left" | "cancelled" | "cancelled-by-them"
                ),
                "the transfer ended badly: {c}"
            );
        }
        ensure!(
            Instant::now() < deadline,
            "200 MiB didn't arrive in 300 s: {sending} {receiving}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    ensure!(
        seen_moving.0 && seen_moving.1,
        "progress wasn't seen on both sides: {seen_moving:?}"
    );
    let saved = downloaded(bora, "big-file.bin", BIG).await?;
    let got = sha256_of(&saved)?;
    ensure!(got == sha, "Bora's file hashes to {got}, Alice's to {sha}");
    println!(
        "200 MiB Alice -> Bora in {seconds:.1} s: {:.1} MiB/s (accept to checked, both sides)",
        200.0 / seconds
    );
    for (side, name) in ["Alice", "Bora"].iter().enumerate() {
        let [first, second] = halves[side];
        println!(
            "{name}: browser PSS {:.0} MiB before, peak {:.0} / {:.0} MiB while the first / second half moved; \
             page heap after GC {:.1} MiB before, peak {:.1} / {:.1} MiB",
            before[side][0], first[0], second[0], before[side][1], first[1], second[1]
        );
        // Neither side holds the file: the second 100 MiB adds nothing
        // like its size to what the first half left.
        ensure!(
            second[0] - first[0] < 50.0 && second[1] - first[1] < 20.0,
            "{name}'s memory grew with the file: first half {first:?}, second half {second:?} (PSS, heap)"
        );
    }
    screenshot(&alice.client, "call-files-done").await?;
    Ok(())
}

/// Bora cancels a big file mid-way (Alice is told; nothing is saved), then
/// declines a small one (Alice is told; nothing is saved); then a third
/// file is cut off by Alice leaving: Bora is told she left, nothing saved.
#[tokio::test(flavor = "multi_thread")]
async fn cancel_decline_and_leaving() -> Result<()> {
    let server = SignalServer::start(&[]).await?;
    let dir = temp_dir("cancel-file");
    let big = dir.join("cancelled.bin");
    random_file(&big, BIG, 7)?;
    let small = dir.join("declined.txt");
    random_file(&small, 4096, 9)?;
    let outcome = with_browsers(2, TEST_LIMIT, move |browsers| {
        Box::pin(async move { cancel_and_decline(&server, browsers, &big, &small).await })
    })
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}

async fn cancel_and_decline(
    server: &SignalServer,
    browsers: &[Browser],
    big: &Path,
    small: &Path,
) -> Result<()> {
    join(server, browsers, "files-cancel", &["Alice", "Bora"]).await?;
    let (alice, bora) = (&browsers[0], &browsers[1]);

    pick_file(alice, big).await?;
    click(
        &bora.client,
        ".transfer[data-state='offered'] .transfer-accept",
    )
    .await?;
    wait_until(
        &bora.client,
        "a quarter of the file at Bora",
        &format!(
            "[...document.querySelectorAll('#transfers .transfer[data-incoming=\"true\"][data-state=\"moving\"]')] \
             .some(c => Number(c.dataset.bytes) > {})",
            BIG / 4
        ),
    )
    .await?;
    click_card(bora, ".transfer[data-state='moving'] .transfer-cancel").await?;
    wait_for(
        &bora.client,
        ".transfer[data-incoming='true'][data-state='cancelled']",
    )
    .await?;
    wait_for(
        &alice.client,
        ".transfer[data-incoming='false'][data-state='cancelled-by-them']",
    )
    .await?;
    let told = card(alice, ".transfer[data-state='cancelled-by-them']").await?;
    ensure!(
        told["text"]
            .as_str()
            .unwrap_or_default()
            .contains("Bora cancelled"),
        "Alice's card says {told}"
    );
    screenshot(&alice.client, "call-files-cancelled").await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    ensure!(
        listing(&bora.downloads).is_empty(),
        "a cancelled file left {:?} in Bora's downloads",
        listing(&bora.downloads)
    );

    // Declined: nothing moves, nothing is saved.
    pick_file(alice, small).await?;
    wait_for(
        &bora.client,
        ".transfer[data-state='offered'][data-name='declined.txt']",
    )
    .await?;
    click(
        &bora.client,
        ".transfer[data-state='offered'] .transfer-decline",
    )
    .await?;
    wait_for(
        &alice.client,
        ".transfer[data-name='declined.txt'][data-state='declined']",
    )
    .await?;
    let declined = card(alice, ".transfer[data-name='declined.txt']").await?;
    ensure!(
        declined["text"]
            .as_str()
            .unwrap_or_default()
            .contains("Bora declined"),
        "Alice's card says {declined}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    ensure!(
        listing(&bora.downloads).is_empty(),
        "a declined file was saved: {:?}",
        listing(&bora.downloads)
    );

    // Alice leaves mid-transfer: Bora is told, nothing is saved.
    pick_file(alice, big).await?;
    wait_for(&bora.client, ".transfer[data-state='offered']").await?;
    click(
        &bora.client,
        ".transfer[data-state='offered'] .transfer-accept",
    )
    .await?;
    wait_until(
        &bora.client,
        "some of the file at Bora",
        &format!(
            "[...document.querySelectorAll('#transfers .transfer[data-state=\"moving\"]')].some(c => Number(c.dataset.bytes) > {})",
            BIG / 10
        ),
    )
    .await?;
    click(&alice.client, "#hang-up").await?;
    wait_for(
        &bora.client,
        ".transfer[data-incoming='true'][data-state='peer-left']",
    )
    .await?;
    let left = card(bora, ".transfer[data-state='peer-left']").await?;
    ensure!(
        left["text"]
            .as_str()
            .unwrap_or_default()
            .contains("Alice left the call"),
        "Bora's card says {left}"
    );
    screenshot(&bora.client, "call-files-peer-left").await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    ensure!(
        listing(&bora.downloads).is_empty(),
        "a cut-off file was saved: {:?}",
        listing(&bora.downloads)
    );
    Ok(())
}

/// In a room of three, Alice sends a small file to everyone: Bora and Chen
/// each accept and save a byte-identical copy. Then she sends one to Chen
/// alone: Chen saves it, Bora never hears of it.
#[tokio::test(flavor = "multi_thread")]
async fn a_small_file_to_everyone() -> Result<()> {
    let server = SignalServer::start(&[]).await?;
    let dir = temp_dir("small-file");
    let path = dir.join("notes.bin");
    let sha = random_file(&path, 3 * 1024 * 1024 + 17, 3)?;
    let outcome = with_browsers(3, TEST_LIMIT, move |browsers| {
        Box::pin(async move { to_everyone(&server, browsers, &path, &sha).await })
    })
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}

async fn to_everyone(
    server: &SignalServer,
    browsers: &[Browser],
    path: &Path,
    sha: &str,
) -> Result<()> {
    join(server, browsers, "files-room", &["Alice", "Bora", "Chen"]).await?;
    pick_file(&browsers[0], path).await?;
    for receiver in &browsers[1..] {
        click(
            &receiver.client,
            ".transfer[data-state='offered'] .transfer-accept",
        )
        .await?;
    }
    let size = std::fs::metadata(path)?.len();
    for (receiver, name) in browsers[1..].iter().zip(["Bora", "Chen"]) {
        let saved = downloaded(receiver, "notes.bin", size).await?;
        let got = sha256_of(&saved)?;
        ensure!(
            got == sha,
            "{name}'s copy hashes to {got}, the file to {sha}"
        );
        wait_for(&receiver.client, ".transfer[data-state='done']").await?;
    }
    wait_until(
        &browsers[0].client,
        "Alice to see both copies delivered",
        "document.querySelectorAll('#transfers .transfer[data-incoming=\"false\"][data-state=\"done\"]').length === 2",
    )
    .await?;

    // Then to Chen alone, from Chen's connection details: Chen is offered
    // it and saves it; Bora is offered nothing.
    let alice = &browsers[0];
    alice
        .client
        .execute(
            "[...document.querySelectorAll('.tile[data-peer-id]')] \
               .find(t => t.textContent.includes('Chen')).querySelector('.tile-quality').click();",
            vec![],
        )
        .await?;
    wait_for(&alice.client, "#details-panel").await?;
    let to_chen = wait_for(&alice.client, "#send-file-to")
        .await?
        .text()
        .await?;
    ensure!(
        to_chen.contains("Chen"),
        "the details' button says {to_chen:?}"
    );
    click(&alice.client, "#send-file-to").await?;
    let only = path.with_file_name("for-chen.bin");
    std::fs::copy(path, &only)?;
    pick_file(alice, &only).await?;
    let (bora, chen) = (&browsers[1], &browsers[2]);
    wait_for(&chen.client, ".transfer[data-state='offered']").await?;
    let offered = card(chen, ".transfer[data-state='offered']").await?;
    ensure!(
        offered["name"] == "for-chen.bin",
        "Chen is offered {offered}"
    );
    click(
        &chen.client,
        ".transfer[data-state='offered'] .transfer-accept",
    )
    .await?;
    let saved = downloaded(chen, "for-chen.bin", size).await?;
    ensure!(sha256_of(&saved)? == sha, "Chen's copy differs");
    wait_until(
        &alice.client,
        "Alice to see Chen's copy delivered",
        "document.querySelectorAll('#transfers .transfer[data-incoming=\"false\"][data-state=\"done\"]').length === 3",
    )
    .await?;
    let at_bora = bora
        .client
        .execute(
            "return [...document.querySelectorAll('#transfers .transfer')].map(c => c.dataset.name);",
            vec![],
        )
        .await?;
    ensure!(
        at_bora == serde_json::json!(["notes.bin"]),
        "Bora's page lists {at_bora} (only the file sent to everyone is expected)"
    );
    ensure!(
        !listing(&bora.downloads)
            .iter()
            .any(|n| n.contains("for-chen")),
        "Bora saved Chen's file: {:?}",
        listing(&bora.downloads)
    );
    Ok(())
}
