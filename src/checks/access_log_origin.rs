//! Check `access-log-origin`: the app answers 502/503/504 itself, and nginx passes it on.
//!
//! Detects: access-log lines of the site with status 502/504 (or 503) whose
//! `$upstream_header_time` is a number (a response header came from the app) or whose
//! `$upstream_bytes_received` is above zero: the app made the answer, not nginx.
//!
//! Why nginx returns 502: it passes on the app's own answer — the app (or a proxy behind
//! it: a second nginx, a load balancer, a PHP framework's error page) returned 502 itself.
//! nginx's error log is silent for such answers — nothing failed between nginx and the
//! app — so every runbook that starts with `tail error.log` comes up empty. Only the access
//! log's upstream variables tell.
//!
//! Evidence used: `facts.access_log` (read with the server's own `log_format`), the
//! per-minute 502/504 counts, and `facts.error_log` to show the error log's silence.
//!
//! False positives avoided: a 502 with `$upstream_status` 502 but no header time is nginx's
//! own (nginx records 502 there after a failed connect); when the format lacks upstream
//! variables, the origin is reported unknown with the log_format change that reveals it.
//!
//! See: docs/causes/upstream-502.md.

use super::{Check, Finding, Fix, Severity, Strength, Verdict};
use crate::cause::Cause;
use crate::facts::{AccessLogWindow, AccessSample, AnswerOrigin, Facts};

pub struct AccessLogOrigin;

impl Check for AccessLogOrigin {
    fn id(&self) -> &'static str {
        "access-log-origin"
    }

    fn causes(&self) -> &'static [Cause] {
        &[Cause::Upstream502]
    }

    fn run(&self, facts: &Facts) -> Verdict {
        let w = match facts.access_log.get() {
            Ok(w) => w,
            Err(reason) => return Verdict::skipped(format!("no access log: {reason}")),
        };
        let bad = w.nginx_502 + w.nginx_504 + w.upstream_5xx + w.unknown_origin;
        if w.upstream_5xx == 0 {
            let origin = if w.unknown_origin > 0 && !w.has_upstream_fields {
                format!(
                    "; {} of them of unknown origin: log_format {} has no $upstream_status/$upstream_header_time",
                    w.unknown_origin, w.format
                )
            } else {
                String::new()
            };
            return Verdict::pass(format!(
                "{} request(s) in {} since {}: {} 502 and {} 504 made by nginx, none passed through from the app{origin}",
                w.requests,
                w.file,
                w.since.as_ref().map_or("the start", |t| t.as_str()),
                w.nginx_502,
                w.nginx_504
            ));
        }
        let severity = if w.upstream_5xx * 2 >= bad {
            Severity::Critical
        } else {
            Severity::Warning
        };
        let mut f = Finding::new(
            Cause::Upstream502,
            severity,
            Strength::Direct,
            format!(
                "the app itself answered 5xx {} time(s) since {} (of {} 502/504 answers; {} request(s) in all): nginx only passed them on",
                w.upstream_5xx,
                w.since.as_ref().map_or("the start", |t| t.as_str()),
                bad,
                w.requests
            ),
        );
        let from_app: Vec<&AccessSample> = w
            .samples
            .iter()
            .filter(|s| s.origin == AnswerOrigin::Upstream)
            .collect();
        for s in from_app.iter().take(3) {
            f = f.evidence(format!("{}:{}", w.file, s.line), describe(s));
        }
        if let Some(m) = minute_line(w) {
            f = f.evidence("per minute", m);
        }
        let error_lines: u64 = facts
            .error_log
            .value()
            .map(|e| e.categories.iter().map(|c| c.count).sum())
            .unwrap_or(0);
        if let (Some(e), 0) = (facts.error_log.value(), error_lines) {
            f = f.evidence(
                e.file.clone(),
                "no upstream failure logged in the same window: nginx's error log is silent when the app answers 5xx itself",
            );
        }
        let upstream = from_app.iter().find_map(|s| s.last_upstream.clone());
        let rid = from_app.iter().find_map(|s| s.request_id.clone());
        f = f.fix(Fix::safe(
            "find the failing requests in the app's own log (by request id where logged)",
            match rid {
                Some(id) => crate::fixes::inspect::grep_logs_for(&id),
                None => crate::fixes::inspect::access_log_5xx(&w.file, w.format == "combined"),
            },
        ));
        if let Some(up) = upstream {
            f = f.fix(Fix::safe(
                "ask the app directly, the way nginx does",
                crate::fixes::inspect::ask_app(&up, &facts.request.site, &facts.request.path),
            ));
        }
        Verdict::Found(vec![f])
    }
}

fn describe(s: &AccessSample) -> String {
    let mut parts = vec![format!("{}", s.status)];
    if let Some(t) = &s.time {
        parts.push(t.to_string());
    }
    if let Some(r) = &s.request {
        parts.push(format!("\"{r}\""));
    }
    for (name, v) in [
        ("upstream_status", &s.upstream_status),
        ("upstream_addr", &s.upstream_addr),
        ("upstream_response_time", &s.upstream_response_time),
        ("request_id", &s.request_id),
    ] {
        if let Some(v) = v {
            parts.push(format!("{name}={v}"));
        }
    }
    parts.join(" ")
}

/// The busiest minutes: "03:12 14×502 2×504 (11 from the app) of 40 requests; …".
fn minute_line(w: &AccessLogWindow) -> Option<String> {
    let mut ms: Vec<_> = w.minutes.iter().collect();
    if ms.is_empty() {
        return None;
    }
    ms.sort_by_key(|m| std::cmp::Reverse(m.status_502 + m.status_504));
    ms.truncate(5);
    ms.sort_by(|a, b| a.minute.cmp(&b.minute));
    Some(
        ms.iter()
            .map(|m| {
                format!(
                    "{} {}×502 {}×504 ({} from the app) of {} request(s)",
                    m.minute.get(11..).unwrap_or(&m.minute),
                    m.status_502,
                    m.status_504,
                    m.from_upstream,
                    m.requests
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::*;
    use crate::test_support::*;

    fn window(upstream_5xx: u64, nginx_502: u64) -> AccessLogWindow {
        AccessLogWindow {
            file: "/var/log/nginx/shop.access.log".into(),
            format: "upstreamlog".into(),
            since: Some("2026-11-22T03:00:00".parse().unwrap()),
            lines_read: 100,
            requests: 100,
            has_upstream_fields: true,
            nginx_502,
            upstream_5xx,
            minutes: vec![AccessMinute {
                minute: "2026-11-22T03:12".into(),
                requests: 40,
                status_502: upstream_5xx + nginx_502,
                status_504: 0,
                from_upstream: upstream_5xx,
            }],
            samples: vec![AccessSample {
                line: 57,
                time: Some("2026-11-22T03:12:09".parse().unwrap()),
                status: 502,
                origin: AnswerOrigin::Upstream,
                upstream_status: Some("502".into()),
                upstream_addr: Some("127.0.0.1:3000".into()),
                last_upstream: Some("127.0.0.1:3000".into()),
                upstream_response_time: Some("0.004".into()),
                request_id: Some("5f1c0e".into()),
                request: Some("GET /api/orders HTTP/1.1".into()),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn passed_through_502s_are_the_apps() {
        let mut f = FactsBuilder::route_only("127.0.0.1:3000", "http").build();
        f.access_log = Fact::collected(window(14, 0));
        let Verdict::Found(found) = AccessLogOrigin.run(&f) else {
            panic!("expected a finding")
        };
        assert_eq!(found[0].cause, Cause::Upstream502);
        assert_eq!(found[0].severity, Severity::Critical);
        assert_eq!(
            found[0].evidence[0].source,
            "/var/log/nginx/shop.access.log:57"
        );
        assert!(found[0].evidence[0].text.contains("request_id=5f1c0e"));
        assert!(found[0].evidence[1].text.starts_with("03:12 14×502"));
        assert!(found[0].fixes[0].command.contains("5f1c0e"));
    }

    #[test]
    fn a_few_app_5xx_among_nginx_502s_is_a_warning() {
        let mut f = FactsBuilder::route_only("127.0.0.1:3000", "http").build();
        f.access_log = Fact::collected(window(1, 30));
        let Verdict::Found(found) = AccessLogOrigin.run(&f) else {
            panic!("expected a finding")
        };
        assert_eq!(found[0].severity, Severity::Warning);
    }

    #[test]
    fn nginx_made_502s_pass_and_unknown_origin_says_why() {
        let mut f = FactsBuilder::route_only("127.0.0.1:3000", "http").build();
        f.access_log = Fact::collected(window(0, 9));
        assert!(matches!(AccessLogOrigin.run(&f), Verdict::Pass { .. }));
        let mut w = window(0, 0);
        w.has_upstream_fields = false;
        w.unknown_origin = 5;
        w.format = "combined".into();
        f.access_log = Fact::collected(w);
        let Verdict::Pass { detail } = AccessLogOrigin.run(&f) else {
            panic!("expected a pass")
        };
        assert!(
            detail.contains("log_format combined has no $upstream_status"),
            "{detail}"
        );
        f.access_log = Fact::unavailable("/var/log/nginx/access.log", "permission denied");
        assert!(matches!(AccessLogOrigin.run(&f), Verdict::Skipped { .. }));
    }
}
