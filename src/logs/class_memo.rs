//! Classes remembered by message: a failure log repeats a few dozen messages (`upstream
//! timed out (110: Connection timed out) while reading response header from upstream`,
//! `connect() to 10.0.0.5:8080 failed (111: …) while connecting to upstream`) millions of
//! times, and reading the errno and action out of each and classifying it again was a
//! large part of a dense log's cost per failure.
//!
//! Exact by construction: [`line::classify_full`] is a pure function of a record's level,
//! message and [`line::class_flags`], and a remembered class is used only when all three
//! are equal to the ones it was computed from (compared in full, not by hash). The table
//! is direct-mapped and fixed in size, so memory stays flat and a log whose messages never
//! repeat (FastCGI stderr dumps) only pays a hash and a copy per record.

use super::line::{self, Class, Record};

/// Slots of the table (a power of two).
const SLOTS: usize = 512;
/// Longer messages are classified without the table: they rarely repeat, and copying
/// them into it would cost more than classifying.
const MAX_MESSAGE: usize = 256;

#[derive(Default)]
struct Slot {
    /// 0: empty (a real hash of 0 only costs a miss).
    hash: u64,
    flags: u8,
    level: Vec<u8>,
    message: Vec<u8>,
    class: Option<Class>,
}

/// See the module doc.
pub struct ClassMemo {
    slots: Vec<Slot>,
}

impl Default for ClassMemo {
    fn default() -> Self {
        ClassMemo {
            slots: (0..SLOTS).map(|_| Slot::default()).collect(),
        }
    }
}

impl ClassMemo {
    /// The class of `r`, a record read by [`line::parse_fields`] (or completely):
    /// remembered, or classified with [`line::classify_full`] after
    /// [`line::parse_message_parts`]. `r`'s errno, errno text and action are therefore
    /// only set when it had to be classified: callers read its fields, never those.
    pub fn classify(&mut self, r: &mut Record<'_>) -> Option<Class> {
        if r.message.len() > MAX_MESSAGE {
            line::parse_message_parts(r);
            return line::classify_full(r);
        }
        let flags = line::class_flags(r);
        let level = r.level.first().map_or(0, |&b| u64::from(b)) | (r.level.len() as u64) << 8;
        let hash = message_hash(r.message, level << 8 | u64::from(flags)) | 1;
        let slot = &mut self.slots[(hash >> (64 - SLOTS.trailing_zeros())) as usize];
        if slot.hash == hash
            && slot.flags == flags
            && line::same_bytes(&slot.level, r.level)
            && line::same_bytes(&slot.message, r.message)
        {
            return slot.class;
        }
        line::parse_message_parts(r);
        let class = line::classify_full(r);
        slot.hash = hash;
        slot.flags = flags;
        slot.level.clear();
        slot.level.extend_from_slice(r.level);
        slot.message.clear();
        slot.message.extend_from_slice(r.message);
        slot.class = class;
        class
    }
}

/// A hash of `m` (and `seed`) for the table: four independent multiply lanes over 32-byte
/// steps, so the chain of dependent multiplies per message is a quarter of a word-by-word
/// hash's (which took a quarter of a dense log's time per failure).
#[inline]
fn message_hash(m: &[u8], seed: u64) -> u64 {
    const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
    let word = |b: &[u8]| {
        let mut w = [0u8; 8];
        w[..b.len()].copy_from_slice(b);
        u64::from_le_bytes(w)
    };
    let mut lanes = [
        seed,
        0x9e37_79b9_7f4a_7c15,
        m.len() as u64,
        0x2545_f491_4f6c_dd1d,
    ];
    let mut steps = m.chunks_exact(32);
    for step in &mut steps {
        for (lane, w) in lanes.iter_mut().zip(step.chunks_exact(8)) {
            *lane = (*lane ^ word(w)).wrapping_mul(K);
        }
    }
    for (lane, w) in lanes.iter_mut().zip(steps.remainder().chunks(8)) {
        *lane = (*lane ^ word(w)).wrapping_mul(K);
    }
    let [a, b, c, d] = lanes;
    (a ^ b.rotate_left(16) ^ c.rotate_left(32) ^ d.rotate_left(48)).wrapping_mul(K)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines that share messages but differ in what else classification reads (level,
    /// context fields present, unix upstream, platform), in every order, twice: the memo
    /// must answer exactly as classifying each line afresh.
    #[test]
    fn remembered_classes_equal_fresh_ones() {
        let messages: &[&str] = &[
            "connect() failed (111: Connection refused) while connecting to upstream",
            "connect() to unix:/run/php.sock failed (2: No such file or directory) while connecting to upstream",
            "connect() failed (2: No such file or directory) while connecting to upstream",
            "connect() failed (13: Permission denied) while connecting to upstream",
            "connect() failed (61: Connection refused) while connecting to upstream",
            "connect() failed (35: Resource temporarily unavailable) while connecting to upstream",
            "connect() failed (111: Connection ref",
            "upstream timed out (110: Connection timed out) while reading response header from upstream",
            "upstream timed out (110: Connection timed out)",
            "upstream server temporarily disabled while connecting to upstream",
            "an upstream response is buffered to a temporary file",
            "recv() failed (104: Connection reset by peer) while reading response header from upstream",
            "client prematurely closed connection",
            "open() \"/x\" failed (2: No such file or directory)",
        ];
        let heads = [
            "2026/11/22 10:00:00 [error] 7#7: *1 ",
            "2026/11/22 10:00:00 [error] 7#9: *1 ",
            "2026/11/22 10:00:00 [error] 7#0: *1 ",
            "2026/11/22 10:00:00 [crit] 7#7: *1 ",
            "2026/11/22 10:00:00 [warn] 7#7: *1 ",
            "2026/11/22 10:00:00 [info] 7#7: *1 ",
            "",
        ];
        let tails = [
            "",
            ", client: 1.2.3.4, server: a",
            ", client: 1.2.3.4, server: a, request: \"GET / HTTP/1.1\", upstream: \"http://127.0.0.1:3000/\", host: \"a\"",
            ", client: 1.2.3.4, server: a, request: \"GET / HTTP/1.1\", upstream: \"fastcgi://unix:/run/php.sock:\", host: \"a\"",
            ", server: a",
        ];
        let mut lines = Vec::new();
        for h in heads {
            for m in messages {
                for t in tails {
                    lines.push(format!("{h}{m}{t}"));
                }
            }
        }
        let mut memo = ClassMemo::default();
        for round in 0..2 {
            for (i, l) in lines.iter().enumerate() {
                // Forward, then a scrambled order, so entries are reused across keys.
                let l = if round == 0 {
                    l
                } else {
                    &lines[(i * 7919) % lines.len()]
                };
                let fresh = line::classify_full(&line::parse(l.as_bytes()));
                let (h, rest) = line::head(l.as_bytes(), line::parse_time(l.as_bytes()));
                let mut r = line::parse_fields(h, rest);
                assert_eq!(memo.classify(&mut r), fresh, "{l}");
            }
        }
    }
}
