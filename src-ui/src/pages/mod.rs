//! Whole screens. Pages read the contexts; components below them get props.

mod call;
mod home;

pub use call::CallPage;
pub use home::HomePage;
