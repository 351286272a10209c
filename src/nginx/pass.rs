//! What a `*_pass` directive means for one request: its target with `set` variables
//! substituted, the URI the upstream sees, the module's timeouts and buffer size (nginx's
//! defaults where the configuration is silent), the Host and other headers a proxy sends,
//! and the `upstream` group's addresses and keep-alive settings.

use super::tree::Directive;
use super::upstream::{self, default_port, parse_target, Target};
use super::{nearest, nearest_list, values, Config, Resolver};
use crate::facts::{RequestSpec, Route, RouteSettings, SourceRef, UpstreamTlsSettings};

/// Where one `*_pass` is resolved: the configuration, the blocks around it (outermost
/// first), the request and how host names are resolved.
pub(super) struct PassContext<'a> {
    pub config: &'a Config,
    pub chain: &'a [&'a Directive],
    pub req: &'a RequestSpec,
    pub resolve: Resolver<'a>,
}

/// nginx's defaults for what badgw reports of one upstream module, used when no directive
/// sets them. From the nginx documentation (ngx_http_proxy_module, ngx_http_fastcgi_module,
/// ngx_http_uwsgi_module, ngx_http_scgi_module, ngx_http_grpc_module,
/// ngx_http_memcached_module): `*_connect_timeout`, `*_read_timeout` and `*_send_timeout`
/// are 60s in every one of them, and `*_buffer_size` is "4k|8k", one memory page (4k on
/// x86-64 Linux).
struct ModuleDefaults {
    /// The directive that selects the module.
    pass: &'static str,
    /// The prefix of its settings (`proxy` → `proxy_read_timeout`).
    prefix: &'static str,
    connect_timeout_s: f64,
    read_timeout_s: f64,
    send_timeout_s: f64,
    buffer_size: u64,
}

const PAGE: u64 = 4096;

const MODULES: &[ModuleDefaults] = &[
    ModuleDefaults {
        pass: "proxy_pass",
        prefix: "proxy",
        connect_timeout_s: 60.0,
        read_timeout_s: 60.0,
        send_timeout_s: 60.0,
        buffer_size: PAGE,
    },
    ModuleDefaults {
        pass: "fastcgi_pass",
        prefix: "fastcgi",
        connect_timeout_s: 60.0,
        read_timeout_s: 60.0,
        send_timeout_s: 60.0,
        buffer_size: PAGE,
    },
    ModuleDefaults {
        pass: "uwsgi_pass",
        prefix: "uwsgi",
        connect_timeout_s: 60.0,
        read_timeout_s: 60.0,
        send_timeout_s: 60.0,
        buffer_size: PAGE,
    },
    ModuleDefaults {
        pass: "scgi_pass",
        prefix: "scgi",
        connect_timeout_s: 60.0,
        read_timeout_s: 60.0,
        send_timeout_s: 60.0,
        buffer_size: PAGE,
    },
    ModuleDefaults {
        pass: "grpc_pass",
        prefix: "grpc",
        connect_timeout_s: 60.0,
        read_timeout_s: 60.0,
        send_timeout_s: 60.0,
        buffer_size: PAGE,
    },
    ModuleDefaults {
        pass: "memcached_pass",
        prefix: "memcached",
        connect_timeout_s: 60.0,
        read_timeout_s: 60.0,
        send_timeout_s: 60.0,
        buffer_size: PAGE,
    },
];

/// The module of a `*_pass` directive; anything unknown is treated as the proxy module.
fn module_of(pass: &str) -> &'static ModuleDefaults {
    MODULES
        .iter()
        .find(|m| m.pass == pass)
        .unwrap_or(&MODULES[0])
}

/// Client-side defaults (ngx_http_core_module): `client_body_timeout 60s`, `send_timeout
/// 60s`, `keepalive_timeout 75s`.
const CLIENT_BODY_TIMEOUT_S: f64 = 60.0;
const CLIENT_SEND_TIMEOUT_S: f64 = 60.0;
const CLIENT_KEEPALIVE_TIMEOUT_S: f64 = 75.0;
/// `keepalive_timeout` inside an `upstream` block (ngx_http_upstream_module, since 1.15.3).
const UPSTREAM_KEEPALIVE_TIMEOUT_S: f64 = 60.0;
/// `proxy_http_version`'s default.
const PROXY_HTTP_VERSION: &str = "1.0";

/// Fills `route` with what `pass` means for the request: directive, target, scheme,
/// upstream URI, settings and upstream addresses.
pub(super) fn resolve_pass(
    cx: &PassContext,
    pass: &Directive,
    route: &mut Route,
    notes: &mut Vec<String>,
) {
    let tree = &cx.config.tree;
    let arg = pass.arg(0).unwrap_or("");
    route.directive = Some(pass.name.clone());
    route.directive_at = Some(SourceRef {
        file: tree.file(pass.file).to_string(),
        line: pass.line,
    });
    route.target = Some(arg.to_string());
    let mut target = parse_target(&pass.name, arg);
    route.scheme = Some(target.scheme.clone());
    if target.authority.contains('$') && !substitute_variables(cx, pass, &mut target, route) {
        return;
    }
    route.upstream_uri = Some(upstream_uri(&target, route, cx.req));
    let module = module_of(&pass.name);
    let mut settings = module_settings(cx, module);
    if module.prefix == "proxy" {
        proxy_headers(cx, &target, route, &mut settings);
    }
    if matches!(target.scheme.as_str(), "https" | "grpcs") {
        settings.upstream_tls = Some(tls_settings(cx, module.prefix, &mut settings.set_at));
    }
    for name in [
        "client_max_body_size",
        "client_body_timeout",
        "send_timeout",
        "keepalive_timeout",
    ] {
        if let Some(d) = nearest(cx.config, cx.chain, name) {
            settings.other.push((name.into(), d.args.join(" ")));
        }
    }
    match (!target.authority.starts_with("unix:"))
        .then(|| upstream::find_group(tree, &target.authority))
        .flatten()
    {
        Some(group) => {
            route.group = Some(target.authority.clone());
            route.group_at = Some(SourceRef {
                file: tree.file(group.file).to_string(),
                line: group.line,
            });
            route.upstreams = upstream::group_addresses(tree, group, cx.resolve, notes);
            group_settings(tree, group, &mut settings);
        }
        None => match upstream::addresses(
            &target.authority,
            default_port(&target.scheme),
            tree.file(pass.file),
            pass.line,
            &[],
            cx.resolve,
        ) {
            Ok(a) => route.upstreams = a,
            Err(e) => notes.push(format!("{}:{}: {e}", tree.file(pass.file), pass.line)),
        },
    }
    route.settings = settings;
}

/// A variable target (`proxy_pass http://$backend:3000`): records that it is evaluated per
/// request and substitutes the static `set $var value` values that feed it. False when
/// the address stays unknown (a variable without one static value).
fn substitute_variables(
    cx: &PassContext,
    pass: &Directive,
    target: &mut Target,
    route: &mut Route,
) -> bool {
    let arg = pass.arg(0).unwrap_or("");
    let static_sets = || {
        cx.chain
            .iter()
            .flat_map(|s| s.children())
            .filter(|d| d.name == "set" && d.args.len() == 2 && !d.args[1].contains('$'))
    };
    let sets: Vec<String> = static_sets()
        .filter(|d| target.authority.contains(d.args[0].as_str()))
        .map(|d| d.args[1].clone())
        .collect();
    let resolver = nearest(cx.config, cx.chain, "resolver").map(|d| d.args.join(" "));
    route.dynamic = Some(format!(
        "{} {arg} is evaluated per request{}{}",
        pass.name,
        if sets.is_empty() {
            String::new()
        } else {
            format!("; `set` gives {}", sets.join(", "))
        },
        match &resolver {
            Some(r) => format!("; names are resolved at run time by `resolver {r}`"),
            None => "; no `resolver` is defined, so a host name in it fails (\"no resolver defined to resolve …\")".into(),
        }
    ));
    // One static value per variable: substitute it (`http://$backend:3000` with
    // `set $backend app.internal` → app.internal:3000).
    let vars: Vec<(&str, &str)> = static_sets()
        .map(|d| (d.args[0].as_str(), d.args[1].as_str()))
        .collect();
    let mut authority = target.authority.clone();
    for (var, value) in vars.iter().rev() {
        let inner = parse_target(&pass.name, value);
        let braced = format!("${{{}}}", var.trim_start_matches('$'));
        authority = authority
            .replace(&braced, &inner.authority)
            .replace(var, &inner.authority);
    }
    if authority.contains('$') || sets.is_empty() {
        return false;
    }
    target.explicit_port = authority.starts_with('[') && authority.contains("]:")
        || !authority.starts_with('[') && authority.contains(':');
    target.authority = authority;
    true
}

/// The URI the upstream sees: with a URI part in `proxy_pass`, the matched prefix of a
/// prefix location is replaced by it; otherwise the request's own.
fn upstream_uri(target: &Target, route: &Route, req: &RequestSpec) -> String {
    match (&target.uri, &route.location) {
        (Some(uri), Some(loc))
            if loc.modifier.is_empty() || loc.modifier == "^~" || loc.modifier == "=" =>
        {
            format!(
                "{uri}{}",
                req.path.strip_prefix(loc.pattern.as_str()).unwrap_or("")
            )
        }
        _ => req.path.clone(),
    }
}

/// The module's timeouts and buffer size and the client-side timeouts, as configured
/// around the location or nginx's defaults, with where each configured one is set.
fn module_settings(cx: &PassContext, module: &ModuleDefaults) -> RouteSettings {
    let prefix = module.prefix;
    let mut set_at = Vec::new();
    let mut time = |name: &str, default: f64| -> Option<f64> {
        let configured = nearest(cx.config, cx.chain, name).and_then(|d| {
            let v = values::parse_time(d.arg(0)?)?;
            set_at.push((
                name.to_string(),
                SourceRef {
                    file: cx.config.tree.file(d.file).to_string(),
                    line: d.line,
                },
            ));
            Some(v)
        });
        Some(configured.unwrap_or(default))
    };
    let mut settings = RouteSettings {
        connect_timeout_s: time(
            &format!("{prefix}_connect_timeout"),
            module.connect_timeout_s,
        ),
        read_timeout_s: time(&format!("{prefix}_read_timeout"), module.read_timeout_s),
        send_timeout_s: time(&format!("{prefix}_send_timeout"), module.send_timeout_s),
        client_body_timeout_s: time("client_body_timeout", CLIENT_BODY_TIMEOUT_S),
        client_send_timeout_s: time("send_timeout", CLIENT_SEND_TIMEOUT_S),
        client_keepalive_timeout_s: time("keepalive_timeout", CLIENT_KEEPALIVE_TIMEOUT_S),
        buffer_size: nearest(cx.config, cx.chain, &format!("{prefix}_buffer_size"))
            .and_then(|d| values::parse_size(d.arg(0)?))
            .or(Some(module.buffer_size)),
        ..Default::default()
    };
    settings.set_at = set_at;
    settings
}

/// How nginx checks an https/grpcs upstream's certificate here: the nearest
/// `proxy_ssl_verify`, `_server_name`, `_name`, `_trusted_certificate` and `_verify_depth`
/// (or `grpc_ssl_*`), each recorded in `set_at`, else nginx's defaults (verify off, no SNI,
/// name `$proxy_host`, no trusted CA, depth 1).
fn tls_settings(
    cx: &PassContext,
    prefix: &str,
    set_at: &mut Vec<(String, SourceRef)>,
) -> UpstreamTlsSettings {
    let mut get = |suffix: &str| -> Option<String> {
        let name = format!("{prefix}_{suffix}");
        let d = nearest(cx.config, cx.chain, &name)?;
        set_at.push((
            name,
            SourceRef {
                file: cx.config.tree.file(d.file).to_string(),
                line: d.line,
            },
        ));
        Some(d.args.join(" "))
    };
    let on = |v: Option<String>| v.is_some_and(|v| v.eq_ignore_ascii_case("on"));
    UpstreamTlsSettings {
        prefix: prefix.to_string(),
        verify: on(get("ssl_verify")),
        server_name: on(get("ssl_server_name")),
        name: get("ssl_name"),
        trusted_certificate: get("ssl_trusted_certificate"),
        verify_depth: get("ssl_verify_depth")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1),
    }
}

/// What the proxy module sends: its HTTP version, the Host header as nginx computes it
/// for this request, which other headers it sets (names only: values may be secrets), and
/// its retry and buffering settings.
fn proxy_headers(cx: &PassContext, target: &Target, route: &Route, settings: &mut RouteSettings) {
    let req = cx.req;
    settings.http_version = Some(
        nearest(cx.config, cx.chain, "proxy_http_version")
            .and_then(|d| d.arg(0).map(str::to_string))
            .unwrap_or_else(|| PROXY_HTTP_VERSION.into()),
    );
    let headers = nearest_list(cx.chain, "proxy_set_header");
    let proxy_host = {
        let (h, p) = upstream::split_host_port(&target.authority, default_port(&target.scheme))
            .unwrap_or_default();
        if target.explicit_port && p != default_port(&target.scheme) {
            format!("{h}:{p}")
        } else {
            h
        }
    };
    let host = headers
        .iter()
        .find(|d| d.arg(0).is_some_and(|n| n.eq_ignore_ascii_case("host")))
        .and_then(|d| d.arg(1));
    settings.host_header = Some(match host {
        Some(v) => v
            .replace("$proxy_host", &proxy_host)
            .replace("$http_host", &req.site)
            .replace(
                "$host",
                &req.site.trim_end_matches('.').to_ascii_lowercase(),
            )
            .replace(
                "$server_name",
                route
                    .server
                    .server_name
                    .first()
                    .map(String::as_str)
                    .unwrap_or(&req.site),
            ),
        None => proxy_host,
    });
    for h in headers {
        if let (Some(n), Some(v)) = (h.arg(0), h.arg(1)) {
            // Header values may be secrets: record only which headers are set.
            if !n.eq_ignore_ascii_case("host") {
                let shown = if v.starts_with('$') || v.is_empty() {
                    v.to_string()
                } else {
                    "…".into()
                };
                settings
                    .other
                    .push(("proxy_set_header".into(), format!("{n} {shown}")));
            }
        }
    }
    for name in [
        "proxy_next_upstream",
        "proxy_next_upstream_tries",
        "proxy_next_upstream_timeout",
        "proxy_buffers",
        "proxy_buffering",
    ] {
        if let Some(d) = nearest(cx.config, cx.chain, name) {
            settings.other.push((name.into(), d.args.join(" ")));
        }
    }
}

/// Keep-alive and balancing settings of the `upstream` block the pass names.
fn group_settings(tree: &super::Tree, group: &Directive, settings: &mut RouteSettings) {
    let kids = group.children();
    settings.keepalive = kids
        .iter()
        .find(|d| d.name == "keepalive")
        .and_then(|d| d.arg(0)?.parse().ok());
    if settings.keepalive.is_some() {
        let kt = kids.iter().find(|d| d.name == "keepalive_timeout");
        if let Some(d) = kt {
            settings.set_at.push((
                "upstream keepalive_timeout".into(),
                SourceRef {
                    file: tree.file(d.file).to_string(),
                    line: d.line,
                },
            ));
        }
        settings.keepalive_timeout_s = kt
            .and_then(|d| values::parse_time(d.arg(0)?))
            .or(Some(UPSTREAM_KEEPALIVE_TIMEOUT_S));
    }
    for name in [
        "keepalive_requests",
        "keepalive_time",
        "least_conn",
        "ip_hash",
        "hash",
        "zone",
    ] {
        if let Some(d) = kids.iter().find(|d| d.name == name) {
            settings
                .other
                .push((format!("upstream {name}"), d.args.join(" ")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pass_directive_has_its_module_defaults() {
        for pass in upstream::PASS_DIRECTIVES {
            let m = module_of(pass);
            assert!(
                m.pass == *pass,
                "{pass} falls back to the proxy module's defaults"
            );
        }
        assert_eq!(module_of("fastcgi_pass").prefix, "fastcgi");
    }
}
