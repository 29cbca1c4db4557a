//! The Windows and macOS bundles can't be built here, so their
//! configuration is checked instead, first thing in `cargo xtask test` and
//! before `cargo xtask bundle`:
//!
//! - `tauri.conf.json` parses as Tauri 2's own config type
//!   (`tauri_utils::config::Config`, which Tauri's JSON schema is generated
//!   from and which refuses unknown fields), and names Tauri 2's schema;
//! - every bundle the project ships is a target (deb, rpm, NSIS, MSI, .app,
//!   .dmg), AppImage is not (its tools come from GitHub);
//! - every icon listed exists and is what its name says (PNG, ICO, ICNS),
//!   with one of each kind the targets need;
//! - the `peercall` scheme reaches every target: declared to the deep-link
//!   plugin (the bundler registers it from there: the desktop entry's
//!   MimeType, the NSIS and MSI installers' registry keys, the app's
//!   `CFBundleURLTypes`), with the Linux desktop template passing the link
//!   on (`%u`) and no custom installer template dropping it;
//! - the `.deb` and `.rpm` depend on the GStreamer plugins the native call
//!   engine runs on (base, good, bad, libnice's);
//! - Windows: the installers bring WebView2 (a bootstrapper) and speak the
//!   UI's languages; camera and microphone need nothing declared there (a
//!   desktop app asks through WebView2, answered in `window.rs`);
//! - macOS: hardened runtime on, the entitlements for camera, microphone
//!   and network, and `Info.plist`'s usage strings for camera, microphone
//!   and the local network.

use std::path::Path;

use anyhow::{bail, ensure, Context, Result};
use peercall_signal::address::INVITE_SCHEME;
use serde_json::Value;
use tauri_utils::config::{BundleTarget, BundleType, Config, WebviewInstallMode};

use crate::util::{root, step};

/// The bundles Peercall ships, by the name `bundle.targets` uses.
const SHIPPED: &[&str] = &["deb", "rpm", "nsis", "msi", "app", "dmg"];
/// The schema `tauri.conf.json` must name.
const SCHEMA: &str = "https://schema.tauri.app/config/2";
/// Entitlements the sandboxed, hardened macOS app needs for a call.
const ENTITLEMENTS: &[&str] = &[
    "com.apple.security.device.camera",
    "com.apple.security.device.audio-input",
    "com.apple.security.network.client",
    "com.apple.security.network.server",
];
/// What macOS shows when the app first asks for each.
const USAGE_STRINGS: &[&str] = &[
    "NSCameraUsageDescription",
    "NSMicrophoneUsageDescription",
    "NSLocalNetworkUsageDescription",
];
/// What the native call engine runs on (GStreamer's base, good and bad
/// plugins and libnice's), as Debian and as Fedora name the packages.
const GSTREAMER_DEB: &[&str] = &[
    "gstreamer1.0-plugins-base",
    "gstreamer1.0-plugins-good",
    "gstreamer1.0-plugins-bad",
    "gstreamer1.0-nice",
];
const GSTREAMER_RPM: &[&str] = &[
    "gstreamer1-plugins-base",
    "gstreamer1-plugins-good",
    "gstreamer1-plugins-bad-free",
    "libnice-gstreamer1",
];
/// The UI's languages, as NSIS and WiX name them.
const NSIS_LANGUAGES: &[&str] = &["English", "Korean"];
const WIX_LANGUAGES: &[&str] = &["en-US", "ko-KR"];

/// `cargo xtask test`'s step: checks `src-tauri/`.
pub fn run() -> Result<()> {
    step("bundle configuration (Linux, Windows, macOS)");
    for line in check(&root().join("src-tauri"))? {
        println!("{line}");
    }
    Ok(())
}

/// Checks the bundle configuration in `src_tauri` (icons are found relative
/// to it, as Tauri finds them); returns what was found, a line each.
pub fn check(src_tauri: &Path) -> Result<Vec<String>> {
    let path = src_tauri.join("tauri.conf.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let raw: Value = serde_json::from_str(&text).context("tauri.conf.json is not JSON")?;
    ensure!(
        raw["$schema"] == SCHEMA,
        "tauri.conf.json must name Tauri 2's schema ({SCHEMA})"
    );
    let config: Config = serde_json::from_str(&text)
        .context("tauri.conf.json does not match Tauri 2's config schema")?;
    let mut found = vec!["schema: Tauri 2's config type accepts tauri.conf.json".to_owned()];
    found.push(targets(&config)?);
    found.extend(icons(src_tauri, &config)?);
    found.extend(scheme(src_tauri, &config)?);
    found.extend(gstreamer(&config)?);
    found.push(windows(&config)?);
    found.extend(macos(src_tauri, &config)?);
    Ok(found)
}

/// The Linux packages bring the native call engine's GStreamer plugins
/// (the app starts without them, but calls in its window need them).
fn gstreamer(config: &Config) -> Result<Vec<String>> {
    let linux = &config.bundle.linux;
    let mut found = Vec::new();
    for (target, depends, needed) in [
        ("deb", linux.deb.depends.clone(), GSTREAMER_DEB),
        ("rpm", linux.rpm.depends.clone(), GSTREAMER_RPM),
    ] {
        let depends = depends.unwrap_or_default();
        for package in needed {
            ensure!(
                depends.iter().any(|d| d == package),
                "{target}: depends lacks {package}, which the native call engine needs"
            );
        }
        found.push(format!(
            "{target}: the native engine's GStreamer plugins ({})",
            needed.join(", ")
        ));
    }
    Ok(found)
}

fn targets(config: &Config) -> Result<String> {
    let listed = match &config.bundle.targets {
        BundleTarget::All => bail!(
            "bundle.targets is \"all\", which includes AppImage (its tools come from GitHub): \
             list {SHIPPED:?}"
        ),
        BundleTarget::List(list) => list.iter().map(BundleType::to_string).collect(),
        BundleTarget::One(one) => vec![one.to_string()],
    };
    for wanted in SHIPPED {
        ensure!(
            listed.iter().any(|t| t == wanted),
            "bundle.targets lacks {wanted}: Peercall ships {SHIPPED:?}"
        );
    }
    ensure!(
        !listed.iter().any(|t| t == "appimage"),
        "bundle.targets has appimage, whose tools come from GitHub"
    );
    Ok(format!("targets: {}", listed.join(", ")))
}

/// Every icon exists and starts with its format's magic bytes.
fn icons(src_tauri: &Path, config: &Config) -> Result<Vec<String>> {
    let mut found = Vec::new();
    let mut kinds = Vec::new();
    let mut listed: Vec<String> = config.bundle.icon.clone();
    if let Some(nsis) = config.bundle.windows.nsis.as_ref() {
        listed.extend(nsis.installer_icon.iter().map(|p| p.display().to_string()));
    }
    for icon in &listed {
        let path = src_tauri.join(icon);
        let bytes = std::fs::read(&path).with_context(|| format!("icon {icon} is missing"))?;
        let kind = icon.rsplit('.').next().unwrap_or_default().to_lowercase();
        let magic: &[u8] = match kind.as_str() {
            "png" => b"\x89PNG\r\n\x1a\n",
            "ico" => b"\0\0\x01\0",
            "icns" => b"icns",
            other => bail!("icon {icon}: unknown kind .{other}"),
        };
        ensure!(
            bytes.starts_with(magic),
            "icon {icon} is not a .{kind} file"
        );
        found.push(format!("icon: {icon} ({} bytes)", bytes.len()));
        kinds.push(kind);
    }
    for (kind, who) in [("png", "Linux"), ("ico", "Windows"), ("icns", "macOS")] {
        ensure!(
            kinds.iter().any(|k| k == kind),
            "no .{kind} icon in bundle.icon: {who} needs one"
        );
    }
    Ok(found)
}

/// The scheme is declared once, to the deep-link plugin; the bundler
/// registers it for every target from there.
fn scheme(src_tauri: &Path, config: &Config) -> Result<Vec<String>> {
    let schemes = config
        .plugins
        .0
        .get("deep-link")
        .and_then(|c| c["desktop"]["schemes"].as_array().cloned())
        .unwrap_or_default();
    ensure!(
        schemes.iter().any(|s| s == INVITE_SCHEME),
        "plugins.deep-link.desktop.schemes must declare \"{INVITE_SCHEME}\": \
         every bundle registers the invite-link scheme from there"
    );
    let mut found = Vec::new();
    let linux = &config.bundle.linux;
    for (target, template) in [
        ("deb", linux.deb.desktop_template.as_ref()),
        ("rpm", linux.rpm.desktop_template.as_ref()),
    ] {
        if let Some(template) = template {
            let text = std::fs::read_to_string(src_tauri.join(template))
                .with_context(|| format!("{target}: reading {}", template.display()))?;
            ensure!(
                text.contains("MimeType={{mime_type}}")
                    || text.contains(&format!("x-scheme-handler/{INVITE_SCHEME}")),
                "{target}: the desktop template {} drops the MimeType that registers {INVITE_SCHEME}://",
                template.display()
            );
            ensure!(
                text.lines()
                    .any(|l| l.starts_with("Exec=") && l.contains("%u")),
                "{target}: the desktop template {} does not pass the clicked link (%u)",
                template.display()
            );
        }
        // xdg-open and xdg-mime (xdg-utils) find the handler in the MIME
        // cache that desktop-file-utils' trigger writes.
        let depends = match target {
            "deb" => linux.deb.depends.clone(),
            _ => linux.rpm.depends.clone(),
        }
        .unwrap_or_default();
        for needed in ["xdg-utils", "desktop-file-utils"] {
            ensure!(
                depends.iter().any(|d| d == needed),
                "{target}: depends lacks {needed}, without which {INVITE_SCHEME}:// opens nothing"
            );
        }
        found.push(format!(
            "{target}: {INVITE_SCHEME}:// in the desktop entry (MimeType, %u; xdg-utils, desktop-file-utils)"
        ));
    }
    let windows = &config.bundle.windows;
    let nsis_template = windows.nsis.as_ref().and_then(|n| n.template.as_ref());
    let wix_template = windows.wix.as_ref().and_then(|w| w.template.as_ref());
    for (target, template) in [("nsis", nsis_template), ("msi", wix_template)] {
        if let Some(template) = template {
            let text = std::fs::read_to_string(src_tauri.join(template))
                .with_context(|| format!("{target}: reading {}", template.display()))?;
            ensure!(
                text.contains("deep_link_protocols"),
                "{target}: the custom installer template {} does not register deep links",
                template.display()
            );
        }
        found.push(format!(
            "{target}: {INVITE_SCHEME}:// in the installer's registry keys"
        ));
    }
    let plist = info_plist(src_tauri, config)?;
    if plist.contains("CFBundleURLSchemes") {
        ensure!(
            plist.contains(&format!("<string>{INVITE_SCHEME}</string>")),
            "Info.plist declares CFBundleURLSchemes without {INVITE_SCHEME}"
        );
    }
    for target in ["app", "dmg"] {
        found.push(format!("{target}: {INVITE_SCHEME}:// in CFBundleURLTypes"));
    }
    Ok(found)
}

fn windows(config: &Config) -> Result<String> {
    let windows = &config.bundle.windows;
    let webview = match &windows.webview_install_mode {
        WebviewInstallMode::DownloadBootstrapper { .. } => "downloads WebView2's bootstrapper",
        WebviewInstallMode::EmbedBootstrapper { .. } => "embeds WebView2's bootstrapper",
        other => bail!(
            "bundle.windows.webviewInstallMode is {other:?}: the installers must bring \
             WebView2 (downloadBootstrapper or embedBootstrapper)"
        ),
    };
    let nsis = windows
        .nsis
        .as_ref()
        .context("bundle.windows.nsis is not configured")?;
    let nsis_languages = nsis.languages.clone().unwrap_or_default();
    for language in NSIS_LANGUAGES {
        ensure!(
            nsis_languages.iter().any(|l| l == language),
            "bundle.windows.nsis.languages lacks {language}, a language of the UI"
        );
    }
    let wix = windows
        .wix
        .as_ref()
        .context("bundle.windows.wix (the MSI) is not configured")?;
    let wix_languages = serde_json::to_string(&wix.language)?;
    for language in WIX_LANGUAGES {
        ensure!(
            wix_languages.contains(language),
            "bundle.windows.wix.language lacks {language}, a language of the UI"
        );
    }
    Ok(format!(
        "windows: NSIS and MSI in {}, installer {webview}",
        NSIS_LANGUAGES.join(" and ")
    ))
}

fn info_plist(src_tauri: &Path, config: &Config) -> Result<String> {
    let relative = config
        .bundle
        .macos
        .info_plist
        .clone()
        .unwrap_or_else(|| "Info.plist".into());
    let path = src_tauri.join(&relative);
    std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
}

fn macos(src_tauri: &Path, config: &Config) -> Result<Vec<String>> {
    let macos = &config.bundle.macos;
    ensure!(
        macos.hardened_runtime,
        "bundle.macOS.hardenedRuntime is off: notarization needs it"
    );
    ensure!(
        macos.minimum_system_version.is_some(),
        "bundle.macOS.minimumSystemVersion is not set"
    );
    let entitlements = macos.entitlements.as_ref().context(
        "bundle.macOS.entitlements is not set: the hardened app could not use the camera",
    )?;
    let path = src_tauri.join(entitlements);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    for key in ENTITLEMENTS {
        ensure!(
            plist_value(&text, key) == Some("true"),
            "{entitlements} does not grant {key}"
        );
    }
    let plist = info_plist(src_tauri, config)?;
    for key in USAGE_STRINGS {
        ensure!(
            plist_value(&plist, key).is_some_and(|v| !v.trim().is_empty()),
            "Info.plist has no {key}: macOS would refuse the app access without saying why"
        );
    }
    Ok(vec![
        format!("macOS: hardened runtime, {entitlements} grants camera, microphone, network"),
        format!("macOS: Info.plist explains {}", USAGE_STRINGS.join(", ")),
    ])
}

/// The value after `<key>KEY</key>` in a plist: `true`/`false`, or a
/// `<string>`'s text.
fn plist_value<'a>(plist: &'a str, key: &str) -> Option<&'a str> {
    let after = plist
        .split_once(&format!("<key>{key}</key>"))?
        .1
        .trim_start();
    if after.starts_with("<true/>") {
        return Some("true");
    }
    if after.starts_with("<false/>") {
        return Some("false");
    }
    let text = after.strip_prefix("<string>")?;
    Some(&text[..text.find("</string>")?])
}

#[cfg(test)]
#[path = "bundle_config_tests.rs"]
mod tests;
