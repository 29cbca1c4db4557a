//! What every connection task shares: the validated [`Config`], the hub,
//! the server-wide queue budget, and what is derived from the config once
//! (origin policy, WebSocket limits, ICE servers, the TLS acceptor).
//!
//! [`run`](super::run) builds one [`Shared`] and hands each connection task
//! an `Arc` of it, as mini-redis hands out its `Db`. Nothing here is
//! behind an async lock: the hub has its own short synchronous one, and
//! everything else is read-only or atomic.

use std::net::SocketAddr;
use std::sync::Arc;

#[cfg(feature = "tls")]
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::budget::Budget;
use super::http::OriginPolicy;
use super::hub::{Hub, HubLimits};
use super::turn::IceConfig;
use super::Config;

/// What every connection task shares.
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) hub: Hub,
    /// Bytes queued for all clients together.
    pub(crate) budget: Arc<Budget>,
    /// Which page origins may open a WebSocket.
    pub(crate) origins: OriginPolicy,
    /// Message and frame limits for every WebSocket.
    pub(crate) ws_config: WebSocketConfig,
    pub(crate) ice: IceConfig,
    /// Set when instances share rooms through Redis ([`Config::redis`]).
    #[cfg(feature = "redis")]
    pub(crate) cluster: Option<super::cluster::Cluster>,
    /// Set when the server speaks TLS ([`Config::tls`]).
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<TlsAcceptor>,
}

impl Shared {
    /// Derives everything per-connection code needs from a validated config.
    pub(crate) fn new(
        config: Config,
        local_addr: SocketAddr,
        #[cfg(feature = "redis")] cluster: Option<super::cluster::Cluster>,
    ) -> Self {
        let hub = Hub::new(HubLimits {
            room_capacity: config.room_capacity,
            max_room_name_chars: config.max_room_name_chars,
            max_display_name_chars: config.max_display_name_chars,
            max_calls_per_peer: config.max_calls_per_peer,
        })
        .with_password_throttle(config.password_throttle);
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
            budget: Budget::new(config.max_queued_bytes),
            #[cfg(feature = "redis")]
            cluster,
            config,
            hub,
            origins,
            ws_config,
            ice,
        }
    }
}
