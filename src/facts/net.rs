//! Sockets seen in /proc/net/{tcp,tcp6,unix}, joined to their owning processes.

use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};

/// Socket family of an address nginx targets or a process listens on.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum SocketKind {
    Tcp,
    Tcp6,
    Unix,
}

impl SocketKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SocketKind::Tcp => "tcp",
            SocketKind::Tcp6 => "tcp6",
            SocketKind::Unix => "unix",
        }
    }
}

/// A socket in LISTEN state (TCP) or a listening unix socket.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Listener {
    pub kind: SocketKind,
    /// `127.0.0.1:3000`, `[::1]:3000`, `0.0.0.0:80`, or the unix socket path.
    pub address: String,
    /// Port for TCP listeners.
    #[serde(default)]
    pub port: Option<u16>,
    /// Socket inode, the key that joins /proc/net/* to /proc/<pid>/fd.
    pub inode: u64,
    /// Owning process, when /proc/<pid>/fd could be read.
    #[serde(default)]
    pub pid: Option<u32>,
    /// Owning process name (comm), when known.
    #[serde(default)]
    pub process: Option<String>,
    /// What the owning process is (nginx, a non-HTTP daemon), decided from its name when
    /// gathered, so checks never match `process`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<super::ProcessRole>,
    /// TCP: connections completed by the kernel and waiting for the app's accept()
    /// (/proc/net/tcp `rx_queue` of a LISTEN socket). When the app stops accepting, this
    /// grows to backlog + 1 and new connections are dropped (they time out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept_queue: Option<u32>,
}

impl Listener {
    /// The socket address of a TCP listener.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        self.address.parse().ok()
    }

    /// Whether a TCP connection to `target` would reach this listener.
    pub fn accepts(&self, target: &SocketAddr) -> bool {
        let Some(own) = self.socket_addr() else {
            return false;
        };
        if own.port() != target.port() {
            return false;
        }
        match (own.ip(), target.ip()) {
            (a, b) if a == b => true,
            // A wildcard of the same family accepts every local address of that family.
            (IpAddr::V4(a), IpAddr::V4(_)) => a.is_unspecified(),
            (IpAddr::V6(a), IpAddr::V6(_)) => a.is_unspecified(),
            // Linux's default (net.ipv6.bindv6only=0): `[::]` also accepts IPv4.
            (IpAddr::V6(a), IpAddr::V4(_)) => a.is_unspecified(),
            (IpAddr::V4(_), IpAddr::V6(b)) => b
                .to_ipv4_mapped()
                .is_some_and(|m| own.ip() == IpAddr::V4(m) || own.ip().is_unspecified()),
        }
    }
}

/// A unix socket path nginx targets, as seen on the file system.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UnixSocketFile {
    pub path: String,
    pub exists: bool,
    /// "socket", "file", "directory", … when it exists.
    #[serde(default)]
    pub file_type: Option<String>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    /// Octal permission bits, e.g. "0660".
    #[serde(default)]
    pub mode: Option<String>,
    /// Why it could not be examined (e.g. a parent directory is not searchable).
    #[serde(default)]
    pub error: Option<String>,
}
