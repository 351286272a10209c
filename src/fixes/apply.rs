//! The only code in badgw that changes the host: carries out one [`Plan`] of a fix that the
//! user accepted (`badgw diagnose --fix`).
//!
//! Order and guarantees: every file the plan edits is backed up first (a copy under
//! `$BADGW_BACKUP_DIR`, default `/var/backups/badgw/<time>/`, never beside the file where an
//! `include *.conf` or `sites-enabled/*` could pick it up); the edits are made; the syntax
//! test runs before any reload, and when it fails every file is restored byte for byte and
//! nothing is reloaded. A line that no longer says what the plan expects (the file changed
//! since it was read) stops the plan before anything is written.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Cmd, LineEdit, Plan};

/// How long one command of a plan may run.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every step ran.
    Applied { backups: Vec<(String, String)> },
    /// A line did not say what was expected: nothing was written.
    Stale { reason: String },
    /// The syntax test failed: every edited file was restored, nothing was reloaded.
    TestFailed { output: String },
    /// A reload/restart failed after a passing test; the edited files were restored.
    ActivateFailed { command: String, output: String },
}

/// The edited text of a file: `edits` (all of this file) applied from the bottom line up so
/// an inserted line never shifts the ones above it. Keeps the file's final newline or lack.
pub fn edit_text(text: &str, edits: &[&LineEdit]) -> Result<String, String> {
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    let trailing = text.ends_with('\n');
    if trailing {
        lines.pop();
    }
    let mut order: Vec<&&LineEdit> = edits.iter().collect();
    order.sort_by_key(|e| std::cmp::Reverse(e.line));
    for e in order {
        let i = e.line as usize;
        if i == 0 || i > lines.len() {
            return Err(format!(
                "{}:{} does not exist (the file has {} lines)",
                e.file,
                e.line,
                lines.len()
            ));
        }
        let new = e.apply_to_line(&lines[i - 1]).ok_or_else(|| {
            format!(
                "{}:{} changed since badgw read it: {:?}",
                e.file,
                e.line,
                lines[i - 1]
            )
        })?;
        lines.splice(i - 1..i, new);
    }
    let mut out = lines.join("\n");
    if trailing {
        out.push('\n');
    }
    Ok(out)
}

fn backup_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("BADGW_BACKUP_DIR") {
        return PathBuf::from(d);
    }
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
    PathBuf::from(format!("/var/backups/badgw/{stamp}"))
}

/// Runs one command (no shell), with the step timeout: Ok(output) or Err(output).
pub fn run(cmd: &Cmd) -> Result<String, String> {
    let (prog, args) = cmd
        .argv
        .split_first()
        .ok_or_else(|| "empty command".to_string())?;
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = crate::gather::command::run_command(prog, &args, STEP_TIMEOUT)?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.success {
        Ok(text)
    } else {
        Err(text)
    }
}

/// Carries out `plan`; `say` gets one line per step (what runs, and its result).
pub fn apply(plan: &Plan, say: &mut dyn FnMut(&str)) -> std::io::Result<Outcome> {
    // Read and edit everything in memory first: a stale line stops the plan untouched.
    let mut changed: Vec<(String, Vec<u8>, String)> = Vec::new();
    for file in plan.files() {
        let original = std::fs::read(file)?;
        let text = String::from_utf8_lossy(&original).into_owned();
        let edits: Vec<&LineEdit> = plan.edits.iter().filter(|e| e.file == file).collect();
        match edit_text(&text, &edits) {
            Ok(new) => changed.push((file.to_string(), original, new)),
            Err(reason) => return Ok(Outcome::Stale { reason }),
        }
    }
    let dir = backup_dir();
    let mut backups = Vec::new();
    if !changed.is_empty() {
        std::fs::create_dir_all(&dir)?;
    }
    for (file, original, _) in &changed {
        let name = file.trim_start_matches('/').replace('/', "%");
        let copy = dir.join(name);
        std::fs::write(&copy, original)?;
        say(&format!("backed up {file} to {}", copy.display()));
        backups.push((file.clone(), copy.display().to_string()));
    }
    let restore = |say: &mut dyn FnMut(&str)| {
        for (file, original, _) in &changed {
            match std::fs::write(file, original) {
                Ok(()) => say(&format!("restored {file}")),
                Err(e) => say(&format!(
                    "could NOT restore {file}: {e} (its backup is in {})",
                    dir.display()
                )),
            }
        }
    };
    for (file, _, new) in &changed {
        // In place (same inode, owner and mode), as an editor's save would be.
        if let Err(e) = std::fs::write(file, new) {
            restore(say);
            return Err(e);
        }
        say(&format!("edited {file}"));
    }
    if let Some(test) = &plan.test {
        say(&format!("testing: {}", test.shown()));
        if let Err(output) = run(test) {
            restore(say);
            return Ok(Outcome::TestFailed { output });
        }
    }
    for cmd in &plan.activate {
        say(&format!("running: {}", cmd.shown()));
        if let Err(output) = run(cmd) {
            if !changed.is_empty() {
                restore(say);
            }
            return Ok(Outcome::ActivateFailed {
                command: cmd.shown(),
                output,
            });
        }
    }
    Ok(Outcome::Applied { backups })
}

/// A unified-style diff of what the plan changes in `file` (for the review before `[y/N]`).
pub fn preview(plan: &Plan, file: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(Path::new(file)).map_err(|e| format!("{file}: {e}"))?;
    let edits: Vec<&LineEdit> = plan.edits.iter().filter(|e| e.file == file).collect();
    let new = edit_text(&text, &edits)?;
    let old: Vec<&str> = text.lines().collect();
    let new: Vec<&str> = new.lines().collect();
    let mut out = format!("--- {file}\n+++ {file} (after the fix)\n");
    // The edits touch single lines: show each changed region with one line of context.
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        if i < old.len() && j < new.len() && old[i] == new[j] {
            i += 1;
            j += 1;
            continue;
        }
        out.push_str(&format!("@@ line {} @@\n", i + 1));
        if i > 0 {
            out.push_str(&format!(" {}\n", old[i - 1]));
        }
        // Lines removed until the rest matches again (edits are local: look ahead a little).
        let resync = (0..=3)
            .flat_map(|d_old| (0..=3).map(move |d_new| (d_old, d_new)))
            .filter(|(a, b)| a + b > 0)
            .find(|&(a, b)| {
                old.get(i + a).is_some() && old.get(i + a) == new.get(j + b)
                    || (i + a >= old.len() && j + b >= new.len())
            })
            .unwrap_or((old.len() - i, new.len() - j));
        for l in &old[i..(i + resync.0).min(old.len())] {
            out.push_str(&format!("-{l}\n"));
        }
        for l in &new[j..(j + resync.1).min(new.len())] {
            out.push_str(&format!("+{l}\n"));
        }
        i += resync.0;
        j += resync.1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_apply_bottom_up_and_keep_the_final_newline() {
        let text = "a\n  b {\n  c 1;\n}\n";
        let e1 = LineEdit::insert_after("f", 2, "x 2;");
        let e2 = LineEdit::replace("f", 3, "c 1", "c 3");
        assert_eq!(
            edit_text(text, &[&e1, &e2]).unwrap(),
            "a\n  b {\n      x 2;\n  c 3;\n}\n"
        );
        assert_eq!(
            edit_text("a\nb", &[&LineEdit::set_line("f", 2, "c")]).unwrap(),
            "a\nc"
        );
        assert!(edit_text(text, &[&LineEdit::replace("f", 9, "a", "b")]).is_err());
    }

    /// A failing syntax test leaves the file byte-identical and runs no reload.
    #[test]
    fn failing_test_restores_the_file_and_skips_activation() {
        let dir = tempfile::tempdir().unwrap();
        std::env::set_var("BADGW_BACKUP_DIR", dir.path().join("backups"));
        let file = dir.path().join("app.conf");
        let original = b"listen 3000;\r\nkeep this\n".to_vec();
        std::fs::write(&file, &original).unwrap();
        let marker = dir.path().join("reloaded");
        let plan = Plan {
            edits: vec![LineEdit::replace(file.to_str().unwrap(), 1, "3000", "3001")],
            test: Some(Cmd::root(["false"])),
            activate: vec![Cmd::root(["touch", marker.to_str().unwrap()])],
            ..Default::default()
        };
        let mut said = Vec::new();
        let outcome = apply(&plan, &mut |s| said.push(s.to_string())).unwrap();
        assert!(matches!(outcome, Outcome::TestFailed { .. }), "{outcome:?}");
        assert_eq!(std::fs::read(&file).unwrap(), original);
        assert!(!marker.exists(), "reload ran after a failed test: {said:?}");
        // And a passing test applies it.
        let plan = Plan {
            test: Some(Cmd::root(["true"])),
            ..plan
        };
        let outcome = apply(&plan, &mut |_| {}).unwrap();
        assert!(matches!(outcome, Outcome::Applied { .. }), "{outcome:?}");
        assert_eq!(
            std::fs::read(&file).unwrap(),
            b"listen 3001;\r\nkeep this\n"
        );
        assert!(marker.exists());
    }
}
