//! A WebSocket echo app for the labs, written on `std` alone: a `TcpListener` on 127.0.0.1
//! that does the RFC 6455 opening handshake (Sec-WebSocket-Accept = base64(SHA-1(key +
//! GUID))) and echoes frames; plus a minimal client that handshakes through nginx.
//!
//! The app answers a plain GET of a `/socket.io/` path with `426 Upgrade Required` (what a
//! `ws`/Socket.IO server answers a request that lost its Upgrade header), any other plain
//! GET with `200 ok`, and — with `refuse_http10` — an upgrade over HTTP/1.0 with `400`, as
//! Python `websockets` and Go servers do. Its command line cannot be set, so heartbeat
//! flags are not exercised here.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// SHA-1 (FIPS 180-4), for the handshake only.
pub fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
    let mut msg = data.to_vec();
    let bits = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bits.to_be_bytes());
    for chunk in msg.chunks(64) {
        let mut w = [0u32; 80];
        for i in 0..16 {
            w[i] = u32::from_be_bytes([
                chunk[4 * i],
                chunk[4 * i + 1],
                chunk[4 * i + 2],
                chunk[4 * i + 3],
            ]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A827999),
                20..=39 => (b ^ c ^ d, 0x6ED9EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1BBCDC),
                _ => (b ^ c ^ d, 0xCA62C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (x, v) in h.iter_mut().zip([a, b, c, d, e]) {
            *x = x.wrapping_add(v);
        }
    }
    let mut out = [0u8; 20];
    for (i, v) in h.iter().enumerate() {
        out[4 * i..4 * i + 4].copy_from_slice(&v.to_be_bytes());
    }
    out
}

pub fn base64(data: &[u8]) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                s.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

pub fn accept_key(key: &str) -> String {
    base64(&sha1(format!("{key}{GUID}").as_bytes()))
}

/// The echo app; stops listening when dropped.
pub struct EchoApp {
    pub port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl EchoApp {
    pub fn start(refuse_http10: bool) -> EchoApp {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind echo app");
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(c) = conn {
                    thread::spawn(move || serve(c, refuse_http10));
                }
            }
        });
        EchoApp {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for EchoApp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn read_head(c: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if c.read(&mut b).ok()? == 0 || head.len() > 16384 {
            return None;
        }
        head.push(b[0]);
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

fn serve(mut c: TcpStream, refuse_http10: bool) {
    let _ = c.set_read_timeout(Some(Duration::from_secs(30)));
    let Some(head) = read_head(&mut c) else {
        return;
    };
    let first = head.lines().next().unwrap_or("");
    let path = first.split_whitespace().nth(1).unwrap_or("/");
    let upgrade = header(&head, "upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
        && header(&head, "connection").is_some_and(|v| v.to_ascii_lowercase().contains("upgrade"));
    let key = header(&head, "sec-websocket-key");
    let reply = |c: &mut TcpStream, status: &str, body: &str| {
        let _ = write!(c, "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
    };
    match (upgrade, key) {
        (true, Some(key)) => {
            if refuse_http10 && first.ends_with("HTTP/1.0") {
                reply(&mut c, "400 Bad Request", "WebSocket needs HTTP/1.1\n");
                return;
            }
            let _ = write!(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n", accept_key(key));
            echo_frames(&mut c);
        }
        _ if path.starts_with("/socket.io/") => {
            reply(&mut c, "426 Upgrade Required", "Upgrade Required\n")
        }
        _ => reply(&mut c, "200 OK", "ok\n"),
    }
}

/// Echoes text/binary frames back unmasked; answers ping with pong; ends on close.
fn echo_frames(c: &mut TcpStream) {
    let _ = c.set_read_timeout(Some(Duration::from_secs(60)));
    loop {
        let Some((op, payload)) = read_frame(c) else {
            return;
        };
        match op {
            0x8 => {
                let _ = c.write_all(&frame(0x8, &payload, None));
                return;
            }
            0x9 => {
                let _ = c.write_all(&frame(0xA, &payload, None));
            }
            _ => {
                let _ = c.write_all(&frame(op, &payload, None));
            }
        }
    }
}

pub fn read_frame(c: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let mut h = [0u8; 2];
    c.read_exact(&mut h).ok()?;
    let op = h[0] & 0x0f;
    let masked = h[1] & 0x80 != 0;
    let mut len = u64::from(h[1] & 0x7f);
    if len == 126 {
        let mut b = [0u8; 2];
        c.read_exact(&mut b).ok()?;
        len = u64::from(u16::from_be_bytes(b));
    } else if len == 127 {
        let mut b = [0u8; 8];
        c.read_exact(&mut b).ok()?;
        len = u64::from_be_bytes(b);
    }
    if len > 1 << 20 {
        return None;
    }
    let mut mask = [0u8; 4];
    if masked {
        c.read_exact(&mut mask).ok()?;
    }
    let mut p = vec![0u8; len as usize];
    c.read_exact(&mut p).ok()?;
    if masked {
        for (i, b) in p.iter_mut().enumerate() {
            *b ^= mask[i % 4];
        }
    }
    Some((op, p))
}

/// One final frame; `mask` for client-to-server frames.
pub fn frame(op: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut f = vec![0x80 | op];
    let m = if mask.is_some() { 0x80 } else { 0 };
    if payload.len() < 126 {
        f.push(m | payload.len() as u8);
    } else {
        f.push(m | 126);
        f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    }
    match mask {
        Some(k) => {
            f.extend_from_slice(&k);
            f.extend(payload.iter().enumerate().map(|(i, b)| b ^ k[i % 4]));
        }
        None => f.extend_from_slice(payload),
    }
    f
}

/// A client handshake to 127.0.0.1:`port` (through nginx): (status, the stream when 101).
pub fn client_handshake(port: u16, host: &str, path: &str) -> (u16, Option<TcpStream>) {
    let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect to nginx");
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let key = base64(b"badgw-lab-key-16");
    write!(c, "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").unwrap();
    let head = read_head(&mut c).unwrap_or_default();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    if status == 101 {
        assert_eq!(
            header(&head, "sec-websocket-accept"),
            Some(accept_key(&key).as_str()),
            "{head}"
        );
        (status, Some(c))
    } else {
        let _ = c.shutdown(Shutdown::Both);
        (status, None)
    }
}

/// Sends a masked text frame and reads the echo.
pub fn echo(c: &mut TcpStream, text: &str) -> Option<String> {
    c.write_all(&frame(0x1, text.as_bytes(), Some([1, 2, 3, 4])))
        .ok()?;
    let (op, p) = read_frame(c)?;
    (op == 0x1).then(|| String::from_utf8_lossy(&p).into_owned())
}

#[test]
fn sha1_and_accept_key_match_rfc6455() {
    // RFC 6455 §1.3's example key and accept value.
    assert_eq!(
        accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
    assert_eq!(base64(&sha1(b"abc")), "qZk+NkcGgWq6PiVxeFDCbJzQ2J0=");
}
