//! The signaling server: WebSocket signaling, optional TLS and static files,
//! all on one port.
//!
//! Shaped like `mini-redis`: [`run`] takes a bound listener, a [`Config`] and a
//! shutdown future. An accept loop, bounded by a semaphore of
//! [`Config::max_connections`] permits and by per-address caps on
//! connections and handshakes, spawns one task per connection. Each
//! connection task reads the HTTP request head itself and either serves a
//! static file ([`StaticFiles`]) or upgrades to a WebSocket after the origin
//! check; the session then runs in a task of its own (sized for it alone:
//! an idle connection's memory is mostly its task), which `select!`s over
//! the socket, its outbound queue, a heartbeat and the shutdown signal
//! (`shutdown.rs`). What the tasks share (`shared.rs`) is
//! the config, the queue budget and the state of peers, rooms and calls:
//! one hub (`hub/`) behind a synchronous mutex that is never held across
//! an `.await`, a state machine whose steps return what they send; every
//! peer owns a queue of outbound frames bounded in frames and bytes, within
//! a server-wide byte budget, and a peer whose queue overflows (or, with the
//! budget spent, the slowest reader) is dropped rather than allowed to slow
//! anyone else down or pin memory.
//!
//! On shutdown every connected client gets a `{"type":"shutdown",...}` message
//! and a close frame with code 1001, and [`run`] returns once every connection
//! task has finished.

mod budget;
#[cfg(feature = "redis")]
mod cluster;
mod config;
mod connection;
mod frames;
#[cfg(any(test, fuzzing))]
#[doc(hidden)]
pub mod fuzzing;
mod http;
mod hub;
mod listener;
mod per_address;
mod rate;
mod session;
mod shared;
mod shutdown;
mod splice;
mod static_files;
mod stream;
mod throttle;
#[cfg(feature = "tls")]
mod tls;
mod turn;
mod within;

use std::future::Future;
use std::io;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc, Semaphore};
use tracing::info;

use per_address::AddressLimits;

#[cfg(feature = "redis")]
pub use cluster::RedisError;
pub use config::{Config, HostedRoom, APP_ORIGINS};
use listener::Listener;
pub use listener::{bind, raise_fd_limit, ws_url};
/// The rustls this crate is built against, for building [`Config::tls`] by
/// hand with a matching version.
#[cfg(feature = "tls")]
pub use rustls;
use shared::Shared;
pub use static_files::{content_type_for_path, DirFiles, StaticFile, StaticFiles};
pub use throttle::ThrottleLimits;
#[cfg(feature = "tls")]
pub use tls::{load_tls_config, tls_config_from_pem, TlsError};
pub use turn::turn_rest_credentials;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A [`Config`] value is out of range.
    #[error("invalid server configuration: {0}")]
    InvalidConfig(String),
    /// The listener's socket failed (e.g. no local address).
    #[error("listener error: {0}")]
    Io(#[from] io::Error),
    /// [`Config::redis`] is set and Redis can't be used.
    #[cfg(feature = "redis")]
    #[error("{0}")]
    Redis(#[from] RedisError),
}

/// Whether Redis at `url` answers, as [`Config::redis`] needs at start.
#[cfg(feature = "redis")]
pub async fn check_redis(url: &str) -> Result<(), RedisError> {
    cluster::Cluster::connect(url, 1, ThrottleLimits::default())
        .await
        .map(drop)
}

/// Serves signaling (and static files, if configured) on `listener` until
/// `shutdown` completes, then tells every client, closes every connection
/// and returns once all connection tasks are done.
///
/// The app, the `peercall-signal` binary and the tests all start the server
/// this way. Fails only on an invalid [`Config`] or a listener without a
/// local address; errors on single connections are logged and contained.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    config.validate()?;
    let local_addr = listener.local_addr()?;
    #[cfg(feature = "redis")]
    let cluster = match &config.redis {
        Some(url) => Some(
            cluster::Cluster::connect(url, config.room_capacity, config.password_throttle).await?,
        ),
        None => None,
    };
    let shared = Arc::new(Shared::new(
        config,
        local_addr,
        #[cfg(feature = "redis")]
        cluster,
    ));

    // Dropping the broadcast sender is the shutdown signal: every receiver
    // then sees `Closed`. Each connection task holds a clone of the mpsc
    // sender; when all are dropped, `recv` returns `None` and we know every
    // task has finished (the mini-redis pattern).
    let (notify_shutdown, _) = broadcast::channel::<()>(1);
    let (shutdown_complete_tx, mut shutdown_complete_rx) = mpsc::channel::<()>(1);
    // The cluster's tasks stop when `cluster_stop` is dropped, with the rest.
    #[cfg(feature = "redis")]
    let (cluster_stop, stopped) = tokio::sync::watch::channel(());
    #[cfg(feature = "redis")]
    cluster::spawn(
        &shared,
        &cluster::Stop::new(stopped),
        shutdown_complete_tx.clone(),
    );

    let mut server = Listener {
        listener,
        limit: Arc::new(Semaphore::new(shared.config.max_connections)),
        addresses: AddressLimits::new(
            shared.config.max_handshakes_per_address,
            shared.config.max_connections_per_address,
            shared.config.limit_loopback,
        ),
        notify_shutdown,
        shutdown_complete_tx,
        shared,
    };
    info!(
        url = %ws_url(local_addr, server.shared.config.uses_tls()),
        max_connections = server.shared.config.max_connections,
        "signaling server running"
    );
    #[cfg(feature = "redis")]
    if let Some(cluster) = &server.shared.cluster {
        info!(instance = %cluster.instance_name(), "sharing rooms through Redis");
    }

    tokio::select! {
        () = server.accept_loop() => {}
        () = shutdown => info!("shutting down: notifying clients"),
    }

    let Listener {
        listener,
        notify_shutdown,
        shutdown_complete_tx,
        shared,
        ..
    } = server;
    shared.hub.begin_shutdown();
    // Close the listening socket first so new clients are refused rather
    // than left waiting in the backlog of a server that is going away.
    drop(listener);
    drop(notify_shutdown);
    #[cfg(feature = "redis")]
    drop(cluster_stop);
    drop(shutdown_complete_tx);
    let _ = shutdown_complete_rx.recv().await;
    info!("signaling server stopped");
    Ok(())
}
