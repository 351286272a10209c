//! Direct probes of upstream addresses, the way nginx would talk to them.

use serde::{Deserialize, Serialize};

use super::SocketKind;

/// The OS error a probe step ended with, e.g. errno 111 "Connection refused".
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OsError {
    #[serde(default)]
    pub errno: Option<i32>,
    pub message: String,
}

/// Where a probe stopped.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ProbePhase {
    Connect,
    Send,
    ReadHeader,
    Done,
}

/// Result of one direct request to one upstream address.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProbeResult {
    /// `127.0.0.1:3000`, `[::1]:3000` or `unix:/run/app.sock`.
    pub address: String,
    pub kind: SocketKind,
    /// The request line and Host sent, e.g. "GET /api/ HTTP/1.0, Host: shop.example.test".
    pub request: String,
    /// Whether the TCP/unix connection was established.
    pub connected: bool,
    #[serde(default)]
    pub connect_ms: Option<f64>,
    /// Time from sending the request to the first response byte.
    #[serde(default)]
    pub ttfb_ms: Option<f64>,
    /// The status line, e.g. "HTTP/1.1 200 OK".
    #[serde(default)]
    pub status_line: Option<String>,
    #[serde(default)]
    pub status: Option<u16>,
    /// Size of the response head (status line and headers) in bytes.
    #[serde(default)]
    pub header_bytes: Option<usize>,
    /// The step the probe ended at: `done` when a full response head was read.
    pub phase: ProbePhase,
    /// The exact OS error, when a step failed.
    #[serde(default)]
    pub error: Option<OsError>,
    /// A timeout or protocol observation, e.g. "no response within 3s",
    /// "response is not HTTP (first bytes 15 03 01)".
    #[serde(default)]
    pub note: Option<String>,
    /// What the upstream was seen to speak: "http", "tls", "fastcgi", or "unknown".
    #[serde(default)]
    pub speaks: Option<String>,
    /// The probe's own timeout, in ms (a response slower than this was not seen).
    #[serde(default)]
    pub timeout_ms: Option<f64>,
    /// Keep-alive: after a complete HTTP/1.1 response, how long the upstream kept the
    /// idle connection open before closing it; None when not measured.
    #[serde(default)]
    pub idle_close_ms: Option<f64>,
    /// Keep-alive: the idle connection was still open when the measurement stopped.
    #[serde(default)]
    pub idle_open_after_ms: Option<f64>,
}
