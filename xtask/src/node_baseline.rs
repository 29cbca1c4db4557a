//! The signaling benchmark's baseline: the original demo's Node relay in
//! `signal/benches/node-baseline/`, whose one dependency (`ws`, pinned in
//! its `package-lock.json`) is installed here with `npm ci`. Node.js and npm
//! come from Debian's packages when they are not on PATH.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

use crate::setup::apt_install;
use crate::util::{self, root, step};

/// The baseline's folder, relative to the workspace root.
const DIR: &str = "signal/benches/node-baseline";

/// Installs Node.js if missing, then the baseline's `node_modules` unless
/// it already holds exactly what the lock file pins.
pub fn install() -> Result<()> {
    let mut packages = Vec::new();
    if !util::has("node") {
        packages.push("nodejs");
    }
    if !util::has("npm") {
        packages.push("npm");
    }
    apt_install(&packages)?;
    let dir = root().join(DIR);
    if installed(&dir)? {
        return Ok(());
    }
    step("installing the Node baseline's dependency (npm ci)");
    util::run(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--prefix"])
            .arg(&dir),
    )
}

/// Whether every package the lock file pins is installed at its version.
fn installed(dir: &Path) -> Result<bool> {
    let lock = std::fs::read_to_string(dir.join("package-lock.json"))
        .with_context(|| format!("reading {DIR}/package-lock.json"))?;
    let lock: serde_json::Value =
        serde_json::from_str(&lock).context("parsing package-lock.json")?;
    let packages = lock["packages"]
        .as_object()
        .context("lock file without packages")?;
    Ok(packages
        .iter()
        .filter(|(path, _)| !path.is_empty())
        .all(|(path, pinned)| {
            let manifest = std::fs::read_to_string(dir.join(path).join("package.json"));
            let version = manifest
                .ok()
                .and_then(|m| serde_json::from_str::<serde_json::Value>(&m).ok())
                .and_then(|m| m["version"].as_str().map(str::to_owned));
            version.is_some() && version.as_deref() == pinned["version"].as_str()
        }))
}
