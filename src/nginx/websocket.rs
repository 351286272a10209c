//! WebSocket locations of the selected server, read from the configuration: which
//! locations look made for WebSocket handshakes, which `proxy_set_header` lines really
//! apply to each (nginx inherits the list only from the innermost level that defines
//! any), the effective `proxy_http_version` and timeouts, and the `map $http_upgrade`
//! blocks. Pure: reads the parsed tree only.

use super::select::{find_location, location_spec};
use super::tree::Directive;
use super::upstream::{self, default_port, parse_target};
use super::{values, Config, Resolver};
use crate::facts::{Route, SourceRef, UpgradeMap, WsHeader, WsLocation};

/// Path words that WebSocket endpoints use: Socket.IO, `ws`, Action Cable, GraphQL
/// subscriptions, SockJS, SignalR hubs.
const TYPICAL: &[&str] = &[
    "ws",
    "wss",
    "websocket",
    "websockets",
    "socket",
    "sockets",
    "cable",
    "graphql",
    "subscriptions",
    "sockjs",
    "hub",
    "hubs",
    "realtime",
    "live",
];

/// Whether a location pattern names a typical WebSocket path ("/socket.io/", "/ws",
/// "~ ^/cable"); returns the path word that matched.
pub fn typical_path(pattern: &str) -> Option<String> {
    let p = pattern.to_ascii_lowercase();
    if p.contains("socket.io") {
        return Some("socket.io".into());
    }
    p.split(|c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_')
        .find(|w| TYPICAL.contains(w))
        .map(str::to_string)
}

fn at(config: &Config, d: &Directive) -> SourceRef {
    SourceRef {
        file: config.tree.file(d.file).to_string(),
        line: d.line,
    }
}

/// The selected server block of `route` and the http block around it.
fn selected_server<'a>(
    config: &'a Config,
    route: &Route,
) -> Option<(&'a Directive, &'a Directive)> {
    for http in config.tree.root.iter().filter(|d| d.name == "http") {
        for s in http.children().iter().filter(|d| d.name == "server") {
            if config.tree.file(s.file) == route.server.file && s.line == route.server.line {
                return Some((http, s));
            }
        }
    }
    None
}

/// The location (file:line) nginx selects for `path` in the route's server.
pub fn locate(config: &Config, route: &Route, path: &str) -> Option<SourceRef> {
    let (_, server) = selected_server(config, route)?;
    let mut notes = Vec::new();
    find_location(server.children(), path, &mut notes)
        .last()
        .map(|d| at(config, d))
}

/// `map $http_upgrade $var { … }` blocks of the http context.
pub fn upgrade_maps(config: &Config) -> Vec<UpgradeMap> {
    config
        .tree
        .root
        .iter()
        .filter(|d| d.name == "http")
        .flat_map(|h| h.children())
        .filter(|d| d.name == "map" && d.block.is_some() && d.args.len() >= 2)
        .filter(|d| d.args[0].to_ascii_lowercase().starts_with("$http_upgrade"))
        .map(|d| UpgradeMap {
            source: d.args[0].clone(),
            variable: d.args[1].clone(),
            entries: d
                .children()
                .iter()
                .filter(|e| !matches!(e.name.as_str(), "hostnames" | "volatile" | "include"))
                .map(|e| (e.name.clone(), e.args.first().cloned().unwrap_or_default()))
                .collect(),
            at: at(config, d),
        })
        .collect()
}

/// Every proxying location of the selected server, with how it passes the upgrade; `why`
/// is filled for those that look made for WebSocket (a typical path, or Upgrade set).
pub fn proxy_locations(config: &Config, route: &Route, resolve: Resolver) -> Vec<WsLocation> {
    let Some((http, server)) = selected_server(config, route) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut stack: Vec<(Vec<&Directive>, &Directive)> = server
        .children()
        .iter()
        .rev()
        .filter(|d| d.name == "location")
        .map(|d| (vec![http, server], d))
        .collect();
    while let Some((outer, loc)) = stack.pop() {
        let mut chain = outer.clone();
        chain.push(loc);
        if chain.len() < 12 {
            for child in loc.children().iter().rev().filter(|d| d.name == "location") {
                stack.push((chain.clone(), child));
            }
        }
        if let Some(l) = describe(config, route, &chain, resolve) {
            out.push(l);
        }
    }
    out
}

fn level_name(i: usize) -> &'static str {
    match i {
        0 => "http",
        1 => "server",
        _ => "location",
    }
}

/// Connection tokens and variables are shown; any other value may be a secret.
fn shown(v: &str) -> String {
    let l = v.to_ascii_lowercase();
    if v.is_empty()
        || v.starts_with('$')
        || ["upgrade", "close", "keep-alive", "websocket"].contains(&l.as_str())
    {
        v.to_string()
    } else {
        "…".into()
    }
}

fn describe(
    config: &Config,
    route: &Route,
    chain: &[&Directive],
    resolve: Resolver,
) -> Option<WsLocation> {
    let loc = *chain.last()?;
    let pass = loc.children().iter().find(|d| d.name == "proxy_pass")?;
    let (modifier, pattern) = location_spec(loc);
    if modifier == "@" {
        return None;
    }
    let header = |d: &Directive| WsHeader {
        name: d.arg(0).unwrap_or("").to_string(),
        value: shown(d.arg(1).unwrap_or("")),
        at: at(config, d),
    };
    let mut headers = Vec::new();
    let mut level = "none";
    let mut used = None;
    for (i, scope) in chain.iter().enumerate().rev() {
        let here: Vec<&Directive> = scope
            .children()
            .iter()
            .filter(|d| d.name == "proxy_set_header")
            .collect();
        if !here.is_empty() {
            headers = here.into_iter().map(header).collect();
            level = level_name(i);
            used = Some(i);
            break;
        }
    }
    let is_upgrade_hdr =
        |n: &str| n.eq_ignore_ascii_case("upgrade") || n.eq_ignore_ascii_case("connection");
    let shadowed: Vec<WsHeader> = match used {
        Some(u) => chain[..u]
            .iter()
            .flat_map(|s| s.children())
            .filter(|d| d.name == "proxy_set_header" && d.arg(0).is_some_and(is_upgrade_hdr))
            .map(header)
            .collect(),
        None => Vec::new(),
    };
    let nearest = |name: &str| -> Option<&Directive> {
        chain
            .iter()
            .rev()
            .find_map(|s| s.children().iter().rev().find(|d| d.name == name))
    };
    let time = |name: &str| -> (f64, Option<SourceRef>) {
        match nearest(name).and_then(|d| Some((values::parse_time(d.arg(0)?)?, d))) {
            Some((v, d)) => (v, Some(at(config, d))),
            None => (60.0, None),
        }
    };
    let (read_timeout_s, read_timeout_at) = time("proxy_read_timeout");
    let (send_timeout_s, send_timeout_at) = time("proxy_send_timeout");
    let version = nearest("proxy_http_version");
    let arg = pass.arg(0).unwrap_or("");
    let target = parse_target("proxy_pass", arg);
    let mut upstreams = Vec::new();
    if !target.authority.contains('$') {
        let tree = &config.tree;
        let mut notes = Vec::new();
        let addrs = match upstream::find_group(tree, &target.authority) {
            Some(g) => upstream::group_addresses(tree, g, resolve, &mut notes),
            None => upstream::addresses(
                &target.authority,
                default_port(&target.scheme),
                tree.file(pass.file),
                pass.line,
                &[],
                resolve,
            )
            .unwrap_or_default(),
        };
        upstreams = addrs.into_iter().map(|a| (a.address, a.kind)).collect();
    }
    let host_header = headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("host"))
        .map(|h| h.value.clone())
        .filter(|v| v.starts_with("$host") || v.starts_with("$http_host"))
        .map(|_| {
            route
                .server
                .server_name
                .first()
                .cloned()
                .unwrap_or_default()
        })
        .or_else(|| Some(target.authority.clone()));
    let mut why = Vec::new();
    if let Some(word) = typical_path(&pattern) {
        why.push(format!("typical WebSocket path ({word})"));
    }
    if headers
        .iter()
        .chain(shadowed.iter())
        .any(|h| h.name.eq_ignore_ascii_case("upgrade"))
    {
        why.push("proxy_set_header Upgrade is written for it".into());
    }
    let probe_path = literal_path(&modifier, &pattern).filter(|p| {
        let mut notes = Vec::new();
        selected_server(config, route).is_some_and(|(_, s)| {
            find_location(s.children(), p, &mut notes)
                .last()
                .is_some_and(|d| std::ptr::eq(*d, loc))
        })
    });
    Some(WsLocation {
        modifier,
        pattern,
        at: at(config, loc),
        why,
        target: arg.to_string(),
        pass_at: at(config, pass),
        upstreams,
        host_header,
        probe_path,
        http_version: version.and_then(|d| d.arg(0)).unwrap_or("1.0").to_string(),
        http_version_at: version.map(|d| at(config, d)),
        headers,
        headers_level: level.to_string(),
        shadowed,
        read_timeout_s,
        read_timeout_at,
        send_timeout_s,
        send_timeout_at,
        access: None,
        idle_timeouts: None,
        probes: Vec::new(),
    })
}

/// A path that a location's pattern matches literally: the prefix itself, or the literal
/// start of an anchored regex (`^/ws/` → `/ws/`).
fn literal_path(modifier: &str, pattern: &str) -> Option<String> {
    let p = match modifier {
        "" | "^~" | "=" => pattern.to_string(),
        _ => {
            let rest = pattern.strip_prefix('^')?;
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "/-_".contains(*c) || *c == '.')
                .collect::<String>()
                .replace('.', "")
        }
    };
    p.starts_with('/').then_some(p)
}

#[cfg(test)]
mod tests {
    use super::super::{load, route, LoadOptions};
    use super::*;
    use crate::facts::RequestSpec;

    fn no_dns(_: &str, _: u16) -> Vec<std::net::SocketAddr> {
        Vec::new()
    }

    fn locations(src: &str) -> Vec<WsLocation> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("nginx.conf");
        std::fs::write(&p, src).unwrap();
        let c = load(
            &LoadOptions {
                conf_path: p,
                prefix: Some(dir.path().into()),
                dump: None,
            },
            crate::gather::files::CONFIG,
        )
        .unwrap();
        let req = RequestSpec {
            site: "chat.test".into(),
            path: "/".into(),
            ..Default::default()
        };
        let r = route(&c, &req, &no_dns).unwrap();
        proxy_locations(&c, &r, &no_dns)
    }

    #[test]
    fn typical_paths() {
        for p in [
            "/socket.io/",
            "/ws",
            "~ ^/ws/",
            "/cable",
            "/graphql",
            "/api/ws/",
            "/hub/chat",
        ] {
            assert!(typical_path(p).is_some(), "{p}");
        }
        for p in ["/", "/api/", "/wsdl", "/static/", "/news"] {
            assert!(typical_path(p).is_none(), "{p}");
        }
    }

    #[test]
    fn a_location_with_its_own_headers_does_not_inherit_the_servers() {
        let l = locations(
            "events {} http { server { listen 80; server_name chat.test;
               proxy_http_version 1.1;
               proxy_set_header Upgrade $http_upgrade;
               proxy_set_header Connection upgrade;
               location /socket.io/ { proxy_set_header X-Real-IP $remote_addr; proxy_pass http://127.0.0.1:3000; }
               location / { proxy_pass http://127.0.0.1:3000; } } }",
        );
        let ws = l.iter().find(|l| l.pattern == "/socket.io/").unwrap();
        assert_eq!(ws.headers_level, "location");
        assert_eq!(ws.headers.len(), 1);
        assert_eq!(ws.shadowed.len(), 2);
        assert_eq!(ws.http_version, "1.1");
        assert_eq!(ws.probe_path.as_deref(), Some("/socket.io/"));
        assert!(!ws.why.is_empty());
        let root = l.iter().find(|l| l.pattern == "/").unwrap();
        assert_eq!(root.headers_level, "server");
        assert_eq!(root.upstreams[0].0, "127.0.0.1:3000");
    }

    #[test]
    fn maps_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("nginx.conf");
        std::fs::write(&p, "events {} http { map $http_upgrade $connection_upgrade { default upgrade; '' close; } }").unwrap();
        let c = load(
            &LoadOptions {
                conf_path: p,
                prefix: None,
                dump: None,
            },
            crate::gather::files::CONFIG,
        )
        .unwrap();
        let m = upgrade_maps(&c);
        assert_eq!(m[0].variable, "$connection_upgrade");
        assert_eq!(
            m[0].entries,
            vec![
                ("default".into(), "upgrade".into()),
                ("".into(), "close".into())
            ]
        );
    }
}
