//! Frame accounting below tungstenite.
//!
//! tungstenite joins a fragmented message's frames itself and hands over
//! only the whole message, so a message in 200 000 empty continuation
//! frames costs 200 000 frames of work and counts as one message. This
//! stream wrapper reads the frame headers as the bytes go by (after the
//! HTTP head, which it skips) and fails the read once a message arrives in
//! more than its cap of frames, with a [`TooManyFragments`] I/O error that
//! the session turns into a 1009 close.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

/// A message arrived in more frames than allowed.
#[derive(Debug, thiserror::Error)]
#[error("a message in more than {max} frames")]
pub(crate) struct TooManyFragments {
    /// The cap.
    pub(crate) max: usize,
}

impl TooManyFragments {
    /// Whether an I/O error is this one.
    pub(crate) fn is(error: &io::Error) -> bool {
        error.get_ref().is_some_and(|inner| inner.is::<Self>())
    }
}

/// `inner`, whose reads are checked frame by frame; see the module docs.
#[derive(Debug)]
pub(crate) struct FrameGuard<S> {
    inner: S,
    /// Bytes of the HTTP head still to pass before frames start.
    skip: usize,
    headers: Headers,
    max_fragments: usize,
    /// Frames of the message under way (0 between messages).
    fragments: usize,
    tripped: bool,
}

impl<S> FrameGuard<S> {
    /// Checks what is read from `inner` after its first `head_len` bytes
    /// (the HTTP request head) for messages in more than `max_fragments`
    /// frames.
    pub(crate) fn new(inner: S, head_len: usize, max_fragments: usize) -> Self {
        Self {
            inner,
            skip: head_len,
            headers: Headers::default(),
            max_fragments,
            fragments: 0,
            tripped: false,
        }
    }

    /// The wrapped stream (for draining after a close).
    pub(crate) fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    fn observe(&mut self, mut bytes: &[u8]) -> Result<(), TooManyFragments> {
        let skipped = self.skip.min(bytes.len());
        self.skip -= skipped;
        bytes = &bytes[skipped..];
        while let Some((first_byte, rest)) = self.headers.next(bytes) {
            bytes = rest;
            let fin = first_byte & 0x80 != 0;
            match first_byte & 0x0f {
                // Continuation.
                0x0 => {
                    self.fragments = self.fragments.saturating_add(1);
                    if self.fragments > self.max_fragments {
                        return Err(TooManyFragments {
                            max: self.max_fragments,
                        });
                    }
                    if fin {
                        self.fragments = 0;
                    }
                }
                // Text or binary: a new message.
                0x1 | 0x2 => self.fragments = usize::from(!fin),
                // Control frames may come between fragments; tungstenite
                // refuses reserved opcodes itself.
                _ => {}
            }
        }
        Ok(())
    }
}

/// Finds frame headers in a byte stream: collects each header (2 to 14
/// bytes) and skips each payload.
#[derive(Debug, Default)]
struct Headers {
    header: [u8; 14],
    have: usize,
    payload_left: u64,
}

impl Headers {
    /// Consumes `bytes` up to the end of the next complete header and
    /// returns its first byte (FIN and opcode) with the bytes after it;
    /// `None` once `bytes` is used up.
    fn next<'a>(&mut self, mut bytes: &'a [u8]) -> Option<(u8, &'a [u8])> {
        loop {
            if self.payload_left > 0 {
                let n = usize::try_from(self.payload_left)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                self.payload_left -= n as u64;
                bytes = &bytes[n..];
            }
            let (&byte, rest) = bytes.split_first()?;
            bytes = rest;
            self.header[self.have] = byte;
            self.have += 1;
            if self.have < 2 || self.have < self.header_len() {
                continue;
            }
            let h = &self.header;
            let payload = match h[1] & 0x7f {
                126 => u64::from(u16::from_be_bytes([h[2], h[3]])),
                127 => u64::from_be_bytes([h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9]]),
                n => u64::from(n),
            };
            let first = h[0];
            self.have = 0;
            self.payload_left = payload;
            return Some((first, bytes));
        }
    }

    /// The length of the header being collected (its first two bytes known).
    fn header_len(&self) -> usize {
        let extended = match self.header[1] & 0x7f {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let mask = if self.header[1] & 0x80 != 0 { 4 } else { 0 };
        2 + extended + mask
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for FrameGuard<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.tripped {
            let error = TooManyFragments {
                max: this.max_fragments,
            };
            return Poll::Ready(Err(io::Error::other(error)));
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        if let Err(error) = this.observe(&buf.filled()[before..]) {
            this.tripped = true;
            return Poll::Ready(Err(io::Error::other(error)));
        }
        Poll::Ready(Ok(()))
    }
}

super::stream::write_through!(FrameGuard);

#[cfg(test)]
mod tests {
    use super::*;

    /// A masked client frame with `payload`.
    fn frame(first_byte: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![first_byte];
        match payload.len() {
            n @ 0..=125 => out.push(0x80 | n as u8),
            n @ 126..=0xffff => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&[1, 2, 3, 4]);
        out.extend_from_slice(payload);
        out
    }

    const TEXT: u8 = 0x01;
    const CONTINUATION: u8 = 0x00;
    const PING: u8 = 0x09;
    const FIN: u8 = 0x80;

    fn guard(max: usize) -> FrameGuard<()> {
        FrameGuard::new((), 5, max)
    }

    #[test]
    fn whole_messages_and_few_fragments_pass() {
        let mut bytes = b"HEAD\n".to_vec();
        bytes.extend(frame(FIN | TEXT, b"whole"));
        bytes.extend(frame(TEXT, &[b'a'; 300]));
        bytes.extend(frame(FIN | PING, b""));
        bytes.extend(frame(CONTINUATION, &[b'b'; 70_000]));
        bytes.extend(frame(FIN | CONTINUATION, b"c"));
        bytes.extend(frame(TEXT, b"x"));
        bytes.extend(frame(FIN | CONTINUATION, b"y"));
        // Fed in every chunk size, headers split anywhere.
        for chunk in [1, 2, 3, 7, 1000, bytes.len()] {
            let mut guard = guard(3);
            for piece in bytes.chunks(chunk) {
                guard.observe(piece).unwrap();
            }
            assert_eq!(guard.fragments, 0);
        }
    }

    #[test]
    fn too_many_fragments_trip() {
        let mut guard = guard(3);
        guard.observe(b"HEAD\n").unwrap();
        guard.observe(&frame(TEXT, b"{")).unwrap();
        guard.observe(&frame(CONTINUATION, b"")).unwrap();
        guard.observe(&frame(CONTINUATION, b"")).unwrap();
        let error = guard.observe(&frame(CONTINUATION, b"")).unwrap_err();
        assert_eq!(error.max, 3);
        assert!(TooManyFragments::is(&io::Error::other(error)));
    }

    #[test]
    fn the_head_is_skipped_even_if_it_looks_like_frames() {
        let mut guard = FrameGuard::new((), 4, 1);
        // Continuation-like bytes inside the head are not frames.
        guard.observe(&[0x00, 0x80, 0x00, 0x80]).unwrap();
        guard.observe(&frame(FIN | TEXT, b"ok")).unwrap();
    }
}
