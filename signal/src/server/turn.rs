//! ICE servers for the welcome, with TURN REST credentials.
//!
//! The credential scheme is the one coturn checks with `use-auth-secret`
//! (draft-uberti-behave-turn-rest): the username is `"<unix expiry>:<peer id>"`
//! and the credential is `base64(HMAC-SHA1(secret, username))`. The TURN
//! server needs only the shared secret; no per-user state is exchanged.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::protocol::{IceServer, PeerId};

/// What kind of ICE server a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IceUrlKind {
    Stun,
    Turn,
}

impl IceUrlKind {
    /// The kind of `url`, or `None` for a scheme WebRTC does not accept.
    pub(crate) fn of(url: &str) -> Option<Self> {
        let scheme = url.split_once(':')?.0.to_ascii_lowercase();
        match scheme.as_str() {
            "stun" | "stuns" => Some(Self::Stun),
            "turn" | "turns" => Some(Self::Turn),
            _ => None,
        }
    }
}

/// TURN REST credentials for `peer`, valid until `now + ttl`: returns
/// `(username, credential)` as coturn's `use-auth-secret` expects them.
pub fn turn_rest_credentials(
    secret: &str,
    peer: &PeerId,
    ttl: Duration,
    now: SystemTime,
) -> (String, String) {
    // A clock before 1970 is a broken host; expiring "now + ttl" from the
    // epoch still yields a credential that simply fails at the TURN server.
    let now = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let expiry = now.saturating_add(ttl).as_secs();
    let username = format!("{expiry}:{peer}");
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(username.as_bytes());
    let credential = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    (username, credential)
}

/// The configured ICE servers, split by kind once at start-up.
#[derive(Debug, Clone)]
pub(crate) struct IceConfig {
    stun: Vec<String>,
    turn: Vec<String>,
    secret: Option<String>,
    ttl: Duration,
}

impl IceConfig {
    /// Splits `urls` (already validated) into STUN and TURN.
    pub(crate) fn new(urls: &[String], secret: Option<String>, ttl: Duration) -> Self {
        let (mut stun, mut turn) = (Vec::new(), Vec::new());
        for url in urls {
            match IceUrlKind::of(url) {
                Some(IceUrlKind::Stun) => stun.push(url.clone()),
                Some(IceUrlKind::Turn) => turn.push(url.clone()),
                None => {}
            }
        }
        if secret.is_some() && turn.is_empty() {
            tracing::warn!("a TURN secret is configured but no turn:/turns: URL; it is unused");
        }
        Self {
            stun,
            turn,
            secret,
            ttl,
        }
    }

    /// The ICE servers for `peer`'s welcome: one entry for the STUN URLs and
    /// one for the TURN URLs, the latter with fresh credentials if a secret is
    /// configured.
    pub(crate) fn for_peer(&self, peer: &PeerId) -> Vec<IceServer> {
        let mut servers = Vec::with_capacity(2);
        if !self.stun.is_empty() {
            servers.push(IceServer {
                urls: self.stun.clone(),
                username: None,
                credential: None,
            });
        }
        if !self.turn.is_empty() {
            let (username, credential) = match &self.secret {
                Some(secret) => {
                    let (user, cred) =
                        turn_rest_credentials(secret, peer, self.ttl, SystemTime::now());
                    (Some(user), Some(cred))
                }
                None => (None, None),
            };
            servers.push(IceServer {
                urls: self.turn.clone(),
                username,
                credential,
            });
        }
        servers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector() {
        // Computed independently: printf '%s' '1700003600:alice' |
        //   openssl dgst -sha1 -hmac 'north' -binary | base64
        let (user, cred) = turn_rest_credentials(
            "north",
            &PeerId::from("alice"),
            Duration::from_secs(3600),
            UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        );
        assert_eq!(user, "1700003600:alice");
        assert_eq!(cred, "wjwSXO2ch1B6VaLTLMy2Avn5O9o=");
    }

    #[test]
    fn splits_by_kind() {
        let config = IceConfig::new(
            &[
                "stun:stun.example.org:3478".into(),
                "turn:turn.example.org?transport=udp".into(),
                "TURNS:turn.example.org:5349".into(),
            ],
            Some("s".into()),
            Duration::from_secs(60),
        );
        let servers = config.for_peer(&PeerId::from("p"));
        assert_eq!(servers.len(), 2);
        assert_eq!(servers[0].urls, ["stun:stun.example.org:3478"]);
        assert!(servers[0].username.is_none());
        assert_eq!(servers[1].urls.len(), 2);
        assert!(servers[1].username.as_deref().unwrap().ends_with(":p"));
        assert!(servers[1].credential.is_some());
        assert_eq!(IceUrlKind::of("https://x"), None);
        assert_eq!(IceUrlKind::of("stun"), None);
    }
}
