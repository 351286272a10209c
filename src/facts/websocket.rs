//! WebSocket locations of the selected server: how each passes the upgrade to its
//! upstream, what the access log and the error log show for it, and how the upstream
//! answers a direct upgrade request.
//!
//! A WebSocket handshake that nginx forwards without `Upgrade`/`Connection: upgrade` (or
//! over HTTP/1.0 to an app that refuses it) usually fails with the app's own 400/426, not
//! with a 502: the evidence is in the access log and in the app's answer, rarely at
//! `error` level.

use serde::{Deserialize, Serialize};

use super::{SocketKind, SourceRef};

/// Everything gathered about WebSocket locations.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct WebSocketFacts {
    /// Locations of the selected server that receive (or look made to receive) WebSocket
    /// handshakes, in configuration order.
    pub locations: Vec<WsLocation>,
    /// `map $http_upgrade $var { … }` blocks of the http context.
    #[serde(default)]
    pub maps: Vec<UpgradeMap>,
    /// What could not be read (the access log, the error log), said once.
    #[serde(default)]
    pub notes: Vec<String>,
}

/// One `proxy_set_header` line that applies to a location.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct WsHeader {
    pub name: String,
    /// The value when it is a variable, empty, or one of the connection tokens
    /// (`upgrade`, `close`, `keep-alive`); otherwise "…" (values may be secrets).
    pub value: String,
    pub at: SourceRef,
}

/// A WebSocket location and how it passes the upgrade.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct WsLocation {
    /// One of "", "=", "^~", "~", "~*".
    pub modifier: String,
    pub pattern: String,
    pub at: SourceRef,
    /// Why badgw treats it as a WebSocket location ("typical WebSocket path /socket.io/",
    /// "sets proxy_set_header Upgrade", "access log: 3 × 101").
    pub why: Vec<String>,
    /// `proxy_pass` argument and where it is written.
    pub target: String,
    pub pass_at: SourceRef,
    /// Upstream addresses (`127.0.0.1:3000`, `unix:/run/app.sock`) with their kind.
    pub upstreams: Vec<(String, SocketKind)>,
    /// The Host header nginx sends for it (for the probe).
    #[serde(default)]
    pub host_header: Option<String>,
    /// A request path that reaches this location (for the probe).
    #[serde(default)]
    pub probe_path: Option<String>,
    /// Effective `proxy_http_version` ("1.0" by default) and where it is set.
    pub http_version: String,
    #[serde(default)]
    pub http_version_at: Option<SourceRef>,
    /// The `proxy_set_header` lines that apply (nginx inherits them only from the
    /// innermost level that defines any).
    pub headers: Vec<WsHeader>,
    /// "location", "server", "http" or "none": the level the headers above come from.
    pub headers_level: String,
    /// Upgrade/Connection lines of outer levels that do NOT apply because this location
    /// (or a nearer level) defines its own `proxy_set_header` lines.
    #[serde(default)]
    pub shadowed: Vec<WsHeader>,
    /// Effective `proxy_read_timeout`/`proxy_send_timeout`, seconds, and where set.
    pub read_timeout_s: f64,
    #[serde(default)]
    pub read_timeout_at: Option<SourceRef>,
    pub send_timeout_s: f64,
    #[serde(default)]
    pub send_timeout_at: Option<SourceRef>,
    /// What the access log shows for this location, when it could be read.
    #[serde(default)]
    pub access: Option<WsAccess>,
    /// `upstream timed out … while proxying upgraded connection` lines (info level).
    #[serde(default)]
    pub idle_timeouts: Option<WsErrorLines>,
    /// Direct upgrade probes of the upstream (HTTP/1.1, and HTTP/1.0 when nginx sends 1.0).
    #[serde(default)]
    pub probes: Vec<WsProbe>,
}

/// The access log's requests that nginx routed to the location.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct WsAccess {
    pub file: String,
    pub requests: u64,
    /// 101 Switching Protocols: upgrades that worked.
    pub status_101: u64,
    pub status_400: u64,
    pub status_426: u64,
    pub status_502: u64,
    pub status_504: u64,
    /// 101 lines whose `$request_time` is within a second (or 5 %) of `proxy_read_timeout`.
    pub cut_at_read_timeout: u64,
    /// Whether the format logs `$request_time` (without it idle cuts cannot be seen).
    pub has_request_time: bool,
    /// A few failing lines: (1-based line number, status, request without query).
    pub samples: Vec<(u64, u16, String)>,
}

/// Error-log lines about upgraded connections cut by a timeout.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct WsErrorLines {
    pub file: String,
    pub count: u64,
    /// First matching line: (1-based line number, text).
    #[serde(default)]
    pub sample: Option<(u64, String)>,
}

/// One direct upgrade request to the upstream.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct WsProbe {
    pub address: String,
    /// "GET /socket.io/ HTTP/1.1, Upgrade: websocket".
    pub request: String,
    /// "1.1" or "1.0".
    pub http_version: String,
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub status_line: Option<String>,
    /// Connect error, timeout or protocol note.
    #[serde(default)]
    pub error: Option<String>,
}

/// A `map` whose source is the client's Upgrade header.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct UpgradeMap {
    /// "$http_upgrade".
    pub source: String,
    /// "$connection_upgrade".
    pub variable: String,
    /// (key, value) pairs as written; `default` included.
    pub entries: Vec<(String, String)>,
    pub at: SourceRef,
}
