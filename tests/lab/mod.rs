//! The real-nginx test lab: start a real nginx master and real upstream processes on loopback,
//! make them fail on purpose, then run `badgw` against them and assert its JSON.
//!
//! Use it from an integration test file with `mod lab;`. Every [`Lab`] has its own temporary
//! prefix and its own ports, so labs run in parallel — across test threads and across test
//! binaries — with nothing global but the process-wide set of handed-out ports.
//!
//! ```no_run
//! mod lab;
//! use lab::{free_port, Lab};
//!
//! #[test]
//! fn app_down_gives_502() {
//!     let lab = Lab::new("app-down");
//!     let (front, back) = (free_port(), free_port());
//!     let app = lab.app("shop", &[&format!("127.0.0.1:{back}")], "ok");
//!     let nginx = lab.nginx(&format!(
//!         "server {{ listen 127.0.0.1:{front}; server_name shop.test;
//!                    location / {{ proxy_pass http://127.0.0.1:{back}; }} }}"
//!     ));
//!     assert_eq!(lab.get(front, "shop.test", "/"), (200, "ok from shop".to_string()));
//!     app.kill();
//!     assert_eq!(lab.get(front, "shop.test", "/").0, 502);
//!     nginx.wait_log("connect() failed (111: Connection refused)");
//!     let (code, report) = lab::diagnose_json(&[
//!         "--site", "shop.test", "--port", &front.to_string(),
//!         "--nginx-conf", nginx.conf_path.to_str().unwrap(),
//!     ]);
//!     assert_eq!(code, 1);
//!     assert_eq!(report["findings"][0]["cause"], "upstream-down");
//! }
//! ```
//!
//! What it provides:
//! - [`nginx_binary`]: the nginx to run; panics with an install hint when there is none, so a
//!   test that needs nginx never passes silently. [`has_ipv6_loopback`] for IPv6 cases.
//! - [`free_port`]: a loopback port no other lab in this process was given.
//! - [`Lab::app`] / [`Lab::app_args`]: spawn `examples/labapp` (see its doc for the modes:
//!   `ok`, `slow=MS`, `close`, `reset`, `status=CODE`, `big-header=BYTES`, `idle-close=MS`,
//!   `blackhole`, `tls-garbage`) and wait for its `READY`. [`App::kill`] is SIGKILL + reap.
//!   [`Lab::sock`] gives a `unix:` address inside the lab.
//! - [`Lab::nginx`]: writes `<prefix>/conf/nginx.conf` (see [`nginx_conf`]) around your
//!   `http { }` body and starts `nginx -p <prefix> -c <conf> -e <error.log> -g 'daemon off;'` as
//!   a child, like a real host's master (the `-c`/`-p` show in its cmdline). Returns once the
//!   master bound its listeners and started its worker; panics with nginx's own words when it
//!   fails. [`proxy_server`] writes the usual one-location proxy `server { }` for you.
//! - [`Nginx`]: `pid`, `prefix`, `conf_path`, `error_log`, `access_log`, `ports`;
//!   [`Nginx::wait_log`] / [`Nginx::wait_access_log`] (wait for a line, ≤ 5 s),
//!   [`Nginx::error_lines`], [`Nginx::reload`] (new body + SIGHUP), [`Nginx::worker_pids`],
//!   [`Nginx::stop`], [`Nginx::record_fixture`].
//! - [`Lab::get`] / [`Lab::get_raw`]: one raw HTTP/1.0 request to `127.0.0.1:port`.
//! - [`badgw`], [`badgw_json`], [`diagnose_json`], [`run_with_timeout`]: run the built `badgw`.
//!
//! Several labs' nginx masters run at once when tests run in parallel, so a scenario that
//! relies on badgw discovering "the" running master must expect the others too; pass
//! `--nginx-conf` (and `--port`) to point badgw at this lab's nginx.
//!
//! nginx's exact words for each labapp mode (nginx 1.22, recorded by `tests/lab_smoke.rs` into
//! `fixtures/logs/lab/`): refused → `connect() failed (111: Connection refused) while
//! connecting to upstream`; `close` → `upstream prematurely closed connection while reading
//! response header from upstream`; `reset` → `recv() failed (104: Connection reset by peer)`;
//! `slow`/`blackhole` past `proxy_read_timeout` → 504 and `upstream timed out (110: Connection
//! timed out)`; `big-header` past the proxy buffer → `upstream sent too big header`;
//! missing unix socket → `[crit] connect() to unix:… failed (2: No such file or directory)`;
//! `tls-garbage` → `upstream sent no valid HTTP/1.0 header`, and the client gets the raw bytes
//! (HTTP/0.9), not a 502; `status=502` → 502 with an error log that says nothing.
//!
//! Cleanup: dropping an [`Nginx`] stops it (SIGQUIT, then SIGKILL to its whole process group
//! after 2 s); dropping the [`Lab`] kills every app it started and removes the prefix. Children
//! also get SIGKILL if the test thread that spawned them dies (PR_SET_PDEATHSIG), so a crashed
//! test leaves nothing listening. Set `LAB_KEEP=1` to keep the prefix for a look afterwards.
//!
//! Running as root: nginx's workers switch to its default user (`nobody`), as on a real host.
//! The prefix is made world-readable (0755) so they can reach it; logs are opened by the root
//! master, so they are writable anyway; labapp chmods its unix sockets to 0666 (like PHP-FPM's
//! `listen.mode`) unless a test asks otherwise via [`Lab::app_args`] and `--socket-mode`.
//!
//! Set `LAB_RECORD=1` to make [`Nginx::record_fixture`] copy the error log, exactly as nginx
//! wrote it, to `fixtures/logs/lab/<case>.log`.
//!
//! This module must not touch anything outside its temporary prefixes, nor talk to anything but
//! 127.0.0.0/8 and ::1, nor start the system nginx configuration.

#![allow(dead_code)] // each test binary uses a different part of the lab

pub mod fpm;
pub mod supervisor;
pub mod tls;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// Longest the lab waits for any one thing (a child to be ready, a response, a log line).
pub const WAIT: Duration = Duration::from_secs(5);

/// The nginx binary: `nginx` on PATH, else /usr/sbin/nginx. Panics when there is none.
pub fn nginx_binary() -> PathBuf {
    if let Ok(p) = which::which("nginx") {
        return p;
    }
    let sbin = PathBuf::from("/usr/sbin/nginx");
    if sbin.is_file() {
        return sbin;
    }
    panic!(
        "nginx not found: install it with `sudo apt-get install nginx` (the real-nginx lab tests need it)"
    );
}

/// True when `nginx -v` says 1.19.5 or later (which has the `-e` startup-log option).
fn nginx_supports_e(bin: &Path) -> bool {
    static CACHE: OnceLock<bool> = OnceLock::new();
    *CACHE.get_or_init(|| {
        let out = match Command::new(bin).arg("-v").output() {
            Ok(o) => o,
            Err(_) => return false,
        };
        // "nginx version: nginx/1.22.1" (on stderr)
        let text = String::from_utf8_lossy(&out.stderr).into_owned();
        let version: Vec<u32> = text
            .split("nginx/")
            .nth(1)
            .unwrap_or("")
            .split(|c: char| !c.is_ascii_digit() && c != '.')
            .next()
            .unwrap_or("")
            .split('.')
            .filter_map(|n| n.parse().ok())
            .collect();
        version >= vec![1, 19, 5]
    })
}

/// True when this host can bind the IPv6 loopback ([::1]).
pub fn has_ipv6_loopback() -> bool {
    TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).is_ok()
}

fn handed_out() -> &'static Mutex<HashSet<u16>> {
    static PORTS: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    PORTS.get_or_init(|| Mutex::new(HashSet::new()))
}

/// A loopback TCP port that is free now (on 127.0.0.1, and on [::1] when the host has it) and
/// was never handed out before in this process.
///
/// Ports are drawn at random below the kernel's ephemeral range, so they do not collide with the
/// source ports of nginx's own upstream connections, and two test binaries rarely pick the same
/// one; [`Lab::nginx`] and [`Lab::app`] retry a start that hit "Address already in use".
pub fn free_port() -> u16 {
    let (lo, hi) = port_range();
    let mut set = handed_out().lock().unwrap_or_else(|e| e.into_inner());
    for _ in 0..1000 {
        let port = if lo < hi {
            lo + (random_u64() % u64::from(hi - lo)) as u16
        } else {
            match TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).and_then(|l| l.local_addr()) {
                Ok(a) => a.port(),
                Err(_) => continue,
            }
        };
        if set.contains(&port) || !port_is_free(port) {
            continue;
        }
        set.insert(port);
        return port;
    }
    panic!("free_port: no free loopback port found after 1000 tries");
}

/// The range to draw ports from: [10000, start of the ephemeral range), or empty when the
/// ephemeral range starts too low to leave room (then the kernel picks).
fn port_range() -> (u16, u16) {
    let ephemeral_lo = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .next()
                .and_then(|v| v.parse::<u16>().ok())
        })
        .unwrap_or(32768);
    if ephemeral_lo > 11000 {
        (10000, ephemeral_lo)
    } else {
        (0, 0)
    }
}

fn port_is_free(port: u16) -> bool {
    if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_err() {
        return false;
    }
    match TcpListener::bind((Ipv6Addr::LOCALHOST, port)) {
        Ok(_) => true,
        // No IPv6 loopback on this host: only 127.0.0.1 matters.
        Err(e) => e.kind() == std::io::ErrorKind::AddrNotAvailable,
    }
}

/// Good-enough randomness without a dependency: std's randomly keyed SipHash over a counter.
fn random_u64() -> u64 {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(N.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    h.finish()
}

/// Path of the built `examples/labapp`, next to this test binary's `deps/` directory.
pub fn labapp_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // target/debug/deps/<test-bin> → target/debug/examples/labapp
    let path = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("examples").join("labapp"))
        .unwrap_or_else(|| PathBuf::from("labapp"));
    // `cargo test --test X` neither builds examples nor rebuilds a stale one: ask cargo
    // once per test process (a no-op when labapp is up to date).
    build_labapp();
    if !path.is_file() {
        panic!(
            "labapp not found at {}: run the lab tests with `cargo test` (it builds examples/labapp), \
             or build it with `cargo build --example labapp`",
            path.display()
        );
    }
    path
}

/// Builds labapp once per test process, with the cargo that runs the tests.
fn build_labapp() {
    static BUILD: std::sync::Once = std::sync::Once::new();
    BUILD.call_once(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let exe = std::env::current_exe().unwrap_or_default();
        let release = exe.components().any(|c| c.as_os_str() == "release");
        let mut args = vec!["build", "--example", "labapp"];
        if release {
            args.push("--release");
        }
        let _ = Command::new(cargo)
            .args(&args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status();
    });
}

/// Makes `cmd`'s child get SIGKILL when the spawning thread dies, so a crashed test leaves no
/// process behind (nginx workers of a killed master may linger until they notice nothing).
pub fn die_with_parent(cmd: &mut Command) {
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: prctl, getppid and _exit are async-signal-safe and touch no parent memory.
    unsafe {
        cmd.pre_exec(move || {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
            // The parent died before prctl took effect: nobody would ever stop us.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

type Children = Arc<Mutex<HashMap<u32, Child>>>;

/// The most common outage, the start of many scenarios: an app behind nginx answered 200,
/// then was killed, so nginx answers 502 and has logged the refused connect.
pub struct Outage {
    /// `shop-FRONT.DOMAIN`
    pub site: String,
    pub front: u16,
    pub back: u16,
    /// The killed app (its pid stays readable).
    pub app: App,
    pub nginx: Nginx,
    /// Just before the kill.
    pub killed_at: chrono::DateTime<chrono::Local>,
}

/// One test's world: a temporary prefix, the apps and nginx started in it.
pub struct Lab {
    /// The temporary directory everything of this lab lives in (mode 0755).
    pub dir: PathBuf,
    tmp: Option<tempfile::TempDir>,
    apps: Children,
    nginx_count: Mutex<u32>,
}

/// A running labapp. Owned by its [`Lab`], which kills it on drop.
pub struct App {
    pub pid: u32,
    pub name: String,
    /// The `--listen` addresses it was given.
    pub listens: Vec<String>,
    children: Children,
}

impl App {
    /// SIGKILL the app and reap it. Killing twice is harmless.
    pub fn kill(&self) {
        let child = self
            .children
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.pid);
        if let Some(mut c) = child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// True while the app has not been killed (and has not exited by itself).
    pub fn is_running(&self) -> bool {
        let mut map = self.children.lock().unwrap_or_else(|e| e.into_inner());
        match map.get_mut(&self.pid) {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }
}

impl Lab {
    /// A new lab with its own temporary prefix; `name` only helps recognise it in /tmp.
    pub fn new(name: &str) -> Lab {
        // Short, so unix socket paths in the lab stay far below sun_path's 108 bytes.
        let safe: String = name
            .chars()
            .take(24)
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let tmp = tempfile::Builder::new()
            .prefix(&format!("badgw-lab-{safe}-"))
            .tempdir()
            .expect("create lab temp dir");
        let dir = tmp.path().to_path_buf();
        // nginx workers run as `nobody` when the tests run as root: they must reach the prefix.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))
            .expect("chmod lab dir");
        let keep = std::env::var_os("LAB_KEEP").is_some_and(|v| !v.is_empty() && v != "0");
        let tmp = if keep {
            eprintln!("lab {name}: keeping {}", dir.display());
            let _ = tmp.keep();
            None
        } else {
            Some(tmp)
        };
        Lab {
            dir,
            tmp,
            apps: Arc::new(Mutex::new(HashMap::new())),
            nginx_count: Mutex::new(0),
        }
    }

    /// A path inside the lab's directory.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// A `unix:` listen address for labapp (and the same path for nginx's `proxy_pass
    /// http://unix:PATH:`), inside the lab's directory.
    pub fn sock(&self, name: &str) -> String {
        format!("unix:{}", self.dir.join(format!("{name}.sock")).display())
    }

    /// Starts `labapp --name NAME --listen L... --mode MODE` and waits until it is ready.
    /// `mode` is one of labapp's modes: `ok`, `slow=MS`, `close`, `reset`, `status=CODE`,
    /// `big-header=BYTES`, `idle-close=MS`, `blackhole`, `tls-garbage`.
    pub fn app(&self, name: &str, listens: &[&str], mode: &str) -> App {
        let mut args: Vec<String> = vec!["--mode".into(), mode.into()];
        for l in listens {
            args.push("--listen".into());
            args.push((*l).into());
        }
        self.app_args(name, &args.iter().map(String::as_str).collect::<Vec<_>>())
    }

    /// Starts labapp with `--name NAME` and raw `args` (e.g. to pass `--socket-mode 0600`).
    pub fn app_args(&self, name: &str, args: &[&str]) -> App {
        let listens: Vec<String> = args
            .windows(2)
            .filter(|w| w[0] == "--listen")
            .map(|w| w[1].to_string())
            .collect();
        let bin = labapp_binary();
        let logdir = self.dir.join("apps");
        std::fs::create_dir_all(&logdir).expect("create apps dir");
        let mut last_err = String::new();
        for attempt in 0..3 {
            if attempt > 0 {
                thread::sleep(Duration::from_millis(200));
            }
            let err_path = logdir.join(format!("{name}.{attempt}.stderr"));
            let err_file = std::fs::File::create(&err_path).expect("create app stderr file");
            let mut cmd = Command::new(&bin);
            cmd.arg("--name")
                .arg(name)
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(err_file);
            die_with_parent(&mut cmd);
            let mut child = cmd.spawn().expect("spawn labapp");
            let stdout = child.stdout.take().expect("labapp stdout");
            let (tx, rx) = mpsc::channel();
            thread::spawn(move || {
                let mut line = String::new();
                let _ = BufReader::new(stdout).read_line(&mut line);
                let _ = tx.send(line);
            });
            let ready = matches!(rx.recv_timeout(WAIT), Ok(l) if l.trim() == "READY");
            if ready {
                let pid = child.id();
                self.apps
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(pid, child);
                return App {
                    pid,
                    name: name.to_string(),
                    listens,
                    children: Arc::clone(&self.apps),
                };
            }
            let _ = child.kill();
            let _ = child.wait();
            last_err = std::fs::read_to_string(&err_path).unwrap_or_default();
            if !last_err.contains("Address already in use") {
                break;
            }
        }
        panic!("labapp {name} {args:?} did not get ready within {WAIT:?}: {last_err}");
    }

    /// Writes `<prefix>/conf/nginx.conf` with `http_body` inside `http { }` and starts nginx
    /// on it in the foreground. Returns once the master has bound its listeners and started its
    /// worker; panics with nginx's own words when it fails to start.
    pub fn nginx(&self, http_body: &str) -> Nginx {
        let n = {
            let mut c = self.nginx_count.lock().unwrap_or_else(|e| e.into_inner());
            *c += 1;
            *c
        };
        let prefix = if n == 1 {
            self.dir.join("nginx")
        } else {
            self.dir.join(format!("nginx{n}"))
        };
        Nginx::start(&prefix, http_body)
    }

    /// Starts an app and nginx proxying `shop-FRONT.DOMAIN` to it, checks it answers 200,
    /// kills the app and waits for nginx's 502 and its `(111: Connection refused)` line.
    pub fn killed_app(&self, domain: &str) -> Outage {
        let (front, back) = (free_port(), free_port());
        let site = format!("shop-{front}.{domain}");
        let app = self.app("shop", &[&format!("127.0.0.1:{back}")], "ok");
        let nginx = self.nginx(&proxy_server(
            front,
            &site,
            &format!("http://127.0.0.1:{back}"),
            "",
        ));
        assert_eq!(self.get(front, &site, "/").0, 200);
        let killed_at = chrono::Local::now();
        app.kill();
        assert_eq!(self.get(front, &site, "/").0, 502);
        nginx.wait_log("connect() failed (111: Connection refused)");
        Outage {
            site,
            front,
            back,
            app,
            nginx,
            killed_at,
        }
    }

    /// The raw answer bytes to one HTTP/1.0 GET (for answers that are not HTTP at all).
    pub fn get_raw(&self, port: u16, host: &str, path: &str) -> Vec<u8> {
        http_get_raw(port, host, path)
            .unwrap_or_else(|e| panic!("GET http://127.0.0.1:{port}{path} (Host: {host}): {e}"))
    }

    /// One HTTP/1.0 GET to 127.0.0.1:`port` with `Host: host`: (status, body). Panics when no
    /// HTTP response arrives within [`WAIT`].
    pub fn get(&self, port: u16, host: &str, path: &str) -> (u16, String) {
        http_get(port, host, path)
            .unwrap_or_else(|e| panic!("GET http://127.0.0.1:{port}{path} (Host: {host}): {e}"))
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let children: Vec<Child> = self
            .apps
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .map(|(_, c)| c)
            .collect();
        for mut c in children {
            let _ = c.kill();
            let _ = c.wait();
        }
        // TempDir removes the prefix when dropped after this.
        let _ = self.tmp.take();
    }
}

/// The raw bytes of the answer to one HTTP/1.0 GET to 127.0.0.1:`port` (read until the peer
/// closes, at most [`WAIT`]); Err when it cannot connect or the read fails.
pub fn http_get_raw(port: u16, host: &str, path: &str) -> Result<Vec<u8>, String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut s = TcpStream::connect_timeout(&addr, WAIT).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(WAIT)).map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(WAIT)).map_err(|e| e.to_string())?;
    let req = format!("GET {path} HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes())
        .map_err(|e| format!("send: {e}"))?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)
        .map_err(|e| format!("read (got {} bytes): {e}", buf.len()))?;
    Ok(buf)
}

/// Waits (up to [`WAIT`]) until the file at `path` has a line containing `needle`; returns
/// that line. Panics with the whole file otherwise.
pub fn wait_for_line(path: &Path, needle: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let text = std::fs::read(path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.contains(needle)) {
            return line.to_string();
        }
        if Instant::now() > deadline {
            panic!(
                "{} has no line containing {needle:?} after {WAIT:?}:\n{text}",
                path.display()
            );
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// One HTTP/1.0 GET to 127.0.0.1:`port`: (status, body); Err when it cannot connect or gets
/// no HTTP response.
pub fn http_get(port: u16, host: &str, path: &str) -> Result<(u16, String), String> {
    let buf = http_get_raw(port, host, path)?;
    let head_end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("no HTTP head in {:?}", String::from_utf8_lossy(&buf)))?;
    let head = String::from_utf8_lossy(&buf[..head_end]);
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| format!("bad status line in {head:?}"))?;
    let body = String::from_utf8_lossy(&buf[head_end + 4..]).into_owned();
    Ok((status, body))
}

/// A running nginx master started by [`Lab::nginx`]; dropping it stops nginx.
#[must_use = "dropping Nginx stops it"]
pub struct Nginx {
    pub pid: u32,
    /// The `-p` prefix (contains conf/, logs/, tmp/, nginx.pid).
    pub prefix: PathBuf,
    pub conf_path: PathBuf,
    pub error_log: PathBuf,
    pub access_log: PathBuf,
    /// Ports of the `listen` directives in the body, in order (unix listeners are skipped).
    pub ports: Vec<u16>,
    child: Option<Child>,
}

/// The ports named by `listen` directives: `listen 8080;`, `listen 127.0.0.1:8080 ...;`,
/// `listen [::1]:8080;`; a bare address listens on 80.
pub fn listen_ports(conf: &str) -> Vec<u16> {
    let re = regex::Regex::new(r"(?m)(?:^|[;{}])\s*listen\s+([^\s;]+)").expect("regex");
    let mut ports = Vec::new();
    for cap in re.captures_iter(conf) {
        let a = &cap[1];
        if a.starts_with("unix:") {
            continue;
        }
        let port_text = if let Some(i) = a.rfind("]:") {
            &a[i + 2..]
        } else if a.starts_with('[') {
            "80"
        } else if let Some((_, p)) = a.rsplit_once(':') {
            p
        } else if a.bytes().all(|b| b.is_ascii_digit()) {
            a
        } else {
            "80"
        };
        if let Ok(p) = port_text.parse::<u16>() {
            if !ports.contains(&p) {
                ports.push(p);
            }
        }
    }
    ports
}

/// The whole nginx.conf the lab writes around an `http { }` body: everything in the prefix.
pub fn nginx_conf(prefix: &Path, http_body: &str) -> String {
    let p = prefix.display();
    format!(
        "# written by badgw's test lab (tests/lab/mod.rs)\n\
             worker_processes 1;\n\
             error_log {p}/logs/error.log info;\n\
             pid {p}/nginx.pid;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n\
             \x20   access_log {p}/logs/access.log;\n\
             \x20   client_body_temp_path {p}/tmp/client_body;\n\
             \x20   proxy_temp_path {p}/tmp/proxy;\n\
             \x20   fastcgi_temp_path {p}/tmp/fastcgi;\n\
             \x20   uwsgi_temp_path {p}/tmp/uwsgi;\n\
             \x20   scgi_temp_path {p}/tmp/scgi;\n\
             {http_body}\n\
             }}\n"
    )
}

impl Nginx {
    fn start(prefix: &Path, http_body: &str) -> Nginx {
        let conf_dir = prefix.join("conf");
        let logs = prefix.join("logs");
        let tmp = prefix.join("tmp");
        for d in [&conf_dir, &logs, &tmp] {
            std::fs::create_dir_all(d).expect("create nginx prefix dirs");
        }
        for d in [prefix, &conf_dir, &logs, &tmp] {
            let _ = std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755));
        }
        let conf = nginx_conf(prefix, http_body);
        let conf_path = conf_dir.join("nginx.conf");
        std::fs::write(&conf_path, &conf).expect("write nginx.conf");
        let error_log = logs.join("error.log");
        let access_log = logs.join("access.log");
        let stderr_path = logs.join("stderr.log");
        let ports = listen_ports(http_body);
        let bin = nginx_binary();

        let mut last = String::new();
        for attempt in 0..3 {
            if attempt > 0 {
                thread::sleep(Duration::from_millis(300));
            }
            // Each attempt starts from empty logs so we only read this attempt's words.
            let _ = std::fs::remove_file(&error_log);
            let stderr_file = std::fs::File::create(&stderr_path).expect("create nginx stderr");
            let mut cmd = Command::new(&bin);
            cmd.arg("-p")
                .arg(prefix)
                .arg("-c")
                .arg(&conf_path)
                .arg("-g")
                .arg("daemon off;")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(stderr_file)
                // Its own process group, so stopping it also reaches the workers.
                .process_group(0);
            // The startup log, before the config is read: keep it out of /var/log/nginx.
            // `-e` exists since nginx 1.19.5; older ones use their compiled-in path.
            if nginx_supports_e(&bin) {
                cmd.arg("-e").arg(&error_log);
            }
            die_with_parent(&mut cmd);
            let child = cmd
                .spawn()
                .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
            let mut nginx = Nginx {
                pid: child.id(),
                prefix: prefix.to_path_buf(),
                conf_path: conf_path.clone(),
                error_log: error_log.clone(),
                access_log: access_log.clone(),
                ports: ports.clone(),
                child: Some(child),
            };
            let deadline = Instant::now() + WAIT;
            loop {
                let log = nginx.error_log_text();
                let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                let exited = nginx
                    .child
                    .as_mut()
                    .is_some_and(|c| !matches!(c.try_wait(), Ok(None)));
                let words = format!("{stderr}{log}");
                // Don't wait out nginx's own 5 × 500 ms bind retries: a port clash is final.
                if words.contains("Address already in use") {
                    last = words;
                    nginx.stop();
                    break;
                }
                if exited || words.contains("[emerg]") {
                    nginx.stop();
                    panic!(
                        "nginx failed to start with {}:\n{words}\n--- nginx.conf ---\n{conf}",
                        conf_path.display()
                    );
                }
                // The master logs this after binding every listener and forking the worker.
                if log.contains("start worker process ") {
                    return nginx;
                }
                if Instant::now() > deadline {
                    nginx.stop();
                    panic!("nginx did not start within {WAIT:?}:\n{words}");
                }
                thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("nginx could not bind its ports after 3 tries:\n{last}");
    }

    /// Replaces the `http { }` body and reloads nginx (SIGHUP), like `nginx -s reload`.
    /// Returns once the master started a worker on the new configuration; panics with nginx's
    /// words when it rejected it (nginx itself would keep running on the old one).
    pub fn reload(&mut self, http_body: &str) {
        let conf = nginx_conf(&self.prefix, http_body);
        self.reload_conf(&conf);
        self.ports = listen_ports(http_body);
    }

    /// Writes a whole nginx.conf (main context included) and reloads nginx with it.
    pub fn reload_conf(&mut self, conf: &str) {
        std::fs::write(&self.conf_path, conf).expect("write nginx.conf");
        let count = |log: &str, what: &str| log.matches(what).count();
        let before = self.error_log_text();
        let (workers, emergs) = (
            count(&before, "start worker process "),
            count(&before, "[emerg]"),
        );
        let pid = nix::unistd::Pid::from_raw(self.pid as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).expect("SIGHUP nginx");
        let deadline = Instant::now() + WAIT;
        loop {
            let log = self.error_log_text();
            if count(&log, "[emerg]") > emergs {
                panic!("nginx rejected the new configuration:\n{log}\n--- nginx.conf ---\n{conf}");
            }
            if count(&log, "start worker process ") > workers {
                return;
            }
            if Instant::now() > deadline {
                panic!("nginx did not reload within {WAIT:?}:\n{log}");
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// The first listen port (most labs have one).
    pub fn port(&self) -> u16 {
        *self
            .ports
            .first()
            .expect("nginx config has no TCP listen port")
    }

    /// The error log as text (invalid UTF-8 replaced); empty when it does not exist yet.
    pub fn error_log_text(&self) -> String {
        std::fs::read(&self.error_log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// The access log as text.
    pub fn access_log_text(&self) -> String {
        std::fs::read(&self.access_log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Waits (up to [`WAIT`]) until the error log contains `needle`; returns the first line
    /// containing it. Panics with the whole log otherwise.
    pub fn wait_log(&self, needle: &str) -> String {
        wait_for_line(&self.error_log, needle)
    }

    /// Like [`Nginx::wait_log`], for the access log (written after the response is sent).
    pub fn wait_access_log(&self, needle: &str) -> String {
        wait_for_line(&self.access_log, needle)
    }

    /// Pids of the master's children (its workers; during a reload, old and new ones).
    pub fn worker_pids(&self) -> Vec<u32> {
        let mut pids = Vec::new();
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return pids;
        };
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
            let ppid = stat
                .rfind(')')
                .and_then(|i| stat.get(i + 1..))
                .and_then(|rest| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if ppid == Some(self.pid) {
                pids.push(pid);
            }
        }
        pids.sort_unstable();
        pids
    }

    /// Error-log lines at level `[error]` or worse (what upstream failures log at), in order.
    pub fn error_lines(&self) -> Vec<String> {
        self.error_log_text()
            .lines()
            .filter(|l| {
                ["[error]", "[crit]", "[alert]", "[emerg]"]
                    .iter()
                    .any(|lvl| l.contains(lvl))
            })
            .map(str::to_string)
            .collect()
    }

    /// With `LAB_RECORD=1`, copies the error log as nginx wrote it to
    /// `fixtures/logs/lab/<case>.log` in the crate; otherwise does nothing.
    pub fn record_fixture(&self, case: &str) {
        if !std::env::var_os("LAB_RECORD").is_some_and(|v| !v.is_empty() && v != "0") {
            return;
        }
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/logs/lab");
        std::fs::create_dir_all(&dir).expect("create fixtures/logs/lab");
        let bytes = std::fs::read(&self.error_log).expect("read error log");
        std::fs::write(dir.join(format!("{case}.log")), bytes).expect("write fixture");
    }

    /// Stops nginx: SIGQUIT (graceful), then SIGKILL to its process group after 2 s.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pgid = nix::unistd::Pid::from_raw(-(child.id() as i32));
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGQUIT);
        let deadline = Instant::now() + Duration::from_secs(2);
        while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
        // Workers of a killed master would live on: kill the whole group. The group id stays
        // reserved while any member lives, so this cannot hit an unrelated process.
        let _ = nix::sys::signal::kill(pgid, nix::sys::signal::Signal::SIGKILL);
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A `server { }` block for the common case: listen on 127.0.0.1:`port` as `server_name`,
/// proxy `location /` to `proxy_pass` (e.g. `http://127.0.0.1:9000`, `http://unix:/x.sock:`),
/// with `extra` directives (e.g. `proxy_read_timeout 1s;`) inside the location.
pub fn proxy_server(port: u16, server_name: &str, proxy_pass: &str, extra: &str) -> String {
    format!(
        "    server {{\n\
         \x20       listen 127.0.0.1:{port};\n\
         \x20       server_name {server_name};\n\
         \x20       location / {{\n\
         \x20           proxy_pass {proxy_pass};\n\
         \x20           {extra}\n\
         \x20       }}\n\
         \x20   }}\n"
    )
}

/// `badgw` as built by cargo for these tests.
pub fn badgw() -> Command {
    Command::new(env!("CARGO_BIN_EXE_badgw"))
}

/// Runs `badgw ARGS` as user nobody (no capability, no other user's /proc entries), from a
/// copy of the binary in `dir` (nobody may not reach cargo's build directory), with HOME
/// and PM2_HOME out of the way, killed after `limit`.
///
/// The copy is written by this process while other tests fork: a child forked in that
/// window holds the copy's write descriptor until it execs, and exec of the copy then
/// fails with ETXTBSY ("Text file busy"). That is retried, never reported as badgw's.
pub fn run_as_nobody<I, S>(dir: &Path, args: I, limit: Duration) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let bin = dir.join("badgw");
    if !bin.exists() {
        std::fs::copy(env!("CARGO_BIN_EXE_badgw"), &bin).expect("copy badgw for nobody");
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755))
            .expect("make the copy executable");
    }
    let args: Vec<std::ffi::OsString> = args.into_iter().map(|a| a.as_ref().into()).collect();
    let mut attempt = 0;
    loop {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
            .arg(&bin)
            .args(&args)
            .env_remove("PM2_HOME")
            .env("HOME", "/nonexistent")
            .current_dir("/");
        let out = run_with_timeout(cmd, limit);
        let busy = String::from_utf8_lossy(&out.stderr).contains("Text file busy");
        attempt += 1;
        if !busy || attempt == 20 {
            return out;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `cmd` with a deadline, capturing its output; kills it and panics when it overruns.
pub fn run_with_timeout(mut cmd: Command, limit: Duration) -> Output {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn command");
    let pipe = |r: Option<Box<dyn Read + Send>>| {
        thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = pipe(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let err = pipe(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{cmd:?} did not finish within {limit:?}");
            }
        }
    };
    Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// `cmd`'s output, or None (the child killed) when it does not end within `limit`.
fn output_within(mut cmd: Command, limit: Duration) -> Option<Output> {
    // Files, not pipes: a chatty command never blocks on a full pipe.
    let (o, e) = (tempfile::tempfile().ok()?, tempfile::tempfile().ok()?);
    cmd.stdin(Stdio::null())
        .stdout(o.try_clone().ok()?)
        .stderr(e.try_clone().ok()?)
        .process_group(0);
    let mut child = cmd.spawn().ok()?;
    let deadline = Instant::now() + limit;
    let read = |mut f: std::fs::File| {
        use std::io::Seek;
        let mut v = Vec::new();
        let _ = f.seek(std::io::SeekFrom::Start(0));
        let _ = f.read_to_end(&mut v);
        v
    };
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                return Some(Output {
                    status,
                    stdout: read(o),
                    stderr: read(e),
                })
            }
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(child.id() as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// Runs `badgw ARGS...` (20 s limit) and parses its stdout as JSON: (exit code, document).
/// Panics with stdout and stderr when stdout is not JSON.
pub fn badgw_json(args: &[&str]) -> (i32, serde_json::Value) {
    let mut cmd = badgw();
    cmd.args(args).env("NO_COLOR", "1");
    let out = run_with_timeout(cmd, Duration::from_secs(20));
    let code = out.status.code().unwrap_or(-1);
    match serde_json::from_slice(&out.stdout) {
        Ok(v) => (code, v),
        Err(e) => panic!(
            "badgw {args:?} (exit {code}) did not print JSON: {e}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// `badgw diagnose --json ARGS...`: (exit code, report).
///
/// Every lab scenario that asks for a report also checks what a user would see of the same
/// facts (issue 14): the facts are collected once (`badgw collect`), then `diagnose --from`
/// renders the JSON report and the default human report, which must fit one screen
/// ([`assert_one_screen`]), and every read-only fix command printed is run as printed
/// ([`run_printed_read_only_fixes`]).
pub fn diagnose_json(args: &[&str]) -> (i32, serde_json::Value) {
    let diagnose_only = ["--json", "-v", "--verbose", "--fix", "--yes", "--dry-run"];
    let from_given = args.contains(&"--from");
    let snapshot = if from_given || args.iter().any(|a| diagnose_only.contains(a)) {
        None
    } else {
        let mut cmd = badgw();
        cmd.arg("collect").args(args).env("NO_COLOR", "1");
        let out = run_with_timeout(cmd, Duration::from_secs(20));
        let file = tempfile::NamedTempFile::new().expect("snapshot file");
        std::fs::write(file.path(), &out.stdout).expect("write snapshot");
        // No snapshot (collect failed): the report is asked for directly, as before.
        out.status.success().then_some(file)
    };
    let snap_path;
    let args: Vec<&str> = match &snapshot {
        Some(f) => {
            snap_path = f.path().to_str().unwrap().to_string();
            vec!["--from", snap_path.as_str()]
        }
        None => args.to_vec(),
    };
    let mut all = vec!["diagnose", "--json"];
    all.extend_from_slice(&args);
    let (code, report) = badgw_json(&all);
    // A snapshot the test supplies may describe another host: its commands are for there.
    if snapshot.is_some() || from_given {
        diagnose_human(&args);
    }
    if snapshot.is_some() {
        run_printed_read_only_fixes(&report);
    }
    (code, report)
}

/// Runs every `safe` (read-only) fix command of `report` as printed, with bash (`-e` and
/// pipefail, so a failing command before `;` or `| tail` counts), and asserts it ran: exit 0, or the status
/// that tool documents for "found nothing" (grep and pgrep 1; `getent hosts` 2, a name that
/// does not resolve; `supervisorctl status` 3, a stopped program; `badgw diagnose` 1, a
/// problem found). A command badgw prints must work on the host it was printed for.
pub fn run_printed_read_only_fixes(report: &serde_json::Value) {
    let findings = report["findings"].as_array().cloned().unwrap_or_default();
    for f in &findings {
        for fix in f["fixes"].as_array().into_iter().flatten() {
            if fix["safety"] != "safe" {
                continue;
            }
            let Some(command) = fix["command"].as_str() else {
                continue;
            };
            let mut cmd = Command::new("bash");
            cmd.args(["-e", "-o", "pipefail", "-c", command]);
            // Where a user runs badgw, `badgw` is on PATH.
            let bin = Path::new(env!("CARGO_BIN_EXE_badgw")).parent().unwrap();
            let path = std::env::var("PATH").unwrap_or_default();
            cmd.env("PATH", format!("{}:{path}", bin.display()));
            // A timing command bounded by its own `-m N` waits on a black-holed upstream
            // as long as it says: it runs, and ends by itself; 2 s show it started.
            let bounded = command.starts_with("curl") && command.contains(" -m ");
            let patience = Duration::from_secs(if bounded { 2 } else { 20 });
            let Some(out) = output_within(cmd, patience) else {
                assert!(
                    bounded,
                    "the read-only fix of {} did not end within {patience:?}:\n  {command}",
                    f["cause"]
                );
                continue;
            };
            let code = out.status.code().unwrap_or(-1);
            let nothing_found = (code == 1 && command.contains("grep"))
                || (code == 2 && command.starts_with("getent hosts"))
                || (code == 1 && command.starts_with("badgw diagnose"))
                || (code == 3 && command.contains("supervisorctl") && command.contains(" status"))
                // curl reproducing the failure the finding names: refused, timed out, empty
                // reply, reset.
                || ([7, 28, 52, 56].contains(&code) && command.starts_with("curl"));
            assert!(
                code == 0 || nothing_found,
                "the read-only fix of {} does not run as printed on this host (exit {code}):\n  {command}\n--- stdout ---\n{}\n--- stderr ---\n{}",
                f["cause"],
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// Rows `text` takes on a terminal `width` columns wide (long lines wrap).
pub fn screen_rows(text: &str, width: usize) -> usize {
    text.lines()
        .map(|l| l.chars().count().div_ceil(width).max(1))
        .sum()
}

/// Asserts the default (not `-v`) report `text` fits one laptop screen: 40 rows of 100
/// columns, counting wrapped lines (issue 14).
pub fn assert_one_screen(text: &str, what: &str) {
    let rows = screen_rows(text, 100);
    assert!(
        rows <= 40,
        "{what}: the default report takes {rows} rows of 100 columns (more than 40):\n{text}"
    );
    assert!(
        text.contains(" checks: ") && text.contains("-v for details"),
        "{what}: the default report sums the checks up in one line:\n{text}"
    );
}

/// `badgw diagnose ARGS...` as a human reads it (no color), asserted to fit one screen:
/// (exit code, text).
pub fn diagnose_human(args: &[&str]) -> (i32, String) {
    let mut cmd = badgw();
    cmd.arg("diagnose").args(args).env("NO_COLOR", "1");
    let out = run_with_timeout(cmd, Duration::from_secs(20));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_one_screen(&text, &format!("badgw diagnose {args:?}"));
    (out.status.code().unwrap_or(-1), text)
}
