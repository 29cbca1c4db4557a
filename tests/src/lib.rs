//! Harness for Peercall's end-to-end tests: real processes only.
//!
//! It starts what a test needs — an X display (Xvfb), the real `peercall`
//! app through `tauri-driver` + `WebKitWebDriver`, the real
//! `peercall-signal` server, headless Chromium through `chromedriver` — and
//! stops all of it when the guards drop. Binaries come from the environment
//! `cargo xtask test` sets (`PEERCALL_APP_BIN`, `PEERCALL_SIGNAL_BIN`,
//! `PEERCALL_UI_DIST`), else from `target/debug`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Map, Value};

mod observe;
pub use observe::*;

/// How long a test waits for something a user would see.
pub const UI_TIMEOUT: Duration = Duration::from_secs(30);

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn built(env: &str, default: &str) -> Result<PathBuf> {
    let path = std::env::var_os(env)
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(default));
    if !path.exists() {
        bail!(
            "{} not found ({env}); run `cargo xtask test`, which builds it",
            path.display()
        );
    }
    Ok(path)
}

/// The desktop app binary.
pub fn app_bin() -> Result<PathBuf> {
    built("PEERCALL_APP_BIN", "target/debug/peercall")
}

/// The headless signaling server binary.
pub fn signal_bin() -> Result<PathBuf> {
    built("PEERCALL_SIGNAL_BIN", "target/debug/peercall-signal")
}

/// The built UI (`src-ui/dist`).
pub fn ui_dist() -> Result<PathBuf> {
    built("PEERCALL_UI_DIST", "src-ui/dist")
}

/// Where tests put screenshots and logs, for people to look at.
pub fn artifacts() -> PathBuf {
    let dir = root().join("tests/artifacts");
    let _ = std::fs::create_dir_all(&dir);
    dir
}

fn require(program: &str) -> Result<PathBuf> {
    let from_cargo = std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".cargo/bin").join(program))
        .filter(|p| p.is_file());
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    });
    on_path
        .or(from_cargo)
        .with_context(|| format!("`{program}` is not installed; run `cargo xtask setup`"))
}

/// A free TCP port on 127.0.0.1 (bound then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port on 127.0.0.1")
}

async fn wait_for_port(port: u16, what: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("{what} did not listen on port {port} within 20 s")
}

/// A child process killed when dropped.
pub struct Process {
    child: Child,
    name: String,
}

impl Process {
    fn spawn(name: &str, command: &mut Command) -> Result<Self> {
        let log = std::fs::File::create(artifacts().join(format!("{name}.log")))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        Ok(Self {
            child,
            name: name.to_owned(),
        })
    }

    /// The OS process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // SIGTERM first so servers shut down cleanly, then make sure.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("{} did not stop on SIGTERM; killing it", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A private X server (Xvfb) for one app: apps never share a screen, so
/// tests run in parallel and each screenshot shows its own window. Stopped
/// when dropped.
pub struct Display {
    /// The `DISPLAY` value, e.g. `:101`.
    pub name: String,
    _server: Process,
}

impl Display {
    /// Starts Xvfb on the first free display number.
    pub fn start() -> Result<Self> {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let xvfb = require("Xvfb")?;
        for _ in 0..50 {
            let n = 100
                + (std::process::id() % 50) * 20
                + NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 20;
            if Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() {
                continue;
            }
            let mut server = Process::spawn(
                &format!("xvfb-{n}"),
                Command::new(&xvfb).arg(format!(":{n}")).args([
                    "-screen",
                    "0",
                    "1280x800x24",
                    "-nolisten",
                    "tcp",
                ]),
            )?;
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() {
                    return Ok(Self {
                        name: format!(":{n}"),
                        _server: server,
                    });
                }
                if let Ok(Some(_)) = server.child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        bail!("could not start Xvfb")
    }

    /// Saves this whole screen (the app's real window, as a user sees it) to
    /// `tests/artifacts/NAME.png`, with ImageMagick's `import`.
    pub fn capture(&self, name: &str) -> Result<PathBuf> {
        let path = artifacts().join(format!("{name}.png"));
        let status = Command::new(require("import")?)
            .args(["-window", "root"])
            .arg(&path)
            .env("DISPLAY", &self.name)
            .status()?;
        if !status.success() {
            bail!("import failed ({status})");
        }
        Ok(path)
    }
}

/// Connects a WebDriver client (plain HTTP on loopback).
async fn connect(port: u16, capabilities: Value) -> Result<Client> {
    let Value::Object(capabilities) = capabilities else {
        unreachable!()
    };
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let mut last_error = None;
    // Drivers sometimes accept connections a moment before they accept sessions.
    for _ in 0..3 {
        match ClientBuilder::new(connector.clone())
            .capabilities(capabilities.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(client) => return Ok(client),
            Err(error) => {
                last_error = Some(error);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
    Err(last_error.unwrap()).context("WebDriver session")
}

/// The real desktop app, driven through tauri-driver + WebKitWebDriver.
pub struct App {
    /// The WebDriver session (the app's main window).
    pub client: Client,
    /// The preferred port the app was given (it may fall back to another).
    pub preferred_port: u16,
    /// Where this app instance keeps its settings.
    pub config_dir: PathBuf,
    // Field order is drop order: the driver (and app) go before their screen.
    _driver: Process,
    /// The app's own screen.
    pub display: Display,
}

/// Options for [`App::launch`].
#[derive(Default, Clone)]
pub struct AppOptions {
    /// Extra environment for the app.
    pub env: Vec<(String, String)>,
    /// Where the app keeps its settings; a fresh empty directory when `None`.
    /// Pass the same one again to see settings survive a restart.
    pub config_dir: Option<PathBuf>,
    /// Command-line arguments for the app (e.g. an invite link).
    pub args: Vec<String>,
}

/// A fresh, empty directory under the system temp dir.
pub fn temp_dir(name: &str) -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("peercall-e2e-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creating a temp dir");
    dir
}

impl App {
    /// Starts the app with its own tauri-driver, on its own preferred port.
    pub async fn launch(options: AppOptions) -> Result<Self> {
        let display = Display::start()?;
        let tauri_driver = require("tauri-driver")?;
        let native_driver = require("WebKitWebDriver")?;
        let app = app_bin()?;
        let port = free_port();
        let native_port = free_port();
        let preferred_port = free_port();
        let config_dir = options
            .config_dir
            .clone()
            .unwrap_or_else(|| temp_dir("config"));
        let mut command = Command::new(tauri_driver);
        command
            .args(["--port", &port.to_string()])
            .args(["--native-port", &native_port.to_string()])
            .arg("--native-driver")
            .arg(native_driver)
            .env("DISPLAY", &display.name)
            .env("PEERCALL_PORT", preferred_port.to_string())
            .env("PEERCALL_CONFIG_DIR", &config_dir)
            // WebKitGTK's sandbox needs user namespaces a container may lack.
            .env("WEBKIT_DISABLE_SANDBOX_THIS_IS_DANGEROUS", "1")
            .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
        for (key, value) in &options.env {
            command.env(key, value);
        }
        let driver = Process::spawn(&format!("tauri-driver-{port}"), &mut command)?;
        wait_for_port(port, "tauri-driver").await?;
        let client = connect(
            port,
            json!({
                "browserName": "wry",
                "tauri:options": { "application": app, "args": options.args },
            }),
        )
        .await?;
        Ok(Self {
            client,
            preferred_port,
            config_dir,
            _driver: driver,
            display,
        })
    }

    /// Saves a picture of the app's screen to `tests/artifacts/NAME.png`
    /// (WebKitWebDriver's own screenshot stalls under Xvfb).
    pub fn capture_screen(&self, name: &str) -> Result<PathBuf> {
        self.display.capture(name)
    }

    /// Ends the session (the app quits).
    pub async fn quit(self) -> Result<()> {
        self.client.close().await?;
        Ok(())
    }
}

/// The real headless signaling server, optionally serving the built UI.
pub struct SignalServer {
    /// `ws://127.0.0.1:PORT/`.
    pub ws_url: String,
    /// `http://127.0.0.1:PORT/`.
    pub http_url: String,
    /// The port.
    pub port: u16,
    /// The process.
    pub process: Process,
}

impl SignalServer {
    /// Starts `peercall-signal --bind 127.0.0.1:PORT` serving `src-ui/dist`.
    pub async fn start(extra_args: &[&str]) -> Result<Self> {
        let port = free_port();
        Self::start_on(port, extra_args).await
    }

    /// Same, on a given port (to restart on the same address).
    pub async fn start_on(port: u16, extra_args: &[&str]) -> Result<Self> {
        let mut command = Command::new(signal_bin()?);
        command
            .args(["--bind", &format!("127.0.0.1:{port}")])
            .arg("--serve-ui")
            .arg(ui_dist()?)
            .args(extra_args)
            .env("RUST_LOG", "info");
        let process = Process::spawn(&format!("peercall-signal-{port}"), &mut command)?;
        wait_for_port(port, "peercall-signal").await?;
        Ok(Self {
            ws_url: format!("ws://127.0.0.1:{port}/"),
            http_url: format!("http://127.0.0.1:{port}/"),
            port,
            process,
        })
    }
}

/// Headless Chromium with fake camera and microphone, through chromedriver.
pub struct Browser {
    /// The WebDriver session.
    pub client: Client,
    _driver: Process,
}

impl Browser {
    /// Starts chromedriver and a fresh headless Chromium profile with a fake
    /// camera and microphone, access granted.
    pub async fn launch() -> Result<Self> {
        Self::launch_with_media(FakeMedia::Devices).await
    }
}

/// Waits until `css` matches an element and returns it.
pub async fn wait_for(client: &Client, css: &str) -> Result<fantoccini::elements::Element> {
    client
        .wait()
        .at_most(UI_TIMEOUT)
        .for_element(Locator::Css(css))
        .await
        .with_context(|| format!("`{css}` never appeared"))
}

/// Waits until `script` (a JS expression) is truthy, returning its value.
pub async fn wait_until(client: &Client, what: &str, script: &str) -> Result<Value> {
    let deadline = Instant::now() + UI_TIMEOUT;
    loop {
        let value = client
            .execute(&format!("return ({script});"), vec![])
            .await
            .with_context(|| format!("evaluating {script}"))?;
        let truthy = match &value {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::String(s) => !s.is_empty(),
            Value::Number(n) => n.as_f64() != Some(0.0),
            _ => true,
        };
        if truthy {
            return Ok(value);
        }
        if Instant::now() > deadline {
            bail!("timed out waiting for {what} (`{script}` was {value})");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Saves a PNG screenshot to `tests/artifacts/NAME.png`.
pub async fn screenshot(client: &Client, name: &str) -> Result<PathBuf> {
    let png = client.screenshot().await?;
    let path = artifacts().join(format!("{name}.png"));
    std::fs::write(&path, png)?;
    Ok(path)
}

/// Makes a stand-in "system browser": a desktop entry registered as the
/// default `http` handler in a private XDG config, whose program appends each
/// URL it is asked to open to the returned file. Pass the returned
/// environment to the app; xdg-open (what the app's opener runs) then uses it
/// exactly as it would use the user's real browser.
pub fn recording_browser() -> Result<(PathBuf, Vec<(String, String)>)> {
    use std::os::unix::fs::PermissionsExt;
    let home = temp_dir("xdg");
    let opened = home.join("opened-urls.txt");
    let program = home.join("record-browser.sh");
    std::fs::write(
        &program,
        format!("#!/bin/sh\necho \"$1\" >> '{}'\n", opened.display()),
    )?;
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755))?;
    let applications = home.join("data/applications");
    std::fs::create_dir_all(&applications)?;
    std::fs::write(
        applications.join("peercall-test-browser.desktop"),
        format!(
            "[Desktop Entry]\nType=Application\nName=Test browser\nExec={} %u\nMimeType=x-scheme-handler/http;x-scheme-handler/https;\n",
            program.display()
        ),
    )?;
    let config = home.join("config");
    std::fs::create_dir_all(&config)?;
    std::fs::write(
        config.join("mimeapps.list"),
        "[Default Applications]\nx-scheme-handler/http=peercall-test-browser.desktop\nx-scheme-handler/https=peercall-test-browser.desktop\n",
    )?;
    let env = vec![
        ("XDG_CONFIG_HOME".to_owned(), config.display().to_string()),
        (
            "XDG_DATA_HOME".to_owned(),
            home.join("data").display().to_string(),
        ),
        ("BROWSER".to_owned(), program.display().to_string()),
    ];
    Ok((opened, env))
}

/// The `n`th URL (from 0) the app opened in the [`recording_browser`],
/// waiting for it.
pub async fn opened_url(opened: &Path, n: usize) -> Result<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(text) = std::fs::read_to_string(opened) {
            if let Some(line) = text.lines().nth(n) {
                return Ok(line.to_owned());
            }
        }
        ensure!(
            Instant::now() < deadline,
            "the app never opened the system browser"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A fresh config directory holding `stored` as the app's `settings.json`.
pub fn settings_dir(name: &str, stored: &str) -> Result<PathBuf> {
    let dir = temp_dir(name);
    std::fs::write(dir.join("settings.json"), stored)?;
    Ok(dir)
}

/// The attribute `name` of the element matching `css`, once it appears.
pub async fn attr(client: &Client, css: &str, name: &str) -> Result<String> {
    wait_for(client, css)
        .await?
        .attr(name)
        .await?
        .with_context(|| format!("{css} has no {name}"))
}

/// Minimal HTTP GET on loopback, returning (status, content-type, body).
pub async fn http_get(port: u16, path: &str) -> Result<(u16, String, Vec<u8>)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await?;
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response)).await??;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("no end of HTTP head")?;
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no HTTP status")?;
    let content_type = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-type")
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_default();
    Ok((status, content_type, response[split + 4..].to_vec()))
}

/// Connects to a signaling server as a plain client and returns the first
/// message it sends (the `join` welcome).
pub async fn signaling_welcome(ws_url: &str) -> Result<Map<String, Value>> {
    use futures_util::StreamExt;
    let (mut socket, _) = tokio_tungstenite::connect_async(ws_url)
        .await
        .with_context(|| format!("connecting to {ws_url}"))?;
    let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
        .await
        .context("no welcome within 10 s")?
        .context("closed before the welcome")??;
    let text = message.into_text()?;
    match serde_json::from_str::<Value>(&text)? {
        Value::Object(map) => Ok(map),
        other => bail!("welcome is not an object: {other}"),
    }
}

// ---------------------------------------------------------------------------
// Calls (issue 4): helpers for driving the call UI. What the browser does
// during a call is read from outside the app, by the observer (`observe`).

/// The page URL that lands straight in `room` as `name`.
pub fn room_url(server: &SignalServer, room: &str, name: &str) -> String {
    format!("{}?room={room}&name={name}", server.http_url)
}

/// The home page URL with `name` as the display name.
pub fn home_url(server: &SignalServer, name: &str) -> String {
    format!("{}?name={name}", server.http_url)
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

/// Types `text` into the element matching `css` (clearing it first).
pub async fn type_into(client: &Client, css: &str, text: &str) -> Result<()> {
    let field = wait_for(client, css).await?;
    field.clear().await?;
    if !text.is_empty() {
        field.send_keys(text).await?;
    }
    Ok(())
}

/// Clicks the element matching `css` once it appears.
pub async fn click(client: &Client, css: &str) -> Result<()> {
    wait_for(client, css)
        .await?
        .click()
        .await
        .with_context(|| format!("clicking `{css}`"))?;
    Ok(())
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
    /// Like [`Browser::launch`], with the given media situation.
    pub async fn launch_with_media(media: FakeMedia) -> Result<Self> {
        let chromedriver = require("chromedriver")?;
        let chromium = require("chromium")?;
        let port = free_port();
        let driver = Process::spawn(
            &format!("chromedriver-{port}"),
            Command::new(chromedriver).arg(format!("--port={port}")),
        )?;
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
        let client = connect(
            port,
            json!({
                "browserName": "chrome",
                "goog:chromeOptions": { "binary": chromium, "args": args },
            }),
        )
        .await?;
        // Every page this browser opens is watched from outside the app.
        if let Err(error) = install_observer(&client).await {
            let _ = client.close().await;
            return Err(error);
        }
        Ok(Self {
            client,
            _driver: driver,
        })
    }
}

/// Waits until the element matching `css` exists and its text (the DOM's
/// `textContent`, which, unlike WebDriver's visible text, doesn't depend on
/// a fade-in having finished) contains `needle`; returns that text.
pub async fn wait_for_text(client: &Client, css: &str, needle: &str) -> Result<String> {
    let script = format!(
        "const e = document.querySelector({css}); return e && e.textContent.includes({needle}) ? e.textContent : null;",
        css = serde_json::to_string(css)?,
        needle = serde_json::to_string(needle)?,
    );
    let deadline = Instant::now() + UI_TIMEOUT;
    loop {
        let value = client.execute(&script, vec![]).await?;
        if let Value::String(text) = value {
            return Ok(text);
        }
        if Instant::now() > deadline {
            let seen = client
                .execute(
                    &format!(
                        "return document.querySelector({})?.textContent ?? null;",
                        serde_json::to_string(css)?
                    ),
                    vec![],
                )
                .await?;
            bail!("`{css}` never said {needle:?} (it says {seen})");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
