//! Command dispatch: each subcommand resolves its options, gathers or loads facts, runs
//! the checks and hands a finished report to a renderer. Returns the exit status.

use std::io::Write;

use anyhow::{anyhow, Context};
use clap::CommandFactory;

use crate::cause::Cause;
use crate::cli::{Cli, Command, CompletionsArgs, DiagnoseArgs, ExplainArgs, RouteArgs};
use crate::exit::{fail, ExitStatus};
use crate::facts::{Facts, SNAPSHOT_SCHEMA_VERSION};
use crate::{checks, config, gather, render, report};

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
        Command::ExplainLog(args) => crate::logs::run_explain_log(&args, color, out),
        Command::Explain(args) => explain(&args, out),
        Command::Completions(args) => completions(&args, out),
    }
}

/// Facts from a snapshot (`--from`) or from this host.
fn facts_for(args: &DiagnoseArgs) -> anyhow::Result<Facts> {
    if let Some(path) = &args.target.from {
        let bytes = std::fs::read(path)
            .with_context(|| format!("reading snapshot {}", path.display()))
            .map_err(|e| fail(ExitStatus::Usage, e))?;
        let facts: Facts = serde_json::from_slice(&bytes)
            .with_context(|| {
                format!(
                    "{} is not a badgw snapshot (write one with `badgw collect`)",
                    path.display()
                )
            })
            .map_err(|e| fail(ExitStatus::Usage, e))?;
        if facts.schema_version != SNAPSHOT_SCHEMA_VERSION {
            return Err(fail(
                ExitStatus::Usage,
                anyhow!("{}: snapshot schema {} is not supported (this badgw reads {SNAPSHOT_SCHEMA_VERSION})", path.display(), facts.schema_version),
            ));
        }
        return Ok(facts);
    }
    let opts = config::gather_options(&args.target, Some(&args.sources))
        .map_err(|e| fail(ExitStatus::Usage, e))?;
    gather::collect(&opts)
}

fn diagnose(args: &DiagnoseArgs, color: bool, out: &mut dyn Write) -> anyhow::Result<ExitStatus> {
    if !args.json && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        crate::progress::enable();
    }
    let facts = facts_for(args);
    crate::progress::done();
    let facts = facts?;
    let runs = checks::run_all(&facts);
    let report = report::build(&facts, &runs);
    if args.json {
        render::json(&report, out)?;
    } else {
        render::human::diagnose(&report, color, args.verbose, out)?;
    }
    Ok(report.exit)
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
