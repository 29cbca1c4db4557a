//! The HTTP side of a connection: reading and parsing the request head,
//! the origin check for WebSocket upgrades, and static-file responses.

use std::collections::HashSet;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::static_files::{is_safe_relative_path, StaticFiles};
use super::APP_ORIGINS;
use crate::address::percent_decode;

/// Largest request head accepted. Browsers send well under 2 KiB; cookies
/// for another app on the same host could add some, so leave room.
pub(crate) const MAX_HEAD_BYTES: usize = 8 * 1024;

/// Most headers parsed.
const MAX_HEADERS: usize = 48;

/// Why a request head could not be read.
#[derive(Debug)]
pub(crate) enum HeadError {
    /// The client closed before sending a whole head.
    Closed,
    /// The head exceeded [`MAX_HEAD_BYTES`].
    TooLarge,
    /// The first bytes cannot start an HTTP request (e.g. a TLS hello sent
    /// to the plain port): answered at once instead of waiting for a head
    /// that will never come.
    Malformed,
    /// A socket error.
    Io(io::Error),
}

/// Reads until the end of the request head (`\r\n\r\n`). Returns every byte
/// read, which may run past the head; a WebSocket handshake gets them all
/// replayed.
pub(crate) async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> Result<Vec<u8>, HeadError> {
    // Read straight into the Vec's spare capacity: a stack buffer here would
    // be part of every connection task's future, idle or not.
    let mut buf = Vec::with_capacity(1024);
    loop {
        // Only the new bytes (and 3 before them) can complete the terminator.
        let search_from = buf.len().saturating_sub(3);
        buf.reserve(1024);
        let n = stream.read_buf(&mut buf).await.map_err(HeadError::Io)?;
        if n == 0 {
            return Err(HeadError::Closed);
        }
        if buf[search_from..].windows(4).any(|w| w == b"\r\n\r\n") {
            return Ok(buf);
        }
        if cannot_be_http(&buf) {
            return Err(HeadError::Malformed);
        }
        if buf.len() >= MAX_HEAD_BYTES {
            return Err(HeadError::TooLarge);
        }
    }
}

/// Whether a partial head is already invalid HTTP (a bad method or request
/// line), as opposed to merely incomplete.
fn cannot_be_http(partial: &[u8]) -> bool {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    matches!(
        httparse::Request::new(&mut headers).parse(partial),
        Err(httparse::Error::Token | httparse::Error::Version | httparse::Error::NewLine)
    )
}

/// The parts of a request the server looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    pub(crate) method: String,
    /// The request target as sent (path and query).
    pub(crate) target: String,
    pub(crate) origin: Option<String>,
    /// The `Host` header (at most one is accepted).
    pub(crate) host: Option<String>,
    /// The client a reverse proxy says it forwards: the last address of
    /// `X-Forwarded-For` (the one the nearest proxy added). Used only when
    /// the server is told to trust it (`Config::trust_forwarded_for`).
    pub(crate) forwarded_for: Option<std::net::IpAddr>,
    /// Bytes of the head, up to and including its blank line; what follows
    /// in the buffer is the client's next bytes (WebSocket frames).
    pub(crate) head_len: usize,
    /// `Upgrade: websocket` was requested.
    pub(crate) upgrade_websocket: bool,
    /// `Connection` lists `upgrade`.
    pub(crate) connection_upgrade: bool,
    pub(crate) websocket_version: Option<String>,
    pub(crate) has_websocket_key: bool,
}

/// Parses a complete head as read by [`read_head`]; `None` if malformed.
pub(crate) fn parse_head(buf: &[u8]) -> Option<Request> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let head_len = match request.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        _ => return None,
    };
    let mut parsed = Request {
        method: request.method?.to_owned(),
        target: request.path?.to_owned(),
        origin: None,
        host: None,
        forwarded_for: None,
        head_len,
        upgrade_websocket: false,
        connection_upgrade: false,
        websocket_version: None,
        has_websocket_key: false,
    };
    let has_token = |value: &str, token: &str| {
        value
            .split(',')
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    for header in request.headers.iter() {
        let Ok(value) = std::str::from_utf8(header.value) else {
            continue;
        };
        let value = value.trim();
        let name = header.name;
        if name.eq_ignore_ascii_case("origin") {
            // Two Origin headers is not something a browser sends; refuse to
            // guess which one counts.
            if parsed.origin.is_some() {
                return None;
            }
            parsed.origin = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("x-forwarded-for") {
            parsed.forwarded_for = value
                .rsplit(',')
                .next()
                .and_then(|last| last.trim().parse().ok());
        } else if name.eq_ignore_ascii_case("host") {
            // RFC 9112: a request with two Host headers gets 400.
            if parsed.host.is_some() {
                return None;
            }
            parsed.host = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("upgrade") {
            parsed.upgrade_websocket |= has_token(value, "websocket");
        } else if name.eq_ignore_ascii_case("connection") {
            parsed.connection_upgrade |= has_token(value, "upgrade");
        } else if name.eq_ignore_ascii_case("sec-websocket-version") {
            parsed.websocket_version = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("sec-websocket-key") {
            parsed.has_websocket_key = !value.is_empty();
        }
    }
    Some(parsed)
}

/// Which browser origins may open a WebSocket.
#[derive(Debug, Clone)]
pub(crate) struct OriginPolicy {
    allowed: HashSet<String>,
    any_loopback_port: bool,
    require_origin: bool,
}

/// Host names of a page served on the user's own machine.
const LOOPBACK_HOSTS: [&str; 3] = ["127.0.0.1", "localhost", "[::1]"];

impl OriginPolicy {
    /// The configured origins, plus the app's own and the loopback origins of
    /// this server's port (a page it served itself on loopback), or of any
    /// port with `any_loopback_port`.
    pub(crate) fn new(
        configured: &[String],
        require_origin: bool,
        any_loopback_port: bool,
        local: SocketAddr,
    ) -> Self {
        let port = local.port();
        let mut allowed: HashSet<String> = configured.iter().map(|o| normalize(o)).collect();
        allowed.extend(APP_ORIGINS.iter().map(|o| normalize(o)));
        for scheme in ["http", "https"] {
            for host in LOOPBACK_HOSTS {
                allowed.insert(format!("{scheme}://{host}:{port}"));
            }
        }
        Self {
            allowed,
            any_loopback_port,
            require_origin,
        }
    }

    /// Whether an upgrade with this `Origin` header (or none) is allowed.
    pub(crate) fn allows(&self, origin: Option<&str>) -> bool {
        match origin {
            // Non-browser clients send no Origin; browsers always do.
            None => !self.require_origin,
            Some(origin) => {
                let origin = normalize(origin);
                self.allowed.contains(&origin)
                    || (self.any_loopback_port && is_loopback_origin(&origin))
            }
        }
    }
}

/// `http(s)://` + a loopback host + an optional port, and nothing else.
fn is_loopback_origin(origin: &str) -> bool {
    let Some(rest) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    LOOPBACK_HOSTS.iter().any(|host| {
        rest.strip_prefix(host).is_some_and(|port| {
            port.is_empty()
                || port.strip_prefix(':').is_some_and(|p| {
                    !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit())
                })
        })
    })
}

/// Origins compare ASCII case-insensitively; tolerate a trailing slash in
/// configuration.
fn normalize(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}

/// Maps a request target to the path asked of [`StaticFiles::get`]: strips
/// the query, percent-decodes, maps `/` and `dir/` to `index.html`. `None`
/// when the path is malformed or tries to leave the root.
pub(crate) fn static_path(target: &str) -> Option<String> {
    let path = target.split(['?', '#']).next().unwrap_or_default();
    if !path.starts_with('/') {
        return None;
    }
    let decoded = percent_decode(path)?;
    let mut relative = decoded.trim_start_matches('/').to_owned();
    if relative.is_empty() || relative.ends_with('/') {
        relative.push_str("index.html");
    }
    is_safe_relative_path(&relative).then_some(relative)
}

/// The Content-Security-Policy of every response. The UI is a wasm app
/// loaded by a module script (`boot.js`, so no inline script): scripts from
/// this origin, with WebAssembly compilation (`'wasm-unsafe-eval'`, not
/// `'unsafe-eval'`); its own styles, plus `style` attributes (a meter's
/// width); the QR code as a `data:` image; WebSockets to any signaling
/// server the person picks. Never framed, no plugins, no `<base>`, no forms
/// posting elsewhere.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; \
     script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; style-src-attr 'unsafe-inline'; \
     img-src 'self' data: blob:; \
     media-src 'self' blob: mediastream:; \
     connect-src 'self' ws: wss:; \
     object-src 'none'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// Headers every response carries: the policy above, no MIME sniffing, no
/// framing (also for browsers that predate `frame-ancestors`), and no
/// referrer (an invite link's room must not leak to anyone the page links
/// to).
const SECURITY_HEADERS: &[(&str, &str)] = &[
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
];

/// What to do with a request, decided in one place.
pub(crate) enum Route {
    /// A plain GET/HEAD: the static files (or 404/405).
    Static,
    /// `GET /healthz`: whether the server is up, and its link to Redis.
    Health,
    /// A WebSocket upgrade that tungstenite will accept.
    WebSocket,
    /// Refused, with the answer to send and why (for the log).
    Refuse(Response, &'static str),
}

/// Routes a parsed request: static files, a WebSocket session, or a refusal
/// with a proper HTTP answer — an origin this server doesn't serve, or an
/// upgrade tungstenite would reject, so the client gets a status and a
/// reason rather than a dropped connection.
pub(crate) fn route(request: &Request, origins: &OriginPolicy) -> Route {
    if !request.upgrade_websocket {
        let path = request.target.split('?').next();
        if request.method == "GET" && path == Some("/healthz") {
            return Route::Health;
        }
        return Route::Static;
    }
    if !origins.allows(request.origin.as_deref()) {
        let response = Response::text(403, "Forbidden", "origin not allowed\n");
        return Route::Refuse(response, "origin not allowed");
    }
    if request.method != "GET" {
        let response = Response::text(405, "Method Not Allowed", "WebSocket upgrades use GET\n")
            .header("Allow", "GET");
        return Route::Refuse(response, "not GET");
    }
    if !request.connection_upgrade || !request.has_websocket_key {
        let response = Response::text(400, "Bad Request", "incomplete WebSocket upgrade request\n");
        return Route::Refuse(response, "incomplete upgrade");
    }
    if request.host.as_deref().is_none_or(str::is_empty) {
        // HTTP/1.1 requires it, and a proxy or virtual host routes by it.
        let response = Response::text(400, "Bad Request", "no Host header\n");
        return Route::Refuse(response, "no Host");
    }
    if request.websocket_version.as_deref() != Some("13") {
        let response = Response::text(426, "Upgrade Required", "unsupported WebSocket version\n")
            .header("Sec-WebSocket-Version", "13");
        return Route::Refuse(response, "WebSocket version");
    }
    Route::WebSocket
}

/// A minimal HTTP/1.1 response; always `Connection: close`.
pub(crate) struct Response {
    status: u16,
    reason: &'static str,
    headers: Vec<(&'static str, String)>,
    body: std::borrow::Cow<'static, [u8]>,
    /// HEAD: send the headers (with the body's length) but not the body.
    head_only: bool,
}

impl Response {
    /// A plain-text response.
    pub(crate) fn text(status: u16, reason: &'static str, body: &'static str) -> Self {
        Self {
            status,
            reason,
            headers: vec![("Content-Type", "text/plain; charset=utf-8".to_owned())],
            body: body.as_bytes().into(),
            head_only: false,
        }
    }

    /// A JSON response.
    pub(crate) fn json(status: u16, reason: &'static str, body: String) -> Self {
        Self {
            status,
            reason,
            headers: vec![("Content-Type", "application/json".to_owned())],
            body: body.into_bytes().into(),
            head_only: false,
        }
    }

    /// 400: the request could not be parsed.
    pub(crate) fn bad_request() -> Self {
        Self::text(400, "Bad Request", "bad request\n")
    }

    /// Adds a header.
    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// Writes the response and flushes.
    pub(crate) async fn write_to<S: AsyncWrite + Unpin>(&self, stream: &mut S) -> io::Result<()> {
        let mut head = format!("HTTP/1.1 {} {}\r\n", self.status, self.reason);
        let headers = self.headers.iter().map(|(n, v)| (*n, v.as_str()));
        for (name, value) in headers.chain(SECURITY_HEADERS.iter().copied()) {
            head.push_str(name);
            head.push_str(": ");
            head.push_str(value);
            head.push_str("\r\n");
        }
        head.push_str(&format!(
            "Content-Length: {}\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n",
            self.body.len()
        ));
        stream.write_all(head.as_bytes()).await?;
        if !self.head_only {
            stream.write_all(&self.body).await?;
        }
        stream.flush().await?;
        // Half-close so the client sees the end even if it pipelined more.
        stream.shutdown().await
    }
}

/// The response to a request that is not a WebSocket upgrade.
pub(crate) async fn static_response(
    request: &Request,
    files: Option<&Arc<dyn StaticFiles>>,
) -> Response {
    let head_only = match request.method.as_str() {
        "GET" => false,
        "HEAD" => true,
        _ => {
            return Response::text(405, "Method Not Allowed", "method not allowed\n")
                .header("Allow", "GET, HEAD")
        }
    };
    // A HEAD response never has a body, whatever the status.
    let not_found = || Response {
        head_only,
        ..Response::text(404, "Not Found", "not found\n")
    };
    let (Some(files), Some(path)) = (files, static_path(&request.target)) else {
        return not_found();
    };
    let files = files.clone();
    // `get` may read the disk: keep it off the async worker threads.
    let file = tokio::task::spawn_blocking(move || files.get(&path))
        .await
        .ok()
        .flatten();
    match file {
        Some(file) => Response {
            status: 200,
            reason: "OK",
            headers: vec![("Content-Type", file.content_type)],
            body: file.bytes,
            head_only,
        },
        None => not_found(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_an_upgrade() {
        let head = b"GET /ws?x=1 HTTP/1.1\r\nHost: a\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: abc\r\nSec-WebSocket-Version: 13\r\nOrigin: http://a\r\n\r\n";
        let request = parse_head(head).unwrap();
        assert_eq!(request.method, "GET");
        assert_eq!(request.target, "/ws?x=1");
        assert!(
            request.upgrade_websocket && request.connection_upgrade && request.has_websocket_key
        );
        assert_eq!(request.websocket_version.as_deref(), Some("13"));
        assert_eq!(request.origin.as_deref(), Some("http://a"));
        assert_eq!(request.host.as_deref(), Some("a"));
        assert_eq!(request.head_len, head.len());
        assert!(parse_head(b"garbage\r\n\r\n").is_none());
        assert!(parse_head(b"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n").is_none());
        let early = b"GET / HTTP/1.1\r\n\r\n\x81\x80";
        let request = parse_head(early).unwrap();
        assert_eq!((request.head_len, request.host), (early.len() - 2, None));
        assert!(parse_head(b"GET / HTTP/1.1\r\nOrigin: a\r\nOrigin: b\r\n\r\n").is_none());
    }

    #[test]
    fn routes() {
        let local: SocketAddr = "127.0.0.1:4321".parse().unwrap();
        let origins = OriginPolicy::new(&["https://call.example.com".into()], false, false, local);
        let upgrade = "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
            Sec-WebSocket-Key: abc\r\nSec-WebSocket-Version: 13\r\nOrigin: https://call.example.com\r\n\r\n";
        let status = |head: &str| match route(&parse_head(head.as_bytes()).unwrap(), &origins) {
            Route::Static => 0,
            Route::Health => 1,
            Route::WebSocket => 101,
            Route::Refuse(response, _) => response.status,
        };
        assert_eq!(status("GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
        assert_eq!(status("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"), 1);
        assert_eq!(status("GET /healthz?x HTTP/1.1\r\nHost: a\r\n\r\n"), 1);
        assert_eq!(status(upgrade), 101);
        assert_eq!(
            status(&upgrade.replace("call.example.com", "evil.example")),
            403
        );
        assert_eq!(status(&upgrade.replacen("GET", "POST", 1)), 405);
        assert_eq!(
            status(&upgrade.replace("Sec-WebSocket-Key: abc\r\n", "")),
            400
        );
        assert_eq!(status(&upgrade.replace("Host: a\r\n", "")), 400);
        assert_eq!(status(&upgrade.replace("Version: 13", "Version: 8")), 426);
    }

    #[tokio::test]
    async fn reads_heads() {
        let mut input: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\nextra";
        let head = read_head(&mut input).await.unwrap();
        assert!(head.ends_with(b"extra"));
        let mut short: &[u8] = b"GET / HTTP/1.1\r\n";
        assert!(matches!(
            read_head(&mut short).await,
            Err(HeadError::Closed)
        ));
        let big = vec![b'a'; MAX_HEAD_BYTES + 10];
        assert!(matches!(
            read_head(&mut &big[..]).await,
            Err(HeadError::TooLarge)
        ));
    }

    #[test]
    fn origins() {
        let local: SocketAddr = "127.0.0.1:4321".parse().unwrap();
        let policy = OriginPolicy::new(&["https://Call.Example.com/".into()], false, false, local);
        assert!(policy.allows(None));
        assert!(policy.allows(Some("https://call.example.com")));
        assert!(policy.allows(Some("tauri://localhost")));
        assert!(policy.allows(Some("http://tauri.localhost")));
        assert!(policy.allows(Some("http://127.0.0.1:4321")));
        assert!(policy.allows(Some("https://localhost:4321")));
        assert!(policy.allows(Some("http://[::1]:4321")));
        assert!(!policy.allows(Some("http://127.0.0.1:4322")));
        assert!(!policy.allows(Some("https://evil.example")));
        assert!(!policy.allows(Some("null")));
        let strict = OriginPolicy::new(&[], true, false, local);
        assert!(!strict.allows(None));
        let any_port = OriginPolicy::new(&[], false, true, local);
        assert!(any_port.allows(Some("http://127.0.0.1:4322")));
        assert!(any_port.allows(Some("http://localhost")));
        assert!(any_port.allows(Some("https://[::1]:9")));
        assert!(!any_port.allows(Some("http://127.0.0.1.evil.example")));
        assert!(!any_port.allows(Some("http://localhost:80@evil.example")));
        assert!(!any_port.allows(Some("http://localhost:")));
        assert!(!any_port.allows(Some("https://evil.example")));
    }

    #[test]
    fn static_paths() {
        assert_eq!(static_path("/").as_deref(), Some("index.html"));
        assert_eq!(static_path("/?v=2").as_deref(), Some("index.html"));
        assert_eq!(static_path("/a/").as_deref(), Some("a/index.html"));
        assert_eq!(static_path("/app%20x.js").as_deref(), Some("app x.js"));
        assert_eq!(static_path("/../etc/passwd"), None);
        assert_eq!(static_path("/%2e%2e/etc/passwd"), None);
        assert_eq!(static_path("/a/%2E%2E/%2E%2E/x"), None);
        assert_eq!(static_path("/..%2fx"), None);
        assert_eq!(static_path("/a%5c..%5cb"), None);
        assert_eq!(static_path("/%zz"), None);
        assert_eq!(static_path("/%ff"), None);
        assert_eq!(static_path("http://x/"), None);
        assert_eq!(static_path("//etc/passwd").as_deref(), Some("etc/passwd"));
    }
}
