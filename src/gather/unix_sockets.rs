//! Looks at the unix socket paths nginx targets: do they exist, are they sockets, and
//! who owns them with which mode. Permission reasoning happens in the checks.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use super::ns;
use super::runner::Context;
use crate::facts::{Fact, SocketKind, UnixSocketFile};

/// The unix sockets among the run's upstreams, stat'ed as nginx reaches them (under its
/// root when it has a mount namespace of its own).
pub fn of_target(ctx: &Context) -> Fact<Vec<UnixSocketFile>> {
    let Some(r) = &ctx.target.all_upstreams else {
        return Fact::unavailable("nginx route", "no route was selected");
    };
    let root = ctx.target.placement.root.as_deref();
    let socks = r
        .upstreams
        .iter()
        .filter(|u| u.kind == SocketKind::Unix)
        .map(|u| {
            let path = u.address.strip_prefix("unix:").unwrap_or(&u.address);
            stat_at(path, &ns::under_root(root, path))
        })
        .collect();
    Fact::collected(socks)
}

pub fn stat(path: &str) -> UnixSocketFile {
    stat_at(path, Path::new(path))
}

/// Stats `on_disk` (the path as badgw reaches it, e.g. through /proc/PID/root) and reports
/// it as `path` (the path as nginx sees it).
pub fn stat_at(path: &str, on_disk: &Path) -> UnixSocketFile {
    let mut f = UnixSocketFile {
        path: path.to_string(),
        exists: false,
        file_type: None,
        owner: None,
        group: None,
        mode: None,
        error: None,
    };
    match std::fs::metadata(on_disk) {
        Ok(m) => {
            f.exists = true;
            let ft = m.file_type();
            f.file_type = Some(
                if ft.is_socket() {
                    "socket"
                } else if ft.is_dir() {
                    "directory"
                } else if ft.is_file() {
                    "file"
                } else {
                    "other"
                }
                .to_string(),
            );
            f.owner = Some(user_name(m.uid()));
            f.group = Some(group_name(m.gid()));
            f.mode = Some(format!("{:04o}", m.mode() & 0o7777));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => f.error = Some(e.to_string()),
    }
    f
}

fn user_name(uid: u32) -> String {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| uid.to_string())
}

fn group_name(gid: u32) -> String {
    nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(gid))
        .ok()
        .flatten()
        .map(|g| g.name)
        .unwrap_or_else(|| gid.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_real_socket_and_a_missing_path() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("app.sock");
        let _l = std::os::unix::net::UnixListener::bind(&p).unwrap();
        let s = stat(p.to_str().unwrap());
        assert!(s.exists);
        assert_eq!(s.file_type.as_deref(), Some("socket"));
        assert!(s.mode.is_some());
        let m = stat(dir.path().join("gone.sock").to_str().unwrap());
        assert!(!m.exists);
        assert!(m.error.is_none());
    }
}
