//! The certificate of an `https://`/`grpcs://` upstream, read the way nginx meets it: a
//! direct TLS connection from nginx's network namespace, with the SNI nginx would send
//! (`proxy_ssl_server_name on` and a name that is not an IP address, else none). Any
//! certificate is accepted — this inspects, it does not trust — and no application data
//! is ever sent: the handshake, then close_notify. Then, offline: the names and dates,
//! whether the name nginx verifies matches (OpenSSL's X509_check_host rules, which nginx
//! calls), and whether the chain leads to the `proxy_ssl_trusted_certificate` file (read
//! through nginx's mount root). Only addresses of this host are contacted (loopback,
//! nginx's own or a local namespace's), each within the context's timeout.

use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

use super::{files, ns, runner};
use crate::facts::{CertificateInfo, Fact, Locality, Ns, Route, UpstreamCertificate};

/// At most this many addresses are contacted.
const MAX_TARGETS: usize = 8;
/// Largest trusted-certificate file read.
const MAX_PEM: u64 = 8 << 20;
/// CA bundles of the usual distributions, tried when the trusted file does not lead to the
/// certificate's issuer (to name the file that would).
const BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

/// One upstream address to read the certificate of, with nginx's settings for it.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsTarget {
    pub address: SocketAddr,
    pub target: Option<String>,
    pub sni: Option<String>,
    pub verify_name: Option<String>,
    pub verify_name_from: Option<String>,
    pub verify: bool,
    /// The trusted file as nginx opens it (absolute).
    pub trusted_file: Option<String>,
    /// `proxy_ssl_verify_depth`.
    pub verify_depth: u32,
    /// `grpcs`: nginx offers ALPN h2.
    pub grpc: bool,
    /// Not contacted, and why (not an address of this host).
    pub skip: Option<String>,
}

/// The TLS upstream addresses of `routes` (deduplicated), with the SNI nginx sends and the
/// name it verifies. `conf_dir` resolves a relative trusted file (nginx's conf prefix);
/// `site` stands for `$host` in `proxy_ssl_name`; `skip` says why an address is not to be
/// contacted (not on this host, nginx's namespace out of reach): it is listed, not read.
pub fn targets(
    routes: &[&Route],
    conf_dir: Option<&Path>,
    site: &str,
    skip: &dyn Fn(IpAddr) -> Option<String>,
) -> Vec<TlsTarget> {
    let mut out: Vec<TlsTarget> = Vec::new();
    for r in routes {
        let Some(tls) = &r.settings.upstream_tls else {
            continue;
        };
        let pass_host = r
            .target
            .as_deref()
            .map(super::upstream_names::upstream_name);
        let (name, from) = match &tls.name {
            Some(n) => (
                expand_name(n, pass_host.as_deref(), site),
                tls.directive("ssl_name"),
            ),
            None => (
                pass_host.clone(),
                format!("{} host", r.directive.as_deref().unwrap_or("proxy_pass")),
            ),
        };
        let name = name.map(|n| strip_port(&n).to_string());
        let sni = name.clone().filter(|n| tls.server_name && sni_allowed(n));
        let trusted = tls.trusted_certificate.as_ref().map(|t| {
            match (Path::new(t).is_absolute(), conf_dir) {
                (false, Some(d)) => d.join(t).display().to_string(),
                _ => t.clone(),
            }
        });
        for u in &r.upstreams {
            let Some(addr) = u.socket_addr() else {
                continue;
            };
            let t = TlsTarget {
                address: addr,
                target: r.target.clone(),
                sni: sni.clone(),
                verify_name: name.clone(),
                verify_name_from: name.as_ref().map(|_| from.clone()),
                verify: tls.verify,
                trusted_file: trusted.clone(),
                verify_depth: tls.verify_depth,
                grpc: r.scheme.as_deref() == Some("grpcs"),
                skip: skip(addr.ip()),
            };
            if !out.iter().any(|o| o.address == t.address && o.sni == t.sni) {
                out.push(t);
            }
        }
    }
    out.truncate(MAX_TARGETS);
    out
}

/// `proxy_ssl_name` with the variables known here: `$proxy_host` (the target's host) and
/// `$host` (the site); None when another variable makes it unknowable.
fn expand_name(written: &str, pass_host: Option<&str>, site: &str) -> Option<String> {
    let mut s = written.replace("${proxy_host}", "$proxy_host");
    s = s.replace("${host}", "$host");
    if s.contains("$proxy_host") {
        s = s.replace("$proxy_host", pass_host?);
    }
    s = s.replace("$host", &site.to_ascii_lowercase());
    (!s.contains('$')).then_some(s)
}

/// nginx strips a port from the name (`$proxy_host` carries one): `host:8443` → `host`,
/// `[::1]:8443` → `[::1]`.
fn strip_port(name: &str) -> &str {
    let after = if name.starts_with('[') {
        name.find(']').map_or(0, |i| i + 1)
    } else {
        0
    };
    match name[after..].find(':') {
        Some(i) => &name[..after + i],
        None => name,
    }
}

/// nginx sends no SNI for an empty name or an IP address literal (RFC 6066).
fn sni_allowed(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('[') && name.parse::<IpAddr>().is_err()
}

/// The collector (stage 2): the certificate of every TLS upstream of the route and of the
/// site upstreams, read from nginx's network namespace when badgw can join it: loopback,
/// nginx's own addresses and those of another network namespace of this host (a
/// container), never another host's.
pub fn collect(ctx: &runner::Context) -> Fact<Vec<UpstreamCertificate>> {
    let t = &ctx.target;
    let routes: Vec<&Route> = t
        .route
        .iter()
        .chain(t.site_upstreams.iter().map(|u| &u.route))
        .filter(|r| r.settings.upstream_tls.is_some())
        .collect();
    if routes.is_empty() {
        return no_tls_upstream();
    }
    let main = t.config.as_ref().and_then(|c| c.files().first().cloned());
    let conf_dir = main.as_deref().and_then(|m| Path::new(m).parent());
    // The namespaces of this host that hold upstream addresses (the listener stage finds
    // them too, but after this collector has started).
    let mut view = t.placement.view.clone();
    super::view::add_peers(ctx, &mut view);
    let enterable = view.net == Ns::Host || t.probe_netns().is_some();
    let skip = |ip: IpAddr| match (enterable, view.locality(ip)) {
        (false, _) => Some("nginx's network namespace cannot be joined: not contacted".into()),
        (true, Locality::Remote) => Some("not an address of this host: not contacted".into()),
        _ => None,
    };
    let found = targets(&routes, conf_dir, &ctx.opts.request.site, &skip);
    gather(ctx, &found, t.probe_netns(), t.placement.root.as_deref())
}

/// Reads every target's certificate, each on its own thread inside nginx's network
/// namespace (`netns`: the master's pid) when given; trusted files are read under nginx's
/// mount `root`. Unavailable only when the route has no TLS upstream.
pub fn gather(
    cx: &runner::Context,
    targets: &[TlsTarget],
    netns: Option<u32>,
    root: Option<&Path>,
) -> Fact<Vec<UpstreamCertificate>> {
    if targets.is_empty() {
        return no_tls_upstream();
    }
    let now = chrono::Utc::now().fixed_offset();
    let certs = std::thread::scope(|s| {
        let jobs: Vec<_> = targets
            .iter()
            .map(|t| {
                // A thread of its own: joining nginx's network namespace is safe here.
                s.spawn(move || {
                    let chain = match netns.map(|pid| ns::enter_net(&cx.proc_root, pid)) {
                        Some(Err(e)) => Err(format!("cannot enter nginx's network namespace: {e}")),
                        _ => read_chain(t, cx.timeout),
                    };
                    describe(t, chain, root, now, cx.timeout)
                })
            })
            .collect();
        jobs.into_iter()
            .zip(targets)
            .map(|(j, t)| {
                j.join().unwrap_or_else(|_| {
                    describe(
                        t,
                        Err("the TLS reader failed".into()),
                        None,
                        now,
                        cx.timeout,
                    )
                })
            })
            .collect::<Vec<_>>()
    });
    Fact::collected(certs)
}

/// The fact when the route has no TLS upstream.
pub fn no_tls_upstream() -> Fact<Vec<UpstreamCertificate>> {
    Fact::unavailable(
        "upstream certificates",
        "the route has no https:// or grpcs:// upstream",
    )
}

fn describe(
    t: &TlsTarget,
    chain: Result<Vec<CertificateDer<'static>>, String>,
    root: Option<&Path>,
    now: DateTime<FixedOffset>,
    timeout: Duration,
) -> UpstreamCertificate {
    let mut out = UpstreamCertificate {
        address: t.address.to_string(),
        target: t.target.clone(),
        sni: t.sni.clone(),
        verify_name: t.verify_name.clone(),
        verify_name_from: t.verify_name_from.clone(),
        verify: t.verify,
        trusted_file: t.trusted_file.clone(),
        verify_depth: Some(t.verify_depth),
        error: None,
        certificate: None,
    };
    match chain {
        Ok(chain) if !chain.is_empty() => match parse_leaf(&chain[0]) {
            Ok(mut info) => {
                info.chain_sent = chain.len();
                info.name_matches = t
                    .verify_name
                    .as_deref()
                    .map(|n| host_matches(n, &info.dns_names, info.subject_cn.as_deref()));
                judge_chain(&mut info, &chain, t.trusted_file.as_deref(), root, now);
                info.matches_with_sni = retry_with_sni(t, &info, timeout);
                out.certificate = Some(info);
            }
            Err(e) => out.error = Some(format!("the certificate cannot be read: {e}")),
        },
        Ok(_) => out.error = Some("the upstream sent no certificate".into()),
        Err(e) => out.error = Some(e),
    }
    out
}

/// A name that does not match while nginx sends no SNI: does the upstream have a
/// certificate for the verified name when asked for it? (Virtual-hosted upstreams present a
/// default certificate without SNI.) Runs in the caller's namespace, like the first read.
fn retry_with_sni(t: &TlsTarget, info: &CertificateInfo, timeout: Duration) -> Option<bool> {
    let name = t.verify_name.as_deref()?;
    if info.name_matches != Some(false) || t.sni.is_some() || !sni_allowed(name) {
        return None;
    }
    let asked = TlsTarget {
        sni: Some(name.to_string()),
        ..t.clone()
    };
    let chain = read_chain(&asked, timeout).ok()?;
    let leaf = parse_leaf(chain.first()?).ok()?;
    Some(host_matches(
        name,
        &leaf.dns_names,
        leaf.subject_cn.as_deref(),
    ))
}

/// Records the chain the upstream sends and accepts it: the reader inspects, nginx is the
/// one that verifies. Handshake signatures are not checked either (nothing is trusted or
/// sent over the connection).
#[derive(Debug)]
struct Recorder {
    chain: Mutex<Vec<CertificateDer<'static>>>,
    schemes: Vec<SignatureScheme>,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut c) = self.chain.lock() {
            *c = std::iter::once(end_entity)
                .chain(intermediates)
                .map(|d| d.clone().into_owned())
                .collect();
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes.clone()
    }
}

/// Connects (within `timeout`, connect and handshake together), runs the handshake with
/// the SNI nginx sends, and returns the chain the upstream presented.
fn read_chain(t: &TlsTarget, timeout: Duration) -> Result<Vec<CertificateDer<'static>>, String> {
    if let Some(why) = &t.skip {
        return Err(why.clone());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let recorder = Arc::new(Recorder {
        chain: Mutex::new(Vec::new()),
        schemes: provider
            .signature_verification_algorithms
            .supported_schemes(),
    });
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(recorder.clone())
        .with_no_client_auth();
    let server_name = match t
        .sni
        .as_deref()
        .map(|n| ServerName::try_from(n.to_string()))
    {
        Some(Ok(n)) => n,
        // No SNI (or one rustls cannot send): an IP address name sends none.
        _ => {
            config.enable_sni = false;
            ServerName::IpAddress(t.address.ip().into())
        }
    };
    if t.grpc {
        config.alpn_protocols = vec![b"h2".to_vec()];
    }
    let deadline = Instant::now() + timeout;
    let mut sock = TcpStream::connect_timeout(&t.address, timeout)
        .map_err(|e| format!("connect() to {} failed: {e}", t.address))?;
    let mut conn = rustls::ClientConnection::new(Arc::new(config), server_name)
        .map_err(|e| format!("TLS setup: {e}"))?;
    let mut failure = None;
    while conn.is_handshaking() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            failure = Some(format!("no TLS handshake within {timeout:?}"));
            break;
        }
        let _ = sock.set_read_timeout(Some(left));
        let _ = sock.set_write_timeout(Some(left));
        match conn.complete_io(&mut sock) {
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                failure = Some(format!("no TLS handshake within {timeout:?}"));
                break;
            }
            Err(e) => {
                failure = Some(format!("TLS handshake with {} failed: {e}", t.address));
                break;
            }
        }
    }
    if failure.is_none() {
        conn.send_close_notify();
        let _ = conn.complete_io(&mut sock);
    }
    let chain = recorder.chain.lock().map(|c| c.clone()).unwrap_or_default();
    match (chain.is_empty(), failure) {
        // A handshake that failed after the certificate (a client certificate required)
        // still showed it.
        (false, _) => Ok(chain),
        (true, Some(f)) => Err(f),
        (true, None) => Ok(chain),
    }
}

/// Names, issuer and dates of a DER certificate.
fn parse_leaf(der: &CertificateDer<'_>) -> Result<CertificateInfo, String> {
    use x509_parser::extensions::GeneralName;
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).map_err(|e| e.to_string())?;
    let mut info = CertificateInfo {
        subject: cert.subject().to_string(),
        subject_cn: cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_string),
        issuer: cert.issuer().to_string(),
        not_before: time_of(cert.validity().not_before.timestamp()),
        not_after: time_of(cert.validity().not_after.timestamp()),
        self_signed: cert.subject().as_raw() == cert.issuer().as_raw(),
        ..Default::default()
    };
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                GeneralName::DNSName(d) => info.dns_names.push(d.to_string()),
                GeneralName::IPAddress(b) => {
                    let ip = match b.len() {
                        4 => <[u8; 4]>::try_from(*b).ok().map(IpAddr::from),
                        16 => <[u8; 16]>::try_from(*b).ok().map(IpAddr::from),
                        _ => None,
                    };
                    info.ip_names.extend(ip.map(|i| i.to_string()));
                }
                _ => {}
            }
        }
    }
    Ok(info)
}

fn time_of(unix: i64) -> Option<DateTime<FixedOffset>> {
    DateTime::from_timestamp(unix, 0).map(|t| t.fixed_offset())
}

/// Does the chain lead to the trusted file? Judged apart from expiry (checked at a time
/// inside the leaf's validity when `now` is outside it), so "expired" and "untrusted" are
/// told apart. Without a trusted file nginx trusts nothing; a CA bundle of nginx's system
/// that would work is named then (and when the trusted file does not lead there).
fn judge_chain(
    info: &mut CertificateInfo,
    chain: &[CertificateDer<'static>],
    trusted: Option<&str>,
    root: Option<&Path>,
    now: DateTime<FixedOffset>,
) {
    let mid = match (info.not_before, info.not_after) {
        (Some(a), Some(b)) => a + (b - a) / 2,
        _ => now,
    };
    match trusted {
        None => {
            info.chains_to_trusted = Some(false);
            info.chain_note = Some("no trusted certificate file is set: nginx trusts no CA".into());
        }
        Some(file) => match read_pem(&ns::under_root(root, file)) {
            Err(e) => info.chain_note = Some(format!("{file} cannot be read: {e}")),
            Ok(anchors) => {
                let v = chains_to(chain, &anchors, now, mid);
                info.chains_to_trusted = v.chains;
                info.chain_note = v.note;
                info.chain_intermediates = v.intermediates;
            }
        },
    }
    if info.chains_to_trusted == Some(false) {
        info.chains_to_bundle = BUNDLES.iter().find_map(|b| {
            let anchors = read_pem(&ns::under_root(root, b)).ok()?;
            (chains_to(chain, &anchors, now, mid).chains == Some(true)).then(|| b.to_string())
        });
    }
}

fn read_pem(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = files::read_all(path, MAX_PEM).map_err(|e| e.to_string())?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&bytes)
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err("no PEM certificate in it".into());
    }
    Ok(certs)
}

/// How the chain fares against a trusted file.
#[derive(Debug, PartialEq)]
struct ChainVerdict {
    /// Some(true): nginx's OpenSSL builds a path to a root of the file; Some(false): it
    /// cannot; None: webpki cannot tell (an algorithm or extension it does not accept,
    /// where OpenSSL might).
    chains: Option<bool>,
    note: Option<String>,
    /// CA certificates between the leaf and the self-signed root of the path.
    intermediates: Option<usize>,
}

fn verdict(chains: Option<bool>, note: Option<String>) -> ChainVerdict {
    ChainVerdict {
        chains,
        note,
        intermediates: None,
    }
}

/// Signatures by webpki, then the path by names as nginx's OpenSSL builds it.
fn chains_to(
    chain: &[CertificateDer<'static>],
    anchors: &[CertificateDer<'static>],
    now: DateTime<FixedOffset>,
    mid: DateTime<FixedOffset>,
) -> ChainVerdict {
    // A self-signed certificate that is itself in the trusted file is trusted as is.
    if anchors.iter().any(|a| a.as_ref() == chain[0].as_ref()) {
        if let Ok(n) = openssl_path(chain, anchors) {
            return ChainVerdict {
                chains: Some(true),
                note: None,
                intermediates: Some(n),
            };
        }
    }
    let mut roots = rustls::RootCertStore::empty();
    let (_, unusable) = roots.add_parsable_certificates(anchors.iter().cloned());
    let Ok(leaf) = rustls::server::ParsedCertificate::try_from(&chain[0]) else {
        return verdict(
            None,
            Some("the certificate is not one webpki can check".into()),
        );
    };
    let algs = rustls::crypto::ring::default_provider().signature_verification_algorithms;
    let at = |t: DateTime<FixedOffset>| {
        UnixTime::since_unix_epoch(Duration::from_secs(t.timestamp().max(0) as u64))
    };
    let verify = |t| {
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &leaf,
            &roots,
            &chain[1..],
            at(t),
            algs.all,
        )
    };
    let time_error = |e: &rustls::Error| {
        matches!(
            e,
            rustls::Error::InvalidCertificate(
                CertificateError::Expired
                    | CertificateError::ExpiredContext { .. }
                    | CertificateError::NotValidYet
                    | CertificateError::NotValidYetContext { .. }
            )
        )
    };
    let result = match verify(now) {
        Err(e) if time_error(&e) => verify(mid),
        r => r,
    };
    match result {
        Ok(()) => match openssl_path(chain, anchors) {
            Ok(n) => ChainVerdict {
                chains: Some(true),
                note: None,
                intermediates: Some(n),
            },
            Err(note) => verdict(Some(false), Some(note)),
        },
        Err(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)) => verdict(
            Some(false),
            Some(format!(
                "no certificate in it issued the chain ({} certificate(s) read{})",
                anchors.len(),
                if unusable > 0 {
                    format!(", {unusable} unusable")
                } else {
                    String::new()
                }
            )),
        ),
        // webpki refuses some certificates OpenSSL takes (a self-signed leaf marked as a
        // CA): then only the names tell, as OpenSSL's issuer lookup goes by name.
        Err(e) if !issuer_named_in(chain, anchors) => verdict(
            Some(false),
            Some(format!(
                "no certificate in it is named like the chain's issuer ({e})"
            )),
        ),
        Err(e) => verdict(None, Some(format!("the chain could not be checked: {e}"))),
    }
}

/// Subject and issuer of a certificate, as lower-case text (how names are compared).
fn names_of(d: &CertificateDer<'_>) -> Option<(String, String)> {
    let (_, c) = x509_parser::parse_x509_certificate(d.as_ref()).ok()?;
    Some((
        c.subject().to_string().to_lowercase(),
        c.issuer().to_string().to_lowercase(),
    ))
}

/// The path nginx's OpenSSL builds by issuer names, trusted certificates first (its
/// default), and how many CA certificates lie between the leaf and the root. It must end at
/// a self-signed certificate of the trusted file: nginx sets no partial-chain flag, so an
/// intermediate CA alone in the file is not enough ("unable to get issuer certificate").
fn openssl_path(
    chain: &[CertificateDer<'static>],
    anchors: &[CertificateDer<'static>],
) -> Result<usize, String> {
    let sent: Vec<(String, String)> = chain.iter().filter_map(|c| names_of(c)).collect();
    let trusted: Vec<(String, String)> = anchors.iter().filter_map(|c| names_of(c)).collect();
    let Some((leaf_subject, leaf_issuer)) = sent.first() else {
        return Err("the certificate cannot be read".into());
    };
    if leaf_subject == leaf_issuer {
        return if anchors.iter().any(|a| a.as_ref() == chain[0].as_ref()) {
            Ok(0)
        } else {
            Err("the self-signed certificate is not in it".into())
        };
    }
    let mut wanted = leaf_issuer.clone();
    let mut intermediates = 0;
    for _ in 0..16 {
        let found = trusted
            .iter()
            .map(|c| (c, true))
            .chain(sent[1..].iter().map(|c| (c, false)))
            .find(|((subject, _), _)| *subject == wanted);
        match found {
            Some(((subject, issuer), trusted)) if subject == issuer => {
                return if trusted {
                    Ok(intermediates)
                } else {
                    Err(format!("the chain ends at the root {subject}, which is not in it"))
                };
            }
            Some(((_, issuer), _)) => {
                intermediates += 1;
                wanted = issuer.clone();
            }
            None if intermediates > 0 => {
                return Err(format!(
                    "it holds a CA below the root, but not the root {wanted}: nginx needs the chain to end at a self-signed root of the file"
                ))
            }
            None => return Err(format!("no certificate in it is the issuer {wanted}")),
        }
    }
    Err("the chain is too long to follow".into())
}

/// Whether some certificate of `anchors` has the subject that a certificate of `chain`
/// names as its issuer (compared as text, case-insensitively, like OpenSSL's canonical
/// names).
fn issuer_named_in(chain: &[CertificateDer<'static>], anchors: &[CertificateDer<'static>]) -> bool {
    let name_of = |d: &CertificateDer<'static>, issuer: bool| {
        x509_parser::parse_x509_certificate(d.as_ref())
            .ok()
            .map(|(_, c)| {
                if issuer {
                    c.issuer().to_string()
                } else {
                    c.subject().to_string()
                }
                .to_lowercase()
            })
    };
    let subjects: Vec<String> = anchors.iter().filter_map(|a| name_of(a, false)).collect();
    chain
        .iter()
        .filter_map(|c| name_of(c, true))
        .any(|i| subjects.contains(&i))
}

/// Whether `name` matches the certificate as OpenSSL's `X509_check_host(cert, name, 0,
/// 0)` decides — nginx's check for `proxy_ssl_verify`: against the DNS names of the
/// subjectAltName when there are any, else against the subject's CN (IP SANs are not
/// consulted for a host name); case-insensitive.
pub fn host_matches(name: &str, dns_names: &[String], cn: Option<&str>) -> bool {
    if name.is_empty() {
        return false;
    }
    if dns_names.is_empty() {
        cn.is_some_and(|c| pattern_matches(c, name))
    } else {
        dns_names.iter().any(|p| pattern_matches(p, name))
    }
}

/// One certificate name against the host name, wildcards as OpenSSL applies them (flags
/// 0: partial-label wildcards such as `f*.example.com` allowed, one label only).
fn pattern_matches(pattern: &str, subject: &str) -> bool {
    // A subject starting with '.' never meets a wildcard.
    let star = if subject.len() > 1 && subject.starts_with('.') {
        None
    } else {
        valid_star(pattern)
    };
    match star {
        None => pattern.eq_ignore_ascii_case(subject),
        Some(i) => wildcard_match(&pattern[..i], &pattern[i + 1..], subject),
    }
}

/// The position of the pattern's one usable `*`: in the first label only, at its start or
/// end, not in an IDNA (`xn--`) label, with at least two dots in the pattern; labels made
/// of letters, digits and inner hyphens. None: no wildcard (compared literally).
fn valid_star(p: &str) -> Option<usize> {
    let b = p.as_bytes();
    let mut star = None;
    let (mut label_start, mut hyphen_end, mut idna) = (true, false, false);
    let mut dots = 0;
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'*' => {
                let at_end = i + 1 == b.len() || b[i + 1] == b'.';
                if star.is_some() || idna || dots > 0 || (!label_start && !at_end) {
                    return None;
                }
                star = Some(i);
                label_start = false;
            }
            c if c.is_ascii_alphanumeric() => {
                if label_start && b.len() - i >= 4 && b[i..i + 4].eq_ignore_ascii_case(b"xn--") {
                    idna = true;
                }
                label_start = false;
                hyphen_end = false;
            }
            b'.' => {
                if label_start || hyphen_end {
                    return None;
                }
                label_start = true;
                idna = false;
                dots += 1;
            }
            b'-' => {
                if label_start {
                    return None;
                }
                hyphen_end = true;
            }
            _ => return None,
        }
    }
    if label_start || hyphen_end || dots < 2 {
        return None;
    }
    star
}

fn wildcard_match(prefix: &str, suffix: &str, subject: &str) -> bool {
    if subject.len() < prefix.len() + suffix.len() {
        return false;
    }
    let (s, pl, sl) = (subject.as_bytes(), prefix.len(), suffix.len());
    if !s[..pl].eq_ignore_ascii_case(prefix.as_bytes())
        || !s[s.len() - sl..].eq_ignore_ascii_case(suffix.as_bytes())
    {
        return false;
    }
    let wild = &s[pl..s.len() - sl];
    let whole_label = pl == 0 && suffix.starts_with('.');
    // A whole-label wildcard matches at least one character.
    if whole_label && wild.is_empty() {
        return false;
    }
    // An IDNA name never meets a partial-label wildcard.
    if !whole_label && s.len() >= 4 && s[..4].eq_ignore_ascii_case(b"xn--") {
        return false;
    }
    if wild == b"*" {
        return true;
    }
    wild.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{RouteSettings, SocketKind, UpstreamAddr, UpstreamTlsSettings};

    fn m(pattern: &str, name: &str) -> bool {
        host_matches(name, &[pattern.to_string()], None)
    }

    #[test]
    fn exact_names_match_case_insensitively() {
        assert!(m("api.internal", "API.internal"));
        assert!(!m("api.internal", "api.internal.example"));
        assert!(!m("api.internal", "127.0.0.1"));
    }

    #[test]
    fn wildcards_as_openssl_applies_them() {
        assert!(m("*.example.com", "www.example.com"));
        // One label only, and never the bare domain.
        assert!(!m("*.example.com", "a.b.example.com"));
        assert!(!m("*.example.com", "example.com"));
        assert!(!m("*.example.com", ".example.com"));
        // Partial-label wildcards at the label's start or end (flags 0 allow them).
        assert!(m("f*.example.com", "foo.example.com"));
        assert!(m("*o.example.com", "foo.example.com"));
        assert!(!m("f*.example.com", "bar.example.com"));
        // Not in the middle of a label, not after the first label.
        assert!(!m("f*o.example.com", "foo.example.com"));
        assert!(!m("www.*.com", "www.example.com"));
        // Two dots needed: `*.com` is compared literally.
        assert!(!m("*.com", "example.com"));
        assert!(m("*.com", "*.com"));
        // Not in IDNA labels; a whole-label wildcard may match an IDNA label.
        assert!(!m("xn--*.example.com", "xn--bcher-kva.example.com"));
        assert!(m("*.example.com", "xn--bcher-kva.example.com"));
        assert!(!m("x*.example.com", "xn--bcher-kva.example.com"));
        // The wildcard part is letters, digits and hyphens.
        assert!(!m("*.example.com", "a_b.example.com"));
    }

    #[test]
    fn dns_names_first_else_the_cn() {
        let dns = vec!["web.local".to_string()];
        // With DNS names the CN is not consulted.
        assert!(!host_matches("api.internal", &dns, Some("api.internal")));
        assert!(host_matches("api.internal", &[], Some("api.internal")));
        // An IP address matches only as a DNS/CN string (X509_check_host ignores IP SANs).
        assert!(host_matches("127.0.0.1", &[], Some("127.0.0.1")));
        assert!(!host_matches("", &[], Some("")));
    }

    fn route(target: &str, tls: UpstreamTlsSettings) -> Route {
        Route {
            directive: Some("proxy_pass".into()),
            target: Some(target.into()),
            scheme: Some("https".into()),
            upstreams: vec![UpstreamAddr {
                address: "127.0.0.1:8443".into(),
                kind: SocketKind::Tcp,
                host: None,
                file: "/etc/nginx/nginx.conf".into(),
                line: 9,
                params: vec![],
                php_fpm_version: None,
            }],
            settings: RouteSettings {
                upstream_tls: Some(tls),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn tls(name: Option<&str>, server_name: bool) -> UpstreamTlsSettings {
        UpstreamTlsSettings {
            prefix: "proxy".into(),
            verify: true,
            server_name,
            name: name.map(str::to_string),
            trusted_certificate: Some("ca.pem".into()),
            verify_depth: 1,
        }
    }

    #[test]
    fn sni_and_verified_name_follow_nginx_defaults() {
        let all = |_: IpAddr| None;
        let dir = Path::new("/etc/nginx");
        // Default: no SNI, the name verified is the proxy_pass host without its port.
        let r = route("https://api.internal:8443", tls(None, false));
        let t = &targets(&[&r], Some(dir), "shop.test", &all)[0];
        assert_eq!(t.sni, None);
        assert_eq!(t.verify_name.as_deref(), Some("api.internal"));
        assert_eq!(t.verify_name_from.as_deref(), Some("proxy_pass host"));
        assert_eq!(t.trusted_file.as_deref(), Some("/etc/nginx/ca.pem"));
        // proxy_ssl_server_name on: the name is sent, unless it is an IP address.
        let r = route("https://api.internal:8443", tls(Some("web.local"), true));
        let t = &targets(&[&r], Some(dir), "shop.test", &all)[0];
        assert_eq!(t.sni.as_deref(), Some("web.local"));
        assert_eq!(t.verify_name_from.as_deref(), Some("proxy_ssl_name"));
        let r = route("https://127.0.0.1:8443", tls(None, true));
        let t = &targets(&[&r], Some(dir), "shop.test", &all)[0];
        assert_eq!(t.sni, None);
        assert_eq!(t.verify_name.as_deref(), Some("127.0.0.1"));
        // Variables: $proxy_host and $host are known, others are not.
        let r = route("https://backend", tls(Some("$host"), true));
        let t = &targets(&[&r], Some(dir), "Shop.test", &all)[0];
        assert_eq!(t.verify_name.as_deref(), Some("shop.test"));
        let r = route("https://backend", tls(Some("$http_x_name"), true));
        let t = &targets(&[&r], Some(dir), "shop.test", &all)[0];
        assert_eq!((t.verify_name.clone(), t.sni.clone()), (None, None));
        // An address of another host is listed, not contacted.
        let r = route("https://api.internal:8443", tls(None, false));
        let t = &targets(&[&r], Some(dir), "shop.test", &|_| Some("remote".into()))[0];
        assert!(t.skip.is_some());
        // Not TLS: nothing to read.
        let mut plain = route("http://127.0.0.1:8443", tls(None, false));
        plain.settings.upstream_tls = None;
        assert!(targets(&[&plain], Some(dir), "shop.test", &all).is_empty());
    }

    fn pem(name: &str) -> Vec<CertificateDer<'static>> {
        let path = format!("{}/fixtures/tls/{name}.pem", env!("CARGO_MANIFEST_DIR"));
        read_pem(Path::new(&path)).unwrap()
    }

    fn at(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    #[test]
    fn names_and_dates_of_a_recorded_certificate() {
        let info = parse_leaf(&pem("leaf")[0]).unwrap();
        assert_eq!(info.subject_cn.as_deref(), Some("api.internal"));
        assert_eq!(info.dns_names, ["api.internal", "*.svc.internal"]);
        assert_eq!(info.ip_names, ["127.0.0.1"]);
        assert_eq!(info.issuer, "CN=badgw fixture intermediate");
        assert_eq!(info.not_before, Some(at("2020-01-01T00:00:00+00:00")));
        assert_eq!(info.not_after, Some(at("2120-01-01T00:00:00+00:00")));
        assert!(!info.self_signed);
        assert!(parse_leaf(&pem("self")[0]).unwrap().self_signed);
        assert!(host_matches("db.svc.internal", &info.dns_names, None));
        assert!(!host_matches("127.0.0.1", &info.dns_names, None));
    }

    #[test]
    fn chains_as_nginx_openssl_builds_them() {
        let now = at("2026-12-01T00:00:00+00:00");
        let (leaf, inter, root, own) = (pem("leaf"), pem("inter"), pem("root"), pem("self"));
        let sent: Vec<_> = leaf.iter().chain(&inter).cloned().collect();
        // The upstream sends its intermediate; the file holds the root: one intermediate.
        let v = chains_to(&sent, &root, now, now);
        assert_eq!((v.chains, v.intermediates), (Some(true), Some(1)), "{v:?}");
        // The same file with the intermediate too: trusted first, still one below the root.
        let both: Vec<_> = inter.iter().chain(&root).cloned().collect();
        assert_eq!(chains_to(&leaf, &both, now, now).intermediates, Some(1));
        // The intermediate not sent and not in the file: its issuer is unknown.
        assert_eq!(chains_to(&leaf, &root, now, now).chains, Some(false));
        // Only the intermediate in the file: no self-signed root ends the path.
        let v = chains_to(&sent, &inter, now, now);
        assert_eq!(v.chains, Some(false), "{v:?}");
        assert!(
            v.note
                .unwrap()
                .contains("not the root cn=badgw fixture root"),
            "nginx sets no partial-chain flag"
        );
        // A self-signed certificate: trusted only when the file holds exactly it.
        assert_eq!(chains_to(&own, &root, now, now).chains, Some(false));
        let v = chains_to(&own, &own, now, now);
        assert_eq!((v.chains, v.intermediates), (Some(true), Some(0)));
        // Past its dates the chain is judged at a time inside them: expiry is its own
        // problem.
        let later = at("2130-01-01T00:00:00+00:00");
        let mid = at("2070-01-01T00:00:00+00:00");
        assert_eq!(chains_to(&sent, &root, later, mid).chains, Some(true));
    }

    #[test]
    fn ports_are_stripped_like_nginx_does() {
        assert_eq!(strip_port("api.internal:8443"), "api.internal");
        assert_eq!(strip_port("[::1]:8443"), "[::1]");
        assert_eq!(strip_port("[::1]"), "[::1]");
        assert_eq!(strip_port("api.internal"), "api.internal");
        assert!(!sni_allowed("[::1]"));
        assert!(!sni_allowed("10.0.0.1"));
        assert!(sni_allowed("api.internal"));
    }

    #[test]
    fn nothing_to_read_is_unavailable_and_a_refused_port_is_an_error() {
        let cx = runner::Context::at("/proc", Duration::from_secs(2));
        assert!(gather(&cx, &[], None, None).value().is_none());
        // A port nothing listens on: bind one, learn its number, close it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let t = TlsTarget {
            address: SocketAddr::from(([127, 0, 0, 1], port)),
            target: None,
            sni: None,
            verify_name: Some("x.internal".into()),
            verify_name_from: None,
            verify: true,
            trusted_file: None,
            verify_depth: 1,
            grpc: false,
            skip: None,
        };
        let got = gather(&cx, &[t], None, None);
        let c = &got.value().unwrap()[0];
        assert!(c.certificate.is_none());
        assert!(c.error.as_deref().unwrap().contains("connect()"), "{c:?}");
    }
}
