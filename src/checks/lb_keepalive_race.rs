//! Check `lb-keepalive-race`: a load balancer in front of nginx reuses idle connections
//! that nginx has already closed.
//!
//! Detects: nginx's `keepalive_timeout` (75 s by default) at or below the balancer's idle
//! timeout — stated with `--lb-idle-timeout`, or AWS ALB's documented default of 60 s,
//! assumed only when the access log shows AWS's `ELB-HealthChecker` (the finding says
//! which). `client_header_timeout` is shown in the timeout table but not blamed: balancers
//! open backend connections to send a request at once.
//!
//! Why nginx returns 502: it does not — the balancer does. nginx closes an idle
//! keep-alive connection at its `keepalive_timeout`; a balancer that keeps connections
//! longer sends the next request on it just as it closes, gets a reset or EOF, and answers
//! the client with its own 502 (ALB: `elb_status_code` 502 with `target_status_code` `-`).
//! nginx's logs show nothing, or `client prematurely closed connection` at info.
//!
//! Evidence used: `facts.balancer` (stated idle timeout, health-check user agents and
//! counts, `X-Forwarded-For` chains, `real_ip` settings, `client_header_timeout`) and the
//! route's effective `keepalive_timeout` with where it is set.
//!
//! False positives avoided: no balancer idle timeout is ever guessed without a sign of
//! the balancer (only ALB's default, only with its health checker in the log);
//! `keepalive_timeout 0` closes every connection with `Connection: close`, which the
//! balancer honours, so there is no race.

use super::{Check, Finding, Fix, Severity, Strength, TimeoutRow, Verdict};
use crate::cause::Cause;
use crate::facts::{BalancerFacts, Facts};

pub struct LbKeepaliveRace;

/// ALB's default idle timeout (AWS: "The default idle timeout is 60 seconds").
pub const ALB_DEFAULT_IDLE_S: f64 = 60.0;

/// The balancer's idle timeout and what it rests on.
pub fn balancer_idle(b: &BalancerFacts) -> Option<(f64, String, bool)> {
    if let Some(v) = b.stated_idle_timeout_s {
        return Some((v, "--lb-idle-timeout".into(), true));
    }
    let aws = b.health_checkers.iter().find(|h| h.balancer == "aws")?;
    Some((
        ALB_DEFAULT_IDLE_S,
        format!("assumed: AWS ALB's default idle timeout ({} in the access log); state the real one with --lb-idle-timeout", aws.agent),
        false,
    ))
}

/// Whether a balancer in front of nginx is known (stated or seen).
pub fn balancer_known(facts: &Facts) -> bool {
    facts.balancer.value().is_some_and(|b| {
        b.stated_idle_timeout_s.is_some()
            || !b.health_checkers.is_empty()
            || !b.real_ip.is_empty()
            || b.forwarded_requests > 0
    })
}

fn secs(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// What shows a balancer is there, as evidence lines.
fn signs(b: &BalancerFacts) -> Vec<(String, String)> {
    let file = b.access_file.clone().unwrap_or_else(|| "access log".into());
    let mut out = Vec::new();
    for h in &b.health_checkers {
        let st: Vec<String> = h
            .statuses
            .iter()
            .take(4)
            .map(|(s, n)| format!("{n} × {s}"))
            .collect();
        out.push((
            file.clone(),
            format!(
                "{} health checks from {} ({}) on {}: {}",
                h.requests,
                h.agent,
                h.balancer,
                h.path.as_deref().unwrap_or("?"),
                st.join(", ")
            ),
        ));
    }
    if b.forwarded_requests > 0 {
        out.push((
            file,
            format!(
                "{} of {} request(s) carry X-Forwarded-For (up to {} address(es))",
                b.forwarded_requests, b.requests, b.longest_chain
            ),
        ));
    }
    for r in &b.real_ip {
        out.push((r.at.to_string(), format!("{} {}", r.directive, r.value)));
    }
    out
}

impl Check for LbKeepaliveRace {
    fn id(&self) -> &'static str {
        "lb-keepalive-race"
    }

    fn causes(&self) -> &'static [Cause] {
        &[Cause::LbKeepaliveRace]
    }

    fn run(&self, facts: &Facts) -> Verdict {
        let b = match facts.balancer.get() {
            Ok(b) => b,
            Err(e) => return Verdict::skipped(e),
        };
        let r = match facts.route() {
            Ok(r) => r,
            Err(e) => return Verdict::skipped(e),
        };
        let Some((idle, basis, stated)) = balancer_idle(b) else {
            let gcp = b.health_checkers.iter().any(|h| h.balancer == "gcp");
            return Verdict::skipped(if gcp {
                "GoogleHC health checks seen: a GCP Application Load Balancer keeps backend connections 600 s; pass --lb-idle-timeout 600s if it is one"
            } else if balancer_known(facts) {
                "a balancer is in front (see the access log) but its idle timeout is unknown: pass --lb-idle-timeout (AWS ALB default 60s)"
            } else {
                "no load balancer seen in front of nginx (pass --lb-idle-timeout if there is one)"
            });
        };
        let ka = r.settings.client_keepalive_timeout_s.unwrap_or(75.0);
        let ka_at = r
            .settings
            .set_at
            .iter()
            .find(|(n, _)| n == "keepalive_timeout")
            .map_or("nginx default".to_string(), |(_, at)| at.to_string());
        if ka == 0.0 {
            return Verdict::pass(format!("keepalive_timeout 0 ({ka_at}): nginx closes every connection with Connection: close, so the balancer never reuses one"));
        }
        if ka > idle {
            return Verdict::pass(format!(
                "nginx keeps idle connections {} s (keepalive_timeout), longer than the balancer's {} s ({basis})",
                secs(ka),
                secs(idle)
            ));
        }
        let mut f = Finding::new(
            Cause::LbKeepaliveRace,
            Severity::Warning,
            if stated { Strength::Strong } else { Strength::Circumstantial },
            format!(
                "nginx closes idle connections before the load balancer does (keepalive_timeout {} s ≤ the balancer's {} s idle timeout): the balancer answers 502 on the ones it reuses",
                secs(ka),
                secs(idle)
            ),
        )
        .evidence(basis.clone(), format!("the balancer keeps idle connections {} s", secs(idle)));
        f = f.evidence(
            ka_at.clone(),
            format!(
                "keepalive_timeout {} s: nginx closes an idle client connection then",
                secs(ka)
            ),
        );
        for (s, t) in signs(b) {
            f = f.evidence(s, t);
        }
        let want = idle + 5.0;
        let lines = [format!("keepalive_timeout {}s;", secs(want))];
        f = f.fix(Fix::review(
            format!(
                "keep connections open longer than the balancer: in the server block at {}:{} (or http), then: {}",
                r.server.file,
                r.server.line,
                crate::fixes::nginx::test_and_reload(facts)
            ),
            lines.join("\n"),
        ));
        if !stated {
            f = f.fix(Fix::safe(
                "read the balancer's real idle timeout (AWS)",
                crate::fixes::balancer::aws_idle_timeout(),
            ));
        }
        Verdict::Found(vec![f])
    }
}

/// The balancer's own row of the timeout table, and `client_header_timeout`, when a
/// balancer is known (the other rows of the hop are the client rows, renamed).
pub fn timeout_rows(facts: &Facts) -> Vec<TimeoutRow> {
    let Some(b) = facts.balancer.value() else {
        return Vec::new();
    };
    if !balancer_known(facts) {
        return Vec::new();
    }
    let mut rows = Vec::new();
    if let Some((idle, basis, _)) = balancer_idle(b) {
        rows.push(TimeoutRow {
            hop: "load balancer → nginx",
            setting: "balancer idle timeout".into(),
            seconds: Some(idle),
            source: if basis.starts_with("assumed") {
                "assumed: AWS ALB default".into()
            } else {
                basis
            },
        });
    }
    rows.push(TimeoutRow {
        hop: "load balancer → nginx",
        setting: "client_header_timeout".into(),
        seconds: Some(b.client_header_timeout_s),
        source: b
            .client_header_timeout_at
            .as_ref()
            .map_or("nginx default".to_string(), |a| a.to_string()),
    });
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{Fact, HealthChecker};
    use crate::test_support::*;

    fn facts(ka: f64, stated: Option<f64>, elb: bool) -> Facts {
        let mut b = FactsBuilder::proxy("127.0.0.1:3000");
        b.route_mut().settings.client_keepalive_timeout_s = Some(ka);
        let mut f = b.build();
        f.balancer = Fact::collected(BalancerFacts {
            stated_idle_timeout_s: stated,
            client_header_timeout_s: 60.0,
            health_checkers: if elb {
                vec![HealthChecker {
                    agent: "ELB-HealthChecker/2.0".into(),
                    balancer: "aws".into(),
                    requests: 10,
                    path: Some("/health".into()),
                    statuses: vec![(200, 10)],
                    ..Default::default()
                }]
            } else {
                vec![]
            },
            ..Default::default()
        });
        f
    }

    #[test]
    fn stated_idle_timeout_above_keepalive_is_the_race() {
        let Verdict::Found(f) = LbKeepaliveRace.run(&facts(5.0, Some(60.0), false)) else {
            panic!()
        };
        assert_eq!(f[0].strength, Strength::Strong);
        assert!(
            f[0].fixes[0].command.contains("keepalive_timeout 65s;"),
            "{}",
            f[0].fixes[0].command
        );
    }

    #[test]
    fn alb_default_is_assumed_only_with_its_health_checker() {
        assert!(matches!(
            LbKeepaliveRace.run(&facts(5.0, None, false)),
            Verdict::Skipped { .. }
        ));
        let Verdict::Found(f) = LbKeepaliveRace.run(&facts(5.0, None, true)) else {
            panic!()
        };
        assert!(
            f[0].evidence[0].source.starts_with("assumed"),
            "{:?}",
            f[0].evidence
        );
        assert_eq!(f[0].strength, Strength::Circumstantial);
    }

    #[test]
    fn longer_keepalive_or_none_passes() {
        assert!(matches!(
            LbKeepaliveRace.run(&facts(75.0, Some(60.0), false)),
            Verdict::Pass { .. }
        ));
        assert!(matches!(
            LbKeepaliveRace.run(&facts(0.0, Some(60.0), false)),
            Verdict::Pass { .. }
        ));
    }
}
