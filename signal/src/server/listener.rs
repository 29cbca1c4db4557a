//! Listening: binding the socket, and the accept loop with its connection
//! semaphore and per-address caps.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{broadcast, mpsc, Semaphore};
use tracing::{debug, error, warn};

use super::connection;
use super::per_address::AddressLimits;
use super::shared::Shared;
use super::shutdown::Shutdown;

/// Binds a TCP listener with a listen backlog sized for bursts of connects
/// (the default of 128 on some systems drops SYNs when many clients reconnect
/// at once, e.g. after a server restart).
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // Lets a restarted server rebind while old connections sit in TIME_WAIT.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

/// The URL clients connect to for a server listening on `addr`: `ws://` or,
/// with TLS, `wss://`. An unspecified bind address (`0.0.0.0`, `::`) is
/// shown as loopback, since that is the one address known to reach it.
pub fn ws_url(addr: SocketAddr, tls: bool) -> String {
    let scheme = if tls { "wss" } else { "ws" };
    let shown = if addr.ip().is_unspecified() {
        match addr {
            SocketAddr::V4(_) => SocketAddr::from(([127, 0, 0, 1], addr.port())),
            SocketAddr::V6(_) => SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, addr.port())),
        }
    } else {
        addr
    };
    format!("{scheme}://{shown}/")
}

/// Raises this process's soft open-file limit to its hard limit (capped at
/// 1 048 576) and returns the new soft limit. Every connection is a file
/// descriptor, and the common default soft limit of 1024 would cap the server
/// far below [`Config::max_connections`](super::Config::max_connections). On non-Unix systems it does nothing
/// and returns `Ok(None)`.
pub fn raise_fd_limit() -> io::Result<Option<u64>> {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit only writes into the struct we pass.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // RLIM_INFINITY is not accepted for NOFILE (the kernel caps it at
        // fs.nr_open), so aim for a large finite value instead.
        let target = limit.rlim_max.min(1 << 20);
        if limit.rlim_cur < target {
            limit.rlim_cur = target;
            // SAFETY: setrlimit only reads the struct we pass.
            if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        // rlim_t is u64 on Linux but not on every Unix.
        #[allow(clippy::unnecessary_cast)]
        Ok(Some(limit.rlim_cur as u64))
    }
    #[cfg(not(unix))]
    {
        Ok(None)
    }
}

/// The accept loop's state.
pub(super) struct Listener {
    pub(super) listener: TcpListener,
    /// One permit per connection; acquired before `accept` so the server
    /// stops accepting (applies backpressure) at the cap.
    pub(super) limit: Arc<Semaphore>,
    /// Connections and handshakes per client address.
    pub(super) addresses: Arc<AddressLimits>,
    pub(super) notify_shutdown: broadcast::Sender<()>,
    pub(super) shutdown_complete_tx: mpsc::Sender<()>,
    pub(super) shared: Arc<Shared>,
}

impl Listener {
    /// Accepts connections forever (until the caller's `select!` drops it).
    pub(super) async fn accept_loop(&mut self) {
        loop {
            if self.limit.available_permits() == 0 {
                warn!(
                    max_connections = self.shared.config.max_connections,
                    "connection limit reached; new clients wait until one leaves"
                );
            }
            // The semaphore is never closed, so this cannot fail; stop
            // accepting rather than panic if it somehow were.
            let Ok(permit) = self.limit.clone().acquire_owned().await else {
                error!("connection semaphore closed; no longer accepting");
                return std::future::pending().await;
            };
            let (socket, remote) = self.accept().await;
            // Closed at once (dropped with the permit) if its address has
            // its fill already.
            let slot = match self.addresses.admit(remote.ip()) {
                Ok(slot) => slot,
                Err(refusal) => {
                    debug!(%remote, %refusal, "connection refused");
                    continue;
                }
            };
            // Signaling messages are small and latency-sensitive.
            if let Err(error) = socket.set_nodelay(true) {
                debug!(%remote, %error, "set_nodelay failed");
            }
            let shared = self.shared.clone();
            let shutdown = Shutdown::new(self.notify_shutdown.subscribe());
            let held = connection::Held {
                permit,
                slot,
                complete: self.shutdown_complete_tx.clone(),
            };
            tokio::spawn(connection::serve(socket, remote, held, shared, shutdown));
        }
    }

    /// Accepts one connection. Errors such as running out of file descriptors
    /// are transient for a server: log them and retry with a growing backoff
    /// (the sleep also lets connection tasks finish and free descriptors).
    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        let mut backoff = Duration::from_millis(5);
        loop {
            match self.listener.accept().await {
                Ok(accepted) => return accepted,
                Err(error) => {
                    warn!(%error, retry_in = ?backoff, "accept failed");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
            }
        }
    }
}
