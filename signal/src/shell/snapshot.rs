//! The settings as the UI gets them at start.

use serde::{Deserialize, Serialize};

use crate::settings::Settings;

/// The settings in force, where they are kept, and what the user should
/// hear about loading them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettingsSnapshot {
    /// The settings in force.
    pub settings: Settings,
    /// A one-time notice (only on the first load after launch).
    pub notice: Option<LoadNotice>,
    /// Where they are kept: the settings file, or "browser storage" in a tab.
    pub path: String,
}

/// Something about loading the settings the user should hear about, once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LoadNotice {
    /// The stored settings were damaged: they were kept at `backup` and the
    /// defaults loaded.
    Corrupt {
        /// Where the damaged copy now is.
        backup: String,
    },
}
