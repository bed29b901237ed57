//! Tests of the checker: names resolved against a configuration.
//!
//! In: a hand-built [`Config`] (every kind of name the checker resolves, independent
//! of the example files) and the example configurations loaded with
//! `baton_core::config::parse`.
//! Out: assertions only.

use super::{example_files, ok};
use crate::scenario::{check, parse};
use baton_core::config::*;
use std::collections::BTreeMap;
use std::path::Path;

fn server(name: &str, n: u8) -> Server {
    let addresses =
        BTreeMap::from([("lan1".to_string(), format!("192.168.0.{n}")), ("public".to_string(), format!("10.0.0.{n}"))]);
    Server { name: name.into(), addresses }
}

fn resource(name: &str, kind: ResourceKind) -> Resource {
    Resource {
        name: name.into(),
        group: GroupId(0),
        kind,
        depends_on: vec![],
        activation: ActivationPolicy { retries: 0, failovers: 1, final_action: FinalAction::None },
        deactivation: DeactivationPolicy { retries: 0, final_action: FinalAction::None },
        timeout_ms: 60_000,
    }
}

fn monitor(name: &str, kind: MonitorKind) -> Monitor {
    Monitor {
        name: name.into(),
        kind,
        interval_ms: 5_000,
        timeout_ms: 5_000,
        retries: 1,
        start_wait_ms: 0,
        active_with: None,
        servers: vec![ServerId(0), ServerId(1)],
        recovery_target: RecoveryTarget::LocalServer,
        reactivations: 0,
        failovers: 0,
        final_action: FinalAction::None,
        implied: false,
        network: None,
    }
}

fn np(name: &str, kind: NpKind) -> Np {
    Np {
        name: name.into(),
        kind,
        interval_ms: 5_000,
        timeout_ms: 3_000,
        retries: 0,
        servers: vec![ServerId(0), ServerId(1)],
        network: None,
    }
}

/// Two servers (lan1, public), one group with every kind of resource the checker
/// distinguishes, resolvers and monitors naming targets and devices.
pub(super) fn fixture() -> Config {
    let both = vec![ServerId(0), ServerId(1)];
    let side = |s: u16| MirrorSide {
        servers: vec![ServerId(s)],
        server_group: None,
        data: "/dev/vdb1".into(),
        metadata: Some("/dev/vdb2".into()),
    };
    let mirror = Mirror {
        sides: [side(0), side(1)],
        mount_point: "/mnt/md1".into(),
        fs_type: "ext4".into(),
        networks: vec!["lan1".into()],
        mode: MirrorMode::Sync,
    };
    let exec = ResourceKind::Exec { start: Some("start.sh".into()), stop: None, env: BTreeMap::new(), log: false };
    let disk = ResourceKind::Disk {
        device: "/dev/sdb2".into(),
        mount_point: "/mnt/disk1".into(),
        fs_type: "ext4".into(),
        mount_options: None,
        fsck: false,
    };
    Config {
        cluster: Cluster {
            name: "cluster1".into(),
            heartbeat_interval_ms: 3_000,
            heartbeat_timeout_ms: 30_000,
            sync_wait_ms: 300_000,
            auto_return: false,
            failover_count_scope: CountScope::Server,
            np_action: NpAction::EmergencyShutdown,
            counter_reset_after_ms: 0,
            secret_file: None,
            insecure: true,
            port: 29_001,
            web_port: 29_003,
        },
        servers: vec![server("server1", 1), server("server2", 2)],
        server_groups: vec![],
        heartbeats: vec![
            Heartbeat {
                name: "lan1".into(),
                kind: HeartbeatKind::Lan { network: "lan1".into() },
                priority: 1,
                servers: both.clone(),
            },
            Heartbeat {
                name: "hbdisk".into(),
                kind: HeartbeatKind::Disk { device: "/dev/sdc2".into() },
                priority: 2,
                servers: both.clone(),
            },
        ],
        nps: vec![
            np("ping1", NpKind::Ping { targets: vec!["10.0.0.254".into()] }),
            np("http1", NpKind::Http { targets: vec!["http://gw/health".into()], ca_file: None }),
            np("disknp", NpKind::Disk { device: "/dev/sdc1".into(), io_wait_ms: 20_000 }),
        ],
        groups: vec![Group {
            name: "failover1".into(),
            policy: both,
            server_groups: None,
            startup: Startup::Auto,
            failover: FailoverMode::Auto,
            failback: Failback::Manual,
            failover_target: FailoverTarget::Priority,
            exclusive: false,
            start_after: vec![],
            resources: vec![ResId(0), ResId(1), ResId(2), ResId(3)],
        }],
        resources: vec![
            resource(
                "fip1",
                ResourceKind::FloatingIp {
                    address: "10.0.0.12/24".into(),
                    interface: None,
                    arp_count: 1,
                    probe_window_ms: 20,
                },
            ),
            resource("md1", ResourceKind::MirrorDisk(mirror)),
            resource("disk1", disk),
            resource("exec1", exec),
        ],
        monitors: vec![
            monitor("ipw1", MonitorKind::Ip { targets: vec!["10.0.0.253".into()] }),
            monitor("webw", MonitorKind::Http { url: "http://app/ok".into(), ca_file: None }),
            monitor(
                "diskw",
                MonitorKind::Disk { path: "/mnt/disk1/probe".into(), io_size: 512, device: Some("/dev/sdb3".into()) },
            ),
            monitor("userw", MonitorKind::UserSpace { stall_action: FinalAction::Panic }),
        ],
        observe: Default::default(),
        warnings: vec![],
    }
}

/// `(line, message)` of every checker error of `body` (statements from line 2 on).
pub(super) fn check_errors(body: &str) -> Vec<(usize, String)> {
    let sc = ok(&format!("config c.toml\n{body}"));
    check(&sc, "t.scenario", &fixture()).into_iter().map(|e| (e.line, e.message)).collect()
}

#[test]
fn every_known_name_passes() {
    let body = "at 0s boot all\n\
                at 0s cut lan1 server1 -> server2\n\
                at 0s heal public server1 server2\n\
                at 0s heal all\n\
                at 0s loss public 10%\n\
                at 0s isolate server2\n\
                at 0s partition server2 | server1\n\
                at 0s target 10.0.0.254 down\n\
                at 0s target http://gw/health down from server2\n\
                at 0s target 10.0.0.253 up\n\
                at 0s target http://app/ok up\n\
                at 0s disk /dev/vdb1 fail on server1\n\
                at 0s disk /dev/vdb2 replace on server1\n\
                at 0s disk /dev/sdb2 slow 1s on server2\n\
                at 0s disk /dev/sdc1 fail on server2\n\
                at 0s disk /dev/sdc2 fail on server2\n\
                at 0s disk /dev/sdb3 heal on server2\n\
                at 0s fail activation exec1 on server1 times 1\n\
                at 0s fail deactivation fip1 on server2\n\
                at 0s monitor userw fail on server1\n\
                at 0s stall server1 10s\n\
                at 0s write md1 1MB\n\
                at 0s write disk1 1MB\n\
                at 0s cmd on server2 group move failover1 --to server1\n\
                at 0s cmd mirror force md1 --on server2\n\
                at 0s expect group failover1 online on server1\n\
                at 0s expect resource md1 offline on server2\n\
                at 0s expect server server2 off\n\
                at 0s expect monitor ipw1 ok on server2\n\
                at 0s expect mirror md1 latest on server1\n\
                at 0s expect event server-lost on server2 count 1\n\
                at 0s expect no event group-failover since 0s\n\
                at 0s expect script exec1 start ran CLP_EVENT=START on server1\n\
                at 0s expect no script exec1 ran on server2\n\
                at 0s expect split-brain failover1\n";
    assert_eq!(check_errors(body), vec![]);
}

#[test]
fn unknown_names_are_reported_on_their_lines() {
    let e = check_errors(
        "at 0s boot server3\n\
         at 1m expect group failover2 offline\n\
         at 1m expect event server-lots on server1\n\
         at 1m expect no event nothing-like-this\n\
         at 1m expect resource nope online on nobody\n",
    );
    let lines: Vec<usize> = e.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, [2, 3, 4, 5, 6, 6], "{e:#?}");
    assert_eq!(e[0].1, "no server \"server3\" in the configuration (did you mean \"server1\"?)");
    assert_eq!(e[1].1, "no group \"failover2\" in the configuration (did you mean \"failover1\"?)");
    assert_eq!(e[2].1, "no event \"server-lots\" in the event catalogue (did you mean \"server-lost\"?)");
    assert_eq!(e[3].1, "no event \"nothing-like-this\" in the event catalogue (see docs/events.md for the catalogue)");
    assert_eq!(e[4].1, "no resource \"nope\" in the configuration (known: fip1, md1, disk1, exec1)");
    assert_eq!(e[5].1, "no server \"nobody\" in the configuration (known: server1, server2)");
}

#[test]
fn networks_devices_targets_and_kinds() {
    let e = check_errors(
        "at 0s cut lan9 server1\n\
         at 0s disk /dev/sdz fail on server1\n\
         at 0s target 10.9.9.9 down\n\
         at 0s write fip1 1MB\n\
         at 0s expect mirror disk1 normal\n\
         at 0s expect mirror md9 identical\n\
         at 0s expect script fip1 ran on server1\n\
         at 0s serial fail\n\
         at 0s monitor nope fail on server1\n\
         at 0s partition server1 | server9\n",
    );
    let lines: Vec<usize> = e.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 11], "{e:#?}");
    assert!(e[0].1.starts_with("no network \"lan9\" in the configuration (did you mean \"lan1\"?)"), "{}", e[0].1);
    assert!(e[1].1.contains("no device \"/dev/sdz\"") && e[1].1.contains("/dev/sdb2"), "{}", e[1].1);
    assert!(e[2].1.contains("no ping or http target \"10.9.9.9\""), "{}", e[2].1);
    assert_eq!(e[3].1, "`write` needs a mirror, hybrid disk or disk resource; \"fip1\" is a floating-ip resource");
    assert_eq!(e[4].1, "\"disk1\" is a disk resource, not a mirror or hybrid disk");
    assert!(e[5].1.contains("no mirror \"md9\"") && e[5].1.contains("did you mean \"md1\""), "{}", e[5].1);
    assert_eq!(e[6].1, "\"fip1\" is a floating-ip resource; only exec resources run scripts");
    assert!(e[7].1.contains("needs a serial resolver"), "{}", e[7].1);
    assert!(e[8].1.contains("no monitor \"nope\""), "{}", e[8].1);
    assert!(e[9].1.contains("no server \"server9\""), "{}", e[9].1);
    assert_eq!(e[10].1, "server2 is on neither side of the partition: list every server on one side");
}

#[test]
fn server_without_an_address_on_the_network() {
    let mut cfg = fixture();
    cfg.servers[1].addresses.remove("lan1");
    let sc = ok("config c.toml\nat 0s cut lan1 server1 server2\n");
    let e = check(&sc, "t.scenario", &cfg);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].to_string(), "t.scenario:2: server \"server2\" has no address on network \"lan1\"");
}

#[test]
fn cmd_words_must_parse_as_a_command() {
    let e = check_errors(
        "at 0s cmd group explode failover1\n\
         at 0s cmd on server3 group move failover1 --to server2\n\
         at 0s cmd group move failover1 --to server7\n\
         at 0s cmd mirror rebuild fip1\n",
    );
    let lines: Vec<usize> = e.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, [2, 3, 4, 5], "{e:#?}");
    assert!(e[0].1.starts_with("cmd: unknown group command \"explode\""), "{}", e[0].1);
    assert!(e[1].1.starts_with("no server \"server3\""), "{}", e[1].1);
    assert_eq!(e[2].1, "cmd: no server \"server7\" in the configuration (servers: server1, server2)");
    assert!(e[3].1.contains("not a mirror or hybrid disk"), "{}", e[3].1);
}

/// Loads an example configuration with the real config parser.
fn load_config(name: &str) -> baton_core::Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/configs").join(name);
    let text = std::fs::read_to_string(&path).expect("read config");
    match baton_core::config::parse(name, &text) {
        Ok(checked) => checked.config,
        Err(d) => panic!("{}", d.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")),
    }
}

#[test]
fn example_scenarios_check_clean_against_their_configs() {
    for path in example_files() {
        let text = std::fs::read_to_string(&path).expect("read");
        let name = path.display().to_string();
        let sc = parse(&name, &text).unwrap_or_else(|e| panic!("{e:?}"));
        let cfg_path = sc.config_file(&path);
        let cfg_text = std::fs::read_to_string(&cfg_path).expect("read config");
        let cfg = baton_core::config::parse(&cfg_path.display().to_string(), &cfg_text)
            .unwrap_or_else(|d| panic!("{d:?}"))
            .config;
        let errors = check(&sc, &name, &cfg);
        assert!(errors.is_empty(), "{}", errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"));
    }
}

#[test]
fn checker_rejects_unknown_names_with_their_lines() {
    let cfg = load_config("2node-ping.toml");
    let text = "config ../configs/2node-ping.toml\n\
                at 0s boot all\n\
                at 1m crash server9\n\
                at 2m expect group failover2 offline\n\
                at 2m expect event no-such-event on server1\n\
                at 2m expect group failover1 online on server1\n";
    let sc = ok(text);
    let e = check(&sc, "t.scenario", &cfg);
    let got: Vec<(usize, &str)> = e.iter().map(|e| (e.line, e.message.as_str())).collect();
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[0].0, 3);
    assert!(got[0].1.starts_with("no server \"server9\" in the configuration"), "{}", got[0].1);
    assert_eq!(got[1].0, 4);
    assert!(got[1].1.contains("no group \"failover2\"") && got[1].1.contains("did you mean \"failover1\""));
    assert_eq!(got[2].0, 5);
    assert!(got[2].1.contains("no event \"no-such-event\" in the event catalogue"));
    assert_eq!(e[0].to_string(), format!("t.scenario:3: {}", e[0].message));
}

#[test]
fn checker_resolves_networks_devices_targets_kinds_and_commands() {
    let cfg = load_config("2node-mirror.toml");
    let text = "config ../configs/2node-mirror.toml\n\
                at 0s cut lan1 server1 -> server2\n\
                at 0s cut lan9 server1\n\
                at 0s loss public 10%\n\
                at 0s disk /dev/vdb1 fail on server1\n\
                at 0s disk /dev/vdb2 slow 1s on server1\n\
                at 0s disk /dev/sdz fail on server1\n\
                at 0s target 10.0.0.254 down\n\
                at 0s target 10.0.0.253 down from server2\n\
                at 0s target 10.9.9.9 down\n\
                at 0s write md1 1MB\n\
                at 0s write fip1 1MB\n\
                at 0s expect mirror fip1 normal\n\
                at 0s expect mirror md9 normal\n\
                at 0s expect script fip1 ran on server1\n\
                at 0s expect script exec1 ran A=1 on server1\n\
                at 0s cmd group move failover1 --to server2\n\
                at 0s cmd on server3 group explode failover1\n\
                at 0s serial fail\n\
                at 0s partition server1 |\tserver2\n\
                at 0s monitor md1-mdw fail on server1\n\
                at 0s monitor nope fail on server1\n";
    let sc = ok(text);
    let e = check(&sc, "t.scenario", &cfg);
    let lines: Vec<usize> = e.iter().map(|e| e.line).collect();
    assert_eq!(lines, [3, 7, 10, 12, 13, 14, 15, 18, 18, 19, 22], "{e:#?}");
    let msg = |i: usize| e[i].message.as_str();
    assert!(msg(0).contains("no network \"lan9\"") && msg(0).contains("did you mean \"lan1\""), "{}", msg(0));
    assert!(msg(1).contains("no device \"/dev/sdz\""));
    assert!(msg(2).contains("no ping or http target \"10.9.9.9\""));
    assert!(msg(3).contains("`write` needs a mirror, hybrid disk or disk resource; \"fip1\" is a floating-ip resource"));
    assert!(msg(4).contains("\"fip1\" is a floating-ip resource, not a mirror or hybrid disk"));
    assert!(msg(5).contains("no mirror \"md9\"") && msg(5).contains("did you mean \"md1\""));
    assert!(msg(6).contains("only exec resources run scripts"));
    assert!(msg(7).contains("no server \"server3\""));
    assert!(msg(8).starts_with("cmd: unknown group command"));
    assert!(msg(9).contains("serial resolver"));
    assert!(msg(10).contains("no monitor \"nope\""));
}
