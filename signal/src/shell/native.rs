//! The native call engine's side of the contract: what the page and the
//! shell say to each other when the shell carries a call's media itself
//! (GStreamer `webrtcbin`, on Linux, where the webview has no
//! `RTCPeerConnection`).
//!
//! The page keeps everything it does for the browser engine — the signaling
//! client, rooms, the roster, who offers, chat and `hello` on the data
//! channel — and hands the shell only what an `RTCPeerConnection` would do:
//! one *native peer* per remote person ([`PeerKey`]), fed remote
//! descriptions and candidates ([`RemoteSignal`]), reporting local ones,
//! connection states and data-channel text as [`NativeEvent`]s; and the
//! local camera and microphone ([`MediaRequest`], [`LocalMedia`]).
//!
//! Video reaches the page as frames over a loopback WebSocket the shell
//! serves ([`FramesEndpoint`]): every binary message is a [`FrameHeader`]
//! followed by the picture in [`FrameHeader::format`]. The URL carries a
//! per-launch secret, so no other local program can read the frames.
//!
//! Serde-only and wasm-safe.

use serde::{Deserialize, Serialize};

use crate::protocol::IceServer;
use crate::settings::AudioProcessing;

use super::MediaKind;

/// Whether the native engine can run here (Settings → About shows why not).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum NativeSupport {
    /// GStreamer and every element the engine needs are present.
    Ready {
        /// GStreamer's version, e.g. `1.22.0`.
        gstreamer: String,
    },
    /// GStreamer is present but these elements are not (with the package
    /// that brings each, e.g. `webrtcbin (gstreamer1.0-plugins-bad)`).
    MissingElements {
        /// What is missing, in words.
        missing: Vec<String>,
    },
    /// GStreamer itself could not start.
    Unavailable {
        /// Why, in words.
        reason: String,
    },
    /// This build has no native engine (Windows and macOS: the webview has
    /// WebRTC).
    NotBuilt,
}

/// A capture device the shell can open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NativeDevice {
    /// Stable id to ask for it by (kept in settings like a browser's
    /// `deviceId`).
    pub id: String,
    /// What people see, e.g. "Integrated Camera".
    pub label: String,
    /// Camera or microphone.
    pub kind: MediaKind,
}

/// Where the page reads video frames: a `ws://127.0.0.1:PORT/PATH` URL whose
/// path holds this launch's secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FramesEndpoint {
    /// The WebSocket URL, secret included.
    pub url: String,
}

/// One video stream the shell draws into the page: the local preview or a
/// remote person's video. Frames carry it in their [`FrameHeader`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StreamId(pub u32);

impl StreamId {
    /// The local camera's preview.
    pub const LOCAL: StreamId = StreamId(0);
}

/// The page's name for one native peer (one remote person's connection),
/// chosen by the page, unique while the shell holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PeerKey(pub u32);

/// The camera picture to capture and send: what the browser engine asks
/// `getUserMedia` for (the settings' resolution and frame rate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VideoFormat {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Frames a second.
    pub frame_rate: u32,
}

impl Default for VideoFormat {
    fn default() -> Self {
        Self {
            width: 640,
            height: 480,
            frame_rate: 30,
        }
    }
}

impl VideoFormat {
    /// The largest picture the engine captures (1080p at 60 frames a second).
    pub const MAX: VideoFormat = VideoFormat {
        width: 1920,
        height: 1080,
        frame_rate: 60,
    };
    /// The smallest.
    pub const MIN: VideoFormat = VideoFormat {
        width: 160,
        height: 120,
        frame_rate: 1,
    };

    /// This format within [`Self::MIN`] and [`Self::MAX`], in even pixels
    /// (what I420 video needs): what the engine captures for any request.
    pub fn bounded(self) -> Self {
        let even = |v: u32, lo: u32, hi: u32| v.clamp(lo, hi) & !1;
        Self {
            width: even(self.width, Self::MIN.width, Self::MAX.width),
            height: even(self.height, Self::MIN.height, Self::MAX.height),
            frame_rate: self
                .frame_rate
                .clamp(Self::MIN.frame_rate, Self::MAX.frame_rate),
        }
    }
}

/// What the local media should be.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MediaRequest {
    /// The camera to use (`None`: the default one).
    pub camera: Option<String>,
    /// The microphone to use (`None`: the default one).
    pub microphone: Option<String>,
    /// Whether to capture video at all (camera on).
    pub video: bool,
    /// Whether to capture audio at all.
    pub audio: bool,
    /// Whether the microphone is muted (capturing, sending silence).
    pub mic_muted: bool,
    /// The camera picture (bounded by [`VideoFormat::bounded`]).
    pub format: VideoFormat,
    /// The microphone's processing (echo cancellation, noise suppression,
    /// gain control), as the browser engine asks `getUserMedia` for it.
    pub processing: AudioProcessing,
}

/// What the local media is now.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LocalMedia {
    /// The camera in use, if video is captured.
    pub camera: Option<NativeDevice>,
    /// The microphone in use, if audio is captured.
    pub microphone: Option<NativeDevice>,
    /// Why the camera is not captured, when it was asked for.
    pub camera_error: Option<DeviceFault>,
    /// Why the microphone is not captured, when it was asked for.
    pub microphone_error: Option<DeviceFault>,
    /// The preview's stream, while video is captured.
    pub preview: Option<StreamId>,
}

/// Why a camera or microphone that was asked for is not captured: it would
/// not open, or it failed while open (pulled out, say).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceFault {
    /// What the person is told.
    pub kind: DeviceFaultKind,
    /// GStreamer's words, for the log.
    pub detail: String,
}

/// What a [`DeviceFault`] means to the person, sorted as a browser sorts
/// `getUserMedia`'s errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceFaultKind {
    /// No such device: none at all, the one chosen is gone, or it was
    /// pulled out while in use.
    Missing,
    /// The system refused access to it.
    Denied,
    /// Another program holds it.
    Busy,
    /// Anything else.
    Failed,
}

/// A session description, as the browser's `RTCSessionDescriptionInit`
/// (the same JSON the signaling protocol carries).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionDescription {
    /// Offer or answer.
    #[serde(rename = "type")]
    pub kind: SdpKind,
    /// The SDP text.
    pub sdp: String,
}

/// Which side of an exchange a description is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SdpKind {
    /// An offer.
    Offer,
    /// An answer.
    Answer,
}

/// A trickled ICE candidate, as the browser's `RTCIceCandidateInit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IceCandidate {
    /// The `candidate:` line (empty: end of candidates).
    pub candidate: String,
    /// The media section's id.
    #[serde(default)]
    pub sdp_mid: Option<String>,
    /// The media section's index.
    #[serde(default)]
    pub sdp_m_line_index: Option<u32>,
    /// The ICE ufrag it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_fragment: Option<String>,
}

/// What the page passes to a native peer from the signaling server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RemoteSignal {
    /// Their offer or answer.
    Description {
        /// The description.
        description: SessionDescription,
    },
    /// One of their candidates.
    Candidate {
        /// The candidate.
        candidate: IceCandidate,
    },
}

/// A native peer connection's state, as `RTCPeerConnection.connectionState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeerState {
    /// Not started.
    New,
    /// ICE/DTLS under way.
    Connecting,
    /// Media can flow.
    Connected,
    /// The path was lost; it may come back.
    Disconnected,
    /// Gave up.
    Failed,
    /// Closed.
    Closed,
}

/// What the shell tells the page, in the answers to
/// [`super::command::NativeEvents`], in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NativeEvent {
    /// A description to send to this peer's person through signaling.
    LocalDescription {
        /// Which peer.
        peer: PeerKey,
        /// The description.
        description: SessionDescription,
    },
    /// A candidate to send to this peer's person through signaling.
    LocalCandidate {
        /// Which peer.
        peer: PeerKey,
        /// The candidate.
        candidate: IceCandidate,
    },
    /// The connection's state changed.
    State {
        /// Which peer.
        peer: PeerKey,
        /// Its state now.
        state: PeerState,
    },
    /// The chat data channel is open (text can be sent).
    ChannelOpen {
        /// Which peer.
        peer: PeerKey,
    },
    /// The chat data channel closed (the person is gone).
    ChannelClosed {
        /// Which peer.
        peer: PeerKey,
    },
    /// A text message arrived on the data channel.
    ChannelMessage {
        /// Which peer.
        peer: PeerKey,
        /// The text, as sent.
        text: String,
    },
    /// This peer's video is being drawn as `stream` (from its first frame).
    RemoteVideo {
        /// Which peer.
        peer: PeerKey,
        /// Its frames' stream.
        stream: StreamId,
    },
    /// The local media changed by itself (a device unplugged or failed).
    LocalChanged {
        /// What it is now.
        media: LocalMedia,
    },
    /// Something failed that the person should hear about.
    Error {
        /// The peer it concerns, if one.
        peer: Option<PeerKey>,
        /// What went wrong, in words.
        message: String,
    },
    /// The engine stopped by itself (its process crashed): every peer and
    /// the local media are gone. The page opens them again.
    EngineStopped,
}

/// What [`super::command::NativeAttach`] answers: where to read video
/// frames, and which attachment to ask for events
/// ([`super::command::NativeEvents`]). Attaching again starts a new
/// attachment and closes every peer and the media of the previous one (a
/// page reload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// Where to read video frames.
    pub frames: FramesEndpoint,
    /// This attachment, for [`EventsArgs`].
    pub events: u32,
}

/// [`super::command::NativeEvents`]'s arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventsArgs {
    /// The attachment ([`Attachment::events`]) the page reads for.
    pub attachment: u32,
}

/// [`super::command::NativePeerOpen`]'s arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerOpenArgs {
    /// The page's name for it.
    pub peer: PeerKey,
    /// STUN/TURN servers to use.
    pub ice_servers: Vec<IceServer>,
    /// Whether this side makes the first offer (with the chat data
    /// channel); otherwise it waits for theirs. The native side never
    /// offers again after that (it has no rollback): renegotiation and ICE
    /// restarts come from the other side.
    pub offer: bool,
}

/// [`super::command::NativePeerSignal`]'s arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerSignalArgs {
    /// Which peer.
    pub peer: PeerKey,
    /// What arrived for it.
    pub signal: RemoteSignal,
}

/// [`super::command::NativePeerSend`]'s arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerSendArgs {
    /// Which peer.
    pub peer: PeerKey,
    /// The text to send on its data channel.
    pub text: String,
}

/// [`super::command::NativePeerClose`]'s arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerCloseArgs {
    /// Which peer.
    pub peer: PeerKey,
}

/// The fixed-size header in front of every frame on the frames WebSocket
/// (little-endian): stream (u32), width (u16), height (u16), format (u8),
/// three reserved zero bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Whose video.
    pub stream: StreamId,
    /// Width in pixels.
    pub width: u16,
    /// Height in pixels.
    pub height: u16,
    /// How the picture after the header is encoded.
    pub format: FrameFormat,
}

/// How a frame's picture is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum FrameFormat {
    /// A JPEG image.
    Jpeg = 1,
    /// Raw RGBA, `width * height * 4` bytes.
    Rgba = 2,
}

/// Why bytes are not a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// Shorter than a header.
    Short,
    /// An unknown format byte.
    Format(u8),
}

impl FrameHeader {
    /// The header's size in bytes.
    pub const LEN: usize = 12;

    /// The header's bytes.
    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        out[0..4].copy_from_slice(&self.stream.0.to_le_bytes());
        out[4..6].copy_from_slice(&self.width.to_le_bytes());
        out[6..8].copy_from_slice(&self.height.to_le_bytes());
        out[8] = self.format as u8;
        out
    }

    /// Splits a frame message into its header and picture.
    pub fn decode(message: &[u8]) -> Result<(Self, &[u8]), FrameError> {
        if message.len() < Self::LEN {
            return Err(FrameError::Short);
        }
        let u16_at = |i: usize| u16::from_le_bytes([message[i], message[i + 1]]);
        let format = match message[8] {
            1 => FrameFormat::Jpeg,
            2 => FrameFormat::Rgba,
            other => return Err(FrameError::Format(other)),
        };
        let header = Self {
            stream: StreamId(u32::from_le_bytes([
                message[0], message[1], message[2], message[3],
            ])),
            width: u16_at(4),
            height: u16_at(6),
            format,
        };
        Ok((header, &message[Self::LEN..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_header_round_trips() {
        let header = FrameHeader {
            stream: StreamId(7),
            width: 640,
            height: 480,
            format: FrameFormat::Jpeg,
        };
        let mut message = header.encode().to_vec();
        message.extend_from_slice(b"jpeg");
        let (back, picture) = FrameHeader::decode(&message).unwrap();
        assert_eq!(back, header);
        assert_eq!(picture, b"jpeg");
        assert_eq!(FrameHeader::decode(&message[..5]), Err(FrameError::Short));
        message[8] = 9;
        assert_eq!(FrameHeader::decode(&message), Err(FrameError::Format(9)));
    }

    #[test]
    fn video_formats_are_bounded_and_even() {
        let asked = VideoFormat {
            width: 1281,
            height: 721,
            frame_rate: 30,
        };
        assert_eq!(
            asked.bounded(),
            VideoFormat {
                width: 1280,
                height: 720,
                frame_rate: 30
            }
        );
        let huge = VideoFormat {
            width: 8000,
            height: 0,
            frame_rate: 500,
        };
        assert_eq!(
            huge.bounded(),
            VideoFormat {
                width: 1920,
                height: 120,
                frame_rate: 60
            }
        );
        assert_eq!(
            VideoFormat {
                frame_rate: 0,
                ..VideoFormat::default()
            }
            .bounded()
            .frame_rate,
            1
        );
    }

    #[test]
    fn descriptions_and_candidates_read_as_the_browser_writes_them() {
        let description: SessionDescription =
            serde_json::from_str(r#"{"type":"offer","sdp":"v=0\r\n"}"#).unwrap();
        assert_eq!(description.kind, SdpKind::Offer);
        let candidate: IceCandidate = serde_json::from_str(
            r#"{"candidate":"candidate:1 1 udp 1 192.0.2.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"abcd"}"#,
        )
        .unwrap();
        assert_eq!(candidate.sdp_mid.as_deref(), Some("0"));
        assert_eq!(candidate.sdp_m_line_index, Some(0));
        let written = serde_json::to_value(&candidate).unwrap();
        assert_eq!(written["sdpMLineIndex"], 0);
    }

    #[test]
    fn events_are_tagged() {
        let event = NativeEvent::ChannelOpen { peer: PeerKey(3) };
        assert_eq!(
            serde_json::to_string(&event).unwrap(),
            r#"{"type":"channel_open","peer":3}"#
        );
    }
}
