//! The shell's side: [`EngineProcess`] runs the [`Engine`](crate::native::Engine)
//! in a process of its own (the app's executable with
//! [`ARG`](super::child::ARG)) from the first operation that needs it until
//! it has nothing to do (no peer, no device): at once if a call ran in it,
//! else after [`LINGER`] (the lobby's camera hands over to the call's).
//!
//! Why a process: what a call loads and allocates (GStreamer's WebRTC,
//! codec and network libraries, their buffers and threads) stays in a
//! process for good once there; in its own process it is all given back
//! when the call ends, and a crash in it ends the call, not the app.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use peercall_signal::shell::native::{
    DeviceFault, DeviceFaultKind, LocalMedia, MediaRequest, NativeDevice, NativeEvent, PeerKey,
    PeerOpenArgs, PeerSendArgs, PeerSignalArgs, StreamId,
};
use tokio::process::{ChildStdout, Command};
use tokio::sync::{mpsc, oneshot};

use super::child::{ARG, FIRST_STREAM_ARG, PROCESS_NAME, SHELL_VERSION_ARG};
use super::wire::{self, Answer, AnswerId, Failure, FromEngine, Message, Request, ToEngine};
use crate::native::frames::Frames;
use crate::native::{devices, EventSink, NativeError};

/// How long an engine process with nothing to do is kept, for the next
/// screen's camera (the lobby's preview hands over to the call's).
pub const LINGER: Duration = Duration::from_secs(1);

/// How long a process that was let go may take to close and end before it
/// is killed.
const EXIT_LIMIT: Duration = Duration::from_secs(5);

/// The engine's own executable, installed beside the app's.
const ENGINE_EXE: &str = "peercall-engine";

/// The app's own executable, as it runs (even if an upgrade has replaced
/// the file since).
const RUNNING_EXE: &str = "/proc/self/exe";

/// `peercall-engine` beside the app's executable (it maps none of the
/// window's libraries), else, or with `own_exe`, the app's own (with
/// [`ARG`] it is the engine too).
fn engine_command(own_exe: bool) -> Command {
    let beside = std::env::current_exe()
        .ok()
        .filter(|_| !own_exe)
        .map(|exe| exe.with_file_name(ENGINE_EXE))
        .filter(|engine| engine.is_file());
    match beside {
        Some(engine) => Command::new(engine),
        None => {
            let mut command = Command::new(RUNNING_EXE);
            command.arg0(PROCESS_NAME);
            command
        }
    }
}

/// Stream numbers each process has for the remote people's video.
const STREAMS_PER_PROCESS: u32 = 1 << 16;

type Reply = (Result<Answer, Failure>, bool);

/// The call engine, in a process of its own, as the shell drives it.
pub struct EngineProcess {
    /// Where the processes' frames go (the page reads them from here).
    frames: Frames,
    fake: bool,
    /// Where the events of processes started from now on go.
    sink: Mutex<Arc<dyn EventSink>>,
    running: Mutex<Option<Running>>,
    next_id: AtomicU64,
    started: AtomicU64,
    /// Devices plugged in and out, from the page's first listing on.
    watch: OnceLock<Option<devices::Watch>>,
    on_devices: Arc<Mutex<Option<DevicesListener>>>,
    /// `peercall-engine` turned out to be of another version (an upgrade
    /// replaced it while this app runs): the engine runs from the app's
    /// own executable from then on.
    own_exe: AtomicBool,
}

/// Told when cameras or microphones are plugged in or out.
type DevicesListener = Box<dyn Fn() + Send>;

/// The process now.
struct Running {
    generation: u64,
    to_engine: mpsc::UnboundedSender<ToEngine>,
    pending: HashMap<u64, oneshot::Sender<Reply>>,
    /// How many requests it had (a later one cancels letting it go).
    requests: u64,
    busy: bool,
    /// It has had a peer: a call ran in it (and left its libraries and
    /// memory), so once it has nothing to do it goes at once, and whatever
    /// comes next (the home screen's camera) starts a fresh one.
    had_a_call: bool,
    media: LocalMedia,
}

impl EngineProcess {
    /// No process yet; frames go to `frames`. `fake_media`: the processes
    /// use test sources instead of devices.
    pub fn new(frames: Frames, fake_media: bool) -> Self {
        Self {
            frames,
            fake: fake_media,
            sink: Mutex::new(Arc::new(|_: NativeEvent| {})),
            running: Mutex::new(None),
            next_id: AtomicU64::new(0),
            started: AtomicU64::new(0),
            watch: OnceLock::new(),
            on_devices: Arc::default(),
            own_exe: AtomicBool::new(false),
        }
    }

    /// A new page attaches: the process the previous one had closes
    /// everything and ends; events go to `sink` from now on.
    pub fn attach(&self, sink: Arc<dyn EventSink>) {
        *self.sink.lock().unwrap_or_else(|e| e.into_inner()) = sink;
        self.close_all();
    }

    /// Lets the process go (it closes every peer and device and ends).
    pub fn close_all(&self) {
        self.lock().take();
    }

    /// The cameras and microphones that can be opened (blocks a moment).
    pub fn devices(&self) -> Vec<NativeDevice> {
        devices::list(self.fake)
    }

    /// From now on, `on_change` (and no longer an earlier one) hears
    /// cameras and microphones plugged in and out, once per burst. The
    /// fake devices never change.
    pub fn watch_devices(&self, on_change: impl Fn() + Send + 'static) {
        if self.fake {
            return;
        }
        *self.on_devices.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(on_change));
        let listener = Arc::clone(&self.on_devices);
        self.watch.get_or_init(|| {
            devices::Watch::start(move || {
                if let Some(tell) = listener.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
                    tell();
                }
            })
        });
    }

    /// Makes the local media what `request` says.
    pub async fn set_media(
        self: &Arc<Self>,
        request: MediaRequest,
    ) -> Result<LocalMedia, NativeError> {
        match self.request(Request::SetMedia(request)).await? {
            Answer::Media(media) => Ok(media),
            Answer::Done => Err(NativeError::Process("no media in the answer".to_owned())),
        }
    }

    /// Stops the camera and microphone.
    pub async fn close_media(self: &Arc<Self>) -> Result<(), NativeError> {
        self.request(Request::CloseMedia).await.map(drop)
    }

    /// Opens a native peer.
    pub async fn open_peer(self: &Arc<Self>, args: PeerOpenArgs) -> Result<(), NativeError> {
        self.request(Request::OpenPeer(args)).await.map(drop)
    }

    /// Gives a peer what its remote side sent.
    pub async fn signal_peer(self: &Arc<Self>, args: PeerSignalArgs) -> Result<(), NativeError> {
        self.request(Request::SignalPeer(args)).await.map(drop)
    }

    /// Sends text on a peer's chat channel.
    pub async fn send(self: &Arc<Self>, args: PeerSendArgs) -> Result<(), NativeError> {
        self.request(Request::Send(args)).await.map(drop)
    }

    /// Closes a peer.
    pub async fn close_peer(self: &Arc<Self>, key: PeerKey) -> Result<(), NativeError> {
        self.request(Request::ClosePeer(key)).await.map(drop)
    }

    fn lock(&self) -> MutexGuard<'_, Option<Running>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Asks the process (started if there is none) and waits for its
    /// answer. A `peercall-engine` of another version than the app refuses
    /// every request; the request then goes, once, to a process of the
    /// app's own executable.
    async fn request(self: &Arc<Self>, request: Request) -> Result<Answer, NativeError> {
        // For a second try (a few KiB at most: SDP, chat text).
        let again = request.clone();
        let (result, generation) = self.request_once(request).await?;
        let Err(refusal @ Failure::OtherVersion { engine, shell }) = &result else {
            return result.map_err(NativeError::from);
        };
        if !self.own_exe.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                engine,
                shell,
                "peercall-engine is of another version than the app (updated while it runs?): running the engine from the app's own executable"
            );
        }
        // The refusing process goes (unless a request beside this one
        // already replaced it), and whoever still waits on it hears the
        // same refusal, to try again as this request does.
        let refused = self.lock().take_if(|p| p.generation == generation);
        if let Some(refused) = refused {
            for waiting in refused.pending.into_values() {
                let _ = waiting.send((Err(refusal.clone()), false));
            }
        }
        let (result, _) = self.request_once(again).await?;
        result.map_err(NativeError::from)
    }

    /// [`request`](Self::request), to whatever process runs now (started
    /// if none); what it answered, and which process that was.
    async fn request_once(
        self: &Arc<Self>,
        request: Request,
    ) -> Result<(Result<Answer, Failure>, u64), NativeError> {
        let what = request.name();
        let opens_a_peer = matches!(request, Request::OpenPeer(_));
        let (generation, answer) = {
            let mut running = self.lock();
            if running.is_none() {
                *running = Some(self.spawn()?);
            }
            let Some(process) = running.as_mut() else {
                return Err(stopped());
            };
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            let (tx, rx) = oneshot::channel();
            process
                .to_engine
                .send(ToEngine { id, request })
                .map_err(|_| stopped())?;
            process.pending.insert(id, tx);
            process.requests += 1;
            (process.generation, rx)
        };
        let (result, busy) = answer.await.map_err(|_| stopped())?;
        tracing::debug!(what, ok = result.is_ok(), busy, "call engine answered");
        let mut running = self.lock();
        let mut done_with_a_call = false;
        if let Some(process) = running.as_mut().filter(|p| p.generation == generation) {
            process.busy = busy;
            match &result {
                Ok(Answer::Media(media)) => process.media = media.clone(),
                Ok(Answer::Done) => {
                    process.had_a_call |= opens_a_peer;
                }
                Err(_) => {}
            }
            if !busy && process.pending.is_empty() {
                if process.had_a_call {
                    done_with_a_call = true;
                } else {
                    self.let_go_later(generation, process.requests);
                }
            }
        }
        if done_with_a_call {
            running.take();
        }
        Ok((result, generation))
    }

    /// Lets the process go after [`LINGER`] unless it was asked something
    /// meanwhile.
    fn let_go_later(self: &Arc<Self>, generation: u64, requests: u64) {
        let this = Arc::downgrade(self);
        tokio::spawn(async move {
            tokio::time::sleep(LINGER).await;
            let Some(this) = this.upgrade() else { return };
            this.lock().take_if(|p| {
                p.generation == generation
                    && p.requests == requests
                    && !p.busy
                    && p.pending.is_empty()
            });
        });
    }

    /// Starts a process, with a task writing its requests and one reading
    /// what it says.
    fn spawn(self: &Arc<Self>) -> Result<Running, NativeError> {
        let generation = self.started.fetch_add(1, Ordering::Relaxed);
        let first_stream = 1 + (generation % u64::from(u16::MAX)) as u32 * STREAMS_PER_PROCESS;
        let mut child = engine_command(self.own_exe.load(Ordering::Relaxed))
            .arg(ARG)
            .arg(FIRST_STREAM_ARG)
            .arg(first_stream.to_string())
            .arg(SHELL_VERSION_ARG)
            .arg(wire::VERSION)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| NativeError::Process(format!("could not start: {e}")))?;
        let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(NativeError::Process("no pipes".to_owned()));
        };
        tracing::info!(pid = child.id(), "call engine started");
        let (to_engine, mut requests) = mpsc::unbounded_channel::<ToEngine>();
        tokio::spawn(async move {
            while let Some(request) = requests.recv().await {
                if wire::write(&mut stdin, &wire::json(&request))
                    .await
                    .is_err()
                {
                    break;
                }
            }
            // Dropping `stdin` ends the process's input: it closes and ends.
        });
        let sink = Arc::clone(&self.sink.lock().unwrap_or_else(|e| e.into_inner()));
        let reading = Reading {
            process: Arc::clone(self),
            generation,
            first_stream,
            sink,
        };
        tokio::spawn(reading.run(stdout, child));
        Ok(Running {
            generation,
            to_engine,
            pending: HashMap::new(),
            requests: 0,
            busy: false,
            had_a_call: false,
            media: LocalMedia::default(),
        })
    }
}

fn stopped() -> NativeError {
    NativeError::Process("the call engine stopped".to_owned())
}

impl From<Failure> for NativeError {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Unavailable(reason) => NativeError::Unavailable(reason),
            Failure::Failed(reason) => NativeError::Process(reason),
            other @ Failure::OtherVersion { .. } => NativeError::Process(other.to_string()),
        }
    }
}

/// What one process says, until it ends.
struct Reading {
    process: Arc<EngineProcess>,
    generation: u64,
    first_stream: u32,
    sink: Arc<dyn EventSink>,
}

impl Reading {
    async fn run(self, mut stdout: ChildStdout, mut child: tokio::process::Child) {
        let frames = &self.process.frames;
        loop {
            match wire::read(&mut stdout).await {
                Ok(Some(Message::Frame(frame))) => {
                    frames.publish_message(frame);
                }
                Ok(Some(Message::Json(bytes))) => match serde_json::from_slice(&bytes) {
                    Ok(FromEngine::Answer { id, result, busy }) => {
                        if let Some(waiting) = self.waiting(id) {
                            let _ = waiting.send((result, busy));
                        }
                    }
                    Ok(FromEngine::Event(event)) => self.sink.send(event),
                    Ok(FromEngine::StreamEnded(stream)) => frames.remove(stream),
                    Err(error) => {
                        tracing::warn!(%error, "the call engine said something unreadable");
                        // An answer of another shape still names its
                        // request: that caller hears it failed.
                        if let Ok(AnswerId::Answer { id }) = serde_json::from_slice(&bytes) {
                            if let Some(waiting) = self.waiting(id) {
                                let reason =
                                    format!("unreadable answer from the call engine: {error}");
                                let _ = waiting.send((Err(Failure::Failed(reason)), true));
                            }
                        }
                    }
                },
                Ok(None) => break,
                Err(error) => {
                    tracing::warn!(%error, "reading the call engine failed");
                    break;
                }
            }
        }
        let status = match tokio::time::timeout(EXIT_LIMIT, child.wait()).await {
            Ok(status) => status.ok(),
            Err(_) => {
                let _ = child.kill().await;
                child.wait().await.ok()
            }
        };
        let crashed = self
            .process
            .lock()
            .take_if(|p| p.generation == self.generation);
        // Its streams are over; the local preview too, unless a newer
        // process shows it now.
        let mine = self.first_stream..self.first_stream.saturating_add(STREAMS_PER_PROCESS);
        let newer = self.process.lock().is_some();
        frames.retain(|s| !mine.contains(&s.0) && (newer || s != StreamId::LOCAL));
        match crashed {
            None => tracing::info!(?status, "call engine ended"),
            Some(process) => {
                tracing::error!(?status, "the call engine stopped in a call");
                self.tell_the_page(process);
            }
        }
    }

    /// Who waits for the answer to request `id` of this process, if it is
    /// still the current one (no longer waiting, from now on).
    fn waiting(&self, id: u64) -> Option<oneshot::Sender<Reply>> {
        self.process
            .lock()
            .as_mut()
            .filter(|p| p.generation == self.generation)
            .and_then(|p| p.pending.remove(&id))
    }

    /// The process ended by itself (it crashed): the page hears that its
    /// devices stopped and that the engine did, and opens what it had
    /// again (in a fresh process).
    fn tell_the_page(&self, process: Running) {
        let media = process.media;
        if media.camera.is_some() || media.microphone.is_some() {
            let fault = || DeviceFault {
                kind: DeviceFaultKind::Failed,
                detail: "the call engine stopped".to_owned(),
            };
            self.sink.send(NativeEvent::LocalChanged {
                media: LocalMedia {
                    camera_error: media.camera.as_ref().map(|_| fault()),
                    microphone_error: media.microphone.as_ref().map(|_| fault()),
                    ..LocalMedia::default()
                },
            });
        }
        self.sink.send(NativeEvent::EngineStopped);
    }
}
