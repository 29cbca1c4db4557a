//! Reusable pieces; each file is one component with its `Props`.

mod icon;
mod top_bar;
mod webrtc_notice;

pub use icon::{Icon, IconKind};
pub use top_bar::TopBar;
pub use webrtc_notice::WebRtcNotice;
