//! A stub resolver that asks the DNS servers of nginx's own `resolv.conf`, from inside
//! nginx's network namespace: what nginx's getaddrinfo() got when it loaded its
//! configuration, not what badgw's resolver says.
//!
//! Hand-built wire format (RFC 1035 §4): one A and one AAAA question per name, over UDP,
//! answers read for their A/AAAA records only. It is some 100 lines; a DNS crate would
//! bring a full message model (and, for hickory, an async runtime) for two record types.
//! Only the servers named by nginx's resolv.conf (or its `resolver` directive) are ever
//! asked, each bounded by the timeout.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

const TYPE_A: u16 = 1;
const TYPE_AAAA: u16 = 28;

/// What one server said about one name.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The name exists; its addresses (possibly none of these types).
    Addresses(Vec<IpAddr>),
    /// NXDOMAIN: the name does not exist (try the next search candidate).
    NoSuchName,
}

/// The DNS query for `name` of type `qtype` with id `id`, recursion desired.
pub fn build_query(id: u16, name: &str, qtype: u16) -> Result<Vec<u8>, String> {
    let mut q = Vec::with_capacity(name.len() + 18);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.trim_end_matches('.').split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(format!("{name}: not a valid DNS name"));
        }
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes());
    Ok(q)
}

/// Offset just past the (possibly compressed) name at `pos`.
fn skip_name(m: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        let len = *m.get(pos)? as usize;
        match len {
            0 => return Some(pos + 1),
            l if l & 0xc0 == 0xc0 => return Some(pos + 2),
            l => pos += 1 + l,
        }
    }
}

fn u16_at(m: &[u8], pos: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*m.get(pos)?, *m.get(pos + 1)?]))
}

/// The id of a response and its answer, or None for a message that is not a well-formed
/// response (ignored, as a stub resolver does).
pub fn parse_response(m: &[u8]) -> Option<(u16, Result<Answer, String>)> {
    let id = u16_at(m, 0)?;
    let flags = u16_at(m, 2)?;
    if flags & 0x8000 == 0 {
        return None;
    }
    match flags & 0x000f {
        0 => {}
        3 => return Some((id, Ok(Answer::NoSuchName))),
        rcode => return Some((id, Err(format!("the server answered rcode {rcode}")))),
    }
    let (qd, an) = (u16_at(m, 4)?, u16_at(m, 6)?);
    let mut pos = 12;
    for _ in 0..qd {
        pos = skip_name(m, pos)? + 4;
    }
    let mut out = Vec::new();
    for _ in 0..an {
        pos = skip_name(m, pos)?;
        let rtype = u16_at(m, pos)?;
        let rdlen = u16_at(m, pos + 8)? as usize;
        let data = m.get(pos + 10..pos + 10 + rdlen)?;
        match (rtype, rdlen) {
            (TYPE_A, 4) => out.push(IpAddr::V4(Ipv4Addr::new(
                data[0], data[1], data[2], data[3],
            ))),
            (TYPE_AAAA, 16) => {
                let b: [u8; 16] = data.try_into().ok()?;
                out.push(IpAddr::V6(Ipv6Addr::from(b)));
            }
            _ => {}
        }
        pos += 10 + rdlen;
    }
    Some((id, Ok(Answer::Addresses(out))))
}

/// Asks `server` for the A and AAAA records of `name` (both questions at once, as glibc
/// does), waiting at most `timeout` in all.
pub fn ask(server: SocketAddr, name: &str, timeout: Duration) -> Result<Answer, String> {
    let bind: SocketAddr = match server {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let sock = UdpSocket::bind(bind).map_err(|e| format!("udp socket: {e}"))?;
    sock.connect(server).map_err(|e| format!("{server}: {e}"))?;
    let id = query_id();
    let ids = [id, id.wrapping_add(1)];
    for (qid, qtype) in ids.iter().zip([TYPE_A, TYPE_AAAA]) {
        sock.send(&build_query(*qid, name, qtype)?)
            .map_err(|e| format!("{server}: {e}"))?;
    }
    let end = Instant::now() + timeout;
    let mut got: [Option<Answer>; 2] = [None, None];
    let mut buf = [0u8; 4096];
    while got.iter().any(Option::is_none) {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        sock.set_read_timeout(Some(left)).ok();
        let n = match sock.recv(&mut buf) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                break
            }
            Err(e) => return Err(format!("{server}: {e}")),
        };
        let Some((rid, answer)) = parse_response(&buf[..n]) else {
            continue;
        };
        if let Some(i) = ids.iter().position(|&x| x == rid) {
            got[i] = Some(answer?);
        }
    }
    match got {
        [Some(Answer::NoSuchName), _] | [None, Some(Answer::NoSuchName)] => Ok(Answer::NoSuchName),
        [None, None] => Err(format!("{server}: no answer within {timeout:?}")),
        [a, b] => {
            let mut out = Vec::new();
            for x in [a, b].into_iter().flatten() {
                if let Answer::Addresses(v) = x {
                    out.extend(v);
                }
            }
            Ok(Answer::Addresses(out))
        }
    }
}

/// A query id that differs between runs and queries (not a secret: the server is local
/// to nginx's namespace, and answers are matched on id and source).
fn query_id() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    (t as u16 ^ std::process::id() as u16).wrapping_add(NEXT.fetch_add(2, Ordering::Relaxed))
}

/// What a resolv.conf says: servers, search domains, ndots.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResolvConf {
    pub nameservers: Vec<IpAddr>,
    pub search: Vec<String>,
    pub ndots: usize,
}

/// Parses resolv.conf as glibc does (the last `search`/`domain` wins; at most 3 servers).
pub fn parse_resolv_conf(text: &str) -> ResolvConf {
    let mut rc = ResolvConf {
        ndots: 1,
        ..Default::default()
    };
    for line in text.lines() {
        let line = line.split(['#', ';']).next().unwrap_or("");
        let mut w = line.split_whitespace();
        match w.next() {
            Some("nameserver") => {
                if let Some(ip) = w.next().and_then(|a| a.parse().ok()) {
                    if rc.nameservers.len() < 3 {
                        rc.nameservers.push(ip);
                    }
                }
            }
            Some("search") | Some("domain") => rc.search = w.map(str::to_string).collect(),
            Some("options") => {
                for o in w {
                    if let Some(n) = o.strip_prefix("ndots:").and_then(|n| n.parse().ok()) {
                        rc.ndots = n;
                    }
                }
            }
            _ => {}
        }
    }
    rc
}

/// The names glibc tries for `name`, in order: with fewer than `ndots` dots the search
/// domains come first, else the name as written first.
pub fn candidates(rc: &ResolvConf, name: &str) -> Vec<String> {
    if name.ends_with('.') {
        return vec![name.trim_end_matches('.').to_string()];
    }
    let searched = rc.search.iter().map(|d| format!("{name}.{d}"));
    if name.matches('.').count() >= rc.ndots {
        std::iter::once(name.to_string()).chain(searched).collect()
    } else {
        searched.chain(std::iter::once(name.to_string())).collect()
    }
}

/// The hosts sources of an nsswitch.conf, restricted to the two badgw follows (`files`,
/// `dns`), in order; both when the file says nothing.
pub fn hosts_order(nsswitch: Option<&str>) -> Vec<&'static str> {
    let line = nsswitch.and_then(|t| {
        t.lines()
            .map(|l| l.split('#').next().unwrap_or("").trim())
            .find_map(|l| l.strip_prefix("hosts:"))
    });
    let Some(line) = line else {
        return vec!["files", "dns"];
    };
    let order: Vec<&'static str> = line
        .split_whitespace()
        .filter_map(|s| match s {
            "files" => Some("files"),
            "dns" => Some("dns"),
            _ => None,
        })
        .collect();
    if order.is_empty() {
        vec!["files", "dns"]
    } else {
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A response as a recursive server sends it: a CNAME then an A record, both with
    /// compressed names (recorded shape of `dig app.example.test` against dnsmasq).
    fn response(id: u16) -> Vec<u8> {
        let mut m = build_query(id, "app.example.test", TYPE_A).unwrap();
        m[2] = 0x81;
        m[3] = 0x80;
        m[7] = 2; // two answers
                  // app.example.test CNAME web.example.test (compressed: "web" + pointer to "example")
        m.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 30, 0, 6, 3, b'w', b'e', b'b']);
        m.extend_from_slice(&[0xc0, 16]);
        // web.example.test A 10.213.9.3 (pointer to the CNAME's rdata at offset 46)
        m.extend_from_slice(&[0xc0, 46, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 10, 213, 9, 3]);
        m
    }

    #[test]
    fn query_wire_format() {
        let q = build_query(0x1234, "app.x.", TYPE_AAAA).unwrap();
        assert_eq!(
            q,
            [
                0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'a', b'p', b'p', 1, b'x', 0, 0, 28,
                0, 1
            ]
        );
        assert!(build_query(1, "a..b", TYPE_A).is_err());
    }

    #[test]
    fn answers_past_a_cname_with_compressed_names() {
        let (id, a) = parse_response(&response(7)).unwrap();
        assert_eq!(id, 7);
        assert_eq!(
            a.unwrap(),
            Answer::Addresses(vec!["10.213.9.3".parse().unwrap()])
        );
    }

    #[test]
    fn nxdomain_errors_and_truncated_messages() {
        let mut m = response(9);
        m[3] = 0x83;
        assert_eq!(parse_response(&m).unwrap().1.unwrap(), Answer::NoSuchName);
        m[3] = 0x82;
        assert!(parse_response(&m).unwrap().1.is_err());
        let m = response(9);
        assert!(parse_response(&m[..m.len() - 3]).is_none());
        assert!(parse_response(&build_query(1, "x", TYPE_A).unwrap()).is_none());
    }

    #[test]
    fn resolv_conf_search_and_candidates() {
        let rc = parse_resolv_conf(
            "nameserver 127.0.0.11\nsearch corp.test svc.test\noptions ndots:2 edns0\nnameserver ::1 # v6\n",
        );
        assert_eq!(rc.nameservers.len(), 2);
        assert_eq!(rc.ndots, 2);
        assert_eq!(
            candidates(&rc, "app"),
            ["app.corp.test", "app.svc.test", "app"]
        );
        assert_eq!(candidates(&rc, "a.b.c")[0], "a.b.c");
        assert_eq!(candidates(&rc, "app."), ["app"]);
    }

    #[test]
    fn nsswitch_order_keeps_files_and_dns() {
        assert_eq!(
            hosts_order(Some(
                "passwd: files\nhosts: dns [NOTFOUND=return] files myhostname\n"
            )),
            ["dns", "files"]
        );
        assert_eq!(hosts_order(Some("hosts: files mdns4_minimal")), ["files"]);
        assert_eq!(hosts_order(None), ["files", "dns"]);
    }

    #[test]
    fn a_server_on_loopback_is_asked_and_answers() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            for _ in 0..2 {
                let (n, from) = server.recv_from(&mut buf).unwrap();
                let id = u16::from_be_bytes([buf[0], buf[1]]);
                let qtype = u16::from_be_bytes([buf[n - 4], buf[n - 3]]);
                let mut r = buf[..n].to_vec();
                r[2] = 0x81;
                r[3] = 0x80;
                if qtype == TYPE_A {
                    r[7] = 1;
                    r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 10, 213, 9, 7]);
                }
                let _ = id;
                server.send_to(&r, from).unwrap();
            }
        });
        let a = ask(addr, "app.test", Duration::from_secs(5)).unwrap();
        t.join().unwrap();
        assert_eq!(a, Answer::Addresses(vec!["10.213.9.7".parse().unwrap()]));
    }
}
