//! One task per connection: TLS, the request head, then either a static-file
//! response or a WebSocket signaling session (`session.rs`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::{timeout, timeout_at, Instant};
use tracing::{debug, info, Instrument};

use super::frames::FrameGuard;
use super::http::{self, HeadError, Response, Route};
use super::per_address::AddressSlot;
use super::session::session;
use super::shared::Shared;
use super::shutdown::Shutdown;
use super::stream::Prefixed;

/// How long a closing connection waits for the client's close frame (or, on
/// abuse, keeps draining what the client still sends) before dropping it.
pub(super) const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Serves one accepted TCP connection, holding `slot` in its address's
/// counts, to the end.
pub(crate) async fn serve(
    socket: TcpStream,
    remote: SocketAddr,
    mut slot: AddressSlot,
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
                        (remote, &mut slot),
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
        serve_stream(
            socket,
            (remote, &mut slot),
            &shared,
            &mut shutdown,
            deadline,
        )
        .await
    }
    .instrument(span)
    .await;
}

async fn serve_stream<S>(
    mut stream: S,
    (remote, slot): (SocketAddr, &mut AddressSlot),
    shared: &Shared,
    shutdown: &mut Shutdown,
    deadline: Instant,
) where
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

    match http::route(&request, &shared.origins) {
        Route::Static => {
            let files = shared.config.static_files.as_ref();
            let response = http::static_response(&request, files).await;
            respond(&mut stream, &response, shared).await;
            return;
        }
        Route::Refuse(response, why) => {
            info!(origin = ?request.origin, why, "WebSocket refused");
            respond(&mut stream, &response, shared).await;
            return;
        }
        Route::WebSocket => {}
    }

    let stream = FrameGuard::new(
        Prefixed::new(head, stream),
        request.head_len,
        shared.config.max_fragments_per_message,
    );
    let handshake = tokio_tungstenite::accept_async_with_config(stream, Some(shared.ws_config));
    let ws = tokio::select! {
        ws = timeout_at(deadline, handshake) => ws,
        () = shutdown.recv() => return,
    };
    match ws {
        Ok(Ok(ws)) => {
            slot.handshake_done();
            // Behind a trusted reverse proxy on this machine, the client is
            // who the proxy says: the password throttle counts per client.
            let client = match request.forwarded_for {
                Some(forwarded)
                    if shared.config.trust_forwarded_for && remote.ip().is_loopback() =>
                {
                    forwarded
                }
                _ => remote.ip(),
            };
            session(ws, client, shared, shutdown).await
        }
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
