//! Wrong-password throttling: room passwords (and the LAN host's short
//! ones) must not be guessable at network speed.
//!
//! Two records, both with exponential back-off after a few free failures:
//!
//! - **per address** (an IPv4 address, or an IPv6 /64, which one host
//!   usually owns whole): after [`ThrottleLimits::free_per_address`] wrong
//!   passwords, each further one locks that address out of password checks
//!   for `base × 2ⁿ`, up to `max`. A right password clears the record.
//! - **per room**, against guessing spread over many addresses: after
//!   [`ThrottleLimits::free_per_room`] wrong passwords for one room, each
//!   further one locks the room for `base × 2ⁿ`, up to `max` — but only for
//!   addresses that have themselves guessed wrong lately. Someone who types
//!   the right password the first time is never turned away by what others
//!   did, so an attacker cannot lock a room's real members out.
//!
//! While locked, a check is refused without looking at the password at all
//! (`too_many_attempts`, with the time to wait), so a locked-out guesser
//! learns nothing. Records are forgotten after [`FORGET_AFTER`] without a
//! failure, and the tables are bounded.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::protocol::{ErrorCode, MessageError};

/// A record unused this long is dropped.
pub const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// Most records kept per table; beyond it the stalest go first.
const MAX_RECORDS: usize = 10_000;

/// How hard guessing is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleLimits {
    /// Wrong passwords an address may give before it must wait.
    pub free_per_address: u32,
    /// Wrong passwords a room takes (from anyone) before guessers must wait.
    pub free_per_room: u32,
    /// The first wait; each further failure doubles it.
    pub base: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Default for ThrottleLimits {
    /// 3 free tries per address, 10 per room, then 1 s, 2 s, 4 s … up to
    /// 5 minutes: a person who mistypes is never slowed down noticeably;
    /// a guesser gets about a dozen tries an hour per address once locked.
    fn default() -> Self {
        Self {
            free_per_address: 3,
            free_per_room: 10,
            base: Duration::from_secs(1),
            max: Duration::from_secs(5 * 60),
        }
    }
}

/// Where password checks come from, as the throttle counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddressKey([u8; 16]);

impl AddressKey {
    /// The key as 32 hex digits (how instances sharing Redis name it).
    #[cfg(feature = "redis")]
    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl From<IpAddr> for AddressKey {
    fn from(ip: IpAddr) -> Self {
        let mut key = [0u8; 16];
        match ip.to_canonical() {
            IpAddr::V4(v4) => key[..4].copy_from_slice(&v4.octets()),
            // One host usually has a whole /64: count the prefix.
            IpAddr::V6(v6) => {
                key[..8].copy_from_slice(&v6.octets()[..8]);
                key[15] = 6;
            }
        }
        Self(key)
    }
}

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    locked_until: Option<Instant>,
    last: Instant,
}

impl Record {
    fn new(now: Instant) -> Self {
        Self {
            failures: 0,
            locked_until: None,
            last: now,
        }
    }

    fn wait(&self, now: Instant) -> Option<Duration> {
        self.locked_until
            .and_then(|until| until.checked_duration_since(now))
            .filter(|left| !left.is_zero())
    }

    fn fail(&mut self, now: Instant, free: u32, limits: &ThrottleLimits) {
        self.failures = self.failures.saturating_add(1);
        self.last = now;
        if self.failures > free {
            let doublings = (self.failures - free - 1).min(20);
            let wait = limits.base.saturating_mul(1 << doublings).min(limits.max);
            self.locked_until = Some(now + wait);
        }
    }
}

/// Why a password check is refused before it is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    /// How long until a check may be made again.
    pub retry_after: Duration,
}

impl Locked {
    /// The reply to a check refused while locked.
    pub fn error(&self) -> MessageError {
        let secs = self.retry_after.as_secs_f64().ceil().max(1.0);
        MessageError::new(
            ErrorCode::TooManyAttempts,
            format!("too many wrong passwords; try again in {secs:.0} s"),
        )
    }
}

/// The records; lives in the hub's state, under its lock.
#[derive(Debug)]
pub struct Throttle {
    limits: ThrottleLimits,
    addresses: HashMap<AddressKey, Record>,
    rooms: HashMap<String, Record>,
}

impl Throttle {
    /// No failures yet.
    pub fn new(limits: ThrottleLimits) -> Self {
        Self {
            limits,
            addresses: HashMap::new(),
            rooms: HashMap::new(),
        }
    }

    /// Whether `address` may have a password for `room` checked now.
    pub fn check(&self, now: Instant, address: AddressKey, room: &str) -> Result<(), Locked> {
        let own = self.addresses.get(&address);
        let mut wait = own.and_then(|r| r.wait(now));
        // The room's lock holds only for addresses that guessed wrong lately.
        if own.is_some_and(|r| r.failures > 0) {
            let room_wait = self.rooms.get(room).and_then(|r| r.wait(now));
            wait = wait.max(room_wait);
        }
        match wait {
            Some(retry_after) => Err(Locked { retry_after }),
            None => Ok(()),
        }
    }

    /// A wrong password from `address` for `room`.
    pub fn failed(&mut self, now: Instant, address: AddressKey, room: &str) {
        let limits = self.limits;
        prune(&mut self.addresses, now);
        prune(&mut self.rooms, now);
        self.addresses
            .entry(address)
            .or_insert_with(|| Record::new(now))
            .fail(now, limits.free_per_address, &limits);
        if let Some(record) = self.rooms.get_mut(room) {
            record.fail(now, limits.free_per_room, &limits);
        } else {
            let mut record = Record::new(now);
            record.fail(now, limits.free_per_room, &limits);
            self.rooms.insert(room.to_owned(), record);
        }
    }

    /// A right password from `address`: its record is cleared (the room's
    /// stays: others may still be guessing).
    pub fn succeeded(&mut self, address: AddressKey) {
        self.addresses.remove(&address);
    }

    /// Records held (for the bounds test).
    #[cfg(test)]
    fn len(&self) -> (usize, usize) {
        (self.addresses.len(), self.rooms.len())
    }
}

/// Drops records unused for [`FORGET_AFTER`] (and not locked); past
/// [`MAX_RECORDS`], the stalest.
fn prune<K: Clone + Eq + std::hash::Hash>(table: &mut HashMap<K, Record>, now: Instant) {
    if table.len() < MAX_RECORDS {
        return;
    }
    table.retain(|_, r| {
        r.wait(now).is_some() || now.saturating_duration_since(r.last) < FORGET_AFTER
    });
    if table.len() >= MAX_RECORDS {
        let mut by_age: Vec<(K, Instant)> =
            table.iter().map(|(k, r)| (k.clone(), r.last)).collect();
        by_age.sort_by_key(|(_, last)| *last);
        for (key, _) in by_age.into_iter().take(table.len() + 1 - MAX_RECORDS / 2) {
            table.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ThrottleLimits {
        ThrottleLimits {
            free_per_address: 2,
            free_per_room: 4,
            base: Duration::from_secs(1),
            max: Duration::from_secs(8),
        }
    }

    fn addr(last: u8) -> AddressKey {
        AddressKey::from(IpAddr::from([10, 0, 0, last]))
    }

    #[test]
    fn an_address_backs_off_exponentially_and_a_right_password_clears_it() {
        let mut throttle = Throttle::new(limits());
        let t0 = Instant::now();
        let a = addr(1);
        for _ in 0..2 {
            assert!(throttle.check(t0, a, "r").is_ok());
            throttle.failed(t0, a, "r");
        }
        // The free tries are used: the third failure locks for 1 s.
        assert!(throttle.check(t0, a, "r").is_ok());
        throttle.failed(t0, a, "r");
        let locked = throttle.check(t0, a, "r").unwrap_err();
        assert_eq!(locked.retry_after, Duration::from_secs(1));
        // Then 2 s, 4 s, 8 s, and never more than the maximum.
        let mut now = t0;
        for expected in [2, 4, 8, 8] {
            now += Duration::from_secs(10);
            assert!(throttle.check(now, a, "r").is_ok());
            throttle.failed(now, a, "r");
            let locked = throttle.check(now, a, "r").unwrap_err();
            assert_eq!(locked.retry_after, Duration::from_secs(expected));
        }
        // Another address is not affected by a's own lock.
        assert!(throttle.check(now, addr(2), "other").is_ok());
        throttle.succeeded(a);
        assert!(throttle.check(now, a, "elsewhere").is_ok());
    }

    #[test]
    fn guessing_from_many_addresses_locks_the_room_for_guessers_only() {
        let mut throttle = Throttle::new(limits());
        let now = Instant::now();
        // Five addresses, one wrong guess each: the room's free tries (4)
        // are used, and it locks for those who guessed.
        for last in 1..=5 {
            throttle.failed(now, addr(last), "room");
        }
        assert!(throttle.check(now, addr(3), "room").is_err());
        // A member who never guessed wrong gets in.
        assert!(throttle.check(now, addr(99), "room").is_ok());
        // Other rooms are not locked for the guessers.
        assert!(throttle.check(now, addr(3), "another").is_ok());
        // Once the wait is over, they may try again.
        assert!(throttle
            .check(now + Duration::from_secs(2), addr(3), "room")
            .is_ok());
    }

    #[test]
    fn ipv6_counts_per_64_and_ipv4_mapped_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(AddressKey::from(a), AddressKey::from(b));
        assert_ne!(AddressKey::from(a), AddressKey::from(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(AddressKey::from(mapped), AddressKey::from(v4));
    }

    #[test]
    fn the_tables_stay_bounded() {
        let mut throttle = Throttle::new(limits());
        let now = Instant::now();
        for i in 0..(MAX_RECORDS as u32 * 2) {
            let key = AddressKey::from(IpAddr::from(i.to_be_bytes()));
            throttle.failed(now, key, &format!("room-{i}"));
        }
        let (addresses, rooms) = throttle.len();
        assert!(
            addresses <= MAX_RECORDS && rooms <= MAX_RECORDS,
            "{addresses} {rooms}"
        );
    }
}
