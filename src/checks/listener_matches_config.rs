//! Detects: `port-mismatch`.
//!
//! Why nginx returns 502: the app is running, but on another port or interface than the
//! one nginx's `proxy_pass` (or `upstream` server) names, so nginx's connect() is refused.
//! Typical after a deploy changed `PORT`, or an app that binds a LAN address only.
//!
//! Evidence used: the route's upstream address (file:line), /proc/net/tcp and tcp6
//! listeners with their owning processes (command line, PORT-like environment), the
//! addresses nginx itself listens on, and the addresses other server blocks target.
//!
//! False positives avoided: never nginx's own sockets, never a listener another server
//! block of the same config targets, never well-known non-HTTP daemons (sshd, databases,
//! DNS); a same-port listener of the other address family is `address-family-mismatch`.
//! The confidence says how sure the match is: a same-port listener on another interface or
//! a process named after the site is near-certain; "the only unclaimed app listener" is not.

use crate::facts::accepting;
use std::net::SocketAddr;

use super::evidence::{self, describe_process};
use super::{Check, Finding, Fix, Severity, Strength, Verdict};
use crate::cause::Cause;
use crate::facts::{Facts, Listener, ProcInfo, SocketKind, UpstreamAddr};

pub struct ListenerMatchesConfig;

/// Ports of well-known non-HTTP services.
const NOT_HTTP_PORTS: &[u16] = &[
    22, 25, 53, 111, 465, 587, 631, 993, 995, 2379, 3306, 5432, 6379, 11211, 27017,
];

/// Words too common in host names to say anything about a process.
const STOP_WORDS: &[&str] = &[
    "www",
    "com",
    "net",
    "org",
    "example",
    "test",
    "local",
    "localhost",
    "http",
    "https",
    "the",
    "app",
];

struct Candidate<'a> {
    listener: &'a Listener,
    process: Option<&'a ProcInfo>,
    score: f64,
    reasons: Vec<String>,
}

impl Check for ListenerMatchesConfig {
    fn id(&self) -> &'static str {
        "listener-matches-config"
    }

    fn causes(&self) -> &'static [Cause] {
        &[Cause::PortMismatch]
    }

    fn run(&self, facts: &Facts) -> Verdict {
        let upstreams = match facts.active_upstreams() {
            Ok(u) => u,
            Err(reason) => return Verdict::skipped(reason),
        };
        if let Err(reason) = facts.listeners.get() {
            return Verdict::skipped(reason);
        }
        let processes: &[ProcInfo] = facts.processes.value().map(Vec::as_slice).unwrap_or(&[]);
        let mut findings = Vec::new();
        let mut unmatched = 0;
        for u in upstreams.iter().filter(|u| u.kind != SocketKind::Unix) {
            let Some(target) = u.socket_addr() else {
                continue;
            };
            // A remote address's listeners are not visible: nothing to compare with.
            let Some(listeners) = facts.listeners_at(&target) else {
                continue;
            };
            if !accepting(listeners, &target).is_empty() {
                continue;
            }
            unmatched += 1;
            if let Some(c) = best_candidate(facts, &target, listeners, processes) {
                findings.push(finding(facts, u, &c));
            }
        }
        if findings.is_empty() {
            return Verdict::pass(if unmatched == 0 {
                "every upstream address has a listener".to_string()
            } else {
                format!("no running app looks like the one meant for {unmatched} unanswered upstream address(es)")
            });
        }
        Verdict::Found(findings)
    }
}

fn best_candidate<'a>(
    facts: &'a Facts,
    target: &SocketAddr,
    listeners: &'a [Listener],
    processes: &'a [ProcInfo],
) -> Option<Candidate<'a>> {
    let nginx = facts.nginx.value();
    let nginx_pids: Vec<u32> = nginx
        .and_then(|n| n.master.as_ref())
        .map(|m| {
            std::iter::once(m.pid)
                .chain(m.workers.iter().copied())
                .collect()
        })
        .unwrap_or_default();
    let nginx_ports: Vec<u16> = nginx.map(|n| n.listen_ports.clone()).unwrap_or_default();
    let claimed: Vec<SocketAddr> = nginx
        .map(|n| {
            n.other_targets
                .iter()
                .filter_map(|t| t.address.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let tokens = name_tokens(facts);

    let mut candidates: Vec<Candidate> = listeners
        .iter()
        .filter(|l| l.kind != SocketKind::Unix)
        .filter_map(|l| {
            let addr = l.socket_addr()?;
            let process = l
                .pid
                .and_then(|pid| processes.iter().find(|p| p.pid == pid));
            // nginx's own sockets and well-known non-HTTP daemons: decided from the
            // process name at gather time.
            let role = process.and_then(|p| p.role).or(l.role);
            let is_nginx = l.pid.is_some_and(|p| nginx_pids.contains(&p));
            let excluded = is_nginx
                || role.is_some()
                || nginx_ports.contains(&addr.port())
                || NOT_HTTP_PORTS.contains(&addr.port())
                || claimed.iter().any(|c| l.accepts(c))
                // Same port, other family: that is address-family-mismatch's finding.
                || (addr.port() == target.port() && addr.is_ipv4() != target.is_ipv4());
            (!excluded).then(|| Candidate {
                listener: l,
                process,
                score: 0.1,
                reasons: Vec::new(),
            })
        })
        .collect();
    let unique = candidates.len() == 1;
    for c in &mut candidates {
        let Some(addr) = c.listener.socket_addr() else {
            continue;
        };
        if addr.port() == target.port() {
            c.score += 0.8;
            c.reasons.push(format!(
                "it listens on port {} but on {}, not on {}",
                addr.port(),
                addr.ip(),
                target.ip()
            ));
        }
        let text = c
            .process
            .map(|p| format!("{} {} {}", p.comm, p.cmdline, p.env_ports.join(" ")))
            .unwrap_or_else(|| c.listener.process.clone().unwrap_or_default())
            .to_ascii_lowercase();
        if let Some(t) = tokens.iter().find(|t| text.contains(t.as_str())) {
            c.score += 0.5;
            c.reasons.push(format!("its command line names \"{t}\""));
        }
        let target_port = target.port();
        if c.process.is_some_and(|p| {
            p.env_port_numbers.contains(&target_port) || p.args.ports.contains(&target_port)
        }) {
            c.score += 0.25;
            c.reasons
                .push(format!("its settings name port {target_port}"));
        } else if c
            .process
            .is_some_and(|p| !p.env_ports.is_empty() || p.args.names_listen)
        {
            c.score += 0.15;
            c.reasons
                .push("its arguments or environment name a listen port".into());
        }
        // "The only app listener" says something only about a process we can see is an
        // application; an owner hidden from us (run as root) could be anything.
        if unique && c.process.is_some() {
            c.score += 0.4;
            c.reasons
                .push("it is the only application listener no server block uses".into());
        }
        if addr.port().abs_diff(target.port()) <= 10 && addr.port() != target.port() {
            c.score += 0.1;
            c.reasons.push(format!(
                "its port {} is next to {}",
                addr.port(),
                target.port()
            ));
        }
    }
    candidates
        .into_iter()
        .filter(|c| c.score >= 0.45)
        .max_by(|a, b| a.score.total_cmp(&b.score))
}

/// Words from the site name, the upstream group and the location that an app's command
/// line may contain (`shop.example.com` → "shop").
fn name_tokens(facts: &Facts) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let route = facts.route().ok();
    let sources = [
        Some(facts.request.site.as_str()),
        route.and_then(|r| r.group.as_deref()),
        route
            .and_then(|r| r.location.as_ref())
            .map(|l| l.pattern.as_str()),
    ];
    for s in sources.into_iter().flatten() {
        for w in s.split(|c: char| !c.is_ascii_alphanumeric()) {
            let w = w.to_ascii_lowercase();
            if w.len() >= 3
                && !STOP_WORDS.contains(&w.as_str())
                && !w.chars().all(|c| c.is_ascii_digit())
                && !words.contains(&w)
            {
                words.push(w);
            }
        }
    }
    // The TLD of the site is never telling.
    if let Some(tld) = facts.request.site.rsplit('.').next() {
        words.retain(|w| w != tld || !facts.request.site.contains('.'));
    }
    words
}

fn finding(facts: &Facts, u: &UpstreamAddr, c: &Candidate) -> Finding {
    let l = c.listener;
    let addr = l.socket_addr().expect("candidate has an address");
    // A wildcard listener is reached through loopback, like the original target.
    let reach = if addr.ip().is_unspecified() {
        let ip = if u.kind == SocketKind::Tcp6 && addr.is_ipv6() {
            "[::1]"
        } else {
            "127.0.0.1"
        };
        format!("{ip}:{}", addr.port())
    } else {
        l.address.clone()
    };
    let who = c
        .process
        .map(describe_process)
        .or_else(|| l.process.clone())
        .unwrap_or_else(|| "a process whose owner is not visible (run as root)".into());
    let title = if addr.port() == u.socket_addr().map_or(0, |a| a.port()) {
        format!(
            "the app listens on {} but nginx targets {}",
            l.address, u.address
        )
    } else {
        format!(
            "the app listens on port {} but nginx targets {}",
            addr.port(),
            u.address
        )
    };
    let family = if l.kind == SocketKind::Tcp6 {
        "/proc/net/tcp6"
    } else {
        "/proc/net/tcp"
    };
    // A guess below 0.6 is worth showing, not worth paging on.
    let severity = if c.score >= 0.6 {
        Severity::Critical
    } else {
        Severity::Warning
    };
    let mut f = Finding::new(
        Cause::PortMismatch,
        severity,
        Strength::Circumstantial,
        title,
    )
    .confidence((c.score).min(0.95))
    .evidence(
        evidence::written_at(u),
        format!("nginx targets {}", u.address),
    )
    .evidence(
        family,
        format!(
            "nothing listens on {}; {} listens on {}",
            u.address, who, l.address
        ),
    )
    .evidence("why this process", c.reasons.join("; "));
    if let Some(p) = facts.probe_of(&u.address) {
        f = f.evidence("probe", evidence::describe_probe(p));
    }
    f.fix(Fix::planned(
        format!(
            "point nginx at {reach} (edit {}:{}) and reload",
            u.file, u.line
        ),
        crate::fixes::nginx::control(facts).edit_plan(vec![crate::fixes::LineEdit::replace(
            &u.file,
            u.line,
            &evidence::as_written(u),
            &reach,
        )]),
    ))
    .fix(Fix::review(
        format!(
            "or make the app listen on {} again (its PORT/bind setting) and restart it",
            u.address
        ),
        crate::fixes::inspect::listener_on_port(addr.port()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::*;

    #[test]
    fn app_named_after_the_site_on_another_port() {
        let facts = FactsBuilder::proxy("127.0.0.1:3000")
            .listen_cmd(
                SocketKind::Tcp,
                "127.0.0.1:3001",
                "node",
                "node /srv/shop/server.js",
            )
            .listen(SocketKind::Tcp, "127.0.0.1:9000", "python3")
            .build();
        let Verdict::Found(f) = ListenerMatchesConfig.run(&facts) else {
            panic!("expected a finding")
        };
        assert_eq!(f[0].cause, Cause::PortMismatch);
        assert!(f[0].title.contains("port 3001"), "{}", f[0].title);
        assert!(f[0].confidence.unwrap() >= 0.5);
        let fix = &f[0].fixes[0].command;
        assert!(fix.starts_with("sudo sed -i '6s#127\\.0\\.0\\.1:3000#127.0.0.1:3001#' /etc/nginx/sites-enabled/shop"), "{fix}");
        assert!(
            fix.ends_with("sudo nginx -t && sudo nginx -s reload"),
            "{fix}"
        );
    }

    #[test]
    fn the_only_unclaimed_listener_is_a_candidate_with_lower_confidence() {
        let facts = FactsBuilder::proxy("127.0.0.1:3000")
            .listen(SocketKind::Tcp, "0.0.0.0:8080", "java")
            .build();
        let Verdict::Found(f) = ListenerMatchesConfig.run(&facts) else {
            panic!()
        };
        let c = f[0].confidence.unwrap();
        assert!((0.45..0.6).contains(&c), "{c}");
        assert_eq!(f[0].severity, Severity::Warning, "a guess is not critical");
        assert!(f[0].fixes[0].command.contains("127.0.0.1:8080"));
    }

    /// Flags read at gather time (`AppArgs::ports`, `names_listen`) raise the confidence:
    /// naming the target port more than naming some listen address, which is more than none.
    #[test]
    fn listen_flags_raise_the_confidence() {
        let confidence = |cmd: &str| {
            let facts = FactsBuilder::proxy("127.0.0.1:3000")
                .listen_cmd(SocketKind::Tcp, "0.0.0.0:8080", "java", cmd)
                .build();
            let Verdict::Found(f) = ListenerMatchesConfig.run(&facts) else {
                panic!("{cmd}")
            };
            f[0].confidence.unwrap()
        };
        let none = confidence("java -jar app.jar");
        let some = confidence("java -jar app.jar --bind 0.0.0.0:8080");
        let target = confidence("java -jar app.jar --port=3000");
        assert!(none < some && some < target, "{none} {some} {target}");
        assert_eq!(confidence("java -jar app.jar --port 3000"), target);
    }

    #[test]
    fn never_nginx_never_claimed_never_databases() {
        let facts = FactsBuilder::proxy("127.0.0.1:3000")
            .listen(SocketKind::Tcp, "127.0.0.1:5432", "postgres")
            .listen(SocketKind::Tcp, "127.0.0.1:4000", "node")
            .other_target("127.0.0.1:4000")
            .build();
        assert!(matches!(
            ListenerMatchesConfig.run(&facts),
            Verdict::Pass { .. }
        ));
    }

    #[test]
    fn same_port_other_interface_is_near_certain() {
        let facts = FactsBuilder::proxy("127.0.0.1:3000")
            .listen(SocketKind::Tcp, "10.1.2.3:3000", "gunicorn")
            .build();
        let Verdict::Found(f) = ListenerMatchesConfig.run(&facts) else {
            panic!()
        };
        assert!(f[0].confidence.unwrap() >= 0.9);
        assert!(f[0].title.contains("10.1.2.3:3000"));
    }

    #[test]
    fn other_family_same_port_is_left_to_address_family_check() {
        let facts = FactsBuilder::proxy("127.0.0.1:3000")
            .listen(SocketKind::Tcp6, "[::1]:3000", "node")
            .build();
        assert!(matches!(
            ListenerMatchesConfig.run(&facts),
            Verdict::Pass { .. }
        ));
    }

    #[test]
    fn a_listener_whose_owner_is_hidden_is_not_a_guess_on_uniqueness_alone() {
        let mut facts = FactsBuilder::proxy("127.0.0.1:3000").build();
        if let crate::facts::Fact::Collected { value } = &mut facts.listeners {
            value.push(crate::facts::Listener {
                kind: SocketKind::Tcp,
                address: "0.0.0.0:2024".into(),
                port: Some(2024),
                inode: 77,
                pid: None,
                process: None,
                role: None,
                accept_queue: None,
            });
        }
        assert!(matches!(
            ListenerMatchesConfig.run(&facts),
            Verdict::Pass { .. }
        ));
    }

    #[test]
    fn unreadable_listeners_skip() {
        let mut facts = FactsBuilder::proxy("127.0.0.1:3000").build();
        facts.listeners = crate::facts::Fact::unavailable("/proc/net", "not mounted");
        assert!(matches!(
            ListenerMatchesConfig.run(&facts),
            Verdict::Skipped { .. }
        ));
    }
}
