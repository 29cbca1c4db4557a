//! Received files the shell writes into the Downloads folder as they
//! arrive: the app's end of a file transfer. The UI opens a save with the
//! name and size the sender announced, writes the bytes in order (each
//! write's bytes as the raw body of [`super::command::SaveWrite`], its
//! arguments in the [`ARGS_HEADER`] header), and finishes it with the
//! announced SHA-256, which the shell checks against what it wrote before
//! the file takes its name. A save aborted, refused or left unfinished
//! leaves nothing behind.

use serde::{Deserialize, Serialize};

/// The header carrying a raw-body command's arguments (JSON of its
/// `Args`), since its body is the bytes.
pub const ARGS_HEADER: &str = "peercall-args";

/// One save being written, as the shell numbers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SaveId(pub u32);

/// [`super::command::SaveOpen`]'s arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaveOpenArgs {
    /// The file's name as the sender gave it (the shell makes it safe and
    /// unique in the folder).
    pub name: String,
    /// How many bytes will come.
    pub size: u64,
}

/// The arguments naming one save.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaveArgs {
    /// Which save.
    pub id: SaveId,
}

/// [`super::command::SaveFinish`]'s arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaveFinishArgs {
    /// Which save.
    pub id: SaveId,
    /// The SHA-256 the sender announced, in hex.
    pub sha256: String,
}

/// Where a finished file went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedFile {
    /// Its name in the folder (the sender's, made safe, with ` (2)` etc.
    /// where that name was taken).
    pub name: String,
    /// The folder, as a path.
    pub folder: String,
}

/// Why a save failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SaveFailure {
    /// No such save open (finished, aborted, or dropped to make room).
    Unknown,
    /// More bytes than announced.
    TooLong,
    /// Finished before every announced byte came.
    Incomplete,
    /// The bytes written don't hash to what the sender announced.
    Corrupt,
    /// Writing failed (the disk is full, the folder can't be written).
    Storage,
}
