//! Whole screens. Pages read the contexts; components below them get props.

pub mod call;
mod home;
mod settings;

pub use call::CallPage;
pub use home::HomePage;
pub use settings::SettingsPage;
