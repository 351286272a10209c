//! The narrowest change that lets nginx's workers connect to a unix socket. Never adds a
//! user to root's group and never makes a socket world-writable.
//!
//! - PHP-FPM creates the socket: the pool's `listen.owner` becomes the worker user (and
//!   `listen.mode` gains owner read/write only when it lacks it). FPM applies these when it
//!   creates the socket; a reload (USR2) keeps the socket it has, so the live socket gets the
//!   same owner with `chown` — no restart, and the next start makes it the same way.
//! - Another app (gunicorn, uWSGI, …): a group both share. The socket's group when it is
//!   not root's (the worker joins it, `chmod g+w`), else the worker's own group (`chgrp`),
//!   and the app's own setting that keeps it so (gunicorn `--group`/`--umask 007`).
//! - A directory on the way lacks search (x) for others: `chmod o+x` on it (search, not
//!   listing).

use super::fpm;
use super::Fix;
use super::{Cmd, Plan};
use crate::facts::{FpmPool, PathStat, PhpFpmFacts, UserIdent};

pub fn fpm_listen_owner(
    fpm_facts: &PhpFpmFacts,
    pool: &FpmPool,
    socket: &PathStat,
    user: &str,
) -> Fix {
    let ctl = fpm::control(fpm_facts, pool);
    let mut edits = vec![fpm::set_pool_setting(
        pool,
        "listen.owner",
        pool.listen_owner.as_ref(),
        user,
    )];
    let mut activate = vec![Cmd::root(["chown", user, socket.path.as_str()])];
    let mode = socket.mode & 0o777;
    if mode & 0o600 != 0o600 {
        let new = (mode | 0o600) & !0o002;
        let m = format!("0{new:o}");
        edits.push(fpm::set_pool_setting(
            pool,
            "listen.mode",
            pool.listen_mode.as_ref(),
            &m,
        ));
        activate.push(Cmd::root(["chmod", m.as_str(), socket.path.as_str()]));
    }
    let at = pool
        .listen_owner
        .as_ref()
        .map_or(format!("{}:{}", pool.file, pool.line), |o| {
            format!("{}:{}", o.file, o.line)
        });
    Fix::planned(
        format!(
            "make the socket {user}'s: pool [{}] listen.owner = {user} ({at}), and the same owner on the live socket (PHP-FPM sets it when it creates the socket; a reload keeps the old one)",
            pool.name
        ),
        Plan {
            edits,
            test: Some(ctl.test()),
            activate,
            ..Default::default()
        },
    )
}

pub fn shared_group(socket: &PathStat, worker: &UserIdent) -> Fix {
    let grp = socket
        .group
        .clone()
        .unwrap_or_else(|| socket.gid.to_string());
    if socket.gid != 0 {
        let usermod = Cmd::root(["usermod", "-aG", grp.as_str(), worker.name.as_str()]).shown();
        let chmod = Cmd::root(["chmod", "g+w", socket.path.as_str()]).shown();
        return Fix::review(
            format!(
                "let {} into the socket's group {grp} and make it group-writable (keep it so in the app: gunicorn --umask 007); nginx's workers get the group at their next start (restart nginx)",
                worker.name
            ),
            format!("{usermod} && {chmod}"),
        );
    }
    let wgroup = worker
        .group_names
        .first()
        .cloned()
        .unwrap_or_else(|| worker.gid.to_string());
    Fix::review(
        format!(
            "the socket's group is root's: give it {}'s group {wgroup} instead and make it group-writable (in the app: gunicorn --group {wgroup} --umask 007), never root's group",
            worker.name
        ),
        format!(
            "{} && {}",
            Cmd::root(["chgrp", wgroup.as_str(), socket.path.as_str()]).shown(),
            Cmd::root(["chmod", "g+w", socket.path.as_str()]).shown()
        ),
    )
}

pub fn traverse_dir(dir: &str) -> Fix {
    Fix::planned(
        format!("let others traverse {dir} (search only, no listing)"),
        Plan {
            edits: Vec::new(),
            test: None,
            activate: vec![Cmd::root(["chmod", "o+x", dir])],
            ..Default::default()
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sock(gid: u32, group: &str, mode: u32) -> PathStat {
        PathStat {
            path: "/run/app/gunicorn.sock".into(),
            uid: 1001,
            gid,
            mode: 0o140000 | mode,
            owner: Some("app".into()),
            group: Some(group.into()),
        }
    }

    fn worker() -> UserIdent {
        UserIdent {
            name: "nginx".into(),
            uid: 990,
            gid: 990,
            groups: vec![990],
            group_names: vec!["nginx".into()],
        }
    }

    #[test]
    fn never_roots_group_never_world_writable() {
        let f = shared_group(&sock(0, "root", 0o660), &worker());
        assert!(!f.command.contains("usermod"), "{}", f.command);
        assert!(
            !f.command.contains("o+w") && !f.command.contains("666"),
            "{}",
            f.command
        );
        assert_eq!(
            f.command,
            "sudo chgrp nginx /run/app/gunicorn.sock && sudo chmod g+w /run/app/gunicorn.sock"
        );
        let f = shared_group(&sock(1001, "app", 0o640), &worker());
        assert_eq!(
            f.command,
            "sudo usermod -aG app nginx && sudo chmod g+w /run/app/gunicorn.sock"
        );
    }

    #[test]
    fn fpm_pool_gets_the_worker_as_listen_owner() {
        let pool = FpmPool {
            name: "www".into(),
            file: "/etc/php/8.2/fpm/pool.d/www.conf".into(),
            line: 1,
            listen_owner: Some(crate::facts::FpmSetting {
                value: "www-data".into(),
                file: "/etc/php/8.2/fpm/pool.d/www.conf".into(),
                line: 30,
            }),
            ..Default::default()
        };
        let f = fpm_listen_owner(
            &PhpFpmFacts::default(),
            &pool,
            &sock(33, "www-data", 0o660),
            "nginx",
        );
        assert_eq!(
            f.command,
            "sudo sed -i '30s#^\\([[:space:]]*\\).*#\\1listen.owner = nginx#' /etc/php/8.2/fpm/pool.d/www.conf && sudo php-fpm8.2 -t && sudo chown nginx /run/app/gunicorn.sock"
        );
    }
}
