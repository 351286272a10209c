//! Entry point: parse the command line, run, map the outcome to an exit code (design §6).
//! Errors go to stderr as `badgw: …`; data goes to stdout only. A closed stdout (`| head`)
//! ends quietly with the exit code the result had: output is dropped, the work finishes.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;

use badgw::exit::{ExitError, ExitStatus};

fn main() -> ExitCode {
    let cli = match badgw::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
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
            eprintln!("badgw: {e:#}");
            ExitCode::from(status.code() as u8)
        }
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
