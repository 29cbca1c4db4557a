//! The local camera and microphone: one small pipeline each, opened and
//! closed on their own so that closing one releases its device at once.
//!
//! - camera: source → convert/scale/rate to the requested [`VideoFormat`]
//!   ([`video_caps`]) → a tee: one branch to every peer ([`Fanout`]), one
//!   to the preview's frames ([`StreamId::LOCAL`]);
//! - microphone: source → [`AUDIO_CAPS`] → `webrtcdsp` (echo cancellation
//!   against the playback's `webrtcechoprobe`, noise suppression, gain
//!   control, each as the request's `AudioProcessing` says) → `volume`
//!   (mute sends silence: the track goes on) → every peer.
//!
//! Peers get the buffers through their own `appsrc`s (timestamps cleared:
//! each peer's pipeline stamps them on arrival; video with its caps, so a
//! new picture size reaches each peer's encoder), so switching a device, a
//! format or the camera off and on touches no peer and needs no
//! renegotiation. A device whose format or processing changes is opened
//! again. Camera off stops the camera's pipeline: the device is
//! released and peers are sent no video until it is on again.

use std::sync::{Arc, Mutex};

use gst::prelude::*;
use peercall_signal::settings::AudioProcessing;
use peercall_signal::shell::native::{
    DeviceFault, DeviceFaultKind, LocalMedia, MediaRequest, NativeDevice, PeerKey, StreamId,
    VideoFormat,
};
use peercall_signal::shell::MediaKind;

use super::{devices, frames, NativeError};

/// What the camera branch hands every peer: I420 of the request's
/// [`VideoFormat`] (bounded).
pub fn video_caps(format: VideoFormat) -> String {
    let VideoFormat {
        width,
        height,
        frame_rate,
    } = format.bounded();
    format!(
        "video/x-raw,format=I420,width={width},height={height},framerate={frame_rate}/1,pixel-aspect-ratio=1/1"
    )
}
/// What every peer's video input takes (the size comes with the buffers).
pub const PEER_VIDEO_CAPS: &str = "video/x-raw,format=I420,pixel-aspect-ratio=1/1";
/// What the microphone branch hands every peer.
pub const AUDIO_CAPS: &str = "audio/x-raw,format=S16LE,rate=48000,channels=1,layout=interleaved";

/// Called (on a thread of its own) when an open device fails: its kind,
/// its pipeline's generation and why.
pub type OnFailure = Arc<dyn Fn(MediaKind, u64, DeviceFault) + Send + Sync>;

/// Every peer's `appsrc`s, which the capture pipelines push into.
#[derive(Default)]
pub struct Fanout {
    video: Mutex<Vec<(PeerKey, gst_app::AppSrc)>>,
    audio: Mutex<Vec<(PeerKey, gst_app::AppSrc)>>,
}

impl Fanout {
    /// Starts handing `peer` the local video and audio.
    pub fn add(&self, peer: PeerKey, video: gst_app::AppSrc, audio: gst_app::AppSrc) {
        if let Ok(mut list) = self.video.lock() {
            list.push((peer, video));
        }
        if let Ok(mut list) = self.audio.lock() {
            list.push((peer, audio));
        }
    }

    /// Stops handing `peer` anything.
    pub fn remove(&self, peer: PeerKey) {
        for list in [&self.video, &self.audio] {
            if let Ok(mut list) = list.lock() {
                list.retain(|(key, _)| *key != peer);
            }
        }
    }

    fn push(
        list: &Mutex<Vec<(PeerKey, gst_app::AppSrc)>>,
        buffer: &gst::Buffer,
        caps: Option<&gst::Caps>,
    ) {
        let Ok(list) = list.lock() else { return };
        for (_, src) in list.iter() {
            let mut copy = buffer.copy();
            if let Some(copy) = copy.get_mut() {
                copy.set_pts(gst::ClockTime::NONE);
                copy.set_dts(gst::ClockTime::NONE);
            }
            match caps {
                // The caps go with the buffer: `appsrc` tells its pipeline
                // when they change (another picture size).
                Some(caps) => {
                    let sample = gst::Sample::builder().buffer(&copy).caps(caps).build();
                    let _ = src.push_sample(&sample);
                }
                None => {
                    let _ = src.push_buffer(copy);
                }
            }
        }
    }
}

/// One open device's pipeline; dropping it stops it (and releases the
/// device).
struct Source {
    pipeline: gst::Pipeline,
    device: NativeDevice,
    generation: u64,
    volume: Option<gst::Element>,
    /// What it was opened with (a camera's format, a microphone's
    /// processing): another one opens it again.
    settings: Settings,
}

/// What a device was opened with.
#[derive(Clone, PartialEq)]
enum Settings {
    Camera(VideoFormat),
    Microphone(AudioProcessing),
}

impl Drop for Source {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// What the capture needs from the engine.
pub struct Context {
    /// Fake devices (tests).
    pub fake: bool,
    /// Where buffers go.
    pub fanout: Arc<Fanout>,
    /// Where the preview goes.
    pub frames: frames::Frames,
    /// The playback's echo probe, for `webrtcdsp`.
    pub probe: String,
    /// Told when a device fails.
    pub on_failure: OnFailure,
}

/// The local media now.
#[derive(Default)]
pub struct Capture {
    camera: Option<Source>,
    microphone: Option<Source>,
    camera_error: Option<DeviceFault>,
    microphone_error: Option<DeviceFault>,
    muted: bool,
    generation: u64,
}

impl Capture {
    /// Makes the media what `request` says: opens, switches or closes each
    /// device (a device kept when `request` names it or names none), sets
    /// mute.
    pub fn apply(&mut self, request: &MediaRequest, context: &Context) -> LocalMedia {
        let keep = |source: &Option<Source>, wanted: &Option<String>, settings: &Settings| {
            source.as_ref().is_some_and(|s| {
                wanted.as_deref().is_none_or(|id| id == s.device.id) && s.settings == *settings
            })
        };
        let format = request.format.bounded();
        let camera_settings = Settings::Camera(format);
        let microphone_settings = Settings::Microphone(request.processing.clone());
        if !request.video {
            self.close_camera(context);
            self.camera_error = None;
        } else if !keep(&self.camera, &request.camera, &camera_settings) {
            // Released first: the same physical device may be opened again.
            self.close_camera(context);
            self.generation += 1;
            match open_camera(request.camera.as_deref(), format, self.generation, context) {
                Ok(source) => {
                    self.camera = Some(source);
                    self.camera_error = None;
                }
                Err(error) => self.camera_error = Some(error.device_fault()),
            }
        }
        if !request.audio {
            self.microphone = None;
            self.microphone_error = None;
        } else if !keep(&self.microphone, &request.microphone, &microphone_settings) {
            self.microphone = None;
            self.generation += 1;
            match open_microphone(
                request.microphone.as_deref(),
                &request.processing,
                self.generation,
                context,
            ) {
                Ok(source) => {
                    self.microphone = Some(source);
                    self.microphone_error = None;
                }
                Err(error) => self.microphone_error = Some(error.device_fault()),
            }
        }
        self.muted = request.mic_muted;
        if let Some(volume) = self.microphone.as_ref().and_then(|m| m.volume.as_ref()) {
            volume.set_property("mute", self.muted);
        }
        self.local()
    }

    /// A device of `kind` failed while open (if it is still the one of
    /// `generation`): it is closed, and the failure kept for [`Self::local`].
    /// Answers whether anything changed.
    pub fn failed(
        &mut self,
        kind: MediaKind,
        generation: u64,
        fault: DeviceFault,
        context: &Context,
    ) -> bool {
        match kind {
            MediaKind::Camera
                if self
                    .camera
                    .as_ref()
                    .is_some_and(|c| c.generation == generation) =>
            {
                self.close_camera(context);
                self.camera_error = Some(fault);
                true
            }
            MediaKind::Microphone
                if self
                    .microphone
                    .as_ref()
                    .is_some_and(|m| m.generation == generation) =>
            {
                self.microphone = None;
                self.microphone_error = Some(fault);
                true
            }
            _ => false,
        }
    }

    /// The device of `kind` open now, if it is the one of `generation`.
    pub fn device(&self, kind: MediaKind, generation: u64) -> Option<NativeDevice> {
        let source = match kind {
            MediaKind::Camera => self.camera.as_ref(),
            MediaKind::Microphone => self.microphone.as_ref(),
        };
        source
            .filter(|s| s.generation == generation)
            .map(|s| s.device.clone())
    }

    /// The devices open now: their kind, generation and what they are.
    pub fn open_devices(&self) -> Vec<(MediaKind, u64, NativeDevice)> {
        [
            (MediaKind::Camera, &self.camera),
            (MediaKind::Microphone, &self.microphone),
        ]
        .into_iter()
        .filter_map(|(kind, source)| {
            source
                .as_ref()
                .map(|s| (kind, s.generation, s.device.clone()))
        })
        .collect()
    }

    /// Stops both devices.
    pub fn close(&mut self, context: &Context) {
        self.close_camera(context);
        self.microphone = None;
        self.camera_error = None;
        self.microphone_error = None;
    }

    /// Whether any device is open.
    pub fn is_open(&self) -> bool {
        self.camera.is_some() || self.microphone.is_some()
    }

    fn close_camera(&mut self, context: &Context) {
        if self.camera.take().is_some() {
            context.frames.remove(StreamId::LOCAL);
        }
    }

    /// What the media is now.
    pub fn local(&self) -> LocalMedia {
        LocalMedia {
            camera: self.camera.as_ref().map(|c| c.device.clone()),
            microphone: self.microphone.as_ref().map(|m| m.device.clone()),
            camera_error: self.camera_error.clone(),
            microphone_error: self.microphone_error.clone(),
            preview: self.camera.as_ref().map(|_| StreamId::LOCAL),
        }
    }
}

/// Copies every buffer `send` takes into every peer's input of `kind`.
fn fan_out(send: &gst_app::AppSink, fanout: &Arc<Fanout>, kind: MediaKind) {
    let fanout = Arc::clone(fanout);
    send.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                if let Some(buffer) = sample.buffer_owned() {
                    match kind {
                        MediaKind::Camera => {
                            Fanout::push(&fanout.video, &buffer, sample.caps_owned().as_ref())
                        }
                        MediaKind::Microphone => Fanout::push(&fanout.audio, &buffer, None),
                    }
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
}

fn open_camera(
    id: Option<&str>,
    format: VideoFormat,
    generation: u64,
    context: &Context,
) -> Result<Source, NativeError> {
    let (element, device) = devices::open(MediaKind::Camera, id, context.fake)?;
    let caps = video_caps(format);
    // The fake camera (tests) draws a quarter of the picture, scaled up
    // pixel by pixel: drawing its moving ball at 720p took as much CPU as
    // encoding it, where a real camera hands its frames over made.
    let (drawn, scale) = if context.fake {
        let full = format.bounded();
        let quarter = |v: u32| (v / 4).max(2) & !1;
        (
            format!(
                "capsfilter caps=\"video/x-raw,width={},height={},framerate={}/1\" ! ",
                quarter(full.width),
                quarter(full.height),
                full.frame_rate
            ),
            "videoscale method=nearest-neighbour",
        )
    } else {
        (String::new(), "videoscale")
    };
    let tail = format!(
        "{drawn}videoconvert ! {scale} ! videorate ! {caps} ! tee name=t \
         t. ! queue leaky=downstream max-size-buffers=2 ! appsink name=send sync=false async=false max-buffers=2 drop=true \
         t. ! {}",
        frames::tail("preview")
    );
    let (pipeline, bin) = assemble("peercall-camera", element, &tail)?;
    fan_out(&appsink(&bin, "send")?, &context.fanout, MediaKind::Camera);
    frames::attach(
        &appsink(&bin, "preview")?,
        StreamId::LOCAL,
        &context.frames,
        || {},
    );
    start(&pipeline, MediaKind::Camera, generation, context)?;
    Ok(Source {
        pipeline,
        device,
        generation,
        volume: None,
        settings: Settings::Camera(format),
    })
}

fn open_microphone(
    id: Option<&str>,
    processing: &AudioProcessing,
    generation: u64,
    context: &Context,
) -> Result<Source, NativeError> {
    let (element, device) = devices::open(MediaKind::Microphone, id, context.fake)?;
    let AudioProcessing {
        echo_cancellation,
        noise_suppression,
        auto_gain,
    } = *processing;
    // A steady test tone is exactly what noise suppression removes.
    let suppress = noise_suppression && !context.fake;
    let tail = format!(
        "audioconvert ! audioresample ! {AUDIO_CAPS} ! \
         webrtcdsp probe={} echo-cancel={echo_cancellation} noise-suppression={suppress} \
         gain-control={auto_gain} ! volume name=volume ! \
         appsink name=send sync=false async=false",
        context.probe
    );
    let (pipeline, bin) = assemble("peercall-microphone", element, &tail)?;
    fan_out(
        &appsink(&bin, "send")?,
        &context.fanout,
        MediaKind::Microphone,
    );
    let volume = bin.by_name("volume");
    start(&pipeline, MediaKind::Microphone, generation, context)?;
    Ok(Source {
        pipeline,
        device,
        generation,
        volume,
        settings: Settings::Microphone(processing.clone()),
    })
}

/// A pipeline of `source` followed by the bin `tail` describes.
fn assemble(
    name: &str,
    source: gst::Element,
    tail: &str,
) -> Result<(gst::Pipeline, gst::Bin), NativeError> {
    let bin = gst::parse::bin_from_description(tail, true)
        .map_err(|e| NativeError::Gst(format!("{name}: {e}")))?;
    let pipeline = gst::Pipeline::with_name(name);
    pipeline
        .add_many([&source, bin.upcast_ref()])
        .and_then(|_| source.link(&bin))
        .map_err(|e| NativeError::Gst(format!("{name}: {e}")))?;
    Ok((pipeline, bin))
}

/// The `appsink` called `name` in `bin`.
pub fn appsink(bin: &gst::Bin, name: &str) -> Result<gst_app::AppSink, NativeError> {
    bin.by_name(name)
        .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
        .ok_or_else(|| NativeError::Gst(format!("no appsink {name}")))
}

/// Plays `pipeline`; a device that can't start is an error with GStreamer's
/// words, and one that fails later is reported through `on_failure`.
fn start(
    pipeline: &gst::Pipeline,
    kind: MediaKind,
    generation: u64,
    context: &Context,
) -> Result<(), NativeError> {
    let bus = pipeline.bus().expect("a pipeline has a bus");
    if pipeline.set_state(gst::State::Playing).is_err() {
        let (fault, reason) = bus
            .pop_filtered(&[gst::MessageType::Error])
            .and_then(|message| match message.view() {
                gst::MessageView::Error(error) => {
                    Some((fault_kind(&error.error()), error.error().to_string()))
                }
                _ => None,
            })
            .unwrap_or_else(|| (DeviceFaultKind::Failed, "it would not start".to_owned()));
        let _ = pipeline.set_state(gst::State::Null);
        return Err(NativeError::Device { fault, reason });
    }
    let on_failure = Arc::clone(&context.on_failure);
    bus.set_sync_handler(move |_, message| {
        if let gst::MessageView::Error(error) = message.view() {
            let fault = DeviceFault {
                kind: fault_kind(&error.error()),
                detail: error.error().to_string(),
            };
            let on_failure = Arc::clone(&on_failure);
            // Never change a pipeline's state from its own streaming thread.
            std::thread::spawn(move || on_failure(kind, generation, fault));
        }
        gst::BusSyncReply::Drop
    });
    Ok(())
}

/// What a source element's error means to the person. Elements say so in
/// GStreamer's resource-error domain: `v4l2src` on a camera another
/// program holds says *busy*, a device the system refuses *not
/// authorized*, one that is gone *not found*.
fn fault_kind(error: &gst::glib::Error) -> DeviceFaultKind {
    match error.kind::<gst::ResourceError>() {
        Some(gst::ResourceError::NotFound) => DeviceFaultKind::Missing,
        Some(gst::ResourceError::Busy) => DeviceFaultKind::Busy,
        Some(gst::ResourceError::NotAuthorized) => DeviceFaultKind::Denied,
        _ => DeviceFaultKind::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_errors_read_as_the_person_is_told() {
        let read = |error| fault_kind(&gst::glib::Error::new(error, "words"));
        assert_eq!(read(gst::ResourceError::Busy), DeviceFaultKind::Busy);
        assert_eq!(read(gst::ResourceError::NotFound), DeviceFaultKind::Missing);
        assert_eq!(
            read(gst::ResourceError::NotAuthorized),
            DeviceFaultKind::Denied
        );
        assert_eq!(read(gst::ResourceError::Read), DeviceFaultKind::Failed);
        let other = gst::glib::Error::new(gst::CoreError::Failed, "words");
        assert_eq!(fault_kind(&other), DeviceFaultKind::Failed);
    }
}
