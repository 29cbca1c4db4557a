//! Custom hooks.

mod use_copy;
mod use_engine;
mod use_file_send;
mod use_media_devices;
mod use_preview;
mod use_quality;
mod use_screen_share;
mod use_settings_store;
mod use_shortcuts;
mod use_speaking;
mod use_text;

pub use use_copy::{copy_label, use_copy};
pub use use_engine::use_engine;
pub use use_file_send::use_file_send;
pub use use_media_devices::{device_options, use_media_devices, MediaDevice};
pub use use_preview::use_preview;
pub use use_quality::use_quality;
pub use use_screen_share::use_screen_share;
pub use use_settings_store::{use_settings_store, SaveOutcome, SettingsStore};
pub use use_shortcuts::use_shortcuts;
pub use use_speaking::use_speaking;
pub use use_text::use_text;
