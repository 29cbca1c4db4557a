//! The user's settings: one versioned serde type shared by the desktop shell
//! (which stores it in the app's config directory) and the UI (which edits it,
//! and keeps it in browser storage when it runs in a plain tab).
//!
//! It lives beside [`crate::protocol`] because that is the one crate both
//! sides already share, and like it it needs nothing but serde: it compiles
//! for wasm32 with default features off.
//!
//! Validation is here too, so the shell refuses exactly what the UI marks as
//! wrong, field by field. Older stored versions are migrated by
//! [`Settings::from_stored_json`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::protocol::{IceServer, MAX_DISPLAY_NAME_CHARS};

/// The settings format this build writes.
pub const SETTINGS_VERSION: u32 = 2;

/// The most remote servers remembered.
pub const MAX_RECENT_SERVERS: usize = 8;

/// The most ICE servers a user can configure.
pub const MAX_ICE_SERVERS: usize = 8;

/// Everything the user can set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Format version; see [`SETTINGS_VERSION`].
    pub version: u32,
    /// The name others see on the user's tile. Empty means "ask when joining".
    pub display_name: String,
    /// Preferred devices.
    pub devices: DevicePreferences,
    /// Camera capture quality.
    pub video: VideoSettings,
    /// Microphone processing (all on by default: what calls need).
    pub audio: AudioProcessing,
    /// Join calls with the microphone muted.
    pub start_muted: bool,
    /// Join calls with the camera off.
    pub start_camera_off: bool,
    /// STUN/TURN servers to use besides the ones the signaling server offers.
    pub ice_servers: Vec<IceServer>,
    /// The signaling server inside the app.
    pub embedded_server: EmbeddedServerSettings,
    /// Remote signaling servers joined before, newest first.
    pub recent_servers: Vec<String>,
    /// UI language.
    pub language: Language,
    /// Camera/microphone access granted or refused inside Peercall (Windows
    /// and Linux; on macOS the OS keeps this).
    pub permissions: MediaPermissions,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            version: SETTINGS_VERSION,
            display_name: String::new(),
            devices: DevicePreferences::default(),
            video: VideoSettings::default(),
            audio: AudioProcessing::default(),
            start_muted: false,
            start_camera_off: false,
            ice_servers: Vec::new(),
            embedded_server: EmbeddedServerSettings::default(),
            recent_servers: Vec::new(),
            language: Language::System,
            permissions: MediaPermissions::default(),
        }
    }
}

/// Preferred devices by their `deviceId`; `None` is the system default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DevicePreferences {
    /// Camera.
    pub camera: Option<String>,
    /// Microphone.
    pub microphone: Option<String>,
    /// Speaker (audio output).
    pub speaker: Option<String>,
}

/// Camera resolution presets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Resolution {
    /// 640×360.
    P360,
    /// 854×480.
    P480,
    /// 1280×720.
    #[default]
    P720,
    /// 1920×1080.
    P1080,
}

impl Resolution {
    /// Width and height in pixels.
    pub fn size(self) -> (u32, u32) {
        match self {
            Resolution::P360 => (640, 360),
            Resolution::P480 => (854, 480),
            Resolution::P720 => (1280, 720),
            Resolution::P1080 => (1920, 1080),
        }
    }

    /// Every preset, smallest first.
    pub const ALL: [Resolution; 4] = [
        Resolution::P360,
        Resolution::P480,
        Resolution::P720,
        Resolution::P1080,
    ];
}

/// Camera capture quality.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VideoSettings {
    /// Resolution.
    pub resolution: Resolution,
    /// Frames per second, 5 to 60.
    pub frame_rate: u32,
}

impl Default for VideoSettings {
    fn default() -> Self {
        Self {
            resolution: Resolution::P720,
            frame_rate: 30,
        }
    }
}

/// Browser-side microphone processing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AudioProcessing {
    /// Echo cancellation.
    pub echo_cancellation: bool,
    /// Noise suppression.
    pub noise_suppression: bool,
    /// Automatic gain control.
    pub auto_gain: bool,
}

impl Default for AudioProcessing {
    fn default() -> Self {
        Self {
            echo_cancellation: true,
            noise_suppression: true,
            auto_gain: true,
        }
    }
}

/// The embedded signaling server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EmbeddedServerSettings {
    /// Whether the app runs it.
    pub enabled: bool,
    /// Preferred port (another free one is used when it is taken).
    pub port: u16,
}

/// The port the app's server prefers.
pub const DEFAULT_PORT: u16 = 7777;

impl Default for EmbeddedServerSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            port: DEFAULT_PORT,
        }
    }
}

/// UI language.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// Follow the system.
    #[default]
    System,
    /// English.
    En,
    /// Korean.
    Ko,
}

/// A camera/microphone decision kept by Peercall itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PermissionChoice {
    /// Not asked yet: the first call asks.
    #[default]
    Ask,
    /// Allowed.
    Allow,
    /// Refused: the webview's requests are denied.
    Deny,
}

/// Camera and microphone decisions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MediaPermissions {
    /// Camera.
    pub camera: PermissionChoice,
    /// Microphone.
    pub microphone: PermissionChoice,
}

/// Which field is wrong and why, in words a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// Dotted path of the field, e.g. `video.frame_rate` or `ice_servers.1.urls`.
    pub field: String,
    /// Stable reason code, for the UI's translated message.
    pub code: FieldErrorCode,
    /// The reason in English (logs, and the UI's fallback).
    pub message: String,
}

/// Why a field is invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldErrorCode {
    /// Longer than allowed.
    TooLong,
    /// Contains control characters.
    InvalidCharacters,
    /// Outside the allowed range.
    OutOfRange,
    /// Not a URL of the expected kind.
    InvalidUrl,
    /// Something that goes with it is missing (a TURN server's credentials).
    Missing,
    /// More entries than allowed.
    TooMany,
}

impl Settings {
    /// `self` (the newest settings) with the change someone made to an
    /// older copy, `before` → `after`, applied: every field that differs
    /// between the two is set as in `after`, the rest stay as in `self`.
    /// Two changes made quickly one after the other (the second before the
    /// page has the first one saved) then both hold, instead of the second
    /// undoing the first. Lists are replaced whole.
    pub fn with_change(&self, before: &Settings, after: &Settings) -> Settings {
        let (Ok(mut onto), Ok(before), Ok(changed)) = (
            serde_json::to_value(self),
            serde_json::to_value(before),
            serde_json::to_value(after),
        ) else {
            return after.clone();
        };
        patch(&mut onto, &before, &changed);
        serde_json::from_value(onto).unwrap_or_else(|_| after.clone())
    }

    /// Checks every field; `Err` lists each problem (all of them, not the first).
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut fail = |field: String, code, message: String| {
            errors.push(FieldError {
                field,
                code,
                message,
            })
        };

        let name = self.display_name.trim();
        if name.chars().count() > MAX_DISPLAY_NAME_CHARS {
            fail(
                "display_name".into(),
                FieldErrorCode::TooLong,
                format!("at most {MAX_DISPLAY_NAME_CHARS} characters"),
            );
        }
        if name.chars().any(char::is_control) {
            fail(
                "display_name".into(),
                FieldErrorCode::InvalidCharacters,
                "no control characters".into(),
            );
        }
        if !(5..=60).contains(&self.video.frame_rate) {
            fail(
                "video.frame_rate".into(),
                FieldErrorCode::OutOfRange,
                "between 5 and 60 frames per second".into(),
            );
        }
        if self.embedded_server.port < 1024 {
            fail(
                "embedded_server.port".into(),
                FieldErrorCode::OutOfRange,
                "a port from 1024 to 65535".into(),
            );
        }
        if self.ice_servers.len() > MAX_ICE_SERVERS {
            fail(
                "ice_servers".into(),
                FieldErrorCode::TooMany,
                format!("at most {MAX_ICE_SERVERS} servers"),
            );
        }
        for (i, server) in self.ice_servers.iter().enumerate() {
            if server.urls.is_empty() {
                fail(
                    format!("ice_servers.{i}.urls"),
                    FieldErrorCode::Missing,
                    "a stun:, turn: or turns: URL".into(),
                );
            }
            for url in &server.urls {
                if !is_ice_url(url) {
                    fail(
                        format!("ice_servers.{i}.urls"),
                        FieldErrorCode::InvalidUrl,
                        format!("`{url}` is not a stun:, turn: or turns: URL"),
                    );
                }
            }
            let is_turn = server.urls.iter().any(|u| u.starts_with("turn"));
            if is_turn && (server.username.is_none() || server.credential.is_none()) {
                fail(
                    format!("ice_servers.{i}"),
                    FieldErrorCode::Missing,
                    "a TURN server needs a username and a credential".into(),
                );
            }
        }
        if self.recent_servers.len() > MAX_RECENT_SERVERS {
            fail(
                "recent_servers".into(),
                FieldErrorCode::TooMany,
                format!("at most {MAX_RECENT_SERVERS} servers"),
            );
        }
        for (i, url) in self.recent_servers.iter().enumerate() {
            if !is_signaling_url(url) {
                fail(
                    format!("recent_servers.{i}"),
                    FieldErrorCode::InvalidUrl,
                    format!("`{url}` is not a ws:// or wss:// address"),
                );
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Reads stored settings of any known version, migrating older ones.
    ///
    /// Unknown fields are ignored and missing ones take their defaults, so a
    /// file written by a newer or older build still loads; only JSON that is
    /// not an object, or fields of the wrong type, are errors.
    pub fn from_stored_json(text: &str) -> Result<Self, serde_json::Error> {
        let mut value: Value = serde_json::from_str(text)?;
        let version = value.get("version").and_then(Value::as_u64).unwrap_or(1);
        if version < 2 {
            migrate_v1_to_v2(&mut value);
        }
        let mut settings: Settings = serde_json::from_value(value)?;
        settings.version = SETTINGS_VERSION;
        Ok(settings)
    }

    /// Puts `url` first in the recent servers, without duplicates, capped.
    pub fn remember_server(&mut self, url: &str) {
        self.recent_servers.retain(|u| u != url);
        self.recent_servers.insert(0, url.to_owned());
        self.recent_servers.truncate(MAX_RECENT_SERVERS);
    }
}

/// Version 1 (Peercall 0.0.x) kept the name as `name`, the devices at the top
/// level and STUN servers as a flat list of URLs.
fn migrate_v1_to_v2(value: &mut Value) {
    let Some(object) = value.as_object_mut() else {
        return;
    };
    if let Some(name) = object.remove("name") {
        object.entry("display_name").or_insert(name);
    }
    let mut devices = serde_json::Map::new();
    for (old, new) in [
        ("camera", "camera"),
        ("microphone", "microphone"),
        ("speaker", "speaker"),
    ] {
        if let Some(id) = object.remove(old) {
            devices.insert(new.into(), id);
        }
    }
    if !devices.is_empty() {
        object.entry("devices").or_insert(Value::Object(devices));
    }
    if let Some(Value::Array(urls)) = object.remove("stun_servers") {
        let servers: Vec<Value> = urls
            .into_iter()
            .map(|url| serde_json::json!({ "urls": [url] }))
            .collect();
        object.entry("ice_servers").or_insert(Value::Array(servers));
    }
    object.insert("version".into(), Value::from(SETTINGS_VERSION));
}

fn is_ice_url(url: &str) -> bool {
    ["stun:", "turn:", "turns:"].iter().any(|scheme| {
        url.strip_prefix(scheme)
            .is_some_and(|rest| rest.len() > 1 && !rest.contains(char::is_whitespace))
    })
}

/// Whether `url` looks like a signaling server address (`ws://host…` or `wss://host…`).
pub fn is_signaling_url(url: &str) -> bool {
    ["ws://", "wss://"].iter().any(|scheme| {
        url.strip_prefix(scheme).is_some_and(|rest| {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            !host.is_empty() && !rest.contains(char::is_whitespace)
        })
    })
}

/// Sets in `onto` what differs between `before` and `after`, field by field.
fn patch(onto: &mut Value, before: &Value, after: &Value) {
    match (onto, before, after) {
        (Value::Object(onto), Value::Object(before), Value::Object(after)) => {
            // A field the change left out (an option it cleared) goes too.
            for key in before.keys().filter(|k| !after.contains_key(*k)) {
                onto.remove(key);
            }
            for (key, new) in after {
                match (before.get(key), onto.get_mut(key)) {
                    (Some(old), _) if old == new => {}
                    (Some(old), Some(target)) => patch(target, old, new),
                    _ => {
                        onto.insert(key.clone(), new.clone());
                    }
                }
            }
        }
        (onto, _, after) => *onto = after.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_sensible() {
        let settings = Settings::default();
        assert_eq!(settings.validate(), Ok(()));
        assert_eq!(settings.version, SETTINGS_VERSION);
        assert!(
            settings.audio.echo_cancellation
                && settings.audio.noise_suppression
                && settings.audio.auto_gain
        );
        assert_eq!(settings.embedded_server.port, DEFAULT_PORT);
        assert!(settings.embedded_server.enabled);
        assert_eq!(settings.video.resolution.size(), (1280, 720));
    }

    #[test]
    fn every_problem_is_reported_with_its_field() {
        let settings = Settings {
            display_name: "x".repeat(MAX_DISPLAY_NAME_CHARS + 1),
            video: VideoSettings {
                frame_rate: 0,
                ..VideoSettings::default()
            },
            embedded_server: EmbeddedServerSettings {
                enabled: true,
                port: 80,
            },
            ice_servers: vec![
                IceServer {
                    urls: vec!["http://example.com".into()],
                    username: None,
                    credential: None,
                },
                IceServer {
                    urls: vec!["turn:turn.example.com:3478".into()],
                    username: None,
                    credential: None,
                },
            ],
            recent_servers: vec!["example.com".into()],
            ..Settings::default()
        };
        let errors = settings.validate().unwrap_err();
        let fields: Vec<(&str, FieldErrorCode)> =
            errors.iter().map(|e| (e.field.as_str(), e.code)).collect();
        assert_eq!(
            fields,
            vec![
                ("display_name", FieldErrorCode::TooLong),
                ("video.frame_rate", FieldErrorCode::OutOfRange),
                ("embedded_server.port", FieldErrorCode::OutOfRange),
                ("ice_servers.0.urls", FieldErrorCode::InvalidUrl),
                ("ice_servers.1", FieldErrorCode::Missing),
                ("recent_servers.0", FieldErrorCode::InvalidUrl),
            ]
        );
    }

    #[test]
    fn control_characters_in_the_name_are_refused() {
        let settings = Settings {
            display_name: "Ji\u{7}soo".into(),
            ..Settings::default()
        };
        let errors = settings.validate().unwrap_err();
        assert_eq!(errors[0].code, FieldErrorCode::InvalidCharacters);
    }

    #[test]
    fn turn_with_credentials_and_stun_are_fine() {
        let settings = Settings {
            ice_servers: vec![
                IceServer {
                    urls: vec!["stun:stun.example.com:3478".into()],
                    username: None,
                    credential: None,
                },
                IceServer {
                    urls: vec!["turns:turn.example.com:5349".into()],
                    username: Some("u".into()),
                    credential: Some("c".into()),
                },
            ],
            recent_servers: vec![
                "wss://calls.example.com/".into(),
                "ws://10.0.0.2:7777".into(),
            ],
            ..Settings::default()
        };
        assert_eq!(settings.validate(), Ok(()));
    }

    #[test]
    fn version_1_files_are_migrated() {
        let v1 = r#"{
            "version": 1,
            "name": "Jisoo",
            "camera": "cam-1",
            "microphone": "mic-2",
            "stun_servers": ["stun:stun.example.com:3478"],
            "start_muted": true
        }"#;
        let settings = Settings::from_stored_json(v1).unwrap();
        assert_eq!(settings.version, SETTINGS_VERSION);
        assert_eq!(settings.display_name, "Jisoo");
        assert_eq!(settings.devices.camera.as_deref(), Some("cam-1"));
        assert_eq!(settings.devices.microphone.as_deref(), Some("mic-2"));
        assert_eq!(settings.devices.speaker, None);
        assert_eq!(settings.ice_servers.len(), 1);
        assert_eq!(
            settings.ice_servers[0].urls,
            vec!["stun:stun.example.com:3478"]
        );
        assert!(settings.start_muted);
        // Fields v1 did not have take their defaults.
        assert_eq!(settings.video, VideoSettings::default());
        assert_eq!(settings.validate(), Ok(()));
    }

    #[test]
    fn unversioned_files_are_treated_as_version_1() {
        let settings = Settings::from_stored_json(r#"{"name":"Min"}"#).unwrap();
        assert_eq!(settings.display_name, "Min");
    }

    #[test]
    fn current_files_round_trip_and_unknown_fields_are_ignored() {
        let settings = Settings {
            display_name: "민준".into(),
            language: Language::Ko,
            ..Settings::default()
        };
        let mut json: Value = serde_json::to_value(&settings).unwrap();
        json["from_the_future"] = Value::from(true);
        let back = Settings::from_stored_json(&json.to_string()).unwrap();
        assert_eq!(back, settings);
    }

    #[test]
    fn wrong_types_and_non_json_are_errors() {
        assert!(Settings::from_stored_json("not json").is_err());
        assert!(Settings::from_stored_json(r#"{"version":2,"start_muted":"yes"}"#).is_err());
        assert!(Settings::from_stored_json("[1,2]").is_err());
    }

    #[test]
    fn recent_servers_are_newest_first_without_duplicates() {
        let mut settings = Settings::default();
        for i in 0..10 {
            settings.remember_server(&format!("ws://host{i}:7777"));
        }
        settings.remember_server("ws://host5:7777");
        assert_eq!(settings.recent_servers.len(), MAX_RECENT_SERVERS);
        assert_eq!(settings.recent_servers[0], "ws://host5:7777");
        assert_eq!(
            settings
                .recent_servers
                .iter()
                .filter(|u| *u == "ws://host5:7777")
                .count(),
            1
        );
    }

    /// Two switches flipped quickly: the second starts from the copy the
    /// page had before the first was saved, and must not undo the first.
    #[test]
    fn a_change_to_an_older_copy_keeps_newer_changes() {
        let base = Settings::default();
        let mut first = base.clone();
        first.permissions.camera = PermissionChoice::Allow;
        first.display_name = "Jisoo".into();
        let mut second = base.clone();
        second.permissions.microphone = PermissionChoice::Allow;
        second.ice_servers.push(IceServer {
            urls: vec!["stun:stun.example.com".into()],
            username: None,
            credential: None,
        });
        let merged = first.with_change(&base, &second);
        assert_eq!(merged.permissions.camera, PermissionChoice::Allow);
        assert_eq!(merged.permissions.microphone, PermissionChoice::Allow);
        assert_eq!(merged.display_name, "Jisoo");
        assert_eq!(merged.ice_servers, second.ice_servers);
        // A change back to the older value is a change too.
        let undo = merged.with_change(&merged, &base);
        assert_eq!(undo, base);
    }
}
