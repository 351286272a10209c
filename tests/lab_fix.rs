//! `badgw diagnose --fix` on real nginx and PHP-FPM processes (issue 14, part 2): each
//! scenario starts at 502, badgw applies the leading cause's fix (backup, syntax test,
//! reload) and the site answers 200 afterwards; a failing syntax test, a refusal without a
//! terminal, a dry run and a "no" leave every file byte-identical.
//!
//! "Upstream down under a supervisor" runs under a real supervisord (systemd cannot be
//! PID 1 here and PM2 is not installed): badgw finds the program in supervisord's
//! configuration and starts it with supervisorctl.

mod lab;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use lab::{free_port, Lab};

/// `badgw diagnose ARGS --fix EXTRA...` with backups kept in the lab: (exit code, stdout).
fn fix(lab: &Lab, args: &[&str], extra: &[&str]) -> (i32, String) {
    let mut cmd = lab::badgw();
    cmd.arg("diagnose")
        .args(args)
        .arg("--fix")
        .args(extra)
        .env("NO_COLOR", "1")
        .env("BADGW_BACKUP_DIR", lab.path("backups"));
    let out = lab::run_with_timeout(cmd, Duration::from_secs(60));
    let text = format!(
        "{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap()
}

/// nginx proxies to port `back` while the app listens on `back + 1`: a port mismatch.
fn port_mismatch(lab: &Lab, name: &str) -> (lab::Nginx, lab::App, u16, String) {
    let front = free_port();
    let back = loop {
        let p = free_port();
        // The app's port must be free too: take two in a row.
        if std::net::TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
            break p;
        }
    };
    let site = format!("{name}-{front}.fix.test");
    let app = lab.app(&site, &[&format!("127.0.0.1:{}", back + 1)], "ok");
    let nginx = lab.nginx(&lab::proxy_server(
        front,
        &site,
        &format!("http://127.0.0.1:{back}"),
        "",
    ));
    assert_eq!(lab.get(front, &site, "/").0, 502);
    nginx.wait_log("(111: Connection refused)");
    (nginx, app, front, site)
}

fn args<'a>(site: &'a str, front: &'a str, nginx: &'a lab::Nginx) -> Vec<&'a str> {
    vec![
        "--site",
        site,
        "--port",
        front,
        "--nginx-conf",
        nginx.conf_path.to_str().unwrap(),
    ]
}

#[test]
fn port_mismatch_is_fixed_by_editing_proxy_pass_testing_and_reloading() {
    let lab = Lab::new("fixport");
    let (nginx, _app, front, site) = port_mismatch(&lab, "port");
    let before = read(&nginx.conf_path);
    let front_s = front.to_string();
    let (code, text) = fix(&lab, &args(&site, &front_s, &nginx), &["--yes"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("Fixed: the site answers again."), "{text}");
    assert!(
        text.contains("through nginx: GET") && text.contains("→ 200"),
        "{text}"
    );
    assert_eq!(lab.get(front, &site, "/").0, 200, "{text}");
    // The backup is the file as it was; the file changed on one line only.
    let backups: Vec<_> = std::fs::read_dir(lab.path("backups"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(backups.len(), 1, "{text}");
    assert_eq!(read(&backups[0].path()), before);
    let after = String::from_utf8(read(&nginx.conf_path)).unwrap();
    let before = String::from_utf8(before).unwrap();
    let changed: Vec<_> = before
        .lines()
        .zip(after.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(changed.len(), 1, "{changed:?}");
}

#[test]
fn a_failing_syntax_test_restores_the_file_and_reloads_nothing() {
    let lab = Lab::new("fixsyntax");
    let (nginx, _app, front, site) = port_mismatch(&lab, "syntax");
    // Someone left the configuration half-edited after nginx loaded it: `nginx -t` fails.
    let mut conf = read(&nginx.conf_path);
    conf.extend_from_slice(b"half_edited_directive on;\n");
    std::fs::write(&nginx.conf_path, &conf).unwrap();
    let front_s = front.to_string();
    let (code, text) = fix(&lab, &args(&site, &front_s, &nginx), &["--yes"]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("the syntax test failed"), "{text}");
    assert_eq!(read(&nginx.conf_path), conf, "the file is byte-identical");
    assert_eq!(lab.get(front, &site, "/").0, 502, "nothing was reloaded");
}

#[test]
fn without_a_terminal_it_refuses_and_a_dry_run_or_a_no_changes_nothing() {
    let lab = Lab::new("fixrefuse");
    let (nginx, _app, front, site) = port_mismatch(&lab, "refuse");
    let before = read(&nginx.conf_path);
    let front_s = front.to_string();
    let a = args(&site, &front_s, &nginx);
    // No terminal, no --yes: refused before anything is gathered.
    let (code, text) = fix(&lab, &a, &[]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("--yes"), "{text}");
    // --dry-run: the plan with its diff, nothing changed.
    let (code, text) = fix(&lab, &a, &["--dry-run"]);
    assert_eq!(code, 1, "{text}");
    // As root (the labs' case) the plan carries no `sudo`: it runs as printed.
    assert!(text.contains("will run: sed -i '"), "{text}");
    assert!(
        text.contains("\n  -") && text.contains("\n  +"),
        "a diff: {text}"
    );
    assert_eq!(read(&nginx.conf_path), before);
    // On a terminal (a pty from script(1)), answering "n": exit 4, nothing changed.
    let mut line = vec![
        lab::badgw().get_program().to_str().unwrap().to_string(),
        "diagnose".into(),
    ];
    line.extend(a.iter().map(|s| s.to_string()));
    line.push("--fix".into());
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &line.join(" "), "/dev/null"])
        .env("NO_COLOR", "1")
        .env("BADGW_BACKUP_DIR", lab.path("backups"))
        .stdin(std::process::Stdio::piped());
    cmd.stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("script(1) from util-linux");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        // Answer once the question is asked (the pty buffers the line until read).
        stdin.write_all(b"n\n").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(4), "{text}");
    assert!(
        text.contains("[y/N]") && text.contains("nothing was changed"),
        "{text}"
    );
    assert_eq!(read(&nginx.conf_path), before);
    assert!(!lab.path("backups").exists());
}

#[test]
fn socket_permission_is_fixed_with_the_pools_listen_owner() {
    let lab = Lab::new("fixsock");
    let front = free_port();
    let site = format!("sock-{front}.fix.test");
    // The socket is root's, 0600: nginx's workers (nobody) may not connect.
    let fpm = lab::fpm::start(
        &lab,
        &[("index.php", "<?php echo \"php ok\\n\";\n")],
        "listen.owner = root\nlisten.mode = 0600\npm = static\npm.max_children = 1",
    );
    let nginx = lab.nginx(&format!(
        "server {{ listen 127.0.0.1:{front}; server_name {site}; root {www};
           {location}
         }}",
        www = fpm.www.display(),
        location = fpm.location("")
    ));
    assert_eq!(lab.get(front, &site, "/index.php").0, 502);
    nginx.wait_log("(13: Permission denied)");
    let front_s = front.to_string();
    let mut a = args(&site, &front_s, &nginx);
    a.extend(["--path", "/index.php"]);
    let (code, text) = fix(&lab, &a, &["--yes"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("listen.owner = nobody"), "{text}");
    assert!(
        !text.contains("usermod") && !text.contains("0666"),
        "{text}"
    );
    assert_eq!(
        lab.get(front, &site, "/index.php"),
        (200, "php ok\n".to_string())
    );
    let conf = std::fs::read_to_string(&fpm.conf).unwrap();
    assert!(conf.contains("\nlisten.owner = nobody\n"), "{conf}");
    assert!(!conf.contains("listen.owner = root"), "{conf}");
}

#[test]
fn fpm_killing_requests_before_nginx_gives_up_is_fixed_by_raising_its_timeout() {
    let lab = Lab::new("fixtimeout");
    let front = free_port();
    let site = format!("slow-{front}.fix.test");
    let fpm = lab::fpm::start(
        &lab,
        &[("slow.php", "<?php usleep(1500000); echo \"done\\n\";\n")],
        "pm = static\npm.max_children = 2\nrequest_terminate_timeout = 1s",
    );
    let nginx = lab.nginx(&format!(
        "server {{ listen 127.0.0.1:{front}; server_name {site}; root {www};
           {location}
         }}",
        www = fpm.www.display(),
        location = fpm.location("")
    ));
    assert_eq!(lab.get(front, &site, "/slow.php").0, 502);
    nginx.wait_log("while reading response header from upstream");
    let front_s = front.to_string();
    let mut a = args(&site, &front_s, &nginx);
    a.extend(["--path", "/slow.php"]);
    let (code, text) = fix(&lab, &a, &["--yes"]);
    assert!(text.contains("request_terminate_timeout = 60s"), "{text}");
    assert!(
        text.contains("-t -y"),
        "the pool's own syntax test runs: {text}"
    );
    assert_eq!(code, 0, "{text}");
    assert_eq!(
        lab.get(front, &site, "/slow.php"),
        (200, "done\n".to_string())
    );
}

#[test]
fn an_app_stopped_under_supervisord_is_started_with_supervisorctl() {
    let lab = Lab::new("fixsupervisor");
    let (front, back) = (free_port(), free_port());
    let site = format!("super-{front}.fix.test");
    let www = lab.path("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("index.html"), "supervised ok\n").unwrap();
    let sup = lab::supervisor::Supervisord::start(
        &lab,
        &format!(
            "[program:shopapp]\ncommand=python3 -m http.server {back} --bind 127.0.0.1\n\
             directory={}\nautorestart=false\nstartsecs=1\n",
            www.display()
        ),
    );
    let nginx = lab.nginx(&lab::proxy_server(
        front,
        &site,
        &format!("http://127.0.0.1:{back}"),
        "",
    ));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while lab::http_get(front, &site, "/").map(|r| r.0) != Ok(200) {
        assert!(
            std::time::Instant::now() < deadline,
            "the supervised app never answered"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let front_s = front.to_string();
    let a = args(&site, &front_s, &nginx);
    // Running: the listener's owner is a child of supervisord, tied to its program.
    let mut collect = vec!["collect"];
    collect.extend(&a);
    let (_, facts) = lab::badgw_json(&collect);
    let programs = &facts["supervisord"]["value"]["instances"][0]["programs"];
    assert_eq!(programs[0]["ctl_name"], "shopapp", "{facts:#}");
    assert!(
        programs[0]["serves_upstream"]
            .as_str()
            .is_some_and(|w| w.contains("listens at the upstream")),
        "{programs:#}"
    );
    // Stopped by its supervisor: 502, and badgw names the program to start.
    let (code, out) = sup.ctl(&["stop", "shopapp"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(lab.get(front, &site, "/").0, 502);
    nginx.wait_log("(111: Connection refused)");
    let (code, report) = lab::diagnose_json(&a);
    assert_eq!(code, 1, "{report:#}");
    let lead = &report["findings"][0];
    assert_eq!(lead["cause"], "upstream-down", "{report:#}");
    let start = format!("supervisorctl -c {} start shopapp", sup.conf_str());
    let fixes: Vec<&str> = lead["fixes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["command"].as_str())
        .collect();
    assert!(fixes.iter().any(|c| c.ends_with(&start)), "{fixes:#?}");
    assert!(
        fixes.iter().any(|c| c.contains(&format!(
            "supervisorctl -c {} status shopapp",
            sup.conf_str()
        ))),
        "{fixes:#?}"
    );
    assert!(
        lead["evidence"].to_string().contains("[program:shopapp]"),
        "{lead:#}"
    );
    // --fix --yes starts it through supervisorctl; the site answers through nginx.
    let (code, text) = fix(&lab, &a, &["--yes"]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(&format!("running: {start}")) || text.contains(&start),
        "{text}"
    );
    assert!(text.contains("Fixed: the site answers again."), "{text}");
    assert_eq!(
        lab.get(front, &site, "/"),
        (200, "supervised ok\n".to_string())
    );
    let (_, status) = sup.ctl(&["status", "shopapp"]);
    assert!(status.contains("RUNNING"), "{status}");
}
