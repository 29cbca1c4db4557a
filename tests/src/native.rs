//! Driving the shell's native call engine (`peercall::native::Engine`)
//! against a browser's plain `RTCPeerConnection`, without the UI: the page
//! script ([`PAGE`]), the [`Relay`] that carries descriptions and
//! candidates between them, a [`FrameCounter`] reading the engine's frames
//! WebSocket, a blank page on a secure origin ([`serve_blank_page`]), and
//! running in a network namespace of its own ([`in_network_namespace`],
//! [`rerun_in_network_namespace`]): neither libnice nor Chromium gathers
//! loopback addresses, so the run gets a veth pair whose two ends are its
//! only other addresses; the namespace and its links vanish with the
//! process. That needs root or unprivileged user namespaces, and iproute2.

use std::collections::{HashMap, HashSet};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use fantoccini::Client;
use futures_util::StreamExt;
use peercall::native::{Engine, EventSink};
use peercall_signal::shell::native::{
    FrameFormat, FrameHeader, NativeEvent, PeerKey, PeerSignalArgs, RemoteSignal, StreamId,
};
use serde_json::{json, Value};
use tokio::sync::mpsc;

/// Set inside the namespace a run re-runs itself in.
const IN_NETNS: &str = "PEERCALL_TEST_NETNS";

/// Whether this process runs in the namespace [`rerun_in_network_namespace`]
/// made.
pub fn in_network_namespace() -> bool {
    std::env::var_os(IN_NETNS).is_some()
}

/// Runs this executable again with `args` in a fresh network namespace
/// with a veth pair (10.213.0.1 and .2), and waits for it.
pub fn rerun_in_network_namespace(args: &[&str]) -> Result<()> {
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
            .args(args)
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

/// A sink for [`Engine::attach`] and the events it gets, each with when.
pub fn event_sink() -> (
    Arc<dyn EventSink>,
    mpsc::UnboundedReceiver<(Instant, NativeEvent)>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let sink = Arc::new(move |event: NativeEvent| {
        let _ = tx.send((Instant::now(), event));
    });
    (sink, rx)
}

/// The page's side: one `RTCPeerConnection` with the fake camera and
/// microphone and the negotiated chat channel, as the browser engine makes
/// them; what it would send through signaling is queued in `t.out`.
pub const PAGE: &str = r#"
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
  try {
    await t.pc.setRemoteDescription(description);
    if (description.type === 'offer') {
      await t.pc.setLocalDescription(await t.pc.createAnswer());
      t.out.push({ type: 'description', description: { type: 'answer', sdp: t.pc.localDescription.sdp } });
    }
  } catch (e) {
    return `${e.name}: ${e.message}`;
  }
  return null;
};
t.restartIce = async () => {
  await t.pc.setLocalDescription(await t.pc.createOffer({ iceRestart: true }));
  t.out.push({ type: 'description', description: { type: 'offer', sdp: t.pc.localDescription.sdp } });
};
t.candidate = async (candidate) => { await t.pc.addIceCandidate(candidate); t.added++; };
t.stats = async () => {
  const out = { framesDecoded: 0, audioPackets: 0, audioEnergy: 0, state: t.pc.connectionState, ice: t.pc.iceConnectionState, signaling: t.pc.signalingState, channel: t.dc.readyState, sent: t.sent, added: t.added, gathering: t.pc.iceGatheringState };
  (await t.pc.getStats()).forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'video') {
      out.framesDecoded += s.framesDecoded || 0;
      out.frameWidth = s.frameWidth || 0;
      out.frameHeight = s.frameHeight || 0;
    }
    if (s.type === 'inbound-rtp' && s.kind === 'audio') {
      out.audioPackets += s.packetsReceived || 0;
      out.audioEnergy += s.totalAudioEnergy || 0;
    }
  });
  return out;
};
t.close = () => { t.pc.close(); t.pc.getSenders().forEach((s) => s.track && s.track.stop()); };
"#;

/// Carries signaling between the engine and the page.
pub struct Relay<'a> {
    /// The engine.
    pub engine: &'a Engine,
    /// The page.
    pub page: &'a Client,
    /// The engine's events, from [`event_sink`].
    pub events: mpsc::UnboundedReceiver<(Instant, NativeEvent)>,
    /// The engine's peer for the page.
    pub peer: PeerKey,
    /// Every event so far, with when it was sent.
    pub seen: Vec<(Instant, NativeEvent)>,
}

impl Relay<'_> {
    /// Moves what each side has for the other.
    pub async fn pump(&mut self) -> Result<()> {
        while let Ok((at, event)) = self.events.try_recv() {
            match &event {
                NativeEvent::LocalDescription { description, .. } => {
                    let refused = self
                        .page
                        .execute("return t.remote(arguments[0])", vec![json!(description)])
                        .await
                        .context("giving Chromium our description")?;
                    if let Some(why) = refused.as_str() {
                        bail!(
                            "Chromium refused our {:?}: {why}\n{}",
                            description.kind,
                            description.sdp
                        );
                    }
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
            self.seen.push((at, event));
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
    pub async fn until(
        &mut self,
        what: &str,
        done: impl Fn(&[Value], &Value) -> bool,
    ) -> Result<Value> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            self.pump().await?;
            let stats = self.page.execute("return t.stats()", vec![]).await?;
            let got = self.page.execute("return t.got", vec![]).await?;
            if done(got.as_array().unwrap_or(&Vec::new()), &stats) {
                return Ok(stats);
            }
            if Instant::now() > deadline {
                bail!(
                    "{what}: not within 20 s (page: {stats}, events: {:?})",
                    self.seen
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Pumps until an event `pick` takes has been seen.
    pub async fn until_event<T>(
        &mut self,
        what: &str,
        pick: impl Fn(&NativeEvent) -> Option<T>,
    ) -> Result<T> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            self.pump().await?;
            if let Some(found) = self.seen.iter().find_map(|(_, e)| pick(e)) {
                return Ok(found);
            }
            if Instant::now() > deadline {
                bail!(
                    "{what}: no such event within 20 s (events: {:?})",
                    self.seen
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Reads the frames WebSocket, counting distinct JPEG pictures per stream.
pub struct FrameCounter {
    distinct: Arc<Mutex<HashMap<StreamId, HashSet<u64>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl FrameCounter {
    /// Connects to `url` (the engine's frames endpoint) and counts.
    pub async fn start(url: &str) -> Result<Self> {
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
                    counts
                        .entry(header.stream)
                        .or_default()
                        .insert(hasher.finish());
                }
            }
        });
        Ok(Self { distinct, task })
    }

    /// How many different pictures of `stream` arrived so far.
    pub fn distinct(&self, stream: StreamId) -> usize {
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

/// An empty page on `http://127.0.0.1` (a secure context, unlike
/// `about:blank`, so it may open the fake camera); answers its URL.
pub async fn serve_blank_page() -> Result<String> {
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

/// The app's processes (`app_pid` and those it started) that run as its
/// call engine: their command line says so.
pub fn engine_processes(app_pid: u32) -> Vec<u32> {
    crate::family(app_pid)
        .into_iter()
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .is_ok_and(|line| line.split(|b| *b == 0).any(|arg| arg == b"--call-engine"))
        })
        .collect()
}

/// Runs `scenario` for at most `limit` with the app on its native engine
/// (test camera and microphone) and a Chromium beside it; both close
/// afterwards, whatever happened.
pub async fn with_app_and_chromium<F>(limit: Duration, scenario: F) -> Result<()>
where
    F: for<'a> FnOnce(
        &'a crate::App,
        &'a Client,
    ) -> futures_util::future::BoxFuture<'a, Result<()>>,
{
    with_this_app_and_chromium(crate::AppOptions::default(), limit, scenario).await
}

/// [`with_app_and_chromium`], the app launched with `options` (and test
/// media).
pub async fn with_this_app_and_chromium<F>(
    mut options: crate::AppOptions,
    limit: Duration,
    scenario: F,
) -> Result<()>
where
    F: for<'a> FnOnce(
        &'a crate::App,
        &'a Client,
    ) -> futures_util::future::BoxFuture<'a, Result<()>>,
{
    options.env.push(("PEERCALL_FAKE_MEDIA".into(), "1".into()));
    let app = crate::App::launch(options).await?;
    let browser = match crate::Browser::launch().await {
        Ok(browser) => browser,
        Err(error) => {
            let _ = app.quit().await;
            return Err(error);
        }
    };
    let outcome = tokio::time::timeout(limit, scenario(&app, &browser.client)).await;
    let _ = browser.client.close().await;
    let _ = app.quit().await;
    outcome.with_context(|| format!("the scenario took over {limit:?}"))?
}

/// From the app's home screen (its name typed): starts a call in the
/// window, Chromium joins the same room on the app's embedded server, and
/// Chromium decodes the app's video and audio within `within`.
pub async fn start_call_with_chromium(
    app: &crate::App,
    chromium: &Client,
    within: Duration,
) -> Result<()> {
    let window = &app.client;
    crate::click(window, "#start-call").await?;
    let call = crate::wait_for(window, "#call[data-phase='joined']").await?;
    let room = call
        .attr("data-room")
        .await?
        .context("the call shows no room")?;
    chromium
        .goto(&format!(
            "http://127.0.0.1:{}/?room={room}&name=Chromium",
            app.preferred_port
        ))
        .await?;
    crate::wait_for(chromium, "#call[data-phase='joined']").await?;
    crate::wait_for_observed(
        chromium,
        "Chromium decoding the app's video and audio",
        within,
        |o| crate::media_flowing(o, 1),
    )
    .await?;
    Ok(())
}

/// Waits until the canvas at `css` has drawn frames, then checks it keeps
/// drawing (moving video, not one still picture).
pub async fn canvas_drawing(client: &Client, css: &str, what: &str) -> Result<()> {
    let read = format!(
        "Number(document.querySelector({})?.getAttribute('data-frames') ?? 0)",
        serde_json::to_string(css)?
    );
    keeps_drawing(client, &read, what).await
}

/// Waits until `frames` (a page expression: frames drawn) reaches 10, then
/// until it rises by 15 more.
pub async fn keeps_drawing(client: &Client, frames: &str, what: &str) -> Result<()> {
    let first = crate::wait_until(
        client,
        &format!("{what} to draw frames"),
        &format!("{frames} >= 10"),
    )
    .await?
    .as_f64()
    .unwrap_or_default();
    crate::wait_until(
        client,
        &format!("{what} to keep drawing"),
        &format!("{frames} >= {}", first + 15.0),
    )
    .await?;
    Ok(())
}
