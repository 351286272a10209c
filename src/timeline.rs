//! The incident timeline: every dated fact of the window in one time order — 502/504 per
//! minute (access log), the error log's failure categories, process starts and deaths of
//! the upstream's owner (ages from /proc, systemd journal, PM2, OOM kills), nginx's master
//! start and reloads (workers younger than their master), PHP-FPM pool events — and the
//! one sentence an on-call engineer wants: "502s started at 03:12:07, 4 s after the app was
//! OOM-killed". Pure: a function of Facts (report layer); renderers only format it.
//!
//! Times are shown in nginx's local time, the zone its logs are written in: the error log
//! carries no zone, the access log's `$time_local`/`$time_iso8601` does (`+0000`,
//! `-05:00`), and that offset is the one both share. Times with their own offset (badgw's
//! `collected_at` and the /proc start times computed from it, a kernel or journal time in
//! RFC 3339, PM2's epoch milliseconds) are converted to it, so a badgw run under another
//! `TZ` than nginx's places them right; without an access-log zone, badgw's own offset is
//! taken as nginx's. A journal's short times ("Nov 22 03:12:01", printed in badgw's zone)
//! are shifted the same way; their year was settled when the facts were made
//! (`Facts::settle_years`). Every time arrives typed (`WallTime`, `DateTime`), except
//! the per-minute buckets' labels.

use chrono::{DateTime, Duration, FixedOffset, NaiveDateTime};
use serde::Serialize;

use crate::facts::{Facts, FpmEventKind, JournalEventKind, WallTime};

/// One dated event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineEvent {
    /// `YYYY-MM-DDTHH:MM:SS`, local time.
    pub time: String,
    /// `http-5xx` (a minute of 502/504 answers), `error-log` (a failure category: its first
    /// line; `count` lines up to `last`), `error-log-minute` (a category's lines in one
    /// minute), `process-start`, `process-exit`, `oom-kill`, `unit`, `nginx-start`,
    /// `nginx-reload` (workers younger than the master, or the error log's `signal process
    /// started` / `reconfiguring` notices), `nginx-workers` (`start worker processes`),
    /// `nginx-stop` (`gracefully shutting down`), `php-fpm`.
    pub kind: &'static str,
    pub text: String,
    /// Where it was read: `access.log`, `error.log:12`, `/proc/812`, `/dev/kmsg:487`, …
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Last occurrence, for an event that repeats (`error-log`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<String>,
    /// For a change (not a failure): the first failure at or after it, and how long after.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_failure_after: Option<FailureAfter>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailureAfter {
    pub time: String,
    pub seconds: i64,
    pub text: String,
}

impl TimelineEvent {
    /// A failure clients saw (as opposed to a change that may explain one).
    pub fn is_failure(&self) -> bool {
        matches!(self.kind, "http-5xx" | "error-log")
    }
}

/// The timeline, the 502/504 counts per minute (for a sparkline), and the summary sentence.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Timeline {
    pub events: Vec<TimelineEvent>,
    /// `(minute, 502+504 answers)` for every minute from the first to the last one seen.
    pub per_minute: Vec<(String, u64)>,
    /// "502s started at 03:12:07, 4 s after the app was OOM-killed (…)"
    pub summary: Option<String>,
}

const FMT: &str = "%Y-%m-%dT%H:%M:%S";

/// The start of a per-minute count's minute, `YYYY-MM-DDTHH:MM` (the access and error
/// logs' buckets, nginx's local time). Every other time of the facts is typed.
pub fn minute_start(minute: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(&format!("{}:00", minute.trim()), FMT).ok()
}

fn fmt(t: NaiveDateTime) -> String {
    t.format(FMT).to_string()
}

/// Builds the timeline of `facts`.
pub fn build(facts: &Facts) -> Timeline {
    let collected_at = facts.collected_at;
    // badgw's zone (from its own clock reading) and nginx's (its access log's).
    let badgw_zone = collected_at.map(|c| *c.offset());
    let log_zone: Option<FixedOffset> = facts
        .access_log
        .value()
        .and_then(|a| a.utc_offset)
        .or(badgw_zone);
    let in_log_zone = |d: DateTime<FixedOffset>| match log_zone {
        Some(z) => d.with_timezone(&z).naive_local(),
        None => d.naive_local(),
    };
    let collected = collected_at.map(in_log_zone);
    // A typed fact time: converted when it carries its zone, nginx's local time otherwise.
    let wall = |w: &WallTime| match w.zoned() {
        Some(d) => Some(in_log_zone(d)),
        None => w.at(),
    };
    // A zone-less time printed in badgw's zone (journalctl's short form).
    let shift = match (badgw_zone, log_zone) {
        (Some(b), Some(l)) => {
            Duration::seconds(i64::from(l.local_minus_utc()) - i64::from(b.local_minus_utc()))
        }
        _ => Duration::zero(),
    };
    let t_badgw = |w: &WallTime| match w.zoned() {
        Some(d) => Some(in_log_zone(d)),
        None => w.at().map(|n| n + shift),
    };
    let mut events: Vec<(NaiveDateTime, TimelineEvent)> = Vec::new();
    let mut push = |time: Option<NaiveDateTime>, ev: TimelineEvent| {
        if let Some(time) = time {
            events.push((
                time,
                TimelineEvent {
                    time: fmt(time),
                    ..ev
                },
            ));
        }
    };
    let ev = |kind: &'static str, text: String, source: String| TimelineEvent {
        time: String::new(),
        kind,
        text,
        source,
        count: None,
        last: None,
        first_failure_after: None,
    };

    // 502/504 per minute, and the first 502/504 requests to the second.
    let mut per_minute = Vec::new();
    if let Some(a) = facts.access_log.value() {
        for m in &a.minutes {
            let n = m.status_502 + m.status_504;
            per_minute.push((m.minute.clone(), n));
            let mut what = Vec::new();
            if m.status_502 > 0 {
                what.push(format!("{} × 502", m.status_502));
            }
            if m.status_504 > 0 {
                what.push(format!("{} × 504", m.status_504));
            }
            let origin = if m.from_upstream > 0 {
                format!(" ({} sent by the app itself)", m.from_upstream)
            } else {
                String::new()
            };
            push(
                minute_start(&m.minute),
                TimelineEvent {
                    count: Some(n),
                    ..ev(
                        "http-5xx",
                        format!("{} of {} requests{origin}", what.join(", "), m.requests),
                        a.file.clone(),
                    )
                },
            );
        }
        if let Some(first) = a
            .samples
            .iter()
            .filter_map(|s| s.time.as_ref().and_then(wall).map(|tm| (tm, s)))
            .min_by_key(|(tm, _)| *tm)
        {
            push(
                Some(first.0),
                ev(
                    "http-5xx",
                    format!("first {} in the window", first.1.status),
                    format!("{}:{}", a.file, first.1.line),
                ),
            );
        }
    }
    per_minute.sort();
    // The error log's failures: each category from its first to its last line.
    if let Some(w) = facts.error_log.value() {
        for c in &w.categories {
            let first = c.first_seen.as_ref().and_then(wall);
            let line = c.samples.first().map(|s| s.line);
            push(
                first,
                TimelineEvent {
                    count: Some(c.count),
                    last: c
                        .last_seen
                        .as_ref()
                        .and_then(wall)
                        .filter(|l| Some(*l) != first)
                        .map(fmt),
                    ..ev(
                        "error-log",
                        format!("{} ({} line(s))", c.category, c.count),
                        line.map_or(w.file.clone(), |l| format!("{}:{l}", w.file)),
                    )
                },
            );
        }
    }
    // The error log per minute and category, and nginx's own reloads, starts and stops.
    if let Some(w) = facts.error_log.value() {
        for m in &w.minutes {
            push(
                minute_start(&m.minute),
                TimelineEvent {
                    count: Some(m.count),
                    ..ev(
                        "error-log-minute",
                        format!("{}: {} line(s) this minute", m.category, m.count),
                        w.file.clone(),
                    )
                },
            );
        }
        for n in &w.nginx_events {
            let (kind, text) = match n.kind.as_str() {
                "signal-sent" => (
                    "nginx-reload",
                    "`nginx -s` signalled the master (reload, stop or reopen)",
                ),
                "reconfiguring" => (
                    "nginx-reload",
                    "the master got SIGHUP: it reloads its configuration",
                ),
                "workers-started" => ("nginx-workers", "nginx started its worker processes"),
                "shutting-down" => ("nginx-stop", "nginx processes shut down gracefully"),
                _ => continue,
            };
            push(
                n.time.as_ref().and_then(wall),
                ev(kind, text.into(), format!("{}:{}", w.file, n.line)),
            );
        }
    }
    // Processes: the upstream's owners and nginx's master and workers, from their age.
    if let (Some(now), Some(procs)) = (collected, facts.processes.value()) {
        let owners: Vec<u32> = facts
            .upstream_listener_owners()
            .iter()
            .map(|(p, _)| *p)
            .collect();
        let master = facts.nginx.value().and_then(|n| n.master.as_ref());
        let started = |pid: u32| {
            procs
                .iter()
                .find(|p| p.pid == pid)
                .and_then(|p| p.age_secs.map(|a| (p, now - Duration::seconds(a as i64))))
        };
        for &pid in &owners {
            if let Some((p, at)) = started(pid) {
                push(
                    Some(at),
                    ev(
                        "process-start",
                        format!("the upstream's {} (pid {pid}) started", p.comm),
                        format!("/proc/{pid}"),
                    ),
                );
            }
        }
        if let Some(m) = master {
            let master_start = started(m.pid).map(|(_, at)| at);
            if let Some(at) = master_start {
                push(
                    Some(at),
                    ev(
                        "nginx-start",
                        format!("nginx master (pid {}) started", m.pid),
                        format!("/proc/{}", m.pid),
                    ),
                );
            }
            // Workers much younger than their master: the master was reloaded then.
            let youngest = m
                .workers
                .iter()
                .filter_map(|&w| started(w))
                .map(|(_, at)| at)
                .max();
            if let (Some(ms), Some(ws)) = (master_start, youngest) {
                if ws - ms > Duration::seconds(2) {
                    push(
                        Some(ws),
                        ev(
                            "nginx-reload",
                            "nginx reloaded (its workers started after the master)".into(),
                            "/proc (worker start times)".into(),
                        ),
                    );
                }
            }
        }
    }
    if let Some(k) = facts.kernel_log.value() {
        for o in &k.oom_kills {
            push(
                o.time.map(in_log_zone),
                ev(
                    "oom-kill",
                    format!("the OOM killer killed {} (pid {})", o.comm, o.pid),
                    k.source.to_string(),
                ),
            );
        }
    }
    if let Some(units) = facts.systemd.value() {
        for u in units {
            for j in &u.journal {
                let (kind, what) = match j.kind {
                    JournalEventKind::Started => ("process-start", "started"),
                    JournalEventKind::MainProcessExited => ("process-exit", "main process exited"),
                    JournalEventKind::FailedWithResult => ("process-exit", "failed"),
                    JournalEventKind::OomKilled => ("oom-kill", "a process was OOM-killed"),
                    JournalEventKind::ScheduledRestart => ("unit", "restart scheduled"),
                    JournalEventKind::StartLimitHit => ("unit", "start limit hit: systemd gave up"),
                    JournalEventKind::Other | JournalEventKind::Manager => continue,
                };
                let detail = j
                    .detail
                    .as_deref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default();
                push(
                    t_badgw(&j.time),
                    ev(
                        kind,
                        format!("{} {what}{detail}", u.status.id),
                        format!("journal:{}", j.line),
                    ),
                );
            }
        }
    }
    if let Some(apps) = facts.pm2.value() {
        for a in apps {
            if let Some(ms) = a.pm_uptime_ms {
                let at = chrono::DateTime::from_timestamp_millis(ms).map(|d| match log_zone {
                    Some(z) => d.with_timezone(&z).naive_local(),
                    None => d.with_timezone(&chrono::Local).naive_local(),
                });
                push(
                    at,
                    ev(
                        "process-start",
                        format!(
                            "PM2 app {} (re)started ({} restarts)",
                            a.name, a.restart_time
                        ),
                        "pm2 jlist".into(),
                    ),
                );
            }
        }
    }
    if let Some(fpm) = facts.php_fpm.value() {
        let log = fpm.log_file.clone().unwrap_or_else(|| "PHP-FPM log".into());
        for e in &fpm.log_events {
            let what = match e.kind {
                FpmEventKind::MaxChildrenReached => "reached pm.max_children",
                FpmEventKind::SeemsBusy => "seems busy",
                FpmEventKind::ChildKilled => "a child was killed",
                FpmEventKind::ChildExited => "a child exited",
                FpmEventKind::ExecutionTimedOut => {
                    "a request timed out and its child was terminated"
                }
            };
            push(
                e.time.as_ref().and_then(wall),
                ev(
                    "php-fpm",
                    format!("pool [{}] {what}", e.pool),
                    format!("{log}:{}", e.line),
                ),
            );
        }
    }
    events.sort_by_key(|a| a.0);
    let failures: Vec<(NaiveDateTime, String)> = events
        .iter()
        .filter(|(_, e)| e.is_failure())
        .map(|(t, e)| (*t, e.text.clone()))
        .collect();
    for (t, e) in events.iter_mut().filter(|(_, e)| !e.is_failure()) {
        if let Some((ft, text)) = failures.iter().find(|(ft, _)| ft >= t) {
            e.first_failure_after = Some(FailureAfter {
                time: fmt(*ft),
                seconds: (*ft - *t).num_seconds(),
                text: text.clone(),
            });
        }
    }
    let summary = summarize(&events);
    Timeline {
        events: events.into_iter().map(|(_, e)| e).collect(),
        per_minute,
        summary,
    }
}

/// "502s started at 03:12:07, 4 s after the app was OOM-killed": the first failure and the
/// last change before it (within 15 minutes).
fn summarize(events: &[(NaiveDateTime, TimelineEvent)]) -> Option<String> {
    let (ft, first) = events
        .iter()
        .filter(|(_, e)| e.is_failure())
        // A per-minute bucket is less precise than a dated line of the same minute.
        .min_by_key(|(t, e)| (*t, e.kind == "http-5xx" && e.count.is_some()))?;
    let what = if first.kind == "http-5xx" {
        "502/504 answers"
    } else {
        "upstream failures"
    };
    let before = events
        .iter()
        .filter(|(t, e)| !e.is_failure() && t <= ft && *ft - *t <= Duration::minutes(15))
        .max_by_key(|(t, _)| *t);
    let at = ft.format("%H:%M:%S");
    Some(match before {
        Some((bt, b)) => {
            let secs = (*ft - *bt).num_seconds();
            format!(
                "{what} started at {at}, {} after {} ({})",
                human_secs(secs),
                b.text,
                b.source
            )
        }
        None => format!("{what} started at {at} ({}, {})", first.text, first.source),
    })
}

fn human_secs(s: i64) -> String {
    if s < 120 {
        format!("{s} s")
    } else {
        format!("{} min {} s", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::*;

    #[test]
    fn the_first_502_is_put_after_the_oom_kill() {
        let mut f = Facts::new(RequestSpec {
            site: "shop".into(),
            path: "/".into(),
            ..Default::default()
        });
        f.collected_at = Some(
            chrono::DateTime::parse_from_rfc3339("2026-11-22T03:20:00+00:00").expect("RFC 3339"),
        );
        f.kernel_log = Fact::collected(KernelLog {
            source: "/dev/kmsg".into(),
            lines_read: 10,
            oom_kills: vec![OomKill {
                time: Some(
                    chrono::DateTime::parse_from_rfc3339("2026-11-22T03:12:03+00:00")
                        .expect("RFC 3339"),
                ),
                pid: 4242,
                comm: "node".into(),
                ..Default::default()
            }],
            avc_denials: vec![],
        });
        f.error_log = Fact::collected(ErrorLogWindow {
            file: "/var/log/nginx/error.log".into(),
            categories: vec![LogCategoryCount {
                category: "upstream-refused".into(),
                count: 40,
                first_seen: Some("2026-11-22T03:12:07".parse().unwrap()),
                last_seen: Some("2026-11-22T03:19:58".parse().unwrap()),
                samples: vec![],
            }],
            ..Default::default()
        });
        let tl = build(&f);
        assert_eq!(tl.events.len(), 2, "{tl:#?}");
        assert_eq!(tl.events[0].kind, "oom-kill");
        assert_eq!(
            tl.summary.as_deref(),
            Some("upstream failures started at 03:12:07, 4 s after the OOM killer killed node (pid 4242) (/dev/kmsg)")
        );
    }

    #[test]
    fn minutes_start_at_their_first_second() {
        assert_eq!(
            minute_start("2026-11-22T03:12").map(fmt).as_deref(),
            Some("2026-11-22T03:12:00")
        );
        assert_eq!(minute_start("03:12"), None);
        assert_eq!(minute_start(""), None);
    }

    /// badgw ran under TZ=America/New_York (its clock reads -05:00), nginx writes its logs
    /// in UTC (`+0000` in the access log; the error log has no zone): the OOM kill badgw
    /// read at 22:12:03-05:00 is 03:12:03 in nginx's logs, 4 s before the first refused
    /// connection logged at 03:12:07, and the journal's short time is shifted alike.
    #[test]
    fn times_with_an_offset_are_put_in_nginx_s_zone() {
        let mut f = Facts::new(RequestSpec {
            site: "shop".into(),
            path: "/".into(),
            ..Default::default()
        });
        f.collected_at = Some(
            chrono::DateTime::parse_from_rfc3339("2026-11-21T22:20:00-05:00").expect("RFC 3339"),
        );
        f.kernel_log = Fact::collected(KernelLog {
            source: "/dev/kmsg".into(),
            lines_read: 10,
            oom_kills: vec![OomKill {
                time: Some(
                    chrono::DateTime::parse_from_rfc3339("2026-11-21T22:12:03-05:00")
                        .expect("RFC 3339"),
                ),
                pid: 4242,
                comm: "node".into(),
                ..Default::default()
            }],
            avc_denials: vec![],
        });
        f.access_log = Fact::collected(AccessLogWindow {
            file: "/var/log/nginx/access.log".into(),
            utc_offset: chrono::FixedOffset::east_opt(0),
            ..Default::default()
        });
        f.error_log = Fact::collected(ErrorLogWindow {
            file: "/var/log/nginx/error.log".into(),
            categories: vec![LogCategoryCount {
                category: "upstream-refused".into(),
                count: 40,
                first_seen: Some("2026-11-22T03:12:07".parse().unwrap()),
                last_seen: Some("2026-11-22T03:19:58".parse().unwrap()),
                samples: vec![],
            }],
            ..Default::default()
        });
        f.systemd = Fact::collected(vec![UnitFacts {
            status: UnitStatus {
                id: "shop.service".into(),
                ..Default::default()
            },
            journal: vec![JournalEntry {
                time: "Nov 21 22:12:04".parse().unwrap(),
                host: None,
                process: "systemd".into(),
                pid: Some(1),
                message: "shop.service: Main process exited".into(),
                kind: JournalEventKind::MainProcessExited,
                detail: None,
                line: 3,
            }],
            ..Default::default()
        }]);
        f.settle_years();
        let tl = build(&f);
        let at = |kind: &str| {
            tl.events
                .iter()
                .find(|e| e.kind == kind)
                .map(|e| e.time.clone())
                .unwrap_or_default()
        };
        assert_eq!(at("oom-kill"), "2026-11-22T03:12:03", "{tl:#?}");
        assert_eq!(at("process-exit"), "2026-11-22T03:12:04", "{tl:#?}");
        assert_eq!(
            tl.summary.as_deref(),
            Some("upstream failures started at 03:12:07, 3 s after shop.service main process exited (journal:3)"),
            "{tl:#?}"
        );
        // Without the access log's zone, badgw's own is nginx's: times stay as read.
        f.access_log = Fact::unavailable("access log", "none");
        assert_eq!(
            build(&f)
                .events
                .iter()
                .find(|e| e.kind == "oom-kill")
                .unwrap()
                .time,
            "2026-11-21T22:12:03"
        );
    }
}
