//! The `explain-log` report: everything its renderers show, decided here (docs/json.md,
//! "explain-log"). The JSON is serde's serialization of these structs; the human report
//! (src/render/explain_log.rs) formats the same values and the `#[serde(skip)]` ones
//! computed for it.
//!
//! Fields are declared in alphabetical order: the documents were first written with
//! `serde_json::json!`, whose maps sort their keys, and key order is part of what users
//! may have diffed or grepped; keep new fields in that order too.

use serde::Serialize;

use super::{tool, ToolInfo, JSON_SCHEMA_VERSION};
use crate::logs::explain::{self, LogFix};
use crate::logs::lb::{LbCategory, LbEvent, LbFormat, LbReport};
use crate::logs::line::{format_time, Category, LogTime};
use crate::logs::scan::{self, Stats};

/// One input's scan, as read.
pub struct FileStats {
    pub name: String,
    pub stats: Stats,
}

/// An nginx error log's `explain-log` report.
#[derive(Debug, Clone, Serialize)]
pub struct LogReport {
    /// Only with `--events`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<LogEvent>>,
    pub files: Vec<FileSummary>,
    pub fragments: u64,
    pub input_formats: Vec<InputFormat>,
    pub lines_failures: u64,
    pub lines_total: u64,
    pub lines_unparsed: u64,
    pub schema_version: u32,
    pub summary: Vec<CategorySummary>,
    pub time_range: Option<TimeRange>,
    pub timeline: Vec<MinuteCount>,
    pub tool: ToolInfo,
    pub upstream_disabled: u64,
    pub window: Window,
    /// The failures per minute folded into at most [`TIMELINE_ROWS`] rows, for the bar
    /// chart.
    #[serde(skip)]
    pub chart: Option<Chart>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileSummary {
    pub failures: u64,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub lines_total: u64,
    pub path: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct InputFormat {
    pub format: &'static str,
    pub lines: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TimeRange {
    pub first: Option<String>,
    pub last: Option<String>,
}

/// The `--since`/`--until` bounds as resolved.
#[derive(Debug, Clone, Serialize)]
pub struct Window {
    pub since: Option<String>,
    pub until: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MinuteCount {
    pub count: u64,
    pub minute: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AddressCount {
    pub address: String,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct NameCount {
    pub count: u64,
    pub name: String,
}

/// One category seen.
#[derive(Debug, Clone, Serialize)]
pub struct CategorySummary {
    pub category: &'static str,
    pub count: u64,
    pub explanation: &'static str,
    pub first_seen: Option<String>,
    pub fixes: &'static [LogFix],
    pub last_seen: Option<String>,
    pub servers: Vec<NameCount>,
    pub status: u16,
    pub truncated: u64,
    /// The `--top N` upstreams.
    pub upstreams: Vec<AddressCount>,
    /// The most frequent upstream, for the table (whatever `--top`).
    #[serde(skip)]
    pub top_upstream: Option<AddressCount>,
}

/// One classified line (`--events`).
#[derive(Debug, Clone, Serialize)]
pub struct LogEvent {
    pub category: &'static str,
    pub client: Option<String>,
    pub file: String,
    pub host: Option<String>,
    pub line: u64,
    pub request: Option<String>,
    pub server: Option<String>,
    pub time: Option<String>,
    pub truncated: bool,
    pub upstream: Option<String>,
}

/// Rows of the human report's bar chart.
pub const TIMELINE_ROWS: i64 = 30;
/// Width of the longest bar, in characters.
pub const BAR_WIDTH: f64 = 40.0;

/// The failures-per-minute chart: one row per minute, or per bucket of minutes when the
/// span is long.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Minutes per row.
    pub minutes: i64,
    pub rows: Vec<ChartRow>,
}

#[derive(Debug, Clone)]
pub struct ChartRow {
    /// "2026-11-22 10:00".
    pub label: String,
    pub count: u64,
    /// Bar length in characters, at least 1.
    pub bar: usize,
}

fn time(t: Option<LogTime>) -> Option<String> {
    t.map(format_time)
}

/// The `n` most frequent keys, ties by key.
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

fn chart(timeline: &std::collections::BTreeMap<i64, u64>) -> Option<Chart> {
    let (Some((&first, _)), Some((&last, _))) =
        (timeline.first_key_value(), timeline.last_key_value())
    else {
        return None;
    };
    let span = last - first + 1;
    let width = ((span + TIMELINE_ROWS - 1) / TIMELINE_ROWS).max(1);
    let mut buckets: Vec<(i64, u64)> = Vec::new();
    for (&m, &n) in timeline {
        let b = first + (m - first) / width * width;
        match buckets.last_mut() {
            Some((k, c)) if *k == b => *c += n,
            _ => buckets.push((b, n)),
        }
    }
    let max = buckets.iter().map(|b| b.1).max().unwrap_or(1).max(1);
    let rows = buckets
        .into_iter()
        .map(|(b, n)| {
            let t = format_time(b * 60);
            ChartRow {
                label: t.get(..16).unwrap_or(&t).replace('T', " "),
                count: n,
                bar: (((n as f64 / max as f64) * BAR_WIDTH).ceil() as usize).max(1),
            }
        })
        .collect();
    Some(Chart {
        minutes: width,
        rows,
    })
}

/// Builds the report of an error-log scan: `total` is the files' counters merged,
/// `since`/`until` the window as resolved, `top_n` the `--top` count.
pub fn build(
    files: &[FileStats],
    total: &Stats,
    since: Option<LogTime>,
    until: Option<LogTime>,
    top_n: usize,
    events: bool,
) -> LogReport {
    let s = total;
    let summary = seen_categories(s)
        .into_iter()
        .map(|c| {
            let cs = &s.categories[c.index()];
            let addr = |(address, count)| AddressCount { address, count };
            CategorySummary {
                category: c.id(),
                count: cs.count,
                explanation: explain::explanation(c),
                first_seen: time(cs.first),
                fixes: explain::fixes(c),
                last_seen: time(cs.last),
                servers: top(&cs.servers, top_n)
                    .into_iter()
                    .map(|(name, count)| NameCount { count, name })
                    .collect(),
                status: c.implied_status(),
                truncated: cs.truncated,
                upstreams: top(&cs.upstreams, top_n).into_iter().map(addr).collect(),
                top_upstream: top(&cs.upstreams, 1).into_iter().map(addr).next(),
            }
        })
        .collect();
    let events = events.then(|| {
        files
            .iter()
            .flat_map(|f| {
                f.stats.events.iter().map(|e| LogEvent {
                    category: e.category.id(),
                    client: e.client.clone(),
                    file: f.name.clone(),
                    host: e.host.clone(),
                    line: e.line,
                    request: e.request.clone(),
                    server: e.server.clone(),
                    time: time(e.time),
                    truncated: e.truncated,
                    upstream: e.upstream.clone(),
                })
            })
            .collect()
    });
    LogReport {
        events,
        files: files
            .iter()
            .map(|f| FileSummary {
                failures: f.stats.failures,
                first_seen: time(f.stats.first_time),
                last_seen: time(f.stats.last_time),
                lines_total: f.stats.lines_total,
                path: f.name.clone(),
            })
            .collect(),
        fragments: s.fragments,
        input_formats: s
            .formats
            .iter()
            .map(|(&format, &lines)| InputFormat { format, lines })
            .collect(),
        lines_failures: s.failures,
        lines_total: s.lines_total,
        lines_unparsed: s.lines_unparsed,
        schema_version: JSON_SCHEMA_VERSION,
        summary,
        time_range: s.first_time.is_some().then(|| TimeRange {
            first: time(s.first_time),
            last: time(s.last_time),
        }),
        timeline: s
            .timeline
            .iter()
            .map(|(m, &count)| MinuteCount {
                count,
                minute: format_time(m * 60),
            })
            .collect(),
        tool: tool(),
        upstream_disabled: s.upstream_disabled,
        window: Window {
            since: time(since),
            until: time(until),
        },
        chart: chart(&s.timeline),
    }
}

/// A load balancer log's `explain-log` report (docs/json.md, "balancer logs").
#[derive(Debug, Clone, Serialize)]
pub struct LbLogReport {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<LbLogEvent>>,
    pub files: Vec<String>,
    pub format: &'static str,
    pub lines_failures: u64,
    pub lines_total: u64,
    pub lines_unparsed: u64,
    pub schema_version: u32,
    pub summary: Vec<LbCategorySummary>,
    pub time_range: Option<TimeRange>,
    pub tool: ToolInfo,
    pub window: Window,
    /// What the log is, in words ("AWS load balancer access log").
    #[serde(skip)]
    pub format_name: &'static str,
    /// Every event of the window, for the per-category sample lines (`events` is only
    /// filled with `--events`).
    #[serde(skip)]
    pub samples: Vec<LbLogEvent>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LbCategorySummary {
    pub category: &'static str,
    pub count: u64,
    pub explanation: &'static str,
    pub first_seen: Option<String>,
    pub fixes: &'static [LogFix],
    pub last_seen: Option<String>,
    /// The status the balancer answered most often in this category.
    pub status: u16,
    /// The `--top N` targets.
    pub upstreams: Vec<AddressCount>,
    #[serde(skip)]
    pub top_upstream: Option<AddressCount>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LbLogEvent {
    pub category: &'static str,
    pub client: Option<String>,
    pub detail: String,
    pub file: String,
    pub line: u64,
    pub request: Option<String>,
    pub time: Option<String>,
    pub upstream: Option<String>,
}

struct LbSum {
    category: LbCategory,
    count: u64,
    status: u16,
    first: Option<LogTime>,
    last: Option<LogTime>,
    targets: std::collections::HashMap<String, u64>,
}

fn lb_summaries(events: &[&(String, LbEvent)]) -> Vec<LbSum> {
    use std::collections::HashMap;
    let mut out: Vec<LbSum> = Vec::new();
    for &c in crate::logs::lb::CATEGORIES {
        let mut s = LbSum {
            category: c,
            count: 0,
            status: c.status(),
            first: None,
            last: None,
            targets: HashMap::new(),
        };
        let mut statuses: HashMap<u16, u64> = HashMap::new();
        for (_, e) in events.iter().filter(|(_, e)| e.category == c) {
            s.count += 1;
            if e.status > 0 {
                *statuses.entry(e.status).or_default() += 1;
            }
            if let Some(t) = e.time {
                s.first = Some(s.first.map_or(t, |f| f.min(t)));
                s.last = Some(s.last.map_or(t, |l| l.max(t)));
            }
            *s.targets
                .entry(e.target.clone().unwrap_or_else(|| "-".into()))
                .or_default() += 1;
        }
        if let Some((st, _)) = statuses
            .iter()
            .max_by_key(|(st, n)| (**n, std::cmp::Reverse(**st)))
        {
            s.status = *st;
        }
        if s.count > 0 {
            out.push(s);
        }
    }
    out.sort_by(|a, b| b.count.cmp(&a.count).then(a.category.cmp(&b.category)));
    out
}

fn lb_top(m: &std::collections::HashMap<String, u64>, n: usize) -> Vec<AddressCount> {
    let mut v: Vec<(&String, &u64)> = m.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    v.into_iter()
        .take(n)
        .map(|(a, &count)| AddressCount {
            address: a.clone(),
            count,
        })
        .collect()
}

/// Builds the report of a balancer log: only events inside `since`..`until` (events
/// without a time are kept) are counted.
pub fn build_lb(
    rep: &LbReport,
    format: LbFormat,
    since: Option<LogTime>,
    until: Option<LogTime>,
    top_n: usize,
    events: bool,
) -> LbLogReport {
    let inside = |t: Option<LogTime>| {
        t.is_none_or(|t| since.is_none_or(|s| t >= s) && until.is_none_or(|u| t < u))
    };
    let kept: Vec<&(String, LbEvent)> = rep.events.iter().filter(|(_, e)| inside(e.time)).collect();
    let sums = lb_summaries(&kept);
    let samples: Vec<LbLogEvent> = kept
        .iter()
        .map(|(f, e)| LbLogEvent {
            category: e.category.id(),
            client: e.client.clone(),
            detail: e.detail.clone(),
            file: f.clone(),
            line: e.line,
            request: e.request.clone(),
            time: time(e.time),
            upstream: e.target.clone(),
        })
        .collect();
    LbLogReport {
        events: events.then(|| samples.clone()),
        files: rep.files.clone(),
        format: format.id(),
        lines_failures: sums
            .iter()
            .filter(|s| s.category.is_failure())
            .map(|s| s.count)
            .sum(),
        lines_total: rep.lines_total,
        lines_unparsed: rep.lines_unparsed,
        schema_version: JSON_SCHEMA_VERSION,
        summary: sums
            .iter()
            .map(|s| LbCategorySummary {
                category: s.category.id(),
                count: s.count,
                explanation: s.category.explanation(),
                first_seen: time(s.first),
                fixes: s.category.fixes(),
                last_seen: time(s.last),
                status: s.status,
                upstreams: lb_top(&s.targets, top_n),
                top_upstream: lb_top(&s.targets, 1).into_iter().next(),
            })
            .collect(),
        time_range: rep.first.is_some().then(|| TimeRange {
            first: time(rep.first),
            last: time(rep.last),
        }),
        tool: tool(),
        window: Window {
            since: time(since),
            until: time(until),
        },
        format_name: format.description(),
        samples,
    }
}
