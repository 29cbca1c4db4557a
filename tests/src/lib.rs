//! Harness for Peercall's end-to-end tests: real processes only.
//!
//! It starts what a test needs — an X display (Xvfb), the real `peercall`
//! app through `tauri-driver` + `WebKitWebDriver`, the real
//! `peercall-signal` server, headless Chromium through `chromedriver` — and
//! stops all of it when the guards drop. Binaries come from the environment
//! `cargo xtask test` sets (`PEERCALL_APP_BIN`, `PEERCALL_SIGNAL_BIN`,
//! `PEERCALL_UI_DIST`), else from `target/debug`.
//!
//! Everything is re-exported here, so tests import from the crate root.
//! By concern:
//!
//! - `process` — the workspace root, the built binaries, the
//!   `tests/artifacts` folder, free ports, [`Process`] (a child killed when
//!   dropped), fresh temp and settings directories, a process tree's PSS
//!   and its resident memory with each page counted once.
//! - `app` — the real desktop app: [`Display`] (its own Xvfb screen),
//!   [`SessionBus`] (its own D-Bus session bus), [`App`] / [`AppOptions`] (the WebDriver session through tauri-driver),
//!   and a [`recording_browser`] standing in for the system browser.
//! - `browser` — headless Chromium: [`Browser`], [`FakeMedia`], and
//!   [`with_browsers`] to run a scenario with several at once.
//! - `call` — the signaling server: [`SignalServer`], the page URLs that
//!   open a room or the home page on it, and raw HTTP / WebSocket probes.
//! - `dom` — reading and driving a page: [`wait_for`], [`wait_until`],
//!   [`wait_for_text`], [`attr`], [`click`], [`type_into`], [`screenshot`].
//! - `observe` — what the browser itself does during a call, recorded by
//!   an init script (`observe.js`) and read from outside the app.
//! - `native` (Linux) — the shell's native call engine driven directly
//!   against a Chromium page's `RTCPeerConnection`, in a network namespace
//!   of its own.
//! - `pulse` (Linux) — [`PulseServer`], a PulseAudio server of the test's
//!   own to plug microphones in and out of.
//! - `pipewire` (Linux) — [`PipeWireServer`], a PipeWire of the test's own
//!   to plug cameras in and out of.
//! - `watchdog` — [`Watchdog`]: an app or browser a test keeps longer than
//!   [`LIFETIME_LIMIT`] (hung) has its threads' stacks printed and is
//!   killed, so the test fails saying what was stuck instead of waiting
//!   forever.

mod app;
mod browser;
mod call;
mod dom;
mod files;
#[cfg(target_os = "linux")]
pub mod native;
mod observe;
#[cfg(target_os = "linux")]
mod pipewire;
mod process;
#[cfg(target_os = "linux")]
mod pulse;
mod watchdog;

pub use app::{
    opened_url, recording_browser, without_native_engine, App, AppOptions, Display, SessionBus,
};
pub use browser::{close_all, launch_browsers, with_browsers, Browser, FakeMedia};
pub use call::{home_url, http_get, room_url, signaling_welcome, RedisServer, SignalServer};
pub use dom::{
    attr, click, screenshot, type_into, wait_for, wait_for_text, wait_until, UI_TIMEOUT,
};
pub use files::{listing, random_file, sha256_of};
pub use observe::*;
#[cfg(target_os = "linux")]
pub use pipewire::PipeWireServer;
pub use process::{
    app_bin, artifacts, family, family_cpu_ticks, family_pss_kib, family_resident_once_kib,
    free_port, pss_kib, require, root, settings_dir, signal_bin, temp_dir, ui_dist, Process,
};
#[cfg(target_os = "linux")]
pub use pulse::PulseServer;
pub use watchdog::{Watchdog, LIFETIME_LIMIT};
