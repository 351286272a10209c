//! Check `connect-timeout`: a probe could not connect to an upstream that exists.
//!
//! Detects: `pool-exhausted` when the probe's connect() to a local listener timed out and
//! that listener's accept queue holds connections the app has not accepted (its listen
//! backlog is full); `upstream-timeout` when the connect() timed out otherwise (the app
//! listens but does not complete connections, or a remote upstream does not answer).
//!
//! Why nginx returns 502: a listener whose app stops calling accept() keeps completed
//! connections in its accept queue; once the queue holds backlog + 1 of them the kernel
//! drops new SYNs, nginx's connect() waits until proxy_connect_timeout and fails with
//! "upstream timed out (110: Connection timed out) while connecting to upstream" (504), or
//! nginx gives up on every server of the group and answers 502. Nothing is in the error
//! log before the first request fails, so only the probe and the queue show it.
//!
//! Evidence used: the direct probe (`connect()` failed with errno 110 / timed out), the
//! route's upstream addresses (file:line), /proc/net/tcp's `rx_queue` of the listener
//! (the accept queue of a LISTEN socket) and its owner.
//!
//! False positives avoided: a refused connect is `upstream-down`'s (nothing listens); an
//! address nothing listens on locally is left to `port-bound` unless it is not a local
//! address at all; a probe that connected is never a connect timeout.
//!
//! See: docs/causes/pool-exhausted.md, docs/causes/upstream-timeout.md.

use super::evidence::{self, describe_probe};
use super::{Check, Finding, Fix, Severity, Strength, Verdict};
use crate::cause::Cause;
use crate::facts::accepting;
use crate::facts::{Facts, Listener, ProbePhase, ProbeResult, SocketKind};

pub struct ConnectTimeout;

/// Whether a probe ended with its connect() timing out.
fn connect_timed_out(p: &ProbeResult) -> bool {
    !p.connected
        && p.phase == ProbePhase::Connect
        && p.error
            .as_ref()
            .is_some_and(|e| e.errno == Some(libc::ETIMEDOUT) || e.message.contains("timed out"))
}

impl Check for ConnectTimeout {
    fn id(&self) -> &'static str {
        "connect-timeout"
    }

    fn causes(&self) -> &'static [Cause] {
        &[Cause::PoolExhausted, Cause::UpstreamTimeout]
    }

    fn run(&self, facts: &Facts) -> Verdict {
        let upstreams = match facts.active_upstreams() {
            Ok(u) => u,
            Err(reason) => return Verdict::skipped(reason),
        };
        let probed: Vec<_> = upstreams
            .iter()
            .filter_map(|u| facts.probe_of(&u.address).map(|p| (*u, p)))
            .collect();
        if probed.is_empty() {
            return Verdict::skipped("no upstream address was probed");
        }
        let listeners = facts.listeners.value();
        let mut findings = Vec::new();
        for (u, p) in probed.iter().filter(|(_, p)| connect_timed_out(p)) {
            let found: Vec<&Listener> = match (u.kind, listeners) {
                (SocketKind::Unix, Some(ls)) => {
                    let path = u.address.strip_prefix("unix:").unwrap_or(&u.address);
                    ls.iter()
                        .filter(|l| l.kind == SocketKind::Unix && l.address == path)
                        .collect()
                }
                (_, Some(ls)) => u
                    .address
                    .parse()
                    .map(|a| accepting(ls, &a))
                    .unwrap_or_default(),
                (_, None) => Vec::new(),
            };
            let local =
                u.socket_addr().is_some_and(|a| a.ip().is_loopback()) || u.kind == SocketKind::Unix;
            if found.is_empty() && local && listeners.is_some() {
                // Nothing listens: `port-bound` / `socket-missing` report it.
                continue;
            }
            let queued = found.iter().filter_map(|l| l.accept_queue).max();
            let owner = found
                .iter()
                .find_map(|l| match (&l.process, l.pid) {
                    (Some(c), Some(pid)) => Some(format!("{c} (pid {pid})")),
                    _ => None,
                })
                .unwrap_or_else(|| "the app".to_string());
            let mut f = match queued {
                Some(q) if q > 0 => Finding::new(
                    Cause::PoolExhausted,
                    Severity::Critical,
                    Strength::Direct,
                    format!(
                        "the listen queue of {} is full: {owner} does not accept connections \
                         ({q} wait), new ones time out",
                        u.address
                    ),
                )
                .evidence(
                    if u.kind == SocketKind::Tcp6 {
                        "/proc/net/tcp6"
                    } else {
                        "/proc/net/tcp"
                    },
                    format!(
                        "{q} connection(s) wait in the accept queue of {} (rx_queue of the \
                         LISTEN socket)",
                        found[0].address
                    ),
                ),
                _ if !found.is_empty() => Finding::new(
                    Cause::UpstreamTimeout,
                    Severity::Critical,
                    Strength::Strong,
                    format!(
                        "connect() to {} times out although {owner} listens there",
                        u.address
                    ),
                ),
                _ => Finding::new(
                    Cause::UpstreamTimeout,
                    Severity::Critical,
                    Strength::Strong,
                    format!("connect() to {} times out", u.address),
                ),
            };
            let directive = facts
                .route()
                .ok()
                .and_then(|r| r.directive.as_deref())
                .unwrap_or("proxy_pass");
            f = f
                .evidence(
                    evidence::written_at(u),
                    format!("nginx sends requests to {} ({directive} target)", u.address),
                )
                .evidence("probe", describe_probe(p));
            let pid = found.iter().find_map(|l| l.pid);
            f = match (f.cause, pid) {
                (Cause::PoolExhausted, Some(pid)) => f.fix(Fix::safe(
                    "see what the app's threads are doing (it stopped accepting)",
                    crate::fixes::inspect::threads_of(pid),
                )),
                _ => f,
            };
            f = f.fix(Fix::review(
                "restart the app if it is stuck, then raise its worker count or listen backlog",
                crate::fixes::app::owner(facts).restart_shown(),
            ));
            findings.push(f);
        }
        if findings.is_empty() {
            Verdict::pass(format!(
                "no connect() to the {} probed upstream address(es) timed out",
                probed.len()
            ))
        } else {
            Verdict::Found(findings)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{Fact, OsError};
    use crate::test_support::*;

    fn timed_out(address: &str, queue: Option<u32>) -> Facts {
        let mut b = FactsBuilder::proxy(address)
            .listen(SocketKind::Tcp, address, "python3")
            .probe_refused(address);
        let p = b.0.probes.last_mut().unwrap();
        p.error = Some(OsError {
            errno: Some(libc::ETIMEDOUT),
            message: "connect timed out after 1s".into(),
        });
        if let Fact::Collected { value } = &mut b.0.listeners {
            for l in value.iter_mut().filter(|l| l.address == address) {
                l.accept_queue = queue;
            }
        }
        b.build()
    }

    #[test]
    fn a_timed_out_connect_to_a_full_queue_is_pool_exhausted() {
        let Verdict::Found(f) = ConnectTimeout.run(&timed_out("127.0.0.1:3000", Some(2))) else {
            panic!("no finding")
        };
        assert_eq!(f[0].cause, Cause::PoolExhausted);
        assert!(f[0].title.contains("python3"), "{}", f[0].title);
    }

    #[test]
    fn a_timed_out_connect_with_an_empty_queue_is_an_upstream_timeout() {
        let Verdict::Found(f) = ConnectTimeout.run(&timed_out("127.0.0.1:3000", Some(0))) else {
            panic!("no finding")
        };
        assert_eq!(f[0].cause, Cause::UpstreamTimeout);
    }

    #[test]
    fn a_refused_or_successful_probe_is_not_a_connect_timeout() {
        let refused = FactsBuilder::proxy("127.0.0.1:3000")
            .probe_refused("127.0.0.1:3000")
            .build();
        assert!(matches!(ConnectTimeout.run(&refused), Verdict::Pass { .. }));
        let ok = FactsBuilder::proxy("127.0.0.1:3000")
            .listen(SocketKind::Tcp, "127.0.0.1:3000", "node")
            .probe_ok("127.0.0.1:3000", 200, 3)
            .build();
        assert!(matches!(ConnectTimeout.run(&ok), Verdict::Pass { .. }));
    }
}
