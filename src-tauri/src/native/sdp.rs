//! Pure text helpers over SDP and candidates: the payload types a remote
//! offer gives VP8 and Opus (an answer must use them, or webrtcbin adds a
//! receive-only transceiver and sends nothing), and the candidates not to
//! hand to libnice (`.local` mDNS names hang its resolver for ~15 s).

/// The payload types a remote description gives the codecs we send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayloadTypes {
    /// VP8's payload type.
    pub vp8: u8,
    /// Opus's payload type.
    pub opus: u8,
}

impl Default for PayloadTypes {
    /// What our own offers use (and Chromium's, as it happens).
    fn default() -> Self {
        Self { vp8: 96, opus: 111 }
    }
}

impl PayloadTypes {
    /// The first `a=rtpmap:` for VP8 and for Opus in `sdp`, each falling
    /// back to our own default when the offer has none.
    pub fn from_sdp(sdp: &str) -> Self {
        let mut found = Self::default();
        let (mut vp8, mut opus) = (None, None);
        for line in sdp.lines() {
            let Some(rest) = line.trim().strip_prefix("a=rtpmap:") else {
                continue;
            };
            let mut parts = rest.splitn(2, ' ');
            let (Some(pt), Some(codec)) = (parts.next(), parts.next()) else {
                continue;
            };
            let Ok(pt) = pt.parse::<u8>() else { continue };
            let name = codec.split('/').next().unwrap_or_default();
            if name.eq_ignore_ascii_case("VP8") && vp8.is_none() {
                vp8 = Some(pt);
            } else if name.eq_ignore_ascii_case("opus") && opus.is_none() {
                opus = Some(pt);
            }
        }
        found.vp8 = vp8.unwrap_or(found.vp8);
        found.opus = opus.unwrap_or(found.opus);
        found
    }
}

/// Whether a `candidate:` line names its address by an mDNS `.local` name.
pub fn is_mdns(candidate: &str) -> bool {
    candidate
        .split_whitespace()
        .nth(4)
        .is_some_and(|address| address.to_ascii_lowercase().ends_with(".local"))
}

/// The `a=mid:` of media section `index` in `sdp`, if it has one.
pub fn mid_of(sdp: &str, index: u32) -> Option<String> {
    let mut section: Option<u32> = None;
    for line in sdp.lines() {
        let line = line.trim();
        if line.starts_with("m=") {
            section = Some(section.map_or(0, |s| s + 1));
        } else if let Some(mid) = line.strip_prefix("a=mid:") {
            if section == Some(index) {
                return Some(mid.to_owned());
            }
        }
    }
    None
}

/// The index of the media section whose `a=mid:` is `mid` in `sdp`.
pub fn index_of_mid(sdp: &str, mid: &str) -> Option<u32> {
    let mut section: Option<u32> = None;
    for line in sdp.lines() {
        let line = line.trim();
        if line.starts_with("m=") {
            section = Some(section.map_or(0, |s| s + 1));
        } else if line.strip_prefix("a=mid:") == Some(mid) {
            return section;
        }
    }
    None
}

/// The DTLS role (`active` or `passive`) the side that wrote `sdp` takes,
/// from its first `a=setup:` (`actpass`, an offer's, takes none yet).
pub fn dtls_role(sdp: &str) -> Option<&'static str> {
    sdp.lines()
        .find_map(|line| line.trim().strip_prefix("a=setup:"))
        .and_then(|setup| match setup.trim() {
            "active" => Some("active"),
            "passive" => Some("passive"),
            _ => None,
        })
}

/// The other side's role.
pub fn opposite(role: &'static str) -> &'static str {
    if role == "active" {
        "passive"
    } else {
        "active"
    }
}

/// `sdp` with every `a=setup:` saying `role`.
pub fn with_dtls_role(sdp: &str, role: &str) -> String {
    sdp.split_inclusive('\n')
        .map(|line| {
            if line.trim_start().starts_with("a=setup:") {
                let ending = if line.ends_with("\r\n") { "\r\n" } else { "\n" };
                format!("a=setup:{role}{ending}")
            } else {
                line.to_owned()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 109 0\r\na=mid:0\r\na=rtpmap:109 opus/48000/2\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 100 98 120\r\na=mid:1\r\na=rtpmap:98 H264/90000\r\n\
        a=rtpmap:100 VP8/90000\r\na=rtpmap:120 VP8/90000\r\n\
        m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:2\r\n";

    #[test]
    fn payload_types_come_from_the_offer() {
        assert_eq!(
            PayloadTypes::from_sdp(OFFER),
            PayloadTypes {
                vp8: 100,
                opus: 109
            }
        );
        assert_eq!(PayloadTypes::from_sdp("v=0\r\n"), PayloadTypes::default());
    }

    #[test]
    fn mdns_candidates_are_told_apart() {
        assert!(is_mdns(
            "candidate:1 1 udp 2122260223 0b8e-4c7b.local 54321 typ host"
        ));
        assert!(!is_mdns(
            "candidate:1 1 udp 2122260223 192.0.2.2 54321 typ host"
        ));
        assert!(!is_mdns(""));
    }

    #[test]
    fn dtls_roles_are_read_and_kept() {
        let answer =
            "v=0\r\nm=audio 9 X 111\r\na=setup:active\r\nm=video 9 X 96\r\na=setup:active\r\n";
        assert_eq!(dtls_role(answer), Some("active"));
        assert_eq!(dtls_role("a=setup:actpass\r\n"), None);
        assert_eq!(opposite("active"), "passive");
        let kept = with_dtls_role(answer, "passive");
        assert_eq!(kept.matches("a=setup:passive\r\n").count(), 2);
        assert!(!kept.contains("active"));
        assert!(kept.starts_with("v=0\r\nm=audio"));
    }

    #[test]
    fn mids_and_indexes() {
        assert_eq!(mid_of(OFFER, 1).as_deref(), Some("1"));
        assert_eq!(mid_of(OFFER, 3), None);
        assert_eq!(index_of_mid(OFFER, "2"), Some(2));
        assert_eq!(index_of_mid(OFFER, "x"), None);
    }
}
