//! `badgw explain-log`: opens the inputs (gather), scans them (logs), builds the typed
//! report (report::explain_log) and hands it to a renderer (render::explain_log, or serde
//! for `--json`). Returns 1 when an upstream failure was seen.

use std::io::Write;
use std::path::PathBuf;

use crate::cli::when::parse_when;
use crate::cli::ExplainLogArgs;
use crate::exit::{fail, ExitStatus};
use crate::gather::{clock, log_input};
use crate::logs::lb;
use crate::logs::line::LogTime;
use crate::logs::scan::{ScanOptions, Stats};
use crate::render;
use crate::report::explain_log::{self as report, FileStats};

/// The error-log inputs as scanned, before the report is built.
pub struct Scanned {
    pub files: Vec<FileStats>,
    /// Every file's counters merged (no events).
    pub total: Stats,
    pub since: Option<LogTime>,
    pub until: Option<LogTime>,
}

/// Resolves `--since`/`--until` against `reference` (exit 2 when not understood).
fn window(
    since: Option<&str>,
    until: Option<&str>,
    reference: LogTime,
) -> anyhow::Result<(Option<LogTime>, Option<LogTime>)> {
    let resolve = |s: Option<&str>| {
        s.map(|s| parse_when(s, reference))
            .transpose()
            .map_err(|e| fail(ExitStatus::Usage, e))
    };
    Ok((resolve(since)?, resolve(until)?))
}

/// Reads and classifies `paths` in time order (ordered by each file's first record).
/// `since`/`until` are the raw option strings; relative durations count back from the
/// newest record of the plain files given (for gzip/stdin-only input, from the current
/// local time). Errors carry exit status 2.
pub fn analyze(
    paths: &[PathBuf],
    since: Option<&str>,
    until: Option<&str>,
    keep_events: bool,
) -> anyhow::Result<Scanned> {
    let mut inputs = Vec::with_capacity(paths.len());
    for p in paths {
        inputs.push(log_input::open_error_input(p)?);
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
        .filter_map(log_input::ErrorInput::last_time)
        .max()
        .unwrap_or_else(clock::now_log_time);
    let (since, until) = window(since, until, reference)?;
    let opts = ScanOptions {
        since,
        until,
        keep_events,
        keep_text: false,
        now: Some(clock::now_log_time()),
    };
    let mut files = Vec::with_capacity(inputs.len());
    let mut total = Stats::default();
    for input in inputs {
        let name = input.name.clone();
        let stats = input.scan(opts)?;
        let mut counters = stats.clone();
        counters.events.clear();
        total.merge(counters, 0);
        files.push(FileStats { name, stats });
    }
    Ok(Scanned {
        files,
        total,
        since,
        until,
    })
}

/// Runs `badgw explain-log`.
pub fn run(args: &ExplainLogArgs, color: bool, out: &mut dyn Write) -> anyhow::Result<ExitStatus> {
    // AWS/GCP load-balancer logs, recognised from the first file's first bytes.
    let balancer = args
        .files
        .first()
        .and_then(|f| log_input::head(f, lb::DETECT_BYTES))
        .and_then(|b| lb::detect(&b));
    if let Some(format) = balancer {
        return run_balancer(args, format, color, out);
    }
    let s = analyze(
        &args.files,
        args.since.as_deref(),
        args.until.as_deref(),
        args.events,
    )?;
    let rep = report::build(&s.files, &s.total, s.since, s.until, args.top, args.events);
    if args.json {
        render::json(&rep, out)?;
    } else {
        render::explain_log::error_log(&rep, color, out)?;
    }
    Ok(status(rep.lines_failures))
}

fn run_balancer(
    args: &ExplainLogArgs,
    format: lb::LbFormat,
    color: bool,
    out: &mut dyn Write,
) -> anyhow::Result<ExitStatus> {
    let read = lb::analyze(&args.files, format, log_input::open_lines)?;
    let (since, until) = window(
        args.since.as_deref(),
        args.until.as_deref(),
        read.last.unwrap_or(0),
    )?;
    let rep = report::build_lb(&read, format, since, until, args.top, args.events);
    if args.json {
        render::json(&rep, out)?;
    } else {
        render::explain_log::balancer_log(&rep, color, out)?;
    }
    Ok(status(rep.lines_failures))
}

fn status(failures: u64) -> ExitStatus {
    if failures > 0 {
        ExitStatus::Problems
    } else {
        ExitStatus::Healthy
    }
}
