//! Check `error-log-causes`: turns the classified error-log window of the site into
//! root-cause findings.
//!
//! **Detects**: upstream-down, socket-missing, socket-permission, selinux-denied,
//! pool-exhausted, ephemeral-ports, fd-exhaustion, upstream-timeout, premature-close,
//! keepalive-race, header-too-big, protocol-mismatch, no-live-upstreams, dns-resolution,
//! upstream-tls-verify —
//! each from the error-log category nginx's own message maps to.
//!
//! **Why nginx returns 502**: nginx logs the reason of every failed upstream attempt at
//! `error`/`crit` level before answering 502 (504 for timeouts); the message text and
//! errno number say which step failed (connect, TLS, reading the header).
//!
//! **Evidence used**: `facts.error_log` (the window `logs::read_window` filled, already
//! restricted to this site's server names and upstream addresses), its sample lines as
//! `file:line`, and `route.settings.keepalive` to tell a keep-alive race from a crash;
//! for upstream-tls-verify also `facts.upstream_tls` (the certificate's names and dates).
//!
//! **False positives avoided**: client-side events (499, client closed/timed out, body too
//! large, static `open()` failures) never become events; lines of other sites are counted
//! apart (`other_sites_events`) and ignored; `upstream server temporarily disabled` is not
//! a second event. Categories without a root cause of their own (no-route,
//! fastcgi-script-unknown — a 404, other-upstream) produce no finding here. Lines that
//! name an upstream of the route are Direct evidence; the rest are Strong.
//! This check never reads the host or the clock.

use std::collections::BTreeMap;

use crate::cause::Cause;
use crate::checks::{Check, Finding, Severity, Strength, Verdict};
use crate::facts::{ErrorLogWindow, Facts, LogCategoryCount, Route, WallTime};
use crate::logs::line::Category;

pub struct ErrorLogCauses;

const CAUSES: &[Cause] = &[
    Cause::UpstreamDown,
    Cause::SocketMissing,
    Cause::SocketPermission,
    Cause::SelinuxDenied,
    Cause::PoolExhausted,
    Cause::EphemeralPorts,
    Cause::FdExhaustion,
    Cause::UpstreamTimeout,
    Cause::PrematureClose,
    Cause::KeepaliveRace,
    Cause::HeaderTooBig,
    Cause::ProtocolMismatch,
    Cause::NoLiveUpstreams,
    Cause::DnsResolution,
    Cause::UpstreamTlsVerify,
];

/// The root cause an error-log category shows, if it has one (declared with the category
/// in `logs/line.rs`); a reset on a keep-alive upstream is the keep-alive race.
pub fn cause_of(category: &str, keepalive: bool) -> Option<Cause> {
    let c = Category::from_id(category)?;
    if keepalive && c == Category::ConnectionReset {
        return Some(Cause::KeepaliveRace);
    }
    c.cause()
}

fn title(cause: Cause, count: u64, since: Option<&str>) -> String {
    let when = since.map(|s| format!(" since {s}")).unwrap_or_default();
    let what = match cause {
        Cause::UpstreamDown => "nginx's connections to the upstream were refused",
        Cause::SocketMissing => "the upstream unix socket does not exist",
        Cause::SocketPermission => "nginx may not connect to the upstream unix socket",
        Cause::SelinuxDenied => "nginx's TCP connect to the upstream was denied (errno 13)",
        Cause::PoolExhausted => "the upstream's listen backlog was full",
        Cause::EphemeralPorts => "nginx ran out of local ports for upstream connections",
        Cause::FdExhaustion => "nginx ran out of file descriptors",
        Cause::UpstreamTimeout => "the upstream timed out",
        Cause::PrematureClose => "the upstream closed connections mid-request",
        Cause::KeepaliveRace => "the upstream reset reused keep-alive connections",
        Cause::HeaderTooBig => "the upstream's response headers did not fit nginx's buffer",
        Cause::ProtocolMismatch => "nginx and the upstream speak different protocols",
        Cause::NoLiveUpstreams => "every server of the upstream group was marked failed",
        Cause::DnsResolution => "nginx could not resolve the upstream host name",
        Cause::UpstreamTlsVerify => "nginx rejected the upstream's TLS certificate",
        _ => "upstream failures in the error log",
    };
    format!("{what} ({count} error-log line(s){when})")
}

fn finding(
    facts: &Facts,
    w: &ErrorLogWindow,
    cause: Cause,
    cats: &[&LogCategoryCount],
    route_upstreams: &[crate::facts::UpstreamAddr],
) -> Finding {
    let count: u64 = cats.iter().map(|c| c.count).sum();
    let samples: Vec<_> = cats.iter().flat_map(|c| c.samples.iter()).collect();
    let names_route = samples
        .iter()
        .any(|s| route_upstreams.iter().any(|u| s.names_upstream(u)));
    let strength = if names_route || route_upstreams.is_empty() && !samples.is_empty() {
        Strength::Direct
    } else {
        Strength::Strong
    };
    let severity = if cause == Cause::NoLiveUpstreams {
        Severity::Warning
    } else {
        Severity::Critical
    };
    let mut f = Finding::new(
        cause,
        severity,
        strength,
        title(cause, count, w.since.as_ref().map(WallTime::as_str)),
    );
    for s in samples.iter().take(3) {
        f = f.evidence(format!("{}:{}", w.file, s.line), s.text.clone());
    }
    // The certificate nginx rejected, as a direct connection read it: its names and dates.
    if cause == Cause::UpstreamTlsVerify {
        f.evidence
            .extend(super::upstream_tls_certificate::certificate_evidence(facts));
    }
    let up = samples
        .iter()
        .find_map(|s| s.upstream_peer.clone())
        .unwrap_or_default();
    for fix in crate::fixes::log_causes::fixes(facts, cause, &up) {
        f = f.fix(fix);
    }
    f
}

/// "no live upstreams" is the end of a chain: each server failed `max_fails` times within
/// `fail_timeout` and was disabled. Adds that chain to the finding: the disabled notes per
/// server and the limits in effect, where the group is defined. The failures themselves
/// are findings of their own (refused → upstream-down, …), which rank explains this by.
fn trace_back(mut f: Finding, w: &ErrorLogWindow, r: &Route) -> Finding {
    for d in &w.disabled {
        f = f.evidence(
            format!("{}:{}", w.file, d.first_line),
            format!(
                "nginx marked {} failed {} time(s) (\"upstream server temporarily disabled\"), first at {}",
                d.upstream,
                d.count,
                d.first_seen.as_ref().map_or("?", WallTime::as_str)
            ),
        );
    }
    if let (Some(g), Some(at)) = (&r.group, &r.group_at) {
        let servers: Vec<String> = r
            .upstreams
            .iter()
            .map(|u| {
                let param = |name: &str, default: &str| {
                    u.params
                        .iter()
                        .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
                        .map_or(format!("{name}={default} (default)"), |v| {
                            format!("{name}={v}")
                        })
                };
                format!(
                    "{} {} {}",
                    u.host.as_deref().unwrap_or(&u.address),
                    param("max_fails", "1"),
                    param("fail_timeout", "10s")
                )
            })
            .collect();
        f = f.evidence(
            at.to_string(),
            format!(
                "upstream {g}: a server is skipped after max_fails failures within fail_timeout, for fail_timeout: {}",
                servers.join("; ")
            ),
        );
    }
    f
}

impl Check for ErrorLogCauses {
    fn id(&self) -> &'static str {
        "error-log-causes"
    }

    fn causes(&self) -> &'static [Cause] {
        CAUSES
    }

    fn run(&self, facts: &Facts) -> Verdict {
        let w = match facts.error_log.get() {
            Ok(w) => w,
            Err(reason) => return Verdict::skipped(format!("error log unavailable: {reason}")),
        };
        let route = facts.nginx.value().and_then(|n| n.route.as_ref());
        let keepalive = route.is_some_and(|r| r.settings.keepalive.is_some());
        let route_upstreams: &[crate::facts::UpstreamAddr] = route.map_or(&[], |r| &r.upstreams);
        let mut by_cause: BTreeMap<Cause, Vec<&LogCategoryCount>> = BTreeMap::new();
        for c in &w.categories {
            if c.count == 0 {
                continue;
            }
            if let Some(cause) = cause_of(&c.category, keepalive) {
                by_cause.entry(cause).or_default().push(c);
            }
        }
        if by_cause.is_empty() {
            let total: u64 = w.categories.iter().map(|c| c.count).sum();
            return Verdict::pass(format!(
                "{} line(s) read from {}: no upstream failure with a root cause of its own ({total} other event(s), {} of other sites)",
                w.lines_read, w.file, w.other_sites_events
            ));
        }
        let findings = by_cause
            .into_iter()
            .map(|(cause, cats)| {
                let f = finding(facts, w, cause, &cats, route_upstreams);
                match (cause, route) {
                    (Cause::NoLiveUpstreams, Some(r)) => trace_back(f, w, r),
                    _ => f,
                }
            })
            .collect();
        Verdict::Found(findings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{
        Fact, LogEvidence, NginxFacts, RequestSpec, Route, SocketKind, UpstreamAddr,
    };

    fn cat(category: &str, count: u64, upstream: &str, line: u64) -> LogCategoryCount {
        LogCategoryCount {
            category: category.into(),
            count,
            first_seen: Some("2026-11-22T10:00:01".parse().unwrap()),
            last_seen: Some("2026-11-22T10:04:00".parse().unwrap()),
            samples: vec![LogEvidence {
                line,
                category: category.into(),
                time: Some("2026-11-22T10:00:01".parse().unwrap()),
                upstream: Some(upstream.into()),
                upstream_peer: Some(crate::logs::upstream_peer(upstream).into()),
                upstream_addr: crate::logs::upstream_addr(upstream),
                server: Some("shop.example.com".into()),
                host: Some("shop.example.com".into()),
                text: format!("connect() failed \u{1b}[31m line {line}"),
            }],
        }
    }

    fn facts(cats: Vec<LogCategoryCount>, keepalive: Option<u32>) -> Facts {
        let mut f = Facts::new(RequestSpec {
            site: "shop.example.com".into(),
            path: "/".into(),
            ..Default::default()
        });
        f.error_log = Fact::collected(ErrorLogWindow {
            file: "/var/log/nginx/error.log".into(),
            since: Some("2026-11-22T09:50:00".parse().unwrap()),
            lines_read: 100,
            categories: cats,
            other_sites_events: 4,
            ..Default::default()
        });
        let mut route = Route::default();
        route.settings.keepalive = keepalive;
        route.upstreams.push(UpstreamAddr {
            address: "127.0.0.1:3000".into(),
            kind: SocketKind::Tcp,
            host: None,
            file: "/etc/nginx/sites-enabled/shop".into(),
            line: 3,
            params: vec![],
            php_fpm_version: None,
        });
        f.nginx = Fact::collected(NginxFacts {
            route: Some(route),
            ..Default::default()
        });
        f
    }

    fn found(v: Verdict) -> Vec<Finding> {
        match v {
            Verdict::Found(f) => f,
            other => panic!("expected findings, got {other:?}"),
        }
    }

    #[test]
    fn skipped_without_the_log() {
        let f = Facts::new(RequestSpec::default());
        assert!(matches!(ErrorLogCauses.run(&f), Verdict::Skipped { .. }));
    }

    #[test]
    fn passes_without_events() {
        let v = ErrorLogCauses.run(&facts(vec![], None));
        assert!(matches!(v, Verdict::Pass { .. }), "{v:?}");
        // A category without a root cause of its own is not a finding either.
        let v = ErrorLogCauses.run(&facts(
            vec![cat("no-route", 2, "http://10.0.0.9:80", 4)],
            None,
        ));
        assert!(matches!(v, Verdict::Pass { .. }), "{v:?}");
    }

    #[test]
    fn refused_naming_the_route_upstream_is_direct() {
        let f = found(ErrorLogCauses.run(&facts(
            vec![cat("upstream-refused", 12, "http://127.0.0.1:3000", 1832)],
            None,
        )));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].cause, Cause::UpstreamDown);
        assert_eq!(f[0].strength, Strength::Direct);
        assert_eq!(f[0].severity, Severity::Critical);
        assert!(f[0]
            .title
            .contains("12 error-log line(s) since 2026-11-22T09:50:00"));
        assert_eq!(f[0].evidence[0].source, "/var/log/nginx/error.log:1832");
        // Evidence carries the bytes as logged: escaping is the human renderer's job.
        assert_eq!(f[0].evidence[0].text, "connect() failed \x1b[31m line 1832");
    }

    #[test]
    fn other_upstream_is_strong_and_timeouts_merge() {
        let f = found(ErrorLogCauses.run(&facts(
            vec![
                cat("read-timeout", 3, "http://10.9.9.9:8080", 10),
                cat("connect-timeout", 2, "http://10.9.9.9:8080", 20),
            ],
            None,
        )));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].cause, Cause::UpstreamTimeout);
        assert_eq!(f[0].strength, Strength::Strong);
        assert!(f[0].title.contains("5 error-log line(s)"));
        assert_eq!(f[0].evidence.len(), 2);
    }

    #[test]
    fn reset_is_keepalive_race_only_with_keepalive() {
        let c = || vec![cat("connection-reset", 1, "http://127.0.0.1:3000", 5)];
        assert_eq!(
            found(ErrorLogCauses.run(&facts(c(), Some(32))))[0].cause,
            Cause::KeepaliveRace
        );
        assert_eq!(
            found(ErrorLogCauses.run(&facts(c(), None)))[0].cause,
            Cause::PrematureClose
        );
    }

    #[test]
    fn every_category_maps_as_documented() {
        let want = [
            ("upstream-refused", Some(Cause::UpstreamDown)),
            ("socket-missing", Some(Cause::SocketMissing)),
            ("socket-permission", Some(Cause::SocketPermission)),
            ("permission-denied-tcp", Some(Cause::SelinuxDenied)),
            ("backlog-full", Some(Cause::PoolExhausted)),
            ("ephemeral-ports", Some(Cause::EphemeralPorts)),
            ("fd-exhaustion", Some(Cause::FdExhaustion)),
            ("no-route", None),
            ("connect-timeout", Some(Cause::UpstreamTimeout)),
            ("read-timeout", Some(Cause::UpstreamTimeout)),
            ("premature-close", Some(Cause::PrematureClose)),
            ("connection-reset", Some(Cause::PrematureClose)),
            ("broken-pipe", Some(Cause::PrematureClose)),
            ("header-too-big", Some(Cause::HeaderTooBig)),
            ("invalid-header", Some(Cause::ProtocolMismatch)),
            ("ssl-handshake", Some(Cause::ProtocolMismatch)),
            ("no-live-upstreams", Some(Cause::NoLiveUpstreams)),
            ("dns-resolution", Some(Cause::DnsResolution)),
            ("fastcgi-script-unknown", None),
            ("ssl-verify", Some(Cause::UpstreamTlsVerify)),
            ("other-upstream", None),
        ];
        assert_eq!(want.len(), crate::logs::line::Category::ALL.len());
        for (id, cause) in want {
            assert!(crate::logs::line::Category::from_id(id).is_some(), "{id}");
            assert_eq!(cause_of(id, false), cause, "{id}");
            if let Some(c) = cause {
                assert!(CAUSES.contains(&c), "{id}");
            }
        }
    }
}
