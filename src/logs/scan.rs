//! The scanner: walks a byte buffer record by record, counts lines, classifies upstream
//! failures and aggregates them into [`Stats`].
//!
//! Speed comes from never looking closely at noise: two SIMD substring searches
//! (`upstream`, `resolv`) run over the whole buffer, and only records they hit are parsed.
//! Every other line costs one newline search and a five-byte timestamp test. Memory stays
//! flat: per-category counters and capped top-N maps; individual events are kept only when
//! asked (`--events`, the small `diagnose` window). This module does no I/O.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use memchr::memmem::Finder;

use super::class_memo::ClassMemo;
use super::line::{self, Category, LogTime, Record};
use super::prefix;

/// Indexes into [`Scanner::keys`].
const UPSTREAM: usize = 0;
const RESOLV: usize = 1;

/// Distinct upstreams/servers remembered per category; the rest are counted as "(other)".
const MAP_CAP: usize = 4096;
/// A record may span at most this many continuation lines (FastCGI stderr dumps).
const MAX_CONTINUATION_LINES: u64 = 1000;

/// What to scan and what to keep.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScanOptions {
    /// Keep records at or after this time only.
    pub since: Option<LogTime>,
    /// Keep records before this time only.
    pub until: Option<LogTime>,
    /// Keep every event (with its fields); otherwise only counters.
    pub keep_events: bool,
    /// Also keep each event's full text (for evidence).
    pub keep_text: bool,
    /// When the log is read (gather's clock): the year given to year-less collector
    /// stamps (BSD syslog, journalctl's short form). None: such stamps give no time.
    pub now: Option<LogTime>,
}

/// One classified upstream failure.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// 1-based line number of the record's first line in its file.
    pub line: u64,
    pub category: Category,
    pub time: Option<LogTime>,
    pub upstream: Option<String>,
    pub server: Option<String>,
    pub host: Option<String>,
    /// Request line with the query string removed.
    pub request: Option<String>,
    pub client: Option<String>,
    /// The record as logged (collector prefix included), query strings removed; only
    /// with `keep_text`.
    pub text: Option<String>,
    /// Cut before nginx's phase: classified from what remains, at lower confidence.
    pub truncated: bool,
}

/// A change of the nginx instance itself, from its `[notice]` lines (logged when the
/// error log's level is `notice` or lower): what a reload or restart writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    /// `signal process started`: `nginx -s reload|stop|quit` ran.
    SignalSent,
    /// `signal 1 (SIGHUP) received from …, reconfiguring`: the master reloads.
    Reconfiguring,
    /// `start worker processes`: workers (re)started, after a start or a reload.
    WorkersStarted,
    /// `gracefully shutting down` / `exiting`: old workers or the master leave.
    ShuttingDown,
}

impl Lifecycle {
    /// The kind a notice record announces, if any.
    pub fn of(rec: &[u8]) -> Option<Lifecycle> {
        let has = |n: &[u8]| memchr::memmem::find(rec, n).is_some();
        if has(b"signal process started") {
            Some(Lifecycle::SignalSent)
        } else if has(b"reconfiguring") {
            Some(Lifecycle::Reconfiguring)
        } else if has(b"start worker processes") {
            Some(Lifecycle::WorkersStarted)
        } else if has(b"gracefully shutting down") {
            Some(Lifecycle::ShuttingDown)
        } else {
            None
        }
    }

    pub fn id(self) -> &'static str {
        match self {
            Lifecycle::SignalSent => "signal-sent",
            Lifecycle::Reconfiguring => "reconfiguring",
            Lifecycle::WorkersStarted => "workers-started",
            Lifecycle::ShuttingDown => "shutting-down",
        }
    }
}

/// One lifecycle notice: (1-based line, time, kind).
pub type LifecycleNote = (u64, Option<LogTime>, Lifecycle);

/// A multiply-rotate hash (the Firefox/rustc "Fx" scheme) for the per-event counter
/// maps: keys are short byte strings from the log, and SipHash's DoS resistance cost more
/// than the lookups themselves (a profile of a 70 %-failure log put it at 5 %). A log
/// crafted to collide only slows its own scan; the maps are capped at MAP_CAP keys.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let v = u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
            self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(K);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut v = [0u8; 8];
            v[..rest.len()].copy_from_slice(rest);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(v)).wrapping_mul(K);
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(i)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_usize(&mut self, i: usize) {
        self.0 = (self.0.rotate_left(5) ^ i as u64).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Counts per key (upstream address, server name).
pub type KeyCounts = HashMap<Vec<u8>, u64, BuildHasherDefault<FxHasher>>;

/// Counters of one category.
#[derive(Debug, Clone, Default)]
pub struct CategoryStats {
    pub count: u64,
    pub first: Option<LogTime>,
    pub last: Option<LogTime>,
    pub upstreams: KeyCounts,
    pub servers: KeyCounts,
    /// Events classified from a message cut before its phase.
    pub truncated: u64,
}

/// Adds `n` to `key`'s count; returns whether `key` has an entry of its own (false: it
/// was counted as "(other)").
fn bump(map: &mut KeyCounts, key: &[u8], n: u64) -> bool {
    if let Some(v) = map.get_mut(key) {
        *v += n;
        true
    } else if map.len() < MAP_CAP {
        map.insert(key.to_vec(), n);
        true
    } else {
        *map.entry(b"(other)".to_vec()).or_insert(0) += n;
        false
    }
}

/// Slots of a [`KeyCache`]: a category's failures mostly name a handful of upstreams and
/// servers.
const CACHE_SLOTS: usize = 4;

/// Counts of keys not yet added to their [`KeyCounts`] map: a key found here costs a
/// length check and a short compare instead of hashing and probing the map per event.
/// Only keys that already have an entry of their own in the map are cached, so the map
/// decides every new key (and "(other)") in the order the keys appear, exactly as
/// without the cache; adding the pending counts later only changes existing entries.
#[derive(Default)]
struct KeyCache {
    slots: Vec<(Vec<u8>, u64)>,
    /// The slot to replace next (round robin).
    victim: usize,
}

impl KeyCache {
    /// Counts one event of `key`.
    #[inline]
    fn count(&mut self, map: &mut KeyCounts, key: &[u8]) {
        for (k, n) in &mut self.slots {
            if line::same_bytes(k, key) {
                *n += 1;
                return;
            }
        }
        if !bump(map, key, 1) {
            return;
        }
        if self.slots.len() < CACHE_SLOTS {
            self.slots.push((key.to_vec(), 0));
            return;
        }
        let (k, n) = &mut self.slots[self.victim];
        if *n > 0 {
            bump(map, k, *n);
        }
        k.clear();
        k.extend_from_slice(key);
        *n = 0;
        self.victim = (self.victim + 1) % CACHE_SLOTS;
    }

    /// Adds every pending count to `map`. The keys stay cached (they keep their entries:
    /// a map never loses one), so the next `feed` does not allocate them again.
    fn flush(&mut self, map: &mut KeyCounts) {
        for (k, n) in &mut self.slots {
            if *n > 0 {
                bump(map, k, *n);
                *n = 0;
            }
        }
    }
}

fn min_opt(a: Option<LogTime>, b: Option<LogTime>) -> Option<LogTime> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

fn max_opt(a: Option<LogTime>, b: Option<LogTime>) -> Option<LogTime> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// Everything learned from one or more buffers.
#[derive(Debug, Clone)]
pub struct Stats {
    /// Lines read in the window (continuation lines included).
    pub lines_total: u64,
    /// Lines that are neither a record nor a continuation of one.
    pub lines_unparsed: u64,
    /// Records classified as upstream failures.
    pub failures: u64,
    /// `upstream server temporarily disabled` notes (max_fails tripped).
    pub upstream_disabled: u64,
    pub first_time: Option<LogTime>,
    pub last_time: Option<LogTime>,
    pub categories: Vec<CategoryStats>,
    /// Failures per minute (key: minutes since the epoch of the log's clock).
    pub timeline: BTreeMap<i64, u64>,
    pub events: Vec<Event>,
    /// With `keep_events`: each `upstream server temporarily disabled` note, as an event
    /// (its `category` is meaningless: the note is not a failure of its own).
    pub disabled_notes: Vec<Event>,
    /// With `keep_events`: nginx's own start/reload/stop notices.
    pub lifecycle: Vec<LifecycleNote>,
    /// Lines per collector prefix format recognised (`docker-compose`, `journal`, …).
    pub formats: BTreeMap<&'static str, u64>,
    /// Events whose line carried no nginx timestamp (pasted fragments, `nginx -t` output).
    pub fragments: u64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            lines_total: 0,
            lines_unparsed: 0,
            failures: 0,
            upstream_disabled: 0,
            first_time: None,
            last_time: None,
            categories: vec![CategoryStats::default(); Category::ALL.len()],
            timeline: BTreeMap::new(),
            events: Vec::new(),
            disabled_notes: Vec::new(),
            lifecycle: Vec::new(),
            formats: BTreeMap::new(),
            fragments: 0,
        }
    }
}

impl Stats {
    /// Adds `other` (a later part of the same file when `line_offset` is its line count
    /// before it, or another file with offset 0).
    pub fn merge(&mut self, other: Stats, line_offset: u64) {
        self.lines_total += other.lines_total;
        self.lines_unparsed += other.lines_unparsed;
        self.failures += other.failures;
        self.upstream_disabled += other.upstream_disabled;
        self.fragments += other.fragments;
        for (k, v) in other.formats {
            *self.formats.entry(k).or_insert(0) += v;
        }
        self.first_time = min_opt(self.first_time, other.first_time);
        self.last_time = max_opt(self.last_time, other.last_time);
        for (mine, theirs) in self.categories.iter_mut().zip(other.categories) {
            mine.count += theirs.count;
            mine.truncated += theirs.truncated;
            mine.first = min_opt(mine.first, theirs.first);
            mine.last = max_opt(mine.last, theirs.last);
            for (k, v) in theirs.upstreams {
                bump(&mut mine.upstreams, &k, v);
            }
            for (k, v) in theirs.servers {
                bump(&mut mine.servers, &k, v);
            }
        }
        for (k, v) in other.timeline {
            *self.timeline.entry(k).or_insert(0) += v;
        }
        self.lifecycle.extend(
            other
                .lifecycle
                .into_iter()
                .map(|(line, t, k)| (line + line_offset, t, k)),
        );
        for (mine, theirs) in [
            (&mut self.events, other.events),
            (&mut self.disabled_notes, other.disabled_notes),
        ] {
            mine.extend(theirs.into_iter().map(|mut e| {
                e.line += line_offset;
                e
            }));
        }
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Record-by-record scanner over buffers of one file.
pub struct Scanner {
    opts: ScanOptions,
    pub stats: Stats,
    /// Lines consumed so far in this file (the next line is `lines_seen + 1`).
    pub lines_seen: u64,
    /// Words one of which every classifiable record contains: `upstream` (the upstream
    /// field or message), `resolv` (resolver failures logged before any upstream exists),
    /// `accept` (accept4() out of descriptors, logged on the listening socket),
    /// `connect()` (a record cut before its phase: `connect() failed (111: Conn`). Records
    /// without any are never parsed, which is what makes the scan run at memchr speed.
    keys: [Finder<'static>; 4],
    /// Built once: a one-shot `memmem::find` builds its searcher per call, which cost
    /// 15 % of a scan when run on every warn line.
    disabled: Finder<'static>,
    stderr: Finder<'static>,
    /// Whether the last record was inside the time window (foreign lines after it are
    /// counted with it).
    last_in_window: bool,
    /// Offset (in the current buffer) of the last record whose time was not parsed; its
    /// time is parsed once per buffer for `last_time`.
    pending_last: Option<usize>,
    /// A record read from a line without nginx's timestamp at its start (collector
    /// prefix stripped, or a fragment), kept until its continuation lines are known.
    pend: Option<Pending>,
    /// Its text (nginx's part), reused between records.
    pend_buf: Vec<u8>,
    /// Its original lines, prefix included (evidence), only with `keep_text`.
    pend_orig: Vec<u8>,
    /// Scratch for joining a wrapped record.
    join_buf: Vec<u8>,
    /// The last timestamp parsed and its value: consecutive records mostly share their
    /// second, and a 19-byte compare is cheaper than parsing the date again.
    stamp: [u8; 19],
    stamp_time: Option<LogTime>,
    /// Per category: pending counts of its upstreams and servers, added to `stats` at the
    /// end of every `feed` (callers read `stats` right after feeding).
    key_caches: Vec<[KeyCache; 2]>,
    /// Classes remembered by message (a failure log repeats a few messages).
    classes: ClassMemo,
    /// The minute failures were last counted in and how many, not yet in
    /// `stats.timeline` (added there at the end of every `feed`).
    minute: Option<(i64, u64)>,
}

/// See [`Scanner::pend`].
#[derive(Debug, Clone, Copy)]
struct Pending {
    line: u64,
    lines: u64,
    time: Option<LogTime>,
    format: Option<prefix::Format>,
    /// A FastCGI stderr record: the next unstamped lines of the same format continue it.
    open: bool,
}

/// Whether `next` (a line that starts no record) continues `rec`, wrapped by a terminal,
/// a chat or a ticket: only when `rec` is visibly unfinished — its context stops inside a
/// quoted value or in the middle of a `key: ` — or when `rec` has no context yet and
/// `next` carries one (`…, client: …`). A line a collector prefixed never continues one.
pub fn wraps(rec: &[u8], next: &[u8]) -> bool {
    if next.is_empty() || line::looks_timestamped(next) {
        return false;
    }
    let unfinished = match memchr::memmem::find(rec, b", client: ") {
        Some(p) => {
            let ctx = &rec[p..];
            let last_field = memchr::memmem::rfind(ctx, b", ").map_or(ctx, |q| &ctx[q + 2..]);
            memchr::memchr_iter(b'"', ctx).count() % 2 == 1
                || ctx.ends_with(b",")
                || ctx.ends_with(b", ")
                || memchr::memmem::find(last_field, b": ").is_none()
        }
        // No context yet: only a continuation that starts with the rest of the message
        // (its phase or its context) is unambiguous; a line carrying a message of its own
        // followed by context is the next pasted record.
        None => {
            next.starts_with(b", client: ")
                || next.starts_with(b"client: ")
                || next.starts_with(b", server: ")
                || next.starts_with(b"while ")
        }
    };
    // Only whether `next` has a prefix matters here, not its time.
    unfinished && prefix::strip(next, None).is_none()
}

/// `[info]`, `[notice]` or `[debug]` at a record's bytes 19..27: nginx logs upstream
/// failures at warn and above, so these records are counted, never parsed.
#[inline]
fn is_quiet_level(l: &[u8]) -> bool {
    l.starts_with(b" [info]") || l.starts_with(b" [notice") || l.starts_with(b" [debug]")
}

/// Whether a record's message starts with a key (`upstream timed out`, `connect() to …`,
/// `no live upstreams`): the record then contains it, which is all the key search would
/// tell.
#[inline]
fn starts_with_key(body: &[u8]) -> bool {
    body.starts_with(b"upstream")
        || body.starts_with(b"connect()")
        || body.starts_with(b"no live upstream")
}

/// Whether a message starts the way the failures without `upstream` or `resolv` in
/// them do: `accept4() failed` (descriptors exhausted) and the truncated connect forms
/// of [`line::classify`].
#[inline]
fn starts_like_failure(body: &[u8]) -> bool {
    body.starts_with(b"accept")
        || body.starts_with(b"kevent() reported that connect()")
        || body.starts_with(b"epoll_wait() reported that connect()")
}

/// Whether the first 19 bytes of a record equal the last timestamp parsed (three
/// overlapping word compares instead of a `memcmp` call).
#[inline]
fn same_stamp(st: &[u8], last: &[u8; 19]) -> bool {
    let w = |b: &[u8], i: usize| {
        b.get(i..i + 8)
            .map(|x| u64::from_ne_bytes(x.try_into().unwrap_or([0; 8])))
    };
    st.len() == 19 && w(st, 0) == w(last, 0) && w(st, 8) == w(last, 8) && w(st, 11) == w(last, 11)
}

/// Appends the continuation `next` of a wrapped record to `acc`.
fn join_wrapped(acc: &mut Vec<u8>, next: &[u8]) {
    let spaced =
        acc.last() == Some(&b',') || next.starts_with(b"while ") || next.starts_with(b"client: ");
    if spaced && acc.last() != Some(&b' ') {
        acc.push(b' ');
    }
    acc.extend_from_slice(next);
}

impl Scanner {
    pub fn new(opts: ScanOptions) -> Self {
        Scanner {
            opts,
            stats: Stats::default(),
            lines_seen: 0,
            keys: [
                Finder::new(b"upstream"),
                Finder::new(b"resolv"),
                Finder::new(b"accept"),
                Finder::new(b"connect()"),
            ],
            disabled: Finder::new(b"upstream server temporarily disabled"),
            stderr: Finder::new(b" sent in stderr: \""),
            last_in_window: opts.since.is_none() && opts.until.is_none(),
            pending_last: None,
            pend: None,
            pend_buf: Vec::new(),
            pend_orig: Vec::new(),
            join_buf: Vec::new(),
            stamp: [0; 19],
            stamp_time: None,
            key_caches: Category::ALL.iter().map(|_| Default::default()).collect(),
            classes: ClassMemo::default(),
            minute: None,
        }
    }

    /// Scans `data`. When `is_last` is false, the last record is left unprocessed (its
    /// continuation lines may be in the next buffer); returns how many bytes were consumed.
    pub fn feed(&mut self, data: &[u8], is_last: bool) -> usize {
        let len = data.len();
        // Offset of the next hit of each key (usize::MAX: none left in `data`; 0: not
        // searched yet), searched lazily by `has_key`.
        let mut next = [0usize; 4];
        let mut pos = 0usize;
        // Current record: start offset, end offset (exclusive, after its last line's
        // content), first line number, and how many continuation lines it has.
        let mut cur: Option<(usize, usize, u64, u64)> = None;
        // Whether the current record may continue (decided lazily, once), and whether
        // it was joined from wrapped lines.
        let mut cur_open: Option<bool> = None;
        let mut cur_wrapped = false;
        while pos < len {
            let nl = memchr::memchr(b'\n', &data[pos..]).map(|p| pos + p);
            let end = nl.unwrap_or(len);
            if nl.is_none() && !is_last {
                break;
            }
            let line_bytes = &data[pos..end];
            if line::looks_timestamped(line_bytes) {
                if let Some((s, e, ln, n)) = cur.take() {
                    self.finish(data, s, e, ln, n, &mut next, cur_wrapped);
                }
                if self.pend.is_some() {
                    self.flush_pending();
                }
                self.lines_seen += 1;
                cur = Some((pos, end, self.lines_seen, 0));
                cur_open = None;
                cur_wrapped = false;
            } else {
                self.lines_seen += 1;
                let continues = match cur.as_mut() {
                    Some((s, e, _, n)) if *n < MAX_CONTINUATION_LINES => {
                        let stderr = &self.stderr;
                        let open =
                            *cur_open.get_or_insert_with(|| stderr.find(&data[*s..*e]).is_some());
                        if open || (!cur_wrapped || *n < 8) && wraps(&data[*s..*e], line_bytes) {
                            cur_wrapped |= !open;
                            *e = end;
                            *n += 1;
                            true
                        } else {
                            false
                        }
                    }
                    _ => false,
                };
                if !continues {
                    // The record cannot continue past a foreign line: finish it now so the
                    // buffer tail only ever holds the last record and its continuations.
                    if let Some((s, e, ln, n)) = cur.take() {
                        self.finish(data, s, e, ln, n, &mut next, cur_wrapped);
                    }
                    self.foreign_line(line_bytes);
                }
            }
            pos = end.saturating_add(1).min(len);
            if nl.is_none() {
                break;
            }
        }
        let used = match cur {
            Some((s, e, ln, n)) if is_last => {
                self.finish(data, s, e, ln, n, &mut next, cur_wrapped);
                len
            }
            Some((s, _, ln, _)) => {
                // Leave the record for the next buffer: un-count its lines.
                self.lines_seen = ln - 1;
                s
            }
            None => pos,
        };
        if is_last && self.pend.is_some() {
            self.flush_pending();
        }
        if let Some(off) = self.pending_last.take() {
            let t = data.get(off..).and_then(line::parse_time);
            self.stats.last_time = max_opt(self.stats.last_time, t);
        }
        self.flush_key_caches();
        used
    }

    /// Adds the key caches' and the current minute's pending counts to `stats`.
    fn flush_key_caches(&mut self) {
        if let Some((m, n)) = self.minute.take() {
            *self.stats.timeline.entry(m).or_insert(0) += n;
        }
        for (c, [ups, servers]) in self.stats.categories.iter_mut().zip(&mut self.key_caches) {
            ups.flush(&mut c.upstreams);
            servers.flush(&mut c.servers);
        }
    }

    /// A line that neither starts with nginx's timestamp nor continues the record before
    /// it: a collector-prefixed line, a fragment, a continuation of a pending record, or
    /// noise (counted as unparsed).
    fn foreign_line(&mut self, raw: &[u8]) {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let stripped = prefix::strip(raw, self.opts.now);
        let (body, ptime, format): (&[u8], _, _) = match &stripped {
            Some(s) => (&s.body, s.time, Some(s.format)),
            None => (raw, None, None),
        };
        if let Some(f) = format {
            *self.stats.formats.entry(f.id()).or_insert(0) += 1;
        }
        let stamped = line::looks_timestamped(body);
        if let Some(p) = self.pend.as_mut() {
            let same = p.format == format && !stamped && p.lines < MAX_CONTINUATION_LINES;
            if same && (p.open || p.lines < 8 && wraps(&self.pend_buf, body)) {
                if p.open {
                    self.pend_buf.push(b'\n');
                    self.pend_buf.extend_from_slice(body);
                } else {
                    join_wrapped(&mut self.pend_buf, body);
                }
                p.lines += 1;
                if self.opts.keep_text {
                    self.pend_orig.push(b'\n');
                    self.pend_orig.extend_from_slice(raw);
                }
                return;
            }
            self.flush_pending();
        }
        let keyed = || self.keys.iter().any(|k| k.find(body).is_some());
        if !(stamped || format.is_some() || keyed()) {
            if self.last_in_window {
                self.stats.lines_total += 1;
                self.stats.lines_unparsed += 1;
            }
            return;
        }
        self.pend_buf.clear();
        self.pend_buf.extend_from_slice(body);
        self.pend_orig.clear();
        if self.opts.keep_text {
            self.pend_orig.extend_from_slice(raw);
        }
        self.pend = Some(Pending {
            line: self.lines_seen,
            lines: 1,
            time: ptime,
            format,
            open: self.stderr.find(body).is_some(),
        });
    }

    /// Processes the pending record.
    fn flush_pending(&mut self) {
        let Some(p) = self.pend.take() else {
            return;
        };
        let text = std::mem::take(&mut self.pend_buf);
        let orig = std::mem::take(&mut self.pend_orig);
        let candidate = self.keys.iter().any(|k| k.find(&text).is_some());
        let stamped = line::looks_timestamped(&text);
        let time = line::parse_time(&text).or(p.time);
        let orig_ref: &[u8] = if self.opts.keep_text { &orig } else { &text };
        self.process(
            &text, orig_ref, p.line, p.lines, candidate, time, !stamped, None,
        );
        self.pend_buf = text;
        self.pend_orig = orig;
    }

    fn in_window(&self, t: Option<LogTime>) -> bool {
        if self.opts.since.is_none() && self.opts.until.is_none() {
            return true;
        }
        match t {
            // Lines without a time are counted only when no bound is set.
            None => false,
            Some(t) => {
                self.opts.since.is_none_or(|s| t >= s) && self.opts.until.is_none_or(|u| t < u)
            }
        }
    }

    /// Whether `data[s..e]` contains one of the keys. `next` holds, per key, the offset
    /// of a hit found earlier (`usize::MAX`: none left); a hit at or before `s` is stale
    /// (a record starts with its timestamp's digits, so no key starts at `s`) and is
    /// searched again from `s`. One search thus skips every record up to the next hit,
    /// and a key is only searched when the keys before it missed the record.
    fn has_key(&self, data: &[u8], s: usize, e: usize, next: &mut [usize; 4]) -> bool {
        (0..self.keys.len()).any(|k| self.key_hit(k, data, s, e, next))
    }

    /// Whether key `k` occurs in `data[s..e]` (see [`Scanner::has_key`]).
    #[inline]
    fn key_hit(&self, k: usize, data: &[u8], s: usize, e: usize, next: &mut [usize; 4]) -> bool {
        if next[k] <= s {
            next[k] = self.keys[k]
                .find(data.get(s..).unwrap_or(&[]))
                .map_or(usize::MAX, |p| s + p);
        }
        next[k] < e
    }

    #[allow(clippy::too_many_arguments)]
    /// Processes one complete record `data[s..e]` whose first line is `line_no`.
    fn finish(
        &mut self,
        data: &[u8],
        s: usize,
        e: usize,
        line_no: u64,
        continuation_lines: u64,
        next: &mut [usize; 4],
        wrapped: bool,
    ) {
        let mut rec = &data[s..e];
        if rec.last() == Some(&b'\r') {
            rec = &rec[..rec.len() - 1];
        }
        let lines = 1 + continuation_lines;
        let bounded = self.opts.since.is_some() || self.opts.until.is_some();
        // Every record's time is read: consecutive records mostly share their second, so
        // this is usually one 19-byte compare, and it keeps the time range exact.
        let time = match rec.get(..19) {
            Some(st) if same_stamp(st, &self.stamp) => self.stamp_time,
            Some(st) => {
                let t = line::parse_time(rec);
                self.stamp.copy_from_slice(st);
                self.stamp_time = t;
                t
            }
            None => None,
        };
        // (Bounded scans always parse the time; a record without one is outside.)
        if time.is_none() && !bounded {
            self.pending_last = Some(s);
        }
        // Whether the record may be a failure: the level decides first (info, notice and
        // debug records never are, a warn record is only looked at for the max_fails
        // note, which `process` finds itself), so only error-and-above records pay for
        // the key search. A wrapped record's level is read from its joined text.
        // The head read for that first word, kept for `process`.
        let mut head = None;
        let mut head_rec;
        let candidate = match if wrapped { None } else { rec.get(19..27) } {
            Some(l) if is_quiet_level(l) => false,
            Some(l) if l.starts_with(b" [warn]") => true,
            // An error record with its time: what `line::classify` can count needs
            // `upstream` in the record, `resolv` in the message, or a message starting
            // with `accept`/`connect()` (its first word is read, not searched for).
            Some(_) if time.is_some() => {
                // Read into a record that `process` completes in place: a Record is
                // 232 bytes, and moving it from call to call was 3 % of a dense log.
                head_rec = Record::default();
                let body = line::head_into(rec, time, &mut head_rec);
                let hit = starts_with_key(body)
                    || self.key_hit(UPSTREAM, data, s, e, next)
                    || starts_like_failure(body)
                    || self.key_hit(RESOLV, data, s, e, next);
                head = hit.then_some((&mut head_rec, body));
                hit
            }
            _ => self.has_key(data, s, e, next),
        };
        if wrapped {
            let mut buf = std::mem::take(&mut self.join_buf);
            buf.clear();
            for (i, l) in rec.split(|&b| b == b'\n').enumerate() {
                let l = l.strip_suffix(b"\r").unwrap_or(l);
                if i == 0 {
                    buf.extend_from_slice(l);
                } else {
                    join_wrapped(&mut buf, l);
                }
            }
            self.process(&buf, rec, line_no, lines, candidate, time, false, None);
            self.join_buf = buf;
        } else {
            self.process(rec, rec, line_no, lines, candidate, time, false, head);
        }
    }

    /// Counts and classifies one complete record: `rec` is nginx's text, `orig` the
    /// lines as read (evidence), `time` the record's time (nginx's, else the collector's),
    /// `fragment` whether `rec` lacks nginx's timestamp, `head` what [`line::head`] read
    /// of `rec` at `time` already, if it was read.
    #[allow(clippy::too_many_arguments)]
    fn process<'r>(
        &mut self,
        rec: &'r [u8],
        orig: &[u8],
        line_no: u64,
        lines: u64,
        candidate: bool,
        time: Option<LogTime>,
        fragment: bool,
        head: Option<(&mut Record<'r>, &'r [u8])>,
    ) {
        let bounded = self.opts.since.is_some() || self.opts.until.is_some();
        if bounded && !self.in_window(time) {
            self.last_in_window = false;
            return;
        }
        self.last_in_window = true;
        self.stats.lines_total += lines;
        if let Some(t) = time {
            self.stats.first_time = min_opt(self.stats.first_time, Some(t));
            self.stats.last_time = max_opt(self.stats.last_time, Some(t));
        }
        if !candidate {
            if fragment {
                self.stats.lines_unparsed += lines;
            } else if self.opts.keep_events
                && rec.get(19..28).is_some_and(|l| l.starts_with(b" [notice]"))
            {
                if let Some(k) = Lifecycle::of(rec) {
                    self.stats.lifecycle.push((line_no, time, k));
                }
            }
            return;
        }
        // nginx logs upstream failures at warn and above; info/notice/debug lines that
        // mention the upstream (client closes, keep-alive) are skipped unparsed, and warn
        // lines are only the max_fails note.
        if !fragment {
            match rec.get(19..27) {
                Some(l)
                    if l.starts_with(b" [info]")
                        || l.starts_with(b" [notice")
                        || l.starts_with(b" [debug]") =>
                {
                    return
                }
                Some(l) if l.starts_with(b" [warn]") => {
                    if self.disabled.find(rec).is_some() {
                        self.stats.upstream_disabled += 1;
                        if self.opts.keep_events {
                            let r = line::parse(rec);
                            let note = self.event(Category::OtherUpstream, &r, orig, line_no);
                            self.stats.disabled_notes.push(note);
                        }
                    }
                    return;
                }
                _ => {}
            }
        }
        let mut parsed;
        let r: &mut Record<'r> = match head {
            Some((h, rest)) if !fragment => {
                // The host is only counted for records without `server:` (and kept
                // with the events).
                let host = line::fill_fields_to_host(h, rest);
                if h.server.is_none() || self.opts.keep_events {
                    line::parse_host(host, h);
                }
                h
            }
            _ => {
                parsed = if fragment {
                    line::parse(rec)
                } else {
                    line::parse_at(rec, time)
                };
                &mut parsed
            }
        };
        if !fragment && r.time.is_none() {
            self.stats.lines_unparsed += 1;
            return;
        }
        if fragment {
            if matches!(r.level, b"info" | b"notice" | b"debug") {
                return;
            }
            r.time = time;
        }
        // (A record read by `parse_fields` gets its errno and action only if the memo
        // has to classify it; nothing below reads them.)
        let class = if r.level == b"warn" {
            None
        } else {
            self.classes.classify(r)
        };
        let Some(class) = class else {
            if line::is_upstream_disabled(r) {
                self.stats.upstream_disabled += 1;
                if self.opts.keep_events {
                    let note = self.event(Category::OtherUpstream, r, orig, line_no);
                    self.stats.disabled_notes.push(note);
                }
            } else if fragment && r.level.is_empty() {
                self.stats.lines_unparsed += lines;
            }
            return;
        };
        if fragment {
            self.stats.fragments += 1;
        }
        self.record_event(class, r, orig, line_no);
    }

    fn record_event(&mut self, class: line::Class, r: &Record<'_>, rec: &[u8], line_no: u64) {
        let cat = class.category;
        let st = &mut self.stats;
        st.failures += 1;
        let c = &mut st.categories[cat.index()];
        c.count += 1;
        c.truncated += u64::from(class.truncated);
        c.first = min_opt(c.first, r.time);
        c.last = max_opt(c.last, r.time);
        let [ups, servers] = &mut self.key_caches[cat.index()];
        if let Some(u) = line::upstream_key(r) {
            ups.count(&mut c.upstreams, u);
        }
        if let Some(s) = r.server.or(r.host) {
            servers.count(&mut c.servers, s);
        }
        if let Some(t) = r.time {
            // Logs run forward, so the minute is nearly always the one counted last: it
            // is counted here and added to the map when another minute comes (or at the
            // end of `feed`) instead of walking the tree per failure.
            let m = t.div_euclid(60);
            match &mut self.minute {
                Some((last, n)) if *last == m => *n += 1,
                cur => {
                    if let Some((last, n)) = cur.replace((m, 1)) {
                        *st.timeline.entry(last).or_insert(0) += n;
                    }
                }
            }
        }
        if self.opts.keep_events {
            let mut e = self.event(cat, r, rec, line_no);
            e.truncated = class.truncated;
            self.stats.events.push(e);
        }
    }

    fn event(&self, category: Category, r: &Record<'_>, rec: &[u8], line_no: u64) -> Event {
        Event {
            line: line_no,
            category,
            time: r.time,
            upstream: line::upstream_key(r).map(lossy),
            server: r.server.map(lossy),
            host: r.host.map(lossy),
            request: r.request.map(|q| lossy(&line::strip_query(q))),
            client: r.client.map(lossy),
            text: self.opts.keep_text.then(|| redact_queries(rec)),
            truncated: false,
        }
    }
}

/// The record text with every query string (`?…` up to a space or quote) removed.
pub fn redact_queries(rec: &[u8]) -> String {
    let mut out = Vec::with_capacity(rec.len());
    let mut i = 0;
    while i < rec.len() {
        let b = rec[i];
        if b == b'?' {
            out.extend_from_slice("?…".as_bytes());
            while i < rec.len() && !matches!(rec[i], b' ' | b'"' | b'\n') {
                i += 1;
            }
            continue;
        }
        out.push(b);
        i += 1;
    }
    lossy(&out)
}

/// Scans a whole in-memory buffer (a tail read into memory) with up to two threads: the buffer is
/// split at a record boundary near the middle and the halves are merged.
pub fn scan_parallel(data: &[u8], opts: ScanOptions) -> Stats {
    const MIN_SPLIT: usize = 8 << 20;
    let split = if data.len() >= MIN_SPLIT
        && std::thread::available_parallelism().map_or(1, |n| n.get()) > 1
    {
        record_boundary_after(data, data.len() / 2)
    } else {
        None
    };
    let Some(mid) = split else {
        let mut s = Scanner::new(opts);
        s.feed(data, true);
        return s.stats;
    };
    let (a, b) = data.split_at(mid);
    let (first, second) = std::thread::scope(|scope| {
        let h = scope.spawn(move || {
            let mut s = Scanner::new(opts);
            s.feed(b, true);
            s
        });
        let mut s1 = Scanner::new(opts);
        s1.feed(a, true);
        let s2 = h.join();
        (s1, s2)
    });
    let mut stats = first.stats;
    match second {
        Ok(s2) => stats.merge(s2.stats, first.lines_seen),
        Err(_) => {
            // The worker cannot panic on input (no indexing without checks), but never
            // lose the second half silently if it does: rescan it here.
            let mut s = Scanner::new(opts);
            s.feed(b, true);
            stats.merge(s.stats, first.lines_seen);
        }
    }
    stats
}

/// Offset of the first timestamped line starting at or after `from` (searching at most
/// 4 MiB), or `None`.
pub fn record_boundary_after(data: &[u8], from: usize) -> Option<usize> {
    let limit = from.saturating_add(4 << 20).min(data.len());
    let mut pos = from;
    while pos < limit {
        let nl = memchr::memchr(b'\n', data.get(pos..limit)?)? + pos;
        let start = nl + 1;
        if data.get(start..).is_some_and(line::looks_timestamped) {
            return Some(start);
        }
        pos = start;
    }
    None
}

/// Time of the last record of `data` (searching backwards over at most 1 MiB).
pub fn last_time(data: &[u8]) -> Option<LogTime> {
    let floor = data.len().saturating_sub(1 << 20);
    let mut end = data.len();
    while end > floor {
        let start = memchr::memrchr(b'\n', &data[floor..end.saturating_sub(1).max(floor)])
            .map_or(floor, |p| floor + p + 1);
        if let Some(t) = line::parse_time(&data[start..end]) {
            return Some(t);
        }
        if start == floor {
            break;
        }
        end = start;
    }
    None
}

/// Time of the first record of `data` (searching at most 1 MiB).
pub fn first_time(data: &[u8]) -> Option<LogTime> {
    let limit = data.len().min(1 << 20);
    let mut pos = 0;
    while pos < limit {
        if let Some(t) = line::parse_time(&data[pos..]) {
            return Some(t);
        }
        pos = memchr::memchr(b'\n', &data[pos..limit])? + pos + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = include_str!("../../fixtures/logs/mixed.log");

    /// Feeds `data` in blocks of `block` bytes the way the stream readers do.
    fn feed_in_blocks(data: &[u8], block: usize) -> Stats {
        let mut sc = Scanner::new(ScanOptions {
            keep_events: true,
            ..Default::default()
        });
        let mut buf: Vec<u8> = Vec::new();
        for chunk in data.chunks(block) {
            buf.extend_from_slice(chunk);
            let used = sc.feed(&buf, false);
            buf.drain(..used);
        }
        sc.feed(&buf, true);
        sc.stats
    }

    #[allow(clippy::type_complexity)]
    fn summary(s: &Stats) -> (u64, u64, u64, Vec<(u64, Category)>, Vec<(i64, u64)>) {
        (
            s.lines_total,
            s.lines_unparsed,
            s.failures,
            s.events.iter().map(|e| (e.line, e.category)).collect(),
            s.timeline.iter().map(|(&m, &n)| (m, n)).collect(),
        )
    }

    /// The scanner only parses records containing one of its keys; this checks that the
    /// shortcut never drops a record the classifier would have counted.
    #[test]
    fn the_prefilter_keeps_every_record_the_classifier_counts() {
        let extra = "2026/11/22 10:00:05 [crit] 7#7: accept4() failed (24: Too many open files)\n\
                     2026/11/22 10:00:06 [alert] 7#7: accept() failed (23: Too many open files in system)\n\
                     2026/11/22 10:00:07 [error] 7#7: *3 kevent() reported that connect() failed (61: Connection refused)\n\
                     2026/11/22 10:00:08 [error] 7#7: *4 epoll_wait() reported that connect() failed (111: Connection refused)\n\
                     2026/11/22 10:00:09 [error] 7#7: *5 connect() failed (111: Connection ref\n\
                     2026/11/22 10:00:10 [error] 7#7: *6 send() failed (111: Connection refused) while resolving, resolver: 127.0.0.1:53\n\
                     2026/11/22 10:00:11 [error] 7#7: *7 backend.internal could not be resolved (3: Host not found), client: 1.2.3.4, server: a, request: \"GET / HTTP/1.1\", host: \"a\"\n\
                     2026/11/22 10:00:12 [error] 7#7: *8 no resolver defined to resolve backend.local, client: 1.2.3.4, server: a\n\
                     2026/11/22 10:00:13 [emerg] 7#7: host not found in upstream \"app:3000\" in /etc/nginx/conf.d/a.conf:3\n\
                     2026/11/22 10:00:14 [error] 7#7: *9 recv() failed (104: Connection reset by peer) while reading response header from upstream, client: 1.2.3.4, server: a\n";
        let text = format!("{SAMPLE}{extra}");
        let scanned = feed_in_blocks(text.as_bytes(), usize::MAX);
        let mut expected = Vec::new();
        for (i, l) in text.lines().enumerate() {
            let r = line::parse(l.as_bytes());
            if r.time.is_some() {
                if let Some(c) = line::classify(&r) {
                    expected.push((i as u64 + 1, c));
                }
            }
        }
        let got: Vec<(u64, Category)> = scanned
            .events
            .iter()
            .map(|e| (e.line, e.category))
            .collect();
        // Line by line misses multi-line records (FastCGI stderr), so the scanner may find
        // more, never less.
        let missed: Vec<_> = expected.iter().filter(|x| !got.contains(x)).collect();
        assert!(missed.is_empty(), "the scanner skipped {missed:?}");
        assert!(
            (28..=37).all(|l| got.iter().any(|&(g, _)| g == l)),
            "every extra failure form is counted: {got:?}"
        );
        assert!(
            got.contains(&(28, Category::FdExhaustion))
                && got.contains(&(29, Category::FdExhaustion))
        );
    }

    /// The key cache must leave the counter maps exactly as counting every event
    /// straight into them does, "(other)" and the MAP_CAP cut included: keys repeat in
    /// runs and at random, more distinct keys than the cap, flushed at random points.
    #[test]
    fn the_key_cache_counts_exactly_like_the_maps() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut rnd = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut direct = KeyCounts::default();
        let mut cached = KeyCounts::default();
        let mut cache = KeyCache::default();
        let mut key = b"127.0.0.1:3000".to_vec();
        for _ in 0..60_000 {
            let r = rnd();
            match r % 10 {
                // A run of the same key, or one of a few hot keys, or a new one.
                0..=3 => {}
                4..=7 => key = format!("10.0.0.{}:80", r % 6).into_bytes(),
                _ => key = format!("host-{}", rnd() % 9000).into_bytes(),
            }
            bump(&mut direct, &key, 1);
            cache.count(&mut cached, &key);
            if rnd() % 500 == 0 {
                cache.flush(&mut cached);
            }
        }
        cache.flush(&mut cached);
        assert!(direct.len() > MAP_CAP, "the cap is reached");
        assert!(direct.contains_key(&b"(other)"[..]));
        assert_eq!(cached, direct);
    }

    #[test]
    fn any_block_size_gives_the_same_answer() {
        let whole = feed_in_blocks(SAMPLE.as_bytes(), usize::MAX);
        assert_eq!(whole.failures, 19);
        assert!(whole.timeline.len() >= 3, "{:?}", whole.timeline);
        for block in [1, 2, 7, 64, 100, 333, 4096] {
            assert_eq!(
                summary(&feed_in_blocks(SAMPLE.as_bytes(), block)),
                summary(&whole),
                "block {block}"
            );
        }
    }

    #[test]
    fn byte_soup_never_panics() {
        // Deterministic pseudo-random mixes of log fragments and arbitrary bytes.
        let frags: Vec<&[u8]> = vec![
            b"2026/11/22 10:00:00 [error] 1#1: *1 ",
            b"connect() to unix:",
            b" failed (",
            b"111: ",
            b"upstream",
            b", client: ",
            b", server: ",
            b", request: \"",
            b"\", upstream: \"",
            b"\", host: \"",
            b"http://unix:",
            b" while ",
            b"could not be resolved",
            b"FastCGI sent in stderr: \"",
            b"\n",
            b"\r\n",
            b"\"",
            b"(",
            b"\xff\xfe\x00\x1b",
            b"2026/1",
        ];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..300 {
            let mut data = Vec::new();
            for _ in 0..200 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let f = frags[(x % frags.len() as u64) as usize];
                data.extend_from_slice(f);
                if x % 5 == 0 {
                    data.push((x >> 8) as u8);
                }
            }
            let a = feed_in_blocks(&data, usize::MAX);
            let b = feed_in_blocks(&data, 13);
            assert_eq!(summary(&a), summary(&b));
            let _ = crate::logs::seek::start_offset(&data[..], 0, &line::parse_time, 0);
            let _ = crate::logs::seek::end_offset(&data[..], i64::MAX, &line::parse_time, 0);
            let _ = last_time(&data);
            let _ = first_time(&data);
            let _ = scan_parallel(&data, ScanOptions::default());
        }
    }
}
