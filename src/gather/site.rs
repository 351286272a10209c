//! Site-wide mode (no `--path`): the distinct upstreams behind the selected server's
//! locations, each to be checked once, and which of them the logs show failing.
//!
//! Gathering reads the host only through the callers' closures (the error-log slices and
//! the router); what is here is grouping and ordering, so it is tested on plain data.

use crate::facts::{AccessLogWindow, ErrorLogWindow, Route, SiteUpstream, UpstreamAddr};

/// At most this many distinct upstreams are checked (the rest are named in a note).
pub const MAX_UPSTREAMS: usize = 16;

/// `routes` followed by the route of each `auth_request` subrequest they pass through
/// (a second upstream the request depends on), with the subrequest's URI as its path.
pub fn with_auth(routes: &[Route]) -> Vec<Route> {
    let mut out: Vec<Route> = routes.to_vec();
    for a in routes.iter().flat_map(|r| r.auth_requests.iter()) {
        let mut r = (*a.route).clone();
        r.path = Some(a.uri.clone());
        out.push(r);
    }
    out
}

/// The routes that end at an upstream, one entry per distinct upstream, in config order.
pub fn group(site_routes: &[Route]) -> Vec<SiteUpstream> {
    let mut out: Vec<SiteUpstream> = Vec::new();
    for r in with_auth(site_routes)
        .iter()
        .filter(|r| r.ends.as_deref() == Some("upstream"))
    {
        let key = SiteUpstream::key_of(r);
        let path = r.path.clone().unwrap_or_default();
        match out
            .iter_mut()
            .find(|u| SiteUpstream::key_of(&u.route) == key)
        {
            Some(u) => {
                if !u.paths.contains(&path) {
                    u.paths.push(path);
                }
            }
            None => out.push(SiteUpstream {
                route: r.clone(),
                paths: vec![path],
                ..Default::default()
            }),
        }
    }
    out
}

/// `primary` with the upstream addresses of every site upstream added (for the sources
/// that look at all of them: sockets, names, process managers, the error-log filter).
pub fn union_route(primary: &Route, ups: &[SiteUpstream]) -> Route {
    let mut r = primary.clone();
    for u in ups.iter().flat_map(|s| s.route.upstreams.iter()) {
        if !r.upstreams.iter().any(|x| x.address == u.address) {
            r.upstreams.push(u.clone());
        }
    }
    r
}

/// The route that reads the error-log slice of one upstream: its addresses, and for a
/// group its name as nginx writes it in the `upstream:` field (`http://backend/…`) when
/// no peer was picked ("no live upstreams").
pub fn slice_route(u: &SiteUpstream) -> Route {
    let mut r = u.route.clone();
    r.server.server_name.clear();
    if let Some(g) = &u.route.group {
        r.upstreams.push(UpstreamAddr {
            address: format!("://{g}/"),
            kind: crate::facts::SocketKind::Tcp,
            host: None,
            file: String::new(),
            line: 0,
            params: Vec::new(),
            php_fpm_version: None,
        });
    }
    r
}

/// The access log's 502/504 samples that name the upstream nginx tried
/// (`$upstream_addr`, the last address when it tried several): a failure of that upstream.
fn attach_access(ups: &mut [SiteUpstream], access: &AccessLogWindow) {
    for s in access
        .samples
        .iter()
        .filter(|s| matches!(s.status, 502 | 504))
    {
        let Some(addr) = s.last_upstream.as_deref() else {
            continue;
        };
        let Some(u) = ups
            .iter_mut()
            .find(|u| u.route.upstreams.iter().any(|x| x.address == addr))
        else {
            continue;
        };
        u.failures += 1;
        if let Some(p) = s.request.as_deref().and_then(request_path) {
            if !u.failing_paths.contains(&p) {
                u.failing_paths.push(p);
            }
        }
    }
}

/// The path of a request line (`GET /api/x?y=1 HTTP/1.1` → `/api/x`).
pub fn request_path(request: &str) -> Option<String> {
    let uri = request.split_whitespace().nth(1)?;
    let path = uri.split('?').next().unwrap_or(uri);
    path.starts_with('/').then(|| path.to_string())
}

/// The `request: "…"` field of an nginx error-log line.
fn error_line_request(text: &str) -> Option<&str> {
    let rest = text.split(", request: \"").nth(1)?;
    rest.split('"').next()
}

/// Failing request paths the logs do not tie to an upstream, most frequent first: error-log
/// sample lines without an `upstream:` field (their `request:`), and the access log's
/// 502/504 samples without `$upstream_addr`. (Lines that name an upstream are counted in
/// that upstream's own slice: the request of an `auth_request` failure routes to the main
/// location, not to the auth upstream that failed.)
pub fn failing_paths(
    windows: &[&ErrorLogWindow],
    access: Option<&AccessLogWindow>,
) -> Vec<(String, u64)> {
    let mut counts: Vec<(String, u64)> = Vec::new();
    let mut bump = |p: String| match counts.iter_mut().find(|(q, _)| *q == p) {
        Some((_, n)) => *n += 1,
        None => counts.push((p, 1)),
    };
    for w in windows {
        for s in w.categories.iter().flat_map(|c| c.samples.iter()) {
            if s.upstream.is_some() {
                continue;
            }
            if let Some(p) = error_line_request(&s.text).and_then(request_path) {
                bump(p);
            }
        }
    }
    for s in access.iter().flat_map(|a| a.samples.iter()) {
        if matches!(s.status, 502 | 504) && s.upstream_addr.is_none() {
            if let Some(p) = s.request.as_deref().and_then(request_path) {
                bump(p);
            }
        }
    }
    counts.sort_by_key(|c| std::cmp::Reverse(c.1));
    counts
}

/// Attaches each failing path to the upstream nginx sends it to (`route_of` routes one
/// path); a failing path that reaches an upstream no location sample reached becomes a
/// `late` entry. Then orders the upstreams: failing ones first (most failures first),
/// the rest in config order.
pub fn attach_failing(
    ups: &mut Vec<SiteUpstream>,
    failing: &[(String, u64)],
    access: Option<&AccessLogWindow>,
    route_of: &dyn Fn(&str) -> Option<Route>,
) {
    for (path, n) in failing {
        let Some(r) = route_of(path).filter(|r| r.ends.as_deref() == Some("upstream")) else {
            continue;
        };
        let key = SiteUpstream::key_of(&r);
        let idx = match ups
            .iter()
            .position(|u| SiteUpstream::key_of(&u.route) == key)
        {
            Some(i) => i,
            None => {
                ups.push(SiteUpstream {
                    route: r.clone(),
                    late: true,
                    ..Default::default()
                });
                ups.len() - 1
            }
        };
        let u = &mut ups[idx];
        if u.failing_paths.is_empty() {
            // The request that failed is the one to diagnose.
            let mut r = r;
            r.path = Some(path.clone());
            u.route = r;
        }
        if !u.failing_paths.contains(path) {
            u.failing_paths.push(path.clone());
        }
        if !u.paths.contains(path) {
            u.paths.push(path.clone());
        }
        u.failures += n;
    }
    for u in ups.iter_mut() {
        let Some(w) = &u.error_log else { continue };
        u.failures += w.categories.iter().map(|c| c.count).sum::<u64>();
        // The requests of its own failure lines.
        for p in w
            .categories
            .iter()
            .flat_map(|c| c.samples.iter())
            .filter_map(|s| error_line_request(&s.text).and_then(request_path))
        {
            if u.failing_paths.is_empty() {
                // Diagnose the request that failed when nginx sends it here directly.
                if let Some(mut r) = route_of(&p)
                    .filter(|r| SiteUpstream::key_of(r) == SiteUpstream::key_of(&u.route))
                {
                    r.path = Some(p.clone());
                    u.route = r;
                }
            }
            if !u.failing_paths.contains(&p) {
                u.failing_paths.push(p.clone());
            }
        }
    }
    if let Some(a) = access {
        attach_access(ups, a);
    }
    // Stable: config order among equals.
    ups.sort_by_key(|u| std::cmp::Reverse(u.failures));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{LogCategoryCount, LogEvidence, SocketKind};

    fn route(path: &str, target: &str, addr: &str) -> Route {
        Route {
            path: Some(path.into()),
            ends: Some("upstream".into()),
            directive: Some("proxy_pass".into()),
            target: Some(target.into()),
            upstreams: vec![UpstreamAddr {
                address: addr.into(),
                kind: SocketKind::Tcp,
                host: None,
                file: "f".into(),
                line: 1,
                params: vec![],
                php_fpm_version: None,
            }],
            ..Default::default()
        }
    }

    #[test]
    fn one_entry_per_distinct_upstream_in_config_order() {
        let stat = Route {
            path: Some("/".into()),
            ends: Some("static".into()),
            ..Default::default()
        };
        let g = group(&[
            stat,
            route("/api/", "http://127.0.0.1:1", "127.0.0.1:1"),
            route("/admin/", "http://127.0.0.1:2", "127.0.0.1:2"),
            route("/api2/", "http://127.0.0.1:1/x", "127.0.0.1:1"),
        ]);
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].paths, ["/api/", "/api2/"]);
        assert_eq!(g[1].paths, ["/admin/"]);
    }

    #[test]
    fn failing_upstream_goes_first_with_the_failing_request_as_its_route() {
        let mut g = group(&[
            route("/api/", "http://127.0.0.1:1", "127.0.0.1:1"),
            route("/admin/", "http://127.0.0.1:2", "127.0.0.1:2"),
        ]);
        let w = ErrorLogWindow {
            categories: vec![LogCategoryCount {
                category: "upstream-refused".into(),
                count: 4,
                first_seen: None,
                last_seen: None,
                samples: vec![LogEvidence {
                    line: 3,
                    category: "upstream-refused".into(),
                    time: None,
                    upstream: Some("http://127.0.0.1:2/admin/users".into()),
                    upstream_peer: Some("127.0.0.1:2/admin/users".into()),
                    upstream_addr: "127.0.0.1:2".parse().ok(),
                    server: None,
                    host: None,
                    text: "… connect() failed (111: Connection refused) while connecting to upstream, client: 1.2.3.4, server: a, request: \"GET /admin/users?x=1 HTTP/1.1\", upstream: \"http://127.0.0.1:2/admin/users\"".into(),
                }],
            }],
            ..Default::default()
        };
        // A line that names its upstream is that upstream's (its slice), not a path to route.
        assert!(failing_paths(&[&w], None).is_empty());
        g[1].error_log = Some(w);
        let failing = Vec::new();
        let route_of = |p: &str| {
            p.starts_with("/admin/")
                .then(|| route(p, "http://127.0.0.1:2", "127.0.0.1:2"))
        };
        attach_failing(&mut g, &failing, None, &route_of);
        assert_eq!(g[0].route.upstreams[0].address, "127.0.0.1:2");
        assert_eq!(g[0].route.path.as_deref(), Some("/admin/users"));
        assert_eq!(g[0].failing_paths, ["/admin/users"]);
        assert!(g[1].failing_paths.is_empty());
    }

    #[test]
    fn request_lines_give_their_path_without_the_query() {
        assert_eq!(
            request_path("GET /a/b?c=1 HTTP/1.1").as_deref(),
            Some("/a/b")
        );
        assert_eq!(request_path("garbage"), None);
    }

    #[test]
    fn an_access_log_502_names_its_upstream_by_upstream_addr() {
        let mut g = group(&[
            route("/api/", "http://127.0.0.1:1", "127.0.0.1:1"),
            route("/admin/", "http://127.0.0.1:2", "127.0.0.1:2"),
        ]);
        let access = AccessLogWindow {
            samples: vec![crate::facts::AccessSample {
                status: 502,
                upstream_addr: Some("127.0.0.1:1, 127.0.0.1:2".into()),
                last_upstream: Some("127.0.0.1:2".into()),
                request: Some("POST /admin/save HTTP/1.1".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert!(failing_paths(&[], Some(&access)).is_empty());
        attach_failing(&mut g, &[], Some(&access), &|_| None);
        assert_eq!(g[0].route.upstreams[0].address, "127.0.0.1:2");
        assert_eq!(g[0].failing_paths, ["/admin/save"]);
        assert_eq!(g[0].failures, 1);
    }
}
