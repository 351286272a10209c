//! nginx access logs, read with the `log_format` the server uses.
//!
//! A format is compiled into literals and variables; a variable's value runs to the next
//! literal of the format (the rest of the line for the last one), which is how values with
//! spaces — `"$request"`, `$upstream_status` of `502, 502` after a retry — stay whole.
//! nginx escapes `"` and control bytes inside values (`\x22` by default, `\"` with
//! `escape=json`), so a quote literal after a variable is never found inside its value.
//! Lines are bytes: non-UTF-8, CRLF and garbage become unparsed lines, never errors.
//!
//! Who made a 502: nginx when no response header came from the upstream
//! (`$upstream_header_time` is `-` for the last attempt, or nothing was contacted), the app
//! when a header came (a number) — verified on nginx 1.22: a refused connect logs
//! `$upstream_status` 502 with header time `-` and 0 bytes received, an app's own 502 logs a
//! header time and bytes.

use std::collections::BTreeMap;

use super::line::{days_from_civil, digits, format_time, LogTime};
use super::{naive_to_logtime, seek, TailRef};
use crate::facts::{AccessLogWindow, AccessMinute, AccessSample, AnswerOrigin};

/// Plain files are read from at most this far before their end: enough for minutes of
/// busy traffic, bounded for a multi-GB log during an incident.
const TAIL: usize = 64 << 20;

/// The variables badgw reads; any other is matched and ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Var {
    TimeLocal,
    TimeIso8601,
    Msec,
    Status,
    UpstreamStatus,
    UpstreamAddr,
    UpstreamHeaderTime,
    UpstreamResponseTime,
    UpstreamBytesReceived,
    RequestTime,
    RequestId,
    Request,
    Host,
    UserAgent,
    ForwardedFor,
    Other,
}

impl Var {
    fn named(name: &str) -> Var {
        match name {
            "time_local" => Var::TimeLocal,
            "time_iso8601" => Var::TimeIso8601,
            "msec" => Var::Msec,
            "status" => Var::Status,
            "upstream_status" => Var::UpstreamStatus,
            "upstream_addr" => Var::UpstreamAddr,
            "upstream_header_time" => Var::UpstreamHeaderTime,
            "upstream_response_time" => Var::UpstreamResponseTime,
            "upstream_bytes_received" => Var::UpstreamBytesReceived,
            "request_time" => Var::RequestTime,
            "request_id" => Var::RequestId,
            "request" => Var::Request,
            "host" | "server_name" | "http_host" => Var::Host,
            "http_user_agent" => Var::UserAgent,
            "http_x_forwarded_for" | "proxy_add_x_forwarded_for" => Var::ForwardedFor,
            _ => Var::Other,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Lit(Vec<u8>),
    Var(Var),
}

/// A log_format compiled into literal/variable segments.
#[derive(Debug, Clone)]
pub struct LogFormat {
    segs: Vec<Seg>,
    /// `escape=json`: a quote inside a value is written `\"`.
    json: bool,
}

impl LogFormat {
    /// `template` is the format text as nginx joins it (`$name` or `${name}`); `escape`
    /// is "default", "json" or "none".
    pub fn compile(template: &str, escape: &str) -> LogFormat {
        let b = template.as_bytes();
        let mut segs = Vec::new();
        let mut lit = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'$' {
                let (name, next) = if b.get(i + 1) == Some(&b'{') {
                    match b[i + 2..].iter().position(|&c| c == b'}') {
                        Some(p) => (&template[i + 2..i + 2 + p], i + 3 + p),
                        None => ("", i + 1),
                    }
                } else {
                    let n = b[i + 1..]
                        .iter()
                        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                        .count();
                    (&template[i + 1..i + 1 + n], i + 1 + n)
                };
                if !name.is_empty() {
                    if !lit.is_empty() {
                        segs.push(Seg::Lit(std::mem::take(&mut lit)));
                    }
                    segs.push(Seg::Var(Var::named(name)));
                    i = next;
                    continue;
                }
            }
            lit.push(b[i]);
            i += 1;
        }
        if !lit.is_empty() {
            segs.push(Seg::Lit(lit));
        }
        LogFormat {
            segs,
            json: escape == "json",
        }
    }

    /// Whether the format has $upstream_status or $upstream_header_time.
    pub fn has_upstream_fields(&self) -> bool {
        self.segs
            .iter()
            .any(|s| matches!(s, Seg::Var(Var::UpstreamStatus | Var::UpstreamHeaderTime)))
    }

    fn has(&self, v: Var) -> bool {
        self.segs.contains(&Seg::Var(v))
    }
}

/// One parsed access-log line (only what badgw uses). `-` values are `None`; the request
/// line has its query string removed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccessEntry {
    pub time: Option<LogTime>,
    /// The zone the time was written in (`+0000` of `$time_local`, `+01:00`/`Z` of
    /// `$time_iso8601`): nginx's local zone, the same as its error log's.
    pub utc_offset: Option<String>,
    pub status: Option<u16>,
    pub upstream_status: Option<String>,
    pub upstream_addr: Option<String>,
    pub upstream_header_time: Option<String>,
    pub upstream_response_time: Option<String>,
    pub upstream_bytes_received: Option<String>,
    pub request_time: Option<String>,
    pub request_id: Option<String>,
    pub request: Option<String>,
    pub host: Option<String>,
    /// `$http_user_agent` (health checkers name themselves here).
    pub user_agent: Option<String>,
    /// `$http_x_forwarded_for`: the proxies in front of nginx.
    pub forwarded_for: Option<String>,
    /// Whether the format logs upstream variables (else the origin is unknown).
    has_upstream_fields: bool,
    has_header_time: bool,
}

impl AccessEntry {
    /// Who made a 502/503/504 answer (Unknown for other statuses).
    pub fn origin(&self) -> AnswerOrigin {
        if !matches!(self.status, Some(502..=504)) || !self.has_upstream_fields {
            return AnswerOrigin::Unknown;
        }
        if self.has_header_time {
            return match self.upstream_header_time.as_deref().map(last_attempt) {
                Some(t) if t.parse::<f64>().is_ok() => AnswerOrigin::Upstream,
                _ => AnswerOrigin::Nginx,
            };
        }
        // Only $upstream_status: nginx writes 502 there itself after a failed connect, so
        // a 502 there only shows the app answered when bytes came back.
        match self.upstream_status.as_deref().map(last_attempt) {
            None | Some("-") | Some("") => AnswerOrigin::Nginx,
            Some(_) => match self.upstream_bytes_received.as_deref().map(last_attempt) {
                Some(b) if b.parse::<u64>().is_ok_and(|n| n > 0) => AnswerOrigin::Upstream,
                Some(_) => AnswerOrigin::Nginx,
                None => AnswerOrigin::Unknown,
            },
        }
    }
}

/// The last attempt of a multi-valued upstream variable: `502, 502 : 200` → `200`.
fn last_attempt(v: &str) -> &str {
    v.rsplit([',', ':']).next().unwrap_or(v).trim()
}

/// The address of the last attempt in `$upstream_addr`: `a, b : c` → `c`.
pub fn last_upstream(addrs: &str) -> &str {
    let after_retries = addrs.rsplit(", ").next().unwrap_or(addrs);
    after_retries
        .rsplit(" : ")
        .next()
        .unwrap_or(after_retries)
        .trim()
}

/// Parses one line (without its newline) with `fmt`; None when it does not match.
pub fn parse_line(fmt: &LogFormat, line: &[u8]) -> Option<AccessEntry> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut e = AccessEntry {
        has_upstream_fields: fmt.has_upstream_fields(),
        has_header_time: fmt.has(Var::UpstreamHeaderTime),
        ..Default::default()
    };
    let mut pos = 0;
    for (k, seg) in fmt.segs.iter().enumerate() {
        match seg {
            Seg::Lit(l) => {
                if !line.get(pos..)?.starts_with(l) {
                    return None;
                }
                pos += l.len();
            }
            Seg::Var(v) => {
                let rest = line.get(pos..)?;
                let len = match fmt.segs.get(k + 1) {
                    Some(Seg::Lit(l)) => find_end(rest, l, fmt.json)?,
                    // Two variables back to back: the first ends at a space.
                    Some(Seg::Var(_)) => memchr::memchr(b' ', rest).unwrap_or(rest.len()),
                    None => rest.len(),
                };
                set(&mut e, *v, &rest[..len])?;
                pos += len;
            }
        }
    }
    (pos == line.len()).then_some(e)
}

/// Where a value ends: the first `lit` not escaped by a backslash (escape=json writes a
/// quote inside a value as `\"`).
fn find_end(rest: &[u8], lit: &[u8], json: bool) -> Option<usize> {
    let finder = memchr::memmem::find_iter(rest, lit);
    for p in finder {
        if json {
            let slashes = rest[..p].iter().rev().take_while(|&&c| c == b'\\').count();
            if slashes % 2 == 1 {
                continue;
            }
        }
        return Some(p);
    }
    None
}

/// Stores one value; None when a field that must be well-formed is not (the line then
/// does not match the format).
fn set(e: &mut AccessEntry, v: Var, raw: &[u8]) -> Option<()> {
    let text = || -> Option<String> {
        (raw != b"-" && !raw.is_empty()).then(|| String::from_utf8_lossy(raw).into_owned())
    };
    match v {
        Var::TimeLocal => {
            e.time = Some(parse_time_local(raw)?);
            e.utc_offset = zone_of(raw.get(20..).unwrap_or_default());
        }
        Var::TimeIso8601 => {
            e.time = Some(parse_time_iso(raw)?);
            e.utc_offset = zone_of(raw.get(19..).unwrap_or_default());
        }
        Var::Msec => e.time = Some(parse_msec(raw)?),
        Var::Status => e.status = Some(std::str::from_utf8(raw).ok()?.parse().ok()?),
        Var::UpstreamStatus => e.upstream_status = text(),
        Var::UpstreamAddr => e.upstream_addr = text(),
        Var::UpstreamHeaderTime => e.upstream_header_time = text(),
        Var::UpstreamResponseTime => e.upstream_response_time = text(),
        Var::UpstreamBytesReceived => e.upstream_bytes_received = text(),
        Var::RequestTime => e.request_time = text(),
        Var::RequestId => e.request_id = text(),
        Var::Request => e.request = text().map(|r| strip_query(&r)),
        Var::Host => e.host = text(),
        Var::UserAgent => e.user_agent = text(),
        Var::ForwardedFor => e.forwarded_for = text(),
        Var::Other => {}
    }
    Some(())
}

/// `GET /a?token=x HTTP/1.1` → `GET /a?… HTTP/1.1`: query strings carry secrets.
fn strip_query(request: &str) -> String {
    match request.find('?') {
        Some(q) => {
            let end = request[q..].find(' ').map_or(request.len(), |p| q + p);
            format!("{}?…{}", &request[..q], &request[end..])
        }
        None => request.to_string(),
    }
}

/// The zone after a time: ` +0000`, `-05:00` or `Z`, as `+HH:MM`; None without one.
fn zone_of(b: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(b).ok()?.trim();
    if s == "Z" {
        return Some("+00:00".into());
    }
    let (sign, rest) = s.split_at(s.char_indices().nth(1)?.0);
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if !matches!(sign, "+" | "-")
        || digits.len() != 4
        || !digits.bytes().all(|c| c.is_ascii_digit())
    {
        return None;
    }
    Some(format!("{sign}{}:{}", &digits[..2], &digits[2..]))
}

/// `23/Nov/2026:03:53:13 +0000` → the local date-time (the zone is ignored so that times
/// join with the error log's, which nginx writes in the same local time).
fn parse_time_local(b: &[u8]) -> Option<LogTime> {
    let t = b.get(..20)?;
    if t[2] != b'/' || t[6] != b'/' || t[11] != b':' || t[14] != b':' || t[17] != b':' {
        return None;
    }
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let mo = MONTHS.iter().position(|m| &t[3..6] == *m)? as i64 + 1;
    civil(
        digits(&t[7..11])?,
        mo,
        digits(&t[0..2])?,
        digits(&t[12..14])?,
        digits(&t[15..17])?,
        digits(&t[18..20])?,
    )
}

/// `2026-11-23T03:53:13+00:00` → the local date-time.
fn parse_time_iso(b: &[u8]) -> Option<LogTime> {
    let t = b.get(..19)?;
    if t[4] != b'-' || t[7] != b'-' || t[10] != b'T' || t[13] != b':' || t[16] != b':' {
        return None;
    }
    civil(
        digits(&t[0..4])?,
        digits(&t[5..7])?,
        digits(&t[8..10])?,
        digits(&t[11..13])?,
        digits(&t[14..16])?,
        digits(&t[17..19])?,
    )
}

/// `1763870000.123` (epoch seconds) → this host's local date-time.
fn parse_msec(b: &[u8]) -> Option<LogTime> {
    use chrono::TimeZone;
    let secs: i64 = std::str::from_utf8(b)
        .ok()?
        .split('.')
        .next()?
        .parse()
        .ok()?;
    let local = chrono::Local.timestamp_opt(secs, 0).single()?;
    Some(naive_to_logtime(local.naive_local()))
}

fn civil(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64) -> Option<LogTime> {
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s)
}

/// Accumulates the window's summary line by line.
struct Summary<'a> {
    fmt: &'a LogFormat,
    since: LogTime,
    site: &'a str,
    server_names: &'a [String],
    w: AccessLogWindow,
    minutes: BTreeMap<i64, AccessMinute>,
    /// Per origin (nginx, upstream, unknown): the first two and the latest two samples.
    first: [Vec<AccessSample>; 3],
    latest: [Vec<AccessSample>; 3],
}

impl Summary<'_> {
    fn concerns_site(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.');
        // $http_host may carry the port.
        let bare = match host.rsplit_once(':') {
            Some((h, p)) if p.bytes().all(|c| c.is_ascii_digit()) && !h.contains(':') => h,
            _ => host,
        };
        bare.eq_ignore_ascii_case(self.site)
            || self.server_names.iter().any(|n| {
                n.eq_ignore_ascii_case(bare)
                    || n.strip_prefix('*').is_some_and(|suffix| {
                        bare.len() > suffix.len()
                            && bare[bare.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
                    })
            })
    }

    /// One line, `line_no` 1-based in the whole file.
    fn add(&mut self, line: &[u8], line_no: u64) {
        let Some(e) = parse_line(self.fmt, line) else {
            // Lines without a time cannot be placed in the window; count them once the
            // window has started (the caller starts at its beginning).
            self.w.lines_read += 1;
            self.w.lines_unparsed += 1;
            return;
        };
        if e.time.is_some_and(|t| t < self.since) {
            return;
        }
        self.w.lines_read += 1;
        if e.host.as_deref().is_some_and(|h| !self.concerns_site(h)) {
            self.w.other_sites += 1;
            return;
        }
        self.w.requests += 1;
        if self.w.utc_offset.is_none() {
            // Typed once, here, where the window is made from the scanned lines.
            self.w.utc_offset = e.utc_offset.as_deref().and_then(|o| o.parse().ok());
        }
        let minute = e.time.map(|t| t.div_euclid(60));
        if let Some(m) = minute {
            self.minutes
                .entry(m)
                .or_insert_with(|| AccessMinute {
                    minute: format_time(m * 60)[..16].to_string(),
                    ..Default::default()
                })
                .requests += 1;
        }
        let status = match e.status {
            Some(s @ (502 | 504)) => s,
            Some(503) if e.origin() == AnswerOrigin::Upstream => 503,
            _ => return,
        };
        let origin = e.origin();
        match (origin, status) {
            (AnswerOrigin::Upstream, _) => self.w.upstream_5xx += 1,
            (AnswerOrigin::Nginx, 502) => self.w.nginx_502 += 1,
            (AnswerOrigin::Nginx, _) => self.w.nginx_504 += 1,
            (AnswerOrigin::Unknown, _) => self.w.unknown_origin += 1,
        }
        if let Some(m) = minute.and_then(|m| self.minutes.get_mut(&m)) {
            match status {
                502 => m.status_502 += 1,
                504 => m.status_504 += 1,
                _ => {}
            }
            if origin == AnswerOrigin::Upstream {
                m.from_upstream += 1;
            }
        }
        let sample = AccessSample {
            line: line_no,
            time: e.time.and_then(super::wall_time),
            status,
            origin,
            upstream_status: e.upstream_status,
            last_upstream: e
                .upstream_addr
                .as_deref()
                .map(|a| last_upstream(a).to_string()),
            upstream_addr: e.upstream_addr,
            upstream_response_time: e.upstream_response_time,
            request_time: e.request_time,
            request_id: e.request_id,
            request: e.request,
            host: e.host,
        };
        let k = match origin {
            AnswerOrigin::Nginx => 0,
            AnswerOrigin::Upstream => 1,
            AnswerOrigin::Unknown => 2,
        };
        if self.first[k].len() < 2 {
            self.first[k].push(sample);
        } else {
            if self.latest[k].len() == 2 {
                self.latest[k].remove(0);
            }
            self.latest[k].push(sample);
        }
    }

    fn finish(mut self) -> AccessLogWindow {
        self.w.has_upstream_fields = self.fmt.has_upstream_fields();
        self.w.minutes = self
            .minutes
            .into_values()
            .filter(|m| m.status_502 + m.status_504 > 0)
            .collect();
        let mut samples: Vec<AccessSample> = Vec::new();
        for k in 0..3 {
            samples.append(&mut self.first[k]);
            samples.append(&mut self.latest[k]);
        }
        samples.sort_by_key(|s| s.line);
        self.w.samples = samples;
        self.w
    }
}

/// Summarizes the last `since_secs` before `now` (the log's local time) of an access
/// log's tail: the requests of `site` (a host field naming another site is left out).
/// Pure: the file was read by `gather::log_window`.
pub fn window_from_tail(
    tail: TailRef<'_>,
    format_name: &str,
    fmt: &LogFormat,
    since_secs: u64,
    now: chrono::NaiveDateTime,
    site: &str,
    server_names: &[String],
) -> AccessLogWindow {
    let since = naive_to_logtime(now) - i64::try_from(since_secs).unwrap_or(i64::MAX / 4);
    let mut sum = Summary {
        fmt,
        since,
        site,
        server_names,
        w: AccessLogWindow {
            file: tail.name.to_string(),
            format: format_name.to_string(),
            since: super::wall_time(since),
            ..Default::default()
        },
        minutes: BTreeMap::new(),
        first: Default::default(),
        latest: Default::default(),
    };
    let data = tail.data;
    let first = if tail.offset == 0 {
        0
    } else {
        line_start_after(data, 1)
    };
    let start = first + window_start(fmt, &data[first..], since);
    let mut n =
        tail.lines_before.unwrap_or(0) + memchr::memchr_iter(b'\n', &data[..start]).count() as u64;
    for line in data[start..].split(|&c| c == b'\n') {
        n += 1;
        if !line.is_empty() {
            sum.add(line, n);
        }
    }
    sum.finish()
}

/// Byte offset (a line start) from which every line with time ≥ `since` follows: the
/// binary search of [`super::seek`] on line times within the file's last [`TAIL`] bytes.
fn window_start(fmt: &LogFormat, data: &[u8], since: LogTime) -> usize {
    let floor = line_start_after(data, data.len().saturating_sub(TAIL));
    let time = |l: &[u8]| parse_line(fmt, l).and_then(|e| e.time);
    floor
        + seek::start_offset(&data[floor..], since, &time, seek::ACCESS_LOG_MARGIN).unwrap_or(0)
            as usize
}

/// The first line start at or after `pos` (0 stays 0).
fn line_start_after(data: &[u8], pos: usize) -> usize {
    if pos == 0 {
        return 0;
    }
    memchr::memchr(b'\n', &data[pos - 1..]).map_or(data.len(), |p| pos + p)
}

#[cfg(test)]
mod tests;
