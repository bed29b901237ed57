//! The floating IP driver on real interfaces: two network namespaces joined by a veth
//! pair, the driver run in either of them through the `fip` example
//! (`ip netns exec NS target/…/examples/fip …`).
//!
//! Needs root, `ip` (iproute2), `arping` (iputils-arping) and `ping` (iputils-ping), and
//! the `fip` example built (plain `cargo test` builds it); without them the test is
//! skipped with the reason printed. The namespaces are named after this process's id and
//! always deleted, also when the test fails.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The floating address of the test, in the veth pair's subnet.
const FIP: &str = "10.99.0.50/24";

/// Why the test cannot run here, if it cannot.
fn missing_prerequisite() -> Option<String> {
    if !rustix::process::geteuid().is_root() {
        return Some("not root (network namespaces need it)".to_string());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path).chain(["/usr/sbin".into(), "/sbin".into()]).collect();
    for (tool, package) in [("ip", "iproute2"), ("arping", "iputils-arping"), ("ping", "iputils-ping")] {
        if !dirs.iter().any(|d| d.join(tool).is_file()) {
            return Some(format!("`{tool}` not found (Debian package {package})"));
        }
    }
    if !fip_example().is_file() {
        return Some(format!("the fip example is not built ({}); run plain `cargo test`", fip_example().display()));
    }
    None
}

/// `target/<profile>/examples/fip`, beside `target/<profile>/deps/<this test>`.
fn fip_example() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>");
    profile_dir.join("examples").join("fip")
}

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program).args(args).output().unwrap_or_else(|e| panic!("cannot run {program} {args:?}: {e}"))
}

fn must(program: &str, args: &[&str]) -> String {
    let out = run(program, args);
    assert!(out.status.success(), "{program} {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Two namespaces joined by a veth pair (`fipa` 10.99.0.1/24 in A, `fipb` 10.99.0.2/24
/// in B); deleted on drop (deleting a namespace deletes its end of the pair, and so the
/// pair).
struct Lab {
    a: String,
    b: String,
}

impl Lab {
    fn new() -> Lab {
        let pid = std::process::id();
        let lab = Lab { a: format!("baton-fipA-{pid}"), b: format!("baton-fipB-{pid}") };
        // Left over from an earlier process with the same id: gone (errors ignored).
        lab.delete();
        must("ip", &["netns", "add", &lab.a]);
        must("ip", &["netns", "add", &lab.b]);
        must("ip", &["link", "add", "fipa", "netns", &lab.a, "type", "veth", "peer", "name", "fipb", "netns", &lab.b]);
        for (ns, dev, addr) in [(&lab.a, "fipa", "10.99.0.1/24"), (&lab.b, "fipb", "10.99.0.2/24")] {
            must("ip", &["-n", ns, "addr", "add", addr, "dev", dev]);
            must("ip", &["-n", ns, "link", "set", dev, "up"]);
            must("ip", &["-n", ns, "link", "set", "lo", "up"]);
        }
        lab
    }

    fn delete(&self) {
        for ns in [&self.a, &self.b] {
            let _ = run("ip", &["netns", "del", ns]);
        }
    }

    /// Runs `fip ARGS` in namespace `ns`.
    fn fip(&self, ns: &str, args: &[&str]) -> Output {
        let example = fip_example();
        let mut all = vec!["netns", "exec", ns, example.to_str().expect("utf-8 path")];
        all.extend_from_slice(args);
        run("ip", &all)
    }

    fn present(&self, ns: &str) -> bool {
        let out = self.fip(ns, &["present", FIP]);
        assert!(out.status.success(), "present failed: {}", String::from_utf8_lossy(&out.stderr));
        match String::from_utf8_lossy(&out.stdout).trim() {
            "present" => true,
            "absent" => false,
            other => panic!("present printed {other:?}"),
        }
    }

    fn addresses(&self, ns: &str) -> String {
        must("ip", &["-n", ns, "-o", "-4", "addr", "show"])
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.delete();
    }
}

fn describe(out: &Output) -> String {
    format!("exit {:?}, stderr: {}", out.status.code(), String::from_utf8_lossy(&out.stderr).trim())
}

/// Polls `ok` until it holds or `within` has passed.
fn eventually(within: Duration, mut ok: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if ok() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn floating_ip_moves_between_namespaces_and_refuses_a_duplicate() {
    if let Some(why) = missing_prerequisite() {
        println!("SKIPPED floating_ip test: {why}");
        return;
    }
    let lab = Lab::new();
    let (a, b) = (lab.a.clone(), lab.b.clone());

    // A: no interface named, so the one in 10.99.0.0/24 (fipa); one gratuitous ARP.
    let out = lab.fip(&a, &["-c", "1", "activate", FIP]);
    assert!(out.status.success(), "activate in A: {}", describe(&out));
    assert!(lab.addresses(&a).contains("inet 10.99.0.50/24"), "A's addresses: {}", lab.addresses(&a));
    assert!(lab.addresses(&a).contains("fipa"));
    assert!(lab.present(&a));
    assert!(!lab.present(&b));
    assert!(
        eventually(Duration::from_secs(5), || run("ip", &["netns", "exec", &b, "ping", "-c1", "-W1", "10.99.0.50"])
            .status
            .success()),
        "10.99.0.50 does not answer ping from B"
    );
    // Activating again in A is fine (already there: announced again, no probe).
    let out = lab.fip(&a, &["-c", "1", "activate", FIP]);
    assert!(out.status.success(), "re-activate in A: {}", describe(&out));

    // B: A answers B's ARP probe, so B refuses.
    let out = lab.fip(&b, &["-c", "1", "activate", FIP, "fipb"]);
    assert_eq!(out.status.code(), Some(3), "activate in B while A holds it: {}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("in use"), "{}", describe(&out));
    assert!(!lab.present(&b));
    assert!(!lab.addresses(&b).contains("10.99.0.50"));

    // A lets go (twice: idempotent).
    for _ in 0..2 {
        let out = lab.fip(&a, &["deactivate", FIP]);
        assert!(out.status.success(), "deactivate in A: {}", describe(&out));
    }
    assert!(!lab.present(&a));
    assert!(!lab.addresses(&a).contains("10.99.0.50"));

    // Now B takes it, on the named interface.
    let out = lab.fip(&b, &["-c", "1", "activate", FIP, "fipb"]);
    assert!(out.status.success(), "activate in B after A let go: {}", describe(&out));
    assert!(lab.present(&b));
    assert!(lab.addresses(&b).contains("inet 10.99.0.50/24"), "B's addresses: {}", lab.addresses(&b));
    assert!(
        eventually(Duration::from_secs(5), || run("ip", &["netns", "exec", &a, "ping", "-c1", "-W1", "10.99.0.50"])
            .status
            .success()),
        "10.99.0.50 does not answer ping from A"
    );

    // Errors: an unknown interface, and no interface in the subnet.
    let out = lab.fip(&b, &["activate", "10.99.0.60/24", "nope"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no interface \"nope\""), "{}", describe(&out));
    let out = lab.fip(&b, &["activate", "10.98.7.60/24"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no interface holds"), "{}", describe(&out));
}
