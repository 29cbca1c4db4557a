use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{MediaDeviceInfo, MediaDeviceKind};
use yew::prelude::*;

use crate::platform::MediaKind;
use peercall_signal::shell::native::NativeDevice;

/// One capture or output device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaDevice {
    /// The browser's `deviceId` (stable per origin).
    pub id: String,
    /// What the OS calls it (empty until capture has been allowed once).
    pub label: String,
}

/// The devices, by kind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MediaDevices {
    /// Cameras.
    pub cameras: Vec<MediaDevice>,
    /// Microphones.
    pub microphones: Vec<MediaDevice>,
    /// Speakers (empty where the engine can't choose the output).
    pub speakers: Vec<MediaDevice>,
}

/// Picker options for `devices`: "System default" (empty value) first, then
/// each device by its label, or "Camera 2" style names while labels are
/// hidden (before capture has been allowed).
pub fn device_options(
    devices: &[MediaDevice],
    system_default: &str,
    unnamed: &str,
) -> Vec<(String, String)> {
    let mut options = vec![(String::new(), system_default.to_owned())];
    options.extend(devices.iter().enumerate().map(|(i, d)| {
        let label = if d.label.is_empty() {
            format!("{unnamed} {}", i + 1)
        } else {
            d.label.clone()
        };
        (d.id.clone(), label)
    }));
    options
}

/// The camera, microphone and speaker lists, kept current as devices are
/// plugged in and out (`devicechange`). `refresh` re-reads them (labels only
/// appear once capture is allowed, so callers refresh after opening a device).
/// With the native engine (`native`) they are the shell's devices, what it
/// can capture (it plays sound on the system's output: no speakers), kept
/// current by the shell's `DEVICES_EVENT`.
#[hook]
pub fn use_media_devices(refresh: u32, native: bool) -> UseStateHandle<MediaDevices> {
    let devices = use_state(MediaDevices::default);
    {
        let devices = devices.clone();
        use_effect_with((refresh, native), move |(_, native)| {
            let media = web_sys::window()
                .filter(|_| !*native)
                .and_then(|w| w.navigator().media_devices().ok());
            // The shell's lists, now and whenever it says a device was
            // plugged in or out.
            let relist = native.then(|| {
                let devices = devices.clone();
                move || {
                    let devices = devices.clone();
                    wasm_bindgen_futures::spawn_local(async move {
                        devices.set(native_lists(crate::platform::native_devices().await));
                    });
                }
            });
            let plugged = relist.map(|relist| {
                relist();
                gloo::events::EventListener::new(
                    &gloo::utils::window(),
                    peercall_signal::shell::DEVICES_EVENT,
                    move |_| relist(),
                )
            });
            let reload = {
                let media = media.clone();
                move || {
                    let Some(media) = media.clone() else { return };
                    let devices = devices.clone();
                    wasm_bindgen_futures::spawn_local(async move {
                        if let Some(list) = enumerate(&media).await {
                            devices.set(list);
                        }
                    });
                }
            };
            reload();
            let listener = Closure::<dyn Fn()>::new(reload);
            if let Some(media) = &media {
                media.set_ondevicechange(Some(listener.as_ref().unchecked_ref()));
            }
            move || {
                if let Some(media) = media {
                    media.set_ondevicechange(None);
                }
                drop(listener);
                drop(plugged);
            }
        });
    }
    devices
}

/// The shell's devices as the pickers list them.
fn native_lists(found: Vec<NativeDevice>) -> MediaDevices {
    let mut devices = MediaDevices::default();
    for device in found {
        let entry = MediaDevice {
            id: device.id,
            label: device.label,
        };
        match device.kind {
            MediaKind::Camera => devices.cameras.push(entry),
            MediaKind::Microphone => devices.microphones.push(entry),
        }
    }
    devices
}

async fn enumerate(media: &web_sys::MediaDevices) -> Option<MediaDevices> {
    let list = JsFuture::from(media.enumerate_devices().ok()?).await.ok()?;
    let mut devices = MediaDevices::default();
    for info in js_sys::Array::from(&list).iter() {
        let Ok(info) = info.dyn_into::<MediaDeviceInfo>() else {
            continue;
        };
        // Before capture is allowed, engines list placeholder devices with
        // empty ids; they can't be chosen, so leave them out.
        if info.device_id().is_empty() {
            continue;
        }
        let device = MediaDevice {
            id: info.device_id(),
            label: info.label(),
        };
        match info.kind() {
            MediaDeviceKind::Videoinput => devices.cameras.push(device),
            MediaDeviceKind::Audioinput => devices.microphones.push(device),
            MediaDeviceKind::Audiooutput => devices.speakers.push(device),
            _ => {}
        }
    }
    Some(devices)
}
