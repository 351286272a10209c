//! Open-file limits (/proc/<pid>/limits) and descriptor counts (/proc/<pid>/fd) of nginx's
//! master and workers and of the upstream's processes.

use super::runner::Context;
use super::systemd::unit_of_pid;
use crate::facts::{Fact, ProcLimits, ProcRole};
use crate::parse;

/// The collector: limits of nginx's master and workers and of the upstreams' processes.
pub fn collect(ctx: &Context) -> Fact<Vec<ProcLimits>> {
    gather_process_limits(ctx, &ctx.upstreams.roles)
}

/// Open-file limits and descriptor counts of the given processes.
fn gather_process_limits(ctx: &Context, procs: &[(u32, ProcRole)]) -> Fact<Vec<ProcLimits>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for &(pid, role) in procs {
        let limits = match std::fs::read_to_string(ctx.proc_file(pid, "limits")) {
            Ok(l) => l,
            Err(e) => {
                errors.push(format!("{}: {e}", ctx.proc_file(pid, "limits").display()));
                continue;
            }
        };
        let Some((soft, hard)) = parse::proc::parse_limits_nofile(&limits) else {
            continue;
        };
        let open_fds = std::fs::read_dir(ctx.proc_file(pid, "fd"))
            .ok()
            .map(|d| d.count() as u64);
        let comm = std::fs::read_to_string(ctx.proc_file(pid, "comm"))
            .unwrap_or_default()
            .trim()
            .to_string();
        out.push(ProcLimits {
            pid,
            comm,
            role,
            nofile_soft: soft,
            nofile_hard: hard,
            open_fds,
            unit: unit_of_pid(ctx, pid),
        });
    }
    if out.is_empty() && !errors.is_empty() {
        return Fact::unavailable(
            "/proc/<pid>/limits",
            format!("{} (run as root)", errors.join("; ")),
        );
    }
    Fact::collected(out)
}
