//! Row by row, the event table (`EventKind`, core/src/event_kind/mod.rs) against the committed
//! user catalogue `docs/events.md`, and the serde names against the catalogue names.
//!
//! In: `docs/events.md` (committed, so it holds the catalogue as it was before any change to the
//! table) and `EventKind::ALL`. Out: one failure per field that differs, naming the event.
//! `events_doc.rs` already compares the whole rendered page; this test says *which* event and
//! *which* field changed, and checks what the page cannot show: the serde (event log) names.

#![allow(clippy::disallowed_methods, reason = "a core test reads the committed files it checks (core/clippy.toml)")]

use baton_core::EventKind;

/// The cells of a markdown table row, with `\|` (an escaped bar inside a cell) restored.
fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    let mut out = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                chars.next();
                if let Some(cell) = out.last_mut() {
                    cell.push('|');
                }
            }
            '|' => out.push(String::new()),
            other => {
                if let Some(cell) = out.last_mut() {
                    cell.push(other);
                }
            }
        }
    }
    out.into_iter().map(|c| c.trim().to_string()).collect()
}

/// One event row of `docs/events.md`: id, name, severity, description, seed.
struct Row {
    id: u16,
    name: String,
    severity: String,
    description: String,
    seed: String,
}

fn doc_rows() -> Vec<Row> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/events.md");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    let mut rows = Vec::new();
    for line in text.lines().filter(|l| l.starts_with("| ")) {
        let cells = cells(line);
        let [id, name, severity, description, seed] = cells.as_slice() else { continue };
        let Ok(id) = id.parse::<u16>() else { continue };
        rows.push(Row {
            id,
            name: name.trim_matches('`').to_string(),
            severity: severity.clone(),
            description: description.clone(),
            seed: seed.clone(),
        });
    }
    rows
}

#[test]
fn every_event_matches_its_row_in_the_committed_catalogue() {
    let rows = doc_rows();
    assert_eq!(rows.len(), EventKind::ALL.len(), "docs/events.md rows against EventKind::ALL");
    for (kind, row) in EventKind::ALL.iter().zip(&rows) {
        let at = format!("event {} ({})", row.name, row.id);
        assert_eq!(kind.id(), row.id, "{at}: id");
        assert_eq!(kind.name(), row.name, "{at}: name");
        assert_eq!(kind.severity().name(), row.severity, "{at}: severity");
        assert_eq!(kind.description(), row.description, "{at}: description");
        assert_eq!(kind.seed(), row.seed, "{at}: seed");
    }
}

/// The event log and the JSON of `baton log show --json` carry the serde name: it must be the
/// catalogue name, byte for byte, and read back to the same kind.
#[test]
fn serde_names_are_the_catalogue_names() {
    for kind in EventKind::ALL {
        let json = serde_json::to_string(&kind).unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        assert_eq!(json, format!("\"{}\"", kind.name()), "serde name of {kind:?}");
        let back: EventKind = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
        assert_eq!(back, kind, "serde round trip of {json}");
    }
}

/// The variants keep their names (their `Debug` form appears in traces and failure messages):
/// the camel case of the catalogue name.
#[test]
fn debug_names_are_the_variant_names_in_camel_case_of_the_catalogue_names() {
    for kind in EventKind::ALL {
        let camel: String = kind
            .name()
            .split('-')
            .map(|w| {
                let mut cs = w.chars();
                cs.next().map(|c| c.to_ascii_uppercase().to_string() + cs.as_str()).unwrap_or_default()
            })
            .collect();
        assert_eq!(format!("{kind:?}"), camel, "variant name of {}", kind.name());
    }
}
