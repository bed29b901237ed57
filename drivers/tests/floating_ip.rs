//! The floating IP driver on real interfaces: three network namespaces on one segment, the
//! driver run in A or B through the `fip` example (`ip netns exec NS target/…/examples/fip
//! …`), and W, the neighbour, whose bridge joins the segment and whose ARP cache and
//! `arping` witness what the driver sends.
//!
//! Needs root, `ip` (iproute2), `arping` (iputils-arping, only as an independent witness:
//! the driver sends ARP itself) and `ping` (iputils-ping), and the `fip` example built
//! (plain `cargo test` builds it); without them the tests are skipped with the reason
//! printed. The namespaces are named after the test and this process's id and always
//! deleted, also when a test fails.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

mod common;
use common::{must, run};

/// The floating address of the tests, in the segment's subnet.
const FIP: &str = "10.99.0.50/24";
const FIP_ADDRESS: &str = "10.99.0.50";

/// Activation must take less than this when nobody holds the address (the driver's probe
/// waits 200 ms): a functional bound for sub-second failover, not a benchmark.
const ACTIVATION_BOUND: Duration = Duration::from_secs(1);

/// A MAC address nobody on the segment has, put into W's cache to see announcements
/// overwrite it.
const BOGUS_MAC: &str = "02:00:00:00:be:ef";

fn missing_prerequisite() -> Option<String> {
    common::missing_prerequisite(&[("ip", "iproute2"), ("arping", "iputils-arping"), ("ping", "iputils-ping")], "fip")
}

fn fip_example() -> PathBuf {
    common::example_path("fip")
}

/// Three namespaces on one segment: W holds the bridge `fipbr` (10.99.0.3/24); A's `fipa`
/// (10.99.0.1/24) and B's `fipb` (10.99.0.2/24) are veth pairs whose other ends are ports
/// of the bridge. Deleted on drop (deleting a namespace deletes its veth ends, and so the
/// pairs).
struct Lab {
    a: String,
    b: String,
    w: String,
}

impl Lab {
    /// `tag` keeps the namespaces of tests running at once apart.
    fn new(tag: &str) -> Lab {
        let pid = std::process::id();
        let [a, b, w] = ["A", "B", "W"].map(|n| format!("baton-fip{n}-{tag}-{pid}"));
        let lab = Lab { a, b, w };
        // Left over from an earlier process with the same id: gone (errors ignored).
        lab.delete();
        for ns in [&lab.a, &lab.b, &lab.w] {
            must("ip", &["netns", "add", ns]);
            must("ip", &["-n", ns, "link", "set", "lo", "up"]);
        }
        // No STP on the bridge: its ports forward as soon as they are up.
        must("ip", &["-n", &lab.w, "link", "add", "fipbr", "type", "bridge"]);
        must("ip", &["-n", &lab.w, "addr", "add", "10.99.0.3/24", "dev", "fipbr"]);
        must("ip", &["-n", &lab.w, "link", "set", "fipbr", "up"]);
        for (ns, dev, port, addr) in
            [(&lab.a, "fipa", "fipa-port", "10.99.0.1/24"), (&lab.b, "fipb", "fipb-port", "10.99.0.2/24")]
        {
            must("ip", &["link", "add", dev, "netns", ns, "type", "veth", "peer", "name", port, "netns", &lab.w]);
            must("ip", &["-n", &lab.w, "link", "set", port, "master", "fipbr"]);
            must("ip", &["-n", &lab.w, "link", "set", port, "up"]);
            must("ip", &["-n", ns, "addr", "add", addr, "dev", dev]);
            must("ip", &["-n", ns, "link", "set", dev, "up"]);
        }
        lab
    }

    fn delete(&self) {
        for ns in [&self.a, &self.b, &self.w] {
            let _ = run("ip", &["netns", "del", ns]);
        }
    }

    /// The command running `fip ARGS` in namespace `ns`.
    fn fip_command(&self, ns: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns]).arg(fip_example()).args(args);
        cmd
    }

    /// Runs `fip ARGS` in namespace `ns`.
    fn fip(&self, ns: &str, args: &[&str]) -> Output {
        self.fip_command(ns, args).output().unwrap_or_else(|e| panic!("cannot run fip {args:?}: {e}"))
    }

    /// Runs `fip ARGS` in namespace `ns`, and how long it took.
    fn timed_fip(&self, ns: &str, args: &[&str]) -> (Output, Duration) {
        let start = Instant::now();
        let out = self.fip(ns, args);
        (out, start.elapsed())
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

    fn ping(&self, ns: &str, address: &str) -> bool {
        run("ip", &["netns", "exec", ns, "ping", "-c1", "-W1", address]).status.success()
    }
}

/// The MAC address of `dev` in `ns`, lower-case (as `ip` prints it).
fn mac_of(ns: &str, dev: &str) -> String {
    let out = must("ip", &["-n", ns, "-o", "link", "show", "dev", dev]);
    let mut words = out.split_whitespace();
    words
        .find(|w| *w == "link/ether")
        .and_then(|_| words.next())
        .unwrap_or_else(|| panic!("no MAC in {out:?}"))
        .to_string()
}

/// The MAC address W's ARP cache has for `address`, if it has an entry with one.
fn neighbour_mac(w: &str, address: &str) -> Option<String> {
    let out = must("ip", &["-n", w, "neigh", "show", address, "dev", "fipbr"]);
    let mut words = out.split_whitespace();
    words.find(|w| *w == "lladdr").and_then(|_| words.next()).map(str::to_string)
}

/// Points W's cache entry for `address` at `mac`, as a stale entry: only a gratuitous ARP
/// (or traffic from W, which the tests do not send then) changes it.
fn set_neighbour(w: &str, address: &str, mac: &str) {
    must("ip", &["-n", w, "neigh", "replace", address, "lladdr", mac, "dev", "fipbr", "nud", "stale"]);
}

/// A child process killed and reaped when dropped (a failing test leaves none behind).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.delete();
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_string()
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
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn floating_ip_moves_between_namespaces_and_refuses_a_duplicate() {
    if let Some(why) = missing_prerequisite() {
        println!("SKIPPED floating_ip test: {why}");
        return;
    }
    let lab = Lab::new("move");
    let (a, b, w) = (lab.a.clone(), lab.b.clone(), lab.w.clone());
    let (mac_a, mac_b) = (mac_of(&a, "fipa"), mac_of(&b, "fipb"));

    // A: no interface named, so the one in 10.99.0.0/24 (fipa); one gratuitous ARP.
    // Nobody holds the address, so the probe's whole wait passes: still well under 1 s.
    let (out, took) = lab.timed_fip(&a, &["-c", "1", "activate", FIP]);
    assert!(out.status.success(), "activate in A: {}", describe(&out));
    println!("activation in A (nobody holding the address) took {} ms (fip: {})", took.as_millis(), stdout(&out));
    assert!(took < ACTIVATION_BOUND, "activation in A took {took:?}");
    assert!(lab.addresses(&a).contains("inet 10.99.0.50/24"), "A's addresses: {}", lab.addresses(&a));
    assert!(lab.addresses(&a).contains("fipa"));
    assert!(lab.present(&a));
    assert!(!lab.present(&b));

    // An independent witness: iputils' own duplicate address detection, from W, sees
    // A's MAC address answer for it.
    let out = run("ip", &["netns", "exec", &w, "arping", "-D", "-I", "fipbr", "-c", "2", "-w", "2", FIP_ADDRESS]);
    let said = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert_eq!(out.status.code(), Some(1), "arping -D from W should see a holder: {said}");
    assert!(said.contains(&mac_a), "arping -D from W should see A ({mac_a}): {said}");

    // W talks to it, so W's cache has A's MAC address for it.
    assert!(eventually(Duration::from_secs(5), || lab.ping(&w, FIP_ADDRESS)), "no ping answer from A to W");
    assert_eq!(neighbour_mac(&w, FIP_ADDRESS).as_deref(), Some(mac_a.as_str()));
    // Activating again in A is fine (already there: announced again, no probe).
    let out = lab.fip(&a, &["-c", "1", "activate", FIP]);
    assert!(out.status.success(), "re-activate in A: {}", describe(&out));

    // B: A answers B's ARP probe, so B refuses, and says who answered.
    let out = lab.fip(&b, &["-c", "1", "activate", FIP, "fipb"]);
    assert_eq!(out.status.code(), Some(3), "activate in B while A holds it: {}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("in use"), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&mac_a), "the answer names A: {}", describe(&out));
    assert!(!lab.present(&b));
    assert!(!lab.addresses(&b).contains("10.99.0.50"));

    // An address held by a host that is not running the driver (put there by hand) is
    // found as well.
    must("ip", &["-n", &w, "addr", "add", "10.99.0.60/24", "dev", "fipbr"]);
    let out = lab.fip(&a, &["-c", "1", "activate", "10.99.0.60/24"]);
    assert_eq!(out.status.code(), Some(3), "activate in A while W holds .60: {}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&mac_of(&w, "fipbr")), "{}", describe(&out));
    assert!(!lab.addresses(&a).contains("10.99.0.60"));
    must("ip", &["-n", &w, "addr", "del", "10.99.0.60/24", "dev", "fipbr"]);

    // A lets go (twice: idempotent).
    for _ in 0..2 {
        let out = lab.fip(&a, &["deactivate", FIP]);
        assert!(out.status.success(), "deactivate in A: {}", describe(&out));
    }
    assert!(!lab.present(&a));
    assert!(!lab.addresses(&a).contains("10.99.0.50"));

    // Now B takes it, on the named interface: a failover. W still points the address at
    // A's MAC address and sends nothing to it, so only B's gratuitous ARP can move W's
    // entry to B's.
    assert_eq!(neighbour_mac(&w, FIP_ADDRESS).as_deref(), Some(mac_a.as_str()), "W before the failover");
    let (out, took) = lab.timed_fip(&b, &["-c", "1", "activate", FIP, "fipb"]);
    assert!(out.status.success(), "activate in B after A let go: {}", describe(&out));
    println!("activation in B (after A let go) took {} ms (fip: {})", took.as_millis(), stdout(&out));
    assert!(took < ACTIVATION_BOUND, "activation in B took {took:?}");
    assert!(
        eventually(Duration::from_secs(3), || neighbour_mac(&w, FIP_ADDRESS).as_deref() == Some(mac_b.as_str())),
        "W's cache entry for {FIP_ADDRESS} did not move to B ({mac_b}): {:?}",
        neighbour_mac(&w, FIP_ADDRESS)
    );
    assert!(lab.present(&b));
    assert!(lab.addresses(&b).contains("inet 10.99.0.50/24"), "B's addresses: {}", lab.addresses(&b));
    assert!(eventually(Duration::from_secs(5), || lab.ping(&a, FIP_ADDRESS)), "10.99.0.50 does not answer ping from A");

    // Errors: an unknown interface, and no interface in the subnet.
    let out = lab.fip(&b, &["activate", "10.99.0.70/24", "nope"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no interface \"nope\""), "{}", describe(&out));
    let out = lab.fip(&b, &["activate", "10.98.7.60/24"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no interface holds"), "{}", describe(&out));
}

/// With `arp_count = 3`, activation returns after the first gratuitous ARP; the second
/// follows about a second later from the background; once the address is removed, the
/// third is not sent.
#[test]
fn later_gratuitous_arps_follow_in_the_background_and_stop_when_the_address_goes() {
    if let Some(why) = missing_prerequisite() {
        println!("SKIPPED floating_ip test: {why}");
        return;
    }
    let lab = Lab::new("later");
    let (a, w) = (lab.a.clone(), lab.w.clone());
    let mac_a = mac_of(&a, "fipa");
    set_neighbour(&w, FIP_ADDRESS, BOGUS_MAC);

    let start = Instant::now();
    let mut child = lab
        .fip_command(&a, &["-c", "3", "activate", FIP])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn fip");
    let stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let child = Running(child);
    // fip prints `activated in N ms` when the driver's activation returns, then stays for
    // the later announcements.
    let (lines_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let first = lines.recv_timeout(Duration::from_secs(5)).expect("fip -c 3 printed nothing");
    let took = start.elapsed();
    assert!(first.starts_with("activated in "), "fip printed {first:?}");
    println!("activation with arp_count = 3 returned after {} ms (fip: {first})", took.as_millis());
    assert!(took < ACTIVATION_BOUND, "activation with arp_count = 3 took {took:?}: it waited for later announcements?");

    // The first announcement moved W's entry to A.
    assert!(
        eventually(Duration::from_secs(1), || neighbour_mac(&w, FIP_ADDRESS).as_deref() == Some(mac_a.as_str())),
        "W's cache entry did not move to A ({mac_a}) after the first announcement: {:?}",
        neighbour_mac(&w, FIP_ADDRESS)
    );
    // The second comes from the background task, a second after the first.
    set_neighbour(&w, FIP_ADDRESS, BOGUS_MAC);
    assert!(
        eventually(Duration::from_secs(2), || neighbour_mac(&w, FIP_ADDRESS).as_deref() == Some(mac_a.as_str())),
        "no second announcement moved W's cache entry to A ({mac_a}): {:?}",
        neighbour_mac(&w, FIP_ADDRESS)
    );
    let second_seen = start.elapsed();
    println!("second announcement seen after {} ms", second_seen.as_millis());

    // The address goes (about a second before the third is due): no third announcement.
    set_neighbour(&w, FIP_ADDRESS, BOGUS_MAC);
    let out = lab.fip(&a, &["deactivate", FIP]);
    assert!(out.status.success(), "deactivate in A: {}", describe(&out));
    let mut child = child;
    let exited = eventually(Duration::from_secs(4), || matches!(child.0.try_wait(), Ok(Some(_))));
    assert!(exited, "fip -c 3 still running 4 s after the deactivation");
    let status = child.0.wait().expect("fip status");
    let mut said = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut said).expect("fip stderr");
    assert!(status.success(), "fip -c 3 activate: {status:?}, {said}");
    assert!(said.contains("stopped after 1 of 2: the address left the interface"), "fip said: {said}");
    assert_eq!(neighbour_mac(&w, FIP_ADDRESS).as_deref(), Some(BOGUS_MAC), "a third announcement went out");
}

/// The milliseconds after T that `fip -m` printed (`activated N ms after T`).
fn ms_after_t(out: &Output) -> u64 {
    let text = stdout(out);
    text.split_whitespace().nth(1).and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("fip printed {text:?}"))
}

/// B44 (revised): at a takeover the duplicate-address probe runs during the margin
/// [V, T]. Nobody holding the address: it is added at T without a probe window of its
/// own. A holder that lets go during the margin: added at T as well. A holder that
/// stays: refused, and only after T + the probe window (B70).
#[test]
fn takeover_probes_during_the_margin_and_adds_at_t() {
    if let Some(why) = missing_prerequisite() {
        println!("SKIPPED floating_ip test: {why}");
        return;
    }
    let lab = Lab::new("margin");
    let (a, b) = (lab.a.clone(), lab.b.clone());
    // A window far longer than the add itself: a probe started at T would show.
    const WINDOW_MS: u64 = 800;
    let window = WINDOW_MS.to_string();

    // Nobody holds the address: the margin's probe heard nobody for a whole window
    // before T, so the add follows at once.
    let out = lab.fip(&b, &["-c", "1", "-w", &window, "-m", "1500", "activate", FIP, "fipb"]);
    assert!(out.status.success(), "takeover in B: {}", describe(&out));
    let after = ms_after_t(&out);
    println!("takeover in B with nobody holding: added {after} ms after T");
    assert!(after < WINDOW_MS, "added {after} ms after T: the probe did not run during the margin");
    assert!(lab.present(&b));
    let out = lab.fip(&b, &["deactivate", FIP]);
    assert!(out.status.success(), "{}", describe(&out));

    // A holds it through the margin and after: B's takeover is refused, and not before
    // T + the window (an old owner may still be letting go).
    let out = lab.fip(&a, &["-c", "1", "activate", FIP]);
    assert!(out.status.success(), "activate in A: {}", describe(&out));
    let start = Instant::now();
    let out = lab.fip(&b, &["-c", "1", "-w", &window, "-m", "1000", "activate", FIP, "fipb"]);
    let took = start.elapsed();
    assert_eq!(out.status.code(), Some(3), "takeover in B while A holds it: {}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&mac_of(&a, "fipa")), "{}", describe(&out));
    assert!(took >= Duration::from_millis(1000 + WINDOW_MS), "refused after {took:?}, before T + the window");
    assert!(!lab.addresses(&b).contains("10.99.0.50"));
    assert!(lab.present(&a));

    // A lets go early in B's margin (as a loser fences): B adds it at T.
    let child = lab
        .fip_command(&b, &["-c", "1", "-w", &window, "-m", "2500", "activate", FIP, "fipb"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn fip in B");
    let out = lab.fip(&a, &["deactivate", FIP]);
    assert!(out.status.success(), "deactivate in A: {}", describe(&out));
    let out = child.wait_with_output().expect("fip in B");
    assert!(out.status.success(), "takeover in B after A let go: {}", describe(&out));
    let after = ms_after_t(&out);
    println!("takeover in B after A let go during the margin: added {after} ms after T");
    assert!(after < WINDOW_MS, "added {after} ms after T");
    assert!(lab.present(&b) && !lab.present(&a));
}
