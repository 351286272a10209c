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

use crate::facts::{OsError, ProbePhase, ProbeResult, SocketKind};

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
}

/// Largest response head read; nginx's own proxy_buffer_size limit is far below.
const MAX_HEAD: usize = 256 * 1024;

trait Conn: Read + Write + Send {}
impl<T: Read + Write + Send> Conn for T {}

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
    if !speaks_http {
        // Protocol-aware probes for FastCGI, uwsgi, TLS and gRPC come with the wire checks;
        // the transport alone already tells "nothing listens" from "something listens".
        result.phase = ProbePhase::Done;
        result.note = Some(format!(
            "{} upstream: only the connection was tested",
            req.scheme
        ));
        return result;
    }
    read_response(conn, req, &mut result);
    result
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
        match conn.read(&mut buf) {
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
    use std::net::TcpListener;

    fn req(address: String, kind: SocketKind) -> ProbeRequest {
        ProbeRequest {
            address,
            kind,
            scheme: "http".into(),
            host_header: "shop.example.test".into(),
            uri: "/api/x".into(),
            timeout: Duration::from_millis(800),
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
    fn tls_bytes_are_not_http() {
        let (addr, h) = serve_once(b"\x15\x03\x01\x00\x02\x02\x28");
        let r = probe(&req(addr, SocketKind::Tcp));
        h.join().unwrap();
        assert!(r.note.unwrap().contains("not HTTP (first bytes: 15 03 01"));
    }
}
