//! Detects: `upstream-down`.
//!
//! Why nginx returns 502: nginx's connect() to the upstream address fails with
//! ECONNREFUSED (111) because no process listens there: the app is stopped, crashed or was
//! killed. nginx logs `connect() failed (111: Connection refused) while connecting to
//! upstream` and answers 502.
//!
//! Evidence used: the route's TCP upstream addresses (file:line), the listening sockets of
//! the network namespace the address is local to (nginx's own: /proc/MASTER/net/tcp and
//! tcp6; or another namespace of this host, a container), and the direct probe's connect()
//! result (run from inside nginx's network namespace when badgw is root).
//!
//! False positives avoided: an upstream marked `down` in its group is ignored; a listener
//! on the wildcard address (or `[::]`, which accepts IPv4 on Linux) counts as listening;
//! an address that is not local to nginx's network namespace (another host) is never said
//! to have "nothing listening": only a refused probe speaks for it; when /proc cannot be
//! read, only a refused probe is taken as evidence. Unix sockets are the job of
//! `socket-missing`.

use super::evidence::{self, describe_probe};
use super::{Check, Finding, Fix, Severity, Strength, Verdict};
use crate::cause::Cause;
use crate::facts::{accepting, Reach};
use crate::facts::{Facts, Ns, SocketKind};

pub struct PortBound;

/// One upstream address found down, with the namespace that says so.
struct Down<'a> {
    u: &'a crate::facts::UpstreamAddr,
    probe: Option<&'a crate::facts::ProbeResult>,
    refused: bool,
    reach: Reach<'a>,
    /// The /proc/…/net directory whose tables show no listener ("" when none could).
    table: String,
}

impl Check for PortBound {
    fn id(&self) -> &'static str {
        "port-bound"
    }

    fn causes(&self) -> &'static [Cause] {
        &[Cause::UpstreamDown]
    }

    fn run(&self, facts: &Facts) -> Verdict {
        let upstreams = match facts.active_upstreams() {
            Ok(u) => u,
            Err(reason) => return Verdict::skipped(reason),
        };
        let tcp: Vec<_> = upstreams
            .into_iter()
            .filter(|u| u.kind != SocketKind::Unix)
            .collect();
        if tcp.is_empty() {
            return Verdict::skipped(
                "the route has no TCP upstream (unix sockets are checked by socket-missing)",
            );
        }
        let view = facts.view.value();
        // The probes prove less when they could not run from nginx's network namespace.
        let probes_weak = view.is_some_and(|v| !v.probes_in_nginx_netns);
        let own_tables = match view.map(|v| v.net) {
            Some(Ns::Pid(pid)) => format!("/proc/{pid}/net"),
            _ => "/proc/net".to_string(),
        };
        let mut down = Vec::new();
        let mut remote = 0;
        for u in &tcp {
            let Some(addr) = u.socket_addr() else {
                continue;
            };
            let probe = facts.probe_of(&u.address);
            let refused = probe.and_then(|p| p.error.as_ref()).and_then(|e| e.errno)
                == Some(libc::ECONNREFUSED);
            let reach = facts.reach(&addr);
            let (listening, table) = match &reach {
                Reach::Local(l) => (Some(!accepting(l, &addr).is_empty()), own_tables.clone()),
                Reach::Peer(p) => (Some(!accepting(&p.listeners, &addr).is_empty()), p.tables()),
                Reach::Remote => {
                    remote += 1;
                    (None, String::new())
                }
                Reach::Unknown => (None, String::new()),
            };
            match (listening, refused) {
                (Some(false), _) | (None, true) => down.push(Down {
                    u,
                    probe,
                    refused,
                    reach,
                    table,
                }),
                _ => {}
            }
        }
        if down.is_empty() {
            let detail = match facts.listeners.value() {
                Some(_) if remote > 0 => format!(
                    "something listens at every local upstream address; {remote} remote                      address(es) did not refuse the probe"
                ),
                Some(_) => format!(
                    "something listens at every upstream address ({})",
                    tcp.len()
                ),
                None => "every probe connected (listeners not readable)".to_string(),
            };
            return Verdict::pass(detail);
        }
        let all = down.len() == tcp.len();
        let addresses: Vec<&str> = down.iter().map(|d| d.u.address.as_str()).collect();
        let title = if all && down.len() == 1 {
            match &down[0].reach {
                Reach::Local(_) => format!(
                    "nothing listens on {}: the upstream app is not running",
                    addresses[0]
                ),
                Reach::Peer(p) => format!(
                    "nothing listens on {} in {}: the upstream app there is not running",
                    addresses[0],
                    p.describe()
                ),
                Reach::Remote | Reach::Unknown => format!(
                    "connections to {} are refused: no app accepts on that port there",
                    addresses[0]
                ),
            }
        } else if all {
            format!(
                "nothing listens on any upstream address ({})",
                addresses.join(", ")
            )
        } else {
            format!(
                "{} of {} upstream servers are down: {}",
                down.len(),
                tcp.len(),
                addresses.join(", ")
            )
        };
        let any_refused = down.iter().any(|d| d.refused);
        let any_table = down.iter().any(|d| !d.table.is_empty());
        let mut f = Finding::new(
            Cause::UpstreamDown,
            if all {
                Severity::Critical
            } else {
                Severity::Warning
            },
            match (any_refused, probes_weak, any_table) {
                (true, false, _) => Strength::Direct,
                (_, _, true) => Strength::Strong,
                _ => Strength::Circumstantial,
            },
            title,
        );
        let route = facts.route().ok();
        for d in &down {
            let (u, probe) = (d.u, d.probe);
            let directive = route
                .and_then(|r| r.directive.as_deref())
                .unwrap_or("proxy_pass");
            let how = if u.file.is_empty() {
                String::new()
            } else {
                format!(" ({directive} target)")
            };
            f = f.evidence(
                evidence::written_at(u),
                format!("nginx sends requests to {}{how}", u.address),
            );
            if !d.table.is_empty() {
                let family = if u.kind == SocketKind::Tcp6 {
                    "tcp6"
                } else {
                    "tcp"
                };
                f = f.evidence(
                    format!("{}/{family}", d.table),
                    format!("no socket listens on {}", u.address),
                );
            }
            if let Reach::Remote = d.reach {
                f = f.evidence(
                    "view",
                    format!(
                        "{} is not an address of nginx's network namespace nor of another \
                         namespace on this host: only the probe and the error log speak for it",
                        u.address
                    ),
                );
            }
            if let Some(p) = probe {
                let from = if probes_weak {
                    " (probed from badgw's network namespace, not nginx's)"
                } else {
                    ""
                };
                f = f.evidence("probe", format!("{}{from}", describe_probe(p)));
            }
        }
        let first = down[0].u;
        let port = first
            .socket_addr()
            .map(|a| a.port().to_string())
            .unwrap_or_default();
        // `ss` run in the namespace that should hold the listener.
        let enter = match (&down[0].reach, view.map(|v| v.net)) {
            (Reach::Peer(p), _) => Some(p.pid),
            (_, Some(Ns::Pid(pid))) => Some(pid),
            _ => None,
        };
        let named = match &down[0].reach {
            Reach::Peer(p) if p.pid == 0 => p.netns_name.as_deref(),
            _ => None,
        };
        f = f.fix(Fix::safe(
            format!("confirm nothing listens on port {port}, and see what does listen"),
            match named {
                Some(n) => crate::fixes::inspect::listeners_in_named_netns(n, &port),
                None => crate::fixes::inspect::listeners_on_port(enter, &port),
            },
        ));
        // In a container, the fixes speak the container's language.
        if let Some(c) = facts.container_for(first) {
            let (logs, start, what) = crate::parse::container::commands(c);
            let state = match (c.running, c.restart_count) {
                (Some(false), Some(n)) => format!(" — not running, restarted {n} time(s)"),
                (Some(false), None) => " — not running".to_string(),
                (_, Some(n)) if n > 0 => format!(" — restarted {n} time(s)"),
                _ => String::new(),
            };
            f = f
                .evidence(
                    c.source.clone(),
                    format!("the app should run in {}{state}", c.describe()),
                )
                .fix(Fix::safe("see why the container's app stopped", logs))
                .fix(Fix::review(what, start));
            return Verdict::Found(vec![f]);
        }
        // Under supervisord: which program should serve it, and its start as the fix.
        let owners: Vec<u32> = facts
            .upstream_listener_owners()
            .iter()
            .map(|(p, _)| *p)
            .collect();
        if let Some((sup, prog)) = facts
            .supervisord
            .value()
            .and_then(|s| s.upstream_program(&owners))
        {
            let state = if prog.pids.is_empty() {
                "not running"
            } else {
                "running"
            };
            f = f.evidence(
                format!("{}:{}", prog.file, prog.line),
                format!(
                    "supervisord (pid {}) runs [program:{}] ({}): {state}, `{}`",
                    sup.pid,
                    prog.name,
                    prog.serves_upstream.as_deref().unwrap_or("its program"),
                    prog.command
                ),
            );
        }
        let owner = crate::fixes::app::owner(facts);
        let curl = crate::fixes::inspect::curl_command(facts, &first.address);
        if let (Some(status), Some(plan)) = (owner.status_shown(), owner.start_plan()) {
            f = f
                .fix(Fix::safe(
                    "see the app's state and why it stopped",
                    format!("{status}; {}", owner.logs_shown()),
                ))
                .fix(Fix::planned("start the app under its supervisor", plan));
            return Verdict::Found(vec![f]);
        }
        f = f
            .fix(Fix::safe(
                "find what should run the app and why it stopped",
                crate::fixes::inspect::find_app(facts),
            ))
            .fix(Fix::review(
                "start the app (its unit name is in the list above), then check it answers as nginx asks",
                crate::fixes::app::then_check(&owner.start_shown(), &curl),
            ));
        Verdict::Found(vec![f])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::*;

    #[test]
    fn nothing_listening_and_probe_refused_is_direct_and_critical() {
        let facts = FactsBuilder::proxy("127.0.0.1:3000")
            .probe_refused("127.0.0.1:3000")
            .build();
        let Verdict::Found(f) = PortBound.run(&facts) else {
            panic!("expected a finding")
        };
        assert_eq!(f[0].cause, Cause::UpstreamDown);
        assert_eq!(f[0].severity, Severity::Critical);
        assert_eq!(f[0].strength, Strength::Direct);
        assert!(f[0]
            .evidence
            .iter()
            .any(|e| e.source == "/etc/nginx/sites-enabled/shop:6"));
        assert!(f[0]
            .evidence
            .iter()
            .any(|e| e.text.contains("111: Connection refused")));
    }

    #[test]
    fn a_wildcard_listener_counts_as_listening() {
        let facts = FactsBuilder::proxy("127.0.0.1:3000")
            .listen(SocketKind::Tcp6, "[::]:3000", "node")
            .build();
        assert!(matches!(PortBound.run(&facts), Verdict::Pass { .. }));
    }

    #[test]
    fn one_of_two_down_is_a_warning() {
        let facts = FactsBuilder::proxy("127.0.0.1:3000")
            .also_upstream("127.0.0.1:3001")
            .listen(SocketKind::Tcp, "127.0.0.1:3001", "node")
            .build();
        let Verdict::Found(f) = PortBound.run(&facts) else {
            panic!()
        };
        assert_eq!(f[0].severity, Severity::Warning);
        assert!(f[0].title.starts_with("1 of 2 upstream servers are down"));
    }

    #[test]
    fn a_remote_address_is_never_said_to_have_nothing_listening() {
        // 10.0.0.5 is not nginx's: the empty host listener table says nothing about it.
        let mut facts = FactsBuilder::proxy("10.0.0.5:3000")
            .probe_ok("10.0.0.5:3000", 200, 5)
            .build();
        facts.view = crate::facts::Fact::collected(crate::facts::View {
            probes_in_nginx_netns: true,
            local_addresses_known: true,
            ..Default::default()
        });
        assert!(
            matches!(PortBound.run(&facts), Verdict::Pass { .. }),
            "{:?}",
            PortBound.run(&facts)
        );

        // Refused: down, in the probe's words, not "nothing listens".
        let mut facts = FactsBuilder::proxy("10.0.0.5:3000")
            .probe_refused("10.0.0.5:3000")
            .build();
        facts.view = crate::facts::Fact::collected(crate::facts::View {
            probes_in_nginx_netns: true,
            local_addresses_known: true,
            ..Default::default()
        });
        let Verdict::Found(f) = PortBound.run(&facts) else {
            panic!("a refused remote address is down")
        };
        assert!(!f[0].title.contains("nothing listens"), "{}", f[0].title);
        assert!(f[0].title.contains("refused"), "{}", f[0].title);
        assert!(!f[0].evidence.iter().any(|e| e.source.contains("/proc/net")));
    }

    #[test]
    fn an_address_local_to_a_container_uses_that_namespace() {
        let mut facts = FactsBuilder::proxy("172.18.0.7:3000").build();
        facts.view = crate::facts::Fact::collected(crate::facts::View {
            probes_in_nginx_netns: true,
            local_addresses_known: true,
            peers: vec![crate::facts::PeerNamespace {
                inode: 4026532999,
                pid: 4711,
                process: Some("node".into()),
                addresses: vec!["172.18.0.7".into()],
                listeners: vec![],
                netns_name: None,
            }],
            ..Default::default()
        });
        let Verdict::Found(f) = PortBound.run(&facts) else {
            panic!("nothing listens in the container's namespace")
        };
        assert!(f[0].title.contains("node (pid 4711)"), "{}", f[0].title);
        assert!(f[0]
            .evidence
            .iter()
            .any(|e| e.source == "/proc/4711/net/tcp"));
        assert!(f[0].fixes[0].command.contains("nsenter -t 4711 -n"));
    }

    #[test]
    fn a_compose_service_gets_compose_commands() {
        let mut b = FactsBuilder::proxy("172.18.0.7:3000");
        b.route_mut().upstreams[0].host = Some("app".into());
        let mut facts = b.probe_refused("172.18.0.7:3000").build();
        facts.view = crate::facts::Fact::collected(crate::facts::View {
            probes_in_nginx_netns: true,
            local_addresses_known: true,
            upstream_containers: vec![(
                "app".into(),
                crate::facts::ContainerInfo {
                    runtime: "docker".into(),
                    id: "3f4e8a1c2b7d".repeat(5) + "abcd",
                    name: Some("shop-app-1".into()),
                    compose_project: Some("shop".into()),
                    compose_service: Some("app".into()),
                    running: Some(false),
                    restart_count: Some(4),
                    source: "/var/lib/docker/containers/ID/config.v2.json".into(),
                    ..Default::default()
                },
            )],
            ..Default::default()
        });
        let Verdict::Found(f) = PortBound.run(&facts) else {
            panic!("refused")
        };
        let fixes: Vec<&str> = f[0].fixes.iter().map(|x| x.command.as_str()).collect();
        assert!(
            fixes.contains(&"docker compose -p shop up -d app"),
            "{fixes:?}"
        );
        assert!(!fixes.iter().any(|c| c.contains("systemctl")), "{fixes:?}");
        assert!(f[0]
            .evidence
            .iter()
            .any(|e| e.text.contains("shop-app-1") && e.text.contains("restarted 4")));
    }

    #[test]
    fn no_route_is_skipped_with_the_reason() {
        let facts = FactsBuilder::no_route("no server block matches").build();
        let Verdict::Skipped { reason } = PortBound.run(&facts) else {
            panic!()
        };
        assert!(reason.contains("no server block matches"), "{reason}");
    }
}
