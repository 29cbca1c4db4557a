//! Benchmark (not a test): a file from one browser to another over
//! Peercall's data channels, with its throughput and the memory of both
//! sides.
//!
//! Run with `cargo bench -p peercall-e2e --bench file_transfer` after
//! building the UI and `peercall-signal` (as for the e2e tests). The size is
//! 1 GiB unless `PEERCALL_BENCH_FILE_MIB` says otherwise.
//!
//! A real `peercall-signal` server and two headless Chromium browsers with
//! fake cameras, in a call (video flowing both ways, as in a real call).
//! Alice picks the file; Bora accepts it. Measured from outside the app:
//! - *preparing*: from picking the file to the offer on Bora's screen
//!   (Alice's page hashes the whole file first);
//! - *throughput*: from Bora's click on Accept until his page says the file
//!   arrived and its hash checked, and Chromium saved it in his downloads;
//! - *memory*: each browser's PSS (every Chromium process of that person,
//!   read from /proc) and its page's JavaScript heap, sampled twice a
//!   second, before and at their peak during the transfer.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Result};
use fantoccini::Locator;
use peercall_e2e::{
    click, family_pss_kib, media_flowing, random_file, room_url, temp_dir, wait_for,
    wait_for_observed, with_browsers, Browser, SignalServer,
};

/// The longest the whole run may take.
const LIMIT: Duration = Duration::from_secs(1800);

#[tokio::main]
async fn main() -> Result<()> {
    let mib: u64 = std::env::var("PEERCALL_BENCH_FILE_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let dir = temp_dir("bench-file");
    let path = dir.join("bench.bin");
    random_file(&path, mib << 20, 0x9e37_79b9_7f4a_7c15)?;
    let server = SignalServer::start(&[]).await?;
    let outcome = with_browsers(2, LIMIT, move |browsers| {
        Box::pin(async move { run(&server, browsers, &path, mib).await })
    })
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}

async fn run(server: &SignalServer, browsers: &[Browser], path: &Path, mib: u64) -> Result<()> {
    let (alice, bora) = (&browsers[0], &browsers[1]);
    for (browser, name) in [(alice, "Alice"), (bora, "Bora")] {
        browser
            .client
            .goto(&room_url(server, "bench-files", name))
            .await?;
    }
    for (browser, name) in [(alice, "Alice"), (bora, "Bora")] {
        wait_for_observed(
            &browser.client,
            &format!("{name} in the call"),
            Duration::from_secs(60),
            |s| media_flowing(s, 1),
        )
        .await?;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = [sample(alice).await?, sample(bora).await?];
    let picked = Instant::now();
    alice
        .client
        .find(Locator::Css("#file-input"))
        .await?
        .send_keys(&path.display().to_string())
        .await?;
    let offer = ".transfer[data-state='offered'] .transfer-accept";
    bora.client
        .wait()
        .at_most(Duration::from_secs(600))
        .for_element(Locator::Css(offer))
        .await?;
    let preparing = picked.elapsed();
    let mut peak = before;
    // The peak PSS of each side per quarter of the bytes Bora has, and
    // once his page is done (the download into his folder): memory that
    // grew with the file would climb from quarter to quarter.
    let mut phases = [[0f64; 2]; 5];
    let started = Instant::now();
    click(&bora.client, offer).await?;
    let mut record = |now: [(f64, f64); 2], phase: usize, peak: &mut [(f64, f64); 2]| {
        for side in 0..2 {
            peak[side].0 = peak[side].0.max(now[side].0);
            peak[side].1 = peak[side].1.max(now[side].1);
            phases[phase][side] = phases[phase][side].max(now[side].0);
        }
    };
    loop {
        let now = [sample(alice).await?, sample(bora).await?];
        let state = bora
            .client
            .execute("const t = document.querySelector('#transfers .transfer[data-incoming=\"true\"]'); return t ? [t.dataset.state, Number(t.dataset.bytes)] : null;", vec![])
            .await?;
        let bytes = state[1].as_f64().unwrap_or(0.0);
        let quarter = ((bytes / (mib << 20) as f64 * 4.0) as usize).min(3);
        match state[0].as_str() {
            Some("done") => {
                record(now, 4, &mut peak);
                break;
            }
            Some("moving" | "offered") => record(now, quarter, &mut peak),
            other => bail!("the transfer ended as {other:?}"),
        }
        ensure!(started.elapsed() < LIMIT, "the transfer took too long");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let saved = bora.downloads.join("bench.bin");
    while std::fs::metadata(&saved).map(|m| m.len()).unwrap_or(0) != mib << 20 {
        ensure!(started.elapsed() < LIMIT, "the download never finished");
        record([sample(alice).await?, sample(bora).await?], 4, &mut peak);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    wait_for(&alice.client, ".transfer[data-state='done']").await?;
    println!(
        "file transfer: {mib} MiB, Alice -> Bora, two headless Chromium on one machine, cameras on"
    );
    println!(
        "  preparing (hashing at Alice): {:.1} s",
        preparing.as_secs_f64()
    );
    println!(
        "  throughput: {:.1} MiB/s ({seconds:.1} s from Accept to saved and checked)",
        mib as f64 / seconds
    );
    for (side, name) in ["Alice (sends)", "Bora (receives)"].iter().enumerate() {
        println!(
            "  {name}: browser PSS {:.0} MiB before, {:.0} MiB peak (+{:.0}); page JS heap {:.1} MiB before, {:.1} MiB peak",
            before[side].0,
            peak[side].0,
            peak[side].0 - before[side].0,
            before[side].1,
            peak[side].1
        );
    }
    for (side, name) in ["Alice", "Bora"].iter().enumerate() {
        let quarters: Vec<String> = phases[..4]
            .iter()
            .map(|p| format!("{:.0}", p[side]))
            .collect();
        println!(
            "  {name}: peak PSS by quarter of the file {} MiB, then saving {:.0} MiB",
            quarters.join(" / "),
            phases[4][side]
        );
    }
    let _ = std::fs::remove_file(&saved);
    Ok(())
}

/// (PSS of the browser's processes, MiB; the page's JS heap, MiB).
async fn sample(browser: &Browser) -> Result<(f64, f64)> {
    let heap = browser
        .client
        .execute(
            "return performance.memory ? performance.memory.usedJSHeapSize : 0;",
            vec![],
        )
        .await?
        .as_f64()
        .unwrap_or(0.0);
    Ok((
        family_pss_kib(browser.driver_pid()) as f64 / 1024.0,
        heap / 1048576.0,
    ))
}
