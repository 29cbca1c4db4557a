//! Whole screens. Pages read the contexts; components below them get props.

pub mod call;
mod home;
mod host;
mod join;
mod network;
mod settings;

pub use call::CallPage;
pub use home::HomePage;
pub use host::HostPage;
pub use join::JoinPage;
pub use settings::SettingsPage;
