//! The floor under the app's memory, for the `app_launch` bench: a bare
//! WebKitGTK window (gtk-rs, no Tauri, no app code) showing one paragraph,
//! with the web settings the app uses on a screen without a GPU (no
//! accelerated compositing, no WebGL, the document-viewer cache model) and
//! the same size. Whatever it takes, any app drawn by this WebKitGTK takes
//! before its own first byte; the bench starts it with the environment the
//! app sets for itself there (`window::prefer_software_drawing`).

#[cfg(target_os = "linux")]
fn main() {
    use gtk::prelude::*;
    use webkit2gtk::{
        CacheModel, HardwareAccelerationPolicy, SettingsExt, WebContextExt, WebViewExt,
    };

    if gtk::init().is_err() {
        eprintln!("no display");
        std::process::exit(1);
    }
    let window = gtk::Window::new(gtk::WindowType::Toplevel);
    window.set_title("Bare WebKitGTK");
    window.set_default_size(1100, 760);
    let view = webkit2gtk::WebView::new();
    if let Some(settings) = WebViewExt::settings(&view) {
        settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
        settings.set_enable_webgl(false);
    }
    if let Some(context) = view.context() {
        context.set_cache_model(CacheModel::DocumentViewer);
    }
    window.add(&view);
    window.connect_delete_event(|_, _| {
        gtk::main_quit();
        gtk::glib::Propagation::Proceed
    });
    window.show_all();
    view.load_html("<!doctype html><p>Hello</p>", None);
    gtk::main();
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("WebKitGTK is Linux's webview");
}
