//! A minimal WebSocket client for load generation: the handshake by hand,
//! frames pre-serialized and pre-masked once per message (a fixed mask key:
//! servers unmask whatever key comes), and received frames read off a
//! buffered socket without parsing their JSON. Cheap enough that the load
//! generator, which shares the machine's cores with the server, stays off
//! the server's back; the same client drives both servers.

use std::io;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// The Origin every bench client sends: the demo server's allow-list
/// (`http://localhost:2000`), which peercall-signal accepts as a loopback
/// page origin.
pub const ORIGIN: &str = "http://localhost:2000";

const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// One client connection.
pub struct RawWs {
    io: BufReader<TcpStream>,
    payload: Vec<u8>,
}

/// A client text frame for `text`, masked: send it as often as wanted.
pub fn text_frame(text: &str) -> Vec<u8> {
    frame(0x1, text.as_bytes())
}

fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    out.push(0x80 | opcode);
    match payload.len() {
        len @ 0..=125 => out.push(0x80 | len as u8),
        len @ 126..=0xffff => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&MASK);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
    out
}

fn broken(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

impl RawWs {
    /// Connects to `ws://ADDR/` (`url`), completes the handshake and reads
    /// the welcome; returns the client and the id the welcome gave it.
    pub async fn connect(url: &str) -> io::Result<(Self, String)> {
        let addr = url
            .strip_prefix("ws://")
            .and_then(|rest| rest.split('/').next())
            .ok_or_else(|| broken("not a ws:// URL"))?;
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let mut ws = Self {
            io: BufReader::with_capacity(4096, stream),
            payload: Vec::with_capacity(1024),
        };
        let request = format!(
            "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             Origin: {ORIGIN}\r\n\r\n"
        );
        ws.io.get_mut().write_all(request.as_bytes()).await?;
        let mut line = String::new();
        ws.io.read_line(&mut line).await?;
        if !line.starts_with("HTTP/1.1 101") {
            return Err(broken(&format!("handshake refused: {}", line.trim())));
        }
        loop {
            line.clear();
            if ws.io.read_line(&mut line).await? == 0 {
                return Err(broken("closed during the handshake"));
            }
            if line == "\r\n" {
                break;
            }
        }
        let welcome: serde_json::Value = serde_json::from_slice(ws.recv_text().await?)
            .map_err(|_| broken("welcome is not JSON"))?;
        let id = welcome["id"]
            .as_str()
            .ok_or_else(|| broken("welcome without an id"))?
            .to_owned();
        Ok((ws, id))
    }

    /// Writes a frame made by [`text_frame`].
    pub async fn send(&mut self, frame: &[u8]) -> io::Result<()> {
        self.io.get_mut().write_all(frame).await
    }

    /// The next text message's bytes; pings are answered, pongs skipped, a
    /// close is an error.
    pub async fn recv_text(&mut self) -> io::Result<&[u8]> {
        loop {
            let mut head = [0u8; 2];
            self.io.read_exact(&mut head).await?;
            let len = match head[1] & 0x7f {
                126 => u64::from(self.io.read_u16().await?),
                127 => self.io.read_u64().await?,
                len => u64::from(len),
            };
            if head[1] & 0x80 != 0 || head[0] & 0x80 == 0 {
                return Err(broken("masked or fragmented frame from the server"));
            }
            let len = usize::try_from(len).map_err(|_| broken("frame too large"))?;
            self.payload.resize(len, 0);
            self.io.read_exact(&mut self.payload).await?;
            match head[0] & 0x0f {
                0x1 => return Ok(&self.payload),
                0x9 => {
                    let pong = frame(0xa, &self.payload);
                    self.io.get_mut().write_all(&pong).await?;
                }
                0xa => {}
                0x8 => return Err(io::Error::new(io::ErrorKind::ConnectionAborted, "closed")),
                _ => return Err(broken("unexpected frame")),
            }
        }
    }
}
