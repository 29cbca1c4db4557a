//! The native call engine (Linux): what an `RTCPeerConnection` and
//! `getUserMedia` do in a browser, on GStreamer, for a webview that has
//! neither (WebKitGTK). The page keeps signaling, the roster and the chat
//! protocol; it drives an [`Engine`] through the `native_*` commands
//! (`crate::commands::native`) and hears back through an [`EventSink`]
//! (kept in `crate::mailbox` until the page reads them). See `peercall_signal::shell::native` for the
//! contract.
//!
//! - [`support`]: whether GStreamer and every element are there;
//! - [`devices`]: cameras and microphones (or the fake ones);
//! - [`capture`]: the local media, one pipeline per device, fanned out to
//!   every peer;
//! - [`peer`]: one `webrtcbin` per remote person; [`receive`] its incoming
//!   streams;
//! - [`playback`]: remote audio, mixed, through the echo probe;
//! - [`frames`]: video to the page over a loopback WebSocket;
//! - [`sdp`]: text helpers (payload types, mDNS candidates, mids);
//! - [`process`]: the engine in a process of its own, for each call, as
//!   the shell runs it.
//!
//! The engine needs no Tauri runtime: tests drive it directly.

pub mod capture;
pub mod devices;
pub mod frames;
pub mod peer;
pub mod playback;
pub mod process;
pub mod receive;
pub mod sdp;
pub mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use peercall_signal::shell::native::{
    DeviceFault, DeviceFaultKind, LocalMedia, MediaRequest, NativeEvent, PeerKey, PeerOpenArgs,
    PeerSendArgs, PeerSignalArgs, StreamId,
};
use peercall_signal::shell::MediaKind;

/// The environment variable that makes the engine use test sources instead
/// of devices (`1`): tests only.
pub const FAKE_MEDIA_ENV: &str = "PEERCALL_FAKE_MEDIA";

/// Whether [`FAKE_MEDIA_ENV`] asks for fake media.
pub fn fake_media_from_env() -> bool {
    std::env::var(FAKE_MEDIA_ENV).is_ok_and(|v| v == "1")
}

/// Where the engine's events go. Called from GStreamer's threads.
pub trait EventSink: Send + Sync + 'static {
    /// Delivers one event (must not block for long).
    fn send(&self, event: NativeEvent);
}

impl<F: Fn(NativeEvent) + Send + Sync + 'static> EventSink for F {
    fn send(&self, event: NativeEvent) {
        self(event)
    }
}

/// What the native engine can fail with.
#[derive(Debug, thiserror::Error)]
pub enum NativeError {
    /// GStreamer or an element it needs is missing.
    #[error("the native engine can't run here: {0}")]
    Unavailable(String),
    /// No peer by that key.
    #[error("no native peer {0}")]
    UnknownPeer(u32),
    /// A peer by that key is open already.
    #[error("native peer {0} is open already")]
    PeerExists(u32),
    /// The peer's chat channel is not open.
    #[error("the data channel of native peer {0} is not open")]
    ChannelNotOpen(u32),
    /// A description that can't be used.
    #[error("unusable session description: {0}")]
    Sdp(String),
    /// No such device.
    #[error("no {kind:?} {}", .id.as_deref().unwrap_or("at all"))]
    NoDevice {
        /// Camera or microphone.
        kind: MediaKind,
        /// The id asked for.
        id: Option<String>,
    },
    /// The device would not open.
    #[error("the device failed: {reason}")]
    Device {
        /// What it means to the person.
        fault: DeviceFaultKind,
        /// GStreamer's words.
        reason: String,
    },
    /// A pipeline could not be built or started.
    #[error("GStreamer: {0}")]
    Gst(String),
    /// The frames server could not listen.
    #[error("the frames server could not listen: {0}")]
    Frames(#[source] std::io::Error),
    /// The engine's process failed, or failed this.
    #[error("{0}")]
    Process(String),
}

impl NativeError {
    /// Why a device asked for is not captured, as the page is told.
    pub fn device_fault(&self) -> DeviceFault {
        let kind = match self {
            Self::NoDevice { .. } => DeviceFaultKind::Missing,
            Self::Device { fault, .. } => *fault,
            _ => DeviceFaultKind::Failed,
        };
        DeviceFault {
            kind,
            detail: self.to_string(),
        }
    }
}

/// The native call engine: local media, native peers, frames.
pub struct Engine {
    shared: Arc<Shared>,
    /// Devices plugged in and out, from the first real device opened on.
    watch: std::sync::OnceLock<Option<devices::Watch>>,
}

struct Shared {
    fake: bool,
    frames: frames::Frames,
    fanout: Arc<capture::Fanout>,
    playback: Arc<playback::Playback>,
    next_stream: AtomicU32,
    state: Mutex<State>,
    /// Set once, right after construction (the capture's failure callback).
    capture_context: Mutex<Option<Arc<capture::Context>>>,
}

struct State {
    sink: Arc<dyn EventSink>,
    peers: HashMap<PeerKey, peer::Peer>,
    capture: capture::Capture,
}

/// Distinguishes engines in one process (their echo probes' names).
static ENGINES: AtomicU32 = AtomicU32::new(0);

impl Engine {
    /// Starts GStreamer (checking every element); the pictures go to
    /// `frames`, the remote people's streams numbered from `first_stream`
    /// on. `fake_media`: test sources instead of devices.
    pub fn new(
        frames: frames::Frames,
        fake_media: bool,
        first_stream: StreamId,
    ) -> Result<Self, NativeError> {
        support::ready().map_err(NativeError::Unavailable)?;
        let probe = format!(
            "peercall-echo-probe-{}",
            ENGINES.fetch_add(1, Ordering::Relaxed)
        );
        let shared = Arc::new(Shared {
            fake: fake_media,
            frames,
            fanout: Arc::default(),
            playback: Arc::new(playback::Playback::new(&probe)?),
            next_stream: AtomicU32::new(first_stream.0.max(StreamId::LOCAL.0 + 1)),
            state: Mutex::new(State {
                sink: Arc::new(|_: NativeEvent| {}),
                peers: HashMap::new(),
                capture: capture::Capture::default(),
            }),
            capture_context: Mutex::new(None),
        });
        let weak: Weak<Shared> = Arc::downgrade(&shared);
        let context = capture::Context {
            fake: fake_media,
            fanout: Arc::clone(&shared.fanout),
            frames: shared.frames.clone(),
            probe,
            on_failure: Arc::new(move |kind, generation, fault| {
                if let Some(shared) = weak.upgrade() {
                    shared.device_failed(kind, generation, fault);
                }
            }),
        };
        *shared
            .capture_context
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(context));
        Ok(Self {
            shared,
            watch: std::sync::OnceLock::new(),
        })
    }

    /// A new page attaches: everything the previous one left (peers, local
    /// media) is closed, and events go to `sink` from now on.
    pub fn attach(&self, sink: Arc<dyn EventSink>) {
        self.close_all();
        self.shared.lock().sink = sink;
    }

    /// Whether a peer is open or a camera or microphone captures: the
    /// engine has work (its process must stay).
    pub fn busy(&self) -> bool {
        let state = self.shared.lock();
        !state.peers.is_empty() || state.capture.is_open()
    }

    /// Starts the device watch, once: a device in use that is pulled out
    /// must fail as missing even when nobody lists devices (a call begun
    /// from the home screen) and its element says nothing.
    fn watch(&self) {
        let shared = Arc::downgrade(&self.shared);
        self.watch.get_or_init(|| {
            devices::Watch::start(move || {
                if let Some(shared) = shared.upgrade() {
                    shared.devices_changed();
                }
            })
        });
    }

    /// Makes the local media what `request` says.
    pub fn set_media(&self, request: &MediaRequest) -> LocalMedia {
        if !self.shared.fake && (request.video || request.audio) {
            self.watch();
        }
        let context = self.shared.capture_context();
        self.shared.lock().capture.apply(request, &context)
    }

    /// Stops the camera and microphone (their devices are released).
    pub fn close_media(&self) {
        let context = self.shared.capture_context();
        self.shared.lock().capture.close(&context);
    }

    /// Whether a camera or microphone pipeline is running.
    pub fn capturing(&self) -> bool {
        self.shared.lock().capture.is_open()
    }

    /// Opens a native peer.
    pub fn open_peer(&self, args: PeerOpenArgs) -> Result<(), NativeError> {
        prepare_dtls_certificate();
        let mut state = self.shared.lock();
        if state.peers.contains_key(&args.peer) {
            return Err(NativeError::PeerExists(args.peer.0));
        }
        let context = peer::Context {
            sink: Arc::clone(&state.sink),
            fanout: Arc::clone(&self.shared.fanout),
            playback: Arc::clone(&self.shared.playback),
            frames: self.shared.frames.clone(),
            stream: StreamId(self.shared.next_stream.fetch_add(1, Ordering::Relaxed)),
        };
        let peer = peer::Peer::open(args.peer, args.ice_servers, args.offer, context)?;
        state.peers.insert(args.peer, peer);
        Ok(())
    }

    /// Gives a peer what its remote side sent.
    pub fn signal_peer(&self, args: PeerSignalArgs) -> Result<(), NativeError> {
        let state = self.shared.lock();
        let peer = state
            .peers
            .get(&args.peer)
            .ok_or(NativeError::UnknownPeer(args.peer.0))?;
        peer.signal(args.signal)
    }

    /// Sends text on a peer's chat channel.
    pub fn send(&self, args: &PeerSendArgs) -> Result<(), NativeError> {
        let state = self.shared.lock();
        let peer = state
            .peers
            .get(&args.peer)
            .ok_or(NativeError::UnknownPeer(args.peer.0))?;
        peer.send(&args.text)
    }

    /// Closes a peer.
    pub fn close_peer(&self, key: PeerKey) -> Result<(), NativeError> {
        let peer = self
            .shared
            .lock()
            .peers
            .remove(&key)
            .ok_or(NativeError::UnknownPeer(key.0))?;
        drop(peer);
        self.shared.stop_playback_if_idle();
        if self.shared.lock().peers.is_empty() {
            give_back_memory();
        }
        Ok(())
    }

    /// Closes every peer and the local media.
    pub fn close_all(&self) {
        let peers: Vec<peer::Peer> = self.shared.lock().peers.drain().map(|(_, p)| p).collect();
        drop(peers);
        self.close_media();
        self.shared.stop_playback_if_idle();
        give_back_memory();
    }
}

/// At most two malloc arenas for the whole process (glibc makes up to
/// eight per core, one for each thread that allocates while the others are
/// busy). Every call starts new GStreamer streaming threads; each new arena
/// kept what its threads freed, and the shell grew with every call
/// (`benches/call_memory.rs`).
///
/// And a fixed threshold (256 KiB) above which allocations are their own
/// mappings, given back when freed. glibc's default threshold rises to the
/// size of the largest mapped block freed (up to 32 MiB), after which a
/// call's video frames (1.4 MiB at 720p) and codec buffers came from the
/// arenas, where what they left pinned freed pages between live blocks:
/// with `malloc_trim` after each call, the shell still ended 114–153 MiB
/// after calls in four runs of ten (a second trim once the call's end had
/// settled did not help); with the fixed threshold it was 109.9–110.2
/// after each of ten.
///
/// Called first thing, before any thread.
pub fn tune_malloc() {
    #[cfg(target_env = "gnu")]
    // SAFETY: `mallopt` only tunes the allocator; called before the
    // process starts any thread.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}

/// Hands what a call freed back to the system once its last peer is gone.
/// GStreamer's streaming threads allocate in malloc arenas of their own,
/// and glibc keeps what they freed (a call's video buffers, decoders and
/// encoders) for later allocations in the same arena, which the next
/// call's new threads may never make: the shell grew ~40 MiB with every
/// 720p call without this (`benches/call_memory.rs`).
fn give_back_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: `malloc_trim` only returns free memory to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.close_all();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn capture_context(&self) -> Arc<capture::Context> {
        self.capture_context
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .expect("set in Engine::new")
    }

    fn stop_playback_if_idle(&self) {
        if self.lock().peers.is_empty() {
            self.playback.stop();
        }
    }

    /// Devices were plugged in or out: one in use that is gone was pulled
    /// out, whether or not its element noticed (`pipewiresrc` does not
    /// when its camera goes).
    fn devices_changed(&self) {
        let context = self.capture_context();
        let present = devices::list(context.fake);
        let open = self.lock().capture.open_devices();
        for (kind, generation, device) in open {
            if !present.iter().any(|d| d.id == device.id) {
                let fault = DeviceFault {
                    kind: DeviceFaultKind::Missing,
                    detail: format!("{} was unplugged", device.label),
                };
                self.device_failed(kind, generation, fault);
            }
        }
    }

    /// A device failed while open (on a thread of its own). One that is
    /// gone from the system's devices was pulled out: people are told it
    /// is missing, whatever words its element used.
    fn device_failed(&self, kind: MediaKind, generation: u64, mut fault: DeviceFault) {
        let context = self.capture_context();
        let device = self.lock().capture.device(kind, generation);
        if let Some(device) = device.filter(|_| !context.fake) {
            if devices::gone(&device.id, UNPLUG_SETTLE) {
                fault.kind = DeviceFaultKind::Missing;
            }
        }
        tracing::info!(?kind, fault = ?fault.kind, detail = %fault.detail, "a device failed");
        let mut state = self.lock();
        if state.capture.failed(kind, generation, fault, &context) {
            let media = state.capture.local();
            let sink = Arc::clone(&state.sink);
            drop(state);
            sink.send(NativeEvent::LocalChanged { media });
        }
    }
}

/// How long a failed device may take to leave the system's devices for its
/// failure to count as being pulled out (the element usually reports the
/// failure first).
const UNPLUG_SETTLE: std::time::Duration = std::time::Duration::from_secs(1);

/// Makes the DTLS certificate every peer of this process shares, on a
/// thread of its own: GStreamer's `dtlsdec` generates it (an RSA key,
/// ~0.5 s of a core here) when the first one is made, which is otherwise
/// inside the first call's `set-remote-description`, time a person joining
/// waits for (measured by `benches/app_call.rs`).
///
/// Called when the engine's process starts (the lobby's camera, or the
/// first peer of an app opened on a call link) and when a peer opens. It runs at normal priority: at the lowest one, a busy
/// machine starved it for up to 56 s while a call's first peer waited on
/// it (GStreamer makes the certificate once, and every peer waits for it).
pub fn prepare_dtls_certificate() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let making = std::thread::Builder::new()
            .name("dtls-certificate".into())
            .spawn(|| {
                if support::ready().is_err() {
                    return;
                }
                let started = std::time::Instant::now();
                match gst::ElementFactory::make("dtlsdec").build() {
                    Ok(_) => tracing::debug!(took = ?started.elapsed(), "DTLS certificate ready"),
                    Err(error) => tracing::warn!(%error, "no dtlsdec to make the DTLS certificate"),
                }
            });
        match making {
            Ok(thread) => {
                *DTLS_CERTIFICATE.lock().unwrap_or_else(|e| e.into_inner()) = Some(thread);
            }
            Err(error) => tracing::warn!(%error, "could not make the DTLS certificate in advance"),
        }
    });
}

/// The thread [`prepare_dtls_certificate`] started, until joined.
static DTLS_CERTIFICATE: std::sync::Mutex<Option<std::thread::JoinHandle<()>>> =
    std::sync::Mutex::new(None);

/// Waits for the DTLS certificate to be made, if it is being made: a
/// process must not end while that thread is inside OpenSSL, whose exit
/// handlers free the locks it is using (an engine let go in its first
/// half second crashed as it ended).
pub fn finish_dtls_certificate() {
    let thread = DTLS_CERTIFICATE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    if let Some(thread) = thread {
        let _ = thread.join();
    }
}
