//! Check `health-check-path`: a load balancer's health checks fail on nginx.
//!
//! Detects: health checks recognised by their user agent (`ELB-HealthChecker/2.0`,
//! `GoogleHC/1.0`, `kube-probe`, Azure's and Cloudflare's monitors) answered 4xx/5xx in the
//! access log; their path is routed by nginx's rules and its upstream probed directly, like
//! any request, to say why: nothing listens (`upstream-down`), the app answers 5xx itself
//! (`upstream-502`), the app does not answer in time (`upstream-timeout`).
//!
//! Why nginx returns 502: the balancer marks nginx unhealthy and answers 502/503 itself
//! ("no healthy targets"), or nginx answers the check with 502/504 because the route behind
//! the health-check path is broken while the site's other paths work.
//!
//! Evidence used: `facts.balancer.health_checkers` (agent, counts, statuses, the first
//! failing access-log line) and `facts.balancer.health_probe` (the path's location, target
//! and direct probes).
//!
//! False positives avoided: only failing health checks are looked at, and a finding is
//! made only from the direct probe of the path's own upstream; a check failing with a 4xx
//! that nginx itself answers (no location, access rules) is reported as the check's detail,
//! since no upstream cause explains it.

use super::evidence::describe_probe;
use super::{Check, Finding, Fix, Severity, Strength, Verdict};
use crate::cause::Cause;
use crate::facts::{Facts, ProbePhase};

pub struct HealthCheckPath;

impl Check for HealthCheckPath {
    fn id(&self) -> &'static str {
        "health-check-path"
    }

    fn causes(&self) -> &'static [Cause] {
        &[
            Cause::UpstreamDown,
            Cause::Upstream502,
            Cause::UpstreamTimeout,
        ]
    }

    fn run(&self, facts: &Facts) -> Verdict {
        let b = match facts.balancer.get() {
            Ok(b) => b,
            Err(e) => return Verdict::skipped(e),
        };
        if b.health_checkers.is_empty() {
            return Verdict::skipped("no load-balancer health checks in the access log");
        }
        let Some(hc) = b.health_checkers.iter().find(|h| h.failures > 0) else {
            let n: u64 = b.health_checkers.iter().map(|h| h.requests).sum();
            return Verdict::pass(format!(
                "{n} health check(s) in the access log, none failed"
            ));
        };
        let path = hc.path.as_deref().unwrap_or("?");
        let statuses: Vec<String> = hc
            .statuses
            .iter()
            .take(4)
            .map(|(s, n)| format!("{n} × {s}"))
            .collect();
        let seen = format!(
            "{} of {} health checks from {} on {} failed ({})",
            hc.failures,
            hc.requests,
            hc.agent,
            path,
            statuses.join(", ")
        );
        let Some(hp) = &b.health_probe else {
            return Verdict::skipped(format!("{seen}; the path was not probed"));
        };
        let mut found = Vec::new();
        for p in &hp.probes {
            let (cause, severity, what) = if !p.connected {
                (
                    Cause::UpstreamDown,
                    Severity::Critical,
                    "nothing accepts its connection",
                )
            } else if p.status.is_some_and(|s| s >= 500) {
                (
                    Cause::Upstream502,
                    Severity::Critical,
                    "the app answers it with a server error itself",
                )
            } else if p.phase == ProbePhase::ReadHeader && p.error.is_none() {
                (
                    Cause::UpstreamTimeout,
                    Severity::Warning,
                    "the app does not answer in time",
                )
            } else {
                continue;
            };
            let mut f = Finding::new(
                cause,
                severity,
                Strength::Direct,
                format!(
                    "the load balancer's health checks on {path} fail: {what} at {}",
                    p.address
                ),
            )
            .evidence(
                b.access_file.clone().unwrap_or_else(|| "access log".into()),
                seen.clone(),
            );
            if let Some((line, status, req)) = &hc.failing_sample {
                f = f.evidence(
                    format!(
                        "{}:{line}",
                        b.access_file.as_deref().unwrap_or("access log")
                    ),
                    format!("{status} {req} ({})", hc.agent),
                );
            }
            f = f
                .evidence("route", format!("{path} → {} → {}", hp.location, hp.target.as_deref().unwrap_or("no upstream")))
                .evidence("probe", describe_probe(p))
                .fix(Fix::safe(
                    "diagnose the health-check path itself (the balancer keeps answering 502/503 until it passes)",
                    format!("badgw diagnose --site {} --path {path}", facts.request.site),
                ));
            found.push(f);
        }
        if found.is_empty() {
            let answered: Vec<String> = hp.probes.iter().map(describe_probe).collect();
            return Verdict::skipped(format!(
                "{seen}; {path} is served by {} and its upstream answers ({}): nginx itself refuses the check — fix the location or the balancer's health-check path (no upstream cause)",
                hp.location,
                if answered.is_empty() { "no upstream".to_string() } else { answered.join("; ") }
            ));
        }
        Verdict::Found(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{BalancerFacts, Fact, HealthChecker, HealthProbe};
    use crate::test_support::*;

    fn facts(failures: u64, probe: Option<crate::facts::ProbeResult>) -> Facts {
        let mut f = FactsBuilder::proxy("127.0.0.1:3000").build();
        f.balancer = Fact::collected(BalancerFacts {
            health_checkers: vec![HealthChecker {
                agent: "ELB-HealthChecker/2.0".into(),
                balancer: "aws".into(),
                requests: 10,
                failures,
                path: Some("/health".into()),
                statuses: vec![(502, failures)],
                failing_sample: Some((7, 502, "GET /health HTTP/1.1".into())),
            }],
            health_probe: probe.map(|p| HealthProbe {
                path: "/health".into(),
                location: "location /health at nginx.conf:9".into(),
                target: Some("http://127.0.0.1:3001".into()),
                probes: vec![p],
            }),
            ..Default::default()
        });
        f
    }

    #[test]
    fn a_refused_health_check_upstream_is_upstream_down() {
        let refused = FactsBuilder::proxy("127.0.0.1:3001")
            .probe_refused("127.0.0.1:3001")
            .build()
            .probes[0]
            .clone();
        let Verdict::Found(f) = HealthCheckPath.run(&facts(3, Some(refused))) else {
            panic!()
        };
        assert_eq!(f[0].cause, Cause::UpstreamDown);
        assert!(f[0].evidence.iter().any(|e| e.source.ends_with(":7")));
    }

    #[test]
    fn passing_checks_pass_and_a_healthy_upstream_is_not_blamed() {
        assert!(matches!(
            HealthCheckPath.run(&facts(0, None)),
            Verdict::Pass { .. }
        ));
        let ok = FactsBuilder::proxy("127.0.0.1:3001")
            .probe_ok("127.0.0.1:3001", 200, 3)
            .build()
            .probes[0]
            .clone();
        assert!(matches!(
            HealthCheckPath.run(&facts(3, Some(ok))),
            Verdict::Skipped { .. }
        ));
    }
}
