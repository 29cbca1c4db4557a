//! The call engine's process (Linux): what the shell starts for a call
//! (`peercall::native::process`). A binary of its own, apart from the
//! app's, so that it maps none of the window's libraries: the app's
//! executable needs WebKitGTK, which brings JavaScriptCore, flite and ICU
//! along, ~13 MiB of every process that runs it.

#[cfg(target_os = "linux")]
fn main() -> std::process::ExitCode {
    peercall::run_call_engine()
}

#[cfg(not(target_os = "linux"))]
fn main() -> std::process::ExitCode {
    eprintln!("the native call engine is for Linux only (the webview has WebRTC elsewhere)");
    std::process::ExitCode::FAILURE
}
