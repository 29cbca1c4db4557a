//! A stream that replays bytes already read before reading on, and reads
//! through a buffer shared by every connection on its thread.
//!
//! The connection handler reads the HTTP request head itself (to route between
//! static files and WebSocket and to check the origin); tungstenite's
//! handshake then needs to read that same head. [`Prefixed`] hands it the
//! bytes again.
//!
//! After that, tungstenite reads in small pieces (its read buffer is kept
//! small, see [`super::Config::websocket_config`]: an idle connection holds
//! it for as long as it is connected). So that a message still takes one
//! read from the socket, a small read goes through the thread's scratch
//! buffer: everything the socket has is read at once, what the caller has
//! room for is handed over, and only the rest is kept, on this stream, until
//! it is read (the way the head is replayed).

use std::cell::RefCell;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

/// Reads asking for less than this go through the scratch buffer.
const SCRATCH_BYTES: usize = 16 * 1024;

thread_local! {
    /// Shared by every connection on the thread: filled and emptied within
    /// one read.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// `inner`, with `prefix` read first.
#[derive(Debug)]
pub(crate) struct Prefixed<S> {
    prefix: Vec<u8>,
    position: usize,
    inner: S,
}

impl<S> Prefixed<S> {
    /// Reads yield `prefix`, then whatever `inner` yields.
    pub(crate) fn new(prefix: Vec<u8>, inner: S) -> Self {
        Self {
            prefix,
            position: 0,
            inner,
        }
    }

    /// The wrapped stream (for lingering closes that bypass the WebSocket).
    pub(crate) fn inner_mut(&mut self) -> &mut S {
        &mut self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.position < this.prefix.len() {
            let rest = &this.prefix[this.position..];
            let n = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..n]);
            this.position += n;
            if this.position == this.prefix.len() {
                // Free the head's buffer: the connection may live for hours.
                this.prefix = Vec::new();
                this.position = 0;
            }
            return Poll::Ready(Ok(()));
        }
        if buf.remaining() >= SCRATCH_BYTES {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        SCRATCH.with(|scratch| {
            // Only a `Prefixed` read inside another's would find it taken;
            // that one reads straight through.
            let Ok(mut scratch) = scratch.try_borrow_mut() else {
                return Pin::new(&mut this.inner).poll_read(cx, buf);
            };
            scratch.resize(SCRATCH_BYTES, 0);
            let mut read = ReadBuf::new(&mut scratch);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
            let read = read.filled();
            let given = read.len().min(buf.remaining());
            buf.put_slice(&read[..given]);
            if given < read.len() {
                this.prefix = read[given..].to_vec();
            }
            Poll::Ready(Ok(()))
        })
    }
}

/// Implements `AsyncWrite` for a wrapper that only looks at what is read:
/// every write goes straight to its `inner` stream.
macro_rules! write_through {
    ($wrapper:ident) => {
        impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for $wrapper<S> {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut self.get_mut().inner).poll_flush(cx)
            }

            fn poll_shutdown(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                self.inner.is_write_vectored()
            }
        }
    };
}
pub(crate) use write_through;

write_through!(Prefixed);

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn replays_then_reads_on() {
        let inner: &[u8] = b" world";
        let mut stream = Prefixed::new(b"hello".to_vec(), inner);
        let mut out = String::new();
        stream.read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "hello world");
    }

    #[tokio::test]
    async fn small_reads_take_one_read_of_the_stream() {
        // One read of the inner stream yields all of it; the rest is kept
        // and handed over in the small pieces asked for.
        let (mut writer, reader) = tokio::io::duplex(64 * 1024);
        let message: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        writer.write_all(&message).await.unwrap();
        drop(writer);
        let mut stream = Prefixed::new(Vec::new(), reader);
        let mut piece = [0u8; 256];
        assert_eq!(stream.read(&mut piece).await.unwrap(), 256);
        assert_eq!(stream.prefix.len(), 1000 - 256, "the rest, kept");
        let mut got = piece.to_vec();
        loop {
            let n = stream.read(&mut piece).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&piece[..n]);
        }
        assert_eq!(got, message);
        assert_eq!(stream.prefix.capacity(), 0, "nothing kept once read");
    }

    #[tokio::test]
    async fn small_reads_of_the_prefix() {
        let inner: &[u8] = b"!";
        let mut stream = Prefixed::new(b"abc".to_vec(), inner);
        let mut byte = [0u8; 2];
        assert_eq!(stream.read(&mut byte).await.unwrap(), 2);
        assert_eq!(&byte, b"ab");
        assert_eq!(stream.read(&mut byte).await.unwrap(), 1);
        assert_eq!(&byte[..1], b"c");
        assert_eq!(stream.read(&mut byte).await.unwrap(), 1);
        assert_eq!(&byte[..1], b"!");
    }
}
