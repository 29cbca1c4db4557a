//! A WebSocket signaling session: the welcome, then a `select!` over the
//! socket, the outbound queue, eviction, the heartbeat and shutdown, and a
//! proper close however it ends.

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::time::error::Elapsed;
use tokio::time::{sleep, timeout, Instant};
use tokio_tungstenite::tungstenite::error::Error as WsError;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data as OpData, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;
use tracing::{debug, info, Span};

use super::budget::{self, Evicted, Eviction, Inbox};
use super::connection::{drain, Held, CLOSE_GRACE};
use super::frames::{FrameGuard, TooManyFragments};
use super::rate::{Limit, TokenBucket, Verdict};
use super::shared::Shared;
use super::shutdown::Shutdown;
use super::splice;
use super::stream::Prefixed;
use super::within::Within;
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
    /// The hub threw the queue away (see [`super::budget`]), or the server
    /// is shutting down ([`Eviction::Shutdown`]).
    Evicted(Eviction),
}

/// Unregisters the peer however the session ends (even by panic), so the
/// hub never keeps a peer without a connection.
struct Registration<'a> {
    shared: &'a Shared,
    id: &'a PeerId,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.shared.hub.unregister(self.id);
        #[cfg(feature = "redis")]
        if let Some(cluster) = &self.shared.cluster {
            cluster.gone(self.id);
        }
    }
}

/// Runs a session on an upgraded socket from `client` to the end.
///
/// The session is its connection's task from here on (see
/// [`super::connection`]): it owns what the connection holds (`held`),
/// released when it ends, however it ends.
///
/// Not an `async fn`: the future of one keeps its arguments twice (as
/// arguments, then as the body's locals), and the socket alone is over 400
/// bytes. This block owns them and lends them to the body.
#[allow(clippy::manual_async_fn)]
pub(crate) fn session<S>(
    mut ws: Socket<S>,
    client: IpAddr,
    shared: Arc<Shared>,
    mut shutdown: Shutdown,
    held: Held,
) -> impl Future<Output = ()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    async move {
        run(&mut ws, client, &shared, &mut shutdown).await;
        drop(held);
    }
}

async fn run<S>(
    ws: &mut Socket<S>,
    client: IpAddr,
    shared_arc: &Arc<Shared>,
    shutdown: &mut Shutdown,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let shared = &**shared_arc;
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
    let registration = Registration { shared, id: &id };
    // The connection's span (see `connection.rs`) says who this is from
    // now on: a span of the session's own would be kept in its future.
    Span::current().record("peer", tracing::field::display(&id));
    debug!(peers = shared.hub.peer_count(), "connected");
    // Boxed, as every rare or one-time await here: the session's future
    // lives as long as the connection, so it is kept to what the loop needs
    // (see `run_session`).
    let exit = 'exit: {
        if !Box::pin(welcome(ws, &id, shared)).await {
            break 'exit Exit::Gone;
        }
        let queue = (&mut inbox, &mut evicted);
        // Sharing rooms through Redis: a loop of its own (see
        // `cluster/inbound.rs`), boxed: its state is not for this server's
        // own clients to carry.
        #[cfg(feature = "redis")]
        if let Some(inbound) = super::cluster::Inbound::start(shared_arc, &id) {
            let (ws, id) = (&mut *ws, &id);
            break 'exit Box::pin(async move {
                let exit = run_session(ws, id, shared, queue, &inbound).await;
                inbound.finish().await;
                exit
            })
            .await;
        }
        run_session(ws, &id, shared, queue, &Local).await
    };

    // Tell the room and call partners right away, not after the close grace,
    // and give back what is still queued: it will not be sent.
    drop(registration);
    inbox.discard();
    Box::pin(end(ws, exit, shared, shutdown)).await;
}

/// Writes the welcome straight to the socket; false if the client is gone
/// or too slow.
///
/// Not through tungstenite, which has written nothing of its own yet: its
/// write buffer keeps the size of the largest frame it has written for the
/// connection's life, and an idle connection then never needs one.
async fn welcome<S>(ws: &mut Socket<S>, id: &PeerId, shared: &Shared) -> bool
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let text = ServerMessage::Join {
        id: id.clone(),
        version: PROTOCOL_VERSION,
        ice_servers: shared.ice.for_peer(id),
    }
    .to_json();
    let mut frame = Vec::with_capacity(text.len() + 10);
    let formatted = Frame::message(text, OpCode::Data(OpData::Text), true).format(&mut frame);
    debug_assert!(formatted.is_ok(), "a Vec takes any frame");
    let stream = ws.get_mut();
    let write = async {
        stream.write_all(&frame).await?;
        stream.flush().await
    };
    written(timeout(shared.config.write_timeout, write).await)
}

/// Closes the connection as `exit` says.
async fn end<S>(ws: &mut Socket<S>, exit: Exit, shared: &Shared, shutdown: &mut Shutdown)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let config = &shared.config;
    match exit {
        Exit::Gone => debug!("disconnected"),
        Exit::ClientClosed => {
            debug!("client closed");
            // Writes the close reply tungstenite queued (echoing the
            // client's code); the socket is then closed (EOF). Not
            // `ws.close()`: tungstenite refuses to send after a close.
            let _ = timeout(CLOSE_GRACE, SinkExt::flush(ws)).await;
        }
        Exit::Close(code, reason) => {
            info!(code = u16::from(code), reason, "closing connection");
            close(ws, code, reason, CLOSE_GRACE).await;
        }
        Exit::Evicted(Eviction::Shutdown) => {
            let (reason, call_ended) = if config.shutdown_ends_calls {
                ("the host stopped hosting this call", true)
            } else {
                ("server shutting down", false)
            };
            let notice = ServerMessage::Shutdown {
                reason: reason.to_owned(),
                call_ended,
            };
            let _ = send(ws, notice.to_json().into(), CLOSE_GRACE).await;
            close(ws, CloseCode::Away, reason, CLOSE_GRACE).await;
        }
        Exit::Evicted(why) => {
            let (code, reason) = why.close();
            let queued = shared.budget.queued();
            info!(code = u16::from(code), reason, queued, "closing connection");
            // The client reads slowly, if at all: give the close frame as
            // long as any other write.
            let wait = config.write_timeout;
            tokio::select! {
                () = close(ws, code, reason, wait) => {}
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
            close_and_drain(ws, reason).await;
        }
    }
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
    (inbox, evicted): (&mut Inbox, &mut Evicted),
    dispatch: &D,
) -> Exit
where
    S: AsyncRead + AsyncWrite + Unpin,
    D: Dispatch,
{
    let config = &shared.config;
    let now = std::time::Instant::now();
    let mut bucket = TokenBucket::new(message_limit(config), now);
    let mut pongs = TokenBucket::new(pong_limit(config), now);
    // A ping every `ping_interval`, counted from the last one. On the heap,
    // as in an `Interval`, without the period and policy it would keep.
    let mut heartbeat = Box::pin(sleep(config.ping_interval));
    // Made the first time a write has to wait, then kept (see `Within`).
    let mut write_timer = None;

    loop {
        tokio::select! {
            // Shutdown comes this way too (see `Hub::begin_shutdown`).
            why = evicted.recv() => return Exit::Evicted(why),
            incoming = ws.next() => {
                let message = match incoming {
                    None => return Exit::Gone,
                    Some(Ok(message)) => message,
                    Some(Err(error)) => return read_error_exit(error),
                };
                let (bucket, limit, what) = match message {
                    Message::Pong(_) => (&mut pongs, pong_limit(config), "pongs"),
                    Message::Close(_) => return Exit::ClientClosed,
                    _ => (&mut bucket, message_limit(config), "messages"),
                };
                match bucket.check(limit, std::time::Instant::now()) {
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
                    let write = ws.send(Message::Text(text));
                    tokio::select! {
                        sent = Within::new(write, config.write_timeout, &mut write_timer) => if !sent {
                            return Exit::Gone;
                        },
                        why = evicted.recv() => return Exit::Evicted(why),
                    }
                }
                // The hub dropped the queue, which it only does after an
                // eviction (reported by the branch above).
                None => return Exit::Evicted(Eviction::TooSlow),
            },
            () = heartbeat.as_mut() => {
                // Every message passes one bucket or the other, which
                // remembers when it came.
                let last_seen = bucket.last().max(pongs.last());
                if last_seen.elapsed() >= config.idle_timeout {
                    return Exit::Close(CloseCode::Normal, "idle timeout");
                }
                heartbeat.as_mut().reset(Instant::now() + config.ping_interval);
                let ping = send_message(ws, Message::Ping(Default::default()), config.write_timeout);
                if !Box::pin(ping).await {
                    return Exit::Gone;
                }
            }
        }
    }
}

/// Each client's limit on messages (see [`super::rate`]).
fn message_limit(config: &super::Config) -> Limit {
    Limit::new(config.rate_per_sec, config.rate_burst)
}

/// Pongs answer our pings; a client sending floods of them unasked is held
/// to its own budget.
fn pong_limit(config: &super::Config) -> Limit {
    Limit::new(config.max_pongs_per_sec, config.max_pongs_per_sec)
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
    written(timeout(limit, ws.send(message)).await)
}

/// Whether a write made within its time limit went out; if not, says why.
fn written<E: std::fmt::Display>(result: Result<Result<(), E>, Elapsed>) -> bool {
    match result {
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
