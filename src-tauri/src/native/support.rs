//! Whether the native engine can run here: GStreamer starts, and every
//! element a call needs is registered. A missing one is named with the
//! Debian package that brings it, for Settings → About.

use std::sync::OnceLock;

use peercall_signal::shell::native::NativeSupport;

/// Every element the engine creates, with the Debian package it comes in.
pub const ELEMENTS: &[(&str, &str)] = &[
    ("webrtcbin", "gstreamer1.0-plugins-bad"),
    ("nicesrc", "gstreamer1.0-nice"),
    ("nicesink", "gstreamer1.0-nice"),
    ("dtlssrtpenc", "gstreamer1.0-plugins-bad"),
    ("dtlssrtpdec", "gstreamer1.0-plugins-bad"),
    ("srtpenc", "gstreamer1.0-plugins-bad"),
    ("srtpdec", "gstreamer1.0-plugins-bad"),
    ("sctpenc", "gstreamer1.0-plugins-bad"),
    ("sctpdec", "gstreamer1.0-plugins-bad"),
    ("rtpbin", "gstreamer1.0-plugins-good"),
    ("vp8enc", "gstreamer1.0-plugins-good"),
    ("vp8dec", "gstreamer1.0-plugins-good"),
    ("rtpvp8pay", "gstreamer1.0-plugins-good"),
    ("rtpvp8depay", "gstreamer1.0-plugins-good"),
    ("opusenc", "gstreamer1.0-plugins-base"),
    ("opusdec", "gstreamer1.0-plugins-base"),
    ("rtpopuspay", "gstreamer1.0-plugins-good"),
    ("rtpopusdepay", "gstreamer1.0-plugins-good"),
    ("webrtcdsp", "gstreamer1.0-plugins-bad"),
    ("webrtcechoprobe", "gstreamer1.0-plugins-bad"),
    ("videotestsrc", "gstreamer1.0-plugins-base"),
    ("audiotestsrc", "gstreamer1.0-plugins-base"),
    ("jpegenc", "gstreamer1.0-plugins-good"),
    ("videoconvert", "gstreamer1.0-plugins-base"),
    ("videoscale", "gstreamer1.0-plugins-base"),
    ("videorate", "gstreamer1.0-plugins-base"),
    ("audioconvert", "gstreamer1.0-plugins-base"),
    ("audioresample", "gstreamer1.0-plugins-base"),
    ("audiomixer", "gstreamer1.0-plugins-base"),
    ("volume", "gstreamer1.0-plugins-base"),
    ("decodebin", "gstreamer1.0-plugins-base"),
    ("appsrc", "gstreamer1.0-plugins-base"),
    ("appsink", "gstreamer1.0-plugins-base"),
    ("autoaudiosink", "gstreamer1.0-plugins-good"),
    ("queue", "libgstreamer1.0-0"),
    ("tee", "libgstreamer1.0-0"),
];

/// What [`check`] found, once per process.
static CHECKED: OnceLock<NativeSupport> = OnceLock::new();

/// Starts [`checked`] on a thread of its own, at launch: starting
/// GStreamer (and, the first time on a machine, building its plugin
/// registry) then happens while the window and its web engine start,
/// instead of after the page asks which engine to use, which holds its
/// first paint (see docs/benchmarks.md).
pub fn check_early() {
    let started = std::thread::Builder::new()
        .name("gst-check".into())
        .spawn(|| {
            let began = std::time::Instant::now();
            let support = checked();
            tracing::debug!(took = ?began.elapsed(), ?support, "native engine support checked");
        });
    if let Err(error) = started {
        tracing::warn!(%error, "could not check the native engine early");
    }
}

/// [`check`], made once per process (a call while it runs waits for it).
pub fn checked() -> NativeSupport {
    CHECKED.get_or_init(check).clone()
}

/// Starts GStreamer (once per process; later calls are free) and checks
/// every element in [`ELEMENTS`].
fn check() -> NativeSupport {
    if let Err(error) = gst::init() {
        return NativeSupport::Unavailable {
            reason: format!("GStreamer could not start: {error}"),
        };
    }
    let missing: Vec<String> = ELEMENTS
        .iter()
        .filter(|(name, _)| gst::ElementFactory::find(name).is_none())
        .map(|(name, package)| format!("{name} ({package})"))
        .collect();
    if missing.is_empty() {
        NativeSupport::Ready {
            gstreamer: gst::version_string()
                .trim_start_matches("GStreamer ")
                .to_owned(),
        }
    } else {
        NativeSupport::MissingElements { missing }
    }
}

/// Whether the engine can run ([`check`] said [`NativeSupport::Ready`]),
/// or why not.
pub fn ready() -> Result<(), String> {
    match checked() {
        NativeSupport::Ready { .. } => Ok(()),
        NativeSupport::MissingElements { missing } => Err(format!(
            "missing GStreamer elements: {}",
            missing.join(", ")
        )),
        NativeSupport::Unavailable { reason } => Err(reason),
        NativeSupport::NotBuilt => Err("not built with the native engine".to_owned()),
    }
}

/// An element by factory name, for the engine's own use.
pub fn make(factory: &str) -> Result<gst::Element, super::NativeError> {
    gst::ElementFactory::make(factory)
        .build()
        .map_err(|e| super::NativeError::Gst(format!("creating {factory}: {e}")))
}
