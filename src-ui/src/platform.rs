//! The one place the UI learns what it runs in.
//!
//! Inside the desktop app it asks the shell through Tauri commands; in a plain
//! browser tab it derives the same answers from the page's own address, so
//! every other module is written once for both.

pub use peercall_signal::servers::{HostingInfo, LanCall, ServerInfo};
use peercall_signal::settings::{FieldError, Settings};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// What hosts the UI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Host {
    /// The Peercall desktop app (Tauri webview).
    Desktop,
    /// A browser tab, e.g. the system-browser fallback on Linux.
    Browser,
}

/// Which WebRTC building blocks this engine has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WebRtcSupport {
    /// `RTCPeerConnection` exists (calls are possible).
    pub peer_connection: bool,
    /// `navigator.mediaDevices.getUserMedia` exists (camera/mic are possible).
    pub get_user_media: bool,
}

impl WebRtcSupport {
    /// Whether a call can run here.
    pub fn can_call(&self) -> bool {
        self.peer_connection && self.get_user_media
    }
}

/// An error from the shell or the platform, in the shape the shell sends.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct PlatformError {
    /// Stable name, e.g. `server_not_running` or `invalid_settings`.
    pub kind: String,
    /// Details for logs (the UI shows its own words by `kind`).
    pub message: String,
    /// For `invalid_settings`: what is wrong with which field.
    #[serde(default)]
    pub fields: Vec<FieldError>,
}

impl PlatformError {
    fn js(kind: &str, value: JsValue) -> Self {
        Self {
            kind: kind.to_owned(),
            message: format!("{value:?}"),
            fields: Vec::new(),
        }
    }
}

/// The settings at start, as the shell (or browser storage) has them.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct SettingsSnapshot {
    /// The settings in force.
    pub settings: Settings,
    /// Set once when the stored settings were damaged and defaults loaded.
    pub notice: Option<SettingsNotice>,
    /// Where they are kept (a file path, or "browser storage").
    pub path: String,
}

/// Something about loading settings the user should hear about, once.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SettingsNotice {
    /// The stored settings were damaged; they were kept at `backup`.
    Corrupt {
        /// Where the damaged copy is.
        backup: String,
    },
}

/// A capture device kind, as the shell's permission commands name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    /// Video capture.
    Camera,
    /// Audio capture.
    Microphone,
}

/// Whether capture is allowed, as the shell reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PermissionState {
    /// Allowed.
    Granted,
    /// Refused by the user.
    Denied,
    /// Not decided: asking prompts.
    Prompt,
    /// Refused by policy.
    Restricted,
}

/// Where a tab keeps its settings.
const SETTINGS_KEY: &str = "peercall.settings";

/// The handle every component gets through a context.
#[derive(Clone, Debug, PartialEq)]
pub struct Platform {
    /// What hosts the UI.
    pub host: Host,
    /// What this engine can do.
    pub support: WebRtcSupport,
}

impl Platform {
    /// Whether calls must go to the system browser: the desktop app on a
    /// web engine without WebRTC (WebKitGTK).
    pub fn needs_browser(&self) -> bool {
        self.host == Host::Desktop && !self.support.can_call()
    }

    /// Whether finding calls on the LAN is impossible here (a browser tab
    /// has no mDNS).
    pub fn lan_unavailable(&self) -> bool {
        self.host == Host::Browser
    }

    /// Looks at the environment once, at start.
    pub fn detect() -> Self {
        let host = if tauri_internals().is_some() {
            Host::Desktop
        } else {
            Host::Browser
        };
        Self {
            host,
            support: detect_webrtc(),
        }
    }

    /// Where the signaling server is.
    pub async fn server_info(&self) -> Result<ServerInfo, PlatformError> {
        match self.host {
            Host::Desktop => invoke("server_info", &serde_json::json!({})).await,
            Host::Browser => browser_server_info(),
        }
    }

    /// The settings, from the shell or from browser storage. Damaged stored
    /// settings become defaults with a one-time notice, never an error.
    pub async fn load_settings(&self) -> Result<SettingsSnapshot, PlatformError> {
        match self.host {
            Host::Desktop => invoke("get_settings", &serde_json::json!({})).await,
            Host::Browser => Ok(browser_load_settings()),
        }
    }

    /// Validates and stores `settings`; refused fields come back in
    /// [`PlatformError::fields`] and nothing is stored.
    pub async fn save_settings(&self, settings: &Settings) -> Result<Settings, PlatformError> {
        match self.host {
            Host::Desktop => {
                invoke(
                    "update_settings",
                    &serde_json::json!({ "settings": settings }),
                )
                .await
            }
            Host::Browser => browser_save_settings(settings),
        }
    }

    /// Back to the defaults.
    pub async fn reset_settings(&self) -> Result<Settings, PlatformError> {
        match self.host {
            Host::Desktop => invoke("reset_settings", &serde_json::json!({})).await,
            Host::Browser => browser_save_settings(&Settings::default()),
        }
    }

    /// Whether the camera or microphone may be used. In a tab the browser
    /// asks the user itself, so this is what its Permissions API says.
    pub async fn permission_status(&self, kind: MediaKind) -> PermissionState {
        match self.host {
            Host::Desktop => invoke(
                "media_permission_status",
                &serde_json::json!({ "kind": kind }),
            )
            .await
            .unwrap_or(PermissionState::Prompt),
            Host::Browser => browser_permission_state(kind).await,
        }
    }

    /// Asks for the camera or microphone (the OS prompt on macOS).
    pub async fn request_permission(&self, kind: MediaKind) -> PermissionState {
        match self.host {
            Host::Desktop => invoke(
                "request_media_permission",
                &serde_json::json!({ "kind": kind }),
            )
            .await
            .unwrap_or(PermissionState::Prompt),
            Host::Browser => browser_permission_state(kind).await,
        }
    }

    /// Hosts `room` for the LAN (desktop only).
    pub async fn start_hosting(
        &self,
        room: &str,
        password: Option<&str>,
    ) -> Result<HostingInfo, PlatformError> {
        invoke(
            "start_hosting",
            &serde_json::json!({ "room": room, "password": password }),
        )
        .await
    }

    /// What this app hosts, if anything.
    pub async fn hosting_info(&self) -> Option<HostingInfo> {
        match self.host {
            Host::Desktop => invoke("hosting_info", &serde_json::json!({}))
                .await
                .ok()
                .flatten(),
            Host::Browser => None,
        }
    }

    /// Stops hosting; everyone in the call is told it ended.
    pub async fn stop_hosting(&self) -> Result<(), PlatformError> {
        invoke("stop_hosting", &serde_json::json!({})).await
    }

    /// The calls listed on the LAN now (desktop only: a browser tab has no
    /// mDNS, see [`Platform::lan_unavailable`]).
    pub async fn lan_calls(&self) -> Result<Vec<LanCall>, PlatformError> {
        invoke("lan_calls", &serde_json::json!({})).await
    }

    /// Checks a server (and room) before joining, as a page at `origin` will
    /// connect; answers how many are in the room, when known. A tab can't
    /// tell failures apart (browsers report every failed WebSocket alike),
    /// so there it passes and the call itself reports what it can.
    pub async fn check_server(
        &self,
        url: &str,
        room: &str,
        password: Option<&str>,
        origin: &str,
    ) -> Result<Option<usize>, PlatformError> {
        match self.host {
            Host::Desktop => {
                invoke(
                    "check_server",
                    &serde_json::json!({
                        "url": url, "room": room, "password": password, "origin": origin,
                    }),
                )
                .await
            }
            Host::Browser => Ok(None),
        }
    }

    /// Opens this UI in the system browser (desktop only), landing on `query`.
    pub async fn open_in_browser(&self, query: Option<String>) -> Result<(), PlatformError> {
        match self.host {
            Host::Desktop => {
                invoke("open_in_browser", &serde_json::json!({ "query": query })).await
            }
            Host::Browser => Ok(()),
        }
    }
}

/// The invite link the desktop app was opened with (a `peercall://` link
/// clicked elsewhere), handed over by the shell before the page started.
pub fn launch_link() -> Option<String> {
    let window = web_sys::window()?;
    js_sys::Reflect::get(&window, &"__peercallLaunchLink".into())
        .ok()?
        .as_string()
        .filter(|link| !link.is_empty())
}

fn tauri_internals() -> Option<JsValue> {
    let window = web_sys::window()?;
    js_sys::Reflect::get(&window, &"__TAURI_INTERNALS__".into())
        .ok()
        .filter(|v| v.is_object())
}

fn has_property(target: &JsValue, name: &str) -> bool {
    js_sys::Reflect::get(target, &name.into()).is_ok_and(|v| !v.is_undefined() && !v.is_null())
}

fn detect_webrtc() -> WebRtcSupport {
    let Some(window) = web_sys::window() else {
        return WebRtcSupport {
            peer_connection: false,
            get_user_media: false,
        };
    };
    let media_devices = js_sys::Reflect::get(&window.navigator(), &"mediaDevices".into())
        .unwrap_or(JsValue::UNDEFINED);
    WebRtcSupport {
        peer_connection: has_property(&window, "RTCPeerConnection"),
        get_user_media: !media_devices.is_undefined()
            && has_property(&media_devices, "getUserMedia"),
    }
}

/// In a tab, the page was served by the signaling server itself, so the
/// server is the page's own host. `?server=ws://…` points elsewhere (tests,
/// remote servers).
fn browser_server_info() -> Result<ServerInfo, PlatformError> {
    let location = web_sys::window()
        .ok_or_else(|| PlatformError::js("no_window", JsValue::NULL))?
        .location();
    let href = location
        .href()
        .map_err(|e| PlatformError::js("location", e))?;
    let url = web_sys::Url::new(&href).map_err(|e| PlatformError::js("location", e))?;
    let page_url = url.origin() + "/";
    if let Some(server) = url.search_params().get("server") {
        return Ok(ServerInfo {
            port: port_of(&server),
            ws_url: server,
            page_url,
        });
    }
    let scheme = if url.protocol() == "https:" {
        "wss"
    } else {
        "ws"
    };
    let ws_url = format!("{scheme}://{}/", url.host());
    Ok(ServerInfo {
        port: port_of(&ws_url),
        ws_url,
        page_url,
    })
}

fn port_of(url: &str) -> u16 {
    web_sys::Url::new(url)
        .ok()
        .and_then(|u| u.port().parse().ok())
        .unwrap_or(if url.starts_with("wss") { 443 } else { 80 })
}

/// Calls a Tauri command and decodes its answer or its [`PlatformError`].
async fn invoke<A: Serialize, T: DeserializeOwned>(
    command: &str,
    args: &A,
) -> Result<T, PlatformError> {
    let internals = tauri_internals().ok_or_else(|| PlatformError {
        kind: "not_desktop".into(),
        message: "not running inside the desktop app".into(),
        fields: Vec::new(),
    })?;
    let invoke: js_sys::Function = js_sys::Reflect::get(&internals, &"invoke".into())
        .and_then(|f| f.dyn_into())
        .map_err(|e| PlatformError::js("ipc", e))?;
    // Tauri wants a plain object, not the ES `Map` serde-wasm-bindgen makes by default.
    let args = args
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| PlatformError::js("ipc", e.into()))?;
    let promise: js_sys::Promise = invoke
        .call2(&internals, &command.into(), &args)
        .and_then(|p| p.dyn_into())
        .map_err(|e| PlatformError::js("ipc", e))?;
    match JsFuture::from(promise).await {
        Ok(value) => {
            serde_wasm_bindgen::from_value(value).map_err(|e| PlatformError::js("ipc", e.into()))
        }
        Err(error) => Err(serde_wasm_bindgen::from_value(error.clone())
            .unwrap_or_else(|_| PlatformError::js("ipc", error))),
    }
}

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

fn browser_load_settings() -> SettingsSnapshot {
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
                notice: Some(SettingsNotice::Corrupt { backup }),
                path,
            }
        }
    }
}

fn browser_save_settings(settings: &Settings) -> Result<Settings, PlatformError> {
    if let Err(fields) = settings.validate() {
        return Err(PlatformError {
            kind: "invalid_settings".into(),
            message: format!("{} setting(s) are not valid", fields.len()),
            fields,
        });
    }
    let json = serde_json::to_string(settings).expect("settings serialize");
    local_storage()
        .ok_or_else(|| PlatformError::js("settings_io", "no localStorage".into()))?
        .set_item(SETTINGS_KEY, &json)
        .map_err(|e| PlatformError::js("settings_io", e))?;
    Ok(settings.clone())
}

/// `navigator.permissions.query({name: "camera"})`, where the browser has it.
async fn browser_permission_state(kind: MediaKind) -> PermissionState {
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

/// Whether the UI runs on macOS (where the OS, not Peercall, keeps camera
/// and microphone permission).
pub fn is_macos() -> bool {
    user_agent().contains("Mac OS X") || user_agent().contains("Macintosh")
}

/// Whether this runs on Windows (for OS-specific advice).
pub fn is_windows() -> bool {
    user_agent().contains("Windows")
}

fn user_agent() -> String {
    web_sys::window()
        .and_then(|w| w.navigator().user_agent().ok())
        .unwrap_or_default()
}

/// How to allow a refused camera or microphone, for this host and OS.
pub fn guidance_for_denied(host: Host) -> crate::i18n::Text {
    use crate::i18n::Text;
    match host {
        Host::Browser => Text::GuidanceBrowser,
        Host::Desktop if is_macos() => Text::GuidanceMac,
        Host::Desktop if is_windows() => Text::GuidanceWindows,
        Host::Desktop => Text::GuidanceLinux,
    }
}
