//! The committed man pages (docs/man/badgw.1 and one per subcommand, badgw-diagnose.1 …)
//! must match what clap_mangen generates from the clap definitions in src/cli.rs.
//! Regenerate them with `BADGW_BLESS=1 cargo test --test manpage`.
//! Read one with `man docs/man/badgw-diagnose.1`.

use clap::CommandFactory;

fn render(cmd: clap::Command) -> Vec<u8> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut buf)
        .expect("render man page");
    buf
}

#[test]
fn committed_man_pages_are_current() {
    let root = env!("CARGO_MANIFEST_DIR");
    let bless = std::env::var_os("BADGW_BLESS").is_some();
    let mut cmd = badgw::cli::Cli::command();
    cmd.build();
    let mut pages = vec![("badgw.1".to_string(), render(cmd.clone()))];
    for sub in cmd.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        let name = format!("badgw-{}", sub.get_name());
        let static_name: &'static str = Box::leak(name.clone().into_boxed_str());
        let page = render(sub.clone().name(static_name));
        pages.push((format!("{name}.1"), page));
    }
    let mut stale = Vec::new();
    for (file, page) in &pages {
        let text = String::from_utf8_lossy(page);
        assert!(text.contains(".TH"), "{file}: not a man page");
        assert!(page.len() > 300, "{file} is suspiciously short");
        let path = format!("{root}/docs/man/{file}");
        if bless {
            std::fs::create_dir_all(format!("{root}/docs/man")).unwrap();
            std::fs::write(&path, page).unwrap();
        } else if std::fs::read(&path).ok().as_deref() != Some(&page[..]) {
            stale.push(file.clone());
        }
    }
    // Every subcommand and the diagnose options a user looks for are documented.
    let main = String::from_utf8_lossy(&pages[0].1);
    for sub in ["diagnose", "route", "collect", "explain-log", "explain"] {
        let roff = format!("badgw\\-{}(1)", sub.replace('-', "\\-"));
        assert!(main.contains(&roff), "badgw.1 does not list {sub} ({roff})");
    }
    let diagnose = pages
        .iter()
        .find(|(f, _)| f == "badgw-diagnose.1")
        .map(|(_, p)| String::from_utf8_lossy(p).into_owned())
        .expect("a badgw-diagnose.1 page");
    for opt in ["\\-\\-site", "\\-\\-verbose", "\\-\\-json"] {
        assert!(diagnose.contains(opt), "badgw-diagnose.1 lacks {opt}");
    }
    assert!(
        stale.is_empty(),
        "stale man pages {stale:?}: regenerate with `BADGW_BLESS=1 cargo test --test manpage` and commit them"
    );
}

/// `badgw explain` lists every cause id of src/cause.rs, one per line, each with its
/// one-line summary.
#[test]
fn explain_lists_every_cause_with_a_one_line_summary() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_badgw"))
        .arg("explain")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), badgw::cause::Cause::ALL.len(), "{text}");
    for cause in badgw::cause::Cause::ALL {
        let line = lines
            .iter()
            .find(|l| l.split_whitespace().next() == Some(cause.id()))
            .unwrap_or_else(|| panic!("`badgw explain` does not list {}:\n{text}", cause.id()));
        let summary = line[cause.id().len()..].trim();
        assert_eq!(summary, cause.meaning(), "{line}");
        assert!(summary.len() > 15, "{}: summary too short", cause.id());
    }
}
