//! The call engine in a process of its own: [`parent`] is the shell's side
//! ([`EngineProcess`]), [`child`] the process's, [`wire`] what they say.

pub mod child;
pub mod parent;
pub mod wire;

pub use parent::EngineProcess;
