//! Per-address caps on connections and on connections still in their
//! handshake.
//!
//! The server-wide cap ([`super::Config::max_connections`]) counts every
//! socket, so without these one host could fill it with silent sockets (each
//! holding a slot until the handshake timeout) or idle WebSockets and keep
//! everyone else out. Each address (an IPv4 address, or an IPv6 /64, as
//! [`AddressKey`] counts it) may have at most
//! [`super::Config::max_handshakes_per_address`] sockets in the handshake
//! (TLS, request head, upgrade) and
//! [`super::Config::max_connections_per_address`] sockets in all; a socket
//! over either is closed as soon as it is accepted.
//!
//! Loopback is exempt unless [`super::Config::limit_loopback`]: behind a
//! reverse proxy every client arrives from loopback, and so do the desktop
//! app's own pages.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::throttle::AddressKey;

/// Why a socket was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refusal {
    /// Its address has as many sockets in the handshake as allowed.
    #[error("too many handshakes from this address ({0})")]
    Handshakes(usize),
    /// Its address has as many connections as allowed.
    #[error("too many connections from this address ({0})")]
    Connections(usize),
}

/// The counts per address; see the module docs.
#[derive(Debug)]
pub(crate) struct AddressLimits {
    max_handshakes: usize,
    max_connections: usize,
    include_loopback: bool,
    counts: Mutex<HashMap<AddressKey, Counts>>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    handshakes: usize,
    connections: usize,
}

impl AddressLimits {
    /// Caps of `max_handshakes` and `max_connections` per address.
    pub(crate) fn new(
        max_handshakes: usize,
        max_connections: usize,
        include_loopback: bool,
    ) -> Arc<Self> {
        Arc::new(Self {
            max_handshakes,
            max_connections,
            include_loopback,
            counts: Mutex::new(HashMap::new()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<AddressKey, Counts>> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Admits a new socket from `ip`, in its handshake, or refuses it.
    pub(crate) fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<AddressSlot, Refusal> {
        if ip.to_canonical().is_loopback() && !self.include_loopback {
            return Ok(AddressSlot {
                limits: self.clone(),
                key: None,
                handshaking: false,
            });
        }
        let key = AddressKey::from(ip);
        let mut counts = self.lock();
        let count = counts.entry(key).or_default();
        if count.connections >= self.max_connections {
            return Err(Refusal::Connections(self.max_connections));
        }
        if count.handshakes >= self.max_handshakes {
            return Err(Refusal::Handshakes(self.max_handshakes));
        }
        count.connections += 1;
        count.handshakes += 1;
        Ok(AddressSlot {
            limits: self.clone(),
            key: Some(key),
            handshaking: true,
        })
    }

    /// Addresses with a socket open (exempt loopback not counted).
    #[cfg(test)]
    fn addresses(&self) -> usize {
        self.lock().len()
    }
}

/// One admitted socket's place in its address's counts; given back when
/// dropped.
#[derive(Debug)]
pub(crate) struct AddressSlot {
    limits: Arc<AddressLimits>,
    /// `None` when exempt.
    key: Option<AddressKey>,
    handshaking: bool,
}

impl AddressSlot {
    /// The handshake is over: the socket now counts as a connection only.
    pub(crate) fn handshake_done(&mut self) {
        if std::mem::take(&mut self.handshaking) {
            self.release(true, false);
        }
    }

    fn release(&self, handshake: bool, connection: bool) {
        let Some(key) = self.key else {
            return;
        };
        let mut counts = self.limits.lock();
        let Some(count) = counts.get_mut(&key) else {
            return;
        };
        count.handshakes -= usize::from(handshake);
        count.connections -= usize::from(connection);
        if count.connections == 0 {
            counts.remove(&key);
        }
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        self.release(self.handshaking, true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn handshakes_and_connections_are_capped_per_address() {
        let limits = AddressLimits::new(2, 3, false);
        let mut first = limits.admit(A).unwrap();
        let second = limits.admit(A).unwrap();
        assert_eq!(limits.admit(A).unwrap_err(), Refusal::Handshakes(2));
        // Another address is not affected.
        let other = limits.admit(B).unwrap();
        first.handshake_done();
        first.handshake_done();
        let mut third = limits.admit(A).unwrap();
        third.handshake_done();
        assert_eq!(limits.admit(A).unwrap_err(), Refusal::Connections(3));
        drop(second);
        let fourth = limits.admit(A).unwrap();
        drop((first, third, fourth, other));
        assert_eq!(limits.addresses(), 0, "nothing left behind");
    }

    #[test]
    fn an_ipv6_64_counts_as_one_address_and_loopback_is_exempt() {
        let limits = AddressLimits::new(1, 1, false);
        let _one = limits.admit("2001:db8::1".parse().unwrap()).unwrap();
        assert!(limits.admit("2001:db8::2".parse().unwrap()).is_err());
        assert!(limits.admit("2001:db8:0:1::1".parse().unwrap()).is_ok());
        let loopback: Vec<_> = (0..5)
            .map(|_| limits.admit("127.0.0.2".parse().unwrap()).unwrap())
            .collect();
        assert!(limits.admit("::ffff:127.0.0.1".parse().unwrap()).is_ok());
        drop(loopback);
        let strict = AddressLimits::new(1, 1, true);
        let _one = strict.admit("127.0.0.2".parse().unwrap()).unwrap();
        assert!(strict.admit("127.0.0.2".parse().unwrap()).is_err());
        assert!(strict.admit("127.0.0.3".parse().unwrap()).is_ok());
    }
}
