//! What peers say to each other directly, on each connection's
//! `RTCDataChannel` (never through the server): chat lines, mute state, who
//! they are now (their current signaling id, which changes whenever they
//! reconnect to the server), screen sharing, file offers, and goodbye.

use peercall_signal::protocol::PeerId;
use serde::{Deserialize, Serialize};

/// Longest chat line sent or accepted, in characters.
pub const MAX_CHAT_CHARS: usize = 2_000;

/// The data channel's label (it is negotiated out of band, with id 0).
pub const CHANNEL_LABEL: &str = "peercall";

/// One message on the data channel, JSON in a text frame.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PeerMessage {
    /// Sent when the channel opens and after every reconnect to the server:
    /// who the sender is and how its devices are.
    Hello {
        /// The sender's current signaling id (`None` while it is offline).
        #[serde(default)]
        id: Option<PeerId>,
        /// Display name.
        name: String,
        /// Microphone muted (or missing).
        audio_muted: bool,
        /// Camera off (or missing).
        video_muted: bool,
        /// The sender's side of the connection is the shell's native
        /// engine (absent from senders before it was said: a browser).
        #[serde(default)]
        native: bool,
    },
    /// Nothing to say: the sender is still there (between two native
    /// engines, which can't tell a connection that lost its network from
    /// a quiet one; see `session/liveness.rs`).
    Alive,
    /// A chat line.
    Chat {
        /// The text.
        text: String,
    },
    /// Mute state changed.
    Media {
        /// Microphone muted (or missing).
        audio_muted: bool,
        /// Camera off (or missing).
        video_muted: bool,
    },
    /// The sender hung up: drop the connection now rather than waiting for
    /// it to time out.
    Bye,
    /// The sender started or stopped sharing a screen; `stream` is the id
    /// of the stream its track arrives in (apart from the camera's).
    Screen {
        /// Sharing now.
        sharing: bool,
        /// The screen's stream id (`msid`), while sharing.
        #[serde(default)]
        stream: Option<String>,
    },
    /// The sender offers a file (see `transfer`).
    FileOffer {
        /// The sender's number for it on this connection.
        id: u32,
        /// Its name.
        name: String,
        /// Its size in bytes.
        size: u64,
        /// Its SHA-256, hex.
        sha256: String,
        /// The negotiated data channel's stream id it will come on.
        stream: u16,
    },
    /// The receiver takes the file (its channel is open) or not.
    FileAnswer {
        /// The sender's number for it.
        id: u32,
        /// Accepted.
        accept: bool,
    },
    /// Either side stops a transfer.
    FileCancel {
        /// The sender's number for it.
        id: u32,
        /// Said by the sender (else by the receiver).
        from_sender: bool,
    },
    /// The receiver has stored this many bytes of the file (the sender
    /// stays within a window of it).
    FileAck {
        /// The sender's number for it.
        id: u32,
        /// Bytes stored.
        bytes: u64,
    },
    /// The receiver has every byte and checked the hash.
    FileResult {
        /// The sender's number for it.
        id: u32,
        /// The hash matched.
        ok: bool,
    },
}

impl PeerMessage {
    /// Parses a frame; `None` for anything malformed.
    pub fn parse(text: &str) -> Option<Self> {
        let message: Self = serde_json::from_str(text).ok()?;
        match &message {
            Self::Chat { text } if text.trim().is_empty() => None,
            Self::Chat { text } if text.chars().count() > MAX_CHAT_CHARS => None,
            _ => Some(message),
        }
    }

    /// The frame to send.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A line in the chat panel.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatLine {
    /// Order of arrival.
    pub seq: u64,
    /// The sender's participant key, `None` for our own lines.
    pub from: Option<u32>,
    /// The sender's name when it was said.
    pub name: String,
    /// The text.
    pub text: String,
    /// When it arrived (`Date.now()`, ms).
    pub at: f64,
}

/// Trims `text` and cuts it to [`MAX_CHAT_CHARS`]; `None` when empty.
pub fn clean(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.chars().take(MAX_CHAT_CHARS).collect())
}
