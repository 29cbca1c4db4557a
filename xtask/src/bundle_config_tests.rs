//! Each rule of [`super::check`], broken on purpose in a scratch copy of
//! `src-tauri/` and `icons/`.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::check;
use crate::util::root;

/// A scratch copy of the real configuration: `DIR/src-tauri` (config,
/// plists, desktop template) and `DIR/icons`.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("xtask-bundle-config-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for folder in ["src-tauri", "icons"] {
            std::fs::create_dir_all(dir.join(folder)).unwrap();
        }
        for file in [
            "tauri.conf.json",
            "Info.plist",
            "Entitlements.plist",
            "peercall.desktop",
        ] {
            std::fs::copy(
                root().join("src-tauri").join(file),
                dir.join("src-tauri").join(file),
            )
            .unwrap();
        }
        for entry in std::fs::read_dir(root().join("icons")).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.join("icons").join(entry.file_name())).unwrap();
        }
        Self(dir)
    }

    fn src_tauri(&self) -> PathBuf {
        self.0.join("src-tauri")
    }

    /// Edits `tauri.conf.json` as JSON.
    fn config(&self, edit: impl FnOnce(&mut Value)) {
        let path = self.src_tauri().join("tauri.conf.json");
        let mut config: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        edit(&mut config);
        std::fs::write(&path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
    }

    /// Replaces `from` with `to` in a file under the scratch dir.
    fn replace(&self, file: &str, from: &str, to: &str) {
        let path = self.0.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file} has no {from:?}");
        std::fs::write(&path, text.replace(from, to)).unwrap();
    }

    /// The check's error, which must mention `needle`.
    fn fails_with(&self, needle: &str) {
        let error = match check(&self.src_tauri()) {
            Ok(found) => panic!("the check passed: {found:#?}"),
            Err(error) => format!("{error:#}"),
        };
        assert!(error.contains(needle), "{needle:?} not in: {error}");
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn path(root: &Path) -> String {
    root.display().to_string()
}

#[test]
fn the_real_configuration_passes() {
    let found = check(&root().join("src-tauri")).unwrap();
    for target in ["deb", "rpm", "nsis", "msi", "app", "dmg"] {
        assert!(
            found
                .iter()
                .any(|line| line.starts_with(&format!("{target}: peercall://"))),
            "{target} not covered: {found:#?}"
        );
    }
    // The scratch copy is faithful: it passes too.
    let scratch = Scratch::new("faithful");
    assert!(check(&scratch.src_tauri()).is_ok(), "{}", path(&scratch.0));
}

#[test]
fn an_unknown_field_breaks_the_schema() {
    let scratch = Scratch::new("unknown-field");
    scratch.config(|c| c["bundle"]["windows"]["nsis"]["installMod"] = json!("perMachine"));
    scratch.fails_with("does not match Tauri 2's config schema");
}

#[test]
fn a_wrong_type_breaks_the_schema() {
    let scratch = Scratch::new("wrong-type");
    scratch.config(|c| c["bundle"]["macOS"]["hardenedRuntime"] = json!("yes"));
    scratch.fails_with("does not match Tauri 2's config schema");
}

#[test]
fn another_schema_is_refused() {
    let scratch = Scratch::new("schema-url");
    scratch.config(|c| c["$schema"] = json!("https://schema.tauri.app/config/1"));
    scratch.fails_with("must name Tauri 2's schema");
}

#[test]
fn every_shipped_target_is_listed() {
    let scratch = Scratch::new("targets");
    scratch.config(|c| c["bundle"]["targets"] = json!(["deb", "rpm", "nsis", "app", "dmg"]));
    scratch.fails_with("lacks msi");
    scratch.config(|c| c["bundle"]["targets"] = json!("all"));
    scratch.fails_with("AppImage");
}

#[test]
fn a_missing_icon_fails() {
    let scratch = Scratch::new("missing-icon");
    std::fs::remove_file(scratch.0.join("icons/icon.icns")).unwrap();
    scratch.fails_with("icon ../icons/icon.icns is missing");
}

#[test]
fn an_icon_of_the_wrong_format_fails() {
    let scratch = Scratch::new("bad-icon");
    std::fs::copy(
        scratch.0.join("icons/32x32.png"),
        scratch.0.join("icons/icon.ico"),
    )
    .unwrap();
    scratch.fails_with("icon ../icons/icon.ico is not a .ico file");
}

#[test]
fn each_platform_needs_its_icon_kind() {
    let scratch = Scratch::new("no-ico");
    scratch.config(|c| {
        c["bundle"]["icon"] = json!(["../icons/32x32.png", "../icons/icon.icns"]);
        c["bundle"]["windows"]["nsis"]
            .as_object_mut()
            .unwrap()
            .remove("installerIcon");
    });
    scratch.fails_with("no .ico icon");
}

#[test]
fn the_scheme_must_be_declared() {
    let scratch = Scratch::new("no-scheme");
    scratch.config(|c| c["plugins"]["deep-link"]["desktop"]["schemes"] = json!(["other"]));
    scratch.fails_with("must declare \"peercall\"");
}

#[test]
fn the_desktop_entry_must_register_and_pass_the_link() {
    let scratch = Scratch::new("desktop-mime");
    scratch.replace("src-tauri/peercall.desktop", "MimeType={{mime_type}}", "");
    scratch.fails_with("drops the MimeType");

    let scratch = Scratch::new("desktop-exec");
    scratch.replace("src-tauri/peercall.desktop", " %u", "");
    scratch.fails_with("does not pass the clicked link");
}

#[test]
fn linux_packages_depend_on_what_registers_the_scheme() {
    let scratch = Scratch::new("depends");
    scratch.config(|c| c["bundle"]["linux"]["deb"]["depends"] = json!(["xdg-utils"]));
    scratch.fails_with("deb: depends lacks desktop-file-utils");
}

#[test]
fn linux_packages_depend_on_the_native_engines_plugins() {
    let scratch = Scratch::new("gstreamer-deb");
    scratch.config(|c| {
        c["bundle"]["linux"]["deb"]["depends"] = json!([
            "xdg-utils",
            "desktop-file-utils",
            "gstreamer1.0-plugins-base"
        ])
    });
    scratch.fails_with("deb: depends lacks gstreamer1.0-plugins-good");
    let scratch = Scratch::new("gstreamer-rpm");
    scratch.config(|c| {
        c["bundle"]["linux"]["rpm"]["depends"] =
            json!(["webkit2gtk4.1", "xdg-utils", "desktop-file-utils"])
    });
    scratch.fails_with("rpm: depends lacks gstreamer1-plugins-base");
}

#[test]
fn a_custom_installer_template_must_keep_deep_links() {
    let scratch = Scratch::new("nsis-template");
    std::fs::write(scratch.src_tauri().join("installer.nsi"), "; nothing\n").unwrap();
    scratch.config(|c| c["bundle"]["windows"]["nsis"]["template"] = json!("installer.nsi"));
    scratch.fails_with("does not register deep links");
}

#[test]
fn windows_installers_bring_webview2() {
    let scratch = Scratch::new("webview2");
    scratch.config(|c| c["bundle"]["windows"]["webviewInstallMode"] = json!({"type": "skip"}));
    scratch.fails_with("must bring WebView2");
}

#[test]
fn windows_installers_speak_the_ui_languages() {
    let scratch = Scratch::new("languages");
    scratch.config(|c| c["bundle"]["windows"]["wix"]["language"] = json!(["en-US"]));
    scratch.fails_with("lacks ko-KR");
}

#[test]
fn macos_needs_the_hardened_runtime() {
    let scratch = Scratch::new("hardened");
    scratch.config(|c| c["bundle"]["macOS"]["hardenedRuntime"] = json!(false));
    scratch.fails_with("hardenedRuntime is off");
}

#[test]
fn macos_needs_the_camera_entitlement() {
    let scratch = Scratch::new("entitlement");
    scratch.replace(
        "src-tauri/Entitlements.plist",
        "<key>com.apple.security.device.camera</key>\n  <true/>",
        "<key>com.apple.security.device.camera</key>\n  <false/>",
    );
    scratch.fails_with("does not grant com.apple.security.device.camera");
}

#[test]
fn macos_needs_the_usage_strings() {
    let scratch = Scratch::new("usage");
    scratch.replace(
        "src-tauri/Info.plist",
        "NSMicrophoneUsageDescription",
        "NSMicrophoneUsage",
    );
    scratch.fails_with("Info.plist has no NSMicrophoneUsageDescription");
}
