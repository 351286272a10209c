//! Detects: `protocol-mismatch`.
//!
//! Why nginx returns 502: nginx speaks one protocol and the upstream another —
//! `proxy_pass https://` to a plain-HTTP port (`SSL_do_handshake() failed … wrong version
//! number`), `proxy_pass http://` to a TLS port (`upstream sent no valid HTTP/1.0 header`),
//! or `fastcgi_pass` to an HTTP server (`upstream sent unsupported FastCGI protocol
//! version: 72`, 72 being 'H' of "HTTP").
//!
//! Evidence used: the route's scheme (from the pass directive, file:line) and what the
//! direct probe saw the upstream speak (an HTTP status line, TLS record bytes 15/16 03, a
//! FastCGI `FCGI_GET_VALUES_RESULT`).
//!
//! False positives avoided: a TLS server rejecting the probe's plain request is what nginx
//! expects for `https://` and passes; an unknown answer is not called a mismatch.

use super::evidence::describe_probe;
use super::{Check, Finding, Fix, Severity, Strength, Verdict};
use crate::cause::Cause;
use crate::facts::Facts;

pub struct Protocol;

impl Check for Protocol {
    fn id(&self) -> &'static str {
        "protocol"
    }

    fn causes(&self) -> &'static [Cause] {
        &[Cause::ProtocolMismatch]
    }

    fn run(&self, facts: &Facts) -> Verdict {
        let route = match facts.route() {
            Ok(r) => r,
            Err(reason) => return Verdict::skipped(reason),
        };
        let scheme = route.scheme.as_deref().unwrap_or("http");
        let probed: Vec<_> = facts.probes.iter().filter(|p| p.speaks.is_some()).collect();
        if probed.is_empty() {
            return Verdict::skipped("no probe reached an upstream to see what it speaks");
        }
        let directive = route.directive.as_deref().unwrap_or("proxy_pass");
        let at = route
            .directive_at
            .as_ref()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let (file, line) = route
            .directive_at
            .as_ref()
            .map(|a| (a.file.clone(), a.line))
            .unwrap_or_default();
        let mut findings = Vec::new();
        for p in probed {
            let speaks = p.speaks.as_deref().unwrap_or("unknown");
            let (title, fix) = match (scheme, speaks) {
                ("http", "tls") => (
                    format!("nginx speaks plain HTTP to {}, which answers with TLS", p.address),
                    Fix::planned(
                        format!("make nginx use TLS to it (edit {at}) and reload"),
                        crate::fixes::nginx::control(facts).edit_plan(vec![crate::fixes::LineEdit::replace(&file, line, "http://", "https://")]),
                    ),
                ),
                ("https" | "grpcs", "http") => (
                    format!("nginx speaks TLS to {}, which is a plain-HTTP server", p.address),
                    Fix::planned(
                        format!("make nginx use plain HTTP to it (edit {at}) and reload"),
                        crate::fixes::nginx::control(facts).edit_plan(vec![crate::fixes::LineEdit::replace(&file, line, "https://", "http://")]),
                    ),
                ),
                ("fastcgi", "http") => (
                    format!("fastcgi_pass points at {}, which is an HTTP server, not FastCGI (PHP-FPM)", p.address),
                    Fix::review(
                        format!("proxy to it over HTTP instead (edit {at}: `proxy_pass http://{};`), or point fastcgi_pass at PHP-FPM's socket; then reload", p.address),
                        crate::fixes::inspect::fpm_listens(),
                    ),
                ),
                _ => continue,
            };
            findings.push(
                Finding::new(
                    Cause::ProtocolMismatch,
                    Severity::Critical,
                    Strength::Direct,
                    title,
                )
                .evidence(
                    at.clone(),
                    format!("{directive} {}", route.target.as_deref().unwrap_or("")),
                )
                .evidence("probe", describe_probe(p))
                .fix(fix),
            );
        }
        if findings.is_empty() {
            Verdict::pass(format!("the upstream speaks what nginx sends ({scheme})"))
        } else {
            Verdict::Found(findings)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::*;

    fn speaking(scheme: &str, speaks: &str) -> Facts {
        let mut b = FactsBuilder::proxy("127.0.0.1:8443");
        b.route_mut().scheme = Some(scheme.into());
        b.route_mut().directive_at = Some(crate::facts::SourceRef {
            file: "/etc/nginx/sites-enabled/shop".into(),
            line: 6,
        });
        b = b.probe_ok("127.0.0.1:8443", 200, 100);
        b.0.probes[0].speaks = Some(speaks.into());
        b.build()
    }

    #[test]
    fn https_to_plain_http_and_http_to_tls() {
        let Verdict::Found(f) = Protocol.run(&speaking("https", "http")) else {
            panic!()
        };
        assert!(f[0].title.contains("plain-HTTP server"));
        assert!(
            f[0].fixes[0]
                .command
                .starts_with("sudo sed -i '6s#https://#http://#'"),
            "{}",
            f[0].fixes[0].command
        );
        let Verdict::Found(f) = Protocol.run(&speaking("http", "tls")) else {
            panic!()
        };
        assert!(f[0].title.contains("answers with TLS"));
        let Verdict::Found(f) = Protocol.run(&speaking("fastcgi", "http")) else {
            panic!()
        };
        assert!(f[0].title.contains("not FastCGI"));
    }

    #[test]
    fn matching_protocols_pass_and_unprobed_skip() {
        assert!(matches!(
            Protocol.run(&speaking("http", "http")),
            Verdict::Pass { .. }
        ));
        assert!(matches!(
            Protocol.run(&speaking("https", "tls")),
            Verdict::Pass { .. }
        ));
        assert!(matches!(
            Protocol.run(
                &FactsBuilder::proxy("127.0.0.1:1")
                    .probe_refused("127.0.0.1:1")
                    .build()
            ),
            Verdict::Skipped { .. }
        ));
    }
}
