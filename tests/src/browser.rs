//! Headless Chromium, one per person in a call: [`Browser`] (with the
//! observer installed in every page it opens), its fake camera and
//! microphone ([`FakeMedia`]), and running a scenario with several at once.

use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};
use fantoccini::Client;
use serde_json::json;

use crate::app::connect;
use crate::observe::install_observer;
use crate::process::{free_port, require, wait_for_port, Process};
use crate::watchdog::{Watchdog, LIFETIME_LIMIT};

/// Headless Chromium with fake camera and microphone, through chromedriver.
pub struct Browser {
    /// The WebDriver session.
    pub client: Client,
    /// Where this browser saves downloads (without asking).
    pub downloads: std::path::PathBuf,
    _watchdog: Watchdog,
    _driver: Process,
    // Dropped after the driver (fields drop in order): the profile (which
    // holds a file-transfer test's whole file in its storage) and the
    // downloads go with the browser, not left behind in the temp dir.
    _dirs: RemoveOnDrop,
}

/// Directories removed when dropped.
struct RemoveOnDrop(Vec<std::path::PathBuf>);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        for dir in &self.0 {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Which camera and microphone a [`Browser::launch_with_media`] browser has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FakeMedia {
    /// A fake camera and microphone, access granted (as [`Browser::launch`]).
    Devices,
    /// A fake microphone but no camera at all.
    NoCamera,
    /// Fake devices, but every camera/microphone permission prompt is
    /// refused (as if the person clicked Block).
    Blocked,
}

impl Browser {
    /// chromedriver's process id (Chromium and its renderers are its
    /// descendants), for measuring a browser's memory.
    pub fn driver_pid(&self) -> u32 {
        self._driver.pid()
    }

    /// Starts chromedriver and a fresh headless Chromium profile with a fake
    /// camera and microphone, access granted.
    pub async fn launch() -> Result<Self> {
        Self::launch_with_media(FakeMedia::Devices).await
    }

    /// Like [`Browser::launch`], with the given media situation.
    pub async fn launch_with_media(media: FakeMedia) -> Result<Self> {
        Self::start(media, true).await
    }

    /// Like [`Browser::launch`], without the observer: for memory figures
    /// of the page alone (the observer keeps every connection and track a
    /// page ever made, to report on them).
    pub async fn launch_unobserved() -> Result<Self> {
        Self::start(FakeMedia::Devices, false).await
    }

    async fn start(media: FakeMedia, observed: bool) -> Result<Self> {
        let chromedriver = require("chromedriver")?;
        let chromium = require("chromium")?;
        let port = free_port();
        let driver = Process::spawn(
            &format!("chromedriver-{port}"),
            Command::new(chromedriver).arg(format!("--port={port}")),
        )?;
        let watchdog = Watchdog::start(&format!("chromium-{port}"), driver.pid(), LIFETIME_LIMIT);
        wait_for_port(port, "chromedriver").await?;
        let profile = std::env::temp_dir().join(format!("peercall-chromium-{port}"));
        let mut args = vec![
            "--headless=new".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-quic".into(),
            "--disable-features=WebRtcHideLocalIpsWithMdns".into(),
            "--autoplay-policy=no-user-gesture-required".into(),
            "--window-size=1280,800".into(),
            // Memory figures: `gc()` before reading them, and exact heap
            // sizes (not rounded).
            "--js-flags=--expose-gc".into(),
            "--enable-precise-memory-info".into(),
            format!("--user-data-dir={}", profile.display()),
        ];
        match media {
            FakeMedia::Devices => args.extend([
                "--use-fake-device-for-media-stream".into(),
                "--use-fake-ui-for-media-stream".into(),
            ]),
            // The fake capture factory's own option: zero video devices
            // (the fake microphone stays).
            FakeMedia::NoCamera => args.extend([
                "--use-fake-device-for-media-stream=device-count=0".into(),
                "--use-fake-ui-for-media-stream".into(),
            ]),
            FakeMedia::Blocked => args.extend([
                "--use-fake-device-for-media-stream".into(),
                "--deny-permission-prompts".into(),
            ]),
        }
        let downloads = std::env::temp_dir().join(format!("peercall-downloads-{port}"));
        let _ = std::fs::remove_dir_all(&downloads);
        std::fs::create_dir_all(&downloads)?;
        let client = connect(
            port,
            json!({
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": chromium,
                    "args": args,
                    "prefs": {
                        "download.default_directory": downloads,
                        "download.prompt_for_download": false,
                        "profile.default_content_setting_values.automatic_downloads": 1,
                    },
                },
            }),
        )
        .await?;
        // Every page this browser opens is watched from outside the app.
        if observed {
            if let Err(error) = install_observer(&client).await {
                let _ = client.close().await;
                return Err(error);
            }
        }
        Ok(Self {
            client,
            _dirs: RemoveOnDrop(vec![profile, downloads.clone()]),
            downloads,
            _watchdog: watchdog,
            _driver: driver,
        })
    }
}

/// Launches `n` browsers at once (closing the ones that started if any
/// failed to).
pub async fn launch_browsers(n: usize) -> Result<Vec<Browser>> {
    let launches = (0..n).map(|_| Browser::launch());
    let (started, failed): (Vec<_>, Vec<_>) = futures_util::future::join_all(launches)
        .await
        .into_iter()
        .partition(Result::is_ok);
    let started: Vec<Browser> = started.into_iter().map(Result::unwrap).collect();
    if let Some(Err(error)) = failed.into_iter().next() {
        close_all(started).await;
        return Err(error);
    }
    Ok(started)
}

/// Ends every browser's session, so Chromium exits (dropping a [`Browser`]
/// stops only chromedriver). Call it whether the test passed or not.
pub async fn close_all(browsers: Vec<Browser>) {
    for browser in browsers {
        let _ = browser.client.close().await;
    }
}

/// Runs `scenario` with `n` fresh browsers for at most `limit`, then closes
/// the browsers whatever happened. Scenarios in one test binary run one at
/// a time: several multi-browser calls at once would starve a small machine
/// and make timings meaningless.
pub async fn with_browsers<F>(n: usize, limit: Duration, scenario: F) -> Result<()>
where
    F: for<'a> FnOnce(&'a [Browser]) -> futures_util::future::BoxFuture<'a, Result<()>>,
{
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _turn = ONE_AT_A_TIME.lock().await;
    let browsers = launch_browsers(n).await?;
    let outcome = tokio::time::timeout(limit, scenario(&browsers)).await;
    close_all(browsers).await;
    outcome.with_context(|| format!("the scenario took longer than {limit:?}"))?
}
