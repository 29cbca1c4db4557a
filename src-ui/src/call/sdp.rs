//! The few things the engine reads from, or adds to, session descriptions.
//! Pure text functions, so they are unit-tested on the host.

/// The `o=` line's session id: fixed for the lifetime of the
/// `RTCPeerConnection` that wrote the description, so an offer with another
/// one comes from a new connection on the other side.
pub fn session_id(sdp: &str) -> Option<&str> {
    sdp.lines()
        .find_map(|line| line.strip_prefix("o="))
        .and_then(|origin| origin.split_whitespace().nth(1))
}

/// Video codecs whose encoders honour `x-google-start-bitrate`.
const VIDEO_CODECS: &[&str] = &["VP8", "VP9", "H264", "AV1"];

/// Asks the other side's encoders to start at `kbps` instead of the
/// browser's default (300 kbit/s), by adding `x-google-start-bitrate` to the
/// format parameters of every video codec in `sdp` (a description we send:
/// the receiver of a description applies its codec parameters to what it
/// sends). At the default the first seconds of a call are sent at 320 px and
/// the first key frame is paced out slowly; bandwidth estimation still
/// lowers the rate within a second where the path can't carry it.
///
/// Codecs that already have a start bitrate keep it; anything that isn't a
/// video codec line (RTX, RED, FEC, audio) is left alone.
pub fn with_start_bitrate(sdp: &str, kbps: u32) -> String {
    let eol = if sdp.contains("\r\n") { "\r\n" } else { "\n" };
    let lines: Vec<&str> = sdp.lines().collect();
    let video_types: Vec<&str> = lines
        .iter()
        .filter_map(|line| {
            let (pt, codec) = line.strip_prefix("a=rtpmap:")?.split_once(' ')?;
            let name = codec.split('/').next()?;
            VIDEO_CODECS
                .iter()
                .any(|c| c.eq_ignore_ascii_case(name))
                .then_some(pt)
        })
        .collect();
    let param = format!("x-google-start-bitrate={kbps}");
    let mut out = String::with_capacity(sdp.len() + video_types.len() * 40);
    for line in &lines {
        let fmtp_of = line
            .strip_prefix("a=fmtp:")
            .and_then(|rest| rest.split_once(' '))
            .filter(|(pt, _)| video_types.contains(pt));
        match fmtp_of {
            Some((_, params)) if !params.contains("x-google-start-bitrate") => {
                out.push_str(line);
                out.push(';');
                out.push_str(&param);
            }
            _ => out.push_str(line),
        }
        out.push_str(eol);
        // A codec without format parameters gets a line of its own.
        let bare = line
            .strip_prefix("a=rtpmap:")
            .and_then(|rest| rest.split_once(' '))
            .map(|(pt, _)| pt)
            .filter(|pt| video_types.contains(pt))
            .filter(|pt| {
                let prefix = format!("a=fmtp:{pt} ");
                !lines.iter().any(|l| l.starts_with(&prefix))
            });
        if let Some(pt) = bare {
            out.push_str(&format!("a=fmtp:{pt} {param}{eol}"));
        }
    }
    out
}

/// A start bitrate that gives a sharp first frame at the capture size the
/// person chose (about 0.05 bit per pixel at 30 frames a second), within
/// what any link that can carry video at all starts with comfortably.
pub fn start_kbps((width, height): (u32, u32), frame_rate: u32) -> u32 {
    let bits = f64::from(width) * f64::from(height) * f64::from(frame_rate.max(1)) * 0.05;
    ((bits / 1000.0) as u32).clamp(300, 2_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n\
        a=fmtp:111 minptime=10;useinbandfec=1\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 96 97 98 99 100\r\na=rtpmap:96 VP8/90000\r\n\
        a=rtcp-fb:96 nack\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n\
        a=rtpmap:98 VP9/90000\r\na=fmtp:98 profile-id=0\r\n\
        a=rtpmap:99 H264/90000\r\na=fmtp:99 level-asymmetry-allowed=1;x-google-start-bitrate=800\r\n\
        a=rtpmap:100 red/90000\r\n";

    #[test]
    fn session_id_is_the_origin_lines_second_field() {
        assert_eq!(session_id(OFFER), Some("4611731400430051336"));
        assert_eq!(session_id("v=0\r\ns=-\r\n"), None);
    }

    #[test]
    fn start_bitrate_goes_on_video_codecs_only() {
        let out = with_start_bitrate(OFFER, 1200);
        let lines: Vec<&str> = out.lines().collect();
        // VP8 had no fmtp: it gets one, right after its rtpmap.
        let vp8 = lines
            .iter()
            .position(|l| *l == "a=rtpmap:96 VP8/90000")
            .unwrap();
        assert_eq!(lines[vp8 + 1], "a=fmtp:96 x-google-start-bitrate=1200");
        // VP9's existing parameters are kept and extended.
        assert!(lines.contains(&"a=fmtp:98 profile-id=0;x-google-start-bitrate=1200"));
        // A start bitrate already there is not doubled or changed.
        assert!(lines.contains(&"a=fmtp:99 level-asymmetry-allowed=1;x-google-start-bitrate=800"));
        // RTX, RED and audio are untouched.
        assert!(lines.contains(&"a=fmtp:97 apt=96"));
        assert!(lines.contains(&"a=fmtp:111 minptime=10;useinbandfec=1"));
        assert!(!lines.iter().any(|l| l.starts_with("a=fmtp:100")));
        assert_eq!(out.matches("x-google-start-bitrate").count(), 3);
        // Line endings stay as they were, and nothing else changed.
        assert!(out.ends_with("\r\n") && !out.replace("\r\n", "").contains('\n'));
        let removed = out
            .replace(";x-google-start-bitrate=1200", "")
            .replace("a=fmtp:96 x-google-start-bitrate=1200\r\n", "");
        assert_eq!(removed, OFFER);
    }

    #[test]
    fn start_bitrate_is_idempotent() {
        let once = with_start_bitrate(OFFER, 1200);
        assert_eq!(with_start_bitrate(&once, 1200), once);
    }

    #[test]
    fn start_rate_follows_the_capture_size() {
        assert_eq!(start_kbps((1280, 720), 30), 1382);
        assert_eq!(start_kbps((640, 360), 30), 345);
        assert_eq!(start_kbps((160, 120), 15), 300);
        assert_eq!(start_kbps((3840, 2160), 60), 2_000);
    }
}
