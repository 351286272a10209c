//! The one grammar of durations and times on the command line: every `--since`,
//! `--until`, `--timeout`, `--deadline` and `--lb-idle-timeout` is read here.
//!
//! A duration is a number and a unit: `500ms`, `3s` (or `3sec`), `15m` (or `15min`),
//! `2h`, `1d`; decimals are allowed (`1.5h`) and a bare number is seconds. A time (for
//! explain-log's `--since`/`--until`) is `2026-11-22T10:00[:00]`, `2026-11-22 10:00:00`,
//! `2026/11/22 10:00:00` or a date `2026-11-22`, in the log's own local clock.

use std::time::Duration;

use anyhow::{anyhow, bail};

use crate::logs::line::LogTime;
use crate::logs::naive_to_logtime;

/// Longest duration accepted: long enough for any log, short enough that no arithmetic on
/// it overflows.
const MAX_SECS: f64 = 100.0 * 365.0 * 86400.0;

/// `500ms`, `3s`, `15m`, `2h`, `1d`, `1.5h`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> anyhow::Result<Duration> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| anyhow!("invalid duration {s:?}: expected e.g. 500ms, 3s, 15m, 2h, 1d"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "" | "s" | "sec" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86400.0,
        _ => bail!("invalid duration {s:?}: unknown unit {unit:?} (use ms, s, m, h or d)"),
    };
    if !secs.is_finite() || !(0.0..=MAX_SECS).contains(&secs) {
        bail!("invalid duration {s:?}");
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Explain-log's `--since`/`--until`: a duration back from `reference` (the log's last
/// record, or now) or a time.
pub fn parse_when(s: &str, reference: LogTime) -> anyhow::Result<LogTime> {
    let s = s.trim();
    if let Ok(d) = parse_duration(s) {
        return Ok(reference - d.as_secs() as i64);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("15min").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("90sec").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1.5h").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("1d").unwrap(), Duration::from_secs(86400));
        assert_eq!(parse_duration(" 2 ").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        for bad in [
            "3 parsecs",
            "3parsecs",
            "-1s",
            "",
            "s",
            "1y",
            "1e9d",
            "..",
            "9999999d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn whens_are_durations_back_or_times() {
        let reference = naive_to_logtime(
            chrono::NaiveDate::from_ymd_opt(2026, 11, 22)
                .unwrap()
                .and_hms_opt(12, 0, 0)
                .unwrap(),
        );
        assert_eq!(parse_when("15m", reference).unwrap(), reference - 900);
        assert_eq!(parse_when("1.5h", reference).unwrap(), reference - 5400);
        assert_eq!(parse_when("30", reference).unwrap(), reference - 30);
        let ten = reference - 2 * 3600;
        for t in [
            "2026-11-22T10:00",
            "2026-11-22T10:00:00",
            "2026-11-22 10:00:00",
            "2026/11/22 10:00:00",
        ] {
            assert_eq!(parse_when(t, reference).unwrap(), ten, "{t}");
        }
        assert_eq!(
            parse_when("2026-11-22", reference).unwrap(),
            reference - 12 * 3600
        );
        let e = parse_when("yesterday", reference).unwrap_err().to_string();
        assert!(e.contains("cannot understand time \"yesterday\""), "{e}");
    }
}
