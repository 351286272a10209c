//! What badgw learned about nginx: the instance, its configuration and the selected route.

use serde::{Deserialize, Serialize};

use super::SocketKind;

/// A place in the configuration: the opening line of a block or directive.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct SourceRef {
    pub file: String,
    pub line: u32,
}

impl std::fmt::Display for SourceRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// The running nginx master, as found in /proc.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct NginxMaster {
    pub pid: u32,
    pub cmdline: String,
    /// Path of the binary (`/proc/<pid>/exe`, or the command line's first word).
    #[serde(default)]
    pub binary: Option<String>,
    /// Pids of its worker processes.
    #[serde(default)]
    pub workers: Vec<u32>,
    /// Users the workers run as (from /proc), e.g. "www-data".
    #[serde(default)]
    pub worker_users: Vec<String>,
    /// The systemd unit that runs it (`/proc/<pid>/cgroup` `…/nginx.service`), only when
    /// systemd is the init system here (so `systemctl reload` reaches it).
    #[serde(default)]
    pub unit: Option<String>,
    /// Its pid file (the `pid` directive, resolved against the prefix) and the pid written
    /// there: `nginx -s reload` signals that pid, so it is exact only when they agree.
    #[serde(default)]
    pub pid_file: Option<String>,
    #[serde(default)]
    pub pid_file_pid: Option<u32>,
}

/// A configuration problem, reported like `nginx -t` does.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ConfigIssue {
    pub file: String,
    pub line: u32,
    pub message: String,
}

impl std::fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} in {}:{}", self.message, self.file, self.line)
    }
}

/// One upstream address nginx sends requests to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UpstreamAddr {
    /// `127.0.0.1:3000`, `[::1]:3000`, or `unix:/run/app.sock`.
    pub address: String,
    pub kind: SocketKind,
    /// The host name as written in the config (`localhost:3000`), when it was a name.
    #[serde(default)]
    pub host: Option<String>,
    /// Where the address is written: the `server` line in an `upstream {}` block or the
    /// `*_pass` directive.
    pub file: String,
    pub line: u32,
    /// `backup`, `down`, `max_fails=3`, … as written.
    #[serde(default)]
    pub params: Vec<String>,
    /// The PHP version a packaged PHP-FPM socket names (`unix:/run/php/php8.2-fpm.sock`
    /// → "8.2"): the `php8.2-fpm` service creates it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub php_fpm_version: Option<String>,
}

impl UpstreamAddr {
    /// The TCP address (`127.0.0.1:3000`, `[::1]:3000`); None for a unix socket.
    pub fn socket_addr(&self) -> Option<std::net::SocketAddr> {
        self.address.parse().ok()
    }
}

/// The server block chosen for the request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct RouteServer {
    pub file: String,
    pub line: u32,
    pub server_name: Vec<String>,
    pub listen: Vec<String>,
}

/// The location block chosen for the request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct RouteLocation {
    /// One of "", "=", "^~", "~", "~*", "@".
    pub modifier: String,
    pub pattern: String,
    pub file: String,
    pub line: u32,
}

/// Effective settings for the selected location, after nginx's inheritance.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct RouteSettings {
    /// Seconds; nginx default 60.
    #[serde(default)]
    pub connect_timeout_s: Option<f64>,
    #[serde(default)]
    pub read_timeout_s: Option<f64>,
    #[serde(default)]
    pub send_timeout_s: Option<f64>,
    /// Bytes; nginx default one memory page (4k or 8k).
    #[serde(default)]
    pub buffer_size: Option<u64>,
    #[serde(default)]
    pub http_version: Option<String>,
    /// The `Host` header nginx sends (after `proxy_set_header Host`), when static.
    #[serde(default)]
    pub host_header: Option<String>,
    /// Upstream group keepalive connections (`keepalive N`), when set.
    #[serde(default)]
    pub keepalive: Option<u32>,
    #[serde(default)]
    pub keepalive_timeout_s: Option<f64>,
    /// Other effective settings as name → value, for the route report.
    #[serde(default)]
    pub other: Vec<(String, String)>,
    /// Client side, seconds: `client_body_timeout` (default 60), `send_timeout` (60) and
    /// the client `keepalive_timeout` (75).
    #[serde(default)]
    pub client_body_timeout_s: Option<f64>,
    #[serde(default)]
    pub client_send_timeout_s: Option<f64>,
    #[serde(default)]
    pub client_keepalive_timeout_s: Option<f64>,
    /// Where each timeout above was set, by directive name (absent: nginx's default).
    #[serde(default)]
    pub set_at: Vec<(String, SourceRef)>,
    /// How nginx checks the upstream's certificate (`proxy_ssl_*`), for an `https://` or
    /// `grpcs://` target only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_tls: Option<super::UpstreamTlsSettings>,
}

/// The answer to "where does nginx send this request?".
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Route {
    pub server: RouteServer,
    #[serde(default)]
    pub location: Option<RouteLocation>,
    /// `proxy_pass`, `fastcgi_pass`, …; None when the location serves files itself.
    #[serde(default)]
    pub directive: Option<String>,
    /// Where the pass directive is written.
    #[serde(default)]
    pub directive_at: Option<SourceRef>,
    /// The directive's argument as written, e.g. "http://backend".
    #[serde(default)]
    pub target: Option<String>,
    /// The `upstream {}` group name, when the target names one.
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub group_at: Option<SourceRef>,
    /// Scheme of the target: http, https, fastcgi, uwsgi, scgi, grpc, grpcs, memcached.
    #[serde(default)]
    pub scheme: Option<String>,
    /// The URI the upstream receives for the requested path (after proxy_pass URI rewriting).
    #[serde(default)]
    pub upstream_uri: Option<String>,
    pub upstreams: Vec<UpstreamAddr>,
    /// Set when the target contains variables and cannot be resolved statically.
    #[serde(default)]
    pub dynamic: Option<String>,
    #[serde(default)]
    pub settings: RouteSettings,
    /// Error log that serves this location (the nearest `error_log`), when a file.
    #[serde(default)]
    pub error_log: Option<String>,
    #[serde(default)]
    pub access_log: Option<String>,
    /// The `log_format` the access log is written with.
    #[serde(default)]
    pub access_log_format: Option<LogFormatRef>,
    /// Other observations worth showing, e.g. "site also served by …:40 on port 443".
    #[serde(default)]
    pub notes: Vec<String>,
    /// The request's path through nginx's phases and internal redirects, first to last
    /// (index, try_files, rewrite, error_page…). Empty in snapshots older than the field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hops: Vec<RouteHop>,
    /// How the request ends: "upstream", "static" (a file nginx serves) or "status"
    /// (nginx answers itself: return, 403, 404, 500 cycle…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends: Option<String>,
    /// The status nginx answers with when `ends` is "status" (0: not known statically).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// What the configuration alone could not decide, and what this route assumed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assumed: Vec<String>,
    /// The other ways the request can go, when something could not be decided.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub branches: Vec<RouteBranch>,
    /// The `error_page` that takes over when the upstream fails here (502/504): it may
    /// mask the failure from clients, e.g. "502 → @maintenance (default:30)".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_upstream_error: Option<String>,
    /// The request path this route was computed for (site-wide mode routes one per
    /// location).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `auth_request` subrequests nginx sends before the request goes on: each a second
    /// route (and upstream) the request depends on. A failed subrequest is answered 500.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub auth_requests: Vec<AuthSubrequest>,
}

/// One `auth_request URI` the request passes through, and where that subrequest ends.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct AuthSubrequest {
    pub uri: String,
    /// Where `auth_request` is written.
    pub at: SourceRef,
    /// The subrequest's own route (internal: `internal` locations are reachable).
    pub route: Box<Route>,
}

/// One step of a request through nginx.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct RouteHop {
    /// request, location, rewrite, return, if, access, try_files, index, error_page,
    /// redirect, static, pass, status.
    pub kind: String,
    pub text: String,
    /// The URI after this step, when it set one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<SourceRef>,
}

/// Another way the request can go (a branch the configuration leaves to run time).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct RouteBranch {
    pub assumed: Vec<String>,
    pub hops: Vec<RouteHop>,
    /// "upstream", "static" or "status".
    pub ends: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// `fastcgi_pass unix:/run/php/php8.2-fpm.sock`, when it ends at an upstream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// A `log_format` as nginx assembles it: the name, its strings concatenated, the escaping.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct LogFormatRef {
    pub name: String,
    /// nginx's built-in text for `combined`; else the directive's strings joined.
    pub template: String,
    /// "default", "json" or "none" (`escape=`).
    pub escape: String,
    /// Where `log_format NAME` is defined (None for the built-in `combined`).
    #[serde(default)]
    pub defined_at: Option<SourceRef>,
}

/// An upstream address another server block (not the selected one) targets; such a
/// listener is never mistaken for the selected site's app.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OtherTarget {
    pub address: String,
    pub server_name: Vec<String>,
    pub file: String,
    pub line: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct NginxFacts {
    /// The running master, when one was found.
    #[serde(default)]
    pub master: Option<NginxMaster>,
    /// The main configuration file read.
    pub conf_path: String,
    #[serde(default)]
    pub prefix: Option<String>,
    /// How the configuration was found, e.g. "master pid 812: -c /etc/nginx/nginx.conf".
    pub discovered_by: String,
    /// Every configuration file read.
    pub files: Vec<String>,
    /// Parse problems and unresolved includes; the rest of the config was still read.
    #[serde(default)]
    pub issues: Vec<ConfigIssue>,
    /// The `user` directive (worker user[, group]); nginx's default is "nobody".
    #[serde(default)]
    pub user: Option<String>,
    /// The selected route, or why none matched.
    #[serde(default)]
    pub route: Option<Route>,
    #[serde(default)]
    pub route_error: Option<String>,
    /// Upstream addresses targeted by other server blocks of the same config.
    #[serde(default)]
    pub other_targets: Vec<OtherTarget>,
    /// Addresses nginx itself listens on (from the config), so nginx's own ports are never
    /// taken for the application.
    #[serde(default)]
    pub listens: Vec<String>,
    /// The TCP ports of `listens`, read from the config (or from `listens` when an older
    /// snapshot is loaded), so checks never split addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub listen_ports: Vec<u16>,
    /// Site-wide mode (no `--path`): one route per location of the selected server.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub site_routes: Vec<Route>,
    /// Site-wide mode: each distinct upstream the server's locations reach, failing ones
    /// (per the logs of the window) first; each is checked once, fully.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub site_upstreams: Vec<SiteUpstream>,
}

/// One distinct upstream (address, socket or group) behind the site, in site-wide mode.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct SiteUpstream {
    /// The route checks use for it: a request the logs show failing there, else the first
    /// location (config order) that reaches it.
    pub route: Route,
    /// The request paths routed here: one per location that reaches it (its prefix, exact
    /// name or a sample its regex matches), then failing requests from the logs.
    pub paths: Vec<String>,
    /// Requests the error and access logs show failing in the window that nginx sends
    /// here (path only, no query string), most frequent first.
    #[serde(default)]
    pub failing_paths: Vec<String>,
    /// Error-log events of the window that name this upstream, plus failing access-log
    /// samples routed here.
    #[serde(default)]
    pub failures: u64,
    /// The error-log window restricted to events that name this upstream.
    #[serde(default)]
    pub error_log: Option<super::ErrorLogWindow>,
    /// Found only from a failing request in the logs, after the probes had started: not
    /// probed.
    #[serde(default)]
    pub late: bool,
}

impl SiteUpstream {
    /// What makes two routes the same upstream: the pass directive and its group, or the
    /// addresses (sorted), or the target as written when it is dynamic.
    pub fn key_of(r: &Route) -> String {
        let d = r.directive.as_deref().unwrap_or("");
        if let Some(g) = &r.group {
            return format!("{d} {g}");
        }
        let mut a: Vec<&str> = r.upstreams.iter().map(|u| u.address.as_str()).collect();
        a.sort_unstable();
        a.dedup();
        if a.is_empty() {
            return format!("{d} {}", r.target.as_deref().unwrap_or(""));
        }
        format!("{d} {}", a.join(","))
    }
}
