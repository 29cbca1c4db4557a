//! Camera and microphone permission, as the shell reports it.

use serde::{Deserialize, Serialize};

/// A capture device kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    /// Video capture.
    Camera,
    /// Audio capture.
    Microphone,
}

/// Whether the app may capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PermissionState {
    /// Allowed.
    Granted,
    /// Refused by the user (they can change it; the UI says where).
    Denied,
    /// Not decided yet: asking will prompt.
    Prompt,
    /// Refused by policy (e.g. parental controls on macOS); the user can't
    /// change it.
    Restricted,
}
