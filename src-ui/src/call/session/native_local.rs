//! Our camera and microphone in a call on the native engine: the shell
//! captures them (`NativeSetMedia`), sends them on every native peer, and
//! draws the preview as [`StreamId`] frames; the page only says what it
//! wants (devices, camera on or off, mute) and shows what the shell says.
//!
//! The call holds the shell's capture from its start, so a preview that
//! was showing it hands it over without a gap; hanging up lets go at once
//! and the shell closes the capture (`NativeCloseMedia`).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use peercall_signal::shell::native::{
    DeviceFault, DeviceFaultKind, LocalMedia, MediaRequest, VideoFormat,
};

use crate::call::engine::Pending;
use crate::call::media::{DeviceError, MediaPreferences};
use crate::call::native::{MediaHold, NativeShell};
use crate::call::{CallOptions, LocalView, VideoSource};

/// What to ask the shell for.
pub(in crate::call) fn native_request(
    preferences: &MediaPreferences,
    camera_on: bool,
    mic_muted: bool,
) -> MediaRequest {
    let (width, height) = preferences.size;
    MediaRequest {
        camera: preferences.camera.clone(),
        microphone: preferences.microphone.clone(),
        video: preferences.want_camera && camera_on,
        audio: preferences.want_microphone,
        mic_muted,
        format: VideoFormat {
            width,
            height,
            frame_rate: preferences.frame_rate,
        },
        processing: preferences.audio.clone(),
    }
}

/// Why a device the shell was asked for isn't open, as the page words it
/// (no reason given: the shell found none to open).
fn device_error(asked: bool, open: bool, fault: Option<&DeviceFault>) -> Option<DeviceError> {
    if !asked || open {
        return None;
    }
    Some(match fault.map(|f| f.kind) {
        None | Some(DeviceFaultKind::Missing) => DeviceError::Missing,
        Some(DeviceFaultKind::Denied) => DeviceError::Denied,
        Some(DeviceFaultKind::Busy) => DeviceError::Busy,
        Some(DeviceFaultKind::Failed) => DeviceError::Failed,
    })
}

/// The picture and the errors for what the shell opened (`Err`: the shell
/// couldn't be asked).
pub(in crate::call) fn native_view(
    shell: &NativeShell,
    preferences: &MediaPreferences,
    opened: &Result<LocalMedia, peercall_signal::shell::ShellError>,
) -> (
    Option<VideoSource>,
    Option<DeviceError>,
    Option<DeviceError>,
) {
    match opened {
        Ok(media) => {
            let video = media
                .preview
                .zip(shell.frames())
                .map(|(stream, frames)| VideoSource::Native { stream, frames });
            let camera = device_error(
                preferences.want_camera,
                media.camera.is_some(),
                media.camera_error.as_ref(),
            );
            let mic = device_error(
                preferences.want_microphone,
                media.microphone.is_some(),
                media.microphone_error.as_ref(),
            );
            (video, camera, mic)
        }
        Err(error) => {
            gloo::console::warn!(format!("native_set_media: {error:?}"));
            let failed = |asked: bool| asked.then_some(DeviceError::Failed);
            (
                None,
                failed(preferences.want_camera),
                failed(preferences.want_microphone),
            )
        }
    }
}

/// Our devices in one native call.
pub(super) struct NativeLocal {
    shell: NativeShell,
    hold: MediaHold,
    preferences: RefCell<MediaPreferences>,
    /// What the shell last said (`None` while opening the first time).
    media: RefCell<Option<Result<LocalMedia, peercall_signal::shell::ShellError>>>,
    opening: Cell<bool>,
    mic_muted: Cell<bool>,
    camera_on: Cell<bool>,
    released: Cell<bool>,
}

impl NativeLocal {
    pub(super) fn new(options: &CallOptions, shell: NativeShell) -> Rc<Self> {
        Rc::new(Self {
            hold: shell.hold(),
            shell,
            preferences: RefCell::new(options.preferences.clone()),
            media: RefCell::new(None),
            opening: Cell::new(true),
            mic_muted: Cell::new(options.start_muted),
            camera_on: Cell::new(!options.start_camera_off),
            released: Cell::new(false),
        })
    }

    pub(super) fn opening(&self) -> bool {
        self.opening.get()
    }

    pub(super) fn preferences(&self) -> MediaPreferences {
        self.preferences.borrow().clone()
    }

    fn request(&self) -> MediaRequest {
        native_request(
            &self.preferences.borrow(),
            self.camera_on.get(),
            self.mic_muted.get(),
        )
    }

    /// Asks the shell for what we want now and keeps its answer; `false`
    /// when the call ended meanwhile.
    async fn apply(self: Rc<Self>) -> bool {
        let answer = self.shell.set_media(self.request()).await;
        if self.released.get() {
            return false;
        }
        let camera_open = answer.as_ref().is_ok_and(|m| m.camera.is_some());
        if self.camera_on.get() && !camera_open {
            // The camera didn't open: it is off, with the reason shown.
            self.camera_on.set(false);
        }
        *self.media.borrow_mut() = Some(answer);
        self.opening.set(false);
        true
    }

    /// Opens the devices for the call (or keeps the preview's).
    pub(super) async fn open(self: &Rc<Self>) -> bool {
        self.clone().apply().await
    }

    /// The shell changed the media by itself (a device unplugged).
    pub(super) fn changed(&self, media: LocalMedia) {
        if !self.released.get() {
            *self.media.borrow_mut() = Some(Ok(media));
        }
    }

    pub(super) fn view(&self) -> LocalView {
        let media = self.media.borrow();
        let Some(opened) = media.as_ref() else {
            return LocalView {
                video: None,
                audio_muted: true,
                video_muted: true,
                mic_error: None,
                camera_error: None,
                opening: self.opening.get(),
            };
        };
        let mut wanted = self.preferences();
        let asked_camera = wanted.want_camera;
        wanted.want_camera = asked_camera && self.camera_on.get();
        let (video, camera_error, mic_error) = native_view(&self.shell, &wanted, opened);
        let open = |f: fn(&LocalMedia) -> bool| opened.as_ref().is_ok_and(f);
        LocalView {
            video,
            audio_muted: self.mic_muted.get() || !open(|m| m.microphone.is_some()),
            video_muted: !self.camera_on.get() || !open(|m| m.camera.is_some()),
            mic_error,
            // The last reason the camera couldn't open stays shown while
            // it is off because of it.
            camera_error: camera_error.or_else(|| {
                let why = opened.as_ref().ok()?.camera_error.as_ref()?;
                device_error(asked_camera, false, Some(why))
            }),
            opening: self.opening.get(),
        }
    }

    pub(super) fn set_mic_muted(self: &Rc<Self>, muted: bool) {
        self.mic_muted.set(muted);
        let local = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            local.apply().await;
        });
    }

    /// Camera off closes it in the shell (its light goes off); on opens it
    /// again. The returned work yields whether the call goes on.
    pub(super) fn set_camera_on(self: &Rc<Self>, on: bool) -> Pending<bool> {
        self.camera_on.set(on);
        if on {
            self.opening.set(true);
        }
        Box::pin(self.clone().apply())
    }

    /// Moves to the camera and/or microphone `next` names (the shell swaps
    /// them under every peer, no renegotiation); `None` when none changes.
    pub(super) fn switch_devices(self: &Rc<Self>, next: MediaPreferences) -> Option<Pending<bool>> {
        let previous = self.preferences.replace(next.clone());
        if next.camera == previous.camera && next.microphone == previous.microphone {
            return None;
        }
        Some(Box::pin(self.clone().apply()))
    }

    /// The call is over: the shell closes the capture now (unless a
    /// preview already holds it again).
    pub(super) fn release(&self) {
        self.released.set(true);
        self.hold.release(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_follow_the_call() {
        let preferences = MediaPreferences {
            camera: Some("cam-2".into()),
            ..MediaPreferences::default()
        };
        let request = native_request(&preferences, true, true);
        assert!(request.video && request.audio && request.mic_muted);
        assert_eq!(request.camera.as_deref(), Some("cam-2"));
        assert!(!native_request(&preferences, false, false).video);
    }

    #[test]
    fn requests_carry_the_settings_picture_and_voice_processing() {
        let preferences = MediaPreferences {
            size: (640, 360),
            frame_rate: 15,
            audio: peercall_signal::settings::AudioProcessing {
                echo_cancellation: true,
                noise_suppression: false,
                auto_gain: false,
            },
            ..MediaPreferences::default()
        };
        let request = native_request(&preferences, true, false);
        assert_eq!(
            request.format,
            VideoFormat {
                width: 640,
                height: 360,
                frame_rate: 15
            }
        );
        assert_eq!(request.processing, preferences.audio);
    }

    #[test]
    fn shell_faults_become_what_a_person_can_act_on() {
        let fault = |kind| DeviceFault {
            kind,
            detail: "GStreamer's words".into(),
        };
        let busy = fault(DeviceFaultKind::Busy);
        assert_eq!(device_error(false, false, Some(&busy)), None);
        assert_eq!(device_error(true, true, None), None);
        assert_eq!(device_error(true, false, None), Some(DeviceError::Missing));
        for (kind, shown) in [
            (DeviceFaultKind::Busy, DeviceError::Busy),
            (DeviceFaultKind::Denied, DeviceError::Denied),
            (DeviceFaultKind::Missing, DeviceError::Missing),
            (DeviceFaultKind::Failed, DeviceError::Failed),
        ] {
            assert_eq!(device_error(true, false, Some(&fault(kind))), Some(shown));
        }
    }
}
