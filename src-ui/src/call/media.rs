//! Camera and microphone: `getUserMedia` with voice processing on, errors
//! sorted into what a person can act on, and fallbacks so a missing, busy or
//! blocked camera still leaves an audio-only (or receive-only) call.

use serde_json::json;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{MediaStream, MediaStreamConstraints, MediaStreamTrack};

use super::js;

/// Why a device could not be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceError {
    /// No such device on this computer.
    Missing,
    /// The person (or a policy) blocked access.
    Denied,
    /// Another app (or tab) holds it, or the hardware failed.
    Busy,
    /// This engine has no `getUserMedia` (or not in an insecure context).
    Unsupported,
    /// Anything else the browser reported.
    Failed,
}

impl DeviceError {
    fn classify(error: &wasm_bindgen::JsValue) -> Self {
        match js::error_name(error).as_str() {
            "NotFoundError" | "DevicesNotFoundError" | "OverconstrainedError" => Self::Missing,
            "NotAllowedError" | "PermissionDeniedError" | "SecurityError" => Self::Denied,
            "NotReadableError" | "TrackStartError" | "AbortError" => Self::Busy,
            "TypeError" | "NotSupportedError" => Self::Unsupported,
            _ => Self::Failed,
        }
    }

    /// Stable name for `data-` attributes and the debug hook.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Denied => "denied",
            Self::Busy => "busy",
            Self::Unsupported => "unsupported",
            Self::Failed => "failed",
        }
    }
}

/// What we got: one stream with whatever tracks could be opened, and why the
/// others could not.
#[derive(Clone, Debug, PartialEq)]
pub struct LocalMedia {
    /// The local stream (possibly without tracks: receive-only).
    pub stream: MediaStream,
    /// Why there is no microphone track, if there is none.
    pub mic_error: Option<DeviceError>,
    /// Why there is no camera track, if there is none.
    pub camera_error: Option<DeviceError>,
}

impl LocalMedia {
    /// A stream with no tracks (receive-only), when nothing could be opened.
    pub fn empty(mic_error: DeviceError, camera_error: DeviceError) -> Self {
        Self {
            stream: MediaStream::new().expect("MediaStream constructor"),
            mic_error: Some(mic_error),
            camera_error: Some(camera_error),
        }
    }

    /// The microphone track, if any.
    pub fn audio_track(&self) -> Option<MediaStreamTrack> {
        js::items::<MediaStreamTrack>(&self.stream.get_audio_tracks())
            .into_iter()
            .next()
    }

    /// The camera track, if any.
    pub fn video_track(&self) -> Option<MediaStreamTrack> {
        js::items::<MediaStreamTrack>(&self.stream.get_video_tracks())
            .into_iter()
            .next()
    }

    /// Whether every track is still live (not stopped, device not unplugged).
    pub fn is_live(&self) -> bool {
        let tracks = js::items::<MediaStreamTrack>(&self.stream.get_tracks());
        !tracks.is_empty()
            && tracks
                .iter()
                .all(|t| t.ready_state() == web_sys::MediaStreamTrackState::Live)
    }

    /// Stops every track: the camera light goes off, the mic is released.
    pub fn stop(&self) {
        stop_stream(&self.stream);
    }
}

/// Stops every track of `stream`.
pub fn stop_stream(stream: &MediaStream) {
    for track in js::items::<MediaStreamTrack>(&stream.get_tracks()) {
        track.stop();
    }
}

/// Microphone constraints: the browser's voice processing on.
fn audio_constraints() -> serde_json::Value {
    json!({ "echoCancellation": true, "noiseSuppression": true, "autoGainControl": true })
}

/// Camera constraints: 720p when the camera has it, never more than 30 fps.
fn video_constraints() -> serde_json::Value {
    json!({
        "width": { "ideal": 1280 },
        "height": { "ideal": 720 },
        "frameRate": { "ideal": 30, "max": 30 },
    })
}

async fn get_user_media(audio: bool, video: bool) -> Result<MediaStream, DeviceError> {
    let devices = web_sys::window()
        .and_then(|w| js::get(&w.navigator(), "mediaDevices"))
        .and_then(|d| d.dyn_into::<web_sys::MediaDevices>().ok())
        .ok_or(DeviceError::Unsupported)?;
    let constraints = MediaStreamConstraints::new();
    let off = serde_json::Value::Bool(false);
    constraints.set_audio(&js::to_js(if audio { &audio_constraints() } else { &off }));
    constraints.set_video(&js::to_js(if video { &video_constraints() } else { &off }));
    let promise = devices
        .get_user_media_with_constraints(&constraints)
        .map_err(|e| DeviceError::classify(&e))?;
    match JsFuture::from(promise).await {
        Ok(stream) => stream.dyn_into().map_err(|_| DeviceError::Failed),
        Err(error) => {
            gloo::console::warn!(format!(
                "getUserMedia(audio: {audio}, video: {video}) failed: {}",
                js::describe(&error)
            ));
            Err(DeviceError::classify(&error))
        }
    }
}

/// Opens the camera and microphone together, and when that fails, each on
/// its own, so one bad device costs only itself: a blocked camera still
/// gives an audio-only call, no devices at all a receive-only one.
pub async fn acquire() -> LocalMedia {
    match get_user_media(true, true).await {
        Ok(stream) => {
            return LocalMedia {
                stream,
                mic_error: None,
                camera_error: None,
            }
        }
        Err(DeviceError::Unsupported) => {
            return LocalMedia::empty(DeviceError::Unsupported, DeviceError::Unsupported)
        }
        Err(_) => {}
    }
    let stream = MediaStream::new().expect("MediaStream constructor");
    let mic_error = match get_user_media(true, false).await {
        Ok(audio) => {
            for track in js::items::<MediaStreamTrack>(&audio.get_tracks()) {
                stream.add_track(&track);
            }
            None
        }
        Err(error) => Some(error),
    };
    let camera_error = match camera().await {
        Ok(track) => {
            stream.add_track(&track);
            None
        }
        Err(error) => Some(error),
    };
    LocalMedia {
        stream,
        mic_error,
        camera_error,
    }
}

/// Opens the camera alone (turning the camera back on during a call).
pub async fn camera() -> Result<MediaStreamTrack, DeviceError> {
    let stream = get_user_media(false, true).await?;
    js::items::<MediaStreamTrack>(&stream.get_video_tracks())
        .into_iter()
        .next()
        .ok_or(DeviceError::Missing)
}
