//! The file system as nginx sees it, for the route's stat()s (index, try_files, `if -f`).
//! Read-only: only metadata is asked for. `root` lets a later, namespace-aware caller look
//! through `/proc/PID/root` of the nginx master instead of this process's own view.

use std::path::PathBuf;

use crate::nginx::phases::{FileView, Stat};

pub struct HostFiles {
    /// Prepended to every path ("/" for this process's own view).
    pub root: PathBuf,
}

impl HostFiles {
    pub fn new() -> Self {
        HostFiles {
            root: PathBuf::from("/"),
        }
    }
}

impl Default for HostFiles {
    fn default() -> Self {
        Self::new()
    }
}

impl FileView for HostFiles {
    fn stat(&self, path: &str) -> Stat {
        let p = self.root.join(path.trim_start_matches('/'));
        match std::fs::metadata(&p) {
            Ok(m) if m.is_dir() => Stat::Dir,
            Ok(m) if m.is_file() => Stat::File,
            // A socket, fifo or device: nginx's static module refuses it (404 for
            // try_files' purposes it "exists" only as a non-directory).
            Ok(_) => Stat::File,
            Err(e) => match e.kind() {
                std::io::ErrorKind::NotFound => Stat::Missing,
                _ if e.raw_os_error() == Some(20) => Stat::Missing, // ENOTDIR
                _ => Stat::Unknown(e.to_string()),
            },
        }
    }
}
