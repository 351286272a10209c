//! The one binary search over a time-ordered log: where to start (and stop) reading to see
//! every line of a time window, without reading what comes before. Used for error logs in
//! memory (`diagnose`'s tail) and on disk (`explain-log --since/--until`, through
//! `gather::plain_log`, which reads with `pread`), and for access logs; what a line's time
//! is comes from the caller (`line::parse_time`, or an access-log format's parser).
//!
//! Logs are only nearly sorted: workers write concurrently, so seconds interleave, and
//! lines without a time (continuations, garbage) sit between. The search probes the first
//! line with a time at or after a point, so unparsable lines are stepped over; the answer
//! backs off by a margin and the caller still filters each line by its time.

use std::borrow::Cow;

use super::line::LogTime;

/// A byte source the search reads small windows of.
pub trait ByteSource {
    /// Its length in bytes.
    fn size(&self) -> u64;
    /// Bytes `[off, off + n)`, clipped to the length.
    fn window(&self, off: u64, n: usize) -> anyhow::Result<Cow<'_, [u8]>>;
}

impl ByteSource for [u8] {
    fn size(&self) -> u64 {
        <[u8]>::len(self) as u64
    }
    fn window(&self, off: u64, n: usize) -> anyhow::Result<Cow<'_, [u8]>> {
        let start = (off as usize).min(<[u8]>::len(self));
        let end = start.saturating_add(n).min(<[u8]>::len(self));
        Ok(Cow::Borrowed(&self[start..end]))
    }
}

/// Reads the time at the start of one line (without its newline); None when it has none.
pub type LineTime<'a> = &'a dyn Fn(&[u8]) -> Option<LogTime>;

/// How far each probe looks for a line with a time (and for a line boundary).
const PROBE: usize = 64 << 10;
/// The search stops when the bracket is this narrow.
const MIN_GAP: u64 = 4096;

/// Margins for error logs: records can be out of order by seconds, and multi-line records
/// (PHP traces) are long.
pub const ERROR_LOG_MARGIN: u64 = 256 << 10;
/// Margin for access logs: one line per request, out of order by a worker's buffer.
pub const ACCESS_LOG_MARGIN: u64 = 64 << 10;

/// Time of the first line with one that starts at or after `off` (within [`PROBE`]).
fn time_from<S: ByteSource + ?Sized>(
    src: &S,
    off: u64,
    time: LineTime<'_>,
) -> anyhow::Result<Option<LogTime>> {
    // One byte before `off`, so that a line starting exactly at `off` is seen whole.
    let from = off.saturating_sub(1);
    let w = src.window(from, PROBE + 1)?;
    let mut pos = if off == 0 {
        0
    } else {
        match memchr::memchr(b'\n', &w) {
            Some(p) => p + 1,
            None => return Ok(None),
        }
    };
    while pos < w.len() {
        let end = memchr::memchr(b'\n', &w[pos..]).map_or(w.len(), |p| pos + p);
        if let Some(t) = time(&w[pos..end]) {
            return Ok(Some(t));
        }
        pos = end + 1;
    }
    Ok(None)
}

/// Binary search: `(lo, hi)` with the first line (with a time) after `lo` older than `t`
/// and the first after `hi` not older, `hi - lo` at most 4 KiB (or `(0, len)` when
/// the source is that small).
pub fn bracket<S: ByteSource + ?Sized>(
    src: &S,
    t: LogTime,
    time: LineTime<'_>,
) -> anyhow::Result<(u64, u64)> {
    let (mut lo, mut hi) = (0u64, src.size());
    while hi - lo > MIN_GAP {
        let mid = lo + (hi - lo) / 2;
        match time_from(src, mid, time)? {
            Some(x) if x < t => lo = mid,
            _ => hi = mid,
        }
    }
    Ok((lo, hi))
}

/// Start of the line holding byte `off` (searching [`PROBE`] back; `off - PROBE` when a
/// line is longer).
fn line_start<S: ByteSource + ?Sized>(src: &S, off: u64) -> anyhow::Result<u64> {
    if off == 0 {
        return Ok(0);
    }
    let from = off.saturating_sub(PROBE as u64);
    let w = src.window(from, (off - from) as usize)?;
    Ok(memchr::memrchr(b'\n', &w).map_or(from, |p| from + p as u64 + 1))
}

/// Where to start reading to see every line with a time ≥ `t`: `margin` bytes before the
/// search's answer, at a line start. 0 when every line is that recent (or none has a
/// time); near the end when every line is older.
pub fn start_offset<S: ByteSource + ?Sized>(
    src: &S,
    t: LogTime,
    time: LineTime<'_>,
    margin: u64,
) -> anyhow::Result<u64> {
    let (lo, _) = bracket(src, t, time)?;
    line_start(src, lo.saturating_sub(margin))
}

/// Where to stop reading to see every line with a time < `t`: `margin` bytes after the
/// search's answer, after a line end; the length when that is past the end.
pub fn end_offset<S: ByteSource + ?Sized>(
    src: &S,
    t: LogTime,
    time: LineTime<'_>,
    margin: u64,
) -> anyhow::Result<u64> {
    let (_, hi) = bracket(src, t, time)?;
    let len = src.size();
    let fwd = hi.saturating_add(margin);
    if fwd >= len {
        return Ok(len);
    }
    let w = src.window(fwd, PROBE)?;
    Ok(memchr::memchr(b'\n', &w).map_or(len.min(fwd + w.len() as u64), |p| fwd + p as u64 + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines "T text", T seconds; "-" lines have no time.
    fn time(line: &[u8]) -> Option<LogTime> {
        let digits = line.iter().take_while(|b| b.is_ascii_digit()).count();
        std::str::from_utf8(&line[..digits]).ok()?.parse().ok()
    }

    /// `n` lines, one per second from 1000, each padded to `width` bytes; every `gap`-th
    /// line is followed by an unparsable line.
    fn log(n: i64, width: usize, gap: i64) -> Vec<u8> {
        let mut v = Vec::new();
        for i in 0..n {
            let mut l = format!("{} [error] something happened", 1000 + i);
            l.push_str(&"x".repeat(width.saturating_sub(l.len())));
            v.extend_from_slice(l.as_bytes());
            v.push(b'\n');
            if gap > 0 && i % gap == 0 {
                v.extend_from_slice(b"- a continuation line without a time\n");
            }
        }
        v
    }

    /// Every line with time ≥ t lies at or after the start; every line with time < t
    /// before the end; both are line boundaries.
    fn check(data: &[u8], t: LogTime, margin: u64) {
        let s = start_offset(data, t, &time, margin).unwrap() as usize;
        let e = end_offset(data, t, &time, margin).unwrap() as usize;
        assert!(s == 0 || data[s - 1] == b'\n', "start {s} not a line start");
        assert!(
            e == data.len() || data[e - 1] == b'\n',
            "end {e} not a line end"
        );
        let mut pos = 0;
        for l in data.split_inclusive(|&b| b == b'\n') {
            if let Some(x) = time(l) {
                if x >= t {
                    assert!(pos >= s, "line at {pos} (time {x} ≥ {t}) before start {s}");
                } else {
                    assert!(pos < e, "line at {pos} (time {x} < {t}) after end {e}");
                }
            }
            pos += l.len();
        }
    }

    #[test]
    fn an_empty_source_is_read_from_0_to_0() {
        let empty: &[u8] = b"";
        assert_eq!(start_offset(empty, 5, &time, 0).unwrap(), 0);
        assert_eq!(end_offset(empty, 5, &time, 0).unwrap(), 0);
    }

    #[test]
    fn one_line_is_read_whole_whatever_the_bound() {
        let one: &[u8] = b"1000 one line\n";
        for t in [0, 1000, 5000] {
            assert_eq!(start_offset(one, t, &time, 0).unwrap(), 0);
            assert_eq!(end_offset(one, t, &time, 0).unwrap(), one.len() as u64);
        }
    }

    #[test]
    fn every_window_holds_its_lines_in_a_long_log() {
        // 40,000 lines of 200 bytes (8 MB): many halvings, margins far smaller than it.
        let data = log(40_000, 200, 7);
        for t in [0, 999, 1000, 1001, 13_333, 20_000, 40_999, 41_000, 99_999] {
            check(&data, t, 0);
            check(&data, t, ERROR_LOG_MARGIN);
        }
        // The search reads little: a window in the middle starts near it.
        let mid = start_offset(&data[..], 21_000, &time, 0).unwrap();
        let exact = data.len() as u64 / 2;
        assert!(mid.abs_diff(exact) < 64 << 10, "{mid} vs {exact}");
    }

    #[test]
    fn all_lines_before_or_after_the_window() {
        let data = log(5_000, 100, 0);
        // Every line is older than t: start near the end, end at the end.
        let s = start_offset(&data[..], 1_000_000, &time, 0).unwrap();
        assert!(data.len() as u64 - s <= 2 * MIN_GAP, "{s}");
        assert_eq!(
            end_offset(&data[..], 1_000_000, &time, 0).unwrap(),
            data.len() as u64
        );
        // Every line is newer than t: start at 0, end near the start.
        assert_eq!(start_offset(&data[..], 0, &time, 0).unwrap(), 0);
        let e = end_offset(&data[..], 0, &time, 0).unwrap();
        assert!(e <= 2 * MIN_GAP, "{e}");
    }

    #[test]
    fn unparsable_lines_between_are_stepped_over() {
        // Long runs of lines without a time between timed ones.
        let mut data = Vec::new();
        for i in 0..2_000 {
            data.extend_from_slice(format!("{} timed\n", 1000 + i).as_bytes());
            for _ in 0..(i % 13) {
                data.extend_from_slice(b"garbage \x00\xff without a time\n");
            }
        }
        for t in [1000, 1500, 2999, 3000] {
            check(&data, t, 0);
        }
        // Nothing has a time at all: read from the start.
        let garbage = b"no time here\n".repeat(10_000);
        assert_eq!(start_offset(&garbage[..], 5, &time, 0).unwrap(), 0);
    }
}
