//! The cluster file checker as a whole: the example configs, defaults, implied
//! monitors (B88), warnings (B133), several problems in one file, and the render
//! round trip. The per-rule refusals are in `config_rules.rs`.

#![allow(clippy::disallowed_methods, reason = "a core test reads the committed files it checks (core/clippy.toml)")]

use baton_core::config::{
    format_duration_ms, parse, parse_duration_ms, render, Checked, Config, DiagLevel, Failback, FailoverMode,
    FailoverTarget, FinalAction, HeartbeatKind, MirrorMode, MonitorKind, NpKind, RecoveryTarget, ResId, ResourceKind,
    ServerId, SgId, Startup,
};
use std::path::PathBuf;

fn examples() -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/configs");
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&p).unwrap()))
        .collect();
    out.sort();
    assert_eq!(out.len(), 5, "expected the five example configs");
    out
}

fn ok(text: &str) -> Checked {
    match parse("t.toml", text) {
        Ok(c) => c,
        Err(e) => panic!("refused:\n{}", e.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")),
    }
}

fn example(name: &str) -> Config {
    let (_, text) = examples().into_iter().find(|(n, _)| n == name).unwrap();
    ok(&text).config
}

fn mon<'c>(cfg: &'c Config, name: &str) -> &'c baton_core::config::Monitor {
    cfg.monitor(cfg.monitor_id(name).unwrap_or_else(|| panic!("no monitor {name}")))
}

#[test]
fn every_example_parses_without_errors() {
    for (name, text) in examples() {
        let checked = parse(&name, &text).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert!(checked.warnings.iter().all(|w| w.level == DiagLevel::Warning));
    }
}

const MINIMAL: &str = r#"[cluster]
name = "c1"

[[server]]
name = "s1"
addresses = { lan1 = "192.168.0.1", public = "10.0.0.1" }

[[server]]
name = "s2"
addresses = { lan1 = "192.168.0.2", public = "10.0.0.2" }

[[heartbeat]]
name = "lan1"

[[heartbeat]]
name = "hbdisk"
kind = "disk"
device = "/dev/sdc2"

[[np]]
name = "ping1"
kind = "ping"
targets = ["10.0.0.254"]

[[np]]
name = "d1"
kind = "disk"
device = "/dev/sdc1"

[[group]]
name = "g"

[[group.resource]]
name = "app"
kind = "exec"
start = "start.sh"

[[group.resource]]
name = "data"
kind = "disk"
device = "/dev/sdb1"
mount_point = "/mnt/data"

[[group.resource]]
name = "ip"
kind = "floating-ip"
address = "10.0.0.50/24"

[[monitor]]
name = "logw"
kind = "disk"
path = "/mnt/data/log"
recovery_target = "g"
"#;

#[test]
fn defaults_are_filled() {
    let cfg = ok(MINIMAL).config;
    let c = &cfg.cluster;
    assert_eq!((c.heartbeat_interval_ms, c.heartbeat_timeout_ms, c.sync_wait_ms), (3_000, 30_000, 300_000));
    assert_eq!((c.counter_reset_after_ms, c.port, c.web_port), (3_600_000, 29002, 29003));
    assert!(!c.auto_return && !c.insecure && c.secret_file.is_none());
    assert_eq!(cfg.heartbeats[0].kind, HeartbeatKind::Lan { network: "lan1".into() });
    assert_eq!(cfg.heartbeats[0].priority, 1);
    assert_eq!(cfg.heartbeats[1].priority, 2);
    assert_eq!(cfg.heartbeats[1].servers, vec![ServerId(0), ServerId(1)]);
    let np = &cfg.nps[0];
    assert_eq!((np.interval_ms, np.timeout_ms, np.retries), (5_000, 5_000, 3));
    assert_eq!(np.servers, vec![ServerId(0), ServerId(1)]);
    assert_eq!(cfg.nps[1].kind, NpKind::Disk { device: "/dev/sdc1".into(), io_wait_ms: 80_000 });
    let g = &cfg.groups[0];
    assert_eq!(g.policy, vec![ServerId(0), ServerId(1)]);
    assert_eq!((g.startup, g.failover, g.failback), (Startup::Auto, FailoverMode::Auto, Failback::Manual));
    assert_eq!((g.failover_target, g.exclusive), (FailoverTarget::Priority, false));
    assert!(g.start_after.is_empty() && g.server_groups.is_none());
    let app = cfg.resource(cfg.resource_id("app").unwrap());
    assert_eq!(
        (app.activation.retries, app.activation.failovers, app.activation.final_action),
        (0, 1, FinalAction::None)
    );
    assert_eq!((app.deactivation.retries, app.deactivation.final_action), (0, FinalAction::StopServiceAndShutdown));
    assert_eq!(app.timeout_ms, 60_000);
    // B62: exec (class 3) after the disk and the floating IP, whatever the file order.
    assert_eq!(app.depends_on, vec![ResId(1), ResId(2)]);
    let data = cfg.resource(ResId(1));
    assert_eq!(data.depends_on, vec![ResId(2)]);
    assert!(cfg.resource(ResId(2)).depends_on.is_empty());
    let ResourceKind::Disk { fs_type, fsck, mount_options, .. } = &data.kind else { panic!("{:?}", data.kind) };
    assert_eq!((fs_type.as_str(), *fsck, mount_options.is_none()), ("ext4", true, true));
    let ip = &cfg.resource(ResId(2)).kind;
    let ResourceKind::FloatingIp { arp_count, interface, .. } = ip else { panic!("{ip:?}") };
    assert_eq!((*arp_count, interface.is_none()), (5, true));
    let m = mon(&cfg, "logw");
    assert_eq!((m.interval_ms, m.timeout_ms, m.retries, m.start_wait_ms), (30_000, 60_000, 1, 0));
    assert_eq!((m.reactivations, m.failovers, m.final_action), (3, 1, FinalAction::None));
    assert_eq!(m.servers, vec![ServerId(0), ServerId(1)]);
    assert_eq!(m.recovery_target, RecoveryTarget::Group(cfg.group_id("g").unwrap()));
    // The disk monitor's device comes from the disk resource holding its path.
    assert_eq!(
        m.kind,
        MonitorKind::Disk { path: "/mnt/data/log".into(), io_size: 2_000_000, device: Some("/dev/sdb1".into()) }
    );
}

#[test]
fn active_with_monitors_default_to_the_group_policy() {
    let text = MINIMAL.replace("[[group]]\nname = \"g\"", "[[group]]\nname = \"g\"\nservers = [\"s2\"]");
    let text = format!("{text}[[monitor]]\nname = \"appw\"\nkind = \"process\"\nprocess_name = \"app\"\nactive_with = \"app\"\nrecovery_target = \"app\"\n");
    let cfg = ok(&text).config;
    assert_eq!(mon(&cfg, "appw").servers, vec![ServerId(1)]);
    assert_eq!(mon(&cfg, "ip-fipw").servers, vec![ServerId(1)]);
    assert_eq!(mon(&cfg, "logw").servers, vec![ServerId(0), ServerId(1)]);
}

#[test]
fn explicit_depends_on_replaces_the_default() {
    let text = MINIMAL.replace("start = \"start.sh\"", "start = \"start.sh\"\ndepends_on = [\"ip\"]");
    let cfg = ok(&text).config;
    assert_eq!(cfg.resource(ResId(0)).depends_on, vec![ResId(2)]);
}

#[test]
fn implied_monitors_follow_b88() {
    let cfg = ok(MINIMAL).config;
    let names: Vec<&str> = cfg.monitors.iter().map(|m| m.name.as_str()).collect();
    // Explicit first, then per resource in file order, then userw. The explicit disk
    // monitor `logw` lies under data's mount point, so it replaces `data-diskw`.
    assert_eq!(names, ["logw", "ip-fipw", "userw"]);
    let fipw = mon(&cfg, "ip-fipw");
    assert!(fipw.implied);
    assert_eq!(fipw.kind, MonitorKind::FloatingIp { resource: ResId(2) });
    assert_eq!((fipw.active_with, fipw.recovery_target), (Some(ResId(2)), RecoveryTarget::Resource(ResId(2))));
    assert_eq!((fipw.reactivations, fipw.failovers, fipw.final_action), (3, 1, FinalAction::None));
    let userw = mon(&cfg, "userw");
    assert_eq!(userw.kind, MonitorKind::UserSpace { stall_action: FinalAction::EmergencyReboot });
    assert_eq!(
        (userw.recovery_target, userw.final_action),
        (RecoveryTarget::LocalServer, FinalAction::EmergencyReboot)
    );
    assert_eq!((userw.active_with, userw.servers.len()), (None, 2));

    // Without logw the disk gets its own monitor of its mount.
    let cut = MINIMAL.find("[[monitor]]").unwrap();
    let cfg = ok(&MINIMAL[..cut]).config;
    let diskw = mon(&cfg, "data-diskw");
    assert_eq!(
        diskw.kind,
        MonitorKind::Disk { path: "/mnt/data".into(), io_size: 2_000_000, device: Some("/dev/sdb1".into()) }
    );
    assert_eq!((diskw.active_with, diskw.recovery_target), (Some(ResId(1)), RecoveryTarget::Resource(ResId(1))));
}

#[test]
fn implied_mirror_monitors_report_only() {
    let cfg = example("2node-mirror.toml");
    let names: Vec<&str> = cfg.monitors.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["ipw1", "fip1-fipw", "md1-mdw", "md1-mdnw", "userw"]);
    let md1 = cfg.resource_id("md1").unwrap();
    for (name, kind) in [
        ("md1-mdw", MonitorKind::MirrorDisk { resource: md1 }),
        ("md1-mdnw", MonitorKind::MirrorConnect { resource: md1 }),
    ] {
        let m = mon(&cfg, name);
        assert_eq!(m.kind, kind);
        assert_eq!((m.active_with, m.recovery_target), (None, RecoveryTarget::Resource(md1)));
        assert_eq!((m.reactivations, m.failovers, m.final_action, m.implied), (0, 0, FinalAction::None, true));
    }
    let hybrid = example("3node-hybrid.toml");
    assert!(hybrid.monitor_id("hd1-hdw").is_some() && hybrid.monitor_id("hd1-hdnw").is_some());
}

#[test]
fn a_monitor_of_the_same_kind_suppresses_the_implied_one() {
    let extra =
        "[[monitor]]\nname = \"myfip\"\nkind = \"floating-ip\"\nactive_with = \"ip\"\nrecovery_target = \"ip\"\n\
                 [[monitor]]\nname = \"watchdog\"\nkind = \"user-space\"\nstall_action = \"panic\"\n";
    let cfg = ok(&format!("{MINIMAL}{extra}")).config;
    let names: Vec<&str> = cfg.monitors.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["logw", "myfip", "watchdog"]);
    let w = mon(&cfg, "watchdog");
    assert_eq!((w.recovery_target, w.final_action), (RecoveryTarget::LocalServer, FinalAction::Panic));
    assert_eq!(mon(&cfg, "myfip").kind, MonitorKind::FloatingIp { resource: ResId(2) });
}

#[test]
fn implied_monitor_names_join_the_namespace() {
    let text = MINIMAL
        .replace("name = \"g\"", "name = \"ip-fipw\"")
        .replace("recovery_target = \"g\"", "recovery_target = \"ip-fipw\"");
    let errs: Vec<String> = parse("t.toml", &text).unwrap_err().iter().map(|d| d.to_string()).collect();
    assert!(
        errs.iter()
            .any(|e| e.contains("implied monitor \"ip-fipw\" (B88): the name \"ip-fipw\" is already used by group")),
        "{errs:#?}"
    );
}

#[test]
fn mirror_sides_follow_server_order_and_hybrid_the_group() {
    let text = examples().into_iter().find(|(n, _)| n == "2node-mirror.toml").unwrap().1;
    // Written in the other order, the sides still follow server order.
    let swapped = text.replace(
        "data = { server1 = \"/dev/vdb1\", server2 = \"/dev/vdb1\" }",
        "data = { server2 = \"/dev/vdc1\", server1 = \"/dev/vdb1\" }",
    );
    let cfg = ok(&swapped).config;
    let m = cfg.resource(cfg.resource_id("md1").unwrap()).kind.mirror().unwrap().clone();
    assert_eq!(m.sides[0].servers, vec![ServerId(0)]);
    assert_eq!((m.sides[0].data.as_str(), m.sides[1].data.as_str()), ("/dev/vdb1", "/dev/vdc1"));
    assert_eq!(m.sides[1].metadata.as_deref(), Some("/dev/vdb2"));
    assert_eq!((m.networks.clone(), m.mode), (vec!["lan1".to_string()], MirrorMode::Sync));
    let cfg = example("3node-hybrid.toml");
    let g = &cfg.groups[0];
    assert_eq!(g.server_groups, Some(vec![SgId(0), SgId(1)]));
    assert_eq!(g.policy, vec![ServerId(0), ServerId(1), ServerId(2)]);
    let hd = cfg.resource(cfg.resource_id("hd1").unwrap()).kind.mirror().unwrap().clone();
    assert_eq!((hd.sides[0].server_group, hd.sides[1].server_group), (Some(SgId(0)), Some(SgId(1))));
    assert_eq!(hd.sides[0].servers, vec![ServerId(0), ServerId(1)]);
    assert_eq!(hd.sides[1].servers, vec![ServerId(2)]);
}

#[test]
fn server_group_policy_dedupes_keeping_first() {
    let text = MINIMAL.replace(
        "[[group]]\nname = \"g\"",
        "[[server_group]]\nname = \"a\"\nservers = [\"s2\"]\n[[server_group]]\nname = \"b\"\nservers = [\"s1\", \"s2\"]\n[[group]]\nname = \"g\"\nserver_groups = [\"a\", \"b\"]",
    );
    let cfg = ok(&text).config;
    assert_eq!(cfg.groups[0].policy, vec![ServerId(1), ServerId(0)]);
}

#[test]
fn warnings_are_returned_with_the_config() {
    let text = MINIMAL
        .replace(
            "name = \"c1\"",
            "name = \"c1\"\nheartbeat_interval = \"2s\"\nheartbeat_timeout = \"20s\"\ninsecure = true",
        )
        .replace("10.0.0.50/24", "172.16.0.5/24");
    let checked = ok(&text);
    let w: Vec<String> = checked.warnings.iter().map(|d| d.to_string()).collect();
    assert!(
        w.iter().any(|d| d.starts_with("t.toml:4:21: warning: heartbeat_timeout is below 30s with a `disk` resolver")),
        "{w:#?}"
    );
    assert!(w.iter().any(|d| d.starts_with("t.toml:5:12: warning: insecure = true")), "{w:#?}");
    assert!(
        w.iter().any(|d| d.contains("address 172.16.0.5/24 is in no subnet of server \"s1\"'s addresses")),
        "{w:#?}"
    );
    assert!(checked.warnings.iter().all(|d| d.level == DiagLevel::Warning));

    let no_np = examples().into_iter().find(|(n, _)| n == "2node-ping.toml").unwrap().1;
    let cut = no_np.find("# A server that can reach").unwrap();
    let end = no_np.find("[[group]]").unwrap();
    // Reported at the [cluster] header (line 4, after the file's comments).
    let checked = ok(&format!("{}{}", &no_np[..cut], &no_np[end..]));
    assert!(
        checked.warnings.iter().any(|d| (d.line, d.col) == (4, 1) && d.message.contains("no [[np]] table")),
        "{:?}",
        checked.warnings
    );
}

#[test]
fn every_problem_is_reported_in_order() {
    let text = r#"[cluster]
name = "c1"
heartbeat_timeout = "4s"
colour = "blue"

[[server]]
name = "s1"
addresses = { lan1 = "192.168.0.1" }

[[heartbeat]]
name = "lan1"
kind = "lan"
network = "lan9"

[[group]]
name = "g"
failback = "sometimes"

[[group.resource]]
name = "r"
kind = "service"

[[monitor]]
name = "m"
kind = "ip"
targets = ["10.0.0.1"]
recovery_target = "nobody"
"#;
    let errs: Vec<String> = parse("t.toml", text).unwrap_err().iter().map(|d| d.to_string()).collect();
    let expected = [
        "t.toml:3:21: cluster \"c1\": heartbeat_timeout (4s) must be at least 2 × heartbeat_interval (3s)",
        "t.toml:4:1: cluster \"c1\": unknown key `colour`",
        "t.toml:10:1: no `lan` heartbeat path reaches every server",
        "t.toml:13:11: heartbeat \"lan1\": server \"s1\" has no address on network \"lan9\"",
        "t.toml:17:12: group \"g\": `failback` = \"sometimes\" is not one of \"auto\", \"manual\"",
        "t.toml:19:1: resource \"r\": missing required key `unit`",
        "t.toml:27:19: monitor \"m\": `recovery_target` = \"nobody\" names no resource or group",
    ];
    assert_eq!(errs.len(), expected.len(), "{errs:#?}");
    for (got, want) in errs.iter().zip(expected) {
        assert!(got.starts_with(want), "got {got}\nwant {want}");
    }
}

#[test]
fn toml_syntax_errors_have_a_position() {
    let errs = parse("t.toml", "[cluster]\nname = \"c1\nport = 1\n").unwrap_err();
    assert_eq!(errs.len(), 1);
    // The unterminated string is reported where the line ends.
    assert_eq!((errs[0].line, errs[0].col), (2, 11), "{}", errs[0]);
    assert!(errs[0].message.starts_with("not valid TOML"));
}

#[test]
fn durations_parse_and_format() {
    assert_eq!(parse_duration_ms("2m30s"), Ok(150_000));
    assert_eq!(parse_duration_ms("100ms"), Ok(100));
    assert_eq!(parse_duration_ms("1h"), Ok(3_600_000));
    assert!(parse_duration_ms("5 minutes").is_err());
    assert_eq!(format_duration_ms(150_000), "2m30s");
}

/// The model with the `implied` flags cleared: rendering prints implied monitors as
/// ordinary tables, so after a round trip they come back as explicit ones.
fn model_without_implied_flags(cfg: &Config) -> String {
    let mut c = cfg.clone();
    for m in &mut c.monitors {
        m.implied = false;
    }
    format!("{c:?}")
}

#[test]
fn render_round_trips_every_example() {
    for (name, text) in examples() {
        let first = parse(&name, &text).unwrap().config;
        let rendered = render(&first);
        assert!(rendered.contains("# implied (B88)\n[[monitor]]\nname = \"userw\""), "{name}:\n{rendered}");
        let second = match parse("rendered.toml", &rendered) {
            Ok(c) => c.config,
            Err(e) => panic!("{name}: the rendering does not parse:\n{e:?}\n{rendered}"),
        };
        assert_eq!(model_without_implied_flags(&first), model_without_implied_flags(&second), "{name}");
        let strip = |s: &str| s.lines().filter(|l| *l != "# implied (B88)").collect::<Vec<_>>().join("\n");
        assert_eq!(strip(&render(&second)), strip(&rendered), "{name}");
    }
    let first = ok(MINIMAL).config;
    let second = ok(&render(&first)).config;
    assert_eq!(model_without_implied_flags(&first), model_without_implied_flags(&second));
}
