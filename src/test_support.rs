//! The one builder of small snapshots for the unit tests of checks, fixes and the report:
//! a route to one upstream, then listeners, processes, probe results, log windows added one
//! by one.

use crate::facts::*;

pub struct FactsBuilder(pub Facts);

impl FactsBuilder {
    /// Only a route: `shop.example.test /` goes with scheme `scheme` to `upstream`
    /// ("127.0.0.1:3000" or "unix:/run/php/php8.2-fpm.sock") written at
    /// sites-enabled/shop:14, worker user www-data, collected at 2026-11-22T03:13:00Z;
    /// listeners, processes and probes are not collected.
    pub fn route_only(address: &str, scheme: &str) -> Self {
        let mut f = Facts::new(RequestSpec {
            site: "shop.example.test".into(),
            path: "/".into(),
            ..Default::default()
        });
        f.collected_at = Some(
            chrono::DateTime::parse_from_rfc3339("2026-11-22T03:13:00+00:00").expect("RFC 3339"),
        );
        f.nginx = Fact::collected(NginxFacts {
            conf_path: "/etc/nginx/nginx.conf".into(),
            discovered_by: "test".into(),
            user: Some("www-data".into()),
            route: Some(Route {
                scheme: Some(scheme.into()),
                upstreams: vec![upstream(address, 14)],
                ..Default::default()
            }),
            ..Default::default()
        });
        FactsBuilder(f)
    }

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
            listen_ports: vec![80],
            ..Default::default()
        });
        f.listeners = Fact::collected(vec![Listener {
            kind: SocketKind::Tcp,
            address: "0.0.0.0:80".into(),
            port: Some(80),
            inode: 1,
            pid: Some(100),
            process: Some("nginx".into()),
            role: Some(crate::facts::ProcessRole::Nginx),
            accept_queue: None,
        }]);
        f.processes = Fact::collected(vec![ProcInfo {
            pid: 100,
            comm: "nginx".into(),
            cmdline: "nginx: master process /usr/sbin/nginx".into(),
            listen_inodes: vec![1],
            role: Some(crate::facts::ProcessRole::Nginx),
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
            role: crate::parse::process_role::role_of_comm(comm),
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
            args: crate::parse::app_args::app_args(comm, cmdline),
            role: crate::parse::process_role::role_of_comm(comm),
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
        php_fpm_version: crate::parse::fpm::socket_version(address),
    }
}

/// An error-log window with one category seen `count` times.
pub fn error_log_with(
    category: &str,
    count: u64,
    first_seen: &str,
    text: &str,
) -> Fact<ErrorLogWindow> {
    Fact::collected(ErrorLogWindow {
        file: "/var/log/nginx/error.log".into(),
        since: None,
        lines_read: 500,
        categories: vec![LogCategoryCount {
            category: category.into(),
            count,
            first_seen: Some(first_seen.parse().unwrap()),
            last_seen: Some(first_seen.parse().unwrap()),
            samples: vec![LogEvidence {
                line: 1832,
                category: category.into(),
                time: Some(first_seen.parse().unwrap()),
                upstream: None,
                upstream_peer: None,
                upstream_addr: None,
                server: None,
                host: None,
                text: text.into(),
            }],
        }],
        other_sites_events: 0,
        ..Default::default()
    })
}
