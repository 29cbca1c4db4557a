fn main() {
    // Declaring the app's commands here makes Tauri generate an `allow-<command>`
    // permission for each, so capabilities/default.json can grant exactly these
    // and nothing else (least privilege).
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(
        tauri_build::AppManifest::new().commands(&[
            "server_info",
            "open_in_browser",
            "get_settings",
            "update_settings",
            "reset_settings",
            "media_permission_status",
            "request_media_permission",
            "start_hosting",
            "hosting_info",
            "stop_hosting",
            "lan_calls",
            "check_server",
        ]),
    ))
    .expect("failed to run tauri-build");
}
