//! The monitors' checks and the NP probes against real things: ICMP on loopback and
//! across a veth pair, links going down, a small HTTP server of the test's own, live and
//! dead processes, scripts, files.
//!
//! Checks that need a network of their own run in two network namespaces joined by a
//! veth pair, through the `check` example (`ip netns exec NS target/…/examples/check …`),
//! as `tests/floating_ip.rs` does with `fip`. Every address probed there lives inside
//! those namespaces (the namespaces have no route out). They need root and `ip`
//! (iproute2) and are skipped with the reason printed otherwise. The other checks run
//! in this process.
//!
//! Writing an executable while another test thread forks can make `execve` fail with
//! "Text file busy", so script writes take [`FORK_GUARD`] exclusively and everything
//! that spawns takes it shared (as in `tests/exec.rs`).

use std::collections::BTreeMap;
use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use baton_drivers::exec::ScriptSpec;
use baton_drivers::http::HttpTarget;
use baton_drivers::monitor::{check, CheckOutcome, MonitorSpec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, RwLock};

mod common;
use common::{must, run};

static FORK_GUARD: RwLock<()> = RwLock::const_new(());

const SECOND: Duration = Duration::from_secs(1);

async fn checked(spec: &MonitorSpec, timeout: Duration) -> CheckOutcome {
    let _shared = FORK_GUARD.read().await;
    check(spec, timeout).await
}

fn assert_healthy(outcome: &CheckOutcome, detail_has: &str) {
    assert!(outcome.healthy, "expected healthy, got {outcome:?}");
    assert!(outcome.detail.contains(detail_has), "detail {:?} lacks {detail_has:?}", outcome.detail);
}

fn assert_unhealthy(outcome: &CheckOutcome, detail_has: &str) {
    assert!(!outcome.healthy, "expected unhealthy, got {outcome:?}");
    assert!(outcome.detail.contains(detail_has), "detail {:?} lacks {detail_has:?}", outcome.detail);
}

// ---------------------------------------------------------------- ip, in this namespace

#[tokio::test]
async fn ip_monitor_answers_on_loopback() {
    let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let out = checked(&MonitorSpec::Ip { targets: vec![lo] }, SECOND).await;
    assert_healthy(&out, "127.0.0.1: echo reply in");

    // (A dead target beside a live one is checked in the namespaces below: outside them,
    // this host's network may answer any address.)
    // ICMPv6 to ::1, when this host has IPv6 on loopback.
    if !fs::read_to_string("/proc/net/if_inet6").is_ok_and(|t| t.lines().any(|l| l.starts_with(&"0".repeat(31)))) {
        println!("SKIPPED the ::1 part: no IPv6 on loopback here");
        return;
    }
    let v6 = "::1".parse().expect("v6");
    let out = checked(&MonitorSpec::Ip { targets: vec![v6] }, SECOND).await;
    assert_healthy(&out, "::1: echo reply in");
}

// ---------------------------------------------------------------- nic-link, here

#[tokio::test]
async fn nic_link_of_loopback_and_of_a_missing_interface() {
    // Loopback reports operational state UNKNOWN: up through its flags.
    let out = checked(&MonitorSpec::NicLink { interface: "lo".into() }, SECOND).await;
    assert_healthy(&out, "lo: link up");
    let out = checked(&MonitorSpec::NicLink { interface: "baton-nope0".into() }, SECOND).await;
    assert_eq!(out, CheckOutcome::unhealthy("no interface baton-nope0"));
}

// ---------------------------------------------------------------- http

/// A server on 127.0.0.1 answering its connections with `statuses` in turn (then
/// closing), sending each request head it read to the returned channel.
async fn http_server(statuses: Vec<&'static str>) -> (u16, mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        for status in statuses {
            let Ok((mut conn, _)) = listener.accept().await else { return };
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match conn.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let _ = tx.send(String::from_utf8_lossy(&head).into_owned());
            let body = "hello\n";
            let answer =
                format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
            let _ = conn.write_all(answer.as_bytes()).await;
        }
    });
    (port, rx)
}

fn http_spec(port: u16, path: &str) -> MonitorSpec {
    MonitorSpec::Http { target: HttpTarget::new(&format!("http://127.0.0.1:{port}{path}"), None).expect("url") }
}

#[tokio::test]
async fn http_monitor_200_then_500() {
    let (port, mut requests) = http_server(vec!["200 OK", "500 Internal Server Error", "302 Found"]).await;
    let spec = http_spec(port, "/health?deep=1");

    let out = checked(&spec, SECOND).await;
    assert_eq!(out, CheckOutcome::healthy(format!("http://127.0.0.1:{port}/health?deep=1: 200 OK")));
    let head = requests.recv().await.expect("first request");
    assert!(head.starts_with("GET /health?deep=1 HTTP/1.1\r\n"), "{head:?}");
    // Header names are case-insensitive (hyper writes them in lower case).
    assert!(head.to_ascii_lowercase().contains(&format!("\r\nhost: 127.0.0.1:{port}\r\n")), "{head:?}");

    let out = checked(&spec, SECOND).await;
    assert_unhealthy(&out, ": 500 Internal Server Error");
    assert!(requests.recv().await.is_some());

    // A redirect is an answer: healthy (not followed).
    let out = checked(&spec, SECOND).await;
    assert_healthy(&out, ": 302 Found");
}

#[tokio::test]
async fn http_monitor_refused_and_silent() {
    // A port nobody listens on: bound, then released.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        l.local_addr().expect("addr").port()
    };
    let out = checked(&http_spec(port, "/"), SECOND).await;
    assert_unhealthy(&out, "Connection refused");

    // A server that accepts and never answers: unhealthy at the timeout, not later.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = listener.accept().await {
            held.push(conn);
        }
    });
    let started = Instant::now();
    let out = checked(&http_spec(port, "/"), Duration::from_millis(300)).await;
    let took = started.elapsed();
    assert_unhealthy(&out, "no answer within 300 ms");
    assert!(took >= Duration::from_millis(300) && took < Duration::from_secs(2), "took {took:?}");
    holder.abort();
}

// ---------------------------------------------------------------- process

/// True once `pid` is a zombie or gone (it was killed).
fn ended(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
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

/// `sleep 60` started through a symlink named `name`: its command name (`comm`, cut at
/// 15 bytes) and `argv[0]` are then `name`. A symlink, not a copy: nothing is written
/// that could be executed while a forked child holds it open.
async fn sleeper(dir: &Path, name: &str) -> std::process::Child {
    let link = dir.join(name);
    std::os::unix::fs::symlink(sleep_path(), &link).expect("symlink");
    let _shared = FORK_GUARD.read().await;
    Command::new(&link).arg("60").spawn().expect("spawn sleeper")
}

fn sleep_path() -> PathBuf {
    ["/usr/bin/sleep", "/bin/sleep"].iter().map(PathBuf::from).find(|p| p.is_file()).expect("sleep binary")
}

#[tokio::test]
async fn process_monitor_by_pidfile() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = sleeper(dir.path(), "btn-pidf").await;
    let pid = child.id();
    let pidfile = dir.path().join("app.pid");
    fs::write(&pidfile, format!("{pid}\n")).expect("pid file");
    let spec = MonitorSpec::Process { pidfile: Some(pidfile.clone()), process_name: None };

    assert_healthy(&checked(&spec, SECOND).await, &format!("process {pid} ("));
    // With the right name too; a wrong name means the pid was reused by someone else.
    let named = |n: &str| MonitorSpec::Process { pidfile: Some(pidfile.clone()), process_name: Some(n.into()) };
    assert_healthy(&checked(&named("btn-pidf"), SECOND).await, "is running");
    assert_unhealthy(&checked(&named("nginx"), SECOND).await, "is not \"nginx\" but \"btn-pidf\"");

    // Killed but not yet reaped: a zombie is not alive.
    child.kill().expect("kill");
    assert!(eventually(Duration::from_secs(5), || ended(pid)), "sleeper {pid} did not die");
    assert_unhealthy(&checked(&spec, SECOND).await, "has ended (state Z");
    // Reaped: gone.
    child.wait().expect("reap");
    assert_unhealthy(&checked(&spec, SECOND).await, &format!("process {pid} (from {}) is gone", pidfile.display()));

    // A pid file that is missing or holds garbage.
    let missing = MonitorSpec::Process { pidfile: Some(dir.path().join("none.pid")), process_name: None };
    assert_unhealthy(&checked(&missing, SECOND).await, "cannot read pid file");
    fs::write(&pidfile, "starting\n").expect("pid file");
    assert_unhealthy(&checked(&spec, SECOND).await, "holds no pid: \"starting\"");
}

#[tokio::test]
async fn process_monitor_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tag = std::process::id() % 100_000;
    // Short enough for `comm`; and longer than 15 bytes, found through argv[0].
    let short = format!("btn{tag}");
    let long = format!("baton-test-long-sleeper-{tag}");
    let mut a = sleeper(dir.path(), &short).await;
    let mut b = sleeper(dir.path(), &long).await;
    let by_name = |n: &str| MonitorSpec::Process { pidfile: None, process_name: Some(n.to_string()) };

    for (name, child) in [(&short, &a), (&long, &b)] {
        let pid = child.id();
        // The child has exec'd once /proc shows the new name; poll, do not sleep.
        assert!(
            eventually(Duration::from_secs(5), || fs::read_to_string(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.contains(name.as_str()))),
            "{name} did not start"
        );
        let out = checked(&by_name(name), SECOND).await;
        assert_eq!(out, CheckOutcome::healthy(format!("process {name:?} is running (pid {pid})")));
    }
    for child in [&mut a, &mut b] {
        child.kill().expect("kill");
        child.wait().expect("reap");
    }
    for name in [&short, &long] {
        assert_eq!(
            checked(&by_name(name), SECOND).await,
            CheckOutcome::unhealthy(format!("no process named {name:?}"))
        );
    }
}

// ---------------------------------------------------------------- exec

async fn write_script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let _excl = FORK_GUARD.write().await;
    let path = dir.join(name);
    fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod script");
    path
}

fn exec_spec(path: PathBuf) -> MonitorSpec {
    MonitorSpec::Exec { spec: ScriptSpec::new(path, BTreeMap::new(), true) }
}

#[tokio::test]
async fn exec_monitor_exit_codes_and_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ok = write_script(dir.path(), "ok.sh", "exit 0").await;
    let out = checked(&exec_spec(ok.clone()), Duration::from_secs(10)).await;
    assert_eq!(out, CheckOutcome::healthy(format!("{}: exit code 0", ok.display())));

    let bad = write_script(dir.path(), "bad.sh", "echo 'db not reachable' >&2\nexit 1").await;
    let out = checked(&exec_spec(bad.clone()), Duration::from_secs(10)).await;
    assert_eq!(out, CheckOutcome::unhealthy(format!("{}: exit code 1: db not reachable", bad.display())));

    // No CLP_* variables: a check is no start or stop of a group.
    let env = write_script(dir.path(), "env.sh", "env | grep -q '^CLP_' && exit 7\nexit 0").await;
    assert_healthy(&checked(&exec_spec(env), Duration::from_secs(10)).await, "exit code 0");

    let slow = write_script(dir.path(), "slow.sh", "sleep 30").await;
    let started = Instant::now();
    let out = checked(&exec_spec(slow), Duration::from_millis(500)).await;
    let took = started.elapsed();
    assert_unhealthy(&out, "timed out after 500ms; process group killed");
    // The timeout, plus at most the kill grace (sleep dies of SIGTERM at once).
    assert!(took >= Duration::from_millis(500) && took < Duration::from_secs(3), "took {took:?}");

    let missing = exec_spec(dir.path().join("none.sh"));
    assert_unhealthy(&checked(&missing, SECOND).await, "cannot start");
}

// ---------------------------------------------------------------- disk

#[tokio::test]
async fn disk_monitor_on_a_file_a_directory_and_a_missing_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("data.img");
    fs::write(&file, vec![0x5au8; 300_000]).expect("write");
    let out =
        checked(&MonitorSpec::Disk { path: file.clone(), io_size_bytes: 200_000, device: None }, SECOND * 5).await;
    assert_healthy(&out, "read 200000 bytes");
    assert_eq!(fs::read(&file).expect("read").len(), 300_000, "the file must not change");

    // A mount point: a scratch file written, fsynced, read back and removed.
    let out = checked(
        &MonitorSpec::Disk { path: dir.path().to_path_buf(), io_size_bytes: 1_000_000, device: None },
        SECOND * 5,
    )
    .await;
    assert_healthy(&out, "wrote, fsynced and read back 1000000 bytes");
    let left: Vec<_> = fs::read_dir(dir.path()).expect("list").flatten().map(|e| e.file_name()).collect();
    assert_eq!(left, vec![std::ffi::OsString::from("data.img")]);

    let missing = dir.path().join("gone");
    let out = checked(&MonitorSpec::Disk { path: missing.clone(), io_size_bytes: 4096, device: None }, SECOND).await;
    assert_eq!(out, CheckOutcome::unhealthy(format!("{}: No such file or directory (os error 2)", missing.display())));
}

// ---------------------------------------------------------------- in network namespaces

fn missing_prerequisite() -> Option<String> {
    common::missing_prerequisite(&[("ip", "iproute2")], "check")
}

fn check_example() -> PathBuf {
    common::example_path("check")
}

/// Two namespaces joined by a veth pair: `A` holds `<dev_a>` with `10.99.<net>.1/24`,
/// `B` holds `<dev_b>` with `10.99.<net>.2/24`. Nothing else lives in `10.99.<net>.0/24`.
/// Deleted on drop.
struct Lab {
    a: String,
    b: String,
    dev_a: String,
    dev_b: String,
    net: u8,
}

impl Lab {
    /// `tag`: a few letters, unique per test (names of namespaces and interfaces).
    fn new(tag: &str, net: u8) -> Lab {
        let pid = std::process::id();
        let lab = Lab {
            a: format!("baton-mon{tag}A-{pid}"),
            b: format!("baton-mon{tag}B-{pid}"),
            dev_a: format!("m{tag}a"),
            dev_b: format!("m{tag}b"),
            net,
        };
        lab.delete();
        must("ip", &["netns", "add", &lab.a]);
        must("ip", &["netns", "add", &lab.b]);
        let (a, b, da, db) = (&lab.a, &lab.b, &lab.dev_a, &lab.dev_b);
        must("ip", &["link", "add", da, "netns", a, "type", "veth", "peer", "name", db, "netns", b]);
        for (ns, dev, host) in [(a, da, 1), (b, db, 2)] {
            must("ip", &["-n", ns, "addr", "add", &format!("10.99.{net}.{host}/24"), "dev", dev]);
            // `nodad`: usable at once, without the second of duplicate address detection.
            must("ip", &["-n", ns, "addr", "add", &format!("fd99:{net}::{host}/64"), "dev", dev, "nodad"]);
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

    fn addr(&self, host: u8) -> String {
        format!("10.99.{}.{host}", self.net)
    }

    fn addr6(&self, host: u8) -> String {
        format!("fd99:{}::{host}", self.net)
    }

    /// Runs `check ARGS` in namespace `ns`: exit code, stdout, how long it took.
    fn check(&self, ns: &str, args: &[&str]) -> (Option<i32>, String, Duration) {
        self.check_with(ns, &[], args)
    }

    /// Runs `check ARGS` in namespace `ns` as user and group `nobody` (65534), through
    /// `setpriv`: no raw sockets.
    fn check_unprivileged(&self, ns: &str, args: &[&str]) -> (Option<i32>, String, Duration) {
        self.check_with(ns, &["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"], args)
    }

    fn check_with(&self, ns: &str, wrapper: &[&str], args: &[&str]) -> (Option<i32>, String, Duration) {
        let example = check_example();
        let mut all = vec!["netns", "exec", ns];
        all.extend_from_slice(wrapper);
        all.push(example.to_str().expect("utf-8 path"));
        all.extend_from_slice(args);
        let started = Instant::now();
        let out = run("ip", &all);
        let took = started.elapsed();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.code() != Some(2), "check {args:?}: usage error: {}", String::from_utf8_lossy(&out.stderr));
        (out.status.code(), stdout, took)
    }

    /// Polls `check ARGS` in `ns` until its first line is `want` (deadline 5 s).
    fn check_becomes(&self, ns: &str, args: &[&str], want: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let (_, stdout, _) = self.check(ns, args);
            if stdout.lines().next() == Some(want) || Instant::now() >= deadline {
                return stdout;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.delete();
    }
}

#[test]
fn ip_monitor_and_ping_probe_across_namespaces() {
    if let Some(why) = missing_prerequisite() {
        println!("SKIPPED ip monitor namespace test: {why}");
        return;
    }
    let lab = Lab::new("ip", 11);
    let (peer, nobody) = (lab.addr(2), lab.addr(77));

    let (code, out, _) = lab.check(&lab.a, &["-t", "1000", "ip", &peer]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with(&format!("healthy: {peer}: echo reply in ")), "{out}");

    // Nobody holds .77: no ARP answer, no echo reply; unhealthy once the timeout is over.
    let (code, out, took) = lab.check(&lab.a, &["-t", "1000", "ip", &nobody]);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(out.trim(), format!("unhealthy: {nobody}: no echo reply within 1000 ms"));
    assert!(took >= Duration::from_millis(1000) && took < Duration::from_secs(4), "took {took:?}");

    // One answering target is enough; two dead ones list both reasons.
    let (code, out, _) = lab.check(&lab.a, &["-t", "1000", "ip", &nobody, &peer]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with(&format!("healthy: {peer}: ")), "{out}");
    let other = lab.addr(78);
    let (code, out, _) = lab.check(&lab.a, &["-t", "500", "ip", &nobody, &other]);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(
        out.trim(),
        format!("unhealthy: {nobody}: no echo reply within 500 ms; {other}: no echo reply within 500 ms")
    );

    // The NP probe: one dead and one live target answer; the dead one alone does not.
    let (code, out, _) = lab.check(&lab.b, &["-t", "1000", "ping-any", &lab.addr(77), &lab.addr(1)]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with("answered\n"), "{out}");
    assert!(out.contains(&format!("  {}: echo reply from {} in ", lab.addr(1), lab.addr(1))), "{out}");
    assert!(out.contains(&format!("  {nobody}: no echo reply within 1000 ms")), "{out}");
    let (code, out, _) = lab.check(&lab.b, &["-t", "500", "ping-any", &nobody]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.starts_with("no answer\n"), "{out}");

    // The same over IPv6 (ICMPv6 echo, neighbour discovery instead of ARP).
    let (peer6, nobody6) = (lab.addr6(2), lab.addr6(77));
    let (code, out, _) = lab.check(&lab.a, &["-t", "1000", "ip", &peer6]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with(&format!("healthy: {peer6}: echo reply in ")), "{out}");
    let (code, out, took) = lab.check(&lab.a, &["-t", "1000", "ip", &nobody6]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.starts_with(&format!("unhealthy: {nobody6}: ")), "{out}");
    assert!(took < Duration::from_secs(4), "took {took:?}");
    let (code, out, _) = lab.check(&lab.b, &["-t", "1000", "ping-any", &nobody6, &lab.addr6(1)]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains(&format!("  {}: echo reply from {} in ", lab.addr6(1), lab.addr6(1))), "{out}");
}

#[test]
fn nic_link_and_floating_ip_follow_the_link() {
    if let Some(why) = missing_prerequisite() {
        println!("SKIPPED nic-link namespace test: {why}");
        return;
    }
    let lab = Lab::new("nl", 12);
    let (a, b, dev_a, dev_b) = (lab.a.clone(), lab.b.clone(), lab.dev_a.clone(), lab.dev_b.clone());
    let nic = ["nic-link", dev_a.as_str()];

    let (code, out, _) = lab.check(&a, &nic);
    assert_eq!((code, out.trim()), (Some(0), format!("healthy: {dev_a}: link up").as_str()));
    let (code, out, _) = lab.check(&a, &["nic-link", "eth9"]);
    assert_eq!((code, out.trim()), (Some(1), "unhealthy: no interface eth9"));

    // A floating address on A's veth.
    let fip = format!("{}/24", lab.addr(50));
    let fip_check = ["floating-ip", fip.as_str()];
    let (code, out, _) = lab.check(&a, &fip_check);
    assert_eq!((code, out.trim()), (Some(1), format!("unhealthy: {} is not on this server", lab.addr(50)).as_str()));
    must("ip", &["-n", &a, "addr", "add", &fip, "dev", &dev_a]);
    let (code, out, _) = lab.check(&a, &fip_check);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(out.trim(), format!("healthy: {} is on {dev_a}: link up", lab.addr(50)));

    // The peer's end goes down: A's end loses its carrier (operational state DOWN).
    must("ip", &["-n", &b, "link", "set", &dev_b, "down"]);
    let down = format!("unhealthy: {dev_a}: link down (state DOWN, no carrier)");
    let out = lab.check_becomes(&a, &nic, &down);
    assert_eq!(out.trim(), down);
    let (code, out, _) = lab.check(&a, &fip_check);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("is here but its interface is down"), "{out}");

    // And up again.
    must("ip", &["-n", &b, "link", "set", &dev_b, "up"]);
    let out = lab.check_becomes(&a, &nic, &format!("healthy: {dev_a}: link up"));
    assert_eq!(out.trim(), format!("healthy: {dev_a}: link up"));

    // A's own end set down by an administrator.
    must("ip", &["-n", &a, "link", "set", &dev_a, "down"]);
    let (code, out, _) = lab.check(&a, &nic);
    assert_eq!((code, out.trim()), (Some(1), format!("unhealthy: {dev_a}: link administratively down").as_str()));
}

#[test]
fn ip_monitor_without_root_falls_back_to_a_ping_socket() {
    if let Some(why) = missing_prerequisite() {
        println!("SKIPPED unprivileged ping test: {why}");
        return;
    }
    if run("sh", &["-c", "command -v setpriv"]).stdout.is_empty() {
        println!("SKIPPED unprivileged ping test: `setpriv` not found (Debian package util-linux)");
        return;
    }
    let lab = Lab::new("up", 13);
    let (peer, nobody) = (lab.addr(2), lab.addr(77));

    // A new namespace allows ping sockets to no group ("1 0"): neither socket opens.
    let (code, out, _) = lab.check_unprivileged(&lab.a, &["ip", &peer]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.starts_with(&format!("unhealthy: {peer}: cannot open an ICMP socket: raw: ")), "{out}");

    // Ping sockets allowed for every group: the echo goes through one (kernel-chosen
    // identifier, no IPv4 header in front of replies).
    must("ip", &["netns", "exec", &lab.a, "sysctl", "-q", "-w", "net.ipv4.ping_group_range=0 2147483647"]);
    let (code, out, _) = lab.check_unprivileged(&lab.a, &["ip", &peer]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with(&format!("healthy: {peer}: echo reply in ")), "{out}");
    let (code, out, took) = lab.check_unprivileged(&lab.a, &["-t", "700", "ip", &nobody]);
    assert_eq!((code, out.trim()), (Some(1), format!("unhealthy: {nobody}: no echo reply within 700 ms").as_str()));
    assert!(took >= Duration::from_millis(700) && took < Duration::from_secs(4), "took {took:?}");

    // An ICMPv6 ping socket (the same sysctl covers both families).
    let peer6 = lab.addr6(2);
    let (code, out, _) = lab.check_unprivileged(&lab.a, &["ip", &peer6]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with(&format!("healthy: {peer6}: echo reply in ")), "{out}");
}
