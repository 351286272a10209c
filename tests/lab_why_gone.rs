//! "Why the upstream is gone" against real processes: real nginx, real upstream apps that die
//! the way apps die on hosts (OOM kill, crash loop under a supervisor, a unix socket the nginx
//! workers may not open, a saturated PHP-FPM pool), and badgw run as root and as `nobody`.
//!
//! Each scenario asserts `findings[0].cause`, the exit code and that the evidence names the
//! right thing (the kernel log file:line, the pids, the socket's owner and mode, the pool).
//! What cannot happen here for real (the kernel's OOM killer) is written in the kernel's own
//! recorded format (see fixtures/host/kernel/) around a real kill of a real app.
//!
//! Every scenario is bounded (a few seconds) and cleans up what it started: the lab kills its
//! apps and nginx; the supervisor loop and PHP-FPM are killed by their guards, even when an
//! assertion fails.

mod lab;

use std::io::Write;
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lab::fpm::{self, is_root, spawn_group};
use lab::{free_port, Lab, Nginx};
use serde_json::Value;

fn conf_arg(nginx: &Nginx) -> String {
    nginx.conf_path.to_str().unwrap().to_string()
}

fn evidence(report: &Value, i: usize) -> Vec<String> {
    report["findings"][i]["evidence"]
        .as_array()
        .unwrap_or_else(|| panic!("no findings[{i}] in {report:#}"))
        .iter()
        .map(|e| e.as_str().unwrap().to_string())
        .collect()
}

fn top_cause(report: &Value) -> &str {
    report["findings"][0]["cause"]
        .as_str()
        .unwrap_or_else(|| panic!("no finding in {report:#}"))
}

/// A check's row in `checks[]`.
fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap_or_else(|| panic!("no checks in {report:#}"))
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {report:#}"))
}

/// 1. The app is killed by SIGKILL, and the kernel log (journalctl -k short-iso, the format
///    of fixtures/host/kernel/journalctl-k-short-iso.txt) says the OOM killer did it to that
///    pid just before the first 502: oom-killed leads, and explains upstream-down.
#[test]
fn oom_killed_app_leads_over_upstream_down() {
    let lab = Lab::new("oom");
    let outage = lab.killed_app("oom.test");
    let (front, site) = (outage.front, outage.site.clone());
    let (app, nginx) = (&outage.app, outage.nginx);
    let killed_at = outage.killed_at;

    let stamp = killed_at.format("%Y-%m-%dT%H:%M:%S%z").to_string();
    let pid = app.pid;
    let kern = lab.path("kern.log");
    let lines = [
        "-- Boot 6c1e7d0b8f2a4b7d9c0e1f2a3b4c5d6e --".to_string(),
        format!("{stamp} web1 kernel: labapp invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, oom_score_adj=0"),
        format!("{stamp} web1 kernel: CPU: 1 PID: {pid} Comm: labapp Not tainted 6.1.0-26-amd64 #1 Debian 6.1.112-1"),
        format!("{stamp} web1 kernel: oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/user.slice/user-0.slice/session-3.scope,task=labapp,pid={pid},uid=0"),
        format!("{stamp} web1 kernel: Out of memory: Killed process {pid} (labapp) total-vm:2117484kB, anon-rss:1843200kB, file-rss:1024kB, shmem-rss:0kB, UID:0 pgtables:3712kB oom_score_adj:0"),
    ];
    std::fs::write(&kern, lines.join("\n") + "\n").unwrap();
    let kill_line = lines
        .iter()
        .position(|l| l.contains("Out of memory: Killed process"))
        .unwrap()
        + 1;

    let (code, report) = lab::diagnose_json(&[
        "--site",
        &site,
        "--port",
        &front.to_string(),
        "--nginx-conf",
        &conf_arg(&nginx),
        "--kernel-log",
        kern.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(top_cause(&report), "oom-killed", "{report:#}");
    let title = report["findings"][0]["title"].as_str().unwrap();
    assert!(title.contains(&format!("labapp (pid {pid})")), "{title}");
    let ev = evidence(&report, 0);
    let origin = format!("{}:{kill_line}", kern.display());
    assert!(
        ev.iter().any(|e| e.starts_with(&origin)),
        "no {origin} in {ev:#?}"
    );
    // The symptom is still reported, below its root, and says what explains it.
    let down = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["cause"] == "upstream-down")
        .unwrap_or_else(|| panic!("no upstream-down in {report:#}"));
    assert_eq!(down["explained_by"], "oom-killed", "{report:#}");
}

/// The same kill with an unrelated victim (a different pid and program, minutes before the
/// outage) must not be blamed: the symptom leads.
#[test]
fn unrelated_oom_kill_does_not_lead() {
    let lab = Lab::new("oom-other");
    let outage = lab.killed_app("oom-other.test");
    let (front, site) = (outage.front, outage.site.clone());
    let nginx = outage.nginx;
    let stamp = (chrono::Local::now() - chrono::Duration::minutes(10))
        .format("%Y-%m-%dT%H:%M:%S%z")
        .to_string();
    let kern = lab.path("kern.log");
    std::fs::write(
        &kern,
        format!(
            "{stamp} web1 kernel: oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/system.slice/postgresql.service,task=postgres,pid=4242,uid=113\n\
             {stamp} web1 kernel: Out of memory: Killed process 4242 (postgres) total-vm:912344kB, anon-rss:611200kB, file-rss:0kB, shmem-rss:0kB, UID:113 pgtables:1400kB oom_score_adj:0\n"
        ),
    )
    .unwrap();
    let (code, report) = lab::diagnose_json(&[
        "--site",
        &site,
        "--port",
        &front.to_string(),
        "--nginx-conf",
        &conf_arg(&nginx),
        "--kernel-log",
        kern.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(top_cause(&report), "upstream-down", "{report:#}");
}

/// 2. A supervisor loop that keeps replacing the app: each labapp lives ~300 ms and is
///    restarted 50 ms after it dies, like `Restart=always` with a short `RestartSec`. badgw
///    must see the loop whatever the machine's load: a pid that changes, a listener that
///    comes and goes, or a seconds-old process under a shell loop while the error log shows
///    connections refused and cut.
#[test]
fn crash_loop_under_a_supervisor_loop() {
    let lab = Lab::new("crashloop");
    let (front, back) = (free_port(), free_port());
    let site = format!("shop-{front}.crash.test");
    let bin = lab::labapp_binary();
    // Bounded: the loop ends by itself after 200 rounds even if the guard never runs.
    let script = format!(
        "i=0; while [ $i -lt 200 ]; do i=$((i+1)); \
         {} --name crashy --listen 127.0.0.1:{back} --mode ok >/dev/null 2>&1 & pid=$!; \
         sleep 0.3; kill -9 $pid; wait $pid 2>/dev/null; sleep 0.05; done",
        bin.display()
    );
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(&script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _loop = spawn_group(cmd);
    let nginx = lab.nginx(&lab::proxy_server(
        front,
        &site,
        &format!("http://127.0.0.1:{back}"),
        "",
    ));
    // Requests fail while the app is between lives.
    let deadline = Instant::now() + Duration::from_secs(8);
    let (mut ok, mut failed) = (0, 0);
    while (failed < 2 || ok < 1) && Instant::now() < deadline {
        match lab.get(front, &site, "/").0 {
            200 => ok += 1,
            502 => failed += 1,
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        failed >= 2 && ok >= 1,
        "the looping app should answer sometimes and fail sometimes: {ok} ok, {failed} failed"
    );
    let (code, report) = lab::diagnose_json(&[
        "--site",
        &site,
        "--port",
        &front.to_string(),
        "--nginx-conf",
        &conf_arg(&nginx),
    ]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(top_cause(&report), "crash-loop", "{report:#}");
    let title = report["findings"][0]["title"].as_str().unwrap();
    assert!(
        title.contains(&format!("127.0.0.1:{back}")),
        "title names the address: {title}"
    );
    let ev = evidence(&report, 0).join("\n");
    assert!(ev.contains("(labapp)"), "evidence names the program: {ev}");
    assert!(
        ev.contains("parent sh"),
        "evidence names the supervisor: {ev}"
    );
}

/// 3. A unix socket owned by root with mode 0600 while nginx's workers run as nobody: nginx
///    logs (13: Permission denied) and socket-permission leads with the owner and the mode.
#[test]
fn socket_permission_root_0600_against_nobody_workers() {
    if !is_root() {
        panic!("this scenario needs root: nginx workers must run as another user (nobody) than the socket's owner");
    }
    let lab = Lab::new("sockperm");
    let front = free_port();
    let site = format!("php-{front}.perm.test");
    let sock = lab.sock("app.sock");
    let path = sock.strip_prefix("unix:").unwrap().to_string();
    let _app = lab.app_args("app", &["--listen", &sock, "--socket-mode", "0600"]);
    let nginx = lab.nginx(&lab::proxy_server(
        front,
        &site,
        &format!("http://{sock}:"),
        "",
    ));
    assert_eq!(lab.get(front, &site, "/").0, 502);
    nginx.wait_log("(13: Permission denied)");
    let (code, report) = lab::diagnose_json(&[
        "--site",
        &site,
        "--port",
        &front.to_string(),
        "--nginx-conf",
        &conf_arg(&nginx),
    ]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(top_cause(&report), "socket-permission", "{report:#}");
    let ev = evidence(&report, 0).join("\n");
    assert!(ev.contains(&path), "evidence names the socket: {ev}");
    assert!(ev.contains("root"), "evidence names the owner: {ev}");
    assert!(
        ev.contains("0600") || ev.contains("srw-------"),
        "evidence names the mode: {ev}"
    );
    assert!(
        ev.contains("nobody"),
        "evidence names the worker user: {ev}"
    );
}

/// The PHP-FPM binary of Debian's php-fpm package. Panics with an install hint when there is
/// none, so the pool scenario never passes silently.
/// Sends one raw request and does not wait for the answer beyond `limit`.
fn fire(port: u16, host: &str, path: &str) -> Option<TcpStream> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(8))).ok()?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes())
        .ok()?;
    Some(s)
}

/// 4. A real PHP-FPM pool with one child and no backlog behind real nginx: slow requests fill
///    it, nginx logs `(11: Resource temporarily unavailable)` on the pool's socket, and
///    pool-exhausted leads, naming the pool's pm.max_children line.
#[test]
fn pool_exhausted_real_php_fpm() {
    let lab = Lab::new("fpm");
    let front = free_port();
    let site = format!("php-{front}.fpm.test");
    let fpm = fpm::start(
        &lab,
        &[(
            "slow.php",
            "<?php usleep(3000000); echo \"slow done\\n\";\n",
        )],
        "listen.backlog = 0\npm = static\npm.max_children = 1\nrequest_terminate_timeout = 8s",
    );
    let (sock, conf) = (&fpm.sock, &fpm.conf);
    let max_children_line = fpm.line_of("pm.max_children");
    let nginx = lab.nginx(&format!(
        "server {{ listen 127.0.0.1:{front}; server_name {site}; root {www};
           {location}
         }}",
        www = fpm.www.display(),
        location = fpm.location("")
    ));
    // One request occupies the only child, one waits in the backlog, the rest are refused.
    let mut inflight = Vec::new();
    for _ in 0..4 {
        inflight.extend(fire(front, &site, "/slow.php"));
        std::thread::sleep(Duration::from_millis(100));
    }
    nginx.wait_log("(11: Resource temporarily unavailable)");
    let (code, report) = lab::diagnose_json(&[
        "--site",
        &site,
        "--port",
        &front.to_string(),
        "--path",
        "/slow.php",
        "--nginx-conf",
        &conf_arg(&nginx),
    ]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(top_cause(&report), "pool-exhausted", "{report:#}");
    let ev = evidence(&report, 0).join("\n");
    assert!(
        ev.contains(&sock.display().to_string()),
        "evidence names the pool socket: {ev}"
    );
    // A full backlog means the only child was busy: the pool's size is named, file:line.
    let where_ = format!("{}:{max_children_line}", conf.display());
    assert!(ev.contains(&where_), "evidence names {where_}: {ev}");
    assert!(ev.contains("pm.max_children = 1"), "{ev}");
    // The first slow request is still served once the child is free.
    drop(inflight);
}

/// 5. badgw as `nobody`: diagnose completes against a lab, and the checks whose facts need
///    root (the kernel log, other users' processes) say so instead of passing.
#[test]
fn unprivileged_diagnose_completes_and_says_what_needs_root() {
    if !is_root() {
        panic!("this scenario switches to user nobody, which needs root");
    }
    let lab = Lab::new("unpriv");
    let outage = lab.killed_app("unpriv.test");
    let (front, site) = (outage.front, outage.site.clone());
    let nginx = outage.nginx;
    let port = front.to_string();
    let started = Instant::now();
    let out = lab::run_as_nobody(
        &lab.dir,
        [
            "diagnose".as_ref(),
            "--json".as_ref(),
            "--site".as_ref(),
            site.as_ref(),
            "--port".as_ref(),
            port.as_ref(),
            "--nginx-conf".as_ref(),
            nginx.conf_path.as_os_str(),
        ] as [&std::ffi::OsStr; 8],
        Duration::from_secs(10),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON report as nobody ({e}): {stderr}"));
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(1), "{report:#}\n{stderr}");
    assert_eq!(top_cause(&report), "upstream-down", "{report:#}");
    let oom = check(&report, "oom-killed");
    assert_eq!(oom["status"], "skipped", "{oom:#}");
    assert!(
        oom["detail"].as_str().unwrap_or("").contains("run as root"),
        "{oom:#}"
    );
    // nginx's master is root's: as nobody its limits and fds cannot be read, and the report
    // must say that rather than pass the fd check.
    let fd = check(&report, "fd-exhaustion");
    let notes = report["notes"].to_string();
    assert!(
        (fd["status"] == "skipped" && fd["detail"].as_str().unwrap_or("").contains("root"))
            || notes.contains("run as root"),
        "fd-exhaustion: {fd:#}\nnotes: {notes}"
    );
}
