//! Peercall signaling: the wire protocol shared by the server and the UI, and
//! (with the default `server` feature) the WebSocket server itself.
//!
//! - [`protocol`] — every message as a serde type. Depends only on `serde` and
//!   `serde_json` and compiles for `wasm32-unknown-unknown` with default
//!   features off, so the Yew UI uses the very same types.
//! - [`settings`] — the user's settings, one versioned type shared by the
//!   desktop shell (which stores it) and the UI (which edits it), with
//!   field-level validation and migration. Also serde-only and wasm-safe.
//! - [`address`] — invite links (`peercall://HOST:PORT/ROOM`) and server
//!   URLs as people paste them; wasm-safe.
//! - [`shell`] — the contract between the desktop shell and the UI: every
//!   command's name, arguments and answer, the one error shape (with why a
//!   server failed the check before joining), the servers it reports, the
//!   settings snapshot, camera/microphone permission; serde-only, wasm-safe.
//! - `client` (feature `client`) — a native check of a server before joining
//!   it, telling each failure apart (unreachable, TLS, origin, version, room
//!   full, wrong password); the desktop shell uses it.
//! - `server` (feature `server`) — the signaling server: rooms, direct calls,
//!   relay of WebRTC offers/answers/candidates, ICE/TURN credentials, limits,
//!   an origin allow-list, optional TLS and static-file serving, all on one
//!   port. The desktop app embeds it; the `peercall-signal` binary runs it
//!   headless.
//!
//! ```no_run
//! # #[cfg(feature = "server")]
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use peercall_signal::server::{self, Config};
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:7777").await?;
//! let config = Config {
//!     room_capacity: 4,
//!     ..Config::default()
//! };
//! server::run(listener, config, async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await?;
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

pub mod address;
#[cfg(feature = "client")]
pub mod client;
pub mod protocol;
pub mod settings;
pub mod shell;

#[cfg(feature = "server")]
pub mod server;
