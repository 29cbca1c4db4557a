//! A received file the desktop app's shell writes into the Downloads
//! folder as it arrives (`save_*` commands: the bytes cross as a raw body,
//! not JSON). The shell checks the hash again against what it wrote and
//! names the file only then; an aborted save leaves nothing.

use peercall_signal::shell::command::{SaveAbort, SaveFinish, SaveOpen, SaveWrite};
use peercall_signal::shell::save::{
    SaveArgs, SaveFailure, SaveFinishArgs, SaveId, SaveOpenArgs, SavedFile,
};
use peercall_signal::shell::{ShellError, ShellErrorKind};
use wasm_bindgen::JsCast;

use super::write_queue::PartsFile;
use crate::platform;

/// One save, open in the shell.
pub struct ShellFile {
    id: SaveId,
}

/// How a shell error reads as a save's failure.
fn failure(error: ShellError) -> SaveFailure {
    gloo::console::warn!(format!("saving the received file: {error}"));
    match error.kind {
        ShellErrorKind::Save(failure) => failure,
        _ => SaveFailure::Storage,
    }
}

impl ShellFile {
    /// Opens a save of `size` bytes to be named `name`.
    pub async fn open(name: &str, size: u64) -> Result<Self, ShellError> {
        let args = SaveOpenArgs {
            name: name.to_owned(),
            size,
        };
        let id = platform::invoke::<SaveOpen>(args).await?;
        Ok(Self { id })
    }

    /// Has the shell check the hash and name the file.
    pub async fn finish(&self, sha256: &str) -> Result<SavedFile, SaveFailure> {
        let args = SaveFinishArgs {
            id: self.id,
            sha256: sha256.to_owned(),
        };
        platform::invoke::<SaveFinish>(args).await.map_err(failure)
    }

    /// Drops the save and what it wrote.
    pub fn abort(&self) {
        let args = SaveArgs { id: self.id };
        wasm_bindgen_futures::spawn_local(async move {
            let _ = platform::invoke::<SaveAbort>(args).await;
        });
    }
}

impl PartsFile for ShellFile {
    /// Appends the parts (`ArrayBuffer`s), copied into one body.
    async fn write(&self, parts: js_sys::Array) -> bool {
        let buffers: Vec<js_sys::ArrayBuffer> = parts.iter().map(|p| p.unchecked_into()).collect();
        let length: u32 = buffers.iter().map(|b| b.byte_length()).sum();
        let body = js_sys::Uint8Array::new_with_length(length);
        let mut at = 0;
        for buffer in &buffers {
            body.set(&js_sys::Uint8Array::new(buffer), at);
            at += buffer.byte_length();
        }
        let args = SaveArgs { id: self.id };
        match platform::invoke_raw::<SaveWrite>(args, &body).await {
            Ok(_) => true,
            Err(error) => {
                failure(error);
                false
            }
        }
    }
}
