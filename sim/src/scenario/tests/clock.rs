//! Tests of the clock statements: `set clock-offset|clock-drift SERVER VALUE` and
//! `at T clock SERVER ±D`, their values, bounds, rendering and names.
//!
//! In: inline scenario texts (and the checker's fixture). Out: assertions only.

use super::check::check_errors;
use super::{errs, ok, stmt, stmt_err};
use crate::scenario::{ClockKnob, Stmt};

#[test]
fn clock_knobs_and_steps_parse_and_render_back() {
    let sc = ok("config c.toml\nset clock-offset server1 +1s400ms\nset clock-drift server1 -50ppm\n\
                 set clock-offset server2 -2m\nset clock-drift server3 +200ppm\nat 0s boot all\n\
                 at 10s clock server2 +2s\nat 20s clock server2 -500ms\n");
    let c = |offset_ms, drift_ppm| ClockKnob { offset_ms, drift_ppm };
    assert_eq!(sc.knobs.clocks["server1"], c(1_400, -50));
    assert_eq!(sc.knobs.clocks["server2"], c(-120_000, 0));
    assert_eq!(sc.knobs.clocks["server3"], c(0, 200));
    assert_eq!(sc.steps[1].stmt, Stmt::Clock { server: "server2".into(), step_ms: 2_000 });
    assert_eq!(sc.steps[2].stmt, Stmt::Clock { server: "server2".into(), step_ms: -500 });
    let text = sc.to_string();
    assert!(text.contains("set clock-offset server1 +1s400ms\n"), "{text}");
    assert!(text.contains("set clock-drift server1 -50ppm\n"), "{text}");
    assert!(text.contains("at 20s clock server2 -500ms\n"), "{text}");
    let again = ok(&text);
    assert_eq!((again.knobs, again.steps), (sc.knobs, sc.steps));
    assert_eq!(stmt("clock server1 0s"), Stmt::Clock { server: "server1".into(), step_ms: 0 });
}

#[test]
fn clock_values_need_a_sign_a_unit_and_stay_bounded() {
    assert!(stmt_err("clock server1 2s").contains("+2s or -2s"), "{}", stmt_err("clock server1 2s"));
    assert!(stmt_err("clock server1 +2").contains("missing unit"));
    assert!(stmt_err("clock server1").contains("clock SERVER ±DURATION"));
    let one = |set: &str| {
        let e = errs(&format!("config c.toml\n{set}\nat 0s boot all\n"));
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].0, 2);
        e[0].1.clone()
    };
    assert!(one("set clock-drift server1 50").contains("+200ppm"));
    assert!(one("set clock-drift server1 +1.5ppm").contains("+200ppm"));
    assert!(one("set clock-drift server1 +100001ppm").contains("beyond"));
    assert!(one("set clock-drift server1 +99999999999999999999999ppm").contains("too large"));
    assert!(one("set clock-offset server1 +366d").contains("unit"));
    assert!(one("set clock-offset server1 +8761h").contains("beyond one year"));
    assert!(one("set clock-offset server1 -99999999999999999999h").contains("too large"));
    let e = errs("config c.toml\nset clock-offset s1 +1s\nset clock-offset s1 -1s\nat 0s boot all\n");
    assert_eq!(e, vec![(3, "clock-offset of s1 set twice (first at line 2)".to_string())]);
    // Offset and drift of one server are two knobs.
    let sc = ok("config c.toml\nset clock-offset s1 +1s\nset clock-drift s1 +1ppm\n");
    assert_eq!(sc.knobs.clocks["s1"], ClockKnob { offset_ms: 1_000, drift_ppm: 1 });
}

#[test]
fn clock_servers_are_checked() {
    assert_eq!(check_errors("at 1s clock server1 +1s\n"), vec![]);
    let e = check_errors("at 1s clock nosuch +1s\n");
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].0, 2);
    let sc = ok("config c.toml\nset clock-drift ghost +1ppm\nat 0s boot all\n");
    let e = crate::scenario::check(&sc, "t.scenario", &super::check::fixture());
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].message.contains("ghost"), "{}", e[0].message);
}
