//! The real desktop app: its own X screen ([`Display`]) and D-Bus session
//! bus ([`SessionBus`]), the WebDriver session through tauri-driver +
//! WebKitWebDriver ([`App`]), and a stand-in system browser that records
//! what the app asks it to open.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use fantoccini::{Client, ClientBuilder};
use serde_json::{json, Value};

use crate::process::{
    app_bin, artifacts, free_port, require, settings_dir, temp_dir, wait_for_port, Process,
};
use crate::watchdog::{Watchdog, LIFETIME_LIMIT};

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
        // Bounded: the watchdog watches the app, not this.
        let status = Command::new("timeout")
            .arg("30")
            .arg(require("import")?)
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

/// A private D-Bus session bus (`dbus-daemon --session`) for one app, as a
/// logged-in user has. The app allows one instance per session bus
/// (`tauri-plugin-single-instance`), so apps that run side by side in tests
/// each get their own, as they each get their own screen; a second launch
/// meant to reach a running app uses that app's bus
/// ([`App::launch_again`]). Stopped when dropped.
pub struct SessionBus {
    /// The `DBUS_SESSION_BUS_ADDRESS` value.
    pub address: String,
    _daemon: Process,
}

impl SessionBus {
    /// Starts a session bus listening on a socket in a fresh temp dir.
    pub fn start() -> Result<Self> {
        let dbus_daemon = require("dbus-daemon")?;
        let dir = temp_dir("dbus");
        let socket = dir.join("bus");
        let address = format!("unix:path={}", socket.display());
        let name = dir.file_name().unwrap_or_default().to_string_lossy();
        let mut daemon = Process::spawn(
            &name,
            Command::new(dbus_daemon)
                .args(["--session", "--nofork", "--nopidfile"])
                .arg(format!("--address={address}")),
        )?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if socket.exists() {
                return Ok(Self {
                    address,
                    _daemon: daemon,
                });
            }
            if let Ok(Some(status)) = daemon.child.try_wait() {
                bail!("dbus-daemon exited ({status})");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("dbus-daemon did not listen at {address} within 10 s")
    }
}

/// Connects a WebDriver client (plain HTTP on loopback).
pub(crate) async fn connect(port: u16, capabilities: Value) -> Result<Client> {
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
    /// The environment the app was started with (display, bus, settings).
    env: Vec<(String, String)>,
    /// The app's executable.
    binary: PathBuf,
    // Field order is drop order: the driver (and app) go before their
    // screen and bus.
    _watchdog: Watchdog,
    _driver: Process,
    /// The app's own screen.
    pub display: Display,
    /// The app's own session bus.
    pub bus: SessionBus,
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
    /// The app's executable; the built one ([`app_bin`]) when `None`.
    pub app_bin: Option<PathBuf>,
}

impl App {
    /// The app on its native engine with test media
    /// (`PEERCALL_FAKE_MEDIA=1`), with settings of its own that name it
    /// `name`, opened with `args` (an invite link, say).
    pub async fn launch_native(name: &str, args: Vec<String>) -> Result<Self> {
        let settings = format!(r#"{{"version": 2, "display_name": "{name}"}}"#);
        Self::launch(AppOptions {
            env: vec![("PEERCALL_FAKE_MEDIA".into(), "1".into())],
            config_dir: Some(settings_dir("native-app", &settings)?),
            args,
            ..AppOptions::default()
        })
        .await
    }

    /// Starts the app with its own tauri-driver, on its own preferred port.
    pub async fn launch(options: AppOptions) -> Result<Self> {
        let display = Display::start()?;
        let bus = SessionBus::start()?;
        let tauri_driver = require("tauri-driver")?;
        let native_driver = require("WebKitWebDriver")?;
        let app = match &options.app_bin {
            Some(binary) => binary.clone(),
            None => app_bin()?,
        };
        let port = free_port();
        let native_port = free_port();
        let preferred_port = free_port();
        let config_dir = options
            .config_dir
            .clone()
            .unwrap_or_else(|| temp_dir("config"));
        let mut env: Vec<(String, String)> = [
            ("DISPLAY", display.name.clone()),
            ("DBUS_SESSION_BUS_ADDRESS", bus.address.clone()),
            ("PEERCALL_PORT", preferred_port.to_string()),
            ("PEERCALL_CONFIG_DIR", config_dir.display().to_string()),
            // WebKitGTK's sandbox needs user namespaces a container may lack.
            ("WEBKIT_DISABLE_SANDBOX_THIS_IS_DANGEROUS", "1".into()),
            ("WEBKIT_DISABLE_COMPOSITING_MODE", "1".into()),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect();
        env.extend(options.env.iter().cloned());
        let mut command = Command::new(tauri_driver);
        command
            .args(["--port", &port.to_string()])
            .args(["--native-port", &native_port.to_string()])
            .arg("--native-driver")
            .arg(native_driver)
            .envs(env.iter().map(|(k, v)| (k, v)));
        let driver = Process::spawn(&format!("tauri-driver-{port}"), &mut command)?;
        // The app is the driver's child (through WebKitWebDriver).
        let watchdog = Watchdog::start(&format!("app-{port}"), driver.pid(), LIFETIME_LIMIT);
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
            env,
            binary: app,
            _watchdog: watchdog,
            _driver: driver,
            display,
            bus,
        })
    }

    /// Starts the app binary again, by hand, in this app's session (its
    /// screen, bus and environment) with `args` — as a person clicking an
    /// invite link or the launcher while the app runs — and waits for that
    /// second process to end. Fails if it is still running after 20 s.
    pub async fn launch_again(&self, args: &[String]) -> Result<std::process::ExitStatus> {
        let log_name = format!("second-launch{}.log", self.display.name.replace(':', "-"));
        let log = std::fs::File::create(artifacts().join(log_name))?;
        let mut second = tokio::process::Command::new(app_bin()?)
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .context("starting the app a second time")?;
        match tokio::time::timeout(Duration::from_secs(20), second.wait()).await {
            Ok(status) => Ok(status?),
            Err(_) => bail!("the second launch was still running after 20 s"),
        }
    }

    /// The visible top-level X11 windows titled `title` on this app's
    /// screen, as a window manager would list them (`xdotool search`).
    pub fn x_windows(&self, title: &str) -> Result<Vec<String>> {
        let output = Command::new(require("xdotool")?)
            .args(["search", "--onlyvisible", "--name"])
            .arg(format!("^{title}$"))
            .env("DISPLAY", &self.display.name)
            .output()?;
        // xdotool exits 1 when nothing matches.
        Ok(String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_owned)
            .collect())
    }

    /// The app process (the one the WebDriver session started): the app
    /// binary with this app's preferred port in its environment, and not
    /// a call engine run from it.
    pub fn pid(&self) -> Result<u32> {
        let binary: PathBuf = self.binary.canonicalize()?;
        let port = format!("PEERCALL_PORT={}", self.preferred_port);
        for entry in std::fs::read_dir("/proc")? {
            let entry = entry?;
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let exe = std::fs::read_link(entry.path().join("exe")).ok();
            if exe.as_deref() != Some(binary.as_path()) {
                continue;
            }
            let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let engine = cmdline
                .split(|b| *b == 0)
                .any(|arg| arg == b"--call-engine");
            if !engine && environ.split(|b| *b == 0).any(|var| var == port.as_bytes()) {
                return Ok(pid);
            }
        }
        bail!("no running {} with {port}", binary.display())
    }

    /// Saves a picture of the app's screen to `tests/artifacts/NAME.png`
    /// (WebKitWebDriver's own screenshot stalls under Xvfb).
    pub fn capture_screen(&self, name: &str) -> Result<PathBuf> {
        self.display.capture(name)
    }

    /// Starts a call from the home screen; answers the link that opens
    /// another app in it (`peercall://127.0.0.1:PORT/ROOM`, over loopback).
    pub async fn start_call(&self) -> Result<String> {
        crate::dom::wait_for(&self.client, "#server-status[data-state='ready']").await?;
        crate::dom::click(&self.client, "#start-call").await?;
        let room = crate::dom::wait_for(&self.client, "#call[data-phase='joined']")
            .await?
            .attr("data-room")
            .await?
            .context("the call shows no room")?;
        Ok(format!(
            "peercall://127.0.0.1:{}/{room}",
            self.preferred_port
        ))
    }

    /// Ends the session (the app quits).
    pub async fn quit(self) -> Result<()> {
        self.client.close().await?;
        Ok(())
    }
}

/// Environment that leaves GStreamer without any plugin (an empty plugin
/// path and a registry of its own), as on a system without the native
/// engine's packages: the app's native engine reports the missing elements
/// and, on a webview without WebRTC, calls go to the system browser. For
/// the tests of that fallback.
pub fn without_native_engine() -> Vec<(String, String)> {
    let dir = temp_dir("no-gstreamer-plugins");
    let registry = dir.join("registry.bin").display().to_string();
    let empty = dir.display().to_string();
    [
        ("GST_PLUGIN_SYSTEM_PATH_1_0", &empty),
        ("GST_PLUGIN_SYSTEM_PATH", &empty),
        ("GST_PLUGIN_PATH_1_0", &empty),
        ("GST_PLUGIN_PATH", &empty),
        ("GST_REGISTRY_1_0", &registry),
        ("GST_REGISTRY", &registry),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value.clone()))
    .collect()
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
