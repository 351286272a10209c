//! Unix-socket access: the worker user's identity as the kernel checks it, and owner and
//! mode of `/`, every directory down to the socket, and the socket.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::runner::Context;
use crate::facts::{Fact, PathStat, SocketAccess, UserIdent};

/// The identity (uid, gid, groups) of a user name, as initgroups(3) would set it.
pub fn user_ident(name: &str) -> Option<UserIdent> {
    use nix::unistd::{getgrouplist, Group, User};
    let u = User::from_name(name).ok().flatten()?;
    let cname = std::ffi::CString::new(name).ok()?;
    let groups: Vec<u32> = getgrouplist(&cname, u.gid)
        .map(|g| g.into_iter().map(|g| g.as_raw()).collect())
        .unwrap_or_else(|_| vec![u.gid.as_raw()]);
    let group_names = groups
        .iter()
        .map(|g| {
            Group::from_gid((*g).into())
                .ok()
                .flatten()
                .map_or(g.to_string(), |g| g.name)
        })
        .collect();
    Some(UserIdent {
        name: name.to_string(),
        uid: u.uid.as_raw(),
        gid: u.gid.as_raw(),
        groups,
        group_names,
    })
}

/// Stats `/`, every directory down to `socket`, and the socket, for `worker_user`.
pub fn socket_access(socket: &str, user: UserIdent) -> SocketAccess {
    use nix::unistd::{Group, User};
    let mut acc = SocketAccess {
        socket: socket.to_string(),
        user,
        components: Vec::new(),
        error: None,
    };
    let mut path = PathBuf::from("/");
    let mut parts = vec![path.clone()];
    for c in Path::new(socket).components().skip(1) {
        path.push(c);
        parts.push(path.clone());
    }
    for p in parts {
        match std::fs::metadata(&p) {
            Ok(m) => acc.components.push(PathStat {
                path: p.display().to_string(),
                uid: m.uid(),
                gid: m.gid(),
                mode: m.mode(),
                owner: User::from_uid(m.uid().into())
                    .ok()
                    .flatten()
                    .map(|u| u.name),
                group: Group::from_gid(m.gid().into())
                    .ok()
                    .flatten()
                    .map(|g| g.name),
            }),
            Err(e) => {
                acc.error = Some(format!("{}: {e}", p.display()));
                break;
            }
        }
    }
    acc
}

/// The collector: access to the run's unix sockets for nginx's worker user.
pub fn collect(ctx: &Context) -> Fact<Vec<SocketAccess>> {
    gather_socket_access(&ctx.upstreams.sockets, &ctx.upstreams.worker_user)
}

/// Socket access for every targeted socket path, for the nginx worker user.
fn gather_socket_access(sockets: &[String], worker_user: &str) -> Fact<Vec<SocketAccess>> {
    let Some(user) = user_ident(worker_user) else {
        return Fact::unavailable("/etc/passwd", format!("user {worker_user} not found"));
    };
    Fact::collected(
        sockets
            .iter()
            .map(|s| socket_access(s, user.clone()))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_access_of_a_real_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sock = dir.path().join("app.sock");
        let _l = std::os::unix::net::UnixListener::bind(&sock).expect("bind");
        let a = socket_access(
            &sock.display().to_string(),
            UserIdent {
                name: "root".into(),
                ..Default::default()
            },
        );
        assert_eq!(a.error, None);
        assert_eq!(a.components.first().map(|c| c.path.as_str()), Some("/"));
        assert_eq!(
            a.components.last().map(|c| c.mode & libc::S_IFMT),
            Some(libc::S_IFSOCK)
        );
        assert_eq!(crate::parse::proc::can_connect(&a), Ok(()));
        let missing = socket_access("/nonexistent/x.sock", UserIdent::default());
        assert!(missing.error.is_some());
    }
}
