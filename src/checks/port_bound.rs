//! Detects: `upstream-down`.
//!
//! Why nginx returns 502: nginx's connect() to the upstream address fails with
//! ECONNREFUSED (111) because no process listens there: the app is stopped, crashed or was
//! killed. nginx logs `connect() failed (111: Connection refused) while connecting to
//! upstream` and answers 502.
//!
//! Evidence used: the route's TCP upstream addresses (file:line), the listening sockets of
//! /proc/net/tcp and tcp6, and the direct probe's connect() result.
//!
//! False positives avoided: an upstream marked `down` in its group is ignored; a listener
//! on the wildcard address (or `[::]`, which accepts IPv4 on Linux) counts as listening;
//! when /proc cannot be read, only a refused probe is taken as evidence. Unix sockets are
//! the job of `socket-missing`.

use super::util::{self, accepting, describe_probe, probe_of};
use super::{Check, Finding, Fix, Severity, Strength, Verdict};
use crate::cause::Cause;
use crate::facts::{Facts, SocketKind};

pub struct PortBound;

impl Check for PortBound {
    fn id(&self) -> &'static str {
        "port-bound"
    }

    fn causes(&self) -> &'static [Cause] {
        &[Cause::UpstreamDown]
    }

    fn run(&self, facts: &Facts) -> Verdict {
        let upstreams = match util::active_upstreams(facts) {
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
        let listeners = facts.listeners.value();
        let mut down = Vec::new();
        for u in &tcp {
            let Ok(addr) = u.address.parse() else {
                continue;
            };
            let probe = probe_of(facts, &u.address);
            let refused = probe.and_then(|p| p.error.as_ref()).and_then(|e| e.errno)
                == Some(libc::ECONNREFUSED);
            let listening = listeners.map(|l| !accepting(l, &addr).is_empty());
            match (listening, refused) {
                (Some(false), _) | (None, true) => down.push((u, probe, refused)),
                _ => {}
            }
        }
        if down.is_empty() {
            let detail = match listeners {
                Some(_) => format!(
                    "something listens at every upstream address ({})",
                    tcp.len()
                ),
                None => "every probe connected (listeners not readable)".to_string(),
            };
            return Verdict::pass(detail);
        }
        let all = down.len() == tcp.len();
        let addresses: Vec<&str> = down.iter().map(|(u, _, _)| u.address.as_str()).collect();
        let title = if all && down.len() == 1 {
            format!(
                "nothing listens on {}: the upstream app is not running",
                addresses[0]
            )
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
        let any_refused = down.iter().any(|(_, _, r)| *r);
        let mut f = Finding::new(
            Cause::UpstreamDown,
            if all {
                Severity::Critical
            } else {
                Severity::Warning
            },
            if any_refused {
                Strength::Direct
            } else {
                Strength::Strong
            },
            title,
        );
        let route = util::route(facts).ok();
        for (u, probe, _) in &down {
            let directive = route
                .and_then(|r| r.directive.as_deref())
                .unwrap_or("proxy_pass");
            let how = if u.file.is_empty() {
                String::new()
            } else {
                format!(" ({directive} target)")
            };
            f = f.evidence(
                util::written_at(u),
                format!("nginx sends requests to {}{how}", u.address),
            );
            if listeners.is_some() {
                let family = if u.kind == SocketKind::Tcp6 {
                    "/proc/net/tcp6"
                } else {
                    "/proc/net/tcp"
                };
                f = f.evidence(family, format!("no socket listens on {}", u.address));
            }
            if let Some(p) = probe {
                f = f.evidence("probe", describe_probe(p));
            }
        }
        let first = down[0].0;
        let port = first.address.rsplit(':').next().unwrap_or("");
        f = f
            .fix(Fix::safe(
                format!("confirm nothing listens on port {port}, and see what does listen"),
                format!("sudo ss -ltnp 'sport = :{port}'; sudo ss -ltnp"),
            ))
            .fix(Fix::safe(
                "find the app's service and why it stopped",
                "systemctl list-units --type=service --state=failed --no-pager; sudo journalctl -p err --since -1h --no-pager | tail -n 50",
            ))
            .fix(Fix::review(
                "start the app (its unit name is in the list above), then check it answers as nginx asks",
                format!("sudo systemctl start <app>.service && {}", util::curl_command(facts, &first.address)),
            ));
        Verdict::Found(vec![f])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::util::test_facts::*;

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
    fn no_route_is_skipped_with_the_reason() {
        let facts = FactsBuilder::no_route("no server block matches").build();
        let Verdict::Skipped { reason } = PortBound.run(&facts) else {
            panic!()
        };
        assert!(reason.contains("no server block matches"), "{reason}");
    }
}
