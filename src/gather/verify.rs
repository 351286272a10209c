//! After a fix: one request through nginx, the way a client sends it (to the address the
//! selected server block listens on, with the site's Host and the path), to say plainly
//! whether the site answers again.

use std::time::Duration;

use super::probe::{self, ProbeRequest};
use crate::facts::{ProbeResult, RequestSpec, Route, SocketKind};

/// The loopback address to reach a `listen` value on: `8080` → 127.0.0.1:8080,
/// `0.0.0.0:80` → 127.0.0.1:80, `[::]:80` → [::1]:80; `ssl`/`quic` listens are skipped
/// (this request is plain HTTP). With `port`, only listens on that port.
pub fn nginx_address(route: &Route, port: Option<u16>) -> Option<String> {
    route.server.listen.iter().find_map(|l| {
        let mut words = l.split_whitespace();
        let addr = words.next()?;
        if l.split_whitespace()
            .any(|w| w == "ssl" || w == "quic" || w == "http2")
        {
            return None;
        }
        let (host, p) = match addr.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() && !p.contains(']') => (h.to_string(), p),
            _ if addr.starts_with("unix:") => return None,
            _ => ("127.0.0.1".to_string(), addr),
        };
        let p: u16 = p.parse().ok()?;
        if port.is_some_and(|want| want != p) {
            return None;
        }
        let host = match host.as_str() {
            "*" | "0.0.0.0" => "127.0.0.1".to_string(),
            "[::]" => "[::1]".to_string(),
            _ => host,
        };
        Some(format!("{host}:{p}"))
    })
}

/// `GET path` with `Host: site` to nginx's listener for the route's server.
pub fn through_nginx(
    route: &Route,
    request: &RequestSpec,
    timeout: Duration,
) -> Option<ProbeResult> {
    let address = nginx_address(route, request.port)?;
    Some(probe::probe(&ProbeRequest {
        kind: if address.starts_with('[') {
            SocketKind::Tcp6
        } else {
            SocketKind::Tcp
        },
        address,
        scheme: "http".into(),
        host_header: request.site.clone(),
        uri: request.path.clone(),
        timeout,
        keepalive_budget: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_values_become_loopback_addresses() {
        let mut r = Route::default();
        for (listen, want) in [
            ("8080", Some("127.0.0.1:8080")),
            ("0.0.0.0:80 default_server", Some("127.0.0.1:80")),
            ("[::]:80", Some("[::1]:80")),
            ("127.0.0.2:81", Some("127.0.0.2:81")),
            ("443 ssl", None),
        ] {
            r.server.listen = vec![listen.to_string()];
            assert_eq!(nginx_address(&r, None).as_deref(), want, "{listen}");
        }
        r.server.listen = vec!["80".into(), "8080".into()];
        assert_eq!(
            nginx_address(&r, Some(8080)).as_deref(),
            Some("127.0.0.1:8080")
        );
    }
}
