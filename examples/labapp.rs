//! labapp: a tiny, misbehaving-on-purpose HTTP upstream for badgw's real-nginx test lab.
//!
//! `cargo test` builds it (examples are built with the tests); `tests/lab/mod.rs` spawns it.
//! It is a test tool, not an example of good server code: it speaks just enough HTTP/1.x for
//! nginx's proxy module (request head, optional Content-Length body, keep-alive) and then
//! fails in the one precise way `--mode` asks for, so nginx writes the matching error-log line.
//!
//! ```text
//! labapp --name shop --listen 127.0.0.1:8081 [--listen [::1]:8081] [--listen unix:/tmp/x.sock]
//!        [--mode MODE] [--socket-mode 0666]
//! ```
//!
//! Modes: `ok` (200 "ok from NAME", keep-alive), `slow=MS`, `close` (read the request, close
//! without a byte), `reset` (read the request, close with RST via SO_LINGER 0), `status=CODE`,
//! `big-header=BYTES`, `idle-close=MS` (keep-alive, closes a connection idle for MS),
//! `stale-reset=MS` (keep-alive; a request arriving on a connection that was idle for MS or
//! more gets an RST instead of an answer: the app's idle timer firing exactly as nginx
//! reuses the connection, made deterministic),
//! `blackhole` (accept, never answer), `tls-garbage` (answer with a TLS alert record).
//!
//! It prints `READY` on stdout once every listener is bound, then never writes stdout again
//! (the harness may stop reading it). Unix sockets are chmod'ed to `--socket-mode`
//! (default 0666, like PHP-FPM's `listen.mode`) so nginx workers running as `nobody` can
//! connect when the tests run as root. It exits on SIGTERM/SIGKILL (default actions).
//! It must never touch anything but its own listeners and socket files.

use std::io::{self, BufRead, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::exit;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

#[derive(Clone, Copy, Debug)]
enum Mode {
    Ok,
    Slow(u64),
    Close,
    Reset,
    Status(u16),
    BigHeader(usize),
    IdleClose(u64),
    StaleReset(u64),
    Blackhole,
    TlsGarbage,
}

fn parse_mode(s: &str) -> Result<Mode, String> {
    let (key, val) = match s.split_once('=') {
        Some((k, v)) => (k, Some(v)),
        None => (s, None),
    };
    let num = |what: &str| -> Result<u64, String> {
        val.ok_or_else(|| format!("mode {what} needs a value: {what}=N"))?
            .parse::<u64>()
            .map_err(|e| format!("mode {s}: {e}"))
    };
    Ok(match key {
        "ok" => Mode::Ok,
        "slow" => Mode::Slow(num("slow")?),
        "close" => Mode::Close,
        "reset" => Mode::Reset,
        "status" => {
            let code = num("status")?;
            if !(100..=999).contains(&code) {
                return Err(format!("status {code} is not a 3-digit HTTP status"));
            }
            Mode::Status(code as u16)
        }
        "big-header" => Mode::BigHeader(num("big-header")? as usize),
        "idle-close" => Mode::IdleClose(num("idle-close")?),
        "stale-reset" => Mode::StaleReset(num("stale-reset")?),
        "blackhole" => Mode::Blackhole,
        "tls-garbage" => Mode::TlsGarbage,
        other => return Err(format!("unknown mode {other:?}")),
    })
}

struct Config {
    name: String,
    mode: Mode,
}

/// One accepted connection, TCP or unix, so every mode is written once.
enum Conn {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Conn {
    fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Conn::Tcp(s) => s.set_read_timeout(t),
            Conn::Unix(s) => s.set_read_timeout(t),
        }
    }
    fn raw_fd(&self) -> i32 {
        match self {
            Conn::Tcp(s) => s.as_raw_fd(),
            Conn::Unix(s) => s.as_raw_fd(),
        }
    }
    fn is_tcp(&self) -> bool {
        matches!(self, Conn::Tcp(_))
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.read(buf),
            Conn::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.write(buf),
            Conn::Unix(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What we need from a request head to answer it correctly.
struct Request {
    keep_alive: bool,
}

/// Reads one request (head and Content-Length body). `Ok(None)` means the peer closed (or,
/// with a read timeout set, stayed idle) before sending a byte of a new request.
/// The error a non-HTTP first byte gives.
const NOT_HTTP: &str = "not an HTTP request";

fn read_request(conn: &mut io::BufReader<Conn>) -> io::Result<Option<Request>> {
    // Like real HTTP servers, reject bytes that cannot start a request line (a TLS
    // ClientHello, a FastCGI record) at once instead of waiting for a line end.
    match conn.fill_buf() {
        Ok([]) => return Ok(None),
        Ok(buf) if !buf[0].is_ascii_uppercase() => {
            return Err(io::Error::new(io::ErrorKind::InvalidData, NOT_HTTP));
        }
        Ok(_) => {}
        Err(e) if is_timeout(&e) => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut first = Vec::new();
    match conn.read_until(b'\n', &mut first) {
        Ok(0) => return Ok(None),
        Ok(_) => {}
        Err(e) if is_timeout(&e) => return Ok(None),
        Err(e) => return Err(e),
    }
    // HTTP/1.1 defaults to keep-alive, HTTP/1.0 (nginx's default to upstreams) to close.
    let mut keep_alive = first.windows(8).any(|w| w == b"HTTP/1.1");
    let mut content_length: u64 = 0;
    // Bound the head so a broken client cannot make us buffer forever.
    let mut head_bytes = first.len();
    loop {
        let mut line = Vec::new();
        if conn.read_until(b'\n', &mut line)? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "eof in head"));
        }
        head_bytes += line.len();
        if head_bytes > 1 << 20 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "head too big"));
        }
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        let text = String::from_utf8_lossy(&line).to_ascii_lowercase();
        if let Some((k, v)) = text.split_once(':') {
            let v = v.trim();
            match k.trim() {
                "content-length" => content_length = v.parse().unwrap_or(0),
                "connection" if v.contains("close") => keep_alive = false,
                "connection" if v.contains("keep-alive") => keep_alive = true,
                _ => {}
            }
        }
    }
    io::copy(&mut conn.by_ref().take(content_length), &mut io::sink())?;
    Ok(Some(Request { keep_alive }))
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        404 => "Not Found",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

fn respond(
    conn: &mut io::BufReader<Conn>,
    cfg: &Config,
    code: u16,
    extra_header: Option<&str>,
    keep_alive: bool,
) -> io::Result<()> {
    let body = if code == 200 {
        format!("ok from {}", cfg.name)
    } else {
        format!("status {code} from {}", cfg.name)
    };
    let mut head = format!(
        "HTTP/1.1 {code} {}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: {}\r\n",
        reason(code),
        body.len(),
        if keep_alive { "keep-alive" } else { "close" }
    );
    if let Some(h) = extra_header {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    // One write, as real servers tend to: the whole answer usually arrives in one segment.
    head.push_str(&body);
    conn.get_mut().write_all(head.as_bytes())
}

fn serve(conn: Conn, cfg: &Config) -> io::Result<()> {
    let mut conn = io::BufReader::new(conn);
    match cfg.mode {
        Mode::Ok
        | Mode::Slow(_)
        | Mode::Status(_)
        | Mode::BigHeader(_)
        | Mode::IdleClose(_)
        | Mode::StaleReset(_) => {
            if let Mode::IdleClose(ms) = cfg.mode {
                conn.get_ref()
                    .set_read_timeout(Some(Duration::from_millis(ms.max(1))))?;
            }
            let big = match cfg.mode {
                // "X-Big: " + value; the whole header line is BYTES long (without CRLF).
                Mode::BigHeader(n) => Some(format!("X-Big: {}", "a".repeat(n.saturating_sub(7)))),
                _ => None,
            };
            let first = match read_request(&mut conn) {
                Err(e) if e.to_string() == NOT_HTTP => {
                    conn.get_mut().write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?;
                    return Ok(());
                }
                other => other?,
            };
            let mut next = first;
            while let Some(req) = next.take() {
                if let Mode::Slow(ms) = cfg.mode {
                    thread::sleep(Duration::from_millis(ms));
                }
                let code = match cfg.mode {
                    Mode::Status(c) => c,
                    _ => 200,
                };
                respond(&mut conn, cfg, code, big.as_deref(), req.keep_alive)?;
                if !req.keep_alive {
                    break;
                }
                let idle_since = std::time::Instant::now();
                next = read_request(&mut conn)?;
                if let (Mode::StaleReset(ms), Some(_)) = (cfg.mode, &next) {
                    if idle_since.elapsed() >= Duration::from_millis(ms) && conn.get_ref().is_tcp()
                    {
                        set_linger_zero(conn.get_ref().raw_fd())?;
                        return Ok(()); // close() with SO_LINGER {on, 0}: RST
                    }
                }
            }
            Ok(())
        }
        Mode::Close => {
            read_request(&mut conn)?;
            Ok(()) // dropping closes with FIN, before any byte of a response
        }
        Mode::Reset => {
            read_request(&mut conn)?;
            if conn.get_ref().is_tcp() {
                set_linger_zero(conn.get_ref().raw_fd())?;
            }
            Ok(()) // close() with SO_LINGER {on, 0} sends RST
        }
        Mode::Blackhole => {
            // Never answer; keep the connection until the peer gives up.
            io::copy(&mut conn, &mut io::sink())?;
            Ok(())
        }
        Mode::TlsGarbage => {
            read_request(&mut conn)?;
            // A TLS 1.0 alert record: fatal (2), handshake_failure (40) — what a TLS-only
            // server sends to a plain-HTTP client.
            conn.get_mut()
                .write_all(&[0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x28])?;
            Ok(())
        }
    }
}

fn set_linger_zero(fd: i32) -> io::Result<()> {
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: fd is an open socket owned by the caller; the option struct lives for the call.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&l as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

fn bind(spec: &str, socket_mode: u32) -> Result<Listener, String> {
    if let Some(path) = spec.strip_prefix("unix:") {
        // A stale socket file from an earlier run would make bind fail with EADDRINUSE.
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            use std::os::unix::fs::FileTypeExt;
            if meta.file_type().is_socket() {
                let _ = std::fs::remove_file(path);
            }
        }
        let l = UnixListener::bind(path).map_err(|e| format!("bind {spec}: {e}"))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(socket_mode))
            .map_err(|e| format!("chmod {path}: {e}"))?;
        Ok(Listener::Unix(l))
    } else {
        TcpListener::bind(spec)
            .map(Listener::Tcp)
            .map_err(|e| format!("bind {spec}: {e}"))
    }
}

fn usage(msg: &str) -> ! {
    eprintln!("labapp: {msg}");
    eprintln!(
        "usage: labapp --listen ADDR [--listen ADDR]... [--name NAME] [--mode MODE] [--socket-mode OCTAL]"
    );
    exit(2);
}

fn main() {
    let mut listens = Vec::new();
    let mut name = String::from("labapp");
    let mut mode = Mode::Ok;
    let mut socket_mode = 0o666;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{a} needs a value")))
        };
        match a.as_str() {
            "--listen" => listens.push(val()),
            "--name" => name = val(),
            "--mode" => mode = parse_mode(&val()).unwrap_or_else(|e| usage(&e)),
            "--socket-mode" => {
                let v = val();
                socket_mode = u32::from_str_radix(v.trim_start_matches("0o"), 8)
                    .unwrap_or_else(|e| usage(&format!("--socket-mode {v}: {e}")));
            }
            other => usage(&format!("unknown argument {other:?}")),
        }
    }
    if listens.is_empty() {
        usage("at least one --listen is needed");
    }
    let mut bound = Vec::new();
    for spec in &listens {
        match bind(spec, socket_mode) {
            Ok(l) => bound.push(l),
            Err(e) => {
                eprintln!("labapp {name}: {e}");
                exit(1);
            }
        }
    }
    let cfg = Arc::new(Config { name, mode });
    let mut handles = Vec::new();
    for l in bound {
        let cfg = Arc::clone(&cfg);
        handles.push(thread::spawn(move || accept_loop(l, cfg)));
    }
    {
        let stdout = io::stdout();
        let mut out = stdout.lock();
        let _ = writeln!(out, "READY");
        let _ = out.flush();
    }
    for h in handles {
        let _ = h.join();
    }
}

fn accept_loop(l: Listener, cfg: Arc<Config>) {
    loop {
        let conn = match &l {
            Listener::Tcp(l) => l.accept().map(|(s, _)| Conn::Tcp(s)),
            Listener::Unix(l) => l.accept().map(|(s, _)| Conn::Unix(s)),
        };
        match conn {
            Ok(c) => {
                let cfg = Arc::clone(&cfg);
                thread::spawn(move || {
                    // Errors here are the peer's doing (nginx gave up); nothing to report.
                    let _ = serve(c, &cfg);
                });
            }
            // EMFILE and friends: back off instead of spinning.
            Err(_) => thread::sleep(Duration::from_millis(10)),
        }
    }
}
