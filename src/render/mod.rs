//! Renderers: turn a finished report into text or JSON. They compute nothing; every value
//! they show was decided by `report`.

pub mod explain_log;
pub mod fix_session;
pub mod human;
pub mod sanitize;

use std::io::{self, Write};

use crate::cli::ColorChoice;

/// Whether to color output: `--color always|never`, else a terminal with NO_COLOR unset.
pub fn use_color(choice: ColorChoice) -> bool {
    use std::io::IsTerminal;
    color_decision(
        choice,
        std::env::var_os("NO_COLOR").as_deref(),
        io::stdout().is_terminal(),
    )
}

/// The decision itself, with the environment and the terminal check passed in so that it
/// can be tested: NO_COLOR counts when set to anything but the empty string.
pub fn color_decision(
    choice: ColorChoice,
    no_color: Option<&std::ffi::OsStr>,
    stdout_is_terminal: bool,
) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => no_color.is_none_or(|v| v.is_empty()) && stdout_is_terminal,
    }
}

/// Writes any serializable document as pretty JSON with a final newline.
pub fn json<T: serde::Serialize>(value: &T, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)
}

/// A message for the terminal (an error, clap's usage text): each line escaped, line
/// breaks kept.
pub fn message(text: &str) -> String {
    text.split('\n')
        .map(|l| sanitize::escape_for_terminal(l).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn no_color_turns_auto_off_on_a_terminal_only_when_non_empty() {
        use ColorChoice::*;
        assert!(color_decision(Auto, None, true));
        assert!(!color_decision(Auto, Some(OsStr::new("1")), true));
        assert!(color_decision(Auto, Some(OsStr::new("")), true));
        assert!(!color_decision(Auto, None, false));
        assert!(color_decision(Always, Some(OsStr::new("1")), false));
        assert!(!color_decision(Never, None, true));
    }
}
