//! The one error shape every shell command fails with.
//!
//! The shell keeps its own error type with sources for its logs and turns
//! it into a [`ShellError`] at the bridge; the UI picks its translated words
//! by [`ShellErrorKind`] and keeps [`ShellError::message`] for logs.

use serde::{Deserialize, Serialize};

use crate::settings::FieldError;

/// A command's failure, as it crosses the bridge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShellError {
    /// What went wrong, for the UI's words.
    pub kind: ShellErrorKind,
    /// Details in English, for logs.
    pub message: String,
    /// For [`ShellErrorKind::InvalidSettings`]: what is wrong with which field.
    #[serde(default)]
    pub fields: Vec<FieldError>,
}

impl ShellError {
    /// An error of `kind` with `message` and no field errors.
    pub fn new(kind: ShellErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            fields: Vec::new(),
        }
    }

    /// Why joining a server can't go ahead, for the join screen: the check's
    /// own failure, or [`JoinFailure::Unexpected`] when something else (the
    /// bridge, the shell) failed.
    pub fn join_failure(&self) -> JoinFailure {
        match self.kind {
            ShellErrorKind::Join(failure) => failure,
            ShellErrorKind::InvalidRoom => JoinFailure::InvalidRoom,
            _ => JoinFailure::Unexpected,
        }
    }
}

impl std::fmt::Display for ShellError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ShellError {}

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShellErrorKind {
    /// The embedded signaling server could not bind or run.
    ServerStart,
    /// The embedded server is not running (stopped, or never started).
    ServerNotRunning,
    /// The system browser could not be opened.
    OpenBrowser,
    /// Settings were refused; [`ShellError::fields`] says which and why.
    InvalidSettings,
    /// The settings could not be stored.
    SettingsIo,
    /// The room name was refused.
    InvalidRoom,
    /// The LAN listener could not bind.
    HostingStart,
    /// Looking for calls on the LAN (mDNS) could not start.
    Discovery,
    /// A server failed the check before joining it.
    Join(JoinFailure),
    /// The page is not inside the desktop app (no bridge to call).
    NotDesktop,
    /// The bridge itself failed: the call or its answer could not be made
    /// or read.
    Ipc,
    /// This build or system can't do that (the native call engine on
    /// Windows and macOS, or where GStreamer or a plugin is missing).
    Unsupported,
    /// The native call engine failed: a description or candidate it could
    /// not use, a peer it does not hold, a device or pipeline that failed.
    Native,
    /// Saving a received file failed; the failure says how.
    Save(super::save::SaveFailure),
}

/// Why a server (and room) failed the check before joining, each told
/// apart so the join screen can say what to do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinFailure {
    /// Not a server address people can join.
    InvalidAddress,
    /// Nothing answered at that address.
    Unreachable,
    /// A TLS problem (an untrusted certificate, `wss://` to a plain server).
    Tls,
    /// The server refuses pages from our origin.
    OriginRefused,
    /// Something answered, but not a Peercall server.
    NotPeercall,
    /// The server speaks another protocol version.
    VersionMismatch,
    /// The call is full.
    RoomFull,
    /// The call has another password (or needs one).
    WrongPassword,
    /// Too many wrong passwords lately: the server makes us wait.
    TooManyAttempts,
    /// The room name was refused.
    InvalidRoom,
    /// No call code was given.
    RoomMissing,
    /// No complete answer in time.
    TimedOut,
    /// Something other than the server failed (see the error's message).
    Unexpected,
}

impl JoinFailure {
    /// The stable snake_case name it has on the bridge (also what the join
    /// screen exposes as `data-kind`).
    pub fn name(self) -> &'static str {
        match self {
            Self::InvalidAddress => "invalid_address",
            Self::Unreachable => "unreachable",
            Self::Tls => "tls",
            Self::OriginRefused => "origin_refused",
            Self::NotPeercall => "not_peercall",
            Self::VersionMismatch => "version_mismatch",
            Self::RoomFull => "room_full",
            Self::WrongPassword => "wrong_password",
            Self::TooManyAttempts => "too_many_attempts",
            Self::InvalidRoom => "invalid_room",
            Self::RoomMissing => "room_missing",
            Self::TimedOut => "timed_out",
            Self::Unexpected => "unexpected",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_join_failure_crosses_the_bridge_and_back() {
        let error = ShellError::new(
            ShellErrorKind::Join(JoinFailure::RoomFull),
            "the call is full",
        );
        let json = serde_json::to_string(&error).unwrap();
        assert_eq!(
            json,
            r#"{"kind":{"join":"room_full"},"message":"the call is full","fields":[]}"#
        );
        let back: ShellError = serde_json::from_str(&json).unwrap();
        assert_eq!(back.join_failure(), JoinFailure::RoomFull);
    }

    #[test]
    fn the_name_is_the_serde_name() {
        for failure in [
            JoinFailure::InvalidAddress,
            JoinFailure::Unreachable,
            JoinFailure::Tls,
            JoinFailure::OriginRefused,
            JoinFailure::NotPeercall,
            JoinFailure::VersionMismatch,
            JoinFailure::RoomFull,
            JoinFailure::WrongPassword,
            JoinFailure::TooManyAttempts,
            JoinFailure::InvalidRoom,
            JoinFailure::RoomMissing,
            JoinFailure::TimedOut,
            JoinFailure::Unexpected,
        ] {
            assert_eq!(
                serde_json::to_value(failure).unwrap(),
                serde_json::Value::from(failure.name())
            );
        }
    }

    #[test]
    fn other_failures_are_unexpected_on_the_join_screen() {
        let error = ShellError::new(ShellErrorKind::ServerNotRunning, "stopped");
        assert_eq!(error.join_failure(), JoinFailure::Unexpected);
    }
}
