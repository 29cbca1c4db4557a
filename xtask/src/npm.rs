//! The project's npm packages, each folder pinned by its own
//! `package-lock.json` and installed with `npm ci`: the signaling
//! benchmark's baseline (the original demo's Node relay, whose one
//! dependency is `ws`) and the UI's build tools (binaryen's `wasm-opt`).
//! Node.js and npm come from Debian's packages when they are not on PATH.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::setup::apt_install;
use crate::util::{self, root, step};

/// The signaling bench's Node baseline, relative to the workspace root.
const NODE_BASELINE: &str = "signal/benches/node-baseline";
/// The UI's build tools, relative to the workspace root.
const UI_TOOLS: &str = "src-ui/tools";

/// Installs what the UI's build needs (`wasm-opt`).
pub fn install_ui_tools() -> Result<()> {
    install(UI_TOOLS, "the UI's wasm optimizer (binaryen, npm ci)")
}

/// Installs the signaling bench's Node baseline.
pub fn install_node_baseline() -> Result<()> {
    install(NODE_BASELINE, "the Node baseline's dependency (npm ci)")
}

/// binaryen's `wasm-opt`, as installed by [`install_ui_tools`].
pub fn wasm_opt() -> PathBuf {
    root().join(UI_TOOLS).join("node_modules/.bin/wasm-opt")
}

/// Installs Node.js if missing, then `folder`'s `node_modules` unless it
/// already holds exactly what the lock file pins.
fn install(folder: &str, what: &str) -> Result<()> {
    let mut packages = Vec::new();
    if !util::has("node") {
        packages.push("nodejs");
    }
    if !util::has("npm") {
        packages.push("npm");
    }
    apt_install(&packages)?;
    let dir = root().join(folder);
    if installed(&dir, folder)? {
        return Ok(());
    }
    step(&format!("installing {what}"));
    util::run(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--prefix"])
            .arg(&dir),
    )
}

/// Whether every package the lock file pins is installed at its version.
fn installed(dir: &Path, folder: &str) -> Result<bool> {
    let lock = std::fs::read_to_string(dir.join("package-lock.json"))
        .with_context(|| format!("reading {folder}/package-lock.json"))?;
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
