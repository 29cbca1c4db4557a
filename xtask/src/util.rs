//! Small process helpers.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The workspace root (xtask lives one level below it). `cargo run` names
/// the manifest directory at run time; the compile-time one is only the
/// fallback, since a build shared between checkouts (one target directory)
/// keeps the path of whichever checkout compiled it.
pub fn root() -> PathBuf {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest
        .parent()
        .expect("xtask is inside the workspace")
        .to_path_buf()
}

/// Prints a step heading, so CI logs read as a list of what happened.
pub fn step(title: &str) {
    println!("\n==> {title}");
}

/// Runs `command` in the workspace root, failing with its command line.
pub fn run(command: &mut Command) -> Result<()> {
    command.current_dir(root());
    println!("$ {}", describe(command));
    let status = command
        .status()
        .with_context(|| format!("could not start `{}`", describe(command)))?;
    if !status.success() {
        bail!("`{}` failed ({status})", describe(command));
    }
    Ok(())
}

/// Runs `program args…` and returns its stdout, or `None` if it is missing
/// or fails.
pub fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// [`output`] with extra environment variables.
pub fn output_env(program: &str, args: &[&str], env: &[(&str, &str)]) -> Option<String> {
    let out = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Whether `program` is on PATH.
pub fn has(program: &str) -> bool {
    which(program).is_some()
}

/// Where `program` is on PATH.
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// A `cargo` command using the same cargo that runs xtask.
pub fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn describe(command: &Command) -> String {
    let mut text = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}

/// Where a `cargo install`ed tool is: `$CARGO_HOME/bin` first (it may not be
/// on PATH in a fresh shell), then PATH.
pub fn tool(binary: &str) -> Option<PathBuf> {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
    let candidate = cargo_home.join("bin").join(binary);
    if candidate.is_file() {
        return Some(candidate);
    }
    which(binary)
}

/// Runs `command` and returns its stdout, failing with its stderr.
pub fn cargo_output(command: &mut Command) -> Result<String> {
    let output = command
        .output()
        .with_context(|| format!("could not start `{}`", describe(command)))?;
    if !output.status.success() {
        bail!(
            "`{}` failed ({}): {}",
            describe(command),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
