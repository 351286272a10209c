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

impl ProbeResult {
    /// The TCP address probed (`127.0.0.1:3000`, `[::1]:3000`); None for a unix socket.
    pub fn socket_addr(&self) -> Option<std::net::SocketAddr> {
        self.address.parse().ok()
    }

    /// Whether the upstream answered the probe the way nginx needs it to for `scheme`
    /// (`proxy_pass http://…` → `http`, `fastcgi_pass` → `fastcgi`, …): a FastCGI server
    /// for a FastCGI pass, a TLS server for an https one, an HTTP answer below 500 for
    /// plain HTTP. Decided from the typed fields the probe recorded, never from its note.
    pub fn answered_as_expected(&self, scheme: Option<&str>) -> bool {
        if self.error.is_some() || self.phase != ProbePhase::Done {
            return false;
        }
        if self.status.is_some_and(|s| s >= 500) {
            return false;
        }
        match scheme.unwrap_or("http") {
            "fastcgi" => self.speaks.as_deref() == Some("fastcgi"),
            "https" | "grpcs" => self.speaks.as_deref() == Some("tls"),
            "http" => self.status.is_some(),
            // uwsgi, scgi, grpc, memcached: only the connection is tested.
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(phase: &str, status: Option<u16>, speaks: Option<&str>) -> ProbeResult {
        serde_json::from_value(serde_json::json!({
            "address": "127.0.0.1:9000", "kind": "tcp", "request": "x", "connected": true,
            "phase": phase, "error": null, "status": status, "speaks": speaks,
        }))
        .unwrap()
    }

    #[test]
    fn a_fastcgi_pool_that_answers_fastcgi_is_healthy() {
        let p = probe("done", None, Some("fastcgi"));
        assert!(p.answered_as_expected(Some("fastcgi")));
        // The same answer is wrong for a proxy_pass: nginx expects HTTP there.
        assert!(!p.answered_as_expected(Some("http")));
    }

    #[test]
    fn an_http_server_behind_fastcgi_pass_is_not_healthy() {
        let p = probe("done", Some(400), Some("http"));
        assert!(!p.answered_as_expected(Some("fastcgi")));
    }

    #[test]
    fn http_needs_a_response_below_500() {
        assert!(probe("done", Some(200), None).answered_as_expected(Some("http")));
        assert!(probe("done", Some(404), None).answered_as_expected(None));
        assert!(!probe("done", Some(503), None).answered_as_expected(Some("http")));
        assert!(!probe("read-header", None, None).answered_as_expected(Some("http")));
    }

    #[test]
    fn https_needs_a_tls_server() {
        assert!(probe("done", None, Some("tls")).answered_as_expected(Some("https")));
        assert!(!probe("done", Some(200), Some("http")).answered_as_expected(Some("https")));
    }
}
