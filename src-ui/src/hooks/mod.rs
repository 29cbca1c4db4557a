//! Custom hooks.

mod use_text;

pub use use_text::use_text;
