//! Shared helpers: an in-process server on 127.0.0.1:0 and a WebSocket test
//! client whose every receive is bounded in time.
#![allow(dead_code)] // each test binary uses a different subset

pub mod binary;
pub mod redis;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use peercall_signal::protocol::PeerId;
use peercall_signal::server::{self, Config, ServerError};
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// Upper bound for any single expected event.
pub const STEP: Duration = Duration::from_secs(5);

/// How long "nothing arrives" is watched for.
pub const QUIET: Duration = Duration::from_millis(150);

/// A server running in this process.
pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ServerError>>>,
}

impl TestServer {
    /// Starts `config` on a free loopback port.
    pub async fn start(config: Config) -> Self {
        let listener = server::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server::run(listener, config, async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Starts the default configuration.
    pub async fn default_config() -> Self {
        Self::start(Config::default()).await
    }

    /// `ws://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("ws://{}/", self.addr)
    }

    /// Connects a client and reads its welcome.
    pub async fn client(&self) -> Client {
        Client::connect(&self.url()).await
    }

    /// Signals shutdown and waits (bounded) for `run` to return.
    /// A client connected from `local` (any 127.0.0.0/8 address is this
    /// machine), so tests can play several hosts.
    pub async fn client_from(&self, local: &str) -> Client {
        let local: std::net::IpAddr = local.parse().unwrap();
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::new(local, 0)).unwrap();
        let tcp = socket.connect(self.addr).await.unwrap();
        let tcp = tokio_tungstenite::MaybeTlsStream::Plain(tcp);
        let (ws, _) = tokio_tungstenite::client_async(self.url(), tcp)
            .await
            .unwrap();
        Client::from_ws(ws).await
    }

    pub async fn stop(mut self) -> Result<(), ServerError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = self.task.take().unwrap();
        timeout(STEP, task)
            .await
            .expect("run() returns promptly after shutdown")
            .expect("server task did not panic")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

pub type Ws = WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// A connected signaling client.
pub struct Client {
    pub ws: Ws,
    pub id: PeerId,
    pub welcome: Value,
}

impl Client {
    /// Connects and reads the welcome, which must be the first message.
    pub async fn connect(url: &str) -> Self {
        let ws = connect_ws(url, None).await.expect("WebSocket connects");
        Self::from_ws(ws).await
    }

    /// Wraps an already open socket, reading its welcome.
    pub async fn from_ws(ws: Ws) -> Self {
        let mut client = Self {
            ws,
            id: PeerId::from(""),
            welcome: Value::Null,
        };
        let welcome = client.recv().await;
        assert_eq!(
            welcome["type"], "join",
            "first message is the welcome: {welcome}"
        );
        client.id = PeerId::from(welcome["id"].as_str().expect("welcome has an id"));
        client.welcome = welcome;
        client
    }

    pub fn id(&self) -> &str {
        self.id.as_str()
    }

    /// Sends a JSON value as a text frame.
    pub async fn send(&mut self, message: Value) {
        self.send_text(&message.to_string()).await;
    }

    /// Sends raw text.
    pub async fn send_text(&mut self, text: &str) {
        timeout(STEP, self.ws.send(Message::text(text)))
            .await
            .expect("send in time")
            .expect("send succeeds");
    }

    /// The next text message as JSON (pings and pongs skipped).
    pub async fn recv(&mut self) -> Value {
        loop {
            let next = timeout(STEP, self.ws.next())
                .await
                .expect("a message arrives in time");
            match next {
                Some(Ok(Message::Text(text))) => {
                    return serde_json::from_str(&text).expect("server sends JSON")
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("expected a text message, got {other:?}"),
            }
        }
    }

    /// The next message, which must have `"type": kind`.
    pub async fn expect(&mut self, kind: &str) -> Value {
        let message = self.recv().await;
        assert_eq!(message["type"], kind, "unexpected message: {message}");
        message
    }

    /// The next message, which must be an error with `code`; returns it.
    pub async fn expect_error(&mut self, code: &str) -> Value {
        let message = self.expect("error").await;
        assert_eq!(message["code"], code, "unexpected error: {message}");
        assert!(
            message["message"].as_str().is_some_and(|m| !m.is_empty()),
            "errors explain themselves: {message}"
        );
        message
    }

    /// Asserts that no text message arrives for a short while.
    pub async fn expect_silence(&mut self) {
        let deadline = tokio::time::Instant::now() + QUIET;
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return,
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
                Ok(other) => panic!("expected silence, got {other:?}"),
            }
        }
    }

    /// Reads until the server's close frame; returns the text messages seen
    /// before it and the frame.
    pub async fn expect_close(&mut self) -> (Vec<Value>, Option<CloseFrame>) {
        let mut seen = Vec::new();
        loop {
            let next = timeout(STEP, self.ws.next())
                .await
                .expect("the server closes in time");
            match next {
                Some(Ok(Message::Text(text))) => seen.push(serde_json::from_str(&text).unwrap()),
                Some(Ok(Message::Close(frame))) => return (seen, frame),
                Some(Ok(_)) => continue,
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    }

    /// Proves the connection still works: a state-free round trip (an
    /// unknown `to` is answered with an error).
    pub async fn assert_alive(&mut self) {
        self.send(json!({"type":"candidate","to":"nobody-here","candidate":{}}))
            .await;
        self.expect_error("unknown_peer").await;
    }

    /// Joins `room` as `name` and returns the `room_joined` reply.
    pub async fn join(&mut self, room: &str, name: &str) -> Value {
        self.send(json!({"type":"join_room","room":room,"name":name}))
            .await;
        self.expect("room_joined").await
    }
}

/// Opens a WebSocket, optionally with an `Origin` header.
pub async fn connect_ws(
    url: &str,
    origin: Option<&str>,
) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    let mut request = url.into_client_request().unwrap();
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("Origin", HeaderValue::from_str(origin).unwrap());
    }
    timeout(STEP, tokio_tungstenite::connect_async(request))
        .await
        .expect("handshake finishes in time")
        .map(|(ws, _)| ws)
}

/// A raw HTTP exchange: sends `request`, returns the whole response (the
/// server closes after answering).
pub async fn http_exchange<S>(mut stream: S, request: &str) -> (u16, String, Vec<u8>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    timeout(STEP, stream.read_to_end(&mut response))
        .await
        .expect("response in time")
        .expect("response read");
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete head");
    let head = String::from_utf8(response[..split].to_vec()).unwrap();
    let body = response[split + 4..].to_vec();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status code");
    (status, head, body)
}

/// A GET (or other method) for `path` over plain TCP.
pub async fn http_request(addr: SocketAddr, method: &str, path: &str) -> (u16, String, Vec<u8>) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    http_exchange(stream, &request).await
}

/// A scratch directory, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh, empty directory unique to this test process and `name`.
    pub fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!("peercall-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The value of header `name` in a response head, case-insensitively.
pub fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

/// Serves one page (`index.html` = `embedded`) from memory, like the desktop
/// app's assets compiled into its binary.
pub struct Embedded;

impl server::StaticFiles for Embedded {
    fn get(&self, path: &str) -> Option<server::StaticFile> {
        (path == "index.html").then(|| server::StaticFile {
            bytes: std::borrow::Cow::Borrowed(b"embedded"),
            content_type: server::content_type_for_path(path),
        })
    }
}
