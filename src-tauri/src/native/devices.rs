//! Cameras and microphones, from GStreamer's device monitor (V4L2 or
//! PipeWire for cameras, PulseAudio or PipeWire for microphones), and the
//! source element for one of them. With `PEERCALL_FAKE_MEDIA=1` (tests
//! only) there is one fake camera (`videotestsrc`, a moving ball) and one
//! fake microphone (`audiotestsrc`, a tone) instead, as Chromium's fake
//! devices.

use gst::prelude::*;
use peercall_signal::shell::native::NativeDevice;
use peercall_signal::shell::MediaKind;

use super::NativeError;

/// The id of the fake camera.
pub const FAKE_CAMERA: &str = "fake-camera";
/// The id of the fake microphone.
pub const FAKE_MICROPHONE: &str = "fake-microphone";

/// Device properties that identify a device across launches, most stable
/// first (PipeWire's object path, V4L2's node, PulseAudio's sink name).
const ID_PROPERTIES: &[&str] = &[
    "object.path",
    "api.v4l2.path",
    "device.path",
    "node.name",
    "device.name",
];

/// Every camera and microphone that can be opened now.
pub fn list(fake: bool) -> Vec<NativeDevice> {
    if fake {
        return vec![
            NativeDevice {
                id: FAKE_CAMERA.to_owned(),
                label: "Fake camera (test pattern)".to_owned(),
                kind: MediaKind::Camera,
            },
            NativeDevice {
                id: FAKE_MICROPHONE.to_owned(),
                label: "Fake microphone (tone)".to_owned(),
                kind: MediaKind::Microphone,
            },
        ];
    }
    monitored().into_iter().map(|(device, _)| device).collect()
}

/// The source element for the device `id` of `kind` (`None`: the first
/// one), with what it is.
pub fn open(
    kind: MediaKind,
    id: Option<&str>,
    fake: bool,
) -> Result<(gst::Element, NativeDevice), NativeError> {
    if fake {
        let (factory, properties): (&str, &[(&str, &str)]) = match kind {
            // A white ball moving over blue (0xff2d5b8c, ARGB): plainly a
            // picture on screen, where the default black reads as no video.
            MediaKind::Camera => (
                "videotestsrc",
                &[("pattern", "ball"), ("background-color", "4281162636")],
            ),
            MediaKind::Microphone => ("audiotestsrc", &[("wave", "sine"), ("volume", "0.3")]),
        };
        let element = gst::ElementFactory::make(factory)
            .property("is-live", true)
            .build()
            .map_err(|e| NativeError::Gst(format!("creating {factory}: {e}")))?;
        for (name, value) in properties {
            element.set_property_from_str(name, value);
        }
        let device = list(true)
            .into_iter()
            .find(|d| d.kind == kind)
            .expect("a fake device of each kind");
        return Ok((element, device));
    }
    let (device, element) = monitored()
        .into_iter()
        .filter(|(d, _)| d.kind == kind)
        .find(|(d, _)| id.is_none_or(|id| d.id == id))
        .ok_or_else(|| NativeError::NoDevice {
            kind,
            id: id.map(str::to_owned),
        })?;
    let element = element
        .create_element(None)
        .map_err(|e| NativeError::Device(format!("{}: {e}", device.label)))?;
    Ok((element, device))
}

/// What the device monitor sees, with the devices themselves.
fn monitored() -> Vec<(NativeDevice, gst::Device)> {
    let monitor = gst::DeviceMonitor::new();
    monitor.add_filter(Some("Video/Source"), None);
    monitor.add_filter(Some("Audio/Source"), None);
    if monitor.start().is_err() {
        return Vec::new();
    }
    let devices = monitor.devices();
    monitor.stop();
    devices
        .into_iter()
        .filter_map(|device| {
            let class = device.device_class();
            let kind = if class.starts_with("Video/Source") {
                MediaKind::Camera
            } else if class.starts_with("Audio/Source") {
                MediaKind::Microphone
            } else {
                return None;
            };
            let properties = device.properties();
            let property =
                |name: &str| properties.as_ref().and_then(|p| p.get::<String>(name).ok());
            // A speaker's monitor is not a microphone.
            if property("device.class").as_deref() == Some("monitor") {
                return None;
            }
            let label = device.display_name().to_string();
            let id = ID_PROPERTIES
                .iter()
                .find_map(|name| property(name))
                .unwrap_or_else(|| label.clone());
            Some((NativeDevice { id, label, kind }, device))
        })
        .collect()
}
