//! One task per connection: TLS, the request head, then either a static-file
//! response or a WebSocket signaling session.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{timeout, timeout_at, Instant, MissedTickBehavior};
#[cfg(feature = "tls")]
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::error::Error as WsError;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;
use tracing::{debug, info, Instrument};

use super::http::{self, HeadError, OriginPolicy, Response};
use super::hub::{Hub, HubLimits};
use super::rate::{TokenBucket, Verdict};
use super::stream::Prefixed;
use super::turn::IceConfig;
use super::{Config, Shutdown};
use crate::protocol::{
    ClientMessage, ErrorCode, MessageError, PeerId, ServerMessage, PROTOCOL_VERSION,
};

/// How long a closing connection waits for the client's close frame (or, on
/// abuse, keeps draining what the client still sends) before dropping it.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Bytes drained after an oversize message before giving up on a clean close.
const DRAIN_LIMIT: usize = 1 << 20;

/// What every connection task shares.
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) hub: Hub,
    origins: OriginPolicy,
    ws_config: WebSocketConfig,
    ice: IceConfig,
    #[cfg(feature = "tls")]
    tls: Option<TlsAcceptor>,
}

impl Shared {
    /// Derives everything per-connection code needs from a validated config.
    pub(crate) fn new(config: Config, local_addr: SocketAddr) -> Self {
        let hub = Hub::new(HubLimits {
            room_capacity: config.room_capacity,
            max_room_name_chars: config.max_room_name_chars,
            max_display_name_chars: config.max_display_name_chars,
            max_calls_per_peer: config.max_calls_per_peer,
        });
        let hub = match &config.hosted_room {
            Some(hosted) => hub.hosting_only(&hosted.name, hosted.password.as_deref()),
            None => hub,
        };
        let origins = OriginPolicy::new(
            &config.allowed_origins,
            config.require_origin,
            config.allow_loopback_origins,
            local_addr,
        );
        let ws_config = config.websocket_config();
        let ice = IceConfig::new(
            &config.ice_servers,
            config.turn_secret.clone(),
            config.turn_ttl,
        );
        Self {
            #[cfg(feature = "tls")]
            tls: config.tls.clone().map(TlsAcceptor::from),
            config,
            hub,
            origins,
            ws_config,
            ice,
        }
    }
}

/// Serves one accepted TCP connection to the end.
pub(crate) async fn serve(
    socket: TcpStream,
    remote: SocketAddr,
    shared: Arc<Shared>,
    mut shutdown: Shutdown,
) {
    // One deadline covers TLS, the request head and the WebSocket handshake,
    // so a client trickling bytes cannot hold a slot longer than that.
    let deadline = Instant::now() + shared.config.handshake_timeout;
    let span = tracing::debug_span!("conn", %remote);
    async {
        #[cfg(feature = "tls")]
        if let Some(acceptor) = &shared.tls {
            let accepted = tokio::select! {
                accepted = timeout_at(deadline, acceptor.accept(socket)) => accepted,
                () = shutdown.recv() => return,
            };
            match accepted {
                // Boxed twice over. The TLS stream is over a KiB and
                // every move of it between nested futures would copy it
                // into each one's state; and this branch's future on the
                // heap keeps plain connections' tasks from being sized
                // for the TLS handshake as well.
                Ok(Ok(stream)) => {
                    Box::pin(serve_stream(
                        Box::new(stream),
                        &shared,
                        &mut shutdown,
                        deadline,
                    ))
                    .await
                }
                Ok(Err(error)) => debug!(%error, "TLS handshake failed"),
                Err(_) => debug!("TLS handshake timed out"),
            }
            return;
        }
        serve_stream(socket, &shared, &mut shutdown, deadline).await
    }
    .instrument(span)
    .await;
}

async fn serve_stream<S>(mut stream: S, shared: &Shared, shutdown: &mut Shutdown, deadline: Instant)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let head = tokio::select! {
        head = timeout_at(deadline, http::read_head(&mut stream)) => head,
        () = shutdown.recv() => return,
    };
    let head = match head {
        Ok(Ok(head)) => head,
        Ok(Err(HeadError::TooLarge)) => {
            let response = Response::text(
                431,
                "Request Header Fields Too Large",
                "request head too large\n",
            );
            respond(&mut stream, &response, shared).await;
            return;
        }
        Ok(Err(HeadError::Malformed)) => {
            debug!("not an HTTP request");
            respond(&mut stream, &Response::bad_request(), shared).await;
            return;
        }
        Ok(Err(HeadError::Closed)) => return,
        Ok(Err(HeadError::Io(error))) => {
            debug!(%error, "reading request failed");
            return;
        }
        Err(_) => {
            debug!("request head timed out");
            return;
        }
    };
    let Some(request) = http::parse_head(&head) else {
        respond(&mut stream, &Response::bad_request(), shared).await;
        return;
    };

    if !request.upgrade_websocket {
        let response = http::static_response(&request, shared.config.static_files.as_ref()).await;
        respond(&mut stream, &response, shared).await;
        return;
    }

    if !shared.origins.allows(request.origin.as_deref()) {
        info!(origin = ?request.origin, "WebSocket refused: origin not allowed");
        let response = Response::text(403, "Forbidden", "origin not allowed\n");
        respond(&mut stream, &response, shared).await;
        return;
    }
    // Check what tungstenite would reject, so the client gets a proper HTTP
    // answer rather than a dropped connection.
    let refusal = if request.method != "GET" {
        Some(
            Response::text(405, "Method Not Allowed", "WebSocket upgrades use GET\n")
                .header("Allow", "GET"),
        )
    } else if !request.connection_upgrade || !request.has_websocket_key {
        Some(Response::text(
            400,
            "Bad Request",
            "incomplete WebSocket upgrade request\n",
        ))
    } else if request.websocket_version.as_deref() != Some("13") {
        Some(
            Response::text(426, "Upgrade Required", "unsupported WebSocket version\n")
                .header("Sec-WebSocket-Version", "13"),
        )
    } else {
        None
    };
    if let Some(response) = refusal {
        respond(&mut stream, &response, shared).await;
        return;
    }

    let stream = Prefixed::new(head, stream);
    let handshake = tokio_tungstenite::accept_async_with_config(stream, Some(shared.ws_config));
    let ws = tokio::select! {
        ws = timeout_at(deadline, handshake) => ws,
        () = shutdown.recv() => return,
    };
    match ws {
        Ok(Ok(ws)) => session(ws, shared, shutdown).await,
        Ok(Err(error)) => debug!(%error, "WebSocket handshake failed"),
        Err(_) => debug!("WebSocket handshake timed out"),
    }
}

/// Writes an HTTP response, then lingers: closing a socket that still has
/// unread input (the rest of an oversized head, a pipelined request) makes
/// the kernel send RST, which can destroy the response before the client
/// reads it. So read and discard until the client hangs up, briefly.
async fn respond<S>(stream: &mut S, response: &Response, shared: &Shared)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match timeout(shared.config.write_timeout, response.write_to(stream)).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            debug!(%error, "writing HTTP response failed");
            return;
        }
        Err(_) => {
            debug!("writing HTTP response timed out");
            return;
        }
    }
    drain(stream, 64 * 1024).await;
}

/// Reads and discards up to `limit` bytes until EOF, for at most
/// [`CLOSE_GRACE`].
async fn drain<S: AsyncRead + Unpin>(stream: &mut S, limit: usize) {
    let _ = timeout(CLOSE_GRACE, async {
        // On the heap: a stack array would enlarge every connection's future.
        let mut sink = vec![0u8; 4096];
        let mut drained = 0;
        while drained < limit {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
    })
    .await;
}

/// Why a session ends.
enum Exit {
    /// The socket is gone or the client closed; nothing more to say.
    Gone,
    /// The client sent a close frame; tungstenite has queued the reply.
    ClientClosed,
    /// We close with this code and reason.
    Close(CloseCode, &'static str),
    /// A message over the size limit. Its payload is still arriving, so the
    /// frame stream is out of step: close with 1009 and drain raw bytes.
    Oversize,
    /// The server is shutting down.
    Shutdown,
}

/// Unregisters the peer however the session ends (even by panic), so the
/// hub never keeps a peer without a connection.
struct Registration<'a> {
    hub: &'a Hub,
    id: PeerId,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.hub.unregister(&self.id);
    }
}

async fn session<S>(mut ws: WebSocketStream<Prefixed<S>>, shared: &Shared, shutdown: &mut Shutdown)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let config = &shared.config;
    let (outbox, mut inbox) = mpsc::channel(config.outbound_queue);
    let id = shared.hub.register(outbox);
    let registration = Registration {
        hub: &shared.hub,
        id: id.clone(),
    };
    let span = tracing::debug_span!("peer", %id);
    let exit = async {
        debug!(peers = shared.hub.peer_count(), "connected");
        let welcome = ServerMessage::Join {
            id: id.clone(),
            version: PROTOCOL_VERSION,
            ice_servers: shared.ice.for_peer(&id),
        };
        if !send(&mut ws, welcome.to_json().into(), config.write_timeout).await {
            return Exit::Gone;
        }
        run_session(&mut ws, &id, shared, shutdown, &mut inbox).await
    }
    .instrument(span.clone())
    .await;

    // Tell the room and call partners right away, not after the close grace.
    drop(registration);
    async {
        match exit {
            Exit::Gone => debug!("disconnected"),
            Exit::ClientClosed => {
                debug!("client closed");
                // Flushes the close reply tungstenite queued.
                let _ = timeout(CLOSE_GRACE, ws.close(None)).await;
            }
            Exit::Close(code, reason) => {
                info!(code = u16::from(code), reason, "closing connection");
                close(&mut ws, code, reason).await;
            }
            Exit::Oversize => {
                info!(
                    max = config.max_message_bytes,
                    "closing connection: message too large"
                );
                close_and_drain(&mut ws).await;
            }
            Exit::Shutdown => {
                let (reason, call_ended) = if config.shutdown_ends_calls {
                    ("the host stopped hosting this call", true)
                } else {
                    ("server shutting down", false)
                };
                let notice = ServerMessage::Shutdown {
                    reason: reason.to_owned(),
                    call_ended,
                };
                let _ = send(&mut ws, notice.to_json().into(), CLOSE_GRACE).await;
                close(&mut ws, CloseCode::Away, reason).await;
            }
        }
    }
    .instrument(span)
    .await;
}

async fn run_session<S>(
    ws: &mut WebSocketStream<Prefixed<S>>,
    id: &PeerId,
    shared: &Shared,
    shutdown: &mut Shutdown,
    inbox: &mut mpsc::Receiver<Utf8Bytes>,
) -> Exit
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let config = &shared.config;
    let mut bucket = TokenBucket::new(
        config.rate_per_sec,
        config.rate_burst,
        std::time::Instant::now(),
    );
    let mut heartbeat =
        tokio::time::interval_at(Instant::now() + config.ping_interval, config.ping_interval);
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_seen = Instant::now();

    loop {
        tokio::select! {
            () = shutdown.recv() => return Exit::Shutdown,
            incoming = ws.next() => {
                let message = match incoming {
                    None => return Exit::Gone,
                    Some(Ok(message)) => message,
                    Some(Err(error)) => return read_error_exit(error),
                };
                last_seen = Instant::now();
                let counted = matches!(message, Message::Text(_) | Message::Binary(_) | Message::Ping(_));
                if counted {
                    match bucket.check(std::time::Instant::now()) {
                        Verdict::Allow => {}
                        Verdict::Limited { notify } => {
                            if notify {
                                let error = MessageError::new(
                                    ErrorCode::RateLimited,
                                    format!(
                                        "more than {} messages per second (bursts of {}); \
                                         message dropped. Keep sending and the connection is closed",
                                        config.rate_per_sec, config.rate_burst
                                    ),
                                );
                                if !send_error(ws, inbox, &error, config.write_timeout).await {
                                    return Exit::Gone;
                                }
                            }
                            continue;
                        }
                        Verdict::Flooding => return Exit::Close(CloseCode::Policy, "rate limit exceeded"),
                    }
                }
                let outcome = match message {
                    Message::Text(text) => {
                        ClientMessage::parse(&text).and_then(|message| shared.hub.handle(id, message))
                    }
                    Message::Binary(_) => Err(MessageError::new(
                        ErrorCode::InvalidMessage,
                        "binary frames are not supported; send JSON text frames",
                    )),
                    Message::Close(_) => return Exit::ClientClosed,
                    // tungstenite answers pings itself; pongs only prove liveness.
                    Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => Ok(()),
                };
                if let Err(error) = outcome {
                    debug!(code = %error.code, "refused message");
                    if !send_error(ws, inbox, &error, config.write_timeout).await {
                        return Exit::Gone;
                    }
                }
            }
            queued = inbox.recv() => match queued {
                Some(text) => {
                    if !send(ws, text, config.write_timeout).await {
                        return Exit::Gone;
                    }
                }
                // The hub dropped us: our queue overflowed.
                None => return Exit::Close(CloseCode::Policy, "too slow: outbound queue overflowed"),
            },
            _ = heartbeat.tick() => {
                if last_seen.elapsed() >= config.idle_timeout {
                    return Exit::Close(CloseCode::Normal, "idle timeout");
                }
                if !send_message(ws, Message::Ping(Default::default()), config.write_timeout).await {
                    return Exit::Gone;
                }
            }
        }
    }
}

/// Maps a read error to how the session ends.
fn read_error_exit(error: WsError) -> Exit {
    match error {
        WsError::Capacity(_) => Exit::Oversize,
        WsError::Utf8(_) => Exit::Close(CloseCode::Invalid, "invalid UTF-8 in text frame"),
        WsError::Protocol(error) => {
            debug!(%error, "WebSocket protocol error");
            Exit::Close(CloseCode::Protocol, "protocol error")
        }
        error => {
            debug!(%error, "read failed");
            Exit::Gone
        }
    }
}

/// Sends an error reply. Whatever the hub queued for this client before
/// goes out first, so replies keep the order of the messages that caused them
/// (a `room_joined` is never overtaken by the error for the next message).
async fn send_error<S>(
    ws: &mut WebSocketStream<S>,
    inbox: &mut mpsc::Receiver<Utf8Bytes>,
    error: &MessageError,
    limit: Duration,
) -> bool
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    while let Ok(queued) = inbox.try_recv() {
        if !send(ws, queued, limit).await {
            return false;
        }
    }
    send(ws, error.to_server_message().to_json().into(), limit).await
}

/// Sends one text frame; false if the client is gone or too slow.
async fn send<S>(ws: &mut WebSocketStream<S>, text: Utf8Bytes, limit: Duration) -> bool
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    send_message(ws, Message::Text(text), limit).await
}

async fn send_message<S>(ws: &mut WebSocketStream<S>, message: Message, limit: Duration) -> bool
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match timeout(limit, ws.send(message)).await {
        Ok(Ok(())) => true,
        Ok(Err(error)) => {
            debug!(%error, "write failed");
            false
        }
        Err(_) => {
            debug!("write timed out; client too slow");
            false
        }
    }
}

/// Sends a close frame and waits (briefly) for the client's.
async fn close<S>(ws: &mut WebSocketStream<S>, code: CloseCode, reason: &'static str)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = timeout(CLOSE_GRACE, async {
        if ws.close(Some(frame)).await.is_err() {
            return;
        }
        // Read until the client's close frame completes the handshake.
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}

/// Closes with 1009, then reads and discards raw bytes until the client
/// hangs up (bounded in time and size). Dropping a socket with unread data
/// makes the kernel send RST, which can destroy the close frame before the
/// client reads it; draining first lets it arrive.
async fn close_and_drain<S>(ws: &mut WebSocketStream<Prefixed<S>>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let frame = CloseFrame {
        code: CloseCode::Size,
        reason: "message too large".into(),
    };
    if timeout(CLOSE_GRACE, ws.close(Some(frame))).await.is_err() {
        return;
    }
    drain(ws.get_mut().inner_mut(), DRAIN_LIMIT).await;
}
