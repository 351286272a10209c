//! What a process is, from its name (`comm`): read once where a record naming a process is
//! gathered or parsed, so checks match [`ProcessRole`] and never process names.

use crate::facts::{Fact, Facts, ProcessRole};

/// Daemons that are never the HTTP app behind nginx (their `comm`, as the kernel shows it).
const NOT_HTTP: &[&str] = &[
    "sshd",
    "systemd-resolve",
    "systemd-resolved",
    "dnsmasq",
    "named",
    "chronyd",
    "rpcbind",
    "cupsd",
    "exim4",
    // Postfix's master process.
    "master",
    "postgres",
    "mysqld",
    "mariadbd",
    "redis-server",
    "memcached",
    "mongod",
    "containerd",
    "dockerd",
    "smbd",
    "nmbd",
    "avahi-daemon",
    "rsyslogd",
    "sendmail",
    "dovecot",
    "etcd",
];

/// The role of a process named `comm`, when badgw knows one.
pub fn role_of_comm(comm: &str) -> Option<ProcessRole> {
    if comm == "nginx" {
        Some(ProcessRole::Nginx)
    } else if NOT_HTTP.contains(&comm) {
        Some(ProcessRole::NotHttp)
    } else {
        None
    }
}

/// Sets the role of every process, listener owner, OOM victim and AVC subject of a snapshot
/// recorded before roles were gathered; re-deriving from the recorded name gives what
/// gather would have.
pub fn fill_missing(facts: &mut Facts) {
    if let Fact::Collected { value } = &mut facts.processes {
        for p in value.iter_mut().filter(|p| p.role.is_none()) {
            p.role = role_of_comm(&p.comm);
        }
    }
    if let Fact::Collected { value } = &mut facts.listeners {
        for l in value.iter_mut().filter(|l| l.role.is_none()) {
            l.role = l.process.as_deref().and_then(role_of_comm);
        }
    }
    if let Fact::Collected { value } = &mut facts.kernel_log {
        for k in value.oom_kills.iter_mut().filter(|k| k.role.is_none()) {
            k.role = role_of_comm(&k.comm);
        }
        for a in value.avc_denials.iter_mut().filter(|a| a.role.is_none()) {
            a.role = a.comm.as_deref().and_then(role_of_comm);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{AvcDenial, KernelLog, Listener, OomKill, ProcInfo, SocketKind};

    #[test]
    fn names_give_roles() {
        assert_eq!(role_of_comm("nginx"), Some(ProcessRole::Nginx));
        for d in ["sshd", "postgres", "redis-server", "master", "dovecot"] {
            assert_eq!(role_of_comm(d), Some(ProcessRole::NotHttp), "{d}");
        }
        for app in ["node", "gunicorn", "php-fpm8.2", "nginx-proxy", "sshd2", ""] {
            assert_eq!(role_of_comm(app), None, "{app}");
        }
    }

    #[test]
    fn old_snapshots_get_roles() {
        let mut facts = Facts {
            processes: Fact::collected(vec![
                ProcInfo {
                    comm: "nginx".into(),
                    ..Default::default()
                },
                ProcInfo {
                    comm: "node".into(),
                    ..Default::default()
                },
            ]),
            listeners: Fact::collected(vec![Listener {
                kind: SocketKind::Tcp,
                address: "127.0.0.1:5432".into(),
                port: Some(5432),
                inode: 1,
                pid: Some(7),
                process: Some("postgres".into()),
                role: None,
                accept_queue: None,
            }]),
            kernel_log: Fact::collected(KernelLog {
                oom_kills: vec![OomKill {
                    comm: "nginx".into(),
                    ..Default::default()
                }],
                avc_denials: vec![AvcDenial {
                    comm: Some("nginx".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        };
        fill_missing(&mut facts);
        let ps = facts.processes.value().unwrap();
        assert_eq!(ps[0].role, Some(ProcessRole::Nginx));
        assert_eq!(ps[1].role, None);
        assert_eq!(
            facts.listeners.value().unwrap()[0].role,
            Some(ProcessRole::NotHttp)
        );
        let k = facts.kernel_log.value().unwrap();
        assert_eq!(k.oom_kills[0].role, Some(ProcessRole::Nginx));
        assert_eq!(k.avc_denials[0].role, Some(ProcessRole::Nginx));
    }
}
