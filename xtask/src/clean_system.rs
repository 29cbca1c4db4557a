//! A clean Debian 12 system in a folder, for the install check: a minbase
//! root made once by `debootstrap` (kept as `base/`) and copied afresh
//! (`root/`) for every check, so each install starts from a system nothing
//! was ever installed on. [`CleanSystem`] runs commands in it with
//! `chroot`, mounts only what programs there need (`/proc`, `/dev`, a
//! private `/dev/shm`), and unmounts them when dropped, on failure too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{bail, ensure, Context, Result};

use crate::util::{self, step};

/// The release the check installs on, and where it comes from.
const SUITE: &str = "bookworm";
const MIRROR: &str = "http://deb.debian.org/debian";
/// Written into `base/` once debootstrap has finished, so an interrupted
/// debootstrap is started over rather than reused.
const COMPLETE: &str = ".peercall-debootstrap-complete";

/// A fresh copy of the clean system, with its mounts.
pub struct CleanSystem {
    /// The root folder (`…/root`).
    pub root: PathBuf,
    /// Mounted here, in mount order.
    mounts: Vec<PathBuf>,
}

impl CleanSystem {
    /// A fresh root under `dir`: `dir/base` is made by debootstrap if it is
    /// not there yet, then copied to `dir/root`.
    pub fn fresh(dir: &Path) -> Result<Self> {
        let base = dir.join("base");
        if !base.join(COMPLETE).exists() {
            step(&format!(
                "debootstrap: a minimal Debian {SUITE} in {}",
                base.display()
            ));
            unmount_under(&base)?;
            remove(&base)?;
            std::fs::create_dir_all(dir)?;
            util::run(
                Command::new("debootstrap")
                    .args(["--variant=minbase", SUITE])
                    .arg(&base)
                    .arg(MIRROR),
            )?;
            std::fs::write(base.join(COMPLETE), "")?;
        }
        let root = dir.join("root");
        unmount_under(&root)?;
        remove(&root)?;
        util::run(Command::new("cp").arg("-a").arg(&base).arg(&root))?;
        std::fs::remove_file(root.join(COMPLETE))?;
        // Name resolution for apt, as the machine has it.
        std::fs::copy("/etc/resolv.conf", root.join("etc/resolv.conf"))
            .context("copying /etc/resolv.conf")?;
        Ok(Self {
            root,
            mounts: Vec::new(),
        })
    }

    /// Mounts `/proc`, `/dev` (the machine's devices) and a private
    /// `/dev/shm`, which apt's scripts and the app's WebKit processes use.
    pub fn mount(&mut self) -> Result<()> {
        self.mount_one(&["-t", "proc", "proc"], "proc")?;
        self.mount_one(&["--bind", "/dev"], "dev")?;
        self.mount_one(
            &["-t", "tmpfs", "-o", "mode=1777,size=256m", "shm"],
            "dev/shm",
        )?;
        Ok(())
    }

    fn mount_one(&mut self, args: &[&str], at: &str) -> Result<()> {
        let target = self.root.join(at);
        std::fs::create_dir_all(&target)?;
        util::run(Command::new("mount").args(args).arg(&target))?;
        self.mounts.push(target);
        Ok(())
    }

    /// Unmounts everything [`Self::mount`] mounted, innermost first.
    pub fn unmount(&mut self) -> Result<()> {
        let mut failed = Vec::new();
        while let Some(target) = self.mounts.pop() {
            if !unmount_one(&target) {
                failed.push(target);
            }
        }
        ensure!(failed.is_empty(), "could not unmount {failed:?}");
        Ok(())
    }

    /// `chroot ROOT program args…` with a clean environment plus `env`.
    pub fn command(&self, program_and_args: &[&str], env: &[(&str, &str)]) -> Command {
        self.command_as(None, program_and_args, env)
    }

    /// [`Self::command`] as `user` (and its group) of the system, if given.
    pub fn command_as(
        &self,
        user: Option<&str>,
        program_and_args: &[&str],
        env: &[(&str, &str)],
    ) -> Command {
        let mut command = Command::new("chroot");
        if let Some(user) = user {
            command.arg(format!("--userspec={user}:{user}"));
        }
        command
            .arg(&self.root)
            .args(program_and_args)
            .env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .env("HOME", "/root")
            .env("LANG", "C.UTF-8")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .envs(env.iter().copied());
        command
    }

    /// Runs a shell command line in the system, failing on failure.
    pub fn run(&self, script: &str) -> Result<()> {
        util::run(&mut self.command(&["sh", "-c", script], &[]))
    }

    /// A shell command line's stdout, failing with its stderr.
    pub fn output(&self, script: &str) -> Result<String> {
        util::cargo_output(&mut self.command(&["sh", "-c", script], &[]))
    }

    /// Starts a program in the system, its output going to `log`.
    pub fn spawn(
        &self,
        program_and_args: &[&str],
        env: &[(&str, &str)],
        log: &Path,
    ) -> Result<Child> {
        let log = std::fs::File::create(log)?;
        self.command(program_and_args, env)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {program_and_args:?} in the clean system"))
    }

    /// Every file, link and folder in the system with its size, as
    /// `/path`, leaving out what the system does not own: the mounts,
    /// `/tmp` and `/run`.
    pub fn files(&self) -> Result<BTreeMap<String, u64>> {
        let mut found = BTreeMap::new();
        let skip = ["proc", "dev", "sys", "tmp", "run"].map(|d| self.root.join(d));
        let mut pending = vec![self.root.clone()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).with_context(|| format!("{}", dir.display()))? {
                let entry = entry?;
                let path = entry.path();
                if skip.contains(&path) {
                    continue;
                }
                let meta = entry.metadata()?;
                let name = format!("/{}", path.strip_prefix(&self.root)?.display());
                found.insert(name, if meta.is_file() { meta.len() } else { 0 });
                if meta.is_dir() {
                    pending.push(path);
                }
            }
        }
        Ok(found)
    }
}

impl Drop for CleanSystem {
    fn drop(&mut self) {
        if let Err(error) = self.unmount() {
            eprintln!("clean system: {error:#}");
        }
    }
}

fn unmount_one(target: &Path) -> bool {
    let quiet = |args: &[&str]| {
        Command::new("umount")
            .args(args)
            .arg(target)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    // A process still holding a file there makes a plain unmount fail;
    // detach it then (it goes once the last user is gone).
    quiet(&[]) || quiet(&["--lazy"])
}

/// Unmounts whatever an interrupted earlier check left mounted under
/// `dir`, deepest first; fails if anything stays mounted, so that nothing
/// ever deletes through a mount into the machine's own `/dev`.
fn unmount_under(dir: &Path) -> Result<()> {
    let mounted = || -> Result<Vec<PathBuf>> {
        let table = std::fs::read_to_string("/proc/self/mounts")?;
        let mut points: Vec<PathBuf> = table
            .lines()
            .filter_map(|line| line.split(' ').nth(1))
            .map(|point| PathBuf::from(point.replace("\\040", " ")))
            .filter(|point| point.starts_with(dir))
            .collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        Ok(points)
    };
    for point in mounted()? {
        println!("unmounting {} (left by an earlier check)", point.display());
        unmount_one(&point);
    }
    let left = mounted()?;
    if !left.is_empty() {
        bail!("still mounted, not deleting {}: {left:?}", dir.display());
    }
    Ok(())
}

fn remove(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            Err(error).with_context(|| format!("removing {}", dir.display()))
        }
        _ => Ok(()),
    }
}
