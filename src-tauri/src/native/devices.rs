//! Cameras and microphones, from GStreamer's device monitor (V4L2 or
//! PipeWire for cameras, PulseAudio or PipeWire for microphones), and the
//! source element for one of them. With `PEERCALL_FAKE_MEDIA=1` (tests
//! only) there is one fake camera (`videotestsrc`, a moving ball) and one
//! fake microphone (`audiotestsrc`, a tone) instead, as Chromium's fake
//! devices. A [`Watch`] hears devices plugged in and out.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;

use gst::prelude::*;
use peercall_signal::shell::native::{DeviceFaultKind, NativeDevice};
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
        .map_err(|e| NativeError::Device {
            fault: DeviceFaultKind::Failed,
            reason: format!("{}: {e}", device.label),
        })?;
    Ok((element, device))
}

/// Whether the real device `id` is gone from the system's devices, or goes
/// within `settle` (polled; this blocks the calling thread meanwhile).
pub fn gone(id: &str, settle: std::time::Duration) -> bool {
    let deadline = std::time::Instant::now() + settle;
    loop {
        if !list(false).iter().any(|d| d.id == id) {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Hears cameras and microphones plugged in and out, on a thread of its
/// own, until dropped.
pub struct Watch {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// The device monitor's messages that mean the lists changed.
const CHANGES: &[gst::MessageType] = &[
    gst::MessageType::DeviceAdded,
    gst::MessageType::DeviceRemoved,
    gst::MessageType::DeviceChanged,
];

impl Watch {
    /// Starts watching; `on_change` is called (on the watch's thread) once
    /// per burst of changes: a device plugged in often comes as several
    /// (a camera's nodes, a headset's microphone and speaker). `None`
    /// where the device monitor can't start.
    pub fn start(on_change: impl Fn() + Send + 'static) -> Option<Self> {
        let bus = monitor()?.bus();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("peercall-devices".to_owned())
            .spawn(move || {
                // (What came before the watch reads as one change: the
                // page lists again, nothing more.)
                let wait = gst::ClockTime::from_mseconds(300);
                while !stopped.load(Ordering::Relaxed) {
                    if bus.timed_pop_filtered(wait, CHANGES).is_none() {
                        continue;
                    }
                    while bus.timed_pop_filtered(wait, CHANGES).is_some() {}
                    on_change();
                }
            })
            .ok()?;
        Some(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The process's one device monitor, started on first use and left
/// running: its providers (PipeWire, PulseAudio, V4L2) keep their lists
/// current and its bus says when they change. A second monitor started
/// and stopped beside it would stop the providers they share, and with
/// them the first one's news of devices plugged in and out.
fn monitor() -> Option<&'static gst::DeviceMonitor> {
    static MONITOR: OnceLock<Option<gst::DeviceMonitor>> = OnceLock::new();
    MONITOR
        .get_or_init(|| {
            let monitor = gst::DeviceMonitor::new();
            monitor.add_filter(Some("Video/Source"), None);
            monitor.add_filter(Some("Audio/Source"), None);
            monitor.start().ok()?;
            Some(monitor)
        })
        .as_ref()
}

/// What the device monitor sees, with the devices themselves.
fn monitored() -> Vec<(NativeDevice, gst::Device)> {
    let Some(monitor) = monitor() else {
        return Vec::new();
    };
    let devices = monitor.devices();
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
