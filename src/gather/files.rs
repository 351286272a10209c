//! The one way diagnose reads a file of the host: regular files only, bounded in bytes.
//!
//! A host that is failing is full of traps for a reader: nginx's official Docker image
//! logs to `/dev/stdout` and `/dev/stderr`, a FIFO blocks `open()` until a writer comes,
//! `/dev/zero` never ends, a sparse 5 GB log is mostly holes, and logrotate's
//! `copytruncate` shrinks a log while it is read (which turns a memory map into SIGBUS).
//! So every file is opened with `O_NONBLOCK | O_NOCTTY` (opening a FIFO returns at
//! once, a terminal never becomes ours), checked with `fstat` on the opened descriptor
//! (no race between check and read), refused unless it is a regular file (naming what
//! it is instead), and read with `pread` into memory up to a byte cap: the whole file
//! ([`read_all`], configuration) or its tail ([`read_tail`], logs). A file that shrinks
//! while it is read is reported ([`Tail::shrank`]), never a crash.
//!
//! Also [`HostFiles`]: the stat-only view of the file system the route's phase engine
//! asks (index, try_files, `if -f`).

use std::fs::{File, Metadata};
use std::io::ErrorKind;
use std::os::unix::fs::{FileExt, FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::nginx::phases::{FileView, Stat};

/// Why a file was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// open() or fstat() failed: errno and its text.
    Io { errno: Option<i32>, message: String },
    /// Not a regular file: what it is, and what to do instead.
    NotRegular { what: String, hint: String },
    /// Larger than the cap of a whole-file read.
    TooLarge { size: u64, cap: u64 },
}

/// A file that could not be read, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub path: PathBuf,
    pub refusal: Refusal,
}

impl FileError {
    /// The reason alone, e.g. "(2: No such file or directory)" or "it is a FIFO …".
    pub fn reason(&self) -> String {
        match &self.refusal {
            Refusal::Io {
                errno: Some(n),
                message,
            } => format!("({n}: {message})"),
            Refusal::Io {
                errno: None,
                message,
            } => message.clone(),
            Refusal::NotRegular { what, hint } => {
                format!("it is {what}, not a regular file: {hint}")
            }
            Refusal::TooLarge { size, cap } => format!(
                "it is {} long, more than the {} badgw reads of such a file",
                human_bytes(*size),
                human_bytes(*cap)
            ),
        }
    }

    pub fn is_permission_denied(&self) -> bool {
        matches!(self.refusal, Refusal::Io { errno: Some(n), .. } if n == libc::EACCES || n == libc::EPERM)
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self.refusal, Refusal::Io { errno: Some(n), .. } if n == libc::ENOENT)
    }
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot read {}: {}", self.path.display(), self.reason())
    }
}

impl std::error::Error for FileError {}

/// "1.0 GiB", "512 KiB", "17 B".
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn io_refusal(path: &Path, e: &std::io::Error) -> FileError {
    let errno = e.raw_os_error();
    let message = match errno {
        Some(n) => nix::errno::Errno::from_raw(n).desc().to_string(),
        None => e.to_string(),
    };
    FileError {
        path: path.to_path_buf(),
        refusal: Refusal::Io { errno, message },
    }
}

/// A name that stands for a process's standard stream, not a file: `/dev/stdout`,
/// `/dev/stderr`, `/dev/fd/N`, `/proc/self/fd/N`, `/proc/PID/fd/N`. Opening one would
/// read *badgw's own* stream, so it is refused by name, before any open().
pub fn stream_name(path: &Path) -> Option<&'static str> {
    let s = path.to_str()?;
    match s {
        "/dev/stdout" | "/proc/self/fd/1" | "/dev/fd/1" => Some("standard output"),
        "/dev/stderr" | "/proc/self/fd/2" | "/dev/fd/2" => Some("standard error"),
        "/dev/stdin" | "/proc/self/fd/0" | "/dev/fd/0" => Some("standard input"),
        _ if s.starts_with("/dev/fd/")
            || (s.starts_with("/proc/") && s.contains("/fd/"))
            || s == "/dev/tty"
            || s == "/dev/console" =>
        {
            Some("a file descriptor or terminal")
        }
        _ => None,
    }
}

const STREAM_HINT: &str = "nginx writes there, not to a file (the official nginx Docker image does this): read its logs with `docker logs <container>` or `journalctl -u nginx`, or pass a copy with --error-log/--access-log FILE";

/// Opens `path` for reading without blocking and without acquiring a terminal, and
/// refuses anything but a regular file. Nothing is read from a refused file.
pub fn open_regular(path: &Path) -> Result<(File, Metadata), FileError> {
    if let Some(stream) = stream_name(path) {
        return Err(FileError {
            path: path.to_path_buf(),
            refusal: Refusal::NotRegular {
                what: format!("the writing process's {stream}"),
                hint: STREAM_HINT.into(),
            },
        });
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| io_refusal(path, &e))?;
    let meta = file.metadata().map_err(|e| io_refusal(path, &e))?;
    let ft = meta.file_type();
    if ft.is_file() {
        return Ok((file, meta));
    }
    let (what, hint) = if ft.is_fifo() {
        (
            "a FIFO (named pipe)",
            "reading it would wait for a writer or consume what another reader expects; point badgw at a regular log file",
        )
    } else if ft.is_char_device() {
        let name = path.to_string_lossy();
        if name.starts_with("/dev/pts/") || name.starts_with("/dev/tty") {
            ("a terminal", STREAM_HINT)
        } else {
            (
                "a character device",
                "a device never ends or blocks; point badgw at a regular file",
            )
        }
    } else if ft.is_block_device() {
        (
            "a block device",
            "point badgw at a regular file, not a disk",
        )
    } else if ft.is_socket() {
        (
            "a unix socket",
            "nginx logs to it through syslog or a collector: read the logs where that collector stores them",
        )
    } else if ft.is_dir() {
        ("a directory", "name a file inside it")
    } else {
        ("not a regular file", "point badgw at a regular file")
    };
    Err(FileError {
        path: path.to_path_buf(),
        refusal: Refusal::NotRegular {
            what: what.into(),
            hint: hint.into(),
        },
    })
}

/// Reads `len` bytes at `offset` with pread, stopping early at end of file (a file
/// truncated under us). Returns the bytes read.
fn pread_into(file: &File, buf: &mut Vec<u8>, offset: u64, len: usize) -> std::io::Result<()> {
    let start = buf.len();
    buf.resize(start + len, 0);
    let mut got = 0usize;
    while got < len {
        match file.read_at(&mut buf[start + got..], offset + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                buf.truncate(start + got);
                return Err(e);
            }
        }
    }
    buf.truncate(start + got);
    Ok(())
}

/// Largest configuration file read (nginx configurations with big maps stay far below).
pub const MAX_CONF_FILE: u64 = 64 << 20;

/// Reads an nginx configuration file for `nginx::load` (its `tree::ReadFile`). Regular
/// files only, bounded: a FIFO or /dev/zero as a configuration file becomes an issue at its
/// include line, never a hang or unbounded growth.
pub fn read_config(path: &Path) -> Result<Vec<u8>, String> {
    read_all(path, MAX_CONF_FILE).map_err(|e| e.reason())
}

/// [`read_config`] of nginx's `path` under `root` (its `/proc/PID/root`), following links
/// inside that root as nginx would (`nginx::tree::ReadRooted`).
pub fn read_config_in(root: &Path, path: &Path) -> Result<Vec<u8>, String> {
    match super::ns::resolve_in_root(Some(root), &path.to_string_lossy()) {
        super::ns::Resolved::File(f) => read_config(&f),
        super::ns::Resolved::Stream(s) => Err(format!("{}: a link to {s}", path.display())),
    }
}

/// How `nginx::load` reaches configuration files on this host's disk.
pub const CONFIG: crate::nginx::tree::FileAccess = crate::nginx::tree::FileAccess {
    read: read_config,
    glob: config_glob,
};

/// How `nginx::load_in` reaches an nginx's files under its `/proc/PID/root`.
pub const CONFIG_IN: crate::nginx::tree::RootedAccess = crate::nginx::tree::RootedAccess {
    read: read_config_in,
    glob: config_glob_in,
};

/// The files an `include` pattern names, directories left out, sorted (nginx sorts its
/// glob results the same way, by name).
fn config_glob(pattern: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = glob::glob(pattern)
        .map(|paths| paths.flatten().filter(|p| !p.is_dir()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// [`config_glob`] of nginx's `pattern` under `root`, giving back nginx's own paths.
fn config_glob_in(root: &Path, pattern: &str) -> Vec<PathBuf> {
    let under = root.join(pattern.trim_start_matches('/'));
    let mut v: Vec<PathBuf> = config_glob(&under.to_string_lossy())
        .into_iter()
        .filter_map(|p| p.strip_prefix(root).ok().map(|r| Path::new("/").join(r)))
        .collect();
    v.sort();
    v
}

/// Reads a whole regular file of at most `cap` bytes (a configuration file, a
/// `systemctl show` dump). A larger file is refused, not cut.
pub fn read_all(path: &Path, cap: u64) -> Result<Vec<u8>, FileError> {
    let (file, meta) = open_regular(path)?;
    let size = meta.len();
    if size > cap {
        return Err(FileError {
            path: path.to_path_buf(),
            refusal: Refusal::TooLarge { size, cap },
        });
    }
    let mut buf = Vec::with_capacity(size as usize);
    pread_into(&file, &mut buf, 0, size as usize).map_err(|e| io_refusal(path, &e))?;
    // A file that grew while read: the bytes up to the size seen at open are enough.
    Ok(buf)
}

/// Longest time spent counting the lines before a tail (a slow disk, a file in churn).
pub const COUNT_TIME: std::time::Duration = std::time::Duration::from_millis(300);

/// The last bytes of a file, read into memory.
#[derive(Debug, Clone, Default)]
pub struct Tail {
    /// The bytes read, starting at `offset` in the file.
    pub data: Vec<u8>,
    /// File offset of `data[0]`; 0 means the whole file was read.
    pub offset: u64,
    /// Size of the file when it was opened.
    pub size: u64,
    /// Set when the file was shorter after the read than before it, or the read ended
    /// early: (size at open, size after). logrotate's `copytruncate` does this.
    pub shrank: Option<(u64, u64)>,
    /// For a gzip file, whose offsets are in its decompressed text: the newlines in the
    /// text before `data` (counted while decompressing).
    pub lines_skipped: Option<u64>,
    /// What limited the read, in words (a gzip stream cut short, compressed bytes left).
    pub notes: Vec<String>,
}

impl Tail {
    /// The tail from its first whole line: the partial line it starts in is dropped
    /// (`offset` moves past it). A whole file stays as it is.
    pub fn whole_lines(mut self) -> Tail {
        if self.offset > 0 {
            let cut = memchr::memchr(b'\n', &self.data).map_or(self.data.len(), |p| p + 1);
            self.data.drain(..cut);
            self.offset += cut as u64;
            self.lines_skipped = self.lines_skipped.map(|n| n + 1);
        }
        self
    }

    /// Newlines in the file before `data`: counted by pread when at most `budget` bytes
    /// (and quick), exact for gzip; None when not counted.
    pub fn lines_before(&self, path: &Path, budget: u64) -> Option<u64> {
        match self.lines_skipped {
            Some(n) => Some(n),
            None => count_lines_before(path, self.offset, budget),
        }
    }

    /// "error.log shrank from 1.0 GiB to 0 B while being read", when it did.
    pub fn shrink_note(&self, name: &str) -> Option<String> {
        self.shrank.map(|(a, b)| {
            format!(
                "{name} shrank from {} to {} while being read (rotated with copytruncate?): the window holds what was read before",
                human_bytes(a),
                human_bytes(b)
            )
        })
    }
}

/// Compressed bytes of a gzip log read at most.
pub const GZ_CAP: u64 = 64 << 20;

/// The one tail reader of logs (error, access, kernel, journal files): at most the last
/// `cap` bytes of a regular file, read with pread (no mmap, so a concurrent truncation
/// cannot fault; memory is `cap` whatever the file size), or of a gzip file's decompressed
/// text (recognised by its magic bytes; at most [`GZ_CAP`] compressed bytes are read).
/// FIFOs and devices are refused, never waited on.
pub fn read_tail(path: &Path, cap: u64) -> Result<Tail, FileError> {
    let (file, meta) = open_regular(path)?;
    let mut magic = [0u8; 2];
    if file.read_at(&mut magic, 0).ok() == Some(2) && magic == [0x1f, 0x8b] {
        return Ok(gzip_tail(path, file, meta.len(), cap));
    }
    let size = meta.len();
    let offset = size.saturating_sub(cap);
    let want = (size - offset) as usize;
    let mut data = Vec::with_capacity(want);
    pread_into(&file, &mut data, offset, want).map_err(|e| io_refusal(path, &e))?;
    let after = file.metadata().map(|m| m.len()).unwrap_or(size);
    let short = data.len() < want;
    let shrank = (after < size || short).then(|| (size, after.min(offset + data.len() as u64)));
    Ok(Tail {
        data,
        offset,
        size,
        shrank,
        lines_skipped: None,
        notes: Vec::new(),
    })
}

/// Bytes read from the end of a host log (kernel log, journal, PHP-FPM log): days of
/// messages.
pub const LOG_TAIL: u64 = 8 << 20;

/// The last [`LOG_TAIL`] bytes of a host log (plain or gzip) from its first whole line,
/// through [`read_tail`]; the refusal as an `io::Error` of the matching kind.
pub fn read_log_tail(path: &Path) -> std::io::Result<Vec<u8>> {
    let refused = |e: FileError| {
        let kind = if e.is_not_found() {
            ErrorKind::NotFound
        } else if e.is_permission_denied() {
            ErrorKind::PermissionDenied
        } else {
            ErrorKind::InvalidInput
        };
        std::io::Error::new(kind, e.reason())
    };
    Ok(read_tail(path, LOG_TAIL)
        .map_err(refused)?
        .whole_lines()
        .data)
}

/// The end of a gzip file's decompressed text: a sliding window of `cap` to `2 × cap`
/// bytes, the newlines before it counted as they go by.
fn gzip_tail(path: &Path, file: File, compressed: u64, cap: u64) -> Tail {
    use std::io::Read;
    let name = path.display().to_string();
    let mut notes = Vec::new();
    let mut dec = flate2::read::MultiGzDecoder::new(file.take(GZ_CAP));
    let mut data: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 1 << 20];
    let (mut dropped, mut lines) = (0u64, 0u64);
    loop {
        match dec.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => data.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                notes.push(format!("{name}: gzip data ends early ({e})"));
                break;
            }
        }
        if data.len() as u64 > 2 * cap {
            let cut = data.len() - cap as usize;
            lines += memchr::memchr_iter(b'\n', &data[..cut]).count() as u64;
            data.drain(..cut);
            dropped += cut as u64;
        }
    }
    if compressed > GZ_CAP {
        notes.push(format!(
            "{name}: only the first {} of {} compressed were read",
            human_bytes(GZ_CAP),
            human_bytes(compressed)
        ));
    }
    Tail {
        size: dropped + data.len() as u64,
        data,
        offset: dropped,
        shrank: None,
        lines_skipped: Some(lines),
        notes,
    }
}

/// Counts the newlines in `file[0..end]` with pread in 1 MiB blocks (flat memory), when
/// `end` is at most `budget` bytes and the count takes less than [`COUNT_TIME`]; None
/// otherwise (too long to count in time, or the file shrank meanwhile).
pub fn count_lines_before(path: &Path, end: u64, budget: u64) -> Option<u64> {
    if end == 0 {
        return Some(0);
    }
    if end > budget {
        return None;
    }
    let (file, _) = open_regular(path).ok()?;
    let mut buf = Vec::with_capacity(1 << 20);
    let mut off = 0u64;
    let mut n = 0u64;
    let started = std::time::Instant::now();
    while off < end {
        if started.elapsed() > COUNT_TIME {
            return None;
        }
        buf.clear();
        let len = (end - off).min(1 << 20) as usize;
        pread_into(&file, &mut buf, off, len).ok()?;
        if buf.is_empty() {
            return None; // shrank: the count would be wrong
        }
        n += memchr::memchr_iter(b'\n', &buf).count() as u64;
        off += buf.len() as u64;
    }
    Some(n)
}

// ---------------------------------------------------------------------------------------
// The file system as nginx sees it, for the route's stat()s (index, try_files, `if -f`).
// Read-only: only metadata is asked for. `root` lets a namespace-aware caller look
// through `/proc/PID/root` of the nginx master instead of this process's own view.

pub struct HostFiles {
    /// Prepended to every path ("/" for this process's own view).
    pub root: PathBuf,
}

impl HostFiles {
    pub fn new() -> Self {
        HostFiles {
            root: PathBuf::from("/"),
        }
    }
}

impl Default for HostFiles {
    fn default() -> Self {
        Self::new()
    }
}

impl FileView for HostFiles {
    fn stat(&self, path: &str) -> Stat {
        let p = self.root.join(path.trim_start_matches('/'));
        match std::fs::metadata(&p) {
            Ok(m) if m.is_dir() => Stat::Dir,
            Ok(m) if m.is_file() => Stat::File,
            // A socket, fifo or device: nginx's static module refuses it (404 for
            // try_files' purposes it "exists" only as a non-directory).
            Ok(_) => Stat::File,
            Err(e) => match e.kind() {
                std::io::ErrorKind::NotFound => Stat::Missing,
                _ if e.raw_os_error() == Some(20) => Stat::Missing, // ENOTDIR
                _ => Stat::Unknown(e.to_string()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::time::{Duration, Instant};

    #[test]
    fn regular_files_are_read_whole_or_by_tail() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        std::fs::write(&p, b"one\ntwo\nthree\n").unwrap();
        assert_eq!(read_all(&p, 100).unwrap(), b"one\ntwo\nthree\n");
        let t = read_tail(&p, 6).unwrap();
        assert_eq!(
            (t.data.as_slice(), t.offset, t.size),
            (&b"three\n"[..], 8, 14)
        );
        assert!(t.shrank.is_none());
        assert_eq!(count_lines_before(&p, t.offset, 1 << 20), Some(2));
        assert_eq!(count_lines_before(&p, t.offset, 4), None);
        let e = read_all(&p, 4).unwrap_err();
        assert!(
            matches!(e.refusal, Refusal::TooLarge { size: 14, cap: 4 }),
            "{e}"
        );
    }

    #[test]
    fn the_tail_reader_edge_cases_empty_one_line_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e.log");
        std::fs::write(&p, b"").unwrap();
        let t = read_tail(&p, 100).unwrap().whole_lines();
        assert_eq!((t.data.len(), t.offset, t.size), (0, 0, 0));
        assert_eq!(t.lines_before(&p, 1 << 20), Some(0));
        // One line, no final newline: read whole, nothing dropped.
        std::fs::write(&p, b"only line").unwrap();
        let t = read_tail(&p, 100).unwrap().whole_lines();
        assert_eq!((t.data.as_slice(), t.offset), (&b"only line"[..], 0));
        // A tail that starts inside a line: whole_lines drops the partial line and the
        // line count follows.
        std::fs::write(&p, b"one\ntwo\nthree\n").unwrap();
        let t = read_tail(&p, 8).unwrap();
        assert_eq!((t.data.as_slice(), t.offset), (&b"o\nthree\n"[..], 6));
        let t = t.whole_lines();
        assert_eq!((t.data.as_slice(), t.offset), (&b"three\n"[..], 8));
        assert_eq!(t.lines_before(&p, 1 << 20), Some(2));
        // A tail inside the only line: nothing whole is left.
        std::fs::write(&p, b"one long line without end").unwrap();
        let t = read_tail(&p, 5).unwrap().whole_lines();
        assert!(t.data.is_empty(), "{:?}", t.data);
    }

    #[test]
    fn a_gzip_log_is_read_by_its_decompressed_tail_with_exact_line_numbers() {
        use flate2::{write::GzEncoder, Compression};
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("access.log.1.gz");
        let mut text = Vec::new();
        for i in 0..20_000 {
            writeln!(text, "line {i:05} of a rotated log").unwrap();
        }
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(&text).unwrap();
        std::fs::write(&p, gz.finish().unwrap()).unwrap();
        // A cap far below the text: the window slides, counting the lines it drops.
        let t = read_tail(&p, 4096).unwrap();
        assert_eq!(t.size, text.len() as u64);
        assert!(t.data.len() >= 4096 && t.data.len() <= 2 * 4096 + (1 << 20));
        assert_eq!(&text[t.offset as usize..], t.data.as_slice());
        let t = t.whole_lines();
        let before = t
            .lines_before(&p, 0)
            .expect("gzip lines are counted while read");
        let n = memchr::memchr_iter(b'\n', &text[..t.offset as usize]).count() as u64;
        assert_eq!(before, n);
        assert!(t.data.starts_with(format!("line {before:05} ").as_bytes()));
        assert!(t.notes.is_empty(), "{:?}", t.notes);
        // A gzip stream cut short is read up to the cut, with a note.
        let whole = std::fs::read(&p).unwrap();
        std::fs::write(&p, &whole[..whole.len() / 2]).unwrap();
        let t = read_tail(&p, 1 << 20).unwrap();
        assert!(!t.data.is_empty());
        assert!(t.notes[0].contains("gzip data ends early"), "{:?}", t.notes);
    }

    #[test]
    fn a_fifo_is_refused_at_once_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fifo");
        nix::unistd::mkfifo(&p, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let start = Instant::now();
        let e = read_tail(&p, 1 << 20).unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(2));
        assert!(e.to_string().contains("a FIFO (named pipe)"), "{e}");
    }

    #[test]
    fn devices_and_streams_are_refused_by_name() {
        let e = read_all(Path::new("/dev/zero"), 1 << 20).unwrap_err();
        assert!(e.reason().contains("a character device"), "{e}");
        for s in ["/dev/stderr", "/dev/stdout", "/proc/self/fd/2"] {
            let e = read_tail(Path::new(s), 1 << 20).unwrap_err();
            assert!(e.reason().contains("docker logs"), "{e}");
        }
        let e = read_all(Path::new("/nonexistent/badgw"), 10).unwrap_err();
        assert!(e.is_not_found());
        assert_eq!(
            e.to_string(),
            "cannot read /nonexistent/badgw: (2: No such file or directory)"
        );
        let dir = tempfile::tempdir().unwrap();
        let e = read_all(dir.path(), 10).unwrap_err();
        assert!(e.reason().contains("a directory"), "{e}");
    }

    #[test]
    fn a_sparse_file_costs_only_its_tail() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sparse.log");
        let f = File::create(&p).unwrap();
        f.set_len(1 << 32).unwrap();
        drop(f);
        let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"last line\n").unwrap();
        let t = read_tail(&p, 1 << 16).unwrap();
        assert_eq!(t.data.len(), 1 << 16);
        assert!(t.data.ends_with(b"last line\n"));
        assert_eq!(t.offset, (1u64 << 32) + 10 - (1 << 16));
    }

    #[test]
    fn sizes_are_human() {
        assert_eq!(human_bytes(17), "17 B");
        assert_eq!(human_bytes(1 << 30), "1.0 GiB");
        assert_eq!(human_bytes(1536), "1.5 KiB");
    }
}
