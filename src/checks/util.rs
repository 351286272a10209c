//! Helpers shared by checks: reading the route's targets out of facts, matching them to
//! listeners and probes, and building fix commands that work as pasted on this host.

use std::net::SocketAddr;

use crate::facts::*;

/// The route, or the reason there is none (the check is then skipped).
pub fn route(facts: &Facts) -> Result<&Route, String> {
    let nginx = facts.nginx.get()?;
    match &nginx.route {
        Some(r) => Ok(r),
        None => Err(format!(
            "no route for {}{}: {}",
            facts.request.site,
            facts.request.path,
            nginx
                .route_error
                .as_deref()
                .unwrap_or("no server block selected")
        )),
    }
}

/// Upstream addresses nginx actually uses (not marked `down`), or a skip reason.
pub fn active_upstreams(facts: &Facts) -> Result<Vec<&UpstreamAddr>, String> {
    let r = route(facts)?;
    if r.upstreams.is_empty() {
        return Err(match (&r.dynamic, &r.directive) {
            (Some(d), _) => format!("the upstream is chosen at run time ({d})"),
            (None, None) => "the location serves the request itself (no *_pass directive)".into(),
            (None, Some(d)) => format!("{d} names no address badgw can resolve"),
        });
    }
    Ok(r.upstreams
        .iter()
        .filter(|u| !u.params.iter().any(|p| p == "down"))
        .collect())
}

/// TCP listeners a connection to `target` would reach.
pub fn accepting<'a>(listeners: &'a [Listener], target: &SocketAddr) -> Vec<&'a Listener> {
    listeners
        .iter()
        .filter(|l| l.kind != SocketKind::Unix && l.accepts(target))
        .collect()
}

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

/// The listener table that decides whether something listens at `target`, if any.
/// Without a recorded view (older snapshots), only loopback and wildcard addresses are
/// taken as local.
pub fn reach<'a>(facts: &'a Facts, target: &SocketAddr) -> Reach<'a> {
    let Some(listeners) = facts.listeners.value() else {
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
        nginx_container: None,
        upstream_containers: Vec::new(),
    };
    let locality = facts.view.value().unwrap_or(&NO_VIEW).locality(target.ip());
    match locality {
        Locality::Local => Reach::Local(listeners),
        Locality::Peer(p) => Reach::Peer(p),
        Locality::Remote => Reach::Remote,
    }
}

/// The listeners of the namespace `target` is local to, or None when it is remote (or the
/// tables are unreadable): then nothing may be concluded from listeners.
pub fn listeners_at<'a>(facts: &'a Facts, target: &SocketAddr) -> Option<&'a [Listener]> {
    match reach(facts, target) {
        Reach::Local(l) => Some(l),
        Reach::Peer(p) => Some(&p.listeners),
        Reach::Remote | Reach::Unknown => None,
    }
}

/// The container meant to serve `u`: by its IP (a peer namespace's container) or by the
/// host name it is written with (a Compose service or alias).
pub fn container_for<'a>(facts: &'a Facts, u: &UpstreamAddr) -> Option<&'a ContainerInfo> {
    let view = facts.view.value()?;
    let ip = u
        .address
        .parse::<SocketAddr>()
        .ok()
        .map(|a| a.ip().to_string());
    view.upstream_containers
        .iter()
        .find(|(k, _)| Some(k) == ip.as_ref() || Some(k.as_str()) == u.host.as_deref())
        .map(|(_, c)| c)
}

/// The probe of one address.
pub fn probe_of<'a>(facts: &'a Facts, address: &str) -> Option<&'a ProbeResult> {
    facts.probes.iter().find(|p| p.address == address)
}

/// A probe result as one line of evidence.
pub fn describe_probe(p: &ProbeResult) -> String {
    if let Some(e) = &p.error {
        let errno = e.errno.map(|n| format!("{n}: ")).unwrap_or_default();
        let phase = match p.phase {
            ProbePhase::Connect => "connect()",
            ProbePhase::Send => "send()",
            ProbePhase::ReadHeader => "reading the response header",
            ProbePhase::Done => "probe",
        };
        return format!("{phase} to {} failed ({errno}{})", p.address, e.message);
    }
    match (&p.status_line, &p.note) {
        (Some(s), None) => format!(
            "{} answered `{s}` in {} ms",
            p.address,
            p.ttfb_ms
                .map(|t| format!("{t:.0}"))
                .unwrap_or_else(|| "?".into())
        ),
        (_, Some(n)) => format!("{}: {n}", p.address),
        (None, None) => format!("{}: connected", p.address),
    }
}

/// Where the address is written in the config, as evidence text.
pub fn written_at(u: &UpstreamAddr) -> String {
    format!("{}:{}", u.file, u.line)
}

/// The address as written in the config (`localhost:3000`), for `sed` fixes.
pub fn as_written(u: &UpstreamAddr) -> String {
    match (&u.host, u.address.parse::<SocketAddr>().ok()) {
        (Some(h), Some(a)) => format!("{h}:{}", a.port()),
        _ => u.address.clone(),
    }
}

/// The command that tests and reloads this nginx (built in src/fixes/nginx.rs).
pub fn reload_command(facts: &Facts) -> String {
    crate::fixes::nginx::test_and_reload(facts)
}

/// A `sed` command that replaces `from` with `to` on one line of one file (built in
/// src/fixes/edit.rs).
pub fn sed_line(file: &str, line: u32, from: &str, to: &str) -> String {
    crate::fixes::LineEdit::replace(file, line, from, to).shown()
}

/// Quotes a word for a POSIX shell only when it needs it.
pub fn shell_quote(s: &str) -> String {
    crate::fixes::shell_quote(s)
}

/// A process line for evidence: `node (pid 4242, user app): node server.js --port 3001`.
pub fn describe_process(p: &ProcInfo) -> String {
    let user = p
        .user
        .as_deref()
        .map(|u| format!(", user {u}"))
        .unwrap_or_default();
    let cmd = if p.cmdline.is_empty() {
        &p.comm
    } else {
        &p.cmdline
    };
    let cmd: String = cmd.chars().take(160).collect();
    format!("{} (pid {}{user}): {cmd}", p.comm, p.pid)
}

/// The `curl` that shows what the upstream answers, the way nginx asks it.
pub fn curl_command(facts: &Facts, address: &str) -> String {
    let r = route(facts).ok();
    let host = r
        .and_then(|r| r.settings.host_header.clone())
        .unwrap_or_else(|| facts.request.site.clone());
    let uri = r
        .and_then(|r| r.upstream_uri.clone())
        .unwrap_or_else(|| facts.request.path.clone());
    crate::fixes::inspect::curl_status(address, &host, &uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sed_targets_one_line_and_escapes_dots() {
        assert_eq!(
            sed_line(
                "/etc/nginx/sites-enabled/shop",
                14,
                "127.0.0.1:3000",
                "127.0.0.1:3001"
            ),
            "sudo sed -i '14s#127\\.0\\.0\\.1:3000#127.0.0.1:3001#' /etc/nginx/sites-enabled/shop"
        );
        assert_eq!(shell_quote("/tmp/a b"), "'/tmp/a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
    }

    #[test]
    fn curl_over_unix_socket() {
        let mut f = Facts::new(RequestSpec {
            site: "shop.test".into(),
            path: "/x".into(),
            ..Default::default()
        });
        f.nginx = Fact::unavailable("n", "r");
        assert_eq!(
            curl_command(&f, "unix:/run/app.sock"),
            "curl -sS -o /dev/null -w '%{http_code}\\n' --unix-socket /run/app.sock -H 'Host: shop.test' http://localhost/x"
        );
    }
}

/// Builds small Facts for unit tests of checks: a route to one upstream, then listeners,
/// processes and probe results added one by one.
#[cfg(test)]
pub mod test_facts {
    use crate::facts::*;

    pub struct FactsBuilder(pub Facts);

    impl FactsBuilder {
        /// `shop.example.test /` → proxy_pass http://ADDRESS at sites-enabled/shop:6.
        pub fn proxy(address: &str) -> Self {
            let mut f = Facts::new(RequestSpec {
                site: "shop.example.test".into(),
                path: "/".into(),
                ..Default::default()
            });
            let kind = kind_of(address);
            f.nginx = Fact::collected(NginxFacts {
                conf_path: "/etc/nginx/nginx.conf".into(),
                discovered_by: "test".into(),
                route: Some(Route {
                    server: RouteServer {
                        file: "/etc/nginx/sites-enabled/shop".into(),
                        line: 1,
                        server_name: vec!["shop.example.test".into()],
                        listen: vec!["80".into()],
                    },
                    directive: Some(
                        if kind == SocketKind::Unix {
                            "fastcgi_pass"
                        } else {
                            "proxy_pass"
                        }
                        .into(),
                    ),
                    scheme: Some(
                        if kind == SocketKind::Unix {
                            "fastcgi"
                        } else {
                            "http"
                        }
                        .into(),
                    ),
                    target: Some(address.into()),
                    upstreams: vec![upstream(address, 6)],
                    ..Default::default()
                }),
                listens: vec!["0.0.0.0:80".into()],
                ..Default::default()
            });
            f.listeners = Fact::collected(vec![Listener {
                kind: SocketKind::Tcp,
                address: "0.0.0.0:80".into(),
                port: Some(80),
                inode: 1,
                pid: Some(100),
                process: Some("nginx".into()),
                accept_queue: None,
            }]);
            f.processes = Fact::collected(vec![ProcInfo {
                pid: 100,
                comm: "nginx".into(),
                cmdline: "nginx: master process /usr/sbin/nginx".into(),
                listen_inodes: vec![1],
                ..Default::default()
            }]);
            f.unix_sockets = Fact::collected(Vec::new());
            FactsBuilder(f)
        }

        pub fn no_route(error: &str) -> Self {
            let mut b = Self::proxy("127.0.0.1:3000");
            if let Fact::Collected { value } = &mut b.0.nginx {
                value.route = None;
                value.route_error = Some(error.into());
            }
            b
        }

        pub fn route_mut(&mut self) -> &mut Route {
            match &mut self.0.nginx {
                Fact::Collected { value } => value.route.as_mut().expect("route"),
                _ => panic!("no nginx facts"),
            }
        }

        pub fn nginx_mut(&mut self) -> &mut NginxFacts {
            match &mut self.0.nginx {
                Fact::Collected { value } => value,
                _ => panic!("no nginx facts"),
            }
        }

        pub fn also_upstream(mut self, address: &str) -> Self {
            let line = 7 + self.route_mut().upstreams.len() as u32;
            self.route_mut().upstreams.push(upstream(address, line));
            self
        }

        pub fn host(mut self, host: &str) -> Self {
            for u in &mut self.route_mut().upstreams {
                u.host = Some(host.into());
            }
            self
        }

        /// A listener owned by a new process `comm` with command line `comm …`.
        pub fn listen(self, kind: SocketKind, address: &str, comm: &str) -> Self {
            let cmd = format!("{comm} server.js");
            self.listen_cmd(kind, address, comm, &cmd)
        }

        pub fn listen_cmd(
            mut self,
            kind: SocketKind,
            address: &str,
            comm: &str,
            cmdline: &str,
        ) -> Self {
            let Fact::Collected { value: ls } = &mut self.0.listeners else {
                panic!()
            };
            let inode = 1000 + ls.len() as u64;
            let pid = 4000 + ls.len() as u32;
            ls.push(Listener {
                kind,
                address: address.into(),
                port: address.rsplit(':').next().and_then(|p| p.parse().ok()),
                inode,
                pid: Some(pid),
                process: Some(comm.into()),
                accept_queue: None,
            });
            let Fact::Collected { value: ps } = &mut self.0.processes else {
                panic!()
            };
            ps.push(ProcInfo {
                pid,
                ppid: Some(1),
                comm: comm.into(),
                cmdline: cmdline.into(),
                user: Some("app".into()),
                listen_inodes: vec![inode],
                ..Default::default()
            });
            self
        }

        pub fn probe_refused(mut self, address: &str) -> Self {
            self.0.probes.push(ProbeResult {
                address: address.into(),
                kind: kind_of(address),
                request: "GET / HTTP/1.0, Host: shop.example.test".into(),
                connected: false,
                connect_ms: None,
                ttfb_ms: None,
                status_line: None,
                status: None,
                header_bytes: None,
                phase: ProbePhase::Connect,
                error: Some(OsError {
                    errno: Some(if kind_of(address) == SocketKind::Unix {
                        2
                    } else {
                        111
                    }),
                    message: if kind_of(address) == SocketKind::Unix {
                        "No such file or directory"
                    } else {
                        "Connection refused"
                    }
                    .into(),
                }),
                note: None,
                speaks: None,
                timeout_ms: None,
                idle_close_ms: None,
                idle_open_after_ms: None,
            });
            self
        }

        /// A probe that got an HTTP answer `status` after `ttfb_ms`.
        pub fn probe_ok(mut self, address: &str, status: u16, ttfb_ms: u64) -> Self {
            self = self.probe_refused(address);
            let p = self.0.probes.last_mut().expect("probe");
            p.connected = true;
            p.error = None;
            p.connect_ms = Some(0.2);
            p.ttfb_ms = Some(ttfb_ms as f64);
            p.status = Some(status);
            p.status_line = Some(format!("HTTP/1.1 {status} X"));
            p.header_bytes = Some(120);
            p.phase = ProbePhase::Done;
            p.speaks = Some("http".into());
            p.timeout_ms = Some(3000.0);
            self
        }

        pub fn socket_file(mut self, path: &str, exists: bool) -> Self {
            let Fact::Collected { value } = &mut self.0.unix_sockets else {
                panic!()
            };
            value.push(UnixSocketFile {
                path: path.into(),
                exists,
                file_type: exists.then(|| "socket".into()),
                owner: None,
                group: None,
                mode: None,
                error: None,
            });
            self
        }

        pub fn other_target(mut self, address: &str) -> Self {
            self.nginx_mut().other_targets.push(OtherTarget {
                address: address.into(),
                server_name: vec!["admin.example.test".into()],
                file: "/etc/nginx/sites-enabled/admin".into(),
                line: 9,
            });
            self
        }

        pub fn build(self) -> Facts {
            self.0
        }
    }

    pub fn kind_of(address: &str) -> SocketKind {
        if address.starts_with("unix:") {
            SocketKind::Unix
        } else if address.starts_with('[') {
            SocketKind::Tcp6
        } else {
            SocketKind::Tcp
        }
    }

    pub fn upstream(address: &str, line: u32) -> UpstreamAddr {
        UpstreamAddr {
            address: address.into(),
            kind: kind_of(address),
            host: None,
            file: "/etc/nginx/sites-enabled/shop".into(),
            line,
            params: Vec::new(),
        }
    }
}
