//! nginx error logs: inputs (plain files via pread, `.gz`, stdin), the record parser
//! ([`line`]), the scanner ([`scan`]), and the summary behind `badgw explain-log`; also
//! the recent window `diagnose` classifies for one site ([`window_from_tail`]; the file
//! itself is read by `gather::log_window`).
//!
//! Reading never fails on content: garbage, binary and non-UTF-8 bytes become unparsed
//! lines. Only inputs that cannot be read at all are errors (exit 2). Human output
//! escapes every byte that came from the log (clients choose request lines, hosts,
//! referrers); JSON keeps text as logged, with invalid UTF-8 replaced by U+FFFD.

pub mod access;
pub mod explain;
pub mod lb;
pub mod line;
pub mod plain;
pub mod prefix;
pub mod scan;

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde_json::{json, Value};

use crate::cli::ExplainLogArgs;
use crate::exit::{fail, ExitStatus};
use crate::facts::{DisabledServer, ErrorLogWindow, LogCategoryCount, LogEvidence};
use crate::render::sanitize::escape_for_terminal;
use line::{format_time, Category, LogTime};
use scan::{ScanOptions, Stats};

/// Which events of an error log concern the diagnosed site.
#[derive(Debug, Clone, Default)]
pub struct WindowFilter {
    /// The site's host name (matches the `host:` field).
    pub site: String,
    /// The selected server block's server_name values (match the `server:` field).
    pub server_names: Vec<String>,
    /// Upstream addresses of the route, e.g. "127.0.0.1:3000", "unix:/run/php.sock".
    pub upstreams: Vec<String>,
}

impl WindowFilter {
    fn is_empty(&self) -> bool {
        self.site.is_empty() && self.server_names.is_empty() && self.upstreams.is_empty()
    }

    /// Whether `e` concerns the site: its host or server matches, or its upstream field
    /// contains one of the route's upstream addresses.
    pub fn matches(&self, e: &scan::Event) -> bool {
        if self.is_empty() {
            return true;
        }
        let eq = |a: &Option<String>, b: &str| {
            a.as_deref()
                .is_some_and(|a| !b.is_empty() && a.eq_ignore_ascii_case(b))
        };
        if eq(&e.host, &self.site) || eq(&e.server, &self.site) {
            return true;
        }
        // A line tied to no request (accept() out of descriptors, an emerg at start-up)
        // concerns the whole nginx instance, so every site it serves.
        if e.host.is_none() && e.server.is_none() && e.upstream.is_none() {
            return true;
        }
        if self
            .server_names
            .iter()
            .any(|n| eq(&e.server, n) || eq(&e.host, n))
        {
            return true;
        }
        e.upstream.as_deref().is_some_and(|u| {
            self.upstreams
                .iter()
                .any(|a| !a.is_empty() && u.contains(a.as_str()))
        })
    }
}

/// An opened input.
pub(crate) enum Source {
    /// An empty plain file. (Non-empty plain files are `ErrorSource::Plain`.)
    Empty,
    /// gzip or stdin: read front to back.
    Stream(Box<dyn BufRead>),
}

pub(crate) struct Input {
    pub(crate) name: String,
    pub(crate) source: Source,
    first: Option<LogTime>,
}

/// The error for an input that cannot be read at all (exit 2).
fn unreadable(path: &Path, e: std::io::Error) -> anyhow::Error {
    let hint = if e.kind() == std::io::ErrorKind::PermissionDenied {
        " (try sudo, or add yourself to the adm group)"
    } else {
        ""
    };
    fail(
        ExitStatus::Usage,
        anyhow::anyhow!("cannot read {}: {}{hint}", path.display(), e),
    )
}

/// What opening a path gives before the choice of how to read a plain file.
enum Opened {
    Ready(Input),
    Plain(String, File, u64),
}

fn open_common(path: &Path) -> anyhow::Result<Opened> {
    let name = path.display().to_string();
    if name == "-" {
        let mut r: Box<dyn BufRead> = Box::new(BufReader::with_capacity(1 << 20, std::io::stdin()));
        let first = peek_first_time(&mut r);
        return Ok(Opened::Ready(Input {
            name: "(stdin)".into(),
            source: Source::Stream(r),
            first,
        }));
    }
    let meta = std::fs::metadata(path).map_err(|e| unreadable(path, e))?;
    if meta.is_dir() {
        return Err(fail(
            ExitStatus::Usage,
            anyhow::anyhow!("cannot read {}: it is a directory, not a log file", name),
        ));
    }
    let mut file = File::open(path).map_err(|e| unreadable(path, e))?;
    let mut magic = [0u8; 2];
    let n = file.read(&mut magic).map_err(|e| unreadable(path, e))?;
    let gz = n == 2 && magic == [0x1f, 0x8b];
    if gz {
        let file = File::open(path).map_err(|e| unreadable(path, e))?;
        let dec = flate2::read::MultiGzDecoder::new(BufReader::with_capacity(1 << 20, file));
        let mut r: Box<dyn BufRead> = Box::new(BufReader::with_capacity(1 << 20, dec));
        let first = peek_first_time(&mut r);
        return Ok(Opened::Ready(Input {
            name,
            source: Source::Stream(r),
            first,
        }));
    }
    if meta.len() == 0 || !meta.is_file() {
        // Empty files cannot be mapped; FIFOs and devices are read as streams.
        if meta.len() == 0 && meta.is_file() {
            return Ok(Opened::Ready(Input {
                name,
                source: Source::Empty,
                first: None,
            }));
        }
        let file = File::open(path).map_err(|e| unreadable(path, e))?;
        let mut r: Box<dyn BufRead> = Box::new(BufReader::with_capacity(1 << 20, file));
        let first = peek_first_time(&mut r);
        return Ok(Opened::Ready(Input {
            name,
            source: Source::Stream(r),
            first,
        }));
    }
    Ok(Opened::Plain(name, file, meta.len()))
}

/// An error-log input: plain files are read with `pread` only (never mapped), so a file
/// truncated while read is reported, never a SIGBUS.
pub(crate) enum ErrorSource {
    Ready(Source),
    Plain(plain::PlainFile),
}

pub(crate) struct ErrorInput {
    pub(crate) name: String,
    pub(crate) source: ErrorSource,
    first: Option<LogTime>,
}

pub(crate) fn open_error_input(path: &Path) -> anyhow::Result<ErrorInput> {
    match open_common(path)? {
        Opened::Ready(i) => Ok(ErrorInput {
            name: i.name,
            source: ErrorSource::Ready(i.source),
            first: i.first,
        }),
        Opened::Plain(name, file, len) => {
            let p = plain::PlainFile::new(file, len);
            let first = p
                .first_time()
                .with_context(|| name.clone())
                .map_err(|e| fail(ExitStatus::Usage, e))?;
            Ok(ErrorInput {
                name,
                source: ErrorSource::Plain(p),
                first,
            })
        }
    }
}

fn peek_first_time(r: &mut Box<dyn BufRead>) -> Option<LogTime> {
    let buf = r.fill_buf().ok()?;
    scan::first_time(buf)
}

/// Parses `--since`/`--until`: a duration back from `reference` (`15m`, `2h`, `90s`,
/// `1d`) or a time (`2026-11-22T10:00`, `2026-11-22 10:00:00`, `2026/11/22 10:00:00`).
pub fn parse_when(s: &str, reference: LogTime) -> anyhow::Result<LogTime> {
    let s = s.trim();
    if let Some(d) = parse_duration_secs(s) {
        return Ok(reference - d);
    }
    let norm = s.replace('/', "-").replace(' ', "T");
    for fmt in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(&norm, fmt) {
            return Ok(naive_to_logtime(t));
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(&norm, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(naive_to_logtime(t));
        }
    }
    bail!("cannot understand time {s:?}: use a duration (15m, 2h, 1d) or a time (2026-11-22T10:00)")
}

/// `15m` → 900. Units: s, m, h, d; a bare number is seconds.
pub fn parse_duration_secs(s: &str) -> Option<i64> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: i64 = num.parse().ok()?;
    let mul = match unit {
        "s" | "sec" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return None,
    };
    n.checked_mul(mul)
}

pub(crate) fn naive_to_logtime(t: chrono::NaiveDateTime) -> LogTime {
    t.and_utc().timestamp()
}

/// One input's result.
pub struct FileStats {
    pub name: String,
    pub stats: Stats,
}

/// Everything `explain-log` reports, before rendering.
pub struct Report {
    pub files: Vec<FileStats>,
    pub total: Stats,
    pub since: Option<LogTime>,
    pub until: Option<LogTime>,
}

/// Reads and classifies `paths` in time order (ordered by each file's first record).
/// `since`/`until` are the raw option strings; relative durations count back from the
/// newest record of the plain files given (for gzip/stdin-only input, from the current
/// local time). Errors are wrapped with exit status 2.
pub fn analyze(
    paths: &[PathBuf],
    since: Option<&str>,
    until: Option<&str>,
    keep_events: bool,
) -> anyhow::Result<Report> {
    let mut inputs = Vec::with_capacity(paths.len());
    for p in paths {
        inputs.push(open_error_input(p)?);
    }
    if inputs.iter().filter(|i| i.name == "(stdin)").count() > 1 {
        return Err(fail(
            ExitStatus::Usage,
            anyhow::anyhow!("- (stdin) given more than once"),
        ));
    }
    // Stable sort: files without a timestamp keep their command-line order, last.
    inputs.sort_by_key(|i| (i.first.is_none(), i.first));
    let reference = inputs
        .iter()
        .filter_map(|i| match &i.source {
            ErrorSource::Plain(p) => p.last_time().ok().flatten(),
            ErrorSource::Ready(_) => None,
        })
        .max()
        .unwrap_or_else(|| naive_to_logtime(chrono::Local::now().naive_local()));
    let since = since
        .map(|s| parse_when(s, reference))
        .transpose()
        .map_err(|e| fail(ExitStatus::Usage, e))?;
    let until = until
        .map(|s| parse_when(s, reference))
        .transpose()
        .map_err(|e| fail(ExitStatus::Usage, e))?;
    let opts = ScanOptions {
        since,
        until,
        keep_events,
        keep_text: false,
    };
    let mut files = Vec::with_capacity(inputs.len());
    let mut total = Stats::default();
    for input in inputs {
        let stats = scan_input(input.source, opts)
            .map_err(|e| match e.downcast_ref::<plain::Shrank>() {
                Some(s) => anyhow::anyhow!("{} {s}", input.name),
                None => e.context(format!("reading {}", input.name)),
            })
            .map_err(|e| fail(ExitStatus::Usage, e))?;
        let mut counters = stats.clone();
        counters.events.clear();
        total.merge(counters, 0);
        files.push(FileStats {
            name: input.name,
            stats,
        });
    }
    Ok(Report {
        files,
        total,
        since,
        until,
    })
}

fn scan_input(source: ErrorSource, opts: ScanOptions) -> anyhow::Result<Stats> {
    match source {
        ErrorSource::Ready(Source::Empty) => Ok(Stats::default()),
        ErrorSource::Ready(Source::Stream(r)) => scan_stream(r, opts),
        ErrorSource::Plain(p) => p.scan(opts, &|_| {}),
    }
}

/// Scans a stream (gzip, stdin) in blocks; memory stays at a few blocks except for a
/// single record longer than that, which is kept whole (capped at 64 MiB).
pub fn scan_stream(mut r: Box<dyn BufRead>, opts: ScanOptions) -> anyhow::Result<Stats> {
    const BLOCK: usize = plain::BLOCK;
    const MAX_CARRY: usize = 64 << 20;
    let mut scanner = scan::Scanner::new(opts);
    let mut buf: Vec<u8> = Vec::with_capacity(2 * BLOCK);
    loop {
        let old = buf.len();
        buf.resize(old + BLOCK, 0);
        let n = loop {
            match r.read(&mut buf[old..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
        };
        buf.truncate(old + n);
        if n == 0 {
            scanner.feed(&buf, true);
            break;
        }
        let used = scanner.feed(&buf, buf.len() > MAX_CARRY);
        buf.drain(..used.min(buf.len()));
    }
    Ok(scanner.stats)
}

fn top(map: &scan::KeyCounts, n: usize) -> Vec<(String, u64)> {
    let mut v: Vec<(&Vec<u8>, &u64)> = map.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    v.into_iter()
        .take(n)
        .map(|(k, c)| (String::from_utf8_lossy(k).into_owned(), *c))
        .collect()
}

/// Categories seen, most frequent first (ties in design order).
fn seen_categories(s: &Stats) -> Vec<Category> {
    let mut v: Vec<Category> = Category::ALL
        .iter()
        .copied()
        .filter(|c| s.categories[c.index()].count > 0)
        .collect();
    v.sort_by(|a, b| {
        s.categories[b.index()]
            .count
            .cmp(&s.categories[a.index()].count)
            .then(a.cmp(b))
    });
    v
}

fn opt_time(t: Option<LogTime>) -> Value {
    t.map_or(Value::Null, |t| Value::String(format_time(t)))
}

/// The explain-log JSON document (docs/json.md).
pub fn report_json(rep: &Report, top_n: usize, events: bool) -> Value {
    let s = &rep.total;
    let summary: Vec<Value> = seen_categories(s)
        .into_iter()
        .map(|c| {
            let cs = &s.categories[c.index()];
            json!({
                "category": c.id(),
                "count": cs.count,
                "status": c.implied_status(),
                "first_seen": opt_time(cs.first),
                "last_seen": opt_time(cs.last),
                "upstreams": top(&cs.upstreams, top_n).into_iter()
                    .map(|(a, n)| json!({"address": a, "count": n})).collect::<Vec<_>>(),
                "servers": top(&cs.servers, top_n).into_iter()
                    .map(|(a, n)| json!({"name": a, "count": n})).collect::<Vec<_>>(),
                "truncated": cs.truncated,
                "explanation": explain::explanation(c),
                "fixes": explain::fixes(c),
            })
        })
        .collect();
    let mut doc = json!({
        "schema_version": 1,
        "tool": {"name": "badgw", "version": env!("CARGO_PKG_VERSION")},
        "files": rep.files.iter().map(|f| json!({
            "path": f.name,
            "lines_total": f.stats.lines_total,
            "failures": f.stats.failures,
            "first_seen": opt_time(f.stats.first_time),
            "last_seen": opt_time(f.stats.last_time),
        })).collect::<Vec<_>>(),
        "lines_total": s.lines_total,
        "lines_unparsed": s.lines_unparsed,
        "lines_failures": s.failures,
        "upstream_disabled": s.upstream_disabled,
        "fragments": s.fragments,
        "input_formats": s.formats.iter().map(|(f, n)| json!({"format": f, "lines": n})).collect::<Vec<_>>(),
        "time_range": if s.first_time.is_some() {
            json!({"first": opt_time(s.first_time), "last": opt_time(s.last_time)})
        } else { Value::Null },
        "window": {"since": opt_time(rep.since), "until": opt_time(rep.until)},
        "summary": summary,
        "timeline": s.timeline.iter().map(|(m, n)| json!({
            "minute": format_time(m * 60), "count": n
        })).collect::<Vec<_>>(),
    });
    if events {
        let ev: Vec<Value> = rep
            .files
            .iter()
            .flat_map(|f| {
                f.stats.events.iter().map(move |e| {
                    json!({
                        "file": f.name,
                        "line": e.line,
                        "category": e.category.id(),
                        "time": opt_time(e.time),
                        "upstream": e.upstream,
                        "server": e.server,
                        "host": e.host,
                        "request": e.request,
                        "client": e.client,
                        "truncated": e.truncated,
                    })
                })
            })
            .collect();
        doc["events"] = Value::Array(ev);
    }
    doc
}

/// Runs `badgw explain-log`; returns the exit status (1 when an upstream failure was seen).
pub fn run_explain_log(
    args: &ExplainLogArgs,
    color: bool,
    out: &mut dyn Write,
) -> anyhow::Result<ExitStatus> {
    // AWS/GCP load-balancer logs, recognised from the first file's first lines.
    if let Some(format) = args.files.first().and_then(|f| lb::detect(f)) {
        return lb::run(args, format, color, out);
    }
    let rep = analyze(
        &args.files,
        args.since.as_deref(),
        args.until.as_deref(),
        args.events,
    )?;
    if args.json {
        let doc = report_json(&rep, args.top, args.events);
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        writeln!(out)?;
    } else {
        render_human(&rep, args.top, args.events, color, out)?;
    }
    Ok(if rep.total.failures > 0 {
        ExitStatus::Problems
    } else {
        ExitStatus::Healthy
    })
}

fn paint(s: &str, color: bool, f: impl Fn(&str) -> String) -> String {
    if color {
        f(s)
    } else {
        s.to_string()
    }
}

/// Human report: header, category table, per-category explanation and fixes, timeline.
pub fn render_human(
    rep: &Report,
    top_n: usize,
    events: bool,
    color: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    use owo_colors::OwoColorize;
    let s = &rep.total;
    let names: Vec<String> = rep
        .files
        .iter()
        .map(|f| escape_for_terminal(&f.name).into_owned())
        .collect();
    writeln!(
        out,
        "{}: {} line(s) read, {} unparsed",
        names.join(", "),
        s.lines_total,
        s.lines_unparsed
    )?;
    if let (Some(a), Some(b)) = (s.first_time, s.last_time) {
        writeln!(out, "time range: {} .. {}", format_time(a), format_time(b))?;
    }
    if !s.formats.is_empty() {
        let list: Vec<String> = s
            .formats
            .iter()
            .map(|(f, n)| format!("{f} ({n} line(s))"))
            .collect();
        writeln!(out, "collector prefixes stripped: {}", list.join(", "))?;
    }
    if s.fragments > 0 {
        writeln!(
            out,
            "{} failure(s) read from lines without nginx's timestamp (pasted or cut)",
            s.fragments
        )?;
    }
    if rep.since.is_some() || rep.until.is_some() {
        writeln!(
            out,
            "window: {} .. {}",
            rep.since.map_or("start".into(), format_time),
            rep.until.map_or("end".into(), format_time)
        )?;
    }
    if s.failures == 0 {
        let msg = "no upstream failures: nginx logged nothing that explains a 502/504";
        writeln!(out, "{}", paint(msg, color, |m| m.green().to_string()))?;
        return Ok(());
    }
    let cats = seen_categories(s);
    let head = format!(
        "{} upstream failure(s) in {} categor{}",
        s.failures,
        cats.len(),
        if cats.len() == 1 { "y" } else { "ies" }
    );
    writeln!(
        out,
        "{}\n",
        paint(&head, color, |m| m.bold().red().to_string())
    )?;
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header(vec![
        "category",
        "count",
        "status",
        "first seen",
        "last seen",
        "top upstream",
    ]);
    for &c in &cats {
        let cs = &s.categories[c.index()];
        let up = top(&cs.upstreams, 1)
            .into_iter()
            .next()
            .map(|(a, n)| format!("{} ({n})", escape_for_terminal(&a)))
            .unwrap_or_default();
        table.add_row(vec![
            c.id().to_string(),
            cs.count.to_string(),
            c.implied_status().to_string(),
            cs.first.map(format_time).unwrap_or_default(),
            cs.last.map(format_time).unwrap_or_default(),
            up,
        ]);
    }
    writeln!(out, "{table}\n")?;
    for &c in &cats {
        let cs = &s.categories[c.index()];
        let cut = if cs.truncated > 0 {
            format!(", {} cut short: lower confidence", cs.truncated)
        } else {
            String::new()
        };
        let title = format!("{} ×{} ({}{cut})", c.id(), cs.count, c.implied_status());
        writeln!(out, "{}", paint(&title, color, |m| m.bold().to_string()))?;
        writeln!(out, "  {}", explain::explanation(c))?;
        let ups = top(&cs.upstreams, top_n);
        if !ups.is_empty() {
            let list: Vec<String> = ups
                .iter()
                .map(|(a, n)| format!("{} ({n})", escape_for_terminal(a)))
                .collect();
            writeln!(out, "  upstreams: {}", list.join(", "))?;
        }
        let srv = top(&cs.servers, top_n);
        if !srv.is_empty() {
            let list: Vec<String> = srv
                .iter()
                .map(|(a, n)| format!("{} ({n})", escape_for_terminal(a)))
                .collect();
            writeln!(out, "  servers: {}", list.join(", "))?;
        }
        for f in explain::fixes(c) {
            // Advice is not a command: do not dress it as one.
            let advice = [
                "use", "fix", "raise", "add", "set", "check", "read", "with", "make",
            ]
            .iter()
            .any(|w| f.split_whitespace().next() == Some(w));
            let mark = if advice { "→" } else { "$" };
            writeln!(
                out,
                "  {} {}",
                paint(mark, color, |m| m.dimmed().to_string()),
                f
            )?;
        }
        writeln!(out)?;
    }
    if s.upstream_disabled > 0 {
        writeln!(
            out,
            "note: {} \"upstream server temporarily disabled\" line(s): max_fails tripped after the failures above\n",
            s.upstream_disabled
        )?;
    }
    render_timeline(s, color, out)?;
    if events {
        writeln!(out, "\nevents:")?;
        for f in &rep.files {
            for e in &f.stats.events {
                writeln!(
                    out,
                    "{}:{} {} {}{} {} {}",
                    escape_for_terminal(&f.name),
                    e.line,
                    e.time.map(format_time).unwrap_or_else(|| "-".into()),
                    e.category.id(),
                    if e.truncated { " (cut short)" } else { "" },
                    escape_for_terminal(e.upstream.as_deref().unwrap_or("-")),
                    escape_for_terminal(e.request.as_deref().unwrap_or("-")),
                )?;
            }
        }
    }
    Ok(())
}

/// A terminal bar chart of failures over time: one row per minute, or per bucket of
/// minutes when the span is long (at most 30 rows).
fn render_timeline(s: &Stats, color: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    use owo_colors::OwoColorize;
    let (Some((&first, _)), Some((&last, _))) =
        (s.timeline.first_key_value(), s.timeline.last_key_value())
    else {
        return Ok(());
    };
    const ROWS: i64 = 30;
    let span = last - first + 1;
    let width = ((span + ROWS - 1) / ROWS).max(1);
    let mut buckets: Vec<(i64, u64)> = Vec::new();
    for (&m, &n) in &s.timeline {
        let b = first + (m - first) / width * width;
        match buckets.last_mut() {
            Some((k, c)) if *k == b => *c += n,
            _ => buckets.push((b, n)),
        }
    }
    let max = buckets.iter().map(|b| b.1).max().unwrap_or(1).max(1);
    let unit = if width == 1 {
        "minute".to_string()
    } else {
        format!("{width} minutes")
    };
    writeln!(out, "failures per {unit}:")?;
    for (b, n) in buckets {
        let len = ((n as f64 / max as f64) * 40.0).ceil() as usize;
        let bar = "█".repeat(len.max(1));
        let t = format_time(b * 60);
        let label = t.get(..16).unwrap_or(&t).replace('T', " ");
        writeln!(
            out,
            "  {label} {} {n}",
            paint(&bar, color, |m| m.red().to_string())
        )?;
    }
    Ok(())
}

/// The tail of a log file held in memory, as `gather::log_window` read it.
#[derive(Debug, Clone, Copy)]
pub struct TailRef<'a> {
    /// The file's name, for the report.
    pub name: &'a str,
    /// The bytes read; `data[0]` is at `offset` in the file.
    pub data: &'a [u8],
    pub offset: u64,
    /// Newlines in the file before `offset`, when they were counted; otherwise line
    /// numbers count from `offset`.
    pub lines_before: Option<u64>,
}

impl TailRef<'_> {
    /// Where the first whole record starts: 0 for a whole file, else after the partial
    /// first line.
    pub fn first_record(&self) -> usize {
        if self.offset == 0 {
            return 0;
        }
        // The first timestamped line after a newline, however far (a sparse file's hole
        // is megabytes of NULs without one).
        let data = self.data;
        let mut pos = 0;
        while let Some(nl) = memchr::memchr(b'\n', &data[pos..]) {
            let start = pos + nl + 1;
            if line::looks_timestamped(&data[start..]) {
                return start;
            }
            pos = start;
        }
        data.len()
    }
}

/// Classifies the last `since_secs` before `now` (the log's local time) of an error
/// log's tail and keeps the events that concern `filter`. Pure: the file was read by
/// `gather::log_window` (regular files only, bounded, with pread).
pub fn window_from_tail(
    tail: TailRef<'_>,
    since_secs: u64,
    now: chrono::NaiveDateTime,
    filter: &WindowFilter,
) -> ErrorLogWindow {
    let now_t = naive_to_logtime(now);
    let since_t = now_t
        - i64::try_from(since_secs)
            .unwrap_or(i64::MAX / 2)
            .min(now_t.abs() + 1);
    let opts = ScanOptions {
        since: Some(since_t),
        until: Some(now_t + 1),
        keep_events: true,
        keep_text: true,
    };
    let data = tail.data;
    let first = tail.first_record();
    let start = first + scan::seek_time(&data[first..], since_t);
    let mut stats = scan::scan_parallel(&data[start..], opts);
    let before =
        tail.lines_before.unwrap_or(0) + memchr::memchr_iter(b'\n', &data[..start]).count() as u64;
    for e in stats
        .events
        .iter_mut()
        .chain(stats.disabled_notes.iter_mut())
    {
        e.line += before;
    }
    window_from_stats(tail.name, stats, since_t, filter)
}

fn window_from_stats(
    file: &str,
    stats: Stats,
    since: LogTime,
    filter: &WindowFilter,
) -> ErrorLogWindow {
    let mut per: Vec<Vec<scan::Event>> = vec![Vec::new(); Category::ALL.len()];
    let mut counts = vec![(0u64, None::<LogTime>, None::<LogTime>); Category::ALL.len()];
    let mut other = 0u64;
    for e in stats.events {
        if !filter.matches(&e) {
            other += 1;
            continue;
        }
        let c = &mut counts[e.category.index()];
        c.0 += 1;
        if c.1.is_none() {
            c.1 = e.time;
        }
        c.2 = e.time.or(c.2);
        let v = &mut per[e.category.index()];
        // Keep the first two and the latest one.
        if v.len() < 3 {
            v.push(e);
        } else if let Some(last) = v.last_mut() {
            *last = e;
        }
    }
    let mut categories = Vec::new();
    for cat in Category::ALL {
        let (n, first, last) = counts[cat.index()];
        if n == 0 {
            continue;
        }
        let samples = std::mem::take(&mut per[cat.index()])
            .into_iter()
            .map(|e| LogEvidence {
                line: e.line,
                category: cat.id().to_string(),
                time: e.time.map(format_time),
                upstream: e.upstream,
                server: e.server,
                host: e.host,
                text: e.text.unwrap_or_default(),
            })
            .collect();
        categories.push(LogCategoryCount {
            category: cat.id().to_string(),
            count: n,
            first_seen: first.map(format_time),
            last_seen: last.map(format_time),
            samples,
        });
    }
    categories.sort_by_key(|c| std::cmp::Reverse(c.count));
    let mut disabled: Vec<DisabledServer> = Vec::new();
    for n in stats.disabled_notes.iter().filter(|n| filter.matches(n)) {
        let up = n.upstream.clone().unwrap_or_default();
        let time = n.time.map(format_time);
        match disabled.iter_mut().find(|d| d.upstream == up) {
            Some(d) => {
                d.count += 1;
                d.last_seen = time.or(d.last_seen.take());
            }
            None => disabled.push(DisabledServer {
                upstream: up,
                count: 1,
                first_line: n.line,
                first_seen: time.clone(),
                last_seen: time,
            }),
        }
    }
    ErrorLogWindow {
        disabled,
        file: file.to_string(),
        since: Some(format_time(since)),
        lines_read: stats.lines_total,
        categories,
        other_sites_events: other,
    }
}
