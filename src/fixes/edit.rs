//! Minimal configuration edits: one line of one file, shown as the `sed -i` that does the
//! same thing and applied by `apply` with a backup.

use serde::Serialize;

use super::shell_quote;

/// What happens to the line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "op")]
pub enum EditOp {
    /// Replace the first occurrence of `from` on the line with `to`.
    Replace { from: String, to: String },
    /// Replace the whole line (keeping its indentation) with `to`.
    SetLine { to: String },
    /// Insert `text` as a new line after the line, with the line's indentation, plus four
    /// spaces when `nested` (the first line inside a block that the line opens).
    InsertAfter { text: String, nested: bool },
}

/// A change of one line (1-based) of one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineEdit {
    pub file: String,
    pub line: u32,
    #[serde(flatten)]
    pub op: EditOp,
}

impl LineEdit {
    pub fn replace(file: &str, line: u32, from: &str, to: &str) -> Self {
        LineEdit {
            file: file.into(),
            line,
            op: EditOp::Replace {
                from: from.into(),
                to: to.into(),
            },
        }
    }
    pub fn set_line(file: &str, line: u32, to: &str) -> Self {
        LineEdit {
            file: file.into(),
            line,
            op: EditOp::SetLine { to: to.into() },
        }
    }
    pub fn insert_after(file: &str, line: u32, text: &str) -> Self {
        LineEdit {
            file: file.into(),
            line,
            op: EditOp::InsertAfter {
                text: text.into(),
                nested: true,
            },
        }
    }
    pub fn insert_after_flush(file: &str, line: u32, text: &str) -> Self {
        LineEdit {
            file: file.into(),
            line,
            op: EditOp::InsertAfter {
                text: text.into(),
                nested: false,
            },
        }
    }

    /// The `sed -i` that makes this edit (GNU sed).
    pub fn shown(&self) -> String {
        let n = self.line;
        let script = match &self.op {
            EditOp::Replace { from, to } => format!("{n}s#{}#{}#", sed_pattern(from), sed_repl(to)),
            EditOp::SetLine { to } => format!("{n}s#^\\([[:space:]]*\\).*#\\1{}#", sed_repl(to)),
            EditOp::InsertAfter { text, nested } => {
                // The line stays; a new one follows with its indentation (GNU sed's `\n`).
                let pad = if *nested { "    " } else { "" };
                format!(
                    "{n}s#^\\([[:space:]]*\\)\\(.*\\)$#\\1\\2\\n\\1{pad}{}#",
                    sed_repl(text)
                )
            }
        };
        format!(
            "sudo sed -i {} {}",
            shell_quote(&script),
            shell_quote(&self.file)
        )
    }

    /// The edited line(s) for `old` (the file's line `self.line`), or None when the line
    /// no longer says what the edit expects (the file changed since it was read).
    pub fn apply_to_line(&self, old: &str) -> Option<Vec<String>> {
        let indent: String = old.chars().take_while(|c| c.is_whitespace()).collect();
        match &self.op {
            EditOp::Replace { from, to } => old
                .contains(from.as_str())
                .then(|| vec![old.replacen(from.as_str(), to, 1)]),
            EditOp::SetLine { to } => Some(vec![format!("{indent}{to}")]),
            EditOp::InsertAfter { text, nested } => {
                let pad = if *nested { "    " } else { "" };
                Some(vec![old.to_string(), format!("{indent}{pad}{text}")])
            }
        }
    }
}

/// A literal string as a basic regular expression with `#` as the delimiter.
fn sed_pattern(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if "\\#.[]*^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A literal replacement with `#` as the delimiter.
fn sed_repl(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if "\\#&".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// The shown `sed` does exactly what `apply_to_line` does, on a real file.
    #[test]
    fn shown_sed_matches_apply() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("nginx.conf");
        let text = "http {\n    location /api/ {\n        proxy_pass http://127.0.0.1:3000;\n        pm.max_children = 5\n    }\n}\n";
        let f = file.to_str().unwrap();
        for edit in [
            LineEdit::replace(f, 3, "127.0.0.1:3000", "127.0.0.1:3001"),
            LineEdit::replace(f, 3, "http://", "https://a#b&c/"),
            LineEdit::set_line(f, 4, "pm.max_children = 12"),
            LineEdit::insert_after(f, 2, "proxy_read_timeout 120s;"),
        ] {
            std::fs::write(&file, text).unwrap();
            let shown = edit.shown().replacen("sudo ", "", 1);
            let st = Command::new("sh").arg("-c").arg(&shown).status().unwrap();
            assert!(st.success(), "{shown}");
            let by_sed = std::fs::read_to_string(&file).unwrap();
            let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
            let i = edit.line as usize - 1;
            let new = edit.apply_to_line(&lines[i]).unwrap();
            lines.splice(i..=i, new);
            let expected = lines.join("\n") + "\n";
            assert_eq!(by_sed, expected, "{shown}");
        }
    }

    #[test]
    fn a_line_that_changed_is_not_edited() {
        let e = LineEdit::replace("f", 1, "127.0.0.1:3000", "127.0.0.1:3001");
        assert_eq!(e.apply_to_line("proxy_pass http://127.0.0.1:4000;"), None);
    }
}
