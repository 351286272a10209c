//! Labs with network and mount namespaces (root, as CI runs): nginx and the app in
//! namespaces of their own, joined by veth pairs, and badgw looking at them from the host.
//!
//! Every namespace, interface, route, /etc/netns directory and process a lab creates is
//! removed by [`NetLab`]'s Drop, also when the test fails. Traffic goes only to addresses
//! inside the namespaces the lab created; the lab's subnet (10.213.X.0/24, X unique per lab)
//! is routed `unreachable` in the host namespace for the lab's lifetime, so no packet for it
//! ever leaves the machine.

mod lab;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use lab::{free_port, Lab};
use serde_json::Value;

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn need_root_and_ip() {
    if !is_root() {
        panic!("the namespace labs need root (ip netns, veth pairs); run the tests as root, as CI does");
    }
    let ok = Command::new("ip")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        panic!("`ip` (iproute2) not found: install it with `sudo apt-get install iproute2`");
    }
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn ip_quiet(args: &[&str]) {
    let _ = Command::new("ip").args(args).output();
}

static LABS: AtomicU32 = AtomicU32::new(0);

/// One namespace lab: its namespaces, veth pairs, subnet route and processes.
struct NetLab {
    /// Third octet of the lab's subnet 10.213.X.0/24.
    x: u8,
    tag: String,
    netns: Vec<String>,
    host_links: Vec<String>,
    etc_dirs: Vec<PathBuf>,
    route: Option<String>,
    procs: Vec<Child>,
    dir: tempfile::TempDir,
}

impl NetLab {
    fn new() -> NetLab {
        need_root_and_ip();
        let n = LABS.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        let tag = format!("{}{n}", pid % 100_000);
        let dir = tempfile::Builder::new()
            .prefix("badgw-ns-")
            .tempdir()
            .expect("temp dir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut lab = NetLab {
            x: 0,
            tag,
            netns: Vec::new(),
            host_links: Vec::new(),
            etc_dirs: Vec::new(),
            route: None,
            procs: Vec::new(),
            dir,
        };
        // A subnet no route of this host mentions yet, kept unreachable from the host.
        let start = (pid % 50) * 5 + n;
        for i in 0..250 {
            let x = ((start + i) % 250 + 1) as u8;
            let subnet = format!("10.213.{x}.0/24");
            let out = Command::new("ip")
                .args(["route", "show", "match", &format!("10.213.{x}.1")])
                .output()
                .expect("ip route");
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            if text.contains("10.213.") {
                continue;
            }
            let added = Command::new("ip")
                .args(["route", "add", "unreachable", &subnet, "metric", "4242"])
                .output()
                .is_ok_and(|o| o.status.success());
            if added {
                lab.x = x;
                lab.route = Some(subnet);
                return lab;
            }
        }
        panic!("no free 10.213.X.0/24 subnet for the lab");
    }

    fn addr(&self, host: u8) -> String {
        format!("10.213.{}.{host}", self.x)
    }

    /// A new named network namespace with loopback up.
    fn netns(&mut self, role: &str) -> String {
        let name = format!("badgw-{}-{role}", self.tag);
        ip(&["netns", "add", &name]);
        self.netns.push(name.clone());
        ip(&["-n", &name, "link", "set", "lo", "up"]);
        name
    }

    /// A veth pair between `a` (None: the host) and namespace `b`, with .`ha` and .`hb` of the
    /// lab's subnet.
    fn veth(&mut self, a: Option<&str>, ha: u8, b: &str, hb: u8) {
        let (ia, ib) = (
            format!("bgw{}{}a", self.tag, self.host_links.len()),
            format!("bgw{}{}b", self.tag, self.host_links.len()),
        );
        ip(&["link", "add", &ia, "type", "veth", "peer", "name", &ib]);
        self.host_links.push(ia.clone());
        ip(&["link", "set", &ib, "netns", b]);
        let (aa, ab) = (
            format!("{}/24", self.addr(ha)),
            format!("{}/24", self.addr(hb)),
        );
        match a {
            Some(ns) => {
                ip(&["link", "set", &ia, "netns", ns]);
                ip(&["-n", ns, "addr", "add", &aa, "dev", &ia]);
                ip(&["-n", ns, "link", "set", &ia, "up"]);
            }
            None => {
                ip(&["addr", "add", &aa, "dev", &ia]);
                ip(&["link", "set", &ia, "up"]);
            }
        }
        ip(&["-n", b, "addr", "add", &ab, "dev", &ib]);
        ip(&["-n", b, "link", "set", &ib, "up"]);
    }

    /// `/etc/netns/NS/hosts`: `ip netns exec NS` bind-mounts it onto /etc/hosts in a private
    /// mount namespace.
    fn hosts_file(&mut self, ns: &str, text: &str) -> PathBuf {
        self.etc_file(ns, "hosts", text)
    }

    /// `/etc/netns/NS/NAME`, bind-mounted onto /etc/NAME by `ip netns exec NS`.
    fn etc_file(&mut self, ns: &str, name: &str, text: &str) -> PathBuf {
        let dir = PathBuf::from("/etc/netns").join(ns);
        std::fs::create_dir_all(&dir).unwrap();
        if !self.etc_dirs.contains(&dir) {
            self.etc_dirs.push(dir.clone());
        }
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// The app at .2 of the lab's subnet moves to .3 (killed, readdressed, restarted on
    /// `port`), as a recreated container does; nginx's side forgets the old neighbour, so
    /// the old address gets no ARP answer (113: No route to host), not a silent drop.
    fn move_app(&mut self, app: u32, app_ns: &str, front_ns: &str, port: u16) {
        self.kill(app);
        let link = format!("bgw{}0b", self.tag);
        for (verb, host) in [("del", 2), ("add", 3)] {
            let a = format!("{}/24", self.addr(host));
            ip(&["-n", app_ns, "addr", verb, &a, "dev", &link]);
        }
        self.app_in(app_ns, &format!("{}:{port}", self.addr(3)));
        ip(&[
            "-n",
            front_ns,
            "neigh",
            "flush",
            "dev",
            &format!("bgw{}0a", self.tag),
        ]);
    }

    fn spawn_in(&mut self, ns: &str, program: &Path, args: &[&str], stdout: Stdio) -> &mut Child {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns])
            .arg(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::null())
            .process_group(0);
        lab::die_with_parent(&mut cmd);
        let child = cmd.spawn().expect("spawn ip netns exec");
        self.procs.push(child);
        self.procs.last_mut().unwrap()
    }

    /// labapp inside `ns` (`ip netns exec` execs it: the pid is the app's). Returns its pid.
    fn app_in(&mut self, ns: &str, listen: &str) -> u32 {
        let bin = lab::labapp_binary();
        let child = self.spawn_in(
            ns,
            &bin,
            &["--name", "shop", "--listen", listen, "--mode", "ok"],
            Stdio::piped(),
        );
        let pid = child.id();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(lab::WAIT).unwrap_or_default();
        assert_eq!(
            line.trim(),
            "READY",
            "labapp in {ns} on {listen} did not start"
        );
        pid
    }

    /// SIGKILL one process started by this lab, and reap it.
    fn kill(&mut self, pid: u32) {
        if let Some(c) = self.procs.iter_mut().find(|c| c.id() == pid) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// nginx inside `ns`, on the lab's own prefix. Returns (master pid, conf path, error log).
    fn nginx_in(&mut self, ns: &str, http_body: &str) -> (u32, PathBuf, PathBuf) {
        let prefix = self.dir.path().join(format!("nginx-{ns}"));
        for d in ["conf", "logs", "tmp"] {
            std::fs::create_dir_all(prefix.join(d)).unwrap();
            std::fs::set_permissions(prefix.join(d), std::fs::Permissions::from_mode(0o755))
                .unwrap();
        }
        std::fs::set_permissions(&prefix, std::fs::Permissions::from_mode(0o755)).unwrap();
        let conf = prefix.join("conf/nginx.conf");
        std::fs::write(&conf, lab::nginx_conf(&prefix, http_body)).unwrap();
        let err = prefix.join("logs/error.log");
        let bin = lab::nginx_binary();
        let (p, c, e) = (
            prefix.display().to_string(),
            conf.display().to_string(),
            err.display().to_string(),
        );
        let pid = self
            .spawn_in(
                ns,
                &bin,
                &["-p", &p, "-c", &c, "-e", &e, "-g", "daemon off;"],
                Stdio::null(),
            )
            .id();
        let deadline = Instant::now() + lab::WAIT;
        loop {
            let log = std::fs::read_to_string(&err).unwrap_or_default();
            if log.contains("start worker process ") {
                break;
            }
            assert!(
                !log.contains("[emerg]") && Instant::now() < deadline,
                "nginx in {ns} did not start:\n{log}"
            );
            thread::sleep(Duration::from_millis(20));
        }
        (pid, conf, err)
    }

    /// One HTTP/1.0 GET to 127.0.0.1:port inside `ns`: (status, body).
    fn get_in(&self, ns: &str, port: u16, host: &str) -> (u16, String) {
        let ns_path = PathBuf::from("/run/netns").join(ns);
        let host = host.to_string();
        thread::spawn(move || {
            let f = std::fs::File::open(&ns_path).expect("open netns");
            // SAFETY: a valid namespace fd; only this dedicated thread changes namespace.
            let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            write!(s, "GET / HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
            let mut buf = String::new();
            let _ = s.read_to_string(&mut buf);
            let status = buf
                .split_whitespace()
                .nth(1)
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            let body = buf.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
            (status, body)
        })
        .join()
        .expect("request thread")
    }
}

impl Drop for NetLab {
    fn drop(&mut self) {
        for c in &mut self.procs {
            // nginx runs in its own process group: reach its workers too.
            // SAFETY: kill on a process group this lab created.
            unsafe {
                libc::kill(-(c.id() as i32), libc::SIGKILL);
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in &self.netns {
            ip_quiet(&["netns", "del", ns]);
        }
        for l in &self.host_links {
            ip_quiet(&["link", "del", l]);
        }
        if let Some(r) = &self.route {
            ip_quiet(&["route", "del", "unreachable", r, "metric", "4242"]);
        }
        for d in &self.etc_dirs {
            let _ = std::fs::remove_dir_all(d);
            // /etc/netns itself, once no lab uses it (fails harmlessly while one does).
            if let Some(parent) = d.parent() {
                let _ = std::fs::remove_dir(parent);
            }
        }
    }
}

fn findings(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| f["cause"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("no check {id} in {report:#}"))
}

fn diagnose(site: &str, port: u16, conf: &Path) -> (i32, Value) {
    lab::diagnose_json(&[
        "--site",
        site,
        "--port",
        &port.to_string(),
        "--nginx-conf",
        conf.to_str().unwrap(),
    ])
}

/// `badgw diagnose --json` as nobody (no capability: no namespace can be entered, no other
/// user's /proc entries read); it must still complete with a JSON report.
fn diagnose_as_nobody(net: &NetLab, site: &str, port: u16, conf: &Path) -> (i32, Value) {
    let port = port.to_string();
    let args = [
        "diagnose",
        "--json",
        "--site",
        site,
        "--port",
        &port,
        "--nginx-conf",
    ];
    let out = lab::run_as_nobody(
        net.dir.path(),
        args.iter().map(|a| a.as_ref()).chain([conf.as_os_str()]),
        Duration::from_secs(20),
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON as nobody ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), report)
}

/// What a run as nobody must show: it completed, said what it could not see, and did not
/// call the site healthy from a view that is not nginx's.
fn assert_unprivileged_says_what_it_missed(code: i32, report: &Value) {
    let notes = report["notes"].to_string();
    assert!(notes.contains("run as root"), "{notes}");
    assert!((0..=3).contains(&code), "exit {code}: {report:#}");
}

fn wait_for(path: &Path, needle: &str) {
    let deadline = Instant::now() + lab::WAIT;
    while !std::fs::read_to_string(path)
        .unwrap_or_default()
        .contains(needle)
    {
        assert!(
            Instant::now() < deadline,
            "{} never said {needle:?}",
            path.display()
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// The app in a namespace of its own, reached from a host nginx over a veth address:
/// healthy → nothing found, the address is attributed to the app's namespace; app killed →
/// upstream-down.
#[test]
fn app_in_its_own_netns_over_a_veth() {
    let mut net = NetLab::new();
    let app_ns = net.netns("app");
    net.veth(None, 1, &app_ns, 2);
    let back = free_port();
    let target = format!("{}:{back}", net.addr(2));
    let app = net.app_in(&app_ns, &target);

    let lab = Lab::new("ns-veth");
    let front = free_port();
    let site = format!("shop-{front}.ns.test");
    let nginx = lab.nginx(&lab::proxy_server(
        front,
        &site,
        &format!("http://{target}"),
        "",
    ));
    assert_eq!(
        lab.get(front, &site, "/"),
        (200, "ok from shop".to_string())
    );

    let (code, report) = diagnose(&site, front, &nginx.conf_path);
    assert_eq!(findings(&report), Vec::<String>::new(), "{report:#}");
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["view"]["net"], "host", "{report:#}");
    let peers = report["view"]["peers"].to_string();
    assert!(
        peers.contains(&net.addr(2)) && peers.contains(&app.to_string()),
        "the app's namespace is found through its process: {peers}"
    );
    let state = report["upstream_states"][0]["listener"].to_string();
    assert!(state.contains("another network namespace"), "{state}");
    let (code, report) = diagnose_as_nobody(&net, &site, front, &nginx.conf_path);
    assert_unprivileged_says_what_it_missed(code, &report);
    assert!(
        !findings(&report).contains(&"upstream-down".to_string()),
        "{report:#}"
    );

    // No process is left in the app's namespace: only /run/netns/NAME holds it, and that
    // is where badgw finds the address and reads that nothing listens there.
    net.kill(app);
    assert_eq!(lab.get(front, &site, "/").0, 502);
    nginx.wait_log("connect() failed (111: Connection refused)");
    let (code, report) = diagnose(&site, front, &nginx.conf_path);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(findings(&report)[0], "upstream-down", "{report:#}");
    let f = &report["findings"][0];
    let title = f["title"].as_str().unwrap();
    assert!(
        title.contains(&format!("named network namespace {app_ns}")),
        "{title}"
    );
    assert!(
        f["evidence"]
            .to_string()
            .contains(&format!("/run/netns/{app_ns}")),
        "{f:#}"
    );
    assert!(
        f["fixes"]
            .to_string()
            .contains(&format!("ip netns exec {app_ns} ss -ltnp")),
        "{f:#}"
    );
}

/// nginx and the app share one network namespace that is not the host's: the listeners are
/// read there and the probe runs there (the host has nothing at the app's port).
#[test]
fn nginx_and_app_share_a_netns() {
    let mut net = NetLab::new();
    let ns = net.netns("pod");
    let (front, back) = (free_port(), free_port());
    let site = format!("shop-{front}.pod.test");
    let app = net.app_in(&ns, &format!("127.0.0.1:{back}"));
    let (master, conf, err) = net.nginx_in(
        &ns,
        &lab::proxy_server(front, &site, &format!("http://127.0.0.1:{back}"), ""),
    );
    assert_eq!(
        net.get_in(&ns, front, &site),
        (200, "ok from shop".to_string())
    );
    // The host's loopback has nothing on the app's port: a host view would say "down".
    assert!(std::net::TcpStream::connect(("127.0.0.1", back)).is_err());

    let (code, report) = diagnose(&site, front, &conf);
    assert_eq!(findings(&report), Vec::<String>::new(), "{report:#}");
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["view"]["net"]["pid"], master, "{report:#}");
    assert_eq!(report["view"]["probes_in_nginx_netns"], true, "{report:#}");
    assert_eq!(check(&report, "port-bound")["status"], "pass", "{report:#}");
    // As nobody the host's view is all there is: it has nothing on the app's port, yet
    // "nothing listens" would be a claim about the wrong namespace.
    let (code, report) = diagnose_as_nobody(&net, &site, front, &conf);
    assert_unprivileged_says_what_it_missed(code, &report);
    assert!(
        !findings(&report).contains(&"upstream-down".to_string()),
        "{report:#}"
    );
    assert_ne!(
        code, 0,
        "a view that is not nginx's is never all-clear: {report:#}"
    );

    net.kill(app);
    assert_eq!(net.get_in(&ns, front, &site).0, 502);
    wait_for(&err, "connect() failed (111: Connection refused)");
    let (code, report) = diagnose(&site, front, &conf);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(findings(&report)[0], "upstream-down", "{report:#}");
    let evidence = report["findings"][0]["evidence"].to_string();
    assert!(
        evidence.contains(&format!("/proc/{master}/net/tcp")),
        "port-bound read nginx's namespace's table: {evidence}"
    );
}

/// nginx in one namespace, the app in another, joined by a veth: the app's address is not
/// local to nginx, it answers, and nothing claims it is down — as root, and as nobody (who
/// can neither enter nor compare the namespaces, and says so).
#[test]
fn a_remote_address_that_answers_is_not_down() {
    let mut net = NetLab::new();
    let front_ns = net.netns("front");
    let app_ns = net.netns("app");
    net.veth(Some(&front_ns), 1, &app_ns, 2);
    let (front, back) = (free_port(), free_port());
    let site = format!("shop-{front}.remote.test");
    let target = format!("{}:{back}", net.addr(2));
    net.app_in(&app_ns, &target);
    let (_master, conf, _err) = net.nginx_in(
        &front_ns,
        &lab::proxy_server(front, &site, &format!("http://{target}"), ""),
    );
    assert_eq!(
        net.get_in(&front_ns, front, &site),
        (200, "ok from shop".to_string())
    );

    let (code, report) = diagnose(&site, front, &conf);
    assert_eq!(findings(&report), Vec::<String>::new(), "{report:#}");
    assert_eq!(code, 0, "{report:#}");

    // As nobody: no namespace can be entered, the probe runs from the host (where the
    // subnet is unreachable); still no "nothing listens", and the notes say why.
    let (_, report) = diagnose_as_nobody(&net, &site, front, &conf);
    assert!(
        !findings(&report).contains(&"upstream-down".to_string()),
        "{report:#}"
    );
    let notes = report["notes"].to_string();
    assert!(notes.contains("run as root"), "{notes}");
    assert_eq!(report["view"]["probes_in_nginx_netns"], false, "{report:#}");
}

/// nginx in a namespace with its own /etc/hosts (`ip netns exec` bind-mounts
/// /etc/netns/NS/hosts in a private mount namespace) resolves `app.stale.test` at start; the
/// app then moves to a new address and the hosts file follows, but nginx keeps connecting to
/// the old one (113: No route to host) → stale-resolution, found through nginx's own
/// /etc/hosts (badgw's resolver does not know the name at all).
#[test]
fn a_name_whose_target_moved_is_stale_resolution() {
    let mut net = NetLab::new();
    let front_ns = net.netns("front");
    let app_ns = net.netns("app");
    net.veth(Some(&front_ns), 1, &app_ns, 2);
    let name = format!("app-{}.stale.test", net.tag);
    let hosts = net.hosts_file(
        &front_ns,
        &format!("127.0.0.1 localhost\n{} {name}\n", net.addr(2)),
    );
    let (front, back) = (free_port(), free_port());
    let site = format!("shop-{front}.stale.test");
    let app = net.app_in(&app_ns, &format!("{}:{back}", net.addr(2)));
    let (master, conf, err) = net.nginx_in(
        &front_ns,
        &lab::proxy_server(
            front,
            &site,
            &format!("http://{name}:{back}"),
            "proxy_connect_timeout 10s;",
        ),
    );
    assert_eq!(
        net.get_in(&front_ns, front, &site),
        (200, "ok from shop".to_string())
    );
    let (code, report) = diagnose(&site, front, &conf);
    assert_eq!(findings(&report), Vec::<String>::new(), "{report:#}");
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["view"]["mnt"]["pid"], master, "{report:#}");

    // The app moves: its old address is gone, the hosts file names the new one.
    net.move_app(app, &app_ns, &front_ns, back);
    // In place (same inode): the bind mount in nginx's mount namespace sees it.
    std::fs::write(
        &hosts,
        format!("127.0.0.1 localhost\n{} {name}\n", net.addr(3)),
    )
    .unwrap();
    assert_eq!(net.get_in(&front_ns, front, &site).0, 502);
    wait_for(
        &err,
        &format!("upstream: \"http://{}:{back}/\"", net.addr(2)),
    );

    let (code, report) = diagnose(&site, front, &conf);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(findings(&report)[0], "stale-resolution", "{report:#}");
    let f = &report["findings"][0];
    let title = f["title"].as_str().unwrap();
    assert!(
        title.contains(&format!("{}:{back}", net.addr(2))),
        "{title}"
    );
    assert!(
        title.contains(&format!("{}:{back}", net.addr(3))),
        "{title}"
    );
    let evidence = f["evidence"].to_string();
    assert!(
        evidence.contains(&format!("/proc/{master}/root/etc/hosts")),
        "{evidence}"
    );
    assert!(
        evidence.contains("last loaded its configuration"),
        "{evidence}"
    );
    assert!(
        f["fixes"]
            .to_string()
            .contains(&format!("kill -HUP {master}")),
        "{f:#}"
    );
    // As nobody, nginx's /etc/hosts (behind /proc/PID/root) and its error log may be out of
    // reach: the run completes, names what it could not see, and never says healthy.
    let (code, report) = diagnose_as_nobody(&net, &site, front, &conf);
    assert_unprivileged_says_what_it_missed(code, &report);
    assert_ne!(code, 0, "{report:#}");
}

/// A DNS server for one name, on 127.0.0.1:53 inside a namespace the lab created (never
/// reachable from the host): A → the current address, AAAA → no data, any other name →
/// NXDOMAIN. Stopped and joined on Drop.
struct DnsResponder {
    answer: std::sync::Arc<std::sync::Mutex<std::net::Ipv4Addr>>,
    questions: std::sync::Arc<AtomicU32>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl DnsResponder {
    fn start(ns: &str, name: &str, answer: &str) -> DnsResponder {
        use std::sync::atomic::AtomicBool;
        use std::sync::{Arc, Mutex};
        let answer = Arc::new(Mutex::new(answer.parse::<std::net::Ipv4Addr>().unwrap()));
        let questions = Arc::new(AtomicU32::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let ns_path = PathBuf::from("/run/netns").join(ns);
        let (a, q, st) = (answer.clone(), questions.clone(), stop.clone());
        let wanted = name.to_ascii_lowercase();
        let (ready_tx, ready_rx) = mpsc::channel();
        let thread = thread::spawn(move || {
            let f = std::fs::File::open(&ns_path).expect("open netns");
            // SAFETY: a valid namespace fd; only this dedicated thread changes namespace.
            let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            let sock = std::net::UdpSocket::bind("127.0.0.1:53").expect("bind :53 in the lab ns");
            sock.set_read_timeout(Some(Duration::from_millis(100)))
                .unwrap();
            ready_tx.send(()).unwrap();
            let mut buf = [0u8; 512];
            while !st.load(Ordering::SeqCst) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                if n < 17 {
                    continue;
                }
                q.fetch_add(1, Ordering::SeqCst);
                // The question's name, label by label.
                let (mut pos, mut labels) = (12usize, Vec::new());
                while pos < n && buf[pos] != 0 {
                    let l = buf[pos] as usize;
                    labels.push(
                        String::from_utf8_lossy(&buf[pos + 1..(pos + 1 + l).min(n)])
                            .to_ascii_lowercase(),
                    );
                    pos += 1 + l;
                }
                let end = pos + 5;
                if end > n {
                    continue;
                }
                let qtype = u16::from_be_bytes([buf[pos + 1], buf[pos + 2]]);
                let mut r = buf[..end].to_vec();
                r[2] = 0x81 | (buf[2] & 0x01);
                r[3] = 0x80;
                r[6..12].fill(0);
                if labels.join(".") != wanted {
                    r[3] |= 3; // NXDOMAIN
                } else if qtype == 1 {
                    r[7] = 1;
                    r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4]);
                    r.extend_from_slice(&a.lock().unwrap().octets());
                }
                let _ = sock.send_to(&r, from);
            }
        });
        ready_rx
            .recv_timeout(lab::WAIT)
            .expect("the lab's DNS responder did not start");
        DnsResponder {
            answer,
            questions,
            stop,
            thread: Some(thread),
        }
    }

    fn set(&self, address: &str) {
        *self.answer.lock().unwrap() = address.parse().unwrap();
    }

    fn questions(&self) -> u32 {
        self.questions.load(Ordering::SeqCst)
    }
}

impl Drop for DnsResponder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// nginx resolves `app-N.dns.test` through DNS (not /etc/hosts) at start: its own
/// resolv.conf (a private mount namespace) names a DNS server inside its own network
/// namespace. badgw asks that server from there — healthy while the answer matches; once
/// the app moved and the answer changed, nginx still connects to the old address →
/// stale-resolution, with the DNS server as the source of "what it resolves to now".
#[test]
fn a_name_from_nginx_dns_whose_answer_changed_is_stale_resolution() {
    let mut net = NetLab::new();
    let front_ns = net.netns("front");
    let app_ns = net.netns("app");
    net.veth(Some(&front_ns), 1, &app_ns, 2);
    let name = format!("app-{}.dns.test", net.tag);
    net.etc_file(&front_ns, "resolv.conf", "nameserver 127.0.0.1\n");
    let dns = DnsResponder::start(&front_ns, &name, &net.addr(2));
    let (front, back) = (free_port(), free_port());
    let site = format!("shop-{front}.dns.test");
    let app = net.app_in(&app_ns, &format!("{}:{back}", net.addr(2)));
    let (_master, conf, err) = net.nginx_in(
        &front_ns,
        &lab::proxy_server(
            front,
            &site,
            &format!("http://{name}:{back}"),
            "proxy_connect_timeout 10s;",
        ),
    );
    assert!(dns.questions() > 0, "nginx resolved {name} through DNS");
    assert_eq!(
        net.get_in(&front_ns, front, &site),
        (200, "ok from shop".to_string())
    );
    let asked = dns.questions();
    let (code, report) = diagnose(&site, front, &conf);
    assert_eq!(findings(&report), Vec::<String>::new(), "{report:#}");
    assert_eq!(code, 0, "{report:#}");
    assert!(dns.questions() > asked, "badgw asked nginx's DNS server");
    let names = report["view"]["names"].to_string();
    assert!(
        names.contains("nginx's DNS server 127.0.0.1") && names.contains(&net.addr(2)),
        "{names}"
    );

    net.move_app(app, &app_ns, &front_ns, back);
    dns.set(&net.addr(3));
    assert_eq!(net.get_in(&front_ns, front, &site).0, 502);
    wait_for(
        &err,
        &format!("upstream: \"http://{}:{back}/\"", net.addr(2)),
    );
    let (code, report) = diagnose(&site, front, &conf);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(findings(&report)[0], "stale-resolution", "{report:#}");
    let f = &report["findings"][0];
    let title = f["title"].as_str().unwrap();
    assert!(
        title.contains(&format!("{}:{back}", net.addr(2)))
            && title.contains(&format!("{}:{back}", net.addr(3))),
        "{title}"
    );
    assert!(
        f["evidence"]
            .to_string()
            .contains("nginx's DNS server 127.0.0.1"),
        "{f:#}"
    );
}

/// An nginx started in a private mount namespace (`unshare -m`) over a tmpfs: killed with
/// its process group on Drop, which takes the namespace and the tmpfs with it.
struct PrivateNginx {
    child: Child,
    pid: u32,
}

impl Drop for PrivateNginx {
    fn drop(&mut self) {
        // SAFETY: kill on the process group this test created.
        unsafe {
            libc::kill(-(self.child.id() as i32), libc::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// nginx in a mount namespace of its own whose prefix is a tmpfs mounted only there: its
/// configuration (with an include), error log and access log exist nowhere in badgw's
/// file system. With no flag but --site and --port, badgw finds the master, reads the
/// configuration and the logs through /proc/MASTER/root: healthy → nothing found; app
/// killed → upstream-down, with the include's file:line and the error log's line.
#[test]
fn config_and_logs_only_inside_nginx_mount_namespace() {
    need_root_and_ip();
    let lab = Lab::new("mntns");
    let (front, back) = (free_port(), free_port());
    let site = format!("shop-{front}.mnt.test");
    let app = lab.app("shop", &[&format!("127.0.0.1:{back}")], "ok");
    let prefix = tempfile::Builder::new()
        .prefix("badgw-mnt-")
        .tempdir()
        .unwrap();
    let stage = tempfile::Builder::new()
        .prefix("badgw-mnt-stage-")
        .tempdir()
        .unwrap();
    let p = prefix.path();
    for d in ["conf", "logs", "tmp"] {
        std::fs::create_dir_all(stage.path().join(d)).unwrap();
    }
    let site_conf = p.join("conf/site.conf");
    std::fs::write(
        stage.path().join("conf/nginx.conf"),
        lab::nginx_conf(p, &format!("include {};", site_conf.display())),
    )
    .unwrap();
    std::fs::write(
        stage.path().join("conf/site.conf"),
        lab::proxy_server(front, &site, &format!("http://127.0.0.1:{back}"), ""),
    )
    .unwrap();
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "--propagation", "private", "--", "sh", "-c"])
        .arg(
            "mount -t tmpfs badgw-lab \"$1\" && cp -a \"$2\"/. \"$1\"/ && \
             exec \"$3\" -p \"$1\" -c \"$1/conf/nginx.conf\" -e \"$1/logs/error.log\" -g 'daemon off;'",
        )
        .args(["sh"])
        .arg(p)
        .arg(stage.path())
        .arg(lab::nginx_binary())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    lab::die_with_parent(&mut cmd);
    let child = cmd.spawn().expect("spawn unshare");
    let pid = child.id();
    let nginx = PrivateNginx { child, pid };
    // Its error log, as only nginx's mount namespace has it.
    let err = PathBuf::from(format!("/proc/{}/root", nginx.pid))
        .join(p.strip_prefix("/").unwrap())
        .join("logs/error.log");
    wait_for(&err, "start worker process ");
    drop(stage);
    assert!(
        !p.join("conf/nginx.conf").exists(),
        "the configuration must exist only inside nginx's mount namespace"
    );
    assert_eq!(
        lab.get(front, &site, "/"),
        (200, "ok from shop".to_string())
    );

    let args = ["--site", site.as_str(), "--port", &front.to_string()].map(String::from);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, report) = lab::diagnose_json(&args);
    assert_eq!(findings(&report), Vec::<String>::new(), "{report:#}");
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["view"]["mnt"]["pid"], nginx.pid, "{report:#}");

    app.kill();
    assert_eq!(lab.get(front, &site, "/").0, 502);
    wait_for(&err, "connect() failed (111: Connection refused)");
    let (code, report) = lab::diagnose_json(&args);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(findings(&report)[0], "upstream-down", "{report:#}");
    let evidence = report["findings"][0]["evidence"].to_string();
    assert!(
        evidence.contains(&format!("{}:", site_conf.display())),
        "the include, read through nginx's root, is named by nginx's path: {evidence}"
    );
    assert!(
        evidence.contains(&format!("/proc/{}/root", nginx.pid)) && evidence.contains("error.log"),
        "the error log is read through nginx's root: {evidence}"
    );
}

/// The app moved and nginx's request to the old address hangs in SYN-SENT (a neighbour
/// entry that no interface answers drops the SYNs inside the lab's veth): the error log
/// says nothing yet, but the worker's SYN-SENT socket (sock_diag in nginx's namespace) is
/// the address nginx uses → stale-resolution, before the 502 is even logged.
#[test]
fn a_syn_sent_to_the_old_address_is_stale_resolution_before_the_log() {
    let mut net = NetLab::new();
    let front_ns = net.netns("front");
    let app_ns = net.netns("app");
    net.veth(Some(&front_ns), 1, &app_ns, 2);
    let name = format!("app-{}.syn.test", net.tag);
    let hosts = net.hosts_file(
        &front_ns,
        &format!("127.0.0.1 localhost\n{} {name}\n", net.addr(2)),
    );
    let (front, back) = (free_port(), free_port());
    let site = format!("shop-{front}.syn.test");
    let app = net.app_in(&app_ns, &format!("{}:{back}", net.addr(2)));
    let (_master, conf, err) = net.nginx_in(
        &front_ns,
        &lab::proxy_server(
            front,
            &site,
            &format!("http://{name}:{back}"),
            "proxy_connect_timeout 20s;",
        ),
    );
    assert_eq!(
        net.get_in(&front_ns, front, &site),
        (200, "ok from shop".to_string())
    );
    net.move_app(app, &app_ns, &front_ns, back);
    std::fs::write(
        &hosts,
        format!("127.0.0.1 localhost\n{} {name}\n", net.addr(3)),
    )
    .unwrap();
    // SYNs to the old address go to a MAC no interface has: dropped on the lab's veth.
    ip(&[
        "-n",
        &front_ns,
        "neigh",
        "replace",
        &net.addr(2),
        "lladdr",
        "02:00:00:00:b6:99",
        "nud",
        "permanent",
        "dev",
        &format!("bgw{}0a", net.tag),
    ]);
    let ns_path = PathBuf::from("/run/netns").join(&front_ns);
    let host = site.clone();
    let pending = thread::spawn(move || {
        let f = std::fs::File::open(&ns_path).expect("open netns");
        // SAFETY: a valid namespace fd; only this dedicated thread changes namespace.
        let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0);
        let mut s = std::net::TcpStream::connect(("127.0.0.1", front)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        write!(s, "GET / HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
        let mut buf = String::new();
        let _ = s.read_to_string(&mut buf);
    });
    thread::sleep(Duration::from_millis(500));
    let log = std::fs::read_to_string(&err).unwrap_or_default();
    assert!(
        !log.contains(&format!("upstream: \"http://{}", net.addr(2))),
        "the error log must not name the old address yet:\n{log}"
    );
    let (code, report) = diagnose(&site, front, &conf);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(findings(&report)[0], "stale-resolution", "{report:#}");
    let f = &report["findings"][0];
    assert!(
        f["title"]
            .as_str()
            .unwrap()
            .contains(&format!("{}:{back}", net.addr(2))),
        "{f:#}"
    );
    assert!(f["evidence"].to_string().contains("SYN-SENT"), "{f:#}");
    assert_eq!(
        report["view"]["upstream_connections"][0]["remote"],
        format!("{}:{back}", net.addr(2)),
        "{report:#}"
    );
    drop(pending);
}

/// nginx in a namespace of its own proxies to a TLS upstream on that namespace's loopback
/// (the host's loopback has nothing there): the upstream's certificate is read from inside
/// nginx's namespace, with the SNI nginx sends, and named in the diagnosis.
#[test]
fn an_upstream_certificate_is_read_inside_nginx_netns() {
    let mut net = NetLab::new();
    let ns = net.netns("tls");
    let dir = net.dir.path().to_path_buf();
    lab::tls::self_signed(&dir, "pod", "/CN=pod.internal", Some("DNS:pod.internal"));
    let (front, tls) = (free_port(), free_port());
    let site = format!("shop-{front}.tls.test");
    let d = dir.display();
    let body = format!(
        "    server {{\n\
         \x20       listen 127.0.0.1:{tls} ssl;\n\
         \x20       ssl_certificate {d}/pod.pem;\n\
         \x20       ssl_certificate_key {d}/pod.key;\n\
         \x20       return 200 \"pod ok\\n\";\n\
         \x20   }}\n{}",
        lab::proxy_server(
            front,
            &site,
            &format!("https://127.0.0.1:{tls}"),
            &format!(
                "proxy_ssl_verify on; proxy_ssl_trusted_certificate {d}/pod.pem; proxy_ssl_name other.internal; proxy_ssl_server_name on;"
            ),
        )
    );
    let (_master, conf, err) = net.nginx_in(&ns, &body);
    assert_eq!(net.get_in(&ns, front, &site).0, 502);
    wait_for(
        &err,
        "upstream SSL certificate does not match \"other.internal\"",
    );
    // The host's loopback has nothing on the upstream's port.
    assert!(std::net::TcpStream::connect(("127.0.0.1", tls)).is_err());

    let (code, report) = diagnose(&site, front, &conf);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(findings(&report)[0], "upstream-tls-verify", "{report:#}");
    let ev = report["findings"][0]["evidence"].to_string();
    assert!(
        ev.contains(&format!(
            "TLS 127.0.0.1:{tls} (SNI other.internal): names pod.internal, nginx verifies other.internal"
        )),
        "{ev}"
    );
    // The command to look at the certificate runs where nginx connects from.
    let fixes = report["findings"][0]["fixes"].to_string();
    assert!(
        fixes.contains("nsenter -t ")
            && fixes.contains(&format!("s_client -connect 127.0.0.1:{tls}")),
        "{fixes}"
    );
}
