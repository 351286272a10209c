//! How to test, reload and restart the PHP-FPM master that runs a pool, and how to change
//! one pool setting.
//!
//! - systemd runs it (Debian's `php8.2-fpm.service`, from the master's cgroup):
//!   `php-fpm8.2 -t` then `systemctl reload|restart php8.2-fpm.service`;
//! - otherwise its own binary (`/proc/<pid>/exe`) with its configuration (`-y`, from the
//!   master's title `php-fpm: master process (/etc/…/php-fpm.conf)`), and `kill -USR2 <pid>`
//!   to reload (what FPM's own unit does).
//!
//! A reload (USR2) re-reads the pools but keeps the listening sockets it inherits, so a
//! socket's owner and mode (`listen.owner/group/mode`) change only when the socket is made
//! again: at a restart, or at once with `chown`/`chmod` of the socket (what FPM would do).

use super::{Cmd, LineEdit};
use crate::facts::{FpmPool, FpmSetting, PhpFpmFacts};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FpmControl {
    /// `php-fpm8.2` (Debian), the master's binary, or `php-fpm`.
    pub bin: String,
    pub config: Option<String>,
    pub unit: Option<String>,
    pub pid: Option<u32>,
}

/// The Debian version directory of a pool file (`/etc/php/8.2/fpm/pool.d/www.conf` → 8.2).
fn debian_version(file: &str) -> Option<&str> {
    file.strip_prefix("/etc/php/")
        .and_then(|r| r.split('/').next())
        .filter(|v| v.contains('.'))
}

/// How to act on the master that runs `pool`.
pub fn control(fpm: &PhpFpmFacts, pool: &FpmPool) -> FpmControl {
    // The master whose configuration holds the pool: the same file, or the directory its
    // includes live under (Debian: php-fpm.conf and pool.d/), else the only one.
    let m = fpm
        .masters
        .iter()
        .find(|m| m.config.as_deref() == Some(pool.file.as_str()))
        .or_else(|| {
            fpm.masters.iter().find(|m| {
                m.config
                    .as_deref()
                    .and_then(|c| std::path::Path::new(c).parent())
                    .is_some_and(|dir| std::path::Path::new(&pool.file).starts_with(dir))
            })
        })
        .or_else(|| (fpm.masters.len() == 1).then(|| &fpm.masters[0]));
    let version = debian_version(&pool.file);
    let unit = m
        .and_then(|m| m.unit.clone())
        .or_else(|| m.is_none().then(|| fpm.unit.clone()).flatten())
        .or_else(|| {
            // No master to ask (an offline snapshot, or FPM is down): Debian's naming.
            m.is_none()
                .then(|| version.map(|v| format!("php{v}-fpm.service")))
                .flatten()
        });
    let bin = m
        .and_then(|m| m.binary.clone())
        .or_else(|| version.map(|v| format!("php-fpm{v}")))
        .unwrap_or_else(|| "php-fpm".into());
    let bin = match bin.strip_prefix("/usr/sbin/") {
        Some(short) => short.to_string(),
        None => bin,
    };
    FpmControl {
        bin,
        config: m.and_then(|m| m.config.clone()),
        unit,
        pid: m.map(|m| m.pid),
    }
}

impl FpmControl {
    /// The configuration test, e.g. `php-fpm8.2 -t -y /etc/php/8.2/fpm/php-fpm.conf`.
    pub fn test(&self) -> Cmd {
        let mut argv = vec![self.bin.clone(), "-t".into()];
        if let Some(c) = &self.config {
            argv.extend(["-y".to_string(), c.clone()]);
        }
        Cmd::root(argv)
    }

    /// Start a master: the binary with its configuration (it daemonizes).
    pub fn start(&self) -> Cmd {
        let mut argv = vec![self.bin.clone()];
        if let Some(c) = &self.config {
            argv.extend(["-y".to_string(), c.clone()]);
        }
        Cmd::root(argv)
    }

    /// Re-read the pools (graceful).
    pub fn reload(&self) -> Cmd {
        match (&self.unit, self.pid) {
            (Some(u), _) => Cmd::root(["systemctl", "reload", u.as_str()]),
            (None, Some(pid)) => Cmd::root(["kill".to_string(), "-USR2".into(), pid.to_string()]),
            // No master runs: start it from its binary and configuration.
            (None, None) => self.start(),
        }
    }

    /// Restart, shown (a master outside systemd is stopped and started from its binary).
    pub fn restart_shown(&self) -> String {
        match (&self.unit, self.pid) {
            (Some(u), _) => Cmd::root(["systemctl", "restart", u.as_str()]).shown(),
            (None, Some(pid)) => {
                let mut start = vec![self.bin.clone()];
                if let Some(c) = &self.config {
                    start.extend(["-y".to_string(), c.clone()]);
                }
                format!(
                    "sudo kill -QUIT {pid} && while sudo kill -0 {pid} 2>/dev/null; do sleep 0.2; done && {}",
                    Cmd::root(start).shown()
                )
            }
            (None, None) => self.start().shown(),
        }
    }
}

/// Set one pool setting, test, reload (a pool setting other than the socket's is re-read
/// by a reload).
pub fn setting_plan(
    control: &FpmControl,
    pool: &FpmPool,
    name: &str,
    current: Option<&FpmSetting>,
    value: &str,
) -> super::Plan {
    super::Plan {
        edits: vec![set_pool_setting(pool, name, current, value)],
        test: Some(control.test()),
        activate: vec![control.reload()],
        ..Default::default()
    }
}

/// Raise the pool's listen backlog (its own line) and the kernel's cap on it. The backlog
/// is set when FPM creates its socket: a restart, not a reload.
pub fn backlog_fix(fpm: &PhpFpmFacts, pool: &FpmPool, n: u32) -> super::Fix {
    let ctl = control(fpm, pool);
    let edit = set_pool_setting(
        pool,
        "listen.backlog",
        pool.listen_backlog.as_ref(),
        &n.to_string(),
    );
    let at = pool
        .listen_backlog
        .as_ref()
        .map_or(format!("{}:{}", pool.file, pool.line), |b| {
            format!("{}:{}", b.file, b.line)
        });
    super::Fix::review(
        format!(
            "then raise listen.backlog of pool [{}] ({at}) and the kernel's cap on it (the queue only buys time; a restart re-creates the socket)",
            pool.name
        ),
        format!(
            "{} && {} && {} && {}",
            edit.shown(),
            ctl.test().shown(),
            super::kernel::somaxconn(n).shown(),
            ctl.restart_shown()
        ),
    )
}

/// When memory per child is unknown: measure it first (read-only).
pub fn measure_children_fix(pool: &FpmPool, mc: &FpmSetting) -> super::Fix {
    super::Fix::safe(
        format!(
            "measure the peak memory of pool [{}]'s children before raising pm.max_children ({}:{})",
            pool.name, mc.file, mc.line
        ),
        format!(
            "for p in $(pgrep -f 'php-fpm: pool {}'); do grep VmHWM /proc/$p/status; done; grep MemAvailable /proc/meminfo",
            pool.name
        ),
    )
}

/// Memory allows no more children: find the slow requests that hold them.
pub fn slow_requests_fix(fpm: &PhpFpmFacts, pool: &FpmPool, current: u32) -> super::Fix {
    let ctl = control(fpm, pool);
    let log = match &ctl.unit {
        Some(u) => format!(
            "sudo journalctl -u {} -n 100 --no-pager",
            super::shell_quote(u)
        ),
        None => fpm
            .log_file
            .as_deref()
            .map_or("sudo journalctl -n 100 --no-pager".into(), |l| {
                format!("sudo tail -n 100 {}", super::shell_quote(l))
            }),
    };
    super::Fix::safe(
        format!(
            "memory does not allow more than {current} children: find the slow requests that hold them (set request_slowlog_timeout in {})",
            pool.file
        ),
        log,
    )
}

/// Sets `name = value` in `pool`: on the line that sets it now, else as a new line after
/// the pool's `[name]` header.
pub fn set_pool_setting(
    pool: &FpmPool,
    name: &str,
    current: Option<&FpmSetting>,
    value: &str,
) -> LineEdit {
    let to = format!("{name} = {value}");
    match current {
        Some(s) => LineEdit::set_line(&s.file, s.line, &to),
        None => LineEdit::insert_after_flush(&pool.file, pool.line, &to),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::FpmMaster;

    fn pool() -> FpmPool {
        FpmPool {
            name: "www".into(),
            file: "/etc/php/8.2/fpm/pool.d/www.conf".into(),
            line: 4,
            ..Default::default()
        }
    }

    #[test]
    fn debian_unit_and_binary_when_systemd_runs_it() {
        let fpm = PhpFpmFacts {
            masters: vec![FpmMaster {
                pid: 700,
                binary: Some("/usr/sbin/php-fpm8.2".into()),
                config: Some("/etc/php/8.2/fpm/php-fpm.conf".into()),
                unit: Some("php8.2-fpm.service".into()),
            }],
            ..Default::default()
        };
        let c = control(&fpm, &pool());
        assert_eq!(
            c.test().shown(),
            "sudo php-fpm8.2 -t -y /etc/php/8.2/fpm/php-fpm.conf"
        );
        assert_eq!(
            c.reload().shown(),
            "sudo systemctl reload php8.2-fpm.service"
        );
    }

    #[test]
    fn a_master_outside_systemd_is_signalled() {
        let fpm = PhpFpmFacts {
            masters: vec![FpmMaster {
                pid: 700,
                binary: Some("/opt/php/sbin/php-fpm".into()),
                config: Some("/srv/fpm.conf".into()),
                unit: None,
            }],
            // A unit name found some other way does not reach a master systemd does not run.
            unit: Some("php8.2-fpm.service".into()),
            ..Default::default()
        };
        let c = control(&fpm, &pool());
        assert_eq!(c.reload().shown(), "sudo kill -USR2 700");
        assert_eq!(
            c.test().shown(),
            "sudo /opt/php/sbin/php-fpm -t -y /srv/fpm.conf"
        );
    }

    #[test]
    fn no_master_falls_back_to_debian_naming() {
        let c = control(&PhpFpmFacts::default(), &pool());
        assert_eq!(c.test().shown(), "sudo php-fpm8.2 -t");
        assert_eq!(
            c.reload().shown(),
            "sudo systemctl reload php8.2-fpm.service"
        );
    }
}
