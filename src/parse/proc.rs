//! /proc file parsers (`limits`, `stat`, `status`, `meminfo`, `/proc/stat` btime) and the
//! pure unix-socket permission decision ("can user U connect to this socket?").
//!
//! Pure: text in, typed out; the permission decision reads recorded stat facts only, so it
//! is unit-testable without the host.

use crate::facts::{PathStat, SocketAccess, UserIdent};

/// "Max open files" soft and hard limits from `/proc/<pid>/limits` (None = unlimited).
pub fn parse_limits_nofile(input: &str) -> Option<(Option<u64>, Option<u64>)> {
    for line in input.lines() {
        if let Some(rest) = line.strip_prefix("Max open files") {
            let mut f = rest.split_whitespace();
            let lim = |s: Option<&str>| -> Option<Option<u64>> {
                match s? {
                    "unlimited" => Some(None),
                    v => v.parse().ok().map(Some),
                }
            };
            return Some((lim(f.next())?, lim(f.next())?));
        }
    }
    None
}

/// The fields of `/proc/<pid>/stat` badgw needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcStat {
    pub pid: u32,
    pub comm: String,
    pub state: char,
    pub ppid: u32,
    /// Start time in clock ticks since boot (field 22).
    pub starttime_ticks: u64,
}

/// Parses `/proc/<pid>/stat`; comm may contain spaces and parentheses.
pub fn parse_stat(input: &str) -> Option<ProcStat> {
    let open = input.find('(')?;
    let close = input.rfind(')')?;
    let pid = input.get(..open)?.trim().parse().ok()?;
    let comm = input.get(open + 1..close)?.to_string();
    let rest: Vec<&str> = input.get(close + 1..)?.split_whitespace().collect();
    // rest[0] = state (field 3), rest[1] = ppid (4), rest[19] = starttime (22)
    Some(ProcStat {
        pid,
        comm,
        state: rest.first()?.chars().next()?,
        ppid: rest.get(1)?.parse().ok()?,
        starttime_ticks: rest.get(19)?.parse().ok()?,
    })
}

/// Real uid, real gid and supplementary groups from `/proc/<pid>/status`.
pub fn parse_status_ids(input: &str) -> Option<(u32, u32, Vec<u32>)> {
    let mut uid = None;
    let mut gid = None;
    let mut groups = Vec::new();
    for line in input.lines() {
        if let Some(r) = line.strip_prefix("Uid:") {
            uid = r.split_whitespace().next().and_then(|v| v.parse().ok());
        } else if let Some(r) = line.strip_prefix("Gid:") {
            gid = r.split_whitespace().next().and_then(|v| v.parse().ok());
        } else if let Some(r) = line.strip_prefix("Groups:") {
            groups = r
                .split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect();
        }
    }
    Some((uid?, gid?, groups))
}

/// `MemTotal` and `MemAvailable` in kB from `/proc/meminfo`.
pub fn parse_meminfo(input: &str) -> (Option<u64>, Option<u64>) {
    let get = |key: &str| {
        input.lines().find_map(|l| {
            l.strip_prefix(key)
                .and_then(|r| r.split_whitespace().next())
                .and_then(|v| v.parse().ok())
        })
    };
    (get("MemTotal:"), get("MemAvailable:"))
}

/// Boot time (seconds since the epoch) from `/proc/stat`.
pub fn parse_btime(input: &str) -> Option<i64> {
    input
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// Why a user cannot reach a socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessDenial {
    /// A directory on the path lacks search (x) permission for the user.
    NoSearch { dir: PathStat },
    /// The socket lacks write permission for the user (connect(2) needs write).
    NoWrite { socket: PathStat },
    /// The path could not be examined fully.
    Unknown { reason: String },
}

/// Which permission class applies to `user` for `st`: owner, group, or other.
fn class_bits(user: &UserIdent, st: &PathStat) -> u32 {
    if user.uid == 0 {
        return 0o7; // root bypasses DAC (CAP_DAC_OVERRIDE; x on dirs always granted).
    }
    if user.uid == st.uid {
        (st.mode >> 6) & 0o7
    } else if user.gid == st.gid || user.groups.contains(&st.gid) {
        (st.mode >> 3) & 0o7
    } else {
        st.mode & 0o7
    }
}

/// Decides, from recorded stat facts, whether `access.user` can connect(2) to the socket:
/// search (x) on every directory from `/` down, and write (w) on the socket itself. POSIX
/// ACLs are not modelled; a denial names the first component that refuses.
pub fn can_connect(access: &SocketAccess) -> Result<(), AccessDenial> {
    if let Some(e) = &access.error {
        return Err(AccessDenial::Unknown { reason: e.clone() });
    }
    let Some((sock, dirs)) = access.components.split_last() else {
        return Err(AccessDenial::Unknown {
            reason: "no path components recorded".into(),
        });
    };
    for d in dirs {
        if class_bits(&access.user, d) & 0o1 == 0 {
            return Err(AccessDenial::NoSearch { dir: d.clone() });
        }
    }
    if class_bits(&access.user, sock) & 0o2 == 0 {
        return Err(AccessDenial::NoWrite {
            socket: sock.clone(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_recorded() {
        let t = include_str!("../../fixtures/host/proc/limits-node-1024.txt");
        assert_eq!(parse_limits_nofile(t), Some((Some(1024), Some(20_000))));
        assert_eq!(
            parse_limits_nofile(
                "Max open files            unlimited            unlimited            files\n"
            ),
            Some((None, None))
        );
        assert_eq!(parse_limits_nofile("garbage"), None);
    }

    #[test]
    fn stat_with_odd_comm() {
        let s = parse_stat("4242 (my (weird) app) S 1 4242 4242 0 -1 4194560 1 0 0 0 2 1 0 0 20 0 1 0 987654 12345 100 18446744073709551615").expect("parses");
        assert_eq!(s.comm, "my (weird) app");
        assert_eq!(s.ppid, 1);
        assert_eq!(s.state, 'S');
        assert_eq!(s.starttime_ticks, 987_654);
        assert_eq!(parse_stat("12 (x"), None);
        let real = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        if !real.is_empty() {
            assert_eq!(parse_stat(&real).map(|s| s.pid), Some(std::process::id()));
        }
    }

    #[test]
    fn status_meminfo_btime() {
        let st = include_str!("../../fixtures/host/proc/status-nginx-worker.txt");
        assert_eq!(parse_status_ids(st), Some((33, 33, vec![33])));
        let mi = "MemTotal:        4014252 kB\nMemFree:          171200 kB\nMemAvailable:     912340 kB\n";
        assert_eq!(parse_meminfo(mi), (Some(4_014_252), Some(912_340)));
        assert_eq!(
            parse_btime("cpu  1 2 3\nbtime 1795300000\n"),
            Some(1_795_300_000)
        );
    }

    fn comp(path: &str, uid: u32, gid: u32, mode: u32) -> PathStat {
        PathStat {
            path: path.into(),
            uid,
            gid,
            mode,
            ..Default::default()
        }
    }

    fn www_data() -> UserIdent {
        UserIdent {
            name: "www-data".into(),
            uid: 33,
            gid: 33,
            groups: vec![33],
            group_names: vec!["www-data".into()],
        }
    }

    #[test]
    fn socket_permission_decisions() {
        let ok = SocketAccess {
            socket: "/run/php/php8.2-fpm.sock".into(),
            user: www_data(),
            components: vec![
                comp("/", 0, 0, 0o40755),
                comp("/run", 0, 0, 0o40755),
                comp("/run/php", 33, 33, 0o40755),
                comp("/run/php/php8.2-fpm.sock", 33, 33, 0o140660),
            ],
            error: None,
        };
        assert_eq!(can_connect(&ok), Ok(()));

        let mut wrong_owner = ok.clone();
        wrong_owner.components[3] = comp("/run/php/php8.2-fpm.sock", 0, 0, 0o140660);
        assert!(
            matches!(can_connect(&wrong_owner), Err(AccessDenial::NoWrite { socket }) if socket.uid == 0)
        );

        let mut dir = ok.clone();
        dir.components[1] = comp("/run/app", 1001, 1001, 0o40750);
        dir.components[2] = comp("/run/app/sub", 1001, 1001, 0o40755);
        assert!(
            matches!(can_connect(&dir), Err(AccessDenial::NoSearch { dir }) if dir.path == "/run/app")
        );

        // Supplementary group membership grants the group bits.
        let mut grp = dir.clone();
        grp.user.groups.push(1001);
        grp.components[3] = comp("/run/app/sub/app.sock", 1001, 1001, 0o140660);
        assert_eq!(can_connect(&grp), Ok(()));

        let mut root = wrong_owner.clone();
        root.user = UserIdent::default();
        assert_eq!(can_connect(&root), Ok(()));
        assert!(matches!(
            can_connect(&SocketAccess::default()),
            Err(AccessDenial::Unknown { .. })
        ));
    }
}
