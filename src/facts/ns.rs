//! Whose view of the host a diagnosis used: nginx's network and mount namespaces compared
//! with badgw's own, the addresses local to nginx's network namespace, and the other
//! network namespaces on this host (containers) that own an upstream address.

use serde::{Deserialize, Serialize};
use std::net::IpAddr;

use super::Listener;

/// One namespace: badgw's own (`"host"`) or the one of a process (`{"pid": 812}`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Ns {
    #[default]
    Host,
    Pid(u32),
}

impl Ns {
    pub fn pid(self) -> Option<u32> {
        match self {
            Ns::Host => None,
            Ns::Pid(p) => Some(p),
        }
    }
}

/// An address (range) assigned to an interface of a network namespace: `127.0.0.0/8`,
/// `10.0.0.5/32`, `::1/128`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct LocalNet {
    pub address: IpAddr,
    pub prefix: u8,
}

impl LocalNet {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.address, ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                let bits = u32::from(self.prefix.min(32));
                let mask = if bits == 0 {
                    0
                } else {
                    u32::MAX << (32 - bits)
                };
                u32::from(a) & mask == u32::from(b) & mask
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                let bits = u32::from(self.prefix.min(128));
                let mask = if bits == 0 {
                    0
                } else {
                    u128::MAX << (128 - bits)
                };
                u128::from(a) & mask == u128::from(b) & mask
            }
            _ => false,
        }
    }
}

/// Another network namespace of this host that owns one of the upstream addresses (a
/// container on a bridge, or the host itself when nginx runs in a container).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PeerNamespace {
    /// Inode of the namespace (`/proc/PID/ns/net`).
    pub inode: u64,
    /// The lowest pid inside it, and its name: what the namespace was read through.
    pub pid: u32,
    #[serde(default)]
    pub process: Option<String>,
    /// The upstream addresses (IPs) that are local there.
    pub addresses: Vec<String>,
    /// Its listening sockets (from /proc/PID/net/tcp, tcp6, unix), owners where visible.
    #[serde(default)]
    pub listeners: Vec<Listener>,
    /// The name under /run/netns (`ip netns add NAME`) of a namespace found there with no
    /// process in it (`pid` is then 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns_name: Option<String>,
}

impl PeerNamespace {
    /// The namespace in words: whose it is.
    pub fn describe(&self) -> String {
        match &self.netns_name {
            Some(n) if self.pid == 0 => {
                format!("the named network namespace {n} (/run/netns/{n}, no process in it)")
            }
            _ => format!(
                "the network namespace of {} (pid {})",
                self.process.as_deref().unwrap_or("?"),
                self.pid
            ),
        }
    }

    /// Where its tables were read, for evidence.
    pub fn tables(&self) -> String {
        match &self.netns_name {
            Some(n) if self.pid == 0 => format!("/run/netns/{n}"),
            _ => format!("/proc/{}/net", self.pid),
        }
    }
}

/// A connection of an nginx worker to an upstream port.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UpstreamConnection {
    /// "SYN-SENT" or "ESTABLISHED".
    pub state: String,
    /// Typed once by the gatherer; serde keeps it the "ip:port" / "[v6]:port" string the
    /// JSON always carried.
    pub remote: std::net::SocketAddr,
    /// The worker holding it.
    pub pid: u32,
}

/// The view a diagnosis used.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct View {
    /// Network namespace the listeners were read in and the probes ran from.
    pub net: Ns,
    /// Mount namespace paths (config, logs, unix sockets, /etc/hosts) were read through.
    pub mnt: Ns,
    /// Whether the direct probes ran inside nginx's network namespace (always true when
    /// that is badgw's own).
    #[serde(default)]
    pub probes_in_nginx_netns: bool,
    /// Addresses assigned to nginx's network namespace; an upstream address outside them
    /// (and outside loopback) is remote: its listeners cannot be read from here.
    #[serde(default)]
    pub local_addresses: Vec<LocalNet>,
    /// Whether `local_addresses` could be read at all.
    #[serde(default)]
    pub local_addresses_known: bool,
    /// Other namespaces of this host that own an upstream address.
    #[serde(default)]
    pub peers: Vec<PeerNamespace>,
    /// What could not be done and what was used instead, in words.
    #[serde(default)]
    pub limits: Vec<String>,
    /// The upstream names of the route as nginx's resolver answers now.
    #[serde(default)]
    pub names: Vec<NameResolution>,
    /// `nameserver` lines of nginx's resolv.conf (for a `resolver` directive).
    #[serde(default)]
    pub nameservers: Vec<String>,
    /// nginx workers' TCP connections in SYN-SENT or ESTABLISHED to the ports of the
    /// route's named upstreams (sock_diag in nginx's network namespace): the addresses
    /// nginx uses now, also before the error log says anything.
    #[serde(default)]
    pub upstream_connections: Vec<UpstreamConnection>,
    /// The container nginx runs in, when it does.
    #[serde(default)]
    pub nginx_container: Option<ContainerInfo>,
    /// Containers meant to serve an upstream (by the process listening there, or by the
    /// Compose service/alias named in the upstream), keyed by the upstream address or name.
    #[serde(default)]
    pub upstream_containers: Vec<(String, ContainerInfo)>,
}

/// A container a process runs in (or that should serve an upstream), as far as it can be
/// told without a daemon: from /proc/PID/cgroup and the runtime's state files, or from the
/// runtime's CLI when it answers within the timeout.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ContainerInfo {
    /// "docker", "podman", "kubernetes" (with `cri` telling containerd/cri-o/docker).
    pub runtime: String,
    /// The full container id.
    pub id: String,
    /// The container's name, e.g. "shop-app-1".
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub compose_project: Option<String>,
    #[serde(default)]
    pub compose_service: Option<String>,
    /// Kubernetes pod UID (from the cgroup path).
    #[serde(default)]
    pub pod_uid: Option<String>,
    #[serde(default)]
    pub restart_count: Option<u64>,
    #[serde(default)]
    pub running: Option<bool>,
    /// Network aliases (Compose service names) it answers to.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Where this came from, e.g. "/proc/4711/cgroup, /var/lib/docker/containers/ID/config.v2.json".
    pub source: String,
}

impl ContainerInfo {
    /// "container shop-app-1 (compose project shop, service app)" and the like.
    pub fn describe(&self) -> String {
        let short = &self.id[..self.id.len().min(12)];
        let mut s = match &self.name {
            Some(n) => format!("{} container {n} ({short})", self.runtime),
            None => format!("{} container {short}", self.runtime),
        };
        if let (Some(p), Some(svc)) = (&self.compose_project, &self.compose_service) {
            s.push_str(&format!(", compose project {p}, service {svc}"));
        }
        if let Some(uid) = &self.pod_uid {
            s.push_str(&format!(", pod {uid}"));
        }
        s
    }
}

/// What one upstream name resolves to now, and through what.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NameResolution {
    pub name: String,
    pub addresses: Vec<String>,
    /// e.g. "nginx's /etc/hosts (/proc/812/root/etc/hosts)", "the system resolver".
    pub source: String,
}

/// Where an upstream IP lives, as seen from nginx's network namespace.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Locality<'a> {
    /// Loopback or an address of nginx's own network namespace.
    Local,
    /// Local to another namespace of this host.
    Peer(&'a PeerNamespace),
    /// Neither: another host (or a namespace badgw could not see).
    Remote,
}

impl View {
    /// Where `ip` lives. Loopback and the wildcard are always nginx's own; without the
    /// namespace's address list nothing else is taken as local.
    pub fn locality(&self, ip: IpAddr) -> Locality<'_> {
        if ip.is_loopback() || ip.is_unspecified() || mapped_loopback(ip) {
            return Locality::Local;
        }
        if self.local_addresses.iter().any(|n| n.contains(ip)) {
            return Locality::Local;
        }
        let text = ip.to_string();
        match self.peers.iter().find(|p| p.addresses.contains(&text)) {
            Some(p) => Locality::Peer(p),
            None => Locality::Remote,
        }
    }

    /// "nginx's network namespace (pid 812)" or "the host's network namespace".
    pub fn describe_net(&self) -> String {
        match self.net {
            Ns::Host => "badgw's own network namespace".into(),
            Ns::Pid(p) => format!("nginx's network namespace (pid {p})"),
        }
    }
}

fn mapped_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        IpAddr::V4(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locality_of_loopback_interface_peer_and_remote() {
        let view = View {
            local_addresses: vec![LocalNet {
                address: "10.213.5.1".parse().unwrap(),
                prefix: 32,
            }],
            local_addresses_known: true,
            peers: vec![PeerNamespace {
                inode: 4026532000,
                pid: 77,
                process: Some("app".into()),
                addresses: vec!["10.213.5.2".into()],
                listeners: vec![],
                netns_name: None,
            }],
            ..Default::default()
        };
        assert_eq!(view.locality("127.0.0.5".parse().unwrap()), Locality::Local);
        assert_eq!(view.locality("::1".parse().unwrap()), Locality::Local);
        assert_eq!(
            view.locality("10.213.5.1".parse().unwrap()),
            Locality::Local
        );
        assert!(matches!(
            view.locality("10.213.5.2".parse().unwrap()),
            Locality::Peer(p) if p.pid == 77
        ));
        assert_eq!(
            view.locality("10.213.5.3".parse().unwrap()),
            Locality::Remote
        );
    }

    #[test]
    fn prefixes_match_by_their_bits() {
        let n = LocalNet {
            address: "127.0.0.0".parse().unwrap(),
            prefix: 8,
        };
        assert!(n.contains("127.9.9.9".parse().unwrap()));
        assert!(!n.contains("128.0.0.1".parse().unwrap()));
        let v6 = LocalNet {
            address: "fd00::2".parse().unwrap(),
            prefix: 128,
        };
        assert!(v6.contains("fd00::2".parse().unwrap()));
        assert!(!v6.contains("fd00::3".parse().unwrap()));
        assert!(!v6.contains("10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn upstream_connection_remote_keeps_its_json_form() {
        for text in ["172.18.0.7:3000", "[fd00::2]:8080"] {
            let json = format!(r#"{{"state":"SYN-SENT","remote":"{text}","pid":7}}"#);
            let c: UpstreamConnection = serde_json::from_str(&json).unwrap();
            assert_eq!(c.remote, text.parse().unwrap());
            assert_eq!(serde_json::to_string(&c).unwrap(), json);
        }
    }
}
