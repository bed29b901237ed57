//! The picture of the examples' runs: lanes from the replayed nodes, not from guesses.

use super::*;
use std::path::Path;

fn example(name: &str) -> (baton_sim::Report, Vec<baton_sim::scenario::Step>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/scenarios").join(name);
    let report = baton_sim::run_file_traced(&path, None).expect("the example runs");
    let (sc, _) = baton_sim::load(&path).expect("the example reads");
    (report, sc.steps)
}

fn online(t: &Timeline, group: &str, server: &str) -> Vec<(Ms, Ms)> {
    let band = t.groups.iter().find(|b| b.group == group).expect("band");
    let row = band.rows.iter().find(|r| r.name == server).expect("row");
    row.spans.iter().filter(|s| s.state == "online").map(|s| (s.from_ms, s.to_ms)).collect()
}

#[test]
fn a_crash_moves_the_groups_band_from_server1_to_server2_and_never_both() {
    let (report, steps) = example("04-failover-on-crash.scenario");
    let t = of_sim_run("04".into(), &report, &steps);
    let on1 = online(&t, "failover1", "server1");
    let on2 = online(&t, "failover1", "server2");
    assert!(!on1.is_empty() && !on2.is_empty(), "online on both in turn: {on1:?} {on2:?}");
    let crash = steps.iter().find(|s| s.stmt.to_string().starts_with("crash")).expect("a crash step").at_ms;
    assert!(on1.iter().all(|&(_, to)| to <= crash), "server1's band ends by the crash at {crash}: {on1:?}");
    assert!(on2.iter().all(|&(from, _)| from > crash), "server2's band starts after it: {on2:?}");
    for &(a0, a1) in &on1 {
        for &(b0, b1) in &on2 {
            assert!(a1 <= b0 || b1 <= a0, "never online on both at once: {on1:?} {on2:?}");
        }
    }
    // The crashed server's lane stops at its crash; the survivor's runs to the end.
    let lane = |n: &str| t.servers.iter().find(|l| l.name == n).expect("lane");
    assert!(lane("server1").spans.iter().all(|s| s.to_ms <= crash || s.from_ms > crash));
    assert_eq!(lane("server2").spans.last().map(|s| s.to_ms), Some(report.end_ms));
    // One mark per expectation, all ok, and the fault on the scenario's row.
    let expects = t.marks.iter().filter(|m| matches!(m.kind, MarkKind::ExpectOk | MarkKind::ExpectFail)).count();
    assert_eq!(expects, report.outcomes.len());
    assert!(t.marks.iter().all(|m| m.kind != MarkKind::ExpectFail));
    assert!(t.marks.iter().any(|m| m.kind == MarkKind::Fault && m.server.is_none() && m.at_ms == crash));
}

#[test]
fn a_partition_verdict_and_the_fence_are_marked_on_the_losing_server() {
    let (report, steps) = example("09-ping-np-isolate-active.scenario");
    let t = of_sim_run("09".into(), &report, &steps);
    let marks_of = |kind| t.marks.iter().filter(move |m| m.kind == kind).filter_map(|m| m.server).collect::<Vec<_>>();
    assert!(!marks_of(MarkKind::Verdict).is_empty(), "a verdict is marked: {:?}", t.marks);
    assert!(!marks_of(MarkKind::Fence).is_empty(), "a fence is marked: {:?}", t.marks);
}

#[test]
fn the_page_escapes_names_and_counts_failed_expectations() {
    let span = |state| Span { from_ms: 0, to_ms: 10, state };
    let t = Timeline {
        title: "<script>x</script>".into(),
        start_ms: 0,
        end_ms: 10,
        servers: vec![Lane { name: "a&b".into(), spans: vec![span("online")] }],
        groups: vec![Band {
            group: "g\"1".into(),
            rows: vec![Lane { name: "a&b".into(), spans: vec![span("online")] }],
        }],
        marks: vec![
            Mark { at_ms: 5, server: None, kind: MarkKind::ExpectFail, label: "expect <x>".into() },
            Mark { at_ms: 6, server: None, kind: MarkKind::ExpectOk, label: "expect y".into() },
        ],
    };
    let html = page::render(&t, &|ms| format!("{ms}ms"));
    assert!(!html.contains("<script>x</script>") && html.contains("&lt;script&gt;x&lt;/script&gt;"));
    assert!(html.contains("a&amp;b") && html.contains("g&quot;1") && html.contains("expect &lt;x&gt;"));
    assert!(html.contains("1 of 2 expectations FAIL"), "{html}");
    // Self-contained: the only address in it is the SVG namespace, nothing is fetched.
    assert_eq!(html.matches("http").count(), html.matches("http://www.w3.org/2000/svg").count());
    assert!(!html.contains(" src="), "no external script or image");
}

#[test]
fn clipping_cuts_spans_at_the_edges_and_drops_marks_outside() {
    let mut t = Timeline {
        title: String::new(),
        start_ms: 0,
        end_ms: 100,
        servers: vec![Lane {
            name: "s".into(),
            spans: vec![
                Span { from_ms: 0, to_ms: 40, state: "online" },
                Span { from_ms: 60, to_ms: 100, state: "down" },
            ],
        }],
        groups: vec![],
        marks: vec![
            Mark { at_ms: 10, server: Some(0), kind: MarkKind::Error, label: String::new() },
            Mark { at_ms: 50, server: Some(0), kind: MarkKind::Error, label: String::new() },
        ],
    };
    clip(&mut t, Some(30), Some(70));
    assert_eq!((t.start_ms, t.end_ms), (30, 70));
    assert_eq!(
        t.servers[0].spans,
        vec![Span { from_ms: 30, to_ms: 40, state: "online" }, Span { from_ms: 60, to_ms: 70, state: "down" }]
    );
    assert_eq!(t.marks.iter().map(|m| m.at_ms).collect::<Vec<_>>(), vec![50]);
}
