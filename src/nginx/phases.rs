//! nginx's phase engine, replayed on the configuration: where a request really ends after
//! internal redirects. The authority is nginx's own code (`ngx_http_core_module.c`,
//! `ngx_http_rewrite_module.c`, the try_files, index, static and access modules):
//!
//! 1. server rewrite (`rewrite`, `return`, `set`, `if`, `break` of the server block);
//! 2. find config: the location for the URI (`internal` locations answer 404 to a request
//!    that was not redirected; a `*_pass` location named `/p/` answers 301 to `/p`);
//! 3. rewrite: the location's rewrite directives; an `if` whose condition holds makes its
//!    block the request's configuration (it inherits `root`, `index`, `error_page`, access
//!    rules and the location's `*_pass`, but never `try_files`);
//! 4. post rewrite: a changed URI searches the locations again (at most 10 URI changes:
//!    the 11th is nginx's "rewrite or internal redirection cycle", 500);
//! 5. access: `allow`/`deny` (and `limit_except` for other methods) → 403;
//! 6. try_files: each argument tested with stat under `root`/`alias` (`x/` wants a
//!    directory); the last is a URI (internal redirect, arguments split at `?`), `@name`
//!    (named location: server rewrite and find config are skipped) or `=code`;
//! 7. content: the `*_pass` of the location (or of the `if` block), else `index` for a URI
//!    ending in `/` (each candidate stat'ed, an absolute last one taken untested; found →
//!    internal redirect), else the static file (a directory → 301).
//!
//! A status of 300 or more passes through `error_page` once (unless
//! `recursive_error_pages on`), when URI changes remain: a URI target redirects
//! internally, `@name` goes to the named location, a URL answers 302.
//!
//! Files are only ever stat'ed, through [`FileView`], so the caller decides how (the host,
//! a process's /proc/PID/root, a test's table). Whatever cannot be decided — a variable
//! known only at run time, a file badgw cannot stat, a client address — forks the walk:
//! every branch is followed and returned, each with the assumptions it took.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

use super::select::{find_location, location_spec, translate_regex, Pcre};
use super::tree::{Directive, Tree};
use super::upstream::PASS_DIRECTIVES;

/// What a stat of a path says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stat {
    File,
    Dir,
    Missing,
    /// The path could not be checked (permission, another mount namespace…): why.
    Unknown(String),
}

/// Read-only view of the file system nginx serves from. Implementations must only stat.
pub trait FileView {
    fn stat(&self, path: &str) -> Stat;
}

/// A view that knows nothing: every file check becomes a branch.
pub struct NoFiles;

impl FileView for NoFiles {
    fn stat(&self, _path: &str) -> Stat {
        Stat::Unknown("no file system view".into())
    }
}

/// A fixed table of paths (tests, recorded snapshots): absent → Missing.
#[derive(Default)]
pub struct TableFiles {
    pub entries: HashMap<String, Stat>,
}

impl FileView for TableFiles {
    fn stat(&self, path: &str) -> Stat {
        let p = if path.len() > 1 {
            path.trim_end_matches('/')
        } else {
            path
        };
        self.entries.get(p).cloned().unwrap_or(Stat::Missing)
    }
}

/// The request as the engine sees it.
#[derive(Debug, Clone)]
pub struct Input {
    /// Decoded path, e.g. "/index.php".
    pub uri: String,
    /// Query string without `?`.
    pub args: String,
    /// The Host header as sent.
    pub host: String,
    pub method: String,
    /// The client address, when known (access rules depend on it).
    pub client: Option<IpAddr>,
    pub scheme: String,
    pub port: u16,
    /// A subrequest (`auth_request`): internal, and nginx skips its access phase
    /// (`ngx_http_core_access_phase` runs for the main request only).
    pub subrequest: bool,
}

/// One step of the walk, for the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Hop {
    /// `location`, `rewrite`, `return`, `try_files`, `index`, `error_page`, `if`,
    /// `access`, `static`, `pass`, `redirect`, `status`.
    pub kind: &'static str,
    /// What happened, as nginx would word it (`location ~ \.php$`, `try_files → /index.php`).
    pub text: String,
    /// The URI after this step, when it changed it.
    pub uri: Option<String>,
    /// Where the directive is written (file index, line).
    pub at: Option<(usize, u32)>,
}

/// Where a walk ends.
#[derive(Debug, Clone)]
pub enum End<'a> {
    /// Handed to an upstream: the `*_pass` directive and the configuration chain that
    /// holds it (locations outermost first, the `if` block last when the pass is in one).
    Pass {
        pass: &'a Directive,
        chain: Vec<&'a Directive>,
        /// The target with its variables evaluated, when they all are known.
        target: Option<String>,
    },
    /// nginx answers itself with this status (`return`, 403, 404, 500, 301…).
    Status { code: u16, why: String },
    /// A static file (or directory listing) served by nginx.
    Static { path: String },
}

/// One complete walk.
#[derive(Debug, Clone)]
pub struct Walk<'a> {
    pub hops: Vec<Hop>,
    pub end: End<'a>,
    /// The assumptions taken where the configuration alone could not decide.
    pub assumed: Vec<String>,
    /// The final URI and arguments.
    pub uri: String,
    pub args: String,
    /// The location chain in effect at the end (for settings), outermost first.
    pub chain: Vec<&'a Directive>,
    /// What nginx does when the upstream fails (502/504) here: the error_page target.
    pub on_upstream_error: Option<(u16, String, usize, u32)>,
    /// `auth_request URI` in effect where the access phase ran (each distinct one):
    /// nginx sends that subrequest first (URI, file index, line).
    pub auth_requests: Vec<(String, usize, u32)>,
}

/// The static parts of the configuration the engine needs.
pub struct Ctx<'a> {
    pub tree: &'a Tree,
    pub http: Option<&'a Directive>,
    pub server: &'a Directive,
    pub prefix: &'a Path,
    pub files: &'a dyn FileView,
    /// `server_name`'s first value.
    pub server_name: String,
}

const MAX_BRANCHES: usize = 32;
/// NGX_HTTP_MAX_URI_CHANGES + 1.
const URI_CHANGES: u8 = 11;

/// Follows the request through every branch the configuration allows.
pub fn walk_all<'a>(ctx: &Ctx<'a>, input: &Input) -> Vec<Walk<'a>> {
    let mut out = Vec::new();
    let mut pending: Vec<Vec<bool>> = vec![Vec::new()];
    while let Some(forced) = pending.pop() {
        if out.len() >= MAX_BRANCHES {
            break;
        }
        let mut e = Engine::new(ctx, input, forced.clone());
        let end = e.run();
        let taken = e.taken.clone();
        for i in forced.len()..taken.len() {
            let mut alt = taken[..i].to_vec();
            alt.push(!taken[i]);
            pending.push(alt);
        }
        out.push(Walk {
            hops: e.hops,
            end,
            assumed: e.assumed,
            uri: e.uri,
            args: e.args,
            chain: e.chain,
            on_upstream_error: e.on_upstream_error,
            auth_requests: e.auth_requests,
        });
    }
    out
}

enum Flow {
    /// Rewrite directives done; `changed` when the URI changed without `break`.
    Done {
        changed: bool,
    },
    Status(u16, String),
    /// Terminal answer that does not pass through error_page (return with text, redirects).
    Final(u16, String),
}

enum Next {
    ServerRewrite,
    FindConfig,
    Rewrite,
}

struct Engine<'a, 'c> {
    ctx: &'c Ctx<'a>,
    input: &'c Input,
    uri: String,
    args: String,
    method: String,
    internal: bool,
    changes: u8,
    error_page_done: bool,
    vars: HashMap<String, String>,
    caps: Vec<Option<String>>,
    named_caps: HashMap<String, String>,
    /// Location chain (outermost first).
    chain: Vec<&'a Directive>,
    /// The `if` block in effect, when one matched.
    if_block: Option<&'a Directive>,
    content: Option<&'a Directive>,
    hops: Vec<Hop>,
    forced: Vec<bool>,
    taken: Vec<bool>,
    assumed: Vec<String>,
    on_upstream_error: Option<(u16, String, usize, u32)>,
    auth_requests: Vec<(String, usize, u32)>,
    maps: HashMap<&'a str, &'a Directive>,
    depth: usize,
}

impl<'a, 'c> Engine<'a, 'c> {
    fn new(ctx: &'c Ctx<'a>, input: &'c Input, forced: Vec<bool>) -> Self {
        let mut maps = HashMap::new();
        if let Some(h) = ctx.http {
            for d in h.children() {
                if d.name == "map" && d.args.len() >= 2 {
                    maps.insert(d.args[1].trim_start_matches('$'), d);
                }
            }
        }
        Engine {
            ctx,
            input,
            uri: input.uri.clone(),
            args: input.args.clone(),
            method: input.method.clone(),
            internal: input.subrequest,
            changes: URI_CHANGES,
            error_page_done: false,
            vars: HashMap::new(),
            caps: Vec::new(),
            named_caps: HashMap::new(),
            chain: Vec::new(),
            if_block: None,
            content: None,
            hops: Vec::new(),
            forced,
            taken: Vec::new(),
            assumed: Vec::new(),
            on_upstream_error: None,
            auth_requests: Vec::new(),
            maps,
            depth: 0,
        }
    }

    fn at(d: &Directive) -> Option<(usize, u32)> {
        Some((d.file, d.line))
    }

    fn hop(
        &mut self,
        kind: &'static str,
        text: String,
        uri: Option<String>,
        d: Option<&Directive>,
    ) {
        self.hops.push(Hop {
            kind,
            text,
            uri,
            at: d.and_then(Self::at),
        });
    }

    /// An undecidable point: the next forced answer, else `true` (the first branch).
    fn decide(&mut self, question: String) -> bool {
        let i = self.taken.len();
        let v = self.forced.get(i).copied().unwrap_or(true);
        self.taken.push(v);
        self.assumed.push(format!(
            "{question}: assumed {}",
            if v { "yes" } else { "no" }
        ));
        v
    }

    /// The configuration in effect: the `if` block, else the innermost location, else the server.
    fn conf(&self) -> &'a Directive {
        self.if_block
            .or_else(|| self.chain.last().copied())
            .unwrap_or(self.ctx.server)
    }

    /// http → server → locations → if block.
    fn levels(&self) -> Vec<&'a Directive> {
        let mut v: Vec<&'a Directive> = self.ctx.http.into_iter().collect();
        v.push(self.ctx.server);
        v.extend(self.chain.iter().copied());
        v.extend(self.if_block);
        v
    }

    /// Innermost directive `name` (inherited settings).
    fn nearest(&self, names: &[&str]) -> Option<&'a Directive> {
        self.levels().into_iter().rev().find_map(|l| {
            l.children()
                .iter()
                .rev()
                .find(|d| names.contains(&d.name.as_str()))
        })
    }

    /// The directives `name` of the innermost level that has any (array settings).
    fn nearest_list(&self, name: &str) -> Vec<&'a Directive> {
        for l in self.levels().into_iter().rev() {
            let here: Vec<&'a Directive> = l.children().iter().filter(|d| d.name == name).collect();
            if !here.is_empty() {
                return here;
            }
        }
        Vec::new()
    }

    fn run(&mut self) -> End<'a> {
        self.hop(
            "request",
            format!("{} {}", self.method, self.uri_with_args()),
            Some(self.uri.clone()),
            None,
        );
        let mut next = Next::ServerRewrite;
        loop {
            self.depth += 1;
            if self.depth > 64 {
                return self.end_status(500, "badgw stopped following a loop".into(), false);
            }
            match next {
                Next::ServerRewrite => {
                    self.if_block = None;
                    self.chain.clear();
                    let server = self.ctx.server;
                    match self.rewrite_block(server.children(), true) {
                        Flow::Done { .. } => {}
                        Flow::Status(c, why) => match self.finalize(c, why) {
                            Ok(n) => {
                                next = n;
                                continue;
                            }
                            Err(e) => return e,
                        },
                        Flow::Final(c, why) => return self.end_status(c, why, true),
                    }
                    next = Next::FindConfig;
                }
                Next::FindConfig => {
                    self.if_block = None;
                    self.content = None;
                    match self.find_config() {
                        Ok(()) => next = Next::Rewrite,
                        Err((c, why, through_error_page)) => {
                            if through_error_page {
                                match self.finalize(c, why) {
                                    Ok(n) => {
                                        next = n;
                                        continue;
                                    }
                                    Err(e) => return e,
                                }
                            }
                            return self.end_status(c, why, true);
                        }
                    }
                }
                Next::Rewrite => {
                    let conf = self.conf();
                    // With no location matched, the server's own configuration is the
                    // request's, and its rewrite directives run a second time (as nginx does).
                    let at_server = std::ptr::eq(conf, self.ctx.server);
                    {
                        match self.rewrite_block(conf.children(), at_server) {
                            Flow::Done { changed: true } => {
                                if self.changes <= 1 {
                                    self.changes = 0;
                                    let why = format!(
                                        "rewrite or internal redirection cycle while processing \"{}\"",
                                        self.uri
                                    );
                                    return self.end_status(500, why, false);
                                }
                                self.changes -= 1;
                                next = Next::FindConfig;
                                continue;
                            }
                            Flow::Done { changed: false } => {}
                            Flow::Status(c, why) => match self.finalize(c, why) {
                                Ok(n) => {
                                    next = n;
                                    continue;
                                }
                                Err(e) => return e,
                            },
                            Flow::Final(c, why) => return self.end_status(c, why, true),
                        }
                    }
                    // access
                    if let Some((c, why)) = self.access() {
                        match self.finalize(c, why) {
                            Ok(n) => {
                                next = n;
                                continue;
                            }
                            Err(e) => return e,
                        }
                    }
                    // try_files, then content
                    match self.try_files() {
                        Ok(None) => {}
                        Ok(Some(n)) => {
                            next = n;
                            continue;
                        }
                        Err(Ok((c, why))) => match self.finalize(c, why) {
                            Ok(n) => {
                                next = n;
                                continue;
                            }
                            Err(e) => return e,
                        },
                        Err(Err(end)) => return end,
                    }
                    match self.content_phase() {
                        Ok(end) => return end,
                        Err(Ok(n)) => {
                            next = n;
                            continue;
                        }
                        Err(Err((c, why))) => match self.finalize(c, why) {
                            Ok(n) => {
                                next = n;
                                continue;
                            }
                            Err(e) => return e,
                        },
                    }
                }
            }
        }
    }

    fn uri_with_args(&self) -> String {
        if self.args.is_empty() {
            self.uri.clone()
        } else {
            format!("{}?{}", self.uri, self.args)
        }
    }

    fn end_status(&mut self, code: u16, why: String, _ep: bool) -> End<'a> {
        self.hop("status", format!("{code} {why}"), None, None);
        End::Status { code, why }
    }

    /// ngx_http_finalize_request with a special status: error_page or the end.
    fn finalize(&mut self, code: u16, why: String) -> Result<Next, End<'a>> {
        if code >= 300 && !self.error_page_done && self.changes != 0 {
            if let Some((d, overwrite, target)) = self.error_page_for(code) {
                let recursive = self
                    .nearest(&["recursive_error_pages"])
                    .and_then(|d| d.arg(0))
                    == Some("on");
                if !recursive {
                    self.error_page_done = true;
                }
                self.hop(
                    "error_page",
                    format!(
                        "{code} ({why}) → error_page {}{target}",
                        match overwrite {
                            Some(Some(c)) => format!("={c} "),
                            Some(None) => "= ".into(),
                            None => String::new(),
                        }
                    ),
                    None,
                    Some(d),
                );
                let target = match self.expand(&target) {
                    Ok(t) => t,
                    Err(v) => {
                        let why = format!("error_page target uses ${v}, known only at run time");
                        return Err(self.end_status(code, why, false));
                    }
                };
                if target.starts_with('/') {
                    if self.method != "HEAD" {
                        self.method = "GET".into();
                    }
                    let (u, a) = split_args(&target);
                    return self.internal_redirect(u, a.unwrap_or_default());
                }
                if target.starts_with('@') {
                    return self.named(&target, d);
                }
                let c = match overwrite {
                    Some(Some(c)) if [301, 302, 303, 307, 308].contains(&c) => c,
                    _ => 302,
                };
                return Err(self.end_status(c, format!("redirect to {target}"), false));
            }
        }
        Err(self.end_status(code, why, false))
    }

    /// The error_page of the effective level that lists `code`: (directive, `=` overwrite, target).
    #[allow(clippy::type_complexity)]
    fn error_page_for(&self, code: u16) -> Option<(&'a Directive, Option<Option<u16>>, String)> {
        for d in self.nearest_list("error_page") {
            let mut codes = Vec::new();
            let mut overwrite = None;
            let n = d.args.len();
            if n < 2 {
                continue;
            }
            for a in &d.args[..n - 1] {
                if let Some(rest) = a.strip_prefix('=') {
                    overwrite = Some(rest.parse::<u16>().ok());
                } else if let Ok(c) = a.parse::<u16>() {
                    codes.push(c);
                }
            }
            if codes.contains(&code) {
                return Some((d, overwrite, d.args[n - 1].clone()));
            }
        }
        None
    }

    fn internal_redirect(&mut self, uri: String, args: String) -> Result<Next, End<'a>> {
        self.changes = self.changes.saturating_sub(1);
        if self.changes == 0 {
            let why = format!(
                "rewrite or internal redirection cycle while internally redirecting to \"{uri}\""
            );
            return Err(self.end_status(500, why, false));
        }
        self.uri = uri;
        self.args = args;
        self.internal = true;
        self.hop(
            "redirect",
            self.uri_with_args(),
            Some(self.uri.clone()),
            None,
        );
        Ok(Next::ServerRewrite)
    }

    fn named(&mut self, name: &str, from: &'a Directive) -> Result<Next, End<'a>> {
        self.changes = self.changes.saturating_sub(1);
        if self.changes == 0 {
            let why = format!(
                "rewrite or internal redirection cycle while redirect to named location \"{name}\""
            );
            return Err(self.end_status(500, why, false));
        }
        let found = self
            .ctx
            .server
            .children()
            .iter()
            .find(|d| d.name == "location" && d.arg(0) == Some(name));
        let Some(loc) = found else {
            let _ = from;
            return Err(self.end_status(
                500,
                format!("could not find named location \"{name}\""),
                false,
            ));
        };
        self.internal = true;
        self.chain = vec![loc];
        self.if_block = None;
        self.content = own_pass(loc);
        self.hop("location", format!("location {name}"), None, Some(loc));
        Ok(Next::Rewrite)
    }

    fn find_config(&mut self) -> Result<(), (u16, String, bool)> {
        let server = self.ctx.server;
        if let Some(loc) = auto_redirect(server.children(), &self.uri) {
            self.chain = vec![loc];
            let to = format!("{}/", self.uri);
            self.hop(
                "location",
                format!(
                    "{} (a *_pass location: nginx adds the slash)",
                    loc_text(loc)
                ),
                None,
                Some(loc),
            );
            return Err((301, format!("moved permanently to {to}"), true));
        }
        let mut notes = Vec::new();
        let chain = find_location(server.children(), &self.uri, &mut notes);
        for n in notes {
            self.assumed.push(n);
        }
        self.chain = chain;
        self.caps.clear();
        self.named_caps.clear();
        for d in self.chain.clone() {
            let (m, p) = location_spec(d);
            if m == "~" || m == "~*" {
                if let Ok(re) = translate_regex(&p, m == "~*") {
                    self.capture(&re, &self.uri.clone());
                }
            }
        }
        match self.chain.last().copied() {
            Some(loc) => {
                self.hop("location", loc_text(loc), None, Some(loc));
                if !self.internal && loc.children().iter().any(|d| d.name == "internal") {
                    return Err((
                        404,
                        "internal location, not reachable from outside".into(),
                        true,
                    ));
                }
                self.content = own_pass(loc);
            }
            None => self.hop(
                "location",
                "(no location matches: the server's own settings)".into(),
                None,
                None,
            ),
        }
        Ok(())
    }

    fn capture(&mut self, re: &Pcre, s: &str) -> bool {
        match re.groups(s) {
            Some(g) => {
                self.caps = g.numbered;
                self.named_caps = g.named.into_iter().collect();
                true
            }
            None => false,
        }
    }

    /// Runs rewrite-module directives of a block (ngx_http_rewrite_handler).
    fn rewrite_block(&mut self, dirs: &'a [Directive], server: bool) -> Flow {
        let mut changed = false;
        let mut stop = false;
        let r = self.rewrite_list(dirs, server, &mut changed, &mut stop);
        match r {
            Some(f) => f,
            None => Flow::Done { changed },
        }
    }

    fn rewrite_list(
        &mut self,
        dirs: &'a [Directive],
        server: bool,
        changed: &mut bool,
        stop: &mut bool,
    ) -> Option<Flow> {
        for d in dirs {
            if *stop {
                return None;
            }
            match d.name.as_str() {
                "set" if d.args.len() >= 2 => {
                    let name = d.args[0].trim_start_matches('$').to_string();
                    match self.expand(&d.args[1]) {
                        Ok(v) => {
                            self.vars.insert(name, v);
                        }
                        Err(_) => {
                            self.vars.remove(&name);
                            self.vars.insert(format!("\0unknown:{name}"), String::new());
                        }
                    }
                }
                "break" => {
                    *stop = true;
                    *changed = false;
                    return None;
                }
                "return" => return Some(self.do_return(d)),
                "rewrite" if d.args.len() >= 2 => {
                    let re = match translate_regex(&d.args[0], false) {
                        Ok(r) => r,
                        Err(e) => {
                            let q = format!(
                                "{}:{}: {e}; does it match {}",
                                self.ctx.tree.file(d.file),
                                d.line,
                                self.uri
                            );
                            if !self.decide(q) {
                                continue;
                            }
                            // Assumed to match but cannot substitute: stop here.
                            return Some(Flow::Final(
                                0,
                                "rewrite with a regex badgw cannot evaluate".into(),
                            ));
                        }
                    };
                    let uri = self.uri.clone();
                    if !self.capture(&re, &uri) {
                        continue;
                    }
                    let flag = d.arg(2).unwrap_or("");
                    let repl = &d.args[1];
                    let new = match self.expand(repl) {
                        Ok(v) => v,
                        Err(v) => {
                            self.hop(
                                "rewrite",
                                format!("rewrite {} {repl}", d.args[0]),
                                None,
                                Some(d),
                            );
                            return Some(Flow::Final(
                                0,
                                format!("the rewrite target uses ${v}, known only at run time"),
                            ));
                        }
                    };
                    let external = repl.starts_with("http://")
                        || repl.starts_with("https://")
                        || repl.starts_with("$scheme");
                    if flag == "redirect" || flag == "permanent" || external {
                        let code = if flag == "permanent" { 301 } else { 302 };
                        self.hop(
                            "rewrite",
                            format!("rewrite {} {repl} {flag}", d.args[0]),
                            None,
                            Some(d),
                        );
                        let target = if external || self.args.is_empty() || repl.ends_with('?') {
                            new.trim_end_matches('?').to_string()
                        } else if new.contains('?') {
                            format!("{new}&{}", self.args)
                        } else {
                            format!("{new}?{}", self.args)
                        };
                        return Some(Flow::Final(code, format!("redirect to {target}")));
                    }
                    let (u, a) = split_args(&new);
                    self.uri = u;
                    if let Some(a) = a {
                        if repl.ends_with('?') {
                            self.args = a.trim_end_matches('?').to_string();
                        } else if a.is_empty() {
                            // "/x?" drops the arguments.
                            self.args = String::new();
                        } else if self.args.is_empty() {
                            self.args = a;
                        } else {
                            self.args = format!("{a}&{}", self.args);
                        }
                    }
                    self.hop(
                        "rewrite",
                        format!(
                            "rewrite {} {repl}{}",
                            d.args[0],
                            if flag.is_empty() {
                                String::new()
                            } else {
                                format!(" {flag}")
                            }
                        ),
                        Some(self.uri.clone()),
                        Some(d),
                    );
                    match flag {
                        "last" => {
                            *stop = true;
                            *changed = true;
                            return None;
                        }
                        "break" => {
                            *stop = true;
                            *changed = false;
                            return None;
                        }
                        _ => *changed = true,
                    }
                }
                "if" => {
                    let holds = match self.condition(d) {
                        Ok(b) => b,
                        Err(q) => self.decide(q),
                    };
                    if holds {
                        self.hop(
                            "if",
                            format!("if {} holds", d.args.join(" ")),
                            None,
                            Some(d),
                        );
                        if !server {
                            self.if_block = Some(d);
                            if let Some(p) = own_pass(d) {
                                self.content = Some(p);
                            }
                        }
                        if let Some(f) = self.rewrite_list(d.children(), server, changed, stop) {
                            return Some(f);
                        }
                    }
                }
                _ => {}
            }
        }
        None
    }

    fn do_return(&mut self, d: &'a Directive) -> Flow {
        let (code, text) = match (d.arg(0), d.arg(1)) {
            (Some(a), rest) if a.parse::<u16>().is_ok() => (a.parse::<u16>().unwrap_or(0), rest),
            (Some(url), None) => (302, Some(url)),
            _ => (500, None),
        };
        self.hop(
            "return",
            format!("return {}", d.args.join(" ")),
            None,
            Some(d),
        );
        if code == 444 {
            return Flow::Final(
                444,
                "connection closed without a response (return 444)".into(),
            );
        }
        match text {
            Some(t) if (301..=308).contains(&code) => {
                let t = self.expand(t).unwrap_or_else(|_| t.to_string());
                Flow::Final(code, format!("redirect to {t}"))
            }
            Some(_) => Flow::Final(code, "return with a body".into()),
            None if code >= 400 => Flow::Status(code, "return".into()),
            None => Flow::Final(code, "return".into()),
        }
    }

    /// Evaluates an `if` condition; Err(question) when it depends on run-time data.
    fn condition(&mut self, d: &'a Directive) -> Result<bool, String> {
        let mut args: Vec<String> = d.args.clone();
        if let Some(f) = args.first_mut() {
            *f = f.trim_start_matches('(').to_string();
        }
        if let Some(l) = args.last_mut() {
            *l = l.trim_end_matches(')').to_string();
        }
        args.retain(|a| !a.is_empty());
        let where_ = format!("{}:{}", self.ctx.tree.file(d.file), d.line);
        let q = |s: &str| format!("{where_}: if ({s})");
        let text = args.join(" ");
        match args.as_slice() {
            [op, operand] if op.trim_start_matches('!').starts_with('-') => {
                let neg = op.starts_with('!');
                let path = self
                    .expand(operand)
                    .map_err(|v| q(&format!("{text}) with ${v} known only at run time")))?;
                let s = self.ctx.files.stat(&path);
                let res = match (op.trim_start_matches('!'), &s) {
                    (_, Stat::Unknown(why)) => {
                        return Err(q(&format!("{text}: {path} cannot be checked ({why})")))
                    }
                    ("-f", st) => *st == Stat::File,
                    ("-d", st) => *st == Stat::Dir,
                    ("-e", st) => *st != Stat::Missing,
                    ("-x", _) => {
                        return Err(q(&format!(
                            "{text}: badgw does not test execute permission"
                        )))
                    }
                    _ => return Err(q(&text)),
                };
                Ok(res != neg)
            }
            [var] => {
                let v = self
                    .expand(var)
                    .map_err(|v| q(&format!("{text}: ${v} is known only at run time")))?;
                Ok(!(v.is_empty() || v == "0"))
            }
            [var, op, value] => {
                let left = self
                    .expand(var)
                    .map_err(|v| q(&format!("{text}: ${v} is known only at run time")))?;
                match op.as_str() {
                    "=" | "!=" => {
                        let right = self
                            .expand(value)
                            .map_err(|v| q(&format!("{text}: ${v} is known only at run time")))?;
                        Ok((left == right) == (op == "="))
                    }
                    "~" | "~*" | "!~" | "!~*" => {
                        let ci = op.ends_with('*');
                        let re =
                            translate_regex(value, ci).map_err(|e| q(&format!("{text}: {e}")))?;
                        let m = if op.starts_with('!') {
                            re.is_match(&left)
                        } else {
                            self.capture(&re, &left)
                        };
                        Ok(m != op.starts_with('!'))
                    }
                    _ => Err(q(&text)),
                }
            }
            _ => Err(q(&text)),
        }
    }

    /// The access phase (main request only): allow/deny and limit_except, then
    /// `auth_basic` and `auth_request` (`satisfy all`, nginx's default, needs every one).
    fn access(&mut self) -> Option<(u16, String)> {
        if self.input.subrequest {
            return None;
        }
        if let Some(denied) = self.access_rules_phase() {
            return Some(denied);
        }
        let any = self
            .nearest(&["satisfy"])
            .and_then(|d| d.arg(0))
            .is_some_and(|v| v.eq_ignore_ascii_case("any"));
        if let Some(d) = self
            .nearest(&["auth_basic"])
            .filter(|d| d.arg(0).is_some_and(|v| v != "off"))
        {
            self.hop(
                "access",
                format!(
                    "auth_basic: without valid credentials nginx answers 401{}",
                    if any {
                        " (satisfy any: unless allow matched)"
                    } else {
                        ""
                    }
                ),
                None,
                Some(d),
            );
        }
        if let Some(d) = self
            .nearest(&["auth_request"])
            .filter(|d| d.arg(0).is_some_and(|v| v != "off"))
        {
            let uri = d.arg(0).unwrap_or_default().to_string();
            self.hop(
                "access",
                format!("auth_request {uri}: a subrequest first; 2xx lets the request on, 401/403 are answered, any other status (a failed upstream's 502) is answered 500"),
                None,
                Some(d),
            );
            if !self
                .auth_requests
                .iter()
                .any(|(u, f, l)| *u == uri && *f == d.file && *l == d.line)
            {
                self.auth_requests.push((uri.clone(), d.file, d.line));
            }
            return self.auth_outcome(&uri);
        }
        None
    }

    /// What the `auth_request` subrequest answers when the configuration decides it
    /// (`ngx_http_auth_request_handler`): a status nginx itself answers (2xx → on,
    /// 401/403 → that status, anything else → 500). A subrequest that reaches an upstream
    /// or a file is assumed to allow the request (the upstream decides at run time).
    fn auth_outcome(&mut self, uri: &str) -> Option<(u16, String)> {
        let (path, args) = split_args(uri);
        let sub = Input {
            uri: normalize_uri(&path),
            args: args.unwrap_or_default(),
            method: "GET".into(),
            subrequest: true,
            ..self.input.clone()
        };
        let walks = walk_all(self.ctx, &sub);
        let code = match walks.first().map(|w| &w.end) {
            Some(End::Status { code, .. }) => *code,
            _ => return None,
        };
        match code {
            200..=299 => None,
            401 | 403 => Some((code, format!("auth_request {uri} answered {code}"))),
            // 0: decided only at run time.
            0 => None,
            _ => Some((
                500,
                format!("auth request unexpected status: {code} (auth_request {uri})"),
            )),
        }
    }

    /// allow/deny of the effective level, and limit_except for other methods.
    fn access_rules_phase(&mut self) -> Option<(u16, String)> {
        let mut rule_levels: Vec<&'a Directive> = Vec::new();
        if let Some(le) = self
            .conf()
            .children()
            .iter()
            .chain(
                self.chain
                    .last()
                    .map(|l| l.children())
                    .unwrap_or(&[])
                    .iter(),
            )
            .find(|d| d.name == "limit_except")
        {
            let allowed: Vec<String> = le.args.iter().map(|m| m.to_ascii_uppercase()).collect();
            let m = self.method.to_ascii_uppercase();
            let excepted =
                allowed.contains(&m) || (m == "HEAD" && allowed.iter().any(|a| a == "GET"));
            if !excepted {
                rule_levels.push(le);
            }
        }
        let rules: Vec<&'a Directive> = if let Some(le) = rule_levels.first() {
            let own: Vec<&'a Directive> = le
                .children()
                .iter()
                .filter(|d| d.name == "allow" || d.name == "deny")
                .collect();
            if own.is_empty() {
                self.access_rules()
            } else {
                own
            }
        } else {
            self.access_rules()
        };
        for r in rules {
            let a = r.arg(0).unwrap_or("");
            let hit = if a == "all" {
                true
            } else {
                match (self.input.client, a) {
                    (_, "unix:") => false,
                    (Some(ip), net) => cidr_contains(net, ip).unwrap_or(false),
                    (None, net) => {
                        let q = format!(
                            "{}:{}: {} {net}: does the client address match",
                            self.ctx.tree.file(r.file),
                            r.line,
                            r.name
                        );
                        self.decide(q)
                    }
                }
            };
            if hit {
                if r.name == "deny" {
                    self.hop("access", format!("deny {a}"), None, Some(r));
                    return Some((403, format!("access forbidden by rule ({} {a})", r.name)));
                }
                return None;
            }
        }
        None
    }

    fn access_rules(&self) -> Vec<&'a Directive> {
        for l in self.levels().into_iter().rev() {
            let here: Vec<&'a Directive> = l
                .children()
                .iter()
                .filter(|d| d.name == "allow" || d.name == "deny")
                .collect();
            if !here.is_empty() {
                return here;
            }
        }
        Vec::new()
    }

    /// Err(Ok(status)) → finalize; Err(Err(end)) → ended; Ok(Some(next)) → redirected.
    #[allow(clippy::type_complexity)]
    fn try_files(&mut self) -> Result<Option<Next>, Result<(u16, String), End<'a>>> {
        // try_files is the request configuration's own (an `if` block has none).
        let conf = self.conf();
        let Some(tf) = conf.children().iter().find(|d| d.name == "try_files") else {
            return Ok(None);
        };
        let n = tf.args.len();
        if n < 2 {
            return Ok(None);
        }
        for a in &tf.args[..n - 1] {
            // nginx strips the trailing slash at configuration time and tests a directory:
            // `$uri/` on "/" tries "/" as a directory (ngx_http_core_try_files).
            let test_dir = a.ends_with('/');
            let a = &if test_dir && a.len() > 1 {
                a[..a.len() - 1].to_string()
            } else {
                a.clone()
            };
            let name = match self.expand(a) {
                Ok(v) => v,
                Err(v) => {
                    let q = format!("try_files {a}: ${v} is known only at run time; does it exist");
                    if self.decide(q) {
                        self.hop(
                            "try_files",
                            format!("try_files {a} (assumed found)"),
                            None,
                            Some(tf),
                        );
                        return Ok(None);
                    }
                    continue;
                }
            };
            let path = match self.try_path(&name) {
                Ok(p) => p,
                Err(v) => {
                    let q =
                        format!("root/alias uses ${v}, known only at run time; does {name} exist");
                    if self.decide(q) {
                        self.hop(
                            "try_files",
                            format!("try_files {a} → {name} (assumed found)"),
                            Some(name.clone()),
                            Some(tf),
                        );
                        self.uri = name;
                        return Ok(None);
                    }
                    continue;
                }
            };
            let found = match self.ctx.files.stat(&path) {
                Stat::Dir => test_dir,
                Stat::File => !test_dir,
                Stat::Missing => false,
                Stat::Unknown(why) => {
                    let q =
                        format!("try_files {a}: {path} cannot be checked ({why}); does it exist");
                    self.decide(q)
                }
            };
            if found {
                // The URI becomes the name tried (the found file), and the same location
                // goes on to the content phase.
                match self.alias_len() {
                    None => self.uri = name.clone(),
                    Some(usize::MAX) => {
                        if !test_dir {
                            self.uri = name.clone();
                        }
                    }
                    Some(n) => {
                        let head = self
                            .uri
                            .get(..n.min(self.uri.len()))
                            .unwrap_or("")
                            .to_string();
                        self.uri = match name.strip_prefix(head.as_str()) {
                            Some(rest) => format!("{head}{rest}"),
                            None => format!("{head}{name}"),
                        };
                    }
                }
                self.hop(
                    "try_files",
                    format!("try_files {a} → {path} exists"),
                    Some(self.uri.clone()),
                    Some(tf),
                );
                return Ok(None);
            }
        }
        let last = &tf.args[n - 1];
        if let Some(code) = last.strip_prefix('=') {
            let code: u16 = code.parse().unwrap_or(404);
            self.hop(
                "try_files",
                format!("try_files: none of the files exists → ={code}"),
                None,
                Some(tf),
            );
            return Err(Ok((code, "try_files found no file".into())));
        }
        let target = match self.expand(last) {
            Ok(t) => t,
            Err(v) => {
                return Err(Err(self.end_status(
                    0,
                    format!("try_files fallback {last} uses ${v}, known only at run time"),
                    false,
                )))
            }
        };
        self.hop(
            "try_files",
            format!("try_files: no file found → {target}"),
            None,
            Some(tf),
        );
        if target.starts_with('@') {
            return match self.named(&target, tf) {
                Ok(n) => Ok(Some(n)),
                Err(e) => Err(Err(e)),
            };
        }
        let (u, a) = split_args(&target);
        match self.internal_redirect(u, a.unwrap_or_default()) {
            Ok(n) => Ok(Some(n)),
            Err(e) => Err(Err(e)),
        }
    }

    /// Ok(end) → done; Err(Ok(next)) → redirected; Err(Err(status)) → finalize.
    #[allow(clippy::type_complexity)]
    fn content_phase(&mut self) -> Result<End<'a>, Result<Next, (u16, String)>> {
        if let Some(pass) = self.content {
            self.hop(
                "pass",
                format!("{} {}", pass.name, pass.args.join(" ")),
                None,
                Some(pass),
            );
            self.on_upstream_error = [502u16, 504].iter().find_map(|&c| {
                self.error_page_for(c)
                    .map(|(d, _, t)| (c, t, d.file, d.line))
            });
            let mut chain = self.chain.clone();
            if let Some(i) = self.if_block {
                if own_pass(i).is_some() {
                    chain.push(i);
                }
            }
            let target = pass
                .arg(0)
                .filter(|a| a.contains('$'))
                .and_then(|a| self.expand(a).ok());
            return Ok(End::Pass {
                pass,
                chain,
                target,
            });
        }
        let conf = self.conf();
        let kids = conf.children();
        if let Some(d) = kids.iter().find(|d| {
            [
                "stub_status",
                "empty_gif",
                "dav_methods",
                "mp4",
                "flv",
                "perl",
                "content_by_lua_block",
                "content_by_lua",
                "content_by_lua_file",
                "js_content",
            ]
            .contains(&d.name.as_str())
        }) {
            self.hop("static", format!("{} answers", d.name), None, Some(d));
            return Ok(End::Status {
                code: 200,
                why: format!("answered by {}", d.name),
            });
        }
        let get_like = ["GET", "HEAD", "POST"].contains(&self.method.as_str());
        if self.uri.ends_with('/') {
            if get_like {
                let index_dirs = self.nearest_list("index");
                let names: Vec<String> = if index_dirs.is_empty() {
                    vec!["index.html".into()]
                } else {
                    index_dirs
                        .iter()
                        .flat_map(|d| d.args.iter().cloned())
                        .collect()
                };
                let at = index_dirs.first().copied();
                let mut dir_tested = false;
                for name in names {
                    let v = match self.expand(&name) {
                        Ok(v) => v,
                        Err(var) => {
                            let q = format!(
                                "index {name}: ${var} is known only at run time; does it exist"
                            );
                            if !self.decide(q) {
                                continue;
                            }
                            return Ok(self.end_status(0, "index target unknown".into(), false));
                        }
                    };
                    if v.starts_with('/') {
                        self.hop("index", format!("index {v}"), None, at);
                        return Err(self.internal_redirect(v, self.args.clone()).map_err(
                            |e| match e {
                                End::Status { code, why } => (code, why),
                                _ => (500, String::new()),
                            },
                        ));
                    }
                    let cand = format!("{}{v}", self.uri);
                    let uri_now = self.uri.clone();
                    let path = match self.map_path(&uri_now) {
                        Ok(p) => format!("{p}{v}"),
                        Err(var) => {
                            let q = format!("root uses ${var}; does {cand} exist");
                            if self.decide(q) {
                                self.hop("index", format!("index {v} (assumed found)"), None, at);
                                return Err(self
                                    .internal_redirect(cand, self.args.clone())
                                    .map_err(end_to_status));
                            }
                            continue;
                        }
                    };
                    let found = match self.ctx.files.stat(&path) {
                        Stat::File | Stat::Dir => true,
                        Stat::Missing => false,
                        Stat::Unknown(why) => {
                            let q = format!(
                                "index {v}: {path} cannot be checked ({why}); does it exist"
                            );
                            self.decide(q)
                        }
                    };
                    if !found && !dir_tested {
                        dir_tested = true;
                        let dir = self.map_path(&self.uri.clone()).unwrap_or_default();
                        if !dir.is_empty() {
                            match self.ctx.files.stat(&dir) {
                                Stat::Missing | Stat::File => {
                                    self.hop(
                                        "index",
                                        format!("index: {dir} does not exist"),
                                        None,
                                        at,
                                    );
                                    return Err(Err((404, format!("\"{dir}\" is not found"))));
                                }
                                _ => {}
                            }
                        }
                    }
                    if found {
                        self.hop("index", format!("index {v} → {path} exists"), None, at);
                        return Err(self
                            .internal_redirect(cand, self.args.clone())
                            .map_err(end_to_status));
                    }
                }
            }
            if let Some(d) = self
                .nearest(&["autoindex"])
                .filter(|d| d.arg(0) == Some("on"))
            {
                self.hop(
                    "static",
                    "autoindex lists the directory".into(),
                    None,
                    Some(d),
                );
                return Ok(End::Static {
                    path: self.map_path(&self.uri.clone()).unwrap_or_default(),
                });
            }
            self.hop(
                "static",
                "no index file: directory listing is forbidden".into(),
                None,
                None,
            );
            return Err(Err((403, "directory index is forbidden".into())));
        }
        if !get_like {
            return Err(Err((
                405,
                "static files answer only GET, HEAD and POST".into(),
            )));
        }
        let path = match self.map_path(&self.uri.clone()) {
            Ok(p) => p,
            Err(var) => {
                let q = format!(
                    "root uses ${var}, known only at run time; does {} exist",
                    self.uri
                );
                if self.decide(q) {
                    self.hop(
                        "static",
                        format!("static file {} (assumed present)", self.uri),
                        None,
                        None,
                    );
                    return Ok(End::Static {
                        path: self.uri.clone(),
                    });
                }
                return Err(Err((404, "file not found".into())));
            }
        };
        let st = match self.ctx.files.stat(&path) {
            Stat::Unknown(why) => {
                let q = format!("{path} cannot be checked ({why}); does it exist");
                if self.decide(q) {
                    Stat::File
                } else {
                    Stat::Missing
                }
            }
            s => s,
        };
        match st {
            Stat::File => {
                self.hop("static", format!("static file {path}"), None, None);
                Ok(End::Static { path })
            }
            Stat::Dir => {
                self.hop("static", format!("{path} is a directory"), None, None);
                Err(Err((301, format!("moved permanently to {}/", self.uri))))
            }
            _ => {
                self.hop("static", format!("{path} does not exist"), None, None);
                Err(Err((
                    404,
                    format!("open() \"{path}\" failed (2: No such file or directory)"),
                )))
            }
        }
    }

    /// `alias` in effect: Some(len of the location name) for a prefix location, Some(MAX)
    /// for a regex location (the alias is the whole path).
    fn alias_len(&self) -> Option<usize> {
        let d = self.nearest(&["root", "alias"])?;
        if d.name != "alias" {
            return None;
        }
        // The location the alias is written in (or inherited through).
        let owner = self
            .chain
            .iter()
            .rev()
            .find(|l| l.children().iter().any(|c| std::ptr::eq(c, d)))
            .or(self.chain.last())?;
        let (m, p) = location_spec(owner);
        Some(if m == "~" || m == "~*" {
            usize::MAX
        } else {
            p.len()
        })
    }

    /// ngx_http_map_uri_to_path: root + uri, or alias + the rest of the URI.
    fn map_path(&mut self, uri: &str) -> Result<String, String> {
        let d = self.nearest(&["root", "alias"]);
        let (is_alias, value) = match d {
            Some(d) => (d.name == "alias", d.arg(0).unwrap_or("html").to_string()),
            None => (false, "html".to_string()),
        };
        let base = self.expand(&value)?;
        let base = if base.starts_with('/') {
            base
        } else {
            self.ctx.prefix.join(&base).display().to_string()
        };
        if !is_alias {
            return Ok(format!("{base}{uri}"));
        }
        match self.alias_len() {
            Some(usize::MAX) => Ok(base),
            Some(n) => Ok(format!(
                "{base}{}",
                uri.get(n.min(uri.len())..).unwrap_or("")
            )),
            None => Ok(format!("{base}{uri}")),
        }
    }

    /// The path try_files tests for `name` (the try_files handler's own mapping).
    fn try_path(&mut self, name: &str) -> Result<String, String> {
        let d = self.nearest(&["root", "alias"]);
        let value = d.and_then(|d| d.arg(0)).unwrap_or("html").to_string();
        let base = self.expand(&value)?;
        let base = if base.starts_with('/') {
            base
        } else {
            self.ctx.prefix.join(&base).display().to_string()
        };
        Ok(match self.alias_len() {
            None | Some(usize::MAX) => format!("{base}{name}"),
            Some(n) => {
                let head = self.uri.get(..n.min(self.uri.len())).unwrap_or("");
                match name.strip_prefix(head) {
                    Some(rest) => format!("{base}{rest}"),
                    None => format!("{base}{name}"),
                }
            }
        })
    }

    fn document_root(&mut self) -> Result<String, String> {
        let d = self.nearest(&["root", "alias"]);
        let value = d.and_then(|d| d.arg(0)).unwrap_or("html").to_string();
        let v = self.expand(&value)?;
        Ok(if v.starts_with('/') {
            v
        } else {
            self.ctx.prefix.join(&v).display().to_string()
        })
    }

    /// Expands `$var` and `${var}`; Err(name) for a variable known only at run time.
    fn expand(&mut self, s: &str) -> Result<String, String> {
        if !s.contains('$') {
            return Ok(s.to_string());
        }
        let b = s.as_bytes();
        let mut out = String::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] != b'$' {
                let start = i;
                while i < b.len() && b[i] != b'$' {
                    i += 1;
                }
                out.push_str(&s[start..i]);
                continue;
            }
            i += 1;
            let name = if i < b.len() && b[i] == b'{' {
                let end = s[i..].find('}').map(|e| i + e).unwrap_or(b.len());
                let n = &s[i + 1..end.min(s.len())];
                i = (end + 1).min(b.len());
                n.to_string()
            } else if i < b.len() && b[i].is_ascii_digit() {
                i += 1;
                s[i - 1..i].to_string()
            } else {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                s[start..i].to_string()
            };
            if name.is_empty() {
                out.push('$');
                continue;
            }
            out.push_str(&self.var(&name)?);
        }
        Ok(out)
    }

    fn var(&mut self, name: &str) -> Result<String, String> {
        if let Ok(n) = name.parse::<usize>() {
            return Ok(self.caps.get(n).cloned().flatten().unwrap_or_default());
        }
        if let Some(v) = self.vars.get(name) {
            return Ok(v.clone());
        }
        if self.vars.contains_key(&format!("\0unknown:{name}")) {
            return Err(name.to_string());
        }
        if let Some(v) = self.named_caps.get(name) {
            return Ok(v.clone());
        }
        let host = self
            .input
            .host
            .split(':')
            .next()
            .unwrap_or("")
            .trim_end_matches('.')
            .to_ascii_lowercase();
        Ok(match name {
            "uri" | "document_uri" => self.uri.clone(),
            "request_uri" => {
                if self.input.args.is_empty() {
                    self.input.uri.clone()
                } else {
                    format!("{}?{}", self.input.uri, self.input.args)
                }
            }
            "args" | "query_string" => self.args.clone(),
            "is_args" => if self.args.is_empty() { "" } else { "?" }.into(),
            "host" => host,
            "http_host" => self.input.host.clone(),
            "server_name" => self.ctx.server_name.clone(),
            "scheme" => self.input.scheme.clone(),
            "https" => if self.input.scheme == "https" {
                "on"
            } else {
                ""
            }
            .into(),
            "server_port" => self.input.port.to_string(),
            "request_method" => self.method.clone(),
            "document_root" | "realpath_root" => self.document_root()?,
            "request_filename" => {
                let u = self.uri.clone();
                self.map_path(&u)?
            }
            "fastcgi_script_name" => self.uri.clone(),
            "remote_addr" => match self.input.client {
                Some(c) => c.to_string(),
                None => return Err(name.into()),
            },
            _ => {
                if let Some(a) = name.strip_prefix("arg_") {
                    return Ok(self
                        .args
                        .split('&')
                        .find_map(|kv| {
                            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                            k.eq_ignore_ascii_case(a).then(|| v.to_string())
                        })
                        .unwrap_or_default());
                }
                if let Some(m) = self.maps.get(name).copied() {
                    return self.map_value(m);
                }
                return Err(name.to_string());
            }
        })
    }

    /// `map $src $dst { … }`: exact strings (case-insensitively), then regexes in order, then default.
    fn map_value(&mut self, m: &'a Directive) -> Result<String, String> {
        if self.depth > 1000 {
            return Err(m.args[1].trim_start_matches('$').to_string());
        }
        self.depth += 100;
        let src = self.expand(&m.args[0]);
        self.depth -= 100;
        let src = src?;
        let mut default = String::new();
        let mut regexes = Vec::new();
        let hostnames = m.children().iter().any(|d| d.name == "hostnames");
        for d in m.children() {
            let Some(v) = d.arg(0) else { continue };
            match d.name.as_str() {
                "default" => default = v.to_string(),
                "hostnames" | "volatile" | "include" => {}
                k if k.starts_with('~') => regexes.push((k.to_string(), v.to_string())),
                k => {
                    let key = k.trim_start_matches('\\');
                    let hit = if hostnames && (key.starts_with("*.") || key.starts_with('.')) {
                        let suf = key.trim_start_matches('*');
                        src.to_ascii_lowercase()
                            .ends_with(&suf.to_ascii_lowercase())
                    } else {
                        key.eq_ignore_ascii_case(&src)
                    };
                    if hit {
                        return self.expand(v);
                    }
                }
            }
        }
        for (k, v) in regexes {
            let (ci, p) = match k.strip_prefix("~*") {
                Some(p) => (true, p),
                None => (false, &k[1..]),
            };
            let re = translate_regex(p, ci)
                .map_err(|_| m.args[1].trim_start_matches('$').to_string())?;
            if self.capture(&re, &src) {
                return self.expand(&v);
            }
        }
        self.expand(&default)
    }
}

fn end_to_status(e: End<'_>) -> (u16, String) {
    match e {
        End::Status { code, why } => (code, why),
        _ => (500, String::new()),
    }
}

/// The block's own `*_pass` (not inherited).
pub fn own_pass(d: &Directive) -> Option<&Directive> {
    d.children()
        .iter()
        .find(|c| PASS_DIRECTIVES.contains(&c.name.as_str()))
}

pub fn loc_text(d: &Directive) -> String {
    let (m, p) = location_spec(d);
    if m.is_empty() || m == "@" {
        format!("location {p}")
    } else {
        format!("location {m} {p}")
    }
}

/// The URI as nginx's request parser leaves it: %XX decoded, `//` merged
/// (`merge_slashes on`), `.` and `..` segments resolved.
pub fn normalize_uri(raw: &str) -> String {
    let b = raw.as_bytes();
    let mut dec = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && b[i + 1].is_ascii_hexdigit()
            && b[i + 2].is_ascii_hexdigit()
        {
            let hex = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
            dec.push(hex(b[i + 1]) * 16 + hex(b[i + 2]));
            i += 3;
            continue;
        }
        dec.push(b[i]);
        i += 1;
    }
    let s = String::from_utf8_lossy(&dec).into_owned();
    let trailing = s.ends_with('/') || s.ends_with("/.") || s.ends_with("/..");
    let mut parts: Vec<&str> = Vec::new();
    for seg in s.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    let mut out = format!("/{}", parts.join("/"));
    if trailing && !out.ends_with('/') {
        out.push('/');
    }
    out
}

/// `/x?a=1` → ("/x", Some("a=1")).
fn split_args(s: &str) -> (String, Option<String>) {
    match s.split_once('?') {
        Some((u, a)) => (u.to_string(), Some(a.to_string())),
        None => (s.to_string(), None),
    }
}

/// nginx's automatic 301 for `/p` when a `*_pass` location `/p/` exists and no location
/// is named `/p` itself (ngx_http_core_find_static_location's NGX_DONE).
fn auto_redirect<'a>(children: &'a [Directive], uri: &str) -> Option<&'a Directive> {
    let mut level = children;
    for _ in 0..32 {
        let locs: Vec<(&'a Directive, String, String)> = level
            .iter()
            .filter(|d| d.name == "location")
            .map(|d| {
                let (m, p) = location_spec(d);
                (d, m, p)
            })
            .filter(|(_, m, _)| m.is_empty() || m == "^~" || m == "=")
            .collect();
        if locs.iter().any(|(_, _, p)| p == uri) {
            return None;
        }
        let slash = format!("{uri}/");
        if let Some((d, _, _)) = locs
            .iter()
            .find(|(d, _, p)| *p == slash && own_pass(d).is_some())
        {
            return Some(d);
        }
        let next = locs
            .iter()
            .filter(|(_, m, p)| m != "=" && uri.starts_with(p.as_str()))
            .max_by_key(|(_, _, p)| p.len())?;
        level = next.0.children();
    }
    None
}

/// `allow 10.0.0.0/8` against an address.
fn cidr_contains(net: &str, ip: IpAddr) -> Option<bool> {
    let (addr, bits) = match net.split_once('/') {
        Some((a, b)) => (a, Some(b.parse::<u32>().ok()?)),
        None => (net, None),
    };
    let a: IpAddr = addr.parse().ok()?;
    match (a, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let b = bits.unwrap_or(32).min(32);
            let mask = if b == 0 { 0 } else { u32::MAX << (32 - b) };
            Some(u32::from(n) & mask == u32::from(i) & mask)
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let b = bits.unwrap_or(128).min(128);
            let mask = if b == 0 { 0 } else { u128::MAX << (128 - b) };
            Some(u128::from(n) & mask == u128::from(i) & mask)
        }
        _ => Some(false),
    }
}
