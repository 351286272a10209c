//! Keeps the checks consistent as they grow: registry ids, doc pages, file headers.

use badgw::cause::Cause;
use badgw::checks::registry::CHECKS;

#[test]
fn check_ids_are_unique_kebab_case() {
    let mut seen = std::collections::HashSet::new();
    for c in CHECKS {
        let id = c.id();
        assert!(seen.insert(id), "duplicate check id {id}");
        assert!(
            !id.is_empty()
                && id
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-'),
            "check id {id} is not kebab-case"
        );
    }
}

#[test]
fn every_cause_a_check_reports_has_a_full_doc_page() {
    for c in CHECKS {
        for cause in c.causes() {
            let doc = cause.doc();
            assert!(
                doc.lines().count() >= 8,
                "docs/causes/{}.md is too thin for a cause `{}` reports",
                cause.id(),
                c.id()
            );
            assert!(
                doc.to_lowercase().contains("fix"),
                "docs/causes/{}.md has no fix section",
                cause.id()
            );
        }
    }
}

#[test]
fn every_check_file_has_the_header_sections() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/checks");
    let skip = ["mod.rs", "registry.rs", "evidence.rs", "route.rs"];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if skip.contains(&name.as_str()) || !name.ends_with(".rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let header: String = text
            .lines()
            .take_while(|l| l.starts_with("//!"))
            .collect::<Vec<_>>()
            .join("\n");
        for section in [
            "Detects",
            "Why nginx returns 5",
            "Evidence used",
            "False positives avoided",
        ] {
            assert!(
                header.contains(section),
                "src/checks/{name}: the //! header lacks `{section}`"
            );
        }
        assert!(
            text.contains("#[cfg(test)]"),
            "src/checks/{name} has no unit tests"
        );
    }
}

#[test]
fn every_registered_cause_id_round_trips() {
    for c in CHECKS {
        for cause in c.causes() {
            assert_eq!(Cause::from_id(cause.id()), Some(*cause));
        }
    }
}

/// Files in src/checks/ that are not checks: the module root, the registry, shared helpers.
const NOT_CHECKS: &[&str] = &["mod.rs", "registry.rs", "evidence.rs"];

fn check_files() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/checks");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".rs") && !NOT_CHECKS.contains(&n.as_str()))
        .collect();
    names.sort();
    names
}

/// `port-bound` → `port_bound.rs`: the file is named after the id users see in the JSON.
fn file_of(id: &str) -> String {
    format!("{}.rs", id.replace('-', "_"))
}

/// `port-bound` → `PortBound`: one naming convention for the check structs.
fn struct_of(id: &str) -> String {
    id.split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

#[test]
fn every_check_file_is_registered_under_its_own_name() {
    let files = check_files();
    for file in &files {
        assert!(
            CHECKS.iter().any(|c| file_of(c.id()) == *file),
            "src/checks/{file} is not in src/checks/registry.rs (or its file name is not its check id)"
        );
    }
    for c in CHECKS {
        assert!(
            files.contains(&file_of(c.id())),
            "check `{}` must live in src/checks/{} (file name = check id; rename files, never ids)",
            c.id(),
            file_of(c.id())
        );
    }
}

#[test]
fn registry_lists_each_check_struct_named_after_its_id() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/checks/registry.rs"
    ))
    .unwrap();
    let listed: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter_map(|l| l.strip_prefix('&')?.strip_suffix(',').map(str::to_string))
        .collect();
    let expected: Vec<String> = CHECKS.iter().map(|c| struct_of(c.id())).collect();
    assert_eq!(
        listed, expected,
        "each check struct is the CamelCase of its id, with no suffix"
    );
}

#[test]
fn every_cause_is_produced_by_some_check() {
    for cause in Cause::ALL {
        assert!(
            CHECKS.iter().any(|c| c.causes().contains(cause)),
            "cause `{}` is declared in src/cause.rs but no check in the registry reports it",
            cause.id()
        );
    }
}

/// Every check, run on every recorded snapshot, reports only the causes it declares.
#[test]
fn checks_emit_only_the_causes_they_declare() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/snapshots");
    let mut snapshots = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let facts: badgw::facts::Facts =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        snapshots += 1;
        for run in badgw::checks::run_all(&facts) {
            let check = CHECKS.iter().find(|c| c.id() == run.id).unwrap();
            if let badgw::checks::Verdict::Found(findings) = &run.verdict {
                for f in findings {
                    assert!(
                        check.causes().contains(&f.cause),
                        "check `{}` reported `{}` on {} without declaring it in causes()",
                        run.id,
                        f.cause.id(),
                        path.display()
                    );
                }
            }
        }
    }
    assert!(
        snapshots >= 5,
        "fixtures/snapshots has only {snapshots} snapshots"
    );
}

#[test]
fn architecture_doc_table_matches_the_registry() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/architecture.md"))
        .unwrap();
    // Rows of the checks table: | `id` | file.rs | causes |
    let rows: Vec<(String, String)> = doc
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let id = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            let file = cells.get(2)?;
            file.ends_with(".rs")
                .then(|| (id.to_string(), file.to_string()))
        })
        .collect();
    let expected: Vec<(String, String)> = CHECKS
        .iter()
        .map(|c| (c.id().to_string(), file_of(c.id())))
        .collect();
    assert_eq!(
        rows, expected,
        "docs/architecture.md's checks table must list the registry, in order"
    );
}

/// Causes that cannot be produced on this machine, with the unit test that replays their
/// recorded evidence instead.
const NOT_REPRODUCIBLE_HERE: &[(&str, &str)] = &[(
    "selinux-denied",
    "no SELinux kernel here: src/checks/selinux_denied.rs replays recorded getenforce/AVC text",
)];

/// Every cause is asserted to rank first somewhere: a real-nginx lab (tests/lab_*.rs) or a
/// recorded snapshot diagnosed offline (fixtures/snapshots/<cause>.json, tests/reports.rs).
#[test]
fn every_cause_is_shown_to_rank_first_in_a_lab_or_a_snapshot() {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut labs = String::new();
    for entry in std::fs::read_dir(format!("{root}/tests")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("lab_") && name.ends_with(".rs") {
            labs += &std::fs::read_to_string(&path).unwrap();
        }
    }
    for cause in Cause::ALL {
        let id = cause.id();
        if NOT_REPRODUCIBLE_HERE.iter().any(|(c, _)| *c == id) {
            continue;
        }
        let snapshot =
            std::path::Path::new(&format!("{root}/fixtures/snapshots/{id}.json")).exists();
        let lab = labs.contains(&format!("\"{id}\""));
        assert!(
            snapshot || lab,
            "no real-nginx lab (tests/lab_*.rs) nor fixtures/snapshots/{id}.json shows `{id}` ranking first"
        );
    }
}

/// Every `.rs` file under `src/`, as (path relative to `src/`, text).
fn src_files() -> Vec<(String, String)> {
    fn walk(dir: &std::path::Path, root: &std::path::Path, out: &mut Vec<(String, String)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, root, out);
            } else if p.extension().is_some_and(|e| e == "rs") {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.push((rel, std::fs::read_to_string(&p).unwrap()));
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    assert!(out.len() > 50, "src/ not found from {}", root.display());
    out
}

/// JSON documents are typed structs serialized by serde (src/report.rs and its modules),
/// so that the schema is in one place and a typo is a compile error. (Unit tests may
/// still write a fixture with `json!`.)
#[test]
fn no_json_macro_documents_in_src() {
    let found: Vec<String> = src_files()
        .into_iter()
        .flat_map(|(path, text)| {
            let code = text.split("#[cfg(test)]").next().unwrap_or("").to_string();
            code.lines()
                .enumerate()
                .filter(|(_, l)| {
                    let code = l.split("//").next().unwrap_or("");
                    ["json!(", "json!{", "json![", "json! "]
                        .iter()
                        .any(|m| code.contains(m))
                })
                .map(|(i, _)| format!("src/{path}:{}", i + 1))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        found.is_empty(),
        "json! documents (use a typed report struct): {found:?}"
    );
}

/// Everything outside `render/` keeps text as it came (escaping in checks, logs or report
/// would corrupt `--json`); front ends write what `render` formatted.
#[test]
fn terminal_escaping_only_in_render() {
    let found: Vec<String> = src_files()
        .into_iter()
        .filter(|(path, _)| !path.starts_with("render/"))
        .filter(|(_, text)| text.contains("escape_for_terminal") || text.contains("sanitize::"))
        .map(|(path, _)| format!("src/{path}"))
        .collect();
    assert!(
        found.is_empty(),
        "escaping for the terminal outside src/render/: {found:?}"
    );
}

/// Top-level modules of `src/` (directories and files, without lib.rs and main.rs).
fn top_modules(files: &[(String, String)]) -> std::collections::BTreeSet<String> {
    files
        .iter()
        .map(|(p, _)| {
            p.split('/')
                .next()
                .unwrap()
                .trim_end_matches(".rs")
                .to_string()
        })
        .filter(|m| m != "lib" && m != "main")
        .collect()
}

/// The top-level modules a file's non-test code names through `crate::…`, including
/// grouped imports (`use crate::{checks, facts::Facts}`). Comments and everything from
/// the first `#[cfg(test)]` on are left out: test code may build fixtures with any layer.
fn crate_refs(text: &str) -> std::collections::BTreeSet<String> {
    let code: String = text
        .split("#[cfg(test)]")
        .next()
        .unwrap_or("")
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = std::collections::BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Names at depth 0 of the group: after `{` and after each `,`.
            let mut depth = 0;
            let mut start = true;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if start && !c.is_whitespace() => {
                        out.insert(ident(&group[j..]));
                        start = false;
                    }
                    _ => {}
                }
            }
        } else {
            out.insert(ident(rest));
        }
    }
    out
}

/// No two top-level modules depend on each other, directly or through others: layers
/// (parse → facts, gather → nginx/logs, checks → fixes, report → render …) stay layers.
#[test]
fn top_level_module_graph_is_acyclic() {
    use std::collections::{BTreeMap, BTreeSet};
    let files = src_files();
    let mods = top_modules(&files);
    // module → (module it names → first file naming it)
    let mut graph: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (path, text) in &files {
        let from = path.split('/').next().unwrap().trim_end_matches(".rs");
        if !mods.contains(from) || path.ends_with("/tests.rs") {
            continue;
        }
        for to in crate_refs(text) {
            if to != from && mods.contains(&to) {
                graph
                    .entry(from.to_string())
                    .or_default()
                    .entry(to)
                    .or_insert_with(|| format!("src/{path}"));
            }
        }
    }
    // Depth-first search; a back edge closes a cycle, reported with the file of each edge.
    fn visit(
        m: &str,
        graph: &BTreeMap<String, BTreeMap<String, String>>,
        done: &mut BTreeSet<String>,
        stack: &mut Vec<String>,
        cycles: &mut Vec<String>,
    ) {
        if done.contains(m) {
            return;
        }
        if let Some(pos) = stack.iter().position(|s| s == m) {
            let mut path: Vec<String> = stack[pos..].to_vec();
            path.push(m.to_string());
            let edges: Vec<String> = path
                .windows(2)
                .map(|w| format!("{} → {} ({})", w[0], w[1], graph[&w[0]][&w[1]]))
                .collect();
            cycles.push(edges.join(", "));
            return;
        }
        stack.push(m.to_string());
        for next in graph.get(m).into_iter().flat_map(|e| e.keys()) {
            visit(next, graph, done, stack, cycles);
        }
        stack.pop();
        done.insert(m.to_string());
    }
    let mut done = BTreeSet::new();
    let mut cycles = Vec::new();
    for m in &mods {
        visit(m, &graph, &mut done, &mut Vec::new(), &mut cycles);
    }
    assert!(
        cycles.is_empty(),
        "module cycles in src/:\n{}",
        cycles.join("\n")
    );
    // The scan itself works: known layers are seen.
    assert!(graph["checks"].contains_key("facts"), "{graph:?}");
    assert!(graph["gather"].contains_key("logs"), "{graph:?}");
}

#[test]
fn crate_refs_reads_paths_and_groups_but_not_comments_or_tests() {
    let refs = crate_refs(
        "use crate::{checks, facts::{Fact, Facts}, gather::files};\n\
         // crate::render in a comment\n\
         fn f() { crate::logs::line::parse(b\"\"); }\n\
         #[cfg(test)]\nmod tests { use crate::report; }\n",
    );
    let want: Vec<&str> = vec!["checks", "facts", "gather", "logs"];
    assert_eq!(refs.iter().map(String::as_str).collect::<Vec<_>>(), want);
}

/// The programs a fix command may start with; a check that writes one in a string literal
/// builds a command itself instead of asking src/fixes/ (which knows this host).
const COMMAND_WORDS: &[&str] = &[
    "sudo ",
    "systemctl ",
    "nginx -",
    "kill ",
    "docker ",
    "podman ",
    "kubectl ",
    "supervisorctl ",
    "pm2 ",
    "sed ",
    "curl ",
    "ss ",
    "journalctl ",
    "sysctl ",
    "chmod ",
    "chown ",
    "usermod ",
    "setsebool ",
    "semanage ",
    "getenforce",
    "ausearch ",
    "namei ",
    "ps ",
    "pgrep ",
    "dmesg ",
    "getent ",
    "openssl ",
    "ls ",
    "grep ",
    "cat ",
    "tail ",
    "nsenter ",
    "aws ",
    "ulimit ",
];

/// String literals of `code` (Rust source): their contents, with the 1-based line each
/// starts on. Raw strings and char literals are handled well enough for this check.
fn string_literals(code: &str) -> Vec<(usize, String)> {
    let b = code.as_bytes();
    let (mut i, mut line, mut out) = (0, 1, Vec::new());
    while i < b.len() {
        match b[i] {
            b'\n' => line += 1,
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'\'' => {
                // A char literal ('"', '\'') or a lifetime: skip a quoted char only.
                if b.get(i + 2) == Some(&b'\'') {
                    i += 3;
                    continue;
                }
                if b.get(i + 1) == Some(&b'\\') && b.get(i + 3) == Some(&b'\'') {
                    i += 4;
                    continue;
                }
            }
            b'"' => {
                let (start, at) = (i + 1, line);
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    if b.get(i) == Some(&b'\n') {
                        line += 1;
                    }
                    i += 1;
                }
                out.push((
                    at,
                    String::from_utf8_lossy(&b[start..i.min(b.len())]).into_owned(),
                ));
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Checks describe what is wrong; the commands that act on it (or look at it) are built in
/// src/fixes/, exact for the host (issue 14). No string literal in a check (outside its
/// unit tests) starts with a command, nor runs one after `&&`, `;` or `|`.
#[test]
fn no_command_literals_in_checks() {
    let mut found = Vec::new();
    for (path, text) in src_files() {
        if !path.starts_with("checks/") {
            continue;
        }
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        for (line, lit) in string_literals(code) {
            let starts = |s: &str| COMMAND_WORDS.iter().any(|w| s.trim_start().starts_with(w));
            let runs = starts(&lit)
                || ["&& ", "; ", "| "]
                    .iter()
                    .any(|sep| lit.split(sep).skip(1).any(starts));
            if runs {
                found.push(format!("src/{path}:{line}: {lit:?}"));
            }
        }
    }
    assert!(
        found.is_empty(),
        "command literals in checks (build them in src/fixes/):\n{}",
        found.join("\n")
    );
}

#[test]
fn string_literals_are_found_with_their_lines() {
    let code = "let a = '\"';\n// \"not this\"\nlet b = \"ss -ltnp\";\nlet c = format!(\"x\\\"y {}\", 'z');";
    let lits = string_literals(code);
    assert_eq!(
        lits,
        vec![(3, "ss -ltnp".to_string()), (4, "x\\\"y {}".to_string())]
    );
}

/// Layers that turn bytes and facts into answers (architecture.md: parsers, facts,
/// checks, rank, report, render) never touch the host: no files, processes, sockets or
/// clock. Reading is `gather`'s, and the time is `gather/clock.rs`'s.
const PURE_LAYERS: &[&str] = &[
    "logs/",
    "parse/",
    "nginx/",
    "facts/",
    "checks/",
    "report/",
    "report.rs",
    "render/",
    "rank.rs",
    "timeline.rs",
    "cause.rs",
];

/// Known exceptions (file, why it is still there); none are left, and new ones need a reason.
const HOST_ACCESS_ALLOWED: &[(&str, &str)] = &[];

#[test]
fn pure_layers_do_not_touch_the_host() {
    const HOST: &[&str] = &[
        "std::fs::",
        "File::open",
        "Command::new",
        "std::process",
        "Local::now",
        "Utc::now",
        "SystemTime::now",
        "read_dir",
        "glob::glob",
        ".is_dir()",
        ".is_file()",
        ".exists()",
        ".metadata(",
        "canonicalize(",
        "TcpStream",
        "UnixStream",
    ];
    let mut found = Vec::new();
    for (path, text) in src_files() {
        if !PURE_LAYERS.iter().any(|l| path.starts_with(l)) || path.ends_with("/tests.rs") {
            continue;
        }
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        for (i, line) in code.lines().enumerate() {
            let line = line.split("//").next().unwrap_or("");
            if let Some(what) = HOST.iter().find(|h| line.contains(*h)) {
                if !HOST_ACCESS_ALLOWED.iter().any(|(p, _)| *p == path) {
                    found.push(format!("src/{path}:{}: {what}", i + 1));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "host access in a pure layer (move it to src/gather/): {found:?}"
    );
}

/// Issue 10: checks read typed facts; they never parse text or match process names.
/// Times are `WallTime`/`DateTime` parsed where the fact is made, app servers are
/// `AppKind` (of a process, an OOM kill, a unit's ExecStart): no allowances.
#[test]
fn checks_do_not_parse_text() {
    let mut bad = Vec::new();
    for entry in std::fs::read_dir("src/checks").unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        bad.extend(text_parsing_in(&name, &text));
    }
    assert!(
        bad.is_empty(),
        "checks parse text; type it at gather time:\n{}",
        bad.join("\n")
    );
}

/// What [`checks_do_not_parse_text`] rejects, in a check's code before its unit tests.
fn text_parsing_in(name: &str, text: &str) -> Vec<String> {
    const PATTERNS: &[&str] = &[
        "wall_time",
        "parse_from_str",
        "parse_from_rfc3339",
        ".parse::<",
        "split_whitespace",
        ".contains(\"gunicorn\"",
        ".contains(\"uvicorn\"",
        ".contains(\"node\"",
        ".starts_with(\"node\"",
        ".starts_with(\"php-fpm\"",
        // Classifying a process by its name: that is `AppKind`/`ProcessRole`, decided at
        // gather time. Comparing two records' names (`kill.comm == a.name`) stays allowed.
        "comm == \"",
        ".comm.starts_with(",
        ".comm.contains(",
        ".comm.ends_with(",
        "== \"nginx\"",
        ".contains(&comm)",
        "process != \"",
        "process == \"",
        // Command-line flags: `AppArgs`, read at gather time.
        "contains(\"-",
        "contains(&format!(\"-",
        // Ports out of address text: `SocketAddr` (`socket_addr()`), `listen_ports`.
        "rsplit(':')",
        // The error log's `upstream:` key: `LogEvidence.upstream_peer` / `upstream_addr`.
        "split(\"://\")",
        "split_once(\"://\")",
        // The access log's `$upstream_addr` list: `AccessSample.last_upstream`.
        "split(\", \")",
        "split(\" : \")",
        // Versions out of file names: `UpstreamAddr.php_fpm_version`.
        ".strip_prefix(\"php\")",
    ];
    let mut bad = Vec::new();
    let body = text.split("#[cfg(test)]").next().unwrap_or("");
    for (i, line) in body.lines().enumerate() {
        if line.trim_start().starts_with("//") {
            continue;
        }
        for p in PATTERNS {
            if line.contains(p) {
                bad.push(format!(
                    "src/checks/{name}:{}: `{p}` in {}",
                    i + 1,
                    line.trim()
                ));
            }
        }
    }
    bad
}

/// The scan catches what used to be in the checks (so it fails if any comes back), and
/// leaves comments and unit tests alone.
#[test]
fn text_parsing_scan_catches_the_old_forms() {
    let old = [
        "    if let Some(since) = window.since.as_deref().and_then(wall_time) {",
        "    let t = |s: &Option<String>| s.as_deref().and_then(crate::parse::wall_time);",
        "    let t = chrono::NaiveDateTime::parse_from_str(s, \"%Y/%m/%d %H:%M:%S\");",
        "        && (kill.comm == \"node\" || kill.comm.starts_with(\"node\"))",
        "    exec.is_some_and(|e| e.contains(\"node\"))",
        "    if fastcgi && kill.comm.starts_with(\"php-fpm\") {",
        "    if kill.comm == \"nginx\" || facts.route_upstreams().is_empty() {",
        "            let is_nginx = l.pid.is_some_and(|p| nginx_pids.contains(&p)) || comm == \"nginx\";",
        "                || NOT_HTTP_APPS.contains(&comm)",
        "                            && a.comm.as_deref().is_none_or(|c| c == \"nginx\")",
        "        .filter(|p| p.comm.contains(\"gunicorn\") || p.comm.ends_with(\"-fpm\"))",
        "        .rfind(|e| e.kind == JournalEventKind::Other && e.process != \"systemd\")",
        "            || text.contains(&format!(\"--port {target_port}\"))",
        "            || text.contains(\"--bind\")",
        "                .filter_map(|l| l.rsplit(':').next()?.parse().ok())",
        "        let port = first.address.rsplit(':').next().unwrap_or(\"\");",
        "    let s = field.split(\"://\").nth(1).unwrap_or(field);",
        "        .map(|u| u.split(\"://\").last().unwrap_or(u).to_string())",
        "            .map(|a| a.rsplit(\", \").next().unwrap_or(a).to_string());",
        "    let rest = name.strip_prefix(\"php\")?;",
    ];
    for line in old {
        let found = text_parsing_in("x.rs", &format!("fn f() {{\n{line}\n}}\n"));
        assert!(
            !found.is_empty() && found.iter().all(|f| f.starts_with("src/checks/x.rs:2: ")),
            "{line}: {found:?}"
        );
    }
    let allowed = "// wall_time is gone\nfn f() {}\n#[cfg(test)]\nmod tests { fn t() { wall_time(\"x\"); } }\n";
    assert!(text_parsing_in("x.rs", allowed).is_empty());
    // Names as labels, and one record's name compared with another's, are not parsing.
    let labels = "fn f() {\n    format!(\"{} (pid {})\", p.comm, p.pid);\n    .find(|(_, c)| !c.is_empty() && *c == kill.comm)\n    && (kill.kind == Some(AppKind::Node) || kill.comm == a.name)\n}\n";
    assert_eq!(text_parsing_in("x.rs", labels), Vec::<String>::new());
}

/// The code of a source file before its unit tests, without `//` comment lines.
fn code_before_tests(text: &str) -> Vec<(usize, &str)> {
    text.lines()
        .enumerate()
        .take_while(|(_, l)| !l.trim_start().starts_with("#[cfg(test)]"))
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
        .map(|(i, l)| (i + 1, l))
        .collect()
}

/// Functions (at the top level or in an impl) longer than `max` lines: (name, lines).
fn long_functions(text: &str, max: usize) -> Vec<(String, usize)> {
    let lines = code_before_tests(text);
    let mut out = Vec::new();
    for (k, (_, l)) in lines.iter().enumerate() {
        let indent = l.len() - l.trim_start().len();
        let t = l.trim_start();
        let Some(rest) = t
            .strip_prefix("pub fn ")
            .or_else(|| t.strip_prefix("pub(crate) fn "))
            .or_else(|| t.strip_prefix("fn "))
        else {
            continue;
        };
        let close = format!("{}}}", " ".repeat(indent));
        if let Some(end) = lines[k..].iter().position(|(_, x)| *x == close) {
            if end + 1 > max {
                let name = rest.split(['(', '<']).next().unwrap_or(rest).to_string();
                out.push((name, end + 1));
            }
        }
    }
    out
}

/// Gathering stays a list of named collectors (issue 10): gather/mod.rs holds the stages
/// only, the orchestration is made of short functions, and no collector reads a hard-coded
/// /proc instead of the Context's root (`--proc-root`).
#[test]
fn gather_is_stages_of_named_collectors() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/gather");
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    let mod_lines = read("mod.rs").lines().count();
    assert!(
        mod_lines < 300,
        "src/gather/mod.rs has {mod_lines} lines: it holds the stages only; put a source's \
         collector in the file of its source and list it in gather/stages.rs"
    );
    let mut long = Vec::new();
    for f in [
        "mod.rs",
        "stages.rs",
        "runner.rs",
        "target.rs",
        "nginx_config.rs",
        "view.rs",
        "site_upstreams.rs",
    ] {
        for (name, n) in long_functions(&read(f), 80) {
            long.push(format!("src/gather/{f}: fn {name} has {n} lines"));
        }
    }
    assert!(long.is_empty(), "split these:\n{}", long.join("\n"));
    let mut hard = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for (n, l) in code_before_tests(&text) {
            for pat in [
                "Path::new(\"/proc\")",
                "PathBuf::from(\"/proc\")",
                "\"/proc\".into()",
                "\"/proc/{",
                "Path::new(\"/proc/",
            ] {
                if l.contains(pat) {
                    hard.push(format!("{}:{n}: {}", path.display(), l.trim()));
                }
            }
        }
    }
    assert!(
        hard.is_empty(),
        "read /proc through the Context (ctx.proc_file, ctx.proc_root):\n{}",
        hard.join("\n")
    );
}

#[test]
fn long_functions_are_found() {
    let body = "    x();\n".repeat(5);
    let text =
        format!("fn short() {{\n}}\n\nimpl A {{\n    pub fn long(&self) {{\n{body}    }}\n}}\n");
    assert_eq!(long_functions(&text, 5), vec![("long".to_string(), 7)]);
    assert!(long_functions(&text, 7).is_empty());
}
