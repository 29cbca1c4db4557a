//! The call engine process's side: an [`Engine`] driven by the shell's
//! requests on standard input; its answers, events and frames on standard
//! output. It ends, closing everything, when its input ends (the shell let
//! it go, or is gone).

use std::collections::HashMap;
use std::sync::Arc;

use peercall_signal::shell::native::{NativeEvent, StreamId};
use tokio::sync::mpsc;

use super::wire::{
    self, Answer, Failure, FromEngine, Message, Request, RequestId, ToEngine, WireError,
};
use crate::native::{frames::Frames, Engine, NativeError};

/// The argument that makes the app's executable the call engine.
pub const ARG: &str = "--call-engine";

/// The argument before the first stream number of the remote people's
/// video (each engine process numbers its own, apart from the others').
pub const FIRST_STREAM_ARG: &str = "--first-stream";

/// The argument before the shell's version ([`wire::VERSION`]).
pub const SHELL_VERSION_ARG: &str = "--shell-version";

/// The engine process's name (what `ps` and `top` show).
pub const PROCESS_NAME: &str = "peercall-engine";

/// Runs the engine process until its input ends.
pub fn serve(args: &[String]) -> Result<(), NativeError> {
    crate::native::tune_malloc();
    name_the_process();
    // The protocol keeps the real standard output; anything a library
    // prints goes to standard error instead.
    let output = protocol_output().map_err(|e| NativeError::Gst(e.to_string()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| NativeError::Gst(e.to_string()))?;
    if let Some(shell) = value_of(args, SHELL_VERSION_ARG).filter(|v| *v != wire::VERSION) {
        tracing::warn!(
            shell,
            engine = wire::VERSION,
            "the call engine is of another version than the app"
        );
        runtime.block_on(refuse(shell.to_owned(), output));
        return Ok(());
    }
    let first_stream = value_of(args, FIRST_STREAM_ARG)
        .and_then(|n| n.parse().ok())
        .map_or(StreamId(1), StreamId);
    crate::native::prepare_dtls_certificate();
    // Joined however this ends (an error below included).
    let _certificate = FinishCertificate;
    let frames = Frames::new();
    let engine = Arc::new(Engine::new(
        frames.clone(),
        crate::native::fake_media_from_env(),
        first_stream,
    )?);
    runtime.block_on(run(engine, frames, output));
    Ok(())
}

/// Waits, when dropped, for the DTLS certificate being made
/// ([`finish_dtls_certificate`](crate::native::finish_dtls_certificate)).
struct FinishCertificate;

impl Drop for FinishCertificate {
    fn drop(&mut self) {
        crate::native::finish_dtls_certificate();
    }
}

/// The argument after `name`.
fn value_of<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    let at = args.iter().position(|a| a == name)?;
    args.get(at + 1).map(String::as_str)
}

/// Serves a shell of another version: every request gets
/// [`Failure::OtherVersion`] (the shell then runs the engine from its own
/// executable), and nothing is opened.
async fn refuse(shell: String, output: std::fs::File) {
    let mut output = tokio::fs::File::from_std(output);
    let mut input = tokio::io::stdin();
    loop {
        let bytes = match wire::read(&mut input).await {
            Ok(Some(Message::Json(bytes))) => bytes,
            // A frame, or a kind of message this version doesn't know (it
            // was read whole): not a request.
            Ok(Some(Message::Frame(_))) | Err(WireError::Kind(_)) => continue,
            Ok(None) | Err(_) => return,
        };
        let Ok(RequestId { id }) = serde_json::from_slice(&bytes) else {
            continue;
        };
        let result = Err(Failure::OtherVersion {
            engine: wire::VERSION.to_owned(),
            shell: shell.clone(),
        });
        let answer = FromEngine::Answer {
            id,
            result,
            busy: false,
        };
        if wire::write(&mut output, &wire::json(&answer))
            .await
            .is_err()
        {
            return;
        }
    }
}

/// Names the process (it was started as `/proc/self/exe`, which the
/// system would show as `exe`).
fn name_the_process() {
    let name = std::ffi::CString::new(PROCESS_NAME).unwrap_or_default();
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16
    // bytes (longer is cut), which `name` is.
    unsafe {
        libc::prctl(libc::PR_SET_NAME, name.as_ptr());
    }
}

/// The real standard output for the protocol, standard output itself now
/// standard error.
fn protocol_output() -> std::io::Result<std::fs::File> {
    use std::os::fd::{AsFd, AsRawFd};
    let protocol = std::io::stdout().as_fd().try_clone_to_owned()?;
    // SAFETY: `dup2` on two open descriptors of this process; the
    // protocol has its own copy (above).
    if unsafe { libc::dup2(std::io::stderr().as_fd().as_raw_fd(), 1) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(std::fs::File::from(protocol))
}

async fn run(engine: Arc<Engine>, frames: Frames, output: std::fs::File) {
    let (tx, rx) = mpsc::unbounded_channel::<FromEngine>();
    let events = tx.clone();
    engine.attach(Arc::new(move |event: NativeEvent| {
        let _ = events.send(FromEngine::Event(event));
    }));
    let writer = tokio::spawn(write_out(rx, frames, tokio::fs::File::from_std(output)));

    let mut input = tokio::io::stdin();
    loop {
        match wire::read(&mut input).await {
            Ok(Some(Message::Json(bytes))) => match serde_json::from_slice::<ToEngine>(&bytes) {
                Ok(ToEngine { id, request }) => {
                    let engine = Arc::clone(&engine);
                    let tx = tx.clone();
                    tokio::task::spawn_blocking(move || {
                        let result = handle(&engine, request).map_err(failure);
                        let busy = engine.busy();
                        let _ = tx.send(FromEngine::Answer { id, result, busy });
                    });
                }
                Err(error) => {
                    tracing::warn!(%error, "the call engine got a request it can't read");
                    // Answered all the same, so the shell's caller is not
                    // left waiting.
                    if let Ok(RequestId { id }) = serde_json::from_slice(&bytes) {
                        let result = Err(Failure::Failed(format!(
                            "the call engine could not read the request: {error}"
                        )));
                        let engine = Arc::clone(&engine);
                        let tx = tx.clone();
                        // `busy` waits for an operation in progress.
                        tokio::task::spawn_blocking(move || {
                            let busy = engine.busy();
                            let _ = tx.send(FromEngine::Answer { id, result, busy });
                        });
                    }
                }
            },
            Ok(Some(Message::Frame(_))) => tracing::warn!("the call engine got a frame"),
            // Read whole, so the next message is where it should be.
            Err(error @ WireError::Kind(_)) => {
                tracing::warn!(%error, "the call engine got a message it can't read");
            }
            Ok(None) => break,
            Err(error) => {
                tracing::warn!(%error, "the call engine's input failed");
                break;
            }
        }
    }
    let closing = Arc::clone(&engine);
    let _ = tokio::task::spawn_blocking(move || closing.close_all()).await;
    drop(engine);
    drop(tx);
    // What the closing said goes out; a sender a GStreamer callback still
    // holds must not keep the process.
    let _ = tokio::time::timeout(FLUSH_LIMIT, writer).await;
}

/// How long the last answers and events may take to go out at the end.
const FLUSH_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);

fn handle(engine: &Engine, request: Request) -> Result<Answer, NativeError> {
    match request {
        Request::SetMedia(media) => Ok(Answer::Media(engine.set_media(&media))),
        Request::CloseMedia => {
            engine.close_media();
            Ok(Answer::Done)
        }
        Request::OpenPeer(args) => engine.open_peer(args).map(|()| Answer::Done),
        Request::SignalPeer(args) => engine.signal_peer(args).map(|()| Answer::Done),
        Request::Send(args) => engine.send(&args).map(|()| Answer::Done),
        Request::ClosePeer(key) => engine.close_peer(key).map(|()| Answer::Done),
    }
}

fn failure(error: NativeError) -> Failure {
    match error {
        NativeError::Unavailable(reason) => Failure::Unavailable(reason),
        other => Failure::Failed(other.to_string()),
    }
}

/// Writes the answers and events in order, and each stream's newest frame
/// whenever there is one (a frame the shell has not taken yet is replaced
/// by a newer one, never queued), until the engine is gone.
async fn write_out(
    mut rx: mpsc::UnboundedReceiver<FromEngine>,
    frames: Frames,
    mut output: tokio::fs::File,
) {
    let mut tick = frames.subscribe();
    let mut sent = HashMap::new();
    loop {
        let messages: Vec<Message> = tokio::select! {
            biased;
            message = rx.recv() => match message {
                Some(message) => vec![wire::json(&message)],
                None => break,
            },
            changed = tick.changed() => {
                if changed.is_err() {
                    break;
                }
                let (newer, ended) = frames.newer(&mut sent);
                ended
                    .into_iter()
                    .map(|stream| wire::json(&FromEngine::StreamEnded(stream)))
                    .chain(newer.into_iter().map(Message::Frame))
                    .collect()
            }
        };
        for message in messages {
            if wire::write(&mut output, &message).await.is_err() {
                return;
            }
        }
    }
}
