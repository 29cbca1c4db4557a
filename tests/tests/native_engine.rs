//! The shell's native call engine (GStreamer `webrtcbin`) against a real
//! browser's `RTCPeerConnection`, without the UI: the test drives the
//! engine's Rust API and a headless Chromium page's plain JavaScript, and
//! carries descriptions and candidates between them itself (what the page's
//! signaling client does in the app).
//!
//! In both offer directions it shows: Chromium decodes the engine's video
//! and receives its audio (`getStats()`), the engine decodes Chromium's
//! moving video (distinct JPEG frames read from the frames WebSocket with
//! the secret, and a wrong secret is refused), chat text goes both ways on
//! the negotiated data channel, and closing leaves no capture running.
//!
//! Neither libnice nor Chromium gathers loopback addresses, so the test runs
//! itself again inside a network namespace of its own (`unshare --net`)
//! with a veth pair whose two ends are its only non-loopback addresses; the
//! namespace and its links vanish with the process. That needs root or
//! unprivileged user namespaces (tried second, `--map-root-user`).
#![cfg(target_os = "linux")]

use std::collections::{HashMap, HashSet};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use fantoccini::Client;
use futures_util::StreamExt;
use peercall::native::Engine;
use peercall_e2e::Browser;
use peercall_signal::shell::native::{
    FrameFormat, FrameHeader, MediaRequest, NativeEvent, PeerKey, PeerOpenArgs, PeerSendArgs,
    PeerSignalArgs, PeerState, RemoteSignal, StreamId,
};
use serde_json::{json, Value};
use tokio::sync::mpsc;

/// Set inside the namespace the test runs itself in.
const IN_NETNS: &str = "PEERCALL_TEST_NETNS";
/// How long one direction's call may take, start to end.
const CALL_LIMIT: Duration = Duration::from_secs(60);

/// The page's side: one `RTCPeerConnection` with the fake camera and
/// microphone and the negotiated chat channel, as the browser engine makes
/// them; what it would send through signaling is queued in `t.out`.
const PAGE: &str = r#"
window.t = { out: [], got: [], pc: null, dc: null, sent: 0, added: 0 };
t.setup = async (offer) => {
  const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: true });
  const pc = new RTCPeerConnection({ iceServers: [] });
  t.pc = pc;
  for (const track of stream.getTracks()) pc.addTrack(track, stream);
  t.dc = pc.createDataChannel('peercall', { negotiated: true, id: 0, ordered: true });
  t.dc.onmessage = (e) => t.got.push(e.data);
  // Played out, so Chromium measures the audio it receives.
  pc.ontrack = (e) => {
    if (e.track.kind !== 'audio') return;
    const audio = new Audio();
    audio.srcObject = new MediaStream([e.track]);
    audio.play().catch(() => {});
    document.body.append(audio);
  };
  pc.onicecandidate = (e) => { if (e.candidate) { t.sent++; t.out.push({ type: 'candidate', candidate: e.candidate.toJSON() }); } };
  if (offer) {
    await pc.setLocalDescription(await pc.createOffer());
    t.out.push({ type: 'description', description: { type: 'offer', sdp: pc.localDescription.sdp } });
  }
};
t.remote = async (description) => {
  await t.pc.setRemoteDescription(description);
  if (description.type === 'offer') {
    await t.pc.setLocalDescription(await t.pc.createAnswer());
    t.out.push({ type: 'description', description: { type: 'answer', sdp: t.pc.localDescription.sdp } });
  }
};
t.candidate = async (candidate) => { await t.pc.addIceCandidate(candidate); t.added++; };
t.stats = async () => {
  const out = { framesDecoded: 0, audioPackets: 0, audioEnergy: 0, state: t.pc.connectionState, ice: t.pc.iceConnectionState, signaling: t.pc.signalingState, channel: t.dc.readyState, sent: t.sent, added: t.added, gathering: t.pc.iceGatheringState };
  (await t.pc.getStats()).forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'video') out.framesDecoded += s.framesDecoded || 0;
    if (s.type === 'inbound-rtp' && s.kind === 'audio') {
      out.audioPackets += s.packetsReceived || 0;
      out.audioEnergy += s.totalAudioEnergy || 0;
    }
  });
  return out;
};
t.close = () => { t.pc.close(); t.pc.getSenders().forEach((s) => s.track && s.track.stop()); };
"#;

#[test]
fn native_engine_calls_chromium_both_ways() -> Result<()> {
    if std::env::var_os(IN_NETNS).is_some() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        return runtime.block_on(async {
            tokio::time::timeout(CALL_LIMIT * 3, both_directions())
                .await
                .context("the test took too long")?
        });
    }
    run_in_namespace("native_engine_calls_chromium_both_ways")
}

/// Runs this test again in a fresh network namespace with a veth pair.
fn run_in_namespace(test: &str) -> Result<()> {
    let exe = std::env::current_exe()?;
    let setup = "ip link set lo up && \
        ip link add pc-a type veth peer name pc-b && \
        ip addr add 10.213.0.1/24 dev pc-a && ip addr add 10.213.0.2/24 dev pc-b && \
        ip link set pc-a up && ip link set pc-b up && exec \"$0\" \"$@\"";
    let mut last_error = String::new();
    for unshare in [&["--net"][..], &["--user", "--map-root-user", "--net"][..]] {
        let status = Command::new("unshare")
            .args(unshare)
            .args(["--", "sh", "-c", setup])
            .arg(&exe)
            .args([test, "--exact", "--nocapture", "--test-threads=1"])
            .env(IN_NETNS, "1")
            .status()
            .context("running unshare (util-linux)")?;
        if status.success() {
            return Ok(());
        }
        last_error = format!("unshare {unshare:?}: {status}");
        // A failure of the test itself (not of the namespace) is final.
        if status.code() == Some(101) {
            bail!("the test failed inside its network namespace ({last_error})");
        }
    }
    bail!("could not run in a network namespace (needs root or user namespaces, and iproute2): {last_error}")
}

async fn both_directions() -> Result<()> {
    let engine = Engine::new(&tokio::runtime::Handle::current(), true)?;
    let browser = Browser::launch().await?;
    let outcome = async {
        let endpoint = engine.frames_endpoint();
        refuses_a_wrong_secret(&endpoint.url).await?;
        let frames = FrameCounter::start(&endpoint.url).await?;
        let page_url = serve_blank_page().await?;
        for (n, native_offers) in [(1u32, true), (2, false)] {
            let started = Instant::now();
            tokio::time::timeout(
                CALL_LIMIT,
                call(&engine, &browser.client, &frames, &page_url, PeerKey(n), native_offers),
            )
            .await
            .with_context(|| format!("call {n} (native offers: {native_offers}) took too long"))??;
            println!(
                "call {n} (native offers: {native_offers}): everything shown in {:?}",
                started.elapsed()
            );
        }
        anyhow::Ok(())
    }
    .await;
    let _ = browser.client.close().await;
    outcome
}

/// One call: the engine and the page connect, each decodes the other,
/// chat goes both ways, and hanging up stops the capture.
async fn call(
    engine: &Engine,
    page: &Client,
    frames: &FrameCounter,
    page_url: &str,
    peer: PeerKey,
    native_offers: bool,
) -> Result<()> {
    let (tx, events) = mpsc::unbounded_channel();
    engine.attach(Arc::new(move |event: NativeEvent| {
        let _ = tx.send(event);
    }));
    let media = engine.set_media(&MediaRequest {
        video: true,
        audio: true,
        ..MediaRequest::default()
    });
    ensure!(
        media.camera.is_some() && media.microphone.is_some(),
        "the fake devices did not open: {media:?}"
    );
    ensure!(media.preview == Some(StreamId::LOCAL), "no preview: {media:?}");

    page.goto(page_url).await?;
    page.execute(PAGE, vec![]).await?;
    page.execute("return t.setup(arguments[0])", vec![json!(!native_offers)])
        .await?;
    engine.open_peer(PeerOpenArgs {
        peer,
        ice_servers: Vec::new(),
        offer: native_offers,
    })?;
    let mut relay = Relay {
        engine,
        page,
        events,
        peer,
        seen: Vec::new(),
    };

    // Chromium decodes our video and receives our audio.
    let first = relay
        .until("Chromium decodes the native video and audio", |_, stats| {
            stats["framesDecoded"].as_f64() > Some(10.0) && stats["audioPackets"].as_f64() > Some(20.0)
        })
        .await?;
    let later = relay
        .until("Chromium's decoded frames keep rising", |_, stats| {
            stats["framesDecoded"].as_f64() > Some(first["framesDecoded"].as_f64().unwrap_or(0.0) + 15.0)
        })
        .await?;
    ensure!(
        later["audioEnergy"].as_f64() > Some(0.0),
        "Chromium receives only silence: {later}"
    );

    // We decode Chromium's moving video.
    let stream = relay
        .until_event("RemoteVideo", |event| match event {
            NativeEvent::RemoteVideo { peer: p, stream } if *p == peer => Some(*stream),
            _ => None,
        })
        .await?;
    ensure!(stream != StreamId::LOCAL, "the remote video took the preview's id");
    let since = frames.distinct(stream);
    let deadline = Instant::now() + Duration::from_secs(10);
    while frames.distinct(stream) < since + 10 {
        ensure!(
            Instant::now() < deadline,
            "fewer than 10 new distinct frames of Chromium's video in 10 s (had {since}, now {}; preview: {})",
            frames.distinct(stream),
            frames.distinct(StreamId::LOCAL)
        );
        relay.pump().await?;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ensure!(
        frames.distinct(StreamId::LOCAL) > 10,
        "the local preview is not drawn"
    );

    // Chat both ways.
    relay
        .until_event("ChannelOpen", |event| {
            matches!(event, NativeEvent::ChannelOpen { peer: p } if *p == peer).then_some(())
        })
        .await?;
    let ours = format!("hello from native {}", peer.0);
    engine.send(&PeerSendArgs {
        peer,
        text: ours.clone(),
    })?;
    page.execute(
        "t.dc.send(arguments[0])",
        vec![json!(format!("hello from Chromium {}", peer.0))],
    )
    .await?;
    let theirs = relay
        .until_event("a chat message from Chromium", |event| match event {
            NativeEvent::ChannelMessage { peer: p, text } if *p == peer => Some(text.clone()),
            _ => None,
        })
        .await?;
    ensure!(theirs == format!("hello from Chromium {}", peer.0));
    relay
        .until("Chromium gets our chat message", |got, _| got.contains(&json!(ours)))
        .await?;
    ensure!(
        relay.seen.iter().any(|e| matches!(e, NativeEvent::State { state: PeerState::Connected, .. })),
        "no connected state was reported"
    );

    // Hang up: nothing captures any more.
    engine.close_peer(peer)?;
    engine.close_media();
    ensure!(!engine.capturing(), "a capture pipeline still runs");
    page.execute("t.close()", vec![]).await?;
    Ok(())
}

/// Carries signaling between the engine and the page.
struct Relay<'a> {
    engine: &'a Engine,
    page: &'a Client,
    events: mpsc::UnboundedReceiver<NativeEvent>,
    peer: PeerKey,
    seen: Vec<NativeEvent>,
}

impl Relay<'_> {
    /// Moves what each side has for the other.
    async fn pump(&mut self) -> Result<()> {
        while let Ok(event) = self.events.try_recv() {
            match &event {
                NativeEvent::LocalDescription { description, .. } => {
                    self.page
                        .execute("return t.remote(arguments[0])", vec![json!(description)])
                        .await
                        .context("Chromium refused our description")?;
                }
                NativeEvent::LocalCandidate { candidate, .. } => {
                    self.page
                        .execute("return t.candidate(arguments[0])", vec![json!(candidate)])
                        .await
                        .context("Chromium refused our candidate")?;
                }
                NativeEvent::Error { message, .. } => bail!("the engine reported: {message}"),
                _ => {}
            }
            self.seen.push(event);
        }
        let out = self.page.execute("return t.out.splice(0)", vec![]).await?;
        for message in out.as_array().cloned().unwrap_or_default() {
            let signal = match message["type"].as_str() {
                Some("description") => RemoteSignal::Description {
                    description: serde_json::from_value(message["description"].clone())?,
                },
                Some("candidate") => RemoteSignal::Candidate {
                    candidate: serde_json::from_value(message["candidate"].clone())?,
                },
                _ => bail!("unexpected page message {message}"),
            };
            self.engine.signal_peer(PeerSignalArgs {
                peer: self.peer,
                signal,
            })?;
        }
        Ok(())
    }

    /// Pumps until `done(received chat, stats)` holds; answers the stats.
    async fn until(&mut self, what: &str, done: impl Fn(&[Value], &Value) -> bool) -> Result<Value> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            self.pump().await?;
            let stats = self.page.execute("return t.stats()", vec![]).await?;
            let got = self.page.execute("return t.got", vec![]).await?;
            if done(got.as_array().unwrap_or(&Vec::new()), &stats) {
                return Ok(stats);
            }
            if Instant::now() > deadline {
                bail!("{what}: not within 20 s (page: {stats}, events: {:?})", self.seen);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Pumps until an event `pick` takes has been seen.
    async fn until_event<T>(&mut self, what: &str, pick: impl Fn(&NativeEvent) -> Option<T>) -> Result<T> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            self.pump().await?;
            if let Some(found) = self.seen.iter().find_map(&pick) {
                return Ok(found);
            }
            if Instant::now() > deadline {
                bail!("{what}: no such event within 20 s (events: {:?})", self.seen);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Reads the frames WebSocket, counting distinct JPEG pictures per stream.
struct FrameCounter {
    distinct: Arc<Mutex<HashMap<StreamId, HashSet<u64>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl FrameCounter {
    async fn start(url: &str) -> Result<Self> {
        let (socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .context("the frames WebSocket refused its own secret")?;
        let distinct: Arc<Mutex<HashMap<StreamId, HashSet<u64>>>> = Arc::default();
        let counts = Arc::clone(&distinct);
        let task = tokio::spawn(async move {
            let (_, mut read) = socket.split();
            while let Some(Ok(message)) = read.next().await {
                let data = message.into_data();
                let Ok((header, picture)) = FrameHeader::decode(&data) else {
                    continue;
                };
                // A real JPEG of the size the header says.
                if header.format != FrameFormat::Jpeg
                    || !picture.starts_with(&[0xFF, 0xD8])
                    || header.width == 0
                    || header.height == 0
                {
                    continue;
                }
                use std::hash::{Hash, Hasher};
                let mut hasher = std::collections::hash_map::DefaultHasher::new();
                picture.hash(&mut hasher);
                if let Ok(mut counts) = counts.lock() {
                    counts.entry(header.stream).or_default().insert(hasher.finish());
                }
            }
        });
        Ok(Self { distinct, task })
    }

    fn distinct(&self, stream: StreamId) -> usize {
        self.distinct
            .lock()
            .map(|c| c.get(&stream).map_or(0, HashSet::len))
            .unwrap_or(0)
    }
}

impl Drop for FrameCounter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A request for any other path than the secret one is refused.
async fn refuses_a_wrong_secret(url: &str) -> Result<()> {
    let (base, _secret) = url.rsplit_once('/').context("no path in the frames URL")?;
    for wrong in [format!("{base}/"), format!("{base}/0123456789abcdef0123456789abcdef")] {
        match tokio_tungstenite::connect_async(&wrong).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => ensure!(
                response.status() == 404,
                "{wrong}: refused with {}",
                response.status()
            ),
            Err(other) => bail!("{wrong}: failed otherwise: {other}"),
            Ok(_) => bail!("{wrong}: a wrong secret was let in"),
        }
    }
    Ok(())
}

/// An empty page on `http://127.0.0.1` (a secure context, unlike
/// `about:blank`, so it may open the fake camera); answers its URL.
async fn serve_blank_page() -> Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/", listener.local_addr()?);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let body = "<!doctype html><title>native engine test</title>";
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    Ok(url)
}
