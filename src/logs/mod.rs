//! Logs as bytes: the nginx error-log record parser ([`mod@line`]) and scanner ([`scan`]),
//! collector prefixes ([`prefix`]), access-log lines ([`access`]), balancer logs
//! ([`lb`]), what each category means ([`explain`]), and the recent window `diagnose`
//! classifies for one site ([`window_from_tail`]). Pure: the files are read by
//! `gather` (`gather::log_input` for `explain-log`, `gather::log_window` for
//! `diagnose`); the `explain-log` report is `report::explain_log`, rendered by
//! `render::explain_log`.
//!
//! Parsing never fails on content: garbage, binary and non-UTF-8 bytes become unparsed
//! lines. Text is kept as logged (invalid UTF-8 replaced by U+FFFD); only `render`
//! escapes it for a terminal (clients choose request lines, hosts, referrers).

pub mod access;
mod class_memo;
pub mod explain;
pub mod lb;
pub mod line;
pub mod prefix;
pub mod scan;
pub mod seek;

use crate::facts::{
    DisabledServer, ErrorLogWindow, ErrorMinute, LogCategoryCount, LogEvidence, NginxLogEvent,
};
use line::{format_time, Category, LogTime};
use scan::{ScanOptions, Stats};

/// The peer of an error line's `upstream:` key, without its scheme:
/// `http://172.18.0.4:3000` → `172.18.0.4:3000`, `unix:/run/php.sock` stays whole.
pub fn upstream_peer(key: &str) -> &str {
    key.split_once("://").map_or(key, |(_, peer)| peer)
}

/// The key's peer as a TCP socket address: `fastcgi://[::1]:9000` → `[::1]:9000`.
pub fn upstream_addr(key: &str) -> Option<std::net::SocketAddr> {
    upstream_peer(key).split('/').next()?.parse().ok()
}

/// Types the `upstream:` keys of a snapshot recorded before `upstream_peer` and
/// `upstream_addr` existed (`--from` of an older `collect`), and the access log's
/// `last_upstream`.
/// The site's window and each site upstream's slice of it.
pub fn fill_missing(facts: &mut crate::facts::Facts) {
    let mut windows: Vec<&mut ErrorLogWindow> = Vec::new();
    if let crate::facts::Fact::Collected { value } = &mut facts.error_log {
        windows.push(value);
    }
    if let crate::facts::Fact::Collected { value } = &mut facts.nginx {
        windows.extend(
            value
                .site_upstreams
                .iter_mut()
                .filter_map(|u| u.error_log.as_mut()),
        );
    }
    for w in windows {
        for s in w.categories.iter_mut().flat_map(|c| c.samples.iter_mut()) {
            if let (Some(u), None) = (s.upstream.as_deref(), &s.upstream_peer) {
                s.upstream_peer = Some(upstream_peer(u).to_string());
                s.upstream_addr = upstream_addr(u);
            }
        }
    }
    if let crate::facts::Fact::Collected { value } = &mut facts.access_log {
        for s in &mut value.samples {
            if let (Some(a), None) = (s.upstream_addr.as_deref(), &s.last_upstream) {
                s.last_upstream = Some(access::last_upstream(a).to_string());
            }
        }
    }
}

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

/// A log's local, zone-less time as [`LogTime`].
pub fn naive_to_logtime(t: chrono::NaiveDateTime) -> LogTime {
    t.and_utc().timestamp()
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
        now: Some(now_t),
    };
    let data = tail.data;
    let first = tail.first_record();
    let start = first
        + seek::start_offset(
            &data[first..],
            since_t,
            &line::parse_time,
            seek::ERROR_LOG_MARGIN,
        )
        .unwrap_or(0) as usize;
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
    for n in &mut stats.lifecycle {
        n.0 += before;
    }
    window_from_stats(tail.name, stats, since_t, filter)
}

/// A scanner time as the typed fact time (written `YYYY-MM-DDTHH:MM:SS`, as always): the
/// window is where the scanner's seconds become facts, so they are converted once, here.
pub(crate) fn wall_time(t: LogTime) -> Option<crate::facts::WallTime> {
    chrono::DateTime::from_timestamp(t, 0).map(|d| crate::facts::WallTime::naive(d.naive_utc()))
}

fn window_from_stats(
    file: &str,
    stats: Stats,
    since: LogTime,
    filter: &WindowFilter,
) -> ErrorLogWindow {
    let mut per: Vec<Vec<scan::Event>> = vec![Vec::new(); Category::ALL.len()];
    // (minute, category) → lines, for the timeline.
    let mut minutes: std::collections::BTreeMap<(i64, usize), u64> = Default::default();
    let mut counts = vec![(0u64, None::<LogTime>, None::<LogTime>); Category::ALL.len()];
    let mut other = 0u64;
    for e in stats.events {
        if !filter.matches(&e) {
            other += 1;
            continue;
        }
        if let Some(t) = e.time {
            *minutes
                .entry((t.div_euclid(60), e.category.index()))
                .or_insert(0) += 1;
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
                time: e.time.and_then(wall_time),
                upstream_peer: e.upstream.as_deref().map(|u| upstream_peer(u).to_string()),
                upstream_addr: e.upstream.as_deref().and_then(upstream_addr),
                upstream: e.upstream,
                server: e.server,
                host: e.host,
                text: e.text.unwrap_or_default(),
            })
            .collect();
        categories.push(LogCategoryCount {
            category: cat.id().to_string(),
            count: n,
            first_seen: first.and_then(wall_time),
            last_seen: last.and_then(wall_time),
            samples,
        });
    }
    categories.sort_by_key(|c| std::cmp::Reverse(c.count));
    let mut disabled: Vec<DisabledServer> = Vec::new();
    for n in stats.disabled_notes.iter().filter(|n| filter.matches(n)) {
        let up = n.upstream.clone().unwrap_or_default();
        let time = n.time.and_then(wall_time);
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
    let minutes = minutes
        .into_iter()
        .map(|((m, c), count)| ErrorMinute {
            minute: format_time(m * 60)[..16].to_string(),
            category: Category::ALL[c].id().to_string(),
            count,
        })
        .collect();
    let nginx_events = stats
        .lifecycle
        .iter()
        .map(|&(line, t, k)| NginxLogEvent {
            line,
            time: t.and_then(wall_time),
            kind: k.id().to_string(),
        })
        .collect();
    ErrorLogWindow {
        minutes,
        nginx_events,
        disabled,
        file: file.to_string(),
        since: wall_time(since),
        lines_read: stats.lines_total,
        categories,
        other_sites_events: other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_keys_are_typed() {
        assert_eq!(upstream_peer("http://172.18.0.4:3000"), "172.18.0.4:3000");
        assert_eq!(upstream_peer("unix:/run/php.sock"), "unix:/run/php.sock");
        assert_eq!(
            upstream_addr("fastcgi://[::1]:9000"),
            "[::1]:9000".parse().ok()
        );
        assert_eq!(
            upstream_addr("http://127.0.0.1:2/admin"),
            "127.0.0.1:2".parse().ok()
        );
        assert_eq!(upstream_addr("unix:/run/php.sock"), None);
        assert_eq!(
            access::last_upstream("10.0.0.1:80, 10.0.0.2:80 : unix:/s"),
            "unix:/s"
        );
        assert_eq!(access::last_upstream("127.0.0.1:3000"), "127.0.0.1:3000");
    }

    /// A snapshot from before `upstream_peer` existed gets it on load, as a new one has it.
    #[test]
    fn older_snapshots_get_the_typed_upstream() {
        let mut f = crate::test_support::FactsBuilder::proxy("127.0.0.1:3000").build();
        let sample: LogEvidence = serde_json::from_str(
            r#"{"line":3,"category":"upstream-refused","upstream":"http://127.0.0.1:3000","text":"x"}"#,
        )
        .unwrap();
        assert_eq!(sample.upstream_addr, None);
        f.error_log = crate::facts::Fact::collected(ErrorLogWindow {
            categories: vec![LogCategoryCount {
                category: "upstream-refused".into(),
                count: 1,
                first_seen: None,
                last_seen: None,
                samples: vec![sample],
            }],
            ..Default::default()
        });
        fill_missing(&mut f);
        let s = &f.error_log.value().unwrap().categories[0].samples[0];
        assert_eq!(s.upstream_peer.as_deref(), Some("127.0.0.1:3000"));
        assert_eq!(s.upstream_addr, "127.0.0.1:3000".parse().ok());
    }
}
