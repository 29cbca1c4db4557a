//! The one error type every command returns.

use peercall_signal::settings::FieldError;
use peercall_signal::shell::{ShellError, ShellErrorKind};
use serde::{Serialize, Serializer};

/// Everything that can go wrong in the shell, as the UI sees it.
///
/// It keeps its sources for the shell's logs and crosses IPC as the shared
/// [`ShellError`], so the UI picks a translated, plain-words message by
/// [`ShellErrorKind`] (and puts field errors next to their fields).
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The embedded signaling server could not bind or run.
    #[error("the embedded server could not start: {0}")]
    ServerStart(#[source] std::io::Error),
    /// The embedded server is not running (it was stopped or never started).
    #[error("the embedded server is not running")]
    ServerNotRunning,
    /// The system browser could not be opened.
    #[error("could not open the system browser: {0}")]
    OpenBrowser(String),
    /// Settings were refused; each entry names the field and why.
    #[error("{} setting(s) are not valid", .0.len())]
    InvalidSettings(Vec<FieldError>),
    /// The settings file could not be written.
    #[error("could not save the settings: {0}")]
    SettingsIo(String),
    /// The room name was refused.
    #[error("not a valid room name: {0}")]
    InvalidRoom(String),
    /// The LAN listener could not bind.
    #[error("could not start hosting: {0}")]
    HostingStart(#[source] std::io::Error),
    /// Looking for calls on the LAN (mDNS) could not start.
    #[error("could not look for calls on the network: {0}")]
    Discovery(String),
    /// The native call engine can't run here (not built, or GStreamer or
    /// a plugin is missing).
    #[error("the native call engine is not available: {0}")]
    NativeUnsupported(String),
    /// The native call engine failed.
    #[error("native call engine: {0}")]
    Native(String),
    /// Saving a received file failed.
    #[error(transparent)]
    Save(#[from] crate::saves::SaveError),
    /// A command's call was malformed (what the bridge carried, not what
    /// it asked for).
    #[error("malformed command: {0}")]
    Bridge(String),
    /// A server failed the pre-join check; `kind` says how.
    #[error(transparent)]
    Join(#[from] peercall_signal::client::JoinError),
}

impl AppError {
    /// What went wrong, as the UI tells it apart.
    pub fn kind(&self) -> ShellErrorKind {
        match self {
            AppError::ServerStart(_) => ShellErrorKind::ServerStart,
            AppError::ServerNotRunning => ShellErrorKind::ServerNotRunning,
            AppError::OpenBrowser(_) => ShellErrorKind::OpenBrowser,
            AppError::InvalidSettings(_) => ShellErrorKind::InvalidSettings,
            AppError::SettingsIo(_) => ShellErrorKind::SettingsIo,
            AppError::InvalidRoom(_) => ShellErrorKind::InvalidRoom,
            AppError::HostingStart(_) => ShellErrorKind::HostingStart,
            AppError::Discovery(_) => ShellErrorKind::Discovery,
            AppError::NativeUnsupported(_) => ShellErrorKind::Unsupported,
            AppError::Native(_) => ShellErrorKind::Native,
            AppError::Save(error) => ShellErrorKind::Save(error.failure),
            AppError::Bridge(_) => ShellErrorKind::Ipc,
            AppError::Join(error) => ShellErrorKind::Join(error.failure()),
        }
    }
}

impl From<&AppError> for ShellError {
    fn from(error: &AppError) -> Self {
        ShellError {
            kind: error.kind(),
            message: error.to_string(),
            fields: match error {
                AppError::InvalidSettings(fields) => fields.clone(),
                _ => Vec::new(),
            },
        }
    }
}

impl Serialize for AppError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ShellError::from(self).serialize(serializer)
    }
}

#[cfg(target_os = "linux")]
impl From<crate::native::NativeError> for AppError {
    fn from(error: crate::native::NativeError) -> Self {
        match error {
            crate::native::NativeError::Unavailable(reason) => AppError::NativeUnsupported(reason),
            other => AppError::Native(other.to_string()),
        }
    }
}
