//! The main window, built in code so it gets a camera/microphone permission
//! handler and, on Linux, the WebKitGTK settings a call needs.

use tauri::webview::{PermissionKind, PermissionResponse};
use tauri::{AppHandle, Manager, WebviewUrl, WebviewWindowBuilder};

use crate::permissions;
use crate::settings::SettingsStore;
use peercall_signal::shell::MediaKind;

/// The UI's page among the app's assets.
const PAGE: &str = "index.html";

/// Creates the main window; `launch_link` is an invite link the app was
/// opened with, handed to the page.
pub fn build_main_window(app: &AppHandle, launch_link: Option<&str>) -> tauri::Result<()> {
    // On Linux the web engine's settings must be in place before the page
    // loads (its JavaScript globals are made from them), so the window opens
    // empty and the page loads once they are set.
    #[cfg(target_os = "linux")]
    let first = WebviewUrl::External("about:blank".parse().expect("a valid URL"));
    #[cfg(not(target_os = "linux"))]
    let first = WebviewUrl::App(PAGE.into());
    let window = WebviewWindowBuilder::new(app, "main", first)
        .initialization_script(crate::deep_link::init_script(launch_link))
        .title("Peercall")
        .inner_size(1100.0, 760.0)
        .min_inner_size(640.0, 480.0)
        .on_permission_request(|webview, kind| {
            answer_permission(&webview.app_handle().clone(), kind)
        })
        .build()?;

    #[cfg(target_os = "linux")]
    window.with_webview(|webview| {
        let webview = webview.inner();
        linux::configure(&webview);
        // The app's assets are served on its own scheme (wry's custom
        // protocol), in development builds too.
        webkit2gtk::WebViewExt::load_uri(&webview, &format!("tauri://localhost/{PAGE}"));
    })?;
    #[cfg(not(target_os = "linux"))]
    let _ = window;
    Ok(())
}

/// Camera and microphone follow the user's choice (see [`permissions`]);
/// everything else a page could ask for (location, notifications, screen)
/// is refused: a call app needs none of it.
fn answer_permission(app: &AppHandle, kind: PermissionKind) -> PermissionResponse {
    let media = match kind {
        PermissionKind::Camera => MediaKind::Camera,
        PermissionKind::Microphone => MediaKind::Microphone,
        _ => return PermissionResponse::Deny,
    };
    let allowed = app
        .try_state::<SettingsStore>()
        .is_some_and(|store| permissions::allows_webview_capture(media, &store));
    if allowed {
        PermissionResponse::Allow
    } else {
        PermissionResponse::Deny
    }
}

#[cfg(target_os = "linux")]
pub use linux::prefer_software_drawing;

#[cfg(target_os = "linux")]
mod linux {
    use webkit2gtk::{
        CacheModel, HardwareAccelerationPolicy, SettingsExt, WebContextExt, WebViewExt,
    };

    /// Environment variable that turns on WebKitGTK's mock capture devices,
    /// so end-to-end tests get a camera and microphone on a machine without
    /// any. Never set in normal use.
    pub const MOCK_CAPTURE_ENV: &str = "PEERCALL_MOCK_CAPTURE";

    /// Turns on WebRTC and media capture in WebKitGTK (both off by default),
    /// and sets what keeps an app's web engine small, before the page loads.
    pub fn configure(webview: &webkit2gtk::WebView) {
        let Some(settings) = WebViewExt::settings(webview) else {
            tracing::warn!("WebKitGTK returned no settings; WebRTC stays off");
            return;
        };
        settings.set_enable_webrtc(true);
        settings.set_enable_media_stream(true);
        // Memory (see docs/benchmarks.md): with software rendering only
        // (llvmpipe), accelerated compositing costs ~90 MiB in the web
        // process and buys nothing; a GPU keeps WebKit's default. No page
        // of ours draws with WebGL.
        // An explicit WEBKIT_FORCE_COMPOSITING_MODE still wins.
        let forced = std::env::var_os("WEBKIT_FORCE_COMPOSITING_MODE").is_some();
        if software_rendering() && !forced {
            settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
        }
        settings.set_enable_webgl(false);
        // One local page, never browsed away from: no back/forward or page
        // cache to keep.
        if let Some(context) = webview.context() {
            context.set_cache_model(CacheModel::DocumentViewer);
        }
        let mock = std::env::var_os(MOCK_CAPTURE_ENV).is_some_and(|v| v == "1");
        if mock {
            tracing::warn!(
                "using WebKitGTK mock capture devices ({})",
                MOCK_CAPTURE_ENV
            );
        }
        settings.set_enable_mock_capture_devices(mock);
    }

    /// On a session without a GPU, keeps GTK and WebKit's UI process from
    /// setting up OpenGL they would only emulate on the CPU: the page is
    /// drawn in software there anyway (see [`configure`]).
    ///
    /// - `GDK_GL` and `WEBKIT_DISABLE_DMABUF_RENDERER`: GTK's GLX set-up
    ///   and WebKit's DMA-BUF renderer. Together ~4 MiB and ~50 ms of the
    ///   first paint (alternating launches: idle 250–251 → 247 MiB PSS,
    ///   first paint 391–534 → 346–399 ms, one outlier apart).
    /// - `WEBKIT_WEB_RENDER_DEVICE_FILE`: WebKit's UI process opens an EGL
    ///   display only to ask which GPU it sits on, as it starts the web
    ///   process (`drmMainDevice()`, WebKitGTK 2.50). Without a GPU the
    ///   answer is "none", but the question loads Mesa's software
    ///   rasterizer and with it LLVM, whose relocations dirty ~20 MiB in
    ///   every process that loads it. Naming the device answers the
    ///   question without EGL. `/dev/null` is no DRM node, so anything
    ///   that would open a GBM device on it finds none, as on llvmpipe;
    ///   with the DMA-BUF renderer and accelerated compositing off, nothing
    ///   in the web process asks. Four launches each, alternating: idle
    ///   235.9–236.5 → 219.1–221.2 MiB PSS summed over the app's
    ///   processes, the shell 83.2–83.6 → 59.5–60.0.
    ///
    /// Anything the person set wins. Called first thing, before any thread
    /// (it sets environment variables GTK and WebKit read when they start).
    pub fn prefer_software_drawing() {
        if !software_rendering() {
            return;
        }
        let set_unless_set = |name: &str, value: &str| {
            if std::env::var_os(name).is_none() {
                std::env::set_var(name, value);
            }
        };
        set_unless_set("GDK_GL", "disable");
        set_unless_set("WEBKIT_DISABLE_DMABUF_RENDERER", "1");
        // Only with the DMA-BUF renderer and accelerated compositing off
        // (with either on, the person's choice, a named device would claim
        // GPU buffers EGL would not).
        let dmabuf_off =
            std::env::var_os("WEBKIT_DISABLE_DMABUF_RENDERER").is_some_and(|v| v != "0");
        let compositing_forced = std::env::var_os("WEBKIT_FORCE_COMPOSITING_MODE").is_some();
        if dmabuf_off && !compositing_forced {
            set_unless_set("WEBKIT_WEB_RENDER_DEVICE_FILE", "/dev/null");
        }
    }

    /// Whether this session renders without a GPU: no DRM render node (a
    /// VM, a container, Xvfb over SSH) or Mesa told to use software.
    fn software_rendering() -> bool {
        let forced = std::env::var_os("LIBGL_ALWAYS_SOFTWARE").is_some_and(|v| v != "0");
        let render_node = std::fs::read_dir("/dev/dri").is_ok_and(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("renderD"))
        });
        forced || !render_node
    }
}
