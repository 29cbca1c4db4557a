//! The screen: whether this engine can capture it (`getDisplayMedia`), and
//! opening the system's picker.

use serde_json::json;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::MediaStream;

use super::js;

/// Why no screen was shared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScreenError {
    /// The person closed the picker (or refused): nothing to say.
    Cancelled,
    /// This engine cannot capture the screen.
    Unsupported,
    /// Capture failed.
    Failed,
}

/// `navigator.mediaDevices`, when it has `getDisplayMedia`.
fn media_devices() -> Option<JsValue> {
    let devices = js::get(&web_sys::window()?.navigator(), "mediaDevices")?;
    js::has(&devices, "getDisplayMedia").then_some(devices)
}

/// Whether this engine can share a screen at all.
pub fn supported() -> bool {
    media_devices().is_some()
}

/// Opens the system's screen picker and returns the chosen screen's stream
/// (video only).
pub async fn open() -> Result<MediaStream, ScreenError> {
    let devices = media_devices().ok_or(ScreenError::Unsupported)?;
    let get = js::get(&devices, "getDisplayMedia")
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        .ok_or(ScreenError::Unsupported)?;
    let constraints = js::to_js(&json!({ "video": { "frameRate": 15 }, "audio": false }));
    let promise = get
        .call1(&devices, &constraints)
        .ok()
        .and_then(|p| p.dyn_into::<js_sys::Promise>().ok())
        .ok_or(ScreenError::Failed)?;
    match JsFuture::from(promise).await {
        Ok(stream) => stream.dyn_into().map_err(|_| ScreenError::Failed),
        Err(error) => {
            gloo::console::warn!(format!("getDisplayMedia failed: {}", js::describe(&error)));
            Err(match js::error_name(&error).as_str() {
                "NotAllowedError" | "AbortError" => ScreenError::Cancelled,
                "NotSupportedError" | "TypeError" => ScreenError::Unsupported,
                _ => ScreenError::Failed,
            })
        }
    }
}
