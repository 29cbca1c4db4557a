//! What the shell and its call engine process say to each other, over the
//! process's standard input and output: length-prefixed messages, each a
//! JSON [`ToEngine`] or [`FromEngine`], or a video frame as the page reads
//! it (a [`FrameHeader`](peercall_signal::shell::native::FrameHeader) and
//! its picture), passed on as it is.

use peercall_signal::shell::native::{
    LocalMedia, MediaRequest, NativeEvent, PeerKey, PeerOpenArgs, PeerSendArgs, PeerSignalArgs,
    StreamId,
};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Bytes;

/// This build's version: the shell hands it to the engine process it
/// starts ([`SHELL_VERSION_ARG`](super::child::SHELL_VERSION_ARG)), which
/// serves only a shell of its own version (an upgrade may replace
/// `peercall-engine` while the older app runs).
///
/// What must never change, so that any two versions understand each
/// other that far: that argument, the framing, a request's `id`, and the
/// refusal ([`FromEngine::Answer`] with [`Failure::OtherVersion`]). An
/// engine built before this check ignores the argument, so going back to
/// one is not caught. Two builds of one version are taken as the same.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The largest message either side accepts (a frame is at most 640×640
/// RGBA, 1.6 MB).
pub const MAX_MESSAGE: usize = 8 << 20;

/// What the shell asks of its engine process.
#[derive(Debug, Serialize, Deserialize)]
pub struct ToEngine {
    /// Matches the [`FromEngine::Answer`].
    pub id: u64,
    /// What to do.
    pub request: Request,
}

/// One of the engine's operations.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Request {
    /// [`Engine::set_media`](crate::native::Engine::set_media).
    SetMedia(MediaRequest),
    /// [`Engine::close_media`](crate::native::Engine::close_media).
    CloseMedia,
    /// [`Engine::open_peer`](crate::native::Engine::open_peer).
    OpenPeer(PeerOpenArgs),
    /// [`Engine::signal_peer`](crate::native::Engine::signal_peer).
    SignalPeer(PeerSignalArgs),
    /// [`Engine::send`](crate::native::Engine::send).
    Send(PeerSendArgs),
    /// [`Engine::close_peer`](crate::native::Engine::close_peer).
    ClosePeer(PeerKey),
}

impl Request {
    /// Its name, for the logs.
    pub fn name(&self) -> &'static str {
        match self {
            Self::SetMedia(_) => "set media",
            Self::CloseMedia => "close media",
            Self::OpenPeer(_) => "open a peer",
            Self::SignalPeer(_) => "signal a peer",
            Self::Send(_) => "send text",
            Self::ClosePeer(_) => "close a peer",
        }
    }
}

/// What an operation gave.
#[derive(Debug, Serialize, Deserialize)]
pub enum Answer {
    /// Done; nothing to tell.
    Done,
    /// The local media now.
    Media(LocalMedia),
}

/// Just a request's `id`: what the engine reads of a request it can't
/// read whole, to answer it anyway.
#[derive(Debug, Deserialize)]
pub struct RequestId {
    /// The request's.
    pub id: u64,
}

/// Just an answer's `id`: what the shell reads of an answer it can't read
/// whole, to fail that request instead of leaving it waiting.
#[derive(Debug, Deserialize)]
pub enum AnswerId {
    /// [`FromEngine::Answer`]'s.
    Answer {
        /// The request's.
        id: u64,
    },
}

/// Why an operation failed, as the shell reports it.
#[derive(Debug, Clone, Serialize, Deserialize, thiserror::Error)]
pub enum Failure {
    /// The engine process is of another version than the shell.
    #[error("the call engine is version {engine}, the app {shell}")]
    OtherVersion {
        /// The engine's.
        engine: String,
        /// The shell's.
        shell: String,
    },
    /// The engine can't run here.
    #[error("{0}")]
    Unavailable(String),
    /// It failed; in words.
    #[error("{0}")]
    Failed(String),
}

/// What the engine process tells the shell (besides frames).
#[derive(Debug, Serialize, Deserialize)]
pub enum FromEngine {
    /// The answer to [`ToEngine`] `id`, and whether the engine still has
    /// work (a peer open, a device capturing) once it was done.
    Answer {
        /// The request's.
        id: u64,
        /// What it gave.
        result: Result<Answer, Failure>,
        /// Whether it has work now.
        busy: bool,
    },
    /// One of the engine's events, for the page.
    Event(NativeEvent),
    /// A stream's video ended.
    StreamEnded(StreamId),
}

/// One message, either way.
#[derive(Debug)]
pub enum Message {
    /// A [`ToEngine`] or [`FromEngine`], as JSON.
    Json(Vec<u8>),
    /// A frame, as the page reads it.
    Frame(Bytes),
}

/// What reading a message can fail with.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The pipe failed.
    #[error("the pipe failed: {0}")]
    Io(#[from] std::io::Error),
    /// A length past [`MAX_MESSAGE`], or none.
    #[error("a message of {0} bytes (at most {MAX_MESSAGE})")]
    Length(usize),
    /// An unknown kind of message.
    #[error("a message of unknown kind {0}")]
    Kind(u8),
}

const JSON: u8 = 0;
const FRAME: u8 = 1;

/// Writes one message: its length (4 bytes, big-endian, the kind
/// included), its kind, its bytes.
pub async fn write(out: &mut (impl AsyncWrite + Unpin), message: &Message) -> std::io::Result<()> {
    let (kind, bytes) = match message {
        Message::Json(bytes) => (JSON, &bytes[..]),
        Message::Frame(bytes) => (FRAME, &bytes[..]),
    };
    let len = u32::try_from(bytes.len() + 1).map_err(std::io::Error::other)?;
    out.write_all(&len.to_be_bytes()).await?;
    out.write_all(&[kind]).await?;
    out.write_all(bytes).await?;
    out.flush().await
}

/// Reads one message; `None` at the end of the stream.
pub async fn read(input: &mut (impl AsyncRead + Unpin)) -> Result<Option<Message>, WireError> {
    let mut len = [0u8; 4];
    match input.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len == 0 || len > MAX_MESSAGE + 1 {
        return Err(WireError::Length(len));
    }
    let kind = input.read_u8().await?;
    let mut bytes = vec![0u8; len - 1];
    input.read_exact(&mut bytes).await?;
    match kind {
        JSON => Ok(Some(Message::Json(bytes))),
        FRAME => Ok(Some(Message::Frame(Bytes::from(bytes)))),
        other => Err(WireError::Kind(other)),
    }
}

/// `value` as a [`Message::Json`].
pub fn json(value: &impl Serialize) -> Message {
    // These types always serialize (no maps with non-string keys).
    Message::Json(serde_json::to_vec(value).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn messages_come_out_as_they_went_in() {
        let (mut a, mut b) = tokio::io::duplex(64);
        let writer = tokio::spawn(async move {
            let request = ToEngine {
                id: 7,
                request: Request::ClosePeer(PeerKey(3)),
            };
            write(&mut a, &json(&request)).await.unwrap();
            write(&mut a, &Message::Frame(Bytes::from_static(b"frame")))
                .await
                .unwrap();
        });
        let Some(Message::Json(bytes)) = read(&mut b).await.unwrap() else {
            panic!("not JSON");
        };
        let got: ToEngine = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(got.id, 7);
        assert!(matches!(got.request, Request::ClosePeer(PeerKey(3))));
        let Some(Message::Frame(frame)) = read(&mut b).await.unwrap() else {
            panic!("not a frame");
        };
        assert_eq!(&frame[..], b"frame");
        writer.await.unwrap();
        assert!(read(&mut b).await.unwrap().is_none(), "the end");
    }

    #[tokio::test]
    async fn a_length_past_the_bound_is_refused_before_reading_it() {
        let (mut a, mut b) = tokio::io::duplex(64);
        a.write_all(&u32::MAX.to_be_bytes()).await.unwrap();
        assert!(matches!(read(&mut b).await, Err(WireError::Length(_))));
        let (mut a, mut b) = tokio::io::duplex(64);
        a.write_all(&[0, 0, 0, 2, 9, 0]).await.unwrap();
        assert!(matches!(read(&mut b).await, Err(WireError::Kind(9))));
    }
}
