//! Escapes text that came from outside (log lines, request lines, process titles) before it
//! reaches a terminal: control characters (C0, DEL, C1) and bidi overrides could move the
//! cursor, recolor the screen or reorder what the on-call engineer reads.

use std::borrow::Cow;

fn needs_escape(c: char) -> bool {
    (c.is_control() && c != '\t')
        || ('\u{202A}'..='\u{202E}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// Escapes control and bidi characters as `\x1b`-style or `\u{202e}`-style text.
pub fn escape_for_terminal(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if needs_escape(c) {
            if (c as u32) < 0x100 {
                out.push_str(&format!("\\x{:02x}", c as u32));
            } else {
                out.push_str(&format!("\\u{{{:04x}}}", c as u32));
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_escape_sequences_and_bidi() {
        assert_eq!(
            escape_for_terminal("GET /\x1b[2J HTTP"),
            "GET /\\x1b[2J HTTP"
        );
        assert_eq!(escape_for_terminal("a\u{202e}b"), "a\\u{202e}b");
        assert_eq!(escape_for_terminal("a\u{85}b\rc"), "a\\x85b\\x0dc");
        assert!(matches!(
            escape_for_terminal("plain\ttext"),
            Cow::Borrowed(_)
        ));
    }
}
