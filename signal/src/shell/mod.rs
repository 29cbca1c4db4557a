//! The contract between the desktop shell and the UI: everything that
//! crosses Tauri's IPC bridge, as one set of Rust types both sides compile.
//!
//! The shell serializes these and the UI deserializes the very same types,
//! so the two can't drift apart: there is no second copy of a struct on
//! either side and no string matched across the boundary.
//!
//! - [`command`]: each command's name, arguments and answer ([`command::Command`]).
//! - [`error`]: the one error shape every command fails with ([`ShellError`]),
//!   including why a server failed the check before joining ([`JoinFailure`]).
//! - [`servers`]: the embedded server, the call hosted on the LAN, the calls
//!   found there.
//! - [`snapshot`]: the settings as the UI gets them at start, with the
//!   one-time notice about damaged settings.
//! - [`media`]: camera/microphone permission.
//! - [`native`]: the native call engine (GStreamer in the shell, Linux):
//!   native peers, local media, video frames.
//! - [`save`]: received files the shell writes into the Downloads folder.
//!
//! Serde-only and wasm-safe, like [`crate::protocol`] and [`crate::settings`].

pub mod command;
pub mod error;
pub mod media;
pub mod native;
pub mod save;
pub mod servers;
pub mod snapshot;

pub use error::{JoinFailure, ShellError, ShellErrorKind};
pub use media::{MediaKind, PermissionState};
pub use servers::{HostingInfo, LanCall, ServerInfo};
pub use snapshot::{LoadNotice, SettingsSnapshot};

/// The page global the shell sets to the invite link the app was opened
/// with (before the page starts, and again when a link arrives later).
pub const LAUNCH_LINK_GLOBAL: &str = "__peercallLaunchLink";

/// The window event the shell dispatches after it set
/// [`LAUNCH_LINK_GLOBAL`] to a link clicked while the app runs.
pub const LINK_EVENT: &str = "peercall-link";

/// The window event the shell dispatches when a camera or microphone was
/// plugged in or out (the native engine's device lists changed), as a
/// browser fires `devicechange`.
pub const DEVICES_EVENT: &str = "peercall-devices";
