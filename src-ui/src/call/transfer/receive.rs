//! The receiver's side: what arrives is hashed as it comes and written to
//! disk as it comes, so neither the page nor the browser holds the file.
//! In the desktop app the shell writes it into the Downloads folder
//! ([`ShellFile`]); in a browser tab it goes to the page's origin-private
//! file system ([`OpfsFile`]) and, read back from disk, is downloaded once
//! the hash is checked. Where there is neither, the parts are kept as a
//! `Blob` (folded every [`FOLD_EVERY`] bytes), which the browser holds.

use std::rc::Rc;

use peercall_signal::shell::save::SaveFailure;
use sha2::{Digest, Sha256};
use wasm_bindgen::JsCast;
use web_sys::{Blob, HtmlAnchorElement, Url};

use super::opfs::OpfsFile;
use super::shell_file::ShellFile;
use super::write_queue::WriteQueue;
use super::{hex, FOLD_EVERY};
use crate::call::js;
use crate::platform;

/// Why a received file is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReceiveError {
    /// More bytes than announced.
    TooLong,
    /// The bytes don't hash to what the sender announced.
    Corrupt,
    /// Writing it failed.
    Storage,
}

/// Where the bytes go.
enum Sink {
    Shell {
        file: Rc<ShellFile>,
        queue: Rc<WriteQueue>,
    },
    Opfs {
        file: Rc<OpfsFile>,
        queue: Rc<WriteQueue>,
    },
    Memory {
        parts: js_sys::Array,
        unfolded: u64,
    },
}

/// One file arriving.
pub struct Receiver {
    size: u64,
    bytes: u64,
    hasher: Sha256,
    sink: Sink,
    on_stored: Rc<dyn Fn(u64)>,
}

impl Sink {
    /// The desktop app's shell, writing into the Downloads folder.
    async fn shell(name: &str, size: u64, on_stored: &Rc<dyn Fn(u64)>) -> Option<Self> {
        let file = match ShellFile::open(name, size).await {
            Ok(file) => Rc::new(file),
            Err(error) => {
                gloo::console::warn!(format!("the app can't save the file: {error}"));
                return None;
            }
        };
        let queue = WriteQueue::new(file.clone(), on_stored.clone());
        Some(Sink::Shell { file, queue })
    }

    /// The page's origin-private file system.
    async fn opfs(entry: String, on_stored: &Rc<dyn Fn(u64)>) -> Option<Self> {
        let file = match OpfsFile::open(entry).await {
            Ok(file) => file,
            Err(error) => {
                gloo::console::warn!(format!(
                    "no origin-private file system, the file is kept in memory: {}",
                    js::describe(&error)
                ));
                return None;
            }
        };
        let queue = WriteQueue::new(file.clone(), on_stored.clone());
        Some(Sink::Opfs { file, queue })
    }
}

impl Receiver {
    /// Expects `size` bytes of the file `name`, written to disk as they
    /// come where the page can (`entry` names a browser tab's scratch
    /// file), else kept in a `Blob`. `on_stored` hears how many bytes are
    /// safely stored, as that grows.
    pub async fn open(name: &str, size: u64, entry: String, on_stored: Rc<dyn Fn(u64)>) -> Self {
        let mut sink = None;
        if platform::in_desktop_app() {
            sink = Sink::shell(name, size, &on_stored).await;
        }
        if sink.is_none() {
            sink = Sink::opfs(entry, &on_stored).await;
        }
        let sink = sink.unwrap_or_else(|| Sink::Memory {
            parts: js_sys::Array::new(),
            unfolded: 0,
        });
        Self {
            size,
            bytes: 0,
            hasher: Sha256::new(),
            sink,
            on_stored,
        }
    }

    /// Bytes so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Whether every byte is in.
    pub fn complete(&self) -> bool {
        self.bytes == self.size
    }

    /// Takes one message's bytes.
    pub fn push(&mut self, buffer: &js_sys::ArrayBuffer) -> Result<(), ReceiveError> {
        let length = u64::from(buffer.byte_length());
        if self.bytes + length > self.size {
            return Err(ReceiveError::TooLong);
        }
        self.hasher.update(js_sys::Uint8Array::new(buffer).to_vec());
        self.bytes += length;
        match &mut self.sink {
            Sink::Shell { queue, .. } | Sink::Opfs { queue, .. } => {
                if queue.failed() {
                    return Err(ReceiveError::Storage);
                }
                queue.push(buffer);
            }
            Sink::Memory { parts, unfolded } => {
                (self.on_stored)(self.bytes);
                parts.push(buffer);
                *unfolded += length;
                if *unfolded >= FOLD_EVERY {
                    if let Ok(blob) = Blob::new_with_buffer_source_sequence(parts) {
                        *parts = js_sys::Array::of1(&blob);
                    }
                    *unfolded = 0;
                }
            }
        }
        Ok(())
    }

    /// The whole file, if it hashes to `sha256`, saved as `name`: named in
    /// the Downloads folder by the app's shell, or downloaded by the page.
    pub async fn finish(mut self, sha256: &str, name: &str) -> Result<(), ReceiveError> {
        let hash = hex(&std::mem::take(&mut self.hasher).finalize());
        let matches = hash.eq_ignore_ascii_case(sha256);
        match &self.sink {
            Sink::Shell { file, queue } => {
                if !queue.flushed().await || !matches {
                    file.abort();
                    return Err(if matches {
                        ReceiveError::Storage
                    } else {
                        ReceiveError::Corrupt
                    });
                }
                file.finish(sha256).await.map_err(|failure| match failure {
                    SaveFailure::Corrupt => ReceiveError::Corrupt,
                    SaveFailure::TooLong => ReceiveError::TooLong,
                    _ => ReceiveError::Storage,
                })?;
            }
            Sink::Opfs { file, queue } => {
                let stored = if queue.flushed().await {
                    file.close().await.ok()
                } else {
                    None
                };
                // The download reads the file from disk; it goes later.
                file.remove_after(if matches { 600_000 } else { 0 });
                let stored = stored.ok_or(ReceiveError::Storage)?;
                if !matches {
                    return Err(ReceiveError::Corrupt);
                }
                download(&stored, name);
            }
            Sink::Memory { parts, .. } => {
                if !matches {
                    return Err(ReceiveError::Corrupt);
                }
                let blob = Blob::new_with_buffer_source_sequence(parts)
                    .map_err(|_| ReceiveError::Storage)?;
                download(&blob, name);
            }
        }
        Ok(())
    }

    /// Drops what arrived (cancelled, failed).
    pub fn discard(self) {
        match &self.sink {
            Sink::Shell { file, queue } => {
                queue.clear();
                file.abort();
            }
            Sink::Opfs { file, queue } => {
                queue.clear();
                file.remove_after(0);
            }
            Sink::Memory { .. } => {}
        }
    }
}

/// Saves `blob` as `name` the way a page can: a download.
pub fn download(blob: &Blob, name: &str) {
    let Ok(url) = Url::create_object_url_with_blob(blob) else {
        return;
    };
    let document = gloo::utils::document();
    if let Ok(anchor) = document.create_element("a") {
        if let Ok(anchor) = anchor.dyn_into::<HtmlAnchorElement>() {
            anchor.set_href(&url);
            anchor.set_download(name);
            anchor.click();
        }
    }
    // The download has started from the URL; free it a while later.
    gloo::timers::callback::Timeout::new(600_000, move || {
        let _ = Url::revoke_object_url(&url);
    })
    .forget();
}
