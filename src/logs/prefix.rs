//! What log collectors put in front of nginx's error-log lines, recognised and stripped per
//! line without configuration, so `docker compose logs nginx | badgw explain-log -` reads
//! like the file itself.
//!
//! Recognised (outermost first; several may stack, e.g. kubectl's prefix and timestamp):
//!
//! | format id | looks like | documented in |
//! |---|---|---|
//! | `docker-compose` | `nginx-1  \| …`, `web_1  \| …` (name, padding, `\| `; ANSI colours skipped) | docker compose logs |
//! | `rfc3339` | `2026-11-30T10:00:00.123456789Z …` (`docker logs -t`, `kubectl logs --timestamps`, `docker compose logs -t`) | RFC 3339 |
//! | `docker-json` | `{"log":"…\n","stream":"stderr","time":"…"}` (json-file driver) | Docker json-file logging driver |
//! | `json` | one JSON object per line with `log`, `message`, `msg` or `MESSAGE` (`journalctl -o json`, Loki/Vector/Fluent Bit JSON exports) | journalctl(1) `-o json` |
//! | `kubectl` | `[pod/web-7c5b/nginx] …` (`kubectl logs --prefix`) | kubectl logs |
//! | `cri` | `2026-11-30T10:00:00.1Z stderr F …` (containerd/CRI-O files under /var/log/pods) | Kubernetes CRI logging |
//! | `journal` | `Nov 30 10:00:00 host nginx[123]: …` (journalctl short, short-precise, rsyslog's traditional file format) | journalctl(1), RFC 3164 §4.1 |
//! | `journal-iso` | `2026-11-30T10:00:00+0000 host nginx[123]: …` (journalctl short-iso, rsyslog RSYSLOG_FileFormat, Heroku `app[web.1]:`) | journalctl(1) |
//! | `journal-full` | `Mon 2026-11-30 10:00:00 UTC host nginx[123]: …` (journalctl short-full) | journalctl(1) |
//! | `syslog` | `<187>Nov 30 10:00:00 host nginx: …` (RFC 3164 with `<PRI>`, nginx's own `error_log syslog:`) | RFC 3164 |
//! | `syslog5424` | `<187>1 2026-11-30T10:00:00.1Z host nginx 123 - - …`, with or without `<PRI>` | RFC 5424 §6 |
//! | `tab` | `2026-11-30T10:00:00+00:00<TAB>tag<TAB>…` (Fluentd `out_file`) | Fluentd out_file |
//! | `loki` | `2026-11-30T10:00:00Z {app="nginx"} …` (Grafana `logcli query` output) | logcli |
//! | `embedded` | anything else in front of nginx's own `YYYY/MM/DD HH:MM:SS [level]` | — |
//!
//! Lines that already start with nginx's timestamp are returned untouched after one
//! 19-byte shape test ([`strip`] returns `None`), which is all a clean log pays.

use std::borrow::Cow;

use super::line::{days_from_civil, digits, looks_timestamped, LogTime};

/// A recognised prefix format (see the module table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Format {
    DockerCompose,
    Rfc3339,
    DockerJson,
    Json,
    Kubectl,
    Cri,
    Journal,
    JournalIso,
    JournalFull,
    Syslog,
    Syslog5424,
    Tab,
    Loki,
    Embedded,
}

impl Format {
    pub fn id(self) -> &'static str {
        match self {
            Format::DockerCompose => "docker-compose",
            Format::Rfc3339 => "rfc3339",
            Format::DockerJson => "docker-json",
            Format::Json => "json",
            Format::Kubectl => "kubectl",
            Format::Cri => "cri",
            Format::Journal => "journal",
            Format::JournalIso => "journal-iso",
            Format::JournalFull => "journal-full",
            Format::Syslog => "syslog",
            Format::Syslog5424 => "syslog5424",
            Format::Tab => "tab",
            Format::Loki => "loki",
            Format::Embedded => "embedded",
        }
    }
}

/// A line with its collector prefix removed.
#[derive(Debug, Clone, PartialEq)]
pub struct Stripped<'a> {
    /// What nginx wrote (JSON string escapes decoded, trailing newline dropped).
    pub body: Cow<'a, [u8]>,
    /// The collector's timestamp (zone dropped: the wall-clock time as written).
    pub time: Option<LogTime>,
    /// The outermost format recognised.
    pub format: Format,
}

/// Strips the collector prefix(es) of `line`; `None` when it has none (it starts with
/// nginx's timestamp, or nothing recognisable is in front of its text). `now` is when the
/// log is read (gather's clock): a year-less stamp (BSD syslog, journalctl's short form)
/// is given the year that puts it at or before `now`; without `now` it has no time.
pub fn strip(line: &[u8], now: Option<LogTime>) -> Option<Stripped<'_>> {
    if looks_timestamped(line) {
        return None;
    }
    if line.first() == Some(&b'{') {
        return json(line, now);
    }
    let mut body = line;
    let mut time = None;
    let mut format = None;
    for _ in 0..4 {
        if looks_timestamped(body) {
            break;
        }
        let Some((rest, t, f)) = strip_one(body, now) else {
            break;
        };
        body = rest;
        time = time.or(t);
        format = format.or(Some(f));
        if body.first() == Some(&b'{') {
            if let Some(mut inner) = json(body, now) {
                inner.time = time.or(inner.time);
                inner.format = format.unwrap_or(inner.format);
                return Some(inner);
            }
        }
    }
    if !looks_timestamped(body) {
        if let Some(p) = embedded(body) {
            body = &body[p..];
            format = format.or(Some(Format::Embedded));
        }
    }
    Some(Stripped {
        body: Cow::Borrowed(body),
        time,
        format: format?,
    })
}

/// One prefix at the start of `b`: the rest, its time, its format.
fn strip_one(b: &[u8], now: Option<LogTime>) -> Option<(&[u8], Option<LogTime>, Format)> {
    // <PRI>: RFC 3164 or 5424.
    if let Some(rest) = pri(b) {
        if let Some(r) = syslog5424(rest) {
            return Some(r);
        }
        if let Some((rest, t)) = bsd_time(rest, now) {
            let rest = host_tag(rest).or_else(|| tag(rest)).unwrap_or(rest);
            return Some((rest, t, Format::Syslog));
        }
        return Some((rest, None, Format::Syslog));
    }
    if b.starts_with(b"1 ") {
        if let Some(r) = syslog5424(b) {
            return Some(r);
        }
    }
    if let Some(rest) = kubectl(b) {
        return Some((rest, None, Format::Kubectl));
    }
    if let Some((t, n)) = rfc3339(b) {
        let after = &b[n..];
        if let Some(rest) = after.strip_prefix(b"\t") {
            // Fluentd out_file: time TAB tag TAB record.
            let rest = memchr::memchr(b'\t', rest).map_or(rest, |p| &rest[p + 1..]);
            return Some((rest, Some(t), Format::Tab));
        }
        let rest = after.strip_prefix(b" ")?;
        if looks_timestamped(rest) {
            return Some((rest, Some(t), Format::Rfc3339));
        }
        for stream in [&b"stdout "[..], b"stderr "] {
            if let Some(r) = rest.strip_prefix(stream) {
                if let Some(r) = r.strip_prefix(b"F ").or_else(|| r.strip_prefix(b"P ")) {
                    return Some((r, Some(t), Format::Cri));
                }
            }
        }
        if rest.first() == Some(&b'{') {
            if let Some(e) = memchr::memmem::find(rest, b"} ") {
                if !rest.get(1..e).unwrap_or(&[]).contains(&b'{') && rest.get(1) != Some(&b'"') {
                    return Some((&rest[e + 2..], Some(t), Format::Loki));
                }
            }
        }
        if let Some(r) = host_tag(rest) {
            return Some((r, Some(t), Format::JournalIso));
        }
        return Some((rest, Some(t), Format::Rfc3339));
    }
    if let Some((rest, t)) = bsd_time(b, now) {
        let rest = host_tag(rest).or_else(|| tag(rest))?;
        return Some((rest, t, Format::Journal));
    }
    if let Some((rest, t)) = full_time(b) {
        let rest = host_tag(rest)?;
        return Some((rest, t, Format::JournalFull));
    }
    if let Some(rest) = compose(b) {
        return Some((rest, None, Format::DockerCompose));
    }
    None
}

/// `<PRI>` (1–3 digits).
fn pri(b: &[u8]) -> Option<&[u8]> {
    let s = b.strip_prefix(b"<")?;
    let n = s.iter().take(4).take_while(|c| c.is_ascii_digit()).count();
    if n == 0 || n > 3 {
        return None;
    }
    s[n..].strip_prefix(b">")
}

/// RFC 5424 after `<PRI>`: `1 TIMESTAMP HOST APP PROCID MSGID SD MSG`.
fn syslog5424(b: &[u8]) -> Option<(&[u8], Option<LogTime>, Format)> {
    let rest = b.strip_prefix(b"1 ")?;
    let (t, n) = match rfc3339(rest) {
        Some((t, n)) => (Some(t), n),
        None if rest.starts_with(b"- ") => (None, 1),
        None => return None,
    };
    let mut rest = rest[n..].strip_prefix(b" ")?;
    for _ in 0..4 {
        let sp = memchr::memchr(b' ', rest)?;
        rest = &rest[sp + 1..];
    }
    // Structured data: "-" or one or more [id k="v" …] elements.
    if let Some(r) = rest.strip_prefix(b"-") {
        rest = r;
    } else {
        while rest.first() == Some(&b'[') {
            let mut i = 1;
            let mut quoted = false;
            while i < rest.len() {
                match rest[i] {
                    b'\\' if quoted => i += 1,
                    b'"' => quoted = !quoted,
                    b']' if !quoted => break,
                    _ => {}
                }
                i += 1;
            }
            rest = rest.get(i + 1..)?;
        }
    }
    let rest = rest.strip_prefix(b" ").unwrap_or(rest);
    // An optional UTF-8 BOM before MSG (RFC 5424 §6.4).
    let rest = rest.strip_prefix("\u{feff}".as_bytes()).unwrap_or(rest);
    Some((rest, t, Format::Syslog5424))
}

/// `[pod/name/container] ` as `kubectl logs --prefix` writes it.
fn kubectl(b: &[u8]) -> Option<&[u8]> {
    let s = b.strip_prefix(b"[")?;
    let e = memchr::memchr(b']', s.get(..300).unwrap_or(s))?;
    let inner = &s[..e];
    if !inner.contains(&b'/') || inner.iter().any(|c| c.is_ascii_whitespace()) {
        return None;
    }
    s[e + 1..].strip_prefix(b" ")
}

/// RFC 3339 / ISO 8601 at the start: `YYYY-MM-DD[T ]HH:MM:SS[.frac][Z|±HH:MM|±HHMM]`;
/// returns the wall-clock time as written and its length.
pub fn rfc3339(b: &[u8]) -> Option<(LogTime, usize)> {
    let t = b.get(..19)?;
    if t[4] != b'-'
        || t[7] != b'-'
        || !matches!(t[10], b'T' | b' ')
        || t[13] != b':'
        || t[16] != b':'
    {
        return None;
    }
    let time = civil(t, 0, 5, 8, 11)?;
    let mut n = 19;
    if b.get(n) == Some(&b'.') || b.get(n) == Some(&b',') {
        n += 1;
        while b.get(n).is_some_and(u8::is_ascii_digit) {
            n += 1;
        }
    }
    match b.get(n) {
        Some(b'Z') => n += 1,
        Some(b'+' | b'-') => {
            let z = &b[n + 1..];
            let d = z.iter().take(4).take_while(|c| c.is_ascii_digit()).count();
            if d >= 2 && z.get(2) == Some(&b':') {
                n += 6;
            } else if d == 4 {
                n += 5;
            } else if d == 2 {
                n += 3;
            }
        }
        _ => {}
    }
    (n <= b.len()).then_some((time, n))
}

/// Parses `Y-M-D H:M:S` digits at the given offsets (year 4, others 2 digits).
fn civil(t: &[u8], y: usize, mo: usize, d: usize, h: usize) -> Option<LogTime> {
    let (yy, mm, dd) = (
        digits(t.get(y..y + 4)?)?,
        digits(t.get(mo..mo + 2)?)?,
        digits(t.get(d..d + 2)?)?,
    );
    let (hh, mi, ss) = (
        digits(t.get(h..h + 2)?)?,
        digits(t.get(h + 3..h + 5)?)?,
        digits(t.get(h + 6..h + 8)?)?,
    );
    if !(1..=12).contains(&mm) || !(1..=31).contains(&dd) || hh > 23 || mi > 59 || ss > 60 {
        return None;
    }
    Some(days_from_civil(yy, mm, dd) * 86400 + hh * 3600 + mi * 60 + ss)
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// A year-less stamp (month, day, seconds into the day) in the year that
/// [`crate::facts::time::year_of_yearless`] (the one year rule, shared with
/// `WallTime::settle_year`) gives it against `now`.
fn in_year_before(now: LogTime, month: i64, day: i64, secs: i64) -> Option<LogTime> {
    let reference = chrono::DateTime::from_timestamp(now, 0)?.naive_utc();
    let year = crate::facts::time::year_of_yearless(
        reference,
        u32::try_from(month).ok()?,
        u32::try_from(day).ok()?,
        chrono::Duration::seconds(secs),
    )?;
    Some(days_from_civil(i64::from(year), month, day) * 86400 + secs)
}

/// `Mmm dd HH:MM:SS[.frac] ` (RFC 3164; the day may be space-padded).
fn bsd_time(b: &[u8], now: Option<LogTime>) -> Option<(&[u8], Option<LogTime>)> {
    let m = MONTHS.iter().position(|m| b.starts_with(&m[..]))? as i64 + 1;
    if b.get(3) != Some(&b' ') {
        return None;
    }
    let day = match (b.get(4)?, b.get(5)?) {
        (b' ', d) if d.is_ascii_digit() => i64::from(d - b'0'),
        (a, d) if a.is_ascii_digit() && d.is_ascii_digit() => {
            i64::from(a - b'0') * 10 + i64::from(d - b'0')
        }
        _ => return None,
    };
    let t = b.get(6..16)?;
    if t[0] != b' ' || t[3] != b':' || t[6] != b':' || t[9..10] != *b" " && t[9] != b'.' {
        return None;
    }
    let (h, mi, s) = (digits(&t[1..3])?, digits(&t[4..6])?, digits(&t[7..9])?);
    let mut n = 15;
    if b[n] == b'.' {
        n += 1;
        while b.get(n).is_some_and(u8::is_ascii_digit) {
            n += 1;
        }
    }
    let rest = b.get(n..)?.strip_prefix(b" ")?;
    if !(1..=31).contains(&day) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let time = now.and_then(|now| in_year_before(now, m, day, h * 3600 + mi * 60 + s));
    Some((rest, time))
}

/// journalctl short-full: `Mon 2026-11-30 10:00:00 UTC `.
fn full_time(b: &[u8]) -> Option<(&[u8], Option<LogTime>)> {
    if b.get(3) != Some(&b' ') || !b[..3].iter().all(u8::is_ascii_alphabetic) {
        return None;
    }
    let (t, n) = rfc3339(&b[4..])?;
    let rest = b[4 + n..].strip_prefix(b" ")?;
    let z = memchr::memchr(b' ', rest.get(..8)?)?;
    Some((&rest[z + 1..], Some(t)))
}

/// `host tag[pid]: ` or `host tag: `.
fn host_tag(b: &[u8]) -> Option<&[u8]> {
    let sp = memchr::memchr(b' ', b.get(..256).unwrap_or(b))?;
    if sp == 0 {
        return None;
    }
    tag(&b[sp + 1..])
}

/// `tag[pid]: ` or `tag: ` (syslog TAG: up to 48 name characters).
fn tag(b: &[u8]) -> Option<&[u8]> {
    let n = b
        .iter()
        .take(49)
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'/' | b'@'))
        .count();
    if n == 0 || n > 48 {
        return None;
    }
    let mut rest = &b[n..];
    if let Some(s) = rest.strip_prefix(b"[") {
        let e = memchr::memchr(b']', s.get(..40).unwrap_or(s))?;
        if s[..e].iter().any(|c| c.is_ascii_whitespace()) {
            return None;
        }
        rest = &s[e + 1..];
    }
    rest.strip_prefix(b": ")
        .or_else(|| (rest == b":").then_some(&rest[1..]))
}

/// ANSI SGR sequences (`ESC [ … m`) at the start of `b`.
fn skip_sgr(mut b: &[u8]) -> &[u8] {
    while let Some(s) = b.strip_prefix(b"\x1b[") {
        let n = s
            .iter()
            .take(16)
            .take_while(|c| c.is_ascii_digit() || **c == b';')
            .count();
        match s.get(n) {
            Some(b'm') => b = &s[n + 1..],
            _ => break,
        }
    }
    b
}

/// `name  | ` as docker compose prints it (v1 `web_1`, v2 `web-1`), colours skipped.
fn compose(b: &[u8]) -> Option<&[u8]> {
    let s = skip_sgr(b);
    let n = s
        .iter()
        .take(129)
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
        .count();
    if n == 0 || n > 128 {
        return None;
    }
    let mut rest = &s[n..];
    let pad = rest.iter().take_while(|c| **c == b' ').count();
    rest = skip_sgr(&rest[pad..]);
    let rest = skip_sgr(rest.strip_prefix(b"|")?);
    Some(rest.strip_prefix(b" ").unwrap_or(rest))
}

/// Offset of nginx's own `YYYY/MM/DD HH:MM:SS [` inside `b` (first 512 bytes), after a
/// byte that cannot belong to a date.
fn embedded(b: &[u8]) -> Option<usize> {
    let lim = b.len().min(512);
    for p in memchr::memchr_iter(b'/', &b[..lim]) {
        let Some(start) = p.checked_sub(4) else {
            continue;
        };
        if start > 0 && b[start - 1].is_ascii_alphanumeric() {
            continue;
        }
        let s = &b[start..];
        if looks_timestamped(s) && s.get(19..21) == Some(b" [") {
            return Some(start);
        }
    }
    None
}

#[derive(serde::Deserialize)]
struct JsonLine {
    #[serde(alias = "message", alias = "msg", alias = "MESSAGE")]
    log: Option<String>,
    #[serde(alias = "timestamp", alias = "@timestamp")]
    time: Option<String>,
    #[serde(rename = "__REALTIME_TIMESTAMP")]
    realtime: Option<String>,
    stream: Option<String>,
}

/// A JSON object per line: Docker's json-file driver, `journalctl -o json`, shippers.
fn json(line: &[u8], now: Option<LogTime>) -> Option<Stripped<'_>> {
    let j: JsonLine = serde_json::from_slice(line).ok()?;
    let mut text = j.log?.into_bytes();
    while matches!(text.last(), Some(b'\n' | b'\r')) {
        text.pop();
    }
    let time = match (&j.time, &j.realtime) {
        (Some(t), _) => rfc3339(t.as_bytes()).map(|x| x.0),
        // Microseconds since the epoch (UTC).
        (None, Some(us)) => us.parse::<i64>().ok().map(|us| us.div_euclid(1_000_000)),
        _ => None,
    };
    let format = if j.stream.is_some() {
        Format::DockerJson
    } else {
        Format::Json
    };
    // A shipper may wrap an already prefixed line (a journal line in a JSON export).
    if !looks_timestamped(&text) {
        if let Some(inner) = strip(&text, now) {
            if !matches!(inner.format, Format::Embedded) || looks_timestamped(&inner.body) {
                let body = inner.body.into_owned();
                return Some(Stripped {
                    body: Cow::Owned(body),
                    time: time.or(inner.time),
                    format,
                });
            }
        }
    }
    Some(Stripped {
        body: Cow::Owned(text),
        time,
        format,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NGINX: &str = "2026/11/30 10:00:00 [error] 7#7: *1 connect() failed (111: Connection refused) while connecting to upstream, client: 10.0.0.1, server: a, request: \"GET / HTTP/1.1\", upstream: \"http://10.0.0.2:3000/\", host: \"a\"";

    /// When the tests' logs are read: 2026-11-30 12:00:00.
    const READ_AT: LogTime = 20_787 * 86_400 + 12 * 3600;

    fn body(line: &str) -> (String, Option<LogTime>, &'static str) {
        let s =
            strip(line.as_bytes(), Some(READ_AT)).unwrap_or_else(|| panic!("not stripped: {line}"));
        (
            String::from_utf8(s.body.into_owned()).unwrap(),
            s.time,
            s.format.id(),
        )
    }

    #[test]
    fn clean_lines_pass_untouched() {
        assert_eq!(strip(NGINX.as_bytes(), Some(READ_AT)), None);
        assert_eq!(strip(b"random words", Some(READ_AT)), None);
        assert_eq!(strip(b"", Some(READ_AT)), None);
    }

    #[test]
    fn every_format_gives_back_nginx_s_line() {
        let t = crate::logs::line::parse_time(b"2026/11/30 10:00:01").unwrap();
        let cases = [
            (format!("nginx-1  | {NGINX}"), "docker-compose", None),
            (format!("web_1       | {NGINX}"), "docker-compose", None),
            (
                format!("\x1b[36mnginx-1  |\x1b[0m {NGINX}"),
                "docker-compose",
                None,
            ),
            (
                format!("nginx-1  | 2026-11-30T10:00:01.123456789Z {NGINX}"),
                "docker-compose",
                Some(t),
            ),
            (
                format!("2026-11-30T10:00:01.123456789Z {NGINX}"),
                "rfc3339",
                Some(t),
            ),
            (format!("[pod/web-7c5b9/nginx] {NGINX}"), "kubectl", None),
            (
                format!("[pod/web-7c5b9/nginx] 2026-11-30T10:00:01.000000000Z {NGINX}"),
                "kubectl",
                Some(t),
            ),
            (
                format!("2026-11-30T10:00:01.5Z stderr F {NGINX}"),
                "cri",
                Some(t),
            ),
            (
                format!("2026-11-30T10:00:01+0000 web01 nginx[812]: {NGINX}"),
                "journal-iso",
                Some(t),
            ),
            (
                format!("Mon 2026-11-30 10:00:01 UTC web01 nginx[812]: {NGINX}"),
                "journal-full",
                Some(t),
            ),
            (
                format!("<163>1 2026-11-30T10:00:01.003Z web01 nginx 812 - - {NGINX}"),
                "syslog5424",
                Some(t),
            ),
            (
                format!("<163>1 2026-11-30T10:00:01.003Z web01 nginx 812 ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\"] {NGINX}"),
                "syslog5424",
                Some(t),
            ),
            (
                format!("1 2026-11-30T10:00:01.003Z web01 nginx 812 - - {NGINX}"),
                "syslog5424",
                Some(t),
            ),
            (
                format!("2026-11-30T10:00:01+00:00\tdocker.nginx\t{NGINX}"),
                "tab",
                Some(t),
            ),
            (
                format!("2026-11-30T10:00:01Z {{app=\"nginx\", pod=\"web-1\"}} {NGINX}"),
                "loki",
                Some(t),
            ),
            (format!("some shipper prefix: {NGINX}"), "embedded", None),
        ];
        for (line, fmt, time) in cases {
            let (b, tm, f) = body(&line);
            assert_eq!(b, NGINX, "{line}");
            assert_eq!(f, fmt, "{line}");
            assert_eq!(tm, time, "{line}");
        }
    }

    #[test]
    fn journal_and_syslog_short_forms() {
        for (line, fmt) in [
            (
                format!("Nov 30 10:00:01 web01 nginx[812]: {NGINX}"),
                "journal",
            ),
            (format!("Nov  3 10:00:01 web01 nginx: {NGINX}"), "journal"),
            (
                format!("Nov 30 10:00:01.123456 web01 nginx[812]: {NGINX}"),
                "journal",
            ),
            (
                format!("<187>Nov 30 10:00:01 web01 nginx: {NGINX}"),
                "syslog",
            ),
            (format!("<187>Nov 30 10:00:01 nginx: {NGINX}"), "syslog"),
        ] {
            let (b, tm, f) = body(&line);
            assert_eq!(b, NGINX, "{line}");
            assert_eq!(f, fmt, "{line}");
            let day = if line.contains("Nov  3") { 3 } else { 30 };
            assert_eq!(
                tm,
                Some(days_from_civil(2026, 11, day) * 86400 + 10 * 3600 + 1),
                "{line}"
            );
        }
    }

    /// A year-less stamp takes the year that puts it at or before the reading time (a day
    /// of clock skew allowed); without a reading time it has none (never a guess).
    #[test]
    fn year_less_stamps_take_the_year_before_the_reading() {
        let line = format!("Dec 31 23:59:58 web01 nginx[812]: {NGINX}");
        let new_year = days_from_civil(2027, 1, 1) * 86400 + 5;
        let t = strip(line.as_bytes(), Some(new_year)).unwrap().time;
        assert_eq!(t, Some(days_from_civil(2026, 12, 31) * 86400 + 86398));
        let t = strip(line.as_bytes(), Some(READ_AT)).unwrap().time;
        assert_eq!(t, Some(days_from_civil(2025, 12, 31) * 86400 + 86398));
        let jan = format!("Jan  1 00:00:03 web01 nginx[812]: {NGINX}");
        let eve = days_from_civil(2026, 12, 31) * 86400 + 86399;
        let t = strip(jan.as_bytes(), Some(eve)).unwrap().time;
        assert_eq!(
            t,
            Some(days_from_civil(2027, 1, 1) * 86400 + 3),
            "a writer's clock a little ahead"
        );
        assert_eq!(strip(line.as_bytes(), None).unwrap().time, None);
        // The rule is WallTime::settle_year's (one definition): Feb 29 read where no year
        // around the reading has one stays without a time, rather than becoming Mar 1.
        let feb = format!("Feb 29 12:00:00 web01 nginx[812]: {NGINX}");
        let t = strip(feb.as_bytes(), Some(days_from_civil(2030, 3, 1) * 86400));
        assert_eq!(t.unwrap().time, None);
        let t = strip(feb.as_bytes(), Some(days_from_civil(2029, 3, 1) * 86400));
        assert_eq!(
            t.unwrap().time,
            Some(days_from_civil(2028, 2, 29) * 86400 + 43200)
        );
    }

    #[test]
    fn json_lines_are_decoded() {
        let esc = NGINX.replace('"', "\\\"");
        let (b, t, f) = body(&format!(
            "{{\"log\":\"{esc}\\n\",\"stream\":\"stderr\",\"time\":\"2026-11-30T10:00:01.1Z\"}}"
        ));
        assert_eq!((b.as_str(), f), (NGINX, "docker-json"));
        assert!(t.is_some());
        let (b, t, f) = body(&format!(
            "{{\"__REALTIME_TIMESTAMP\":\"1796032801000000\",\"MESSAGE\":\"{esc}\",\"_PID\":\"812\"}}"
        ));
        assert_eq!((b.as_str(), f), (NGINX, "json"));
        assert!(t.is_some());
        // A fragment in JSON keeps the JSON's time.
        let (b, t, _) = body("{\"log\":\"upstream timed out\\n\",\"stream\":\"stderr\",\"time\":\"2026-11-30T10:00:01Z\"}");
        assert_eq!(b, "upstream timed out");
        assert!(t.is_some());
        assert_eq!(strip(b"{not json", Some(READ_AT)), None);
    }

    #[test]
    fn fragments_keep_the_prefix_time() {
        let (b, t, f) =
            body("nginx-1  | 2026-11-30T10:00:01.5Z connect() failed (111: Connection refused)");
        assert_eq!(b, "connect() failed (111: Connection refused)");
        assert_eq!(f, "docker-compose");
        assert_eq!(t, crate::logs::line::parse_time(b"2026/11/30 10:00:01"));
    }
}
