//! An `https://`/`grpcs://` upstream as nginx checks it: the `proxy_ssl_*` (`grpc_ssl_*`)
//! settings of the route, and the certificate the upstream presents, read over a direct
//! TLS connection with the SNI nginx sends (`gather::tls_cert`). Pure data plus the
//! verdicts nginx would reach on it, decided against the snapshot's time, never the clock.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

/// How nginx checks an upstream's certificate in the route's location: the
/// `proxy_ssl_*` (or `grpc_ssl_*`) directives in effect, else nginx's defaults. Where each
/// is set is in `RouteSettings::set_at` under its full directive name.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct UpstreamTlsSettings {
    /// The directives' prefix: `proxy` or `grpc`.
    pub prefix: String,
    /// `proxy_ssl_verify` (nginx's default: off — any certificate is accepted).
    pub verify: bool,
    /// `proxy_ssl_server_name` (default off: no SNI is sent).
    pub server_name: bool,
    /// `proxy_ssl_name` as written (default `$proxy_host`: the host of proxy_pass).
    #[serde(default)]
    pub name: Option<String>,
    /// `proxy_ssl_trusted_certificate` as written (unset: nginx trusts no CA at all).
    #[serde(default)]
    pub trusted_certificate: Option<String>,
    /// `proxy_ssl_verify_depth` (default 1).
    pub verify_depth: u32,
}

impl UpstreamTlsSettings {
    /// The full name of one of these directives: `ssl_name` → `proxy_ssl_name`.
    pub fn directive(&self, suffix: &str) -> String {
        format!("{}_{suffix}", self.prefix)
    }
}

/// One upstream address's certificate, as a direct TLS connection found it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct UpstreamCertificate {
    /// `127.0.0.1:8443`.
    pub address: String,
    /// The `*_pass` target it was reached through (`https://backend`).
    #[serde(default)]
    pub target: Option<String>,
    /// The name sent as SNI (None: none, as nginx sends none without
    /// `proxy_ssl_server_name on` or for an IP address).
    #[serde(default)]
    pub sni: Option<String>,
    /// The name nginx checks the certificate against (`proxy_ssl_name`, else the host of
    /// the `*_pass` target), port stripped; None when variables make it unknown here.
    #[serde(default)]
    pub verify_name: Option<String>,
    /// Where `verify_name` comes from: `proxy_ssl_name` or `proxy_pass host`.
    #[serde(default)]
    pub verify_name_from: Option<String>,
    /// `proxy_ssl_verify on`: nginx rejects a certificate it cannot verify.
    pub verify: bool,
    /// `proxy_ssl_verify_depth` (nginx's default 1: one intermediate CA at most).
    #[serde(default)]
    pub verify_depth: Option<u32>,
    /// `proxy_ssl_trusted_certificate` as nginx opens it (relative paths resolved).
    #[serde(default)]
    pub trusted_file: Option<String>,
    /// Why no certificate was read (refused, handshake failed, not on this host, …).
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub certificate: Option<CertificateInfo>,
}

/// What the leaf certificate says, and how it fares against nginx's checks.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct CertificateInfo {
    /// The subject as a distinguished name (`CN=backend.internal, O=…`).
    pub subject: String,
    #[serde(default)]
    pub subject_cn: Option<String>,
    /// DNS names of the subjectAltName extension, as written (`*.svc.local` too).
    #[serde(default)]
    pub dns_names: Vec<String>,
    /// IP addresses of the subjectAltName extension.
    #[serde(default)]
    pub ip_names: Vec<String>,
    pub issuer: String,
    #[serde(default, with = "super::time::rfc3339_opt")]
    pub not_before: Option<DateTime<FixedOffset>>,
    #[serde(default, with = "super::time::rfc3339_opt")]
    pub not_after: Option<DateTime<FixedOffset>>,
    /// Issued by itself (subject = issuer).
    pub self_signed: bool,
    /// How many certificates the upstream sent (leaf first).
    pub chain_sent: usize,
    /// Whether `verify_name` matches, as OpenSSL's X509_check_host decides for nginx
    /// (DNS names, else the CN; wildcards in the leftmost label only). None: name unknown.
    #[serde(default)]
    pub name_matches: Option<bool>,
    /// When the name does not match and nginx sends no SNI: whether the upstream presents
    /// a certificate that matches when the verified name is sent as SNI (it then only needs
    /// `proxy_ssl_server_name on`). None: not tried.
    #[serde(default)]
    pub matches_with_sni: Option<bool>,
    /// Whether the chain leads to a certificate of `trusted_file` (false too when there
    /// is no trusted file: nginx then trusts nothing). None: could not be told.
    #[serde(default)]
    pub chains_to_trusted: Option<bool>,
    /// Why `chains_to_trusted` is what it is, when there is more to say.
    #[serde(default)]
    pub chain_note: Option<String>,
    /// CA certificates between the leaf and the self-signed root of the path to the
    /// trusted file (OpenSSL's depth: `proxy_ssl_verify_depth` must be at least this).
    #[serde(default)]
    pub chain_intermediates: Option<usize>,
    /// A CA bundle on nginx's file system that the certificate does chain to, when the
    /// trusted file does not (the file to name in `proxy_ssl_trusted_certificate`).
    #[serde(default)]
    pub chains_to_bundle: Option<String>,
}

/// Why nginx (with `proxy_ssl_verify on`) rejects the certificate.
#[derive(Debug, Clone, PartialEq)]
pub enum TlsProblem {
    /// The name nginx checks is not among the certificate's names.
    NameMismatch { verified: String },
    /// Past notAfter at the snapshot's time.
    Expired { at: DateTime<FixedOffset> },
    /// Before notBefore at the snapshot's time.
    NotYetValid { from: DateTime<FixedOffset> },
    /// The chain does not lead to the trusted file (or there is none).
    Untrusted,
    /// More intermediate CAs than `proxy_ssl_verify_depth` allows ("certificate chain too
    /// long").
    ChainTooLong { intermediates: usize, depth: u32 },
}

impl CertificateInfo {
    /// The names nginx can match: DNS names, else the CN (X509_check_host's rule).
    pub fn names(&self) -> Vec<&str> {
        if self.dns_names.is_empty() {
            self.subject_cn.iter().map(String::as_str).collect()
        } else {
            self.dns_names.iter().map(String::as_str).collect()
        }
    }

    /// A name to put in `proxy_ssl_name`: the first name without a wildcard.
    pub fn usable_name(&self) -> Option<&str> {
        self.names().into_iter().find(|n| !n.contains('*'))
    }

    /// Past notAfter at `now` (the snapshot's collected_at).
    pub fn expired_at(&self, now: DateTime<FixedOffset>) -> bool {
        self.not_after.is_some_and(|t| now > t)
    }

    /// Before notBefore at `now`.
    pub fn not_yet_valid_at(&self, now: DateTime<FixedOffset>) -> bool {
        self.not_before.is_some_and(|t| now < t)
    }
}

impl UpstreamCertificate {
    /// What nginx would reject the certificate for, at `now`, if it verifies it (the
    /// caller decides whether `verify` is on). Empty when nothing is known to be wrong.
    pub fn problems(&self, now: Option<DateTime<FixedOffset>>) -> Vec<TlsProblem> {
        let Some(c) = &self.certificate else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if let (Some(false), Some(v)) = (c.name_matches, &self.verify_name) {
            out.push(TlsProblem::NameMismatch {
                verified: v.clone(),
            });
        }
        if let Some(now) = now {
            if let (true, Some(at)) = (c.expired_at(now), c.not_after) {
                out.push(TlsProblem::Expired { at });
            }
            if let (true, Some(from)) = (c.not_yet_valid_at(now), c.not_before) {
                out.push(TlsProblem::NotYetValid { from });
            }
        }
        if c.chains_to_trusted == Some(false) {
            out.push(TlsProblem::Untrusted);
        }
        if let (Some(n), Some(depth)) = (c.chain_intermediates, self.verify_depth) {
            if n > depth as usize {
                out.push(TlsProblem::ChainTooLong {
                    intermediates: n,
                    depth,
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    fn cert() -> UpstreamCertificate {
        UpstreamCertificate {
            address: "127.0.0.1:8443".into(),
            verify_name: Some("api.internal".into()),
            verify: true,
            certificate: Some(CertificateInfo {
                subject_cn: Some("web.local".into()),
                dns_names: vec!["*.web.local".into(), "web.local".into()],
                not_before: Some(t("2026-01-01T00:00:00+00:00")),
                not_after: Some(t("2026-10-01T00:00:00+00:00")),
                name_matches: Some(true),
                chains_to_trusted: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn expiry_is_relative_to_the_snapshot_time() {
        let c = cert();
        let info = c.certificate.as_ref().unwrap();
        assert!(!info.expired_at(t("2026-10-01T00:00:00+00:00")));
        assert!(info.expired_at(t("2026-10-01T00:00:01+00:00")));
        // Offsets compare as instants: 01:30 at +02:00 is 23:30 UTC the day before.
        assert!(!info.expired_at(t("2026-10-01T01:30:00+02:00")));
        assert!(info.not_yet_valid_at(t("2025-12-31T23:59:59+00:00")));
        assert_eq!(c.problems(Some(t("2026-06-01T00:00:00+00:00"))), vec![]);
        assert_eq!(
            c.problems(Some(t("2026-11-30T23:00:00+00:00"))),
            vec![TlsProblem::Expired {
                at: t("2026-10-01T00:00:00+00:00")
            }]
        );
        // Without a time, expiry is not judged.
        assert_eq!(c.problems(None), vec![]);
    }

    #[test]
    fn more_intermediates_than_the_verify_depth() {
        let mut c = cert();
        c.certificate.as_mut().unwrap().chain_intermediates = Some(2);
        let now = Some(t("2026-06-01T00:00:00+00:00"));
        // Depth unknown (an older snapshot): not judged.
        assert_eq!(c.problems(now), vec![]);
        c.verify_depth = Some(1);
        assert_eq!(
            c.problems(now),
            vec![TlsProblem::ChainTooLong {
                intermediates: 2,
                depth: 1
            }]
        );
        c.verify_depth = Some(2);
        assert_eq!(c.problems(now), vec![]);
    }

    #[test]
    fn names_and_mismatch() {
        let mut c = cert();
        let info = c.certificate.as_mut().unwrap();
        assert_eq!(info.names(), ["*.web.local", "web.local"]);
        assert_eq!(info.usable_name(), Some("web.local"));
        info.name_matches = Some(false);
        info.chains_to_trusted = Some(false);
        assert_eq!(
            c.problems(None),
            vec![
                TlsProblem::NameMismatch {
                    verified: "api.internal".into()
                },
                TlsProblem::Untrusted
            ]
        );
        let info = c.certificate.as_mut().unwrap();
        info.dns_names.clear();
        assert_eq!(
            info.names(),
            ["web.local"],
            "the CN counts without DNS names"
        );
    }
}
