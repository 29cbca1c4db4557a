//! A WebSocket signaling session: the welcome, then a `select!` over the
//! socket, the outbound queue, eviction, the heartbeat and shutdown, and a
//! proper close however it ends.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{timeout, Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::error::Error as WsError;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;
use tracing::{debug, info, Instrument};

use super::budget::{self, Evicted, Eviction, Inbox};
use super::connection::{drain, Held, CLOSE_GRACE};
use super::frames::{FrameGuard, TooManyFragments};
use super::rate::{TokenBucket, Verdict};
use super::shared::Shared;
use super::shutdown::Shutdown;
use super::splice;
use super::stream::Prefixed;
use crate::protocol::{
    ClientMessage, ErrorCode, MessageError, PeerId, ServerMessage, PROTOCOL_VERSION,
};

/// Bytes drained after an oversize message before giving up on a clean close.
const DRAIN_LIMIT: usize = 1 << 20;

/// The socket under a session: frames checked, the head replayed.
pub(crate) type Socket<S> = WebSocketStream<FrameGuard<Prefixed<S>>>;

/// Why a session ends.
enum Exit {
    /// The socket is gone; nothing more to say.
    Gone,
    /// The client sent a close frame; tungstenite has queued the reply.
    ClientClosed,
    /// We close with this code and reason.
    Close(CloseCode, &'static str),
    /// A message over the size limit, or in too many frames. The rest of it
    /// is still arriving, so the frame stream is out of step: close with
    /// 1009 and this reason, and drain raw bytes.
    Oversize(&'static str),
    /// The hub threw the queue away (see [`super::budget`]).
    Evicted(Eviction),
    /// The server is shutting down.
    Shutdown,
}

/// Unregisters the peer however the session ends (even by panic), so the
/// hub never keeps a peer without a connection.
struct Registration<'a> {
    shared: &'a Shared,
    id: PeerId,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.shared.hub.unregister(&self.id);
        #[cfg(feature = "redis")]
        if let Some(cluster) = &self.shared.cluster {
            cluster.gone(&self.id);
        }
    }
}

/// Runs a session on an upgraded socket from `client` to the end.
///
/// The session is its connection's task from here on (see
/// [`super::connection`]): it owns what the connection holds (`held`),
/// released when it ends, however it ends.
pub(crate) async fn session<S>(
    mut ws: Socket<S>,
    client: IpAddr,
    shared: Arc<Shared>,
    mut shutdown: Shutdown,
    held: Held,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let _held = held;
    #[cfg(feature = "redis")]
    let shared_arc = Arc::clone(&shared);
    let shared = &*shared;
    let shutdown = &mut shutdown;
    let config = &shared.config;
    let (outbox, mut inbox, mut evicted) = budget::channel(
        &shared.budget,
        config.outbound_queue,
        config.max_queued_bytes_per_connection,
    );
    let id = shared.hub.register(outbox, client);
    #[cfg(feature = "redis")]
    if let Some(cluster) = &shared.cluster {
        cluster.registered(&id);
    }
    let registration = Registration {
        shared,
        id: id.clone(),
    };
    let span = tracing::debug_span!("peer", %id);
    let exit = async {
        debug!(peers = shared.hub.peer_count(), "connected");
        // Serialized at once: the message itself would otherwise be kept
        // for the whole session.
        let welcome = ServerMessage::Join {
            id: id.clone(),
            version: PROTOCOL_VERSION,
            ice_servers: shared.ice.for_peer(&id),
        }
        .to_json();
        // Boxed, as every rare or one-time await here: the session's future
        // lives as long as the connection, so it is kept to what the loop
        // needs (see `run_session`).
        if !Box::pin(send(&mut ws, welcome.into(), config.write_timeout)).await {
            return Exit::Gone;
        }
        let queue = (&mut inbox, &mut evicted);
        // Sharing rooms through Redis: a loop of its own (see
        // `cluster/inbound.rs`), so this server's own stays as it was.
        #[cfg(feature = "redis")]
        if let Some(inbound) = super::cluster::Inbound::start(&shared_arc, &id) {
            let exit = run_session(&mut ws, &id, shared, shutdown, queue, &inbound).await;
            Box::pin(inbound.finish()).await;
            return exit;
        }
        run_session(&mut ws, &id, shared, shutdown, queue, &Local).await
    }
    .instrument(span.clone())
    .await;

    // Tell the room and call partners right away, not after the close grace,
    // and give back what is still queued: it will not be sent.
    drop(registration);
    inbox.discard();
    Box::pin(
        async {
            match exit {
                Exit::Gone => debug!("disconnected"),
                Exit::ClientClosed => {
                    debug!("client closed");
                    // Writes the close reply tungstenite queued (echoing the
                    // client's code); the socket is then closed (EOF). Not
                    // `ws.close()`: tungstenite refuses to send after a close.
                    let _ = timeout(CLOSE_GRACE, SinkExt::flush(&mut ws)).await;
                }
                Exit::Close(code, reason) => {
                    info!(code = u16::from(code), reason, "closing connection");
                    close(&mut ws, code, reason, CLOSE_GRACE).await;
                }
                Exit::Evicted(why) => {
                    let (code, reason) = why.close();
                    let queued = shared.budget.queued();
                    info!(code = u16::from(code), reason, queued, "closing connection");
                    // The client reads slowly, if at all: give the close frame
                    // as long as any other write.
                    let wait = config.write_timeout;
                    tokio::select! {
                        () = close(&mut ws, code, reason, wait) => {}
                        () = shutdown.recv() => {}
                    }
                }
                Exit::Oversize(reason) => {
                    info!(
                        max_bytes = config.max_message_bytes,
                        max_frames = config.max_fragments_per_message,
                        reason,
                        "closing connection"
                    );
                    close_and_drain(&mut ws, reason).await;
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
                    close(&mut ws, CloseCode::Away, reason, CLOSE_GRACE).await;
                }
            }
        }
        .instrument(span),
    )
    .await;
}

/// What a session does with a client's text message.
pub(crate) trait Dispatch {
    /// Handles `text` from `id` without waiting; `Err` is the error reply.
    fn text(&self, shared: &Shared, id: &PeerId, text: Utf8Bytes) -> Result<(), MessageError>;
}

/// This server's own clients only: one step of the hub; relays, most of
/// the traffic, take the fast path.
struct Local;

impl Dispatch for Local {
    #[inline(always)]
    fn text(&self, shared: &Shared, id: &PeerId, text: Utf8Bytes) -> Result<(), MessageError> {
        match splice::parse(&text) {
            Some(relay) => shared.hub.relay(id, relay),
            None => ClientMessage::parse(&text).and_then(|message| shared.hub.handle(id, message)),
        }
    }
}

async fn run_session<S, D>(
    ws: &mut Socket<S>,
    id: &PeerId,
    shared: &Shared,
    shutdown: &mut Shutdown,
    (inbox, evicted): (&mut Inbox, &mut Evicted),
    dispatch: &D,
) -> Exit
where
    S: AsyncRead + AsyncWrite + Unpin,
    D: Dispatch,
{
    let config = &shared.config;
    let now = std::time::Instant::now();
    let mut bucket = TokenBucket::new(config.rate_per_sec, config.rate_burst, now);
    // Pongs answer our pings; a client sending floods of them unasked is
    // held to its own budget.
    let mut pongs = TokenBucket::new(config.max_pongs_per_sec, config.max_pongs_per_sec, now);
    let mut heartbeat =
        tokio::time::interval_at(Instant::now() + config.ping_interval, config.ping_interval);
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_seen = Instant::now();

    loop {
        tokio::select! {
            () = shutdown.recv() => return Exit::Shutdown,
            why = evicted.recv() => return Exit::Evicted(why),
            incoming = ws.next() => {
                let message = match incoming {
                    None => return Exit::Gone,
                    Some(Ok(message)) => message,
                    Some(Err(error)) => return read_error_exit(error),
                };
                last_seen = Instant::now();
                let (bucket, what) = match message {
                    Message::Pong(_) => (&mut pongs, "pongs"),
                    Message::Close(_) => return Exit::ClientClosed,
                    _ => (&mut bucket, "messages"),
                };
                match bucket.check(std::time::Instant::now()) {
                    Verdict::Allow => {}
                    Verdict::Limited { notify } => {
                        if notify {
                            let error = rate_limited(what, shared);
                            if !Box::pin(send_error(ws, inbox, &error, config.write_timeout)).await {
                                return Exit::Gone;
                            }
                        }
                        continue;
                    }
                    Verdict::Flooding => {
                        let reason = if what == "pongs" {
                            "too many pongs"
                        } else {
                            "rate limit exceeded"
                        };
                        return Exit::Close(CloseCode::Policy, reason);
                    }
                }
                let outcome = match message {
                    Message::Text(text) => dispatch.text(shared, id, text),
                    Message::Binary(_) => Err(MessageError::new(
                        ErrorCode::InvalidMessage,
                        "binary frames are not supported; send JSON text frames",
                    )),
                    // tungstenite answers pings itself; pongs only prove
                    // liveness; fragments arrive joined.
                    Message::Ping(_) | Message::Pong(_) | Message::Frame(_) | Message::Close(_) => Ok(()),
                };
                if let Err(error) = outcome {
                    debug!(code = %error.code, "refused message");
                    if !Box::pin(send_error(ws, inbox, &error, config.write_timeout)).await {
                        return Exit::Gone;
                    }
                }
            }
            queued = inbox.recv() => match queued {
                Some(text) => {
                    // A client that stops reading stalls this write; being
                    // evicted meanwhile ends it at once.
                    tokio::select! {
                        sent = send(ws, text, config.write_timeout) => if !sent {
                            return Exit::Gone;
                        },
                        why = evicted.recv() => return Exit::Evicted(why),
                    }
                }
                // The hub dropped the queue, which it only does after an
                // eviction (reported by the branch above).
                None => return Exit::Evicted(Eviction::TooSlow),
            },
            _ = heartbeat.tick() => {
                if last_seen.elapsed() >= config.idle_timeout {
                    return Exit::Close(CloseCode::Normal, "idle timeout");
                }
                let ping = send_message(ws, Message::Ping(Default::default()), config.write_timeout);
                if !Box::pin(ping).await {
                    return Exit::Gone;
                }
            }
        }
    }
}

fn rate_limited(what: &str, shared: &Shared) -> MessageError {
    let config = &shared.config;
    let (rate, burst) = if what == "pongs" {
        (config.max_pongs_per_sec, config.max_pongs_per_sec)
    } else {
        (config.rate_per_sec, config.rate_burst)
    };
    MessageError::new(
        ErrorCode::RateLimited,
        format!(
            "more than {rate} {what} per second (bursts of {burst}); \
             message dropped. Keep sending and the connection is closed"
        ),
    )
}

/// Maps a read error to how the session ends.
fn read_error_exit(error: WsError) -> Exit {
    match error {
        WsError::Capacity(_) => Exit::Oversize("message too large"),
        WsError::Io(error) if TooManyFragments::is(&error) => {
            Exit::Oversize("message in too many frames")
        }
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
    inbox: &mut Inbox,
    error: &MessageError,
    limit: Duration,
) -> bool
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    while let Some(queued) = inbox.try_recv() {
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

/// Sends a close frame and waits for the client's, within `limit` in all.
async fn close<S>(
    ws: &mut WebSocketStream<S>,
    code: CloseCode,
    reason: &'static str,
    limit: Duration,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = timeout(limit, async {
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
async fn close_and_drain<S>(ws: &mut Socket<S>, reason: &'static str)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let frame = CloseFrame {
        code: CloseCode::Size,
        reason: reason.into(),
    };
    if timeout(CLOSE_GRACE, ws.close(Some(frame))).await.is_err() {
        return;
    }
    drain(ws.get_mut().get_mut().inner_mut(), DRAIN_LIMIT).await;
}
