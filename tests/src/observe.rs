//! Watching a call from outside the app: an init script (`observe.js`)
//! that Chromium runs in every document before any page script records
//! what the browser itself does — the camera and microphone tracks the page
//! got (from `getUserMedia` and clones), every `RTCPeerConnection` (with its
//! `getStats()`), the signaling server's welcomes — and these helpers read
//! it. Tests assert on this and on what the page shows, never on the app's
//! own bookkeeping (`window.__peercall`, which only appears in error
//! messages, for diagnosis).
//!
//! `await window.__observed()` returns
//! `{ tracks: [{id, kind, readyState, label, origin}], liveTracks,
//! localStreamIds, signalingIds, sockets: [{url, readyState, joinIds}],
//! connections: [{ index, connectionState, iceConnectionState,
//! signalingState, closed, remoteStreamIds, remoteMsids,
//! remoteMsidTrackIds, remoteUfrag, remoteIcePwd, localUfrag, localIcePwd,
//! candidatesGathered,
//! candidatesAdded, rollbacks, receiverTrackIds, senderTracks: [{id, kind,
//! readyState, label}], and, while open, framesDecoded, framesReceived,
//! keyFramesDecoded, audioPacketsReceived, audioSamplesReceived,
//! bytesReceived, framesEncoded, framesSent, frameWidthSent,
//! frameHeightSent, frameWidthReceived, frameHeightReceived (the largest
//! video of each direction), qualityLimitationReason }], framesDrawn: [{trackId,
//! at}] (the first frame of each remote video track a video element presented),
//! pageErrors: [uncaught errors and unhandled rejections], now }`, and, when asked
//! with `{timeline: true}`, `timeline: [{at, event, ...}]`
//! (`performance.now()` times of `getUserMedia`, signaling messages sent
//! and received except candidates, connections created, first candidate
//! gathered and added, `track` events, connection state changes, clicks by
//! element id, first remote frames drawn).
//! `rollbacks` counts the local offers a connection rolled back because the
//! other side's offer crossed them (glare). The raw records (the track and
//! connection objects themselves) are in `window.__observedState`.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::Client;
use serde_json::{json, Value};

/// The init script.
pub const OBSERVER_SCRIPT: &str = include_str!("observe.js");

/// chromedriver's DevTools passthrough:
/// `Page.addScriptToEvaluateOnNewDocument` with the observer.
#[derive(Debug)]
struct AddInitScript(&'static str);

impl WebDriverCompatibleCommand for AddInitScript {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({
            "cmd": "Page.addScriptToEvaluateOnNewDocument",
            "params": { "source": self.0 },
        });
        (http::Method::POST, Some(body.to_string()))
    }
}

/// Makes Chromium run the observer in every document this session opens
/// from now on, before the page's own scripts.
pub async fn install_observer(client: &Client) -> Result<()> {
    client
        .issue_cmd(AddInitScript(OBSERVER_SCRIPT))
        .await
        .context("installing the observer (Page.addScriptToEvaluateOnNewDocument)")?;
    Ok(())
}

/// `await window.__observed()`: what the browser did, seen from outside
/// the app (see the module docs).
pub async fn observed(client: &Client) -> Result<Value> {
    observed_with(client, false).await
}

/// [`observed`], with the `timeline` of events (`performance.now()` times).
pub async fn observed_timeline(client: &Client) -> Result<Value> {
    observed_with(client, true).await
}

async fn observed_with(client: &Client, timeline: bool) -> Result<Value> {
    let value = client
        .execute_async(
            "const [options, done] = [arguments[0], arguments[arguments.length - 1]];
             if (!window.__observed) { done({ error: 'no observer in this page' }); return; }
             window.__observed(options).then(done, e => done({ error: String(e) }));",
            vec![json!({ "timeline": timeline })],
        )
        .await
        .context("reading window.__observed()")?;
    if let Some(error) = value.get("error") {
        bail!("the observer failed: {error}");
    }
    Ok(value)
}

/// The app's own view, `window.__peercall.stats()`, for error messages
/// only (tests never assert on it): `null` when there is none.
pub async fn app_debug_stats(client: &Client) -> Value {
    client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             if (!window.__peercall) { done(null); return; }
             window.__peercall.stats().then(done, e => done({ error: String(e) }));",
            vec![],
        )
        .await
        .unwrap_or_else(|e| json!({ "error": e.to_string() }))
}

/// Polls [`observed`] until `check` accepts a snapshot (returning it), for
/// at most `timeout`; the error shows the last snapshot and, for diagnosis,
/// the app's own view.
pub async fn wait_for_observed(
    client: &Client,
    what: &str,
    timeout: Duration,
    check: impl Fn(&Value) -> bool,
) -> Result<Value> {
    let deadline = Instant::now() + timeout;
    loop {
        let snapshot = observed(client).await?;
        if check(&snapshot) {
            return Ok(snapshot);
        }
        if Instant::now() > deadline {
            let app = app_debug_stats(client).await;
            bail!(
                "timed out after {timeout:?} waiting for {what}; \
                 last observed: {snapshot:#}\n(the app's own view, for diagnosis: {app:#})"
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A number field of a snapshot part, 0 when absent.
pub fn num(value: &Value, field: &str) -> f64 {
    value[field].as_f64().unwrap_or(0.0)
}

/// Every `RTCPeerConnection` the page ever created, closed ones included.
pub fn connections(observed: &Value) -> Vec<Value> {
    observed["connections"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The connections not closed.
pub fn live_connections(observed: &Value) -> Vec<Value> {
    connections(observed)
        .into_iter()
        .filter(|c| c["closed"] != true)
        .collect()
}

/// The connection created `index`th (from 0).
pub fn connection(observed: &Value, index: u64) -> Option<Value> {
    connections(observed)
        .into_iter()
        .find(|c| c["index"].as_u64() == Some(index))
}

/// Whether a connection is `connected` and decodes video frames.
pub fn video_flowing(connection: &Value) -> bool {
    connection["connectionState"] == "connected" && num(connection, "framesDecoded") > 0.0
}

/// Whether a connection is `connected` and receives and decodes audio.
pub fn audio_flowing(connection: &Value) -> bool {
    connection["connectionState"] == "connected"
        && num(connection, "audioPacketsReceived") > 0.0
        && num(connection, "audioSamplesReceived") > 0.0
}

/// Whether the page has exactly `count` open connections, each
/// `connected`, decoding video frames and receiving (and decoding) audio.
pub fn media_flowing(observed: &Value, count: usize) -> bool {
    let open = live_connections(observed);
    open.len() == count && open.iter().all(|c| video_flowing(c) && audio_flowing(c))
}

/// The open connection of `mine` whose other end is an open connection of
/// `theirs` (another page's snapshot): its remote description carries the
/// ICE credentials (`a=ice-ufrag`, `a=ice-pwd`) of their local one. This is
/// how a test tells which connection goes to whom without asking the app,
/// whatever media (if any) flows on it.
pub fn connection_to(mine: &Value, theirs: &Value) -> Option<Value> {
    let credentials = |c: &Value, side: &str| {
        let ufrag = c[format!("{side}Ufrag")]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let pwd = c[format!("{side}IcePwd")]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        (!ufrag.is_empty() && !pwd.is_empty()).then_some((ufrag, pwd))
    };
    let their_ends: Vec<(String, String)> = live_connections(theirs)
        .iter()
        .filter_map(|c| credentials(c, "local"))
        .collect();
    live_connections(mine)
        .into_iter()
        .find(|c| credentials(c, "remote").is_some_and(|remote| their_ends.contains(&remote)))
}

/// Uncaught exceptions and unhandled promise rejections the page had.
pub fn page_errors(observed: &Value) -> Vec<String> {
    observed["pageErrors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e.as_str().map(str::to_owned))
        .collect()
}

/// The page's current signaling id: the last `join` welcome it received.
pub fn my_signaling_id(observed: &Value) -> Option<String> {
    observed["signalingIds"]
        .as_array()?
        .last()?
        .as_str()
        .map(str::to_owned)
}

/// The recorded camera/microphone tracks of `kind` that are still live.
pub fn live_tracks(observed: &Value, kind: &str) -> Vec<Value> {
    observed["tracks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["kind"] == kind && t["readyState"] == "live")
        .cloned()
        .collect()
}

/// The ids of the tracks the tile named `name` (its `aria-label`) plays.
pub async fn tile_track_ids(client: &Client, name: &str) -> Result<Vec<String>> {
    let ids = client
        .execute(
            "const tile = [...document.querySelectorAll('.tile[data-peer-id]')]
                 .find(t => t.getAttribute('aria-label') === arguments[0]);
             const stream = tile?.querySelector('video')?.srcObject;
             return stream ? stream.getTracks().map(t => t.id) : [];",
            vec![Value::from(name)],
        )
        .await?;
    Ok(ids
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|id| id.as_str().map(str::to_owned))
        .collect())
}

/// Whether `tracks` (what a tile plays) are all received on `connection`,
/// and there is at least one.
pub fn plays_from(tracks: &[String], connection: &Value) -> bool {
    let received: Vec<&str> = connection["receiverTrackIds"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    !tracks.is_empty() && tracks.iter().all(|t| received.contains(&t.as_str()))
}
