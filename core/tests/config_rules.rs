//! One small bad file per refusal rule of behaviour.md B131 (items 1–12) and the
//! limits of B132, each asserting the exact `line:col` and the reason.
//!
//! `at(text, needle)` gives the position of the first occurrence of `needle`, so each
//! test states exactly which key or value the diagnostic must point at.

use baton_core::config::parse;

/// A valid two-server cluster; the tests append to it (it ends on line 19).
const BASE: &str = r#"[cluster]
name = "c1"

[[server]]
name = "s1"
addresses = { lan1 = "192.168.0.1", public = "10.0.0.1" }

[[server]]
name = "s2"
addresses = { lan1 = "192.168.0.2", public = "10.0.0.2" }

[[heartbeat]]
name = "lan1"

[[np]]
name = "ping1"
kind = "ping"
targets = ["10.0.0.254"]

"#;

fn errors(text: &str) -> Vec<String> {
    match parse("t.toml", text) {
        Ok(_) => panic!("accepted a bad file:\n{text}"),
        Err(list) => list.iter().map(|d| d.to_string()).collect(),
    }
}

/// `t.toml:LINE:COL:` of the first occurrence of `needle`.
fn at(text: &str, needle: &str) -> String {
    let i = text.find(needle).unwrap_or_else(|| panic!("{needle:?} not in the file"));
    let line = text[..i].matches('\n').count() + 1;
    let col = text[..i].rsplit('\n').next().unwrap_or("").chars().count() + 1;
    format!("t.toml:{line}:{col}:")
}

/// Asserts a diagnostic at `needle` whose reason contains `msg`.
fn expect(text: &str, needle: &str, msg: &str) {
    let errs = errors(text);
    let pos = at(text, needle);
    assert!(
        errs.iter().any(|e| e.starts_with(&pos) && e.contains(msg)),
        "expected `{pos} …{msg}…`, got:\n{}",
        errs.join("\n")
    );
}

fn with(extra: &str) -> String {
    format!("{BASE}{extra}")
}

#[test]
fn base_is_valid() {
    parse("t.toml", BASE).unwrap();
}

// ---- B131 1: unknown tables, keys, kinds; required keys; durations; names ----

#[test]
fn r1_unknown_table() {
    let t = with("[extra]\nx = 1\n");
    expect(&t, "extra]", "unknown table `extra`");
    // Literal position too: line 20, column 2 (the key inside the header).
    assert!(errors(&t).iter().any(|e| e.starts_with("t.toml:20:2: unknown table `extra`")));
}

#[test]
fn r1_unknown_key() {
    let t = BASE.replace("name = \"s2\"", "name = \"s2\"\ncolour = \"red\"");
    expect(&t, "colour", "server \"s2\": unknown key `colour`");
}

#[test]
fn r1_key_of_another_kind() {
    let t = BASE.replace("name = \"lan1\"", "name = \"lan1\"\ndevice = \"/dev/sdc1\"");
    expect(&t, "device", "heartbeat \"lan1\": unknown key `device` for a `lan` heartbeat");
}

#[test]
fn r1_unknown_kinds() {
    let t = with("[[group]]\nname = \"g\"\n[[group.resource]]\nname = \"r\"\nkind = \"floppy\"\n");
    expect(&t, "\"floppy\"", "resource \"r\": `kind` = \"floppy\" is not one of");
    let t = with("[[monitor]]\nname = \"m\"\nkind = \"psychic\"\nrecovery_target = \"local-server\"\n");
    expect(&t, "\"psychic\"", "monitor \"m\": `kind` = \"psychic\" is not one of");
    let t = BASE.replace("name = \"lan1\"", "name = \"lan1\"\nkind = \"carrier-pigeon\"");
    expect(&t, "\"carrier-pigeon\"", "heartbeat \"lan1\": `kind` = \"carrier-pigeon\"");
    let t = BASE.replace("kind = \"ping\"", "kind = \"vote\"");
    expect(&t, "\"vote\"", "np \"ping1\": `kind` = \"vote\" is not one of");
}

#[test]
fn r1_missing_required_key() {
    let t = with("[[group]]\nname = \"g\"\n[[group.resource]]\nname = \"r\"\n");
    expect(&t, "[[group.resource]]", "resource \"r\": missing required key `kind`");
    let t = BASE.replace("name = \"c1\"", "");
    expect(&t, "[cluster]", "cluster: missing required key `name`");
}

#[test]
fn r1_bad_duration() {
    let t = BASE.replace("name = \"c1\"", "name = \"c1\"\nheartbeat_interval = \"3 s\"");
    expect(&t, "\"3 s\"", "`heartbeat_interval` = \"3 s\" is not a duration");
}

#[test]
fn r1_wrong_type() {
    let t = BASE.replace("name = \"c1\"", "name = \"c1\"\nport = \"http\"");
    expect(&t, "\"http\"", "`port` must be a whole number, not a string");
}

#[test]
fn r1_bad_name() {
    let t = BASE.replace("name = \"s2\"", "name = \"2nd server\"");
    expect(&t, "\"2nd server\"", "the name \"2nd server\" is not valid");
}

#[test]
fn r1_name_not_unique_across_kinds() {
    // The group's name (line 21, column 8) repeats server s1's (line 5).
    let t = with("[[group]]\nname = \"s1\"\n");
    let errs = errors(&t);
    assert!(
        errs.iter()
            .any(|e| e == "t.toml:21:8: group \"s1\": the name \"s1\" is already used by server \"s1\" (line 5)"),
        "{errs:#?}"
    );
}

// ---- B131 2 ----

#[test]
fn r2_heartbeat_timeout_below_twice_interval() {
    let t = BASE.replace("name = \"c1\"", "name = \"c1\"\nheartbeat_interval = \"3s\"\nheartbeat_timeout = \"5s\"");
    expect(&t, "\"5s\"", "heartbeat_timeout (5s) must be at least 2 × heartbeat_interval (3s)");
}

// ---- B131 3 ----

#[test]
fn r3_lan_network_missing_from_addresses() {
    let t = BASE.replace("name = \"lan1\"", "name = \"lan1\"\nnetwork = \"storage\"");
    expect(&t, "\"storage\"", "heartbeat \"lan1\": server \"s1\" has no address on network \"storage\"");
}

#[test]
fn r3_no_lan_path_reaches_every_server() {
    let t = BASE.replace("name = \"lan1\"", "name = \"lan1\"\nservers = [\"s1\"]");
    expect(&t, "[[heartbeat]]", "no `lan` heartbeat path reaches every server");
}

#[test]
fn r3_disk_heartbeat_without_device() {
    let t = with("[[heartbeat]]\nname = \"dhb\"\nkind = \"disk\"\n");
    expect(&t, "[[heartbeat]]\nname = \"dhb\"", "heartbeat \"dhb\": missing required key `device`");
}

// ---- B131 4 ----

#[test]
fn r4_ping_and_http_without_targets() {
    let t = BASE.replace("targets = [\"10.0.0.254\"]\n", "");
    expect(&t, "[[np]]", "np \"ping1\": missing required key `targets`");
    let t = with("[[np]]\nname = \"web\"\nkind = \"http\"\ntargets = []\n");
    expect(&t, "[]", "np \"web\": `targets` is empty");
}

#[test]
fn r4_ca_file_only_beside_https_urls() {
    // Where no URL is https, a CA file would be silently unused: refused, at the key.
    let t = with("[[np]]\nname = \"web\"\nkind = \"http\"\ntargets = [\"http://10.0.0.254/\"]\nca_file = \"ca.pem\"\n");
    expect(&t, "\"ca.pem\"", "np \"web\": `ca_file` is set but no `targets` is an https:// URL");
    let t = with("[[np]]\nname = \"web\"\nkind = \"http\"\ntargets = [\"https://10.0.0.254/\"]\nca_file = \"\"\n");
    expect(&t, "\"\"\n", "np \"web\": `ca_file` is empty");
    let t = with(
        "[[group]]\nname = \"g\"\n[[monitor]]\nname = \"w\"\nkind = \"http\"\nurl = \"http://10.0.0.9/\"\nca_file = \"ca.pem\"\nrecovery_target = \"g\"\n",
    );
    expect(&t, "\"ca.pem\"", "`ca_file` is set but no `url` is an https:// URL");
    // Not a key of other kinds.
    let t = BASE.replace("targets = [\"10.0.0.254\"]", "targets = [\"10.0.0.254\"]\nca_file = \"ca.pem\"");
    expect(&t, "ca_file", "ca_file");
    // Accepted beside an https URL, and kept.
    let ok = with(
        "[[np]]\nname = \"web\"\nkind = \"http\"\ntargets = [\"https://10.0.0.254/\"]\nca_file = \"pki/ca.pem\"\n",
    );
    let cfg = parse("t.toml", &ok).unwrap_or_else(|e| panic!("refused: {e:?}")).config;
    assert!(matches!(&cfg.nps[1].kind, baton_core::config::NpKind::Http { ca_file: Some(f), .. } if f == "pki/ca.pem"));
}

#[test]
fn r4_disk_and_serial_without_device() {
    let t = with("[[np]]\nname = \"d\"\nkind = \"disk\"\n");
    expect(&t, "[[np]]\nname = \"d\"", "np \"d\": missing required key `device`");
    let t = with("[[np]]\nname = \"com\"\nkind = \"serial\"\n");
    expect(&t, "[[np]]\nname = \"com\"", "np \"com\": missing required key `device`");
}

#[test]
fn r4_serial_device_per_server() {
    let np = |device: &str| with(&format!("[[np]]\nname = \"com\"\nkind = \"serial\"\ndevice = {device}\n"));
    // Every server of the resolver needs its tty; no other server may be named.
    let t = np("{ s1 = \"/dev/ttyS0\" }");
    expect(&t, "{ s1", "np \"com\": `device` names no tty for s2");
    let t = np("{ s1 = \"/dev/ttyS0\", s2 = \"/dev/ttyS1\", s9 = \"/dev/ttyS2\" }");
    expect(&t, "s9 =", "`device.s9`: no server named \"s9\"");
    let t = np("{ s1 = \"/dev/ttyS0\", s2 = \"\" }");
    expect(&t, "\"\" }", "`device.s2` is empty");
    let t = np("3");
    expect(&t, "3\n", "device");
    // Accepted: each server's own, and one path for both.
    let ok = np("{ s2 = \"/dev/ttyUSB0\", s1 = \"/dev/ttyS0\" }");
    let cfg = parse("t.toml", &ok).unwrap_or_else(|e| panic!("refused: {e:?}")).config;
    let kind = &cfg.nps[1].kind;
    assert_eq!(kind.serial_device(baton_core::config::ServerId(0)), "/dev/ttyS0");
    assert_eq!(kind.serial_device(baton_core::config::ServerId(1)), "/dev/ttyUSB0");
    let ok = np("\"/dev/ttyS0\"");
    let cfg = parse("t.toml", &ok).unwrap_or_else(|e| panic!("refused: {e:?}")).config;
    assert_eq!(cfg.nps[1].kind.serial_device(baton_core::config::ServerId(1)), "/dev/ttyS0");
}

#[test]
fn r4_serial_needs_exactly_two_servers() {
    let t = with("[[np]]\nname = \"com\"\nkind = \"serial\"\ndevice = \"/dev/ttyS0\"\nservers = [\"s1\"]\n");
    expect(&t, "[\"s1\"]", "a `serial` resolver must be on exactly 2 servers (it is on 1)");
}

#[test]
fn r4_majority_needs_three_servers() {
    let t = with("[[np]]\nname = \"maj\"\nkind = \"majority\"\n");
    expect(&t, "[[np]]\nname = \"maj\"", "a `majority` resolver needs at least 3 servers (it has 2)");
}

#[test]
fn r4_watch_slower_than_heartbeat_timeout() {
    let t = BASE.replace("kind = \"ping\"", "kind = \"ping\"\ninterval = \"20s\"\ntimeout = \"10s\"");
    expect(&t, "\"20s\"", "np \"ping1\": interval + timeout (30s) must be shorter than heartbeat_timeout (30s)");
}

// ---- B131 5 ----

#[test]
fn r5_disk_resource_without_np() {
    let base = &BASE[..BASE.find("[[np]]").unwrap()];
    let t = format!(
        "{base}[[group]]\nname = \"g\"\n[[group.resource]]\nname = \"d1\"\nkind = \"disk\"\ndevice = \"/dev/sdb1\"\nmount_point = \"/mnt/d1\"\n"
    );
    expect(&t, "\"disk\"", "resource \"d1\": a `disk` resource needs network-partition resolution");
}

// ---- B131 6 ----

#[test]
fn r6_servers_and_server_groups() {
    let t = with("[[server_group]]\nname = \"sg\"\nservers = [\"s1\"]\n[[group]]\nname = \"g\"\nservers = [\"s1\"]\nserver_groups = [\"sg\"]\n");
    expect(&t, "server_groups = [", "group \"g\": set either `servers` or `server_groups`, not both");
}

#[test]
fn r6_unknown_servers_and_server_groups() {
    let t = with("[[group]]\nname = \"g\"\nservers = [\"s1\", \"s9\"]\n");
    expect(&t, "\"s9\"", "group \"g\": `servers` names unknown server \"s9\"");
    let t = with("[[group]]\nname = \"g\"\nserver_groups = [\"nosuch\"]\n");
    expect(&t, "\"nosuch\"", "group \"g\": `server_groups` names unknown server_group \"nosuch\"");
}

#[test]
fn r6_empty_policy() {
    let t = with("[[group]]\nname = \"g\"\nservers = []\n");
    expect(&t, "[]", "group \"g\": `servers` is empty");
}

#[test]
fn r6_start_after_unknown_self_and_cycle() {
    let t = with("[[group]]\nname = \"g\"\nstart_after = [\"nosuch\"]\n");
    expect(&t, "\"nosuch\"", "`start_after` names unknown group \"nosuch\"");
    let t = with("[[group]]\nname = \"g\"\nstart_after = [\"g\"]\n");
    expect(&t, "\"g\"]", "group \"g\": `start_after` names the group itself");
    let t = with("[[group]]\nname = \"a\"\nstart_after = [\"b\"]\n[[group]]\nname = \"b\"\nstart_after = [\"a\"]\n");
    expect(&t, "[\"b\"]", "group \"a\": `start_after` forms a cycle: a → b → a");
}

// ---- B131 7 ----

const MIRROR: &str = "[[group.resource]]\nname = \"md1\"\nkind = \"mirror-disk\"\ndata = { s1 = \"/dev/vdb1\", s2 = \"/dev/vdb1\" }\nmount_point = \"/mnt/md1\"\nnetwork = \"lan1\"\n";

#[test]
fn r7_failback_auto_with_mirror() {
    let t = with(&format!("[[group]]\nname = \"web\"\nfailback = \"auto\"\n{MIRROR}"));
    expect(
        &t,
        "\"auto\"",
        "group \"web\": failback = \"auto\" is not allowed for a group holding a mirror disk (mirror-disk \"md1\")",
    );
}

// ---- B131 8 ----

#[test]
fn r8_depends_on_other_group() {
    let t = with(
        "[[group]]\nname = \"g1\"\n[[group.resource]]\nname = \"x1\"\nkind = \"service\"\nunit = \"a.service\"\n\
         [[group]]\nname = \"g2\"\n[[group.resource]]\nname = \"x2\"\nkind = \"service\"\nunit = \"b.service\"\ndepends_on = [\"x1\"]\n",
    );
    expect(&t, "\"x1\"]", "resource \"x2\": `depends_on` names resource \"x1\" of group \"g1\"");
}

#[test]
fn r8_depends_on_cycle() {
    let t = with(
        "[[group]]\nname = \"g\"\n[[group.resource]]\nname = \"a\"\nkind = \"service\"\nunit = \"a.service\"\ndepends_on = [\"b\"]\n\
         [[group.resource]]\nname = \"b\"\nkind = \"service\"\nunit = \"b.service\"\ndepends_on = [\"a\"]\n",
    );
    expect(&t, "[\"b\"]", "resource \"a\": `depends_on` forms a cycle: a → b → a");
}

// ---- B131 9 ----

#[test]
fn r9_mirror_data_not_two_servers() {
    let t =
        with(&format!("[[group]]\nname = \"g\"\nservers = [\"s1\"]\n{}", MIRROR.replace(", s2 = \"/dev/vdb1\"", "")));
    expect(&t, "{ s1", "resource \"md1\": `data` must name exactly 2 servers (it names 1)");
}

#[test]
fn r9_mirror_policy_holds_another_server() {
    let t = BASE.replace(
        "[[heartbeat]]",
        "[[server]]\nname = \"s3\"\naddresses = { lan1 = \"192.168.0.3\", public = \"10.0.0.3\" }\n\n[[heartbeat]]",
    );
    let t = format!("{t}[[group]]\nname = \"g\"\n{MIRROR}");
    expect(&t, "{ s1", "resource \"md1\": group \"g\" may run on server \"s3\", which holds no side of the mirror");
}

#[test]
fn r9_hybrid_data_not_the_group_server_groups() {
    let t = with(
        "[[server_group]]\nname = \"sga\"\nservers = [\"s1\"]\n[[server_group]]\nname = \"sgb\"\nservers = [\"s2\"]\n\
         [[group]]\nname = \"g\"\nserver_groups = [\"sga\", \"sgb\"]\n[[group.resource]]\nname = \"hd\"\nkind = \"hybrid-disk\"\n\
         data = { sga = \"/dev/sdb2\" }\nmount_point = \"/mnt/hd\"\nnetwork = \"lan1\"\n",
    );
    expect(&t, "{ sga", "resource \"hd\": `data` must name exactly 2 server groups (it names 1)");
    expect(&t, "{ sga", "they must be the same 2");
}

#[test]
fn r9_mirror_network_missing_and_too_many() {
    let t =
        with(&format!("[[group]]\nname = \"g\"\n{}", MIRROR.replace("network = \"lan1\"", "network = \"storage\"")));
    expect(&t, "\"storage\"", "resource \"md1\": server \"s1\" has no address on mirror network \"storage\"");
    let t = with(&format!(
        "[[group]]\nname = \"g\"\n{}",
        MIRROR.replace("network = \"lan1\"", "network = [\"lan1\", \"public\", \"lan1x\"]")
    ));
    expect(&t, "\"lan1x\"", "resource \"md1\": 3 mirror networks; the limit is 2");
}

// ---- B131 10 ----

const SVC: &str =
    "[[group]]\nname = \"g\"\n[[group.resource]]\nname = \"svc\"\nkind = \"service\"\nunit = \"a.service\"\n";

#[test]
fn r10_deactivation_final_actions() {
    for word in ["ignore", "stop-group", "stop-service"] {
        let t = with(&format!("{SVC}deactivation = {{ final_action = \"{word}\" }}\n"));
        expect(
            &t,
            &format!("\"{word}\""),
            &format!("resource \"svc\": deactivation.final_action = \"{word}\" is not allowed"),
        );
    }
}

#[test]
fn r10_monitor_ignore_and_stop_group_on_local_server() {
    let t = with("[[monitor]]\nname = \"m\"\nkind = \"ip\"\ntargets = [\"10.0.0.1\"]\nrecovery_target = \"all-groups\"\nfinal_action = \"ignore\"\n");
    expect(&t, "\"ignore\"", "monitor \"m\": final_action = \"ignore\" is not allowed");
    let t = with("[[monitor]]\nname = \"m\"\nkind = \"ip\"\ntargets = [\"10.0.0.1\"]\nrecovery_target = \"local-server\"\nfinal_action = \"stop-group\"\n");
    expect(
        &t,
        "\"stop-group\"",
        "monitor \"m\": final_action = \"stop-group\" is not allowed: with recovery_target = \"local-server\"",
    );
}

// ---- B131 11 ----

#[test]
fn r11_monitor_references_name_nothing() {
    let t = with("[[monitor]]\nname = \"m\"\nkind = \"ip\"\ntargets = [\"10.0.0.1\"]\nrecovery_target = \"ghost\"\n");
    expect(&t, "\"ghost\"", "monitor \"m\": `recovery_target` = \"ghost\" names no resource or group");
    let t = with("[[monitor]]\nname = \"m\"\nkind = \"ip\"\ntargets = [\"10.0.0.1\"]\nactive_with = \"ghost\"\nrecovery_target = \"local-server\"\n");
    expect(&t, "\"ghost\"", "monitor \"m\": `active_with` = \"ghost\" names no resource");
}

#[test]
fn r11_monitor_kind_without_its_keys() {
    let t = with("[[monitor]]\nname = \"m\"\nkind = \"exec\"\nrecovery_target = \"local-server\"\n");
    expect(&t, "[[monitor]]", "monitor \"m\": missing required key `command`");
    let t = with("[[monitor]]\nname = \"p\"\nkind = \"process\"\nrecovery_target = \"local-server\"\n");
    expect(&t, "[[monitor]]", "monitor \"p\": a process monitor needs `pidfile` or `process_name`");
    let t = with(&format!(
        "{SVC}[[monitor]]\nname = \"f\"\nkind = \"floating-ip\"\nresource = \"svc\"\nrecovery_target = \"svc\"\n"
    ));
    expect(&t, "\"svc\"\nrecovery", "monitor \"f\": resource \"svc\" is a service, not a floating-ip");
}

#[test]
fn r11_monitor_unknown_servers() {
    let t = with("[[monitor]]\nname = \"m\"\nkind = \"ip\"\ntargets = [\"10.0.0.1\"]\nservers = [\"s7\"]\nrecovery_target = \"local-server\"\n");
    expect(&t, "\"s7\"", "monitor \"m\": `servers` names unknown server \"s7\"");
}

// ---- B131 12 / B132 limits ----

fn servers(n: usize) -> String {
    let mut s = String::from("[cluster]\nname = \"c1\"\n");
    for i in 1..=n {
        s.push_str(&format!("[[server]]\nname = \"s{i}\"\naddresses = {{ lan1 = \"192.168.1.{i}\" }}\n"));
    }
    s.push_str(
        "[[heartbeat]]\nname = \"lan1\"\n[[np]]\nname = \"ping1\"\nkind = \"ping\"\ntargets = [\"10.0.0.254\"]\n",
    );
    s
}

#[test]
fn r12_limit_servers() {
    let t = servers(33);
    expect(&t, "[[server]]\nname = \"s33\"", "too many [[server]] tables: 33; the limit is 32");
    parse("t.toml", &servers(32)).unwrap();
}

#[test]
fn r12_limit_groups_and_resources() {
    let groups: String = (1..=65).map(|i| format!("[[group]]\nname = \"g{i}\"\n")).collect();
    expect(&with(&groups), "[[group]]\nname = \"g65\"", "too many [[group]] tables: 65; the limit is 64");
    let res: String = (1..=65)
        .map(|i| format!("[[group.resource]]\nname = \"r{i}\"\nkind = \"service\"\nunit = \"u{i}\"\n"))
        .collect();
    let t = with(&format!("[[group]]\nname = \"g\"\n{res}"));
    expect(&t, "[[group.resource]]\nname = \"r65\"", "group \"g\": 65 resources; the limit is 64 per group");
}

#[test]
fn r12_limit_heartbeats_nps_targets_server_groups() {
    let hbs: String = (2..=17).map(|i| format!("[[heartbeat]]\nname = \"hb{i}\"\nnetwork = \"lan1\"\n")).collect();
    expect(&with(&hbs), "[[heartbeat]]\nname = \"hb17\"", "too many [[heartbeat]] tables: 17; the limit is 16");
    let nps: String =
        (2..=9).map(|i| format!("[[np]]\nname = \"np{i}\"\nkind = \"ping\"\ntargets = [\"10.0.0.9\"]\n")).collect();
    expect(&with(&nps), "[[np]]\nname = \"np9\"", "too many [[np]] tables: 9; the limit is 8");
    let targets: Vec<String> = (1..=17).map(|i| format!("\"10.0.1.{i}\"")).collect();
    let t = BASE.replace("[\"10.0.0.254\"]", &format!("[{}]", targets.join(", ")));
    expect(&t, "\"10.0.1.17\"", "np \"ping1\": 17 targets; the limit is 16 per resolver");
    let sgs: String = (1..=33).map(|i| format!("[[server_group]]\nname = \"sg{i}\"\nservers = [\"s1\"]\n")).collect();
    expect(&with(&sgs), "[[server_group]]\nname = \"sg33\"", "too many [[server_group]] tables: 33; the limit is 32");
}

#[test]
fn r12_limit_mirrors_and_floating_ips() {
    let mirrors: String = (1..=9)
        .map(|i| format!("[[group.resource]]\nname = \"md{i}\"\nkind = \"mirror-disk\"\ndata = {{ s1 = \"/dev/a\", s2 = \"/dev/a\" }}\nmount_point = \"/mnt/{i}\"\nnetwork = \"lan1\"\n"))
        .collect();
    let t = with(&format!("[[group]]\nname = \"g\"\n{mirrors}"));
    expect(
        &t,
        "\"mirror-disk\"\ndata = { s1 = \"/dev/a\", s2 = \"/dev/a\" }\nmount_point = \"/mnt/9\"",
        "too many mirror and hybrid disks: 9; the limit is 8",
    );
    let mut groups = String::new();
    for g in 0..2 {
        groups.push_str(&format!("[[group]]\nname = \"g{g}\"\n"));
        for i in 0..33 {
            let n = g * 33 + i;
            groups.push_str(&format!(
                "[[group.resource]]\nname = \"ip{n}\"\nkind = \"floating-ip\"\naddress = \"10.0.0.{}/24\"\n",
                n + 10
            ));
        }
    }
    let t = with(&groups);
    expect(
        &t,
        "\"floating-ip\"\naddress = \"10.0.0.74/24\"",
        "resource \"ip64\": too many floating IPs: 66; the limit is 64",
    );
}

#[test]
fn r12_limit_monitors_counts_implied_ones() {
    // 255 written monitors + userw fit.
    let mons = |n: usize| -> String {
        (1..=n)
            .map(|i| format!("[[monitor]]\nname = \"m{i}\"\nkind = \"ip\"\ntargets = [\"10.0.0.1\"]\nrecovery_target = \"local-server\"\n"))
            .collect()
    };
    parse("t.toml", &with(&mons(255))).unwrap();
    // 256 written fit alone; the floating IP's implied fip-fipw is the 257th.
    let fip = "[[group]]\nname = \"g\"\n[[group.resource]]\nname = \"fip\"\nkind = \"floating-ip\"\naddress = \"10.0.0.9/24\"\n";
    let t = with(&format!("{fip}{}", mons(256)));
    expect(&t, "\"fip\"", "too many monitors: 258 (256 written, 2 implied by B88); the limit is 256");
}

#[test]
fn r12_limit_name_length() {
    let long = "a".repeat(32);
    let t = BASE.replace("name = \"s2\"", &format!("name = \"{long}\""));
    expect(&t, &format!("\"{long}\""), "has 32 characters; the limit is 31");
}
