//! Gathers [`WebSocketFacts`]: the WebSocket locations of the selected server (from the
//! configuration), what the access log shows for each (101/400/426/502 answers, 101s cut
//! at `proxy_read_timeout`), the info-level `upstream timed out … while proxying upgraded
//! connection` lines of the error log, and a direct upgrade probe of each upstream.
//!
//! Bounded: each log is read from at most its last [`TAIL`] bytes and only lines inside
//! the `--since` window count; at most four upstreams per location are probed, each with
//! the probe timeout.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::runner::Context;
use super::{ns, probe, GatherOptions};
use crate::facts::{Fact, Route, SourceRef, WebSocketFacts, WsAccess, WsErrorLines, WsLocation};
use crate::logs::access::{parse_line, LogFormat};
use crate::nginx;

/// How much of the end of each log is read.
const TAIL: usize = 16 << 20;
/// Distinct request paths located per access log (beyond this, paths are not followed).
const MAX_PATHS: usize = 20_000;

/// The collector: the WebSocket locations of the selected route's server.
pub fn collect(ctx: &Context) -> Fact<WebSocketFacts> {
    let t = &ctx.target;
    gather(
        &ctx.opts,
        t.route.as_ref(),
        t.config.as_ref(),
        t.master_pid(),
        t.placement.root.as_deref(),
    )
}

fn gather(
    opts: &GatherOptions,
    route: Option<&Route>,
    config: Option<&nginx::Config>,
    master: Option<u32>,
    root: Option<&Path>,
) -> Fact<WebSocketFacts> {
    let (Some(route), Some(config)) = (route, config) else {
        return Fact::unavailable("nginx configuration", "no route was selected");
    };
    let mut facts = WebSocketFacts {
        maps: nginx::websocket::upgrade_maps(config),
        ..Default::default()
    };
    // Names as nginx resolved them (its own files and DNS servers when it has namespaces
    // of its own), never badgw's resolver in their place.
    let resolver = ns::NginxResolver::for_master(&opts.proc_root, master, opts.timeout);
    let resolve = |h: &str, p: u16| resolver.resolve(h, p);
    let mut locs = nginx::websocket::proxy_locations(config, route, &resolve);
    let now = super::clock::now_log_time();
    let since = now - i64::try_from(opts.since.as_secs()).unwrap_or(i64::MAX / 4);
    let locate_cache =
        |cache: &mut HashMap<String, Option<SourceRef>>, path: &str| -> Option<SourceRef> {
            if let Some(v) = cache.get(path) {
                return v.clone();
            }
            let v = nginx::websocket::locate(config, route, path);
            if cache.len() < MAX_PATHS {
                cache.insert(path.to_string(), v.clone());
            }
            v
        };
    let mut cache = HashMap::new();
    match access_path(opts, route, root) {
        Some(path) => match read_tail(&path) {
            Ok((data, first_line)) => {
                scan_access(
                    route,
                    &path,
                    &data,
                    first_line,
                    since,
                    &mut locs,
                    &mut |p| locate_cache(&mut cache, p),
                );
            }
            Err(e) => facts
                .notes
                .push(format!("access log {}: {e}", path.display())),
        },
        None => facts
            .notes
            .push("no access log for this server: WebSocket answers cannot be counted".into()),
    }
    locs.retain(|l| !l.why.is_empty());
    if locs.is_empty() {
        return Fact::collected(facts);
    }
    match error_path(opts, route, root) {
        Some(path) => match read_tail(&path) {
            Ok((data, first_line)) => {
                scan_errors(route, &path, &data, first_line, &mut locs, &mut |p| {
                    locate_cache(&mut cache, p)
                })
            }
            Err(e) => facts
                .notes
                .push(format!("error log {}: {e}", path.display())),
        },
        None => facts.notes.push("no error log for this server".into()),
    }
    let probes: Vec<Vec<crate::facts::WsProbe>> = std::thread::scope(|s| {
        let handles: Vec<_> = locs
            .iter()
            .map(|l| {
                s.spawn(move || {
                    let Some(uri) = l.probe_path.clone() else {
                        return Vec::new();
                    };
                    let host = l.host_header.clone().unwrap_or_default();
                    let mut out = Vec::new();
                    for (addr, kind) in l.upstreams.iter().take(4) {
                        out.push(probe::websocket_probe(
                            addr,
                            *kind,
                            &host,
                            &uri,
                            "1.1",
                            opts.timeout,
                        ));
                        if l.http_version == "1.0" {
                            out.push(probe::websocket_probe(
                                addr,
                                *kind,
                                &host,
                                &uri,
                                "1.0",
                                opts.timeout,
                            ));
                        }
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    for (l, p) in locs.iter_mut().zip(probes) {
        l.probes = p;
    }
    for l in &mut locs {
        if l.probes.iter().any(|p| p.status == Some(101))
            && !l.why.iter().any(|w| w.contains("101"))
        {
            l.why.push(
                "the upstream answers a direct upgrade request with 101 Switching Protocols".into(),
            );
        }
    }
    facts.locations = locs;
    Fact::collected(facts)
}

/// `--access-log`, else nginx's access log of the route (inside nginx's `root`).
fn access_path(opts: &GatherOptions, route: &Route, root: Option<&Path>) -> Option<PathBuf> {
    opts.access_log
        .clone()
        .or_else(|| route.access_log.as_deref().map(|p| ns::nginx_file(root, p)))
}

/// `--error-log`, else nginx's error log of the route (inside nginx's `root`).
fn error_path(opts: &GatherOptions, route: &Route, root: Option<&Path>) -> Option<PathBuf> {
    opts.error_log
        .clone()
        .or_else(|| route.error_log.as_deref().map(|p| ns::nginx_file(root, p)))
}

/// The last [`TAIL`] bytes of a log, from a line start, and the 1-based number of its
/// first line (the one tail reader, `gather::files::read_tail`: regular files only, a
/// FIFO or /dev/stdout is refused; gzip decompressed).
pub(crate) fn read_tail(path: &Path) -> std::io::Result<(Vec<u8>, u64)> {
    let tail = super::files::read_tail(path, TAIL as u64)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.reason()))?
        .whole_lines();
    // Lines before the tail are counted when cheap; otherwise numbers count from it.
    let skipped_lines = tail
        .lines_before(path, super::log_window::COUNT_BUDGET)
        .unwrap_or(0);
    Ok((tail.data, skipped_lines + 1))
}

/// `GET /socket.io/?… HTTP/1.1` → `/socket.io/`.
pub(crate) fn request_path(request: &str) -> Option<&str> {
    let uri = request.split_whitespace().nth(1)?;
    let path = uri.split(['?', '#']).next()?;
    path.starts_with('/').then_some(path)
}

fn same(a: &SourceRef, b: &SourceRef) -> bool {
    a.file == b.file && a.line == b.line
}

fn scan_access(
    route: &Route,
    path: &Path,
    data: &[u8],
    first_line: u64,
    since: i64,
    locs: &mut [WsLocation],
    locate: &mut dyn FnMut(&str) -> Option<SourceRef>,
) {
    let (template, escape) = match &route.access_log_format {
        Some(f) => (f.template.as_str(), f.escape.as_str()),
        None => (nginx::COMBINED_FORMAT, "default"),
    };
    let fmt = LogFormat::compile(template, escape);
    let has_request_time =
        template.contains("$request_time") || template.contains("${request_time}");
    let site = route.server.server_name.clone();
    for (i, line) in data.split(|&b| b == b'\n').enumerate() {
        let Some(e) = parse_line(&fmt, line) else {
            continue;
        };
        if e.time.is_some_and(|t| t < since) {
            continue;
        }
        if let Some(h) = &e.host {
            if !site.is_empty()
                && !site
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(h) || s.starts_with('*') || s == "_")
            {
                continue;
            }
        }
        let (Some(status), Some(req)) = (e.status, e.request.as_deref()) else {
            continue;
        };
        let Some(p) = request_path(req) else { continue };
        let Some(at) = locate(p) else { continue };
        let Some(l) = locs.iter_mut().find(|l| same(&l.at, &at)) else {
            continue;
        };
        let read = l.read_timeout_s;
        let a = l.access.get_or_insert_with(|| WsAccess {
            file: path.display().to_string(),
            has_request_time,
            ..Default::default()
        });
        a.requests += 1;
        match status {
            101 => {
                a.status_101 += 1;
                if let Some(t) = e
                    .request_time
                    .as_deref()
                    .and_then(|t| t.parse::<f64>().ok())
                {
                    if t >= read - (read * 0.05).max(1.0) && t <= read + (read * 0.05).max(1.0) {
                        a.cut_at_read_timeout += 1;
                    }
                }
            }
            400 => a.status_400 += 1,
            426 => a.status_426 += 1,
            502 => a.status_502 += 1,
            504 => a.status_504 += 1,
            _ => {}
        }
        if matches!(status, 400 | 426 | 502 | 504) && a.samples.len() < 5 {
            a.samples
                .push((first_line + i as u64, status, req.to_string()));
        }
        if l.probe_path.is_none() {
            l.probe_path = Some(p.to_string());
        }
    }
    for l in locs.iter_mut() {
        if let Some(a) = &l.access {
            if l.why.is_empty() && (a.status_101 > 0 || a.status_426 > 0) {
                l.why.push(format!(
                    "access log: {} × 101, {} × 426 on its requests",
                    a.status_101, a.status_426
                ));
            } else if a.status_101 > 0 {
                l.why.push(format!(
                    "access log: {} × 101 Switching Protocols",
                    a.status_101
                ));
            }
        }
    }
}

/// Counts `upstream timed out … while proxying upgraded connection` lines per location.
fn scan_errors(
    route: &Route,
    path: &Path,
    data: &[u8],
    first_line: u64,
    locs: &mut [WsLocation],
    locate: &mut dyn FnMut(&str) -> Option<SourceRef>,
) {
    let names = &route.server.server_name;
    for (i, line) in data.split(|&b| b == b'\n').enumerate() {
        if memchr::memmem::find(line, b"while proxying upgraded connection").is_none()
            || memchr::memmem::find(line, b"timed out").is_none()
        {
            continue;
        }
        let text = String::from_utf8_lossy(line);
        let field = |name: &str| -> Option<String> {
            let start = text.find(&format!(", {name}: \""))? + name.len() + 5;
            let end = text[start..].find('"')? + start;
            Some(text[start..end].to_string())
        };
        if let Some(server) = field("server").or_else(|| {
            text.find(", server: ")
                .map(|s| text[s + 10..].split(',').next().unwrap_or("").to_string())
        }) {
            if !names.is_empty() && !names.iter().any(|n| n.eq_ignore_ascii_case(&server)) {
                continue;
            }
        }
        let Some(req) = field("request") else {
            continue;
        };
        let Some(p) = request_path(&req) else {
            continue;
        };
        let Some(at) = locate(p) else { continue };
        let Some(l) = locs.iter_mut().find(|l| same(&l.at, &at)) else {
            continue;
        };
        let e = l.idle_timeouts.get_or_insert_with(|| WsErrorLines {
            file: path.display().to_string(),
            ..Default::default()
        });
        e.count += 1;
        if e.sample.is_none() {
            let shown: String = text.chars().take(400).collect();
            let shown = match shown.find('?') {
                Some(q) => format!(
                    "{}?…{}",
                    &shown[..q],
                    shown[q..].find(' ').map_or("", |s| &shown[q + s..])
                ),
                None => shown,
            };
            e.sample = Some((first_line + i as u64, shown));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_paths() {
        assert_eq!(
            request_path("GET /socket.io/?… HTTP/1.1"),
            Some("/socket.io/")
        );
        assert_eq!(request_path("GET /ws HTTP/1.1"), Some("/ws"));
        assert_eq!(request_path("garbage"), None);
    }

    #[test]
    fn tail_counts_lines_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log");
        std::fs::write(&p, "a\nb\nc\n").unwrap();
        let (data, first) = read_tail(&p).unwrap();
        assert_eq!((data.len(), first), (6, 1));
    }
}
