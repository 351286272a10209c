//! Check `upstream-tls-certificate`: the certificate an `https://`/`grpcs://` upstream
//! presents, read over a direct TLS connection, against the checks nginx makes with
//! `proxy_ssl_verify on`.
//!
//! **Detects**: upstream-tls-verify — with verification on, a certificate that does not
//! name what nginx verifies (`proxy_ssl_name`, else the proxy_pass host), that expired or
//! is not valid yet at the snapshot's time, or whose chain does not lead to the
//! `proxy_ssl_trusted_certificate` file (or there is none). Its evidence lines (the
//! certificate's names, issuer and dates, and each problem) also join the error-log
//! finding of the same cause.
//!
//! **Why nginx returns 502**: nginx verifies the certificate during the handshake; a
//! failure ends the handshake ("upstream SSL certificate verify error" / "does not
//! match"), the attempt fails, and with no other server left nginx answers 502 — for every
//! request, since the certificate does not change between them.
//!
//! **Evidence used**: `facts.upstream_tls` (names, issuer, dates, whether the verified name
//! matches by OpenSSL's rules, whether the chain leads to the trusted file), the route's
//! `settings.upstream_tls` and upstream addresses, `facts.collected_at` as "now".
//!
//! **False positives avoided**: with `proxy_ssl_verify off` (nginx's default) nginx accepts
//! any certificate, so nothing here is a finding; a certificate that could not be read, a
//! name made of variables, or a chain webpki cannot judge (where OpenSSL might accept it)
//! is never counted as a problem; expiry is judged only against the snapshot's own time.
//! This check never reads the host or the clock.

use super::{Check, Evidence, Finding, Severity, Strength, Verdict};
use crate::cause::Cause;
use crate::facts::{Facts, TlsProblem, UpstreamCertificate};

pub struct UpstreamTlsCertificate;

const DAY: &str = "%Y-%m-%d %H:%M UTC";

/// The route's upstream certificates (all gathered ones when no route is known).
fn route_certs(facts: &Facts) -> Result<Vec<&UpstreamCertificate>, String> {
    let certs = facts.upstream_tls.get()?;
    let ups = facts.route_upstreams();
    Ok(certs
        .iter()
        .filter(|c| ups.is_empty() || ups.iter().any(|u| u.address == c.address))
        .collect())
}

/// Where the certificate was read: `TLS 127.0.0.1:8443 (SNI api.internal)`.
fn source(c: &UpstreamCertificate) -> String {
    match &c.sni {
        Some(n) => format!("TLS {} (SNI {n})", c.address),
        None => format!("TLS {} (no SNI)", c.address),
    }
}

/// The certificate in one line, then one line per problem nginx has with it.
pub fn certificate_evidence(facts: &Facts) -> Vec<Evidence> {
    let Ok(certs) = route_certs(facts) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for c in certs {
        let Some(info) = &c.certificate else { continue };
        let names = info.names().join(", ");
        let dates = match (info.not_before, info.not_after) {
            (Some(a), Some(b)) => format!(", valid {} to {}", a.format(DAY), b.format(DAY)),
            _ => String::new(),
        };
        let issuer = if info.self_signed {
            "self-signed".to_string()
        } else {
            format!("issued by {}", info.issuer)
        };
        out.push(Evidence::new(
            source(c),
            format!("certificate for {names} ({issuer}{dates})"),
        ));
        for p in c.problems(facts.collected_at) {
            out.push(Evidence::new(source(c), problem_text(c, &p)));
        }
    }
    out
}

fn problem_text(c: &UpstreamCertificate, p: &TlsProblem) -> String {
    let info = c.certificate.as_ref();
    let names = info.map(|i| i.names().join(", ")).unwrap_or_default();
    match p {
        TlsProblem::NameMismatch { verified } => {
            let from = c
                .verify_name_from
                .as_deref()
                .map(|f| format!(" (from {f})"))
                .unwrap_or_default();
            let sni = match info.and_then(|i| i.matches_with_sni) {
                Some(true) => format!(
                    "; asked for {verified} by SNI, the upstream presents a matching certificate"
                ),
                _ => String::new(),
            };
            format!("names {names}, nginx verifies {verified}{from}{sni}")
        }
        TlsProblem::Expired { at } => {
            format!("certificate for {names}, expired {}", at.format(DAY))
        }
        TlsProblem::NotYetValid { from } => {
            format!(
                "certificate for {names}, not valid before {}",
                from.format(DAY)
            )
        }
        TlsProblem::ChainTooLong {
            intermediates,
            depth,
        } => format!(
            "its chain has {intermediates} CA certificate(s) between it and the trusted root; verify depth {depth} allows {depth} (\"certificate chain too long\")"
        ),
        TlsProblem::Untrusted => {
            let why = info.and_then(|i| i.chain_note.clone()).unwrap_or_default();
            let what = if info.is_some_and(|i| i.self_signed) {
                "self-signed and not trusted"
            } else {
                "does not chain to a trusted CA"
            };
            match &c.trusted_file {
                Some(f) => format!("{what}: {f} does not lead to it ({why})"),
                None => format!("{what}: {why}"),
            }
        }
    }
}

fn title(c: &UpstreamCertificate, problems: &[TlsProblem]) -> String {
    let what: Vec<&str> = problems
        .iter()
        .map(|p| match p {
            TlsProblem::NameMismatch { .. } => "does not name what nginx verifies",
            TlsProblem::Expired { .. } => "expired",
            TlsProblem::NotYetValid { .. } => "is not valid yet",
            TlsProblem::Untrusted => "does not chain to the trusted CAs",
            TlsProblem::ChainTooLong { .. } => {
                "has a longer chain than proxy_ssl_verify_depth allows"
            }
        })
        .collect();
    format!(
        "nginx rejects the TLS certificate of {}: it {}",
        c.address,
        what.join(", and ")
    )
}

impl Check for UpstreamTlsCertificate {
    fn id(&self) -> &'static str {
        "upstream-tls-certificate"
    }

    fn causes(&self) -> &'static [Cause] {
        &[Cause::UpstreamTlsVerify]
    }

    fn run(&self, facts: &Facts) -> Verdict {
        let certs = match route_certs(facts) {
            Ok(c) => c,
            Err(reason) => return Verdict::skipped(reason),
        };
        let mut findings = Vec::new();
        let mut seen = Vec::new();
        for c in &certs {
            let Some(info) = &c.certificate else {
                seen.push(format!(
                    "{}: {}",
                    c.address,
                    c.error.as_deref().unwrap_or("no certificate")
                ));
                continue;
            };
            let problems = c.problems(facts.collected_at);
            if !c.verify {
                seen.push(format!(
                    "{}: proxy_ssl_verify is off, nginx accepts its certificate ({}{})",
                    c.address,
                    info.names().join(", "),
                    if problems.is_empty() {
                        ""
                    } else {
                        ", which verification would reject"
                    }
                ));
                continue;
            }
            if problems.is_empty() {
                seen.push(format!(
                    "{}: certificate for {} verifies{}",
                    c.address,
                    info.names().join(", "),
                    info.not_after
                        .map(|t| format!(", valid until {}", t.format(DAY)))
                        .unwrap_or_default()
                ));
                continue;
            }
            let mut f = Finding::new(
                Cause::UpstreamTlsVerify,
                Severity::Critical,
                Strength::Strong,
                title(c, &problems),
            );
            f.evidence = certificate_evidence_of(facts, c);
            for fix in crate::fixes::upstream_tls::fixes(facts, c) {
                f = f.fix(fix);
            }
            findings.push(f);
        }
        if findings.is_empty() {
            Verdict::pass(seen.join("; "))
        } else {
            Verdict::Found(findings)
        }
    }
}

/// [`certificate_evidence`] for one certificate.
fn certificate_evidence_of(facts: &Facts, c: &UpstreamCertificate) -> Vec<Evidence> {
    let want = source(c);
    certificate_evidence(facts)
        .into_iter()
        .filter(|e| e.source == want)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{
        CertificateInfo, Fact, NginxFacts, RequestSpec, Route, SocketKind, UpstreamAddr,
    };
    use chrono::DateTime;

    fn facts(verify: bool, info: CertificateInfo) -> Facts {
        let mut f = Facts::new(RequestSpec {
            site: "shop.example.com".into(),
            path: "/".into(),
            ..Default::default()
        });
        f.collected_at = Some(DateTime::parse_from_rfc3339("2026-11-30T23:00:00+00:00").unwrap());
        let route = Route {
            upstreams: vec![UpstreamAddr {
                address: "127.0.0.1:8443".into(),
                kind: SocketKind::Tcp,
                host: None,
                file: "/etc/nginx/nginx.conf".into(),
                line: 9,
                params: vec![],
                php_fpm_version: None,
            }],
            ..Default::default()
        };
        f.nginx = Fact::collected(NginxFacts {
            route: Some(route),
            ..Default::default()
        });
        f.upstream_tls = Fact::collected(vec![UpstreamCertificate {
            address: "127.0.0.1:8443".into(),
            verify_name: Some("api.internal".into()),
            verify_name_from: Some("proxy_ssl_name".into()),
            verify,
            trusted_file: Some("/etc/nginx/ca.pem".into()),
            certificate: Some(info),
            ..Default::default()
        }]);
        f
    }

    fn info(names: &[&str], not_after: &str, matches: bool, chains: bool) -> CertificateInfo {
        CertificateInfo {
            subject: format!("CN={}", names[0]),
            subject_cn: Some(names[0].into()),
            dns_names: names.iter().map(|n| n.to_string()).collect(),
            issuer: "CN=lab ca".into(),
            not_before: Some(DateTime::parse_from_rfc3339("2026-01-01T00:00:00+00:00").unwrap()),
            not_after: Some(DateTime::parse_from_rfc3339(not_after).unwrap()),
            name_matches: Some(matches),
            chains_to_trusted: Some(chains),
            ..Default::default()
        }
    }

    fn found(v: Verdict) -> Vec<Finding> {
        match v {
            Verdict::Found(f) => f,
            other => panic!("expected findings, got {other:?}"),
        }
    }

    #[test]
    fn a_verified_mismatch_names_both_names_and_the_fix() {
        let f = found(UpstreamTlsCertificate.run(&facts(
            true,
            info(&["web.local"], "2027-01-01T00:00:00+00:00", false, true),
        )));
        assert_eq!(f[0].cause, Cause::UpstreamTlsVerify);
        let ev: Vec<String> = f[0].evidence.iter().map(|e| e.to_string()).collect();
        assert!(
            ev.iter()
                .any(|e| e.contains("names web.local, nginx verifies api.internal")),
            "{ev:?}"
        );
        let fixes: Vec<&str> = f[0].fixes.iter().map(|x| x.command.as_str()).collect();
        assert!(
            fixes.iter().any(|c| c.contains("proxy_ssl_name web.local;")
                && c.contains("proxy_ssl_server_name on;")),
            "{fixes:?}"
        );
    }

    #[test]
    fn expired_is_judged_at_the_snapshot_time() {
        let f = found(UpstreamTlsCertificate.run(&facts(
            true,
            info(
                &["app.internal", "api.internal"],
                "2026-10-01T00:00:00+00:00",
                true,
                true,
            ),
        )));
        assert!(f[0].title.contains("expired"), "{}", f[0].title);
        assert!(f[0].evidence.iter().any(|e| e
            .text
            .contains("certificate for app.internal, api.internal, expired 2026-10-01")));
        assert!(f[0].fixes.iter().any(|x| x.summary.starts_with("renew")));
        // The same certificate a day before it expired is fine.
        let mut early = facts(
            true,
            info(&["api.internal"], "2026-10-01T00:00:00+00:00", true, true),
        );
        early.collected_at =
            Some(DateTime::parse_from_rfc3339("2026-09-30T00:00:00+00:00").unwrap());
        assert!(matches!(
            UpstreamTlsCertificate.run(&early),
            Verdict::Pass { .. }
        ));
    }

    #[test]
    fn verification_off_is_never_a_finding() {
        let v = UpstreamTlsCertificate.run(&facts(
            false,
            info(&["web.local"], "2026-10-01T00:00:00+00:00", false, false),
        ));
        match v {
            Verdict::Pass { detail } => {
                assert!(detail.contains("proxy_ssl_verify is off"), "{detail}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn untrusted_names_the_trusted_file_or_the_bundle() {
        let mut i = info(&["api.internal"], "2027-01-01T00:00:00+00:00", true, false);
        i.chains_to_bundle = Some("/etc/ssl/certs/ca-certificates.crt".into());
        i.chain_note = Some("no certificate in it issued the chain".into());
        let f = found(UpstreamTlsCertificate.run(&facts(true, i)));
        assert!(f[0]
            .evidence
            .iter()
            .any(|e| e.text.contains("/etc/nginx/ca.pem does not lead to it")));
        assert!(f[0].fixes.iter().any(|x| x
            .command
            .contains("proxy_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;")));
    }

    #[test]
    fn unreadable_or_absent_is_not_a_finding() {
        let mut f = facts(true, CertificateInfo::default());
        f.upstream_tls = Fact::unavailable("upstream certificates", "no https upstream");
        assert!(matches!(
            UpstreamTlsCertificate.run(&f),
            Verdict::Skipped { .. }
        ));
        let mut f = facts(true, CertificateInfo::default());
        if let Fact::Collected { value } = &mut f.upstream_tls {
            value[0].certificate = None;
            value[0].error = Some("connect() failed".into());
        }
        assert!(matches!(
            UpstreamTlsCertificate.run(&f),
            Verdict::Pass { .. }
        ));
    }
}
