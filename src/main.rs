//! Entry point: parse the command line, run, map the outcome to an exit code (design §6).
//! Errors go to stderr as `badgw: …`; data goes to stdout only. A closed stdout (`| head`)
//! ends quietly with the exit code the result had: output is dropped, the work finishes.

use std::io::{self, Write};
use std::process::ExitCode;

use std::ffi::OsString;

use clap::{CommandFactory, FromArgMatches};

use badgw::exit::{ExitError, ExitStatus};

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let color = clap_color(&args);
    let parsed = badgw::cli::Cli::command()
        .color(color)
        .try_get_matches_from(&args)
        .and_then(|m| badgw::cli::Cli::from_arg_matches(&m));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            let e = e.with_cmd(&badgw::cli::Cli::command().color(color));
            if color == clap::ColorChoice::Always {
                let _ = e.print();
            } else {
                // Plain text: the arguments echoed in the message are escaped like any
                // other text for a terminal.
                let text = e.render().to_string();
                let text = badgw::render::message(&text);
                let _ = if e.use_stderr() {
                    write!(io::stderr(), "{text}")
                } else {
                    write!(io::stdout(), "{text}")
                };
            }
            return ExitCode::from(if e.use_stderr() {
                ExitStatus::Usage.code() as u8
            } else {
                0
            });
        }
    };
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(QuietPipe {
        inner: stdout.lock(),
        closed: false,
    });
    let result =
        badgw::app::run(cli, &mut out).and_then(|s| out.flush().map(|_| s).map_err(Into::into));
    match result {
        Ok(status) => ExitCode::from(status.code() as u8),
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let status = e
                .downcast_ref::<ExitError>()
                .map(|x| x.status)
                .unwrap_or(ExitStatus::Usage);
            // Messages quote config text, paths and host names: never raw on a terminal.
            eprintln!("badgw: {}", badgw::render::message(&format!("{e:#}")));
            ExitCode::from(status.code() as u8)
        }
    }
}

/// clap's own colors follow `--color` (its last occurrence) and NO_COLOR, like ours: clap
/// is asked for color only when the user asked for it or a terminal may show it.
fn clap_color(args: &[OsString]) -> clap::ColorChoice {
    let mut choice = None;
    let mut it = args.iter().skip(1).map(|a| a.to_string_lossy());
    while let Some(a) = it.next() {
        if a == "--" {
            break;
        }
        let value = match a.strip_prefix("--color") {
            Some("") => it.next().map(|v| v.into_owned()),
            Some(v) if v.starts_with('=') => Some(v[1..].to_string()),
            _ => None,
        };
        if let Some(v) = value {
            choice = Some(v);
        }
    }
    match choice.as_deref() {
        Some("always") => clap::ColorChoice::Always,
        Some("never") => clap::ColorChoice::Never,
        _ if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) => {
            clap::ColorChoice::Never
        }
        _ => clap::ColorChoice::Auto,
    }
}

/// Stdout that turns "the reader went away" (EPIPE) into silence: the rest of the output
/// is discarded so the command still finishes and exits with its own status.
struct QuietPipe<W: Write> {
    inner: W,
    closed: bool,
}

impl<W: Write> Write for QuietPipe<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        match self.inner.write(buf) {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(buf.len())
            }
            other => other,
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        match self.inner.flush() {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            other => other,
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}
