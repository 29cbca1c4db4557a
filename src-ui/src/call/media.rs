//! Camera and microphone: `getUserMedia` with voice processing on, errors
//! sorted into what a person can act on, and fallbacks so a missing, busy or
//! blocked camera still leaves an audio-only (or receive-only) call.

use peercall_signal::settings::{AudioProcessing, Settings};
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
    /// A call's stream before its devices are open: no tracks yet, and no
    /// errors either.
    pub fn pending() -> Self {
        Self {
            stream: MediaStream::new().expect("MediaStream constructor"),
            mic_error: None,
            camera_error: None,
        }
    }

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

/// What to open and how: the user's devices, quality and voice processing
/// (from settings), and which kinds are wanted at all.
#[derive(Clone, Debug, PartialEq)]
pub struct MediaPreferences {
    /// Open a microphone.
    pub want_microphone: bool,
    /// Open a camera.
    pub want_camera: bool,
    /// Preferred microphone `deviceId` (`None`: the system default).
    pub microphone: Option<String>,
    /// Preferred camera `deviceId`.
    pub camera: Option<String>,
    /// Capture width and height.
    pub size: (u32, u32),
    /// Capture frame rate.
    pub frame_rate: u32,
    /// Voice processing.
    pub audio: AudioProcessing,
    /// Insist on the chosen devices (`exact`), for a switch the user just
    /// asked for; otherwise they are only preferred (`ideal`), so a device
    /// unplugged since it was saved falls back to the default one.
    pub exact_devices: bool,
}

impl Default for MediaPreferences {
    fn default() -> Self {
        Self::from_settings(&Settings::default())
    }
}

impl MediaPreferences {
    /// The preferences the user's settings describe.
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            want_microphone: true,
            want_camera: true,
            microphone: settings.devices.microphone.clone(),
            camera: settings.devices.camera.clone(),
            size: settings.video.resolution.size(),
            frame_rate: settings.video.frame_rate,
            audio: settings.audio.clone(),
            exact_devices: false,
        }
    }

    fn device_constraint(&self, id: &str) -> serde_json::Value {
        if self.exact_devices {
            json!({ "exact": id })
        } else {
            json!({ "ideal": id })
        }
    }

    /// Microphone constraints (the device per [`Self::exact_devices`]).
    fn audio_constraints(&self) -> serde_json::Value {
        let mut audio = json!({
            "echoCancellation": self.audio.echo_cancellation,
            "noiseSuppression": self.audio.noise_suppression,
            "autoGainControl": self.audio.auto_gain,
        });
        if let Some(id) = &self.microphone {
            audio["deviceId"] = self.device_constraint(id);
        }
        audio
    }

    /// Camera constraints, `ideal` so any camera gives its closest mode.
    fn video_constraints(&self) -> serde_json::Value {
        let (width, height) = self.size;
        let mut video = json!({
            "width": { "ideal": width },
            "height": { "ideal": height },
            "frameRate": { "ideal": self.frame_rate, "max": self.frame_rate },
        });
        if let Some(id) = &self.camera {
            video["deviceId"] = self.device_constraint(id);
        }
        video
    }
}

async fn get_user_media(
    preferences: &MediaPreferences,
    audio: bool,
    video: bool,
) -> Result<MediaStream, DeviceError> {
    let devices = web_sys::window()
        .and_then(|w| js::get(&w.navigator(), "mediaDevices"))
        .and_then(|d| d.dyn_into::<web_sys::MediaDevices>().ok())
        .ok_or(DeviceError::Unsupported)?;
    let constraints = MediaStreamConstraints::new();
    let off = serde_json::Value::Bool(false);
    let audio_constraints = if audio {
        preferences.audio_constraints()
    } else {
        off.clone()
    };
    let video_constraints = if video {
        preferences.video_constraints()
    } else {
        off
    };
    constraints.set_audio(&js::to_js(&audio_constraints));
    constraints.set_video(&js::to_js(&video_constraints));
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

/// Opens the wanted camera and microphone together, and when that fails, each
/// on its own, so one bad device costs only itself: a blocked camera still
/// gives an audio-only call, no devices at all a receive-only one.
pub async fn acquire_with(preferences: &MediaPreferences) -> LocalMedia {
    let (want_audio, want_video) = (preferences.want_microphone, preferences.want_camera);
    if !want_audio && !want_video {
        return LocalMedia::empty(DeviceError::Denied, DeviceError::Denied);
    }
    match get_user_media(preferences, want_audio, want_video).await {
        Ok(stream) => {
            return LocalMedia {
                stream,
                mic_error: (!want_audio).then_some(DeviceError::Denied),
                camera_error: (!want_video).then_some(DeviceError::Denied),
            }
        }
        Err(DeviceError::Unsupported) => {
            return LocalMedia::empty(DeviceError::Unsupported, DeviceError::Unsupported)
        }
        Err(_) => {}
    }
    let stream = MediaStream::new().expect("MediaStream constructor");
    let mic_error = if want_audio {
        match get_user_media(preferences, true, false).await {
            Ok(audio) => {
                for track in js::items::<MediaStreamTrack>(&audio.get_tracks()) {
                    stream.add_track(&track);
                }
                None
            }
            Err(error) => Some(error),
        }
    } else {
        Some(DeviceError::Denied)
    };
    let camera_error = if want_video {
        match camera_with(preferences).await {
            Ok(track) => {
                stream.add_track(&track);
                None
            }
            Err(error) => Some(error),
        }
    } else {
        Some(DeviceError::Denied)
    };
    LocalMedia {
        stream,
        mic_error,
        camera_error,
    }
}

/// Opens the preferred camera alone (turning the camera back on during a
/// call, or switching cameras).
pub async fn camera_with(preferences: &MediaPreferences) -> Result<MediaStreamTrack, DeviceError> {
    let stream = get_user_media(preferences, false, true).await?;
    js::items::<MediaStreamTrack>(&stream.get_video_tracks())
        .into_iter()
        .next()
        .ok_or(DeviceError::Missing)
}

/// Opens the preferred microphone alone (switching microphones in a call).
pub async fn microphone_with(
    preferences: &MediaPreferences,
) -> Result<MediaStreamTrack, DeviceError> {
    let stream = get_user_media(preferences, true, false).await?;
    js::items::<MediaStreamTrack>(&stream.get_audio_tracks())
        .into_iter()
        .next()
        .ok_or(DeviceError::Missing)
}
