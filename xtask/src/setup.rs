//! Installs what the project needs, only what is missing, at pinned versions.

use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::util::{self, output, step};

/// What the caller is about to do; each needs a little more than the last.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Purpose {
    /// Build and start the app.
    Run,
    /// Run every check (adds browsers, WebDriver, cross targets).
    Test,
    /// Build and check the packages (adds tauri-cli, cargo-deb, debootstrap).
    Bundle,
}

/// Debian packages to build and start the app (WebKitGTK, OpenSSL for the
/// pre-join server check's TLS, GStreamer for the native call engine —
/// its headers to build, and the plugins it runs on: base, good, bad
/// (webrtcbin, DTLS/SRTP, webrtcdsp) and libnice's — and Xvfb so it also
/// starts on a machine without a display).
const APT_RUN: &[&str] = &[
    "pkg-config",
    "libssl-dev",
    "libwebkit2gtk-4.1-dev",
    "libgtk-3-dev",
    "libgstreamer1.0-dev",
    "libgstreamer-plugins-base1.0-dev",
    "libgstreamer-plugins-bad1.0-dev",
    "gstreamer1.0-plugins-base",
    "gstreamer1.0-plugins-good",
    "gstreamer1.0-plugins-bad",
    "gstreamer1.0-nice",
    "xvfb",
    "xdg-utils",
];
/// …and to test it: browsers and WebDriver servers, clang for the macOS
/// cross-check, ImageMagick for screenshots, a Korean font so the Korean UI
/// renders in them, iproute2 to let mDNS run on loopback in the LAN test,
/// a D-Bus session bus per app (single instance), xdotool to count its
/// windows and to see it appear in the launch benchmark, redis-server
/// for the signaling server's scale-out tests and bench (each starts its
/// own on a loopback port), PulseAudio with pactl, a sound server a test
/// starts for itself to plug microphones in and out of, and PipeWire with
/// its session manager, pw-cli and GStreamer's PipeWire plugin, for
/// cameras the same way, and gdb, which prints the stacks of an app or
/// browser that hangs in a test (`tests/src/watchdog.rs`).
const APT_TEST: &[&str] = &[
    "iproute2",
    "dbus-daemon",
    "xdotool",
    "webkit2gtk-driver",
    "chromium",
    "chromium-driver",
    "clang",
    "imagemagick",
    "fonts-nanum",
    "redis-server",
    "pulseaudio",
    "pulseaudio-utils",
    "pipewire",
    "wireplumber",
    "gstreamer1.0-pipewire",
    "gdb",
];

/// …and to bundle: debootstrap for the clean-system install check, and
/// dpkg-dev, whose dpkg-shlibdeps cargo-deb reads the server's library
/// dependencies with.
const APT_BUNDLE: &[&str] = &["debootstrap", "dpkg-dev"];

/// tauri-driver, pinned to the 2.x line the WebDriver tests speak.
const TAURI_DRIVER_VERSION: &str = "2.1.0";
/// cargo-fuzz, for the signaling server's fuzz targets (run on stable
/// with `RUSTC_BOOTSTRAP=1`: no nightly toolchain can be fetched here).
const CARGO_FUZZ_VERSION: &str = "0.13.2";
/// tauri-cli, only for `cargo xtask bundle`.
const TAURI_CLI_VERSION: &str = "^2";
/// cargo-deb, for the server's package.
const CARGO_DEB_VERSION: &str = "3.8.0";

/// Rust targets: the UI's, and the cross-checks' (std only, no linker needed).
const TARGET_WASM: &str = "wasm32-unknown-unknown";
const TARGETS_CROSS: &[&str] = &["x86_64-pc-windows-msvc", "aarch64-apple-darwin"];

/// Installs everything `purpose` needs that is not there yet.
pub fn run(purpose: Purpose) -> Result<()> {
    step(&format!("setup ({purpose:?}): checking what is installed"));
    let mut packages: Vec<&str> = APT_RUN.to_vec();
    if purpose >= Purpose::Test {
        packages.extend(APT_TEST);
    }
    if purpose >= Purpose::Bundle {
        packages.extend(APT_BUNDLE);
    }
    apt_install(&packages)?;

    let mut targets = vec![TARGET_WASM];
    if purpose >= Purpose::Test {
        targets.extend(TARGETS_CROSS);
    }
    rust_targets(&targets)?;
    if purpose >= Purpose::Test {
        // A minimal rustup profile (e.g. the official Docker image) has
        // neither, and `test` runs both.
        rust_components(&[("rustfmt", "fmt"), ("clippy", "clippy")])?;
    }

    let wasm_bindgen = wasm_bindgen_version()?;
    cargo_install("wasm-bindgen-cli", "wasm-bindgen", &wasm_bindgen, false)?;
    crate::npm::install_ui_tools()?;
    if purpose >= Purpose::Test {
        cargo_install("tauri-driver", "tauri-driver", TAURI_DRIVER_VERSION, true)?;
        cargo_install("cargo-fuzz", "cargo-fuzz", CARGO_FUZZ_VERSION, true)?;
        crate::npm::install_node_baseline()?;
    }
    if purpose >= Purpose::Bundle {
        cargo_install("tauri-cli", "cargo-tauri", TAURI_CLI_VERSION, true)?;
        cargo_install("cargo-deb", "cargo-deb", CARGO_DEB_VERSION, true)?;
    }
    println!("setup: everything is in place");
    Ok(())
}

/// Installs the Debian `packages` that are not installed yet.
pub fn apt_install(packages: &[&str]) -> Result<()> {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| {
            !output("dpkg-query", &["-W", "-f=${Status}", p])
                .is_some_and(|s| s.contains("install ok installed"))
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let list = missing.join(" ");
    if !util::has("apt-get") {
        bail!(
            "these system packages are missing and this is not a Debian/Ubuntu system: {list}\n\
             install their equivalents with your package manager, then run this again"
        );
    }
    let is_root = output("id", &["-u"]).is_some_and(|id| id.trim() == "0");
    if !is_root {
        bail!(
            "these system packages are missing: {list}\nrun:\n\n    \
             sudo apt-get update && sudo apt-get install -y {list}\n\nthen run this again"
        );
    }
    step(&format!("installing system packages: {list}"));
    util::run(Command::new("apt-get").arg("update").arg("-qq"))?;
    util::run(
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

fn rust_targets(targets: &[&str]) -> Result<()> {
    let installed = output("rustup", &["target", "list", "--installed"]).unwrap_or_default();
    let missing: Vec<&str> = targets
        .iter()
        .copied()
        .filter(|t| !installed.lines().any(|l| l.trim() == *t))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !util::has("rustup") {
        bail!("Rust targets {missing:?} are missing and rustup is not installed: install rustup");
    }
    step(&format!("adding Rust targets: {}", missing.join(" ")));
    util::run(
        Command::new("rustup")
            .arg("target")
            .arg("add")
            .args(&missing),
    )
}

/// Adds the rustup components (`(component, cargo subcommand)`) whose
/// cargo subcommand doesn't run.
fn rust_components(components: &[(&str, &str)]) -> Result<()> {
    let missing: Vec<&str> = components
        .iter()
        .filter(|(_, subcommand)| output("cargo", &[subcommand, "--version"]).is_none())
        .map(|(component, _)| *component)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !util::has("rustup") {
        bail!(
            "Rust components {missing:?} are missing and rustup is not installed: install rustup"
        );
    }
    step(&format!("adding Rust components: {}", missing.join(" ")));
    util::run(
        Command::new("rustup")
            .arg("component")
            .arg("add")
            .args(&missing),
    )
}

/// wasm-bindgen-cli must match the `wasm-bindgen` crate exactly, so the
/// version is read from Cargo.lock rather than written twice.
pub fn wasm_bindgen_version() -> Result<String> {
    let lock =
        std::fs::read_to_string(util::root().join("Cargo.lock")).context("reading Cargo.lock")?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"wasm-bindgen\"" {
            if let Some(version) = lines
                .next()
                .and_then(|l| l.strip_prefix("version = \""))
                .and_then(|l| l.strip_suffix('"'))
            {
                return Ok(version.to_owned());
            }
        }
    }
    bail!("wasm-bindgen is not in Cargo.lock")
}

/// `cargo install crate@version` unless `cargo install --list` already has a
/// matching version. `locked` is off for wasm-bindgen-cli, whose lock file
/// does not build with this toolchain.
fn cargo_install(krate: &str, binary: &str, version: &str, locked: bool) -> Result<()> {
    let list = output("cargo", &["install", "--list"]).unwrap_or_default();
    let installed = list.lines().find_map(|line| {
        line.strip_prefix(&format!("{krate} v"))
            .and_then(|rest| rest.strip_suffix(':'))
            .map(str::to_owned)
    });
    let matches = |installed: &str| match version.strip_prefix('^') {
        Some(major) => installed.split('.').next() == Some(major),
        None => installed == version,
    };
    if installed.as_deref().is_some_and(matches) && util::tool(binary).is_some() {
        return Ok(());
    }
    step(&format!(
        "installing {krate} {version} (one-time, takes a few minutes)"
    ));
    let mut cmd = util::cargo();
    cmd.args(["install", krate, "--version", version]);
    if locked {
        cmd.arg("--locked");
    }
    util::run(&mut cmd)
}
