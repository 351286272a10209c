//! Path and permission facts: who the nginx worker is to the kernel (uid, gid, groups)
//! and the owner and mode of every component of a targeted unix socket's path
//! (`gather::socket_access`).

use serde::{Deserialize, Serialize};

/// Ownership and mode of one path component.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct PathStat {
    pub path: String,
    pub uid: u32,
    pub gid: u32,
    /// Full st_mode (type and permission bits).
    pub mode: u32,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
}

/// A user identity as the kernel checks it: uid, primary gid and supplementary groups.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct UserIdent {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    #[serde(default)]
    pub groups: Vec<u32>,
    /// Names of `groups` (same order), for messages.
    #[serde(default)]
    pub group_names: Vec<String>,
}

/// Everything needed to decide whether a worker user can connect to a unix socket.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct SocketAccess {
    /// The socket path nginx targets.
    pub socket: String,
    /// The worker's identity.
    pub user: UserIdent,
    /// "/", "/run", "/run/php", "/run/php/php8.2-fpm.sock", in that order; stops at the
    /// first component that could not be examined.
    pub components: Vec<PathStat>,
    /// Why a component could not be examined (missing, or not stat-able).
    #[serde(default)]
    pub error: Option<String>,
}
