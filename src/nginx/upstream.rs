//! From a location's `*_pass` directive to the addresses nginx connects to: `upstream {}`
//! groups with their server parameters and keepalive settings, literal addresses, unix
//! sockets, host names (resolved as the OS resolver does at nginx start-up, every address
//! kept), and targets with variables (reported as dynamic, with what can be inferred).

use std::net::SocketAddr;

use super::tree::{Directive, Tree};
use super::Resolver;
use crate::facts::{SocketKind, UpstreamAddr};

pub const PASS_DIRECTIVES: &[&str] = &[
    "proxy_pass",
    "fastcgi_pass",
    "uwsgi_pass",
    "scgi_pass",
    "grpc_pass",
    "memcached_pass",
];

/// A parsed pass target.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub scheme: String,
    /// `host:port`, `host`, `unix:/path` or an upstream group name.
    pub authority: String,
    /// The URI part of proxy_pass (`http://b/app/` → "/app/"), if any.
    pub uri: Option<String>,
    pub explicit_port: bool,
}

/// Splits a pass directive's argument into scheme, authority and URI.
pub fn parse_target(directive: &str, arg: &str) -> Target {
    let implied = match directive {
        "fastcgi_pass" => "fastcgi",
        "uwsgi_pass" => "uwsgi",
        "scgi_pass" => "scgi",
        "memcached_pass" => "memcached",
        "grpc_pass" => "grpc",
        _ => "http",
    };
    let (scheme, rest) = match arg.split_once("://") {
        Some((s, r)) => (s.to_ascii_lowercase(), r),
        None => (implied.to_string(), arg),
    };
    // `http://unix:/run/app.sock:/uri` — the socket path ends at the next ':'.
    if let Some(path) = rest.strip_prefix("unix:") {
        let (sock, uri) = match path.find(':') {
            Some(i) => (&path[..i], Some(path[i + 1..].to_string())),
            None => (path, None),
        };
        return Target {
            scheme,
            authority: format!("unix:{sock}"),
            uri: uri.filter(|u| !u.is_empty()),
            explicit_port: false,
        };
    }
    let (authority, uri) = match rest.find('/') {
        Some(i) => (&rest[..i], Some(rest[i..].to_string())),
        None => (rest, None),
    };
    let explicit_port = if authority.starts_with('[') {
        authority.contains("]:")
    } else {
        authority.contains(':')
    };
    Target {
        scheme,
        authority: authority.to_string(),
        uri,
        explicit_port,
    }
}

pub fn default_port(scheme: &str) -> u16 {
    match scheme {
        "https" | "grpcs" => 443,
        _ => 80,
    }
}

/// `host:port` / `[v6]:port` / `host` → (host, port).
pub fn split_host_port(authority: &str, default: u16) -> Option<(String, u16)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None => default,
        };
        return Some((h.to_string(), port));
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => Some((h.to_string(), p.parse().ok()?)),
        None => Some((authority.to_string(), default)),
    }
}

/// Addresses of one `host:port` or `unix:` server, with where it is written.
pub fn addresses(
    authority: &str,
    default: u16,
    file: &str,
    line: u32,
    params: &[String],
    resolve: Resolver,
) -> Result<Vec<UpstreamAddr>, String> {
    let mk = |address: String, kind: SocketKind, host: Option<String>| UpstreamAddr {
        address,
        kind,
        host,
        file: file.to_string(),
        line,
        params: params.to_vec(),
        php_fpm_version: None,
    };
    if let Some(path) = authority.strip_prefix("unix:") {
        let mut u = mk(format!("unix:{path}"), SocketKind::Unix, None);
        u.php_fpm_version = crate::parse::fpm::socket_version(&u.address);
        return Ok(vec![u]);
    }
    let (host, port) = split_host_port(authority, default)
        .ok_or_else(|| format!("invalid address {authority:?}"))?;
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        let sa = SocketAddr::new(ip, port);
        let kind = if ip.is_ipv6() {
            SocketKind::Tcp6
        } else {
            SocketKind::Tcp
        };
        return Ok(vec![mk(sa.to_string(), kind, None)]);
    }
    let resolved = resolve(&host, port);
    if resolved.is_empty() {
        return Err(format!("host not found in upstream \"{authority}\""));
    }
    Ok(resolved
        .into_iter()
        .map(|sa| {
            mk(
                sa.to_string(),
                if sa.is_ipv6() {
                    SocketKind::Tcp6
                } else {
                    SocketKind::Tcp
                },
                Some(host.clone()),
            )
        })
        .collect())
}

/// The `upstream NAME {}` block of the http blocks, if any.
pub fn find_group<'a>(tree: &'a Tree, name: &str) -> Option<&'a Directive> {
    tree.root
        .iter()
        .filter(|d| d.name == "http")
        .flat_map(|h| h.children())
        .find(|d| d.name == "upstream" && d.arg(0) == Some(name))
}

/// The servers of a group, resolved.
pub fn group_addresses(
    tree: &Tree,
    group: &Directive,
    resolve: Resolver,
    notes: &mut Vec<String>,
) -> Vec<UpstreamAddr> {
    let mut out = Vec::new();
    for s in group.children().iter().filter(|d| d.name == "server") {
        let Some(addr) = s.arg(0) else { continue };
        match addresses(addr, 80, tree.file(s.file), s.line, &s.args[1..], resolve) {
            Ok(mut a) => out.append(&mut a),
            Err(e) => notes.push(format!("{}:{}: {e}", tree.file(s.file), s.line)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = parse_target("proxy_pass", "http://backend/app/");
        assert_eq!(
            (t.scheme.as_str(), t.authority.as_str(), t.uri.as_deref()),
            ("http", "backend", Some("/app/"))
        );
        let t = parse_target("proxy_pass", "http://unix:/run/app.sock:/x");
        assert_eq!(
            (t.authority.as_str(), t.uri.as_deref()),
            ("unix:/run/app.sock", Some("/x"))
        );
        let t = parse_target("fastcgi_pass", "unix:/run/php/php8.2-fpm.sock");
        assert_eq!(
            (t.scheme.as_str(), t.authority.as_str()),
            ("fastcgi", "unix:/run/php/php8.2-fpm.sock")
        );
        let t = parse_target("grpc_pass", "grpcs://[::1]:50051");
        assert_eq!(
            (t.scheme.as_str(), t.authority.as_str(), t.explicit_port),
            ("grpcs", "[::1]:50051", true)
        );
    }

    #[test]
    fn localhost_keeps_every_address() {
        let resolve = |_: &str, port: u16| {
            vec![
                SocketAddr::from(([0u16, 0, 0, 0, 0, 0, 0, 1], port)),
                SocketAddr::from(([127, 0, 0, 1], port)),
            ]
        };
        let a = addresses("localhost:3000", 80, "f", 3, &[], &resolve).unwrap();
        let got: Vec<_> = a
            .iter()
            .map(|x| (x.address.as_str(), x.kind, x.host.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                ("[::1]:3000", SocketKind::Tcp6, Some("localhost")),
                ("127.0.0.1:3000", SocketKind::Tcp, Some("localhost"))
            ]
        );
        let none = |_: &str, _: u16| vec![];
        assert_eq!(
            addresses("nope.invalid", 80, "f", 1, &[], &none).unwrap_err(),
            "host not found in upstream \"nope.invalid\""
        );
    }

    /// A packaged PHP-FPM socket names its version, typed when the config is read.
    #[test]
    fn php_fpm_sockets_carry_their_version() {
        let none = |_: &str, _: u16| vec![];
        let a = addresses("unix:/run/php/php8.2-fpm.sock", 80, "f", 1, &[], &none).unwrap();
        assert_eq!(a[0].php_fpm_version.as_deref(), Some("8.2"));
        let a = addresses("unix:/run/app.sock", 80, "f", 1, &[], &none).unwrap();
        assert_eq!(a[0].php_fpm_version, None);
    }
}
