//! The native engine's page side: what stands in for `RTCPeerConnection`
//! and `getUserMedia` when the shell carries the media (GStreamer
//! `webrtcbin`, on Linux, where the webview has no WebRTC).
//!
//! The page keeps everything else (signaling, rooms, the roster, chat and
//! `hello` on the data channel: `session/`), so both engines share it.
//! [`NativeShell`] is the page's link to the shell's engine: it attaches
//! once (the events it reads, the frames endpoint), routes
//! [`NativeEvent`]s to their peer or to the local media, runs the shell's
//! commands in order, and keeps the local media open while someone holds
//! it (a preview, a call), closing it when the last lets go.
//!
//! - [`peer`]: [`NativePeer`], one remote person's connection in the shell.
//! - [`negotiation`]: who offers, and glare, when a side can't roll back.
//! - [`frames`]: video frames from the shell onto canvases.
//!
//! Every command goes through `platform::invoke`, the UI's one door to
//! the shell.

pub mod frames;
pub mod negotiation;
mod peer;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};

use gloo::timers::callback::Timeout;
use gloo::timers::future::TimeoutFuture;
use peercall_signal::shell::command::{self, NoArgs};
use peercall_signal::shell::native::{EventsArgs, LocalMedia, MediaRequest, NativeEvent, PeerKey};
use peercall_signal::shell::ShellError;

use crate::platform::invoke;
pub use frames::Frames;
pub use peer::NativePeer;

use super::handoff::HANDOFF_MS;

/// Runs async work one at a time, in the order it asked (FIFO tickets).
#[derive(Default)]
pub struct Turnstile {
    issued: Cell<u64>,
    serving: Rc<Cell<u64>>,
}

/// Our turn, until dropped.
pub struct Turn(Rc<Cell<u64>>);

impl Drop for Turn {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

impl Turnstile {
    /// Waits for everything that asked before.
    pub async fn turn(&self) -> Turn {
        let ticket = self.issued.get();
        self.issued.set(ticket + 1);
        while self.serving.get() != ticket {
            TimeoutFuture::new(2).await;
        }
        Turn(self.serving.clone())
    }
}

/// Reads the shell's events for `attachment` and routes them, in order,
/// for as long as the page's [`NativeShell`] lives: one `native_events`
/// call always waits in the shell (a long poll; see the shell's
/// `mailbox.rs` for why not a Tauri channel). Ends when the shell says
/// another page has attached, or on an error of the bridge.
async fn read_events(shell: Weak<Inner>, attachment: u32) {
    loop {
        if shell.strong_count() == 0 {
            return;
        }
        match invoke::<command::NativeEvents>(EventsArgs { attachment }).await {
            Ok(events) => {
                let Some(inner) = shell.upgrade() else { return };
                let shell = NativeShell(inner);
                for event in events {
                    shell.route(event);
                }
            }
            Err(error) => {
                gloo::console::warn!(format!("native_events: {error:?}"));
                return;
            }
        }
    }
}

/// Where attaching stands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Attach {
    Pending,
    Done,
    Failed,
}

type PeerHandler = Rc<dyn Fn(NativeEvent)>;
type LocalHandler = Rc<dyn Fn(LocalMedia)>;

struct Inner {
    attach: Cell<Attach>,
    frames: RefCell<Option<Frames>>,
    peers: RefCell<HashMap<PeerKey, PeerHandler>>,
    last_key: Cell<u32>,
    /// Local-media commands, in order.
    media_turns: Turnstile,
    /// Who keeps the local media open (previews, the call).
    holders: Cell<u32>,
    close_timer: RefCell<Option<Timeout>>,
    /// Told when the local media changes by itself.
    on_local: RefCell<Option<LocalHandler>>,
    /// Told when the engine stopped by itself (the call's, to open again).
    on_engine_stopped: RefCell<Option<Rc<dyn Fn()>>>,
}

/// The page's link to the shell's native engine (cheap to clone).
#[derive(Clone)]
pub struct NativeShell(Rc<Inner>);

impl NativeShell {
    /// Attaches to the shell: events come to this page from now on (a
    /// previous page's peers and media are closed by the shell).
    pub fn attach() -> Self {
        let shell = Self(Rc::new(Inner {
            attach: Cell::new(Attach::Pending),
            frames: RefCell::new(None),
            peers: RefCell::new(HashMap::new()),
            last_key: Cell::new(0),
            media_turns: Turnstile::default(),
            holders: Cell::new(0),
            close_timer: RefCell::new(None),
            on_local: RefCell::new(None),
            on_engine_stopped: RefCell::new(None),
        }));
        let inner = shell.0.clone();
        wasm_bindgen_futures::spawn_local(async move {
            match invoke::<command::NativeAttach>(NoArgs {}).await {
                Ok(attachment) => {
                    *inner.frames.borrow_mut() = Some(Frames::connect(attachment.frames.url));
                    inner.attach.set(Attach::Done);
                    let weak = Rc::downgrade(&inner);
                    drop(inner);
                    read_events(weak, attachment.events).await;
                }
                Err(error) => {
                    gloo::console::error!(format!("native_attach: {error:?}"));
                    inner.attach.set(Attach::Failed);
                }
            }
        });
        shell
    }

    /// Waits until attached; `false` if attaching failed.
    async fn attached(&self) -> bool {
        loop {
            match self.0.attach.get() {
                Attach::Done => return true,
                Attach::Failed => return false,
                Attach::Pending => TimeoutFuture::new(5).await,
            }
        }
    }

    /// Calls command `C` once attached.
    async fn call<C: command::Command>(&self, args: C::Args) -> Result<C::Output, ShellError> {
        if !self.attached().await {
            return Err(ShellError::new(
                peercall_signal::shell::ShellErrorKind::Ipc,
                "the native engine is not attached",
            ));
        }
        invoke::<C>(args).await
    }

    /// The frames connection, once attached.
    pub fn frames(&self) -> Option<Frames> {
        self.0.frames.borrow().clone()
    }

    /// A key for a new peer, and its events go to `handler` until
    /// [`NativeShell::forget`].
    fn register(&self, handler: PeerHandler) -> PeerKey {
        let key = PeerKey(self.0.last_key.get() + 1);
        self.0.last_key.set(key.0);
        self.0.peers.borrow_mut().insert(key, handler);
        key
    }

    fn forget(&self, key: PeerKey) {
        self.0.peers.borrow_mut().remove(&key);
    }

    fn route(&self, event: NativeEvent) {
        let peer = match &event {
            NativeEvent::LocalDescription { peer, .. }
            | NativeEvent::LocalCandidate { peer, .. }
            | NativeEvent::State { peer, .. }
            | NativeEvent::ChannelOpen { peer }
            | NativeEvent::ChannelClosed { peer }
            | NativeEvent::ChannelMessage { peer, .. }
            | NativeEvent::RemoteVideo { peer, .. } => Some(*peer),
            NativeEvent::Error { peer, message } => {
                gloo::console::warn!(format!("native engine: {message}"));
                *peer
            }
            NativeEvent::LocalChanged { media } => {
                let handler = self.0.on_local.borrow().clone();
                if let Some(handler) = handler {
                    handler(media.clone());
                }
                None
            }
            NativeEvent::EngineStopped => {
                gloo::console::warn!("the native engine stopped by itself");
                let handler = self.0.on_engine_stopped.borrow().clone();
                if let Some(handler) = handler {
                    handler();
                }
                None
            }
        };
        if let Some(key) = peer {
            let handler = self.0.peers.borrow().get(&key).cloned();
            if let Some(handler) = handler {
                handler(event);
            }
        }
    }

    /// Opens, changes or keeps the local media (in the order asked), for
    /// a holder ([`NativeShell::hold`]). A request whose turn comes after
    /// every holder let go is dropped, so nothing reopens the capture after
    /// a hang-up.
    pub async fn set_media(&self, request: MediaRequest) -> Result<LocalMedia, ShellError> {
        let _turn = self.0.media_turns.turn().await;
        if self.0.holders.get() == 0 {
            return Err(ShellError::new(
                peercall_signal::shell::ShellErrorKind::Ipc,
                "the local media was released",
            ));
        }
        self.0.close_timer.borrow_mut().take();
        self.call::<command::NativeSetMedia>(request).await
    }

    /// Whom to tell when the local media changes by itself (a device
    /// unplugged): the newest holder.
    pub fn on_local_change(&self, handler: impl Fn(LocalMedia) + 'static) {
        *self.0.on_local.borrow_mut() = Some(Rc::new(handler));
    }

    /// Whom to tell when the engine stopped by itself (its process
    /// crashed, taking every peer and the capture with it): the call.
    pub fn on_engine_stopped(&self, handler: impl Fn() + 'static) {
        *self.0.on_engine_stopped.borrow_mut() = Some(Rc::new(handler));
    }

    /// Keeps the local media open until the returned hold is released.
    pub fn hold(&self) -> MediaHold {
        self.0.holders.set(self.0.holders.get() + 1);
        self.0.close_timer.borrow_mut().take();
        MediaHold {
            shell: Rc::downgrade(&self.0),
            released: Cell::new(false),
        }
    }

    fn close_media_now(&self) {
        self.0.close_timer.borrow_mut().take();
        let shell = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let _turn = shell.0.media_turns.turn().await;
            // Someone took the media again while we waited for our turn.
            if shell.0.holders.get() > 0 {
                return;
            }
            if let Err(error) = shell.call::<command::NativeCloseMedia>(NoArgs {}).await {
                gloo::console::warn!(format!("native_close_media: {error:?}"));
            }
        });
    }
}

/// A reason for the local media to stay open.
pub struct MediaHold {
    shell: Weak<Inner>,
    released: Cell<bool>,
}

impl MediaHold {
    /// Whom to tell when the local media changes by itself (a device
    /// unplugged) while this is the newest holder.
    pub fn on_local_change(&self, handler: impl Fn(LocalMedia) + 'static) {
        if let Some(inner) = self.shell.upgrade() {
            NativeShell(inner).on_local_change(handler);
        }
    }

    /// Lets go. The last holder to let go closes the media: at once
    /// (`now`, hanging up) or after [`HANDOFF_MS`] unless someone holds it
    /// again by then (a preview leaving for the call that uses it).
    pub fn release(&self, now: bool) {
        if self.released.replace(true) {
            return;
        }
        let Some(inner) = self.shell.upgrade() else {
            return;
        };
        inner.holders.set(inner.holders.get().saturating_sub(1));
        if inner.holders.get() > 0 {
            return;
        }
        let shell = NativeShell(inner);
        if now {
            shell.close_media_now();
        } else {
            let weak = Rc::downgrade(&shell.0);
            *shell.0.close_timer.borrow_mut() = Some(Timeout::new(HANDOFF_MS, move || {
                if let Some(inner) = weak.upgrade() {
                    if inner.holders.get() == 0 {
                        NativeShell(inner).close_media_now();
                    }
                }
            }));
        }
    }
}

impl Drop for MediaHold {
    fn drop(&mut self) {
        self.release(false);
    }
}
