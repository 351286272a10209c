//! nginx configuration: parsing (with includes and `nginx -T` dumps), server and location
//! selection by nginx's own rules, upstream resolution and effective settings. Pure except
//! for reading the configuration files themselves; host name resolution is injected.

pub mod balancer;
pub mod lexer;
mod pass;
pub mod phases;
pub mod select;
pub mod tree;
pub mod upstream;
pub mod values;
pub mod websocket;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use select::{best_by_name, default_for_port, location_spec, Server};
use tree::{Directive, Source, Tree};
use upstream::{default_port, parse_target, PASS_DIRECTIVES};

use crate::facts::{
    AuthSubrequest, ConfigIssue, LogFormatRef, OtherTarget, RequestSpec, Route, RouteBranch,
    RouteHop, RouteLocation, RouteServer, SourceRef, UpstreamAddr,
};
use phases::{End, FileView, Walk};

/// Where to read the configuration from.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Main configuration file (`-c`).
    pub conf_path: PathBuf,
    /// Prefix (`-p`), against which relative log paths resolve.
    pub prefix: Option<PathBuf>,
    /// Text of `nginx -T`, used instead of the files when given.
    pub dump: Option<String>,
}

/// Resolves a host name the way the OS resolver does (`localhost` → ::1 and 127.0.0.1).
pub type Resolver<'a> = &'a dyn Fn(&str, u16) -> Vec<SocketAddr>;

/// A loaded configuration.
#[derive(Debug, Clone, Default)]
pub struct Config {
    tree: Tree,
    prefix: PathBuf,
}

impl Config {
    /// Every file read, in the order nginx reads them.
    pub fn files(&self) -> Vec<String> {
        self.tree.files.clone()
    }
    /// Syntax errors and unresolved includes, each with file:line.
    pub fn issues(&self) -> Vec<ConfigIssue> {
        self.tree.issues.clone()
    }
    /// The `user` directive's arguments joined by a space, when present.
    pub fn user(&self) -> Option<String> {
        self.tree
            .root
            .iter()
            .find(|d| d.name == "user")
            .map(|d| d.args.join(" "))
    }
    /// Every address nginx listens on, e.g. "0.0.0.0:80", "[::]:443".
    pub fn listens(&self) -> Vec<String> {
        let mut set = BTreeSet::new();
        for s in self.servers() {
            for l in &s.listens {
                set.insert(l.address.clone());
            }
        }
        set.into_iter().collect()
    }

    /// The TCP ports nginx listens on (unix sockets have none).
    pub fn listen_ports(&self) -> Vec<u16> {
        let mut set = BTreeSet::new();
        for s in self.servers() {
            for l in s.listens.iter().filter(|l| l.unix.is_none()) {
                set.insert(l.port);
            }
        }
        set.into_iter().collect()
    }

    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    fn http(&self) -> impl Iterator<Item = &Directive> {
        self.tree.root.iter().filter(|d| d.name == "http")
    }

    fn servers(&self) -> Vec<Server<'_>> {
        self.http()
            .flat_map(|h| h.children())
            .filter(|d| d.name == "server")
            .map(Server::new)
            .collect()
    }
}

/// Reads and parses the configuration; an unreadable main file is an error, anything
/// else (syntax errors, missing includes) is recorded in `Config::issues`.
pub fn load(opts: &LoadOptions, files: tree::FileAccess) -> anyhow::Result<Config> {
    load_from(opts, Source::Disk(files))
}

/// [`load`] for an nginx in another mount namespace: its files by its own paths, read
/// under `root` (its `/proc/PID/root`).
pub fn load_in(
    opts: &LoadOptions,
    root: &Path,
    files: tree::RootedAccess,
) -> anyhow::Result<Config> {
    load_from(opts, Source::Rooted(files, root.to_path_buf()))
}

fn load_from(opts: &LoadOptions, disk: Source) -> anyhow::Result<Config> {
    let (main, source) = match &opts.dump {
        Some(text) => {
            let (first, files) = tree::parse_dump(text.as_bytes());
            let main = if files.contains_key(opts.conf_path.to_str().unwrap_or("")) {
                opts.conf_path.clone()
            } else {
                PathBuf::from(first.ok_or_else(|| anyhow::anyhow!("the nginx -T dump names no configuration file (no \"# configuration file PATH:\" line)"))?)
            };
            (main, Source::Dump(files))
        }
        None => (opts.conf_path.clone(), disk),
    };
    let tree = tree::load(&main, &source).map_err(|e| {
        let hint = if e.contains("13: Permission denied") {
            " (run as root, or pass --nginx-dump with the output of `sudo nginx -T`)"
        } else {
            ""
        };
        anyhow::anyhow!("{e}{hint}")
    })?;
    let prefix = opts.prefix.clone().unwrap_or_else(|| {
        main.parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default()
    });
    Ok(Config { tree, prefix })
}

/// Selects the server block, location and upstream for a request, without looking at
/// the file system (every file check becomes a branch; see [`route_with`]).
pub fn route(config: &Config, req: &RequestSpec, resolve: Resolver) -> Result<Route, String> {
    route_with(config, req, resolve, &phases::NoFiles)
}

/// Follows a request through nginx's phases and internal redirects (index, try_files,
/// rewrite, error_page…) to where it ends; `files` answers the stat()s nginx would make.
/// The route describes the final location (its settings, its upstream); `hops` the way there.
pub fn route_with(
    config: &Config,
    req: &RequestSpec,
    resolve: Resolver,
    files: &dyn FileView,
) -> Result<Route, String> {
    route_request(config, req, resolve, files, "GET", None)
}

/// [`route_with`] for a given method and client address (access rules depend on it; None:
/// every `allow`/`deny` with an address is a branch).
pub fn route_request(
    config: &Config,
    req: &RequestSpec,
    resolve: Resolver,
    files: &dyn FileView,
    method: &str,
    client: Option<std::net::IpAddr>,
) -> Result<Route, String> {
    let servers = config.servers();
    if servers.is_empty() {
        return Err(format!(
            "no server block in {} (is there an http {{}} block?)",
            config.tree.file(0)
        ));
    }
    let refs: Vec<&Server> = servers.iter().collect();
    let host = req.site.trim_end_matches('.').to_ascii_lowercase();
    let mut notes = Vec::new();
    let (idx, port) = pick_server(&refs, &host, req, &mut notes)?;
    let server = refs[idx];
    let mut route = route_on(
        config, server, port, req, resolve, files, method, client, &mut notes,
    );
    notes.dedup();
    route.notes.extend(notes);
    Ok(route)
}

/// The walk and the route on an already selected server (site-wide mode selects once).
#[allow(clippy::too_many_arguments)]
fn route_on(
    config: &Config,
    server: &Server,
    port: u16,
    req: &RequestSpec,
    resolve: Resolver,
    files: &dyn FileView,
    method: &str,
    client: Option<std::net::IpAddr>,
    notes: &mut Vec<String>,
) -> Route {
    let ctx = walk_ctx(config, server, files);
    let (uri, args) = match req.path.split_once('?') {
        Some((u, a)) => (phases::normalize_uri(u), a.to_string()),
        None => (phases::normalize_uri(&req.path), String::new()),
    };
    let input = phases::Input {
        uri,
        args,
        host: req.site.clone(),
        method: method.to_ascii_uppercase(),
        client,
        scheme: req
            .scheme
            .clone()
            .unwrap_or_else(|| if port == 443 { "https" } else { "http" }.into()),
        port,
        subrequest: false,
    };
    let walks = phases::walk_all(&ctx, &input);
    let mut route = route_from_walks(config, server, port, req, &walks, resolve, notes);
    let primary = walks
        .iter()
        .position(|w| matches!(w.end, End::Pass { .. }))
        .unwrap_or(0);
    for (uri, file, line) in walks
        .get(primary)
        .map(|w| &w.auth_requests[..])
        .unwrap_or(&[])
    {
        // The subrequest: GET, internal, no access phase (ngx_http_subrequest).
        let sub = phases::Input {
            uri: phases::normalize_uri(uri.split('?').next().unwrap_or(uri)),
            args: String::new(),
            subrequest: true,
            method: "GET".into(),
            ..input.clone()
        };
        let sub_walks = phases::walk_all(&ctx, &sub);
        let mut sub_req = req.clone();
        sub_req.path = uri.clone();
        let mut sub_notes = Vec::new();
        let r = route_from_walks(
            config,
            server,
            port,
            &sub_req,
            &sub_walks,
            resolve,
            &mut sub_notes,
        );
        route.auth_requests.push(AuthSubrequest {
            uri: uri.clone(),
            at: SourceRef {
                file: config.tree.file(*file).to_string(),
                line: *line,
            },
            route: Box::new(r),
        });
    }
    route
}

fn walk_ctx<'a>(
    config: &'a Config,
    server: &Server<'a>,
    files: &'a dyn FileView,
) -> phases::Ctx<'a> {
    phases::Ctx {
        tree: &config.tree,
        http: config.http().next(),
        server: server.dir,
        prefix: &config.prefix,
        files,
        server_name: server.names.first().cloned().unwrap_or_default(),
    }
}

fn hops_of(config: &Config, w: &Walk) -> Vec<RouteHop> {
    w.hops
        .iter()
        .map(|h| RouteHop {
            kind: h.kind.to_string(),
            text: h.text.clone(),
            uri: h.uri.clone(),
            at: h.at.map(|(f, line)| SourceRef {
                file: config.tree.file(f).to_string(),
                line,
            }),
        })
        .collect()
}

fn end_kind(e: &End) -> (&'static str, Option<u16>) {
    match e {
        End::Pass { .. } => ("upstream", None),
        End::Static { .. } => ("static", None),
        End::Status { code, .. } => ("status", Some(*code)),
    }
}

/// The route of the first walk that reaches an upstream (else the first walk); the
/// others become `branches`.
fn route_from_walks(
    config: &Config,
    server: &Server,
    port: u16,
    req: &RequestSpec,
    walks: &[Walk],
    resolve: Resolver,
    notes: &mut Vec<String>,
) -> Route {
    let tree = &config.tree;
    let primary = walks
        .iter()
        .position(|w| matches!(w.end, End::Pass { .. }))
        .unwrap_or(0);
    let mut route = Route {
        server: RouteServer {
            file: tree.file(server.dir.file).to_string(),
            line: server.dir.line,
            server_name: server.names.clone(),
            listen: server
                .listens
                .iter()
                .filter(|l| l.port == port || l.unix.is_some())
                .map(|l| l.address.clone())
                .collect(),
        },
        ..Default::default()
    };
    let Some(w) = walks.get(primary) else {
        return route;
    };
    let mut chain: Vec<&Directive> = config.http().take(1).collect();
    chain.push(server.dir);
    let locs: Vec<&Directive> = match &w.end {
        End::Pass { chain: c, .. } => c.clone(),
        _ => w.chain.clone(),
    };
    chain.extend(locs.iter().copied());
    route.location = w
        .chain
        .iter()
        .rev()
        .find(|d| d.name == "location")
        .map(|d| {
            let (modifier, pattern) = location_spec(d);
            RouteLocation {
                modifier,
                pattern,
                file: tree.file(d.file).to_string(),
                line: d.line,
            }
        });
    route.hops = hops_of(config, w);
    let (ends, status) = end_kind(&w.end);
    route.ends = Some(ends.to_string());
    route.status = status;
    route.assumed = w.assumed.clone();
    // What nginx's regexes or variables left open is worth a note too.
    notes.extend(
        w.assumed
            .iter()
            .filter(|a| !a.contains(": assumed "))
            .cloned(),
    );
    route.path = Some(req.path.clone());
    route.on_upstream_error = w
        .on_upstream_error
        .as_ref()
        .map(|(c, t, f, l)| format!("{c} → error_page {t} ({}:{l})", short(tree.file(*f))));
    if let End::Pass { pass, target, .. } = &w.end {
        let mut final_req = req.clone();
        final_req.path = w.uri.clone();
        match target {
            // Variables nginx evaluates per request, known here (map, set, captures).
            Some(t) => {
                let mut evaluated = (*pass).clone();
                evaluated.block = None;
                evaluated.args[0] = t.clone();
                notes.push(format!(
                    "{} {} evaluates to {t} for this request",
                    pass.name, pass.args[0]
                ));
                let cx = pass::PassContext {
                    config,
                    chain: &chain,
                    req: &final_req,
                    resolve,
                };
                pass::resolve_pass(&cx, &evaluated, &mut route, notes);
                route.target = Some(pass.args[0].clone());
                let resolver = nearest(config, &chain, "resolver").map(|d| d.args.join(" "));
                route.dynamic = Some(format!(
                    "{} {} is evaluated per request (for this one: {t}){}",
                    pass.name,
                    pass.args[0],
                    match &resolver {
                        Some(r) => format!("; names are resolved at run time by `resolver {r}`"),
                        None => "; no `resolver` is defined, so a host name in it fails (\"no resolver defined to resolve …\")".into(),
                    }
                ));
            }
            None => {
                let cx = pass::PassContext {
                    config,
                    chain: &chain,
                    req: &final_req,
                    resolve,
                };
                pass::resolve_pass(&cx, pass, &mut route, notes);
            }
        }
    }
    route.error_log =
        nearest(config, &chain, "error_log").and_then(|d| log_path(config, d.arg(0)?));
    let access = nearest(config, &chain, "access_log");
    route.access_log = access.and_then(|d| log_path(config, d.arg(0)?));
    if route.access_log.is_some() {
        // `access_log PATH [FORMAT [buffer=…] [gzip…] [flush=…] [if=…]]`
        let name = access
            .and_then(|d| d.arg(1))
            .filter(|a| !a.contains('=') && *a != "gzip")
            .unwrap_or("combined");
        route.access_log_format = log_format(config, name);
    }
    if walks.len() > 1 {
        for (i, b) in walks.iter().enumerate() {
            if i == primary {
                continue;
            }
            let (ends, status) = end_kind(&b.end);
            route.branches.push(RouteBranch {
                assumed: b.assumed.clone(),
                hops: hops_of(config, b),
                ends: ends.into(),
                status,
                target: match &b.end {
                    End::Pass { pass, .. } => {
                        Some(format!("{} {}", pass.name, pass.args.join(" ")))
                    }
                    _ => None,
                },
            });
        }
    }
    route
}

/// A file name as the chain shows it: `sites-enabled/default` → `default`.
pub fn short(file: &str) -> &str {
    file.rsplit('/').next().unwrap_or(file)
}

/// Every location of the site's server and where a request to it ends (site-wide mode):
/// one route per location, for a path that location serves (its prefix, its exact name,
/// or a sample that its regex matches).
pub fn site_routes(
    config: &Config,
    req: &RequestSpec,
    resolve: Resolver,
    files: &dyn FileView,
) -> Result<Vec<Route>, String> {
    let servers = config.servers();
    let refs: Vec<&Server> = servers.iter().collect();
    let host = req.site.trim_end_matches('.').to_ascii_lowercase();
    let mut notes = Vec::new();
    let (idx, port) = pick_server(&refs, &host, req, &mut notes)?;
    let server = refs[idx];
    let mut locs = Vec::new();
    collect_locations(server.dir, &mut locs, 0);
    let mut out = Vec::new();
    for loc in locs {
        let (m, p) = location_spec(loc);
        let path = match m.as_str() {
            "@" => continue,
            "~" | "~*" => match select::sample_for_regex(&p, m == "~*") {
                Some(s) => s,
                None => continue,
            },
            _ => p.clone(),
        };
        let mut q = req.clone();
        q.path = path.clone();
        q.port = Some(port);
        let mut loc_notes = notes.clone();
        let mut r = route_on(
            config,
            server,
            port,
            &q,
            resolve,
            files,
            "GET",
            None,
            &mut loc_notes,
        );
        loc_notes.dedup();
        r.notes.extend(loc_notes);
        // Keep only paths that really reach this location first.
        let first = r.hops.iter().find(|h| h.kind == "location");
        if first.and_then(|h| h.at.as_ref()).map(|a| a.line) != Some(loc.line) {
            continue;
        }
        r.path = Some(path);
        out.push(r);
    }
    Ok(out)
}

fn collect_locations<'a>(d: &'a Directive, out: &mut Vec<&'a Directive>, depth: usize) {
    if depth > 32 {
        return;
    }
    for c in d.children() {
        if c.name == "location" {
            out.push(c);
            collect_locations(c, out, depth + 1);
        }
    }
}

/// Picks the server (index) and the port it was chosen on.
fn pick_server(
    servers: &[&Server],
    host: &str,
    req: &RequestSpec,
    notes: &mut Vec<String>,
) -> Result<(usize, u16), String> {
    let mut ports: Vec<u16> = Vec::new();
    for s in servers {
        for p in s.ports() {
            if !ports.contains(&p) {
                ports.push(p);
            }
        }
    }
    let on_port = |p: u16| -> Vec<usize> {
        (0..servers.len())
            .filter(|&i| servers[i].ports().contains(&p))
            .collect()
    };
    let by_name_on = |p: u16, notes: &mut Vec<String>| {
        let idx = on_port(p);
        let group: Vec<&Server> = idx.iter().map(|&i| servers[i]).collect();
        best_by_name(&group, host, notes).map(|(i, _)| idx[i])
    };
    if let Some(p) = req.port {
        if !ports.contains(&p) {
            return Err(format!(
                "no server block listens on port {p} (nginx listens on {})",
                list(&ports)
            ));
        }
        if let Some(i) = by_name_on(p, notes) {
            return Ok((i, p));
        }
        let i = default_for_port(servers, p).ok_or("no server on that port")?;
        notes.push(format!(
            "no server_name matches {host} on port {p}: nginx uses the default server of the port"
        ));
        return Ok((i, p));
    }
    let preferred = if req.scheme.as_deref() == Some("https") {
        443
    } else {
        80
    };
    let named: Vec<(u16, usize)> = ports
        .iter()
        .filter_map(|&p| by_name_on(p, notes).map(|i| (p, i)))
        .collect();
    if let Some(&(p, i)) = named
        .iter()
        .find(|(p, _)| *p == preferred)
        .or(named.first())
    {
        let others: Vec<String> = named
            .iter()
            .filter(|(q, _)| *q != p)
            .map(|(q, j)| {
                format!(
                    "port {q} ({}:{})",
                    servers[*j].dir.line,
                    servers[*j].names.first().map(String::as_str).unwrap_or("")
                )
            })
            .collect();
        if !others.is_empty() {
            notes.push(format!(
                "{host} is also served on {} (pass --port to choose)",
                others.join(", ")
            ));
        }
        return Ok((i, p));
    }
    let p = if ports.contains(&preferred) {
        preferred
    } else {
        *ports.first().ok_or("nginx listens on no TCP port")?
    };
    let i = default_for_port(servers, p).ok_or("no server on that port")?;
    notes.push(format!(
        "no server_name matches {host}: nginx answers it with the default server of port {p}"
    ));
    Ok((i, p))
}

fn list(ports: &[u16]) -> String {
    ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// nginx's predefined format.
pub const COMBINED_FORMAT: &str = "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent \"$http_referer\" \"$http_user_agent\"";

/// The `log_format NAME [escape=…] STRING…` of the http context, or the built-in combined.
fn log_format(config: &Config, name: &str) -> Option<LogFormatRef> {
    let found = config
        .http()
        .flat_map(|h| h.children())
        .find(|d| d.name == "log_format" && d.arg(0) == Some(name));
    match found {
        Some(d) => {
            let mut escape = "default".to_string();
            let mut template = String::new();
            for (i, a) in d.args.iter().enumerate().skip(1) {
                match a.strip_prefix("escape=") {
                    Some(e) if i == 1 => escape = e.to_string(),
                    _ => template.push_str(a),
                }
            }
            Some(LogFormatRef {
                name: name.to_string(),
                template,
                escape,
                defined_at: Some(SourceRef {
                    file: config.tree.file(d.file).to_string(),
                    line: d.line,
                }),
            })
        }
        None if name == "combined" => Some(LogFormatRef {
            name: name.to_string(),
            template: COMBINED_FORMAT.to_string(),
            escape: "default".into(),
            defined_at: None,
        }),
        None => None,
    }
}

/// The innermost directive `name` along the chain (http → server → locations).
fn nearest<'a>(config: &'a Config, chain: &[&'a Directive], name: &str) -> Option<&'a Directive> {
    chain
        .iter()
        .rev()
        .find_map(|scope| scope.children().iter().rev().find(|d| d.name == name))
        .or_else(|| config.tree.root.iter().rev().find(|d| d.name == name))
}

/// All directives `name` of the innermost level that has any (array directives such as
/// proxy_set_header: a level that sets one replaces the whole inherited list).
fn nearest_list<'a>(chain: &[&'a Directive], name: &str) -> Vec<&'a Directive> {
    for scope in chain.iter().rev() {
        let here: Vec<&Directive> = scope.children().iter().filter(|d| d.name == name).collect();
        if !here.is_empty() {
            return here;
        }
    }
    Vec::new()
}

fn log_path(config: &Config, arg: &str) -> Option<String> {
    if arg == "off"
        || arg == "stderr"
        || arg.starts_with("syslog:")
        || arg.starts_with("memory:")
        || arg == "/dev/null"
    {
        return None;
    }
    let p = Path::new(arg);
    Some(if p.is_absolute() {
        arg.to_string()
    } else {
        config.prefix.join(p).display().to_string()
    })
}

/// Upstream addresses that the configuration targets elsewhere: every `*_pass` of the
/// other server blocks, and of the selected server's other locations (an app another
/// location sends to is that location's, not a candidate for this one's port). The route's
/// own pass is known by its file:line.
pub fn other_targets(config: &Config, selected: &Route, resolve: Resolver) -> Vec<OtherTarget> {
    let tree = &config.tree;
    let mut out = Vec::new();
    for s in config.servers() {
        let mut passes = Vec::new();
        collect_passes(s.dir, &mut passes, 0);
        for p in passes {
            let own = selected
                .directive_at
                .as_ref()
                .is_some_and(|at| at.file == tree.file(p.file) && at.line == p.line);
            if own {
                continue;
            }
            let t = parse_target(&p.name, p.arg(0).unwrap_or(""));
            if t.authority.contains('$') {
                continue;
            }
            let mut notes = Vec::new();
            let addrs: Vec<UpstreamAddr> = match upstream::find_group(tree, &t.authority) {
                Some(g) => upstream::group_addresses(tree, g, resolve, &mut notes),
                None => upstream::addresses(
                    &t.authority,
                    default_port(&t.scheme),
                    tree.file(p.file),
                    p.line,
                    &[],
                    resolve,
                )
                .unwrap_or_default(),
            };
            for a in addrs {
                out.push(OtherTarget {
                    address: a.address,
                    server_name: s.names.clone(),
                    file: tree.file(p.file).to_string(),
                    line: p.line,
                });
            }
        }
    }
    out
}

fn collect_passes<'a>(d: &'a Directive, out: &mut Vec<&'a Directive>, depth: usize) {
    if depth > 32 {
        return;
    }
    for c in d.children() {
        if PASS_DIRECTIVES.contains(&c.name.as_str()) {
            out.push(c);
        } else if c.block.is_some() {
            collect_passes(c, out, depth + 1);
        }
    }
}

/// Fills `listen_ports` of a snapshot recorded before it existed, from the normalized
/// `listens` addresses ("0.0.0.0:80", "[::]:443"; unix sockets have no port), and the
/// route upstreams' `php_fpm_version`.
pub fn fill_missing(facts: &mut crate::facts::Facts) {
    if let crate::facts::Fact::Collected { value } = &mut facts.nginx {
        if value.listen_ports.is_empty() {
            value.listen_ports = value
                .listens
                .iter()
                .filter(|l| !l.starts_with("unix:"))
                .filter_map(|l| l.rsplit(':').next()?.parse().ok())
                .collect();
            value.listen_ports.sort_unstable();
            value.listen_ports.dedup();
        }
        // php_fpm_version of the routes' unix upstreams, typed since.
        let routes = value
            .route
            .iter_mut()
            .chain(value.site_routes.iter_mut())
            .chain(value.site_upstreams.iter_mut().map(|u| &mut u.route));
        for r in routes {
            fill_fpm_versions(r);
        }
    }
}

fn fill_fpm_versions(r: &mut crate::facts::Route) {
    for u in r
        .upstreams
        .iter_mut()
        .filter(|u| u.php_fpm_version.is_none())
    {
        u.php_fpm_version = crate::parse::fpm::socket_version(&u.address);
    }
    for a in &mut r.auth_requests {
        fill_fpm_versions(&mut a.route);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(src: &str) -> (tempfile::TempDir, Config) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("nginx.conf");
        std::fs::write(&p, src).unwrap();
        let c = load(
            &LoadOptions {
                conf_path: p,
                prefix: Some(dir.path().to_path_buf()),
                dump: None,
            },
            crate::gather::files::CONFIG,
        )
        .unwrap();
        (dir, c)
    }

    fn req(site: &str, path: &str) -> RequestSpec {
        RequestSpec {
            site: site.into(),
            path: path.into(),
            ..Default::default()
        }
    }

    fn no_dns(_: &str, _: u16) -> Vec<SocketAddr> {
        Vec::new()
    }

    #[test]
    fn listen_ports_from_the_config_and_from_old_snapshots() {
        let (_d, c) = config(
            "http { server { listen 127.0.0.1:8080; listen [::]:443 ssl; } \
             server { listen unix:/run/n.sock; } server { listen 8080; } }",
        );
        assert_eq!(c.listen_ports(), vec![443, 8080]);
        let mut facts = crate::facts::Facts {
            nginx: crate::facts::Fact::collected(crate::facts::NginxFacts {
                listens: c.listens(),
                ..Default::default()
            }),
            ..Default::default()
        };
        fill_missing(&mut facts);
        assert_eq!(facts.nginx.value().unwrap().listen_ports, c.listen_ports());
    }

    /// A snapshot from before `php_fpm_version` gets it on load, as a new one has it.
    #[test]
    fn php_fpm_versions_of_old_snapshots() {
        let mut u = crate::test_support::upstream("unix:/run/php/php8.1-fpm.sock", 3);
        u.php_fpm_version = None;
        let mut facts = crate::facts::Facts {
            nginx: crate::facts::Fact::collected(crate::facts::NginxFacts {
                route: Some(crate::facts::Route {
                    upstreams: vec![u],
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        fill_missing(&mut facts);
        let r = facts.nginx.value().unwrap().route.as_ref().unwrap();
        assert_eq!(r.upstreams[0].php_fpm_version.as_deref(), Some("8.1"));
    }

    const SHOP: &str = r#"
user www-data;
error_log logs/main-error.log;
http {
    proxy_read_timeout 30s;
    upstream backend {
        server 127.0.0.1:3000 max_fails=3;
        server 127.0.0.1:3001 backup;
        keepalive 16;
    }
    server {
        listen 80 default_server;
        server_name _;
        return 444;
    }
    server {
        listen 80;
        listen 443 ssl;
        server_name shop.example.com www.shop.example.com;
        access_log /var/log/nginx/shop.access.log;
        proxy_set_header Host $host;
        location / {
            proxy_pass http://backend;
        }
        location /api/ {
            proxy_read_timeout 5s;
            proxy_pass http://127.0.0.1:4000/v1/;
        }
        location ~ \.php$ {
            fastcgi_pass unix:/run/php/php8.2-fpm.sock;
        }
    }
}
"#;

    #[test]
    fn route_through_an_upstream_group() {
        let (_d, c) = config(SHOP);
        assert!(c.issues().is_empty(), "{:?}", c.issues());
        let r = route(&c, &req("Shop.Example.com.", "/cart"), &no_dns).unwrap();
        assert_eq!(r.server.line, 16);
        assert_eq!(r.server.listen, ["0.0.0.0:80"]);
        assert_eq!(r.location.as_ref().unwrap().line, 22);
        assert_eq!(r.group.as_deref(), Some("backend"));
        assert_eq!(r.group_at.as_ref().unwrap().line, 6);
        let addrs: Vec<(&str, u32, Vec<String>)> = r
            .upstreams
            .iter()
            .map(|u| (u.address.as_str(), u.line, u.params.clone()))
            .collect();
        assert_eq!(
            addrs,
            [
                ("127.0.0.1:3000", 7, vec!["max_fails=3".to_string()]),
                ("127.0.0.1:3001", 8, vec!["backup".to_string()])
            ]
        );
        assert_eq!(r.settings.keepalive, Some(16));
        assert_eq!(r.settings.keepalive_timeout_s, Some(60.0));
        assert_eq!(r.settings.read_timeout_s, Some(30.0), "inherited from http");
        assert_eq!(
            r.settings.client_keepalive_timeout_s,
            Some(75.0),
            "nginx default"
        );
        let set: Vec<(&str, u32)> = r
            .settings
            .set_at
            .iter()
            .map(|(n, at)| (n.as_str(), at.line))
            .collect();
        assert_eq!(set, [("proxy_read_timeout", 5)]);
        assert_eq!(r.settings.host_header.as_deref(), Some("shop.example.com"));
        assert_eq!(
            r.access_log.as_deref(),
            Some("/var/log/nginx/shop.access.log")
        );
        assert!(r.error_log.unwrap().ends_with("logs/main-error.log"));
        let f = r.access_log_format.expect("combined by default");
        assert_eq!((f.name.as_str(), f.defined_at), ("combined", None));
        assert_eq!(f.template, COMBINED_FORMAT);
        assert_eq!(c.user().as_deref(), Some("www-data"));
    }

    #[test]
    fn proxy_pass_uri_rewriting_and_location_timeout() {
        let (_d, c) = config(SHOP);
        let r = route(&c, &req("shop.example.com", "/api/orders"), &no_dns).unwrap();
        assert_eq!(r.upstream_uri.as_deref(), Some("/v1/orders"));
        assert_eq!(r.settings.read_timeout_s, Some(5.0));
        assert_eq!(r.upstreams[0].address, "127.0.0.1:4000");
        assert_eq!(r.settings.host_header.as_deref(), Some("shop.example.com"));
    }

    #[test]
    fn fastcgi_to_unix_socket_and_default_server() {
        let (_d, c) = config(SHOP);
        let r = route(&c, &req("shop.example.com", "/index.php"), &no_dns).unwrap();
        assert_eq!(r.directive.as_deref(), Some("fastcgi_pass"));
        assert_eq!(r.upstreams[0].address, "unix:/run/php/php8.2-fpm.sock");
        let r = route(&c, &req("unknown.example.org", "/"), &no_dns).unwrap();
        assert_eq!(r.server.line, 11);
        assert!(r.notes[0].contains("default server"), "{:?}", r.notes);
        assert_eq!(r.directive, None);
    }

    /// `access_log PATH NAME buffer=…` uses the named format, its strings joined as nginx
    /// joins them; `escape=json` is kept; an unknown name has no format (nginx -t refuses it).
    #[test]
    fn access_log_format_by_name() {
        let (_d, c) = config(
            "http {
    log_format upstream escape=json '$remote_addr [$time_local] \"$request\" $status '
                        'us=$upstream_status uht=$upstream_header_time';
    server { listen 80; server_name a;
        access_log /var/log/a.log upstream buffer=32k flush=5s;
        location / { proxy_pass http://127.0.0.1:3000; } }
    server { listen 80; server_name b; access_log /var/log/b.log nosuch;
        location / { proxy_pass http://127.0.0.1:3001; } }
    server { listen 80; server_name c; access_log off;
        location / { proxy_pass http://127.0.0.1:3002; } }
}",
        );
        let r = route(&c, &req("a", "/"), &no_dns).unwrap();
        let f = r.access_log_format.expect("named format");
        assert_eq!(f.name, "upstream");
        assert_eq!(f.escape, "json");
        assert_eq!(
            f.template,
            "$remote_addr [$time_local] \"$request\" $status us=$upstream_status uht=$upstream_header_time"
        );
        assert_eq!(f.defined_at.map(|s| s.line), Some(2));
        let r = route(&c, &req("b", "/"), &no_dns).unwrap();
        assert_eq!(r.access_log.as_deref(), Some("/var/log/b.log"));
        assert_eq!(r.access_log_format, None);
        let r = route(&c, &req("c", "/"), &no_dns).unwrap();
        assert_eq!((r.access_log, r.access_log_format), (None, None));
    }

    #[test]
    fn site_on_two_ports_prefers_80_or_443_for_https() {
        let (_d, c) = config(SHOP);
        let mut q = req("shop.example.com", "/");
        let r = route(&c, &q, &no_dns).unwrap();
        assert_eq!(r.server.listen, ["0.0.0.0:80"]);
        assert!(
            r.notes
                .iter()
                .any(|n| n.contains("also served on port 443")),
            "{:?}",
            r.notes
        );
        q.scheme = Some("https".into());
        assert_eq!(
            route(&c, &q, &no_dns).unwrap().server.listen,
            ["0.0.0.0:443"]
        );
        q.port = Some(8080);
        assert!(route(&c, &q, &no_dns)
            .unwrap_err()
            .contains("no server block listens on port 8080"));
    }

    #[test]
    fn variable_target_is_dynamic() {
        let (_d, c) = config("http { server { listen 80; server_name a; location / { set $b 127.0.0.1:5000; proxy_pass http://$b; } } }");
        let r = route(&c, &req("a", "/"), &no_dns).unwrap();
        assert!(r
            .dynamic
            .as_deref()
            .unwrap()
            .contains("no `resolver` is defined"));
        assert_eq!(r.upstreams[0].address, "127.0.0.1:5000");
    }

    #[test]
    fn other_servers_targets() {
        let (_d, c) = config(SHOP);
        let r = route(&c, &req("shop.example.com", "/"), &no_dns).unwrap();
        // Only the server's other locations: never the route's own pass.
        let own = r.directive_at.clone().unwrap();
        let o = other_targets(&c, &r, &no_dns);
        assert!(!o.is_empty());
        assert!(o.iter().all(|t| t.line != own.line), "{o:?}");
        let (_d2, c2) = config("http { server { server_name a; location / { proxy_pass http://127.0.0.1:1; } }\n server { server_name b; location / { proxy_pass http://127.0.0.1:2; } } }");
        let r = route(&c2, &req("a", "/"), &no_dns).unwrap();
        let o = other_targets(&c2, &r, &no_dns);
        assert_eq!(o.len(), 1);
        assert_eq!(o[0].address, "127.0.0.1:2");
        // The same server's other locations claim their apps too; the route's own pass not.
        let (_d3, c3) = config("http { server { server_name a;\n location / { proxy_pass http://127.0.0.1:1; }\n location = /health { proxy_pass http://127.0.0.1:3; } } }");
        let r = route(&c3, &req("a", "/health"), &no_dns).unwrap();
        let o = other_targets(&c3, &r, &no_dns);
        assert_eq!(o.len(), 1, "{o:?}");
        assert_eq!(o[0].address, "127.0.0.1:1");
    }
}
