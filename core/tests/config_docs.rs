//! The configuration reference (`docs/configuration.md`) must describe every key the
//! parser accepts, and every kind it accepts.

#![allow(clippy::disallowed_methods, reason = "a core test reads the committed files it checks (core/clippy.toml)")]

use baton_core::config::known_keys;
use std::path::PathBuf;

fn doc() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/configuration.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_accepted_key_is_documented() {
    let doc = doc();
    let missing: Vec<String> = known_keys()
        .into_iter()
        .filter(|(_, key)| !doc.contains(&format!("`{key}`")))
        .map(|(table, key)| format!("{table}.{key}"))
        .collect();
    assert!(missing.is_empty(), "keys accepted by the parser but missing from docs/configuration.md: {missing:?}");
}

#[test]
fn every_kind_is_documented() {
    let doc = doc();
    // Kind-specific tables are named `table.kind` by known_keys.
    let mut kinds: Vec<&str> = known_keys()
        .into_iter()
        .filter_map(|(table, _)| table.rsplit_once('.').map(|(_, kind)| kind))
        .filter(|k| !["resource", "activation", "deactivation"].contains(k))
        .collect();
    kinds.dedup();
    let missing: Vec<&str> = kinds.into_iter().filter(|k| !doc.contains(&format!("`{k}`"))).collect();
    assert!(missing.is_empty(), "kinds missing from docs/configuration.md: {missing:?}");
}

#[test]
fn known_keys_cover_the_tables() {
    let tables: Vec<&str> = known_keys().into_iter().map(|(t, _)| t).collect();
    for t in ["cluster", "server", "server_group", "heartbeat", "np", "group", "group.resource", "monitor"] {
        assert!(tables.contains(&t), "{t}");
    }
}
