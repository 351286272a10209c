//! `badgw diagnose --fix`: offers the leading cause's fixes that have a [`Plan`], one at a
//! time — what will run, a diff of every file it edits — asks `[y/N]` (or takes `--yes`),
//! and hands an accepted plan to [`apply`]. Edits no file itself; the caller verifies the
//! site afterwards. The text is `render::fix_session`'s.

use std::io::{self, BufRead, Write};

use crate::fixes::apply::{self, Outcome};
use crate::fixes::Plan;
use crate::render::fix_session as text;
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
        text::nothing_found(out)?;
        return Ok(SessionEnd::NothingToApply);
    };
    if plans.is_empty() {
        text::cannot_apply(out, lead.finding.cause.id())?;
        return Ok(SessionEnd::NothingToApply);
    }
    let mut tried = false;
    for (i, (summary, plan)) in plans.iter().enumerate() {
        text::offer(out, i + 1, plans.len(), summary, &plan.command())?;
        for file in plan.files() {
            let diff = apply::preview(plan, file);
            text::preview(out, file, diff.as_deref().map_err(String::as_str))?;
        }
        if dry_run {
            continue;
        }
        if ask {
            text::prompt(out)?;
            let mut answer = String::new();
            input.read_line(&mut answer)?;
            if !matches!(answer.trim(), "y" | "Y" | "yes" | "Yes") {
                text::skipped(out)?;
                continue;
            }
        }
        tried = true;
        let mut log = Vec::new();
        let outcome = apply::apply(plan, &mut |s| log.push(s.to_string()))?;
        text::applied(out, &log, &outcome)?;
        if let Outcome::Applied { .. } = outcome {
            return Ok(SessionEnd::Applied(summary.to_string()));
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
