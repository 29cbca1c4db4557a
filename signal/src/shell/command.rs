//! The shell's commands: each one's name on the bridge, what it takes and
//! what it answers, as one [`Command`] type both sides use.
//!
//! The shell's `#[tauri::command]` functions are named after [`NAMES`] (its
//! build script declares exactly these, and `cargo xtask tidy` checks the
//! handler list against them) and take their arguments as one parameter
//! named [`ARGS_KEY`] of the command's [`Command::Args`] type; the UI calls
//! `invoke(NAME, { args })` with the same type and decodes the same
//! [`Command::Output`], or a [`super::ShellError`].

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::native::{
    Attachment, EventsArgs, LocalMedia, MediaRequest, NativeDevice, NativeEvent, NativeSupport,
    PeerCloseArgs, PeerOpenArgs, PeerSendArgs, PeerSignalArgs,
};
use super::save::{SaveArgs, SaveFinishArgs, SaveId, SaveOpenArgs, SavedFile};
use super::{HostingInfo, LanCall, MediaKind, PermissionState, ServerInfo, SettingsSnapshot};
use crate::settings::Settings;

/// One command of the shell.
pub trait Command {
    /// Its name on the bridge.
    const NAME: &'static str;
    /// What it takes.
    type Args: Serialize + DeserializeOwned;
    /// What it answers when it succeeds.
    type Output: Serialize + DeserializeOwned;
}

/// The name of the one parameter every command's arguments arrive in.
pub const ARGS_KEY: &str = "args";

/// The arguments of a command that takes none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoArgs {}

macro_rules! commands {
    ($( $(#[$doc:meta])* $ty:ident = $name:literal, $args:ty => $out:ty; )*) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy)]
            pub struct $ty;
            impl Command for $ty {
                const NAME: &'static str = $name;
                type Args = $args;
                type Output = $out;
            }
        )*
        /// Every command's name: the shell's build script declares exactly
        /// these (each gets an `allow-…` permission the capability grants).
        pub const NAMES: &[&str] = &[$($name),*];
    };
}

commands! {
    /// Where the embedded signaling server listens.
    GetServerInfo = "server_info", NoArgs => ServerInfo;
    /// Opens the UI in the system browser (where this webview can't call).
    OpenInBrowser = "open_in_browser", OpenInBrowserArgs => ();
    /// The settings in force, with a one-time notice about loading them.
    GetSettings = "get_settings", NoArgs => SettingsSnapshot;
    /// Validates and stores settings; refused fields come back as field errors.
    UpdateSettings = "update_settings", UpdateSettingsArgs => Settings;
    /// Back to the default settings.
    ResetSettings = "reset_settings", NoArgs => Settings;
    /// Whether the camera or microphone may be used.
    MediaPermissionStatus = "media_permission_status", PermissionArgs => PermissionState;
    /// Asks for the camera or microphone (the OS prompt on macOS).
    RequestMediaPermission = "request_media_permission", PermissionArgs => PermissionState;
    /// Hosts a room for the LAN.
    StartHosting = "start_hosting", StartHostingArgs => HostingInfo;
    /// What this app hosts, if anything.
    GetHostingInfo = "hosting_info", NoArgs => Option<HostingInfo>;
    /// Stops hosting; everyone in the call is told it ended.
    StopHosting = "stop_hosting", NoArgs => ();
    /// The calls advertised on the LAN now.
    ListLanCalls = "lan_calls", NoArgs => Vec<LanCall>;
    /// Checks a server (and room) before joining: how many are in the room
    /// when known, or why joining can't go ahead.
    CheckServer = "check_server", CheckServerArgs => Option<usize>;
    /// The page's start-up marks, once the home screen is interactive: the
    /// shell logs how long the launch took.
    UiReady = "ui_ready", UiReadyArgs => ();
    /// Whether the native call engine can run here, and if not why.
    NativeAvailability = "native_availability", NoArgs => NativeSupport;
    /// The cameras and microphones the native engine can open.
    NativeDevices = "native_devices", NoArgs => Vec<NativeDevice>;
    /// Attaches the page to the native engine (closing whatever a previous
    /// page left): answers where to read video frames and which attachment
    /// to read events for.
    NativeAttach = "native_attach", NoArgs => Attachment;
    /// The engine's events for an attachment, in order: answers once there
    /// is at least one, or empty after a while (the page asks again).
    NativeEvents = "native_events", EventsArgs => Vec<NativeEvent>;
    /// Opens, changes (devices, camera on/off, mute) or keeps the local
    /// media; every peer sends what it is now.
    NativeSetMedia = "native_set_media", MediaRequest => LocalMedia;
    /// Stops the local camera and microphone.
    NativeCloseMedia = "native_close_media", NoArgs => ();
    /// Creates a native peer for one remote person.
    NativePeerOpen = "native_peer_open", PeerOpenArgs => ();
    /// Gives a native peer their description or candidate.
    NativePeerSignal = "native_peer_signal", PeerSignalArgs => ();
    /// Sends text on a native peer's data channel.
    NativePeerSend = "native_peer_send", PeerSendArgs => ();
    /// Closes a native peer.
    NativePeerClose = "native_peer_close", PeerCloseArgs => ();
    /// Starts writing a received file into the Downloads folder.
    SaveOpen = "save_open", SaveOpenArgs => SaveId;
    /// Writes the next bytes of a save: they are the raw body, the
    /// arguments ride in [`super::save::ARGS_HEADER`]. Answers how many
    /// bytes the file holds now.
    SaveWrite = "save_write", SaveArgs => u64;
    /// Checks a save's hash and gives the file its name.
    SaveFinish = "save_finish", SaveFinishArgs => SavedFile;
    /// Drops a save and what it wrote.
    SaveAbort = "save_abort", SaveArgs => ();
}

/// [`OpenInBrowser`]'s arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenInBrowserArgs {
    /// Where the page lands, e.g. `room=abc` (limited to URL-safe
    /// characters by the shell).
    pub query: Option<String>,
}

/// [`UpdateSettings`]'s arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateSettingsArgs {
    /// The settings to store.
    pub settings: Settings,
}

/// [`MediaPermissionStatus`]'s and [`RequestMediaPermission`]'s arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionArgs {
    /// Which device.
    pub kind: MediaKind,
}

/// [`StartHosting`]'s arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartHostingArgs {
    /// The room everyone joins.
    pub room: String,
    /// The password joiners need, if any.
    pub password: Option<String>,
}

/// [`UiReady`]'s arguments: the page's own clock (`performance.now()`,
/// from the start of its load).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct UiReadyArgs {
    /// When the first frame of the UI was drawn.
    pub first_paint_ms: f64,
    /// When the home screen became interactive ("Start a call" enabled).
    pub interactive_ms: f64,
}

/// [`CheckServer`]'s arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckServerArgs {
    /// The server, e.g. `wss://calls.example.org/`.
    pub url: String,
    /// The room to check, if any.
    pub room: Option<String>,
    /// Its password, if any.
    pub password: Option<String>,
    /// The origin the call's page will connect from.
    pub origin: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for name in NAMES {
            assert!(seen.insert(name), "{name} twice");
            assert!(name.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
        }
        assert_eq!(NAMES.len(), 27);
        assert!(NAMES.contains(&CheckServer::NAME));
    }

    #[test]
    fn no_args_is_an_object() {
        assert_eq!(serde_json::to_string(&NoArgs {}).unwrap(), "{}");
    }
}
