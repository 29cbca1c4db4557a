//! Safety codes: a short number both ends of a connection can read to each
//! other to know that nobody in between (the signaling server, the network)
//! swapped the keys.
//!
//! Each end of a WebRTC connection has its own DTLS certificate, whose
//! fingerprint it puts in its SDP (`a=fingerprint:`); DTLS then checks that
//! the other end really holds the certificate its SDP named. Someone who
//! rewrote the SDPs on the way (to sit in the middle) must put *their*
//! fingerprints there, and then the two ends see different pairs. The code
//! is a hash of both fingerprints, sorted, so both ends compute the same
//! digits from (their own, the other's) and (the other's, their own).
//!
//! Pure text and SHA-256: no browser in here.

use sha2::{Digest, Sha256};

/// Digits in a code (two groups of three).
pub const DIGITS: u32 = 6;

/// The DTLS fingerprint an SDP announces (`sha-256 AB:CD:…`), normalised:
/// the hash function lowercased, the hex uppercased, spaces collapsed. The
/// session-level line wins; otherwise the first media section's (every
/// section of one connection carries the same certificate).
pub fn fingerprint(sdp: &str) -> Option<String> {
    let value = sdp
        .lines()
        .find_map(|line| line.trim().strip_prefix("a=fingerprint:"))?;
    let mut parts = value.split_whitespace();
    let (function, hex) = (parts.next()?, parts.next()?);
    let hex_ok = hex
        .split(':')
        .all(|b| b.len() == 2 && b.bytes().all(|c| c.is_ascii_hexdigit()));
    hex_ok.then(|| {
        format!(
            "{} {}",
            function.to_ascii_lowercase(),
            hex.to_ascii_uppercase()
        )
    })
}

/// The code for a connection whose two ends announced `a` and `b` (in
/// either order): `"123 456"`.
pub fn code(a: &str, b: &str) -> String {
    let (first, second) = if a <= b { (a, b) } else { (b, a) };
    let mut hash = Sha256::new();
    hash.update(b"peercall safety code v1\n");
    hash.update(first.as_bytes());
    hash.update(b"\n");
    hash.update(second.as_bytes());
    let digest = hash.finalize();
    let number = u64::from_be_bytes([
        digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7],
    ]) % 10u64.pow(DIGITS);
    let digits = format!("{number:06}");
    format!("{} {}", &digits[..3], &digits[3..])
}

/// The code for a connection from its local and remote SDP, once both are
/// there and both name a certificate.
pub fn code_for(local_sdp: &str, remote_sdp: &str) -> Option<String> {
    Some(code(&fingerprint(local_sdp)?, &fingerprint(remote_sdp)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "sha-256 0B:29:63:D4:6E:1A:7C:55:10:9E:3F:8A:21:C4:B7:09:E2:5D:41:F8:6C:93:AA:17:30:B5:48:DE:72:0F:C1:66";
    const B: &str = "sha-256 F4:11:8D:2E:93:6A:C0:57:B8:1F:44:E9:02:7D:A6:3B:59:C2:8E:10:D7:35:6F:A4:BB:09:E1:72:4C:98:05:3A";
    const C: &str = "sha-256 F4:11:8D:2E:93:6A:C0:57:B8:1F:44:E9:02:7D:A6:3B:59:C2:8E:10:D7:35:6F:A4:BB:09:E1:72:4C:98:05:3B";

    fn sdp(fingerprint: &str) -> String {
        format!(
            "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
             a=fingerprint:{fingerprint}\r\na=setup:actpass\r\n"
        )
    }

    #[test]
    fn both_ends_compute_the_same_code() {
        assert_eq!(code(A, B), code(B, A));
        assert_eq!(code_for(&sdp(A), &sdp(B)), code_for(&sdp(B), &sdp(A)));
    }

    #[test]
    fn either_fingerprint_changes_the_code() {
        let base = code(A, B);
        assert_ne!(code(A, C), base, "the remote certificate changed");
        assert_ne!(code(C, B), base, "the local certificate changed");
        // A man in the middle shows each end a fingerprint of his own.
        assert_ne!(code(A, C), code(B, C));
    }

    #[test]
    fn a_code_is_six_digits_in_two_groups() {
        for (a, b) in [(A, B), (A, C), (B, C), ("", "")] {
            let code = code(a, b);
            assert_eq!(code.len(), 7, "{code}");
            assert_eq!(&code[3..4], " ");
            assert!(code.replace(' ', "").bytes().all(|c| c.is_ascii_digit()));
        }
    }

    #[test]
    fn fingerprints_are_read_and_normalised() {
        let lower = sdp(&B.to_ascii_lowercase().replace("sha-256", "SHA-256"));
        assert_eq!(fingerprint(&lower).as_deref(), Some(B));
        assert_eq!(fingerprint("v=0\r\ns=-\r\n"), None);
        assert_eq!(fingerprint("a=fingerprint:sha-256 zz:11\r\n"), None);
        assert_eq!(fingerprint("a=fingerprint:sha-256\r\n"), None);
        assert_eq!(code_for(&sdp(A), "v=0\r\n"), None);
    }
}
