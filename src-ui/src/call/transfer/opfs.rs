//! A scratch file in the page's origin-private file system (OPFS, a
//! `FileSystemWritableFileStream`): where a browser tab writes what it
//! receives, so neither the page nor the browser holds the file.

use std::rc::Rc;

use serde_json::json;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::Blob;

use super::write_queue::PartsFile;
use crate::call::js;

/// One scratch file, open for writing.
pub struct OpfsFile {
    folder: JsValue,
    entry: String,
    handle: JsValue,
    writable: JsValue,
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

impl PartsFile for OpfsFile {
    /// Appends the parts (one blob of them, one write).
    async fn write(&self, parts: js_sys::Array) -> bool {
        match Blob::new_with_buffer_source_sequence(&parts) {
            Ok(blob) => call(&self.writable, "write", &[blob.into()]).await.is_ok(),
            Err(_) => false,
        }
    }
}

impl OpfsFile {
    /// A new file `entry`, where the page has an origin-private file system.
    pub async fn open(entry: String) -> Result<Rc<Self>, JsValue> {
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
        }))
    }

    /// Closes the file and returns it (read from disk).
    pub async fn close(&self) -> Result<Blob, JsValue> {
        call(&self.writable, "close", &[]).await?;
        let file = call(&self.handle, "getFile", &[]).await?;
        file.dyn_into().map_err(|_| JsValue::NULL)
    }

    /// Removes the file (after a delay, for a download reading it).
    pub fn remove_after(&self, ms: u32) {
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
