//! The direct probe: one request to one upstream address, sent as nginx would send it
//! (HTTP/1.0, `Connection: close`, the Host nginx sends, the rewritten URI), over TCP or a
//! unix socket. Records connect time, time to first byte, the status line and header size,
//! or the exact OS error and the step it happened at. Never follows redirects; only ever
//! contacts addresses taken from the nginx configuration.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::facts::{OsError, ProbePhase, ProbeResult, Route, SocketKind, UpstreamAddr, WsProbe};

/// What to send where.
#[derive(Debug, Clone)]
pub struct ProbeRequest {
    /// `127.0.0.1:3000`, `[::1]:3000` or `unix:/run/app.sock`.
    pub address: String,
    pub kind: SocketKind,
    /// http, https, fastcgi, uwsgi, scgi, grpc, memcached.
    pub scheme: String,
    pub host_header: String,
    pub uri: String,
    pub timeout: Duration,
    /// When the route's group keeps idle connections (`keepalive`), how long to hold one
    /// idle to see when the upstream closes it.
    pub keepalive_budget: Option<Duration>,
}

impl ProbeRequest {
    /// The request nginx sends to `u` for `route`: its scheme, the Host header nginx sets
    /// (`proxy_set_header Host`, else the site) and the URI it passes (the pass URI, else
    /// the request's path); no idle keep-alive hold (the caller decides that).
    pub fn as_nginx_sends(
        route: &Route,
        u: &UpstreamAddr,
        site: &str,
        path: &str,
        timeout: Duration,
    ) -> ProbeRequest {
        ProbeRequest {
            address: u.address.clone(),
            kind: u.kind,
            scheme: route.scheme.clone().unwrap_or_else(|| "http".into()),
            host_header: route
                .settings
                .host_header
                .clone()
                .unwrap_or_else(|| site.to_string()),
            uri: route
                .upstream_uri
                .clone()
                .unwrap_or_else(|| path.to_string()),
            timeout,
            keepalive_budget: None,
        }
    }
}

/// Largest response head read; nginx's own proxy_buffer_size limit is far below.
const MAX_HEAD: usize = 256 * 1024;
/// Largest response body the keep-alive probe reads (and discards) before it holds the
/// connection idle; a longer body is not worth the time: the idle close is not measured.
const MAX_BODY: usize = 64 * 1024;

trait Conn: Read + Write + Send {
    fn set_read_timeout_to(&self, d: Duration) -> std::io::Result<()>;
}

impl Conn for TcpStream {
    fn set_read_timeout_to(&self, d: Duration) -> std::io::Result<()> {
        self.set_read_timeout(Some(d))
    }
}

impl Conn for UnixStream {
    fn set_read_timeout_to(&self, d: Duration) -> std::io::Result<()> {
        self.set_read_timeout(Some(d))
    }
}

/// One read that ends by `deadline` whatever the peer does: the socket's read timeout is
/// the time left, so a peer trickling one byte at a time cannot stretch the probe past
/// it (each read returns, and the next one gets less time).
fn read_by(conn: &mut dyn Conn, buf: &mut [u8], deadline: Instant) -> std::io::Result<usize> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(std::io::Error::from(ErrorKind::TimedOut));
    }
    conn.set_read_timeout_to(left.max(Duration::from_millis(1)))?;
    conn.read(buf)
}

pub fn probe(req: &ProbeRequest) -> ProbeResult {
    let speaks_http = req.scheme == "http";
    let mut result = ProbeResult {
        address: req.address.clone(),
        kind: req.kind,
        request: if speaks_http {
            format!("GET {} HTTP/1.0, Host: {}", req.uri, req.host_header)
        } else {
            format!("{} connect only", req.scheme)
        },
        connected: false,
        connect_ms: None,
        ttfb_ms: None,
        status_line: None,
        status: None,
        header_bytes: None,
        phase: ProbePhase::Connect,
        error: None,
        note: None,
        speaks: None,
        timeout_ms: Some(ms(req.timeout)),
        idle_close_ms: None,
        idle_open_after_ms: None,
    };
    let start = Instant::now();
    let conn = match connect(req) {
        Ok(c) => c,
        Err(e) => {
            result.error = Some(e);
            return result;
        }
    };
    result.connected = true;
    result.connect_ms = Some(ms(start.elapsed()));
    match req.scheme.as_str() {
        "http" => {}
        // nginx would start a TLS handshake: a plain-HTTP answer to a plain request means
        // the handshake fails ("wrong version number").
        "https" | "grpcs" => {
            read_response(conn, req, &mut result);
            result.speaks = Some(
                if result
                    .status_line
                    .as_deref()
                    .is_some_and(|l| l.starts_with("HTTP/"))
                {
                    "http"
                } else {
                    "tls"
                }
                .into(),
            );
            if result.speaks.as_deref() == Some("http") && result.status == Some(400) {
                // nginx ("The plain HTTP request was sent to HTTPS port"), Go and Apache
                // answer a plain request on their TLS port with an HTTP 400: no proof of a
                // plain-HTTP server, so no mismatch is claimed from it.
                result.speaks = Some("unknown".into());
                result.note = Some(
                    "answered the plain probe with 400, as TLS servers do on their HTTPS port"
                        .into(),
                );
                return result;
            }
            if result.speaks.as_deref() == Some("tls") {
                // A TLS server rejecting a plain request is the expected, healthy answer.
                result.error = None;
                result.note = Some("answers like a TLS server (as nginx expects)".into());
                result.status = None;
                result.phase = ProbePhase::Done;
            }
            return result;
        }
        "fastcgi" => {
            fastcgi_get_values(conn, req, &mut result);
            return result;
        }
        other => {
            result.phase = ProbePhase::Done;
            result.note = Some(format!("{other} upstream: only the connection was tested"));
            return result;
        }
    }
    read_response(conn, req, &mut result);
    if let (Some(budget), ProbePhase::Done) = (req.keepalive_budget, result.phase) {
        measure_idle_close(req, budget, &mut result);
    }
    result
}

/// FastCGI `FCGI_GET_VALUES` (type 9, request id 0): a FastCGI server (PHP-FPM) answers
/// with `FCGI_GET_VALUES_RESULT` (type 10); an HTTP server answers "HTTP/1.1 400", which
/// nginx reports as "upstream sent unsupported FastCGI protocol version: 72" ('H').
fn fastcgi_get_values(mut conn: Box<dyn Conn>, req: &ProbeRequest, result: &mut ProbeResult) {
    let mut body = Vec::new();
    for name in ["FCGI_MAX_CONNS", "FCGI_MAX_REQS", "FCGI_MPXS_CONNS"] {
        body.push(name.len() as u8);
        body.push(0);
        body.extend_from_slice(name.as_bytes());
    }
    let mut record = vec![1, 9, 0, 0, 0, body.len() as u8, 0, 0];
    record.extend_from_slice(&body);
    result.request = "FastCGI FCGI_GET_VALUES".into();
    result.phase = ProbePhase::Send;
    let sent = Instant::now();
    if let Err(e) = conn.write_all(&record) {
        result.error = Some(os_error(&e));
        return;
    }
    result.phase = ProbePhase::ReadHeader;
    let mut buf = [0u8; 512];
    match conn.read(&mut buf) {
        Ok(0) => {
            result.speaks = Some("unknown".into());
            result.note =
                Some("the upstream closed the connection without answering FastCGI".into());
        }
        Ok(n) => {
            result.ttfb_ms = Some(ms(sent.elapsed()));
            result.phase = ProbePhase::Done;
            let reply = &buf[..n];
            if reply.starts_with(b"HTTP/") {
                result.speaks = Some("http".into());
                let line = reply.split(|&b| b == b'\n').next().unwrap_or(&[]);
                result.status_line = Some(String::from_utf8_lossy(line).trim_end().to_string());
                result.note = Some("an HTTP server answered the FastCGI request".into());
            } else if reply.len() >= 2 && reply[0] == 1 && reply[1] == 10 {
                result.speaks = Some("fastcgi".into());
                result.note = Some("a FastCGI server answered (FCGI_GET_VALUES_RESULT)".into());
            } else {
                result.speaks = Some("unknown".into());
                let first: Vec<String> = reply.iter().take(8).map(|b| format!("{b:02x}")).collect();
                result.note = Some(format!(
                    "neither FastCGI nor HTTP answered (first bytes: {})",
                    first.join(" ")
                ));
            }
        }
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            result.note = Some(format!("no FastCGI answer within {}", human(req.timeout)));
        }
        Err(e) => result.error = Some(os_error(&e)),
    }
}

/// Sends one HTTP/1.1 keep-alive request on a new connection, reads the whole response,
/// then holds the connection idle to time when the upstream closes it. The request and
/// response together end within the timeout (connect included) and read at most
/// [`MAX_HEAD`] + [`MAX_BODY`] bytes; the idle wait ends within `budget`.
fn measure_idle_close(req: &ProbeRequest, budget: Duration, result: &mut ProbeResult) {
    let deadline = Instant::now() + req.timeout;
    let Ok(mut conn) = connect(req) else { return };
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nConnection: keep-alive\r\nUser-Agent: badgw-probe/{}\r\n\r\n",
        req.uri,
        req.host_header,
        env!("CARGO_PKG_VERSION")
    );
    if conn.write_all(request.as_bytes()).is_err() {
        return;
    }
    // Read the head, then exactly Content-Length bytes of body (counted, not kept).
    let mut head = Vec::new();
    let mut buf = [0u8; 8192];
    let (mut body_seen, body_len) = loop {
        match read_by(conn.as_mut(), &mut buf, deadline) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if let Some(end) = memchr::memmem::find(&head, b"\r\n\r\n") {
            let text = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
            if text.contains("connection: close") || text.starts_with("http/1.0") {
                result.idle_close_ms = Some(0.0);
                return;
            }
            let len = text
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            match len {
                Some(len) if len <= MAX_BODY => break (head.len() - (end + 4), len),
                // Chunked or unknown length: the end of the body cannot be told apart
                // from an idle pause; do not guess. A long body is not worth reading.
                _ => return,
            }
        }
        if head.len() > MAX_HEAD {
            return;
        }
    };
    while body_seen < body_len {
        match read_by(conn.as_mut(), &mut buf, deadline) {
            Ok(0) | Err(_) => return,
            Ok(n) => body_seen += n,
        }
    }
    let idle_since = Instant::now();
    let idle_end = idle_since + budget;
    loop {
        match read_by(conn.as_mut(), &mut buf, idle_end) {
            Ok(0) => {
                result.idle_close_ms = Some(ms(idle_since.elapsed()));
                return;
            }
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                result.idle_open_after_ms = Some(ms(idle_since.elapsed()));
                return;
            }
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                result.idle_close_ms = Some(ms(idle_since.elapsed()));
                return;
            }
            Err(_) => return,
        }
        if idle_since.elapsed() > budget {
            result.idle_open_after_ms = Some(ms(idle_since.elapsed()));
            return;
        }
    }
}

fn connect(req: &ProbeRequest) -> Result<Box<dyn Conn>, OsError> {
    match req.kind {
        SocketKind::Unix => {
            let path = req
                .address
                .strip_prefix("unix:")
                .unwrap_or(&req.address)
                .to_string();
            // A blocking unix connect waits while the listen backlog is full; run it on a
            // thread so the probe still ends at the timeout.
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                let _ = tx.send(UnixStream::connect(&path));
            });
            match rx.recv_timeout(req.timeout) {
                Ok(Ok(s)) => {
                    let _ = s.set_read_timeout(Some(req.timeout));
                    let _ = s.set_write_timeout(Some(req.timeout));
                    Ok(Box::new(s))
                }
                Ok(Err(e)) => Err(os_error(&e)),
                Err(_) => Err(OsError {
                    errno: None,
                    message: format!(
                        "connect did not complete within {} (the listen backlog may be full)",
                        human(req.timeout)
                    ),
                }),
            }
        }
        SocketKind::Tcp | SocketKind::Tcp6 => {
            let addr: SocketAddr = req.address.parse().map_err(|_| OsError {
                errno: None,
                message: format!("not a socket address: {}", req.address),
            })?;
            let s = TcpStream::connect_timeout(&addr, req.timeout).map_err(|e| {
                if e.kind() == ErrorKind::TimedOut {
                    OsError {
                        errno: Some(libc::ETIMEDOUT),
                        message: format!("connect timed out after {}", human(req.timeout)),
                    }
                } else {
                    os_error(&e)
                }
            })?;
            let _ = s.set_read_timeout(Some(req.timeout));
            let _ = s.set_write_timeout(Some(req.timeout));
            let _ = s.set_nodelay(true);
            Ok(Box::new(s))
        }
    }
}

fn read_response(mut conn: Box<dyn Conn>, req: &ProbeRequest, result: &mut ProbeResult) {
    result.phase = ProbePhase::Send;
    let request = format!(
        "GET {} HTTP/1.0\r\nHost: {}\r\nConnection: close\r\nUser-Agent: badgw-probe/{}\r\n\r\n",
        req.uri,
        req.host_header,
        env!("CARGO_PKG_VERSION")
    );
    let sent = Instant::now();
    if let Err(e) = conn.write_all(request.as_bytes()) {
        result.error = Some(os_error(&e));
        return;
    }
    result.phase = ProbePhase::ReadHeader;
    let deadline = sent + req.timeout;
    let mut head = Vec::with_capacity(4096);
    let mut buf = [0u8; 8192];
    loop {
        if Instant::now() >= deadline {
            result.note = Some(format!(
                "no complete response header within {}",
                human(req.timeout)
            ));
            break;
        }
        match read_by(conn.as_mut(), &mut buf, deadline) {
            Ok(0) => {
                result.note = Some(if head.is_empty() {
                    "the upstream closed the connection without sending a response".to_string()
                } else {
                    format!("the upstream closed the connection after {} bytes of an incomplete response header", head.len())
                });
                break;
            }
            Ok(n) => {
                if head.is_empty() {
                    result.ttfb_ms = Some(ms(sent.elapsed()));
                }
                head.extend_from_slice(&buf[..n]);
                if !head.starts_with(b"HTTP/") && head.len() >= 5 {
                    // A TLS record (alert 0x15 or handshake 0x16, version 3.x).
                    let tls = matches!(head[0], 0x15 | 0x16) && head[1] == 0x03;
                    result.speaks = Some(if tls { "tls" } else { "unknown" }.into());
                    let first: Vec<String> =
                        head.iter().take(8).map(|b| format!("{b:02x}")).collect();
                    result.note = Some(format!(
                        "the response is not HTTP (first bytes: {})",
                        first.join(" ")
                    ));
                    break;
                }
                if let Some(end) = memchr::memmem::find(&head, b"\r\n\r\n") {
                    parse_head(&head[..end + 4], result);
                    result.phase = ProbePhase::Done;
                    break;
                }
                if head.len() > MAX_HEAD {
                    result.note = Some(format!("response header larger than {MAX_HEAD} bytes"));
                    result.header_bytes = Some(head.len());
                    break;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                result.note = Some(format!(
                    "no {} within {}",
                    if head.is_empty() {
                        "response"
                    } else {
                        "complete response header"
                    },
                    human(req.timeout)
                ));
                break;
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                result.error = Some(os_error(&e));
                break;
            }
        }
    }
    if result.phase != ProbePhase::Done && result.status_line.is_none() && !head.is_empty() {
        // Keep the first line of whatever came, for evidence.
        let line = head.split(|&b| b == b'\n').next().unwrap_or(&[]);
        result.status_line = Some(
            String::from_utf8_lossy(&line[..line.len().min(120)])
                .trim_end()
                .to_string(),
        );
    }
}

fn parse_head(head: &[u8], result: &mut ProbeResult) {
    result.header_bytes = Some(head.len());
    let mut headers = [httparse::EMPTY_HEADER; 128];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(head) {
        Ok(_) => {
            result.speaks = Some("http".into());
            result.status = resp.code;
            let line_end = memchr::memchr(b'\n', head).unwrap_or(head.len());
            result.status_line = Some(
                String::from_utf8_lossy(&head[..line_end])
                    .trim_end()
                    .to_string(),
            );
        }
        Err(e) => result.note = Some(format!("invalid HTTP response header: {e}")),
    }
}

/// A WebSocket opening handshake (RFC 6455 §4.1) sent straight to an upstream, as a
/// browser sends it through nginx: `GET uri HTTP/1.1` (or 1.0, as nginx sends by default)
/// with `Upgrade: websocket`, `Connection: Upgrade`, a `Sec-WebSocket-Key` and version 13.
/// Records the status the app answers (101 when it speaks WebSocket there) and closes the
/// connection; reads at most 16 KiB of response head, within `timeout`.
pub fn websocket_probe(
    address: &str,
    kind: SocketKind,
    host: &str,
    uri: &str,
    http_version: &str,
    timeout: Duration,
) -> WsProbe {
    let mut out = WsProbe {
        address: address.to_string(),
        request: format!("GET {uri} HTTP/{http_version}, Upgrade: websocket"),
        http_version: http_version.to_string(),
        ..Default::default()
    };
    let req = ProbeRequest {
        address: address.to_string(),
        kind,
        scheme: "http".into(),
        host_header: host.to_string(),
        uri: uri.to_string(),
        timeout,
        keepalive_budget: None,
    };
    let mut conn = match connect(&req) {
        Ok(c) => c,
        Err(e) => {
            out.error = Some(e.message);
            return out;
        }
    };
    let request = format!(
        "GET {uri} HTTP/{http_version}\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: YmFkZ3ctcHJvYmUtMDAwMQ==\r\nSec-WebSocket-Version: 13\r\nUser-Agent: badgw-probe/{}\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    );
    if let Err(e) = conn.write_all(request.as_bytes()) {
        out.error = Some(os_error(&e).message);
        return out;
    }
    let deadline = Instant::now() + timeout;
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while memchr::memmem::find(&head, b"\r\n").is_none() && head.len() < 16 * 1024 {
        if Instant::now() >= deadline {
            out.error = Some(format!("no answer within {}", human(timeout)));
            return out;
        }
        match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                out.error = Some(format!("no answer within {}", human(timeout)));
                return out;
            }
            Err(e) => {
                out.error = Some(os_error(&e).message);
                return out;
            }
        }
    }
    let line = head.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let line = String::from_utf8_lossy(line).trim_end().to_string();
    if head.is_empty() {
        out.error = Some("the upstream closed the connection without answering".into());
    } else if !line.starts_with("HTTP/") {
        out.error = Some("the answer is not HTTP".into());
    } else {
        out.status = line.split_whitespace().nth(1).and_then(|c| c.parse().ok());
        out.status_line = Some(line.chars().take(120).collect());
    }
    out
}

fn os_error(e: &std::io::Error) -> OsError {
    let errno = e.raw_os_error();
    let message = match errno {
        // std appends " (os error N)"; keep the libc text like nginx logs it.
        Some(n) => nix::errno::Errno::from_raw(n).desc().to_string(),
        None => e.to_string(),
    };
    OsError { errno, message }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 10.0).round() / 10.0
}

fn human(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The probe asks what nginx asks: the route's Host header and pass URI when set,
    /// else the site and the request path.
    #[test]
    fn the_probe_request_is_what_nginx_sends() {
        let u = crate::test_support::upstream("127.0.0.1:3000", 1);
        let mut route = Route {
            upstreams: vec![u.clone()],
            ..Default::default()
        };
        let r =
            ProbeRequest::as_nginx_sends(&route, &u, "shop.test", "/api/x", Duration::from_secs(3));
        assert_eq!(
            (r.scheme.as_str(), r.host_header.as_str(), r.uri.as_str()),
            ("http", "shop.test", "/api/x")
        );
        route.scheme = Some("https".into());
        route.settings.host_header = Some("backend.internal".into());
        route.upstream_uri = Some("/v2/x".into());
        let r =
            ProbeRequest::as_nginx_sends(&route, &u, "shop.test", "/api/x", Duration::from_secs(3));
        assert_eq!(
            (r.scheme.as_str(), r.host_header.as_str(), r.uri.as_str()),
            ("https", "backend.internal", "/v2/x")
        );
        assert_eq!(
            (r.address.as_str(), r.keepalive_budget),
            ("127.0.0.1:3000", None)
        );
    }
    use std::net::TcpListener;

    fn req(address: String, kind: SocketKind) -> ProbeRequest {
        ProbeRequest {
            address,
            kind,
            scheme: "http".into(),
            host_header: "shop.example.test".into(),
            uri: "/api/x".into(),
            timeout: Duration::from_millis(800),
            keepalive_budget: None,
        }
    }

    /// Serves one connection with `reply` after reading the request head; returns the
    /// request it received.
    fn serve_once(reply: &'static [u8]) -> (String, std::thread::JoinHandle<String>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let h = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 1024];
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = s.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            s.write_all(reply).unwrap();
            String::from_utf8(got).unwrap()
        });
        (addr, h)
    }

    #[test]
    fn sends_what_nginx_sends_and_reads_the_status() {
        let (addr, h) = serve_once(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        let r = probe(&req(addr, SocketKind::Tcp));
        let sent = h.join().unwrap();
        assert!(
            sent.starts_with("GET /api/x HTTP/1.0\r\nHost: shop.example.test\r\n"),
            "{sent}"
        );
        assert_eq!(r.status, Some(200));
        assert_eq!(r.status_line.as_deref(), Some("HTTP/1.1 200 OK"));
        assert_eq!(r.header_bytes, Some(38));
        assert_eq!(r.phase, ProbePhase::Done);
        assert!(r.ttfb_ms.is_some() && r.connect_ms.is_some());
    }

    #[test]
    fn refused_connection_gives_errno_111() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let r = probe(&req(format!("127.0.0.1:{port}"), SocketKind::Tcp));
        assert!(!r.connected);
        assert_eq!(r.phase, ProbePhase::Connect);
        assert_eq!(r.error.as_ref().and_then(|e| e.errno), Some(111));
    }

    #[test]
    fn close_without_answer_is_noted() {
        let (addr, h) = serve_once(b"");
        let r = probe(&req(addr, SocketKind::Tcp));
        h.join().unwrap();
        assert_eq!(r.phase, ProbePhase::ReadHeader);
        assert!(r.note.unwrap().contains("without sending a response"));
    }

    #[test]
    fn a_black_hole_ends_at_the_timeout() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let start = Instant::now();
        let r = probe(&req(addr, SocketKind::Tcp));
        assert!(start.elapsed() < Duration::from_secs(3));
        assert_eq!(r.phase, ProbePhase::ReadHeader);
        assert!(r.note.unwrap().starts_with("no response within"));
        drop(l);
    }

    #[test]
    fn missing_unix_socket_gives_errno_2() {
        let r = probe(&req(
            "unix:/nonexistent/badgw-test.sock".into(),
            SocketKind::Unix,
        ));
        assert_eq!(r.error.as_ref().and_then(|e| e.errno), Some(2));
        assert_eq!(r.error.unwrap().message, "No such file or directory");
    }

    #[test]
    fn keepalive_idle_close_is_measured() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            for conn in l.incoming().take(2) {
                let mut s = conn.unwrap();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 2048];
                    let _ = s.read(&mut buf);
                    let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
                    // Like Node's server.keepAliveTimeout: close 300 ms after going idle.
                    s.set_read_timeout(Some(Duration::from_millis(300)))
                        .unwrap();
                    let _ = s.read(&mut buf);
                });
            }
        });
        let mut r = req(addr, SocketKind::Tcp);
        r.keepalive_budget = Some(Duration::from_secs(2));
        let p = probe(&r);
        let idle = p.idle_close_ms.expect("measured");
        assert!((250.0..1500.0).contains(&idle), "{idle}");
        assert_eq!(p.speaks.as_deref(), Some("http"));
    }

    #[test]
    fn fastcgi_probe_tells_http_from_fastcgi() {
        // An HTTP server behind fastcgi_pass answers the FastCGI record with a 400.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let t = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 64];
            let n = s.read(&mut buf).unwrap();
            assert_eq!(&buf[..2], &[1, 9], "FCGI_GET_VALUES record");
            assert!(n > 8);
            s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").unwrap();
        });
        let mut r = req(addr, SocketKind::Tcp);
        r.scheme = "fastcgi".into();
        let p = probe(&r);
        t.join().unwrap();
        assert_eq!(p.speaks.as_deref(), Some("http"));
    }

    /// Accepts connections and answers each with `head`, then trickles the body one
    /// byte every 0.5 s (for as long as the client listens).
    fn trickler(head: &'static [u8]) -> String {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            for conn in l.incoming().take(4) {
                let Ok(mut s) = conn else { return };
                std::thread::spawn(move || {
                    let mut buf = [0u8; 2048];
                    let _ = s.read(&mut buf);
                    let _ = s.write_all(head);
                    for _ in 0..200 {
                        std::thread::sleep(Duration::from_millis(500));
                        if s.write_all(b"x").is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    #[test]
    fn a_trickled_keepalive_body_ends_at_the_timeout() {
        let addr = trickler(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
        let mut r = req(addr, SocketKind::Tcp);
        r.keepalive_budget = Some(Duration::from_secs(2));
        let start = Instant::now();
        let p = probe(&r);
        let took = start.elapsed();
        // The main probe stops at the head; the keep-alive request gets 800 ms in all.
        assert!(took < Duration::from_millis(2500), "{took:?}");
        assert_eq!(p.status, Some(200));
        assert!(p.idle_close_ms.is_none() && p.idle_open_after_ms.is_none());
    }

    #[test]
    fn a_trickled_header_ends_at_the_timeout() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 2048];
            let _ = s.read(&mut buf);
            for b in b"HTTP/1.1 200 OK\r\nX-Slow: "
                .iter()
                .chain([b'a'; 400].iter())
            {
                std::thread::sleep(Duration::from_millis(100));
                if s.write_all(&[*b]).is_err() {
                    return;
                }
            }
        });
        let start = Instant::now();
        let p = probe(&req(addr, SocketKind::Tcp));
        let took = start.elapsed();
        assert!(took < Duration::from_millis(1600), "{took:?}");
        assert_ne!(p.phase, ProbePhase::Done);
        assert!(p.note.unwrap().contains("within"));
    }

    #[test]
    fn a_long_keepalive_body_is_not_read() {
        // 512 MiB announced: the keep-alive probe gives up instead of reading it.
        let addr = trickler(b"HTTP/1.1 200 OK\r\nContent-Length: 536870912\r\n\r\n");
        let mut r = req(addr, SocketKind::Tcp);
        r.keepalive_budget = Some(Duration::from_secs(2));
        let start = Instant::now();
        let p = probe(&r);
        assert!(start.elapsed() < Duration::from_millis(1500));
        assert!(p.idle_close_ms.is_none() && p.idle_open_after_ms.is_none());
    }

    #[test]
    fn tls_bytes_are_not_http() {
        let (addr, h) = serve_once(b"\x15\x03\x01\x00\x02\x02\x28");
        let r = probe(&req(addr, SocketKind::Tcp));
        h.join().unwrap();
        assert_eq!(r.speaks.as_deref(), Some("tls"));
        assert!(r.note.unwrap().contains("not HTTP (first bytes: 15 03 01"));
    }
}
