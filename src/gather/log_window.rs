//! The recent windows of the error log and the access log that `diagnose` reads for one
//! site. Only the file's tail is read — with pread into memory, through
//! [`files::read_tail`] (regular files only, never mmap) — and searched by time; the
//! classification itself is `logs`' (pure, on the bytes read).
//!
//! Bounded whatever the file: the error log costs at most [`ERROR_TAIL`] bytes, the
//! access log [`ACCESS_TAIL`], a 5 GB (sparse) log the same as a 5 MB one. A log that
//! shrinks while it is read (logrotate `copytruncate`) gives a note, never a SIGBUS.
//! Line numbers count from the start of the file; the lines before the tail are counted
//! with pread when there are at most [`COUNT_BUDGET`] bytes of them (and it takes under
//! [`files::COUNT_TIME`]), otherwise the
//! window says from which byte its line numbers count.

use std::path::{Path, PathBuf};

use super::files::{self, human_bytes, FileError, Tail};
use super::runner::Context;
use super::{ns, GatherOptions};
use crate::facts::{AccessLogWindow, ContainerInfo, ErrorLogWindow, Fact, Route};
use crate::logs::{self, TailRef, WindowFilter};
use crate::nginx;

/// Bytes of the error log read from its end: hours of a busy site's failures.
pub const ERROR_TAIL: u64 = 8 << 20;
/// Bytes of the access log read from its end: minutes of busy traffic (a window that
/// starts before them is noted as cut).
pub const ACCESS_TAIL: u64 = 24 << 20;
/// Lines before the tail are counted (pread, 1 MiB at a time) up to this many bytes.
pub const COUNT_BUDGET: u64 = 64 << 20;
/// Reads the tail of `path` (for a gzip file, the end of its decompressed text), with
/// notes on what limited the read.
fn tail_of(path: &Path, cap: u64) -> Result<(Tail, Vec<String>), FileError> {
    let tail = files::read_tail(path, cap)?;
    let mut notes = tail.notes.clone();
    notes.extend(tail.shrink_note(&path.display().to_string()));
    Ok((tail, notes))
}

/// Lines before the tail, when cheap enough to count; with a note when not.
fn lines_before(path: &Path, tail: &Tail, notes: &mut Vec<String>) -> Option<u64> {
    let n = tail.lines_before(path, COUNT_BUDGET);
    if n.is_none() {
        notes.push(format!(
            "{}: {} before the last {} were not read; line numbers count from byte {}",
            path.display(),
            human_bytes(tail.offset),
            human_bytes(tail.data.len() as u64),
            tail.offset
        ));
    }
    n
}

/// The error-log window of `path`: the last `since_secs` before `now` (local time), the
/// events that concern `filter`, and notes on what limited the read.
pub fn read_error_window(
    path: &Path,
    since_secs: u64,
    now: chrono::NaiveDateTime,
    filter: &WindowFilter,
) -> Result<(ErrorLogWindow, Vec<String>), FileError> {
    let (tail, mut notes) = tail_of(path, ERROR_TAIL)?;
    let lines = if tail.shrank.is_some() {
        None
    } else {
        lines_before(path, &tail, &mut notes)
    };
    let name = path.display().to_string();
    let w = logs::window_from_tail(
        TailRef {
            name: &name,
            data: &tail.data,
            offset: tail.offset,
            lines_before: lines,
        },
        since_secs,
        now,
        filter,
    );
    Ok((w, notes))
}

/// The access-log window of `path`, read with `fmt` (`format_name` is its name).
pub fn read_access_window(
    path: &Path,
    format_name: &str,
    fmt: &logs::access::LogFormat,
    since_secs: u64,
    now: chrono::NaiveDateTime,
    site: &str,
    server_names: &[String],
) -> Result<(AccessLogWindow, Vec<String>), FileError> {
    let (tail, mut notes) = tail_of(path, ACCESS_TAIL)?;
    let lines = if tail.shrank.is_some() {
        None
    } else {
        lines_before(path, &tail, &mut notes)
    };
    let name = path.display().to_string();
    let w = logs::access::window_from_tail(
        TailRef {
            name: &name,
            data: &tail.data,
            offset: tail.offset,
            lines_before: lines,
        },
        format_name,
        fmt,
        since_secs,
        now,
        site,
        server_names,
    );
    Ok((w, notes))
}

/// The reason a log could not be read, with what to do about it.
fn unreadable_reason(e: &FileError, flag: &str) -> String {
    let mut reason = e.reason();
    if e.is_permission_denied() {
        reason.push_str(&format!(
            " (run as root, or pass a readable copy with {flag})"
        ));
    }
    reason
}

/// How nginx's own files are reached: its root when it has a mount namespace of its own,
/// and its container.
#[derive(Debug, Clone, Default)]
pub struct NginxFs {
    pub root: Option<PathBuf>,
    pub container: Option<ContainerInfo>,
}

/// How to read a log that nginx writes to a standard stream: the runtime's log command
/// piped into this same diagnosis (`--error-log -` strips the runtime's prefixes).
fn stream_hint(nginx_fs: &NginxFs, site: &str) -> String {
    let diagnose = format!("badgw diagnose --site {site} --error-log -");
    match &nginx_fs.container {
        Some(c) => {
            let name = c
                .name
                .clone()
                .unwrap_or_else(|| c.id[..c.id.len().min(12)].to_string());
            match c.runtime.as_str() {
                "podman" => format!("podman logs --since 15m {name} 2>&1 | {diagnose}"),
                "kubernetes" => {
                    format!("kubectl logs -n NAMESPACE POD -c CONTAINER --since=15m | {diagnose}")
                }
                _ => format!("docker logs --since 15m {name} 2>&1 | {diagnose}"),
            }
        }
        None => format!("journalctl -u nginx --since -15min --no-pager | {diagnose}"),
    }
}

/// What `--error-log -` reads: standard input, to its end, keeping its last
/// [`ERROR_TAIL`] bytes (the lines before them are counted, so line numbers stay those of
/// the whole input). A terminal is refused: the log is meant to be piped in.
fn read_stdin_tail() -> Result<(Vec<u8>, u64, u64), String> {
    use std::io::{IsTerminal, Read};
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err("--error-log -: standard input is a terminal; pipe the log in (e.g. `docker logs NAME 2>&1 | badgw diagnose … --error-log -`)".into());
    }
    let mut data: Vec<u8> = Vec::new();
    let (mut dropped, mut lines_dropped) = (0u64, 0u64);
    let mut buf = vec![0u8; 1 << 20];
    let mut input = stdin.lock();
    loop {
        match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => data.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("--error-log -: reading standard input: {e}")),
        }
        if data.len() as u64 > 2 * ERROR_TAIL {
            // Cut at a line start, so that the kept part begins with a whole line.
            let want = data.len() - ERROR_TAIL as usize;
            let cut = memchr::memchr(b'\n', &data[want..]).map_or(want, |p| want + p + 1);
            lines_dropped += memchr::memchr_iter(b'\n', &data[..cut]).count() as u64;
            dropped += cut as u64;
            data.drain(..cut);
        }
    }
    Ok((data, dropped, lines_dropped))
}

/// The error-log window of the log the user named (`--error-log FILE`, or `-` for
/// standard input: `docker logs`, `docker compose logs`, `kubectl logs` or `journalctl`
/// output, whose prefixes the scan strips), as of `now`.
pub fn error_log_input(
    path: &Path,
    since_secs: u64,
    now: chrono::NaiveDateTime,
    filter: &WindowFilter,
) -> (Fact<ErrorLogWindow>, Vec<String>) {
    if path != Path::new("-") {
        return match read_error_window(path, since_secs, now, filter) {
            Ok((w, notes)) => (Fact::collected(w), notes),
            Err(e) => (
                Fact::unavailable(
                    path.display().to_string(),
                    unreadable_reason(&e, "--error-log"),
                ),
                Vec::new(),
            ),
        };
    }
    match read_stdin_tail() {
        Ok((data, offset, lines_before)) => {
            let w = logs::window_from_tail(
                TailRef {
                    name: STDIN_NAME,
                    data: &data,
                    offset,
                    lines_before: Some(lines_before),
                },
                since_secs,
                now,
                filter,
            );
            (Fact::collected(w), Vec::new())
        }
        Err(e) => (Fact::unavailable(STDIN_NAME, e), Vec::new()),
    }
}

/// The name an error log read from standard input carries in evidence (`stdin:LINE`).
pub const STDIN_NAME: &str = "stdin";

/// The collector "error log": the window that serves the route (and, site-wide, every
/// site upstream), read as nginx's files are reached.
pub fn error_log(ctx: &Context) -> (Fact<ErrorLogWindow>, Vec<String>) {
    let target = &ctx.target;
    error_log_window(&ctx.opts, target.all_upstreams.as_ref(), &target.nginx_fs())
}

/// The collector "access log": the selected server's window.
pub fn access_log(ctx: &Context) -> (Fact<AccessLogWindow>, Vec<String>) {
    let target = &ctx.target;
    access_log_window(&ctx.opts, target.route.as_ref(), &target.nginx_fs())
}

/// The recent error-log window that serves the route, with notes.
pub fn error_log_window(
    opts: &GatherOptions,
    route: Option<&Route>,
    nginx_fs: &NginxFs,
) -> (Fact<ErrorLogWindow>, Vec<String>) {
    let filter = WindowFilter {
        site: opts.request.site.clone(),
        server_names: route
            .map(|r| r.server.server_name.clone())
            .unwrap_or_default(),
        upstreams: route
            .map(|r| r.upstreams.iter().map(|u| u.address.clone()).collect())
            .unwrap_or_default(),
    };
    // The window is cut on nginx's clock: its access log says which zone that is.
    let access = opts.access_log.clone().or_else(|| {
        route.and_then(|r| r.access_log.as_deref()).and_then(|p| {
            match ns::resolve_in_root(nginx_fs.root.as_deref(), p) {
                ns::Resolved::File(f) => Some(f),
                _ => None,
            }
        })
    });
    let now = super::clock::now_in_log_zone(access.as_deref());
    let path = match (&opts.error_log, route.and_then(|r| r.error_log.as_ref())) {
        (Some(p), _) => return error_log_input(p, opts.since.as_secs(), now, &filter),
        (None, Some(p)) => match ns::resolve_in_root(nginx_fs.root.as_deref(), p) {
            ns::Resolved::File(f) => f,
            ns::Resolved::Stream(target) => {
                return (
                    Fact::unavailable(
                        p.clone(),
                        format!(
                            "nginx writes its error log to {target}: the container runtime (or service manager) holds it, not a file; read it with `{}`, or pass --error-log FILE",
                            stream_hint(nginx_fs, &opts.request.site)
                        ),
                    ),
                    Vec::new(),
                );
            }
        },
        (None, None) => return (
            Fact::unavailable(
                "error log",
                "the configuration names no error_log file for this site (pass --error-log FILE)",
            ),
            Vec::new(),
        ),
    };
    error_log_input(&path, opts.since.as_secs(), now, &filter)
}

/// The recent access-log window of the selected server, read with its own log_format
/// (`combined` when none is named, or when --access-log overrides the file).
fn access_log_window(
    opts: &GatherOptions,
    route: Option<&Route>,
    nginx_fs: &NginxFs,
) -> (Fact<AccessLogWindow>, Vec<String>) {
    let path = match (&opts.access_log, route.and_then(|r| r.access_log.as_ref())) {
        (Some(p), _) => p.clone(),
        // nginx's path, inside its mount namespace when it has one.
        (None, Some(p)) => match ns::resolve_in_root(nginx_fs.root.as_deref(), p) {
            ns::Resolved::File(f) => f,
            ns::Resolved::Stream(target) => {
                return (
                    Fact::unavailable(
                        p.clone(),
                        format!(
                            "nginx writes its access log to {target}{}: the container runtime holds it, not a file; pass --access-log FILE",
                            super::files::stream_name(std::path::Path::new(&target))
                                .map_or(String::new(), |n| format!(" ({n})"))
                        ),
                    ),
                    Vec::new(),
                )
            }
        },
        (None, None) => {
            return (Fact::unavailable(
                "access log",
                "the server logs no access (access_log off, or a syslog: target); pass --access-log FILE",
            ), Vec::new())
        }
    };
    let (name, template, escape) = match route.and_then(|r| r.access_log_format.as_ref()) {
        Some(f) => (f.name.as_str(), f.template.as_str(), f.escape.as_str()),
        None => ("combined", nginx::COMBINED_FORMAT, "default"),
    };
    let format = logs::access::LogFormat::compile(template, escape);
    let server_names = route
        .map(|r| r.server.server_name.clone())
        .unwrap_or_default();
    let now = super::clock::now_in_log_zone(Some(&path));
    match read_access_window(
        &path,
        name,
        &format,
        opts.since.as_secs(),
        now,
        &opts.request.site,
        &server_names,
    ) {
        Ok((w, notes)) => (Fact::collected(w), notes),
        Err(e) => (
            Fact::unavailable(
                path.display().to_string(),
                unreadable_reason(&e, "--access-log"),
            ),
            Vec::new(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn now() -> chrono::NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 11, 22)
            .unwrap()
            .and_hms_opt(10, 5, 0)
            .unwrap()
    }

    const FAILURE: &str = "2026/11/22 10:04:30 [error] 1#1: *2 connect() failed (111: Connection refused) while connecting to upstream, client: 1.2.3.4, server: shop.example.com, request: \"GET / HTTP/1.1\", upstream: \"http://127.0.0.1:3000/\", host: \"shop.example.com\"\n";

    #[test]
    fn a_sparse_log_is_read_by_its_tail_with_an_honest_line_base() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("error.log");
        let f = std::fs::File::create(&p).unwrap();
        f.set_len(1 << 30).unwrap();
        drop(f);
        let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        write!(f, "\n{FAILURE}{FAILURE}").unwrap();
        let (w, notes) = read_error_window(&p, 900, now(), &WindowFilter::default()).unwrap();
        assert_eq!(w.categories.len(), 1);
        assert_eq!(w.categories[0].count, 2);
        assert!(
            notes
                .iter()
                .any(|n| n.contains("line numbers count from byte")),
            "{notes:?}"
        );
    }

    #[test]
    fn line_numbers_count_from_the_start_of_a_modest_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("error.log");
        let noise =
            "2026/11/21 08:00:00 [info] 1#1: *1 client 1.2.3.4 closed keepalive connection\n";
        let mut text = String::new();
        while text.len() < (ERROR_TAIL as usize) + (1 << 20) {
            text.push_str(noise);
        }
        let before = text.lines().count() as u64;
        text.push_str(FAILURE);
        std::fs::write(&p, &text).unwrap();
        let (w, notes) = read_error_window(&p, 900, now(), &WindowFilter::default()).unwrap();
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(w.categories[0].samples[0].line, before + 1);
    }

    #[test]
    fn a_log_on_stderr_points_at_the_runtime_piped_into_diagnose() {
        let fs = NginxFs {
            root: None,
            container: Some(ContainerInfo {
                runtime: "docker".into(),
                id: "3f4e8a1c2b7d0000".into(),
                name: Some("shop-web-1".into()),
                ..Default::default()
            }),
        };
        assert_eq!(
            stream_hint(&fs, "shop.test"),
            "docker logs --since 15m shop-web-1 2>&1 | badgw diagnose --site shop.test --error-log -"
        );
        let host = NginxFs {
            root: None,
            container: None,
        };
        assert!(stream_hint(&host, "shop.test").starts_with("journalctl -u nginx"));
    }

    #[test]
    fn devices_are_unavailable_with_the_docker_hint() {
        let e = read_error_window(
            Path::new("/dev/stderr"),
            900,
            now(),
            &WindowFilter::default(),
        )
        .unwrap_err();
        assert!(e.reason().contains("docker logs"), "{e}");
    }
}
