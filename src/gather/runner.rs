//! Runs each collector on its own thread and waits for it only until the global
//! deadline (`--deadline`). A collector that overruns is left behind — its thread is
//! detached and its result dropped when it ends (the process exits after rendering) — and
//! recorded as a [`GatherStage`] with status `deadline`, so the report can say what is
//! missing and never call a cut-short diagnosis healthy.
//!
//! A [`Collector`] is a name (its `gather[].name`), a function of the [`Context`], where its
//! result goes in [`Facts`] and what to record when the deadline cuts it off. The stage
//! tables (`gather/stages.rs`) list them; [`start`] runs a list in parallel and
//! [`Batch::finish`] waits, stores and records durations.

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use super::target::{Target, Upstreams};
use super::GatherOptions;
use crate::facts::{Facts, GatherStage, GatherStatus};

/// What every collector reads the host through and knows of the run: where /proc is
/// (normally `/proc`; tests point it at a recorded tree), how long one external command may
/// take, the command line's options, what stage 1 found ([`Target`]: the route, nginx's
/// master and namespaces) and, once the listeners are read, who serves the upstreams
/// ([`Upstreams`]). Cloning is cheap: the shared parts are behind `Arc`s.
#[derive(Debug, Clone)]
pub struct Context {
    pub proc_root: PathBuf,
    pub timeout: Duration,
    pub opts: Arc<GatherOptions>,
    pub target: Arc<Target>,
    pub upstreams: Arc<Upstreams>,
}

impl Context {
    /// The context of stage 1: the options only, nothing found yet.
    pub fn new(opts: &GatherOptions) -> Self {
        Context {
            proc_root: opts.proc_root.clone(),
            timeout: opts.timeout,
            opts: Arc::new(opts.clone()),
            target: Arc::default(),
            upstreams: Arc::default(),
        }
    }

    /// A context that reads /proc at `proc_root`, with default options (unit tests).
    pub fn at(proc_root: impl Into<PathBuf>, timeout: Duration) -> Self {
        Self::new(&GatherOptions {
            proc_root: proc_root.into(),
            timeout,
            ..Default::default()
        })
    }

    /// The same run, once stage 1 has decided the targets.
    pub fn with_target(&self, target: Target) -> Self {
        Context {
            target: Arc::new(target),
            ..self.clone()
        }
    }

    /// The same run, once the listener scan has said who serves the upstreams.
    pub fn with_upstreams(&self, upstreams: Upstreams) -> Self {
        Context {
            upstreams: Arc::new(upstreams),
            ..self.clone()
        }
    }

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

/// What a finished collector does to the facts.
type Store = Box<dyn FnOnce(&mut Facts) + Send>;
/// What a collector records when its result does not come: the deadline's reason.
type Late = fn(&mut Facts, &str);

/// One named collector: what it runs, where its result goes, what is recorded when it is
/// late (or failed).
pub struct Collector {
    name: String,
    run: Box<dyn FnOnce(&Context) -> Store + Send>,
    late: Late,
}

impl Collector {
    /// `run` on its own thread; `store` puts its result into the facts; `late` records the
    /// reason (the deadline's) when the result does not come.
    pub fn new<T: Send + 'static>(
        name: impl Into<String>,
        run: impl FnOnce(&Context) -> T + Send + 'static,
        store: fn(&mut Facts, T),
        late: Late,
    ) -> Self {
        Collector {
            name: name.into(),
            run: Box::new(move |ctx| {
                let v = run(ctx);
                Box::new(move |facts: &mut Facts| store(facts, v))
            }),
            late,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Collectors started together, awaited in the order they were listed.
pub struct Batch {
    pending: Vec<(Pending<Store>, Late)>,
}

/// Starts every collector of `list` on its own thread, each with its own clone of `ctx`.
pub fn start(ctx: &Context, list: Vec<Collector>) -> Batch {
    let pending = list
        .into_iter()
        .map(|c| {
            let ctx = ctx.clone();
            let run = c.run;
            (spawn(c.name, move || run(&ctx)), c.late)
        })
        .collect();
    Batch { pending }
}

/// How long a run may take, and what it has recorded so far in `gather[]`.
pub struct Clock {
    pub deadline: Instant,
    /// The reason recorded for a source the deadline cut off.
    pub late: String,
    pub log: Vec<GatherStage>,
}

impl Clock {
    pub fn new(budget: Duration) -> Self {
        Clock {
            deadline: Instant::now() + budget,
            late: deadline_reason(budget),
            log: Vec::new(),
        }
    }

    /// Runs one collector that stage 1 needs before anything else can start, and waits
    /// for it until the deadline (None when it is late or failed; recorded either way).
    pub fn run_one<T: Send + 'static>(
        &mut self,
        ctx: &Context,
        name: &str,
        f: fn(&Context) -> T,
    ) -> Option<T> {
        let ctx = ctx.clone();
        spawn(name, move || f(&ctx)).wait(self.deadline, &mut self.log)
    }
}

impl Batch {
    /// Waits for each collector until the deadline, stores what came back in `facts` and
    /// records the late ones with the deadline's reason; `gather[]` gets every outcome.
    pub fn finish(self, clock: &mut Clock, facts: &mut Facts) {
        for (p, late) in self.pending {
            match p.wait(clock.deadline, &mut clock.log) {
                Some(store) => store(facts),
                None => late(facts, &clock.late),
            }
        }
    }
}

/// A collector started on its own thread (only through [`start`] and [`Clock::run_one`]:
/// every thread of a stage is a named collector with its `gather[]` record).
struct Pending<T> {
    name: String,
    rx: mpsc::Receiver<(T, Duration)>,
}

/// Starts `f` on a detached thread named after the collector.
fn spawn<T: Send + 'static>(
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
    fn wait(self, deadline: Instant, log: &mut Vec<GatherStage>) -> Option<T> {
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
