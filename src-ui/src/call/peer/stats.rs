//! What the debug hook reads from a connection: `getStats()` summed into
//! [`PeerStats`], and when the first remote video frame was decoded (the
//! "join to first remote frame" figure).

use std::cell::Cell;
use std::rc::Rc;

use gloo::timers::callback::Interval;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{spawn_local, JsFuture};

use super::{Inner, Peer, PeerEvent};
use crate::call::js;

/// How often to look for the first decoded remote video frame.
const FIRST_FRAME_POLL_MS: u32 = 20;

/// Counters and figures for the debug hook.
#[derive(Clone, Debug, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerStats {
    /// `RTCPeerConnection.connectionState`.
    pub connection_state: String,
    /// `RTCPeerConnection.iceConnectionState`.
    pub ice_connection_state: String,
    /// Video frames decoded (inbound-rtp).
    pub frames_decoded: f64,
    /// Video frames received (inbound-rtp).
    pub frames_received: f64,
    /// Audio packets received (inbound-rtp).
    pub audio_packets_received: f64,
    /// Audio samples received (inbound-rtp `totalSamplesReceived`).
    pub audio_samples_received: f64,
    /// Audio energy received (inbound-rtp `totalAudioEnergy`).
    pub audio_energy: f64,
    /// Bytes received over all inbound-rtp streams.
    pub bytes_received: f64,
    /// Video frames received that were key frames (inbound-rtp).
    pub key_frames_decoded: f64,
    /// Picture-loss indications we sent (inbound-rtp `pliCount`).
    pub pli_sent: f64,
    /// Video frames we encoded (outbound-rtp).
    pub frames_encoded: f64,
    /// Key frames we encoded (outbound-rtp).
    pub key_frames_encoded: f64,
    /// Video frames we sent (outbound-rtp).
    pub frames_sent: f64,
    /// Why our video quality is limited (outbound-rtp), if it is.
    pub quality_limitation: String,
    /// Frames our camera track delivered to this connection (media-source).
    pub source_frames: f64,
    /// Local candidates sent to the remote peer.
    pub candidates_sent: u32,
    /// Remote candidates added to this connection.
    pub candidates_added: u32,
    /// ICE restarts started here.
    pub ice_restarts: u32,
    /// Offers that collided with our own (glare), ignored or rolled back.
    pub collisions: u32,
    /// Remote ICE username fragment in use (changes on an ICE restart).
    pub remote_ufrag: String,
    /// `performance.now()` of the first decoded remote video frame.
    pub first_frame_at: Option<f64>,
}

impl Peer {
    /// Reads `getStats()` for the debug hook.
    pub async fn stats(&self) -> PeerStats {
        let inner = &self.0;
        let mut stats = PeerStats {
            connection_state: js::get_string(&inner.pc, "connectionState").unwrap_or_default(),
            ice_connection_state: js::get_string(&inner.pc, "iceConnectionState")
                .unwrap_or_default(),
            candidates_sent: inner.candidates_sent.get(),
            candidates_added: inner.candidates_added.get(),
            ice_restarts: inner.ice_restarts.get(),
            collisions: inner.collisions.get(),
            remote_ufrag: inner
                .pc
                .remote_description()
                .and_then(|d| {
                    d.sdp()
                        .lines()
                        .find_map(|l| l.strip_prefix("a=ice-ufrag:").map(str::to_owned))
                })
                .unwrap_or_default(),
            first_frame_at: inner.first_frame_at.get(),
            ..PeerStats::default()
        };
        let Ok(report) = JsFuture::from(inner.pc.get_stats()).await else {
            return stats;
        };
        for entry in report_entries(&report) {
            let field = |name| js::get_f64(&entry, name).unwrap_or(0.0);
            let kind = js::get_string(&entry, "kind");
            match js::get_string(&entry, "type").as_deref() {
                Some("media-source") if kind.as_deref() == Some("video") => {
                    stats.source_frames += field("frames");
                    continue;
                }
                Some("outbound-rtp") if kind.as_deref() == Some("video") => {
                    stats.quality_limitation =
                        js::get_string(&entry, "qualityLimitationReason").unwrap_or_default();
                    stats.frames_encoded += field("framesEncoded");
                    stats.key_frames_encoded += field("keyFramesEncoded");
                    stats.frames_sent += field("framesSent");
                    continue;
                }
                Some("inbound-rtp") => {}
                _ => continue,
            }
            stats.bytes_received += field("bytesReceived");
            match kind.as_deref() {
                Some("video") => {
                    stats.frames_decoded += field("framesDecoded");
                    stats.frames_received += field("framesReceived");
                    stats.key_frames_decoded += field("keyFramesDecoded");
                    stats.pli_sent += field("pliCount");
                }
                Some("audio") => {
                    stats.audio_packets_received += field("packetsReceived");
                    stats.audio_samples_received += field("totalSamplesReceived");
                    stats.audio_energy += field("totalAudioEnergy");
                }
                _ => {}
            }
        }
        stats
    }
}

/// The values of an `RTCStatsReport` (a JS maplike).
pub(super) fn report_entries(report: &JsValue) -> Vec<JsValue> {
    let Ok(Some(iterator)) = js_sys::try_iter(report) else {
        return Vec::new();
    };
    iterator
        .filter_map(Result::ok)
        .filter_map(|pair| {
            js_sys::Array::from(&pair)
                .get(1)
                .dyn_into::<js_sys::Object>()
                .ok()
        })
        .map(JsValue::from)
        .collect()
}

/// Polls the video receiver's stats until a frame is decoded, then reports
/// it once (the "join to first remote frame" figure).
pub(super) fn watch_first_frame(inner: &Rc<Inner>, receiver: web_sys::RtcRtpReceiver) {
    let weak = Rc::downgrade(inner);
    let busy = Rc::new(Cell::new(false));
    let interval = Interval::new(FIRST_FRAME_POLL_MS, move || {
        if busy.get() {
            return;
        }
        let Some(inner) = weak.upgrade() else { return };
        busy.set(true);
        let receiver = receiver.clone();
        let busy = busy.clone();
        spawn_local(async move {
            if let Ok(report) = JsFuture::from(receiver.get_stats()).await {
                let decoded = report_entries(&report).iter().any(|entry| {
                    js::get_string(entry, "type").as_deref() == Some("inbound-rtp")
                        && js::get_f64(entry, "framesDecoded").unwrap_or(0.0) > 0.0
                });
                if decoded && inner.first_frame_at.get().is_none() && !inner.closed.get() {
                    inner.first_frame_at.set(Some(js::now()));
                    let poll = inner.frame_poll.borrow_mut().take();
                    spawn_local(async move { drop(poll) });
                    (inner.on_event)(PeerEvent::FirstFrame);
                }
            }
            busy.set(false);
        });
    });
    *inner.frame_poll.borrow_mut() = Some(interval);
}
