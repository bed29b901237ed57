//! Keeps `docs/events.md` in step with the event catalogue (`EventKind`), and checks the
//! catalogue's invariants: ids unique and ascending, names unique and kebab-case, every id
//! in the range of its section, `from_name(name())` round-trips.
//!
//! When the doc is out of date: `BATON_BLESS=1 cargo test -p baton-core --test events_doc`.

#![allow(clippy::disallowed_methods, reason = "a core test reads the committed files it checks (core/clippy.toml)")]

use baton_core::EventKind;
use std::collections::BTreeSet;
use std::path::PathBuf;

const BLESS_HINT: &str = "BATON_BLESS=1 cargo test -p baton-core --test events_doc";

fn doc_path() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/events.md"))
}

#[test]
fn docs_events_md_is_up_to_date() {
    let path = doc_path();
    let expected = EventKind::catalogue_markdown();
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    if actual == expected {
        return;
    }
    if std::env::var("BATON_BLESS").as_deref() == Ok("1") {
        std::fs::write(&path, &expected).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        eprintln!("rewrote {}", path.display());
        return;
    }
    let first_diff = actual
        .lines()
        .zip(expected.lines())
        .position(|(a, e)| a != e)
        .unwrap_or_else(|| actual.lines().count().min(expected.lines().count()));
    panic!(
        "{} is out of date with EventKind (first difference at line {}: file has {:?}, expected {:?}).\n\
         Regenerate it with: {BLESS_HINT}",
        path.display(),
        first_diff + 1,
        actual.lines().nth(first_diff).unwrap_or("<end of file>"),
        expected.lines().nth(first_diff).unwrap_or("<end of file>"),
    );
}

#[test]
fn ids_are_unique_and_ascending() {
    for pair in EventKind::ALL.windows(2) {
        assert!(
            pair[0].id() < pair[1].id(),
            "ALL is not in strictly ascending id order: {} ({}) then {} ({})",
            pair[0].name(),
            pair[0].id(),
            pair[1].name(),
            pair[1].id()
        );
    }
}

#[test]
fn names_are_unique() {
    let mut seen = BTreeSet::new();
    for kind in EventKind::ALL {
        assert!(seen.insert(kind.name()), "duplicate event name {}", kind.name());
    }
}

fn is_kebab_case(name: &str) -> bool {
    !name.is_empty()
        && name.split('-').all(|word| {
            word.starts_with(|c: char| c.is_ascii_lowercase())
                && word.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

#[test]
fn names_are_kebab_case() {
    for kind in EventKind::ALL {
        assert!(is_kebab_case(kind.name()), "event name {:?} ({}) is not kebab-case", kind.name(), kind.id());
    }
    assert!(is_kebab_case("np-target-up"));
    assert!(
        !is_kebab_case("NpTargetUp") && !is_kebab_case("np--up") && !is_kebab_case("-np") && !is_kebab_case("np_up")
    );
}

#[test]
fn from_name_round_trips() {
    for kind in EventKind::ALL {
        assert_eq!(EventKind::from_name(kind.name()), Some(kind), "from_name({:?})", kind.name());
    }
    assert_eq!(EventKind::from_name("no-such-event"), None);
}

/// One `## A–B Title` section of the rendered catalogue, with the ids and names of its rows.
struct Section {
    lo: u16,
    hi: u16,
    title: String,
    rows: Vec<(u16, String)>,
}

/// Reads the rendered catalogue back into its id-range sections.
fn sections(markdown: &str) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    let mut in_range_section = false;
    for line in markdown.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            let parsed = heading.split_once(' ').and_then(|(range, title)| {
                let (lo, hi) = range.split_once('–')?;
                Some(Section { lo: lo.parse().ok()?, hi: hi.parse().ok()?, title: title.to_string(), rows: Vec::new() })
            });
            in_range_section = parsed.is_some();
            out.extend(parsed);
            continue;
        }
        if !in_range_section {
            continue;
        }
        let cells: Vec<&str> = line.split(" | ").collect();
        if let [first, name, ..] = cells.as_slice() {
            if let Ok(id) = first.trim_start_matches("| ").parse::<u16>() {
                if let Some(section) = out.last_mut() {
                    section.rows.push((id, name.trim_matches('`').to_string()));
                }
            }
        }
    }
    out
}

#[test]
fn every_event_is_in_the_section_of_its_id_range() {
    let markdown = EventKind::catalogue_markdown();
    let sections = sections(&markdown);
    let titles: Vec<(u16, u16)> = sections.iter().map(|s| (s.lo, s.hi)).collect();
    let expected: Vec<(u16, u16)> = (1..=9).map(|n| (n * 100, n * 100 + 99)).collect();
    assert_eq!(titles, expected, "sections of the catalogue");

    let mut listed = Vec::new();
    for Section { lo, hi, title, rows } in &sections {
        assert!(!rows.is_empty(), "section {lo}–{hi} {title} lists no event");
        for (id, name) in rows {
            assert!((*lo..=*hi).contains(id), "event {name} ({id}) is listed in section {lo}–{hi} {title}");
            let kind = EventKind::from_name(name).unwrap_or_else(|| panic!("section {lo}–{hi} lists unknown {name}"));
            assert_eq!(kind.id(), *id, "id of {name} in section {lo}–{hi}");
            listed.push(kind);
        }
    }
    assert_eq!(listed, EventKind::ALL.to_vec(), "the sections list every event once, in id order");
}
