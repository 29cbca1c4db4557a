//! Call quality in numbers and words, from `getStats()`: what the quality
//! panel and the tiles' badges show.
//!
//! [`StatsSample`] is one reading of a connection's statistics (counters
//! and current values), read from the report's entries as JSON so that this
//! module stays pure; [`Quality::between`] turns two readings a second apart
//! into rates (bitrate, loss over the interval) and a [`Level`]. The path is
//! told in words from the selected candidate pair: a host candidate is
//! *direct on this network*, a server-reflexive one *direct through NAT*, a
//! relay one *relayed through TURN*.

use serde_json::Value;

/// How a connection's packets travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// Host candidates: the same network (or the same machine).
    Direct,
    /// A server-reflexive (or peer-reflexive) address: through a NAT.
    ThroughNat,
    /// Through a TURN relay.
    Relayed,
}

/// The transport under the route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
    /// TLS over TCP (to a TURN server).
    Tls,
}

impl Transport {
    fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "udp" => Some(Self::Udp),
            "tcp" => Some(Self::Tcp),
            "tls" => Some(Self::Tls),
            _ => None,
        }
    }

    /// As people write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Udp => "UDP",
            Self::Tcp => "TCP",
            Self::Tls => "TLS",
        }
    }
}

/// The path of the selected candidate pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Path {
    /// How directly.
    pub route: Route,
    /// Over what (for a relay: between us and the TURN server).
    pub transport: Transport,
}

/// One reading of a connection's statistics.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StatsSample {
    /// When it was taken (the report's timestamp, ms).
    pub at_ms: f64,
    /// Round-trip time on the selected candidate pair (ms).
    pub rtt_ms: Option<f64>,
    /// Media bytes received (every inbound-rtp stream).
    pub bytes_received: f64,
    /// Media bytes sent (every outbound-rtp stream).
    pub bytes_sent: f64,
    /// Packets received (inbound-rtp).
    pub packets_received: f64,
    /// Packets lost (inbound-rtp).
    pub packets_lost: f64,
    /// The worst inbound jitter (ms).
    pub jitter_ms: Option<f64>,
    /// The size of the video we receive.
    pub resolution: Option<(u32, u32)>,
    /// Frames per second of the video we receive.
    pub fps: Option<f64>,
    /// The codecs we receive (video first), as `VP8`, `opus`.
    pub codecs: Vec<String>,
    /// The selected path.
    pub path: Option<Path>,
}

impl StatsSample {
    /// Reads a report's entries (each one stats object as JSON).
    pub fn from_report(entries: &[Value]) -> Self {
        let by_id = |id: &str| entries.iter().find(|e| text(e, "id") == Some(id));
        let mut sample = Self::default();
        let mut video_codec = None;
        let mut audio_codec = None;
        for entry in entries {
            sample.at_ms = sample.at_ms.max(number(entry, "timestamp").unwrap_or(0.0));
            match text(entry, "type") {
                Some("inbound-rtp") => {
                    sample.bytes_received += number(entry, "bytesReceived").unwrap_or(0.0);
                    sample.packets_received += number(entry, "packetsReceived").unwrap_or(0.0);
                    sample.packets_lost += number(entry, "packetsLost").unwrap_or(0.0).max(0.0);
                    if let Some(jitter) = number(entry, "jitter") {
                        let ms = jitter * 1000.0;
                        sample.jitter_ms = Some(sample.jitter_ms.map_or(ms, |j: f64| j.max(ms)));
                    }
                    let codec = text(entry, "codecId")
                        .and_then(by_id)
                        .and_then(|c| text(c, "mimeType"))
                        .map(|m| m.rsplit('/').next().unwrap_or(m).to_owned());
                    if kind(entry) == Some("video") {
                        let width = number(entry, "frameWidth").unwrap_or(0.0) as u32;
                        let height = number(entry, "frameHeight").unwrap_or(0.0) as u32;
                        if width > 0 && height > 0 {
                            sample.resolution = Some((width, height));
                        }
                        if let Some(fps) = number(entry, "framesPerSecond") {
                            sample.fps = Some(fps);
                        }
                        video_codec = video_codec.or(codec);
                    } else {
                        audio_codec = audio_codec.or(codec);
                    }
                }
                Some("outbound-rtp") => {
                    sample.bytes_sent += number(entry, "bytesSent").unwrap_or(0.0);
                }
                _ => {}
            }
        }
        sample.codecs = video_codec.into_iter().chain(audio_codec).collect();
        let pair = entries
            .iter()
            .filter(|e| text(e, "type") == Some("transport"))
            .find_map(|t| text(t, "selectedCandidatePairId").and_then(by_id))
            .or_else(|| {
                entries.iter().find(|e| {
                    text(e, "type") == Some("candidate-pair")
                        && e.get("nominated") == Some(&Value::Bool(true))
                        && text(e, "state") == Some("succeeded")
                })
            });
        if let Some(pair) = pair {
            sample.rtt_ms = number(pair, "currentRoundTripTime").map(|s| s * 1000.0);
            let local = text(pair, "localCandidateId").and_then(by_id);
            let remote = text(pair, "remoteCandidateId").and_then(by_id);
            sample.path = local.and_then(|local| path(local, remote));
        }
        sample
    }
}

/// The path from the local and remote candidates of the selected pair.
fn path(local: &Value, remote: Option<&Value>) -> Option<Path> {
    let kind_of = |c: &Value| text(c, "candidateType").map(str::to_owned);
    let local_kind = kind_of(local)?;
    let remote_kind = remote.and_then(kind_of).unwrap_or_default();
    let route = if local_kind == "relay" || remote_kind == "relay" {
        Route::Relayed
    } else if local_kind == "srflx" || local_kind == "prflx" || remote_kind == "srflx" {
        // A remote peer-reflexive candidate alone says little: on one
        // network it is just a host the other side hadn't announced yet.
        Route::ThroughNat
    } else {
        Route::Direct
    };
    let transport = if route == Route::Relayed && local_kind == "relay" {
        text(local, "relayProtocol").and_then(Transport::parse)
    } else {
        None
    }
    .or_else(|| text(local, "protocol").and_then(Transport::parse))?;
    Some(Path { route, transport })
}

fn text<'a>(entry: &'a Value, name: &str) -> Option<&'a str> {
    entry.get(name)?.as_str()
}

fn number(entry: &Value, name: &str) -> Option<f64> {
    entry.get(name)?.as_f64()
}

fn kind(entry: &Value) -> Option<&str> {
    text(entry, "kind").or_else(|| text(entry, "mediaType"))
}

/// How a call is going, at a glance (the tiles' badge).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Nothing to worry about.
    Good,
    /// Some loss or delay: people may notice.
    Fair,
    /// Heavy loss or delay: choppy.
    Poor,
}

impl Level {
    /// Stable name for `data-quality`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Good => "good",
            Self::Fair => "fair",
            Self::Poor => "poor",
        }
    }
}

/// What the panel shows: a reading, with rates over the last interval.
#[derive(Clone, Debug, PartialEq)]
pub struct Quality {
    /// Round-trip time (ms).
    pub rtt_ms: Option<f64>,
    /// Packets lost over the interval (or the whole call, on the first
    /// reading), in percent.
    pub loss_percent: f64,
    /// Inbound jitter (ms).
    pub jitter_ms: Option<f64>,
    /// Receiving, kbit/s (`None` on the first reading).
    pub kbps_in: Option<f64>,
    /// Sending, kbit/s (`None` on the first reading).
    pub kbps_out: Option<f64>,
    /// The video we receive.
    pub resolution: Option<(u32, u32)>,
    /// Its frame rate.
    pub fps: Option<f64>,
    /// Codecs received.
    pub codecs: Vec<String>,
    /// The path.
    pub path: Option<Path>,
    /// At a glance.
    pub level: Level,
}

impl Quality {
    /// The quality at `now`, with rates since `before` (the previous
    /// reading of the same connection, if any).
    pub fn between(before: Option<&StatsSample>, now: &StatsSample) -> Self {
        let seconds = before
            .map(|b| (now.at_ms - b.at_ms) / 1000.0)
            .filter(|s| *s > 0.0);
        let rate = |now: f64, then: f64| {
            seconds.map(|s| ((now - then).max(0.0) * 8.0 / 1000.0 / s).max(0.0))
        };
        let (kbps_in, kbps_out) = match before {
            Some(b) => (
                rate(now.bytes_received, b.bytes_received),
                rate(now.bytes_sent, b.bytes_sent),
            ),
            None => (None, None),
        };
        let (received, lost) = match before {
            Some(b) if seconds.is_some() => (
                (now.packets_received - b.packets_received).max(0.0),
                (now.packets_lost - b.packets_lost).max(0.0),
            ),
            _ => (now.packets_received, now.packets_lost),
        };
        let loss_percent = if received + lost > 0.0 {
            lost * 100.0 / (received + lost)
        } else {
            0.0
        };
        let rtt = now.rtt_ms.unwrap_or(0.0);
        let level = if loss_percent > 8.0 || rtt > 500.0 {
            Level::Poor
        } else if loss_percent > 2.0 || rtt > 250.0 || now.jitter_ms.unwrap_or(0.0) > 60.0 {
            Level::Fair
        } else {
            Level::Good
        };
        Self {
            rtt_ms: now.rtt_ms,
            loss_percent,
            jitter_ms: now.jitter_ms,
            kbps_in,
            kbps_out,
            resolution: now.resolution,
            fps: now.fps,
            codecs: now.codecs.clone(),
            path: now.path,
            level,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report(bytes_in: f64, lost: f64, at: f64, local: &str, remote: &str) -> Vec<Value> {
        vec![
            json!({"id": "T1", "type": "transport", "timestamp": at, "selectedCandidatePairId": "CP1"}),
            json!({"id": "CP1", "type": "candidate-pair", "timestamp": at, "localCandidateId": "L1",
                   "remoteCandidateId": "R1", "currentRoundTripTime": 0.042, "nominated": true, "state": "succeeded"}),
            json!({"id": "CP2", "type": "candidate-pair", "timestamp": at, "localCandidateId": "L2",
                   "remoteCandidateId": "R1", "currentRoundTripTime": 0.9}),
            json!({"id": "L1", "type": "local-candidate", "candidateType": local, "protocol": "udp", "relayProtocol": "tcp"}),
            json!({"id": "L2", "type": "local-candidate", "candidateType": "relay", "protocol": "udp"}),
            json!({"id": "R1", "type": "remote-candidate", "candidateType": remote, "protocol": "udp"}),
            json!({"id": "V", "type": "inbound-rtp", "kind": "video", "timestamp": at, "bytesReceived": bytes_in,
                   "packetsReceived": 1000.0, "packetsLost": lost, "jitter": 0.012, "frameWidth": 640,
                   "frameHeight": 480, "framesPerSecond": 29.0, "codecId": "C1"}),
            json!({"id": "A", "type": "inbound-rtp", "kind": "audio", "timestamp": at, "bytesReceived": 1000.0,
                   "packetsReceived": 500.0, "packetsLost": 0.0, "jitter": 0.003, "codecId": "C2"}),
            json!({"id": "O", "type": "outbound-rtp", "kind": "video", "timestamp": at, "bytesSent": bytes_in / 2.0}),
            json!({"id": "C1", "type": "codec", "mimeType": "video/VP8"}),
            json!({"id": "C2", "type": "codec", "mimeType": "audio/opus"}),
        ]
    }

    #[test]
    fn a_sample_reads_the_selected_pair_and_the_media() {
        let s = StatsSample::from_report(&report(10_000.0, 0.0, 5_000.0, "host", "host"));
        assert_eq!(s.rtt_ms, Some(42.0));
        assert_eq!(s.bytes_received, 11_000.0);
        assert_eq!(s.bytes_sent, 5_000.0);
        assert_eq!(s.resolution, Some((640, 480)));
        assert_eq!(s.fps, Some(29.0));
        assert_eq!(s.jitter_ms, Some(12.0));
        assert_eq!(s.codecs, vec!["VP8".to_owned(), "opus".to_owned()]);
        assert_eq!(
            s.path,
            Some(Path {
                route: Route::Direct,
                transport: Transport::Udp
            })
        );
    }

    #[test]
    fn the_route_is_named_from_the_candidate_types() {
        let route = |local, remote| {
            StatsSample::from_report(&report(0.0, 0.0, 0.0, local, remote))
                .path
                .unwrap()
        };
        assert_eq!(route("host", "prflx").route, Route::Direct);
        assert_eq!(route("srflx", "host").route, Route::ThroughNat);
        assert_eq!(route("host", "srflx").route, Route::ThroughNat);
        let relayed = route("relay", "srflx");
        assert_eq!(relayed.route, Route::Relayed);
        assert_eq!(
            relayed.transport,
            Transport::Tcp,
            "the relay's own protocol"
        );
        assert_eq!(route("host", "relay").route, Route::Relayed);
    }

    #[test]
    fn rates_and_loss_come_from_two_readings() {
        let before = StatsSample::from_report(&report(10_000.0, 0.0, 1_000.0, "host", "host"));
        let mut now = StatsSample::from_report(&report(135_000.0, 0.0, 2_000.0, "host", "host"));
        now.packets_received = before.packets_received + 90.0;
        now.packets_lost = before.packets_lost + 10.0;
        let q = Quality::between(Some(&before), &now);
        assert_eq!(q.kbps_in, Some(1_000.0));
        assert_eq!(q.kbps_out, Some(500.0));
        assert_eq!(q.loss_percent, 10.0);
        assert_eq!(q.level, Level::Poor);
        let first = Quality::between(None, &before);
        assert_eq!((first.kbps_in, first.loss_percent), (None, 0.0));
        assert_eq!(first.level, Level::Good);
    }

    #[test]
    fn an_empty_report_is_an_empty_sample() {
        let s = StatsSample::from_report(&[]);
        assert_eq!(s, StatsSample::default());
        assert_eq!(Quality::between(None, &s).level, Level::Good);
    }
}
