//! An app whose `peercall-engine` is of another version (a package
//! upgrade replaced it while the app runs): the app notices, runs its call
//! engine from its own executable instead, and the call works. What is
//! checked is what the people see — Chromium, the other person, decodes
//! the app's video and audio, and the app draws Chromium's — and, from
//! outside, which executable the engine process runs.
//!
//! The app here is a copy of the built one in a folder of its own, beside
//! a `peercall-engine` that is the real one told the shell is of another
//! version (it then refuses every request, as a real one of another version
//! does).
#![cfg(target_os = "linux")]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use fantoccini::Client;
use peercall::native::process::wire::VERSION;
use peercall_e2e::native::{
    canvas_drawing, engine_processes, start_call_with_chromium, with_this_app_and_chromium,
};
use peercall_e2e::{app_bin, temp_dir, type_into, wait_for, App, AppOptions};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread")]
async fn a_call_works_when_the_engine_beside_the_app_is_of_another_version() -> Result<()> {
    let (app, tried) = app_beside_an_engine_of_another_version()?;
    let options = AppOptions {
        app_bin: Some(app.clone()),
        ..AppOptions::default()
    };
    let dir = app.parent().map(Path::to_path_buf);
    let outcome =
        with_this_app_and_chromium(options, Duration::from_secs(180), |running, chromium| {
            Box::pin(scenario(running, chromium, app, tried))
        })
        .await;
    if let Some(dir) = dir {
        let _ = std::fs::remove_dir_all(dir);
    }
    outcome
}

/// A copy of the app in a folder of its own, beside a `peercall-engine`
/// of "another version"; returns the copy and the file that engine writes
/// its arguments to each time it is started.
fn app_beside_an_engine_of_another_version() -> Result<(PathBuf, PathBuf)> {
    let built = app_bin()?;
    let real_engine = built.with_file_name("peercall-engine");
    ensure!(
        real_engine.is_file(),
        "{} is not built",
        real_engine.display()
    );
    let dir = temp_dir("other-engine");
    let app = dir.join("peercall");
    std::fs::copy(&built, &app).context("copying the app")?;
    let tried = dir.join("engine-started");
    let engine = dir.join("peercall-engine");
    std::fs::write(
        &engine,
        format!(
            "#!/bin/sh\necho \"$@\" >> '{}'\nexec '{}' --call-engine --shell-version 0.0.0-another-build\n",
            tried.display(),
            real_engine.display()
        ),
    )?;
    std::fs::set_permissions(&engine, std::fs::Permissions::from_mode(0o755))?;
    Ok((app, tried))
}

async fn scenario(app: &App, chromium: &Client, binary: PathBuf, tried: PathBuf) -> Result<()> {
    let window = &app.client;
    wait_for(window, "#home[data-engine='native']").await?;
    wait_for(window, "#server-status[data-state='ready']").await?;
    type_into(window, "#display-name", "Appa").await?;
    start_call_with_chromium(app, chromium, CONNECT_TIMEOUT).await?;
    canvas_drawing(
        window,
        ".tile[data-peer-id] canvas",
        "Chromium's tile in the app",
    )
    .await?;

    let asked = std::fs::read_to_string(&tried)
        .context("the engine beside the app was never started: nothing was tried")?;
    let first = asked.lines().next().unwrap_or_default();
    let expected = format!("--shell-version {VERSION}");
    ensure!(
        first.starts_with("--call-engine ") && first.contains(&expected),
        "the app started the engine beside it with `{first}`, not `--call-engine … {expected}`"
    );
    let engines = engine_processes(app.pid()?);
    ensure!(
        engines.len() == 1,
        "engine processes in the call: {engines:?}"
    );
    let exe = std::fs::read_link(format!("/proc/{}/exe", engines[0]))?;
    ensure!(
        same_file(&exe, &binary),
        "the call's engine runs {}, not the app's own executable {}",
        exe.display(),
        binary.display()
    );
    app.capture_screen("native-engine-version")?;
    Ok(())
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
