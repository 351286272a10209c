//! Gathers the kernel log for OOM kills and SELinux denials: from --kernel-log FILE, else
//! /dev/kmsg (non-blocking), `dmesg`, `journalctl -k`, /var/log/kern.log, /var/log/messages —
//! the first that can be read. Parsing is `parse::kernel`'s; this module only reads.
//!
//! Must not block: /dev/kmsg is opened O_NONBLOCK and read until EAGAIN, every command has a
//! timeout, files are read from their last few MB only.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use chrono::Datelike;

use super::command::run_command;
use super::files::{read_log_tail, LOG_TAIL};
use super::runner::Context;
use crate::facts::{Fact, KernelLog};
use crate::parse::kernel::{parse_kernel_log, TimeContext};
use crate::parse::proc::parse_btime;

/// Time context of this host: boot time, current year and UTC offset.
pub fn host_time_context(ctx: &Context) -> TimeContext {
    let now = super::clock::now();
    TimeContext {
        boot_time: std::fs::read_to_string(ctx.proc_path("stat"))
            .ok()
            .and_then(|s| parse_btime(&s)),
        year: now.year(),
        utc_offset_secs: now.offset().local_minus_utc(),
        now: Some(now.timestamp()),
    }
}

/// Reads every record currently in /dev/kmsg without blocking.
pub fn read_kmsg() -> std::io::Result<Vec<u8>> {
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open("/dev/kmsg")?;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if !out.ends_with(b"\n") {
                    out.push(b'\n');
                }
                if out.len() > LOG_TAIL as usize {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            // EPIPE: a record was overwritten while reading; keep going from the next one.
            Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
            Err(e) if out.is_empty() => return Err(e),
            Err(_) => break,
        }
    }
    Ok(out)
}

/// The collector: the kernel log of `--kernel-log`, else of this host.
pub fn collect(ctx: &Context) -> Fact<KernelLog> {
    gather_kernel_log(ctx, ctx.opts.kernel_log.as_deref())
}

/// Gathers the kernel log. `file` is --kernel-log; `timeout` bounds each command.
fn gather_kernel_log(gctx: &Context, file: Option<&Path>) -> Fact<KernelLog> {
    let timeout = gctx.timeout;
    let ctx = host_time_context(gctx);
    if let Some(path) = file {
        return match read_log_tail(path) {
            Ok(bytes) => {
                Fact::collected(parse_kernel_log(&path.display().to_string(), &bytes, &ctx))
            }
            Err(e) => Fact::unavailable(path.display().to_string(), e.to_string()),
        };
    }
    let mut tried = Vec::new();
    match read_kmsg() {
        Ok(b) if !b.is_empty() => return Fact::collected(parse_kernel_log("/dev/kmsg", &b, &ctx)),
        Ok(_) => tried.push("/dev/kmsg: empty".to_string()),
        Err(e) => tried.push(format!("/dev/kmsg: {e}")),
    }
    match run_command("dmesg", &[], timeout) {
        Ok(out) if out.success && !out.stdout.is_empty() => {
            return Fact::collected(parse_kernel_log("dmesg", &out.stdout, &ctx))
        }
        Ok(out) => tried.push(format!("dmesg: {}", out.stderr_text())),
        Err(e) => tried.push(format!("dmesg: {e}")),
    }
    if Path::new("/run/systemd/journal").exists() {
        match run_command(
            "journalctl",
            &["-k", "-o", "short-iso", "--no-pager", "-n", "20000", "-q"],
            timeout,
        ) {
            Ok(out) if out.success && !out.stdout.is_empty() => {
                return Fact::collected(parse_kernel_log("journalctl -k", &out.stdout, &ctx))
            }
            Ok(out) => tried.push(format!("journalctl -k: {}", out.stderr_text())),
            Err(e) => tried.push(format!("journalctl -k: {e}")),
        }
    }
    for f in ["/var/log/kern.log", "/var/log/messages"] {
        let p = PathBuf::from(f);
        match read_log_tail(&p) {
            Ok(b) => return Fact::collected(parse_kernel_log(f, &b, &ctx)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tried.push(format!("{f}: {e}")),
        }
    }
    Fact::unavailable(
        "kernel log",
        format!(
            "no readable source ({}); run as root, or pass --kernel-log FILE",
            tried.join("; ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn file_source_is_parsed_and_missing_file_is_unavailable() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/host/kernel/kmsg.txt");
        let ctx = Context::at("/proc", Duration::from_secs(2));
        let f = gather_kernel_log(&ctx, Some(&p));
        assert_eq!(f.value().map(|k| k.oom_kills.len()), Some(1));
        let missing = gather_kernel_log(&ctx, Some(Path::new("/nonexistent/kern.log")));
        assert!(matches!(missing, Fact::Unavailable { .. }));
    }

    #[test]
    fn tail_drops_partial_first_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("big.log");
        let line = b"[    1.000000] filler line for the tail test\n";
        let mut data = Vec::new();
        while (data.len() as u64) < LOG_TAIL + 100 {
            data.extend_from_slice(line);
        }
        std::fs::write(&p, &data).expect("write");
        let t = read_log_tail(&p).expect("read");
        assert!(t.starts_with(b"[    1.000000]"));
        assert!(t.len() as u64 <= LOG_TAIL);
    }
}
