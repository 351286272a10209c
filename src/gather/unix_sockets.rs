//! Looks at the unix socket paths nginx targets: do they exist, are they sockets, and
//! who owns them with which mode. Permission reasoning happens in the checks.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use crate::facts::UnixSocketFile;

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
