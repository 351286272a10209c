//! Detects: `keepalive-race`.
//!
//! Why nginx returns 502: with `keepalive` in the `upstream {}` block nginx reuses idle
//! connections for up to its `keepalive_timeout` (60 s by default). An app that closes idle
//! connections sooner (Node's `server.keepAliveTimeout` 5 s, gunicorn `--keep-alive` 2 s,
//! uvicorn 5 s) sometimes closes one just as nginx sends a request on it: "recv() failed
//! (104: Connection reset by peer)" or "upstream prematurely closed connection", a rare,
//! steady trickle of 502s.
//!
//! Evidence used: the route's group `keepalive` and `keepalive_timeout` (file:line), the
//! probe's measurement of how long the app keeps an idle keep-alive connection open, and
//! reset / premature-close lines of the error log for this site.
//!
//! False positives avoided: without `keepalive` nginx opens a new connection per request
//! and there is no race; an app that kept the connection open for the whole measurement
//! is not accused.

use super::{Check, Finding, Fix, Severity, Strength, Verdict};
use crate::cause::Cause;
use crate::facts::Facts;

pub struct KeepaliveAlignment;

impl Check for KeepaliveAlignment {
    fn id(&self) -> &'static str {
        "keepalive-alignment"
    }

    fn causes(&self) -> &'static [Cause] {
        &[Cause::KeepaliveRace]
    }

    fn run(&self, facts: &Facts) -> Verdict {
        let route = match facts.route() {
            Ok(r) => r,
            Err(reason) => return Verdict::skipped(reason),
        };
        let Some(pool) = route.settings.keepalive else {
            return Verdict::skipped(
                "the upstream group keeps no idle connections (no `keepalive`): no race possible",
            );
        };
        let nginx_idle = route.settings.keepalive_timeout_s.unwrap_or(60.0);
        let measured: Vec<_> = facts
            .probes
            .iter()
            .filter(|p| p.idle_close_ms.is_some() || p.idle_open_after_ms.is_some())
            .collect();
        if measured.is_empty() {
            return Verdict::skipped("the app's idle keep-alive timeout could not be measured (no complete HTTP/1.1 answer with a length)");
        }
        let log_hits: u64 = facts
            .error_log
            .value()
            .map(|w| {
                w.categories
                    .iter()
                    .filter(|c| c.category == "connection-reset" || c.category == "premature-close")
                    .map(|c| c.count)
                    .sum()
            })
            .unwrap_or(0);
        let group_at = route
            .group_at
            .as_ref()
            .map(|g| g.to_string())
            .unwrap_or_default();
        let mut findings = Vec::new();
        for p in measured {
            let Some(app_ms) = p.idle_close_ms else {
                continue;
            };
            if app_ms >= nginx_idle * 1000.0 {
                continue;
            }
            let app_s = app_ms / 1000.0;
            let suggested = (app_s * 0.8).floor().max(1.0);
            let mut f = Finding::new(
                Cause::KeepaliveRace,
                if log_hits > 0 { Severity::Critical } else { Severity::Warning },
                if log_hits > 0 { Strength::Direct } else { Strength::Strong },
                format!("the app closes idle keep-alive connections after {app_s:.1}s, but nginx reuses them for up to {nginx_idle}s"),
            )
            .evidence(group_at.clone(), format!("upstream {} keeps {pool} idle connections, keepalive_timeout {nginx_idle}s", route.group.as_deref().unwrap_or("")))
            .evidence("probe", format!("{} closed an idle HTTP/1.1 connection {app_ms:.0} ms after its last response", p.address));
            if log_hits > 0 {
                f = f.evidence("error log", format!("{log_hits} connection reset / premature close line(s) for this site in the window"));
            }
            f = f
                .fix(Fix::review(
                    format!("make nginx drop idle connections first: in the upstream block at {group_at}"),
                    format!("keepalive_timeout {suggested}s;   # then: {}", crate::fixes::nginx::test_and_reload(facts)),
                ))
                .fix(Fix::review(
                    "or make the app keep idle connections longer than nginx's keepalive_timeout",
                    format!("Node: server.keepAliveTimeout = {0}; server.headersTimeout = {1} · gunicorn: --keep-alive {2} · uvicorn: --timeout-keep-alive {2}", (nginx_idle as u64 + 5) * 1000, (nginx_idle as u64 + 6) * 1000, nginx_idle as u64 + 5),
                ));
            findings.push(f);
        }
        if findings.is_empty() {
            Verdict::pass(format!("the app keeps idle connections at least as long as nginx ({nginx_idle}s) or longer than the measurement"))
        } else {
            Verdict::Found(findings)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::*;

    fn facts(idle_ms: Option<f64>, keepalive: Option<u32>) -> Facts {
        let mut b = FactsBuilder::proxy("127.0.0.1:3000").probe_ok("127.0.0.1:3000", 200, 5);
        b.route_mut().settings.keepalive = keepalive;
        b.route_mut().settings.keepalive_timeout_s = Some(60.0);
        b.route_mut().group = Some("app".into());
        b.0.probes[0].idle_close_ms = idle_ms;
        b.0.probes[0].idle_open_after_ms = if idle_ms.is_none() {
            Some(6000.0)
        } else {
            None
        };
        b.build()
    }

    #[test]
    fn app_closing_before_nginx_is_a_race() {
        let Verdict::Found(f) = KeepaliveAlignment.run(&facts(Some(5000.0), Some(16))) else {
            panic!()
        };
        assert!(f[0].title.contains("after 5.0s"));
        assert_eq!(f[0].severity, Severity::Warning, "no 502 seen yet");
        assert!(
            f[0].fixes[0].command.starts_with("keepalive_timeout 4s;"),
            "{}",
            f[0].fixes[0].command
        );
    }

    #[test]
    fn aligned_or_no_keepalive_passes_or_skips() {
        assert!(matches!(
            KeepaliveAlignment.run(&facts(None, Some(16))),
            Verdict::Pass { .. }
        ));
        assert!(matches!(
            KeepaliveAlignment.run(&facts(Some(5000.0), None)),
            Verdict::Skipped { .. }
        ));
    }
}
