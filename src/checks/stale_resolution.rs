//! Detects: `stale-resolution`.
//!
//! Why nginx returns 502: nginx resolves the host names of `proxy_pass http://app:3000` and of
//! `server app:3000` once, when it loads its configuration, and keeps connecting to those
//! addresses until the next reload. When the app moves (a container recreated with a new
//! IP, a host file or DNS record changed), nginx still connects to the old address: `(113:
//! No route to host)`, `(111: Connection refused)` or a connect timeout, with `upstream:
//! "http://OLD:3000/"` in the error log — while the name now resolves elsewhere.
//!
//! Evidence used: the route's upstreams written as names (file:line) and what those names
//! resolve to now through nginx's resolver (`facts.view.names`: nginx's /etc/hosts through
//! /proc/MASTER/root when it has its own mount namespace, else the system resolver); the
//! addresses nginx connected to in the error-log window (the `upstream:` field of failed
//! connections) and nginx workers' SYN-SENT/ESTABLISHED sockets to the name's port
//! (`facts.view.upstream_connections`, sock_diag in nginx's namespace: the address in use
//! before the error log says anything); when nginx last loaded its configuration (its
//! workers' start time); the probe of the new address.
//!
//! False positives avoided: only addresses on the name's port that the name no longer
//! resolves to, and that no other upstream of the route has, count; failures that predate
//! nginx's last (re)load are not stale (a reload re-resolves names); upstreams written as
//! literal addresses are never considered.

use std::net::SocketAddr;

use super::evidence::{self, describe_probe};
use super::{Check, Finding, Fix, Severity, Strength, Verdict};
use crate::cause::Cause;
use crate::facts::{
    Facts, LogEvidence, NameResolution, UpstreamAddr, UpstreamConnection, WallTime,
};

pub struct StaleResolution;

/// One address nginx connected to that the name no longer has.
struct Stale<'a> {
    old: SocketAddr,
    samples: Vec<(&'a str, &'a LogEvidence)>,
    count: u64,
    /// nginx workers' connections to `old` (SYN-SENT, ESTABLISHED) seen with sock_diag.
    conns: Vec<&'a UpstreamConnection>,
}

impl Check for StaleResolution {
    fn id(&self) -> &'static str {
        "stale-resolution"
    }

    fn causes(&self) -> &'static [Cause] {
        &[Cause::StaleResolution]
    }

    fn run(&self, facts: &Facts) -> Verdict {
        let route = match facts.route() {
            Ok(r) => r,
            Err(reason) => return Verdict::skipped(reason),
        };
        let named: Vec<&UpstreamAddr> = route
            .upstreams
            .iter()
            .filter(|u| u.host.is_some())
            .collect();
        if named.is_empty() {
            return Verdict::skipped(
                "the route's upstreams are written as addresses, not names: nothing to re-resolve",
            );
        }
        let window = match facts.error_log.get() {
            Ok(w) => w,
            Err(reason) => return Verdict::skipped(reason),
        };
        let current: Vec<SocketAddr> = route
            .upstreams
            .iter()
            .filter_map(|u| u.address.parse().ok())
            .collect();
        let loaded_at = config_loaded_at(facts);
        let mut found = Vec::new();
        for name in distinct_names(&named) {
            let ports: Vec<u16> = named
                .iter()
                .filter(|u| u.host.as_deref() == Some(name))
                .filter_map(|u| u.socket_addr().map(|a| a.port()))
                .collect();
            let mut stale: Vec<Stale> = Vec::new();
            for cat in &window.categories {
                for s in &cat.samples {
                    let Some(addr) = s.upstream_addr else {
                        continue;
                    };
                    if !ports.contains(&addr.port()) || current.contains(&addr) {
                        continue;
                    }
                    // A failure before the last (re)load says nothing about the addresses
                    // nginx resolved at that load.
                    if let (Some(t), Some(load)) =
                        (s.time.as_ref().and_then(WallTime::at), loaded_at)
                    {
                        if t < load {
                            continue;
                        }
                    }
                    match stale.iter_mut().find(|x| x.old == addr) {
                        Some(x) => {
                            x.samples.push((cat.category.as_str(), s));
                        }
                        None => stale.push(Stale {
                            old: addr,
                            samples: vec![(cat.category.as_str(), s)],
                            count: 0,
                            conns: Vec::new(),
                        }),
                    }
                }
            }
            for x in &mut stale {
                x.count = window
                    .categories
                    .iter()
                    .filter(|c| c.samples.iter().any(|s| s.upstream_addr == Some(x.old)))
                    .map(|c| c.count)
                    .sum();
            }
            // The connections nginx's workers hold or are opening now: the address in use
            // even when the error log has no `upstream:` field for it yet.
            let conns: &[UpstreamConnection] = facts
                .view
                .value()
                .map_or(&[], |v| v.upstream_connections.as_slice());
            for c in conns {
                let addr = c.remote;
                if !ports.contains(&addr.port()) || current.contains(&addr) {
                    continue;
                }
                match stale.iter_mut().find(|x| x.old == addr) {
                    Some(x) => x.conns.push(c),
                    None => stale.push(Stale {
                        old: addr,
                        samples: Vec::new(),
                        count: 0,
                        conns: vec![c],
                    }),
                }
            }
            if let Some(x) = stale.into_iter().next() {
                found.push(finding(facts, route.directive.as_deref(), name, &named, &x));
            }
        }
        if found.is_empty() {
            return Verdict::pass(
                "nginx connects only to the addresses its upstream names resolve to now",
            );
        }
        Verdict::Found(found)
    }
}

fn distinct_names<'a>(named: &[&'a UpstreamAddr]) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for u in named {
        if let Some(h) = u.host.as_deref() {
            if !out.contains(&h) {
                out.push(h);
            }
        }
    }
    out
}

/// When nginx last loaded its configuration: its newest worker's start (a reload starts
/// new workers), from the snapshot's time and the workers' ages.
fn config_loaded_at(facts: &Facts) -> Option<chrono::NaiveDateTime> {
    let now = facts.collected_at?.naive_local();
    let youngest = worker_age(facts)?;
    Some(now - chrono::Duration::seconds(youngest as i64))
}

fn worker_age(facts: &Facts) -> Option<u64> {
    let master = facts.nginx.value()?.master.as_ref()?;
    facts
        .processes
        .value()?
        .iter()
        .filter(|p| master.workers.contains(&p.pid))
        .filter_map(|p| p.age_secs)
        .min()
}

fn finding(
    facts: &Facts,
    directive: Option<&str>,
    name: &str,
    named: &[&UpstreamAddr],
    x: &Stale,
) -> Finding {
    let now: Vec<&UpstreamAddr> = named
        .iter()
        .copied()
        .filter(|u| u.host.as_deref() == Some(name))
        .collect();
    let resolution: Option<&NameResolution> = facts
        .view
        .value()
        .and_then(|v| v.names.iter().find(|n| n.name == name));
    let now_list: Vec<&str> = now.iter().map(|u| u.address.as_str()).collect();
    let new_answers = now
        .iter()
        .filter_map(|u| facts.probe_of(&u.address))
        .any(|p| p.connected);
    let mut f = Finding::new(
        Cause::StaleResolution,
        Severity::Critical,
        if new_answers {
            Strength::Direct
        } else {
            Strength::Strong
        },
        format!(
            "nginx still connects to {}, the address `{name}` had when nginx loaded its \
             configuration; `{name}` now resolves to {}",
            x.old,
            now_list.join(", ")
        ),
    );
    let first = now[0];
    f = f.evidence(
        evidence::written_at(first),
        format!(
            "`{name}` ({} target) is resolved once, when nginx loads its configuration",
            directive.unwrap_or("upstream")
        ),
    );
    f = f.evidence(
        resolution.map_or("resolver", |r| r.source.as_str()),
        format!("`{name}` resolves now to {}", now_list.join(", ")),
    );
    let log = facts
        .error_log
        .value()
        .map(|w| w.file.clone())
        .unwrap_or_default();
    if let Some((cat, s)) = x.samples.last() {
        let when = s.time.as_ref().map_or("?", WallTime::as_str);
        f = f.evidence(
            format!("{log}:{}", s.line),
            format!(
                "nginx connected to {} ({cat}; {} line(s) of this kind in the window, last at {when}): {}",
                x.old, x.count, s.text
            ),
        );
    }
    if let Some(c) = x.conns.first() {
        let states: Vec<&str> = x.conns.iter().map(|c| c.state.as_str()).collect();
        f = f.evidence(
            "sock_diag (nginx's network namespace)",
            format!(
                "nginx worker (pid {}) holds {} connection(s) to {} now ({})",
                c.pid,
                x.conns.len(),
                x.old,
                states.join(", ")
            ),
        );
    }
    if let (Some(age), Some(m)) = (
        worker_age(facts),
        facts.nginx.value().and_then(|n| n.master.as_ref()),
    ) {
        let at = config_loaded_at(facts)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_else(|| "?".into());
        f = f.evidence(
            format!("/proc/{}", m.workers.first().copied().unwrap_or(m.pid)),
            format!(
                "nginx (master pid {}) last loaded its configuration {age} s ago ({at}): its \
                 workers started then; names were resolved then",
                m.pid
            ),
        );
    }
    if let Some(p) = now.iter().filter_map(|u| facts.probe_of(&u.address)).next() {
        f = f.evidence("probe", describe_probe(p));
    }
    let reload = match facts.nginx.value().and_then(|n| n.master.as_ref()) {
        Some(m) => crate::fixes::nginx::hup(m.pid),
        None => crate::fixes::nginx::test_and_reload(facts),
    };
    // nginx in a container: reload it the container's way.
    let container_reload = facts
        .view
        .value()
        .and_then(|v| v.nginx_container.as_ref())
        .map(crate::fixes::container::nginx_reload);
    let nameserver = facts
        .view
        .value()
        .and_then(|v| v.nameservers.first().cloned())
        .unwrap_or_else(|| "127.0.0.53".into());
    let port = first.socket_addr().map_or(80, |a| a.port());
    let var = format!(
        "upstream_{}",
        name.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect::<String>()
    );
    f.fix(Fix::review(
        "reload this nginx: it re-resolves every name (test the configuration first)",
        container_reload.unwrap_or_else(|| format!("{} && {reload}", test_command(facts))),
    ))
    .fix(Fix::review(
        format!(
            "lasting: let nginx re-resolve `{name}` at run time — a `resolver` plus a variable in \
             proxy_pass (the resolver asks DNS only, not /etc/hosts; a variable target loses \
             the upstream{{}} group's keepalive and balancing)"
        ),
        format!(
            "resolver {nameserver} valid=10s;  set ${var} {name};  proxy_pass http://${var}:{port};"
        ),
    ))
    .fix(Fix::review(
        "lasting, with an upstream{} group: the `resolve` parameter re-resolves in the background \
         (open-source nginx 1.27.3+, needs a shared-memory zone and a resolver)",
        format!(
            "upstream {var} {{ zone {var} 64k; server {name}:{port} resolve; }}  resolver {nameserver} valid=10s;"
        ),
    ))
}

/// `nginx -t` for this instance.
fn test_command(facts: &Facts) -> String {
    crate::fixes::nginx::control(facts).test().shown()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{ErrorLogWindow, Fact, LogCategoryCount, NginxMaster, ProcInfo, View};
    use crate::test_support::*;

    fn with_log(mut facts: Facts, upstream: &str, time: &str) -> Facts {
        facts.error_log = Fact::collected(ErrorLogWindow {
            file: "/var/log/nginx/error.log".into(),
            since: Some("2026/11/30 15:00:00".parse().unwrap()),
            lines_read: 10,
            categories: vec![LogCategoryCount {
                category: "upstream-unreachable".into(),
                count: 7,
                first_seen: Some(time.parse().unwrap()),
                last_seen: Some(time.parse().unwrap()),
                samples: vec![LogEvidence {
                    line: 42,
                    category: "upstream-unreachable".into(),
                    time: Some(time.parse().unwrap()),
                    upstream: Some(upstream.into()),
                    upstream_peer: Some(crate::logs::upstream_peer(upstream).into()),
                    upstream_addr: crate::logs::upstream_addr(upstream),
                    server: Some("shop.example.test".into()),
                    host: None,
                    text: "connect() failed (113: No route to host) while connecting to upstream"
                        .into(),
                }],
            }],
            ..Default::default()
        });
        facts
    }

    fn named(address: &str) -> Facts {
        let mut b = FactsBuilder::proxy(address);
        b.route_mut().upstreams[0].host = Some("app".into());
        let mut facts = b.probe_ok(address, 200, 3).build();
        facts.collected_at = Some(
            chrono::DateTime::parse_from_rfc3339("2026-11-30T16:00:00+00:00").expect("RFC 3339"),
        );
        facts.view = Fact::collected(View {
            names: vec![NameResolution {
                name: "app".into(),
                addresses: vec![address.split(':').next().unwrap().into()],
                source: "nginx's /etc/hosts (/proc/812/root/etc/hosts)".into(),
            }],
            nameservers: vec!["127.0.0.11".into()],
            ..Default::default()
        });
        if let Fact::Collected { value: n } = &mut facts.nginx {
            n.master = Some(NginxMaster {
                pid: 812,
                workers: vec![813],
                ..Default::default()
            });
        }
        facts.processes = Fact::collected(vec![ProcInfo {
            pid: 813,
            comm: "nginx".into(),
            age_secs: Some(3600),
            ..Default::default()
        }]);
        facts
    }

    #[test]
    fn old_address_in_the_error_log_is_stale() {
        let facts = with_log(
            named("172.18.0.7:3000"),
            "http://172.18.0.4:3000/",
            "2026/11/30 15:59:00",
        );
        let Verdict::Found(f) = StaleResolution.run(&facts) else {
            panic!("{:?}", StaleResolution.run(&facts))
        };
        assert_eq!(f[0].cause, Cause::StaleResolution);
        assert_eq!(f[0].strength, Strength::Direct);
        assert!(f[0].title.contains("172.18.0.4:3000"), "{}", f[0].title);
        assert!(f[0].title.contains("172.18.0.7:3000"), "{}", f[0].title);
        let ev: Vec<String> = f[0].evidence.iter().map(|e| e.source.clone()).collect();
        assert!(
            ev.iter().any(|s| s.contains("/proc/812/root/etc/hosts")),
            "{ev:?}"
        );
        assert!(
            ev.iter().any(|s| s == "/var/log/nginx/error.log:42"),
            "{ev:?}"
        );
        assert!(f[0].fixes[0].command.contains("kill -HUP 812"));
        assert!(f[0].fixes[1].command.contains("resolver 127.0.0.11"));
    }

    #[test]
    fn current_address_failing_is_not_stale() {
        let facts = with_log(
            named("172.18.0.7:3000"),
            "http://172.18.0.7:3000/",
            "2026/11/30 15:59:00",
        );
        assert!(matches!(StaleResolution.run(&facts), Verdict::Pass { .. }));
    }

    #[test]
    fn failures_before_the_last_reload_are_not_stale() {
        // Workers are an hour old (loaded 15:00); the failure was at 14:30.
        let facts = with_log(
            named("172.18.0.7:3000"),
            "http://172.18.0.4:3000/",
            "2026/11/30 14:30:00",
        );
        assert!(matches!(StaleResolution.run(&facts), Verdict::Pass { .. }));
    }

    /// No `upstream:` line yet, but a worker's SYN-SENT to the old address (as sock_diag
    /// reports it) is the address nginx uses.
    #[test]
    fn a_syn_sent_to_the_old_address_is_stale_without_the_log() {
        let mut facts = named("172.18.0.7:3000");
        facts.error_log = Fact::collected(ErrorLogWindow::default());
        if let Fact::Collected { value: v } = &mut facts.view {
            v.upstream_connections = vec![
                UpstreamConnection {
                    state: "ESTABLISHED".into(),
                    remote: "172.18.0.7:3000".parse().unwrap(),
                    pid: 813,
                },
                UpstreamConnection {
                    state: "SYN-SENT".into(),
                    remote: "172.18.0.4:3000".parse().unwrap(),
                    pid: 813,
                },
            ];
        }
        let Verdict::Found(f) = StaleResolution.run(&facts) else {
            panic!("{:?}", StaleResolution.run(&facts))
        };
        assert!(f[0].title.contains("172.18.0.4:3000"), "{}", f[0].title);
        let ev: Vec<String> = f[0].evidence.iter().map(|e| e.text.clone()).collect();
        assert!(ev.iter().any(|e| e.contains("SYN-SENT")), "{ev:?}");
        // Only connections to the current address: nothing stale.
        if let Fact::Collected { value: v } = &mut facts.view {
            v.upstream_connections.remove(1);
        }
        assert!(matches!(StaleResolution.run(&facts), Verdict::Pass { .. }));
    }

    #[test]
    fn literal_addresses_are_skipped() {
        let facts = FactsBuilder::proxy("127.0.0.1:3000").build();
        assert!(matches!(
            StaleResolution.run(&facts),
            Verdict::Skipped { .. }
        ));
    }
}
