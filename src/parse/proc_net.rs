//! Pure parsers for /proc/net/tcp, /proc/net/tcp6 and /proc/net/unix text → listeners.
//!
//! The TCP tables are parsed by `procfs-core` (the same code that reads them live), so a
//! recorded file and a live read give the same answer. The unix table is parsed here: we
//! need its `Flags` column (`__SO_ACCEPTCON`, 0x10000) to tell a listening socket from a
//! merely bound one, which procfs-core does not expose.

use procfs::net::{TcpNetEntries, TcpState};
use procfs::{ExplicitSystemInfo, FromBufReadSI};

use crate::facts::{Listener, SocketKind};

/// `__SO_ACCEPTCON` in /proc/net/unix's Flags column: the socket is listening.
const SO_ACCEPTCON: u32 = 0x10000;

fn system_info() -> ExplicitSystemInfo {
    ExplicitSystemInfo {
        boot_time_secs: 0,
        ticks_per_second: 100,
        page_size: 4096,
        is_little_endian: cfg!(target_endian = "little"),
    }
}

/// Listening sockets of a /proc/net/tcp or /proc/net/tcp6 table.
pub fn tcp_listeners(text: &[u8], kind: SocketKind) -> Result<Vec<Listener>, String> {
    let entries = TcpNetEntries::from_buf_read(text, &system_info()).map_err(|e| e.to_string())?;
    Ok(entries
        .0
        .into_iter()
        .filter(|e| e.state == TcpState::Listen)
        .map(|e| Listener {
            kind,
            address: e.local_address.to_string(),
            port: Some(e.local_address.port()),
            inode: e.inode,
            pid: None,
            process: None,
            role: None,
            accept_queue: Some(e.rx_queue),
        })
        .collect())
}

/// Listening stream sockets with a path in /proc/net/unix (abstract sockets start with '@').
pub fn unix_listeners(text: &[u8]) -> Vec<Listener> {
    let text = String::from_utf8_lossy(text);
    text.lines()
        .skip(1)
        .filter_map(|line| {
            // Num RefCount Protocol Flags Type St Inode [Path]
            let mut cols = line.split_whitespace();
            let _num = cols.next()?;
            let _refs = cols.next()?;
            let _proto = cols.next()?;
            let flags = u32::from_str_radix(cols.next()?, 16).ok()?;
            let _sock_type = cols.next()?;
            let _state = cols.next()?;
            let inode: u64 = cols.next()?.parse().ok()?;
            // A path may contain spaces: take the rest of the line after the inode column.
            let path = line
                .split_whitespace()
                .skip(7)
                .collect::<Vec<_>>()
                .join(" ");
            (flags & SO_ACCEPTCON != 0 && !path.is_empty()).then_some(Listener {
                kind: SocketKind::Unix,
                address: path,
                port: None,
                inode,
                pid: None,
                process: None,
                role: None,
                accept_queue: None,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TCP: &str = include_str!("../../fixtures/host/proc_net/tcp");
    const TCP6: &str = include_str!("../../fixtures/host/proc_net/tcp6");
    const UNIX: &str = include_str!("../../fixtures/host/proc_net/unix");

    #[test]
    fn tcp_keeps_only_listening_sockets_with_their_addresses() {
        let l = tcp_listeners(TCP.as_bytes(), SocketKind::Tcp).unwrap();
        let addrs: Vec<_> = l.iter().map(|l| l.address.as_str()).collect();
        assert_eq!(addrs, ["127.0.0.1:3001", "0.0.0.0:80"]);
        assert_eq!(l[0].inode, 4_140_283);
        assert_eq!(l[1].port, Some(80));
    }

    #[test]
    fn tcp6_parses_loopback_and_wildcard() {
        let l = tcp_listeners(TCP6.as_bytes(), SocketKind::Tcp6).unwrap();
        let addrs: Vec<_> = l.iter().map(|l| l.address.as_str()).collect();
        assert_eq!(addrs, ["[::1]:3000", "[::]:80"]);
    }

    #[test]
    fn unix_keeps_listening_sockets_with_paths_only() {
        let l = unix_listeners(UNIX.as_bytes());
        let paths: Vec<_> = l.iter().map(|l| l.address.as_str()).collect();
        assert_eq!(paths, ["/run/php/php8.2-fpm.sock", "@/tmp/.X11-unix/X0"]);
        assert_eq!(l[0].inode, 31_337);
    }

    #[test]
    fn garbage_is_an_error_or_empty_never_a_panic() {
        assert!(tcp_listeners(b"header\nnot a table line at all\n", SocketKind::Tcp).is_err());
        assert!(unix_listeners(b"\xff\xfe garbage\n\n0000 zz\n").is_empty());
    }
}
