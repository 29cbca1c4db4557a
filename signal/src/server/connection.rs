//! One task per connection: TLS, the request head, then either a static-file
//! response or a WebSocket signaling session (`session.rs`).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, OwnedSemaphorePermit};
use tokio::time::{timeout, timeout_at, Instant};
use tracing::{debug, info, Instrument, Span};

use super::frames::FrameGuard;
use super::http::{self, HeadError, Response, Route};
use super::per_address::AddressSlot;
use super::session::{session, Socket};
use super::shared::Shared;
use super::shutdown::Shutdown;
use super::stream::Prefixed;

/// How long a closing connection waits for the client's close frame (or, on
/// abuse, keeps draining what the client still sends) before dropping it.
pub(super) const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// What a connection holds until it ends, whichever task ends it: its
/// place under the connection limit and in its address's counts, and its
/// part in the wait for every connection at shutdown.
pub(crate) struct Held {
    /// Held only to be dropped, as is `complete`.
    #[allow(dead_code)]
    pub(crate) permit: OwnedSemaphorePermit,
    pub(crate) slot: AddressSlot,
    #[allow(dead_code)]
    pub(crate) complete: mpsc::Sender<()>,
}

/// Serves one accepted TCP connection to the end of its handshake; a
/// WebSocket session then runs as a task of its own.
pub(crate) async fn serve(
    socket: TcpStream,
    remote: SocketAddr,
    held: Held,
    shared: Arc<Shared>,
    shutdown: Shutdown,
) {
    // One deadline covers TLS, the request head and the WebSocket handshake,
    // so a client trickling bytes cannot hold a slot longer than that.
    let deadline = Instant::now() + shared.config.handshake_timeout;
    // The session records its peer's id here once it has one.
    let span = tracing::debug_span!("conn", %remote, peer = tracing::field::Empty);
    async {
        #[cfg(feature = "tls")]
        if let Some(acceptor) = shared.tls.clone() {
            let mut shutdown = shutdown;
            // Boxed, handshake and stream: TLS state is kilobytes, and
            // inline (even as a result on its way out) it would size every
            // connection's task for it, TLS or not.
            let accept = Box::pin(async {
                let accepted = timeout_at(deadline, acceptor.accept(socket)).await;
                accepted.map(|tls| tls.map(Box::new))
            });
            let accepted = tokio::select! {
                accepted = accept => accepted,
                () = shutdown.recv() => return,
            };
            match accepted {
                // This branch's future on the heap too, so that plain
                // connections' tasks are not sized for it.
                Ok(Ok(stream)) => {
                    Box::pin(serve_stream(
                        stream, remote, held, shared, shutdown, deadline,
                    ))
                    .await
                }
                Ok(Err(error)) => debug!(%error, "TLS handshake failed"),
                Err(_) => debug!("TLS handshake timed out"),
            }
            return;
        }
        serve_stream(socket, remote, held, shared, shutdown, deadline).await
    }
    .instrument(span)
    .await;
}

async fn serve_stream<S>(
    stream: S,
    remote: SocketAddr,
    mut held: Held,
    shared: Arc<Shared>,
    mut shutdown: Shutdown,
    deadline: Instant,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let upgrade = upgrade(
        stream,
        (remote, &mut held.slot),
        &shared,
        &mut shutdown,
        deadline,
    );
    if let Some((ws, client)) = upgrade.await {
        // The session, which lasts as long as the connection, gets a task
        // of its own, sized for it alone: this one ends here, and nothing
        // the head or the handshake left in its state is kept beside it.
        let session = session(ws, client, shared, shutdown, held);
        tokio::spawn(session.instrument(Span::current()));
    }
}

/// Reads the request head and answers it: a static file, a refusal, or a
/// WebSocket handshake, whose socket and client address are returned.
///
/// Everything here is boxed: its futures (the head, a static response, the
/// handshake) live on the heap only while they run, so a connection's task
/// is sized for the session alone.
async fn upgrade<S>(
    mut stream: S,
    (remote, slot): (SocketAddr, &mut AddressSlot),
    shared: &Shared,
    shutdown: &mut Shutdown,
    deadline: Instant,
) -> Option<(Socket<S>, IpAddr)>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (head, upgrade) = Box::pin(read_and_route(&mut stream, shared, shutdown, deadline)).await?;
    let stream = FrameGuard::new(
        Prefixed::new(head, stream),
        upgrade.head_len,
        shared.config.max_fragments_per_message,
    );
    let ws = Box::pin(async {
        let handshake = tokio_tungstenite::accept_async_with_config(stream, Some(shared.ws_config));
        let handshake = tokio::select! {
            ws = timeout_at(deadline, handshake) => ws,
            () = shutdown.recv() => return None,
        };
        match handshake {
            Ok(Ok(ws)) => Some(ws),
            Ok(Err(error)) => {
                debug!(%error, "WebSocket handshake failed");
                None
            }
            Err(_) => {
                debug!("WebSocket handshake timed out");
                None
            }
        }
    })
    .await?;
    slot.handshake_done();
    // Behind a trusted reverse proxy on this machine, the client is who the
    // proxy says: the password throttle counts per client.
    let client = match upgrade.forwarded_for {
        Some(forwarded) if shared.config.trust_forwarded_for && remote.ip().is_loopback() => {
            forwarded
        }
        _ => remote.ip(),
    };
    Some((ws, client))
}

/// What a WebSocket upgrade needs of its request head.
struct Upgrade {
    head_len: usize,
    forwarded_for: Option<IpAddr>,
}

/// Reads and routes the request head: answers a static file or a refusal
/// itself, and returns the head (for tungstenite to read again) when the
/// request is a WebSocket upgrade to accept.
async fn read_and_route<S>(
    stream: &mut S,
    shared: &Shared,
    shutdown: &mut Shutdown,
    deadline: Instant,
) -> Option<(Vec<u8>, Upgrade)>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let head = tokio::select! {
        head = timeout_at(deadline, http::read_head(stream)) => head,
        () = shutdown.recv() => return None,
    };
    let head = match head {
        Ok(Ok(head)) => head,
        Ok(Err(HeadError::TooLarge)) => {
            let response = Response::text(
                431,
                "Request Header Fields Too Large",
                "request head too large\n",
            );
            respond(stream, &response, shared).await;
            return None;
        }
        Ok(Err(HeadError::Malformed)) => {
            debug!("not an HTTP request");
            respond(stream, &Response::bad_request(), shared).await;
            return None;
        }
        Ok(Err(HeadError::Closed)) => return None,
        Ok(Err(HeadError::Io(error))) => {
            debug!(%error, "reading request failed");
            return None;
        }
        Err(_) => {
            debug!("request head timed out");
            return None;
        }
    };
    let Some(request) = http::parse_head(&head) else {
        respond(stream, &Response::bad_request(), shared).await;
        return None;
    };

    match http::route(&request, &shared.origins) {
        Route::Static => {
            let files = shared.config.static_files.as_ref();
            let response = http::static_response(&request, files).await;
            respond(stream, &response, shared).await;
            None
        }
        Route::Health => {
            respond(stream, &health(shared), shared).await;
            None
        }
        Route::Refuse(response, why) => {
            info!(origin = ?request.origin, why, "WebSocket refused");
            respond(stream, &response, shared).await;
            None
        }
        Route::WebSocket => Some((
            head,
            Upgrade {
                head_len: request.head_len,
                forwarded_for: request.forwarded_for,
            },
        )),
    }
}

/// `GET /healthz`: always 200 while the server runs (it serves its own
/// clients whatever happens to Redis); the body says how many clients it
/// has and, with `--redis`, whether Redis is reachable.
fn health(shared: &Shared) -> Response {
    #[cfg(feature = "redis")]
    let (redis, instance) = match &shared.cluster {
        Some(cluster) if cluster.connected() => ("connected", cluster.instance_name()),
        Some(cluster) => ("disconnected", cluster.instance_name()),
        None => ("off", String::new()),
    };
    #[cfg(not(feature = "redis"))]
    let (redis, instance) = ("off", String::new());
    let body = format!(
        "{{\"status\":\"ok\",\"peers\":{},\"redis\":\"{redis}\",\"instance\":\"{instance}\"}}\n",
        shared.hub.peer_count()
    );
    Response::json(200, "OK", body)
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
pub(super) async fn drain<S: AsyncRead + Unpin>(stream: &mut S, limit: usize) {
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
