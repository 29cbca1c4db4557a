//! Video frames to the page: every picture the engine draws (the local
//! preview, each remote person's video) leaves its pipeline as a JPEG from
//! an `appsink` and is served on a loopback WebSocket.
//!
//! - The server listens on `127.0.0.1:0`; the URL's path is a random
//!   per-launch secret (128 bits), and a request for any other path is
//!   refused (404) before the WebSocket upgrade, so no other local program
//!   can read the frames.
//! - Every binary message is a [`FrameHeader`] and the JPEG.
//! - Only the newest frame of each stream is kept: a reader that falls
//!   behind skips frames instead of queueing them (and the pipelines never
//!   wait for a reader: their `appsink`s drop too).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use peercall_signal::shell::native::{FrameFormat, FrameHeader, FramesEndpoint, StreamId};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::{Bytes, Message};

use super::NativeError;

/// Widest picture sent to the page (tiles are smaller than this).
pub const MAX_WIDTH: u32 = 640;

/// The pipeline tail that turns raw video into the page's frames, ending in
/// an `appsink` named `name` (see [`attach`]): leaky (never holds the
/// pipeline back), scaled to at most [`MAX_WIDTH`] keeping the aspect
/// ratio, JPEG quality 80.
pub fn tail(name: &str) -> String {
    format!(
        "queue leaky=downstream max-size-buffers=1 ! videoconvert ! videoscale ! \
         video/x-raw,width=[16,{MAX_WIDTH}],height=[16,{MAX_WIDTH}],pixel-aspect-ratio=1/1 ! \
         jpegenc quality=80 ! appsink name={name} sync=false async=false max-buffers=1 drop=true"
    )
}

/// Sends every JPEG `appsink` produces as `stream`'s frames; `on_first`
/// runs once, on the first frame.
pub fn attach(
    appsink: &gst_app::AppSink,
    stream: StreamId,
    frames: &Frames,
    on_first: impl FnOnce() + Send + 'static,
) {
    let frames = frames.clone();
    let on_first = Mutex::new(Some(on_first));
    appsink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let size = sample.caps().and_then(|caps| {
                    let s = caps.structure(0)?;
                    Some((s.get::<i32>("width").ok()?, s.get::<i32>("height").ok()?))
                });
                let (Some(buffer), Some((width, height))) = (sample.buffer(), size) else {
                    return Ok(gst::FlowSuccess::Ok);
                };
                let Ok(map) = buffer.map_readable() else {
                    return Ok(gst::FlowSuccess::Ok);
                };
                frames.publish(
                    FrameHeader {
                        stream,
                        width: u16::try_from(width).unwrap_or(u16::MAX),
                        height: u16::try_from(height).unwrap_or(u16::MAX),
                        format: FrameFormat::Jpeg,
                    },
                    &map,
                );
                if let Some(first) = on_first.lock().ok().and_then(|mut f| f.take()) {
                    first();
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
}

/// The newest frame of every stream, shared by the pipelines (writers) and
/// the WebSocket connections (readers).
#[derive(Clone)]
pub struct Frames {
    inner: Arc<FramesInner>,
}

struct FramesInner {
    /// Per stream: a sequence number and the message (header + picture).
    latest: Mutex<HashMap<StreamId, (u64, Bytes)>>,
    /// Bumped on every new frame; readers wait on it.
    tick: watch::Sender<u64>,
}

impl Default for Frames {
    fn default() -> Self {
        Self::new()
    }
}

impl Frames {
    /// No frames yet.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(FramesInner {
                latest: Mutex::new(HashMap::new()),
                tick: watch::channel(0).0,
            }),
        }
    }

    /// Makes `picture` the newest frame of `header.stream`.
    pub fn publish(&self, header: FrameHeader, picture: &[u8]) {
        let mut message = Vec::with_capacity(FrameHeader::LEN + picture.len());
        message.extend_from_slice(&header.encode());
        message.extend_from_slice(picture);
        self.insert(header.stream, Bytes::from(message));
    }

    /// Makes a whole frame message (a [`FrameHeader`] and its picture, as
    /// another process's [`Frames`] sent it) the newest of its stream;
    /// `false` if it is not one.
    pub fn publish_message(&self, message: Bytes) -> bool {
        match FrameHeader::decode(&message) {
            Ok((header, _)) => {
                self.insert(header.stream, message);
                true
            }
            Err(_) => false,
        }
    }

    fn insert(&self, stream: StreamId, message: Bytes) {
        let seq = self.bump();
        if let Ok(mut latest) = self.inner.latest.lock() {
            latest.insert(stream, (seq, message));
        }
    }

    fn bump(&self) -> u64 {
        let mut seq = 0;
        self.inner.tick.send_modify(|tick| {
            *tick += 1;
            seq = *tick;
        });
        seq
    }

    /// Forgets `stream` (its video ended).
    pub fn remove(&self, stream: StreamId) {
        self.retain(|s| s != stream);
    }

    /// Forgets every stream but those `keep` says.
    pub fn retain(&self, keep: impl Fn(StreamId) -> bool) {
        if let Ok(mut latest) = self.inner.latest.lock() {
            latest.retain(|stream, _| keep(*stream));
        }
        // Readers hear of it (and forget what they sent of them).
        self.bump();
    }

    /// Wakes up when a frame came or a stream ended.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.tick.subscribe()
    }

    /// The frames newer than what `sent` records, recording them as sent,
    /// and the streams `sent` had that ended since.
    pub fn newer(&self, sent: &mut HashMap<StreamId, u64>) -> (Vec<Bytes>, Vec<StreamId>) {
        let Ok(latest) = self.inner.latest.lock() else {
            return (Vec::new(), Vec::new());
        };
        let mut ended = Vec::new();
        sent.retain(|stream, _| {
            let live = latest.contains_key(stream);
            if !live {
                ended.push(*stream);
            }
            live
        });
        let mut out = Vec::new();
        for (stream, (seq, message)) in latest.iter() {
            if sent.get(stream).is_none_or(|s| s < seq) {
                sent.insert(*stream, *seq);
                out.push(message.clone());
            }
        }
        (out, ended)
    }
}

/// The loopback WebSocket server the page reads frames from.
pub struct FramesServer {
    frames: Frames,
    endpoint: FramesEndpoint,
    task: tokio::task::JoinHandle<()>,
}

impl FramesServer {
    /// Binds `127.0.0.1:0` with a fresh secret and serves on `runtime`.
    pub fn start(runtime: &tokio::runtime::Handle) -> Result<Self, NativeError> {
        let listener =
            std::net::TcpListener::bind(("127.0.0.1", 0)).map_err(NativeError::Frames)?;
        listener
            .set_nonblocking(true)
            .map_err(NativeError::Frames)?;
        let port = listener.local_addr().map_err(NativeError::Frames)?.port();
        let secret: String = {
            use rand::RngCore;
            let mut bytes = [0u8; 16];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            bytes.iter().map(|b| format!("{b:02x}")).collect()
        };
        let path = format!("/{secret}");
        let endpoint = FramesEndpoint {
            url: format!("ws://127.0.0.1:{port}{path}"),
        };
        let frames = Frames::new();
        let served = frames.clone();
        let task = runtime.spawn(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                return;
            };
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve(stream, path.clone(), served.clone()));
            }
        });
        Ok(Self {
            frames,
            endpoint,
            task,
        })
    }

    /// Where the page reads frames.
    pub fn endpoint(&self) -> FramesEndpoint {
        self.endpoint.clone()
    }

    /// The frames the pipelines publish into.
    pub fn frames(&self) -> &Frames {
        &self.frames
    }
}

impl Drop for FramesServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One reader: refused unless it asked for the secret path; then sent each
/// stream's newest frame whenever there is one it has not had.
// tungstenite's handshake callback returns its (large) error response by
// value; that is its signature, not ours to box.
#[allow(clippy::result_large_err)]
async fn serve(stream: tokio::net::TcpStream, path: String, frames: Frames) {
    let check = |request: &Request, response: Response| -> Result<Response, ErrorResponse> {
        if request.uri().path() == path {
            Ok(response)
        } else {
            let mut refused = ErrorResponse::new(Some("not found".to_owned()));
            *refused.status_mut() = StatusCode::NOT_FOUND;
            Err(refused)
        }
    };
    let Ok(socket) = tokio_tungstenite::accept_hdr_async(stream, check).await else {
        return;
    };
    let (mut write, mut read) = socket.split();
    let mut tick = frames.subscribe();
    let mut sent = HashMap::new();
    loop {
        tokio::select! {
            changed = tick.changed() => {
                if changed.is_err() {
                    break;
                }
                for message in frames.newer(&mut sent).0 {
                    if write.send(Message::Binary(message)).await.is_err() {
                        return;
                    }
                }
            }
            incoming = read.next() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
        }
    }
    let _ = write.close().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slow_reader_gets_only_the_newest_frame_of_each_stream() {
        let frames = Frames::new();
        let header = |stream| FrameHeader {
            stream: StreamId(stream),
            width: 2,
            height: 2,
            format: FrameFormat::Jpeg,
        };
        let mut sent = HashMap::new();
        frames.publish(header(1), b"old");
        frames.publish(header(1), b"new");
        frames.publish(header(2), b"other");
        let mut got: Vec<Vec<u8>> = frames
            .newer(&mut sent)
            .0
            .iter()
            .map(|b| b.to_vec())
            .collect();
        got.sort();
        assert_eq!(got.len(), 2);
        assert!(got.iter().any(|m| m.ends_with(b"new")));
        assert!(got.iter().all(|m| !m.ends_with(b"old")));
        assert!(frames.newer(&mut sent).0.is_empty());
        frames.remove(StreamId(2));
        frames.publish(header(1), b"next");
        let (newer, ended) = frames.newer(&mut sent);
        assert_eq!(newer.len(), 1);
        assert_eq!(ended, vec![StreamId(2)]);
        assert_eq!(sent.len(), 1);
    }
}
