//! `cargo xtask bundle --verify`: the packages installed on a clean
//! Debian 12 ([`CleanSystem`]) the way a person installs them
//! (`apt-get install ./Peercall_….deb`), started, and removed again.
//!
//! It checks that the declared dependencies are enough (no library
//! missing for the app, its WebKit helpers or the server; only what the
//! packages `Depends` on is installed, no Recommends); that the app's
//! window comes up under Xvfb and its embedded server answers a WebSocket
//! with the welcome; that `peercall://` opens the app
//! (`xdg-mime query default`); that the server package made its system
//! user, installed its unit and config, and its binary serves with that
//! config (`peercall-signal --config`, no systemd in a chroot); and that
//! purging both leaves nothing behind but the user's own files in `$HOME`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use peercall_signal::protocol::ServerMessage;

use crate::clean_system::CleanSystem;
use crate::util::{self, root, step};

/// The app's package name and desktop entry.
const APP_PACKAGE: &str = "peercall";
const DESKTOP_ENTRY: &str = "Peercall.desktop";
const SERVER_PACKAGE: &str = "peercall-signal";
/// Where the app's WebKitGTK keeps its helper processes.
const WEBKIT_HELPERS: &str = "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1";
/// How long the installed app may take to show its window.
const WINDOW_TIMEOUT: Duration = Duration::from_secs(60);

/// Installs `app_deb` and `server_deb` on a fresh clean system and checks
/// them; prints the sizes.
pub fn run(app_deb: &Path, server_deb: &Path) -> Result<()> {
    let dir = root().join("target/clean-system");
    let mut system = CleanSystem::fresh(&dir)?;
    let before = system.files()?;
    let packages_before = installed_packages(&system)?;

    let debs = system.root.join("tmp/debs");
    std::fs::create_dir_all(&debs)?;
    let mut names = Vec::new();
    for deb in [app_deb, server_deb] {
        let name = deb.file_name().context("a .deb without a name")?;
        std::fs::copy(deb, debs.join(name))?;
        names.push(format!("./{}", name.to_string_lossy()));
    }
    system.mount()?;

    step("installing on a clean Debian 12: apt-get install ./….deb");
    system.run("apt-get update -qq")?;
    system.run(&format!(
        "cd /tmp/debs && apt-get install -y -q --no-install-recommends {}",
        names.join(" ")
    ))?;
    let pulled_in = installed_packages(&system)?.len() - packages_before.len();
    let sizes = installed_sizes(&system)?;
    let installed = system.files()?;
    // What the install put on the disk, apt's downloads and lists aside.
    let added: u64 = installed
        .iter()
        .filter(|(path, _)| !before.contains_key(*path))
        .filter(|(path, _)| {
            !path.starts_with("/var/cache/apt/") && !path.starts_with("/var/lib/apt/")
        })
        .map(|(_, size)| size)
        .sum();

    step("installed: libraries, invite links, the server's user");
    libraries_resolve(&system)?;
    scheme_registered(&system)?;
    server_installed(&system)?;

    step("starting the installed app under Xvfb");
    app_starts(&system, &dir)?;
    step("starting the installed server with its config");
    server_starts(&system, &dir)?;

    let owned: Vec<String> = system
        .output(&format!("dpkg -L {APP_PACKAGE} {SERVER_PACKAGE}"))?
        .lines()
        .map(str::to_owned)
        .collect();
    step("removing both packages (apt-get purge --autoremove)");
    system.run(&format!(
        "apt-get purge -y -q --autoremove {APP_PACKAGE} {SERVER_PACKAGE}"
    ))?;
    let handler =
        system.output("xdg-mime query default x-scheme-handler/peercall 2>/dev/null || true")?;
    ensure!(
        handler.trim().is_empty(),
        "peercall:// still opens {handler}"
    );
    let kept = nothing_left(&before, &system.files()?, &owned)?;
    system.unmount()?;

    step("sizes");
    let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    for (deb, (package, installed_kib)) in [app_deb, server_deb].into_iter().zip(sizes) {
        println!(
            "{package}: package {:.2} MiB, installed {:.2} MiB ({})",
            mib(std::fs::metadata(deb)?.len()),
            installed_kib as f64 / 1024.0,
            deb.file_name().unwrap_or_default().to_string_lossy()
        );
    }
    println!(
        "on a clean Debian 12 (minbase): {pulled_in} packages installed in all, {:.0} MiB added",
        mib(added)
    );
    println!("after removal, kept only the user's files: {kept:?}");
    println!("\nclean-system install check passed");
    Ok(())
}

fn installed_packages(system: &CleanSystem) -> Result<Vec<String>> {
    Ok(system
        .output("dpkg-query -W -f='${db:Status-Abbrev} ${Package}\\n'")?
        .lines()
        .filter(|l| l.starts_with("ii"))
        .map(str::to_owned)
        .collect())
}

/// Each package's `Installed-Size`, in KiB, as dpkg records it.
fn installed_sizes(system: &CleanSystem) -> Result<Vec<(&'static str, u64)>> {
    [APP_PACKAGE, SERVER_PACKAGE]
        .into_iter()
        .map(|package| {
            let size =
                system.output(&format!("dpkg-query -W -f='${{Installed-Size}}' {package}"))?;
            let kib = size.trim().parse().context("dpkg's Installed-Size")?;
            Ok((package, kib))
        })
        .collect()
}

/// Every binary the packages run is there and finds every library it
/// links.
fn libraries_resolve(system: &CleanSystem) -> Result<()> {
    let binaries = format!(
        "/usr/bin/peercall /usr/bin/peercall-engine /usr/bin/peercall-signal \
         {WEBKIT_HELPERS}/WebKitWebProcess \
         {WEBKIT_HELPERS}/WebKitNetworkProcess"
    );
    let report = system.output(&format!(
        "for b in {binaries}; do echo \"== $b\"; [ -x \"$b\" ] || echo \"$b: not found\"; ldd \"$b\"; done"
    ))?;
    let missing: Vec<&str> = report.lines().filter(|l| l.contains("not found")).collect();
    ensure!(
        missing.is_empty(),
        "the packages' dependencies leave libraries missing:\n{}",
        missing.join("\n")
    );
    println!("every library resolves: {binaries}");
    Ok(())
}

fn scheme_registered(system: &CleanSystem) -> Result<()> {
    let handler = system.output("xdg-mime query default x-scheme-handler/peercall")?;
    ensure!(
        handler.trim() == DESKTOP_ENTRY,
        "xdg-mime: peercall:// opens {:?}, not {DESKTOP_ENTRY}",
        handler.trim()
    );
    println!(
        "xdg-mime query default x-scheme-handler/peercall: {}",
        handler.trim()
    );
    Ok(())
}

fn server_installed(system: &CleanSystem) -> Result<()> {
    let user = system.output(&format!("getent passwd {SERVER_PACKAGE}"))?;
    ensure!(
        user.trim_end().ends_with("/usr/sbin/nologin"),
        "the server's system user logs in: {user}"
    );
    let unit = system.output(&format!(
        "cat /usr/lib/systemd/system/{SERVER_PACKAGE}.service"
    ))?;
    for line in [
        "ExecStart=/usr/bin/peercall-signal --config /etc/peercall/signal.conf",
        "User=peercall-signal",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
    ] {
        ensure!(unit.contains(line), "the installed unit lacks `{line}`");
    }
    let env_mode = system.output("stat -c %a /etc/peercall/signal.env")?;
    ensure!(env_mode.trim() == "600", "signal.env is mode {env_mode}");
    println!(
        "server: user {}, unit and /etc/peercall installed",
        user.trim()
    );
    Ok(())
}

/// A child process stopped (SIGTERM, then killed) when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn app_starts(system: &CleanSystem, dir: &Path) -> Result<()> {
    let display = (150..250)
        .find(|n| !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists())
        .context("no free X display")?;
    let display = format!(":{display}");
    // The chroot shares the network namespace, so it reaches the X server
    // on its abstract socket: nothing of X is installed in the system.
    let _xvfb = Running(
        Command::new("Xvfb")
            .args([&display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting Xvfb")?,
    );
    let port = free_port()?.to_string();
    let log = dir.join("app.log");
    let mut app = Running(system.spawn(
        &["/usr/bin/peercall"],
        &[
            ("DISPLAY", &display),
            ("PEERCALL_PORT", &port),
            // WebKitGTK's sandbox needs user namespaces a container lacks.
            ("WEBKIT_DISABLE_SANDBOX_THIS_IS_DANGEROUS", "1"),
        ],
        &log,
    )?);
    let deadline = Instant::now() + WINDOW_TIMEOUT;
    let window = loop {
        let found = util::output_env(
            "xdotool",
            &["search", "--onlyvisible", "--name", "^Peercall$"],
            &[("DISPLAY", &display)],
        )
        .unwrap_or_default();
        if let Some(id) = found.lines().next() {
            break id.to_owned();
        }
        if let Ok(Some(status)) = app.0.try_wait() {
            bail!("the installed app exited ({status}); see {}", log.display());
        }
        ensure!(
            Instant::now() < deadline,
            "no Peercall window within {WINDOW_TIMEOUT:?}; see {}",
            log.display()
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    println!("window up: X window {window} titled Peercall on {display}");
    let welcome = welcome(&format!("127.0.0.1:{port}"))?;
    println!("embedded server on 127.0.0.1:{port} answers: {welcome}");
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    ensure!(
        !log_text.contains("error while loading shared libraries"),
        "a process of the app misses a library:\n{log_text}"
    );
    Ok(())
}

fn server_starts(system: &CleanSystem, dir: &Path) -> Result<()> {
    let port = free_port()?;
    let bind = format!("127.0.0.1:{port}");
    let mut command = system.command_as(
        Some(SERVER_PACKAGE),
        &[
            "/usr/bin/peercall-signal",
            "--config",
            "/etc/peercall/signal.conf",
            "--bind",
            &bind,
        ],
        &[],
    );
    // Its first line says where it listens; logs go to stderr.
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.join("server.log"))?);
    let mut server = Running(command.spawn().context("starting peercall-signal")?);
    let stdout = server.0.stdout.take().context("the server's stdout")?;
    let mut first = String::new();
    BufReader::new(stdout).read_line(&mut first)?;
    ensure!(
        first.trim() == format!("listening on ws://{bind}/"),
        "peercall-signal --config said {first:?}; see {}",
        dir.join("server.log").display()
    );
    println!(
        "peercall-signal --config /etc/peercall/signal.conf: {}",
        first.trim()
    );
    let welcome = welcome(&bind)?;
    println!("server on {bind} answers: {welcome}");
    Ok(())
}

/// Opens a WebSocket to `addr` (the handshake by hand: no client library
/// for one check) and returns the first message, which must be the
/// server's welcome.
fn welcome(addr: &str) -> Result<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut stream = loop {
        match TcpStream::connect(addr) {
            Ok(stream) => break stream,
            Err(error) if Instant::now() < deadline => {
                let _ = error;
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(error) => return Err(error).with_context(|| format!("connecting to {addr}")),
        }
    };
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream
            .read_exact(&mut byte)
            .context("reading the handshake")?;
        head.push(byte[0]);
        ensure!(head.len() < 8192, "handshake answer too long");
    }
    let head = String::from_utf8_lossy(&head);
    ensure!(
        head.starts_with("HTTP/1.1 101"),
        "{addr} refused the WebSocket: {}",
        head.lines().next().unwrap_or_default()
    );
    // One unmasked text frame from the server.
    let mut header = [0u8; 2];
    stream.read_exact(&mut header)?;
    ensure!(header[0] & 0x0f == 1, "the first frame is not text");
    let len = match header[1] & 0x7f {
        126 => {
            let mut n = [0u8; 2];
            stream.read_exact(&mut n)?;
            u16::from_be_bytes(n) as usize
        }
        127 => bail!("a welcome over 64 KiB"),
        n => n as usize,
    };
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload)?;
    let text = String::from_utf8(payload)?;
    match serde_json::from_str::<ServerMessage>(&text) {
        Ok(ServerMessage::Join { id, version, .. }) => {
            Ok(format!("welcome (join) as {id:?}, protocol {version}"))
        }
        _ => bail!("{addr}'s first message is not the welcome: {text}"),
    }
}

/// Files and folders left after purging that are not the packages': why
/// each may stay.
const NOT_OURS: &[(&str, &str)] = &[
    ("/var/lib/apt/", "apt's records"),
    ("/var/lib/dpkg/", "dpkg's records"),
    ("/var/cache/apt/", "apt's cache"),
    ("/var/cache/debconf/", "debconf's records"),
    ("/var/cache/ldconfig/", "ldconfig's cache"),
    ("/var/log/", "the package managers' logs"),
    (
        "/etc/shadow-",
        "useradd's backup: the server's system user stays (Debian policy)",
    ),
    (
        "/etc/gshadow-",
        "useradd's backup: the server's system user stays (Debian policy)",
    ),
    // WebKitGTK's dependencies pull in dbus-user-session, hence systemd,
    // whose scripts leave these on purge.
    ("/etc/machine-id", "systemd's, a dependency of a dependency"),
    ("/etc/mtab", "systemd's, a dependency of a dependency"),
    (
        "/var/lib/systemd/",
        "systemd's, a dependency of a dependency",
    ),
    (
        "/var/lib/private",
        "systemd's, a dependency of a dependency",
    ),
    (
        "/var/cache/private",
        "systemd's, a dependency of a dependency",
    ),
];

/// What purging left: none of the packages' own files (`owned`, from
/// `dpkg -L` while installed), and nothing new outside the user's home
/// but what [`NOT_OURS`] explains. Returns what stayed in `/root`.
fn nothing_left(
    before: &BTreeMap<String, u64>,
    after: &BTreeMap<String, u64>,
    owned: &[String],
) -> Result<Vec<String>> {
    let still: Vec<&String> = owned
        .iter()
        .filter(|path| after.contains_key(*path) && !before.contains_key(*path))
        .collect();
    ensure!(
        still.is_empty(),
        "purging left the packages' files: {still:#?}"
    );
    let new: Vec<&String> = after.keys().filter(|p| !before.contains_key(*p)).collect();
    let left: Vec<&&String> = new
        .iter()
        .filter(|p| !p.starts_with("/root/"))
        .filter(|p| !NOT_OURS.iter().any(|(prefix, _)| p.starts_with(prefix)))
        .collect();
    ensure!(left.is_empty(), "removal left files behind: {left:#?}");
    // The user's own files, by folder (WebKit's caches hold many): the
    // deepest of the first three levels.
    let shallow: Vec<&&String> = new
        .iter()
        .filter(|p| p.starts_with("/root/") && p.matches('/').count() <= 3)
        .collect();
    Ok(shallow
        .iter()
        .filter(|p| !shallow.iter().any(|q| q.starts_with(&format!("{p}/"))))
        .map(|p| p.to_string())
        .collect())
}
