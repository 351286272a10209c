//! Check `socket-permission`: the unix socket exists but nginx's worker user cannot connect.
//!
//! Detects: from recorded ownership and modes of every path component, that the worker
//! user (uid, gid, supplementary groups) lacks search (x) on a parent directory or write
//! (w) on the socket — connect(2)'s requirements — or nginx's own "(13: Permission denied)"
//! on a `unix:` upstream (error-log category `socket-permission`).
//!
//! Why nginx returns 502: connect() to the socket fails with EACCES, so nginx logs
//! `connect() to unix:… failed (13: Permission denied)` and answers 502 at once.
//!
//! Evidence used: `facts.socket_access` (stat of `/`, each directory, the socket; worker
//! identity), `facts.error_log`, `facts.php_fpm` (the pool's listen.owner/group/mode lines).
//!
//! False positives avoided: root workers and supplementary groups are modelled; a socket that
//! is missing is left to `socket-missing`; POSIX ACLs (listen.acl_users) are reported as
//! "may grant access" rather than a denial.
//!
//! See: docs/causes/socket-permission.md.

use super::{Check, Finding, Fix, Severity, Strength, Verdict};
use crate::cause::Cause;
use crate::facts::{Facts, FpmPool, PathStat, SocketAccess};
use crate::parse::proc::{can_connect, AccessDenial};

pub struct SocketPermission;

impl Check for SocketPermission {
    fn id(&self) -> &'static str {
        "socket-permission"
    }

    fn causes(&self) -> &'static [Cause] {
        &[Cause::SocketPermission]
    }

    fn run(&self, facts: &Facts) -> Verdict {
        let unix: Vec<String> = facts
            .route_upstreams()
            .iter()
            .filter_map(|u| u.address.strip_prefix("unix:").map(str::to_string))
            .collect();
        let log_hit = facts.error_category("socket-permission");
        if unix.is_empty() && log_hit.is_none() {
            return Verdict::skipped("the route has no unix: upstream");
        }
        let access = match facts.socket_access.get() {
            Ok(a) => a,
            Err(why) => {
                return match log_hit {
                    Some(c) => Verdict::Found(vec![log_only(facts, c)]),
                    None => Verdict::skipped(format!("socket permissions not examined ({why})")),
                }
            }
        };
        let mut found = Vec::new();
        let mut ok = Vec::new();
        for a in access
            .iter()
            .filter(|a| unix.is_empty() || unix.contains(&a.socket))
        {
            match can_connect(a) {
                Ok(()) => ok.push(a.socket.clone()),
                // A missing socket is socket-missing's business.
                Err(AccessDenial::Unknown { .. }) => {}
                Err(d) => found.push(denied(facts, a, d)),
            }
        }
        if found.is_empty() {
            if let Some(c) = log_hit {
                return Verdict::Found(vec![log_only(facts, c)]);
            }
            if ok.is_empty() {
                return Verdict::skipped("no targeted socket could be examined");
            }
            return Verdict::pass(format!("the worker user can connect to {}", ok.join(", ")));
        }
        Verdict::Found(found)
    }
}

fn rwx(mode: u32) -> String {
    let mut s = String::new();
    for shift in [6, 3, 0] {
        let b = (mode >> shift) & 7;
        s.push(if b & 4 != 0 { 'r' } else { '-' });
        s.push(if b & 2 != 0 { 'w' } else { '-' });
        s.push(if b & 1 != 0 { 'x' } else { '-' });
    }
    s
}

fn describe(p: &PathStat) -> String {
    format!(
        "{} is {}:{} {:04o} ({})",
        p.path,
        p.owner.clone().unwrap_or_else(|| p.uid.to_string()),
        p.group.clone().unwrap_or_else(|| p.gid.to_string()),
        p.mode & 0o7777,
        rwx(p.mode)
    )
}

fn pool_for<'a>(facts: &'a Facts, socket: &str) -> Option<&'a FpmPool> {
    facts
        .php_fpm
        .value()?
        .pools
        .iter()
        .find(|p| p.listen.as_ref().is_some_and(|l| l.value == socket))
}

fn denied(facts: &Facts, a: &SocketAccess, d: AccessDenial) -> Finding {
    let u = &a.user;
    let groups = if u.group_names.is_empty() {
        u.groups
            .iter()
            .map(|g| g.to_string())
            .collect::<Vec<_>>()
            .join(",")
    } else {
        u.group_names.join(",")
    };
    let strength = if facts.error_category("socket-permission").is_some() {
        Strength::Direct
    } else {
        Strength::Strong
    };
    let (title, what) = match &d {
        AccessDenial::NoSearch { dir } => (
            format!(
                "nginx workers ({}) cannot enter {} to reach {}",
                u.name, dir.path, a.socket
            ),
            describe(dir),
        ),
        AccessDenial::NoWrite { socket } => (
            format!("nginx workers ({}) may not connect to {}", u.name, a.socket),
            describe(socket),
        ),
        AccessDenial::Unknown { reason } => (
            format!("{} could not be examined", a.socket),
            reason.clone(),
        ),
    };
    let mut f = Finding::new(Cause::SocketPermission, Severity::Critical, strength, title)
        .evidence(
            "nginx",
            format!("workers run as {} (uid {}, groups {groups})", u.name, u.uid),
        )
        .evidence(format!("stat {}", a.socket), what);
    if let Some(c) = facts.error_category("socket-permission") {
        if let Some(s) = c.samples.first() {
            let file = facts
                .error_log
                .value()
                .map(|w| w.file.as_str())
                .unwrap_or("error log");
            f = f.evidence(format!("{file}:{}", s.line), s.text.clone());
        }
    }
    match (&d, pool_for(facts, &a.socket), facts.php_fpm.value()) {
        (AccessDenial::NoWrite { socket }, Some(p), Some(fpm)) => {
            f = f.fix(crate::fixes::socket::fpm_listen_owner(
                fpm, p, socket, &u.name,
            ));
        }
        (AccessDenial::NoWrite { socket }, _, _) => {
            f = f.fix(crate::fixes::socket::shared_group(socket, u));
        }
        (AccessDenial::NoSearch { dir }, _, _) => {
            f = f.fix(crate::fixes::socket::traverse_dir(&dir.path));
        }
        _ => {}
    }
    f.fix(Fix::safe(
        "see every component's owner and mode",
        crate::fixes::inspect::path_modes(&a.socket),
    ))
}

fn log_only(facts: &Facts, c: &crate::facts::LogCategoryCount) -> Finding {
    let file = facts
        .error_log
        .value()
        .map(|w| w.file.as_str())
        .unwrap_or("error log");
    let mut f = Finding::new(
        Cause::SocketPermission,
        Severity::Critical,
        Strength::Direct,
        format!(
            "nginx was denied connecting to its unix socket upstream {} times",
            c.count
        ),
    );
    for s in &c.samples {
        f = f.evidence(format!("{file}:{}", s.line), s.text.clone());
    }
    let sock = facts
        .route_upstreams()
        .iter()
        .find_map(|u| u.address.strip_prefix("unix:").map(str::to_string))
        .unwrap_or_else(|| "/path/to/app.sock".into());
    f.fix(Fix::safe(
        "see every component's owner and mode",
        crate::fixes::inspect::path_modes(&sock),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::*;
    use crate::parse::fpm::parse_fpm_conf;
    use crate::test_support::*;

    fn st(path: &str, uid: u32, gid: u32, mode: u32, o: &str, g: &str) -> PathStat {
        PathStat {
            path: path.into(),
            uid,
            gid,
            mode,
            owner: Some(o.into()),
            group: Some(g.into()),
        }
    }

    fn access(sock_owner: (u32, &str), run_mode: u32) -> SocketAccess {
        SocketAccess {
            socket: "/run/php/php8.2-fpm.sock".into(),
            user: UserIdent {
                name: "www-data".into(),
                uid: 33,
                gid: 33,
                groups: vec![33],
                group_names: vec!["www-data".into()],
            },
            components: vec![
                st("/", 0, 0, 0o40755, "root", "root"),
                st("/run", 0, 0, 0o40755, "root", "root"),
                st("/run/php", 0, 0, run_mode, "root", "root"),
                st(
                    "/run/php/php8.2-fpm.sock",
                    sock_owner.0,
                    sock_owner.0,
                    0o140660,
                    sock_owner.1,
                    sock_owner.1,
                ),
            ],
            error: None,
        }
    }

    fn base() -> Facts {
        let mut f = FactsBuilder::route_only("unix:/run/php/php8.2-fpm.sock", "fastcgi").build();
        let pools = parse_fpm_conf(
            "/etc/php/8.2/fpm/pool.d/www.conf",
            include_bytes!("../../fixtures/host/php-fpm/debian-8.2/pool.d/www.conf"),
        )
        .pools;
        f.php_fpm = Fact::collected(PhpFpmFacts {
            pools,
            ..Default::default()
        });
        f
    }

    #[test]
    fn root_owned_socket_denied_with_pool_fix() {
        let mut f = base();
        f.socket_access = Fact::collected(vec![access((0, "root"), 0o40755)]);
        f.error_log = error_log_with("socket-permission", 3, "2026/11/22 03:12:02",
            "connect() to unix:/run/php/php8.2-fpm.sock failed (13: Permission denied) while connecting to upstream");
        let Verdict::Found(found) = SocketPermission.run(&f) else {
            panic!("expected a finding")
        };
        let x = &found[0];
        assert_eq!(x.strength, Strength::Direct);
        assert_eq!(
            x.title,
            "nginx workers (www-data) may not connect to /run/php/php8.2-fpm.sock"
        );
        assert_eq!(
            x.evidence[1].text,
            "/run/php/php8.2-fpm.sock is root:root 0660 (rw-rw----)"
        );
        assert!(
            x.fixes[0]
                .summary
                .contains("/etc/php/8.2/fpm/pool.d/www.conf:53"),
            "{}",
            x.fixes[0].summary
        );
        assert!(
            x.fixes[0].command.ends_with(
                "/etc/php/8.2/fpm/pool.d/www.conf && sudo php-fpm8.2 -t && sudo chown www-data /run/php/php8.2-fpm.sock"
            ),
            "{}",
            x.fixes[0].command
        );
        // Narrowest: never root's group, never world-writable.
        assert!(!x.fixes[0].command.contains("usermod -aG root"));
        assert!(!x.fixes[0].command.contains("666"));
    }

    #[test]
    fn unsearchable_directory() {
        let mut f = base();
        f.socket_access = Fact::collected(vec![access((33, "www-data"), 0o40700)]);
        let Verdict::Found(found) = SocketPermission.run(&f) else {
            panic!("expected a finding")
        };
        assert_eq!(found[0].strength, Strength::Strong);
        assert_eq!(
            found[0].title,
            "nginx workers (www-data) cannot enter /run/php to reach /run/php/php8.2-fpm.sock"
        );
        assert_eq!(found[0].fixes[0].command, "sudo chmod o+x /run/php");
    }

    #[test]
    fn pass_and_skip() {
        let mut f = base();
        f.socket_access = Fact::collected(vec![access((33, "www-data"), 0o40755)]);
        assert_eq!(
            SocketPermission.run(&f),
            Verdict::pass("the worker user can connect to /run/php/php8.2-fpm.sock")
        );
        let tcp = FactsBuilder::route_only("127.0.0.1:3000", "http").build();
        assert_eq!(
            SocketPermission.run(&tcp),
            Verdict::skipped("the route has no unix: upstream")
        );
    }
}
