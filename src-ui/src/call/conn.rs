//! [`Conn`]: one remote person's connection as the session drives it,
//! whichever engine carries it — the browser's `RTCPeerConnection`
//! ([`Peer`]) or the shell's native peer ([`NativePeer`]).
//!
//! The session (rooms, roster, reconnects, `hello`, chat) is written once
//! against this. What differs stays here: local tracks are the browser's
//! concern only (the shell sends its own capture on every native peer), a
//! native peer can't roll back an offer (the session settles glare for it,
//! `native::negotiation`), and their video is a `MediaStream` or a stream of
//! frames from the shell.

use super::chat::PeerMessage;
use super::native::{Frames, NativePeer};
use super::peer::{Incoming, LocalTracks, Peer, PeerStats};
use super::{ConnState, VideoSource};

/// A connection to one remote person (cloning shares it).
#[derive(Clone)]
pub enum Conn {
    /// The browser's own WebRTC.
    Web(Peer),
    /// The shell's native engine.
    Native(NativePeer),
}

impl Conn {
    /// The connection state as shown to people.
    pub fn state(&self) -> ConnState {
        match self {
            Self::Web(peer) => peer.state(),
            Self::Native(peer) => peer.state(),
        }
    }

    /// Whether the chat channel is open.
    pub fn channel_open(&self) -> bool {
        match self {
            Self::Web(peer) => peer.channel_open(),
            Self::Native(peer) => peer.channel_open(),
        }
    }

    /// Sends a data-channel message; `false` when the channel isn't open.
    pub fn send(&self, message: &PeerMessage) -> bool {
        match self {
            Self::Web(peer) => peer.send(message),
            Self::Native(peer) => peer.send(message),
        }
    }

    /// The SDP session id of their description, once known: an offer with
    /// another one comes from a new connection on their side.
    pub fn remote_session(&self) -> Option<String> {
        match self {
            Self::Web(peer) => peer.remote_session(),
            Self::Native(peer) => peer.remote_session(),
        }
    }

    /// Whether this is a native peer whose own offer is unanswered: an
    /// offer arriving now is glare the session must settle (a native peer
    /// can't roll back). Browser peers settle glare themselves.
    pub fn native_offer_pending(&self) -> bool {
        match self {
            Self::Web(_) => false,
            Self::Native(peer) => peer.offer_pending(),
        }
    }

    /// Their description or candidate, handled in arrival order.
    pub fn deliver(&self, message: Incoming) {
        match self {
            Self::Web(peer) => peer.deliver(message),
            Self::Native(peer) => peer.deliver(message),
        }
    }

    /// Our current tracks (browser peers; the shell sends its own capture).
    pub fn set_local(&self, tracks: LocalTracks) {
        if let Self::Web(peer) = self {
            peer.set_local(tracks);
        }
    }

    /// After a failure, or signaling coming back: an ICE restart (browser),
    /// or our unanswered offer again (both).
    pub fn restart(&self) {
        match self {
            Self::Web(peer) => peer.restart(),
            Self::Native(peer) => peer.restart(),
        }
    }

    /// Closes the connection for good.
    pub fn close(&self) {
        match self {
            Self::Web(peer) => peer.close(),
            Self::Native(peer) => peer.close(),
        }
    }

    /// Their video (and, for the browser, audio) as the page shows it.
    pub fn video(&self, frames: Option<&Frames>) -> Option<VideoSource> {
        match self {
            Self::Web(peer) => Some(VideoSource::Stream(peer.remote_stream())),
            Self::Native(peer) => Some(VideoSource::Native {
                stream: peer.video()?,
                frames: frames?.clone(),
            }),
        }
    }

    /// Whether the shell's native engine carries it.
    pub fn is_native(&self) -> bool {
        matches!(self, Self::Native(_))
    }

    /// The browser's connection, when it is one: the in-call tools (quality,
    /// who is talking, screen share, files, the safety code) need the
    /// browser's own WebRTC and are unavailable on a native peer.
    pub fn web(&self) -> Option<Peer> {
        match self {
            Self::Web(peer) => Some(peer.clone()),
            Self::Native(_) => None,
        }
    }

    /// `getStats()` for the debug hook (nothing for a native peer: the
    /// shell's counters stay in the shell).
    pub async fn stats(&self) -> PeerStats {
        match self {
            Self::Web(peer) => peer.stats().await,
            Self::Native(_) => PeerStats::default(),
        }
    }
}
