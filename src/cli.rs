//! Command-line definition (clap derive). Field doc comments are the `--help` text;
//! completions are generated from this definition, never written by hand.

pub mod when;

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "badgw",
    version,
    about = "Tells you why nginx answers 502 Bad Gateway (or 504), and what to type to fix it",
    propagate_version = true
)]
pub struct Cli {
    /// When to use colors: auto (a terminal, and NO_COLOR unset), always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Find why nginx answers 502/504 for a site: ranked root causes with evidence and fixes.
    Diagnose(DiagnoseArgs),
    /// Show which server block, location and upstream serve a request, by nginx's rules.
    Route(RouteArgs),
    /// Write the gathered facts as a JSON snapshot to stdout (analyze later with `diagnose --from`).
    Collect(CollectArgs),
    /// Classify every upstream failure in nginx error logs and summarize them.
    ExplainLog(ExplainLogArgs),
    /// Print the documentation of a cause id (e.g. `badgw explain upstream-down`).
    Explain(ExplainArgs),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
}

/// Which request to diagnose: `--site` (and `--port`, `--path`), or `--url`.
#[derive(Debug, Clone, Args)]
pub struct TargetArgs {
    /// Host name the clients use, e.g. shop.example.com.
    #[arg(long, required_unless_present_any = ["url", "from"])]
    pub site: Option<String>,
    /// Request path to route, e.g. /api/orders.
    #[arg(long)]
    pub path: Option<String>,
    /// Port the client connects to nginx on (default: every port nginx listens on).
    #[arg(long)]
    pub port: Option<u16>,
    /// A full URL, standing for --site, --port and --path together.
    #[arg(long, conflicts_with_all = ["site", "port", "path"])]
    pub url: Option<String>,
    /// Main nginx configuration file (default: from the running master, `nginx -V`, or the usual paths).
    #[arg(long, value_name = "FILE")]
    pub nginx_conf: Option<PathBuf>,
    /// Output of `nginx -T` to read the configuration from.
    #[arg(long, value_name = "FILE")]
    pub nginx_dump: Option<PathBuf>,
    /// Analyze a snapshot written by `badgw collect`; never touches this host.
    #[arg(long, value_name = "SNAPSHOT", hide = true)]
    pub from: Option<PathBuf>,
}

/// Sources that can be supplied when the host cannot be asked.
#[derive(Debug, Clone, Args)]
pub struct SourceArgs {
    /// Error log to read (default: the one that serves the site); `-` reads standard input,
    /// e.g. `docker logs NAME 2>&1 | badgw diagnose … --error-log -` (runtime prefixes are stripped).
    #[arg(long, value_name = "FILE")]
    pub error_log: Option<PathBuf>,
    /// Access log to read (default: the one that serves the site).
    #[arg(long, value_name = "FILE")]
    pub access_log: Option<PathBuf>,
    /// Kernel log file (dmesg, kern.log) to search for OOM kills.
    #[arg(long, value_name = "FILE")]
    pub kernel_log: Option<PathBuf>,
    /// Output of `journalctl -u UNIT` for the app.
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// Output of `systemctl show UNIT` for the app.
    #[arg(long, value_name = "FILE")]
    pub unit_status: Option<PathBuf>,
    /// How far back to read logs. Durations, here and in every option: a number and a
    /// unit, ms, s, m, h or d (500ms, 90s, 15m, 1.5h, 1d); a bare number is seconds.
    #[arg(long, default_value = "15m", value_name = "DURATION")]
    pub since: String,
    /// Timeout of each probe and external command, e.g. 3s, 500ms.
    #[arg(long, default_value = "3s", value_name = "DURATION")]
    pub timeout: String,
    /// Idle timeout of the load balancer in front of nginx (AWS ALB: 60s by default),
    /// compared with nginx's keepalive_timeout.
    #[arg(long, value_name = "DURATION")]
    pub lb_idle_timeout: Option<String>,
    /// Deadline of the whole run; the report then shows what was gathered and marks the
    /// rest `unavailable: deadline` (default: 5 × --timeout + 2s).
    #[arg(long, value_name = "DURATION")]
    pub deadline: Option<String>,
}

#[derive(Debug, Args)]
pub struct DiagnoseArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub sources: SourceArgs,
    /// Print the report as JSON (schema: docs/json.md).
    #[arg(long)]
    pub json: bool,
    /// Show every check, every evidence line and the timeouts table (the default report
    /// fits one screen; it is always complete when the diagnosis is incomplete).
    #[arg(short, long)]
    pub verbose: bool,
    /// After the report, offer the leading cause's fixes one at a time (what runs, a diff of
    /// each edited file, [y/N]); back up, test, reload, then check the site answers again.
    /// Needs a terminal, or --yes.
    #[arg(long, conflicts_with_all = ["json", "from"])]
    pub fix: bool,
    /// With --fix: apply without asking (for scripts).
    #[arg(long, requires = "fix")]
    pub yes: bool,
    /// With --fix: print the plan (commands and diffs) and change nothing.
    #[arg(long, requires = "fix", conflicts_with = "yes")]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct RouteArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Print the route as JSON (schema: docs/json.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CollectArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub sources: SourceArgs,
}

#[derive(Debug, Args)]
pub struct ExplainLogArgs {
    /// Error log files (plain or .gz), or - for standard input; read in time order. An AWS
    /// ALB/ELB access log or a GCP load-balancer log is recognised and summarised instead.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Only lines at or after this time: a duration back from the log's end, or from now
    /// for gzip and stdin (500ms, 90s, 15m, 1.5h, 1d; a bare number is seconds), or a time
    /// in the log's clock (2026-11-22T10:00, "2026-11-22 10:00:00", 2026/11/22 10:00:00,
    /// 2026-11-22).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Only lines before this time (same forms as --since).
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// Print the summary as JSON (schema: docs/json.md).
    #[arg(long)]
    pub json: bool,
    /// Also list every classified line (with its 1-based line number).
    #[arg(long)]
    pub events: bool,
    /// How many upstreams and servers to list per category.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub top: usize,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// A cause id, e.g. upstream-down; without it, lists every cause.
    pub cause: Option<String>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}
