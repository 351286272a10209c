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
    let skip = ["mod.rs", "registry.rs", "util.rs", "route_resolved.rs"];
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
