//! A real PulseAudio sound server of a test's own (Debian's `pulseaudio`,
//! installed by `cargo xtask setup`): a unix socket in a fresh directory,
//! no other client sees it. Microphones are plugged in and out of it as a
//! person plugs a USB headset (`pactl load-module module-null-source`), so
//! the app's device monitor hears real hot-plug events from PulseAudio.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};

use crate::process::{temp_dir, Process};

/// A running `pulseaudio`, killed when dropped.
pub struct PulseServer {
    /// `unix:/…/native`, what `PULSE_SERVER` is set to.
    pub address: String,
    dir: PathBuf,
    _process: Process,
}

impl PulseServer {
    /// Starts one (with a null output, so it has a sink) and waits until
    /// it answers.
    pub async fn start() -> Result<Self> {
        let dir = temp_dir("pulse");
        let socket = dir.join("native");
        let mut command = Command::new("pulseaudio");
        command
            .args(["-n", "--daemonize=no", "--exit-idle-time=-1"])
            .args([
                "--use-pid-file=no",
                "--disable-shm=yes",
                "--log-target=stderr",
            ])
            .arg("-L")
            .arg(format!(
                "module-native-protocol-unix socket={} auth-anonymous=1",
                socket.display()
            ))
            .args(["-L", "module-null-sink sink_name=speakers"])
            .env("HOME", &dir)
            .env("XDG_RUNTIME_DIR", &dir)
            .env("PULSE_RUNTIME_PATH", &dir);
        let process = Process::spawn("pulseaudio", &mut command)?;
        let server = Self {
            address: format!("unix:{}", socket.display()),
            dir,
            _process: process,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while server.pactl(&["info"]).is_err() {
            ensure!(Instant::now() < deadline, "pulseaudio never answered");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(server)
    }

    /// The environment a client of this server needs.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![("PULSE_SERVER".to_owned(), self.address.clone())]
    }

    /// Plugs in a microphone called `description`; answers its module,
    /// for [`PulseServer::unplug`].
    pub fn plug_microphone(&self, name: &str, description: &str) -> Result<String> {
        self.pactl(&[
            "load-module",
            "module-null-source",
            &format!("source_name={name}"),
            &format!("description={description}"),
        ])
        .map(|out| out.trim().to_owned())
    }

    /// Unplugs what [`PulseServer::plug_microphone`] plugged in.
    pub fn unplug(&self, module: &str) -> Result<()> {
        self.pactl(&["unload-module", module]).map(drop)
    }

    /// How many programs record from the microphone called `name` now,
    /// as the sound server sees it.
    pub fn recordings_from(&self, name: &str) -> Result<usize> {
        let sources = self.pactl(&["list", "short", "sources"])?;
        let Some(index) = sources
            .lines()
            .map(|line| line.split('\t').collect::<Vec<_>>())
            .find(|fields| fields.get(1) == Some(&name))
            .and_then(|fields| fields.first().map(|i| i.to_string()))
        else {
            return Ok(0);
        };
        let outputs = self.pactl(&["list", "short", "source-outputs"])?;
        Ok(outputs
            .lines()
            .filter(|line| line.split('\t').nth(1) == Some(index.as_str()))
            .count())
    }

    fn pactl(&self, args: &[&str]) -> Result<String> {
        let out = Command::new("pactl")
            .args(args)
            .env("PULSE_SERVER", &self.address)
            .env("HOME", &self.dir)
            .output()
            .context("running pactl")?;
        if !out.status.success() {
            bail!(
                "pactl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}
