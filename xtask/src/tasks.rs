//! The commands themselves.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::setup::{self, Purpose};
use crate::util::{self, cargo, root, step};

/// Files copied next to the wasm-bindgen output.
const UI_STATIC: &[&str] = &["index.html", "styles.css", "boot.js", "favicon.svg"];

/// Builds the UI into `src-ui/dist` (release wasm + wasm-bindgen JS glue).
pub fn build_ui() -> Result<()> {
    step("building the UI (wasm)");
    util::run(cargo().args([
        "build",
        "--package",
        "peercall-ui",
        "--target",
        "wasm32-unknown-unknown",
        "--release",
    ]))?;
    let root = root();
    let dist = root.join("src-ui/dist");
    std::fs::create_dir_all(&dist).context("creating src-ui/dist")?;
    let wasm = target_dir().join("wasm32-unknown-unknown/release/peercall-ui.wasm");
    let wasm_bindgen = util::tool("wasm-bindgen")
        .context("wasm-bindgen is not installed: run `cargo xtask setup`")?;
    util::run(
        Command::new(wasm_bindgen)
            .args([
                "--target",
                "web",
                "--no-typescript",
                "--out-name",
                "peercall_ui",
            ])
            .arg("--out-dir")
            .arg(&dist)
            .arg(&wasm),
    )?;
    // rustc's wasm, shrunk by a third (1.9 → 1.3 MB): less for the
    // webview to compile before the first paint (see docs/benchmarks.md).
    // The features are those rustc's wasm32 target emits.
    let wasm_out = dist.join("peercall_ui_bg.wasm");
    util::run(
        Command::new(crate::npm::wasm_opt())
            .arg("-Oz")
            .args([
                "--enable-bulk-memory",
                "--enable-mutable-globals",
                "--enable-nontrapping-float-to-int",
                "--enable-sign-ext",
                "--enable-reference-types",
                "--enable-multivalue",
            ])
            .arg(&wasm_out)
            .arg("-o")
            .arg(&wasm_out),
    )
    .context("wasm-opt is not installed: run `cargo xtask setup`")?;
    for file in UI_STATIC {
        std::fs::copy(root.join("src-ui").join(file), dist.join(file))
            .with_context(|| format!("copying src-ui/{file}"))?;
    }
    let size = std::fs::metadata(dist.join("peercall_ui_bg.wasm"))?.len();
    println!(
        "UI built: src-ui/dist ({:.0} KiB of wasm)",
        size as f64 / 1024.0
    );
    Ok(())
}

/// `cargo xtask run`: install, build, start the app (under Xvfb when there is
/// no display, so it also comes up on a headless machine).
pub fn run_app() -> Result<()> {
    setup::run(Purpose::Run)?;
    build_ui()?;
    step("building the app");
    util::run(cargo().args(["build", "--package", "peercall"]))?;
    let _xvfb = ensure_display()?;
    step("starting Peercall");
    util::run(&mut Command::new(target_dir().join("debug/peercall")))
}

/// `cargo xtask test`: every check, in the order that fails fastest.
pub fn test() -> Result<()> {
    if std::env::var_os("CI").is_some() && std::env::var_os("CARGO_INCREMENTAL").is_none() {
        // A CI build happens once: incremental state would only take disk
        // (gigabytes) and time.
        std::env::set_var("CARGO_INCREMENTAL", "0");
    }
    setup::run(Purpose::Test)?;
    crate::tidy::run()?;
    crate::bundle_config::run()?;
    // The app embeds the UI at compile time, so it must exist before clippy.
    build_ui()?;

    step("formatting");
    util::run(cargo().args(["fmt", "--all", "--check"]))?;

    step("clippy (host)");
    util::run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    step("clippy (UI and protocol for wasm32)");
    util::run(cargo().args([
        "clippy",
        "--package",
        "peercall-ui",
        "--target",
        "wasm32-unknown-unknown",
        "--",
        "-D",
        "warnings",
    ]))?;
    util::run(cargo().args([
        "clippy",
        "--package",
        "peercall-signal",
        "--no-default-features",
        "--target",
        "wasm32-unknown-unknown",
        "--",
        "-D",
        "warnings",
    ]))?;

    cross_checks()?;

    step("building the binaries the end-to-end tests drive");
    util::run(cargo().args([
        "build",
        "--package",
        "peercall",
        "--package",
        "peercall-signal",
    ]))?;

    step("unit, integration and end-to-end tests");
    util::run(
        cargo()
            .args(["test", "--workspace", "--no-fail-fast"])
            .env("PEERCALL_APP_BIN", target_dir().join("debug/peercall"))
            .env(
                "PEERCALL_SIGNAL_BIN",
                target_dir().join("debug/peercall-signal"),
            )
            .env("PEERCALL_UI_DIST", root().join("src-ui/dist")),
    )?;
    fuzz(FUZZ_SECONDS_IN_TEST, false)?;
    println!("\nall checks passed");
    Ok(())
}

/// The signaling server's fuzz targets (`signal/fuzz/`): the protocol
/// parser, the HTTP head parser and the hub as a state machine.
const FUZZ_TARGETS: &[&str] = &["parse", "http_head", "hub"];
/// How long each target runs in `cargo xtask test`: long enough to go past
/// the corpus kept in the repository, short enough for every CI run.
const FUZZ_SECONDS_IN_TEST: u32 = 30;

/// `cargo xtask fuzz [SECONDS]`: every fuzz target for `seconds` each
/// (bounded runs). With `grow_corpus`, inputs that reach new code are added
/// to the corpus in the repository (`signal/fuzz/corpus/`, to be
/// committed); otherwise they go to a scratch directory under `target/`
/// and the repository's corpus is only read.
pub fn fuzz(seconds: u32, grow_corpus: bool) -> Result<()> {
    util::tool("cargo-fuzz").context("cargo-fuzz is not installed: run `cargo xtask setup`")?;
    for target in FUZZ_TARGETS {
        step(&format!("fuzzing {target} for {seconds} s"));
        let kept = root().join("signal/fuzz/corpus").join(target);
        let mut command = cargo();
        command.args(["fuzz", "run", "--fuzz-dir", "signal/fuzz", target]);
        if !grow_corpus {
            let scratch = target_dir().join("fuzz-corpus").join(target);
            std::fs::create_dir_all(&scratch)?;
            command.arg(scratch);
        }
        util::run(
            command
                .arg(kept)
                .args(["--", &format!("-max_total_time={seconds}"), "-timeout=10"])
                // cargo fuzz wants nightly flags; this stable toolchain
                // takes them when told to.
                .env("RUSTC_BOOTSTRAP", "1"),
        )?;
    }
    Ok(())
}

/// Windows and macOS code must keep compiling, though it cannot run here.
fn cross_checks() -> Result<()> {
    step("cross-target check: Windows");
    util::run(cargo().args([
        "check",
        "--package",
        "peercall",
        "--target",
        "x86_64-pc-windows-msvc",
    ]))?;
    step("cross-target check: macOS");
    util::run(
        cargo()
            .args([
                "check",
                "--package",
                "peercall",
                "--target",
                "aarch64-apple-darwin",
            ])
            // Build scripts compile a little C/Objective-C; gcc can't target macOS.
            .env("CC_aarch64_apple_darwin", "clang"),
    )
}

/// The app's .deb must stay this small (it is 3 MiB; see docs/benchmarks.md
/// for what it holds).
const APP_DEB_LIMIT: u64 = 5 * 1024 * 1024;

/// `cargo xtask bundle [--verify]`: the app's .deb and .rpm and the
/// server's .deb, with their sizes; with `verify`, then installed on a
/// clean Debian 12 (`install_check`).
pub fn bundle(verify: bool) -> Result<()> {
    setup::run(Purpose::Bundle)?;
    crate::bundle_config::run()?;
    build_ui()?;
    step("bundling the app (deb, rpm)");
    let cargo_tauri = util::tool("cargo-tauri").context("tauri-cli is not installed")?;
    // tauri-cli finds src-tauri/tauri.conf.json from the workspace root.
    util::run(Command::new(cargo_tauri).args(["build", "--bundles", "deb,rpm"]))?;
    check_deb_desktop_entry()?;
    step("bundling the server (deb, cargo-deb)");
    let server_dir = target_dir().join("debian");
    let _ = std::fs::remove_dir_all(&server_dir);
    util::run(
        cargo()
            .args(["deb", "--package", "peercall-signal", "--output"])
            .arg(&server_dir),
    )?;

    step("bundle sizes");
    let app_deb = newest(&target_dir().join("release/bundle/deb"), "deb")?;
    let server_deb = newest(&server_dir, "deb")?;
    let app_rpm = newest(&target_dir().join("release/bundle/rpm"), "rpm")?;
    for package in [&app_deb, &app_rpm, &server_deb] {
        println!(
            "{} — {:.2} MiB",
            package.display(),
            std::fs::metadata(package)?.len() as f64 / (1024.0 * 1024.0)
        );
    }
    let app_size = std::fs::metadata(&app_deb)?.len();
    anyhow::ensure!(
        app_size <= APP_DEB_LIMIT,
        "the app's .deb is {app_size} bytes, over the {APP_DEB_LIMIT} limit"
    );
    if verify {
        crate::install_check::run(&app_deb, &server_deb)?;
    }
    Ok(())
}

/// The one file ending in `.extension` in `dir` that was written last.
fn newest(dir: &Path, extension: &str) -> Result<PathBuf> {
    std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok())
        .with_context(|| format!("no .{extension} in {}", dir.display()))
}

/// The .deb's desktop entry must register `peercall://` invite links and
/// pass the clicked link to the app (`%u`), or links open nothing.
fn check_deb_desktop_entry() -> Result<()> {
    step("deb: invite links registered");
    let deb = newest(&target_dir().join("release/bundle/deb"), "deb")?;
    let unpacked = target_dir().join("deb-check");
    let _ = std::fs::remove_dir_all(&unpacked);
    util::run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&unpacked))?;
    let applications = unpacked.join("usr/share/applications");
    let mut desktop = String::new();
    for entry in std::fs::read_dir(&applications)
        .with_context(|| format!("no desktop entries in {}", applications.display()))?
    {
        desktop.push_str(&std::fs::read_to_string(entry?.path())?);
    }
    anyhow::ensure!(
        desktop.contains("MimeType=x-scheme-handler/peercall") && desktop.contains(" %u"),
        "the .deb's desktop entry does not open peercall:// links:\n{desktop}"
    );
    println!("peercall:// links open the app (MimeType and %u present)");
    Ok(())
}

/// `cargo xtask bench`: app launch time and memory, signaling throughput
/// (one server, and several sharing rooms through Redis), the native call
/// engine, a call in the app's window, memory across calls.
pub fn bench() -> Result<()> {
    setup::run(Purpose::Test)?;
    build_ui()?;
    step("building the release app");
    util::run(cargo().args(["build", "--release", "--package", "peercall"]))?;
    step("app launch and memory");
    util::run(&mut e2e_bench("app_launch"))?;
    step("signaling server");
    util::run(cargo().args(["bench", "--package", "peercall-signal", "--bench", "relay"]))?;
    step("signaling servers sharing rooms through Redis");
    util::run(cargo().args([
        "bench",
        "--package",
        "peercall-signal",
        "--bench",
        "scale_out",
    ]))?;
    util::run(cargo().args([
        "bench",
        "--package",
        "peercall-signal",
        "--bench",
        "pubsub_layout",
    ]))?;
    step("native call engine (Linux): frames to the page, a call with Chromium");
    util::run(cargo().args(["bench", "--package", "peercall", "--bench", "frames"]))?;
    util::run(cargo().args([
        "bench",
        "--package",
        "peercall-e2e",
        "--bench",
        "native_call",
    ]))?;
    step("a call in the app's window (native engine) and between two Chromiums");
    util::run(&mut e2e_bench("app_call"))?;
    step("memory across ten calls in a row, on each engine");
    util::run(&mut e2e_bench("call_memory"))
}

/// `cargo bench` of the end-to-end bench `name` against the release app,
/// the UI just built and the release `peercall-signal` (built by the
/// signaling benches, for the benches that start a server).
fn e2e_bench(name: &str) -> Command {
    let mut command = cargo();
    command
        .args(["bench", "--package", "peercall-e2e", "--bench", name])
        .env("PEERCALL_APP_BIN", target_dir().join("release/peercall"))
        .env(
            "PEERCALL_SIGNAL_BIN",
            target_dir().join("release/peercall-signal"),
        )
        .env("PEERCALL_UI_DIST", root().join("src-ui/dist"));
    command
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// An Xvfb we started, stopped when dropped.
struct Xvfb(Child);

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn ensure_display() -> Result<Option<Xvfb>> {
    if std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some() {
        return Ok(None);
    }
    let display = (90..200)
        .find(|n| !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists())
        .context("no free X display number")?;
    println!("no display: starting Xvfb on :{display}");
    let child = Command::new("Xvfb")
        .arg(format!(":{display}"))
        .args(["-screen", "0", "1280x800x24", "-nolisten", "tcp"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting Xvfb")?;
    std::thread::sleep(Duration::from_millis(500));
    std::env::set_var("DISPLAY", format!(":{display}"));
    Ok(Some(Xvfb(child)))
}
