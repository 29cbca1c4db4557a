//! Camera and microphone permission, per OS.
//!
//! - **macOS**: the OS owns the decision (TCC). Status and request go through
//!   AVFoundation; the bundle carries the usage strings and entitlements.
//! - **Windows, Linux**: the OS does not gate the webview's capture, so
//!   Peercall keeps the user's decision in its settings and the webview's
//!   permission handler ([`answer_webview`]) honours it.

#[cfg(not(target_os = "macos"))]
use peercall_signal::settings::PermissionChoice;
use peercall_signal::shell::{MediaKind, PermissionState};

use crate::settings::SettingsStore;
use crate::AppError;

/// The current decision for `kind`.
pub fn status(kind: MediaKind, store: &SettingsStore) -> PermissionState {
    #[cfg(target_os = "macos")]
    {
        let _ = store;
        macos::status(kind)
    }
    #[cfg(not(target_os = "macos"))]
    {
        from_choice(choice(kind, store))
    }
}

/// Asks for `kind` (on macOS the system prompt; elsewhere the user's click in
/// Peercall's own prompt is the answer, so it is recorded as allowed).
pub async fn request(kind: MediaKind, store: &SettingsStore) -> Result<PermissionState, AppError> {
    #[cfg(target_os = "macos")]
    {
        let _ = store;
        Ok(macos::request(kind).await)
    }
    #[cfg(not(target_os = "macos"))]
    {
        let mut settings = store.get();
        match kind {
            MediaKind::Camera => settings.permissions.camera = PermissionChoice::Allow,
            MediaKind::Microphone => settings.permissions.microphone = PermissionChoice::Allow,
        }
        store.update(settings)?;
        Ok(PermissionState::Granted)
    }
}

/// The webview's permission handler's answer for a capture request: refused
/// when the user refused it in Peercall, allowed otherwise (the request comes
/// from Peercall's own UI, which has already explained what it is for; on
/// macOS the OS then asks its own question).
pub fn allows_webview_capture(kind: MediaKind, store: &SettingsStore) -> bool {
    #[cfg(target_os = "macos")]
    {
        let _ = (kind, store);
        true
    }
    #[cfg(not(target_os = "macos"))]
    {
        choice(kind, store) != PermissionChoice::Deny
    }
}

#[cfg(not(target_os = "macos"))]
fn choice(kind: MediaKind, store: &SettingsStore) -> PermissionChoice {
    let permissions = store.get().permissions;
    match kind {
        MediaKind::Camera => permissions.camera,
        MediaKind::Microphone => permissions.microphone,
    }
}

#[cfg(not(target_os = "macos"))]
fn from_choice(choice: PermissionChoice) -> PermissionState {
    match choice {
        PermissionChoice::Allow => PermissionState::Granted,
        PermissionChoice::Deny => PermissionState::Denied,
        PermissionChoice::Ask => PermissionState::Prompt,
    }
}

#[cfg(target_os = "macos")]
mod macos {
    use block2::RcBlock;
    use objc2::runtime::Bool;
    use objc2_av_foundation::{
        AVAuthorizationStatus, AVCaptureDevice, AVMediaType, AVMediaTypeAudio, AVMediaTypeVideo,
    };

    use super::{MediaKind, PermissionState};

    fn media_type(kind: MediaKind) -> &'static AVMediaType {
        // SAFETY: AVFoundation's media-type constants are immutable statics
        // that exist for the life of the process.
        unsafe {
            match kind {
                MediaKind::Camera => AVMediaTypeVideo,
                MediaKind::Microphone => AVMediaTypeAudio,
            }
            .expect("AVFoundation media type constant")
        }
    }

    pub fn status(kind: MediaKind) -> PermissionState {
        // SAFETY: a class method taking a valid media type constant.
        let status = unsafe { AVCaptureDevice::authorizationStatusForMediaType(media_type(kind)) };
        match status {
            AVAuthorizationStatus::Authorized => PermissionState::Granted,
            AVAuthorizationStatus::Denied => PermissionState::Denied,
            AVAuthorizationStatus::Restricted => PermissionState::Restricted,
            _ => PermissionState::Prompt,
        }
    }

    /// Starts the system prompt; the block (not `Send`) stays in this
    /// synchronous function so the command's future can cross threads.
    fn ask(kind: MediaKind) -> tokio::sync::oneshot::Receiver<bool> {
        let (tx, rx) = tokio::sync::oneshot::channel::<bool>();
        let tx = std::sync::Mutex::new(Some(tx));
        let block = RcBlock::new(move |granted: Bool| {
            if let Some(tx) = tx.lock().ok().and_then(|mut t| t.take()) {
                let _ = tx.send(granted.as_bool());
            }
        });
        // SAFETY: valid media type; AVFoundation copies the block and calls
        // it once, on an arbitrary queue (hence the channel).
        unsafe {
            AVCaptureDevice::requestAccessForMediaType_completionHandler(media_type(kind), &block)
        };
        rx
    }

    pub async fn request(kind: MediaKind) -> PermissionState {
        if status(kind) != PermissionState::Prompt {
            return status(kind);
        }
        match ask(kind).await {
            Ok(true) => PermissionState::Granted,
            _ => status(kind),
        }
    }
}
