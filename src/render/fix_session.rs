//! The text of `diagnose --fix`: each plan offered (what will run, the diff of each file),
//! the prompt, what `apply` did, and the check of the site afterwards. The dialogue itself
//! (asking, applying, re-diagnosing) is `app::fix_session` and `app::verify_after_fix`;
//! this formats, and escapes every text that came from the host or the configuration.

use std::io::{self, Write};

use super::sanitize::escape_for_terminal as esc;
use crate::fixes::apply::Outcome;

pub fn nothing_found(out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "--fix: no problem found, nothing to fix.")
}

pub fn cannot_apply(out: &mut dyn Write, cause: &str) -> io::Result<()> {
    writeln!(
        out,
        "--fix: badgw cannot apply a fix for {cause} itself; the commands above are for you to review and run."
    )
}

/// "Fix 1 of 2: …" and the command line the plan runs.
pub fn offer(
    out: &mut dyn Write,
    index: usize,
    of: usize,
    summary: &str,
    command: &str,
) -> io::Result<()> {
    writeln!(out, "\nFix {index} of {of}: {}", esc(summary))?;
    writeln!(out, "  will run: {}", esc(command))
}

/// The change the plan makes to one file, or why it cannot be shown.
pub fn preview(out: &mut dyn Write, file: &str, diff: Result<&str, &str>) -> io::Result<()> {
    match diff {
        Ok(diff) => {
            for l in diff.lines() {
                writeln!(out, "  {}", esc(l))?;
            }
            Ok(())
        }
        Err(e) => writeln!(out, "  cannot show the change of {}: {}", esc(file), esc(e)),
    }
}

pub fn prompt(out: &mut dyn Write) -> io::Result<()> {
    write!(out, "Apply this fix? [y/N] ")?;
    out.flush()
}

pub fn skipped(out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "  skipped.")
}

/// The steps `apply` reported, then, when the plan did not go through, why.
pub fn applied(out: &mut dyn Write, log: &[String], outcome: &Outcome) -> io::Result<()> {
    for l in log {
        writeln!(out, "  {}", esc(l))?;
    }
    match outcome {
        Outcome::Applied { .. } => Ok(()),
        Outcome::Stale { reason } => writeln!(out, "  not applied: {}", esc(reason)),
        Outcome::TestFailed { output } => {
            writeln!(
                out,
                "  the syntax test failed; every edited file was restored and nothing was reloaded:"
            )?;
            tail_of_output(out, output)
        }
        Outcome::ActivateFailed { command, output } => {
            writeln!(
                out,
                "  {} failed; the edited files were restored:",
                esc(command)
            )?;
            tail_of_output(out, output)
        }
    }
}

fn tail_of_output(out: &mut dyn Write, output: &str) -> io::Result<()> {
    for l in output.lines().take(10) {
        writeln!(out, "    {}", esc(l))?;
    }
    Ok(())
}

pub fn checking_again(out: &mut dyn Write, summary: &str) -> io::Result<()> {
    writeln!(out, "\nApplied: {}. Checking the site again…", esc(summary))
}

/// The request through nginx after the fix: `via` is the listener it went to and `answer`
/// the status or the failure; None when the server has no plain-HTTP listener.
pub fn through_nginx(
    out: &mut dyn Write,
    site: &str,
    path: &str,
    sent: Option<(&str, &str)>,
) -> io::Result<()> {
    match sent {
        Some((via, answer)) => writeln!(
            out,
            "  through nginx: GET {}{} (Host: {}) via {} → {}",
            esc(site),
            esc(path),
            esc(site),
            esc(via),
            esc(answer)
        ),
        None => writeln!(
            out,
            "  through nginx: no plain-HTTP listener of the server to send a request to"
        ),
    }
}

pub fn directly(out: &mut dyn Write, address: &str, probe: Option<&str>) -> io::Result<()> {
    writeln!(
        out,
        "  directly to the upstream {}: {}",
        esc(address),
        esc(probe.unwrap_or("not probed"))
    )
}

pub fn fixed(out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "Fixed: the site answers again.")
}

/// `lead`: the leading finding after the fix, as (cause id, title).
pub fn still_failing(out: &mut dyn Write, lead: Option<(&str, &str)>) -> io::Result<()> {
    let why = lead
        .map(|(cause, title)| format!(" ({cause}: {})", esc(title)))
        .unwrap_or_default();
    writeln!(
        out,
        "Still failing{why}. The change stays in place (backups were listed above)."
    )
}
