//! A real PipeWire of a test's own (Debian's `pipewire`, `wireplumber`,
//! installed by `cargo xtask setup`), on a private D-Bus session and in a
//! fresh runtime directory that no other client sees. Cameras are plugged
//! in and out of it as PipeWire shows a camera to desktop apps (a
//! `Video/Source` node; here PipeWire's own test-pattern source, made with
//! `pw-cli create-node`), so the app's device monitor finds a real
//! PipeWire camera and captures from it through `pipewiresrc`.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};

use crate::app::SessionBus;
use crate::process::{temp_dir, Process};

/// What PipeWire needs to make test-pattern cameras: its `videotestsrc`
/// plugin named (Debian's configuration leaves it out).
const CONFIG: &str = "context.spa-libs = {
    videotestsrc = videotestsrc/libspa-videotestsrc
}
";

/// A running PipeWire with its session manager and D-Bus, killed when
/// dropped.
pub struct PipeWireServer {
    runtime: PathBuf,
    // Dropped in this order: the session manager, PipeWire, then the bus.
    _wireplumber: Process,
    _pipewire: Process,
    bus: SessionBus,
}

impl PipeWireServer {
    /// Starts one and waits until it answers.
    pub async fn start() -> Result<Self> {
        let dir = temp_dir("pipewire");
        let runtime = dir.join("run");
        let config = dir.join("config");
        let drop_ins = config.join("pipewire/pipewire.conf.d");
        std::fs::create_dir_all(&drop_ins)?;
        std::fs::create_dir_all(&runtime)?;
        std::fs::set_permissions(
            &runtime,
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )?;
        std::fs::write(drop_ins.join("peercall-test.conf"), CONFIG)?;
        let bus = SessionBus::start()?;
        let deadline = Instant::now() + Duration::from_secs(10);
        let env = |command: &mut Command| {
            command
                .env("XDG_RUNTIME_DIR", &runtime)
                .env("XDG_CONFIG_HOME", &config)
                .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
                .env("HOME", &dir);
        };
        let mut command = Command::new("pipewire");
        env(&mut command);
        let pipewire = Process::spawn("pipewire", &mut command)?;
        while !runtime.join("pipewire-0").exists() {
            ensure!(Instant::now() < deadline, "pipewire never listened");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut command = Command::new("wireplumber");
        env(&mut command);
        let wireplumber = Process::spawn("wireplumber", &mut command)?;
        let server = Self {
            runtime,
            _wireplumber: wireplumber,
            _pipewire: pipewire,
            bus,
        };
        while server.pw_cli(&["info", "0"]).is_err() {
            ensure!(Instant::now() < deadline, "pipewire never answered");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(server)
    }

    /// The environment a client of this PipeWire needs.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![(
            "PIPEWIRE_RUNTIME_DIR".to_owned(),
            self.runtime.display().to_string(),
        )]
    }

    /// Plugs in a camera called `description` (node `name`); answers its
    /// node id, for [`PipeWireServer::unplug`].
    pub async fn plug_camera(&self, name: &str, description: &str) -> Result<u32> {
        self.pw_cli(&[
            "create-node",
            "adapter",
            &format!(
                "{{ factory.name=videotestsrc node.name={name} \
                 node.description=\"{description}\" media.class=Video/Source \
                 object.linger=true }}"
            ),
        ])?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(id) = self.node_id(name)? {
                return Ok(id);
            }
            ensure!(Instant::now() < deadline, "no camera node {name} appeared");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Unplugs what [`PipeWireServer::plug_camera`] plugged in.
    pub fn unplug(&self, id: u32) -> Result<()> {
        self.pw_cli(&["destroy", &id.to_string()]).map(drop)
    }

    /// How many streams capture from the node called `name` now, as
    /// PipeWire sees it (links whose output is that node).
    pub fn captures_from(&self, name: &str) -> Result<usize> {
        let Some(id) = self.node_id(name)? else {
            return Ok(0);
        };
        let links = self.pw_cli(&["ls", "Link"])?;
        let wanted = format!("link.output.node = \"{id}\"");
        Ok(links.lines().filter(|l| l.trim() == wanted).count())
    }

    /// The id of the node called `name`, if there is one.
    fn node_id(&self, name: &str) -> Result<Option<u32>> {
        let nodes = self.pw_cli(&["ls", "Node"])?;
        let mut id = None;
        for line in nodes.lines().map(str::trim) {
            if let Some(rest) = line.strip_prefix("id ") {
                id = rest.split(',').next().and_then(|n| n.trim().parse().ok());
            } else if line == format!("node.name = \"{name}\"") {
                return Ok(id);
            }
        }
        Ok(None)
    }

    /// Runs `pw-cli` (for at most 10 s: a PipeWire that hangs fails the
    /// test instead of hanging it).
    fn pw_cli(&self, args: &[&str]) -> Result<String> {
        let out = Command::new("timeout")
            .args(["10", "pw-cli"])
            .args(args)
            .env("PIPEWIRE_RUNTIME_DIR", &self.runtime)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus.address)
            .output()
            .context("running pw-cli")?;
        if !out.status.success() {
            bail!(
                "pw-cli {args:?}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}
