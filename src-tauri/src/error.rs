//! The one error type every command returns.

use peercall_signal::settings::FieldError;
use serde::{Serialize, Serializer};

/// Everything that can go wrong in the shell, as the UI sees it.
///
/// It crosses IPC as `{ "kind": "...", "message": "...", "fields": [...] }` so
/// the UI can pick a translated, plain-words message by `kind` (and put field
/// errors next to their fields) and keep `message` for logs.
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
    /// A server failed the pre-join check; `kind` says how.
    #[error(transparent)]
    Join(#[from] peercall_signal::client::JoinError),
}

impl AppError {
    /// A stable machine-readable name for the error, used by the UI.
    pub fn kind(&self) -> &'static str {
        match self {
            AppError::ServerStart(_) => "server_start",
            AppError::ServerNotRunning => "server_not_running",
            AppError::OpenBrowser(_) => "open_browser",
            AppError::InvalidSettings(_) => "invalid_settings",
            AppError::SettingsIo(_) => "settings_io",
            AppError::InvalidRoom(_) => "invalid_room",
            AppError::HostingStart(_) => "hosting_start",
            AppError::Discovery(_) => "discovery",
            AppError::Join(error) => error.kind(),
        }
    }
}

impl Serialize for AppError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("AppError", 3)?;
        s.serialize_field("kind", self.kind())?;
        s.serialize_field("message", &self.to_string())?;
        let fields: &[FieldError] = match self {
            AppError::InvalidSettings(fields) => fields,
            _ => &[],
        };
        s.serialize_field("fields", fields)?;
        s.end()
    }
}
