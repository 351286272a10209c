//! A real PHP-FPM master for lab scenarios: its own prefix, one pool on a unix socket, run
//! in the foreground in a process group that dies with the test.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::Lab;

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Kills a whole process group (a supervisor loop, a PHP-FPM master and its children) when
/// dropped, so a failed assertion leaves nothing running.
pub struct GroupGuard(Child);

impl GroupGuard {
    /// The group leader's pid.
    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        let pgid = nix::unistd::Pid::from_raw(self.0.id() as i32);
        let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
        let _ = self.0.wait();
    }
}

/// Starts `cmd` in a process group of its own, dying with this test process.
pub fn spawn_group(mut cmd: Command) -> GroupGuard {
    cmd.process_group(0);
    super::die_with_parent(&mut cmd);
    GroupGuard(cmd.spawn().expect("spawn"))
}

/// The php-fpm binary (Debian names it php-fpmX.Y), or a loud failure with the install hint.
pub fn php_fpm_binary() -> PathBuf {
    for name in [
        "php-fpm",
        "php-fpm8.4",
        "php-fpm8.3",
        "php-fpm8.2",
        "php-fpm8.1",
        "php-fpm7.4",
    ] {
        if let Ok(p) = which::which(name) {
            return p;
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/sbin")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("php-fpm"))
        })
        .collect();
    found.sort();
    found.pop().unwrap_or_else(|| {
        panic!("php-fpm not found: install it with `sudo apt-get install php-fpm` (the PHP-FPM lab scenarios need a real PHP-FPM)")
    })
}

pub fn wait_for(path: &Path, limit: Duration) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if path.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// A running PHP-FPM master with one pool `[www]` (workers as nobody) on `sock`.
pub struct Fpm {
    _group: GroupGuard,
    pub sock: PathBuf,
    /// The php-fpm.conf holding the pool, and its text.
    pub conf: PathBuf,
    pub conf_text: String,
    /// Document root, world-readable.
    pub www: PathBuf,
}

impl Fpm {
    /// 1-based line of the pool setting `name` in the config.
    pub fn line_of(&self, name: &str) -> usize {
        self.conf_text
            .lines()
            .position(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} not in the pool config"))
            + 1
    }

    /// The nginx location that sends `*.php` to this pool, with `extra` directives.
    pub fn location(&self, extra: &str) -> String {
        format!(
            "location ~ \\.php$ {{
               fastcgi_pass unix:{sock};
               fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
               fastcgi_param REQUEST_METHOD $request_method;
               fastcgi_param QUERY_STRING $query_string;
               {extra}
             }}",
            sock = self.sock.display()
        )
    }
}

/// Starts PHP-FPM in `lab`'s prefix with `scripts` (name, PHP source) in its document root
/// and `pool` appended to the `[www]` pool's settings (e.g. `pm = static\npm.max_children = 1`).
pub fn start(lab: &Lab, scripts: &[(&str, &str)], pool: &str) -> Fpm {
    let fpm = php_fpm_binary();
    if !is_root() {
        panic!("PHP-FPM lab scenarios need root (its workers run as nobody like nginx's)");
    }
    let dir = lab.path("fpm");
    let www = lab.path("www");
    for d in [&dir, &www] {
        std::fs::create_dir_all(d).unwrap();
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    for (name, src) in scripts {
        std::fs::write(www.join(name), src).unwrap();
    }
    let sock = dir.join("www.sock");
    let conf = dir.join("php-fpm.conf");
    let conf_text = format!(
        "[global]\n\
         pid = {dir}/php-fpm.pid\n\
         error_log = {dir}/php-fpm.log\n\
         log_level = notice\n\
         daemonize = no\n\
         \n\
         [www]\n\
         user = nobody\n\
         group = nogroup\n\
         listen = {sock}\n\
         listen.owner = nobody\n\
         listen.group = nogroup\n\
         listen.mode = 0666\n\
         catch_workers_output = yes\n\
         {pool}\n",
        dir = dir.display(),
        sock = sock.display()
    );
    std::fs::write(&conf, &conf_text).unwrap();
    let mut cmd = Command::new(&fpm);
    cmd.arg("-F")
        .arg("-y")
        .arg(&conf)
        .arg("-p")
        .arg(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let group = spawn_group(cmd);
    // A `listen = 127.0.0.1:PORT` in `pool` overrides the socket (the ini's last value wins).
    if let Some(addr) = pool
        .lines()
        .filter_map(|l| l.trim().strip_prefix("listen ="))
        .map(str::trim)
        .find(|a| !a.starts_with('/'))
    {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "php-fpm did not listen on {addr}: {}",
                std::fs::read_to_string(dir.join("php-fpm.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    } else {
        assert!(
            wait_for(&sock, Duration::from_secs(5)),
            "php-fpm did not create {}: {}",
            sock.display(),
            std::fs::read_to_string(dir.join("php-fpm.log")).unwrap_or_default()
        );
    }
    Fpm {
        _group: group,
        sock,
        conf,
        conf_text,
        www,
    }
}
