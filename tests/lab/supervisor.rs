//! A real supervisord for lab scenarios: its own configuration, unix socket (for
//! supervisorctl), logs and pid file inside the lab, run in the foreground (`-n`), and
//! stopped with every program it started when the guard drops — even when the test fails.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::Lab;

/// A running supervisord; dropping it stops its programs and then the daemon.
pub struct Supervisord {
    pub conf: PathBuf,
    pub pid: u32,
    guard: Option<super::fpm::GroupGuard>,
}

fn binary(name: &str) -> PathBuf {
    which(name).unwrap_or_else(|| {
        panic!("{name} not found: install supervisor (Debian: apt-get install supervisor) to run this lab")
    })
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/local/bin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The direct children of `pid`, from /proc.
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let c: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            let ppid: u32 = stat
                .rsplit(')')
                .next()?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            (ppid == pid).then_some(c)
        })
        .collect()
}

impl Supervisord {
    /// Starts supervisord with `programs` (`[program:…]` sections, text as written) and
    /// waits until supervisorctl can talk to it.
    pub fn start(lab: &Lab, programs: &str) -> Supervisord {
        let dir = lab.path("supervisor");
        std::fs::create_dir_all(&dir).unwrap();
        let conf = dir.join("supervisord.conf");
        let d = dir.display();
        std::fs::write(
            &conf,
            format!(
                "[unix_http_server]\nfile={d}/supervisor.sock\n\n\
                 [supervisord]\nlogfile={d}/supervisord.log\npidfile={d}/supervisord.pid\n\
                 childlogdir={d}\nnodaemon=true\n\n\
                 [rpcinterface:supervisor]\n\
                 supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n\
                 [supervisorctl]\nserverurl=unix://{d}/supervisor.sock\n\n{programs}\n"
            ),
        )
        .unwrap();
        let mut cmd = Command::new(binary("supervisord"));
        cmd.args(["-n", "-c"])
            .arg(&conf)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let guard = super::fpm::spawn_group(cmd);
        let mut s = Supervisord {
            conf,
            pid: 0,
            guard: Some(guard),
        };
        s.pid = s.guard.as_ref().map(|g| g.pid()).unwrap_or(0);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let out = s.ctl(&["pid"]);
            if out.0 == 0 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "supervisord did not answer supervisorctl within 15 s: {}",
                out.1
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        s
    }

    /// `supervisorctl -c CONF ARGS...`: (exit code, stdout and stderr).
    pub fn ctl(&self, args: &[&str]) -> (i32, String) {
        let out = Command::new(binary("supervisorctl"))
            .arg("-c")
            .arg(&self.conf)
            .args(args)
            .output()
            .expect("run supervisorctl");
        (
            out.status.code().unwrap_or(-1),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }

    pub fn conf_str(&self) -> &str {
        self.conf.to_str().unwrap()
    }

    /// The configuration directory (logs, socket).
    pub fn dir(&self) -> &Path {
        self.conf.parent().unwrap()
    }
}

impl Drop for Supervisord {
    fn drop(&mut self) {
        // Its programs run in process groups of their own: kill them by pid first, then the
        // daemon's group.
        for c in children(self.pid) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(c as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        drop(self.guard.take());
    }
}
