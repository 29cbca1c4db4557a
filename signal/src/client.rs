//! Checks a signaling server before joining it, from native code (feature
//! `client`).
//!
//! A browser reports every failed WebSocket the same way (close code 1006),
//! so the page cannot tell a server that is down from a bad certificate or a
//! refused origin. The desktop shell runs this check instead and gets each
//! failure as its own [`JoinError`]: unreachable, TLS, origin refused, not a
//! Peercall server, protocol version, room full, wrong password.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::Connector;

use crate::protocol::{ClientMessage, ErrorCode, ServerMessage, PROTOCOL_VERSION};
use crate::shell::JoinFailure;

/// What to check, and how.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// The `Origin` the real connection will send (the page's), so a server
    /// that would refuse the page refuses the check too.
    pub origin: Option<String>,
    /// The room to check, with the password that would be given.
    pub room: Option<(String, Option<String>)>,
    /// Extra trusted root certificates (PEM), beside the system's.
    pub extra_roots_pem: Vec<Vec<u8>>,
    /// The whole check's time limit.
    pub timeout: Duration,
}

impl Default for CheckOptions {
    fn default() -> Self {
        Self {
            origin: None,
            room: None,
            extra_roots_pem: Vec::new(),
            timeout: Duration::from_secs(8),
        }
    }
}

/// A server that passed the check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerCheck {
    /// Its protocol version (equal to ours).
    pub version: u32,
    /// The room, when one was checked.
    pub room: Option<RoomCheck>,
}

/// A room that can be joined.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomCheck {
    /// People in it now.
    pub members: usize,
    /// Whether it has a password (the one given was right).
    pub password_required: bool,
}

/// Why a server can't be joined, one variant per thing the user can act on.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum JoinError {
    /// Not a `ws://` or `wss://` URL.
    #[error("not a server address: {0}")]
    InvalidAddress(String),
    /// Nothing answered: wrong address, the server is down, or a firewall.
    #[error("can't reach the server: {0}")]
    Unreachable(String),
    /// The secure connection failed: an untrusted, expired or mismatched
    /// certificate, or the server doesn't speak TLS.
    #[error("the secure connection failed: {0}")]
    Tls(String),
    /// The server answered HTTP 403 to this page's origin.
    #[error("the server refuses connections from this app (origin {0})")]
    OriginRefused(String),
    /// Something answered, but not a Peercall signaling server.
    #[error("that address is not a Peercall server: {0}")]
    NotPeercall(String),
    /// The server speaks another protocol version.
    #[error("the server speaks protocol version {server}, this app version {client}")]
    VersionMismatch {
        /// The server's version.
        server: u32,
        /// Ours.
        client: u32,
    },
    /// The room is at its member cap.
    #[error("the call is full")]
    RoomFull,
    /// The room has another password (or needs one).
    #[error("wrong password for this call")]
    WrongPassword,
    /// Too many wrong passwords lately: the server makes us wait.
    #[error("too many wrong passwords: {0}")]
    TooManyAttempts(String),
    /// The room name was refused.
    #[error("the server refused the room name: {0}")]
    InvalidRoom(String),
    /// No complete answer within the time limit.
    #[error("the server did not answer within {0} s")]
    TimedOut(u64),
}

impl JoinError {
    /// Which failure this is, as the join screen tells them apart.
    pub fn failure(&self) -> JoinFailure {
        match self {
            Self::InvalidAddress(_) => JoinFailure::InvalidAddress,
            Self::Unreachable(_) => JoinFailure::Unreachable,
            Self::Tls(_) => JoinFailure::Tls,
            Self::OriginRefused(_) => JoinFailure::OriginRefused,
            Self::NotPeercall(_) => JoinFailure::NotPeercall,
            Self::VersionMismatch { .. } => JoinFailure::VersionMismatch,
            Self::RoomFull => JoinFailure::RoomFull,
            Self::WrongPassword => JoinFailure::WrongPassword,
            Self::TooManyAttempts(_) => JoinFailure::TooManyAttempts,
            Self::InvalidRoom(_) => JoinFailure::InvalidRoom,
            Self::TimedOut(_) => JoinFailure::TimedOut,
        }
    }
}

/// Connects to `url` as the page would, reads the welcome, states our
/// protocol version and, when asked, checks the room without joining it.
pub async fn check_server(url: &str, options: &CheckOptions) -> Result<ServerCheck, JoinError> {
    let secs = options.timeout.as_secs().max(1);
    tokio::time::timeout(options.timeout, check(url, options))
        .await
        .map_err(|_| JoinError::TimedOut(secs))?
}

async fn check(url: &str, options: &CheckOptions) -> Result<ServerCheck, JoinError> {
    if !crate::settings::is_signaling_url(url) {
        return Err(JoinError::InvalidAddress(url.to_owned()));
    }
    let mut request = url
        .into_client_request()
        .map_err(|e| JoinError::InvalidAddress(e.to_string()))?;
    if let Some(origin) = &options.origin {
        let value = HeaderValue::from_str(origin)
            .map_err(|_| JoinError::InvalidAddress(format!("bad origin {origin}")))?;
        request.headers_mut().insert("Origin", value);
    }
    let connector = if url.starts_with("wss://") {
        let mut builder = native_tls::TlsConnector::builder();
        for pem in &options.extra_roots_pem {
            let root = native_tls::Certificate::from_pem(pem)
                .map_err(|e| JoinError::Tls(format!("bad extra root certificate: {e}")))?;
            builder.add_root_certificate(root);
        }
        let connector = builder.build().map_err(|e| JoinError::Tls(e.to_string()))?;
        Some(Connector::NativeTls(connector))
    } else {
        None
    };
    let origin = options.origin.clone().unwrap_or_default();
    let (mut ws, _) =
        tokio_tungstenite::connect_async_tls_with_config(request, None, false, connector)
            .await
            .map_err(|e| classify(e, &origin))?;

    match next_message(&mut ws).await? {
        ServerMessage::Join { version, .. } if version == PROTOCOL_VERSION => {}
        ServerMessage::Join { version, .. } => {
            return Err(JoinError::VersionMismatch {
                server: version,
                client: PROTOCOL_VERSION,
            })
        }
        other => {
            return Err(JoinError::NotPeercall(format!(
                "it greeted with {:?}",
                other.to_json()
            )))
        }
    }
    send(
        &mut ws,
        &ClientMessage::Hello {
            version: PROTOCOL_VERSION,
        },
    )
    .await?;
    let room = match &options.room {
        None => None,
        Some((room, password)) => {
            send(
                &mut ws,
                &ClientMessage::CheckRoom {
                    room: room.clone(),
                    password: password.clone(),
                },
            )
            .await?;
            loop {
                match next_message(&mut ws).await? {
                    ServerMessage::RoomStatus {
                        members,
                        password_required,
                        ..
                    } => {
                        break Some(RoomCheck {
                            members,
                            password_required,
                        })
                    }
                    ServerMessage::Error { code, message } => {
                        return Err(match code {
                            ErrorCode::RoomFull => JoinError::RoomFull,
                            ErrorCode::WrongPassword => JoinError::WrongPassword,
                            ErrorCode::TooManyAttempts => JoinError::TooManyAttempts(message),
                            ErrorCode::InvalidRoom => JoinError::InvalidRoom(message),
                            ErrorCode::VersionMismatch => JoinError::VersionMismatch {
                                server: 0,
                                client: PROTOCOL_VERSION,
                            },
                            // An older server that can't check rooms: the
                            // join itself will tell.
                            ErrorCode::UnknownType => break None,
                            _ => JoinError::NotPeercall(message),
                        });
                    }
                    _ => continue,
                }
            }
        }
    };
    let _ = ws.close(None).await;
    Ok(ServerCheck {
        version: PROTOCOL_VERSION,
        room,
    })
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn send(ws: &mut Socket, message: &ClientMessage) -> Result<(), JoinError> {
    ws.send(Message::text(message.to_json()))
        .await
        .map_err(|e| JoinError::Unreachable(format!("connection lost: {e}")))
}

async fn next_message(ws: &mut Socket) -> Result<ServerMessage, JoinError> {
    loop {
        let frame = ws
            .next()
            .await
            .ok_or_else(|| JoinError::NotPeercall("it closed the connection".into()))?
            .map_err(|e| JoinError::NotPeercall(e.to_string()))?;
        match frame {
            Message::Text(text) => {
                return ServerMessage::from_json(&text).map_err(|_| {
                    JoinError::NotPeercall("it sent something that is not Peercall".into())
                })
            }
            Message::Close(_) => {
                return Err(JoinError::NotPeercall("it closed the connection".into()))
            }
            _ => continue,
        }
    }
}

/// Sorts a failed handshake into what the user can act on.
fn classify(error: tungstenite::Error, origin: &str) -> JoinError {
    use tungstenite::Error;
    match error {
        Error::Io(e) => JoinError::Unreachable(e.to_string()),
        Error::Tls(e) => JoinError::Tls(e.to_string()),
        Error::Url(e) => JoinError::InvalidAddress(e.to_string()),
        Error::Http(response) if response.status() == 403 => {
            JoinError::OriginRefused(origin.to_owned())
        }
        Error::Http(response) => {
            JoinError::NotPeercall(format!("it answered HTTP {}", response.status()))
        }
        other => JoinError::NotPeercall(other.to_string()),
    }
}
