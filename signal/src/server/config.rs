//! The server's configuration: [`Config`], its defaults, and the checks
//! [`super::run`] makes before serving.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::{turn, ServerError, StaticFiles, ThrottleLimits};
use crate::protocol::{MAX_DISPLAY_NAME_CHARS, MAX_ROOM_NAME_CHARS};

/// The app's own WebView origins, always allowed: Tauri serves its UI from
/// `tauri://localhost` on macOS/Linux and `http(s)://tauri.localhost` on Windows.
pub const APP_ORIGINS: &[&str] = &[
    "tauri://localhost",
    "http://tauri.localhost",
    "https://tauri.localhost",
];

/// Server configuration. Cheap to build: start from [`Config::default`] and
/// override with struct-update syntax.
///
/// ```
/// use peercall_signal::server::Config;
/// let config = Config {
///     allowed_origins: vec!["https://call.example.com".into()],
///     room_capacity: 4,
///     ..Config::default()
/// };
/// # let _ = config;
/// ```
#[derive(Clone)]
pub struct Config {
    /// Browser origins allowed to open a WebSocket, compared exactly (ASCII
    /// case-insensitively, ignoring a trailing `/`). [`APP_ORIGINS`] and the
    /// loopback origins of this server's own port (`http(s)://127.0.0.1:<port>`,
    /// `http(s)://localhost:<port>`, `http(s)://[::1]:<port>`) are always
    /// allowed. Any other origin gets HTTP 403 at the upgrade.
    pub allowed_origins: Vec<String>,
    /// Also allow pages served on loopback on any port
    /// (`http(s)://127.0.0.1:*`, `localhost:*`, `[::1]:*`). Such a page runs
    /// on the user's own machine, not on a website: the desktop app's
    /// system-browser fallback is one, served by the app's own embedded
    /// server on its own port. On by default.
    pub allow_loopback_origins: bool,
    /// When the server shuts down, tell clients the call is over
    /// ([`crate::protocol::ServerMessage::Shutdown`] with `call_ended`), so
    /// they don't reconnect. The app's LAN listener sets it: its shutdown
    /// means the host stopped hosting.
    pub shutdown_ends_calls: bool,
    /// Serve this one call only: other rooms are refused, and its password
    /// holds from the start, whoever joins first. The app's LAN listener
    /// sets it, so a guest can't open another room on the host's computer
    /// or beat the host to setting the password.
    pub hosted_room: Option<HostedRoom>,
    /// Refuse upgrades that carry no `Origin` header. Browsers always send
    /// one; native clients usually don't, so by default they are allowed.
    pub require_origin: bool,
    /// Serve `wss://` / `https://` with this TLS configuration; see
    /// [`load_tls_config`](super::load_tls_config).
    #[cfg(feature = "tls")]
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Files served over plain HTTP GET/HEAD on the same port (the built UI).
    pub static_files: Option<Arc<dyn StaticFiles>>,
    /// `stun:`, `stuns:`, `turn:` or `turns:` URLs handed to clients in the
    /// welcome.
    pub ice_servers: Vec<String>,
    /// Shared secret for TURN REST credentials (coturn's `use-auth-secret` /
    /// `static-auth-secret`). When set, the `turn:`/`turns:` entries of
    /// [`Config::ice_servers`] carry a short-lived username and credential.
    pub turn_secret: Option<String>,
    /// Lifetime of TURN REST credentials.
    pub turn_ttl: Duration,
    /// Most connections (WebSocket or HTTP, handshaking or not) served at
    /// once. Further clients wait in the listen backlog until a slot frees.
    pub max_connections: usize,
    /// Most connections one client address (an IPv4 address, an IPv6 /64)
    /// may have in their handshake (TLS, request head, upgrade) at once; one
    /// more is closed as soon as it is accepted. With
    /// [`Config::max_connections_per_address`] this keeps a few hosts from
    /// filling [`Config::max_connections`] with silent sockets.
    pub max_handshakes_per_address: usize,
    /// Most connections one client address may hold at once, handshaking
    /// or not; one more is closed as soon as it is accepted.
    pub max_connections_per_address: usize,
    /// Apply the per-address caps to loopback clients too. Off by default:
    /// behind a reverse proxy every client comes from loopback, and so do
    /// the desktop app's own pages and its system-browser fallback.
    pub limit_loopback: bool,
    /// Take the client's address from `X-Forwarded-For` when the connection
    /// comes from loopback (a reverse proxy on this machine), for the
    /// password throttle. Off by default: only a proxy that sets the header
    /// itself may be trusted with it.
    pub trust_forwarded_for: bool,
    /// Largest WebSocket message (and frame) accepted, in bytes; a larger one
    /// closes the connection with 1009.
    pub max_message_bytes: usize,
    /// Most frames one message may arrive in (a message and its
    /// continuation frames); one in more closes the connection with 1009.
    /// Browsers send each message in one frame.
    pub max_fragments_per_message: usize,
    /// Sustained messages per second a connection may send (token bucket).
    pub rate_per_sec: u32,
    /// Burst a connection may send above the sustained rate (a browser
    /// trickles ICE candidates in bursts). Messages beyond it are dropped
    /// with a `rate_limited` error; a client that keeps sending another
    /// burst's worth while limited is closed with 1008.
    pub rate_burst: u32,
    /// Pongs per second a connection may send, sustained and in a burst.
    /// Clients answer the server's pings (one per
    /// [`Config::ping_interval`]); a client that keeps sending pongs
    /// unasked is closed with 1008.
    pub max_pongs_per_sec: u32,
    /// Time allowed for the TLS handshake plus the HTTP request head.
    pub handshake_timeout: Duration,
    /// How often the server pings an idle client.
    pub ping_interval: Duration,
    /// A client silent (not even a pong) for this long is disconnected.
    pub idle_timeout: Duration,
    /// A write to a client that takes longer than this drops the client.
    pub write_timeout: Duration,
    /// Most members per room.
    pub room_capacity: usize,
    /// Longest room name, in characters.
    pub max_room_name_chars: usize,
    /// Longest display name, in characters.
    pub max_display_name_chars: usize,
    /// Most direct calls (ringing or established) one peer may have at once.
    pub max_calls_per_peer: usize,
    /// Frames queued for one client before it is considered too slow and
    /// dropped (closed with 1008).
    pub outbound_queue: usize,
    /// Bytes queued for one client before it is considered too slow: its
    /// queue is thrown away and it is closed with 1008.
    pub max_queued_bytes_per_connection: usize,
    /// Bytes queued for all clients together. When a frame would go over,
    /// the clients with the most bytes waiting (the slowest readers) are
    /// dropped first, closed with 1013, until it fits.
    pub max_queued_bytes: usize,
    /// How hard guessing room passwords (and the LAN host's) is made: a few
    /// wrong ones per address and per room, then waits that double (see
    /// [`ThrottleLimits`]).
    pub password_throttle: ThrottleLimits,
    /// Share rooms, peers and direct calls with the other servers using
    /// this Redis (`redis://HOST:PORT/`), so clients connected to different
    /// instances meet (see `server/cluster/`). `None`: this server alone.
    #[cfg(feature = "redis")]
    pub redis: Option<String>,
}

/// The one call a server hosts (see [`Config::hosted_room`]).
#[derive(Clone)]
pub struct HostedRoom {
    /// The room.
    pub name: String,
    /// Its password; `None` or empty for none.
    pub password: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            allowed_origins: Vec::new(),
            allow_loopback_origins: true,
            shutdown_ends_calls: false,
            hosted_room: None,
            require_origin: false,
            #[cfg(feature = "tls")]
            tls: None,
            static_files: None,
            ice_servers: Vec::new(),
            turn_secret: None,
            turn_ttl: Duration::from_secs(24 * 60 * 60),
            max_connections: 10_000,
            max_handshakes_per_address: 16,
            max_connections_per_address: 64,
            limit_loopback: false,
            trust_forwarded_for: false,
            max_message_bytes: 64 * 1024,
            max_fragments_per_message: 64,
            rate_per_sec: 40,
            rate_burst: 100,
            max_pongs_per_sec: 10,
            handshake_timeout: Duration::from_secs(10),
            ping_interval: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(10),
            room_capacity: 6,
            max_room_name_chars: MAX_ROOM_NAME_CHARS,
            max_display_name_chars: MAX_DISPLAY_NAME_CHARS,
            max_calls_per_peer: 8,
            outbound_queue: 256,
            max_queued_bytes_per_connection: 1024 * 1024,
            max_queued_bytes: 64 * 1024 * 1024,
            password_throttle: ThrottleLimits::default(),
            #[cfg(feature = "redis")]
            redis: None,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Hand-written: the TLS config and static files are not Debug, and the
        // TURN secret must never reach a log.
        let mut f = f.debug_struct("Config");
        f.field("allowed_origins", &self.allowed_origins)
            .field("allow_loopback_origins", &self.allow_loopback_origins)
            .field("shutdown_ends_calls", &self.shutdown_ends_calls)
            .field("hosted_room", &self.hosted_room.as_ref().map(|r| &r.name))
            .field("require_origin", &self.require_origin)
            .field("tls", &self.uses_tls())
            .field("static_files", &self.static_files.is_some())
            .field("ice_servers", &self.ice_servers)
            .field(
                "turn_secret",
                &self.turn_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("turn_ttl", &self.turn_ttl)
            .field("max_connections", &self.max_connections)
            .field(
                "max_handshakes_per_address",
                &self.max_handshakes_per_address,
            )
            .field(
                "max_connections_per_address",
                &self.max_connections_per_address,
            )
            .field("limit_loopback", &self.limit_loopback)
            .field("trust_forwarded_for", &self.trust_forwarded_for)
            .field("max_message_bytes", &self.max_message_bytes)
            .field("max_fragments_per_message", &self.max_fragments_per_message)
            .field("rate_per_sec", &self.rate_per_sec)
            .field("rate_burst", &self.rate_burst)
            .field("max_pongs_per_sec", &self.max_pongs_per_sec)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("ping_interval", &self.ping_interval)
            .field("idle_timeout", &self.idle_timeout)
            .field("write_timeout", &self.write_timeout)
            .field("room_capacity", &self.room_capacity)
            .field("max_room_name_chars", &self.max_room_name_chars)
            .field("max_display_name_chars", &self.max_display_name_chars)
            .field("max_calls_per_peer", &self.max_calls_per_peer)
            .field("outbound_queue", &self.outbound_queue)
            .field(
                "max_queued_bytes_per_connection",
                &self.max_queued_bytes_per_connection,
            )
            .field("max_queued_bytes", &self.max_queued_bytes)
            .field("password_throttle", &self.password_throttle);
        // The URL may carry Redis's password.
        #[cfg(feature = "redis")]
        f.field("redis", &self.redis.as_ref().map(|_| "<set>"));
        f.finish()
    }
}

impl Config {
    /// Whether the server speaks TLS (`wss://`, `https://`).
    pub fn uses_tls(&self) -> bool {
        #[cfg(feature = "tls")]
        return self.tls.is_some();
        #[cfg(not(feature = "tls"))]
        false
    }

    /// Checks the values [`run`](super::run) would refuse.
    pub fn validate(&self) -> Result<(), ServerError> {
        let invalid = |what: &str| Err(ServerError::InvalidConfig(what.to_owned()));
        if self.max_connections == 0 || self.max_connections > Semaphore::MAX_PERMITS {
            return invalid("max_connections must be between 1 and Semaphore::MAX_PERMITS");
        }
        // Below this not even a welcome with a few ICE servers fits.
        if self.max_message_bytes < 1024 {
            return invalid("max_message_bytes must be at least 1024");
        }
        if self.rate_per_sec == 0 || self.rate_burst == 0 || self.max_pongs_per_sec == 0 {
            return invalid("rate_per_sec, rate_burst and max_pongs_per_sec must be at least 1");
        }
        if self.max_handshakes_per_address == 0
            || self.max_connections_per_address == 0
            || self.max_fragments_per_message == 0
        {
            return invalid(
                "max_handshakes_per_address, max_connections_per_address and \
                 max_fragments_per_message must be at least 1",
            );
        }
        // A queue must hold at least one message of the largest size.
        if self.max_queued_bytes_per_connection < self.max_message_bytes
            || self.max_queued_bytes < self.max_queued_bytes_per_connection
        {
            return invalid(
                "max_queued_bytes_per_connection must be at least max_message_bytes, \
                 and max_queued_bytes at least max_queued_bytes_per_connection",
            );
        }
        // Deadlines are computed as `now + duration`; a year is plenty and
        // keeps that sum far from overflowing.
        const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 60 * 60);
        for (name, value) in [
            ("handshake_timeout", self.handshake_timeout),
            ("ping_interval", self.ping_interval),
            ("idle_timeout", self.idle_timeout),
            ("write_timeout", self.write_timeout),
            ("turn_ttl", self.turn_ttl),
        ] {
            if value.is_zero() || value > MAX_DURATION {
                return Err(ServerError::InvalidConfig(format!(
                    "{name} must be more than zero and at most a year"
                )));
            }
        }
        // Idleness is checked when a ping is due: with pings as rare as the
        // idle timeout, a healthy client could be dropped before its first
        // chance to answer one.
        if self.ping_interval >= self.idle_timeout {
            return invalid("ping_interval must be shorter than idle_timeout");
        }
        if self.room_capacity == 0
            || self.max_room_name_chars == 0
            || self.max_display_name_chars == 0
            || self.max_calls_per_peer == 0
            || self.outbound_queue == 0
        {
            return invalid(
                "room_capacity, max_room_name_chars, max_display_name_chars, \
                 max_calls_per_peer and outbound_queue must be at least 1",
            );
        }
        for url in &self.ice_servers {
            if turn::IceUrlKind::of(url).is_none() {
                return Err(ServerError::InvalidConfig(format!(
                    "ICE server URL {url:?} must start with stun:, stuns:, turn: or turns:"
                )));
            }
        }
        if matches!(&self.turn_secret, Some(secret) if secret.is_empty()) {
            return invalid("turn_secret must not be empty");
        }
        #[cfg(feature = "redis")]
        if self.redis.is_some() && self.hosted_room.is_some() {
            return invalid(
                "a server hosting one call (hosted_room) does not share rooms through Redis",
            );
        }
        Ok(())
    }

    /// The tungstenite settings derived from this config.
    ///
    /// Buffers are sized for many mostly idle connections: tungstenite's
    /// default read buffer is 128 KiB per connection, allocated and zeroed up
    /// front, which would be over a gigabyte for 10 000 clients. Here it
    /// starts at 256 bytes, what an idle connection holds, and grows to a
    /// message's size when one arrives (tungstenite keeps it at its largest).
    /// Tungstenite reads at most that much at a time, so the socket is read
    /// through a scratch buffer shared by the thread's connections
    /// ([`super::stream::Prefixed`]): a message still takes one read of the
    /// socket, handed over in pieces.
    pub fn websocket_config(&self) -> WebSocketConfig {
        WebSocketConfig::default()
            .read_buffer_size(256)
            // Write each frame straight through: the task flushes after every
            // message anyway, so buffering would only hold memory.
            .write_buffer_size(0)
            // Only grows while the socket refuses writes; a client that lets
            // it fill is too slow and is dropped.
            .max_write_buffer_size(
                self.max_message_bytes
                    .saturating_mul(4)
                    .saturating_add(64 * 1024),
            )
            .max_message_size(Some(self.max_message_bytes))
            .max_frame_size(Some(self.max_message_bytes))
    }
}
