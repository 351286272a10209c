//! Human output of `diagnose` and `route`: the route, the most likely cause first with its
//! evidence and fix commands, then one line for the checks (the full table with `-v`, and
//! always when the diagnosis is incomplete). The default report fits one screen (40 lines
//! of 100 columns in every lab scenario). Colors only when asked for.

use std::io::{self, Write};

use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, ContentArrangement, Table};
use owo_colors::OwoColorize;

use super::sanitize::escape_for_terminal as esc;
use crate::cause::Cause;
use crate::checks::{CheckStatus, Safety, Severity};
use crate::exit::ExitStatus;
use crate::facts::Route;
use crate::report::Report;

/// Applies a style only when color is on.
struct Paint {
    on: bool,
}

impl Paint {
    fn bold(&self, s: &str) -> String {
        if self.on {
            s.bold().to_string()
        } else {
            s.to_string()
        }
    }
    fn dim(&self, s: &str) -> String {
        if self.on {
            s.dimmed().to_string()
        } else {
            s.to_string()
        }
    }
    fn red(&self, s: &str) -> String {
        if self.on {
            s.red().bold().to_string()
        } else {
            s.to_string()
        }
    }
    fn yellow(&self, s: &str) -> String {
        if self.on {
            s.yellow().bold().to_string()
        } else {
            s.to_string()
        }
    }
    fn green(&self, s: &str) -> String {
        if self.on {
            s.green().to_string()
        } else {
            s.to_string()
        }
    }
    fn cyan(&self, s: &str) -> String {
        if self.on {
            s.cyan().to_string()
        } else {
            s.to_string()
        }
    }
}

pub fn diagnose(
    report: &Report,
    color: bool,
    verbose: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    let full = verbose || report.exit == ExitStatus::Incomplete || report.route.is_none();
    if full {
        return diagnose_at(report, color, verbose, 0, out);
    }
    // The one-screen report: the first level of detail whose plain text fits SCREEN_ROWS
    // rows of WIDTH columns (long lines wrap); the tightest when none does.
    let mut level = 0;
    while level < TIGHTEST {
        let mut plain = Vec::new();
        diagnose_at(report, false, verbose, level, &mut plain)?;
        if screen_rows(&String::from_utf8_lossy(&plain)) <= SCREEN_ROWS {
            break;
        }
        level += 1;
    }
    diagnose_at(report, color, verbose, level, out)
}

/// Rows `text` takes on a terminal WIDTH columns wide.
fn screen_rows(text: &str) -> usize {
    text.lines()
        .map(|l| l.chars().count().div_ceil(WIDTH).max(1))
        .sum()
}

/// The report at one level of detail (0 the most; only the one-screen report goes past 0):
/// 1 shows other causes and notes by their heading only; 2 drops the timeout table and
/// trims the lead's evidence and fixes; 3 keeps the lead's first evidence lines and fix.
fn diagnose_at(
    report: &Report,
    color: bool,
    verbose: bool,
    level: u8,
    out: &mut dyn Write,
) -> io::Result<()> {
    let p = Paint { on: color };
    let host = report
        .hostname
        .as_deref()
        .map(|h| format!(" on {}", esc(h)))
        .unwrap_or_default();
    writeln!(
        out,
        "{}",
        p.bold(&format!(
            "badgw: why {}{} answers 502/504{host}",
            esc(&report.site),
            esc(&report.path)
        ))
    )?;
    if let Some(v) = report
        .view
        .as_ref()
        .filter(|v| v.net != crate::facts::Ns::Host || v.mnt != crate::facts::Ns::Host)
    {
        writeln!(out, "{}", p.dim(&format!("view: {}", v.summary)))?;
    }
    if let Some(n) = &report.nginx {
        let pid = n
            .master_pid
            .map(|p| format!("master pid {p}, "))
            .unwrap_or_default();
        let line = format!(
            "nginx: {pid}{} ({} file(s); {})",
            esc(&n.conf_path),
            n.files,
            esc(&n.discovered_by)
        );
        let line = if verbose {
            line.into()
        } else {
            clip(&line, WIDTH)
        };
        writeln!(out, "{}", p.dim(&line))?;
        for i in &n.issues {
            writeln!(
                out,
                "{} {}",
                p.yellow("config problem:"),
                esc(&i.to_string())
            )?;
        }
    }
    writeln!(out)?;
    if let Some(r) = &report.route {
        // Two rows at most for the chain in the one-screen report.
        let chain_width = (!verbose).then_some(2 * WIDTH - 11);
        route_lines_within(r, &p, chain_width, out)?;
        for u in &report.upstream_states {
            let mark = if u.ok { p.green("ok") } else { p.red("FAIL") };
            let listener = u.listener.as_deref().unwrap_or("listeners not visible");
            // The probe's text without the address the line starts with.
            let probe = u
                .probe
                .as_deref()
                .map(|x| {
                    let x = x
                        .strip_prefix(u.address.as_str())
                        .map_or(x, |r| r.strip_prefix(':').unwrap_or(r).trim_start());
                    format!("; {}", val(x))
                })
                .unwrap_or_default();
            let text = format!("{}{probe}", val(listener));
            // Two rows at most in the one-screen report (the listener, then the probe).
            let room = (2 * WIDTH).saturating_sub(14 + u.address.chars().count());
            let text = if verbose {
                text.into()
            } else {
                clip(&text, room)
            };
            writeln!(out, "    → {} [{mark}] {text}", p.bold(&val(&u.address)),)?;
        }
        if let Some(sw) = &report.site_wide {
            site_wide_lines(sw, r, &p, out)?;
        }
        writeln!(out)?;
    }
    if let Some(why) = &report.incomplete {
        writeln!(out, "{} {}", p.yellow("Diagnosis incomplete:"), esc(why))?;
    } else if report.exit == ExitStatus::Healthy && report.route.is_some() {
        // Info findings may remain (facts worth knowing), but nothing is wrong.
        writeln!(
            out,
            "{}",
            p.green("No problem found: nginx's upstream for this request is up and answers.")
        )?;
    } else if report.findings.is_empty() {
        writeln!(
            out,
            "{}",
            p.yellow("Diagnosis incomplete: no route could be determined (see the notes below).")
        )?;
    }
    // The one-screen report: the lead finding in full (evidence folded and clipped to a
    // line each), other roots briefly, symptoms as one line; `-v` shows everything.
    let full = verbose || report.exit == ExitStatus::Incomplete || report.route.is_none();
    let (lead_evidence, lead_fixes) = match level {
        0 | 1 => (LEAD_EVIDENCE_LINES, usize::MAX),
        2 => (4, 2),
        _ => (2, 1),
    };
    for (i, f) in report.findings.iter().enumerate() {
        let heading = if f.finding.severity == Severity::Info {
            "Noted"
        } else if i == 0 {
            "Most likely cause"
        } else if f.explained_by.is_some() {
            "Symptom"
        } else {
            "Also found"
        };
        let sev = match f.finding.severity {
            Severity::Critical => p.red("critical"),
            Severity::Warning => p.yellow("warning"),
            Severity::Info => p.dim("info"),
        };
        writeln!(
            out,
            "{} {} — {} ({sev}, {:.0}% sure)",
            p.bold(&format!("{}. {heading}:", i + 1)),
            p.cyan(f.finding.cause.id()),
            esc(&f.finding.title),
            f.confidence_score * 100.0
        )?;
        let several = report
            .site_wide
            .as_ref()
            .is_some_and(|s| s.upstreams.len() > 1);
        if let (true, Some(l), None) = (several, &f.location, f.explained_by) {
            writeln!(out, "   {}", p.dim(&val(&location_tag(l))))?;
        }
        if let Some(root) = f.explained_by {
            writeln!(out, "   {}", p.dim(&format!("explained by {root} above")))?;
            if !full {
                continue;
            }
        }
        // A fact worth knowing, not a fault: its heading only, unless it leads or -v.
        if f.finding.severity == Severity::Info && i > 0 && !full {
            continue;
        }
        // Tighter: other causes by their heading only (`-v` has the rest).
        if i > 0 && level >= 1 && !full {
            continue;
        }
        let folded = report.folded_evidence.get(i);
        let limit = match (full, i) {
            (true, _) => usize::MAX,
            (false, 0) => lead_evidence,
            (false, _) => OTHER_EVIDENCE_LINES,
        };
        match folded {
            Some(folded) if !full => {
                for e in folded.iter().take(limit) {
                    let more = if e.count > 1 {
                        format!("×{} ", e.count)
                    } else {
                        String::new()
                    };
                    evidence_line(out, &p, &more, &e.first, full)?;
                    if let Some(last) = &e.last {
                        evidence_line(out, &p, "last ", last, full)?;
                    }
                }
                if folded.len() > limit {
                    writeln!(
                        out,
                        "   {}",
                        p.dim(&format!(
                            "… {} more evidence line(s): -v",
                            folded.len() - limit
                        ))
                    )?;
                }
            }
            _ => {
                for e in &f.finding.evidence {
                    evidence_line(out, &p, "", e, full)?;
                }
            }
        }
        if !f.finding.fixes.is_empty() && f.explained_by.is_none() {
            writeln!(out, "   {}", p.bold("fix:"))?;
            let fixes = if full {
                &f.finding.fixes[..]
            } else if i == 0 {
                &f.finding.fixes[..f.finding.fixes.len().min(lead_fixes)]
            } else {
                &f.finding.fixes[..1]
            };
            for x in fixes {
                let tag = match x.safety {
                    Safety::Safe => "",
                    Safety::ReviewFirst => " (changes the host: review first)",
                };
                writeln!(out, "   - {}{}", esc(&x.summary), p.dim(tag))?;
                // A fix of several configuration lines is shown one line each.
                for line in x.command.lines() {
                    writeln!(out, "       {}", p.bold(&esc(line)))?;
                }
            }
        }
        if full || i == 0 {
            writeln!(
                out,
                "   {}",
                p.dim(&format!("more: badgw explain {}", f.finding.cause.id()))
            )?;
        }
        if full || i == 0 {
            writeln!(out)?;
        }
    }
    let timeouts_matter = report
        .findings
        .iter()
        // An info note ("nginx gives up first") does not earn a 12-row table on one screen.
        .any(|f| f.finding.cause == Cause::UpstreamTimeout && f.finding.severity != Severity::Info);
    if !report.timeouts.is_empty() && (full || (timeouts_matter && level < 2)) {
        let mut table = new_table(color);
        table.set_header(vec!["hop", "setting", "seconds", "set at"]);
        for t in &report.timeouts {
            table.add_row(vec![
                Cell::new(t.hop),
                Cell::new(cell(&t.setting)),
                Cell::new(t.seconds.map_or("off".to_string(), |s| format!("{s}"))),
                Cell::new(cell(&t.source)),
            ]);
        }
        writeln!(out, "{}", p.bold("Timeouts"))?;
        writeln!(out, "{table}")?;
    }
    timeline(report, &p, full, out)?;
    if full {
        let mut table = new_table(color);
        table.set_header(vec!["check", "status", "detail", "ms"]);
        for c in &report.checks {
            let status = match c.status {
                CheckStatus::Pass => p.green("pass"),
                CheckStatus::Fail => p.red("fail"),
                CheckStatus::Warn => p.yellow("warn"),
                CheckStatus::Skipped => p.dim("skipped"),
                CheckStatus::Error => p.red("error"),
            };
            table.add_row(vec![
                Cell::new(c.id),
                Cell::new(status),
                Cell::new(cell(&c.detail)),
                Cell::new(format!("{:.1}", c.duration_ms)),
            ]);
        }
        writeln!(out, "{}", p.bold("Checks"))?;
        writeln!(out, "{table}")?;
    } else {
        let s = &report.checks_summary;
        let mut parts = vec![format!("{} failed", s.failed)];
        if s.warned > 0 {
            parts.push(format!("{} warned", s.warned));
        }
        parts.push(format!("{} passed", s.passed));
        parts.push(format!("{} not applicable", s.not_applicable));
        if s.errors > 0 {
            parts.push(p.red(&format!("{} internal error(s)", s.errors)));
        }
        writeln!(
            out,
            "{} checks: {} {}",
            s.total,
            parts.join(", "),
            p.dim("— -v for details")
        )?;
    }
    let notes = if full {
        report.notes.len()
    } else if level >= 1 {
        1.min(report.notes.len())
    } else {
        NOTES_SHOWN.min(report.notes.len())
    };
    for n in &report.notes[..notes] {
        let text = esc(n);
        let text = if full { text } else { clip(&text, WIDTH - 6) };
        writeln!(out, "{} {}", p.dim("note:"), text)?;
    }
    if notes < report.notes.len() {
        writeln!(
            out,
            "{}",
            p.dim(&format!(
                "… {} more note(s): -v",
                report.notes.len() - notes
            ))
        )?;
    }
    Ok(())
}

/// `at location ~ \.php$ (default:56) → unix:/run/php/php8.2-fpm.sock (GET /index.php)`
fn location_tag(l: &crate::rank::FindingLocation) -> String {
    let m = if l.modifier.is_empty() {
        String::new()
    } else {
        format!("{} ", l.modifier)
    };
    let path = l
        .path
        .as_deref()
        .map(|p| format!(" (GET {p}{})", if l.failing { ", failing" } else { "" }))
        .unwrap_or_default();
    format!(
        "at location {m}{} ({}:{}) → {}{path}",
        l.pattern,
        crate::nginx::short(&l.file),
        l.line,
        l.upstreams.join(", ")
    )
}

/// Site-wide mode, under the route: the other upstreams that are not healthy (a line
/// each, at most three), then one line for everything that does not fail.
fn site_wide_lines(
    sw: &crate::report::sitewide::SiteWide,
    lead: &Route,
    p: &Paint,
    out: &mut dyn Write,
) -> io::Result<()> {
    let lead_addrs: Vec<&str> = lead.upstreams.iter().map(|u| u.address.as_str()).collect();
    let others: Vec<_> = sw
        .upstreams
        .iter()
        .filter(|u| {
            !u.healthy
                && u.upstreams
                    .iter()
                    .map(String::as_str)
                    .ne(lead_addrs.iter().copied())
        })
        .collect();
    for u in others.iter().take(3) {
        let failing = if u.failing_paths.is_empty() {
            String::new()
        } else {
            format!(", failing: {}", u.failing_paths.join(" "))
        };
        let line = format!(
            "    also: {} [{}] ({}{failing})",
            u.target,
            if u.findings > 0 { "FAIL" } else { "?" },
            u.paths.join(" ")
        );
        writeln!(out, "{}", clip(&val(&line), WIDTH))?;
    }
    if others.len() > 3 {
        writeln!(
            out,
            "    {}",
            p.dim(&format!("… {} more upstream(s): -v", others.len() - 3))
        )?;
    }
    if let Some(s) = &sw.summary {
        writeln!(out, "    {}", p.dim(&clip(&val(s), WIDTH - 4)))?;
    }
    Ok(())
}

/// The timeline: its summary sentence and a sparkline of 502/504 per minute; every event
/// with `-v`.
fn timeline(report: &Report, p: &Paint, full: bool, out: &mut dyn Write) -> io::Result<()> {
    if report.timeline.is_empty() {
        return Ok(());
    }
    let max = report
        .timeline_minutes
        .iter()
        .map(|(_, n)| *n)
        .max()
        .unwrap_or(0);
    let spark: String = report
        .timeline_minutes
        .iter()
        .map(|(_, n)| {
            const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
            if max == 0 {
                BARS[0]
            } else {
                BARS[((*n * 7).div_ceil(max)) as usize]
            }
        })
        .collect();
    let mut head = p.bold("Timeline").to_string();
    if !spark.is_empty() {
        let (first, last) = (
            report
                .timeline_minutes
                .first()
                .map(|(m, _)| m.as_str())
                .unwrap_or(""),
            report
                .timeline_minutes
                .last()
                .map(|(m, _)| m.as_str())
                .unwrap_or(""),
        );
        let hm = |m: &str| m.get(11..16).unwrap_or(m).to_string();
        head.push_str(&format!(
            "  502/504 per minute {} {spark} {} (max {max})",
            hm(first),
            hm(last)
        ));
    }
    if spark.is_empty() && report.timeline_summary.is_none() && !full {
        // Nothing failed in the window: the events are context, for -v.
        return Ok(());
    }
    writeln!(out, "{head}")?;
    if let Some(s) = &report.timeline_summary {
        let s = esc(s);
        writeln!(out, "  {}", if full { s } else { clip(&s, WIDTH - 2) })?;
    }
    if full {
        for e in &report.timeline {
            let last = e
                .last
                .as_deref()
                .map(|l| format!(" … {}", l.get(11..).unwrap_or(l)))
                .unwrap_or_default();
            let after = e
                .first_failure_after
                .as_ref()
                .map(|f| format!(" → first failure {} s later", f.seconds))
                .unwrap_or_default();
            writeln!(
                out,
                "  {}{last}  {:<13} {}{after} {}",
                e.time.get(11..).unwrap_or(&e.time),
                e.kind,
                esc(&e.text),
                p.dim(&format!("({})", esc(&e.source)))
            )?;
        }
    }
    Ok(())
}

/// The width the default report is laid out for, and the rows it fits in.
const WIDTH: usize = 100;
const SCREEN_ROWS: usize = 40;
/// The tightest level of detail of the one-screen report.
const TIGHTEST: u8 = 3;
/// Folded evidence lines shown for the lead finding, and for each other root, by default.
const LEAD_EVIDENCE_LINES: usize = 6;
const OTHER_EVIDENCE_LINES: usize = 2;
const NOTES_SHOWN: usize = 3;

/// One evidence line: in full with `-v`, else clipped to the screen width.
fn evidence_line(
    out: &mut dyn Write,
    p: &Paint,
    prefix: &str,
    e: &crate::checks::Evidence,
    full: bool,
) -> io::Result<()> {
    let source = esc(&e.source);
    let text = esc(&e.text);
    if full {
        return writeln!(out, "   {prefix}{} {text}", p.dim(&format!("{source}:")));
    }
    let head = format!("{prefix}{source}: ");
    let room = WIDTH.saturating_sub(3 + head.chars().count()).max(20);
    writeln!(
        out,
        "   {prefix}{} {}",
        p.dim(&format!("{source}:")),
        clip(&text, room)
    )
}

/// The longest value shown in a table cell or a route line; the full value is in `--json`.
/// Table layout is quadratic in the longest unbroken word of a cell: a 100 KB URI took
/// minutes to lay out, so long values are cut before they reach the table.
const LONG_VALUE: usize = 400;

/// Host text for a table cell: escaped, and cut to [`LONG_VALUE`] characters.
fn cell(s: &str) -> String {
    long(&esc(s)).into_owned()
}

/// Already-escaped text cut to [`LONG_VALUE`] characters, saying how much was cut.
fn long(s: &str) -> std::borrow::Cow<'_, str> {
    let n = s.chars().count();
    if n <= LONG_VALUE {
        return std::borrow::Cow::Borrowed(s);
    }
    let head: String = s.chars().take(LONG_VALUE - 1).collect();
    std::borrow::Cow::Owned(format!(
        "{head}… ({} more characters: --json has the full value)",
        n - (LONG_VALUE - 1)
    ))
}

/// Host text for a route line: escaped, and cut like a cell.
fn val(s: &str) -> String {
    long(&esc(s)).into_owned()
}

/// `s` cut to `width` characters, with `…` marking the cut.
fn clip(s: &str, width: usize) -> std::borrow::Cow<'_, str> {
    if s.chars().count() <= width {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut t: String = s.chars().take(width.saturating_sub(1)).collect();
    t.push('…');
    std::borrow::Cow::Owned(t)
}

fn new_table(color: bool) -> Table {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    if !color {
        table.force_no_tty();
    }
    // Off a terminal the width is unknown: wrap long details at a readable width.
    if table.width().is_none() {
        table.set_width(110);
    }
    table
}

/// The route as `site → server → location → directive target`.
pub fn route_lines(r: &Route, p_on: &impl RoutePaint, out: &mut dyn Write) -> io::Result<()> {
    route_lines_within(r, p_on, None, out)
}

/// [`route_lines`] with the chain cut to `chain_width` characters (the one-screen report;
/// `-v` and `--json` have it whole).
fn route_lines_within(
    r: &Route,
    p_on: &impl RoutePaint,
    chain_width: Option<usize>,
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(out, "{}", p_on.heading("Route"))?;
    writeln!(
        out,
        "  server   {}:{}  server_name {}  listen {}",
        val(&r.server.file),
        r.server.line,
        val(&r.server.server_name.join(" ")),
        val(&r.server.listen.join(", "))
    )?;
    match &r.location {
        Some(l) => writeln!(
            out,
            "  location {}{}{}  {}:{}",
            l.modifier,
            if l.modifier.is_empty() { "" } else { " " },
            val(&l.pattern),
            val(&l.file),
            l.line
        )?,
        None => writeln!(out, "  location (none matches)")?,
    }
    if r.hops.len() > 2
        || r.hops
            .iter()
            .any(|h| h.kind == "redirect" || h.kind == "error_page")
    {
        let chain = val(&chain_text(&r.hops));
        let chain = match chain_width {
            Some(w) => clip(&chain, w).into_owned(),
            None => chain,
        };
        writeln!(out, "  chain    {chain}")?;
    }
    for b in &r.branches {
        writeln!(
            out,
            "  or, if {}: {}",
            esc(&b.assumed.join("; ")),
            val(&chain_text(&b.hops))
        )?;
    }
    if let Some(e) = &r.on_upstream_error {
        writeln!(
            out,
            "  when the upstream fails: {}; clients get that answer, not the 502/504",
            esc(e)
        )?;
    }
    if r.directive.is_none() && r.ends.as_deref() == Some("status") {
        writeln!(
            out,
            "  (nginx answers itself with {}: no *_pass directive is reached)",
            r.status
                .filter(|c| *c != 0)
                .map(|c| c.to_string())
                .unwrap_or_else(|| "a status it decides at run time".into())
        )?;
    } else if let (Some(d), Some(t)) = (&r.directive, &r.target) {
        let at = r
            .directive_at
            .as_ref()
            .map(|a| format!("  {}", val(&a.to_string())))
            .unwrap_or_default();
        writeln!(out, "  {} {}{at}", val(d), val(t))?;
    } else {
        writeln!(out, "  (served by nginx itself: no *_pass directive)")?;
    }
    if let (Some(g), Some(at)) = (&r.group, &r.group_at) {
        writeln!(out, "  upstream {} {}", val(g), val(&at.to_string()))?;
    }
    for a in &r.auth_requests {
        let ends = match (a.route.ends.as_deref(), &a.route.directive, &a.route.target) {
            (Some("upstream"), Some(d), Some(t)) => format!("{d} {t}"),
            (Some("status"), _, _) => format!(
                "nginx answers {}",
                a.route
                    .status
                    .filter(|c| *c != 0)
                    .map_or("?".into(), |c| c.to_string())
            ),
            _ => "served by nginx itself".into(),
        };
        writeln!(
            out,
            "  auth_request {} ({}:{}) → {}; when it fails nginx answers 500",
            val(&a.uri),
            crate::nginx::short(&a.at.file),
            a.at.line,
            val(&ends)
        )?;
    }
    if let Some(d) = &r.dynamic {
        writeln!(out, "  dynamic target: {}", val(d))?;
    }
    Ok(())
}

/// `/ → location / (default:45) → try_files (default:48) → /index.php → …`
pub fn chain_text(hops: &[crate::facts::RouteHop]) -> String {
    let mut parts: Vec<String> = Vec::new();
    for h in hops {
        let at =
            h.at.as_ref()
                .map(|a| format!(" ({}:{})", crate::nginx::short(&a.file), a.line))
                .unwrap_or_default();
        let part = match h.kind.as_str() {
            "request" | "redirect" => h.text.rsplit(' ').next().unwrap_or(&h.text).to_string(),
            "try_files" if h.text.starts_with("try_files: no file found") => {
                format!("try_files{at}")
            }
            "index"
                if h.uri.is_none()
                    && !h.text.contains("exists")
                    && !h.text.contains("not exist") =>
            {
                format!("{}{at}", h.text)
            }
            "rewrite" => match &h.uri {
                Some(u) => format!("{}{at} → {u}", h.text),
                None => format!("{}{at}", h.text),
            },
            _ => format!("{}{at}", h.text),
        };
        parts.push(part);
    }
    parts.join(" → ")
}

/// `badgw route` without --path: every location and where a request to it ends.
pub fn site_locations(routes: &[Route], color: bool, out: &mut dyn Write) -> io::Result<()> {
    if routes.is_empty() {
        return Ok(());
    }
    let p = Paint { on: color };
    writeln!(out, "{}", p.bold("Every location of the server"))?;
    for r in routes {
        let ends = match (r.ends.as_deref(), &r.directive, &r.target) {
            (Some("upstream"), Some(d), Some(t)) => format!("{d} {t}"),
            (Some("status"), _, _) => format!(
                "nginx answers {}",
                r.status
                    .filter(|c| *c != 0)
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "(decided at run time)".into())
            ),
            (Some("static"), _, _) => "static files".into(),
            _ => "?".into(),
        };
        writeln!(
            out,
            "  {:<28} → {}",
            esc(r.path.as_deref().unwrap_or("")),
            val(&ends)
        )?;
        writeln!(out, "      {}", p.dim(&val(&chain_text(&r.hops))))?;
    }
    Ok(())
}

/// Lets `route_lines` be shared by the diagnose and route renderers.
pub trait RoutePaint {
    fn heading(&self, s: &str) -> String;
}

impl RoutePaint for Paint {
    fn heading(&self, s: &str) -> String {
        self.bold(s)
    }
}

/// The configuration's problems before `route`'s answer; `rejected` when nginx -t would
/// refuse the configuration (the route is then what nginx would do once it is fixed).
pub fn config_problems(
    issues: &[crate::facts::ConfigIssue],
    rejected: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    if rejected {
        writeln!(
            out,
            "nginx -t rejects this configuration ({} problem(s)); the route below is read past them:",
            issues.iter().filter(|i| i.line > 0).count()
        )?;
    }
    for i in issues {
        writeln!(out, "config problem: {}", val(&i.to_string()))?;
    }
    Ok(())
}

/// Human output of `badgw route`.
pub fn route(r: &Route, color: bool, out: &mut dyn Write) -> io::Result<()> {
    let p = Paint { on: color };
    route_lines(r, &p, out)?;
    for u in &r.upstreams {
        let params = if u.params.is_empty() {
            String::new()
        } else {
            format!(" {}", val(&u.params.join(" ")))
        };
        let host = u
            .host
            .as_deref()
            .map(|h| format!(" (from {})", val(h)))
            .unwrap_or_default();
        writeln!(
            out,
            "    → {} {}{host}{params}  {}:{}",
            u.kind.as_str(),
            val(&u.address),
            val(&u.file),
            u.line
        )?;
    }
    let s = &r.settings;
    let secs = |v: Option<f64>| v.map(|v| format!("{v}s")).unwrap_or_else(|| "-".into());
    writeln!(
        out,
        "  timeouts connect {} · send {} · read {}",
        secs(s.connect_timeout_s),
        secs(s.send_timeout_s),
        secs(s.read_timeout_s)
    )?;
    if let Some(b) = s.buffer_size {
        writeln!(out, "  buffer_size {b} bytes")?;
    }
    if let Some(k) = s.keepalive {
        writeln!(
            out,
            "  upstream keepalive {k} (timeout {})",
            secs(s.keepalive_timeout_s)
        )?;
    }
    for (k, v) in &s.other {
        writeln!(out, "  {} {}", val(k), val(v))?;
    }
    if let Some(e) = &r.error_log {
        writeln!(out, "  error_log {}", val(e))?;
    }
    if let Some(a) = &r.access_log {
        match &r.access_log_format {
            Some(f) => writeln!(out, "  access_log {} {}", val(a), val(&f.name))?,
            None => writeln!(out, "  access_log {}", val(a))?,
        }
    }
    for n in &r.notes {
        writeln!(out, "  {} {}", p.dim("note:"), val(n))?;
    }
    Ok(())
}
