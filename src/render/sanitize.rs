//! Escaping of attacker-controlled text (log lines, request lines, host headers, config
//! strings) before it is written to a terminal.
//!
//! A log line can carry bytes chosen by any client: ESC sequences that recolor or rewrite
//! the screen, C1 controls (U+0080–U+009F, e.g. CSI U+009B), DEL, and bidi overrides
//! (U+202A–U+202E, U+2066–U+2069) that make text read differently from what it is. Each is
//! replaced by a visible escape (`\x1b`, `\u{202e}`). Tabs are kept; newlines and carriage
//! returns are escaped so one record stays on one screen line. This module never decides
//! *whether* to escape (JSON output keeps text faithful): callers escape human output only.

use std::borrow::Cow;
use std::fmt::Write;

/// True for a char a terminal may interpret instead of showing.
fn needs_escape(c: char) -> bool {
    let u = c as u32;
    (u < 0x20 && c != '\t')
        || u == 0x7f
        || (0x80..=0x9f).contains(&u)
        || (0x202a..=0x202e).contains(&u)
        || (0x2066..=0x2069).contains(&u)
}

/// Returns `s` with control chars, DEL, C1 controls and bidi overrides made visible;
/// borrows when nothing needs escaping (the common case).
pub fn escape_for_terminal(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if needs_escape(c) {
            let u = c as u32;
            if u <= 0xff {
                let _ = write!(out, "\\x{u:02x}");
            } else {
                let _ = write!(out, "\\u{{{u:04x}}}");
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Like [`escape_for_terminal`] for raw bytes: valid UTF-8 runs are escaped as text, every
/// byte of an invalid sequence is shown as `\xNN` (so nothing is silently replaced).
pub fn escape_bytes_for_terminal(b: &[u8]) -> Cow<'_, str> {
    if let Ok(s) = std::str::from_utf8(b) {
        return escape_for_terminal(s);
    }
    let mut out = String::with_capacity(b.len() + 16);
    for chunk in b.utf8_chunks() {
        out.push_str(&escape_for_terminal(chunk.valid()));
        for byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed() {
        assert!(matches!(
            escape_for_terminal("GET /a\tb HTTP/1.1"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn escapes_c0_del_c1_and_bidi() {
        assert_eq!(
            escape_for_terminal("a\x1b[31mb\x7fc\u{9b}d\u{202e}e\u{2066}f\r\n"),
            "a\\x1b[31mb\\x7fc\\x9bd\\u{202e}e\\u{2066}f\\x0d\\x0a"
        );
    }

    #[test]
    fn invalid_bytes_are_shown_not_dropped() {
        assert_eq!(
            escape_bytes_for_terminal(b"ok\xff\xfe\x1bz"),
            "ok\\xff\\xfe\\x1bz"
        );
        assert_eq!(escape_bytes_for_terminal(b"caf\xc3\xa9"), "café");
    }
}
