//! What the desktop shell tells the UI about signaling servers: its own
//! embedded one, the call it hosts on the LAN, and the calls it finds there.

use serde::{Deserialize, Serialize};

/// Where the embedded signaling server can be reached (a browser tab
/// derives the same from its own address).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInfo {
    /// WebSocket URL the UI connects to, e.g. `ws://127.0.0.1:7777/`.
    pub ws_url: String,
    /// The page the server serves for the system browser, e.g. `http://127.0.0.1:7777/`.
    pub page_url: String,
    /// The port it listens on.
    pub port: u16,
}

/// What the host sees while hosting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostingInfo {
    /// The room everyone joins.
    pub room: String,
    /// The LAN listener's port (the one to allow in a firewall).
    pub port: u16,
    /// This computer's addresses joiners can use, most likely first.
    pub addresses: Vec<String>,
    /// `peercall://ADDRESS:PORT/ROOM` for each address.
    pub invite_links: Vec<String>,
    /// Where the host's own page connects (loopback when listening on all
    /// interfaces).
    pub local_ws_url: String,
    /// Whether joiners need the password.
    pub password_required: bool,
    /// The password itself, for the host's own page (this goes only to the
    /// host's UI, never on the network).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Who hosts, as the call is listed (the host's name).
    pub host_name: String,
    /// Whether the mDNS advertisement is up (if not, invite links still work).
    pub advertised: bool,
}

/// A call found on the LAN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LanCall {
    /// The advertisement's unique name.
    pub id: String,
    /// Who hosts it (their computer's name).
    pub host_name: String,
    /// The room.
    pub room: String,
    /// Whether joining needs a password.
    pub password_required: bool,
    /// The host's protocol version.
    pub version: u32,
    /// Whether this app can join it (same protocol version).
    pub compatible: bool,
    /// The server to join, e.g. `ws://192.168.1.20:7778/`.
    pub ws_url: String,
    /// The invite link for it.
    pub invite_link: String,
}
