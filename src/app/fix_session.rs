//! `badgw diagnose --fix`: offers the leading cause's fixes that have a [`Plan`], one at a
//! time — what will run, a diff of every file it edits — asks `[y/N]` (or takes `--yes`),
//! and hands an accepted plan to [`apply`]. Writes nothing itself; the caller verifies the
//! site afterwards.

use std::io::{self, BufRead, Write};

use crate::fixes::apply::{self, Outcome};
use crate::fixes::Plan;
use crate::render::sanitize::escape_for_terminal as esc;
use crate::report::Report;

/// How the session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEnd {
    /// The leading cause has no fix badgw can carry out.
    NothingToApply,
    /// `--dry-run`: the plans were printed.
    DryRun,
    /// Every fix offered was declined.
    Declined,
    /// A fix was applied (its summary).
    Applied(String),
    /// Fixes were tried and none went through (test failed, stale file, command failed);
    /// every file is as it was.
    Failed,
}

/// The plans of the leading cause, in the order the check gave them.
pub fn plans(report: &Report) -> Vec<(&str, &Plan)> {
    report
        .findings
        .first()
        .map(|f| {
            f.finding
                .fixes
                .iter()
                .filter_map(|x| x.plan.as_ref().map(|p| (x.summary.as_str(), p)))
                .collect()
        })
        .unwrap_or_default()
}

/// Offers the plans; `ask` is false with `--yes` (apply the first without asking).
pub fn offer(
    report: &Report,
    ask: bool,
    dry_run: bool,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
) -> io::Result<SessionEnd> {
    let plans = plans(report);
    let Some(lead) = report.findings.first() else {
        writeln!(out, "--fix: no problem found, nothing to fix.")?;
        return Ok(SessionEnd::NothingToApply);
    };
    if plans.is_empty() {
        writeln!(
            out,
            "--fix: badgw cannot apply a fix for {} itself; the commands above are for you to review and run.",
            lead.finding.cause.id()
        )?;
        return Ok(SessionEnd::NothingToApply);
    }
    let mut tried = false;
    for (i, (summary, plan)) in plans.iter().enumerate() {
        writeln!(out, "\nFix {} of {}: {}", i + 1, plans.len(), esc(summary))?;
        writeln!(out, "  will run: {}", esc(&plan.command()))?;
        for file in plan.files() {
            match apply::preview(plan, file) {
                Ok(diff) => {
                    for l in diff.lines() {
                        writeln!(out, "  {}", esc(l))?;
                    }
                }
                Err(e) => writeln!(
                    out,
                    "  cannot show the change of {}: {}",
                    esc(file),
                    esc(&e)
                )?,
            }
        }
        if dry_run {
            continue;
        }
        if ask {
            write!(out, "Apply this fix? [y/N] ")?;
            out.flush()?;
            let mut answer = String::new();
            input.read_line(&mut answer)?;
            if !matches!(answer.trim(), "y" | "Y" | "yes" | "Yes") {
                writeln!(out, "  skipped.")?;
                continue;
            }
        }
        tried = true;
        let mut log = Vec::new();
        let outcome = apply::apply(plan, &mut |s| log.push(s.to_string()))?;
        for l in &log {
            writeln!(out, "  {}", esc(l))?;
        }
        match outcome {
            Outcome::Applied { .. } => return Ok(SessionEnd::Applied(summary.to_string())),
            Outcome::Stale { reason } => writeln!(out, "  not applied: {}", esc(&reason))?,
            Outcome::TestFailed { output } => {
                writeln!(out, "  the syntax test failed; every edited file was restored and nothing was reloaded:")?;
                for l in output.lines().take(10) {
                    writeln!(out, "    {}", esc(l))?;
                }
            }
            Outcome::ActivateFailed { command, output } => {
                writeln!(
                    out,
                    "  {} failed; the edited files were restored:",
                    esc(&command)
                )?;
                for l in output.lines().take(10) {
                    writeln!(out, "    {}", esc(l))?;
                }
            }
        }
    }
    Ok(if dry_run {
        SessionEnd::DryRun
    } else if tried {
        SessionEnd::Failed
    } else {
        SessionEnd::Declined
    })
}
