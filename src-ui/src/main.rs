//! Peercall's UI: a Yew app that runs in the desktop app's webview and, the
//! same build, in a plain browser tab.

mod app;
mod call;
mod call_state;
mod components;
mod engine_choice;
mod field_errors;
mod hooks;
mod i18n;
mod pages;
mod platform;
mod room_code;
mod state;
mod tab;

fn main() {
    yew::Renderer::<app::App>::new().render();
}
