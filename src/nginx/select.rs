//! Server and location selection, by nginx's own rules.
//!
//! Server (ngx_http_find_virtual_server): among the servers listening on the port, the
//! exact `server_name`, then the longest leading wildcard (`*.example.com`, `.example.com`),
//! then the longest trailing wildcard (`www.*`), then the first matching regex in config
//! order; otherwise the port's `default_server`, else its first server. Host names compare
//! case-insensitively, with a trailing dot ignored.
//!
//! Location (ngx_http_core_find_location): an `=` match wins; otherwise the longest prefix,
//! searched again among its nested locations; `^~` on that prefix skips regexes; otherwise
//! regexes nested in the matched prefix, then the regexes of the level, in config order;
//! a matching regex location is itself searched for nested locations.

use super::tree::Directive;
use super::values::{parse_listen, Listen};

/// A server block with what selection needs.
pub struct Server<'a> {
    pub dir: &'a Directive,
    pub listens: Vec<Listen>,
    pub names: Vec<String>,
}

impl<'a> Server<'a> {
    pub fn new(dir: &'a Directive) -> Self {
        let mut listens: Vec<Listen> = dir
            .children()
            .iter()
            .filter(|d| d.name == "listen")
            .filter_map(|d| parse_listen(&d.args))
            .collect();
        if listens.is_empty() {
            // nginx's default: *:80 (or *:8000 when not run as root; configs served on a
            // real host run as root).
            listens = parse_listen(&["80".to_string()]).into_iter().collect();
        }
        let names = dir
            .children()
            .iter()
            .filter(|d| d.name == "server_name")
            .flat_map(|d| d.args.iter().cloned())
            .collect();
        Server {
            dir,
            listens,
            names,
        }
    }

    pub fn ports(&self) -> Vec<u16> {
        self.listens
            .iter()
            .filter(|l| l.unix.is_none())
            .map(|l| l.port)
            .collect()
    }
}

/// How a server matched the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum NameMatch {
    Exact,
    LeadingWildcard(usize),
    TrailingWildcard(usize),
    Regex,
}

/// A compiled nginx (PCRE) regex. Lookaround, backreferences and atomic groups are
/// evaluated too (fancy-regex), so `location ~ /\.(?!well-known)` is decided, not guessed.
#[derive(Debug, Clone)]
pub struct Pcre(fancy_regex::Regex);

/// A match's groups: numbered (0 = whole match) and named.
pub struct Groups {
    pub numbered: Vec<Option<String>>,
    pub named: Vec<(String, String)>,
}

impl Pcre {
    /// Whether the regex matches; a match that exceeds fancy-regex's backtracking limit
    /// counts as no match (PCRE would have failed with a match-limit error too).
    pub fn is_match(&self, s: &str) -> bool {
        self.0.is_match(s).unwrap_or(false)
    }

    pub fn groups(&self, s: &str) -> Option<Groups> {
        let c = self.0.captures(s).ok()??;
        let numbered = (0..c.len())
            .map(|i| c.get(i).map(|m| m.as_str().to_string()))
            .collect();
        let named = self
            .0
            .capture_names()
            .flatten()
            .filter_map(|n| c.name(n).map(|m| (n.to_string(), m.as_str().to_string())))
            .collect();
        Some(Groups { numbered, named })
    }
}

/// A PCRE pattern as a regex badgw can run, or why it cannot be one.
pub fn translate_regex(pcre: &str, case_insensitive: bool) -> Result<Pcre, String> {
    let pattern = if case_insensitive {
        format!("(?i){pcre}")
    } else {
        pcre.to_string()
    };
    fancy_regex::Regex::new(&pattern).map(Pcre).map_err(|e| {
        format!(
            "the regex {pcre:?} cannot be evaluated: {}",
            e.to_string().lines().last().unwrap_or("")
        )
    })
}

/// How `name` (a server_name value) matches `host` (lower-case, no trailing dot).
pub fn name_match(name: &str, host: &str, notes: &mut Vec<String>) -> Option<NameMatch> {
    if let Some(re) = name.strip_prefix('~') {
        return match translate_regex(re, false) {
            Ok(r) => r.is_match(host).then_some(NameMatch::Regex),
            Err(e) => {
                notes.push(e);
                None
            }
        };
    }
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if let Some(suffix) = name.strip_prefix("*.") {
        return host
            .ends_with(&format!(".{suffix}"))
            .then_some(NameMatch::LeadingWildcard(suffix.len()));
    }
    if let Some(suffix) = name.strip_prefix('.') {
        return (host == suffix || host.ends_with(&format!(".{suffix}")))
            .then_some(NameMatch::LeadingWildcard(suffix.len()));
    }
    if let Some(prefix) = name.strip_suffix(".*") {
        return host
            .starts_with(&format!("{prefix}."))
            .then_some(NameMatch::TrailingWildcard(prefix.len()));
    }
    (name == host).then_some(NameMatch::Exact)
}

/// The best name match of `host` among `servers` (indices), by nginx's precedence.
pub fn best_by_name(
    servers: &[&Server],
    host: &str,
    notes: &mut Vec<String>,
) -> Option<(usize, NameMatch)> {
    let mut best: Option<(usize, NameMatch)> = None;
    for (i, s) in servers.iter().enumerate() {
        for n in &s.names {
            let Some(m) = name_match(n, host, notes) else {
                continue;
            };
            let better = match (best, m) {
                (None, _) => true,
                (Some((_, NameMatch::Exact)), _) => false,
                (Some(_), NameMatch::Exact) => true,
                (Some((_, NameMatch::LeadingWildcard(a))), NameMatch::LeadingWildcard(b)) => b > a,
                (Some((_, NameMatch::LeadingWildcard(_))), _) => false,
                (Some(_), NameMatch::LeadingWildcard(_)) => true,
                (Some((_, NameMatch::TrailingWildcard(a))), NameMatch::TrailingWildcard(b)) => {
                    b > a
                }
                (Some((_, NameMatch::TrailingWildcard(_))), _) => false,
                (Some(_), NameMatch::TrailingWildcard(_)) => true,
                // Regexes: the first in config order wins.
                (Some((_, NameMatch::Regex)), NameMatch::Regex) => false,
            };
            if better {
                best = Some((i, m));
            }
        }
    }
    best
}

/// The default server of a port: the one marked `default_server`, else the first.
pub fn default_for_port<'s>(servers: &[&'s Server<'s>], port: u16) -> Option<usize> {
    let on_port: Vec<usize> = (0..servers.len())
        .filter(|&i| servers[i].ports().contains(&port))
        .collect();
    on_port
        .iter()
        .copied()
        .find(|&i| {
            servers[i]
                .listens
                .iter()
                .any(|l| l.port == port && l.default_server)
        })
        .or_else(|| on_port.first().copied())
}

/// A location block's modifier and pattern.
pub fn location_spec(d: &Directive) -> (String, String) {
    match d.args.as_slice() {
        [m, p, ..] if ["=", "^~", "~", "~*"].contains(&m.as_str()) => (m.clone(), p.clone()),
        [p, ..] if p.starts_with('@') => ("@".into(), p.clone()),
        [p, ..] if p.starts_with('=') && p.len() > 1 => ("=".into(), p[1..].to_string()),
        [p, ..] if p.starts_with("^~") && p.len() > 2 => ("^~".into(), p[2..].to_string()),
        [p, ..] if p.starts_with("~*") && p.len() > 2 => ("~*".into(), p[2..].to_string()),
        [p, ..] if p.starts_with('~') && p.len() > 1 => ("~".into(), p[1..].to_string()),
        [p, ..] => (String::new(), p.clone()),
        [] => (String::new(), String::new()),
    }
}

/// A request path that the location regex matches, built from the pattern (first
/// alternative of each group, one character per class) and checked against the regex.
pub fn sample_for_regex(pcre: &str, case_insensitive: bool) -> Option<String> {
    let re = translate_regex(pcre, case_insensitive).ok()?;
    let core = simplify_regex(pcre);
    let mut candidates = vec![format!("/index{core}"), core.clone()];
    for pre in ["/", "/x", "/index", "/x/"] {
        candidates.push(format!("{pre}{}", core.trim_start_matches('/')));
        candidates.push(format!("{pre}{core}"));
    }
    candidates
        .into_iter()
        .map(|c| c.replace("//", "/"))
        .find(|c| c.starts_with('/') && re.is_match(c))
}

fn simplify_regex(p: &str) -> String {
    let chars: Vec<char> = p.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    // Skipping the rest of a group's alternatives: depth of the group being skipped.
    let mut skip_to_close: Vec<bool> = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        match c {
            '^' | '$' => i += 1,
            '\\' if i + 1 < chars.len() => {
                let n = chars[i + 1];
                out.push(match n {
                    'd' => '1',
                    'w' => 'a',
                    's' => ' ',
                    other => other,
                });
                i += 2;
            }
            '(' => {
                // (?:  (?<name>  (?P<name>  (?i)
                i += 1;
                if chars.get(i) == Some(&'?') {
                    while i < chars.len() && ![':', '>'].contains(&chars[i]) && chars[i] != ')' {
                        i += 1;
                    }
                    if chars.get(i) != Some(&')') {
                        i += 1;
                    }
                }
                skip_to_close.push(false);
            }
            '|' => {
                // Skip the other alternatives up to the group's close.
                let mut depth = 0;
                i += 1;
                while i < chars.len() {
                    match chars[i] {
                        '\\' => i += 1,
                        '(' => depth += 1,
                        ')' if depth == 0 => break,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    i += 1;
                }
            }
            ')' => {
                skip_to_close.pop();
                i += 1;
            }
            '[' => {
                let mut j = i + 1;
                let negated = chars.get(j) == Some(&'^');
                if negated {
                    j += 1;
                }
                let first = chars.get(j).copied();
                while j < chars.len() && !(chars[j] == ']' && j > i + 1) {
                    j += 1;
                }
                out.push(if negated {
                    'x'
                } else {
                    first.filter(|c| *c != '\\').unwrap_or('a')
                });
                i = j + 1;
            }
            '.' => {
                out.push('x');
                i += 1;
            }
            '*' | '?' => {
                // Zero of the previous item is allowed: keep the one character (simpler).
                i += 1;
            }
            '+' => i += 1,
            '{' => {
                while i < chars.len() && chars[i] != '}' {
                    i += 1;
                }
                i += 1;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    out
}

/// Location nesting deeper than this is not followed (nginx configs nest two or three).
const MAX_LOCATION_DEPTH: usize = 32;

/// The chain of locations (outermost first) that serves `uri` among `children`.
pub fn find_location<'a>(
    children: &'a [Directive],
    uri: &str,
    notes: &mut Vec<String>,
) -> Vec<&'a Directive> {
    let mut chain = Vec::new();
    find_in(children, uri, notes, &mut chain, 0);
    chain
}

/// Returns true when the search is final (exact, ^~, or a regex matched).
fn find_in<'a>(
    children: &'a [Directive],
    uri: &str,
    notes: &mut Vec<String>,
    chain: &mut Vec<&'a Directive>,
    depth: usize,
) -> bool {
    if depth > MAX_LOCATION_DEPTH {
        return true;
    }
    let locations: Vec<(&Directive, String, String)> = children
        .iter()
        .filter(|d| d.name == "location")
        .map(|d| {
            let (m, p) = location_spec(d);
            (d, m, p)
        })
        .collect();
    // 1. Exact match.
    if let Some((d, _, _)) = locations.iter().find(|(_, m, p)| m == "=" && p == uri) {
        chain.push(d);
        return true;
    }
    // 2. Longest prefix.
    let prefix = locations
        .iter()
        .filter(|(_, m, p)| (m.is_empty() || m == "^~") && uri.starts_with(p.as_str()))
        .max_by_key(|(_, _, p)| p.len());
    let mut noregex = false;
    if let Some((d, m, _)) = prefix {
        chain.push(d);
        noregex = m == "^~";
        // Nested locations of the matched prefix (their regexes come before this level's).
        if find_in(d.children(), uri, notes, chain, depth + 1) {
            return true;
        }
    }
    if noregex {
        return prefix.is_some();
    }
    // 3. Regexes of this level, in config order.
    for (d, m, p) in &locations {
        if m != "~" && m != "~*" {
            continue;
        }
        match translate_regex(p, m == "~*") {
            Ok(re) if re.is_match(uri) => {
                // A regex match replaces the prefix match of this level.
                if let Some(pos) =
                    prefix.and_then(|(pd, _, _)| chain.iter().position(|c| std::ptr::eq(*c, *pd)))
                {
                    chain.truncate(pos);
                }
                chain.push(d);
                find_in(d.children(), uri, notes, chain, depth + 1);
                return true;
            }
            Ok(_) => {}
            Err(e) => notes.push(format!(
                "location {m} {p}: {e}; badgw treats it as not matching"
            )),
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nginx::tree::Tree;

    fn parse(src: &str) -> Vec<Directive> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.conf");
        std::fs::write(&p, src).unwrap();
        let t: Tree = crate::nginx::tree::load(
            &p,
            &crate::nginx::tree::Source::Disk(crate::gather::files::CONFIG),
        )
        .unwrap();
        assert!(t.issues.is_empty(), "{:?}", t.issues);
        t.root
    }

    fn loc(src: &str, uri: &str) -> String {
        let root = parse(src);
        let mut notes = Vec::new();
        let chain = find_location(&root, uri, &mut notes);
        chain
            .iter()
            .map(|d| {
                let (m, p) = location_spec(d);
                format!("{m}{p}")
            })
            .collect::<Vec<_>>()
            .join(">")
    }

    const LOCS: &str = r#"
        location / { }
        location = /exact { }
        location /images/ { location ~ \.png$ { } }
        location ^~ /static/ { }
        location ~* \.(gif|jpg)$ { }
        location ~ ^/api/v[0-9]+/ { }
        location /api/ { }
    "#;

    #[test]
    fn nginx_location_rules() {
        assert_eq!(loc(LOCS, "/exact"), "=/exact");
        assert_eq!(loc(LOCS, "/exact/more"), "/");
        assert_eq!(loc(LOCS, "/static/a.gif"), "^~/static/");
        assert_eq!(loc(LOCS, "/x/a.GIF"), "~*\\.(gif|jpg)$");
        assert_eq!(loc(LOCS, "/api/v2/users"), "~^/api/v[0-9]+/");
        assert_eq!(loc(LOCS, "/api/users"), "/api/");
        assert_eq!(loc(LOCS, "/images/a.png"), "/images/>~\\.png$");
        assert_eq!(loc(LOCS, "/images/a.jpg"), "~*\\.(gif|jpg)$");
        assert_eq!(loc("location /a/ { }", "/b"), "");
    }

    #[test]
    fn server_name_precedence() {
        let root = parse(
            r#"server { server_name ~^www\.(?<d>.+)$; } server { server_name *.example.com; }
               server { server_name www.example.com; } server { server_name .example.com; }
               server { server_name www.*; } server { server_name *.shop.example.com; }"#,
        );
        let servers: Vec<Server> = root.iter().map(Server::new).collect();
        let refs: Vec<&Server> = servers.iter().collect();
        let mut notes = Vec::new();
        let pick = |h: &str, notes: &mut Vec<String>| best_by_name(&refs, h, notes).map(|(i, _)| i);
        assert_eq!(pick("www.example.com", &mut notes), Some(2));
        assert_eq!(
            pick("a.shop.example.com", &mut notes),
            Some(5),
            "longest leading wildcard"
        );
        assert_eq!(pick("example.com", &mut notes), Some(3));
        assert_eq!(
            pick("www.other.org", &mut notes),
            Some(4),
            "trailing wildcard before regex"
        );
        assert_eq!(pick("nomatch.org", &mut notes), None);
        assert!(notes.is_empty(), "{notes:?}");
    }

    #[test]
    fn lookaround_is_evaluated() {
        let re = translate_regex("^/(?!admin)", false).unwrap();
        assert!(re.is_match("/shop") && !re.is_match("/admin/x"));
        let dot = translate_regex(r"/\.(?!well-known).*", false).unwrap();
        assert!(dot.is_match("/.env") && !dot.is_match("/.well-known/x"));
        assert!(translate_regex("^/(?<id>[0-9]+)$", false).is_ok());
    }
}
