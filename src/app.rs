//! Command dispatch: each subcommand resolves its options, gathers or loads facts, runs
//! the checks and hands a finished report to a renderer. Returns the exit status.

pub mod explain_log;
pub mod fix_session;

use std::io::Write;

use anyhow::{anyhow, Context};
use clap::CommandFactory;

use crate::cause::Cause;
use crate::cli::{Cli, Command, CompletionsArgs, DiagnoseArgs, ExplainArgs, RouteArgs};
use crate::exit::{fail, ExitStatus};
use crate::facts::{Facts, SNAPSHOT_SCHEMA_VERSION};
use crate::{config, gather, render, report};

pub fn run(cli: Cli, out: &mut dyn Write) -> anyhow::Result<ExitStatus> {
    let color = render::use_color(cli.color);
    match cli.command {
        Command::Diagnose(args) => diagnose(&args, color, out),
        Command::Route(args) => route(&args, color, out),
        Command::Collect(args) => {
            let opts = config::gather_options(&args.target, Some(&args.sources))
                .map_err(|e| fail(ExitStatus::Usage, e))?;
            let facts = gather::collect(&opts)?;
            render::json(&facts, out)?;
            Ok(ExitStatus::Healthy)
        }
        Command::ExplainLog(args) => explain_log::run(&args, color, out),
        Command::Explain(args) => explain(&args, out),
        Command::Completions(args) => completions(&args, out),
    }
}

/// Facts from a snapshot (`--from`) or from this host.
fn facts_for(args: &DiagnoseArgs) -> anyhow::Result<Facts> {
    if let Some(path) = &args.target.from {
        // Regular files only, bounded (a FIFO or /dev/zero as --from must not hang).
        let bytes = gather::files::read_all(path, 1 << 30)
            .map_err(|e| fail(ExitStatus::Usage, anyhow!("--from: {e}")))?;
        let facts: Facts = serde_json::from_slice(&bytes)
            .with_context(|| {
                format!(
                    "{} is not a badgw snapshot (write one with `badgw collect`)",
                    path.display()
                )
            })
            .map_err(|e| fail(ExitStatus::Usage, e))?;
        let mut facts = facts;
        crate::parse::app_args::fill_missing(&mut facts);
        crate::parse::process_role::fill_missing(&mut facts);
        crate::parse::systemd::fill_missing(&mut facts);
        crate::nginx::fill_missing(&mut facts);
        crate::logs::fill_missing(&mut facts);
        facts.settle_years();
        if facts.schema_version != SNAPSHOT_SCHEMA_VERSION {
            return Err(fail(
                ExitStatus::Usage,
                anyhow!("{}: snapshot schema {} is not supported (this badgw reads {SNAPSHOT_SCHEMA_VERSION})", path.display(), facts.schema_version),
            ));
        }
        if let Some(log) = &args.sources.error_log {
            replace_error_log(&mut facts, log, &args.sources.since)?;
        }
        return Ok(facts);
    }
    let opts = config::gather_options(&args.target, Some(&args.sources))
        .map_err(|e| fail(ExitStatus::Usage, e))?;
    gather::collect(&opts)
}

/// `--from SNAPSHOT --error-log FILE|-`: the snapshot's error-log window replaced by the
/// log given — typically a container runtime's output piped in (`docker logs NAME 2>&1 |
/// badgw diagnose --from snap.json --error-log -`) — read as of the snapshot's time.
fn replace_error_log(facts: &mut Facts, log: &std::path::Path, since: &str) -> anyhow::Result<()> {
    let since = crate::cli::when::parse_duration(since).map_err(|e| fail(ExitStatus::Usage, e))?;
    if log != std::path::Path::new("-") {
        gather::files::open_regular(log)
            .map_err(|e| fail(ExitStatus::Usage, anyhow!("--error-log: {e}")))?;
    }
    let route = facts.nginx.value().and_then(|n| n.route.as_ref());
    let filter = crate::logs::WindowFilter {
        site: facts.request.site.clone(),
        server_names: route
            .map(|r| r.server.server_name.clone())
            .unwrap_or_default(),
        upstreams: route
            .map(|r| r.upstreams.iter().map(|u| u.address.clone()).collect())
            .unwrap_or_default(),
    };
    let now = facts
        .collected_at
        .map(|c| c.naive_local())
        .unwrap_or_else(gather::clock::now_local);
    let (fact, notes) = gather::log_window::error_log_input(log, since.as_secs(), now, &filter);
    facts.error_log = fact;
    facts.notes.extend(notes);
    Ok(())
}

fn diagnose(args: &DiagnoseArgs, color: bool, out: &mut dyn Write) -> anyhow::Result<ExitStatus> {
    use std::io::IsTerminal;
    // --fix asks on a terminal; elsewhere it needs --yes (or only prints with --dry-run).
    let ask = args.fix && !args.yes && !args.dry_run;
    if ask && !std::io::stdin().is_terminal() {
        return Err(fail(
            ExitStatus::Usage,
            anyhow!("--fix asks before changing anything and stdin is not a terminal: run it on a terminal, add --yes to apply without asking, or --dry-run to see the plan"),
        ));
    }
    if !args.json && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        crate::progress::enable();
    }
    let facts = facts_for(args);
    crate::progress::done();
    let facts = facts?;
    let report = crate::report::sitewide::diagnose(&facts);
    if args.json {
        render::json(&report, out)?;
    } else {
        render::human::diagnose(&report, color, args.verbose, out)?;
    }
    if !args.fix {
        return Ok(report.exit);
    }
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let end = fix_session::offer(&report, ask, args.dry_run, &mut input, out)?;
    use fix_session::SessionEnd;
    match end {
        SessionEnd::NothingToApply | SessionEnd::DryRun => Ok(report.exit),
        SessionEnd::Declined => {
            writeln!(out, "\nNo fix applied: nothing was changed.")?;
            Ok(ExitStatus::Declined)
        }
        SessionEnd::Failed => {
            writeln!(
                out,
                "\nNo fix went through: the files are as they were. The site still fails."
            )?;
            Ok(ExitStatus::Problems)
        }
        SessionEnd::Applied(summary) => verify_after_fix(args, &summary, out),
    }
}

/// Re-runs the diagnosis after a fix and says plainly whether the site answers: a request
/// through nginx for the site and path, and the probe straight to the upstream. A reload is
/// asynchronous (new workers start after the command returns): up to ~3 s of retries.
fn verify_after_fix(
    args: &DiagnoseArgs,
    summary: &str,
    out: &mut dyn Write,
) -> anyhow::Result<ExitStatus> {
    let opts = config::gather_options(&args.target, Some(&args.sources))
        .map_err(|e| fail(ExitStatus::Usage, e))?;
    render::fix_session::checking_again(out, summary)?;
    let mut last = None;
    for attempt in 0..7 {
        if attempt > 0 {
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        let facts = gather::collect(&opts)?;
        let route = facts.nginx.value().and_then(|n| n.route.clone());
        let through = route
            .as_ref()
            .and_then(|r| gather::verify::through_nginx(r, &facts.request, opts.timeout));
        let ok = through
            .as_ref()
            .is_some_and(|p| p.error.is_none() && p.status.is_some_and(|s| s < 500));
        last = Some((facts, through));
        if ok {
            break;
        }
    }
    let Some((facts, through)) = last else {
        return Ok(ExitStatus::Problems);
    };
    let after = crate::report::sitewide::diagnose(&facts);
    let through_ok = through
        .as_ref()
        .is_some_and(|p| p.error.is_none() && p.status.is_some_and(|s| s < 500));
    let answer = through.as_ref().map(|p| {
        let a = p.status.map_or_else(
            || crate::checks::evidence::describe_probe(p),
            |s| s.to_string(),
        );
        (p.address.clone(), a)
    });
    render::fix_session::through_nginx(
        out,
        &facts.request.site,
        &facts.request.path,
        answer.as_ref().map(|(v, a)| (v.as_str(), a.as_str())),
    )?;
    for u in &after.upstream_states {
        render::fix_session::directly(out, &u.address, u.probe.as_deref())?;
    }
    // The upstream answers directly: every probe of the route's upstreams connected and got
    // no 5xx (a FastCGI pool answers FCGI_GET_VALUES, not HTTP).
    let upstream_ok = !after.upstream_states.is_empty()
        && after.upstream_states.iter().all(|u| {
            facts.probe_of(&u.address).is_some_and(|p| {
                p.error.is_none() && p.connected && p.status.is_none_or(|s| s < 500)
            })
        });
    if through_ok && upstream_ok {
        render::fix_session::fixed(out)?;
        Ok(ExitStatus::Healthy)
    } else {
        let lead = after
            .findings
            .first()
            .map(|f| (f.finding.cause.id(), f.finding.title.as_str()));
        render::fix_session::still_failing(out, lead)?;
        Ok(ExitStatus::Problems)
    }
}

/// `route --json`: `{"schema_version", "tool", "site", "path", "route"}` (design §5).
#[derive(serde::Serialize)]
struct RouteDoc<'a> {
    schema_version: u32,
    tool: report::ToolInfo,
    site: &'a str,
    path: &'a str,
    route: &'a crate::facts::Route,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    config_issues: &'a [crate::facts::ConfigIssue],
    /// Without --path: every location of the server and where it ends.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    locations: &'a [crate::facts::Route],
}

fn route(args: &RouteArgs, color: bool, out: &mut dyn Write) -> anyhow::Result<ExitStatus> {
    let opts =
        config::gather_options(&args.target, None).map_err(|e| fail(ExitStatus::Usage, e))?;
    let found = gather::nginx_only(&opts)?;
    // Problems with a file:line are syntax errors or unreadable includes of this
    // configuration: `nginx -t` rejects it, so the route is no all-clear (exit 1).
    let rejected = found.issues.iter().any(|i| i.line > 0);
    let Some(route) = &found.route else {
        // The configuration problems usually say why there is no route: show them all.
        let problems: String = found.issues.iter().map(|i| format!("\n  {i}")).collect();
        let problems = if problems.is_empty() {
            problems
        } else {
            format!("; configuration problems:{problems}")
        };
        return Err(fail(
            if rejected {
                ExitStatus::Problems
            } else {
                ExitStatus::Incomplete
            },
            anyhow!(
                "no route for {}{}: {}{problems}",
                opts.request.site,
                opts.request.path,
                found.route_error.as_deref().unwrap_or("unknown")
            ),
        ));
    };
    if args.json {
        render::json(
            &RouteDoc {
                schema_version: report::JSON_SCHEMA_VERSION,
                tool: report::tool(),
                site: &opts.request.site,
                path: &opts.request.path,
                route,
                config_issues: &found.issues,
                locations: &found.site_routes,
            },
            out,
        )?;
    } else {
        render::human::config_problems(&found.issues, rejected, out)?;
        render::human::route(route, color, out)?;
        render::human::site_locations(&found.site_routes, color, out)?;
    }
    Ok(if rejected {
        ExitStatus::Problems
    } else {
        ExitStatus::Healthy
    })
}

fn explain(args: &ExplainArgs, out: &mut dyn Write) -> anyhow::Result<ExitStatus> {
    match &args.cause {
        None => {
            for c in Cause::ALL {
                writeln!(out, "{:<24} {}", c.id(), c.meaning())?;
            }
            Ok(ExitStatus::Healthy)
        }
        Some(id) => {
            let cause = Cause::from_id(id).ok_or_else(|| {
                fail(
                    ExitStatus::Usage,
                    anyhow!("unknown cause {id:?}; `badgw explain` lists them all"),
                )
            })?;
            out.write_all(cause.doc().as_bytes())?;
            Ok(ExitStatus::Healthy)
        }
    }
}

fn completions(args: &CompletionsArgs, out: &mut dyn Write) -> anyhow::Result<ExitStatus> {
    // clap_complete panics when its writer fails (a closed pipe): render to memory first.
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "badgw", &mut buf);
    out.write_all(&buf)?;
    Ok(ExitStatus::Healthy)
}
