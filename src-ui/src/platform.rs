//! The one place the UI learns what it runs in.
//!
//! Inside the desktop app it asks the shell through Tauri commands; in a plain
//! browser tab it derives the same answers from the page's own address, so
//! every other module is written once for both.

use peercall_signal::address::PageAddress;
use peercall_signal::settings::Settings;
use peercall_signal::shell::command::{self, Command, NoArgs};
use peercall_signal::shell::native::NativeDevice;
use peercall_signal::shell::save;
pub use peercall_signal::shell::{
    HostingInfo, LanCall, LoadNotice, MediaKind, PermissionState, ServerInfo, SettingsSnapshot,
    ShellError, ShellErrorKind,
};
use serde::Serialize;

pub use crate::engine_choice::EngineChoice;
use crate::tab;
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

/// A failure of the page's own environment, in the shell's error shape so
/// callers handle one kind of error.
fn page_error(kind: ShellErrorKind, value: JsValue) -> ShellError {
    ShellError::new(kind, format!("{value:?}"))
}

/// What the UI runs in (provided by the root component).
#[yew::hook]
pub fn use_platform() -> Platform {
    yew::use_context::<Platform>().expect("use_platform outside the Platform provider")
}

/// The handle every component gets through a context.
#[derive(Clone, Debug, PartialEq)]
pub struct Platform {
    /// What hosts the UI.
    pub host: Host,
    /// What this engine can do.
    pub support: WebRtcSupport,
    /// Which call engine runs here, and why.
    pub engine: EngineChoice,
}

impl Platform {
    /// Whether calls must go to the system browser: the desktop app on a
    /// web engine without WebRTC (WebKitGTK) and no native engine either.
    pub fn needs_browser(&self) -> bool {
        self.host == Host::Desktop && !self.engine.in_window()
    }

    /// Whether calls run in this window (the webview's WebRTC or the
    /// shell's native engine).
    pub fn can_call(&self) -> bool {
        match self.engine {
            EngineChoice::Native { .. } => true,
            EngineChoice::WebView => self.support.can_call(),
            EngineChoice::Browser { .. } => false,
        }
    }

    /// Whether a camera preview can open here (the page's `getUserMedia`,
    /// or the shell's capture for the native engine).
    pub fn can_preview(&self) -> bool {
        self.engine.is_native() || self.support.get_user_media
    }

    /// Whether finding calls on the LAN is impossible here (a browser tab
    /// has no mDNS).
    pub fn lan_unavailable(&self) -> bool {
        self.host == Host::Browser
    }

    /// Looks at the environment once, at start: the page's own WebRTC,
    /// and in the desktop app without it, whether the shell's native engine
    /// can run ([`EngineChoice::decide`]).
    pub async fn detect() -> Self {
        let host = if tauri_internals().is_some() {
            Host::Desktop
        } else {
            Host::Browser
        };
        let support = detect_webrtc();
        let desktop = host == Host::Desktop;
        let native = if desktop && !support.can_call() {
            match invoke::<command::NativeAvailability>(NoArgs {}).await {
                Ok(native) => Some(native),
                Err(error) => {
                    gloo::console::warn!(format!("native_availability: {error:?}"));
                    None
                }
            }
        } else {
            None
        };
        Self {
            host,
            support,
            engine: EngineChoice::decide(desktop, support.can_call(), native),
        }
    }

    /// Where the signaling server is.
    pub async fn server_info(&self) -> Result<ServerInfo, ShellError> {
        match self.host {
            Host::Desktop => invoke::<command::GetServerInfo>(NoArgs {}).await,
            Host::Browser => browser_server_info(),
        }
    }

    /// The settings, from the shell or from browser storage. Damaged stored
    /// settings become defaults with a one-time notice, never an error.
    pub async fn load_settings(&self) -> Result<SettingsSnapshot, ShellError> {
        match self.host {
            Host::Desktop => invoke::<command::GetSettings>(NoArgs {}).await,
            Host::Browser => Ok(tab::load_settings()),
        }
    }

    /// Validates and stores `settings`; refused fields come back in
    /// [`ShellError::fields`] and nothing is stored.
    pub async fn save_settings(&self, settings: &Settings) -> Result<Settings, ShellError> {
        match self.host {
            Host::Desktop => {
                invoke::<command::UpdateSettings>(command::UpdateSettingsArgs {
                    settings: settings.clone(),
                })
                .await
            }
            Host::Browser => tab::save_settings(settings),
        }
    }

    /// Back to the defaults.
    pub async fn reset_settings(&self) -> Result<Settings, ShellError> {
        match self.host {
            Host::Desktop => invoke::<command::ResetSettings>(NoArgs {}).await,
            Host::Browser => tab::save_settings(&Settings::default()),
        }
    }

    /// Whether the camera or microphone may be used. In a tab the browser
    /// asks the user itself, so this is what its Permissions API says.
    pub async fn permission_status(&self, kind: MediaKind) -> PermissionState {
        match self.host {
            Host::Desktop => {
                invoke::<command::MediaPermissionStatus>(command::PermissionArgs { kind })
                    .await
                    .unwrap_or(PermissionState::Prompt)
            }
            Host::Browser => tab::permission_state(kind).await,
        }
    }

    /// Asks for the camera or microphone (the OS prompt on macOS).
    pub async fn request_permission(&self, kind: MediaKind) -> PermissionState {
        match self.host {
            Host::Desktop => {
                invoke::<command::RequestMediaPermission>(command::PermissionArgs { kind })
                    .await
                    .unwrap_or(PermissionState::Prompt)
            }
            Host::Browser => tab::permission_state(kind).await,
        }
    }

    /// Hosts `room` for the LAN (desktop only).
    pub async fn start_hosting(
        &self,
        room: &str,
        password: Option<&str>,
    ) -> Result<HostingInfo, ShellError> {
        invoke::<command::StartHosting>(command::StartHostingArgs {
            room: room.to_owned(),
            password: password.map(str::to_owned),
        })
        .await
    }

    /// What this app hosts, if anything.
    pub async fn hosting_info(&self) -> Option<HostingInfo> {
        match self.host {
            Host::Desktop => invoke::<command::GetHostingInfo>(NoArgs {})
                .await
                .ok()
                .flatten(),
            Host::Browser => None,
        }
    }

    /// Stops hosting; everyone in the call is told it ended.
    pub async fn stop_hosting(&self) -> Result<(), ShellError> {
        invoke::<command::StopHosting>(NoArgs {}).await
    }

    /// The calls listed on the LAN now (desktop only: a browser tab has no
    /// mDNS, see [`Platform::lan_unavailable`]).
    pub async fn lan_calls(&self) -> Result<Vec<LanCall>, ShellError> {
        invoke::<command::ListLanCalls>(NoArgs {}).await
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
    ) -> Result<Option<usize>, ShellError> {
        match self.host {
            Host::Desktop => {
                invoke::<command::CheckServer>(command::CheckServerArgs {
                    url: url.to_owned(),
                    room: Some(room.to_owned()),
                    password: password.map(str::to_owned),
                    origin: Some(origin.to_owned()),
                })
                .await
            }
            Host::Browser => Ok(None),
        }
    }

    /// Tells the shell the home screen is interactive, with the page's
    /// start-up marks (desktop only: the shell logs the launch time).
    pub async fn ui_ready(&self, first_paint_ms: f64, interactive_ms: f64) {
        if self.host == Host::Desktop {
            let args = command::UiReadyArgs {
                first_paint_ms,
                interactive_ms,
            };
            if let Err(error) = invoke::<command::UiReady>(args).await {
                gloo::console::warn!(format!("ui_ready: {error:?}"));
            }
        }
    }

    /// Opens this UI in the system browser (desktop only), landing on `query`.
    pub async fn open_in_browser(&self, query: Option<String>) -> Result<(), ShellError> {
        match self.host {
            Host::Desktop => {
                invoke::<command::OpenInBrowser>(command::OpenInBrowserArgs { query }).await
            }
            Host::Browser => Ok(()),
        }
    }
}

/// The cameras and microphones the shell's native engine can open (empty
/// where there is none).
pub async fn native_devices() -> Vec<NativeDevice> {
    invoke::<command::NativeDevices>(NoArgs {})
        .await
        .unwrap_or_else(|error| {
            gloo::console::warn!(format!("native_devices: {error:?}"));
            Vec::new()
        })
}

/// The invite link the desktop app was opened with (a `peercall://` link
/// clicked elsewhere), handed over by the shell before the page started.
pub fn launch_link() -> Option<String> {
    let window = web_sys::window()?;
    js_sys::Reflect::get(&window, &peercall_signal::shell::LAUNCH_LINK_GLOBAL.into())
        .ok()?
        .as_string()
        .filter(|link| !link.is_empty())
}

/// Whether the page runs inside the desktop app (the shell's commands can
/// be called).
pub fn in_desktop_app() -> bool {
    tauri_internals().is_some()
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
fn browser_server_info() -> Result<ServerInfo, ShellError> {
    let location = web_sys::window()
        .ok_or_else(|| page_error(ShellErrorKind::Ipc, "no window".into()))?
        .location();
    let href = location
        .href()
        .map_err(|e| page_error(ShellErrorKind::Ipc, e))?;
    let url = web_sys::Url::new(&href).map_err(|e| page_error(ShellErrorKind::Ipc, e))?;
    let page_url = url.origin() + "/";
    if let Some(server) = PageAddress::from_query(&url.search()).server {
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

/// Calls the shell's command `C` and decodes its answer or its [`ShellError`]
/// (the native engine's commands go through here too, see `call::native`).
pub async fn invoke<C: Command>(args: C::Args) -> Result<C::Output, ShellError> {
    let ipc = |e: JsValue| page_error(ShellErrorKind::Ipc, e);
    // Tauri wants a plain object, not the ES `Map` serde-wasm-bindgen makes by default.
    let serializer = serde_wasm_bindgen::Serializer::json_compatible();
    let payload = js_sys::Object::new();
    let args = args.serialize(&serializer).map_err(|e| ipc(e.into()))?;
    js_sys::Reflect::set(&payload, &command::ARGS_KEY.into(), &args).map_err(ipc)?;
    call_shell::<C>(&payload, None).await
}

/// Calls the shell's command `C` whose body is `bytes` as they are (no
/// JSON: Tauri hands the shell the raw body), its arguments riding in the
/// [`save::ARGS_HEADER`] header.
pub async fn invoke_raw<C: Command>(
    args: C::Args,
    bytes: &js_sys::Uint8Array,
) -> Result<C::Output, ShellError> {
    let ipc = |e: JsValue| page_error(ShellErrorKind::Ipc, e);
    let json = serde_json::to_string(&args).map_err(|e| ipc(e.to_string().into()))?;
    let headers = js_sys::Object::new();
    js_sys::Reflect::set(&headers, &save::ARGS_HEADER.into(), &json.into()).map_err(ipc)?;
    let options = js_sys::Object::new();
    js_sys::Reflect::set(&options, &"headers".into(), &headers).map_err(ipc)?;
    call_shell::<C>(bytes, Some(&options)).await
}

async fn call_shell<C: Command>(
    payload: &JsValue,
    options: Option<&js_sys::Object>,
) -> Result<C::Output, ShellError> {
    let ipc = |e: JsValue| page_error(ShellErrorKind::Ipc, e);
    let internals = tauri_internals().ok_or_else(|| {
        ShellError::new(
            ShellErrorKind::NotDesktop,
            "not running inside the desktop app",
        )
    })?;
    let invoke: js_sys::Function = js_sys::Reflect::get(&internals, &"invoke".into())
        .and_then(|f| f.dyn_into())
        .map_err(ipc)?;
    let called = match options {
        Some(options) => invoke.call3(&internals, &C::NAME.into(), payload, options),
        None => invoke.call2(&internals, &C::NAME.into(), payload),
    };
    let promise: js_sys::Promise = called.and_then(|p| p.dyn_into()).map_err(ipc)?;
    match JsFuture::from(promise).await {
        Ok(value) => serde_wasm_bindgen::from_value(value).map_err(|e| ipc(e.into())),
        Err(error) => {
            Err(serde_wasm_bindgen::from_value(error.clone()).unwrap_or_else(|_| ipc(error)))
        }
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
