//! Data channels besides the chat: one per file transfer, *negotiated* on a
//! stream id both ends agreed on over the chat, ordered and reliable.

use web_sys::{RtcDataChannel, RtcDataChannelInit};

use super::Peer;
use crate::call::js;

impl Peer {
    /// Opens the negotiated channel on SCTP stream `stream` (binary
    /// messages arrive as `ArrayBuffer`s); `None` when the connection is
    /// closed.
    pub fn open_channel(&self, stream: u16, label: &str) -> Option<RtcDataChannel> {
        if self.0.closed.get() {
            return None;
        }
        let init = RtcDataChannelInit::new();
        init.set_negotiated(true);
        init.set_id(stream);
        init.set_ordered(true);
        let channel = self
            .0
            .pc
            .create_data_channel_with_data_channel_dict(label, &init);
        js::set(&channel, "binaryType", "arraybuffer");
        Some(channel)
    }

    /// Whether this end is the polite one (the two ends differ), which
    /// picks the parity of the stream ids its transfers use.
    pub fn polite(&self) -> bool {
        self.0.polite
    }
}
