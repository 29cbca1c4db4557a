//! `cargo xtask …`: the project's own installer, builder and test runner.
//!
//! Everything a fresh Debian/Ubuntu machine needs is installed from here,
//! idempotently and with pinned versions, so the README's two commands
//! (`cargo xtask run`, `cargo xtask test`) are all a developer or CI types.

mod bundle_config;
mod clean_system;
mod install_check;
mod npm;
mod setup;
mod tasks;
mod tidy;
mod util;

use anyhow::{bail, Context, Result};

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  setup    install what is missing (system packages, Rust targets, tools)
  run      setup, build the UI and the app, start the app
  test     setup, then every check: tidy, fmt, clippy, unit, integration,
           end-to-end, the Windows/macOS cross-target checks, and a
           short run of each fuzz target
  tidy     check the invariants ARCHITECTURE.md states
  bundle [--verify]
           build the app's .deb and .rpm and the server's .deb and report
           their sizes; --verify then installs both on a clean Debian 12
           (debootstrap), starts them, and removes them again
  bench    run the benchmarks (app launch and memory, signaling server)
  fuzz [SECONDS]
           fuzz the signaling server's parsers and hub, SECONDS each
           (default 600)
  ui       build the UI into src-ui/dist
";

fn main() {
    if let Err(error) = run() {
        eprintln!("\nxtask: {error:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = args.first().map(String::as_str).unwrap_or("help");
    match command {
        "setup" => setup::run(setup::Purpose::Test),
        "run" => tasks::run_app(),
        "test" => tasks::test(),
        "tidy" => tidy::run(),
        "bundle" => match args.get(1).map(String::as_str) {
            None => tasks::bundle(false),
            Some("--verify") => tasks::bundle(true),
            Some(other) => bail!("unknown bundle option `{other}`\n\n{USAGE}"),
        },
        "bench" => tasks::bench(),
        "fuzz" => {
            setup::run(setup::Purpose::Test)?;
            let seconds = match args.get(1) {
                Some(s) => s
                    .parse()
                    .with_context(|| format!("not a number of seconds: {s}"))?,
                None => 600,
            };
            tasks::fuzz(seconds, true)
        }
        "ui" => tasks::build_ui(),
        "help" | "-h" | "--help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown command `{other}`\n\n{USAGE}"),
    }
}
