//! Listening TCP sockets the way `ss -lt` reads them: one NETLINK_SOCK_DIAG (inet_diag)
//! dump per address family, filtered in the kernel to the LISTEN state, so a host with
//! 50,000 established connections costs no more than one with none. /proc/net/tcp is the
//! fallback (gather/listeners.rs) when netlink is not available.
//!
//! The request is built by hand (linux/inet_diag.h, linux/sock_diag.h): an `nlmsghdr`
//! followed by `inet_diag_req_v2`; each answer is an `nlmsghdr` followed by
//! `inet_diag_msg`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::facts::{Listener, SocketKind};

const SOCK_DIAG_BY_FAMILY: u16 = 20;
const TCP_LISTEN: u32 = 10;
const NLMSG_HDR: usize = 16;
/// sizeof(struct inet_diag_req_v2).
const REQ_LEN: usize = 56;
/// sizeof(struct inet_diag_msg).
const MSG_LEN: usize = 72;

/// Every listening TCP socket of the calling thread's network namespace (IPv4 and IPv6).
pub fn tcp_listeners() -> Result<Vec<Listener>, String> {
    let mut out = dump(libc::AF_INET as u8)?;
    // No IPv6 in this kernel or namespace: not an error.
    if let Ok(mut v6) = dump(libc::AF_INET6 as u8) {
        out.append(&mut v6);
    }
    Ok(out)
}

const TCP_ESTABLISHED: u32 = 1;
const TCP_SYN_SENT: u32 = 2;
/// INET_DIAG_REQ_BYTECODE: the filter program attribute after inet_diag_req_v2.
const REQ_BYTECODE: u16 = 1;
/// inet_diag_bc_op codes (linux/inet_diag.h).
const BC_D_GE: u8 = 4;
const BC_D_LE: u8 = 5;

/// A TCP connection that is being opened or is open.
#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    /// "SYN-SENT" or "ESTABLISHED", as `ss` names them.
    pub state: &'static str,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub inode: u64,
}

/// The calling thread's network namespace's TCP connections to remote port `port` that are
/// in SYN-SENT or ESTABLISHED: the kernel filters by state and port (inet_diag bytecode),
/// so the other established connections of a busy host are never copied out.
pub fn connections_to_port(port: u16) -> Result<Vec<Connection>, String> {
    let mask = (1u32 << TCP_SYN_SENT) | (1u32 << TCP_ESTABLISHED);
    let mut out = Vec::new();
    for family in [libc::AF_INET as u8, libc::AF_INET6 as u8] {
        let req = request_with(family, 1, mask, &dport_filter(port));
        let mut msgs = Vec::new();
        match exchange(&req, &mut |m| msgs.push(m.to_vec())) {
            Ok(()) => {}
            Err(e) if family == libc::AF_INET as u8 => return Err(e),
            Err(_) => continue,
        }
        out.extend(msgs.iter().filter_map(|m| connection(m)));
    }
    Ok(out)
}

/// The bytecode "destination port == port": D_GE then D_LE, each an op followed by one
/// holding the port; a failed test jumps past the end (reject), passing both reaches it.
pub fn dport_filter(port: u16) -> Vec<u8> {
    let op = |code: u8, yes: u8, no: u16| {
        let mut v = vec![code, yes];
        v.extend_from_slice(&no.to_ne_bytes());
        v
    };
    let mut b = op(BC_D_GE, 8, 20);
    b.extend(op(0, 0, port));
    b.extend(op(BC_D_LE, 8, 12));
    b.extend(op(0, 0, port));
    b
}

/// inet_diag_msg of a connection; None for other states or short messages.
pub fn connection(m: &[u8]) -> Option<Connection> {
    if m.len() < MSG_LEN {
        return None;
    }
    let state = match u32::from(m[1]) {
        TCP_SYN_SENT => "SYN-SENT",
        TCP_ESTABLISHED => "ESTABLISHED",
        _ => return None,
    };
    let v4 = i32::from(m[0]) == libc::AF_INET;
    let ip = |b: &[u8]| -> Option<IpAddr> {
        Some(if v4 {
            IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
        } else {
            IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(b).ok()?))
        })
    };
    let sport = u16::from_be_bytes([m[4], m[5]]);
    let dport = u16::from_be_bytes([m[6], m[7]]);
    Some(Connection {
        state,
        local: SocketAddr::new(ip(&m[8..24])?, sport),
        remote: SocketAddr::new(ip(&m[24..40])?, dport),
        inode: u64::from(u32::from_ne_bytes(m[68..72].try_into().ok()?)),
    })
}

/// A request with a states mask and, when not empty, a bytecode filter.
fn request_with(family: u8, seq: u32, states: u32, bytecode: &[u8]) -> Vec<u8> {
    let mut b = request(family, seq);
    b[NLMSG_HDR + 4..NLMSG_HDR + 8].copy_from_slice(&states.to_ne_bytes());
    if !bytecode.is_empty() {
        b.extend_from_slice(&((4 + bytecode.len()) as u16).to_ne_bytes());
        b.extend_from_slice(&REQ_BYTECODE.to_ne_bytes());
        b.extend_from_slice(bytecode);
        let len = b.len() as u32;
        b[0..4].copy_from_slice(&len.to_ne_bytes());
    }
    b
}

/// Sends `req` on a NETLINK_SOCK_DIAG socket and hands every inet_diag_msg of the dump
/// to `each`, until NLMSG_DONE.
fn exchange(req: &[u8], each: &mut dyn FnMut(&[u8])) -> Result<(), String> {
    // SAFETY: plain socket(2); the descriptor is owned by `Fd` and closed on drop.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            libc::NETLINK_SOCK_DIAG,
        )
    };
    if fd < 0 {
        return Err(format!(
            "netlink socket: {}",
            std::io::Error::last_os_error()
        ));
    }
    let fd = Fd(fd);
    // SAFETY: sockaddr_nl zeroed then given the family; buffers outlive the calls.
    let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    sa.nl_family = libc::AF_NETLINK as u16;
    let sent = unsafe {
        libc::sendto(
            fd.0,
            req.as_ptr().cast(),
            req.len(),
            0,
            (&sa as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as u32,
        )
    };
    if sent < 0 {
        return Err(format!("netlink send: {}", std::io::Error::last_os_error()));
    }
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        // SAFETY: recv into a buffer we own, bounded by its length.
        let n = unsafe { libc::recv(fd.0, buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(format!("netlink recv: {e}"));
        }
        let mut b = &buf[..n as usize];
        while b.len() >= NLMSG_HDR {
            let len = u32::from_ne_bytes(b[0..4].try_into().unwrap()) as usize;
            let kind = u16::from_ne_bytes(b[4..6].try_into().unwrap());
            if len < NLMSG_HDR || len > b.len() {
                return Err(format!("netlink: bad message length {len}"));
            }
            match i32::from(kind) {
                libc::NLMSG_DONE => return Ok(()),
                libc::NLMSG_ERROR => {
                    let errno = b
                        .get(NLMSG_HDR..NLMSG_HDR + 4)
                        .map(|e| -i32::from_ne_bytes(e.try_into().unwrap()))
                        .unwrap_or(0);
                    return Err(format!(
                        "netlink: {}",
                        std::io::Error::from_raw_os_error(errno)
                    ));
                }
                _ if kind == SOCK_DIAG_BY_FAMILY => each(&b[NLMSG_HDR..len]),
                _ => {}
            }
            let aligned = (len + 3) & !3;
            b = &b[aligned.min(b.len())..];
        }
    }
}

/// The request: header, then inet_diag_req_v2 {family, protocol, ext, pad, states, id}.
fn request(family: u8, seq: u32) -> Vec<u8> {
    let len = (NLMSG_HDR + REQ_LEN) as u32;
    let mut b = Vec::with_capacity(NLMSG_HDR + REQ_LEN);
    b.extend_from_slice(&len.to_ne_bytes());
    b.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    b.extend_from_slice(&((libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16).to_ne_bytes());
    b.extend_from_slice(&seq.to_ne_bytes());
    b.extend_from_slice(&0u32.to_ne_bytes()); // pid: the kernel fills it
    b.push(family);
    b.push(libc::IPPROTO_TCP as u8);
    b.push(0); // idiag_ext
    b.push(0); // pad
    b.extend_from_slice(&(1u32 << TCP_LISTEN).to_ne_bytes());
    b.resize(NLMSG_HDR + REQ_LEN, 0); // inet_diag_sockid: all zero
    b
}

fn dump(family: u8) -> Result<Vec<Listener>, String> {
    // SAFETY: plain socket(2); the descriptor is owned by `Fd` and closed on drop.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            libc::NETLINK_SOCK_DIAG,
        )
    };
    if fd < 0 {
        return Err(format!(
            "netlink socket: {}",
            std::io::Error::last_os_error()
        ));
    }
    let fd = Fd(fd);
    let req = request(family, 1);
    // SAFETY: sockaddr_nl zeroed then given the family; buffers outlive the calls.
    let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    sa.nl_family = libc::AF_NETLINK as u16;
    let sent = unsafe {
        libc::sendto(
            fd.0,
            req.as_ptr().cast(),
            req.len(),
            0,
            (&sa as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as u32,
        )
    };
    if sent < 0 {
        return Err(format!("netlink send: {}", std::io::Error::last_os_error()));
    }
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        // SAFETY: recv into a buffer we own, bounded by its length.
        let n = unsafe { libc::recv(fd.0, buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(format!("netlink recv: {e}"));
        }
        match parse(&buf[..n as usize], &mut out)? {
            true => return Ok(out),
            false => continue,
        }
    }
}

/// Parses one datagram of answers into `out`; true when the dump is done.
pub fn parse(mut b: &[u8], out: &mut Vec<Listener>) -> Result<bool, String> {
    while b.len() >= NLMSG_HDR {
        let len = u32::from_ne_bytes(b[0..4].try_into().unwrap()) as usize;
        let kind = u16::from_ne_bytes(b[4..6].try_into().unwrap());
        if len < NLMSG_HDR || len > b.len() {
            return Err(format!("netlink: bad message length {len}"));
        }
        match i32::from(kind) {
            libc::NLMSG_DONE => return Ok(true),
            libc::NLMSG_ERROR => {
                let errno = b
                    .get(NLMSG_HDR..NLMSG_HDR + 4)
                    .map(|e| -i32::from_ne_bytes(e.try_into().unwrap()))
                    .unwrap_or(0);
                return Err(format!(
                    "netlink: {}",
                    std::io::Error::from_raw_os_error(errno)
                ));
            }
            _ if kind == SOCK_DIAG_BY_FAMILY && len >= NLMSG_HDR + MSG_LEN => {
                if let Some(l) = listener(&b[NLMSG_HDR..NLMSG_HDR + MSG_LEN]) {
                    out.push(l);
                }
            }
            _ => {}
        }
        let aligned = (len + 3) & !3;
        b = &b[aligned.min(b.len())..];
    }
    Ok(false)
}

/// inet_diag_msg: family, state, timer, retrans, sockid {sport(be16) dport(be16) src[16]
/// dst[16] if(u32) cookie[8]}, expires, rqueue, wqueue, uid, inode.
fn listener(m: &[u8]) -> Option<Listener> {
    let family = m[0];
    if u32::from(m[1]) != TCP_LISTEN {
        return None;
    }
    let port = u16::from_be_bytes([m[4], m[5]]);
    let src = &m[8..24];
    let ip = if i32::from(family) == libc::AF_INET {
        IpAddr::V4(Ipv4Addr::new(src[0], src[1], src[2], src[3]))
    } else {
        IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(src).ok()?))
    };
    let rqueue = u32::from_ne_bytes(m[56..60].try_into().ok()?);
    let inode = u32::from_ne_bytes(m[68..72].try_into().ok()?);
    Some(Listener {
        kind: if ip.is_ipv4() {
            SocketKind::Tcp
        } else {
            SocketKind::Tcp6
        },
        address: SocketAddr::new(ip, port).to_string(),
        port: Some(port),
        inode: u64::from(inode),
        pid: None,
        process: None,
        role: None,
        // For a LISTEN socket the kernel reports the accept queue in rqueue.
        accept_queue: Some(rqueue),
    })
}

struct Fd(i32);

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: closing a descriptor this struct owns.
        unsafe {
            libc::close(self.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_own_listeners_of_both_families_and_not_connections() {
        let v4 = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let p4 = v4.local_addr().unwrap().port();
        // An established connection to it must not show up.
        let _c = std::net::TcpStream::connect(("127.0.0.1", p4)).unwrap();
        let v6 = std::net::TcpListener::bind("[::1]:0").ok();
        let all = tcp_listeners().expect("sock_diag works on Linux");
        let mine: Vec<&Listener> = all.iter().filter(|l| l.port == Some(p4)).collect();
        assert_eq!(mine.len(), 1, "{all:?}");
        assert_eq!(mine[0].address, format!("127.0.0.1:{p4}"));
        assert_eq!(
            mine[0].accept_queue,
            Some(1),
            "the unaccepted connection is queued"
        );
        // The inode is the one /proc/self/fd links to.
        let fd_inode = std::fs::metadata(format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(&v4)
        ))
        .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
        .unwrap();
        assert_eq!(mine[0].inode, fd_inode);
        if let Some(v6) = v6 {
            let p6 = v6.local_addr().unwrap().port();
            assert!(all
                .iter()
                .any(|l| l.kind == SocketKind::Tcp6 && l.address == format!("[::1]:{p6}")));
        }
    }

    #[test]
    fn connections_are_filtered_to_the_remote_port_in_the_kernel() {
        let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = server.local_addr().unwrap().port();
        let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let _o = std::net::TcpStream::connect(other.local_addr().unwrap()).unwrap();
        let conns = connections_to_port(port).expect("sock_diag works on Linux");
        // Only ours to `port` (the accepted end has `port` as its local port, not remote).
        assert!(conns.iter().all(|c| c.remote.port() == port), "{conns:?}");
        let mine: Vec<&Connection> = conns
            .iter()
            .filter(|x| x.local == c.local_addr().unwrap())
            .collect();
        assert_eq!(mine.len(), 1, "{conns:?}");
        assert_eq!(mine[0].state, "ESTABLISHED");
        let fd_inode = std::fs::metadata(format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(&c)
        ))
        .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
        .unwrap();
        assert_eq!(mine[0].inode, fd_inode);
    }

    /// An inet_diag_msg laid out as linux/inet_diag.h defines it (SYN-SENT from
    /// 10.213.7.1:41234 to 10.213.7.2:3000, inode 918273).
    #[test]
    fn a_syn_sent_message_laid_out_per_inet_diag_h() {
        let mut m = vec![0u8; MSG_LEN];
        m[0] = libc::AF_INET as u8;
        m[1] = 2;
        m[4..6].copy_from_slice(&41234u16.to_be_bytes());
        m[6..8].copy_from_slice(&3000u16.to_be_bytes());
        m[8..12].copy_from_slice(&[10, 213, 7, 1]);
        m[24..28].copy_from_slice(&[10, 213, 7, 2]);
        m[68..72].copy_from_slice(&918273u32.to_ne_bytes());
        let c = connection(&m).unwrap();
        assert_eq!(c.state, "SYN-SENT");
        assert_eq!(c.remote, "10.213.7.2:3000".parse().unwrap());
        assert_eq!(c.inode, 918273);
        m[1] = 10; // LISTEN
        assert!(connection(&m).is_none());
        assert!(connection(&m[..40]).is_none());
    }

    #[test]
    fn malformed_answers_are_errors_not_panics() {
        let mut out = Vec::new();
        assert!(parse(&[0xff; 20], &mut out).is_err());
        assert_eq!(parse(&[1, 2, 3], &mut out), Ok(false));
        // NLMSG_DONE ends the dump.
        let mut done = (16u32).to_ne_bytes().to_vec();
        done.extend_from_slice(&(libc::NLMSG_DONE as u16).to_ne_bytes());
        done.resize(16, 0);
        assert_eq!(parse(&done, &mut out), Ok(true));
    }
}
