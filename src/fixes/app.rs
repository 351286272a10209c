//! How to start, restart and inspect the program that should serve the upstream: its
//! supervisord program, its systemd unit, its PM2 app, or the PHP-FPM master of the
//! route's pool — whichever the facts show owns it. When none is known the commands say so (`<app>`) rather than guess.

use super::fpm::{self, FpmControl};
use super::{Cmd, Plan};
use crate::facts::Facts;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppOwner {
    /// A `[program:…]` of a running supervisord: its configuration (for `supervisorctl
    /// -c`, which finds the daemon's socket there) and the name supervisorctl knows.
    Supervisor {
        config: String,
        name: String,
    },
    Systemd {
        unit: String,
    },
    Pm2 {
        name: String,
    },
    Fpm(FpmControl),
    /// No owner found; `systemd` when systemd is the init system (then the app is most
    /// likely one of its units).
    Unknown {
        systemd: bool,
    },
}

/// Who runs the route's upstream: the unit or PM2 app that owns its listener (or that
/// names its port or socket), else the PHP-FPM master of the route's pool.
pub fn owner(facts: &Facts) -> AppOwner {
    let owners: Vec<u32> = facts
        .upstream_listener_owners()
        .iter()
        .map(|(pid, _)| *pid)
        .collect();
    let supervised = facts
        .supervisord
        .value()
        .and_then(|s| s.upstream_program(&owners))
        .map(|(s, p)| AppOwner::Supervisor {
            config: s.config.clone(),
            name: p.ctl_name.clone(),
        });
    // A running listener's own supervisor is certain; a program that names the port is
    // preferred over a unit that merely exists.
    if let Some(s) = supervised {
        return s;
    }
    if let Some(units) = facts.systemd.value() {
        let owning = units
            .iter()
            .find(|u| u.status.main_pid.is_some_and(|p| owners.contains(&p)))
            .or_else(|| units.first());
        if let Some(u) = owning.filter(|u| !u.status.id.is_empty()) {
            return AppOwner::Systemd {
                unit: u.status.id.clone(),
            };
        }
    }
    if let Some(apps) = facts.pm2.value() {
        if let Some(a) = apps
            .iter()
            .find(|a| a.pid.is_some_and(|p| owners.contains(&p)))
        {
            return AppOwner::Pm2 {
                name: a.name.clone(),
            };
        }
    }
    if let Some(fpm_facts) = facts.php_fpm.value() {
        if let Some(pool) = facts.route_pools(fpm_facts).into_iter().next() {
            return AppOwner::Fpm(fpm::control(fpm_facts, pool));
        }
    }
    AppOwner::Unknown {
        systemd: super::inspect::systemd_here(facts),
    }
}

impl AppOwner {
    fn supervisorctl(config: &str, verb: &str, name: &str) -> Cmd {
        Cmd::root(["supervisorctl", "-c", config, verb, name])
    }

    /// What `--fix` runs to start it, when badgw can: a supervisord program's start.
    pub fn start_plan(&self) -> Option<Plan> {
        match self {
            AppOwner::Supervisor { config, name } => Some(Plan {
                edits: Vec::new(),
                test: None,
                activate: vec![Self::supervisorctl(config, "start", name)],
                ..Default::default()
            }),
            _ => None,
        }
    }

    /// Its state as its supervisor sees it, when one is known (read-only).
    pub fn status_shown(&self) -> Option<String> {
        match self {
            AppOwner::Supervisor { config, name } => {
                Some(Self::supervisorctl(config, "status", name).shown())
            }
            _ => None,
        }
    }

    /// Start it (or, for one that runs, restart it), shown.
    pub fn start_shown(&self) -> String {
        match self {
            AppOwner::Supervisor { config, name } => {
                Self::supervisorctl(config, "start", name).shown()
            }
            AppOwner::Systemd { unit } => {
                Cmd::root(["systemctl", "start", unit.as_str()]).shown()
            }
            AppOwner::Pm2 { name } => format!("pm2 restart {}", super::shell_quote(name)),
            AppOwner::Fpm(c) => match &c.unit {
                Some(u) => Cmd::root(["systemctl", "start", u.as_str()]).shown(),
                None => {
                    let mut argv = vec![c.bin.clone()];
                    if let Some(conf) = &c.config {
                        argv.extend(["-y".to_string(), conf.clone()]);
                    }
                    Cmd::root(argv).shown()
                }
            },
            AppOwner::Unknown { systemd: true } => "sudo systemctl start <app>.service  # its unit: systemctl list-units --type=service".into(),
            AppOwner::Unknown { systemd: false } => "# start the app the way this host runs it (no systemd unit, supervisord program or PM2 app was found for it)".into(),
        }
    }

    /// Start PHP-FPM `version` (from a Debian socket path) when no owner is known.
    pub fn start_shown_or_fpm(&self, version: &str) -> String {
        match self {
            AppOwner::Unknown { systemd: true } => Cmd::root([
                "systemctl".to_string(),
                "restart".into(),
                format!("php{version}-fpm.service"),
            ])
            .shown(),
            // Debian's binary with its default configuration; it daemonizes.
            AppOwner::Unknown { systemd: false } => {
                Cmd::root([format!("php-fpm{version}")]).shown()
            }
            other => other.start_shown(),
        }
    }

    /// Restart it, shown.
    pub fn restart_shown(&self) -> String {
        match self {
            AppOwner::Supervisor { config, name } => {
                Self::supervisorctl(config, "restart", name).shown()
            }
            AppOwner::Systemd { unit } => {
                Cmd::root(["systemctl", "restart", unit.as_str()]).shown()
            }
            AppOwner::Pm2 { name } => format!("pm2 restart {}", super::shell_quote(name)),
            AppOwner::Fpm(c) => c.restart_shown(),
            AppOwner::Unknown { systemd: true } => "sudo systemctl restart <app>.service  # its unit: systemctl list-units --type=service".into(),
            AppOwner::Unknown { systemd: false } => "# restart the app the way this host runs it (no systemd unit, supervisord program or PM2 app was found for it)".into(),
        }
    }

    /// How to change one of its command-line flags (`--timeout 60`): where the command line
    /// lives, then the restart. Shown, never applied (the flag is in a unit or a script).
    pub fn flag_change_shown(&self, flag: &str, value: &str) -> String {
        match self {
            AppOwner::Supervisor { config, name } => format!(
                "# set {flag} {value} in its command= ({}), then: {} && {}",
                super::shell_quote(config),
                Cmd::root(["supervisorctl", "-c", config.as_str(), "reread"]).shown(),
                Self::supervisorctl(config, "update", name.trim_end_matches(":*")).shown()
            ),
            AppOwner::Systemd { unit } => format!(
                "sudo systemctl edit --full {u}  # ExecStart=… {flag} {value}; then: {}",
                Cmd::root(["systemctl", "restart", unit.as_str()]).shown(),
                u = super::shell_quote(unit)
            ),
            AppOwner::Pm2 { name } => format!(
                "pm2 describe {n} | grep -E 'script args|exec cwd'  # set {flag} {value} in its args, then: pm2 restart {n} --update-env",
                n = super::shell_quote(name)
            ),
            _ => format!("# start the app with {flag} {value} (where its command line is kept), then restart it"),
        }
    }

    /// Its recent log, shown.
    pub fn logs_shown(&self) -> String {
        match self {
            AppOwner::Supervisor { config, name } => Cmd::root([
                "supervisorctl",
                "-c",
                config.as_str(),
                "tail",
                name.as_str(),
                "stderr",
            ])
            .shown(),
            AppOwner::Systemd { unit } => format!(
                "sudo journalctl -u {} --since -15min --no-pager | tail -n 50",
                super::shell_quote(unit)
            ),
            AppOwner::Pm2 { name } => {
                format!(
                    "pm2 logs {} --lines 100 --nostream",
                    super::shell_quote(name)
                )
            }
            AppOwner::Fpm(c) => match &c.unit {
                Some(u) => format!(
                    "sudo journalctl -u {} --since -15min --no-pager | tail -n 50",
                    super::shell_quote(u)
                ),
                None => {
                    "sudo dmesg -T | grep -iE 'php-fpm|killed process|segfault' | tail -n 50".into()
                }
            },
            AppOwner::Unknown { systemd: true } => {
                "sudo journalctl -p err --since -15min --no-pager | tail -n 50".into()
            }
            AppOwner::Unknown { systemd: false } => {
                "sudo dmesg -T | grep -iE 'error|killed process|segfault|oom' | tail -n 50".into()
            }
        }
    }
}

/// `start && check`, or, when the start is advice (a `#` line), the check inside it.
pub fn then_check(start: &str, check: &str) -> String {
    if start.starts_with('#') {
        format!("{start}; then check it answers: {check}")
    } else {
        format!("{start} && {check}")
    }
}
