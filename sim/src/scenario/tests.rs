//! Tests of the scenario language: the example scenarios, every statement form, the
//! rendering round trip, literal values and parse errors with their lines. The
//! checker's tests are in `tests/check.rs`.
//!
//! In: example files under `examples/`, inline scenario texts. Out: assertions only.

mod check;
mod clock;

use super::lexer::{quote_word, split_words};
use super::*;
use std::path::Path;

fn examples_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/scenarios")
}

fn example_files() -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(examples_dir())
        .expect("examples/scenarios")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "scenario"))
        .collect();
    files.sort();
    files
}

fn ok(text: &str) -> Scenario {
    match parse("t.scenario", text) {
        Ok(sc) => sc,
        Err(errors) => panic!("{text}\n{}", errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n")),
    }
}

/// The errors of a scenario that must not parse, as `(line, message)`.
fn errs(text: &str) -> Vec<(usize, String)> {
    match parse("t.scenario", text) {
        Ok(sc) => panic!("parsed but should not:\n{text}\n{sc:?}"),
        Err(errors) => errors.into_iter().map(|e| (e.line, e.message)).collect(),
    }
}

/// The one error of a one-statement scenario `at 1s STMT` (on line 2).
fn stmt_err(stmt: &str) -> String {
    let e = errs(&format!("config c.toml\nat 1s {stmt}\n"));
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].0, 2);
    e[0].1.clone()
}

fn stmt(text: &str) -> Stmt {
    let sc = ok(&format!("config c.toml\nat 1s {text}\n"));
    assert_eq!(sc.steps.len(), 1);
    sc.steps[0].stmt.clone()
}

fn s(x: &str) -> String {
    x.to_string()
}

#[test]
fn all_example_scenarios_parse_and_round_trip() {
    let files = example_files();
    assert_eq!(files.len(), 12, "{files:?}");
    for path in files {
        let text = std::fs::read_to_string(&path).expect("read");
        let name = path.display().to_string();
        let sc = parse(&name, &text).unwrap_or_else(|e| panic!("{e:?}"));
        assert!(sc.config_path.starts_with("../configs/"), "{name}");
        assert!(!sc.steps.is_empty());
        assert!(sc.steps.windows(2).all(|w| w[0].at_ms <= w[1].at_ms && w[0].line < w[1].line));
        // Rendering reads back to the same steps (lines differ: comments are gone).
        let again = parse("rendered", &sc.to_string()).unwrap_or_else(|e| panic!("{name}: {e:?}\n{sc}"));
        assert_eq!(again.config_path, sc.config_path);
        assert_eq!(again.knobs, sc.knobs);
        let strip = |sc: &Scenario| sc.steps.iter().map(|st| (st.at_ms, st.stmt.clone())).collect::<Vec<_>>();
        assert_eq!(strip(&again), strip(&sc), "{name}");
    }
}

#[test]
fn example_details() {
    let text = std::fs::read_to_string(examples_dir().join("11-mirror-rebuild-after-return.scenario")).expect("read");
    let sc = ok(&text);
    assert_eq!(sc.config_line, 5);
    assert_eq!(sc.seed, 0);
    assert_eq!(sc.knobs, Knobs { mirror_bandwidth_bytes_per_s: 10_000_000, ..Knobs::default() });
    let write = sc.steps.iter().find(|st| matches!(st.stmt, Stmt::Write { .. })).expect("write");
    assert_eq!(write.at_ms, 170_000);
    assert_eq!(write.stmt, Stmt::Write { resource: s("md1"), bytes: 200_000_000 });
    assert_eq!(sc.end_ms(), 300_000);
    assert!(!sc.expects_split_brain());
    assert_eq!(
        sc.config_file(Path::new("examples/scenarios/11.scenario")),
        Path::new("examples/scenarios/../configs/2node-mirror.toml")
    );
}

#[test]
fn header_seed_and_every_knob() {
    let sc = ok("# leading comment\n\nconfig \"my dir/c.toml\"\nseed 42\nset activation-time 2s\n\
                 set boot-time 1m30s\nset network-latency 5ms\nset disk-latency 0s\n\
                 set mirror-bandwidth 10MiB/s\nset mirror-size 4GiB\nat 0s boot all\n");
    assert_eq!(sc.config_path, "my dir/c.toml");
    assert_eq!(sc.config_line, 3);
    assert_eq!(sc.seed, 42);
    assert_eq!(
        sc.knobs,
        Knobs {
            activation_time_ms: 2_000,
            boot_time_ms: 90_000,
            network_latency_ms: 5,
            disk_latency_ms: 0,
            mirror_bandwidth_bytes_per_s: 10 << 20,
            mirror_size_bytes: 4 << 30,
            clocks: Default::default(),
        }
    );
    assert_eq!(sc.steps, vec![Step { at_ms: 0, line: 11, stmt: Stmt::Boot(Target::All) }]);
    // Rendering keeps the non-default knobs and the seed.
    assert_eq!(ok(&sc.to_string()).knobs, sc.knobs);
    assert_eq!(ok(&sc.to_string()).seed, 42);
}

#[test]
fn defaults() {
    let sc = ok("config c.toml\n");
    assert_eq!(sc.seed, 0);
    assert!(sc.steps.is_empty());
    let k = Knobs::default();
    assert_eq!((k.activation_time_ms, k.boot_time_ms, k.network_latency_ms, k.disk_latency_ms), (1_000, 60_000, 1, 1));
    assert_eq!((k.mirror_bandwidth_bytes_per_s, k.mirror_size_bytes), (100_000_000, 1_000_000_000));
    assert_eq!(sc.to_string(), "config c.toml\n");
}

/// Every happening and expectation, with the AST it must give.
fn forms() -> Vec<(&'static str, Stmt)> {
    use Expect as E;
    let run = |phase, env: &[(&str, &str)]| ScriptRun {
        resource: s("exec1"),
        phase,
        env: env.iter().map(|(k, v)| (s(k), s(v))).collect(),
        server: s("server2"),
    };
    vec![
        ("boot all", Stmt::Boot(Target::All)),
        ("boot server1", Stmt::Boot(Target::Server(s("server1")))),
        ("crash server1", Stmt::Crash { server: s("server1") }),
        ("crash server1 after-persist", Stmt::CrashAt { server: s("server1"), point: CrashPoint::AfterPersist }),
        ("crash server1 before-next", Stmt::CrashAt { server: s("server1"), point: CrashPoint::BeforeNext }),
        ("shutdown server2", Stmt::Shutdown { server: s("server2") }),
        ("cut lan1 server1", Stmt::Cut { network: s("lan1"), server: s("server1") }),
        ("cut lan1 server1 server2", Stmt::CutPair { network: s("lan1"), a: s("server1"), b: s("server2") }),
        ("cut lan1 server1 -> server2", Stmt::CutOneWay { network: s("lan1"), from: s("server1"), to: s("server2") }),
        ("heal lan1 server1", Stmt::Heal { network: s("lan1"), server: s("server1") }),
        ("heal lan1 server1 server2", Stmt::HealPair { network: s("lan1"), a: s("server1"), b: s("server2") }),
        ("heal public a -> b", Stmt::HealOneWay { network: s("public"), from: s("a"), to: s("b") }),
        ("heal all", Stmt::HealAll),
        ("isolate server1", Stmt::Isolate { server: s("server1") }),
        (
            "partition server1 | server2 server3",
            Stmt::Partition { left: vec![s("server1")], right: vec![s("server2"), s("server3")] },
        ),
        ("loss lan1 30%", Stmt::Loss { network: s("lan1"), percent: 30 }),
        ("loss lan1 5", Stmt::Loss { network: s("lan1"), percent: 5 }),
        ("target 10.0.0.254 down", Stmt::Target { address: s("10.0.0.254"), state: TargetState::Down, from: None }),
        (
            "target http://x/health up from server2",
            Stmt::Target { address: s("http://x/health"), state: TargetState::Up, from: Some(s("server2")) },
        ),
        (
            "disk /dev/sdb2 fail on server1",
            Stmt::Disk { device: s("/dev/sdb2"), action: DiskAction::Fail, server: s("server1") },
        ),
        (
            "disk /dev/sdb2 heal on server1",
            Stmt::Disk { device: s("/dev/sdb2"), action: DiskAction::Heal, server: s("server1") },
        ),
        (
            "disk /dev/vdb1 replace on server2",
            Stmt::Disk { device: s("/dev/vdb1"), action: DiskAction::Replace, server: s("server2") },
        ),
        (
            "disk /dev/vdb1 slow 2s on server2",
            Stmt::Disk {
                device: s("/dev/vdb1"),
                action: DiskAction::Slow { duration_ms: 2_000 },
                server: s("server2"),
            },
        ),
        ("serial fail", Stmt::Serial(SerialAction::Fail)),
        ("serial heal", Stmt::Serial(SerialAction::Heal)),
        (
            "fail activation exec1 on server1",
            Stmt::FailActivation { resource: s("exec1"), server: s("server1"), times: None },
        ),
        (
            "fail activation exec1 on server1 times 2",
            Stmt::FailActivation { resource: s("exec1"), server: s("server1"), times: Some(2) },
        ),
        (
            "fail deactivation fip1 on server2 times 1",
            Stmt::FailDeactivation { resource: s("fip1"), server: s("server2"), times: Some(1) },
        ),
        (
            "monitor appw1 fail on server1",
            Stmt::Monitor { monitor: s("appw1"), health: MonitorHealth::Fail, server: s("server1") },
        ),
        (
            "monitor appw1 ok on server1",
            Stmt::Monitor { monitor: s("appw1"), health: MonitorHealth::Ok, server: s("server1") },
        ),
        ("stall server1 45s", Stmt::Stall { server: s("server1"), duration_ms: 45_000 }),
        ("hang-shutdown server1", Stmt::HangShutdown { server: s("server1") }),
        ("kill-process server1", Stmt::KillProcess { server: s("server1"), process: s("core") }),
        ("kill-process server1 transport", Stmt::KillProcess { server: s("server1"), process: s("transport") }),
        ("write md1 200MB", Stmt::Write { resource: s("md1"), bytes: 200_000_000 }),
        (
            "cmd group move failover1 --to server2",
            Stmt::Cmd { on: None, words: vec![s("group"), s("move"), s("failover1"), s("--to"), s("server2")] },
        ),
        (
            "cmd on server2 server return server1",
            Stmt::Cmd { on: Some(s("server2")), words: vec![s("server"), s("return"), s("server1")] },
        ),
        (
            "expect group failover1 online on server1",
            Stmt::Expect(E::GroupOnline { group: s("failover1"), server: s("server1") }),
        ),
        ("expect group failover1 offline", Stmt::Expect(E::GroupOffline { group: s("failover1") })),
        ("expect group failover1 error", Stmt::Expect(E::GroupError { group: s("failover1") })),
        (
            "expect resource fip1 online on server1",
            Stmt::Expect(E::Resource { resource: s("fip1"), state: ResourceState::Online, server: s("server1") }),
        ),
        (
            "expect resource fip1 offline on server2",
            Stmt::Expect(E::Resource { resource: s("fip1"), state: ResourceState::Offline, server: s("server2") }),
        ),
        ("expect server server1 online", Stmt::Expect(E::Server { server: s("server1"), state: ServerState::Online })),
        ("expect server server1 down", Stmt::Expect(E::Server { server: s("server1"), state: ServerState::Down })),
        (
            "expect server server1 suspended",
            Stmt::Expect(E::Server { server: s("server1"), state: ServerState::Suspended }),
        ),
        (
            "expect server server1 stopped",
            Stmt::Expect(E::Server { server: s("server1"), state: ServerState::Stopped }),
        ),
        ("expect server server1 off", Stmt::Expect(E::Server { server: s("server1"), state: ServerState::Off })),
        (
            "expect monitor ipw1 ok on server1",
            Stmt::Expect(E::Monitor { monitor: s("ipw1"), state: MonitorState::Ok, server: s("server1") }),
        ),
        (
            "expect monitor ipw1 error on server1",
            Stmt::Expect(E::Monitor { monitor: s("ipw1"), state: MonitorState::Error, server: s("server1") }),
        ),
        (
            "expect monitor appw1 stopped on server2",
            Stmt::Expect(E::Monitor { monitor: s("appw1"), state: MonitorState::Stopped, server: s("server2") }),
        ),
        ("expect mirror md1 normal", Stmt::Expect(E::Mirror { mirror: s("md1"), state: MirrorState::Normal })),
        ("expect mirror md1 degraded", Stmt::Expect(E::Mirror { mirror: s("md1"), state: MirrorState::Degraded })),
        ("expect mirror md1 rebuilding", Stmt::Expect(E::Mirror { mirror: s("md1"), state: MirrorState::Rebuilding })),
        ("expect mirror md1 error", Stmt::Expect(E::Mirror { mirror: s("md1"), state: MirrorState::Error })),
        (
            "expect mirror md1 latest on server1",
            Stmt::Expect(E::MirrorLatest { mirror: s("md1"), server: s("server1") }),
        ),
        ("expect mirror md1 identical", Stmt::Expect(E::MirrorIdentical { mirror: s("md1") })),
        ("expect event server-lost", Stmt::Expect(E::Event { event: s("server-lost"), on: None, count: None })),
        (
            "expect event server-lost on server2",
            Stmt::Expect(E::Event { event: s("server-lost"), on: Some(s("server2")), count: None }),
        ),
        (
            "expect event server-lost count 0",
            Stmt::Expect(E::Event { event: s("server-lost"), on: None, count: Some(0) }),
        ),
        (
            "expect event server-lost on server2 count 3",
            Stmt::Expect(E::Event { event: s("server-lost"), on: Some(s("server2")), count: Some(3) }),
        ),
        ("expect no event server-lost", Stmt::Expect(E::NoEvent { event: s("server-lost"), on: None, since_ms: None })),
        (
            "expect no event server-lost on server1 since 500ms",
            Stmt::Expect(E::NoEvent { event: s("server-lost"), on: Some(s("server1")), since_ms: Some(500) }),
        ),
        (
            "expect no event server-lost since 0s",
            Stmt::Expect(E::NoEvent { event: s("server-lost"), on: None, since_ms: Some(0) }),
        ),
        (
            "expect script exec1 ran CLP_EVENT=FAILOVER on server2",
            Stmt::Expect(E::Script(run(None, &[("CLP_EVENT", "FAILOVER")]))),
        ),
        ("expect script exec1 ran on server2", Stmt::Expect(E::Script(run(None, &[])))),
        (
            "expect script exec1 stop ran CLP_FACTOR=GROUPSTOP X= on server2",
            Stmt::Expect(E::Script(run(Some(ScriptPhase::Stop), &[("CLP_FACTOR", "GROUPSTOP"), ("X", "")]))),
        ),
        (
            "expect script exec1 start ran \"NAME=a b\" on server2",
            Stmt::Expect(E::Script(run(Some(ScriptPhase::Start), &[("NAME", "a b")]))),
        ),
        (
            "expect no script exec1 ran CLP_EVENT=START on server2",
            Stmt::Expect(E::NoScript(run(None, &[("CLP_EVENT", "START")]))),
        ),
        (
            "expect no script exec1 start ran A=1 B=2 on server2",
            Stmt::Expect(E::NoScript(run(Some(ScriptPhase::Start), &[("A", "1"), ("B", "2")]))),
        ),
        ("expect split-brain failover1", Stmt::Expect(E::SplitBrain { group: s("failover1") })),
    ]
}

#[test]
fn every_statement_form_parses_and_renders_back() {
    for (text, want) in forms() {
        let got = stmt(text);
        assert_eq!(got, want, "{text}");
        // The rendering parses to the same statement.
        assert_eq!(stmt(&got.to_string()), want, "rendered {got}");
    }
}

#[test]
fn replies_follow_a_cmd() {
    let sc = ok("config c.toml\nat 1s cmd cluster stop\nat 2s expect reply ok\nat 3s expect reply error\n");
    assert_eq!(sc.steps[1].stmt, Stmt::Expect(Expect::Reply(ReplyState::Ok)));
    assert_eq!(sc.steps[2].stmt, Stmt::Expect(Expect::Reply(ReplyState::Error)));
    assert_eq!(errs("config c.toml\nat 1s expect reply ok\n")[0].0, 2);
}

#[test]
fn same_time_keeps_file_order_and_split_brain_is_seen() {
    let sc = ok("config c.toml\nat 1m crash a\nat 1m boot a\nat 2m expect split-brain g\n");
    assert_eq!(
        sc.steps.iter().map(|st| (st.at_ms, st.line)).collect::<Vec<_>>(),
        [(60_000, 2), (60_000, 3), (120_000, 4)]
    );
    assert!(sc.expects_split_brain());
}

#[test]
fn words_quotes_and_comments() {
    assert_eq!(split_words("  a\tb  c # d e").unwrap(), ["a", "b", "c"]);
    assert_eq!(split_words("a \"b c\" \"\" d").unwrap(), ["a", "b c", "", "d"]);
    assert_eq!(split_words("K=\"a # b\"x").unwrap(), ["K=a # bx"]);
    assert_eq!(split_words(r#""say \"hi\" \\ \n""#).unwrap(), [r#"say "hi" \ \n"#]);
    assert_eq!(split_words("# all comment").unwrap(), Vec::<String>::new());
    assert!(split_words("a \"b c").unwrap_err().contains("column 3"));
    for w in ["plain", "a b", "", "x#y", "q\"uote", "back\\slash"] {
        assert_eq!(split_words(&quote_word(w)).unwrap(), [w], "{w}");
    }
}

#[test]
fn durations() {
    for (text, ms) in [
        ("0s", 0),
        ("90s", 90_000),
        ("2m30s", 150_000),
        ("1500ms", 1_500),
        ("1h", 3_600_000),
        ("1h2m3s4ms", 3_723_004),
        ("0ms", 0),
    ] {
        assert_eq!(parse_duration_ms(text), Ok(ms), "{text}");
        assert_eq!(parse_duration_ms(&format_duration(ms)), Ok(ms));
    }
    assert_eq!(format_duration(150_000), "2m30s");
    assert_eq!(format_duration(1_500), "1s500ms");
    for bad in ["", "5", "s", "1.5s", "5x", "30s2m", "1s1s", "-1s", "2 m", "99999999999999999999h"] {
        assert!(parse_duration_ms(bad).is_err(), "{bad}");
    }
    assert!(parse_duration_ms("5").unwrap_err().contains("missing unit"));
    assert!(parse_duration_ms("5d").unwrap_err().contains("unknown unit"));
}

#[test]
fn sizes_and_bandwidths() {
    for (text, b) in [
        ("0B", 0),
        ("512B", 512),
        ("200MB", 200_000_000),
        ("1GB", 1_000_000_000),
        ("4KiB", 4096),
        ("2MiB", 2 << 20),
        ("1GiB", 1 << 30),
        ("3KB", 3_000),
    ] {
        assert_eq!(parse_size_bytes(text), Ok(b), "{text}");
        assert_eq!(parse_size_bytes(&format_size(b)), Ok(b));
    }
    assert_eq!(format_size(1_000_000_000), "1GB");
    assert_eq!(format_size(1024), "1KiB");
    assert_eq!(format_size(1001), "1001B");
    for bad in ["", "200", "200mb", "MB", "1.5GB", "2MB3KB", "99999999999GB"] {
        assert!(parse_size_bytes(bad).is_err(), "{bad}");
    }
    assert_eq!(parse_bandwidth("100MB/s"), Ok(100_000_000));
    assert_eq!(format_bandwidth(100_000_000), "100MB/s");
    assert!(parse_bandwidth("100MB").is_err());
    assert!(parse_bandwidth("fast/s").is_err());
}

#[test]
fn missing_config() {
    let e = errs("");
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].0, 1);
    assert!(e[0].1.contains("missing `config PATH`"), "{}", e[0].1);
    let e = errs("# comment\n\nat 0s boot all\nat 1s crash server1\n");
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].0, 3);
    assert!(e[0].1.contains("missing `config PATH`"));
}

#[test]
fn config_not_first() {
    let e = errs("seed 3\nconfig c.toml\nat 0s boot all\n");
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].0, 2);
    assert!(e[0].1.contains("must be the first statement") && e[0].1.contains("line 1"), "{}", e[0].1);
    let e = errs("config a.toml\nconfig b.toml\n");
    assert_eq!(e[0], (2, s("`config` given twice (first at line 1)")));
    // A malformed `config` is reported once, not also as missing.
    assert_eq!(errs("config\n"), [(1, s("expected `config PATH` (one path; quote it if it has spaces)"))]);
    assert_eq!(errs("config a b\n").len(), 1);
}

#[test]
fn set_after_at() {
    let e = errs("config c.toml\nat 0s boot all\nset boot-time 30s\n");
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].0, 3);
    assert!(e[0].1.contains("before the first `at`") && e[0].1.contains("line 2"), "{}", e[0].1);
}

#[test]
fn bad_knobs_and_seeds() {
    let e = errs("config c.toml\nset boot-tme 30s\nset boot-time fast\nset mirror-size 1GB/s\nset mirror-bandwidth 100MB\n\
                  set mirror-bandwidth 0MB/s\nset activation-time\nset disk-latency 1ms\nset disk-latency 2ms\nseed x\nseed 1\nseed 2\n");
    let lines: Vec<usize> = e.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, [2, 3, 4, 5, 6, 7, 9, 10, 12], "{e:?}");
    assert!(e[0].1.contains("unknown knob \"boot-tme\"") && e[0].1.contains("boot-time"));
    assert!(e[1].1.contains("duration"));
    assert!(e[3].1.contains("bandwidth like 100MB/s"));
    assert!(e[5].1.contains("expected `set KNOB VALUE`"));
    assert!(e[6].1.contains("disk-latency set twice (first at line 8)"));
    assert!(e[7].1.contains("the seed"));
    assert!(e[8].1.contains("`seed` given twice (first at line 11)"));
}

#[test]
fn time_going_backwards() {
    let e = errs("config c.toml\nat 3m boot all\nat 1m crash server1\nat 2m crash server2\nat 3m crash server3\n");
    assert_eq!(e.len(), 2, "{e:?}");
    assert_eq!(e[0].0, 3);
    assert!(e[0].1.contains("time goes backwards: 1m is before 3m (line 2)"), "{}", e[0].1);
    assert_eq!(e[1].0, 4);
}

#[test]
fn unknown_and_untimed_statements() {
    let e = errs("config c.toml\nfrobnicate x\ncrash server1\nat 1s explode server1\nat 1s set boot-time 1s\nat 1s\nat 1s expect colour red\n");
    let lines: Vec<usize> = e.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, [2, 3, 4, 5, 6, 7], "{e:?}");
    assert!(e[0].1.contains("unknown statement `frobnicate`: expected config, seed, set or at"));
    assert!(e[1].1.contains("needs a time: write `at TIME crash"));
    assert!(e[2].1.contains("unknown statement `explode`") && e[2].1.contains("boot, crash"));
    assert!(e[3].1.contains("cannot be timed"));
    assert!(e[4].1.contains("missing the statement"));
    assert!(e[5].1.contains("unknown expectation `colour`"));
}

#[test]
fn bad_duration_and_size_in_statements() {
    assert!(stmt_err("stall server1 10").contains("missing unit"));
    assert!(stmt_err("disk /dev/sdb slow forever on server1").contains("duration"));
    assert!(stmt_err("write md1 lots").contains("size like 200MB"));
    assert!(stmt_err("write md1 200").contains("missing unit"));
    let e = errs("config c.toml\nat soon boot all\n");
    assert_eq!(e[0].0, 2);
    assert!(e[0].1.contains("expected a duration like"), "{}", e[0].1);
}

#[test]
fn unterminated_quote() {
    let e = errs("config c.toml\nat 1s cmd group move \"failover1\nat 2s boot all\n");
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].0, 2);
    assert!(e[0].1.contains("unterminated quote"), "{}", e[0].1);
}

#[test]
fn wrong_arity_and_bad_words_say_what_was_expected() {
    let cases = [
        ("boot", "expected `boot SERVER|all`"),
        ("boot server1 server2", "unexpected `server2`"),
        ("crash", "missing SERVER: expected `crash SERVER`"),
        ("crash server1 sideways", "found `sideways`, not one of after-persist, before-next"),
        ("crash server1 after-persist now", "unexpected `now`"),
        ("cut lan1", "missing SERVER"),
        ("cut lan1 a b c d", "wrong number of words"),
        ("cut lan1 a->b", "`->` as a word of its own"),
        ("cut lan1 a a", "same server twice"),
        ("heal", "missing NETWORK"),
        ("heal lan1", "missing SERVER: expected `heal NETWORK SERVER [SERVER | -> SERVER]` or `heal all`"),
        ("partition a b", "one `|`"),
        ("partition a |", "each side"),
        ("partition a|b", "`|` as a word of its own"),
        ("partition a b | a", "named twice"),
        ("loss lan1 120%", "more than 100%"),
        ("loss lan1 lots", "percentage"),
        ("target 10.0.0.1 sideways", "not one of down or up"),
        ("target 10.0.0.1 down from", "missing SERVER"),
        ("disk /dev/sdb melt on server1", "not one of fail, heal, replace or slow"),
        ("disk /dev/sdb fail server1", "found `server1` where `on` belongs"),
        ("serial", "missing one of fail or heal"),
        ("fail startup exec1 on s1", "not activation or deactivation"),
        ("fail activation exec1 on s1 times 0", "times 0"),
        ("fail activation exec1 on s1 times x", "number of failures"),
        ("monitor appw1 broken on s1", "not one of fail or ok"),
        ("cmd", "missing the command words"),
        ("cmd on server1", "missing the command words"),
        ("expect", "missing what to expect"),
        ("expect group g somewhere", "not online, offline or error"),
        ("expect group g online", "missing `on`"),
        ("expect server s1 sleeping", "online, down, suspended, stopped or off"),
        ("expect monitor m fine on s1", "ok, error or stopped"),
        ("expect mirror md1 happy", "not normal, degraded, rebuilding, error, latest or identical"),
        ("expect event x count", "missing N"),
        ("expect event x count -1", "the count"),
        ("expect no event x since 2s", "after this statement's time 1s"),
        ("expect no events x", "expected `expect no event"),
        ("expect script exec1 ran A=1", "missing `on SERVER` at the end"),
        ("expect script exec1 ran A on s1", "`A` is not KEY=VALUE"),
        ("expect script exec1 ran =1 on s1", "`=1` is not KEY=VALUE"),
        ("expect script exec1 ran A=1 A=2 on s1", "A is given twice"),
        ("expect script exec1 A=1 on s1", "found `A=1` where `ran` belongs"),
        ("expect reply maybe", "not one of ok or error"),
        ("expect split-brain", "missing GROUP"),
    ];
    for (text, want) in cases {
        // `expect reply` needs a cmd first: give it one on the line before.
        let e = if text.starts_with("expect reply") {
            let e = errs(&format!("config c.toml\nat 0s cmd cluster stop\nat 1s {text}\n"));
            assert_eq!(e[0].0, 3);
            e[0].1.clone()
        } else {
            stmt_err(text)
        };
        assert!(e.contains(want), "{text}: got {e:?}, want {want:?}");
    }
}

#[test]
fn every_error_of_a_file_is_reported() {
    let text = "config c.toml\n\
                at 0s boot all\n\
                at 1m crash\n\
                at 2m frob server1\n\
                at 90s crash server1\n\
                set boot-time 1s\n\
                at 3m expect group g online on \"s1\n\
                at 4m write md1 5XB\n\
                at 5m expect group g offline\n";
    let e = parse("multi.scenario", text).unwrap_err();
    let lines: Vec<usize> = e.iter().map(|e| e.line).collect();
    assert_eq!(lines, [3, 4, 5, 6, 7, 8]);
    assert_eq!(e[0].to_string(), "multi.scenario:3: missing SERVER: expected `crash SERVER`");
    assert!(e.iter().all(|e| e.file == "multi.scenario"));
}

proptest::proptest! {
    /// Any duration, size and word renders to text that reads back as itself.
    #[test]
    fn literals_round_trip(ms in 0u64..1u64 << 50, bytes in 0u64..1u64 << 50, word in "[^\n\r]{0,12}") {
        proptest::prop_assert_eq!(parse_duration_ms(&format_duration(ms)), Ok(ms));
        proptest::prop_assert_eq!(parse_size_bytes(&format_size(bytes)), Ok(bytes));
        proptest::prop_assert_eq!(parse_bandwidth(&format_bandwidth(bytes)), Ok(bytes));
        proptest::prop_assert_eq!(split_words(&quote_word(&word)), Ok(vec![word.clone()]));
    }
}
