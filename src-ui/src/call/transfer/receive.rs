//! The receiver's side: what arrives is hashed as it comes and kept as a
//! `Blob` built from parts (folded every [`FOLD_EVERY`] bytes, so the page
//! holds little of it: the browser keeps blob data out of the page's heap,
//! on disk when large); when the last byte is in, the hash is checked and
//! the file downloaded.

use sha2::{Digest, Sha256};
use wasm_bindgen::JsCast;
use web_sys::{Blob, HtmlAnchorElement, Url};

use super::{hex, FOLD_EVERY};

/// Why a received file is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReceiveError {
    /// More bytes than announced.
    TooLong,
    /// The bytes don't hash to what the sender announced.
    Corrupt,
}

/// One file arriving.
pub struct Receiver {
    size: u64,
    bytes: u64,
    hasher: Sha256,
    parts: js_sys::Array,
    unfolded: u64,
}

impl Receiver {
    /// Expects `size` bytes.
    pub fn new(size: u64) -> Self {
        Self {
            size,
            bytes: 0,
            hasher: Sha256::new(),
            parts: js_sys::Array::new(),
            unfolded: 0,
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
        self.parts.push(buffer);
        self.bytes += length;
        self.unfolded += length;
        if self.unfolded >= FOLD_EVERY {
            self.fold();
        }
        Ok(())
    }

    /// Replaces the parts by one blob of them.
    fn fold(&mut self) {
        if let Ok(blob) = Blob::new_with_buffer_source_sequence(&self.parts) {
            self.parts = js_sys::Array::of1(&blob);
        }
        self.unfolded = 0;
    }

    /// The whole file, if it hashes to `sha256`.
    pub fn finish(mut self, sha256: &str) -> Result<Blob, ReceiveError> {
        let hash = hex(&std::mem::take(&mut self.hasher).finalize());
        if !hash.eq_ignore_ascii_case(sha256) {
            return Err(ReceiveError::Corrupt);
        }
        Blob::new_with_buffer_source_sequence(&self.parts).map_err(|_| ReceiveError::Corrupt)
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
    gloo::timers::callback::Timeout::new(60_000, move || {
        let _ = Url::revoke_object_url(&url);
    })
    .forget();
}
