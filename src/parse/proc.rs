//! /proc file parsers (`limits`, `stat`, `status`, `meminfo`, `/proc/stat` btime) and the
//! pure unix-socket permission decision ("can user U connect to this socket?").
//! `stat`, `status` and `limits` are read by `procfs-core`, the pure parsing half of
//! `procfs`, which takes any `Read` (recorded fixtures as well as a `--proc-root` tree).
//!
//! Pure: text in, typed out; the permission decision reads recorded stat facts only, so it
//! is unit-testable without the host.

use procfs_core::process::{LimitValue, Limits, Stat, Status};
use procfs_core::FromRead;

use crate::facts::{PathStat, SocketAccess, UserIdent};

/// "Max open files" soft and hard limits from `/proc/<pid>/limits` (None = unlimited).
pub fn parse_limits_nofile(input: &str) -> Option<(Option<u64>, Option<u64>)> {
    // procfs-core indexes each line by its field count and would panic on a short line
    // (hostile or damaged input): hand it only lines shaped like `Max NAME… SOFT HARD [UNITS]`.
    let sane: String = input
        .lines()
        .filter(|l| l.starts_with("Max ") && l.split_whitespace().count() >= 4)
        .flat_map(|l| [l, "\n"])
        .collect();
    let nofile = Limits::from_read(sane.as_bytes()).ok()?.max_open_files;
    let value = |v: LimitValue| match v {
        LimitValue::Unlimited => None,
        LimitValue::Value(n) => Some(n),
    };
    Some((value(nofile.soft_limit), value(nofile.hard_limit)))
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
    // procfs-core slices around the parentheses of the trimmed line without checking that
    // there is a pid before them and a field after them: refuse such text before it gets
    // there.
    let input = input.trim();
    let open = input.find('(')?;
    let close = input.rfind(')')?;
    if open < 2 || close < open || input.get(close + 2..).is_none_or(str::is_empty) {
        return None;
    }
    let s = Stat::from_read(input.as_bytes()).ok()?;
    Some(ProcStat {
        pid: u32::try_from(s.pid).ok()?,
        comm: s.comm,
        state: s.state,
        ppid: u32::try_from(s.ppid).ok()?,
        starttime_ticks: s.starttime,
    })
}

/// Real uid, real gid and supplementary groups from `/proc/<pid>/status`.
pub fn parse_status_ids(input: &str) -> Option<(u32, u32, Vec<u32>)> {
    let s = parse_status(input)?;
    Some((s.ruid, s.rgid, s.groups))
}

/// `/proc/<pid>/status`, parsed by procfs-core.
pub fn parse_status(input: &str) -> Option<Status> {
    Status::from_read(input.as_bytes()).ok()
}

/// Resident size now (`VmRSS`) and at its peak (`VmHWM`), in kB, from
/// `/proc/<pid>/status` (None for kernel threads, which have no memory of their own).
pub fn parse_status_memory(input: &str) -> Option<(u64, Option<u64>)> {
    let s = parse_status(input)?;
    Some((s.vmrss?, s.vmhwm))
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
        let unlimited = t.replace(
            "Max open files            1024                 20000",
            "Max open files            unlimited            unlimited",
        );
        assert_eq!(parse_limits_nofile(&unlimited), Some((None, None)));
        assert_eq!(parse_limits_nofile("garbage"), None);
        assert_eq!(parse_limits_nofile("Max\nMax open\nx y\n"), None);
    }

    #[test]
    fn stat_with_odd_comm() {
        let s = parse_stat("4242 (my (weird) app) S 1 4242 4242 0 -1 4194560 1 0 0 0 2 1 0 0 20 0 1 0 987654 12345 100 18446744073709551615 94108347412480 94108347432361 140724546414864 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 94108347448368 94108347449984 94108597518336 140724546419409 140724546419429 140724546419429 140724546420715 0").expect("parses");
        assert_eq!(s.comm, "my (weird) app");
        assert_eq!(s.ppid, 1);
        assert_eq!(s.state, 'S');
        assert_eq!(s.starttime_ticks, 987_654);
        assert_eq!(parse_stat("12 (x"), None);
        assert_eq!(parse_stat("(x) S 1"), None);
        assert_eq!(parse_stat("12 (x)"), None);
        assert_eq!(parse_stat("12 (x) \n"), None);
        assert_eq!(parse_stat("12 (x)é S"), None);
        assert_eq!(parse_stat("12 (x) S 1 2"), None);
        let real = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        if !real.is_empty() {
            assert_eq!(parse_stat(&real).map(|s| s.pid), Some(std::process::id()));
        }
    }

    #[test]
    fn status_meminfo_btime() {
        let st = include_str!("../../fixtures/host/proc/status-nginx-worker.txt");
        assert_eq!(parse_status_ids(st), Some((33, 33, vec![33])));
        assert!(parse_status_memory(st).is_some_and(|(rss, _)| rss > 0));
        assert_eq!(parse_status_ids("Uid: 1 1 1 1\n"), None);
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
