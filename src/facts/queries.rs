//! Questions checks ask of a snapshot: the selected route and its upstreams, which
//! listener table says whether something listens at an address, the probe of an address,
//! the container or PHP-FPM pool meant to serve it. Pure views of the facts: nothing here
//! touches the host or builds text for a report.

use std::net::SocketAddr;

use super::*;

/// Where a TCP upstream address lives, seen from nginx's network namespace.
pub enum Reach<'a> {
    /// nginx's own namespace (loopback or one of its interfaces): these are its listeners.
    Local(&'a [Listener]),
    /// Another namespace of this host (a container): its listeners.
    Peer(&'a PeerNamespace),
    /// Another host, or a namespace badgw could not see: no listener table says anything.
    Remote,
    /// The listener tables were not readable.
    Unknown,
}

/// TCP listeners a connection to `target` would reach.
pub fn accepting<'a>(listeners: &'a [Listener], target: &SocketAddr) -> Vec<&'a Listener> {
    listeners
        .iter()
        .filter(|l| l.kind != SocketKind::Unix && l.accepts(target))
        .collect()
}

impl Facts {
    /// The route, or the reason there is none (a check is then skipped).
    pub fn route(&self) -> Result<&Route, String> {
        let nginx = self.nginx.get()?;
        match &nginx.route {
            Some(r) => Ok(r),
            None => Err(format!(
                "no route for {}{}: {}",
                self.request.site,
                self.request.path,
                nginx
                    .route_error
                    .as_deref()
                    .unwrap_or("no server block selected")
            )),
        }
    }

    /// Upstream addresses nginx actually uses (not marked `down`), or a skip reason.
    pub fn active_upstreams(&self) -> Result<Vec<&UpstreamAddr>, String> {
        let r = self.route()?;
        if r.upstreams.is_empty() {
            return Err(match (&r.dynamic, &r.directive) {
                (Some(d), _) => format!("the upstream is chosen at run time ({d})"),
                (None, None) => {
                    "the location serves the request itself (no *_pass directive)".into()
                }
                (None, Some(d)) => format!("{d} names no address badgw can resolve"),
            });
        }
        Ok(r.upstreams
            .iter()
            .filter(|u| !u.params.iter().any(|p| p == "down"))
            .collect())
    }

    /// The listener table that decides whether something listens at `target`, if any.
    /// Without a recorded view (older snapshots), only loopback and wildcard addresses are
    /// taken as local.
    pub fn reach(&self, target: &SocketAddr) -> Reach<'_> {
        let Some(listeners) = self.listeners.value() else {
            return Reach::Unknown;
        };
        static NO_VIEW: View = View {
            net: Ns::Host,
            mnt: Ns::Host,
            probes_in_nginx_netns: true,
            local_addresses: Vec::new(),
            local_addresses_known: false,
            peers: Vec::new(),
            limits: Vec::new(),
            names: Vec::new(),
            nameservers: Vec::new(),
            upstream_connections: Vec::new(),
            nginx_container: None,
            upstream_containers: Vec::new(),
        };
        let locality = self.view.value().unwrap_or(&NO_VIEW).locality(target.ip());
        match locality {
            Locality::Local => Reach::Local(listeners),
            Locality::Peer(p) => Reach::Peer(p),
            Locality::Remote => Reach::Remote,
        }
    }

    /// The listeners of the namespace `target` is local to, or None when it is remote (or
    /// the tables are unreadable): then nothing may be concluded from listeners.
    pub fn listeners_at(&self, target: &SocketAddr) -> Option<&[Listener]> {
        match self.reach(target) {
            Reach::Local(l) => Some(l),
            Reach::Peer(p) => Some(&p.listeners),
            Reach::Remote | Reach::Unknown => None,
        }
    }

    /// The container meant to serve `u`: by its IP (a peer namespace's container) or by the
    /// host name it is written with (a Compose service or alias).
    pub fn container_for(&self, u: &UpstreamAddr) -> Option<&ContainerInfo> {
        let view = self.view.value()?;
        let ip = u.socket_addr().map(|a| a.ip().to_string());
        view.upstream_containers
            .iter()
            .find(|(k, _)| Some(k) == ip.as_ref() || Some(k.as_str()) == u.host.as_deref())
            .map(|(_, c)| c)
    }

    /// The probe of one address.
    pub fn probe_of(&self, address: &str) -> Option<&ProbeResult> {
        self.probes.iter().find(|p| p.address == address)
    }

    /// Whether the upstream at `address` answered as nginx expects it to: the plain probe
    /// says so, or — for a TLS upstream that answered the plain probe with HTTP 400, as
    /// nginx, Go and Apache do on their HTTPS ports — the certificate collector completed a
    /// TLS handshake with it (it speaks TLS; whether nginx trusts the certificate is the
    /// upstream-tls-verify checks' question).
    pub fn upstream_answered(&self, address: &str, scheme: Option<&str>) -> bool {
        let Some(probe) = self.probe_of(address) else {
            return false;
        };
        if probe.answered_as_expected(scheme) {
            return true;
        }
        let tls = matches!(scheme, Some("https" | "grpcs"));
        let handshake = || {
            self.upstream_tls.value().is_some_and(|certs| {
                certs
                    .iter()
                    .any(|c| c.address == address && c.certificate.is_some())
            })
        };
        tls && probe.connected && probe.status == Some(400) && handshake()
    }

    /// Upstream addresses of the selected route (empty when no route was resolved).
    pub fn route_upstreams(&self) -> Vec<&UpstreamAddr> {
        self.nginx
            .value()
            .and_then(|n| n.route.as_ref())
            .map(|r| r.upstreams.iter().collect())
            .unwrap_or_default()
    }

    /// PHP-FPM pools whose `listen` is one of the route's upstream addresses.
    pub fn route_pools<'a>(&self, fpm: &'a PhpFpmFacts) -> Vec<&'a FpmPool> {
        let ups = self.route_upstreams();
        fpm.pools
            .iter()
            .filter(|p| {
                let Some(l) = p.listen.as_ref().map(|l| l.value.as_str()) else {
                    return false;
                };
                ups.iter().any(|u| match u.address.strip_prefix("unix:") {
                    Some(path) => path == l,
                    None => {
                        u.address == l
                            // "9000" alone listens on every address.
                            || (l.bytes().all(|b| b.is_ascii_digit()) && u.address.rsplit(':').next() == Some(l))
                            || l.strip_prefix("0.0.0.0:").is_some_and(|p| u.address.rsplit(':').next() == Some(p))
                    }
                })
            })
            .collect()
    }

    /// TCP ports of the selected route's upstreams.
    pub fn upstream_ports(&self) -> Vec<u16> {
        ports_of(&self.route_upstreams())
    }

    /// The error-log count of one design §3 category, when the window has it.
    pub fn error_category(&self, category: &str) -> Option<&LogCategoryCount> {
        self.error_log
            .value()?
            .categories
            .iter()
            .find(|c| c.category == category && c.count > 0)
    }

    /// Processes (pid, comm) that own a listener at one of the route's upstream addresses.
    pub fn upstream_listener_owners(&self) -> Vec<(u32, String)> {
        match self.listeners.value() {
            Some(listeners) => listener_owners(&self.route_upstreams(), listeners),
            None => Vec::new(),
        }
    }

    /// Whether a PORT-like assignment (`PORT=3000`, `BIND=127.0.0.1:3000`) names one of the
    /// route's upstream ports or socket paths.
    pub fn names_upstream(&self, assignment: &str) -> bool {
        let value = assignment.split_once('=').map_or(assignment, |(_, v)| v);
        let ports = self.upstream_ports();
        let tail_port = value.rsplit(':').next().and_then(|p| p.parse::<u16>().ok());
        tail_port.is_some_and(|p| ports.contains(&p))
            || self
                .route_upstreams()
                .iter()
                .any(|u| u.address.strip_prefix("unix:") == Some(value))
    }
}

/// The TCP ports of `upstreams`.
pub fn ports_of(upstreams: &[&UpstreamAddr]) -> Vec<u16> {
    upstreams
        .iter()
        .filter_map(|u| u.address.rsplit_once(':').and_then(|(_, p)| p.parse().ok()))
        .collect()
}

/// Processes (pid, comm) that own one of `listeners` at one of `upstreams`' addresses.
pub fn listener_owners(upstreams: &[&UpstreamAddr], listeners: &[Listener]) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    for u in upstreams {
        for l in listeners {
            let hit = match u.address.strip_prefix("unix:") {
                Some(path) => l.address == path,
                None => u.socket_addr().is_some_and(|a| l.accepts(&a)),
            };
            if let (true, Some(pid)) = (hit, l.pid) {
                let comm = l.process.clone().unwrap_or_default();
                if !out.iter().any(|(p, _)| *p == pid) {
                    out.push((pid, comm));
                }
            }
        }
    }
    out
}
