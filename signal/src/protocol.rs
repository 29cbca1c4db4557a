//! The signaling wire protocol: every message either side sends, as serde types.
//!
//! This module is shared verbatim by the server and the Yew UI, so it depends on
//! nothing but `serde` and `serde_json` and compiles for `wasm32-unknown-unknown`
//! with the crate's default features off.
//!
//! # Framing
//!
//! Every message is one JSON object in one WebSocket **text** frame, tagged by a
//! `"type"` field in `snake_case` (`{"type":"join_room",...}`).
//! Each key appears once: a message repeating a top-level key (`"to"`
//! twice, `"type"` twice) is refused with [`ErrorCode::DuplicateKey`] rather
//! than read one way or the other.
//!
//! # Conversation
//!
//! 1. On connect the server sends [`ServerMessage::Join`], the *welcome*: the
//!    client's [`PeerId`], the server's [`PROTOCOL_VERSION`] and the ICE servers
//!    to use. A client may answer with [`ClientMessage::Hello`] to state the
//!    version it speaks; a mismatch is answered with [`ErrorCode::VersionMismatch`].
//! 2. Rooms: [`ClientMessage::JoinRoom`] → [`ServerMessage::RoomJoined`] for the
//!    joiner and [`ServerMessage::PeerJoined`] for everyone already there;
//!    leaving (or disconnecting) sends [`ServerMessage::PeerLeft`].
//! 3. Direct calls by id: [`ClientMessage::Call`] rings the callee
//!    ([`ServerMessage::Ring`], with the caller's name); while it rings the
//!    callee's client tells the caller its own name ([`ClientMessage::Ringing`]
//!    → [`ServerMessage::Ringing`]), and it answers with
//!    [`ClientMessage::Accept`] or [`ClientMessage::Decline`] (again with its
//!    name); either side ends it with [`ClientMessage::HangUp`].
//! 4. WebRTC negotiation: offers, answers and ICE candidates are relayed to a
//!    peer in the same room or to a direct-call partner, with `"from"` added.
//!    SDP and candidates are opaque [`serde_json::Value`]s, forwarded untouched.
//!
//! # Compatibility with the original demo
//!
//! A client written for the demo this product grew from works unmodified: the
//! welcome's type is exactly `"join"` with an `"id"`, and relay messages may
//! omit `"to"`, in which case they go to the peer the sender is negotiating
//! with (the last peer it exchanged an offer or answer with). Two peers that are
//! both outside any room may signal each other by id, as the demo has no rooms.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

mod parse;

#[cfg(feature = "server")]
pub(crate) use parse::quoted;
pub use parse::MAX_ERROR_MESSAGE_CHARS;

/// The protocol version this build speaks. Bumped on any incompatible change.
pub const PROTOCOL_VERSION: u32 = 1;

/// Longest room name, in characters (Unicode scalar values), the default
/// server accepts.
pub const MAX_ROOM_NAME_CHARS: usize = 64;

/// Longest display name, in characters (Unicode scalar values), the default
/// server accepts.
pub const MAX_DISPLAY_NAME_CHARS: usize = 64;

/// Longest room password, in bytes, the server accepts.
pub const MAX_PASSWORD_BYTES: usize = 256;

/// A peer's identifier, assigned by the server in the welcome.
///
/// Server-assigned ids are random and unguessable (they are what lets one
/// peer call another directly), drawn from a readable alphabet without
/// look-alike characters. On the wire it is a plain JSON string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PeerId(String);

impl PeerId {
    /// Wraps a string as a peer id (the server makes the random ones).
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Unwraps the id into its text.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for PeerId {
    fn from(id: String) -> Self {
        Self(id)
    }
}

impl From<&str> for PeerId {
    fn from(id: &str) -> Self {
        Self(id.to_owned())
    }
}

impl AsRef<str> for PeerId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A room member as others see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The member's peer id, usable as `to` in relay messages.
    pub id: PeerId,
    /// The display name it joined with.
    pub name: String,
}

/// One ICE server entry, shaped like WebRTC's `RTCIceServer` so the UI can pass
/// it straight into an `RTCPeerConnection` configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    /// `stun:`, `turn:` or `turns:` URLs.
    pub urls: Vec<String>,
    /// TURN username; absent for STUN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// TURN credential; absent for STUN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// Everything a client may send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// States the protocol version the client speaks. Optional; a mismatch is
    /// answered with [`ErrorCode::VersionMismatch`].
    Hello {
        /// The client's [`PROTOCOL_VERSION`].
        version: u32,
    },
    /// Joins (or creates) a room.
    JoinRoom {
        /// Room name; see [`validate_room_name`].
        room: String,
        /// Display name shown to the other members; see [`validate_display_name`].
        name: String,
        /// Password. The first member sets it; later joiners must give the
        /// same one. Absent and empty both mean "no password".
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password: Option<String>,
    },
    /// Leaves the current room.
    LeaveRoom,
    /// Asks whether `room` could be joined with `password`, without joining
    /// (nobody in the room hears of it). Answered with
    /// [`ServerMessage::RoomStatus`], or an error: [`ErrorCode::RoomFull`],
    /// [`ErrorCode::WrongPassword`] or [`ErrorCode::InvalidRoom`].
    CheckRoom {
        /// Room name; see [`validate_room_name`].
        room: String,
        /// The password that would be given to `join_room`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password: Option<String>,
    },
    /// A WebRTC offer for `to` (or, without `to`, for the negotiation partner).
    Offer {
        /// Recipient.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<PeerId>,
        /// The session description, forwarded untouched.
        offer: Value,
    },
    /// A WebRTC answer for `to` (or, without `to`, for the negotiation partner).
    Answer {
        /// Recipient.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<PeerId>,
        /// The session description, forwarded untouched.
        answer: Value,
    },
    /// An ICE candidate for `to` (or, without `to`, for the negotiation partner).
    Candidate {
        /// Recipient.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<PeerId>,
        /// The candidate (may be `null` for end-of-candidates), forwarded untouched.
        candidate: Value,
    },
    /// Rings `to` for a direct call.
    Call {
        /// The callee.
        to: PeerId,
        /// The caller's display name, shown on the callee's ring.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// The callee's answer to a [`ServerMessage::Ring`] while it rings: its
    /// display name, so the caller sees whom it is calling (names travel
    /// with the ring both ways). Only accepted while `to` rings the sender.
    Ringing {
        /// The caller.
        to: PeerId,
        /// The callee's display name.
        name: String,
    },
    /// Accepts a ringing call from `to`; the two become direct-call partners.
    Accept {
        /// The caller.
        to: PeerId,
        /// The callee's display name, shown to the caller.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// Declines a ringing call from `to`.
    Decline {
        /// The caller.
        to: PeerId,
        /// The callee's display name, shown to the caller.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// Ends a direct call with `to`, or cancels a call still ringing.
    HangUp {
        /// The other side.
        to: PeerId,
    },
    /// Announces the sender's mute state to its room and call partners.
    MediaState {
        /// Whether the microphone is muted.
        audio_muted: bool,
        /// Whether the camera is off.
        video_muted: bool,
    },
}

impl ClientMessage {
    /// Every `"type"` a client may send, in declaration order.
    pub const TYPES: &'static [&'static str] = &[
        "hello",
        "join_room",
        "leave_room",
        "check_room",
        "offer",
        "answer",
        "candidate",
        "call",
        "ringing",
        "accept",
        "decline",
        "hang_up",
        "media_state",
    ];

    /// The message's `"type"` string.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Hello { .. } => "hello",
            Self::JoinRoom { .. } => "join_room",
            Self::LeaveRoom => "leave_room",
            Self::CheckRoom { .. } => "check_room",
            Self::Offer { .. } => "offer",
            Self::Answer { .. } => "answer",
            Self::Candidate { .. } => "candidate",
            Self::Call { .. } => "call",
            Self::Ringing { .. } => "ringing",
            Self::Accept { .. } => "accept",
            Self::Decline { .. } => "decline",
            Self::HangUp { .. } => "hang_up",
            Self::MediaState { .. } => "media_state",
        }
    }

    /// Serializes to the JSON text sent in one WebSocket text frame.
    pub fn to_json(&self) -> String {
        to_json_infallible(self)
    }

    /// Plain serde deserialization. The server uses [`ClientMessage::parse`],
    /// which tells apart the ways a message can be wrong.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Parses a client frame, classifying failures as the server reports them:
    /// not JSON ([`ErrorCode::BadJson`]), an unknown or missing `"type"`
    /// ([`ErrorCode::UnknownType`] / [`ErrorCode::InvalidMessage`]), or a known
    /// type with missing or mistyped fields ([`ErrorCode::InvalidMessage`],
    /// naming the field and what it must hold), or a key given twice
    /// ([`ErrorCode::DuplicateKey`]). Error text quotes at most a short,
    /// escaped excerpt of the input.
    pub fn parse(text: &str) -> Result<Self, MessageError> {
        parse::parse(text)
    }
}

/// Everything the server sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// The welcome, always the first message on a connection (type `"join"`,
    /// as in the original demo).
    Join {
        /// The id other peers use to reach this client.
        id: PeerId,
        /// The server's [`PROTOCOL_VERSION`].
        version: u32,
        /// ICE servers to configure the `RTCPeerConnection` with.
        ice_servers: Vec<IceServer>,
    },
    /// The sender joined `room`.
    RoomJoined {
        /// The room's name as the server stored it.
        room: String,
        /// The joiner's own id.
        you: PeerId,
        /// The other members, in the order they joined (excludes `you`).
        members: Vec<Member>,
    },
    /// Someone joined the sender's room.
    PeerJoined {
        /// The room.
        room: String,
        /// The newcomer.
        peer: Member,
    },
    /// Someone left the sender's room (or disconnected).
    PeerLeft {
        /// The room.
        room: String,
        /// Who left.
        id: PeerId,
    },
    /// A relayed offer.
    Offer {
        /// The sender.
        from: PeerId,
        /// The session description, as the sender sent it.
        offer: Value,
    },
    /// A relayed answer.
    Answer {
        /// The sender.
        from: PeerId,
        /// The session description, as the sender sent it.
        answer: Value,
    },
    /// A relayed ICE candidate.
    Candidate {
        /// The sender.
        from: PeerId,
        /// The candidate, as the sender sent it.
        candidate: Value,
    },
    /// Someone is calling the recipient directly.
    Ring {
        /// The caller; answer with `accept` / `decline` to this id.
        from: PeerId,
        /// The caller's display name, if it gave one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// The callee's phone is ringing, and this is its name.
    Ringing {
        /// The callee.
        from: PeerId,
        /// The callee's display name.
        name: String,
    },
    /// The callee accepted: the two are now direct-call partners.
    Accepted {
        /// The callee.
        from: PeerId,
        /// The callee's display name, if it gave one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// The callee declined.
    Declined {
        /// The callee.
        from: PeerId,
        /// The callee's display name, if it gave one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// The other side ended the call, cancelled its ring, or disconnected.
    HungUp {
        /// The other side.
        from: PeerId,
    },
    /// A room member or call partner changed its mute state.
    PeerMediaState {
        /// Whose state it is.
        from: PeerId,
        /// Whether its microphone is muted.
        audio_muted: bool,
        /// Whether its camera is off.
        video_muted: bool,
    },
    /// The recipient's last message was refused; the connection stays open.
    Error {
        /// Machine-readable reason.
        code: ErrorCode,
        /// Human-readable explanation.
        message: String,
    },
    /// The answer to [`ClientMessage::CheckRoom`]: the room can be joined.
    RoomStatus {
        /// The room's name as the server stores it.
        room: String,
        /// How many are in it now (0: joining creates it).
        members: usize,
        /// Whether it has a password (the one given was right, if so).
        password_required: bool,
    },
    /// The server is going away; a close frame (1001) follows.
    Shutdown {
        /// Why, in words.
        reason: String,
        /// The calls on this server are over for good (a host stopped
        /// hosting): don't reconnect. `false`: a restart; reconnect.
        #[serde(default)]
        call_ended: bool,
    },
}

impl ServerMessage {
    /// Every `"type"` the server may send, in declaration order.
    pub const TYPES: &'static [&'static str] = &[
        "join",
        "room_joined",
        "peer_joined",
        "peer_left",
        "offer",
        "answer",
        "candidate",
        "ring",
        "ringing",
        "accepted",
        "declined",
        "hung_up",
        "peer_media_state",
        "room_status",
        "error",
        "shutdown",
    ];

    /// An [`ServerMessage::Error`].
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Error {
            code,
            message: message.into(),
        }
    }

    /// Serializes to the JSON text sent in one WebSocket text frame.
    pub fn to_json(&self) -> String {
        to_json_infallible(self)
    }

    /// Parses a server frame.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}

/// Why the server refused a message, sent as `"code"` in an error reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame is not valid JSON (or is not a text frame).
    BadJson,
    /// The `"type"` is not one the server knows.
    UnknownType,
    /// A known type with missing or mistyped fields, or not a JSON object.
    InvalidMessage,
    /// The message object has the same key twice (`{"to":A,…,"to":B}`):
    /// which one counts would be a guess, so neither does.
    DuplicateKey,
    /// The client speaks another protocol version.
    VersionMismatch,
    /// No peer has that id (it may have disconnected).
    UnknownPeer,
    /// The target exists but may not be reached from here (another room and
    /// not a call partner), or the action is otherwise not allowed.
    NotPermitted,
    /// A relay without `to`, and the sender is negotiating with nobody.
    NoPartner,
    /// The room has reached its member cap.
    RoomFull,
    /// The room's password differs from the one given.
    WrongPassword,
    /// Too many wrong passwords from this address (or for this room) lately:
    /// wait the time the message says before trying again.
    TooManyAttempts,
    /// The room name is empty, too long or has control characters.
    InvalidRoom,
    /// The display name is empty, too long or has control characters.
    InvalidName,
    /// `join_room` while already in a room; leave it first.
    AlreadyInRoom,
    /// `leave_room` while in no room.
    NotInRoom,
    /// `accept` / `decline` for a call that is not ringing.
    NoPendingCall,
    /// `hang_up` for a call that does not exist.
    NotInCall,
    /// Too many messages too fast; the message was dropped. Keep going and the
    /// connection is closed with 1008.
    RateLimited,
}

impl ErrorCode {
    /// The code as it appears on the wire, e.g. `"bad_json"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadJson => "bad_json",
            Self::UnknownType => "unknown_type",
            Self::InvalidMessage => "invalid_message",
            Self::DuplicateKey => "duplicate_key",
            Self::VersionMismatch => "version_mismatch",
            Self::UnknownPeer => "unknown_peer",
            Self::NotPermitted => "not_permitted",
            Self::NoPartner => "no_partner",
            Self::RoomFull => "room_full",
            Self::WrongPassword => "wrong_password",
            Self::TooManyAttempts => "too_many_attempts",
            Self::InvalidRoom => "invalid_room",
            Self::InvalidName => "invalid_name",
            Self::AlreadyInRoom => "already_in_room",
            Self::NotInRoom => "not_in_room",
            Self::NoPendingCall => "no_pending_call",
            Self::NotInCall => "not_in_call",
            Self::RateLimited => "rate_limited",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused message: the code and explanation of the error reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageError {
    /// Machine-readable reason.
    pub code: ErrorCode,
    /// Human-readable explanation.
    pub message: String,
}

impl MessageError {
    /// A refusal with `code` and `message`, cut to
    /// [`MAX_ERROR_MESSAGE_CHARS`].
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: parse::bounded(message.into()),
        }
    }

    /// The error reply to send for it.
    pub fn to_server_message(&self) -> ServerMessage {
        ServerMessage::error(self.code, self.message.clone())
    }
}

impl fmt::Display for MessageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for MessageError {}

/// Why a room or display name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    /// Empty, or only whitespace.
    Empty,
    /// Longer than the cap.
    TooLong {
        /// The cap, in characters.
        max_chars: usize,
    },
    /// Contains a control character (newlines, escapes, NUL, ...).
    ControlCharacter,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("must not be empty"),
            Self::TooLong { max_chars } => write!(f, "must be at most {max_chars} characters"),
            Self::ControlCharacter => f.write_str("must not contain control characters"),
        }
    }
}

impl std::error::Error for NameError {}

/// Checks a room name against [`MAX_ROOM_NAME_CHARS`]; returns it trimmed of
/// surrounding whitespace, which is the form the server stores and compares
/// (room names are otherwise case- and space-sensitive).
pub fn validate_room_name(room: &str) -> Result<&str, NameError> {
    validate_name(room, MAX_ROOM_NAME_CHARS)
}

/// Checks a display name against [`MAX_DISPLAY_NAME_CHARS`]; returns it
/// trimmed of surrounding whitespace.
pub fn validate_display_name(name: &str) -> Result<&str, NameError> {
    validate_name(name, MAX_DISPLAY_NAME_CHARS)
}

/// The rule behind [`validate_room_name`] and [`validate_display_name`] with
/// a custom cap (a server may be configured with other caps): non-empty after
/// trimming, at most `max_chars` characters, no control characters.
pub fn validate_name(name: &str, max_chars: usize) -> Result<&str, NameError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    // Count characters, not bytes, so the cap means the same in every script;
    // `take` stops early so a huge input costs no more than the cap.
    if name.chars().take(max_chars + 1).count() > max_chars {
        return Err(NameError::TooLong { max_chars });
    }
    if name.chars().any(char::is_control) {
        return Err(NameError::ControlCharacter);
    }
    Ok(name)
}

fn to_json_infallible<T: Serialize>(message: &T) -> String {
    // Serialization only fails for maps with non-string keys or failing
    // `Serialize` impls; these types have neither, so this cannot happen.
    serde_json::to_string(message).expect("protocol messages always serialize")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Numbers in a payload keep their value through the server: parsed
    /// and written again, they parse the same (the fuzzer found `6E69`
    /// coming back as 6.0000000000000004e69 before serde_json's exact float
    /// parsing was turned on).
    #[test]
    fn numbers_survive_a_round_trip() {
        let text = r#"{"type":"candidate","to":"t","candidate":[0e5,6E69,6E-166,6695E-20,1.7976931348623157e308]}"#;
        let message = ClientMessage::parse(text).unwrap();
        assert_eq!(ClientMessage::parse(&message.to_json()).unwrap(), message);
    }

    pub(super) fn all_client_messages() -> Vec<ClientMessage> {
        let to = Some(PeerId::from("p"));
        vec![
            ClientMessage::Hello { version: 1 },
            ClientMessage::JoinRoom {
                room: "r".into(),
                name: "n".into(),
                password: None,
            },
            ClientMessage::LeaveRoom,
            ClientMessage::CheckRoom {
                room: "r".into(),
                password: Some("p".into()),
            },
            ClientMessage::Offer {
                to: to.clone(),
                offer: json!({"sdp": "x"}),
            },
            ClientMessage::Answer {
                to: to.clone(),
                answer: json!({"sdp": "x"}),
            },
            ClientMessage::Candidate {
                to,
                candidate: Value::Null,
            },
            ClientMessage::Call {
                to: "p".into(),
                name: None,
            },
            ClientMessage::Ringing {
                to: "p".into(),
                name: "n".into(),
            },
            ClientMessage::Accept {
                to: "p".into(),
                name: Some("n".into()),
            },
            ClientMessage::Decline {
                to: "p".into(),
                name: None,
            },
            ClientMessage::HangUp { to: "p".into() },
            ClientMessage::MediaState {
                audio_muted: true,
                video_muted: false,
            },
        ]
    }

    fn all_server_messages() -> Vec<ServerMessage> {
        let from = PeerId::from("p");
        let member = Member {
            id: from.clone(),
            name: "n".into(),
        };
        vec![
            ServerMessage::Join {
                id: from.clone(),
                version: PROTOCOL_VERSION,
                ice_servers: vec![],
            },
            ServerMessage::RoomJoined {
                room: "r".into(),
                you: from.clone(),
                members: vec![member.clone()],
            },
            ServerMessage::PeerJoined {
                room: "r".into(),
                peer: member,
            },
            ServerMessage::PeerLeft {
                room: "r".into(),
                id: from.clone(),
            },
            ServerMessage::Offer {
                from: from.clone(),
                offer: json!({}),
            },
            ServerMessage::Answer {
                from: from.clone(),
                answer: json!({}),
            },
            ServerMessage::Candidate {
                from: from.clone(),
                candidate: json!({}),
            },
            ServerMessage::Ring {
                from: from.clone(),
                name: Some("n".into()),
            },
            ServerMessage::Ringing {
                from: from.clone(),
                name: "n".into(),
            },
            ServerMessage::Accepted {
                from: from.clone(),
                name: Some("n".into()),
            },
            ServerMessage::Declined {
                from: from.clone(),
                name: None,
            },
            ServerMessage::HungUp { from: from.clone() },
            ServerMessage::PeerMediaState {
                from,
                audio_muted: false,
                video_muted: true,
            },
            ServerMessage::RoomStatus {
                room: "r".into(),
                members: 2,
                password_required: true,
            },
            ServerMessage::error(ErrorCode::BadJson, "m"),
            ServerMessage::Shutdown {
                reason: "r".into(),
                call_ended: true,
            },
        ]
    }

    fn tag(json: &str) -> String {
        let value: Value = serde_json::from_str(json).unwrap();
        value["type"].as_str().unwrap().to_owned()
    }

    #[test]
    fn client_type_list_matches_the_enum() {
        let messages = all_client_messages();
        assert_eq!(messages.len(), ClientMessage::TYPES.len());
        for (message, expected) in messages.iter().zip(ClientMessage::TYPES) {
            let json = message.to_json();
            assert_eq!(&tag(&json), expected);
            assert_eq!(message.type_name(), *expected);
            assert_eq!(&ClientMessage::parse(&json).unwrap(), message);
        }
    }

    #[test]
    fn server_type_list_matches_the_enum() {
        let messages = all_server_messages();
        assert_eq!(messages.len(), ServerMessage::TYPES.len());
        for (message, expected) in messages.iter().zip(ServerMessage::TYPES) {
            let json = message.to_json();
            assert_eq!(&tag(&json), expected);
            assert_eq!(&ServerMessage::from_json(&json).unwrap(), message);
        }
    }

    #[test]
    fn welcome_is_the_demo_join() {
        let json = ServerMessage::Join {
            id: "abc".into(),
            version: 1,
            ice_servers: vec![IceServer {
                urls: vec!["stun:stun.example.org".into()],
                username: None,
                credential: None,
            }],
        }
        .to_json();
        let value: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["type"], "join");
        assert_eq!(value["id"], "abc");
        // RTCIceServer rejects explicit nulls in some browsers: None is omitted.
        assert_eq!(
            value["ice_servers"][0],
            json!({"urls": ["stun:stun.example.org"]})
        );
    }

    #[test]
    fn demo_messages_parse() {
        let candidate = r#"{"type":"candidate","candidate":{"candidate":"candidate:1 1 udp 1 1.2.3.4 5 typ host","sdpMid":"0","sdpMLineIndex":0}}"#;
        match ClientMessage::parse(candidate).unwrap() {
            ClientMessage::Candidate {
                to: None,
                candidate,
            } => {
                assert_eq!(candidate["sdpMid"], "0")
            }
            other => panic!("{other:?}"),
        }
        let offer = r#"{"type":"offer","to":"b","offer":{"type":"offer","sdp":"v=0"},"extra":1}"#;
        assert!(matches!(
            ClientMessage::parse(offer).unwrap(),
            ClientMessage::Offer { to: Some(_), .. }
        ));
        let end_of_candidates = r#"{"type":"candidate","candidate":null}"#;
        assert!(ClientMessage::parse(end_of_candidates).is_ok());
    }

    #[test]
    fn parse_classifies_errors() {
        let code = |text: &str| ClientMessage::parse(text).unwrap_err().code;
        assert_eq!(code("{not json"), ErrorCode::BadJson);
        assert_eq!(code(""), ErrorCode::BadJson);
        assert_eq!(code("[1,2]"), ErrorCode::InvalidMessage);
        assert_eq!(code(r#"{"to":"x"}"#), ErrorCode::InvalidMessage);
        assert_eq!(code(r#"{"type":7}"#), ErrorCode::InvalidMessage);
        assert_eq!(code(r#"{"type":"dance"}"#), ErrorCode::UnknownType);
        assert_eq!(code(r#"{"type":"Offer"}"#), ErrorCode::UnknownType);
        assert_eq!(code(r#"{"type":"offer"}"#), ErrorCode::InvalidMessage);
        assert_eq!(
            code(r#"{"type":"hello","version":"1"}"#),
            ErrorCode::InvalidMessage
        );
        assert_eq!(code(r#"{"type":"call","to":5}"#), ErrorCode::InvalidMessage);
        let error = ClientMessage::parse(r#"{"type":"join_room","room":"r"}"#).unwrap_err();
        assert!(error.message.contains("name"), "{}", error.message);
    }

    #[test]
    fn unknown_type_message_is_bounded() {
        let long = "x".repeat(10_000);
        let error = ClientMessage::parse(&format!(r#"{{"type":"{long}"}}"#)).unwrap_err();
        assert_eq!(error.code, ErrorCode::UnknownType);
        assert!(error.message.len() < 400);
    }

    #[test]
    fn names() {
        assert_eq!(validate_room_name("  lobby "), Ok("lobby"));
        assert_eq!(validate_room_name("   "), Err(NameError::Empty));
        assert_eq!(
            validate_display_name("a\nb"),
            Err(NameError::ControlCharacter)
        );
        let max = "é".repeat(MAX_ROOM_NAME_CHARS);
        assert!(validate_room_name(&max).is_ok());
        assert_eq!(
            validate_room_name(&format!("{max}é")),
            Err(NameError::TooLong {
                max_chars: MAX_ROOM_NAME_CHARS
            })
        );
        assert_eq!(
            validate_name("abc", 2),
            Err(NameError::TooLong { max_chars: 2 })
        );
    }

    #[test]
    fn error_code_strings_match_serde() {
        for code in [
            ErrorCode::BadJson,
            ErrorCode::UnknownType,
            ErrorCode::InvalidMessage,
            ErrorCode::DuplicateKey,
            ErrorCode::VersionMismatch,
            ErrorCode::UnknownPeer,
            ErrorCode::NotPermitted,
            ErrorCode::NoPartner,
            ErrorCode::RoomFull,
            ErrorCode::WrongPassword,
            ErrorCode::TooManyAttempts,
            ErrorCode::InvalidRoom,
            ErrorCode::InvalidName,
            ErrorCode::AlreadyInRoom,
            ErrorCode::NotInRoom,
            ErrorCode::NoPendingCall,
            ErrorCode::NotInCall,
            ErrorCode::RateLimited,
        ] {
            assert_eq!(serde_json::to_value(code).unwrap(), json!(code.as_str()));
        }
    }
}
