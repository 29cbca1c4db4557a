//! Building a native peer's pipeline: `webrtcbin` with its send branches
//! (`appsrc` → encoder → payloader, one `sendrecv` transceiver each), its
//! ICE servers, its signals (candidates, connection state, received
//! streams), its bus, and the negotiated chat channel.

use std::sync::Arc;

use gst::prelude::*;
use gst_webrtc::{WebRTCDataChannel, WebRTCSessionDescription};
use peercall_signal::protocol::IceServer;
use peercall_signal::shell::native::{IceCandidate, NativeEvent, PeerState};

use super::super::capture::{AUDIO_CAPS, PEER_VIDEO_CAPS};
use super::super::sdp::{self, PayloadTypes};
use super::super::NativeError;
use super::{Built, Inner, State, CHANNEL_LABEL};

/// Builds and plays the peer's pipeline with `payload` types; answers its
/// `webrtcbin`.
pub(super) fn build(
    inner: &Arc<Inner>,
    state: &mut State,
    payload: PayloadTypes,
) -> Result<gst::Element, NativeError> {
    let gst_error = |e: &dyn std::fmt::Display| NativeError::Gst(format!("peer pipeline: {e}"));
    let pipeline = gst::Pipeline::with_name(&format!("peercall-peer-{}", inner.key.0));
    let webrtc = gst::ElementFactory::make("webrtcbin")
        .name("webrtc")
        .property_from_str("bundle-policy", "max-bundle")
        .property("latency", 100u32)
        .build()
        .map_err(|e| gst_error(&e))?;
    configure_ice(&webrtc, &inner.ice_servers);
    pipeline.add(&webrtc).map_err(|e| gst_error(&e))?;

    let audio_rtp = format!(
        "application/x-rtp,media=audio,encoding-name=OPUS,payload={},clock-rate=48000,encoding-params=(string)2",
        payload.opus
    );
    let video_rtp = format!(
        "application/x-rtp,media=video,encoding-name=VP8,payload={},clock-rate=90000",
        payload.vp8
    );
    let audio = format!(
        "appsrc name=src is-live=true do-timestamp=true format=time leaky-type=downstream max-buffers=5 ! \
         {AUDIO_CAPS} ! queue ! audioconvert ! audioresample ! opusenc bitrate=32000 ! \
         rtpopuspay pt={} ! queue ! capsfilter name=rtp",
        payload.opus
    );
    let video = format!(
        "appsrc name=src is-live=true do-timestamp=true format=time leaky-type=downstream max-buffers=2 ! \
         {PEER_VIDEO_CAPS} ! queue max-size-buffers=2 leaky=downstream ! \
         vp8enc deadline=1 target-bitrate=1000000 keyframe-max-dist=60 ! \
         rtpvp8pay pt={} picture-id-mode=15-bit mtu=1200 ! queue ! capsfilter name=rtp",
        payload.vp8
    );
    let mut sources = Vec::new();
    for (description, rtp_caps) in [(audio, audio_rtp), (video, video_rtp)] {
        let caps: gst::Caps = rtp_caps.parse().map_err(|e| gst_error(&e))?;
        let bin =
            gst::parse::bin_from_description(&description, true).map_err(|e| gst_error(&e))?;
        bin.by_name("rtp")
            .ok_or_else(|| gst_error(&"no rtp capsfilter"))?
            .set_property("caps", &caps);
        pipeline.add(&bin).map_err(|e| gst_error(&e))?;
        let pad = webrtc
            .request_pad_simple("sink_%u")
            .ok_or_else(|| gst_error(&"webrtcbin gave no sink pad"))?;
        bin.static_pad("src")
            .ok_or_else(|| gst_error(&"no src pad"))?
            .link(&pad)
            .map_err(|e| gst_error(&e))?;
        let transceiver = pad.property::<gst_webrtc::WebRTCRTPTransceiver>("transceiver");
        transceiver.set_property(
            "direction",
            gst_webrtc::WebRTCRTPTransceiverDirection::Sendrecv,
        );
        transceiver.set_property("codec-preferences", &caps);
        let src = appsrc(&bin)?;
        sources.push(src);
    }
    connect_signals(inner, &webrtc);
    watch_bus(inner, &pipeline);
    let audio_src = sources.remove(0);
    let video_src = sources.remove(0);

    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| gst_error(&e))?;
    inner.context.fanout.add(inner.key, video_src, audio_src);
    inner.context.playback.play();

    let config = gst::Structure::builder("config")
        .field("negotiated", true)
        .field("id", 0i32)
        .field("ordered", true)
        .build();
    let channel = webrtc.emit_by_name::<Option<WebRTCDataChannel>>(
        "create-data-channel",
        &[&CHANNEL_LABEL, &Some(config)],
    );
    if let Some(channel) = &channel {
        connect_channel(inner, channel);
    }
    state.built = Some(Built {
        pipeline,
        webrtc: webrtc.clone(),
        channel,
    });
    Ok(webrtc)
}

/// Handles the pipeline's messages as they are posted (nothing piles up on
/// its bus): an error is reported to the page, a new latency (a stream
/// added) is applied.
fn watch_bus(inner: &Arc<Inner>, pipeline: &gst::Pipeline) {
    let weak = Arc::downgrade(inner);
    let pipeline_weak = pipeline.downgrade();
    let bus = pipeline.bus().expect("a pipeline has a bus");
    bus.set_sync_handler(move |_, message| {
        match message.view() {
            gst::MessageView::Error(error) => {
                if let Some(inner) = weak.upgrade() {
                    let message = format!("pipeline: {}", error.error());
                    if inner.lock().gone {
                        // Sending to someone who left ("Could not write to
                        // resource"): nothing to tell, the page closes it.
                        tracing::debug!(peer = inner.key.0, %message, "after the person left");
                    } else {
                        inner.error(message);
                    }
                }
            }
            gst::MessageView::Latency(_) => {
                let pipeline = pipeline_weak.clone();
                // Not from the streaming thread that posted it.
                std::thread::spawn(move || {
                    if let Some(pipeline) = pipeline.upgrade() {
                        let _ = pipeline.recalculate_latency();
                    }
                });
            }
            _ => {}
        }
        gst::BusSyncReply::Drop
    });
}

/// STUN and TURN servers from the page's list (webrtcbin takes one STUN
/// server and any number of TURN servers, as URLs with the credentials in
/// them).
fn configure_ice(webrtc: &gst::Element, servers: &[IceServer]) {
    let mut stun_set = false;
    for server in servers {
        for url in &server.urls {
            let (scheme, rest) = match url.split_once(':') {
                Some((scheme, rest)) => {
                    (scheme.to_ascii_lowercase(), rest.trim_start_matches("//"))
                }
                None => continue,
            };
            match scheme.as_str() {
                "stun" if !stun_set => {
                    webrtc.set_property("stun-server", format!("stun://{rest}"));
                    stun_set = true;
                }
                "turn" | "turns" => {
                    let escape = |s: &str| -> String {
                        s.bytes()
                            .map(|b| match b {
                                b'A'..=b'Z'
                                | b'a'..=b'z'
                                | b'0'..=b'9'
                                | b'-'
                                | b'.'
                                | b'_'
                                | b'~' => (b as char).to_string(),
                                _ => format!("%{b:02X}"),
                            })
                            .collect()
                    };
                    let user = escape(server.username.as_deref().unwrap_or_default());
                    let pass = escape(server.credential.as_deref().unwrap_or_default());
                    let url = format!("{scheme}://{user}:{pass}@{rest}");
                    let _ = webrtc.emit_by_name::<bool>("add-turn-server", &[&url]);
                }
                _ => {}
            }
        }
    }
}

fn connect_signals(inner: &Arc<Inner>, webrtc: &gst::Element) {
    let weak = Arc::downgrade(inner);
    webrtc.connect("on-ice-candidate", false, move |values| {
        let inner = weak.upgrade()?;
        let index = values[1].get::<u32>().ok()?;
        let candidate = values[2].get::<String>().ok()?;
        let webrtc = values[0].get::<gst::Element>().ok()?;
        let mid = webrtc
            .property::<Option<WebRTCSessionDescription>>("local-description")
            .and_then(|d| d.sdp().as_text().ok())
            .and_then(|sdp| sdp::mid_of(&sdp, index));
        inner.emit(NativeEvent::LocalCandidate {
            peer: inner.key,
            candidate: IceCandidate {
                candidate,
                sdp_mid: mid,
                sdp_m_line_index: Some(index),
                username_fragment: None,
            },
        });
        None
    });
    let weak = Arc::downgrade(inner);
    webrtc.connect_notify(Some("connection-state"), move |webrtc, _| {
        let Some(inner) = weak.upgrade() else { return };
        use gst_webrtc::WebRTCPeerConnectionState as S;
        let state = match webrtc.property::<S>("connection-state") {
            S::New => PeerState::New,
            S::Connecting => PeerState::Connecting,
            S::Connected => PeerState::Connected,
            S::Disconnected => PeerState::Disconnected,
            S::Failed => PeerState::Failed,
            _ => PeerState::Closed,
        };
        tracing::debug!(peer = inner.key.0, ?state, "connection state");
        inner.emit(NativeEvent::State {
            peer: inner.key,
            state,
        });
    });
    let weak = Arc::downgrade(inner);
    webrtc.connect_pad_added(move |webrtc, pad| {
        let Some(inner) = weak.upgrade() else { return };
        if pad.direction() != gst::PadDirection::Src {
            return;
        }
        tracing::debug!(peer = inner.key.0, pad = %pad.name(), "a stream arrives");
        if let Err(error) = super::super::receive::decode(&inner_receiver(&inner), webrtc, pad) {
            inner.error(error.to_string());
        }
    });
}

/// What the receiving side needs of a peer.
fn inner_receiver(inner: &Arc<Inner>) -> super::super::receive::Receiver {
    let weak = Arc::downgrade(inner);
    let on_error_weak = Arc::downgrade(inner);
    super::super::receive::Receiver {
        on_error: Arc::new(move |message| {
            if let Some(inner) = on_error_weak.upgrade() {
                inner.error(format!("a received stream: {message}"));
            }
        }),
        peer: inner.key,
        stream: inner.context.stream,
        frames: inner.context.frames.clone(),
        playback: Arc::clone(&inner.context.playback),
        on_video: Arc::new(move || {
            if let Some(inner) = weak.upgrade() {
                tracing::debug!(peer = inner.key.0, "first frame of its video");
                inner.emit(NativeEvent::RemoteVideo {
                    peer: inner.key,
                    stream: inner.context.stream,
                });
            }
        }),
    }
}

fn connect_channel(inner: &Arc<Inner>, channel: &WebRTCDataChannel) {
    let weak = Arc::downgrade(inner);
    channel.connect_on_open(move |_| {
        if let Some(inner) = weak.upgrade() {
            inner.emit(NativeEvent::ChannelOpen { peer: inner.key });
        }
    });
    let weak = Arc::downgrade(inner);
    channel.connect_on_close(move |_| {
        if let Some(inner) = weak.upgrade() {
            inner.lock().gone = true;
            inner.emit(NativeEvent::ChannelClosed { peer: inner.key });
        }
    });
    let weak = Arc::downgrade(inner);
    channel.connect_on_message_string(move |_, text| {
        if let (Some(inner), Some(text)) = (weak.upgrade(), text) {
            inner.emit(NativeEvent::ChannelMessage {
                peer: inner.key,
                text: text.to_owned(),
            });
        }
    });
    let weak = Arc::downgrade(inner);
    channel.connect_on_error(move |_, error| {
        if let Some(inner) = weak.upgrade() {
            inner.error(format!("data channel: {error}"));
        }
    });
}

/// The `appsrc` called `src` in `bin`.
fn appsrc(bin: &gst::Bin) -> Result<gst_app::AppSrc, NativeError> {
    bin.by_name("src")
        .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
        .ok_or_else(|| NativeError::Gst("no appsrc".into()))
}
