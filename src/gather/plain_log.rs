//! Plain error-log files read with `pread` only: never memory-mapped, so a file truncated
//! while it is read (logrotate `copytruncate`, `> error.log`) cannot fault the process
//! with SIGBUS; a read that ends before the size seen at open is reported as a shrink,
//! never as silently partial counts.
//!
//! Random access (first/last record time, binary search for `--since`/`--until`, the split
//! point for the second thread) reads small windows; the scan reads fixed blocks into one
//! buffer per thread, reused (see [`BLOCK`]).

use std::fs::File;
use std::os::unix::fs::FileExt;

use super::files::human_bytes;
use crate::logs::line::{self, LogTime};
use crate::logs::scan::{self, ScanOptions, Scanner, Stats};
use crate::logs::seek::{self, ByteSource};

/// Scan block. 4 MiB blocks (two threads: 8 MiB of destination plus the carry moves) do
/// not fit the L2/L3 share of a core, so the kernel's copy into them (`_copy_to_iter`)
/// ran at DRAM speed and the scanner then read each block back from DRAM again; a block
/// that stays in cache between the copy and the scan costs about half (docs/performance.md).
pub const BLOCK: usize = 512 << 10;

/// [`BLOCK`], or `BADGW_SCAN_BLOCK_KIB` when set: the knob `scripts/bench_explain_log.sh`
/// turns to compare block sizes with one binary in one run (not a user setting).
pub fn block() -> usize {
    static B: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *B.get_or_init(|| {
        std::env::var("BADGW_SCAN_BLOCK_KIB")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|&k| (4..=65536).contains(&k))
            .map_or(BLOCK, |k| k << 10)
    })
}
/// A single record longer than this is processed in pieces.
const MAX_CARRY: usize = 64 << 20;

/// The file got shorter than it was when opened, while it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shrank {
    pub from: u64,
    pub to: u64,
}

impl std::fmt::Display for Shrank {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "shrank from {} to {} while being read (rotated or truncated): the counts would be partial, run again",
            human_bytes(self.from),
            human_bytes(self.to)
        )
    }
}

impl std::error::Error for Shrank {}

impl ByteSource for PlainFile {
    fn size(&self) -> u64 {
        self.len
    }
    fn window(&self, off: u64, n: usize) -> anyhow::Result<std::borrow::Cow<'_, [u8]>> {
        Ok(std::borrow::Cow::Owned(PlainFile::window(self, off, n)?))
    }
}

/// A plain file and the size it had when opened (the part that is read).
pub struct PlainFile {
    pub file: File,
    pub len: u64,
}

impl PlainFile {
    pub fn new(file: File, len: u64) -> Self {
        PlainFile { file, len }
    }

    fn shrank(&self) -> anyhow::Error {
        let to = self.file.metadata().map_or(0, |m| m.len());
        Shrank { from: self.len, to }.into()
    }

    /// Reads `[off, off+n)` clipped to the size at open; a short read is a shrink.
    pub fn read(&self, off: u64, n: usize, buf: &mut Vec<u8>) -> anyhow::Result<()> {
        let n = n.min(self.len.saturating_sub(off) as usize);
        buf.clear();
        buf.resize(n, 0);
        let mut got = 0;
        while got < n {
            match self.file.read_at(&mut buf[got..], off + got as u64) {
                Ok(0) => return Err(self.shrank()),
                Ok(k) => got += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    fn window(&self, off: u64, n: usize) -> anyhow::Result<Vec<u8>> {
        let mut v = Vec::new();
        self.read(off, n, &mut v)?;
        Ok(v)
    }

    /// Time of the first record (within the first MiB).
    pub fn first_time(&self) -> anyhow::Result<Option<LogTime>> {
        Ok(scan::first_time(&self.window(0, 1 << 20)?))
    }

    /// Time of the last record (within the last MiB).
    pub fn last_time(&self) -> anyhow::Result<Option<LogTime>> {
        let off = self.len.saturating_sub(1 << 20);
        Ok(scan::last_time(&self.window(off, 1 << 20)?))
    }

    /// Where to start reading to see every record with time >= `t` (the binary search
    /// of [`seek`], 256 KiB before its answer, for disorder).
    pub fn seek_time(&self, t: LogTime) -> anyhow::Result<u64> {
        seek::start_offset(self, t, &line::parse_time, seek::ERROR_LOG_MARGIN)
    }

    /// Where to stop reading to see every record with time < `t`.
    pub fn seek_time_end(&self, t: LogTime) -> anyhow::Result<u64> {
        seek::end_offset(self, t, &line::parse_time, seek::ERROR_LOG_MARGIN)
    }

    /// Offset of the first record starting after `from` (within 4 MiB).
    pub fn record_boundary_after(&self, from: u64) -> anyhow::Result<Option<u64>> {
        let w = self.window(from, 4 << 20)?;
        Ok(scan::record_boundary_after(&w, 0).map(|p| from + p as u64))
    }

    /// Newlines in `[0, end)`.
    pub fn count_lines(&self, end: u64) -> anyhow::Result<u64> {
        let mut buf = Vec::new();
        let (mut off, mut n) = (0u64, 0u64);
        while off < end {
            let want = BLOCK.min((end - off) as usize);
            self.read(off, want, &mut buf)?;
            n += memchr::memchr_iter(b'\n', &buf).count() as u64;
            off += want as u64;
        }
        Ok(n)
    }

    /// Reads `[start, end)` in blocks and scans it; `on_block` is called with the offset
    /// reached after each block (a test hook: truncating the file there must be reported).
    pub fn scan_range(
        &self,
        start: u64,
        end: u64,
        opts: ScanOptions,
        on_block: &(dyn Fn(u64) + Sync),
    ) -> anyhow::Result<Scanner> {
        let mut sc = Scanner::new(opts);
        // One allocation, reused: `filled` bytes are valid; the carry (an unfinished
        // record, usually under 2 KiB) moves to the front after each block.
        let block = block();
        let mut buf: Vec<u8> = vec![0; 2 * block];
        let mut filled = 0usize;
        let mut off = start;
        loop {
            let want = block.min((end - off) as usize);
            if buf.len() < filled + want {
                buf.resize(filled + want, 0);
            }
            let mut got = 0;
            while got < want {
                match self
                    .file
                    .read_at(&mut buf[filled + got..filled + want], off + got as u64)
                {
                    Ok(0) => return Err(self.shrank()),
                    Ok(n) => got += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e.into()),
                }
            }
            filled += got;
            off += got as u64;
            on_block(off);
            let last = off >= end;
            let used = sc.feed(&buf[..filled], last || filled > MAX_CARRY);
            if last {
                break;
            }
            let used = used.min(filled);
            buf.copy_within(used..filled, 0);
            filled -= used;
        }
        // A file cut after the last block was read would go unnoticed otherwise.
        let now = self.file.metadata().map_or(self.len, |m| m.len());
        if now < end {
            return Err(Shrank {
                from: self.len,
                to: now,
            }
            .into());
        }
        Ok(sc)
    }

    /// Scans the file; with bounds, only the part binary search says can hold them. The
    /// range is split at a record boundary near the middle and each half is read by its
    /// own thread (page-cache speed on two cores).
    pub fn scan(
        &self,
        opts: ScanOptions,
        on_block: &(dyn Fn(u64) + Sync),
    ) -> anyhow::Result<Stats> {
        const MIN_SPLIT: u64 = 8 << 20;
        let start = opts.since.map_or(Ok(0), |t| self.seek_time(t))?;
        let end = opts
            .until
            .map_or(Ok(self.len), |t| self.seek_time_end(t))?
            .max(start);
        let two = std::thread::available_parallelism().map_or(1, |n| n.get()) > 1;
        let mid = if two && end - start >= MIN_SPLIT {
            self.record_boundary_after(start + (end - start) / 2)?
                .filter(|&m| m < end)
        } else {
            None
        };
        let mut stats = match mid {
            None => self.scan_range(start, end, opts, on_block)?.stats,
            Some(mid) => {
                let (a, b) = std::thread::scope(|scope| {
                    let h = scope.spawn(|| self.scan_range(mid, end, opts, on_block));
                    let a = self.scan_range(start, mid, opts, on_block);
                    let b = h
                        .join()
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("scanner thread failed")));
                    (a, b)
                });
                let a = a?;
                let b = b?;
                let mut st = a.stats;
                st.merge(b.stats, a.lines_seen);
                st
            }
        };
        if start > 0 && opts.keep_events {
            // Line numbers are file-relative: count the lines before the window.
            let before = self.count_lines(start)?;
            for e in stats
                .events
                .iter_mut()
                .chain(stats.disabled_notes.iter_mut())
            {
                e.line += before;
            }
        }
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::mpsc;

    fn log_file(lines: usize) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        let mut w = std::io::BufWriter::new(f.as_file_mut());
        for i in 0..lines {
            writeln!(w, "2026/11/22 10:{:02}:{:02} [error] 7#7: *{i} connect() failed (111: Connection refused) while connecting to upstream, client: 10.0.0.1, server: a, request: \"GET / HTTP/1.1\", upstream: \"http://127.0.0.1:3000/\", host: \"a\"", (i / 60) % 60, i % 60).unwrap();
        }
        w.flush().unwrap();
        drop(w);
        f
    }

    #[test]
    fn same_answer_as_scanning_the_whole_buffer() {
        let f = log_file(60_000);
        let data = std::fs::read(f.path()).unwrap();
        let p = PlainFile::new(File::open(f.path()).unwrap(), data.len() as u64);
        let opts = ScanOptions::default();
        let got = p.scan(opts, &|_| {}).unwrap();
        let mut sc = Scanner::new(opts);
        sc.feed(&data, true);
        assert_eq!(got.failures, 60_000);
        assert_eq!(got.failures, sc.stats.failures);
        assert_eq!(got.lines_total, sc.stats.lines_total);
        // Windows agree with the in-memory binary search.
        let t = crate::logs::line::parse_time(b"2026/11/22 10:30:00").unwrap();
        let on_disk = (p.seek_time(t).unwrap(), p.seek_time_end(t).unwrap());
        let in_memory = (
            seek::start_offset(&data[..], t, &line::parse_time, seek::ERROR_LOG_MARGIN).unwrap(),
            seek::end_offset(&data[..], t, &line::parse_time, seek::ERROR_LOG_MARGIN).unwrap(),
        );
        assert_eq!(on_disk, in_memory);
        assert_eq!(p.last_time().unwrap(), scan::last_time(&data));
    }

    /// A thread truncates the file while the scan reads it (logrotate copytruncate): the
    /// scan must neither fault (it never maps the file) nor return partial counts.
    #[test]
    fn a_file_truncated_while_read_is_reported_as_shrunk() {
        let f = log_file(150_000); // ~33 MiB: several blocks per thread
        let path = f.path().to_path_buf();
        let len = std::fs::metadata(&path).unwrap().len();
        let p = PlainFile::new(File::open(&path).unwrap(), len);
        let (go, truncate) = mpsc::channel::<()>();
        let (done, truncated) = mpsc::channel::<()>();
        let truncator = std::thread::spawn(move || {
            if truncate.recv().is_ok() {
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .unwrap()
                    .set_len(0)
                    .unwrap();
                let _ = done.send(());
            }
        });
        let go = std::sync::Mutex::new(Some((go, truncated)));
        let err = p
            .scan(ScanOptions::default(), &|_| {
                // After the first block: let the other thread truncate, wait for it.
                if let Some((go, truncated)) = go.lock().unwrap().take() {
                    go.send(()).unwrap();
                    truncated.recv().unwrap();
                }
            })
            .expect_err("a truncated file must not give counts");
        truncator.join().unwrap();
        let shrank = err.downcast_ref::<Shrank>().expect("a Shrank error");
        assert_eq!(*shrank, Shrank { from: len, to: 0 });
        assert!(err.to_string().starts_with("shrank from "), "{err}");
        assert!(err.to_string().contains(" MiB to 0 B"), "{err}");
    }
}
