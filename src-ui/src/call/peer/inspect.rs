//! What the in-call tools read from a connection: its safety code (from
//! both certificates' fingerprints), a statistics reading for the quality
//! panel, and how loud the other person is right now.

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::RtcRtpReceiver;

use super::{stats, Peer};
use crate::call::quality::StatsSample;
use crate::call::{js, safety};

impl Peer {
    /// The connection's safety code, once both descriptions are set.
    pub fn safety_code(&self) -> Option<String> {
        let pc = &self.0.pc;
        let local = pc
            .current_local_description()
            .or_else(|| pc.local_description())?;
        let remote = pc
            .current_remote_description()
            .or_else(|| pc.remote_description())?;
        safety::code_for(&local.sdp(), &remote.sdp())
    }

    /// One reading of the connection's statistics.
    pub async fn stats_sample(&self) -> StatsSample {
        let Ok(report) = JsFuture::from(self.0.pc.get_stats()).await else {
            return StatsSample::default();
        };
        let entries: Vec<_> = stats::report_entries(&report)
            .iter()
            .filter_map(js::to_json)
            .collect();
        StatsSample::from_report(&entries)
    }

    /// The loudest audio arriving on this connection right now, 0..1
    /// (`getSynchronizationSources()`: no `getStats()` needed, cheap enough
    /// to ask several times a second).
    pub fn audio_level(&self) -> f64 {
        let mut loudest = 0.0f64;
        for receiver in js::items::<RtcRtpReceiver>(&self.0.pc.get_receivers()) {
            if receiver.track().kind() != "audio" {
                continue;
            }
            let sources = js::get(&receiver, "getSynchronizationSources")
                .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
                .and_then(|f| f.call0(&receiver).ok())
                .and_then(|a| a.dyn_into::<js_sys::Array>().ok());
            for source in sources.iter().flat_map(|a| a.iter()) {
                loudest = loudest.max(js::get_f64(&source, "audioLevel").unwrap_or(0.0));
            }
        }
        loudest
    }
}
