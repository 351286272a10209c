//! Opening the logs `explain-log` reads: plain error-log files (read with `pread` by
//! [`super::plain_log`], never mapped), gzip files and standard input (streamed front to
//! back in blocks), and balancer logs (plain or gzip, line by line). Reading is here;
//! what the bytes mean is `logs`' (parse, classify, scan).
//!
//! Only inputs that cannot be read at all are errors, with exit status 2; content never
//! is (garbage becomes unparsed lines).

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use anyhow::Context;

use super::plain_log::{self, PlainFile};
use crate::exit::{fail, ExitStatus};
use crate::logs::line::LogTime;
use crate::logs::scan::{self, ScanOptions, Stats};

/// How an error-log input is read.
pub enum ErrorSource {
    /// An empty plain file.
    Empty,
    /// gzip, stdin, a FIFO or a device: read front to back.
    Stream(Box<dyn BufRead>),
    /// A non-empty regular file: random access with `pread` (binary search, two threads).
    Plain(PlainFile),
}

/// An opened error-log input.
pub struct ErrorInput {
    /// The name shown in reports ("(stdin)" for `-`).
    pub name: String,
    pub source: ErrorSource,
    /// Time of its first record, to read several inputs in time order.
    pub first: Option<LogTime>,
}

impl ErrorInput {
    /// Time of the last record of a plain file (None for streams: they are read once).
    pub fn last_time(&self) -> Option<LogTime> {
        match &self.source {
            ErrorSource::Plain(p) => p.last_time().ok().flatten(),
            _ => None,
        }
    }

    /// Reads and scans the whole input (for a plain file, only the part binary search
    /// says can hold the window).
    pub fn scan(self, opts: ScanOptions) -> anyhow::Result<Stats> {
        let name = self.name;
        match self.source {
            ErrorSource::Empty => Ok(Stats::default()),
            ErrorSource::Stream(r) => scan_stream(r, opts),
            ErrorSource::Plain(p) => p.scan(opts, &|_| {}),
        }
        .map_err(|e| match e.downcast_ref::<plain_log::Shrank>() {
            Some(s) => anyhow::anyhow!("{name} {s}"),
            None => e.context(format!("reading {name}")),
        })
        .map_err(|e| fail(ExitStatus::Usage, e))
    }
}

/// The error for an input that cannot be read at all (exit 2).
fn unreadable(path: &Path, e: std::io::Error) -> anyhow::Error {
    let hint = if e.kind() == std::io::ErrorKind::PermissionDenied {
        " (try sudo, or add yourself to the adm group)"
    } else {
        ""
    };
    fail(
        ExitStatus::Usage,
        anyhow::anyhow!("cannot read {}: {}{hint}", path.display(), e),
    )
}

fn stream(name: String, r: impl Read + 'static) -> ErrorInput {
    let mut r: Box<dyn BufRead> = Box::new(BufReader::with_capacity(1 << 20, r));
    let first = r.fill_buf().ok().and_then(scan::first_time);
    ErrorInput {
        name,
        source: ErrorSource::Stream(r),
        first,
    }
}

/// Opens an error log: `-` is standard input, gzip is recognised by its magic bytes.
pub fn open_error_input(path: &Path) -> anyhow::Result<ErrorInput> {
    let name = path.display().to_string();
    if name == "-" {
        return Ok(stream("(stdin)".into(), std::io::stdin()));
    }
    let meta = std::fs::metadata(path).map_err(|e| unreadable(path, e))?;
    if meta.is_dir() {
        return Err(fail(
            ExitStatus::Usage,
            anyhow::anyhow!("cannot read {}: it is a directory, not a log file", name),
        ));
    }
    let file = File::open(path).map_err(|e| unreadable(path, e))?;
    if !meta.is_file() {
        // FIFOs and devices have no size to search in: read as streams. The gzip magic is
        // peeked in the buffer, never consumed (a FIFO cannot be read twice).
        let mut r = BufReader::with_capacity(1 << 20, file);
        let gz = r.fill_buf().is_ok_and(|b| b.starts_with(&[0x1f, 0x8b]));
        return Ok(if gz {
            stream(name, flate2::read::MultiGzDecoder::new(r))
        } else {
            stream(name, r)
        });
    }
    let mut magic = [0u8; 2];
    let n = std::os::unix::fs::FileExt::read_at(&file, &mut magic, 0)
        .map_err(|e| unreadable(path, e))?;
    if n == 2 && magic == [0x1f, 0x8b] {
        let dec = flate2::read::MultiGzDecoder::new(BufReader::with_capacity(1 << 20, file));
        return Ok(stream(name, dec));
    }
    if meta.len() == 0 {
        return Ok(ErrorInput {
            name,
            source: ErrorSource::Empty,
            first: None,
        });
    }
    let p = PlainFile::new(file, meta.len());
    let first = p
        .first_time()
        .with_context(|| name.clone())
        .map_err(|e| fail(ExitStatus::Usage, e))?;
    Ok(ErrorInput {
        name,
        source: ErrorSource::Plain(p),
        first,
    })
}

/// Scans a stream (gzip, stdin) in blocks; memory stays at a few blocks except for a
/// single record longer than that, which is kept whole (capped at 64 MiB).
pub fn scan_stream(mut r: Box<dyn BufRead>, opts: ScanOptions) -> anyhow::Result<Stats> {
    const BLOCK: usize = plain_log::BLOCK;
    const MAX_CARRY: usize = 64 << 20;
    let mut scanner = scan::Scanner::new(opts);
    let mut buf: Vec<u8> = Vec::with_capacity(2 * BLOCK);
    loop {
        let old = buf.len();
        buf.resize(old + BLOCK, 0);
        let n = loop {
            match r.read(&mut buf[old..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
        };
        buf.truncate(old + n);
        if n == 0 {
            scanner.feed(&buf, true);
            break;
        }
        let used = scanner.feed(&buf, buf.len() > MAX_CARRY);
        buf.drain(..used.min(buf.len()));
    }
    Ok(scanner.stats)
}

/// The first `n` bytes of a file (decompressing .gz), to recognise its format; None when
/// it cannot be opened or is standard input (never consumed to guess).
pub fn head(path: &Path, n: usize) -> Option<Vec<u8>> {
    if path.as_os_str() == "-" {
        return None;
    }
    let f = File::open(path).ok()?;
    let mut r: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::MultiGzDecoder::new(f))
    } else {
        Box::new(f)
    };
    let mut buf = vec![0u8; n];
    let mut got = 0;
    while got < n {
        match r.read(&mut buf[got..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => got += k,
        }
    }
    buf.truncate(got);
    Some(buf)
}

/// A balancer log opened for reading line by line (`.gz` decompressed).
pub fn open_lines(path: &Path) -> anyhow::Result<Box<dyn BufRead>> {
    let f = File::open(path).map_err(|e| {
        fail(
            ExitStatus::Usage,
            anyhow::anyhow!("cannot read {}: {e}", path.display()),
        )
    })?;
    Ok(if path.extension().is_some_and(|e| e == "gz") {
        Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(f)))
    } else {
        Box::new(BufReader::with_capacity(1 << 20, f))
    })
}
