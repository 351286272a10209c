//! Pure parsers of host formats: kernel log, systemd, PM2, PHP-FPM, /proc files.
//!
//! Every parser takes text or bytes and returns typed values with line numbers. They never
//! touch the host, never read the clock and never panic on malformed input: an unknown or
//! damaged line is skipped, not an error. `gather` feeds them; tests feed them recordings
//! from `fixtures/host/`.

pub mod app_args;
pub mod container;
pub mod fpm;
pub mod kernel;
pub mod pm2;
pub mod proc;
pub mod proc_net;
pub mod process_role;
pub mod supervisord;
pub mod systemd;

/// Splits bytes into (1-based line number, line) with invalid UTF-8 replaced, so one bad
/// byte never hides the rest of a log.
pub fn lines(input: &[u8]) -> impl Iterator<Item = (u64, String)> + '_ {
    input
        .split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, l)| {
            let l = l.strip_suffix(b"\r").unwrap_or(l);
            (i as u64 + 1, String::from_utf8_lossy(l).into_owned())
        })
        .filter(|(_, l)| !l.is_empty())
}

/// The value after `key` up to the next delimiter in `delims` (or the end).
pub(crate) fn field_after<'a>(s: &'a str, key: &str, delims: &[char]) -> Option<&'a str> {
    let start = s.find(key)? + key.len();
    let rest = s.get(start..)?;
    let end = rest.find(|c| delims.contains(&c)).unwrap_or(rest.len());
    rest.get(..end)
}

/// Parses "123kB" / "123" into kB.
pub(crate) fn parse_kb(s: &str) -> Option<u64> {
    s.trim().trim_end_matches("kB").trim().parse().ok()
}

/// Month abbreviation to number (syslog, dmesg -T, journal short); it lives with the
/// typed times, which read the same abbreviations.
pub(crate) use crate::facts::time::month_number;
