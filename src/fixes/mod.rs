//! Fixes: the one module that knows how to act on *this* host, and where every command
//! badgw proposes to change it is built. Checks describe what is wrong; they ask this module
//! for the commands (`nginx::control(facts).test_and_reload()`, `LineEdit`, `fpm::control`),
//! so a reload is `systemctl reload nginx.service` where systemd runs nginx, the instance's
//! own binary with its `-c`/`-p` where it does not, and `kill -HUP <master>` where only the
//! master's pid is exact.
//!
//! A fix that `badgw diagnose --fix` can carry out has a [`Plan`]: minimal line edits of
//! exact files, the matching syntax test, then the reload or restart. Its printed command is
//! rendered from the same plan, so what is shown is what runs. Everything here is pure;
//! only [`apply`] changes the host.

pub mod app;
pub mod apply;
pub mod balancer;
pub mod container;
pub mod edit;
pub mod fpm;
pub mod host;
pub mod inspect;
pub mod kernel;
pub mod log_causes;
pub mod nginx;
pub mod pm2;
pub mod selinux;
pub mod sizing;
pub mod socket;
pub mod systemd;
pub mod upstream_tls;

use serde::Serialize;

pub use edit::LineEdit;

/// Whether a fix command may be pasted as is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Safety {
    /// Read-only or idempotent (show logs, status).
    Safe,
    /// Changes the host (restart, edit): read it first.
    ReviewFirst,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fix {
    pub summary: String,
    pub command: String,
    pub safety: Safety,
    /// What `diagnose --fix` carries out (edits, syntax test, reload), when it can; the
    /// `command` above is rendered from it (src/fixes/).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan>,
}

impl Fix {
    pub fn safe(summary: impl Into<String>, command: impl Into<String>) -> Self {
        Fix {
            summary: summary.into(),
            command: command.into(),
            safety: Safety::Safe,
            plan: None,
        }
    }
    pub fn review(summary: impl Into<String>, command: impl Into<String>) -> Self {
        Fix {
            summary: summary.into(),
            command: command.into(),
            safety: Safety::ReviewFirst,
            plan: None,
        }
    }
    /// A change `diagnose --fix` can carry out; its command is the plan's.
    pub fn planned(summary: impl Into<String>, plan: Plan) -> Self {
        Fix {
            summary: summary.into(),
            command: plan.command(),
            safety: Safety::ReviewFirst,
            plan: Some(plan),
        }
    }
}

/// One command: its argv, run without a shell; `root` when it needs root (shown with
/// `sudo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cmd {
    pub argv: Vec<String>,
    #[serde(skip)]
    pub root: bool,
}

impl Cmd {
    pub fn root<I, S>(argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Cmd {
            argv: argv.into_iter().map(Into::into).collect(),
            root: true,
        }
    }

    /// The command as a user types it: shell-quoted words, `sudo` when it needs root.
    pub fn shown(&self) -> String {
        let words: Vec<String> = self.argv.iter().map(|w| shell_quote(w)).collect();
        if self.root {
            format!("sudo {}", words.join(" "))
        } else {
            words.join(" ")
        }
    }
}

/// What `--fix` does for one fix, in order: edit the files (each backed up first), run the
/// syntax test (restore every backup if it fails), then activate (reload/restart).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Plan {
    pub edits: Vec<LineEdit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test: Option<Cmd>,
    pub activate: Vec<Cmd>,
    /// Shown without `sudo` (badgw runs as root, or the host has no sudo: `host::adapt`).
    #[serde(skip)]
    pub without_sudo: bool,
}

impl Plan {
    /// The whole plan as one shell line, joined by `&&` so a failed step stops the rest.
    pub fn command(&self) -> String {
        let mut parts: Vec<String> = self.edits.iter().map(LineEdit::shown).collect();
        parts.extend(self.test.iter().map(Cmd::shown));
        parts.extend(self.activate.iter().map(Cmd::shown));
        let line = parts.join(" && ");
        if self.without_sudo {
            host::without_sudo(&line)
        } else {
            line
        }
    }

    /// Files the plan edits, each once.
    pub fn files(&self) -> Vec<&str> {
        let mut v: Vec<&str> = Vec::new();
        for e in &self.edits {
            if !v.contains(&e.file.as_str()) {
                v.push(&e.file);
            }
        }
        v
    }
}

/// Quotes a word for a POSIX shell only when it needs it.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-:=+@,".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}
