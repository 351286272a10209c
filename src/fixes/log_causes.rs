//! Fixes for the causes read from nginx's error log alone (check `error-log-causes`): each
//! names the change and the exact command for this host's nginx and app.

use super::Fix;
use super::{app, nginx};
use crate::cause::Cause;
use crate::facts::Facts;

pub fn fixes(facts: &Facts, cause: Cause, upstream: &str) -> Vec<Fix> {
    let reload = nginx::test_and_reload(facts);
    let app = app::owner(facts);
    let up = if upstream.is_empty() {
        "<upstream>"
    } else {
        upstream
    };
    let path = up.trim_start_matches("unix:");
    match cause {
        Cause::UpstreamDown => vec![
            Fix::safe("see what listens (nothing should be on the upstream's port)", "ss -ltnp"),
            Fix::review("start the app, then retry", app.start_shown()),
        ],
        Cause::SocketMissing => vec![
            Fix::safe("check the socket path", format!("ls -l {path}")),
            Fix::review("start the app that creates the socket", app.restart_shown()),
        ],
        Cause::SocketPermission => vec![
            Fix::safe("compare socket owner/mode with nginx's worker user", format!("ls -l {path}; ps -o user= -C nginx | sort -u")),
            Fix::review("let nginx's user connect (php-fpm: listen.owner/listen.group/listen.mode), then restart the app", app.restart_shown()),
        ],
        Cause::SelinuxDenied => vec![
            Fix::safe("confirm SELinux denials", "getenforce; ausearch -m avc -c nginx -ts recent"),
            Fix::review("allow nginx to connect to the network", "setsebool -P httpd_can_network_connect 1"),
        ],
        Cause::PoolExhausted => vec![
            Fix::safe("see the listen backlog of the socket", format!("ss -lx | grep -F '{path}'")),
            Fix::review("raise the app's worker count (pm.max_children) or listen backlog, then restart it", app.restart_shown()),
        ],
        Cause::EphemeralPorts => vec![
            Fix::safe("count TIME_WAIT sockets", "ss -tan state time-wait | wc -l"),
            Fix::review("reuse upstream connections: keepalive 32; proxy_http_version 1.1; proxy_set_header Connection \"\";", reload.clone()),
        ],
        Cause::FdExhaustion => vec![
            Fix::safe("see nginx's open-file limit", "grep 'open files' /proc/$(pgrep -o nginx)/limits"),
            Fix::review("raise worker_rlimit_nofile and worker_connections", reload.clone()),
        ],
        Cause::UpstreamTimeout => vec![
            Fix::safe("time the upstream directly", format!("curl -s -o /dev/null -w '%{{time_total}}\\n' -m 120 http://{up}/")),
            Fix::review("fix the slow endpoint, or raise proxy_read_timeout for that location", reload.clone()),
        ],
        Cause::PrematureClose => vec![
            Fix::safe("look for crashes or kills of the app", format!("{}; sudo dmesg -T | grep -i -E 'oom|killed process' | tail -n 20", app.logs_shown())),
        ],
        Cause::KeepaliveRace => vec![
            Fix::review("make the app's keep-alive timeout longer than nginx's upstream keepalive_timeout, or retry: proxy_next_upstream error timeout", reload.clone()),
        ],
        Cause::HeaderTooBig => vec![
            Fix::review("raise proxy_buffer_size 16k; proxy_buffers 8 16k; (fastcgi_buffer_size for PHP)", reload.clone()),
        ],
        Cause::ProtocolMismatch => vec![
            Fix::safe("see which protocol the upstream speaks", format!("curl -sv http://{up}/ -o /dev/null; openssl s_client -connect {up} </dev/null")),
            Fix::review("use the matching directive: proxy_pass http:// vs https://, fastcgi_pass for php-fpm, uwsgi_pass for uWSGI", reload.clone()),
        ],
        Cause::NoLiveUpstreams => vec![
            Fix::safe("fix the failures that tripped max_fails; then see the group", "nginx -T | grep -n -A5 'upstream '"),
        ],
        Cause::DnsResolution => vec![
            Fix::safe("resolve the name as the host does", resolve(up)),
            Fix::review("with variables in proxy_pass, add a resolver (e.g. resolver 127.0.0.53 valid=30s;)", reload.clone()),
        ],
        Cause::UpstreamTlsVerify if !certificate_fixes(facts).is_empty() => certificate_fixes(facts),
        Cause::UpstreamTlsVerify => vec![
            Fix::safe("see the names and expiry on the upstream's certificate", certificate(facts, up)),
            Fix::review("verify against the certificate's name and CA: proxy_ssl_name <name>; proxy_ssl_server_name on; proxy_ssl_trusted_certificate <ca.pem>;", reload.clone()),
        ],
        _ => Vec::new(),
    }
}

/// The exact fixes for the route's upstream certificates that nginx rejects, as read over
/// a direct connection (`facts.upstream_tls`), when one was.
fn certificate_fixes(facts: &Facts) -> Vec<Fix> {
    let ups = facts.route_upstreams();
    let Some(certs) = facts.upstream_tls.value() else {
        return Vec::new();
    };
    certs
        .iter()
        .filter(|c| ups.is_empty() || ups.iter().any(|u| u.address == c.address))
        .flat_map(|c| super::upstream_tls::fixes(facts, c))
        .fold(Vec::new(), |mut all, f| {
            if !all.contains(&f) {
                all.push(f);
            }
            all
        })
}

/// The host part of `host:port` (`[v6]:port` too).
fn host_of(up: &str) -> &str {
    let h = match up.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => h,
        _ => up,
    };
    h.trim_start_matches('[').trim_end_matches(']')
}

/// `getent hosts NAME` for the name nginx could not resolve (exit 2: not found).
fn resolve(up: &str) -> String {
    let host = host_of(up);
    if host.is_empty() || host.starts_with('<') {
        "# resolve the upstream's name as the host does: getent hosts NAME".into()
    } else {
        format!("getent hosts {}", super::shell_quote(host))
    }
}

/// The upstream's certificate: subject, names, expiry (SNI = its name, when it has one).
fn certificate(facts: &Facts, up: &str) -> String {
    let host = host_of(up);
    let sni = (host.parse::<std::net::IpAddr>().is_err() && !host.is_empty()).then_some(host);
    super::upstream_tls::inspect(facts, up, sni)
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_come_from_the_upstream() {
        assert_eq!(
            super::resolve("api.internal:8080"),
            "getent hosts api.internal"
        );
        assert!(super::resolve("<upstream>").starts_with('#'));
        let facts = crate::facts::Facts::default();
        assert!(!super::certificate(&facts, "127.0.0.1:443").contains("-servername "));
        assert!(super::certificate(&facts, "api.internal:443").contains("-servername api.internal"));
    }
}
