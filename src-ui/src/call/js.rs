//! Small bridges to browser APIs web-sys lacks or makes awkward, and the
//! conversions between JS objects and the protocol's `serde_json::Value`s.

use serde::Serialize;
use serde_json::Value;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::RtcPeerConnection;

#[wasm_bindgen]
extern "C" {
    /// An `RTCPeerConnection`, for the methods web-sys lacks.
    type PeerConnectionExt;

    /// `pc.setLocalDescription()` with no argument: the browser creates the
    /// right offer or answer itself (the perfect-negotiation building block).
    #[wasm_bindgen(method, js_name = setLocalDescription)]
    fn set_local_description_implicit(this: &PeerConnectionExt) -> js_sys::Promise;

    /// `pc.restartIce()`: the next offer gathers fresh ICE credentials.
    #[wasm_bindgen(method, js_name = restartIce)]
    fn restart_ice(this: &PeerConnectionExt);

    /// An `RTCRtpSender`, for the methods web-sys lacks.
    type SenderExt;

    /// `sender.setStreams(stream)`: the remote side gets our audio and video
    /// in one `MediaStream`.
    #[wasm_bindgen(method, js_name = setStreams)]
    fn set_streams(this: &SenderExt, stream: &web_sys::MediaStream);
}

/// `pc.setLocalDescription()` (implicit offer or answer).
pub async fn set_local_description(pc: &RtcPeerConnection) -> Result<(), JsValue> {
    let pc: &PeerConnectionExt = pc.unchecked_ref();
    wasm_bindgen_futures::JsFuture::from(pc.set_local_description_implicit()).await?;
    Ok(())
}

/// `pc.restartIce()`.
pub fn restart_ice(pc: &RtcPeerConnection) {
    pc.unchecked_ref::<PeerConnectionExt>().restart_ice();
}

/// `sender.setStreams(stream)`, where the browser has it.
pub fn set_streams(sender: &web_sys::RtcRtpSender, stream: &web_sys::MediaStream) {
    if has(sender, "setStreams") {
        sender.unchecked_ref::<SenderExt>().set_streams(stream);
    }
}

/// Whether `target[name]` is defined.
pub fn has(target: &JsValue, name: &str) -> bool {
    get(target, name).is_some()
}

/// `target[name]`, or `None` when undefined or null.
pub fn get(target: &JsValue, name: &str) -> Option<JsValue> {
    js_sys::Reflect::get(target, &JsValue::from_str(name))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

/// `target[name]` as a number.
pub fn get_f64(target: &JsValue, name: &str) -> Option<f64> {
    get(target, name).and_then(|v| v.as_f64())
}

/// `target[name]` as a string.
pub fn get_string(target: &JsValue, name: &str) -> Option<String> {
    get(target, name).and_then(|v| v.as_string())
}

/// Sets `target[name] = value`.
pub fn set(target: &JsValue, name: &str, value: impl Into<JsValue>) {
    let _ = js_sys::Reflect::set(target, &JsValue::from_str(name), &value.into());
}

/// A JS object/array as JSON (`toJSON()` is honoured, as for
/// `RTCSessionDescription` and `RTCIceCandidate`).
pub fn to_json(value: &JsValue) -> Option<Value> {
    let value = match get(value, "toJSON").and_then(|f| f.dyn_into::<js_sys::Function>().ok()) {
        Some(to_json) => to_json.call0(value).ok()?,
        None => value.clone(),
    };
    serde_wasm_bindgen::from_value(value).ok()
}

/// A serde value as a plain JS object (not a `Map`).
pub fn to_js<T: Serialize + ?Sized>(value: &T) -> JsValue {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .unwrap_or(JsValue::NULL)
}

/// Milliseconds since the page started (`performance.now()`).
pub fn now() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map(|p| p.now())
        .unwrap_or_else(js_sys::Date::now)
}

/// The `name` of a rejected promise's `DOMException` (e.g. `NotAllowedError`).
pub fn error_name(error: &JsValue) -> String {
    error
        .dyn_ref::<web_sys::DomException>()
        .map(|e| e.name())
        .or_else(|| get_string(error, "name"))
        .unwrap_or_default()
}

/// A readable one-line description of a JS error for the console.
pub fn describe(error: &JsValue) -> String {
    let name = error_name(error);
    let message = get_string(error, "message").unwrap_or_else(|| format!("{error:?}"));
    if name.is_empty() {
        message
    } else {
        format!("{name}: {message}")
    }
}

/// `array` as a vector of `T` (items of another type are skipped).
pub fn items<T: JsCast>(array: &js_sys::Array) -> Vec<T> {
    array
        .iter()
        .filter_map(|v| v.dyn_into::<T>().ok())
        .collect()
}
