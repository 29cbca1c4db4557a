//! What the in-call tools read from the call's connections: a statistics
//! reading per participant (quality panel and badges) and how loud each one
//! is (who is talking).

use super::Session;
use crate::call::quality::StatsSample;

impl Session {
    /// One statistics reading of the connection to participant `key`.
    pub(in crate::call) async fn stats_sample(&self, key: u32) -> Option<StatsSample> {
        let peer = self.roster.by_key(key)?.peer()?.web()?;
        Some(peer.stats_sample().await)
    }

    /// Every connected participant's audio level right now (0..1).
    pub(in crate::call) fn audio_levels(&self) -> Vec<(u32, f64)> {
        if self.ended() {
            return Vec::new();
        }
        self.roster
            .all()
            .iter()
            .filter_map(|slot| Some((slot.key, slot.peer()?.web()?.audio_level())))
            .collect()
    }
}
