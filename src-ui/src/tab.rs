//! What a plain browser tab keeps for itself, where the desktop app asks
//! its shell: the settings in `localStorage`, and camera/microphone
//! permission as the browser's Permissions API reports it. Only the
//! platform layer (`platform.rs`) calls these.

use peercall_signal::settings::Settings;
use peercall_signal::shell::{
    LoadNotice, MediaKind, PermissionState, SettingsSnapshot, ShellError, ShellErrorKind,
};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Where a tab keeps its settings.
const SETTINGS_KEY: &str = "peercall.settings";

fn page_error(kind: ShellErrorKind, value: JsValue) -> ShellError {
    ShellError::new(kind, format!("{value:?}"))
}

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

pub fn load_settings() -> SettingsSnapshot {
    let path = "browser storage".to_owned();
    let Some(stored) = local_storage().and_then(|s| s.get_item(SETTINGS_KEY).ok().flatten()) else {
        return SettingsSnapshot {
            settings: Settings::default(),
            notice: None,
            path,
        };
    };
    match Settings::from_stored_json(&stored)
        .ok()
        .filter(|s| s.validate().is_ok())
    {
        Some(settings) => SettingsSnapshot {
            settings,
            notice: None,
            path,
        },
        None => {
            // Keep the damaged copy, as the desktop app does with its file.
            let backup = format!("{SETTINGS_KEY}.corrupt");
            if let Some(storage) = local_storage() {
                let _ = storage.set_item(&backup, &stored);
                let _ = storage.remove_item(SETTINGS_KEY);
            }
            SettingsSnapshot {
                settings: Settings::default(),
                notice: Some(LoadNotice::Corrupt { backup }),
                path,
            }
        }
    }
}

pub fn save_settings(settings: &Settings) -> Result<Settings, ShellError> {
    if let Err(fields) = settings.validate() {
        return Err(ShellError {
            kind: ShellErrorKind::InvalidSettings,
            message: format!("{} setting(s) are not valid", fields.len()),
            fields,
        });
    }
    let json = serde_json::to_string(settings).expect("settings serialize");
    local_storage()
        .ok_or_else(|| ShellError::new(ShellErrorKind::SettingsIo, "no localStorage"))?
        .set_item(SETTINGS_KEY, &json)
        .map_err(|e| page_error(ShellErrorKind::SettingsIo, e))?;
    Ok(settings.clone())
}

/// `navigator.permissions.query({name: "camera"})`, where the browser has it.
pub async fn permission_state(kind: MediaKind) -> PermissionState {
    let name = match kind {
        MediaKind::Camera => "camera",
        MediaKind::Microphone => "microphone",
    };
    let query = async {
        let navigator = web_sys::window()?.navigator();
        let permissions = js_sys::Reflect::get(&navigator, &"permissions".into()).ok()?;
        let query: js_sys::Function = js_sys::Reflect::get(&permissions, &"query".into())
            .ok()?
            .dyn_into()
            .ok()?;
        let descriptor = js_sys::Object::new();
        js_sys::Reflect::set(&descriptor, &"name".into(), &name.into()).ok()?;
        let promise: js_sys::Promise = query
            .call1(&permissions, &descriptor)
            .ok()?
            .dyn_into()
            .ok()?;
        let status = JsFuture::from(promise).await.ok()?;
        js_sys::Reflect::get(&status, &"state".into())
            .ok()?
            .as_string()
    };
    match query.await.as_deref() {
        Some("granted") => PermissionState::Granted,
        Some("denied") => PermissionState::Denied,
        _ => PermissionState::Prompt,
    }
}
