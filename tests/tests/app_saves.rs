//! The app's shell writes received files into the Downloads folder as they
//! arrive: the `save_*` commands called from the app's own page through
//! Tauri's IPC, the bytes as raw bodies, as the UI's file transfer calls
//! them. What is checked is on disk: the file, byte for byte, under the
//! sender's name made safe and unique; nothing left by a save refused,
//! aborted or overlong; and the shell's memory not growing with the file.
#![cfg(target_os = "linux")]

use std::path::Path;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use peercall_e2e::{listing, pss_kib, temp_dir, wait_for, App, AppOptions};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Bytes per write, as the UI's queue coalesces a few data-channel
/// messages.
const WRITE: usize = 1024 * 1024;
/// Writes per half of the big file.
const HALF: usize = 48;

/// The page's helpers: `chunk(state)` fills [`WRITE`] bytes from an
/// xorshift32 generator (the same as [`stream`]), and `write(id, n)`
/// writes `n` chunks through `save_write`, raw.
const HELPERS: &str = r#"
    window.saves = window.saves || {
      state: 2463534242,
      chunk() {
        const words = new Uint32Array(__WRITE__ / 4);
        let s = this.state;
        for (let i = 0; i < words.length; i++) {
          s ^= s << 13; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
          words[i] = s;
        }
        this.state = s;
        return new Uint8Array(words.buffer);
      },
      async write(id, n) {
        let held = 0;
        for (let i = 0; i < n; i++) {
          held = await ipc.invoke('save_write', this.chunk(),
            { headers: { 'peercall-args': JSON.stringify({ id }) } });
        }
        return held;
      },
    };
"#;

/// The bytes the page's `chunk()` makes, `chunks` of them.
fn stream(chunks: usize) -> Vec<u8> {
    let mut state: u32 = 2_463_534_242;
    let mut bytes = Vec::with_capacity(chunks * WRITE);
    for _ in 0..chunks * WRITE / 4 {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Runs `body` (an async function body with `ipc` and the helpers in
/// scope) in the page; answers its result, or `{ failed }` with the error.
async fn in_page(app: &App, body: &str) -> Result<Value> {
    let helpers = HELPERS.replace("__WRITE__", &WRITE.to_string());
    let script = format!(
        "const done = arguments[arguments.length - 1];
         const ipc = window.__TAURI_INTERNALS__;
         {helpers}
         (async () => {{ {body} }})().then(done, (e) => done({{ failed: e }}));"
    );
    Ok(app.client.execute_async(&script, vec![]).await?)
}

#[tokio::test(flavor = "multi_thread")]
async fn received_files_go_to_downloads_whole_and_nothing_else_does() -> Result<()> {
    let downloads = temp_dir("app-downloads");
    let app = App::launch(AppOptions {
        env: vec![(
            "XDG_DOWNLOAD_DIR".to_owned(),
            downloads.display().to_string(),
        )],
        ..AppOptions::default()
    })
    .await?;
    let outcome = scenario(&app, &downloads).await;
    let _ = app.quit().await;
    outcome
}

async fn scenario(app: &App, downloads: &Path) -> Result<()> {
    wait_for(&app.client, "#home").await?;
    app.client
        .update_timeouts(fantoccini::wd::TimeoutConfiguration::new(
            None,
            None,
            Some(Duration::from_secs(120)),
        ))
        .await?;
    let shell = app.pid()?;
    let bytes = stream(2 * HALF);
    let size = bytes.len();

    // A big file, in two halves: the shell's memory after the second is
    // about what it was after the first.
    let opened = in_page(
        app,
        &format!(
            "const id = await ipc.invoke('save_open', {{ args: {{ name: 'recording.bin', size: {size} }} }});
             const started = performance.now();
             const held = await saves.write(id, {HALF});
             return {{ id, held, ms: performance.now() - started }};"
        ),
    )
    .await?;
    let id = opened["id"].clone();
    ensure!(
        opened["held"] == json!(HALF * WRITE),
        "the first half was not written: {opened}"
    );
    let after_first = pss_kib(shell);
    let second = in_page(
        app,
        &format!(
            "const started = performance.now();
             const held = await saves.write({id}, {HALF});
             return {{ held, ms: performance.now() - started }};"
        ),
    )
    .await?;
    let after_second = pss_kib(shell);
    ensure!(
        second["held"] == json!(size),
        "the second half was not written: {second}"
    );
    let ms = opened["ms"].as_f64().unwrap_or(0.0) + second["ms"].as_f64().unwrap_or(0.0);
    println!(
        "{} MiB through the bridge to disk at {:.0} MiB/s; the shell's PSS {} MiB after the first half, {} MiB after the second",
        size / WRITE,
        (size / WRITE) as f64 / (ms / 1000.0),
        after_first / 1024,
        after_second / 1024
    );
    ensure!(
        after_second < after_first + 16 * 1024,
        "the shell grew with the file: {after_first} KiB then {after_second} KiB"
    );
    ensure!(
        listing(downloads).iter().all(|f| f.starts_with('.')),
        "the file had its name before it was finished: {:?}",
        listing(downloads)
    );
    let saved = in_page(
        app,
        &format!(
            "return await ipc.invoke('save_finish', {{ args: {{ id: {id}, sha256: '{}' }} }});",
            sha256(&bytes)
        ),
    )
    .await?;
    ensure!(
        saved["name"] == "recording.bin",
        "not saved as sent: {saved}"
    );
    let on_disk = std::fs::read(downloads.join("recording.bin")).context("the saved file")?;
    ensure!(
        on_disk == bytes,
        "the saved file differs from what was sent"
    );
    drop(on_disk);

    // The same name again goes beside it; a name with folders stays in
    // Downloads; a wrong hash, too many bytes and an abort leave nothing.
    let outcomes = in_page(
        app,
        &format!(
            "const one = async (name, size, chunks, sha256) => {{
               const id = await ipc.invoke('save_open', {{ args: {{ name, size }} }});
               try {{
                 await saves.write(id, chunks);
                 if (sha256 === null) {{
                   await ipc.invoke('save_abort', {{ args: {{ id }} }});
                   return 'aborted';
                 }}
                 return await ipc.invoke('save_finish', {{ args: {{ id, sha256 }} }});
               }} catch (e) {{ return e; }}
             }};
             saves.state = 2463534242;
             const again = await one('recording.bin', {WRITE}, 1, '{first}');
             saves.state = 2463534242;
             const climbing = await one('../../up/there.bin', {WRITE}, 1, '{first}');
             const corrupt = await one('corrupt.bin', {WRITE}, 1, '{first}');
             const long = await one('long.bin', {WRITE} - 1, 1, '{first}');
             const aborted = await one('aborted.bin', 2 * {WRITE}, 1, null);
             return {{ again, climbing, corrupt, long, aborted }};",
            first = sha256(&bytes[..WRITE]),
        ),
    )
    .await?;
    ensure!(
        outcomes["again"]["name"] == "recording (2).bin"
            && outcomes["climbing"]["name"] == "there.bin",
        "names: {outcomes}"
    );
    ensure!(
        outcomes["corrupt"]["kind"] == json!({ "save": "corrupt" })
            && outcomes["long"]["kind"] == json!({ "save": "too_long" })
            && outcomes["aborted"] == "aborted",
        "refusals: {outcomes}"
    );
    ensure!(
        std::fs::read(downloads.join("there.bin"))? == bytes[..WRITE],
        "the file with folders in its name differs"
    );
    ensure!(
        listing(downloads) == ["recording (2).bin", "recording.bin", "there.bin"],
        "the Downloads folder holds {:?}",
        listing(downloads)
    );
    Ok(())
}
