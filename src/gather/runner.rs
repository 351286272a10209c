//! Runs each collector on its own thread and waits for it only until the global
//! deadline (`--deadline`). A collector that overruns is left behind — its thread is
//! detached and its result dropped when it ends (the process exits after rendering) — and
//! recorded as a [`GatherStage`] with status `deadline`, so the report can say what is
//! missing and never call a cut-short diagnosis healthy.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::facts::{GatherStage, GatherStatus};

/// What every collector reads the host through: where /proc is (normally `/proc`; tests
/// point it at a recorded tree) and how long one external command may take.
#[derive(Debug, Clone)]
pub struct Context {
    pub proc_root: PathBuf,
    pub timeout: Duration,
}

impl Context {
    /// `/proc/<pid>/<file>` under this context's /proc.
    pub fn proc_file(&self, pid: u32, file: &str) -> PathBuf {
        self.proc_root.join(pid.to_string()).join(file)
    }

    /// A file of /proc itself (`meminfo`, `uptime`, `stat`).
    pub fn proc_path(&self, file: &str) -> PathBuf {
        self.proc_root.join(file)
    }

    pub fn proc_root(&self) -> &Path {
        &self.proc_root
    }
}

/// A collector started on its own thread.
pub struct Pending<T> {
    name: String,
    rx: mpsc::Receiver<(T, Duration)>,
}

/// Starts `f` on a detached thread named after the collector.
pub fn spawn<T: Send + 'static>(
    name: impl Into<String>,
    f: impl FnOnce() -> T + Send + 'static,
) -> Pending<T> {
    let name = name.into();
    let (tx, rx) = mpsc::sync_channel(1);
    let started = Instant::now();
    let job = move || {
        let v = f();
        let _ = tx.send((v, started.elapsed()));
    };
    let spawned = std::thread::Builder::new()
        .name(format!("badgw {name}"))
        .spawn(job);
    // Spawning fails only when the system is out of threads: the receiver then reports
    // the collector as failed (the sender was dropped with the closure).
    drop(spawned);
    Pending { name, rx }
}

impl<T> Pending<T> {
    /// The collector's result, or None when it did not finish before `deadline` (or its
    /// thread died); either way the outcome is appended to `log`.
    pub fn wait(self, deadline: Instant, log: &mut Vec<GatherStage>) -> Option<T> {
        let left = deadline.saturating_duration_since(Instant::now());
        let (status, took, value) = match self.rx.recv_timeout(left) {
            Ok((v, took)) => (GatherStatus::Done, Some(took), Some(v)),
            Err(mpsc::RecvTimeoutError::Timeout) => (GatherStatus::Deadline, None, None),
            Err(mpsc::RecvTimeoutError::Disconnected) => (GatherStatus::Failed, None, None),
        };
        log.push(GatherStage {
            name: self.name,
            status,
            duration_ms: took.map(|d| (d.as_secs_f64() * 10_000.0).round() / 10.0),
        });
        value
    }
}

/// The reason recorded for a source the deadline cut off.
pub fn deadline_reason(deadline: Duration) -> String {
    format!(
        "deadline: not gathered within --deadline {}",
        human(deadline)
    )
}

fn human(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_only_until_the_deadline() {
        let mut log = Vec::new();
        let fast = spawn("fast", || 1);
        let slow = spawn("slow", || {
            std::thread::sleep(Duration::from_secs(30));
            2
        });
        let start = Instant::now();
        let deadline = start + Duration::from_millis(300);
        assert_eq!(fast.wait(deadline, &mut log), Some(1));
        assert_eq!(slow.wait(deadline, &mut log), None);
        assert!(start.elapsed() < Duration::from_secs(5));
        assert_eq!(log[0].status, GatherStatus::Done);
        assert_eq!(log[1].status, GatherStatus::Deadline);
        assert_eq!(log[1].name, "slow");
    }

    #[test]
    fn a_panicking_collector_is_failed_not_fatal() {
        let mut log = Vec::new();
        let p = spawn("boom", || -> u8 { panic!("collector bug") });
        assert_eq!(
            p.wait(Instant::now() + Duration::from_secs(5), &mut log),
            None
        );
        assert_eq!(log[0].status, GatherStatus::Failed);
    }
}
