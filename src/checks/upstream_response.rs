//! Detects: `header-too-big`, `upstream-502`, `premature-close`, `upstream-timeout` — what
//! the upstream's answer to nginx's own request looks like.
//!
//! Why nginx returns 502/504: headers larger than `proxy_buffer_size` ("upstream sent too
//! big header"); the app itself answering 502/503 (passed through, error log silent); the
//! app closing the connection without an answer ("upstream prematurely closed
//! connection"); no response header within `proxy_read_timeout` (504, "upstream timed out
//! (110) while reading response header").
//!
//! Evidence used: the direct probe (status line, header bytes, time to first byte, how it
//! ended), and the route's effective `proxy_buffer_size`, `proxy_read_timeout` and
//! `proxy_connect_timeout` with the pass directive's file:line.
//!
//! False positives avoided: a slow answer is a timeout only against nginx's real timeout;
//! when the probe's own timeout was shorter than nginx's, it says so instead of guessing.
//! Non-HTTP upstreams (FastCGI, uwsgi) are not judged on HTTP answers.

use super::evidence::describe_probe;
use super::{Check, Finding, Fix, Severity, Strength, Verdict};
use crate::cause::Cause;
use crate::facts::{Facts, ProbePhase};

pub struct UpstreamResponse;

impl Check for UpstreamResponse {
    fn id(&self) -> &'static str {
        "upstream-response"
    }

    fn causes(&self) -> &'static [Cause] {
        &[
            Cause::HeaderTooBig,
            Cause::Upstream502,
            Cause::PrematureClose,
            Cause::UpstreamTimeout,
        ]
    }

    fn run(&self, facts: &Facts) -> Verdict {
        let route = match facts.route() {
            Ok(r) => r,
            Err(reason) => return Verdict::skipped(reason),
        };
        if route.scheme.as_deref().is_some_and(|s| s != "http") {
            return Verdict::skipped(format!(
                "{} upstreams are not judged on an HTTP answer",
                route.scheme.as_deref().unwrap_or("")
            ));
        }
        let connected: Vec<_> = facts.probes.iter().filter(|p| p.connected).collect();
        if connected.is_empty() {
            return Verdict::skipped("no probe connected to an upstream");
        }
        let s = &route.settings;
        let at = route
            .directive_at
            .as_ref()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let loc_at = route
            .location
            .as_ref()
            .map(|l| format!("{}:{}", l.file, l.line))
            .unwrap_or_else(|| at.clone());
        let mut findings = Vec::new();
        for p in connected {
            let seen = describe_probe(p);
            if let (Some(h), Some(limit)) = (p.header_bytes, s.buffer_size) {
                if h as u64 > limit {
                    let want = (h as u64).next_power_of_two().max(8192) / 1024;
                    findings.push(
                        Finding::new(Cause::HeaderTooBig, Severity::Critical, Strength::Direct, format!("the upstream's response headers are {h} bytes; nginx's proxy_buffer_size is {limit}"))
                            .evidence("probe", seen.clone())
                            .evidence(loc_at.clone(), format!("effective proxy_buffer_size {limit} bytes"))
                            .fix(Fix::review(
                                format!("raise the buffers in the location at {loc_at}, then reload"),
                                format!("proxy_buffer_size {want}k; proxy_buffers 8 {want}k; proxy_busy_buffers_size {}k;   # then: {}", want * 2, crate::fixes::nginx::test_and_reload(facts)),
                            )),
                    );
                }
            }
            if let Some(code @ (502..=504)) = p.status {
                findings.push(
                    Finding::new(
                        Cause::Upstream502,
                        Severity::Critical,
                        Strength::Direct,
                        format!(
                            "the upstream {} itself answers {code}: nginx passes it through",
                            p.address
                        ),
                    )
                    .evidence("probe", seen.clone())
                    .fix(Fix::safe(
                        "see what the app says, the way nginx asks it",
                        format!(
                            "{} ; {}",
                            crate::fixes::inspect::curl_command(facts, &p.address),
                            crate::fixes::inspect::ask_app(
                                &p.address,
                                s.host_header.as_deref().unwrap_or(&facts.request.site),
                                route.upstream_uri.as_deref().unwrap_or("/"),
                            )
                        ),
                    )),
                );
            }
            let closed = p.phase == ProbePhase::ReadHeader
                && p.note
                    .as_deref()
                    .is_some_and(|n| n.contains("closed the connection"));
            let reset = p.phase == ProbePhase::ReadHeader
                && p.error.as_ref().and_then(|e| e.errno) == Some(libc::ECONNRESET);
            if closed || reset {
                findings.push(
                    Finding::new(
                        Cause::PrematureClose,
                        Severity::Critical,
                        Strength::Direct,
                        format!(
                            "the upstream {} closes the connection without answering",
                            p.address
                        ),
                    )
                    .evidence("probe", seen.clone())
                    .fix(Fix::safe(
                        "look for crashes or worker timeouts in the app's log at the same time",
                        crate::fixes::inspect::recent_errors(
                            facts,
                            Some("error|killed|timeout|segfault"),
                            30,
                        ),
                    )),
                );
            }
            let no_answer = p.phase == ProbePhase::ReadHeader
                && p.note.as_deref().is_some_and(|n| {
                    n.starts_with("no response within")
                        || n.starts_with("no complete response header")
                });
            let probe_s = p.timeout_ms.unwrap_or(0.0) / 1000.0;
            let read_s = s.read_timeout_s.unwrap_or(60.0);
            if no_answer && probe_s >= read_s {
                findings.push(
                    Finding::new(Cause::UpstreamTimeout, Severity::Critical, Strength::Direct, format!("the upstream {} sends no response header within {probe_s:.0}s; nginx gives up after proxy_read_timeout {read_s}s (504)", p.address))
                        .evidence("probe", seen.clone())
                        .evidence(loc_at.clone(), format!("effective proxy_read_timeout {read_s}s"))
                        .fix(Fix::safe("time the app directly", crate::fixes::inspect::ttfb(&p.address, s.host_header.as_deref().unwrap_or(&facts.request.site), route.upstream_uri.as_deref().unwrap_or("/"))))
                        .fix(Fix::review(format!("if the work is legitimately long, raise proxy_read_timeout in the location at {loc_at}, then reload"), format!("proxy_read_timeout {}s;   # then: {}", (read_s * 4.0).max(120.0), crate::fixes::nginx::test_and_reload(facts)))),
                );
            } else if no_answer {
                findings.push(
                    Finding::new(Cause::UpstreamTimeout, Severity::Warning, Strength::Circumstantial, format!("the upstream {} sends no response header within the probe's {probe_s:.0}s (nginx waits {read_s}s)", p.address))
                        .evidence("probe", seen.clone())
                        .fix(Fix::safe("measure with nginx's own timeout", format!("badgw diagnose --site {} --path {} --timeout {read_s}s", facts.request.site, facts.request.path))),
                );
            } else if let Some(ttfb) = p.ttfb_ms {
                if ttfb >= 0.8 * read_s * 1000.0 {
                    findings.push(
                        Finding::new(Cause::UpstreamTimeout, Severity::Warning, Strength::Strong, format!("the upstream {} answers in {:.1}s, close to proxy_read_timeout {read_s}s", p.address, ttfb / 1000.0))
                            .evidence("probe", seen.clone())
                            .evidence(loc_at.clone(), format!("effective proxy_read_timeout {read_s}s")),
                    );
                }
            }
            if p.error.as_ref().and_then(|e| e.errno) == Some(libc::ETIMEDOUT)
                && p.phase == ProbePhase::Connect
            {
                findings.push(
                    Finding::new(
                        Cause::UpstreamTimeout,
                        Severity::Critical,
                        Strength::Direct,
                        format!(
                            "connecting to {} times out (proxy_connect_timeout {}s)",
                            p.address,
                            s.connect_timeout_s.unwrap_or(60.0)
                        ),
                    )
                    .evidence("probe", seen.clone())
                    .fix(Fix::safe(
                        "check the route and any firewall to the upstream",
                        crate::fixes::inspect::syn_sent(p.socket_addr().map_or(0, |a| a.port())),
                    )),
                );
            }
        }
        if findings.is_empty() {
            Verdict::pass("the upstream answers in time, with headers that fit nginx's buffer")
        } else {
            Verdict::Found(findings)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::*;

    fn with(f: impl FnOnce(&mut crate::facts::ProbeResult)) -> Facts {
        let mut b = FactsBuilder::proxy("127.0.0.1:3000").probe_ok("127.0.0.1:3000", 200, 120);
        b.route_mut().settings.buffer_size = Some(4096);
        b.route_mut().settings.read_timeout_s = Some(1.0);
        f(&mut b.0.probes[0]);
        b.build()
    }

    fn causes(v: Verdict) -> Vec<Cause> {
        match v {
            Verdict::Found(f) => f.iter().map(|f| f.cause).collect(),
            _ => vec![],
        }
    }

    #[test]
    fn each_kind_of_bad_answer() {
        assert_eq!(
            causes(UpstreamResponse.run(&with(|p| p.header_bytes = Some(16_500)))),
            [Cause::HeaderTooBig]
        );
        assert_eq!(
            causes(UpstreamResponse.run(&with(|p| p.status = Some(502)))),
            [Cause::Upstream502]
        );
        assert_eq!(
            causes(UpstreamResponse.run(&with(|p| {
                p.phase = ProbePhase::ReadHeader;
                p.status = None;
                p.note =
                    Some("the upstream closed the connection without sending a response".into());
            }))),
            [Cause::PrematureClose]
        );
        assert_eq!(
            causes(UpstreamResponse.run(&with(|p| {
                p.phase = ProbePhase::ReadHeader;
                p.status = None;
                p.note = Some("no response within 3s".into());
                p.timeout_ms = Some(3000.0);
            }))),
            [Cause::UpstreamTimeout]
        );
    }

    #[test]
    fn a_connect_timeout_names_the_upstream_port() {
        let facts = with(|p| {
            p.phase = ProbePhase::Connect;
            p.status = None;
            p.error = Some(crate::facts::OsError {
                errno: Some(libc::ETIMEDOUT),
                message: "Connection timed out".into(),
            });
        });
        let Verdict::Found(f) = UpstreamResponse.run(&facts) else {
            panic!("a connect timeout is a finding")
        };
        let cmds: Vec<&str> = f
            .iter()
            .flat_map(|x| &x.fixes)
            .map(|x| x.command.as_str())
            .collect();
        assert!(cmds.iter().any(|c| c.contains("dport = :3000")), "{cmds:?}");
    }

    #[test]
    fn a_healthy_answer_passes() {
        assert!(matches!(
            UpstreamResponse.run(&with(|_| {})),
            Verdict::Pass { .. }
        ));
    }

    #[test]
    fn a_probe_shorter_than_nginx_timeout_is_only_a_warning() {
        let facts = with(|p| {
            p.phase = ProbePhase::ReadHeader;
            p.status = None;
            p.note = Some("no response within 1s".into());
            p.timeout_ms = Some(500.0);
        });
        let Verdict::Found(f) = UpstreamResponse.run(&facts) else {
            panic!()
        };
        assert_eq!(f[0].severity, Severity::Warning);
    }
}
