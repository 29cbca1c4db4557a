//! `cargo xtask tidy`: the invariants ARCHITECTURE.md states, checked
//! rather than only written. `cargo xtask test` runs it first (it takes a
//! second). Each rule reads a tree given to it, so the unit tests below can
//! show it failing on a deliberately broken one.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::util::{self, step};

/// Runs every rule on the workspace; fails listing every broken one.
pub fn run() -> Result<()> {
    step("tidy: the architecture's invariants");
    let root = util::root();
    let mut problems = Vec::new();
    problems.extend(tauri_only_in_platform(&root)?);
    problems.extend(signal_stays_headless(&cargo_metadata(&root)?));
    problems.extend(media_clone_forbidden(&root)?);
    problems.extend(code_map_names_every_module(&root)?);
    problems.extend(commands_match_the_contract(&root)?);
    problems.extend(no_tauri_channels_in_the_shell(&root)?);
    problems.extend(no_call_engine_in_the_shell(&root)?);
    if !problems.is_empty() {
        bail!(
            "tidy found {} problem(s):\n- {}",
            problems.len(),
            problems.join("\n- ")
        );
    }
    println!("tidy: every invariant holds");
    Ok(())
}

/// The `.rs` files below `dir`, sorted.
fn rust_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?
        {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Code lines of a Rust file: comments and doc comments left out.
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim_start().starts_with("//"))
}

/// The UI reaches the desktop shell only through `platform.rs`, so it
/// runs in a plain browser tab too: no other UI file names Tauri's IPC.
pub fn tauri_only_in_platform(root: &Path) -> Result<Vec<String>> {
    const MARKERS: &[&str] = &["__TAURI", "tauri::", "tauri_sys", "\"plugin:"];
    let ui = root.join("src-ui/src");
    let mut problems = Vec::new();
    for file in rust_files(&ui)? {
        if file.file_name().is_some_and(|n| n == "platform.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file)?;
        for (n, line) in code_lines(&text) {
            if MARKERS.iter().any(|m| line.contains(m)) {
                problems.push(format!(
                    "{}:{}: calls Tauri outside platform.rs: {}",
                    relative(root, &file),
                    n + 1,
                    line.trim()
                ));
            }
        }
    }
    Ok(problems)
}

/// The file where the call engine's process makes its `Engine`: the only
/// place in the app that may.
const ENGINE_PROCESS: &str = "src-tauri/src/native/process/child.rs";

/// No call's pipelines run in the shell's own process: what they load and
/// allocate would stay there for good. The app makes an `Engine` only in
/// the engine's process ([`ENGINE_PROCESS`]).
pub fn no_call_engine_in_the_shell(root: &Path) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    for file in rust_files(&root.join("src-tauri/src"))? {
        if relative(root, &file) == ENGINE_PROCESS {
            continue;
        }
        let text = std::fs::read_to_string(&file)?;
        for (n, line) in code_lines(&text) {
            if line.contains("Engine::new(") {
                problems.push(format!(
                    "{}:{}: an Engine outside the engine's process ({ENGINE_PROCESS}): {}",
                    relative(root, &file),
                    n + 1,
                    line.trim()
                ));
            }
        }
    }
    Ok(problems)
}

/// The shell's events reach the page in commands' answers, never through
/// a Tauri channel: each channel message is an `eval`, and in WebKitGTK
/// the first one starts a JavaScript engine in the shell for good
/// (`src-tauri/src/mailbox.rs`).
pub fn no_tauri_channels_in_the_shell(root: &Path) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    for file in rust_files(&root.join("src-tauri/src"))? {
        let text = std::fs::read_to_string(&file)?;
        for (n, line) in code_lines(&text) {
            if line.contains("ipc::Channel") || line.contains("JavaScriptChannelId") {
                problems.push(format!(
                    "{}:{}: a Tauri channel (events go in a command's answer): {}",
                    relative(root, &file),
                    n + 1,
                    line.trim()
                ));
            }
        }
    }
    Ok(problems)
}

/// Packages `signal` must never depend on, whatever its features: it is
/// the headless server and the protocol the wasm UI shares.
const NOT_IN_SIGNAL: &[&str] = &[
    "tauri",
    "gtk",
    "webkit2gtk",
    "wry",
    "tao",
    "web-sys",
    "js-sys",
    "wasm-bindgen",
];

/// The dependency graph with every feature on, for this machine's
/// platform (a wasm32-only dependency of a dependency is not shipped here).
fn cargo_metadata(root: &Path) -> Result<Value> {
    let host = util::output("rustc", &["-vV"])
        .and_then(|v| {
            v.lines()
                .find_map(|l| l.strip_prefix("host: "))
                .map(str::to_owned)
        })
        .context("reading the host triple from `rustc -vV`")?;
    let output = util::cargo_output(
        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["metadata", "--format-version", "1", "--all-features"])
            .args(["--filter-platform", &host])
            .current_dir(root),
    )?;
    serde_json::from_str(&output).context("reading `cargo metadata`")
}

/// `peercall-signal` (all features, normal and build dependencies) reaches
/// none of [`NOT_IN_SIGNAL`].
pub fn signal_stays_headless(metadata: &Value) -> Vec<String> {
    match signal_dependencies(metadata) {
        Ok(reached) => reached
            .into_iter()
            .filter(|(name, _)| NOT_IN_SIGNAL.contains(&name.as_str()))
            .map(|(name, path)| format!("signal depends on {name}: {}", path.join(" → ")))
            .collect(),
        Err(problem) => vec![problem],
    }
}

/// Every package `peercall-signal` ships with (dev-dependencies left out),
/// each with the path that reaches it.
fn signal_dependencies(metadata: &Value) -> Result<Vec<(String, Vec<String>)>, String> {
    let packages = metadata["packages"].as_array().cloned().unwrap_or_default();
    let nodes = metadata["resolve"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let name_of = |id: &str| {
        packages
            .iter()
            .find(|p| p["id"] == id)
            .and_then(|p| p["name"].as_str())
            .unwrap_or(id)
            .to_owned()
    };
    let start = packages
        .iter()
        .find(|p| p["name"] == "peercall-signal")
        .and_then(|p| p["id"].as_str())
        .ok_or("cargo metadata has no peercall-signal package")?;
    let mut seen = vec![start.to_owned()];
    let mut pending = vec![(start.to_owned(), vec!["peercall-signal".to_owned()])];
    let mut reached = Vec::new();
    while let Some((id, path)) = pending.pop() {
        let Some(node) = nodes.iter().find(|n| n["id"] == id.as_str()) else {
            continue;
        };
        for dep in node["deps"].as_array().into_iter().flatten() {
            let shipped = dep["dep_kinds"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|k| k["kind"] != "dev");
            let Some(dep_id) = dep["pkg"].as_str() else {
                continue;
            };
            if !shipped || seen.iter().any(|s| s == dep_id) {
                continue;
            }
            seen.push(dep_id.to_owned());
            let name = name_of(dep_id);
            let mut path = path.clone();
            path.push(name.clone());
            reached.push((name, path.clone()));
            pending.push((dep_id.to_owned(), path));
        }
    }
    Ok(reached)
}

/// The JavaScript `clone()` of these web-sys types opens new live copies
/// of the camera or microphone; clippy must keep refusing it.
const MEDIA_CLONES: &[&str] = &[
    "web_sys::MediaStream::clone",
    "web_sys::MediaStreamTrack::clone",
];

/// `clippy.toml` still disallows the media types' JavaScript `clone()`
/// (the wasm clippy step then fails on any call to it).
pub fn media_clone_forbidden(root: &Path) -> Result<Vec<String>> {
    let config = std::fs::read_to_string(root.join("clippy.toml")).unwrap_or_default();
    Ok(MEDIA_CLONES
        .iter()
        .filter(|path| !config.contains(&format!("path = \"{path}\"")))
        .map(|path| format!("clippy.toml no longer disallows {path} (JS clone: live track copies)"))
        .collect())
}

/// Folders whose every module ARCHITECTURE.md's code map names (the UI's
/// `components/`, `pages/` and `hooks/` are described as collections).
const MAPPED: &[&str] = &[
    "signal/src",
    "signal/src/server",
    "signal/src/server/hub",
    "signal/src/server/cluster",
    "signal/src/protocol",
    "signal/src/shell",
    "src-tauri/src",
    "src-tauri/src/native",
    "src-ui/src",
    "src-ui/src/call",
    "src-ui/src/call/session",
    "src-ui/src/call/peer",
    "src-ui/src/call/native",
    "xtask/src",
    "tests/src",
];

/// Every module in [`MAPPED`] folders is named in ARCHITECTURE.md, as
/// `name.rs` or `` `name` ``.
pub fn code_map_names_every_module(root: &Path) -> Result<Vec<String>> {
    let map =
        std::fs::read_to_string(root.join("ARCHITECTURE.md")).context("reading ARCHITECTURE.md")?;
    let mut problems = Vec::new();
    for folder in MAPPED {
        let dir = root.join(folder);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "rs"))
            .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .filter(|stem| !matches!(stem.as_str(), "mod" | "lib" | "main"))
            .collect();
        names.sort();
        for name in names {
            let named = map.contains(&format!("{name}.rs")) || map.contains(&format!("`{name}`"));
            if !named {
                problems.push(format!(
                    "ARCHITECTURE.md's code map does not name {folder}/{name}.rs"
                ));
            }
        }
    }
    Ok(problems)
}

/// The shell's command names, as the contract (`signal/src/shell/command.rs`)
/// lists them: the lines `Type = "name", Args => Output;`.
fn contract_commands(text: &str) -> Vec<String> {
    code_lines(text)
        .filter_map(|(_, line)| {
            let (ty, rest) = line.trim().split_once(" = \"")?;
            let (name, _) = rest.split_once("\",")?;
            ty.chars()
                .next()
                .is_some_and(|c| c.is_ascii_uppercase())
                .then(|| name.to_owned())
        })
        .collect()
}

/// The shell's commands are exactly the contract's: every name the UI can
/// call is a `#[tauri::command]` in `commands.rs`, registered in `lib.rs`'s
/// handler and granted in the capability, and nothing else is.
pub fn commands_match_the_contract(root: &Path) -> Result<Vec<String>> {
    let read = |path: &str| {
        std::fs::read_to_string(root.join(path)).with_context(|| format!("reading {path}"))
    };
    let mut contract = contract_commands(&read("signal/src/shell/command.rs")?);
    contract.sort();
    let commands = read("src-tauri/src/commands.rs")?;
    let mut defined: Vec<String> = commands
        .split("#[tauri::command]")
        .skip(1)
        .filter_map(|after| {
            let rest = after.split_once("fn ")?.1;
            Some(rest.split(['(', '<']).next()?.trim().to_owned())
        })
        .collect();
    defined.sort();
    let lib = read("src-tauri/src/lib.rs")?;
    let handler = lib
        .split_once("generate_handler![")
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(list, _)| list)
        .unwrap_or_default();
    let mut registered: Vec<String> = handler
        .split(',')
        .map(|entry| entry.trim().trim_start_matches("commands::").to_owned())
        .filter(|name| !name.is_empty())
        .collect();
    registered.sort();
    let capability = read("src-tauri/capabilities/default.json")?;
    let mut problems = Vec::new();
    for (what, names) in [
        ("#[tauri::command] in src-tauri/src/commands.rs", &defined),
        ("registered in src-tauri/src/lib.rs", &registered),
    ] {
        for name in names.iter().filter(|n| !contract.contains(n)) {
            problems.push(format!(
                "{name} is {what} but not in the contract (signal/src/shell/command.rs)"
            ));
        }
        for name in contract.iter().filter(|n| !names.contains(n)) {
            problems.push(format!("the contract's {name} is not {what}"));
        }
    }
    for name in &contract {
        let permission = format!("\"allow-{}\"", name.replace('_', "-"));
        if !capability.contains(&permission) {
            problems.push(format!(
                "the contract's {name} is not granted in src-tauri/capabilities/default.json"
            ));
        }
    }
    Ok(problems)
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A scratch tree with `files` (path, contents).
    fn tree(name: &str, files: &[(&str, &str)]) -> PathBuf {
        let root = std::env::temp_dir().join(format!("xtask-tidy-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for (path, text) in files {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        root
    }

    #[test]
    fn a_tauri_channel_in_the_shell_is_caught() {
        let root = tree(
            "channel",
            &[
                (
                    "src-tauri/src/commands.rs",
                    "// not a tauri::ipc::Channel\nlet c: tauri::ipc::Channel<u8> = id.channel_on(w);",
                ),
                ("src-tauri/src/mailbox.rs", "pub struct Mailbox;"),
            ],
        );
        let problems = no_tauri_channels_in_the_shell(&root).unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("src-tauri/src/commands.rs:2:"));
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn a_call_engine_in_the_shell_is_caught() {
        let root = tree(
            "engine",
            &[
                (
                    "src-tauri/src/commands.rs",
                    "// Engine::new( in a comment\nlet e = native::Engine::new(frames, false, first);",
                ),
                (ENGINE_PROCESS, "let engine = Engine::new(frames, fake, first)?;"),
            ],
        );
        let problems = no_call_engine_in_the_shell(&root).unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("src-tauri/src/commands.rs:2:"));
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn tauri_outside_platform_is_caught() {
        let root = tree(
            "tauri",
            &[
                (
                    "src-ui/src/platform.rs",
                    "let x = window.__TAURI_INTERNALS__;",
                ),
                (
                    "src-ui/src/pages/home.rs",
                    "// Tauri is mentioned in a comment only\nfn f() {}",
                ),
            ],
        );
        assert!(tauri_only_in_platform(&root).unwrap().is_empty());
        std::fs::write(
            root.join("src-ui/src/pages/home.rs"),
            "fn f() { js_sys::Reflect::get(&w, &\"__TAURI_INTERNALS__\".into()); }",
        )
        .unwrap();
        let problems = tauri_only_in_platform(&root).unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("pages/home.rs:1"), "{problems:?}");
    }

    fn metadata(extra_dep: Option<(&str, &str)>) -> Value {
        let mut signal_deps = vec![
            json!({"pkg": "serde 1", "dep_kinds": [{"kind": null}]}),
            // A dev-dependency does not count.
            json!({"pkg": "web-sys 1", "dep_kinds": [{"kind": "dev"}]}),
        ];
        if let Some((pkg, kind)) = extra_dep {
            signal_deps.push(json!({"pkg": pkg, "dep_kinds": [{"kind": kind}]}));
        }
        json!({
            "packages": [
                {"id": "signal 1", "name": "peercall-signal"},
                {"id": "serde 1", "name": "serde"},
                {"id": "glib 1", "name": "glib"},
                {"id": "gtk 1", "name": "gtk"},
                {"id": "web-sys 1", "name": "web-sys"},
            ],
            "resolve": {"nodes": [
                {"id": "signal 1", "deps": signal_deps},
                {"id": "serde 1", "deps": []},
                {"id": "glib 1", "deps": [{"pkg": "gtk 1", "dep_kinds": [{"kind": null}]}]},
                {"id": "gtk 1", "deps": []},
                {"id": "web-sys 1", "deps": []},
            ]},
        })
    }

    #[test]
    fn a_ui_dependency_of_signal_is_caught_even_indirectly() {
        assert!(signal_stays_headless(&metadata(None)).is_empty());
        let problems = signal_stays_headless(&metadata(Some(("glib 1", "build"))));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("peercall-signal → glib → gtk"),
            "{problems:?}"
        );
    }

    /// On the real workspace the walk does reach the server's own
    /// dependencies (so an empty result above is not a walk that found
    /// nothing), and none of the UI's.
    #[test]
    fn the_real_signal_crate_is_headless() {
        let metadata = cargo_metadata(&util::root()).unwrap();
        let reached = signal_dependencies(&metadata).unwrap();
        for expected in ["tokio", "tokio-tungstenite", "serde_json"] {
            assert!(
                reached.iter().any(|(name, _)| name == expected),
                "{expected} not reached"
            );
        }
        let problems = signal_stays_headless(&metadata);
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn a_lost_clone_rule_is_caught() {
        let root = tree(
            "clippy",
            &[(
                "clippy.toml",
                "disallowed-methods = [\n  { path = \"web_sys::MediaStream::clone\" },\n  { path = \"web_sys::MediaStreamTrack::clone\" },\n]\n",
            )],
        );
        assert!(media_clone_forbidden(&root).unwrap().is_empty());
        std::fs::write(
            root.join("clippy.toml"),
            "disallowed-methods = [\n  { path = \"web_sys::MediaStream::clone\" },\n]\n",
        )
        .unwrap();
        let problems = media_clone_forbidden(&root).unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("MediaStreamTrack"), "{problems:?}");
    }

    #[test]
    fn a_module_missing_from_the_code_map_is_caught() {
        let root = tree(
            "map",
            &[
                (
                    "ARCHITECTURE.md",
                    "`hub.rs` routes; `session` runs a call.\n",
                ),
                ("signal/src/server/hub.rs", ""),
                ("signal/src/server/mod.rs", ""),
                ("src-ui/src/call/session.rs", ""),
            ],
        );
        assert!(code_map_names_every_module(&root).unwrap().is_empty());
        std::fs::write(root.join("signal/src/server/budget.rs"), "").unwrap();
        let problems = code_map_names_every_module(&root).unwrap();
        assert_eq!(
            problems,
            vec!["ARCHITECTURE.md's code map does not name signal/src/server/budget.rs"]
        );
    }

    #[test]
    fn a_command_outside_the_contract_is_caught() {
        let contract = "commands! {\n    /// Doc.\n    GetSettings = \"get_settings\", NoArgs => Settings;\n    CheckServer = \"check_server\", CheckServerArgs => Option<usize>;\n}\n";
        let commands = "#[tauri::command]\npub fn get_settings(store: State<'_, S>) -> S {}\n#[tauri::command]\npub async fn check_server(args: A) -> R {}\n";
        let lib = "tauri::generate_handler![\n    commands::get_settings,\n    commands::check_server,\n])";
        let capability = "[\"allow-get-settings\", \"allow-check-server\"]";
        let root = tree(
            "commands",
            &[
                ("signal/src/shell/command.rs", contract),
                ("src-tauri/src/commands.rs", commands),
                ("src-tauri/src/lib.rs", lib),
                ("src-tauri/capabilities/default.json", capability),
            ],
        );
        assert_eq!(
            commands_match_the_contract(&root).unwrap(),
            Vec::<String>::new()
        );
        // A command the UI can't name (no type in the contract).
        std::fs::write(
            root.join("src-tauri/src/commands.rs"),
            format!("{commands}#[tauri::command]\npub fn secret() {{}}\n"),
        )
        .unwrap();
        let problems = commands_match_the_contract(&root).unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("secret is #[tauri::command]"),
            "{problems:?}"
        );
        // A contract command nobody registered or granted.
        std::fs::write(root.join("src-tauri/src/commands.rs"), commands).unwrap();
        std::fs::write(
            root.join("src-tauri/src/lib.rs"),
            "tauri::generate_handler![commands::get_settings]",
        )
        .unwrap();
        std::fs::write(
            root.join("src-tauri/capabilities/default.json"),
            "[\"allow-get-settings\"]",
        )
        .unwrap();
        let problems = commands_match_the_contract(&root).unwrap();
        assert_eq!(
            problems,
            vec![
                "the contract's check_server is not registered in src-tauri/src/lib.rs",
                "the contract's check_server is not granted in src-tauri/capabilities/default.json",
            ]
        );
    }

    #[test]
    fn the_real_commands_match_the_contract() {
        let problems = commands_match_the_contract(&crate::util::root()).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
    }
}
