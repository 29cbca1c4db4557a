//! File transfer, peer to peer: never through the server.
//!
//! The sender hashes the file (SHA-256, in slices), then offers it on the
//! chat channel (`PeerMessage::FileOffer`: name, size, hash, and the SCTP
//! stream its own data channel will use). The receiver accepts or declines
//! (`FileAnswer`); on accepting it opens that *negotiated* ordered data
//! channel first, so nothing sent on it can arrive before it exists. The
//! sender then reads the file in slices and sends it in chunks, waiting
//! whenever the channel's `bufferedAmount` is high (`bufferedamountlow`), so
//! neither side ever holds more than a few MiB of it. The receiver hashes as
//! it goes and writes to disk as it goes (in the app, the shell writes into
//! the Downloads folder; in a tab, the origin-private file system, or a
//! `Blob` where there is none), tells the sender what it stored
//! (`FileAck`: the sender stays within [`WINDOW`] of it), checks the hash
//! when the last byte arrives, says so (`FileResult`), and downloads the
//! file. Either side may cancel (`FileCancel`); a participant leaving ends
//! their transfers.
//!
//! - [`send`]: the sender's side; [`receive`]: the receiver's, writing
//!   through a `write_queue` (one write at a time, in order) to an
//!   `opfs` scratch file or a `shell_file` in the Downloads folder.
//! - This file: the words both sides and the page share ([`TransferView`],
//!   [`TransferState`]), the rules for what an offer may say, and the
//!   progress figures (rate, time left), pure and tested.

use std::fmt::Write;

mod opfs;
pub mod receive;
pub mod send;
mod shell_file;
mod write_queue;

/// Bytes per data-channel message: Chromium and Firefox take 256 KiB
/// (the SCTP transport's limit); fewer, larger messages cost less per byte.
pub const CHUNK: u32 = 256 * 1024;
/// Bytes read from the file at once.
pub const SLICE: u32 = 1024 * 1024;
/// The sender stops queueing above this many buffered bytes (Chromium
/// closes a channel whose buffer would pass 16 MiB)...
pub const HIGH_WATER: u32 = 8 * 1024 * 1024;
/// ...and goes on when the buffer drains below this.
pub const LOW_WATER: u32 = 2 * 1024 * 1024;
/// The sender stays at most this many bytes ahead of what the receiver
/// acknowledged as stored (`PeerMessage::FileAck`).
pub const WINDOW: u64 = 16 * 1024 * 1024;
/// The receiver folds its parts into one `Blob` every this many bytes.
pub const FOLD_EVERY: u64 = 16 * 1024 * 1024;
/// Longest file name accepted, in characters.
pub const MAX_NAME: usize = 255;
/// Largest file accepted (1 TiB).
pub const MAX_SIZE: u64 = 1 << 40;
/// Data-channel stream ids for transfers: 1 ..= this (0 is the chat).
pub const MAX_STREAM: u16 = 1000;

/// Which transfer (unique in the page).
pub type TransferId = u64;

/// Where a transfer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransferState {
    /// Sender: reading the file to compute its hash.
    Preparing,
    /// Offered, waiting for the receiver's answer.
    Offered,
    /// Bytes are moving.
    Moving,
    /// Sender: everything sent, waiting for the receiver's check.
    Checking,
    /// Arrived whole (hash checked).
    Done,
    /// The receiver said no.
    Declined,
    /// Cancelled, by us (`true`) or by them.
    Cancelled(bool),
    /// The other person left the call.
    PeerLeft,
    /// What arrived does not match the hash the sender announced.
    Corrupt,
    /// The data channel failed or the file could not be read.
    Failed,
}

impl TransferState {
    /// Over, one way or another.
    pub fn finished(self) -> bool {
        !matches!(
            self,
            Self::Preparing | Self::Offered | Self::Moving | Self::Checking
        )
    }

    /// Stable name for `data-state`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Preparing => "preparing",
            Self::Offered => "offered",
            Self::Moving => "moving",
            Self::Checking => "checking",
            Self::Done => "done",
            Self::Declined => "declined",
            Self::Cancelled(true) => "cancelled",
            Self::Cancelled(false) => "cancelled-by-them",
            Self::PeerLeft => "peer-left",
            Self::Corrupt => "corrupt",
            Self::Failed => "failed",
        }
    }
}

/// A transfer as the page shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct TransferView {
    /// Which.
    pub id: TransferId,
    /// The other person's key.
    pub peer: u32,
    /// Their name.
    pub peer_name: String,
    /// They send it to us.
    pub incoming: bool,
    /// The file's name.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Bytes sent (or hashed, while preparing) or received so far.
    pub bytes: u64,
    /// Bytes per second lately.
    pub rate: f64,
    /// Where it is.
    pub state: TransferState,
}

impl TransferView {
    /// Seconds left at the current rate.
    pub fn seconds_left(&self) -> Option<f64> {
        (self.rate > 0.0 && self.bytes < self.size)
            .then(|| (self.size - self.bytes) as f64 / self.rate)
    }
}

/// What an offer from the network may say; `None` for anything else.
pub fn check_offer(name: &str, size: u64, sha256: &str, stream: u16) -> Option<String> {
    let hash_ok = sha256.len() == 64 && sha256.bytes().all(|c| c.is_ascii_hexdigit());
    let stream_ok = (1..=MAX_STREAM).contains(&stream);
    (hash_ok && stream_ok && size <= MAX_SIZE).then(|| clean_name(name))
}

/// A file name safe to save: no folders, no control characters, not empty,
/// at most [`MAX_NAME`] characters.
pub fn clean_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME)
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').to_owned();
    if cleaned.is_empty() {
        "file".to_owned()
    } else {
        cleaned
    }
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// A smoothed rate: `bytes` more moved in `seconds`.
pub fn smooth_rate(previous: f64, bytes: u64, seconds: f64) -> f64 {
    if seconds <= 0.0 {
        return previous;
    }
    let now = bytes as f64 / seconds;
    if previous <= 0.0 {
        now
    } else {
        previous * 0.6 + now * 0.4
    }
}

/// The stream id of our `n`-th transfer on a connection: the two ends use
/// different parities (their politeness differs), so theirs never collide.
pub fn stream_for(n: u32, polite: bool) -> u16 {
    let slots = u32::from(MAX_STREAM / 2);
    (1 + (n % slots) * 2 + u32::from(polite)) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offers_are_checked() {
        let hash = "a".repeat(64);
        assert_eq!(check_offer("a.txt", 10, &hash, 3).as_deref(), Some("a.txt"));
        assert_eq!(check_offer("a.txt", 10, "abc", 3), None);
        assert_eq!(check_offer("a.txt", 10, &"g".repeat(64), 3), None);
        assert_eq!(check_offer("a.txt", 10, &hash, 0), None, "0 is the chat");
        assert_eq!(check_offer("a.txt", MAX_SIZE + 1, &hash, 3), None);
    }

    #[test]
    fn names_lose_folders_and_control_characters() {
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("C:\\Users\\x\\report.pdf"), "report.pdf");
        assert_eq!(clean_name("a\u{0}b\nc.txt"), "abc.txt");
        assert_eq!(clean_name(".bashrc"), "bashrc");
        assert_eq!(clean_name("  "), "file");
        assert_eq!(clean_name(&"x".repeat(400)).chars().count(), MAX_NAME);
    }

    #[test]
    fn streams_of_the_two_ends_never_collide() {
        for n in 0..2_000 {
            let (a, b) = (stream_for(n, false), stream_for(n, true));
            assert!(a % 2 == 1 && b % 2 == 0, "{a} {b}");
            assert!((1..=MAX_STREAM).contains(&a) && (1..=MAX_STREAM).contains(&b));
        }
    }

    #[test]
    fn progress_figures() {
        let rate = smooth_rate(0.0, 10_000_000, 1.0);
        assert_eq!(rate, 10_000_000.0);
        assert_eq!(smooth_rate(rate, 0, 0.0), rate);
        let view = TransferView {
            id: 1,
            peer: 1,
            peer_name: String::new(),
            incoming: false,
            name: "f".into(),
            size: 100_000_000,
            bytes: 50_000_000,
            rate,
            state: TransferState::Moving,
        };
        assert_eq!(view.seconds_left(), Some(5.0));
        assert_eq!(hex(&[0, 15, 255]), "000fff");
        assert!(TransferState::Cancelled(false).finished() && !TransferState::Moving.finished());
    }
}
