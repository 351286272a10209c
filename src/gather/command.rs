//! Runs an external command with a timeout, reading stdout and stderr concurrently so a
//! chatty child can never deadlock on a full pipe; a command that overruns is killed. The
//! locale is forced to C so messages parse the same everywhere.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Output of a finished command.
#[derive(Debug, Clone)]
pub struct CmdOutput {
    pub success: bool,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl CmdOutput {
    /// First line of stderr, for a skip reason.
    pub fn stderr_text(&self) -> String {
        let s = String::from_utf8_lossy(&self.stderr);
        let s = s.lines().next().unwrap_or("").trim();
        if s.is_empty() {
            "failed without a message".into()
        } else {
            s.to_string()
        }
    }
}

/// Most bytes kept from one command's stdout.
const MAX_OUTPUT: u64 = 16 * 1024 * 1024;

/// Runs `program args` with `timeout`, reading stdout and stderr concurrently (a full
/// stderr pipe never blocks it); kills it when it overruns.
pub fn run_command(program: &str, args: &[&str], timeout: Duration) -> Result<CmdOutput, String> {
    run_command_env(program, args, &[], timeout)
}

/// [`run_command`] with extra environment variables.
pub fn run_command_env(
    program: &str,
    args: &[&str],
    env: &[(&str, &str)],
    timeout: Duration,
) -> Result<CmdOutput, String> {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("LC_ALL", "C")
        .env("SYSTEMD_PAGER", "")
        .env("SYSTEMD_COLORS", "0");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().map_err(|e| format!("{program}: {e}"))?;
    let drain = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(r) = r {
                let _ = r.take(MAX_OUTPUT).read_to_end(&mut buf);
            }
            buf
        })
    };
    let out_t = drain(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let err_t = drain(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{program}: no answer within {timeout:?}"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("{program}: {e}")),
        }
    };
    Ok(CmdOutput {
        success: status.success(),
        stdout: out_t.join().unwrap_or_default(),
        stderr: err_t.join().unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_both_streams() {
        let o = run_command(
            "/bin/sh",
            &["-c", "echo out; echo err >&2; exit 3"],
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(o.stdout, b"out\n");
        assert_eq!(o.stderr_text(), "err");
        assert!(!o.success);
    }

    #[test]
    fn a_hung_command_is_killed_at_the_timeout() {
        let start = Instant::now();
        let e = run_command("/bin/sleep", &["10"], Duration::from_millis(200))
            .err()
            .unwrap();
        assert!(e.contains("no answer within"), "{e}");
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_command_flooding_stderr_does_not_deadlock() {
        let o = run_command(
            "sh",
            &["-c", "head -c 1000000 /dev/zero >&2; echo done"],
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(o.stdout, b"done\n");
    }

    #[test]
    fn a_missing_program_is_an_error_naming_it() {
        let e = run_command("/nonexistent/prog", &[], Duration::from_secs(1))
            .err()
            .unwrap();
        assert!(e.starts_with("/nonexistent/prog"), "{e}");
    }
}
