//! `baton config check` against the kinds this daemon has no driver for (issue 11 item
//! 8; the table is `baton_runtime::daemon::kind_support`): an error gap (`virtual-ip`)
//! refuses the file at the line and column of its `kind` key and exits 2; a kind that has
//! its driver now (a `disk` resolver, a warning until its driver landed) is not reported;
//! `--file-only` (the file alone, as the simulator takes it) reports nothing.

use std::path::PathBuf;
use std::process::Command;

fn baton() -> Command {
    Command::new(env!("CARGO_BIN_EXE_baton"))
}

const FILE: &str = r#"[cluster]
name = "c"
insecure = true

[[server]]
name = "s1"
addresses = { lan1 = "192.0.2.1" }

[[heartbeat]]
name = "lan1"

[[np]]
name = "disknp"
kind = "disk"
device = "/dev/sdc1"

[[group]]
name = "g"

[[group.resource]]
name = "vip1"
kind = "virtual-ip"
address = "198.51.100.7"
"#;

fn write(dir: &std::path::Path, text: &str) -> PathBuf {
    let p = dir.join("cluster.toml");
    std::fs::write(&p, text).expect("write");
    p
}

#[test]
fn a_virtual_ip_is_refused_at_its_kind_and_a_disk_resolver_accepted() {
    let dir = std::env::temp_dir().join(format!("baton-kind-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let p = write(&dir, FILE);
    let out = baton().args(["config", "check"]).arg(&p).output().expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let name = p.display().to_string();
    assert!(
        err.contains(&format!(
            "{name}:22:8: resource \"vip1\": kind = \"virtual-ip\" is not supported by this daemon: a virtual IP needs"
        )),
        "{err}"
    );
    assert!(err.contains("(the daemon refuses to start)"), "{err}");
    assert!(!err.contains("disknp"), "the disk resolver has its driver: {err}");

    // Without the virtual IP: accepted, nothing reported.
    let accepted = FILE.split("\n[[group]]").next().expect("head").to_string();
    let p = write(&dir, &accepted);
    let out = baton().args(["config", "check"]).arg(&p).output().expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("not supported"));

    // The file alone: the simulator runs every kind.
    let p = write(&dir, FILE);
    let out = baton().args(["config", "check", "--file-only"]).arg(&p).output().expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("not supported"));
    let _ = std::fs::remove_dir_all(&dir);
}
