//! Detects: `address-family-mismatch`.
//!
//! Why nginx returns 502: nginx connects over IPv4 (`127.0.0.1`) while the app listens on
//! IPv6 only (`[::1]`), or the reverse; or `localhost` resolves to both `::1` and
//! `127.0.0.1`, nginx makes each a server of the group, and the app listens on one only.
//! The refused family logs `connect() failed (111: Connection refused)`; with `localhost`
//! the failures are intermittent and mark the dead address failed (max_fails).
//!
//! Evidence used: the route's upstream addresses with the host name as written (file:line),
//! and the listeners of /proc/net/tcp and /proc/net/tcp6 on the same port.
//!
//! False positives avoided: `[::]` without IPV6_V6ONLY accepts IPv4 on Linux and counts
//! as listening for both; a listener on another port is `port-mismatch`'s.

use super::evidence;
use crate::facts::accepting;
use std::net::SocketAddr;

use super::{Check, Finding, Fix, Severity, Strength, Verdict};
use crate::cause::Cause;
use crate::facts::{Facts, Listener, SocketKind, UpstreamAddr};

pub struct AddressFamily;

impl Check for AddressFamily {
    fn id(&self) -> &'static str {
        "address-family"
    }

    fn causes(&self) -> &'static [Cause] {
        &[Cause::AddressFamilyMismatch]
    }

    fn run(&self, facts: &Facts) -> Verdict {
        let upstreams = match facts.active_upstreams() {
            Ok(u) => u,
            Err(reason) => return Verdict::skipped(reason),
        };
        if let Err(reason) = facts.listeners.get() {
            return Verdict::skipped(reason);
        }
        // Only addresses whose namespace's listeners are visible (not remote ones).
        let tcp: Vec<(&UpstreamAddr, SocketAddr, &[Listener])> = upstreams
            .iter()
            .filter(|u| u.kind != SocketKind::Unix)
            .filter_map(|u| {
                let a: SocketAddr = u.address.parse().ok()?;
                Some((*u, a, facts.listeners_at(&a)?))
            })
            .collect();
        let mut mismatched: Vec<(&UpstreamAddr, &Listener)> = Vec::new();
        for (u, target, listeners) in &tcp {
            if !accepting(listeners, target).is_empty() {
                continue;
            }
            if let Some(l) = other_family_listener(listeners, target) {
                mismatched.push((u, l));
            }
        }
        if mismatched.is_empty() {
            return Verdict::pass("no upstream address is refused for its address family");
        }
        let all_fail = tcp.iter().all(|(_, t, l)| accepting(l, t).is_empty());
        let mut findings = Vec::new();
        for (u, l) in mismatched {
            let target_family = if u.kind == SocketKind::Tcp6 {
                "IPv6"
            } else {
                "IPv4"
            };
            let app_family = if l.kind == SocketKind::Tcp6 {
                "IPv6"
            } else {
                "IPv4"
            };
            let via_name = u
                .host
                .as_deref()
                .map(|h| format!(" (`{h}` resolves to it)"))
                .unwrap_or_default();
            let title = format!(
                "the app listens on {} ({app_family} only) but nginx connects to {}{via_name}",
                l.address, u.address
            );
            let listener_addr = l.socket_addr().expect("tcp listener");
            let reach = if listener_addr.ip().is_unspecified() {
                if l.kind == SocketKind::Tcp6 {
                    format!("[::1]:{}", listener_addr.port())
                } else {
                    format!("127.0.0.1:{}", listener_addr.port())
                }
            } else {
                l.address.clone()
            };
            let family_file = if l.kind == SocketKind::Tcp6 {
                "/proc/net/tcp6"
            } else {
                "/proc/net/tcp"
            };
            let owner = l
                .process
                .as_deref()
                .map(|p| format!("{p} (pid {})", l.pid.unwrap_or(0)))
                .unwrap_or_else(|| "a process".into());
            let mut f = Finding::new(
                Cause::AddressFamilyMismatch,
                if all_fail {
                    Severity::Critical
                } else {
                    Severity::Warning
                },
                Strength::Strong,
                title,
            )
            .confidence(0.9)
            .evidence(
                evidence::written_at(u),
                format!(
                    "nginx connects to {} over {target_family}{via_name}",
                    u.address
                ),
            )
            .evidence(
                family_file,
                format!("{owner} listens on {} only", l.address),
            );
            if let Some(p) = facts.probe_of(&u.address) {
                f = f.evidence("probe", evidence::describe_probe(p));
            }
            if !all_fail {
                f = f.evidence(
                    "consequence",
                    "requests to this address fail and nginx retries the other address: slow requests, \
                     errors in the log, and 502s once max_fails marks servers failed",
                );
            }
            f = f
                .fix(Fix::planned(
                    format!("make nginx connect to {reach} explicitly (edit {}:{}) and reload", u.file, u.line),
                    crate::fixes::nginx::control(facts).edit_plan(vec![crate::fixes::LineEdit::replace(&u.file, u.line, &evidence::as_written(u), &reach)]),
                ))
                .fix(Fix::review(
                    "or make the app listen on both families (bind `::` — dual-stack on Linux — instead of a single loopback address), then restart it",
                    crate::fixes::inspect::listener_on_port(listener_addr.port()),
                ));
            findings.push(f);
        }
        Verdict::Found(findings)
    }
}

/// A listener on the target's port that only the other address family reaches.
fn other_family_listener<'a>(
    listeners: &'a [Listener],
    target: &SocketAddr,
) -> Option<&'a Listener> {
    listeners.iter().find(|l| {
        let Some(a) = l.socket_addr() else {
            return false;
        };
        a.port() == target.port()
            && a.is_ipv4() != target.is_ipv4()
            && (a.ip().is_loopback() || a.ip().is_unspecified())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::*;

    #[test]
    fn app_on_ipv6_loopback_only_while_nginx_uses_ipv4() {
        let facts = FactsBuilder::proxy("127.0.0.1:3000")
            .listen(SocketKind::Tcp6, "[::1]:3000", "node")
            .probe_refused("127.0.0.1:3000")
            .build();
        let Verdict::Found(f) = AddressFamily.run(&facts) else {
            panic!("expected a finding")
        };
        assert_eq!(f[0].severity, Severity::Critical);
        assert!(
            f[0].title.contains("[::1]:3000 (IPv6 only)"),
            "{}",
            f[0].title
        );
        assert!(
            f[0].fixes[0]
                .command
                .contains("6s#127\\.0\\.0\\.1:3000#[::1]:3000#"),
            "{}",
            f[0].fixes[0].command
        );
    }

    #[test]
    fn localhost_resolving_to_both_with_app_on_ipv4_only_is_a_warning() {
        let facts = FactsBuilder::proxy("[::1]:3000")
            .also_upstream("127.0.0.1:3000")
            .host("localhost")
            .listen(SocketKind::Tcp, "127.0.0.1:3000", "node")
            .build();
        let Verdict::Found(f) = AddressFamily.run(&facts) else {
            panic!()
        };
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Warning);
        assert!(f[0].title.contains("`localhost` resolves to it"));
        assert!(
            f[0].fixes[0]
                .command
                .contains("6s#localhost:3000#127.0.0.1:3000#"),
            "{}",
            f[0].fixes[0].command
        );
    }

    #[test]
    fn dual_stack_wildcard_is_fine() {
        let facts = FactsBuilder::proxy("127.0.0.1:3000")
            .listen(SocketKind::Tcp6, "[::]:3000", "node")
            .build();
        assert!(matches!(AddressFamily.run(&facts), Verdict::Pass { .. }));
    }

    #[test]
    fn ipv4_wildcard_does_not_serve_ipv6_target() {
        let facts = FactsBuilder::proxy("[::1]:3000")
            .listen(SocketKind::Tcp, "0.0.0.0:3000", "node")
            .build();
        let Verdict::Found(f) = AddressFamily.run(&facts) else {
            panic!()
        };
        assert!(f[0].fixes[0].command.contains("127.0.0.1:3000"));
    }
}
