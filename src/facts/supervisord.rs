//! Facts about supervisord, the app supervisor that often runs gunicorn, uvicorn, node or
//! queue workers behind nginx: each running supervisord, the configuration it was started
//! with, and its `[program:…]` sections with the processes of each that run now.
//!
//! Produced by `gather::supervisord` through `parse::supervisord`; consumed by checks and
//! by `fixes::app`, which speaks supervisorctl for a program found here. Plain data; the
//! environment of a program is kept only for PORT-like variables (values may be secrets).

use serde::{Deserialize, Serialize};

/// Every supervisord running on the host.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct SupervisordFacts {
    pub instances: Vec<Supervisord>,
}

/// One running supervisord and what its configuration says.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Supervisord {
    pub pid: u32,
    /// The main configuration file: its `-c` argument (made absolute against its working
    /// directory), else the first of supervisord's default paths that exists.
    pub config: String,
    /// "-c argument" or "default path".
    pub config_from: String,
    pub programs: Vec<SupervisorProgram>,
    /// Files that could not be read and lines that could not be parsed, as `file:line: why`.
    #[serde(default)]
    pub problems: Vec<String>,
}

/// One `[program:NAME]` section.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct SupervisorProgram {
    /// The section's name (`web` of `[program:web]`).
    pub name: String,
    /// The name supervisorctl knows it by: `web`, `group:web` inside a `[group:…]`, or
    /// `web:*` when it runs several processes (`numprocs`).
    pub ctl_name: String,
    /// `command=`, with supervisord's `%(here)s`/`%(program_name)s` expansions done.
    pub command: String,
    /// Where the section starts.
    pub file: String,
    pub line: u32,
    #[serde(default = "one")]
    pub numprocs: u32,
    /// `autorestart=` as written (`true`, `false`, `unexpected`); None when not set
    /// (supervisord's default is `unexpected`).
    #[serde(default)]
    pub autorestart: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    /// PORT-like assignments of `environment=` only (`PORT=8000`).
    #[serde(default)]
    pub env_ports: Vec<String>,
    /// The processes of this program running now: children of the supervisord whose
    /// command line is the program's command.
    #[serde(default)]
    pub pids: Vec<u32>,
    /// Why badgw ties it to the route's upstream, when it does: "runs pid 812, which
    /// listens at the upstream", "its command names port 8000".
    #[serde(default)]
    pub serves_upstream: Option<String>,
}

fn one() -> u32 {
    1
}

impl SupervisordFacts {
    /// The program tied to the route's upstream, with its supervisord: one that runs a
    /// listener owner first, else one whose command or environment names the target.
    pub fn upstream_program(
        &self,
        owner_pids: &[u32],
    ) -> Option<(&Supervisord, &SupervisorProgram)> {
        let all = || {
            self.instances
                .iter()
                .flat_map(|s| s.programs.iter().map(move |p| (s, p)))
        };
        all()
            .find(|(_, p)| p.pids.iter().any(|pid| owner_pids.contains(pid)))
            .or_else(|| all().find(|(_, p)| p.serves_upstream.is_some()))
    }
}
