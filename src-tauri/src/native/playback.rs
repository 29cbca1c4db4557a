//! Remote people's audio, played by GStreamer: one pipeline mixing every
//! peer's decoded audio, through the `webrtcechoprobe` the microphone's
//! `webrtcdsp` cancels echo against, into `autoaudiosink` (a `fakesink`
//! clocked like a sound card where no audio output works, e.g. a headless
//! test machine). A silent live source keeps the mixer running while
//! nobody speaks. It plays while at least one peer is open.

use std::collections::HashMap;
use std::sync::Mutex;

use gst::prelude::*;
use peercall_signal::shell::native::PeerKey;

use super::NativeError;

/// What every input of the mixer carries.
pub const PLAY_CAPS: &str = "audio/x-raw,format=S16LE,rate=48000,channels=2,layout=interleaved";

/// The playback pipeline.
pub struct Playback {
    pipeline: gst::Pipeline,
    /// The bin holding the mixer, where inputs go (pads link only within
    /// one bin).
    bin: gst::Bin,
    mixer: gst::Element,
    probe: String,
    inputs: Mutex<HashMap<PeerKey, Input>>,
}

struct Input {
    src: gst_app::AppSrc,
    queue: gst::Element,
    pad: gst::Pad,
}

impl Playback {
    /// Builds it (not playing yet); its echo probe is named `probe`.
    pub fn new(probe: &str) -> Result<Self, NativeError> {
        let gst_error = |e: &dyn std::fmt::Display| NativeError::Gst(format!("playback: {e}"));
        let description = format!(
            "audiotestsrc is-live=true wave=silence ! {PLAY_CAPS} ! audiomixer name=mix ! \
             audioconvert ! audioresample ! {PLAY_CAPS} ! webrtcechoprobe name={probe} ! queue"
        );
        let bin =
            gst::parse::bin_from_description(&description, true).map_err(|e| gst_error(&e))?;
        let pipeline = gst::Pipeline::with_name("peercall-playback");
        let sink = audio_sink()?;
        pipeline
            .add_many([bin.upcast_ref(), &sink])
            .and_then(|_| bin.link(&sink))
            .map_err(|e| gst_error(&e))?;
        let mixer = bin.by_name("mix").ok_or_else(|| gst_error(&"no mixer"))?;
        // Nothing piles up on the bus; an input added changes the latency.
        let weak = pipeline.downgrade();
        pipeline
            .bus()
            .expect("a pipeline has a bus")
            .set_sync_handler(move |_, message| {
                match message.view() {
                    gst::MessageView::Latency(_) => {
                        let weak = weak.clone();
                        std::thread::spawn(move || {
                            if let Some(pipeline) = weak.upgrade() {
                                let _ = pipeline.recalculate_latency();
                            }
                        });
                    }
                    gst::MessageView::Error(error) => {
                        tracing::warn!(error = %error.error(), "native engine: audio playback");
                    }
                    _ => {}
                }
                gst::BusSyncReply::Drop
            });
        Ok(Self {
            pipeline,
            bin,
            mixer,
            probe: probe.to_owned(),
            inputs: Mutex::new(HashMap::new()),
        })
    }

    /// The echo probe's name.
    pub fn probe(&self) -> &str {
        &self.probe
    }

    /// Starts playing (nothing happens if it plays already).
    pub fn play(&self) {
        let _ = self.pipeline.set_state(gst::State::Playing);
    }

    /// Stops playing and drops every input.
    pub fn stop(&self) {
        let peers: Vec<PeerKey> = self
            .inputs
            .lock()
            .map(|inputs| inputs.keys().copied().collect())
            .unwrap_or_default();
        for peer in peers {
            self.remove(peer);
        }
        let _ = self.pipeline.set_state(gst::State::Null);
    }

    /// `peer`'s input (made on first use): decoded audio in [`PLAY_CAPS`],
    /// any timestamps (it stamps on arrival).
    pub fn input(&self, peer: PeerKey) -> Result<gst_app::AppSrc, NativeError> {
        let mut inputs = self
            .inputs
            .lock()
            .map_err(|_| NativeError::Gst("playback lock".into()))?;
        if let Some(input) = inputs.get(&peer) {
            return Ok(input.src.clone());
        }
        let gst_error =
            |e: &dyn std::fmt::Display| NativeError::Gst(format!("playback input: {e}"));
        let caps: gst::Caps = PLAY_CAPS.parse().map_err(|e| gst_error(&e))?;
        let src = gst_app::AppSrc::builder()
            .is_live(true)
            .do_timestamp(true)
            .format(gst::Format::Time)
            .caps(&caps)
            .build();
        let queue = gst::ElementFactory::make("queue")
            .property_from_str("leaky", "downstream")
            .property("max-size-time", 200_000_000u64)
            .build()
            .map_err(|e| gst_error(&e))?;
        self.bin
            .add_many([src.upcast_ref(), &queue])
            .and_then(|_| src.link(&queue))
            .map_err(|e| gst_error(&e))?;
        let pad = self
            .mixer
            .request_pad_simple("sink_%u")
            .ok_or_else(|| gst_error(&"no mixer pad"))?;
        queue
            .static_pad("src")
            .expect("a queue has a src pad")
            .link(&pad)
            .map_err(|e| gst_error(&e))?;
        let _ = src.sync_state_with_parent();
        let _ = queue.sync_state_with_parent();
        inputs.insert(
            peer,
            Input {
                src: src.clone(),
                queue,
                pad,
            },
        );
        Ok(src)
    }

    /// Drops `peer`'s input.
    pub fn remove(&self, peer: PeerKey) {
        let Some(input) = self.inputs.lock().ok().and_then(|mut i| i.remove(&peer)) else {
            return;
        };
        let _ = input.src.set_state(gst::State::Null);
        let _ = input.queue.set_state(gst::State::Null);
        let _ = self.bin.remove_many([input.src.upcast_ref(), &input.queue]);
        self.mixer.release_request_pad(&input.pad);
    }
}

impl Drop for Playback {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// `autoaudiosink` if it can open an output; otherwise a `fakesink` that
/// runs at the clock's pace.
fn audio_sink() -> Result<gst::Element, NativeError> {
    if let Ok(sink) = gst::ElementFactory::make("autoaudiosink").build() {
        if sink.set_state(gst::State::Ready).is_ok() {
            let _ = sink.set_state(gst::State::Null);
            return Ok(sink);
        }
        let _ = sink.set_state(gst::State::Null);
    }
    tracing::warn!("no audio output works: remote audio is decoded but not played");
    gst::ElementFactory::make("fakesink")
        .property("sync", true)
        .build()
        .map_err(|e| NativeError::Gst(format!("fakesink: {e}")))
}
