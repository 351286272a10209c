//! Fixes for an upstream certificate nginx rejects (`proxy_ssl_verify on`), built from the
//! certificate read over a direct connection (`facts.upstream_tls`): the name to verify
//! when the certificate has another one, the trusted file when it does not chain, renewal
//! when it expired — each as exact as the facts allow.

use super::{app, nginx, shell_quote, Fix, LineEdit};
use crate::facts::{Facts, Ns, Route, TlsProblem, UpstreamCertificate};

/// The fixes for `cert`'s problems at the snapshot's time; empty when none is known (the
/// caller then gives the general ones).
pub fn fixes(facts: &Facts, cert: &UpstreamCertificate) -> Vec<Fix> {
    let Some(info) = &cert.certificate else {
        return Vec::new();
    };
    let problems = cert.problems(facts.collected_at);
    if problems.is_empty() {
        return Vec::new();
    }
    let route = facts.route().ok();
    let tls = route.and_then(|r| r.settings.upstream_tls.clone());
    let prefix = tls.as_ref().map_or("proxy", |t| t.prefix.as_str());
    let directive = |suffix: &str| format!("{prefix}_ssl_{suffix}");
    let ctl = nginx::control(facts);
    let mut out = vec![Fix::safe(
        "see the certificate the upstream presents (names, issuer, dates)",
        inspect(facts, &cert.address, cert.sni.as_deref()),
    )];
    for p in &problems {
        match p {
            TlsProblem::NameMismatch { verified } => {
                let sends_sni = tls.as_ref().is_some_and(|t| t.server_name);
                if info.matches_with_sni == Some(true) && !sends_sni {
                    // The upstream has a certificate for the verified name: it only needs
                    // to be asked for it.
                    let summary = format!(
                        "send the name as SNI: the upstream presents a certificate for {verified} when asked for it, and another without SNI"
                    );
                    out.push(edit(facts, route, summary, &[(directive("server_name"), "on".into())]));
                    continue;
                }
                match info.usable_name() {
                    Some(name) => {
                        let mut set = vec![(directive("name"), name.to_string())];
                        if !sends_sni {
                            set.push((directive("server_name"), "on".into()));
                        }
                        let summary = format!(
                            "verify the name on the certificate ({name}) instead of {verified}, and send it as SNI"
                        );
                        out.push(edit(facts, route, summary, &set));
                    }
                    None => out.push(Fix::review(
                        format!(
                            "verify a name the certificate covers ({}) instead of {verified}",
                            info.names().join(", ")
                        ),
                        ctl.manual_change(
                            &location_of(route),
                            &format!(
                                "{} <a name under {}>; {} on;",
                                directive("name"),
                                info.names().join(" or "),
                                directive("server_name")
                            ),
                        ),
                    )),
                }
            }
            TlsProblem::Expired { at } => out.push(Fix::review(
                format!(
                    "renew the upstream's certificate ({}, expired {}) where the upstream gets it, then restart it",
                    info.names().join(", "),
                    at.format("%Y-%m-%d %H:%M UTC")
                ),
                app::owner(facts).restart_shown(),
            )),
            TlsProblem::NotYetValid { from } => out.push(Fix::review(
                format!(
                    "the certificate is valid only from {}: check the clocks of this host and the upstream's",
                    from.format("%Y-%m-%d %H:%M UTC")
                ),
                "timedatectl status",
            )),
            TlsProblem::Untrusted => out.push(trust(facts, route, cert, &directive("trusted_certificate"))),
            TlsProblem::ChainTooLong { intermediates, .. } => out.push(edit(
                facts,
                route,
                format!(
                    "let nginx follow the chain's {intermediates} intermediate CA certificate(s)"
                ),
                &[(directive("verify_depth"), intermediates.to_string())],
            )),
        }
    }
    out
}

/// The `trusted_certificate` fix: a CA bundle of the host that issued it, else (self-signed)
/// the certificate itself saved next to nginx's configuration, else the issuer's CA.
fn trust(facts: &Facts, route: Option<&Route>, cert: &UpstreamCertificate, name: &str) -> Fix {
    let Some(info) = &cert.certificate else {
        return Fix::safe(
            "see the certificate",
            inspect(facts, &cert.address, cert.sni.as_deref()),
        );
    };
    if let Some(bundle) = &info.chains_to_bundle {
        return edit(
            facts,
            route,
            format!(
                "trust the CA bundle that issued it ({bundle}: {})",
                info.issuer
            ),
            &[(name.to_string(), bundle.clone())],
        );
    }
    if info.self_signed {
        let dir = facts
            .nginx
            .value()
            .and_then(|n| {
                std::path::Path::new(&n.conf_path)
                    .parent()
                    .map(|p| p.display().to_string())
            })
            .unwrap_or_else(|| "/etc/nginx".into());
        let host = cert.address.replace(['[', ']'], "").replace(':', "-");
        let file = format!("{dir}/upstream-{host}.pem");
        let save = format!(
            "{} | openssl x509 | sudo tee {} >/dev/null",
            fetch(facts, &cert.address, cert.sni.as_deref()),
            shell_quote(&file)
        );
        let then = edit(
            facts,
            route,
            String::new(),
            &[(name.to_string(), file.clone())],
        );
        return Fix::review(
            format!(
                "the certificate is self-signed ({}): save it and trust exactly it (check that it is the upstream's own first)",
                info.subject
            ),
            format!("{save} && {}", then.command),
        );
    }
    Fix::review(
        format!(
            "trust the CA that issued it ({}): name a file with that CA's certificate{}",
            info.issuer,
            cert.trusted_file
                .as_deref()
                .map(|f| format!(" (now {f}, which does not hold it)"))
                .unwrap_or_default()
        ),
        nginx::control(facts).manual_change(
            &location_of(route),
            &format!("{name} /etc/nginx/<ca of {}>.pem;", info.issuer),
        ),
    )
}

/// `name value;` set in the route's location, as a plan `diagnose --fix` can carry out; a
/// manual change without a location.
fn edit(facts: &Facts, route: Option<&Route>, summary: String, set: &[(String, String)]) -> Fix {
    let ctl = nginx::control(facts);
    let edits: Option<Vec<_>> = set
        .iter()
        .map(|(n, v)| route.and_then(|r| set_in_location(r, n, v)))
        .collect();
    match edits {
        Some(e) if !e.is_empty() => Fix::planned(summary, ctl.edit_plan(e)),
        _ => {
            let text: Vec<String> = set.iter().map(|(n, v)| format!("{n} {v};")).collect();
            Fix::review(
                summary,
                ctl.manual_change(&location_of(route), &text.join(" ")),
            )
        }
    }
}

/// The edit that makes `name value;` apply in the route's location. Where the location sets
/// it already, only `name old` is replaced on that line (TLS directives often share a
/// line: the rest of it stays); `diagnose --fix` refuses when the line reads otherwise.
/// Else a new line opens the location.
fn set_in_location(route: &Route, name: &str, value: &str) -> Option<LineEdit> {
    let loc = route.location.as_ref()?;
    let tls = route.settings.upstream_tls.as_ref();
    let old = match name.split_once("_ssl_").map(|(_, s)| s) {
        Some("name") => tls.and_then(|t| t.name.clone()),
        Some("trusted_certificate") => tls.and_then(|t| t.trusted_certificate.clone()),
        Some("server_name") => tls.map(|t| if t.server_name { "on" } else { "off" }.to_string()),
        Some("verify_depth") => tls.map(|t| t.verify_depth.to_string()),
        _ => None,
    };
    let at = route
        .settings
        .set_at
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, at)| at);
    Some(match (at, old) {
        (Some(at), Some(old)) if at.file == loc.file && at.line > loc.line => LineEdit::replace(
            &at.file,
            at.line,
            &format!("{name} {old}"),
            &format!("{name} {value}"),
        ),
        _ => LineEdit::insert_after(&loc.file, loc.line, &format!("{name} {value};")),
    })
}

fn location_of(route: Option<&Route>) -> String {
    route
        .and_then(|r| r.location.as_ref())
        .map(|l| format!("{}:{}", l.file, l.line))
        .unwrap_or_else(|| "the location".into())
}

/// `openssl s_client` to the address with the SNI nginx sends, from nginx's network
/// namespace when it has one of its own (its loopback is not the host's).
fn fetch(facts: &Facts, address: &str, sni: Option<&str>) -> String {
    let enter = match facts.view.value().map(|v| v.net) {
        Some(Ns::Pid(pid)) => format!("sudo nsenter -t {pid} -n "),
        _ => String::new(),
    };
    let sni = sni
        .map(|n| format!(" -servername {}", shell_quote(n)))
        .unwrap_or_else(|| " -noservername".into());
    format!(
        "{enter}openssl s_client -connect {}{sni} </dev/null 2>/dev/null",
        shell_quote(address)
    )
}

/// The names, issuer and dates of the certificate at `address`, as nginx gets it.
pub fn inspect(facts: &Facts, address: &str, sni: Option<&str>) -> String {
    format!(
        "{} | openssl x509 -noout -subject -issuer -ext subjectAltName -dates",
        fetch(facts, address, sni)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{RouteLocation, SourceRef, UpstreamTlsSettings};

    #[test]
    fn a_shared_line_keeps_its_other_directives() {
        let at = |line| SourceRef {
            file: "/etc/nginx/site.conf".into(),
            line,
        };
        let r = Route {
            location: Some(RouteLocation {
                pattern: "/".into(),
                file: "/etc/nginx/site.conf".into(),
                line: 10,
                ..Default::default()
            }),
            settings: crate::facts::RouteSettings {
                upstream_tls: Some(UpstreamTlsSettings {
                    prefix: "proxy".into(),
                    verify: true,
                    trusted_certificate: Some("/etc/nginx/ca.pem".into()),
                    verify_depth: 1,
                    ..Default::default()
                }),
                set_at: vec![
                    ("proxy_ssl_verify".into(), at(12)),
                    ("proxy_ssl_trusted_certificate".into(), at(12)),
                ],
                ..Default::default()
            },
            ..Default::default()
        };
        let e = set_in_location(&r, "proxy_ssl_trusted_certificate", "/etc/ssl/b.crt").unwrap();
        let line = "    proxy_ssl_verify on; proxy_ssl_trusted_certificate /etc/nginx/ca.pem;";
        assert_eq!(
            e.apply_to_line(line).unwrap(),
            ["    proxy_ssl_verify on; proxy_ssl_trusted_certificate /etc/ssl/b.crt;"]
        );
        // Not set in the location: a new line opens it.
        let e = set_in_location(&r, "proxy_ssl_name", "web.local").unwrap();
        assert_eq!(e.line, 10);
        assert_eq!(
            e.apply_to_line("    location / {").unwrap()[1],
            "        proxy_ssl_name web.local;"
        );
    }

    #[test]
    fn inspection_sends_the_sni_nginx_sends() {
        let mut facts = Facts::default();
        assert!(inspect(&facts, "127.0.0.1:8443", None).contains("-noservername"));
        assert!(inspect(&facts, "127.0.0.1:8443", Some("api.internal"))
            .starts_with("openssl s_client -connect 127.0.0.1:8443 -servername api.internal"));
        // nginx in a network namespace of its own: its loopback, not the host's.
        facts.view = crate::facts::Fact::collected(crate::facts::View {
            net: Ns::Pid(4242),
            ..Default::default()
        });
        assert!(inspect(&facts, "127.0.0.1:8443", None)
            .starts_with("sudo nsenter -t 4242 -n openssl s_client"));
    }
}
