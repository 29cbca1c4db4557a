//! The receiver's side: what arrives is hashed as it comes and written to
//! disk as it comes, into the page's origin-private file system (OPFS, a
//! `FileSystemWritableFileStream`), so neither the page nor the browser
//! holds the file; when the last byte is in, the hash is checked and the
//! file, read back from disk, is downloaded. Where there is no OPFS, the
//! parts are kept as a `Blob` (folded every [`FOLD_EVERY`] bytes) instead,
//! which the browser holds.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use serde_json::json;
use sha2::{Digest, Sha256};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, HtmlAnchorElement, Url};

use super::{hex, FOLD_EVERY};
use crate::call::js;

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

/// A disk file being written, one write at a time, in arrival order.
struct Disk {
    folder: JsValue,
    entry: String,
    handle: JsValue,
    writable: JsValue,
    queue: RefCell<VecDeque<js_sys::ArrayBuffer>>,
    writing: Cell<bool>,
    failed: Cell<bool>,
    /// Bytes stored so far, and who hears of it.
    written: Cell<u64>,
    on_written: Box<dyn Fn(u64)>,
}

/// Where the bytes go.
enum Sink {
    Disk(Rc<Disk>),
    Memory { parts: js_sys::Array, unfolded: u64 },
}

/// One file arriving.
pub struct Receiver {
    size: u64,
    bytes: u64,
    hasher: Sha256,
    sink: Sink,
    on_stored: Rc<dyn Fn(u64)>,
}

/// Calls `target.name(args…)` and awaits the promise it returns.
async fn call(target: &JsValue, name: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let function = js::get(target, name)
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        .ok_or_else(|| JsValue::from_str(name))?;
    let array: js_sys::Array = args.iter().collect();
    let promise = function.apply(target, &array)?;
    JsFuture::from(js_sys::Promise::from(promise)).await
}

impl Disk {
    /// A new file `entry` in the origin-private file system.
    async fn open(entry: String, on_written: Box<dyn Fn(u64)>) -> Result<Rc<Self>, JsValue> {
        let navigator = web_sys::window().ok_or(JsValue::NULL)?.navigator();
        let storage = js::get(&navigator, "storage").ok_or(JsValue::NULL)?;
        let folder = call(&storage, "getDirectory", &[]).await?;
        let options = js::to_js(&json!({ "create": true }));
        let handle = call(&folder, "getFileHandle", &[entry.as_str().into(), options]).await?;
        let writable = call(&handle, "createWritable", &[]).await?;
        Ok(Rc::new(Self {
            folder,
            entry,
            handle,
            writable,
            queue: RefCell::new(VecDeque::new()),
            writing: Cell::new(false),
            failed: Cell::new(false),
            written: Cell::new(0),
            on_written,
        }))
    }

    fn write(self: &Rc<Self>, buffer: &js_sys::ArrayBuffer) {
        self.queue.borrow_mut().push_back(Clone::clone(buffer));
        if self.writing.replace(true) {
            return;
        }
        let disk = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            // Everything queued goes in one write (one blob of the parts),
            // so writing keeps up however fast the parts come.
            loop {
                let parts: js_sys::Array = disk.queue.borrow_mut().drain(..).collect();
                if parts.length() == 0 {
                    break;
                }
                let bytes: u64 = parts
                    .iter()
                    .filter_map(|p| p.dyn_into::<js_sys::ArrayBuffer>().ok())
                    .map(|b| u64::from(b.byte_length()))
                    .sum();
                let written = match Blob::new_with_buffer_source_sequence(&parts) {
                    Ok(blob) => call(&disk.writable, "write", &[blob.into()]).await.is_ok(),
                    Err(_) => false,
                };
                if !written {
                    disk.failed.set(true);
                    disk.queue.borrow_mut().clear();
                    break;
                }
                disk.written.set(disk.written.get() + bytes);
                (disk.on_written)(disk.written.get());
            }
            disk.writing.set(false);
        });
    }

    /// Waits for the queued writes, closes the file and returns it (read
    /// from disk).
    async fn finish(&self) -> Result<Blob, JsValue> {
        while self.writing.get() {
            gloo::timers::future::TimeoutFuture::new(10).await;
        }
        if self.failed.get() {
            return Err(JsValue::NULL);
        }
        call(&self.writable, "close", &[]).await?;
        let file = call(&self.handle, "getFile", &[]).await?;
        file.dyn_into().map_err(|_| JsValue::NULL)
    }

    /// Removes the file (after a delay, for a download reading it).
    fn remove_after(&self, ms: u32) {
        let (folder, entry, writable) = (
            self.folder.clone(),
            self.entry.clone(),
            self.writable.clone(),
        );
        gloo::timers::callback::Timeout::new(ms, move || {
            wasm_bindgen_futures::spawn_local(async move {
                let _ = call(&writable, "abort", &[]).await;
                let _ = call(&folder, "removeEntry", &[entry.into()]).await;
            });
        })
        .forget();
    }
}

impl Receiver {
    /// Expects `size` bytes, written to disk as they come (`entry` names
    /// the scratch file) where the page can, else kept in a `Blob`.
    /// `on_stored` hears how many bytes are safely stored, as that grows.
    pub async fn open(size: u64, entry: String, on_stored: Rc<dyn Fn(u64)>) -> Self {
        let on_written = {
            let on_stored = on_stored.clone();
            Box::new(move |bytes| on_stored(bytes)) as Box<dyn Fn(u64)>
        };
        let sink = match Disk::open(entry, on_written).await {
            Ok(disk) => Sink::Disk(disk),
            Err(error) => {
                gloo::console::warn!(format!(
                    "no origin-private file system, the file is kept in memory: {}",
                    js::describe(&error)
                ));
                Sink::Memory {
                    parts: js_sys::Array::new(),
                    unfolded: 0,
                }
            }
        };
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
            Sink::Disk(disk) => {
                if disk.failed.get() {
                    return Err(ReceiveError::Storage);
                }
                disk.write(buffer);
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

    /// The whole file, if it hashes to `sha256`, downloaded as `name`.
    pub async fn finish(mut self, sha256: &str, name: &str) -> Result<(), ReceiveError> {
        let hash = hex(&std::mem::take(&mut self.hasher).finalize());
        let matches = hash.eq_ignore_ascii_case(sha256);
        match &self.sink {
            Sink::Disk(disk) => {
                let file = disk.finish().await;
                // The download reads the file from disk; it goes later.
                disk.remove_after(if matches { 600_000 } else { 0 });
                let file = file.map_err(|_| ReceiveError::Storage)?;
                if !matches {
                    return Err(ReceiveError::Corrupt);
                }
                download(&file, name);
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
        if let Sink::Disk(disk) = &self.sink {
            disk.queue.borrow_mut().clear();
            disk.remove_after(0);
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
