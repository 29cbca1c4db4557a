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
//! the negotiated data channel, and closing leaves no capture running; in
//! the first direction also mute, camera off and on, another picture size
//! and frame rate (the settings'), and an ICE restart offered by the
//! browser. A second test puts three engines (three apps)
//! in a mesh.
//!
//! Neither libnice nor Chromium gathers loopback addresses, so the test runs
//! itself again inside a network namespace of its own (`unshare --net`)
//! with a veth pair whose two ends are its only non-loopback addresses; the
//! namespace and its links vanish with the process. That needs root or
//! unprivileged user namespaces (tried second, `--map-root-user`).
#![cfg(target_os = "linux")]

use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use fantoccini::Client;
use peercall::native::frames::FramesServer;
use peercall::native::Engine;
use peercall_e2e::native::{
    event_sink, in_network_namespace, rerun_in_network_namespace, serve_blank_page, FrameCounter,
    Relay, PAGE,
};
use peercall_e2e::Browser;
use peercall_signal::shell::native::{
    MediaRequest, NativeEvent, PeerKey, PeerOpenArgs, PeerSendArgs, PeerSignalArgs, PeerState,
    RemoteSignal, StreamId, VideoFormat,
};
use serde_json::{json, Value};
/// How long one direction's call may take, start to end.
const CALL_LIMIT: Duration = Duration::from_secs(60);

#[test]
fn native_engine_calls_chromium_both_ways() -> Result<()> {
    if in_network_namespace() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        return runtime.block_on(async {
            tokio::time::timeout(CALL_LIMIT * 3, both_directions())
                .await
                .context("the test took too long")?
        });
    }
    rerun_in_network_namespace(&[
        "native_engine_calls_chromium_both_ways",
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ])
}

async fn both_directions() -> Result<()> {
    let server = FramesServer::start(&tokio::runtime::Handle::current())?;
    let engine = Engine::new(server.frames().clone(), true, StreamId(1))?;
    let browser = Browser::launch().await?;
    let outcome = async {
        let endpoint = server.endpoint();
        refuses_a_wrong_secret(&endpoint.url).await?;
        let frames = FrameCounter::start(&endpoint.url).await?;
        let page_url = serve_blank_page().await?;
        for (n, native_offers) in [(1u32, true), (2, false)] {
            let started = Instant::now();
            tokio::time::timeout(
                CALL_LIMIT,
                call(
                    &engine,
                    &browser.client,
                    &frames,
                    &page_url,
                    PeerKey(n),
                    native_offers,
                ),
            )
            .await
            .with_context(|| {
                format!("call {n} (native offers: {native_offers}) took too long")
            })??;
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

/// Three engines (three apps) in a mesh: each opens a peer for each other
/// one (the lower index offers), decodes both others' video and hears
/// both others' chat.
#[test]
fn native_engines_in_a_three_party_mesh() -> Result<()> {
    if in_network_namespace() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        return runtime.block_on(async {
            tokio::time::timeout(CALL_LIMIT, mesh(3))
                .await
                .context("the test took too long")?
        });
    }
    rerun_in_network_namespace(&[
        "native_engines_in_a_three_party_mesh",
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ])
}

/// `n` engines, each with a peer for every other (engine `i` calls engine
/// `j` its `PeerKey(j)`).
async fn mesh(n: usize) -> Result<()> {
    let handle = tokio::runtime::Handle::current();
    let mut engines = Vec::new();
    let mut servers = Vec::new();
    let mut events = Vec::new();
    let mut frames = Vec::new();
    for _ in 0..n {
        let server = FramesServer::start(&handle)?;
        let engine = Engine::new(server.frames().clone(), true, StreamId(1))?;
        let (sink, rx) = event_sink();
        engine.attach(sink);
        engine.set_media(&MediaRequest {
            video: true,
            audio: true,
            ..MediaRequest::default()
        });
        events.push(rx);
        frames.push(FrameCounter::start(&server.endpoint().url).await?);
        servers.push(server);
        engines.push(engine);
    }
    for (i, engine) in engines.iter().enumerate() {
        for j in (0..n).filter(|j| *j != i) {
            engine.open_peer(PeerOpenArgs {
                peer: PeerKey(j as u32),
                ice_servers: Vec::new(),
                offer: i < j,
            })?;
        }
    }
    let mut seen: Vec<Vec<NativeEvent>> = vec![Vec::new(); n];
    let mut said = vec![vec![false; n]; n];
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        for from in 0..n {
            while let Ok((_, event)) = events[from].try_recv() {
                let signal = match &event {
                    NativeEvent::LocalDescription { peer, description } => Some((
                        peer,
                        RemoteSignal::Description {
                            description: description.clone(),
                        },
                    )),
                    NativeEvent::LocalCandidate { peer, candidate } => Some((
                        peer,
                        RemoteSignal::Candidate {
                            candidate: candidate.clone(),
                        },
                    )),
                    NativeEvent::Error { message, .. } => bail!("engine {from}: {message}"),
                    NativeEvent::ChannelOpen { peer } => {
                        let to = peer.0 as usize;
                        if !said[from][to] {
                            said[from][to] = true;
                            engines[from].send(&PeerSendArgs {
                                peer: *peer,
                                text: format!("hello from engine {from}"),
                            })?;
                        }
                        None
                    }
                    _ => None,
                };
                if let Some((peer, signal)) = signal {
                    engines[peer.0 as usize].signal_peer(PeerSignalArgs {
                        peer: PeerKey(from as u32),
                        signal,
                    })?;
                }
                seen[from].push(event);
            }
        }
        let done = (0..n).all(|i| {
            (0..n).filter(|j| *j != i).all(|j| {
                let from = PeerKey(j as u32);
                let heard = seen[i].iter().any(|e| {
                    matches!(e, NativeEvent::ChannelMessage { peer, text }
                        if *peer == from && *text == format!("hello from engine {j}"))
                });
                let decoding = seen[i].iter().any(|e| {
                    matches!(e, NativeEvent::RemoteVideo { peer, stream }
                        if *peer == from && frames[i].distinct(*stream) >= 20)
                });
                heard && decoding
            })
        });
        if done {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "the {n}-party mesh did not come up in 40 s: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for engine in &engines {
        engine.close_all();
        ensure!(!engine.capturing(), "a capture pipeline still runs");
    }
    Ok(())
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
    let (sink, events) = event_sink();
    engine.attach(sink);
    let media = engine.set_media(&MediaRequest {
        video: true,
        audio: true,
        ..MediaRequest::default()
    });
    ensure!(
        media.camera.is_some() && media.microphone.is_some(),
        "the fake devices did not open: {media:?}"
    );
    ensure!(
        media.preview == Some(StreamId::LOCAL),
        "no preview: {media:?}"
    );

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
            stats["framesDecoded"].as_f64() > Some(10.0)
                && stats["audioPackets"].as_f64() > Some(20.0)
        })
        .await?;
    let later = relay
        .until("Chromium's decoded frames keep rising", |_, stats| {
            stats["framesDecoded"].as_f64()
                > Some(first["framesDecoded"].as_f64().unwrap_or(0.0) + 15.0)
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
    ensure!(
        stream != StreamId::LOCAL,
        "the remote video took the preview's id"
    );
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
        .until("Chromium gets our chat message", |got, _| {
            got.contains(&json!(ours))
        })
        .await?;
    ensure!(
        relay.seen.iter().any(|(_, e)| matches!(
            e,
            NativeEvent::State {
                state: PeerState::Connected,
                ..
            }
        )),
        "no connected state was reported"
    );

    if native_offers {
        media_controls(engine, &mut relay, frames).await?;
    }

    // Hang up: nothing captures any more.
    engine.close_peer(peer)?;
    engine.close_media();
    ensure!(!engine.capturing(), "a capture pipeline still runs");
    page.execute("t.close()", vec![]).await?;
    Ok(())
}

/// Mute, camera off and on, another picture size and frame rate, and an ICE
/// restart from the browser's side, in a running call, as Chromium sees
/// them.
async fn media_controls(
    engine: &Engine,
    relay: &mut Relay<'_>,
    frames: &FrameCounter,
) -> Result<()> {
    let request = |video: bool, mic_muted: bool| MediaRequest {
        video,
        audio: true,
        mic_muted,
        ..MediaRequest::default()
    };
    let num = |stats: &Value, field: &str| stats[field].as_f64().unwrap_or(0.0);

    // Muted: packets keep coming (the track goes on), their energy all but
    // stops (compared with the rate unmuted, over a second or more, once
    // what was under way has played out).
    let energy_rate = |a: &Value, b: &Value, seconds: f64| {
        (num(b, "audioEnergy") - num(a, "audioEnergy")) / seconds
    };
    let before = relay.until("unmuted", |_, _| true).await?;
    let started = Instant::now();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after = relay.until("unmuted", |_, _| true).await?;
    let unmuted_rate = energy_rate(&before, &after, started.elapsed().as_secs_f64());
    let media = engine.set_media(&request(true, true));
    ensure!(
        media.microphone.is_some(),
        "mute closed the microphone: {media:?}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = relay.until("muted", |_, _| true).await?;
    let started = Instant::now();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after = relay.until("muted", |_, _| true).await?;
    let muted_rate = energy_rate(&before, &after, started.elapsed().as_secs_f64());
    ensure!(
        num(&after, "audioPackets") > num(&before, "audioPackets") + 30.0,
        "muting stopped the audio packets: {before} then {after}"
    );
    ensure!(
        unmuted_rate > 0.0 && muted_rate < unmuted_rate * 0.2,
        "Chromium still hears the muted microphone: energy {muted_rate:.4}/s muted, {unmuted_rate:.4}/s before"
    );
    engine.set_media(&request(true, false));
    let unmuted = num(&after, "audioEnergy");
    relay
        .until("Chromium hears the unmuted microphone", |_, stats| {
            num(stats, "audioEnergy") > unmuted + 0.01
        })
        .await?;

    // Camera off: no preview, no video sent; on again: both come back,
    // without renegotiating.
    let media = engine.set_media(&request(false, false));
    ensure!(
        media.camera.is_none() && media.preview.is_none(),
        "camera off: {media:?}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (before, preview) = (
        relay.until("camera off", |_, _| true).await?,
        frames.distinct(StreamId::LOCAL),
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = relay.until("camera off", |_, _| true).await?;
    ensure!(
        num(&after, "framesDecoded") <= num(&before, "framesDecoded") + 1.0,
        "Chromium still decodes video with the camera off: {before} then {after}"
    );
    ensure!(
        frames.distinct(StreamId::LOCAL) == preview,
        "the preview goes on with the camera off"
    );
    let media = engine.set_media(&request(true, false));
    ensure!(
        media.preview == Some(StreamId::LOCAL),
        "camera on: {media:?}"
    );
    let off = num(&after, "framesDecoded");
    relay
        .until("Chromium decodes video again", |_, stats| {
            num(stats, "framesDecoded") > off + 15.0
        })
        .await?;

    // Another picture size and frame rate (the settings' resolution and
    // frame rate): the camera opens again with them, and Chromium decodes
    // that size at that rate; then back.
    let small = MediaRequest {
        format: VideoFormat {
            width: 320,
            height: 240,
            frame_rate: 15,
        },
        ..request(true, false)
    };
    let media = engine.set_media(&small);
    ensure!(media.camera.is_some(), "the smaller format: {media:?}");
    let resized = relay
        .until("Chromium decodes 320×240 video", |_, stats| {
            stats["frameWidth"] == 320 && stats["frameHeight"] == 240
        })
        .await?;
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let later = relay.until("320×240 video goes on", |_, _| true).await?;
    let rate = (num(&later, "framesDecoded") - num(&resized, "framesDecoded"))
        / started.elapsed().as_secs_f64();
    ensure!(
        (10.0..=20.0).contains(&rate) && later["frameWidth"] == 320,
        "Chromium decodes {rate:.1} frames a second at 15 asked for: {later}"
    );
    engine.set_media(&request(true, false));
    relay
        .until("Chromium decodes 640×480 video again", |_, stats| {
            stats["frameWidth"] == 640 && stats["frameHeight"] == 480
        })
        .await?;

    // An ICE restart offered by the browser is answered; media goes on.
    relay.page.execute("return t.restartIce()", vec![]).await?;
    let restarted = relay
        .until("the ICE restart is answered", |_, stats| {
            stats["signaling"] == "stable"
        })
        .await?;
    let decoded = num(&restarted, "framesDecoded");
    relay
        .until("video after the ICE restart", |_, stats| {
            num(stats, "framesDecoded") > decoded + 30.0 && stats["state"] == "connected"
        })
        .await?;
    Ok(())
}

/// A request for any other path than the secret one is refused.
async fn refuses_a_wrong_secret(url: &str) -> Result<()> {
    let (base, _secret) = url.rsplit_once('/').context("no path in the frames URL")?;
    for wrong in [
        format!("{base}/"),
        format!("{base}/0123456789abcdef0123456789abcdef"),
    ] {
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
