//! Renderers: turn a finished report into text or JSON. They compute nothing; every value
//! they show was decided by `report`.

pub mod human;
pub mod sanitize;

use std::io::{self, Write};

use crate::cli::ColorChoice;

/// Whether to color output: `--color always|never`, else a terminal with NO_COLOR unset.
pub fn use_color(choice: ColorChoice) -> bool {
    use std::io::IsTerminal;
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && io::stdout().is_terminal()
        }
    }
}

/// Writes any serializable document as pretty JSON with a final newline.
pub fn json<T: serde::Serialize>(value: &T, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)
}
