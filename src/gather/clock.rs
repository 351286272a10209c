//! The clock: the one place badgw asks the host for the time, as the logs' own local,
//! zone-less clock reads it (nginx writes local times without a zone).

use chrono::NaiveDateTime;

use crate::logs::line::LogTime;

/// Now, with the host's UTC offset.
pub fn now() -> chrono::DateTime<chrono::Local> {
    chrono::Local::now()
}

/// Now, in the host's local time.
pub fn now_local() -> NaiveDateTime {
    now().naive_local()
}

/// Now, as a log time (seconds of the local clock since 1970-01-01 00:00:00).
pub fn now_log_time() -> LogTime {
    crate::logs::naive_to_logtime(now_local())
}

/// Now in nginx's local time: the zone of the newest dated line of its access log
/// (`$time_local`'s `+0000`, `$time_iso8601`'s `-05:00`) when it has one, else this host's
/// (badgw's) zone. nginx writes its error log in that same zone without saying so, so the
/// window "the last 15 minutes" is cut on nginx's clock even when badgw runs under
/// another `TZ`.
pub fn now_in_log_zone(access_log: Option<&std::path::Path>) -> NaiveDateTime {
    access_log
        .and_then(zone_of_newest_line)
        .map(|z| chrono::Utc::now().with_timezone(&z).naive_local())
        .unwrap_or_else(now_local)
}

/// The zone of the last line of the file's final 4 KiB that carries one.
fn zone_of_newest_line(path: &std::path::Path) -> Option<chrono::FixedOffset> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = super::files::open_regular(path).ok()?.0;
    let len = f.metadata().ok()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(4096))).ok()?;
    let mut buf = Vec::with_capacity(4096);
    f.take(4096).read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf);
    text.lines().rev().find_map(zone_in_line)
}

/// `[23/Nov/2026:03:53:13 -0500]` or `2026-11-23T03:53:13-05:00` (or `Z`) in a line.
fn zone_in_line(line: &str) -> Option<chrono::FixedOffset> {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::Regex::new(
            r"\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} ([+-]\d{2})(\d{2})\]|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(Z|[+-]\d{2}:\d{2})",
        )
        .expect("zone pattern")
    });
    let c = re.captures(line)?;
    let z = match (c.get(1), c.get(2), c.get(3)) {
        (Some(h), Some(m), _) => format!("{}:{}", h.as_str(), m.as_str()),
        (_, _, Some(z)) if z.as_str() == "Z" => "+00:00".into(),
        (_, _, Some(z)) => z.as_str().to_string(),
        _ => return None,
    };
    chrono::DateTime::parse_from_rfc3339(&format!("2000-01-01T00:00:00{z}"))
        .ok()
        .map(|d| *d.offset())
}

#[cfg(test)]
mod tests {
    #[test]
    fn zones_of_access_log_lines() {
        let z = |l: &str| super::zone_in_line(l).map(|z| z.local_minus_utc());
        assert_eq!(
            z(r#"127.0.0.1 - - [23/Nov/2026:03:53:13 -0500] "GET / HTTP/1.1" 502 0"#),
            Some(-5 * 3600)
        );
        assert_eq!(z("ts=2026-11-23T03:53:13+01:00 status=502"), Some(3600));
        assert_eq!(z("ts=2026-11-23T03:53:13Z status=502"), Some(0));
        assert_eq!(z("no time here"), None);
    }
}
