//! Where to join: invite links (`peercall://HOST:PORT/ROOM`) and server
//! addresses (`ws://…`, `wss://…`) as people paste them. The shell (deep
//! links), the UI (the join form) and the tests parse them with this one
//! module. Serde-free and wasm-safe.

use std::fmt;

use crate::protocol::validate_room_name;
use crate::settings::DEFAULT_PORT;

/// The URL scheme of invite links, registered as the app's deep link.
pub const INVITE_SCHEME: &str = "peercall";

/// A server to join, and the room when the address names one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinTarget {
    /// The signaling server, e.g. `ws://192.168.1.20:7777/`.
    pub server: String,
    /// The room, from an invite link's path or a server URL's `?room=`.
    pub room: Option<String>,
}

/// Why a typed or pasted address can't be joined.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddressError {
    /// Nothing was entered.
    Empty,
    /// Not `ws://`, `wss://` or `peercall://`.
    UnsupportedScheme,
    /// No host name or address after the scheme.
    MissingHost,
    /// The port is not a number from 1 to 65535.
    BadPort,
    /// Spaces or control characters inside the address.
    Whitespace,
    /// The room part is not a valid room name.
    BadRoom,
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "enter an address",
            Self::UnsupportedScheme => "an address starts with ws://, wss:// or peercall://",
            Self::MissingHost => "the address has no host name",
            Self::BadPort => "the port must be a number from 1 to 65535",
            Self::Whitespace => "an address has no spaces",
            Self::BadRoom => "the room in the link is not a valid room name",
        })
    }
}

impl std::error::Error for AddressError {}

/// Parses what someone typed or pasted to reach a server: an invite link
/// `peercall://HOST[:PORT][/ROOM]` (port 7777 by default), or a server URL
/// `ws://HOST[:PORT][/PATH][?room=ROOM]` / `wss://…`.
///
/// ```
/// use peercall_signal::address::parse;
/// let target = parse("peercall://192.168.1.20:7777/sunny-otter-42").unwrap();
/// assert_eq!(target.server, "ws://192.168.1.20:7777/");
/// assert_eq!(target.room.as_deref(), Some("sunny-otter-42"));
/// ```
pub fn parse(input: &str) -> Result<JoinTarget, AddressError> {
    let input = input.trim();
    if input.is_empty() {
        return Err(AddressError::Empty);
    }
    if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(AddressError::Whitespace);
    }
    let (scheme, rest) = input
        .split_once("://")
        .ok_or(AddressError::UnsupportedScheme)?;
    let scheme = scheme.to_ascii_lowercase();
    let (authority, tail) = match rest.find(['/', '?', '#']) {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    let (host, port) = split_host_port(authority)?;
    match scheme.as_str() {
        INVITE_SCHEME => {
            let path = tail.trim_start_matches('/');
            let room = decode_room(path.split(['/', '?', '#']).next().unwrap_or(""))?;
            let port = port.unwrap_or(DEFAULT_PORT);
            Ok(JoinTarget {
                server: format!("ws://{host}:{port}/"),
                room,
            })
        }
        "ws" | "wss" => {
            let (path, query) = match tail.split_once('?') {
                Some((path, query)) => (path, query.split('#').next().unwrap_or("")),
                None => (tail.split('#').next().unwrap_or(""), ""),
            };
            let room = query
                .split('&')
                .find_map(|pair| pair.strip_prefix("room="))
                .map(decode_room)
                .transpose()?
                .flatten();
            let path = if path.is_empty() { "/" } else { path };
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            Ok(JoinTarget {
                server: format!("{scheme}://{host}{port}{path}"),
                room,
            })
        }
        _ => Err(AddressError::UnsupportedScheme),
    }
}

/// The invite link for `room` on a host's LAN listener.
///
/// ```
/// use peercall_signal::address::invite_link;
/// assert_eq!(invite_link("192.168.1.20", 7777, "sunny-otter-42"),
///            "peercall://192.168.1.20:7777/sunny-otter-42");
/// assert_eq!(invite_link("fe80::1", 7777, "a"), "peercall://[fe80::1]:7777/a");
/// ```
pub fn invite_link(host: &str, port: u16, room: &str) -> String {
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    format!("{INVITE_SCHEME}://{host}:{port}/{}", percent_encode(room))
}

/// A room from a link: percent-decoded, `None` when empty, and a valid
/// room name otherwise.
fn decode_room(raw: &str) -> Result<Option<String>, AddressError> {
    let room = percent_decode(raw).ok_or(AddressError::BadRoom)?;
    if room.is_empty() {
        return Ok(None);
    }
    validate_room_name(&room).map_err(|_| AddressError::BadRoom)?;
    Ok(Some(room))
}

/// The link to share for `room` on the server at `ws_url`: a `peercall://`
/// invite for a plain `ws://` server (a LAN host), the server address with
/// `?room=` for `wss://` (which invites can't express). `None` when
/// `ws_url` is not a server address.
///
/// ```
/// use peercall_signal::address::invite_for_server;
/// assert_eq!(invite_for_server("ws://10.0.0.2:7778/", "a").as_deref(),
///            Some("peercall://10.0.0.2:7778/a"));
/// assert_eq!(invite_for_server("wss://call.example.com/", "a").as_deref(),
///            Some("wss://call.example.com/?room=a"));
/// ```
pub fn invite_for_server(ws_url: &str, room: &str) -> Option<String> {
    let (scheme, rest) = ws_url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let (host, port) = split_host_port(authority).ok()?;
    match scheme.to_ascii_lowercase().as_str() {
        "ws" => Some(invite_link(
            host.trim_matches(['[', ']']),
            port.unwrap_or(DEFAULT_PORT),
            room,
        )),
        "wss" => {
            let separator = if ws_url.contains('?') { '&' } else { '?' };
            Some(format!("{ws_url}{separator}room={}", percent_encode(room)))
        }
        _ => None,
    }
}

/// `host[:port]`, with `[v6]` hosts; user-info (`a@host`) is refused as a
/// missing host, since it only ever hides where a link really goes.
fn split_host_port(authority: &str) -> Result<(String, Option<u16>), AddressError> {
    if authority.is_empty() || authority.contains('@') {
        return Err(AddressError::MissingHost);
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (inside, after) = v6.split_once(']').ok_or(AddressError::MissingHost)?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or(AddressError::BadPort)?),
        };
        (format!("[{inside}]"), port)
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host.to_owned(), Some(port)),
            None => (authority.to_owned(), None),
        }
    };
    if host.is_empty() || host == "[]" {
        return Err(AddressError::MissingHost);
    }
    let port = port
        .map(|p| match p.parse::<u16>() {
            Ok(0) | Err(_) => Err(AddressError::BadPort),
            Ok(p) => Ok(p),
        })
        .transpose()?;
    Ok((host.to_ascii_lowercase(), port))
}

/// The UI page's own address: what its query (`?room=…&server=…`) says.
/// The desktop app's open-in-browser action, the invite a browser tab
/// shows, the page at start and the tests all write and read it through
/// this one type.
///
/// ```
/// use peercall_signal::address::PageAddress;
/// let page = PageAddress {
///     room: Some("team room".into()),
///     server: Some("ws://10.0.0.2:7778/".into()),
///     ..PageAddress::default()
/// };
/// assert_eq!(page.to_query(), "room=team%20room&server=ws%3A%2F%2F10.0.0.2%3A7778%2F");
/// assert_eq!(PageAddress::from_query(&format!("?{}", page.to_query())), page);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageAddress {
    /// `room`: the call to open.
    pub room: Option<String>,
    /// `server`: the signaling server, when not the page's own host.
    pub server: Option<String>,
    /// `password`: the room's password, for a call opened elsewhere.
    pub password: Option<String>,
    /// `name`: the name to join with.
    pub name: Option<String>,
    /// `join`: an invite link to open the join screen on.
    pub join: Option<String>,
    /// `page=settings`: open the settings.
    pub settings: bool,
}

impl PageAddress {
    /// The call `room` on the page's own server.
    pub fn room(room: &str) -> Self {
        Self {
            room: Some(room.to_owned()),
            ..Self::default()
        }
    }

    /// The query, without the `?`: every value percent-encoded, empty ones
    /// left out.
    pub fn to_query(&self) -> String {
        let mut pairs = Vec::new();
        let fields = [
            ("room", &self.room),
            ("server", &self.server),
            ("password", &self.password),
            ("name", &self.name),
            ("join", &self.join),
        ];
        for (key, value) in fields {
            if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
                pairs.push(format!("{key}={}", percent_encode(value)));
            }
        }
        if self.settings {
            pairs.push("page=settings".to_owned());
        }
        pairs.join("&")
    }

    /// Reads a query (with or without its `?`), as a browser does: `+` is a
    /// space, `%XX` escapes are decoded, empty and undecodable values and
    /// unknown keys are ignored, the first of a repeated key counts.
    pub fn from_query(query: &str) -> Self {
        let mut page = Self::default();
        for pair in query.trim_start_matches('?').split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let Some(value) = percent_decode(&value.replace('+', " ")).filter(|v| !v.is_empty())
            else {
                continue;
            };
            let slot = match key {
                "room" => &mut page.room,
                "server" => &mut page.server,
                "password" => &mut page.password,
                "name" => &mut page.name,
                "join" => &mut page.join,
                "page" => {
                    page.settings |= value == "settings";
                    continue;
                }
                _ => continue,
            };
            slot.get_or_insert(value);
        }
        page
    }
}

/// The room a pasted link names, if `input` is a link: an invite link's
/// path (`peercall://HOST/ROOM`), a server address's or a page link's
/// `?room=` (`wss://…?room=…`, `http://HOST/?room=…`). `None` when `input`
/// is not a link or names no room.
///
/// ```
/// use peercall_signal::address::room_in_link;
/// assert_eq!(room_in_link("peercall://10.0.0.2/abc-defg-hij").as_deref(), Some("abc-defg-hij"));
/// assert_eq!(room_in_link("http://127.0.0.1:7777/?room=kfd-mwpa-xzt").as_deref(), Some("kfd-mwpa-xzt"));
/// assert_eq!(room_in_link("kfd-mwpa-xzt"), None);
/// ```
pub fn room_in_link(input: &str) -> Option<String> {
    let input = input.trim();
    let (scheme, rest) = input.split_once("://")?;
    match scheme.to_ascii_lowercase().as_str() {
        "http" | "https" => PageAddress::from_query(rest.split_once('?')?.1).room,
        _ => parse(input).ok()?.room,
    }
}

/// Decodes `%XX` escapes; `None` for a malformed escape or non-UTF-8 result.
pub(crate) fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Percent-encodes every byte but the unreserved ones (`A-Z a-z 0-9 - _ . ~`),
/// so the result is safe anywhere in a URL.
pub fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invite_links() {
        let t = parse("peercall://192.168.1.20:7000/abc-defg-hij").unwrap();
        assert_eq!(t.server, "ws://192.168.1.20:7000/");
        assert_eq!(t.room.as_deref(), Some("abc-defg-hij"));
        let t = parse("  PEERCALL://Host.local/x  ").unwrap();
        assert_eq!(t.server, "ws://host.local:7777/");
        assert_eq!(t.room.as_deref(), Some("x"));
        let t = parse("peercall://[fe80::1]:9/").unwrap();
        assert_eq!(t.server, "ws://[fe80::1]:9/");
        assert_eq!(t.room, None);
        let link = invite_link("10.0.0.2", 7777, "a b");
        assert_eq!(parse(&link).unwrap().room.as_deref(), Some("a b"));
    }

    #[test]
    fn server_urls() {
        let t = parse("wss://call.example.com/signal?room=team").unwrap();
        assert_eq!(t.server, "wss://call.example.com/signal");
        assert_eq!(t.room.as_deref(), Some("team"));
        let t = parse("ws://127.0.0.2:7777").unwrap();
        assert_eq!(t.server, "ws://127.0.0.2:7777/");
        assert_eq!(t.room, None);
    }

    #[test]
    fn bad_addresses_say_why() {
        assert_eq!(parse(" "), Err(AddressError::Empty));
        assert_eq!(
            parse("call.example.com"),
            Err(AddressError::UnsupportedScheme)
        );
        assert_eq!(parse("http://a"), Err(AddressError::UnsupportedScheme));
        assert_eq!(parse("ws://"), Err(AddressError::MissingHost));
        assert_eq!(parse("ws://user@evil"), Err(AddressError::MissingHost));
        assert_eq!(parse("ws://a:0/"), Err(AddressError::BadPort));
        assert_eq!(parse("ws://a:99999/"), Err(AddressError::BadPort));
        assert_eq!(parse("ws://a b/"), Err(AddressError::Whitespace));
        assert_eq!(parse("peercall://a/%ZZ"), Err(AddressError::BadRoom));
        assert_eq!(parse("peercall://a/%0A"), Err(AddressError::BadRoom));
    }

    #[test]
    fn page_addresses_round_trip() {
        let page = PageAddress {
            room: Some("a&b=c".into()),
            server: Some("wss://x.example/?room=y".into()),
            password: Some("p w+%".into()),
            name: Some("Bora Kim".into()),
            join: None,
            settings: true,
        };
        let query = page.to_query();
        assert!(!query.contains(' '), "{query}");
        assert_eq!(PageAddress::from_query(&query), page);
        assert_eq!(
            PageAddress::from_query("?name=Bora+Kim&x=1&room=")
                .name
                .as_deref(),
            Some("Bora Kim")
        );
        assert_eq!(
            PageAddress::from_query("room=a&room=b").room.as_deref(),
            Some("a")
        );
        assert_eq!(PageAddress::from_query("room=%ZZ"), PageAddress::default());
        assert_eq!(PageAddress::default().to_query(), "");
    }

    #[test]
    fn rooms_in_links() {
        assert_eq!(
            room_in_link("wss://c.example/s?room=team").as_deref(),
            Some("team")
        );
        assert_eq!(
            room_in_link("https://c.example/?name=x&room=a%20b").as_deref(),
            Some("a b")
        );
        assert_eq!(room_in_link("peercall://host/"), None);
        assert_eq!(room_in_link("http://host/"), None);
        assert_eq!(room_in_link("abc"), None);
    }
}
