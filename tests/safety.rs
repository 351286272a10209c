//! `diagnose` is read-only: a live run against a real lab nginx, traced with `strace -f`,
//! writes no file (only stdout, stderr, pipes to its own children and sockets to the
//! upstreams it probes), removes, renames, re-owns or re-modes nothing, signals no process
//! it did not start, and runs no program outside the list gather uses (src/gather/:
//! `nginx -V` / `nginx -T`, systemctl, journalctl, pm2, getenforce, dmesg, docker, podman).
//! The configuration is readable here, so the `nginx -T` fallback (which makes nginx open
//! its log files for append) must not run either.

mod lab;

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use lab::Lab;

/// Programs gather may run (by file name).
const ALLOWED_PROGRAMS: &[&str] = &[
    "badgw",
    "nginx",
    "systemctl",
    "journalctl",
    "pm2",
    "getenforce",
    "dmesg",
    "docker",
    "podman",
];

const TRACED: &str = "execve,execveat,open,openat,openat2,creat,unlink,unlinkat,rename,renameat,\
    renameat2,chmod,fchmod,fchmodat,chown,fchown,fchownat,lchown,truncate,ftruncate,kill,\
    tgkill,tkill,write,pwrite64,writev,pwritev,pwritev2,mkdir,mkdirat,rmdir,link,linkat,\
    symlink,symlinkat,mknod,mknodat,utimensat,setxattr,removexattr";

fn strace() -> &'static str {
    for p in ["/usr/bin/strace", "/bin/strace", "/usr/local/bin/strace"] {
        if Path::new(p).exists() {
            return p;
        }
    }
    panic!("strace is not installed: apt-get install strace (CI does, in .ci/run)");
}

/// The fd annotation strace -y prints after a number: `3</tmp/x>` → "/tmp/x".
fn fd_target(args: &str) -> Option<(&str, &str)> {
    let (fd, rest) = args.split_once('<')?;
    let (target, _) = rest.split_once('>')?;
    Some((fd.trim(), target))
}

/// Every rule broken in one process's trace file.
fn violations(trace: &str, own_pids: &HashSet<u32>) -> Vec<String> {
    let mut bad = Vec::new();
    for line in trace.lines() {
        let Some((call, args)) = line.split_once('(') else {
            continue;
        };
        let call = call.trim();
        match call {
            "execve" | "execveat" => {
                let prog = args.split('"').nth(1).unwrap_or("");
                let name = Path::new(prog)
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("");
                if !ALLOWED_PROGRAMS.contains(&name) {
                    bad.push(format!("runs a program outside the allowed list: {line}"));
                }
                if name == "nginx" && args.contains("\"-T\"") {
                    bad.push(format!(
                        "nginx -T ran although the configuration is readable: {line}"
                    ));
                }
            }
            "open" | "openat" | "openat2" | "creat" => {
                let writes = call == "creat"
                    || ["O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND"]
                        .iter()
                        .any(|f| args.contains(f));
                let path = args.split('"').nth(1).unwrap_or("");
                if writes && !matches!(path, "/dev/null" | "/dev/tty") {
                    bad.push(format!("opens a file for writing: {line}"));
                }
            }
            "write" | "pwrite64" | "writev" | "pwritev" | "pwritev2" => {
                let Some((fd, target)) = fd_target(args) else {
                    bad.push(format!("write to an unknown fd: {line}"));
                    continue;
                };
                let stream = fd == "1" || fd == "2";
                let allowed = stream
                    || ["pipe:", "socket:", "anon_inode:", "TCP", "UDP", "UNIX"]
                        .iter()
                        .any(|p| target.starts_with(p))
                    || target == "/dev/null"
                    || target.starts_with("/dev/pts/");
                if !allowed {
                    bad.push(format!("writes to a file: {line}"));
                }
            }
            "kill" | "tgkill" | "tkill" => {
                // kill(pid, sig) / tkill(tid, sig) / tgkill(tgid, tid, sig)
                let inner = args.split(')').next().unwrap_or("");
                let parts: Vec<&str> = inner.split(',').map(str::trim).collect();
                let target: i64 = parts.first().and_then(|p| p.parse().ok()).unwrap_or(-1);
                let no_signal = parts.last() == Some(&"0");
                let own_child = target > 0 && own_pids.contains(&(target as u32));
                if !(no_signal || own_child) {
                    bad.push(format!("signals a process it did not start: {line}"));
                }
            }
            "unlink" | "unlinkat" | "rename" | "renameat" | "renameat2" | "chmod" | "fchmod"
            | "fchmodat" | "chown" | "fchown" | "fchownat" | "lchown" | "truncate"
            | "ftruncate" | "mkdir" | "mkdirat" | "rmdir" | "link" | "linkat" | "symlink"
            | "symlinkat" | "mknod" | "mknodat" | "utimensat" | "setxattr" | "removexattr" => {
                bad.push(format!("changes the file system: {line}"));
            }
            _ => {}
        }
    }
    bad
}

#[test]
fn a_live_diagnose_writes_no_file_signals_no_process_and_runs_only_allowed_programs() {
    let strace = strace();
    let lab = Lab::new("safety");
    // A failure for diagnose to explain: the error log, listeners and probes all get read.
    let outage = lab.killed_app("safety.test");
    let (front, site, nginx) = (outage.front, outage.site.clone(), outage.nginx);

    let traces = tempfile::tempdir().unwrap();
    let prefix = traces.path().join("t");
    // No --nginx-conf: discovery reads /proc and asks the nginx binary (-V) itself.
    let mut cmd = Command::new(strace);
    cmd.args(["-ff", "-qq", "-y", "-e"])
        .arg(format!("trace={TRACED}"))
        .arg("-o")
        .arg(&prefix)
        .arg(env!("CARGO_BIN_EXE_badgw"))
        .args(["diagnose", "--site", &site, "--port", &front.to_string()])
        .args(["--timeout", "2s", "--json"]);
    let out = lab::run_with_timeout(cmd, Duration::from_secs(60));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no report under strace ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(out.status.code(), Some(1), "{report:#}");
    assert_eq!(
        report["findings"][0]["cause"], "upstream-down",
        "{report:#}"
    );
    assert_eq!(
        report["route"]["server"]["file"],
        nginx.conf_path.display().to_string(),
        "the lab's nginx was the one diagnosed"
    );

    // One trace file per process: t.PID.
    let mut files = Vec::new();
    let mut own = HashSet::new();
    for e in std::fs::read_dir(traces.path()).unwrap() {
        let p = e.unwrap().path();
        if let Some(pid) = p
            .extension()
            .and_then(|x| x.to_str())
            .and_then(|x| x.parse::<u32>().ok())
        {
            own.insert(pid);
            files.push(p);
        }
    }
    assert!(!files.is_empty(), "strace wrote no trace");
    let mut bad = Vec::new();
    let mut execs = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        execs += text.lines().filter(|l| l.starts_with("execve(")).count();
        bad.extend(violations(&text, &own));
    }
    assert!(execs >= 1, "the trace saw badgw start");
    assert!(
        bad.is_empty(),
        "diagnose must be read-only:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_rules_catch_what_they_must() {
    // The checker itself must be able to fail.
    let own: HashSet<u32> = [100].into_iter().collect();
    let cases = [
        "openat(AT_FDCWD</>, \"/etc/x\", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0666) = 3</etc/x>",
        "write(3</var/log/nginx/error.log>, \"x\", 1) = 1",
        "unlinkat(AT_FDCWD</>, \"/run/app.sock\", 0) = 0",
        "kill(4242, SIGTERM) = 0",
        "tgkill(4242, 4243, SIGKILL) = 0",
        "execve(\"/usr/bin/rm\", [\"rm\", \"-rf\", \"/\"], 0x0 /* 3 vars */) = 0",
        "execve(\"/usr/sbin/nginx\", [\"/usr/sbin/nginx\", \"-T\"], 0x0 /* 3 vars */) = 0",
        "chmod(\"/etc/nginx/nginx.conf\", 0777) = 0",
        "renameat2(AT_FDCWD</>, \"a\", AT_FDCWD</>, \"b\", 0) = 0",
    ];
    for c in cases {
        assert_eq!(violations(c, &own).len(), 1, "not caught: {c}");
    }
    let fine = [
        "openat(AT_FDCWD</>, \"/proc/1/cmdline\", O_RDONLY|O_CLOEXEC) = 3</proc/1/cmdline>",
        "openat(AT_FDCWD</>, \"/dev/null\", O_RDWR|O_CLOEXEC) = 3</dev/null>",
        "write(1<pipe:[123]>, \"{\", 1) = 1",
        "write(5<socket:[99]>, \"GET / HTTP/1.0\", 14) = 14",
        "kill(100, SIGKILL) = 0",
        "execve(\"/usr/sbin/nginx\", [\"/usr/sbin/nginx\", \"-V\"], 0x0 /* 3 vars */) = 0",
    ];
    for c in fine {
        assert!(violations(c, &own).is_empty(), "false alarm: {c}");
    }
}
