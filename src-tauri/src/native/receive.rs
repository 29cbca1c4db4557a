//! What a native peer receives: each stream `webrtcbin` adds is decoded by
//! a `decodebin` of its own; video goes to the frames server as the peer's
//! [`StreamId`] (the first frame announces it), audio to the playback
//! mixer.

use std::sync::Arc;

use gst::glib;
use gst::prelude::*;
use peercall_signal::shell::native::{PeerKey, StreamId};

use super::capture::appsink;
use super::playback::{Playback, PLAY_CAPS};
use super::{frames, NativeError};

/// Where a peer's received media goes.
#[derive(Clone)]
pub struct Receiver {
    /// Whose.
    pub peer: PeerKey,
    /// Its video's stream.
    pub stream: StreamId,
    /// Where video goes.
    pub frames: frames::Frames,
    /// Where audio goes.
    pub playback: Arc<Playback>,
    /// Called on the first frame of each video stream.
    pub on_video: Arc<dyn Fn() + Send + Sync>,
    /// Called when a stream can't be played.
    pub on_error: Arc<dyn Fn(String) + Send + Sync>,
}

/// Links `pad` to a `fakesink`.
fn discard(parent: &gst::Bin, pad: &gst::Pad) -> Result<(), glib::BoolError> {
    let sink = gst::ElementFactory::make("fakesink")
        .property("sync", false)
        .property("async", false)
        .build()?;
    parent.add(&sink)?;
    sink.sync_state_with_parent()?;
    pad.link(&sink.static_pad("sink").expect("a sink pad"))
        .map_err(|e| glib::bool_error!("{e:?}"))?;
    Ok(())
}

/// Decodes what arrives on `pad` (a `webrtcbin` src pad).
pub fn decode(
    receiver: &Receiver,
    webrtc: &gst::Element,
    pad: &gst::Pad,
) -> Result<(), NativeError> {
    let gst_error = |e: &dyn std::fmt::Display| NativeError::Gst(format!("receiving: {e}"));
    let parent = webrtc
        .parent()
        .and_then(|p| p.downcast::<gst::Bin>().ok())
        .ok_or_else(|| gst_error(&"webrtcbin has no pipeline"))?;
    let decodebin = gst::ElementFactory::make("decodebin")
        .build()
        .map_err(|e| gst_error(&e))?;
    parent.add(&decodebin).map_err(|e| gst_error(&e))?;
    let receiver = receiver.clone();
    let bin = parent.downgrade();
    decodebin.connect_pad_added(move |_, pad| {
        let Some(parent) = bin.upgrade() else { return };
        if let Err(error) = play(&receiver, &parent, pad) {
            (receiver.on_error)(error.to_string());
            // An unlinked pad would stop the whole peer: discard it instead.
            let _ = discard(&parent, pad);
        }
    });
    decodebin
        .sync_state_with_parent()
        .map_err(|e| gst_error(&e))?;
    let sink = decodebin
        .static_pad("sink")
        .expect("decodebin has a sink pad");
    pad.link(&sink).map_err(|e| gst_error(&e))?;
    Ok(())
}

/// Links a decoded stream to its destination.
fn play(receiver: &Receiver, parent: &gst::Bin, pad: &gst::Pad) -> Result<(), NativeError> {
    let gst_error = |e: &dyn std::fmt::Display| NativeError::Gst(format!("receiving: {e}"));
    let caps = pad.current_caps().or_else(|| Some(pad.query_caps(None)));
    let name = caps
        .as_ref()
        .and_then(|c| c.structure(0).map(|s| s.name().to_string()))
        .unwrap_or_default();
    tracing::debug!(peer = receiver.peer.0, %name, "a stream decodes");
    let description = if name.starts_with("video/") {
        frames::tail("frames")
    } else if name.starts_with("audio/") {
        format!("queue ! audioconvert ! audioresample ! {PLAY_CAPS} ! appsink name=audio sync=false async=false")
    } else {
        return Ok(());
    };
    let bin = gst::parse::bin_from_description(&description, true).map_err(|e| gst_error(&e))?;
    if name.starts_with("video/") {
        let on_video = Arc::clone(&receiver.on_video);
        frames::attach(
            &appsink(&bin, "frames")?,
            receiver.stream,
            &receiver.frames,
            move || on_video(),
        );
    } else {
        let input = receiver.playback.input(receiver.peer)?;
        appsink(&bin, "audio")?.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    if let Some(buffer) = sample.buffer() {
                        let mut copy = buffer.copy();
                        if let Some(copy) = copy.get_mut() {
                            copy.set_pts(gst::ClockTime::NONE);
                            copy.set_dts(gst::ClockTime::NONE);
                        }
                        let _ = input.push_buffer(copy);
                    }
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
    }
    parent.add(&bin).map_err(|e| gst_error(&e))?;
    bin.sync_state_with_parent().map_err(|e| gst_error(&e))?;
    let sink = bin
        .static_pad("sink")
        .ok_or_else(|| gst_error(&"no sink pad"))?;
    pad.link(&sink).map_err(|e| gst_error(&e))?;
    Ok(())
}
