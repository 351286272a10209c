//! How to test and reload the nginx instance that serves the site.
//!
//! - systemd runs it (its master's cgroup is `…/nginx.service` and systemd is init here):
//!   `nginx -t …` then `systemctl reload nginx.service`;
//! - its pid file holds the master's pid: the instance's own binary with its `-c`/`-p`,
//!   `BIN -t -c CONF [-p PREFIX]` then `BIN -s reload -c CONF [-p PREFIX]`;
//! - otherwise (pid file elsewhere, stale or unreadable) `kill -HUP <master pid>`, which
//!   is what `-s reload` does, to the right process;
//! - no running master (an offline snapshot): the binary and configuration as found.

use super::{shell_quote, Cmd, LineEdit, Plan};
use crate::facts::{Facts, NginxFacts, Route};

/// How to act on one nginx instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NginxControl {
    /// The binary (`nginx` on PATH when it is the usual /usr/sbin/nginx or unknown).
    pub bin: String,
    /// `-c CONF` and `-p PREFIX` when they are not the binary's defaults.
    pub conf: Option<String>,
    pub prefix: Option<String>,
    pub reload: Reload,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reload {
    Systemd { unit: String },
    Signal { bin_flags: bool },
    Hup { pid: u32 },
}

/// The control of the instance in `facts` (the usual `nginx` when none was found).
pub fn control(facts: &Facts) -> NginxControl {
    match facts.nginx.value() {
        Some(n) => control_of(n),
        None => NginxControl {
            bin: "nginx".into(),
            conf: None,
            prefix: None,
            reload: Reload::Signal { bin_flags: false },
        },
    }
}

pub fn control_of(n: &NginxFacts) -> NginxControl {
    let m = n.master.as_ref();
    let bin = m
        .and_then(|m| m.binary.clone())
        .filter(|b| b != "/usr/sbin/nginx")
        .unwrap_or_else(|| "nginx".into());
    let default_conf = n.conf_path == "/etc/nginx/nginx.conf"
        && n.prefix.as_deref().is_none_or(|p| {
            p == "/usr/share/nginx" || p == "/usr/share/nginx/" || p == "/etc/nginx/"
        });
    let (conf, prefix) = if default_conf {
        (None, None)
    } else {
        (Some(n.conf_path.clone()), n.prefix.clone())
    };
    let reload = match m {
        Some(m) if m.unit.is_some() => Reload::Systemd {
            unit: m.unit.clone().unwrap_or_default(),
        },
        Some(m) if m.pid_file_pid == Some(m.pid) => Reload::Signal { bin_flags: true },
        Some(m) => Reload::Hup { pid: m.pid },
        None => Reload::Signal { bin_flags: true },
    };
    NginxControl {
        bin,
        conf,
        prefix,
        reload,
    }
}

impl NginxControl {
    fn with_flags(&self, mut argv: Vec<String>) -> Cmd {
        if let Some(c) = &self.conf {
            argv.extend(["-c".to_string(), c.clone()]);
        }
        if let Some(p) = &self.prefix {
            argv.extend(["-p".to_string(), p.clone()]);
        }
        Cmd::root(argv)
    }

    /// `nginx -t` of this instance's configuration.
    pub fn test(&self) -> Cmd {
        self.with_flags(vec![self.bin.clone(), "-t".into()])
    }

    /// The reload of this instance.
    pub fn reload(&self) -> Cmd {
        match &self.reload {
            Reload::Systemd { unit } => Cmd::root(["systemctl", "reload", unit.as_str()]),
            Reload::Signal { .. } => {
                self.with_flags(vec![self.bin.clone(), "-s".into(), "reload".into()])
            }
            Reload::Hup { pid } => Cmd::root(["kill".to_string(), "-HUP".into(), pid.to_string()]),
        }
    }

    /// `test && reload`, as one line to paste after a configuration change.
    pub fn test_and_reload(&self) -> String {
        format!("{} && {}", self.test().shown(), self.reload().shown())
    }

    /// Edits of nginx's configuration, then its test and reload.
    pub fn edit_plan(&self, edits: Vec<LineEdit>) -> Plan {
        Plan {
            edits,
            test: Some(self.test()),
            activate: vec![self.reload()],
            ..Default::default()
        }
    }

    /// Raise the master's open-file limit where it is started: its unit, else the shell
    /// that starts it (`ulimit -n`), then a restart (a reload keeps the master's limit).
    pub fn raise_nofile_shown(&self, n: u32) -> String {
        match &self.reload {
            Reload::Systemd { unit } => format!(
                "sudo systemctl edit {u}  # [Service] LimitNOFILE={n}; then: {}",
                Cmd::root(["systemctl", "restart", unit.as_str()]).shown(),
                u = shell_quote(unit)
            ),
            _ => format!(
                "# start nginx with a higher limit (ulimit -n {n} in the script or supervisor that runs `{}`), then restart it",
                self.bin
            ),
        }
    }

    /// `# in FILE:LINE: DIRECTIVE VALUE;  then: test && reload` for a change badgw cannot
    /// place itself (a directive to add where the right block is not known).
    pub fn manual_change(&self, at: &str, directive: &str) -> String {
        format!(
            "# at {}: {directive}   then: {}",
            shell_quote(at),
            self.test_and_reload()
        )
    }
}

/// The narrowest edit that makes `name value;` apply to the route: the line that sets it
/// now when that line is inside the route's location (after its opening line, in its file),
/// else a new line at the top of the location (overriding what it inherits). None without
/// a location.
pub fn set_directive(route: &Route, name: &str, value: &str) -> Option<LineEdit> {
    let text = format!("{name} {value};");
    let loc = route.location.as_ref()?;
    let now = route
        .settings
        .set_at
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, at)| at);
    match now {
        Some(at) if at.file == loc.file && at.line > loc.line => {
            Some(LineEdit::set_line(&at.file, at.line, &text))
        }
        _ => Some(LineEdit::insert_after(&loc.file, loc.line, &text)),
    }
}

/// A reload by signal to the master `pid` (what `nginx -s reload` sends), shown.
pub fn hup(pid: u32) -> String {
    Cmd::root(["kill".to_string(), "-HUP".into(), pid.to_string()]).shown()
}

/// `test && reload` for the nginx in `facts`: what a check prints after naming a change.
pub fn test_and_reload(facts: &Facts) -> String {
    control(facts).test_and_reload()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::NginxMaster;

    fn facts(conf: &str, prefix: Option<&str>, m: Option<NginxMaster>) -> NginxFacts {
        NginxFacts {
            conf_path: conf.into(),
            prefix: prefix.map(str::to_string),
            master: m,
            ..Default::default()
        }
    }

    fn master(unit: Option<&str>, pid_file_pid: Option<u32>) -> NginxMaster {
        NginxMaster {
            pid: 812,
            binary: Some("/usr/sbin/nginx".into()),
            unit: unit.map(str::to_string),
            pid_file: Some("/run/nginx.pid".into()),
            pid_file_pid,
            ..Default::default()
        }
    }

    #[test]
    fn systemd_unit_from_the_cgroup_is_reloaded_with_systemctl() {
        let c = control_of(&facts(
            "/etc/nginx/nginx.conf",
            None,
            Some(master(Some("nginx.service"), Some(812))),
        ));
        assert_eq!(
            c.test_and_reload(),
            "sudo nginx -t && sudo systemctl reload nginx.service"
        );
    }

    #[test]
    fn own_binary_with_its_c_and_p_when_the_pid_file_is_the_masters() {
        let mut m = master(None, Some(812));
        m.binary = Some("/opt/nginx/sbin/nginx".into());
        let c = control_of(&facts("/srv/shop/nginx.conf", Some("/srv/shop/"), Some(m)));
        assert_eq!(
            c.test_and_reload(),
            "sudo /opt/nginx/sbin/nginx -t -c /srv/shop/nginx.conf -p /srv/shop/ && sudo /opt/nginx/sbin/nginx -s reload -c /srv/shop/nginx.conf -p /srv/shop/"
        );
    }

    #[test]
    fn a_pid_file_naming_another_process_means_signal_the_master() {
        let c = control_of(&facts(
            "/etc/nginx/nginx.conf",
            None,
            Some(master(None, Some(4444))),
        ));
        assert_eq!(c.test_and_reload(), "sudo nginx -t && sudo kill -HUP 812");
        let c = control_of(&facts(
            "/etc/nginx/nginx.conf",
            None,
            Some(master(None, None)),
        ));
        assert_eq!(c.reload().shown(), "sudo kill -HUP 812");
    }

    #[test]
    fn no_master_uses_the_configuration_found() {
        let c = control_of(&facts("/etc/nginx/nginx.conf", None, None));
        assert_eq!(c.test_and_reload(), "sudo nginx -t && sudo nginx -s reload");
    }
}
