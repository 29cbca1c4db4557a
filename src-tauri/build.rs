fn main() {
    // Declaring the app's commands here makes Tauri generate an `allow-<command>`
    // permission for each, so capabilities/default.json can grant exactly these
    // and nothing else (least privilege). The names come from the contract the
    // UI calls them by.
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(
        tauri_build::AppManifest::new().commands(peercall_signal::shell::command::NAMES),
    ))
    .expect("failed to run tauri-build");
}
