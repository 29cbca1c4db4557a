//! The call engine: everything WebRTC and signaling, with no UI in it.
//!
//! The UI holds one [`Engine`] for as long as the page lives and drives it
//! only through [`CallEngine`] (see [`engine`]: that trait is the seam a
//! native engine plugs into). It reports back through two callbacks:
//! app-wide [`AppEvent`]s (online/offline, incoming rings) and, per call,
//! [`CallEvent`]s that the call page folds into its reducer.
//!
//! - [`engine`]: the interface — [`CallEngine`], the [`Engine`] handle and
//!   the types both sides share.
//! - [`page_engine`]: the engine: the signaling connection, rings, the
//!   current call; on the browser's WebRTC or the shell's native engine.
//! - [`session`]: a call — rooms (mesh), direct calls, surviving reconnects;
//!   its roster of participants and our local media.
//! - [`conn`]: one person's connection, a browser `Peer` or a native one.
//! - [`native`]: the shell's native engine as the page drives it (its
//!   peers, the local capture, video frames onto canvases).
//! - [`signaling`]: the WebSocket client, typed messages, reconnect + backoff.
//! - [`media`]: `getUserMedia`, error classification, fallbacks.
//! - [`handoff`]: devices a preview passes on to the next screen or call.
//! - [`peer`]: one `RTCPeerConnection` per remote participant, perfect negotiation.
//! - [`safety`]: safety codes from the two DTLS fingerprints.
//! - [`quality`]: call quality from `getStats()`, in numbers and words.
//! - [`screen`]: whether the screen can be shared, and its picker.
//! - [`sdp`]: what the engine reads from, or adds to, session descriptions.
//! - [`transfer`]: file transfer over data channels of their own.
//! - [`chat`]: what peers say over the data channel.
//! - [`debug`]: the read-only `window.__peercall` hook tests and benches read.

pub mod chat;
mod conn;
mod debug;
mod engine;
mod handoff;
pub mod js;
pub mod media;
pub mod native;
mod page_engine;
pub mod peer;
pub mod quality;
pub mod safety;
pub mod screen;
pub mod sdp;
mod session;
pub mod signaling;
pub mod transfer;

pub use chat::ChatLine;
pub use engine::{
    AppEvent, CallEngine, CallEvent, CallOptions, CallPhase, CallTarget, CallToken, ConnState,
    DirectRole, EndReason, Engine, Held, LocalView, PeerView, PreviewMedia, VideoSource,
};
pub use media::{DeviceError, MediaPreferences};
use page_engine::PageEngine;
