//! Anatomy of one nginx error-log record, parsed on bytes, and its classification into
//! the design §3 categories.
//!
//! A record looks like
//! `YYYY/MM/DD HH:MM:SS [level] PID#TID: *CID message[ (errno: strerror)][ while action],
//! client: …, server: …, request: "…"[, subrequest: "…"], upstream: "…", host: "…"[, referrer: "…"]`.
//! Everything after the level may be missing (start-up lines have no `*CID` or context;
//! nginx cuts records at ~2 KB, so a long request loses its closing quote and the later
//! fields). Parsing never fails: absent parts are `None`. This module does no I/O and
//! never allocates per line; classification keys on message structure, errno *numbers*
//! (their text differs between glibc, musl and Windows) and the action ("while …").

use crate::cause::Cause;

/// Seconds since 1970-01-01 00:00:00 of the log's own (local, zone-less) clock.
pub type LogTime = i64;

/// Declares the error-log categories once: the enum, [`Category::ALL`] (which therefore
/// cannot miss a variant), the stable ids, the status nginx answers with and the root
/// cause `diagnose` reports for it (`-`: none of its own). What each means and what to
/// type about it is in [`super::explain`], whose matches are exhaustive.
macro_rules! categories {
    (@cause -) => { None };
    (@cause $cause:ident) => { Some(Cause::$cause) };
    ($($variant:ident => $id:literal, $status:literal, $cause:tt;)*) => {
        /// A design §3 category of upstream failure.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Category { $($variant),* }

        impl Category {
            /// Every category, in design order (the order of the enum, so `index` works).
            pub const ALL: [Category; [$($id),*].len()] = [$(Category::$variant),*];

            /// The stable id (design §3).
            pub fn id(self) -> &'static str {
                match self { $(Category::$variant => $id),* }
            }

            /// The HTTP status nginx answers the client with when this happens.
            pub fn implied_status(self) -> u16 {
                match self { $(Category::$variant => $status),* }
            }

            /// The root cause `diagnose` reports when the error log shows this
            /// (`connection-reset` is `premature-close` here; the check makes it
            /// `keepalive-race` when the upstream keeps connections alive).
            pub fn cause(self) -> Option<Cause> {
                match self { $(Category::$variant => categories!(@cause $cause)),* }
            }
        }
    };
}

categories! {
    UpstreamRefused => "upstream-refused", 502, UpstreamDown;
    SocketMissing => "socket-missing", 502, SocketMissing;
    SocketPermission => "socket-permission", 502, SocketPermission;
    PermissionDeniedTcp => "permission-denied-tcp", 502, SelinuxDenied;
    BacklogFull => "backlog-full", 502, PoolExhausted;
    EphemeralPorts => "ephemeral-ports", 502, EphemeralPorts;
    FdExhaustion => "fd-exhaustion", 502, FdExhaustion;
    NoRoute => "no-route", 502, -;
    ConnectTimeout => "connect-timeout", 504, UpstreamTimeout;
    ReadTimeout => "read-timeout", 504, UpstreamTimeout;
    PrematureClose => "premature-close", 502, PrematureClose;
    ConnectionReset => "connection-reset", 502, PrematureClose;
    BrokenPipe => "broken-pipe", 502, PrematureClose;
    HeaderTooBig => "header-too-big", 502, HeaderTooBig;
    InvalidHeader => "invalid-header", 502, ProtocolMismatch;
    SslHandshake => "ssl-handshake", 502, ProtocolMismatch;
    NoLiveUpstreams => "no-live-upstreams", 502, NoLiveUpstreams;
    DnsResolution => "dns-resolution", 502, DnsResolution;
    // php-fpm answers "File not found." with status 404 itself.
    FastcgiScriptUnknown => "fastcgi-script-unknown", 404, -;
    SslVerify => "ssl-verify", 502, UpstreamTlsVerify;
    OtherUpstream => "other-upstream", 502, -;
}

impl Category {
    /// Index into [`Category::ALL`], for per-category arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn from_id(id: &str) -> Option<Category> {
        Category::ALL.iter().copied().find(|c| c.id() == id)
    }
}

/// One parsed record. Slices borrow the log bytes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Record<'a> {
    /// nginx's own timestamp; `None` for a fragment (a line pasted without it).
    pub time: Option<LogTime>,
    pub level: &'a [u8],
    /// `PID#TID`: on Linux the worker's thread id is its pid, on the BSDs, macOS and
    /// Windows it is not (a platform hint for errno numbers); 0 when built without threads.
    pub pid: Option<u64>,
    pub tid: Option<u64>,
    /// Connection id (`*123`), absent on start-up and master lines.
    pub cid: Option<u64>,
    /// Message text up to the context fields, including errno and action.
    pub message: &'a [u8],
    pub errno: Option<u32>,
    /// The OS's text for the errno (`Connection refused`), possibly cut short.
    pub errno_text: Option<&'a [u8]>,
    /// Text after the last " while " in the message.
    pub action: Option<&'a [u8]>,
    pub client: Option<&'a [u8]>,
    pub server: Option<&'a [u8]>,
    pub request: Option<&'a [u8]>,
    pub upstream: Option<&'a [u8]>,
    pub host: Option<&'a [u8]>,
}

pub(crate) fn digits(b: &[u8]) -> Option<i64> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // A digit run longer than an i64 (a fuzzed or corrupt line) is not a number.
    b.iter().try_fold(0i64, |a, &d| {
        a.checked_mul(10)?.checked_add(i64::from(d - b'0'))
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Cheap test, run on every line of a big log: does it start with the shape
/// `DDDD/DD/DD DD:DD:DD`? (Ranges are checked by [`parse_time`] only where needed.)
#[inline]
pub fn looks_timestamped(line: &[u8]) -> bool {
    // Three overlapping 8-byte words (bytes 0..8, 8..16, 11..19), each checked at once:
    // separator lanes must equal the shape's bytes, digit lanes must be 0x30..=0x39.
    // (A carry out of a lane only happens from a lane that already fails.)
    const SHAPE: &[u8; 19] = b"0000/00/00 00:00:00";
    fn word(b: &[u8], i: usize) -> u64 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[i..i + 8]);
        u64::from_le_bytes(w)
    }
    fn lane_ok(x: u64, shape: u64) -> bool {
        // Lanes where the shape has '0' are digits; the others are separators.
        let digit = {
            let z = shape ^ 0x3030_3030_3030_3030;
            // 0xFF in each lane where z is 0 (a '0' in the shape).
            let nz =
                (z | (z >> 1) | (z >> 2) | (z >> 3) | (z >> 4) | (z >> 5) | (z >> 6) | (z >> 7))
                    & 0x0101_0101_0101_0101;
            (0x0101_0101_0101_0101 - nz) * 0xFF
        };
        let d = x ^ 0x3030_3030_3030_3030;
        let bad_digit = ((d & 0xF0F0_F0F0_F0F0_F0F0)
            | (d.wrapping_add(0x0606_0606_0606_0606) & 0x1010_1010_1010_1010))
            & digit;
        bad_digit == 0 && (x ^ shape) & !digit == 0
    }
    let Some(t) = line.get(..19) else {
        return false;
    };
    lane_ok(word(t, 0), word(SHAPE, 0))
        && lane_ok(word(t, 8), word(SHAPE, 8))
        && lane_ok(word(t, 11), word(SHAPE, 11))
}

/// Parses the `YYYY/MM/DD HH:MM:SS` prefix.
pub fn parse_time(line: &[u8]) -> Option<LogTime> {
    let t = line.get(..19)?;
    if t[4] != b'/' || t[7] != b'/' || t[10] != b' ' || t[13] != b':' || t[16] != b':' {
        return None;
    }
    let (y, mo, d) = (digits(&t[0..4])?, digits(&t[5..7])?, digits(&t[8..10])?);
    let (h, mi, s) = (
        digits(&t[11..13])?,
        digits(&t[14..16])?,
        digits(&t[17..19])?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s)
}

/// Formats a [`LogTime`] as `YYYY-MM-DDTHH:MM:SS` (the log's local time, no zone).
pub fn format_time(t: LogTime) -> String {
    let days = t.div_euclid(86400);
    let secs = t.rem_euclid(86400);
    // Inverse of days_from_civil.
    let z = days + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Whether `t` starts with `n`, compared inline: the needles are short, and the libc
/// `memcmp` call a slice compare of non-constant length becomes cost more than the
/// compare itself (8 % of a dense-log profile).
#[inline]
fn starts(t: &[u8], n: &[u8]) -> bool {
    t.len() >= n.len() && t.iter().zip(n).all(|(a, b)| a == b)
}

/// Whether `a == b`, compared a word at a time inline: the keys and messages compared per
/// failure (upstream and server keys, remembered messages) are 10–100 bytes long, where
/// the libc `memcmp` call a slice compare becomes cost more than the compare.
#[inline]
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < 8 {
        return a.iter().zip(b).all(|(x, y)| x == y);
    }
    let word = |s: &[u8], i: usize| {
        s.get(i..i + 8)
            .map(|w| u64::from_le_bytes(w.try_into().unwrap_or([0; 8])))
    };
    let mut i = 0;
    while i + 8 <= n {
        if word(a, i) != word(b, i) {
            return false;
        }
        i += 8;
    }
    // The last word, overlapping the one before (n >= 8).
    word(a, n - 8) == word(b, n - 8)
}

/// How often a byte occurs in nginx's messages, roughly (higher: more often).
const fn commonness(b: u8) -> u8 {
    match b {
        b' ' => 9,
        b'e' | b't' | b'a' | b'o' | b'i' | b'n' | b's' | b'r' => 8,
        b'h' | b'l' | b'd' | b'c' | b'u' => 6,
        b',' | b':' | b'"' | b'/' | b'.' | b'0'..=b'9' => 5,
        b'a'..=b'z' => 3,
        _ => 1,
    }
}

/// A needle and the index of the byte to look for with `memchr`: its rarest, so that a
/// needle starting with a space (`" while "`) does not stop at every word of the message.
/// Built at compile time by [`needle!`]; computing the anchor per call cost more than the
/// search.
#[derive(Clone, Copy)]
struct Needle {
    bytes: &'static [u8],
    anchor: usize,
}

impl Needle {
    const fn new(bytes: &'static [u8]) -> Needle {
        let mut anchor = 0;
        let mut i = 0;
        while i < bytes.len() {
            if commonness(bytes[i]) < commonness(bytes[anchor]) {
                anchor = i;
            }
            i += 1;
        }
        Needle { bytes, anchor }
    }
}

/// A [`Needle`] built at compile time.
macro_rules! needle {
    ($n:expr) => {{
        const N: Needle = Needle::new($n);
        N
    }};
}

/// Substring search tuned for short haystacks (one record): `memmem::find` builds a
/// searcher per call, which costs more than the search itself on a 200-byte message and
/// dominated the profile; a memchr on the needle's rarest byte plus an inline compare
/// does not.
#[inline]
fn find(h: &[u8], n: Needle) -> Option<usize> {
    let (k, n) = (n.anchor, n.bytes);
    if n.is_empty() || n.len() > h.len() {
        return None;
    }
    // Anchor positions that leave room for the whole needle: [k, h.len() - n.len() + k].
    let region = h.get(k..=h.len() - n.len() + k)?;
    let mut from = 0;
    while let Some(p) = memchr::memchr(n[k], region.get(from..)?) {
        let s = from + p;
        if h.get(s..s + n.len()).is_some_and(|t| starts(t, n)) {
            return Some(s);
        }
        from = s + 1;
    }
    None
}

#[inline]
fn contains(h: &[u8], n: Needle) -> bool {
    find(h, n).is_some()
}

/// Last occurrence of `n` in `h` (short haystacks, see [`find`]).
#[inline]
fn rfind(h: &[u8], n: Needle) -> Option<usize> {
    let (k, n) = (n.anchor, n.bytes);
    if n.is_empty() || n.len() > h.len() {
        return None;
    }
    let region = h.get(k..=h.len() - n.len() + k)?;
    let mut end = region.len();
    while let Some(s) = memchr::memrchr(n[k], &region[..end]) {
        if h.get(s..s + n.len()).is_some_and(|t| starts(t, n)) {
            return Some(s);
        }
        end = s;
    }
    None
}

/// Value of a quoted field starting at `rest` (just after the opening quote): up to the
/// quote that ends it. A missing closing quote (nginx truncated the record) takes the rest.
fn quoted<'a>(rest: &'a [u8], next_keys: &[&[u8]]) -> (&'a [u8], &'a [u8]) {
    // The value ends at `", <next key>: "` — checking the key after each quote rather
    // than taking the first quote keeps quotes inside request lines from cutting it short.
    for q in memchr::memchr_iter(b'"', rest) {
        let after = &rest[q..];
        if next_keys.iter().any(|k| starts(after, k)) {
            return (&rest[..q], &rest[q + 1..]);
        }
    }
    let end = if rest.last() == Some(&b'"') {
        rest.len() - 1
    } else {
        rest.len()
    };
    (&rest[..end], &[][..])
}

/// Digit runs up to this long always fit an `i64`, so [`digit_run`]'s value is
/// [`digits`]' answer.
const MAX_EXACT_DIGITS: usize = 18;

/// The leading ASCII digits of `b`: how many, and their value (exact when there are at
/// most [`MAX_EXACT_DIGITS`]) — one pass, where counting and then [`digits`] took three
/// (the record head's ids were 20 % of a dense log's instructions).
///
/// The first 8 bytes are read as one word (the pid, tid and connection id are mostly 3–7
/// digits, and a byte loop's multiply chain was most of `head_into`'s time); a run that
/// fills them continues byte by byte. `digit_run_agrees_with_the_byte_loop` checks both.
#[inline]
fn digit_run(b: &[u8]) -> (usize, u64) {
    let (mut n, mut v) = (0usize, 0u64);
    if let Some(w) = b.get(..8) {
        // Bytes minus '0': exact up to and including the first non-digit (a borrow only
        // starts at a byte below '0' and moves to later bytes). A byte is not a digit
        // iff its difference is >= 10: +0x76 sets its high bit for 10..0x7f, and its own
        // high bit is set for 0x80.. (a carry only starts at a byte that is flagged).
        let d =
            u64::from_le_bytes(w.try_into().unwrap_or([0; 8])).wrapping_sub(0x3030_3030_3030_3030);
        let not_digit = (d.wrapping_add(0x7676_7676_7676_7676) | d) & 0x8080_8080_8080_8080;
        n = (not_digit.trailing_zeros() / 8) as usize;
        if n == 0 {
            return (0, 0);
        }
        // The n digits moved to the top bytes (leading zero digits below), then summed
        // pairwise: 2 digits per 16 bits, 4 per 32, 8 per 64 (byte 0 most significant).
        let mut x = d << (8 * (8 - n));
        x = (x.wrapping_mul(10) + (x >> 8)) & 0x00ff_00ff_00ff_00ff;
        x = (x.wrapping_mul(100) + (x >> 16)) & 0x0000_ffff_0000_ffff;
        x = (x.wrapping_mul(10000) + (x >> 32)) & 0xffff_ffff;
        v = x;
        if n < 8 {
            return (n, v);
        }
    }
    while let Some(&c) = b.get(n) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        v = v.wrapping_mul(10).wrapping_add(u64::from(d));
        n += 1;
    }
    (n, v)
}

/// Where the message of a line without nginx's timestamp starts: leading blanks and the
/// `nginx: ` that `nginx -t`/`nginx -s` print before `[emerg] …` are skipped.
fn fragment_start(line: &[u8]) -> &[u8] {
    let n = line
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t'))
        .count();
    let rest = &line[n..];
    rest.strip_prefix(b"nginx: ").unwrap_or(rest)
}

/// Parses one line (without its line terminator). Never fails; see the module doc.
///
/// A line without nginx's timestamp (a fragment) is parsed the same way from its first
/// word: `[level] PID#TID: *CID ` are each optional, so a message pasted on its own, or
/// `nginx: [emerg] …` from `nginx -t`, yields its message, errno, action and context.
pub fn parse(line: &[u8]) -> Record<'_> {
    // Blanks before the timestamp (an indented paste) do not make a line a fragment.
    let blanks = line
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t'))
        .count();
    let line = &line[blanks..];
    parse_at(line, parse_time(line))
}

/// Reads the level, `PID#TID` and `*CID` of `line` into `r` (whose `time` says whether
/// `line` starts with nginx's timestamp) and returns what follows: the message and its
/// context.
fn parse_head<'a>(line: &'a [u8], r: &mut Record<'a>) -> &'a [u8] {
    let mut rest = match r.time {
        Some(_) => line.get(19..).unwrap_or(&[]),
        None => fragment_start(line),
    };
    rest = rest.strip_prefix(b" ").unwrap_or(rest);
    if let Some(s) = rest.strip_prefix(b"[") {
        // `[level]`: letters, then `]` within the first 10 bytes (a byte loop: the bracket
        // is a few bytes away, closer than a memchr call).
        let e = s.iter().take_while(|b| b.is_ascii_alphabetic()).count();
        if e < 10 && s.get(e) == Some(&b']') {
            r.level = &s[..e];
            rest = &s[e + 1..];
        }
    }
    rest = rest.strip_prefix(b" ").unwrap_or(rest);
    // PID#TID: read directly when it has its usual shape (digits, '#', digits, ':' within
    // the first 42 bytes, the same answer as the search below, without two searches).
    let (d1, v1) = digit_run(rest);
    let (d2, v2) = match rest.get(d1) {
        Some(b'#') => digit_run(&rest[d1 + 1..]),
        _ => (0, 0),
    };
    let colon = d1 + 1 + d2;
    let ids = d1 > 0 && d2 > 0 && colon < 42 && rest.get(colon) == Some(&b':');
    let pid_tid = match (ids, d1 <= MAX_EXACT_DIGITS && d2 <= MAX_EXACT_DIGITS) {
        (false, _) => None,
        (true, true) => Some((v1, v2)),
        (true, false) => digits(&rest[..d1])
            .zip(digits(&rest[d1 + 1..colon]))
            .and_then(|(p, t)| Some((u64::try_from(p).ok()?, u64::try_from(t).ok()?))),
    };
    if let Some((pid, tid)) = pid_tid {
        r.pid = Some(pid);
        r.tid = Some(tid);
        rest = &rest[colon + 1..];
        rest = rest.strip_prefix(b" ").unwrap_or(rest);
    } else if let Some(p) = memchr::memchr(b':', rest.get(..42).unwrap_or(rest)) {
        let pt = &rest[..p];
        if let Some(h) = memchr::memchr(b'#', pt) {
            if let (Some(pid), Some(tid)) = (digits(&pt[..h]), digits(&pt[h + 1..])) {
                r.pid = u64::try_from(pid).ok();
                r.tid = u64::try_from(tid).ok();
                rest = &rest[p + 1..];
                rest = rest.strip_prefix(b" ").unwrap_or(rest);
            }
        } else if r.time.is_some() && !pt.is_empty() && pt.iter().all(u8::is_ascii_digit) {
            rest = &rest[p + 1..];
            rest = rest.strip_prefix(b" ").unwrap_or(rest);
        }
    }
    if let Some(s) = rest.strip_prefix(b"*") {
        let (n, v) = digit_run(s);
        if n > 0 {
            r.cid = if n <= MAX_EXACT_DIGITS {
                Some(v)
            } else {
                digits(&s[..n]).and_then(|v| u64::try_from(v).ok())
            };
            rest = &s[n..];
            rest = rest.strip_prefix(b" ").unwrap_or(rest);
        }
    }
    rest
}

/// A record's head (time, level, `PID#TID`, `*CID`) and what follows it, the message
/// and its context: the scanner reads the message's first word before deciding to
/// parse the rest with [`parse_body`].
pub fn head(line: &[u8], time: Option<LogTime>) -> (Record<'_>, &[u8]) {
    let mut r = Record::default();
    let rest = head_into(line, time, &mut r);
    (r, rest)
}

/// [`head`] into `r`, a `Record::default()`: the scanner completes it in place with
/// [`fill_fields`] instead of moving it between calls.
pub fn head_into<'a>(line: &'a [u8], time: Option<LogTime>, r: &mut Record<'a>) -> &'a [u8] {
    r.time = time;
    parse_head(line, r)
}

/// [`parse`] with the time of the line's timestamp already known (`None`: it has none).
pub fn parse_at(line: &[u8], time: Option<LogTime>) -> Record<'_> {
    let (r, rest) = head(line, time);
    parse_body(r, rest)
}

/// Completes the record `r` read by [`head`]: message, errno, action and context from
/// `rest`, what followed the head.
pub fn parse_body<'a>(r: Record<'a>, rest: &'a [u8]) -> Record<'a> {
    let mut r = parse_fields(r, rest);
    parse_message_parts(&mut r);
    r
}

/// [`parse_body`] without what is read from inside the message (errno, its text and the
/// action): the scanner looks a record's class up by its message first and parses those
/// with [`parse_message_parts`] only when it has to classify.
pub fn parse_fields<'a>(mut r: Record<'a>, rest: &'a [u8]) -> Record<'a> {
    fill_fields(&mut r, rest);
    r
}

/// [`parse_fields`] in place.
pub fn fill_fields<'a>(r: &mut Record<'a>, rest: &'a [u8]) {
    let host = fill_fields_to_host(r, rest);
    parse_host(host, r);
}

/// [`fill_fields`] but the `host:` field: returns where it would start, for
/// [`parse_host`]. Counting needs the host only for records without `server:` (the
/// host stands in for it), and it is the last field, after the request's walk.
pub fn fill_fields_to_host<'a>(r: &mut Record<'a>, rest: &'a [u8]) -> &'a [u8] {
    // Context fields; the message ends where `, client: ` starts.
    let (message, ctx) = match find(rest, needle!(b", client: ")) {
        Some(p) => (&rest[..p], &rest[p + 2..]),
        None => match find(rest, needle!(b", server: ")) {
            Some(p) => (&rest[..p], &rest[p + 2..]),
            None => (rest, &[][..]),
        },
    };
    r.message = message;
    parse_context_to_host(ctx, r)
}

/// Reads the errno, its text and the action (`while …`) of `r`'s message.
pub fn parse_message_parts(r: &mut Record<'_>) {
    let message = r.message;
    if let Some((n, text)) = parse_errno(message) {
        r.errno = Some(n);
        r.errno_text = Some(text);
    }
    r.action = rfind(message, needle!(b" while ")).map(|p| &message[p + 7..]);
}

/// The keys that may follow the request's value, in nginx's order.
const AFTER_REQ: &[&[u8]] = &[
    b"\", subrequest: \"",
    b"\", upstream: \"",
    b"\", host: \"",
    b"\", referrer: \"",
];

/// Reads the context fields up to `host:` and returns the rest, where it would start.
fn parse_context_to_host<'a>(ctx: &'a [u8], r: &mut Record<'a>) -> &'a [u8] {
    let mut rest = ctx;
    if let Some(s) = rest.strip_prefix(b"client: ") {
        let end = find(s, needle!(b", ")).unwrap_or(s.len());
        r.client = Some(&s[..end]);
        rest = s.get(end + 2..).unwrap_or(&[]);
    }
    if let Some(s) = rest.strip_prefix(b"server: ") {
        let end = find(s, needle!(b", ")).unwrap_or(s.len());
        r.server = Some(&s[..end]);
        rest = s.get(end + 2..).unwrap_or(&[]);
    }
    if let Some(s) = rest.strip_prefix(b"request: \"") {
        let (v, after) = quoted(s, AFTER_REQ);
        r.request = Some(v);
        rest = after.strip_prefix(b", ").unwrap_or(after);
    }
    if let Some(s) = rest.strip_prefix(b"subrequest: \"") {
        let (_, after) = quoted(s, &AFTER_REQ[1..]);
        rest = after.strip_prefix(b", ").unwrap_or(after);
    }
    if let Some(s) = rest.strip_prefix(b"upstream: \"") {
        let (v, after) = quoted(s, &AFTER_REQ[2..]);
        r.upstream = Some(v);
        rest = after.strip_prefix(b", ").unwrap_or(after);
    }
    rest
}

/// Reads the `host:` field if `rest` (what [`fill_fields_to_host`] left) starts with it.
pub fn parse_host<'a>(rest: &'a [u8], r: &mut Record<'a>) {
    if let Some(s) = rest.strip_prefix(b"host: \"") {
        let (v, _) = quoted(s, &AFTER_REQ[3..]);
        r.host = Some(v);
    }
}

/// The number and text in the first `(NNN: text)` of the message: nginx's `(%d: %s)`
/// errno suffix. The text runs to the closing parenthesis (or the end of a cut message).
fn parse_errno(message: &[u8]) -> Option<(u32, &[u8])> {
    let mut from = 0;
    while let Some(p) = memchr::memchr(b'(', message.get(from..)?) {
        let s = &message[from + p + 1..];
        let n = s.iter().take_while(|b| b.is_ascii_digit()).count();
        if n > 0 && n <= 6 && s.get(n) == Some(&b':') {
            let num = digits(&s[..n]).and_then(|v| u32::try_from(v).ok())?;
            let t = &s[n + 1..];
            let t = t.strip_prefix(b" ").unwrap_or(t);
            let end = memchr::memchr(b')', t).unwrap_or(t.len());
            return Some((num, &t[..end]));
        }
        from += p + 1;
    }
    None
}

/// The operating system a record was written on, as far as the record itself shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Linux,
    /// FreeBSD, macOS and the other BSDs: the same numbers for every errno below.
    Bsd,
    Windows,
    Unknown,
}

/// The errno values that matter for upstream failures, by meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Errno {
    NoEnt,
    Acces,
    Again,
    MFile,
    NFile,
    Pipe,
    AddrInUse,
    AddrNotAvail,
    NetUnreach,
    ConnAborted,
    ConnReset,
    TimedOut,
    ConnRefused,
    HostUnreach,
}

/// Numbers per platform: Linux (`asm-generic/errno*.h`), FreeBSD/macOS (`sys/errno.h`,
/// identical for these), Windows (Winsock `WSAE*`; 0 = no such value). ENOENT, EACCES,
/// EMFILE, ENFILE and EPIPE are the same everywhere they exist.
pub const ERRNO_TABLE: &[(Errno, u32, u32, u32)] = &[
    (Errno::NoEnt, 2, 2, 2),
    (Errno::Acces, 13, 13, 10013),
    (Errno::Again, 11, 35, 10035),
    (Errno::MFile, 24, 24, 10024),
    (Errno::NFile, 23, 23, 0),
    (Errno::Pipe, 32, 32, 0),
    (Errno::AddrInUse, 98, 48, 10048),
    (Errno::AddrNotAvail, 99, 49, 10049),
    (Errno::NetUnreach, 101, 51, 10051),
    (Errno::ConnAborted, 103, 53, 10053),
    (Errno::ConnReset, 104, 54, 10054),
    (Errno::TimedOut, 110, 60, 10060),
    (Errno::ConnRefused, 111, 61, 10061),
    (Errno::HostUnreach, 113, 65, 10065),
];

/// The meaning of an errno text as glibc, musl, FreeBSD/macOS libc or Windows print it
/// (matched on the words that survive a cut: "Connection ref…" is refused).
fn errno_from_text(t: &[u8]) -> Option<Errno> {
    // The texts glibc prints in full, looked up whole first (one length compare each):
    // the word search below costs a memchr per word tried, on every failure line.
    // `exact_texts_agree_with_the_word_search` checks that both give the same answer.
    if let Some(&(_, e)) = EXACT_TEXTS.iter().find(|(x, _)| *x == t) {
        return Some(e);
    }
    errno_from_words(t)
}

/// glibc's `strerror` texts for the errnos nginx logs most, with their meaning.
const EXACT_TEXTS: &[(&[u8], Errno)] = &[
    (b"Connection refused", Errno::ConnRefused),
    (b"Connection timed out", Errno::TimedOut),
    (b"Connection reset by peer", Errno::ConnReset),
    (b"Resource temporarily unavailable", Errno::Again),
    (b"No such file or directory", Errno::NoEnt),
    (b"Permission denied", Errno::Acces),
    (b"Broken pipe", Errno::Pipe),
    (b"No route to host", Errno::HostUnreach),
    (b"Network is unreachable", Errno::NetUnreach),
    (b"Cannot assign requested address", Errno::AddrNotAvail),
    (b"Address already in use", Errno::AddrInUse),
    (b"Too many open files", Errno::MFile),
    (b"Too many open files in system", Errno::NFile),
    (b"Software caused connection abort", Errno::ConnAborted),
];

/// [`errno_from_text`] by the words that survive a cut.
fn errno_from_words(t: &[u8]) -> Option<Errno> {
    use Errno::*;
    const TEXTS: &[(&[u8], Errno)] = &[
        (b"Connection ref", ConnRefused),
        (b"actively refused", ConnRefused),
        (b"timed out", TimedOut),
        (b"did not properly respond", TimedOut),
        (b"reset by peer", ConnReset),
        (b"forcibly closed", ConnReset),
        (b"connection abort", ConnAborted),
        (b"aborted by the software", ConnAborted),
        (b"temporarily unavailable", Again),
        (b"could not be completed immediately", Again),
        (b"No route to host", HostUnreach),
        (b"Host is unreachable", HostUnreach),
        (b"unreachable host", HostUnreach),
        (b"Network is unreachable", NetUnreach),
        (b"Network unreachable", NetUnreach),
        (b"unreachable network", NetUnreach),
        (b"assign requested address", AddrNotAvail),
        (b"Address not available", AddrNotAvail),
        (b"requested address is not valid", AddrNotAvail),
        (b"already in use", AddrInUse),
        (b"Address in use", AddrInUse),
        (b"usage of each socket address", AddrInUse),
        (b"Broken pipe", Pipe),
        (b"No such file", NoEnt),
        (b"cannot find the file", NoEnt),
        (b"Permission denied", Acces),
        (b"forbidden by its access permissions", Acces),
        (b"open files in system", NFile),
        (b"File table overflow", NFile),
        (b"Too many open files", MFile),
        (b"Too many open sockets", MFile),
        (b"No file descriptors available", MFile),
    ];
    TEXTS
        .iter()
        .find(|(n, _)| contains(t, Needle::new(n)))
        .map(|&(_, e)| e)
}

/// The platform a record shows: `kevent()` exists on the BSDs and macOS only, `epoll` on
/// Linux only; Winsock numbers are ≥ 10000; nginx's `PID#TID` has TID = PID on Linux
/// (gettid of the worker's main thread) and a thread id unrelated to the pid elsewhere
/// (0 when built without thread support, which says nothing).
pub fn platform(r: &Record<'_>) -> Platform {
    if r.errno.is_some_and(|n| n >= 10000) {
        return Platform::Windows;
    }
    if r.message.starts_with(b"kevent()") {
        return Platform::Bsd;
    }
    if r.message.starts_with(b"epoll_wait()") {
        return Platform::Linux;
    }
    match (r.pid, r.tid) {
        (Some(p), Some(t)) if p == t => Platform::Linux,
        (Some(_), Some(t)) if t != 0 => Platform::Bsd,
        _ => Platform::Unknown,
    }
}

/// What the record's errno means. The text wins when it is one the C libraries print
/// (it was written by the same system as the number); otherwise the number is read in
/// the platform's table; on an unknown platform only in the union of the tables, where
/// no number has two network meanings (the BSD numbers 35–65 are not network errors on
/// Linux, Linux's 98–113 are not defined or not network errors on the BSDs). A number
/// the platform does not define as a network error means nothing — never Linux's meaning.
pub fn errno_kind(r: &Record<'_>) -> Option<Errno> {
    let n = r.errno?;
    if let Some(e) = r.errno_text.and_then(errno_from_text) {
        return Some(e);
    }
    let col = |i: usize| {
        ERRNO_TABLE
            .iter()
            .find(|row| [row.1, row.2, row.3][i] == n && n != 0)
            .map(|row| row.0)
    };
    match platform(r) {
        Platform::Linux => col(0),
        Platform::Bsd => col(1),
        Platform::Windows => col(2),
        Platform::Unknown => col(0).or_else(|| col(1)).or_else(|| col(2)),
    }
}

/// Whether the upstream of the record is a unix-domain socket.
fn is_unix(r: &Record<'_>) -> bool {
    r.upstream.is_some_and(names_unix) || contains(r.message, needle!(b"connect() to unix:"))
}

/// Whether an upstream field contains `unix:`. Searched from its colons: the field ends
/// with the request's URI and query, which a client chooses (a query of `x`s made the
/// rarest-letter search stop at every byte).
fn names_unix(u: &[u8]) -> bool {
    memchr::memchr_iter(b':', u).any(|p| p >= 4 && &u[p - 4..p] == b"unix")
}

/// The side effect of max_fails tripping: `upstream server temporarily disabled`. It
/// always follows the real failure line, so it is a note, never a second event.
pub fn is_upstream_disabled(r: &Record<'_>) -> bool {
    contains(r.message, needle!(b"upstream server temporarily disabled"))
}

/// Classifies a parsed record; `None` when it is not an upstream failure.
pub fn classify(r: &Record<'_>) -> Option<Category> {
    classify_full(r).map(|c| c.category)
}

/// A classification and how sure it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Class {
    pub category: Category,
    /// The message was cut before nginx's phase (`while …`) and context: classified from
    /// what remains (the call and its errno), at lower confidence.
    pub truncated: bool,
}

/// Everything [`classify_full`] reads of a record besides its level and its message
/// (and what [`parse_message_parts`] reads from the message): which context fields are
/// present, whether the upstream field names a unix socket, and what `PID#TID` says of
/// the platform ([`platform`]). Records with the same level, message and flags get the
/// same class, which lets the scanner remember classes by message
/// (`class_flags_hold_everything_classification_reads` checks it). Keep this in step
/// with the classifier: a new input of the classifier must become a flag here.
pub fn class_flags(r: &Record<'_>) -> u8 {
    let platform = match (r.pid, r.tid) {
        (Some(p), Some(t)) if p == t => 1,
        (Some(_), Some(t)) if t != 0 => 2,
        _ => 0,
    };
    u8::from(r.client.is_some())
        | u8::from(r.server.is_some()) << 1
        | u8::from(r.upstream.is_some()) << 2
        | u8::from(r.upstream.is_some_and(names_unix)) << 3
        | platform << 4
}

/// Classifies a parsed record, also one cut short; see [`Class`].
pub fn classify_full(r: &Record<'_>) -> Option<Class> {
    if let Some(category) = classify_complete(r) {
        // A timeout without its phase and context could be a connect or a read timeout.
        let phaseless = r.action.is_none() && r.client.is_none() && r.upstream.is_none();
        return Some(Class {
            category,
            truncated: phaseless
                && matches!(category, Category::ConnectTimeout | Category::ReadTimeout),
        });
    }
    classify_truncated(r).map(|category| Class {
        category,
        truncated: true,
    })
}

/// A message that stops before its phase and context (`connect() failed (111: Connection
/// ref…`): only the calls nginx makes to upstreams, never client-side ones, so a cut line
/// cannot turn a client's reset into an upstream failure.
fn classify_truncated(r: &Record<'_>) -> Option<Category> {
    use Category::*;
    let m = r.message;
    if r.action.is_some() || r.client.is_some() || r.server.is_some() || r.upstream.is_some() {
        return None;
    }
    if matches!(r.level, b"info" | b"notice" | b"debug") {
        return None;
    }
    if let Some(rest) = m.strip_prefix(b"upstream ") {
        return if rest.starts_with(b"timed out") {
            Some(ReadTimeout)
        } else if rest.starts_with(b"prematurely closed") {
            Some(PrematureClose)
        } else if rest.starts_with(b"sent too big ") {
            Some(HeaderTooBig)
        } else if rest.starts_with(b"sent ") {
            Some(InvalidHeader)
        } else if rest.starts_with(b"SSL certificate") {
            Some(SslVerify)
        } else {
            None
        };
    }
    if m.starts_with(b"no live upstreams") {
        return Some(NoLiveUpstreams);
    }
    let connect = m.starts_with(b"connect() ")
        || m.starts_with(b"kevent() reported that connect() failed")
        || m.starts_with(b"epoll_wait() reported that connect() failed");
    if !connect {
        return None;
    }
    Some(match errno_kind(r)? {
        Errno::ConnRefused => UpstreamRefused,
        Errno::NoEnt if is_unix(r) => SocketMissing,
        Errno::Acces if is_unix(r) => SocketPermission,
        Errno::Acces => PermissionDeniedTcp,
        Errno::Again => BacklogFull,
        Errno::AddrInUse | Errno::AddrNotAvail => EphemeralPorts,
        Errno::MFile | Errno::NFile => FdExhaustion,
        Errno::NetUnreach | Errno::HostUnreach => NoRoute,
        Errno::TimedOut => ConnectTimeout,
        Errno::ConnReset | Errno::ConnAborted => ConnectionReset,
        _ => return None,
    })
}

/// Classifies a complete record.
///
/// Dispatches on the message's first words (nginx's fixed texts) so a record costs a few
/// prefix compares, not a dozen substring searches.
fn classify_complete(r: &Record<'_>) -> Option<Category> {
    use Category::*;
    let m = r.message;
    if m.is_empty() {
        return None;
    }
    // Client-side events are not upstream failures even when they name the upstream
    // ("client prematurely closed connection, so upstream connection is closed too").
    if m.starts_with(b"client ")
        || m.starts_with(b"limiting ")
        || m.starts_with(b"epoll_wait() reported that client")
        || m.starts_with(b"kevent() reported that client")
    {
        return None;
    }
    let action = r.action.unwrap_or(&[]);
    // Resolution fails before any upstream connection exists, so these lines may have no
    // `upstream:` field; the number in "(3: Host not found)" is a DNS rcode, not errno.
    // `send() failed (111: …) while resolving, resolver: …` is the resolver unreachable.
    if m.starts_with(b"no resolver defined")
        || m.starts_with(b"host not found in upstream")
        || contains(m, needle!(b" could not be resolved"))
        || action.starts_with(b"resolving")
    {
        return Some(DnsResolution);
    }
    let kind = errno_kind(r);
    // accept() failing with EMFILE/ENFILE is the worker out of descriptors: it logs this on
    // the listening socket (no client, no upstream), and the same worker's next socket()
    // to an upstream fails too — often the first sign of exhaustion in the log.
    if (m.starts_with(b"accept4() failed") || m.starts_with(b"accept() failed"))
        && matches!(kind, Some(Errno::MFile | Errno::NFile))
    {
        return Some(FdExhaustion);
    }
    let upstream_ctx = r.upstream.is_some()
        || m.starts_with(b"upstream ")
        || contains(action, needle!(b"upstream"));
    if !upstream_ctx {
        return None;
    }
    let connecting = action.starts_with(b"connecting to upstream")
        || action.starts_with(b"SSL handshaking to upstream");
    if let Some(rest) = m.strip_prefix(b"upstream ") {
        if rest.starts_with(b"server temporarily disabled") {
            // The max_fails note; see is_upstream_disabled.
            return None;
        }
        if rest.starts_with(b"sent too big ") {
            // header / trailers / early hints: all overflow the *_buffer_size buffer.
            return Some(HeaderTooBig);
        }
        if rest.starts_with(b"sent ")
            || rest.starts_with(b"rejected request")
            || rest.starts_with(b"violated ")
            || rest.starts_with(b"split a header line")
        {
            // invalid header / no valid HTTP/1.0 header / unsupported FastCGI protocol
            // version / invalid chunked response / grpc frame errors: the upstream does
            // not speak the protocol nginx expects.
            return Some(InvalidHeader);
        }
        if rest.starts_with(b"timed out") {
            return Some(if connecting {
                ConnectTimeout
            } else {
                ReadTimeout
            });
        }
        if rest.starts_with(b"prematurely closed") || rest.starts_with(b"closed prematurely") {
            return Some(PrematureClose);
        }
        // "upstream SSL certificate verify error: (N:…)" and "upstream SSL certificate
        // does not match \"name\"": the handshake worked, proxy_ssl_verify rejected the
        // certificate (ngx_http_upstream_ssl_handshake).
        if rest.starts_with(b"SSL certificate") {
            return Some(SslVerify);
        }
    }
    if m.starts_with(b"no live upstreams") {
        return Some(NoLiveUpstreams);
    }
    if m.starts_with(b"FastCGI sent in stderr")
        || m.starts_with(b"uwsgi sent in stderr")
        || m.starts_with(b"SCGI sent in stderr")
    {
        if contains(m, needle!(b"Primary script unknown")) {
            return Some(FastcgiScriptUnknown);
        }
        // PHP notices and warnings go to stderr on successful requests too; only a fatal
        // error means the response failed.
        if contains(m, needle!(b"Fatal error")) {
            return Some(OtherUpstream);
        }
        return None;
    }
    if kind == Some(Errno::TimedOut) {
        return Some(if connecting {
            ConnectTimeout
        } else {
            ReadTimeout
        });
    }
    if m.starts_with(b"SSL_do_handshake() failed")
        || m.starts_with(b"peer closed connection in SSL handshake")
        || action.starts_with(b"SSL handshaking to upstream")
    {
        // With verification inside the handshake, OpenSSL says so itself.
        if contains(m, needle!(b"certificate verify failed")) {
            return Some(SslVerify);
        }
        return Some(SslHandshake);
    }
    match kind {
        Some(Errno::ConnRefused) => Some(UpstreamRefused),
        Some(Errno::NoEnt) if is_unix(r) => Some(SocketMissing),
        Some(Errno::Acces) if is_unix(r) => Some(SocketPermission),
        Some(Errno::Acces) => Some(PermissionDeniedTcp),
        Some(Errno::Again) => Some(BacklogFull),
        // EADDRINUSE comes from bind() with proxy_bind when the local ports run out.
        Some(Errno::AddrInUse | Errno::AddrNotAvail) => Some(EphemeralPorts),
        Some(Errno::MFile | Errno::NFile) => Some(FdExhaustion),
        Some(Errno::NetUnreach | Errno::HostUnreach) => Some(NoRoute),
        Some(Errno::ConnReset | Errno::ConnAborted) => Some(ConnectionReset),
        Some(Errno::Pipe) => Some(BrokenPipe),
        _ if contains(m, needle!(b"worker_connections are not enough")) => Some(FdExhaustion),
        _ if contains(m, needle!(b"prematurely closed")) => Some(PrematureClose),
        // Warn/notice/info lines that merely mention the upstream ("an upstream response
        // is buffered to a temporary file") are not failures.
        _ if matches!(r.level, b"error" | b"crit" | b"alert" | b"emerg") => Some(OtherUpstream),
        _ => None,
    }
}

/// The upstream address a record names, without the URI path or query: from the
/// `upstream:` field (`http://127.0.0.1:3000/x` → `http://127.0.0.1:3000`), else from
/// `connect() to ADDR failed` (records nginx truncated before the field).
pub fn upstream_key<'a>(r: &Record<'a>) -> Option<&'a [u8]> {
    if let Some(u) = r.upstream {
        let after_scheme = find(u, needle!(b"://")).map_or(0, |p| p + 3);
        let body = &u[after_scheme..];
        let end = if body.starts_with(b"unix:") {
            // unix:/path/sock:/uri — the socket path ends at the next ':'.
            memchr::memchr(b':', &body[5..]).map_or(body.len(), |p| p + 5)
        } else {
            memchr::memchr2(b'/', b'?', body).unwrap_or(body.len())
        };
        return Some(&u[..after_scheme + end]);
    }
    let m = r.message;
    // DNS failures name the host instead of an address.
    if let Some(name) = m.strip_prefix(b"no resolver defined to resolve ") {
        return Some(name);
    }
    if let Some(rest) = m.strip_prefix(b"host not found in upstream \"") {
        return memchr::memchr(b'"', rest).map(|e| &rest[..e]);
    }
    if let Some(e) = find(m, needle!(b" could not be resolved")) {
        return Some(&m[..e]);
    }
    let p = find(m, needle!(b"connect() to "))?;
    let s = &m[p + 13..];
    let e = find(s, needle!(b" failed"))?;
    Some(&s[..e])
}

/// A request line with its query string replaced by `?…` (snapshots carry no queries).
pub fn strip_query(req: &[u8]) -> Vec<u8> {
    match memchr::memchr(b'?', req) {
        Some(q) => {
            let tail = rfind(req, needle!(b" HTTP/")).filter(|&h| h > q);
            let mut v = req[..q].to_vec();
            v.extend_from_slice("?…".as_bytes());
            if let Some(h) = tail {
                v.extend_from_slice(&req[h..]);
            }
            v
        }
        None => req.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cat(line: &str) -> Option<&'static str> {
        classify(&parse(line.as_bytes())).map(Category::id)
    }

    #[test]
    fn parses_full_anatomy() {
        let l = br#"2026/11/22 10:00:05 [error] 1234#1234: *56 connect() failed (111: Connection refused) while connecting to upstream, client: 10.0.0.1, server: shop.example.com, request: "GET /api/x?t=1 HTTP/1.1", upstream: "http://127.0.0.1:3000/api/x?t=1", host: "shop.example.com", referrer: "https://x/""#;
        let r = parse(l);
        assert_eq!(r.level, b"error");
        assert_eq!(r.cid, Some(56));
        assert_eq!(r.errno, Some(111));
        assert_eq!(r.action, Some(&b"connecting to upstream"[..]));
        assert_eq!(r.client, Some(&b"10.0.0.1"[..]));
        assert_eq!(r.server, Some(&b"shop.example.com"[..]));
        assert_eq!(r.request, Some(&b"GET /api/x?t=1 HTTP/1.1"[..]));
        assert_eq!(r.upstream, Some(&b"http://127.0.0.1:3000/api/x?t=1"[..]));
        assert_eq!(r.host, Some(&b"shop.example.com"[..]));
        assert_eq!(upstream_key(&r).unwrap(), b"http://127.0.0.1:3000");
        assert_eq!(format_time(r.time.unwrap()), "2026-11-22T10:00:05");
        assert_eq!(
            strip_query(r.request.unwrap()),
            "GET /api/x?… HTTP/1.1".as_bytes()
        );
    }

    #[test]
    fn truncated_request_still_parses() {
        let l = b"2026/11/22 10:00:05 [error] 1#1: *5 upstream timed out (110: Connection timed out) while reading response header from upstream, client: ::1, server: a, request: \"GET /aaaaaaaa";
        let r = parse(l);
        assert_eq!(r.request, Some(&b"GET /aaaaaaaa"[..]));
        assert_eq!(r.upstream, None);
        assert_eq!(classify(&r), Some(Category::ReadTimeout));
    }

    #[test]
    fn classifies_by_errno_number_not_text() {
        let p = "2026/11/22 10:00:05 [error] 1#1: *5 ";
        let c = ", client: 1.2.3.4, server: a, request: \"GET / HTTP/1.1\", upstream: \"http://127.0.0.1:3000/\", host: \"a\"";
        assert_eq!(
            cat(&format!(
                "{p}connect() failed (111: Unknown error) while connecting to upstream{c}"
            )),
            Some("upstream-refused")
        );
        assert_eq!(cat(&format!("{p}connect() failed (10061: No connection could be made because the target machine actively refused it) while connecting to upstream{c}")), Some("upstream-refused"));
        assert_eq!(
            cat(&format!(
                "{p}connect() failed (113: No route to host) while connecting to upstream{c}"
            )),
            Some("no-route")
        );
        assert_eq!(
            cat(&format!(
                "{p}connect() failed (110: Connection timed out) while connecting to upstream{c}"
            )),
            Some("connect-timeout")
        );
        assert_eq!(
            cat(&format!(
                "{p}upstream timed out (110: Connection timed out) while connecting to upstream{c}"
            )),
            Some("connect-timeout")
        );
        assert_eq!(cat(&format!("{p}upstream timed out (110: Operation timed out) while reading response header from upstream{c}")), Some("read-timeout"));
        assert_eq!(cat(&format!("{p}recv() failed (104: Connection reset by peer) while reading response header from upstream{c}")), Some("connection-reset"));
        assert_eq!(
            cat(&format!(
                "{p}writev() failed (32: Broken pipe) while sending request to upstream{c}"
            )),
            Some("broken-pipe")
        );
        assert_eq!(cat(&format!("{p}connect() to 127.0.0.1:3000 failed (13: Permission denied) while connecting to upstream{c}")), Some("permission-denied-tcp"));
        assert_eq!(cat(&format!("{p}connect() to 127.0.0.1:3000 failed (99: Cannot assign requested address) while connecting to upstream{c}")), Some("ephemeral-ports"));
        assert_eq!(
            cat(&format!(
                "{p}socket() failed (24: Too many open files) while connecting to upstream{c}"
            )),
            Some("fd-exhaustion")
        );
        assert_eq!(
            cat("2026/11/22 10:00:05 [crit] 7#7: accept4() failed (24: Too many open files)"),
            Some("fd-exhaustion")
        );
        assert_eq!(
            cat("2026/11/22 10:00:05 [alert] 7#7: accept4() failed (22: Invalid argument)"),
            None
        );
    }

    #[test]
    fn unix_socket_errnos() {
        let u = "2026/11/22 10:00:05 [crit] 1#1: *5 connect() to unix:/run/php/php-fpm.sock failed ({}) while connecting to upstream, client: 1.2.3.4, server: a, request: \"GET / HTTP/1.1\", upstream: \"fastcgi://unix:/run/php/php-fpm.sock:\", host: \"a\"";
        assert_eq!(
            cat(&u.replace("{}", "2: No such file or directory")),
            Some("socket-missing")
        );
        assert_eq!(
            cat(&u.replace("{}", "13: Permission denied")),
            Some("socket-permission")
        );
        assert_eq!(
            cat(&u.replace("{}", "11: Resource temporarily unavailable")),
            Some("backlog-full")
        );
        let l = u.replace("{}", "2: x");
        let r = parse(l.as_bytes());
        assert_eq!(
            upstream_key(&r).unwrap(),
            b"fastcgi://unix:/run/php/php-fpm.sock"
        );
    }

    #[test]
    fn client_side_and_noise_are_not_events() {
        for l in [
            "2026/11/22 10:00:05 [info] 1#1: *5 client prematurely closed connection, so upstream connection is closed too while reading upstream, client: 1.2.3.4, server: a, request: \"GET / HTTP/1.1\", upstream: \"http://127.0.0.1:3000/\", host: \"a\"",
            "2026/11/22 10:00:05 [info] 1#1: *5 client closed connection while waiting for request, client: 1.2.3.4, server: 0.0.0.0:80",
            "2026/11/22 10:00:05 [error] 1#1: *5 open() \"/var/www/favicon.ico\" failed (2: No such file or directory), client: 1.2.3.4, server: a, request: \"GET /favicon.ico HTTP/1.1\", host: \"a\"",
            "2026/11/22 10:00:05 [error] 1#1: *5 client intended to send too large body: 2000000 bytes, client: 1.2.3.4, server: a, request: \"POST / HTTP/1.1\", host: \"a\"",
            "2026/11/22 10:00:05 [notice] 1#1: start worker processes",
            "2026/11/22 10:00:05 [warn] 1#1: *9 upstream server temporarily disabled while connecting to upstream, client: 1.2.3.4, server: a, request: \"GET / HTTP/1.1\", upstream: \"http://127.0.0.1:3000/\", host: \"a\"",
            "2026/11/22 10:00:05 [error] 1#1: *5 FastCGI sent in stderr: \"PHP message: PHP Warning:  Undefined variable $x\" while reading response header from upstream, client: 1.2.3.4, server: a, request: \"GET / HTTP/1.1\", upstream: \"fastcgi://unix:/run/php.sock:\", host: \"a\"",
            "garbage \u{1b}[31m",
        ] {
            assert_eq!(cat(l), None, "{l}");
        }
    }

    #[test]
    fn message_structure_categories() {
        let p = "2026/11/22 10:00:05 [error] 1#1: *5 ";
        let c = ", client: 1.2.3.4, server: a, request: \"GET / HTTP/1.1\", upstream: \"http://127.0.0.1:3000/\", host: \"a\"";
        for (m, want) in [
            ("upstream prematurely closed connection while reading response header from upstream", "premature-close"),
            ("upstream sent too big header while reading response header from upstream", "header-too-big"),
            ("upstream sent unsupported FastCGI protocol version: 72 while reading response header from upstream", "invalid-header"),
            ("upstream sent no valid HTTP/1.0 header while reading response header from upstream", "invalid-header"),
            ("upstream sent invalid header: \"x\\x0D...\" while reading response header from upstream", "invalid-header"),
            ("SSL_do_handshake() failed (SSL: error:0A00010B:SSL routines::wrong version number) while SSL handshaking to upstream", "ssl-handshake"),
            ("no live upstreams while connecting to upstream", "no-live-upstreams"),
            ("FastCGI sent in stderr: \"Primary script unknown\" while reading response header from upstream", "fastcgi-script-unknown"),
            ("upstream buffer is too small to read response", "other-upstream"),
            ("upstream sent too big trailers while reading upstream", "header-too-big"),
            ("upstream violated stream flow control, received 70000 data frame bytes while reading upstream", "invalid-header"),
            ("upstream split a header line in FastCGI records while reading response header from upstream", "invalid-header"),
            ("upstream sent invalid chunked response while reading upstream", "invalid-header"),
            ("upstream SSL certificate verify error: (10:certificate has expired) while SSL handshaking to upstream", "ssl-verify"),
            ("bind(10.0.0.1) failed (98: Address already in use) while connecting to upstream", "ephemeral-ports"),
            ("SSL_read() failed (SSL: error:0A000126:SSL routines::unexpected eof while reading) while reading upstream", "other-upstream"),
            ("256 worker_connections are not enough while connecting to upstream", "fd-exhaustion"),
        ] {
            assert_eq!(cat(&format!("{p}{m}{c}")), Some(want), "{m}");
        }
        assert_eq!(cat("2026/11/22 10:00:05 [error] 1#1: *5 backend.internal could not be resolved (3: Host not found), client: 1.2.3.4, server: a, request: \"GET / HTTP/1.1\", host: \"a\""), Some("dns-resolution"));
        let emerg = "2026/11/22 10:00:05 [emerg] 1#1: host not found in upstream \"app:3000\" in /etc/nginx/conf.d/a.conf:3";
        assert_eq!(cat(emerg), Some("dns-resolution"));
        assert_eq!(
            upstream_key(&parse(emerg.as_bytes())),
            Some(&b"app:3000"[..])
        );
        let r = parse(b"2026/11/22 10:00:05 [error] 1#1: *2 no resolver defined to resolve backend.local, client: 1.2.3.4, server: a, request: \"GET / HTTP/1.1\", host: \"a\"");
        assert_eq!(upstream_key(&r), Some(&b"backend.local"[..]));
    }

    /// A record rebuilt from nothing but its level, its message and its
    /// [`class_flags`] must be classified like the record itself: otherwise the scanner's
    /// memo (classes remembered by level, message and flags) would answer wrongly. Every
    /// fixture line, recorded and built, plus each with its context cut.
    #[test]
    fn class_flags_hold_everything_classification_reads() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/logs");
        let mut lines: Vec<String> = Vec::new();
        for sub in ["", "/lab", "/containers"] {
            for e in std::fs::read_dir(format!("{dir}{sub}")).unwrap() {
                let p = e.unwrap().path();
                if p.extension().is_some_and(|x| x == "log") {
                    lines.extend(
                        std::fs::read_to_string(p)
                            .unwrap()
                            .lines()
                            .map(String::from),
                    );
                }
            }
        }
        for f in ["platforms.tsv", "fragments.tsv"] {
            let t = std::fs::read_to_string(format!("{dir}/classify/{f}")).unwrap();
            lines.extend(
                t.lines()
                    .filter(|l| !l.starts_with('#'))
                    .filter_map(|l| l.split_once('\t'))
                    .map(|(_, l)| l.to_string()),
            );
        }
        assert!(lines.len() > 200, "fixtures found: {}", lines.len());
        // Context that only decides a cut record: a timeout without its phase is cut
        // unless a client is named; a connect() with only `server:` after it is not.
        lines.push("2026/11/22 10:00:00 [error] 7#7: *1 upstream timed out (110: Connection timed out), client: 1.2.3.4".into());
        lines.push("2026/11/22 10:00:00 [error] 7#7: *1 connect() failed (111: Connection refused), server: a".into());
        // A unix upstream that only the upstream field shows (nginx names the socket in
        // the message only for connect()).
        for errno in ["2: No such file or directory", "13: Permission denied"] {
            lines.push(format!("2026/11/22 10:00:00 [error] 7#7: *1 connect() failed ({errno}) while connecting to upstream, client: 1.2.3.4, server: a, request: \"GET / HTTP/1.1\", upstream: \"fastcgi://unix:/run/php.sock:\", host: \"a\""));
        }
        let cut: Vec<String> = lines
            .iter()
            .filter_map(|l| l.split_once(", client: ").map(|(m, _)| m.to_string()))
            .collect();
        let mut classified = 0;
        for l in lines.iter().chain(&cut) {
            let r = parse(l.as_bytes());
            let f = class_flags(&r);
            let mut rebuilt = Record {
                level: r.level,
                message: r.message,
                client: (f & 1 != 0).then_some(&b"c"[..]),
                server: (f & 2 != 0).then_some(&b"s"[..]),
                upstream: match f & 12 {
                    12 => Some(&b"unix:/s"[..]),
                    4 => Some(&b"http://u"[..]),
                    _ => None,
                },
                pid: Some(5),
                tid: match f >> 4 {
                    1 => Some(5),
                    2 => Some(6),
                    _ => Some(0),
                },
                ..Default::default()
            };
            parse_message_parts(&mut rebuilt);
            assert_eq!(classify_full(&rebuilt), classify_full(&r), "{l}");
            classified += usize::from(classify_full(&r).is_some());
        }
        assert!(classified > 100, "{classified}");
    }

    #[test]
    fn digit_run_agrees_with_the_byte_loop() {
        fn by_bytes(b: &[u8]) -> (usize, u64) {
            let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
            let v = b[..n].iter().fold(0u64, |v, &c| {
                v.wrapping_mul(10).wrapping_add(u64::from(c - b'0'))
            });
            (n, v)
        }
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rnd = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let odd = [0u8, b'/', b':', b'#', b' ', 0x7f, 0x80, 0xb9, 0xff, b'a'];
        for _ in 0..200_000 {
            let len = (rnd() % 24) as usize;
            let b: Vec<u8> = (0..len)
                .map(|_| match rnd() % 5 {
                    0 => odd[(rnd() % odd.len() as u64) as usize],
                    _ => b'0' + (rnd() % 10) as u8,
                })
                .collect();
            let (n, v) = digit_run(&b);
            let (wn, wv) = by_bytes(&b);
            assert_eq!(n, wn, "{b:?}");
            if n <= MAX_EXACT_DIGITS {
                assert_eq!(v, wv, "{b:?}");
            }
        }
    }

    #[test]
    fn word_compare_agrees_with_slice_equality() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut rnd = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..20_000 {
            let la = (rnd() % 40) as usize;
            let a: Vec<u8> = (0..la).map(|_| (rnd() % 3) as u8).collect();
            let mut b = a.clone();
            match rnd() % 4 {
                0 => {}
                1 if !b.is_empty() => {
                    let i = (rnd() as usize) % b.len();
                    b[i] ^= 1 << (rnd() % 8);
                }
                2 => b.push(0),
                _ => b = (0..(rnd() % 40)).map(|_| (rnd() % 3) as u8).collect(),
            }
            assert_eq!(same_bytes(&a, &b), a == b, "{a:?} {b:?}");
        }
    }

    #[test]
    fn unix_upstreams_are_found_from_their_colons() {
        for u in [
            "unix:/s",
            "http://unix:/run/a.sock:/x?q=unix",
            "fastcgi://unix:",
            "http://10.0.0.5:8080/x?q=xxxxunix",
            "unix",
            ":unix",
            "http://a:1/?unix:",
            "",
            "uni:x:",
        ] {
            let u = u.as_bytes();
            assert_eq!(names_unix(u), contains(u, needle!(b"unix:")), "{u:?}");
        }
    }

    #[test]
    fn exact_texts_agree_with_the_word_search() {
        for &(text, e) in EXACT_TEXTS {
            assert_eq!(
                errno_from_words(text),
                Some(e),
                "{}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn substring_search_finds_first_and_last() {
        let h = b"a while b while c";
        assert_eq!(find(h, needle!(b" while ")), Some(1));
        assert_eq!(rfind(h, needle!(b" while ")), Some(9));
        assert_eq!(find(h, needle!(b"c")), Some(16));
        assert_eq!(rfind(h, needle!(b"a")), Some(0));
        assert_eq!(find(h, needle!(b"xyz")), None);
        assert_eq!(find(b"ab", needle!(b"abc")), None);
        assert_eq!(rfind(b"", needle!(b"a")), None);
        assert_eq!(find(h, needle!(b"")), None);
        // Against the naive definition on every window of a varied haystack.
        let hay = b"upstream: \"unix:/x:\", while , client: upstream  while, ";
        for n in [
            &b"upstream"[..],
            b", ",
            b" while",
            b"unix:",
            b"\", ",
            b"e",
            b"  ",
        ] {
            let naive_first = hay.windows(n.len()).position(|w| w == n);
            let naive_last = hay.windows(n.len()).rposition(|w| w == n);
            assert_eq!(find(hay, Needle::new(n)), naive_first);
            assert_eq!(rfind(hay, Needle::new(n)), naive_last);
        }
    }

    #[test]
    fn timestamp_shape_test_agrees_with_byte_by_byte() {
        const SHAPE: &[u8; 19] = b"0000/00/00 00:00:00";
        let slow = |t: &[u8]| {
            t.len() >= 19
                && t[..19].iter().zip(SHAPE).all(|(&b, &s)| {
                    if s == b'0' {
                        b.is_ascii_digit()
                    } else {
                        b == s
                    }
                })
        };
        let good = *b"2026/11/22 10:00:05 [error]";
        assert!(looks_timestamped(&good));
        assert!(!looks_timestamped(&good[..18]));
        // Every single-byte change at every position, with bytes around the classes'
        // edges (digits, separators, high bytes that could carry).
        for i in 0..19 {
            for b in (0u8..=255).step_by(1) {
                let mut t = good;
                t[i] = b;
                assert_eq!(looks_timestamped(&t), slow(&t), "byte {i} = {b:#x}");
            }
        }
        // Pairs of high bytes next to each other (carries between lanes).
        for i in 0..18 {
            for (a, b) in [(0xffu8, b'1'), (b'9', 0xff), (0xca, b'0'), (0xfa, 0xfa)] {
                let mut t = good;
                t[i] = a;
                t[i + 1] = b;
                assert_eq!(looks_timestamped(&t), slow(&t), "bytes {i}: {a:#x} {b:#x}");
            }
        }
    }

    #[test]
    fn pid_and_tid_read_the_same_either_way() {
        for l in [
            "2026/11/22 10:00:05 [error] 1234#1234: *5 x",
            "2026/11/22 10:00:05 [error] 1234#0: x",
            "2026/11/22 10:00:05 [error] 12#34 :x",
            "2026/11/22 10:00:05 [error] 99999999999999999999#1: x",
            "2026/11/22 10:00:05 [error] 1#99999999999999999999: x",
            "2026/11/22 10:00:05 [error] 123456789012345678901#123456789012345678: x",
            "2026/11/22 10:00:05 [error] 1#2#3: x",
            "2026/11/22 10:00:05 [error] 7: x",
            "2026/11/22 10:00:05 [error] 999999999999999999#999999999999999999: x",
            "2026/11/22 10:00:05 [error] 9223372036854775807#1: x",
            "2026/11/22 10:00:05 [error] 9223372036854775808#1: x",
            "2026/11/22 10:00:05 [error] 1#9223372036854775807: x",
        ] {
            let r = parse(l.as_bytes());
            // The general path on the same text: what follows the level, searched.
            let rest = &l.as_bytes()[28..];
            let p = rest.iter().take(42).position(|&b| b == b':');
            let want = p.and_then(|p| {
                let pt = &rest[..p];
                let h = pt.iter().position(|&b| b == b'#')?;
                Some((digits(&pt[..h])?, digits(&pt[h + 1..])?))
            });
            let got = r.pid.zip(r.tid).map(|(a, b)| (a as i64, b as i64));
            assert_eq!(got, want, "{l}");
        }
    }

    /// The level and `*CID` read in one pass give what reading them by search and
    /// [`digits`] gives: a level is letters closed by `]` within 10 bytes, a connection
    /// id any digit run that fits an `i64`.
    #[test]
    fn level_and_connection_id_read_the_same_either_way() {
        let levels = [
            "[error]",
            "[]",
            "[emerg]",
            "[abcdefghi]",
            "[abcdefghij]",
            "[err0r]",
            "[a]b]",
            "[x",
            "error]",
        ];
        let cids = [
            "*0 ",
            "*123 ",
            "*999999999999999999 ",
            "*9223372036854775807 ",
            "*9223372036854775808 ",
            "*99999999999999999999999 ",
            "* ",
            "*12x ",
            "",
        ];
        for lv in levels {
            for cid in cids {
                let l = format!("2026/11/22 10:00:05 {lv} 1#1: {cid}upstream timed out");
                let r = parse(l.as_bytes());
                // The old reading: `]` searched in the first 10 bytes, letters before it.
                let s = &l.as_bytes()[21..];
                let e = (l.as_bytes()[20] == b'[')
                    .then(|| s.iter().take(10).position(|&b| b == b']'))
                    .flatten()
                    .filter(|&e| s[..e].iter().all(u8::is_ascii_alphabetic));
                assert_eq!(r.level, e.map_or(&b""[..], |e| &s[..e]), "{l}");
                // `*CID` is read only right after a level and the usual `1#1: `.
                let after = e.and_then(|e| s[e + 1..].strip_prefix(b" 1#1: "));
                let want_cid = after.and_then(|a| {
                    let c = a.strip_prefix(b"*")?;
                    let n = c.iter().take_while(|b| b.is_ascii_digit()).count();
                    if n == 0 {
                        return None;
                    }
                    digits(&c[..n]).and_then(|v| u64::try_from(v).ok())
                });
                assert_eq!(r.cid, want_cid, "{l}");
                assert_eq!(r.pid.is_some(), after.is_some(), "{l}");
            }
        }
    }

    #[test]
    fn time_round_trips() {
        let t = parse_time(b"2024/02/29 23:59:59").unwrap();
        assert_eq!(format_time(t), "2024-02-29T23:59:59");
        assert_eq!(parse_time(b"2024/13/29 23:59:59"), None);
        assert_eq!(parse_time(b"short"), None);
    }
}
