//! Every duration of the cluster file has a documented range (issue 14 §5): the edges
//! are accepted, one millisecond past them (and values near `u64::MAX`) is refused at
//! the value's `FILE:LINE:COL`, and docs/configuration.md lists each range.

use baton_core::config::{format_duration_ms, parse, DurationRange, DURATION_RANGES};

/// A valid cluster with every duration key present as `@KEY@` placeholders.
const TEMPLATE: &str = r#"[cluster]
name = "c1"
heartbeat_interval = "@[cluster].heartbeat_interval@"
heartbeat_timeout = "@[cluster].heartbeat_timeout@"
sync_wait = "@[cluster].sync_wait@"
counter_reset_after = "@[cluster].counter_reset_after@"

[[server]]
name = "s1"
addresses = { lan1 = "192.168.0.1", public = "10.0.0.1" }

[[server]]
name = "s2"
addresses = { lan1 = "192.168.0.2", public = "10.0.0.2" }

[[heartbeat]]
name = "lan1"

[[np]]
name = "disk1"
kind = "disk"
device = "/dev/sdb1"
interval = "@[[np]].interval@"
timeout = "@[[np]].timeout@"
io_wait = "@[[np]].io_wait@"

[[group]]
name = "g"

[[group.resource]]
name = "app"
kind = "exec"
timeout = "@[[group.resource]].timeout@"

[[group.resource]]
name = "ip"
kind = "floating-ip"
address = "10.0.0.12/24"
probe_window = "@[[group.resource]].probe_window@"

[[monitor]]
name = "pm"
kind = "exec"
command = "/bin/true"
recovery_target = "g"
interval = "@[[monitor]].interval@"
timeout = "@[[monitor]].timeout@"
start_wait = "@[[monitor]].start_wait@"
"#;

/// Safe values that satisfy the cross-key rules (heartbeat timeout ≥ 2 × interval,
/// resolver interval + timeout < heartbeat timeout).
fn safe(table: &str, key: &str) -> &'static str {
    match (table, key) {
        ("[cluster]", "heartbeat_timeout") => "2h46m39s",
        _ => "1s",
    }
}

/// The template with `value` at (table, key) and safe values elsewhere.
fn file(table: &str, key: &str, value: &str) -> String {
    let mut text = TEMPLATE.to_string();
    for (t, k, _) in DURATION_RANGES {
        let v = if (t, k) == (table, key) { value } else { safe(t, k) };
        text = text.replace(&format!("@{t}.{k}@"), v);
    }
    text
}

/// `t.toml:LINE:COL:` of the value of (table, key) in the template.
fn position(table: &str, key: &str) -> String {
    let marker = format!("\"@{table}.{key}@\"");
    let i = TEMPLATE.find(&marker).expect("marker");
    let line = TEMPLATE[..i].matches('\n').count() + 1;
    let col = i - TEMPLATE[..i].rfind('\n').map_or(0, |n| n + 1) + 1;
    format!("t.toml:{line}:{col}:")
}

fn refused(table: &str, key: &str, value: &str) -> Vec<String> {
    match parse("t.toml", &file(table, key, value)) {
        Ok(_) => panic!("{table} {key} = {value:?} was accepted"),
        Err(d) => d.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn the_edges_of_every_range_are_accepted() {
    for (t, k, r) in DURATION_RANGES {
        for ms in [r.min_ms, r.max_ms] {
            // The heartbeat timeout's lower edge must still be ≥ 2 × interval and
            // above the resolver's interval + timeout: set those small for it.
            // A 1 ms heartbeat timeout cannot sit above any resolver's interval +
            // timeout (a cross-key rule); its upper edge is the point here.
            if (t, k) == ("[cluster]", "heartbeat_timeout") && ms == r.min_ms {
                continue;
            }
            let text = file(t, k, &format_duration_ms(ms));
            if let Err(d) = parse("t.toml", &text) {
                panic!("{t} {k} = {} refused: {d:?}", format_duration_ms(ms));
            }
        }
    }
}

#[test]
fn one_millisecond_past_every_range_is_refused_at_its_position() {
    for (t, k, DurationRange { min_ms, max_ms }) in DURATION_RANGES {
        let past = format_duration_ms(max_ms + 1);
        let errs = refused(t, k, &past);
        let pos = position(t, k);
        let want = format!(
            "`{k}` = \"{past}\" is out of range ({} to {})",
            format_duration_ms(min_ms),
            format_duration_ms(max_ms)
        );
        assert!(
            errs.iter().any(|e| e.starts_with(&pos) && e.contains(&want)),
            "{t} {k}: want {pos} …{want}, got {errs:#?}"
        );
    }
}

#[test]
fn values_near_u64_max_are_refused() {
    for value in ["18446744073709551615ms", "18446744073709551s", "999999999h", "213503982334d"] {
        for (t, k, _) in DURATION_RANGES {
            let errs = refused(t, k, value);
            let pos = position(t, k);
            assert!(errs.iter().any(|e| e.starts_with(&pos)), "{t} {k} = {value}: {errs:#?}");
        }
    }
}

#[test]
fn docs_list_every_range() {
    let doc = include_str!("../../docs/configuration.md");
    for (t, k, r) in DURATION_RANGES {
        let row = format!("| `{t}` | `{k}` | {} to {} |", format_duration_ms(r.min_ms), format_duration_ms(r.max_ms));
        assert!(doc.contains(&row), "docs/configuration.md lacks the row {row}");
    }
}
