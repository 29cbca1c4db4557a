//! Turns the shell's field-level settings errors into words next to fields.

use peercall_signal::settings::{FieldError, FieldErrorCode};

use crate::i18n::Text;

/// The message for the first error on `field` or anything below it
/// (`ice_servers` covers `ice_servers.1.urls`), if there is one.
pub fn message_for(errors: &[FieldError], field: &str) -> Option<Text> {
    let error = errors.iter().find(|e| {
        e.field == field
            || e.field
                .strip_prefix(field)
                .is_some_and(|rest| rest.starts_with('.'))
    })?;
    Some(text_for(&error.field, error.code))
}

fn text_for(field: &str, code: FieldErrorCode) -> Text {
    use FieldErrorCode::*;
    match (field.split('.').next().unwrap_or(field), code) {
        ("display_name", TooLong) => Text::ErrNameTooLong,
        ("display_name", InvalidCharacters) => Text::ErrNameChars,
        ("video", OutOfRange) => Text::ErrFrameRate,
        ("embedded_server", OutOfRange) => Text::ErrPort,
        ("ice_servers", InvalidUrl) => Text::ErrIceUrl,
        ("ice_servers", Missing) if field.ends_with("urls") => Text::ErrIceUrl,
        ("ice_servers", Missing) => Text::ErrTurnCredentials,
        ("recent_servers", InvalidUrl) => Text::ErrServerUrl,
        (_, TooMany) => Text::ErrTooMany,
        _ => Text::ErrInvalid,
    }
}
