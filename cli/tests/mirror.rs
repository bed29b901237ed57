//! `baton mirror init`, the engine process (`baton mirror-engine`) and `baton mirror
//! status`, as an operator and the daemon use them: real processes, tempfile-backed
//! devices (and a loop device for `--mkfs`), real TCP between two engines on 127.0.0.1
//! and 127.0.0.2, the engines' control sockets.
//!
//! * init writes each side's metadata as its role says, refuses a side already
//!   initialised unless --force, and refuses bad usage with exit 2;
//! * --mkfs creates the file system on a blank device and never formats one that holds
//!   a file system (the UUID stays);
//! * two engines: the activated one replicates every write to the peer before it is
//!   acknowledged; after `kill -9` of the active engine the standby's data holds every
//!   acknowledged write; `mirror status --json` shows both roles;
//! * a lapsed lease stops acknowledgements until the daemon renews it;
//! * the active engine serves its volume as a block device (FUSE + loop, published as
//!   DEV_DIR/md1): ext4 on it, a file written and fsynced, both sides' data identical
//!   after a clean deactivation (refused while mounted); a killed engine's device is
//!   removed by the next one.

use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use baton_core::io::MirrorRecord;
use baton_mirror::engine::metadata::MetaStore;
use baton_mirror::process::control;
use serde_json::{json, Value};

const SIZE: u64 = 16 << 20;

fn baton() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_baton"))
}

/// A cluster port per test (tests of this file run in parallel; the engines listen on
/// port + 100).
fn port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    20_000 + (std::process::id() % 1000) as u16 * 30 + NEXT.fetch_add(1, Ordering::SeqCst)
}

/// A two-server cluster file with one mirror `md1` over devices in `dir`
/// (`s1.data`, `s1.meta`, `s2.data`, `s2.meta` unless `data` says otherwise).
fn cluster(dir: &Path, data: Option<(&Path, &Path)>) -> PathBuf {
    let (d1, d2) =
        data.map_or_else(|| (dir.join("s1.data"), dir.join("s2.data")), |(a, b)| (a.to_path_buf(), b.to_path_buf()));
    for d in [&d1, &d2] {
        if !d.exists() {
            std::fs::File::create(d).unwrap().set_len(SIZE).unwrap();
        }
    }
    let key = dir.join("cluster.key");
    std::fs::write(&key, "mirror-test-secret\n").unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let text = format!(
        r#"[cluster]
name = "cluster1"
port = {port}
web_port = {web}
secret_file = "cluster.key"

[[server]]
name = "server1"
addresses = {{ lan1 = "127.0.0.1" }}

[[server]]
name = "server2"
addresses = {{ lan1 = "127.0.0.2" }}

[[heartbeat]]
name = "lan1"
kind = "lan"
priority = 1

[[group]]
name = "failover1"
servers = ["server1", "server2"]

[[group.resource]]
name = "md1"
kind = "mirror-disk"
data = {{ server1 = "{d1}", server2 = "{d2}" }}
metadata = {{ server1 = "{m1}", server2 = "{m2}" }}
mount_point = "/mnt/md1"
fs_type = "ext4"
network = "lan1"
"#,
        port = port(),
        web = 29_003,
        d1 = d1.display(),
        d2 = d2.display(),
        m1 = dir.join("s1.meta").display(),
        m2 = dir.join("s2.meta").display(),
    );
    let f = dir.join("cluster.toml");
    std::fs::write(&f, text).unwrap();
    f
}

fn run(args: &[&str]) -> Output {
    Command::new(baton()).args(args).output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn init(cfg: &Path, server: &str, role: &[&str]) -> Output {
    let mut a = vec!["mirror", "init", "md1", "--config", cfg.to_str().unwrap(), "--server", server];
    a.extend_from_slice(role);
    run(&a)
}

fn record(meta: &Path) -> MirrorRecord {
    MetaStore::open(meta).unwrap().header().record
}

#[test]
fn init_writes_each_sides_metadata_and_refuses_to_forget_a_record() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = cluster(dir.path(), None);
    let o = init(&cfg, "server1", &["--primary"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = init(&cfg, "server2", &["--secondary"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(record(&dir.path().join("s1.meta")), MirrorRecord::Synced);
    assert_eq!(record(&dir.path().join("s2.meta")), MirrorRecord::Behind { full: true });
    assert_eq!(MetaStore::open(&dir.path().join("s1.meta")).unwrap().header().size_bytes, SIZE);

    let o = init(&cfg, "server2", &["--primary"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--force"), "says what to do: {}", text(&o));
    assert_eq!(record(&dir.path().join("s2.meta")), MirrorRecord::Behind { full: true }, "untouched");
    let o = init(&cfg, "server2", &["--assume-identical", "--force"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(record(&dir.path().join("s2.meta")), MirrorRecord::Synced);
}

#[test]
fn init_refuses_bad_usage_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = cluster(dir.path(), None);
    for (args, says) in [
        (vec![], "--primary"),
        (vec!["--primary", "--secondary"], "cannot be used with"),
        (vec!["--secondary", "--mkfs"], "--primary"),
    ] {
        let o = init(&cfg, "server1", &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(text(&o).contains(says), "{args:?}: {}", text(&o));
    }
    let o = init(&cfg, "server9", &["--primary"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("servers: server1, server2"), "{}", text(&o));
    let c = cfg.to_str().unwrap();
    let o = run(&["mirror", "init", "md9", "--config", c, "--server", "server1", "--primary"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("mirrors: md1"), "{}", text(&o));
    assert!(!dir.path().join("s1.meta").exists(), "nothing written");
}

fn blkid(dev: &Path, tag: &str) -> String {
    let o = Command::new("blkid").args(["-p", "-o", "value", "-s", tag]).arg(dev).output().unwrap();
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// A loop device over `file`, detached when dropped.
struct Loop(PathBuf);
impl Loop {
    fn attach(file: &Path) -> Option<Loop> {
        let o = Command::new("losetup").args(["-f", "--show"]).arg(file).output().ok()?;
        o.status.success().then(|| Loop(PathBuf::from(String::from_utf8_lossy(&o.stdout).trim())))
    }
}
impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").arg("-d").arg(&self.0).status();
    }
}

#[test]
fn mkfs_formats_a_blank_device_and_never_one_that_holds_a_file_system() {
    let have = |c: &str| {
        Command::new("sh").args(["-c", &format!("command -v {c}")]).output().is_ok_and(|o| o.status.success())
    };
    if !(have("blkid") && have("mkfs.ext4")) {
        println!("skipped: needs blkid and mkfs.ext4");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for f in ["b1", "b2"] {
        std::fs::File::create(dir.path().join(f)).unwrap().set_len(SIZE).unwrap();
    }
    // server1's data on a loop device when this machine has them (root), else the file.
    let lo = if baton_lab::is_root() { Loop::attach(&dir.path().join("b1")) } else { None };
    let d1 = lo.as_ref().map_or_else(|| dir.path().join("b1"), |l| l.0.clone());
    let d2 = dir.path().join("b2");
    let cfg = cluster(dir.path(), Some((&d1, &d2)));
    let o = init(&cfg, "server1", &["--primary", "--mkfs"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("file system created"), "{}", text(&o));
    assert_eq!(blkid(&d1, "TYPE"), "ext4");

    // server2's device already holds a file system: it is kept, only the metadata is written.
    let o = Command::new("mkfs.ext4").args(["-q", "-L", "keepme"]).arg(&d2).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let uuid = blkid(&d2, "UUID");
    std::fs::remove_file(dir.path().join("s1.meta")).unwrap();
    let o = init(&cfg, "server2", &["--primary", "--mkfs"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("not formatted"), "{}", text(&o));
    assert_eq!((blkid(&d2, "UUID"), blkid(&d2, "LABEL")), (uuid, "keepme".to_string()), "never formatted");
    assert_eq!(record(&dir.path().join("s2.meta")), MirrorRecord::Synced);
}

/// One `baton mirror-engine` process, killed (-9) when dropped.
struct Engine {
    child: Child,
    socket: PathBuf,
    state: PathBuf,
}

impl Engine {
    /// An engine without a front end (writes through the control socket).
    fn start(cfg: &Path, server: &str, state: &Path) -> Engine {
        Engine::start_with(cfg, server, state, &["--test-io".as_ref(), "--no-front".as_ref()])
    }

    fn start_with(cfg: &Path, server: &str, state: &Path, extra: &[&std::ffi::OsStr]) -> Engine {
        let child = Command::new(baton())
            .args(["mirror-engine", "md1", "--config"])
            .arg(cfg)
            .args(["--server", server, "--state-dir"])
            .arg(state)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let e = Engine { child, socket: state.join("mirror/md1.sock"), state: state.to_path_buf() };
        wait(10, &format!("{server}'s engine answers"), || e.try_call(json!({"status": {}})).is_some());
        e
    }

    fn try_call(&self, req: Value) -> Option<Result<Value, String>> {
        control::call(&self.socket, &req, Duration::from_secs(10)).ok()
    }

    fn call(&self, req: Value) -> Result<Value, String> {
        self.try_call(req.clone()).unwrap_or_else(|| panic!("no answer to {req}"))
    }

    fn status(&self) -> Value {
        self.call(json!({"status": {}})).unwrap()
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait(secs: u64, what: &str, mut ok: impl FnMut() -> bool) {
    let give_up = Instant::now() + Duration::from_secs(secs);
    while !ok() {
        assert!(Instant::now() < give_up, "not within {secs} s: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn block(n: u64) -> Vec<u8> {
    (0..4096u64).map(|i| (n.wrapping_mul(31).wrapping_add(i * 7) % 251) as u8).collect()
}

/// Two engines over a fresh pair: server1 primary, server2 secondary... both assumed
/// identical so that writes replicate at once.
fn pair(dir: &Path) -> (PathBuf, Engine, Engine) {
    let cfg = cluster(dir, None);
    for s in ["server1", "server2"] {
        let o = init(&cfg, s, &["--assume-identical"]);
        assert!(o.status.success(), "{}", text(&o));
    }
    let e1 = Engine::start(&cfg, "server1", &dir.join("state1"));
    let e2 = Engine::start(&cfg, "server2", &dir.join("state2"));
    (cfg, e1, e2)
}

#[test]
fn the_standby_holds_every_acknowledged_write_after_the_active_engine_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let (_cfg, mut e1, e2) = pair(dir.path());
    assert_eq!(e1.status()["role"], "standby");
    assert!(e1.call(json!({"write": {"offset": 0, "hex": "00"}})).unwrap_err().contains("not active"));
    e1.call(json!({"activate": {"lease_ms": 60_000}})).unwrap();
    wait(10, "the link up", || e1.status()["links_up"] == 1 && e2.status()["links_up"] == 1);
    assert_eq!(e1.status()["peer"], "synced");

    // A writer in another thread, acknowledged numbers kept outside the mirror.
    let socket = e1.socket.clone();
    let writer = std::thread::spawn(move || {
        let mut acked = Vec::new();
        for n in 0..10_000u64 {
            let at = (n * 4096 * 3) % (SIZE - 4096);
            let req = json!({"write": {"offset": at, "hex": control::to_hex(&block(n))}});
            match control::call(&socket, &req, Duration::from_secs(10)) {
                Ok(Ok(_)) => acked.push((n, at)),
                Ok(Err(_)) | Err(_) => break,
            }
        }
        acked
    });
    wait(20, "200 writes applied on the standby", || e2.status()["applied_writes"].as_u64() >= Some(200));
    // Both engines' status through the CLI.
    for (e, role) in [(&e1, "active"), (&e2, "standby")] {
        let o = run(&["mirror", "status", "--json", "--state-dir", e.state.to_str().unwrap()]);
        assert!(o.status.success(), "{}", text(&o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!((v["mirrors"][0]["mirror"].as_str(), v["mirrors"][0]["role"].as_str()), (Some("md1"), Some(role)));
    }
    let o = run(&["mirror", "status", "md1", "--state-dir", e1.state.to_str().unwrap()]);
    assert!(text(&o).contains("md1: active (sync), record synced, links 1/1"), "{}", text(&o));

    e1.child.kill().unwrap(); // SIGKILL
    e1.child.wait().unwrap();
    let acked = writer.join().unwrap();
    assert!(acked.len() >= 200, "{} writes acknowledged", acked.len());
    // The last write per offset is the one that must be there.
    let mut last = std::collections::BTreeMap::new();
    for (n, at) in &acked {
        last.insert(*at, *n);
    }
    let in_flight = acked.last().map_or(0, |a| a.0 + 1);
    let peer = std::fs::File::open(dir.path().join("s2.data")).unwrap();
    let mut lost = Vec::new();
    for (at, n) in &last {
        let mut got = vec![0u8; 4096];
        peer.read_exact_at(&mut got, *at).unwrap();
        // The one write in flight at the kill (never acknowledged) may have landed on
        // the same offset after the acknowledged one.
        let later = got == block(in_flight);
        if got != block(*n) && !later {
            lost.push(*n);
        }
    }
    assert!(lost.is_empty(), "acknowledged writes missing on the standby: {lost:?}");
}

#[test]
fn a_lapsed_lease_stops_acknowledgements_until_it_is_renewed() {
    let dir = tempfile::tempdir().unwrap();
    let (_cfg, e1, e2) = pair(dir.path());
    assert!(e1.call(json!({"lease": {"ms": 1000}})).unwrap_err().contains("not active"));
    e1.call(json!({"activate": {"lease_ms": 1500}})).unwrap();
    wait(10, "the link up", || e1.status()["links_up"] == 1);
    let w = |n: u64| e1.call(json!({"write": {"offset": n * 4096, "hex": control::to_hex(&block(n))}}));
    w(1).unwrap();
    wait(10, "the lease lapses", || e1.status()["lease_ms_left"] == 0);
    let applied = e2.status()["applied_writes"].as_u64().unwrap();
    let e = w(2).unwrap_err();
    assert!(e.contains("lease"), "{e}");
    assert!(e1.call(json!({"flush": {}})).unwrap_err().contains("lease"));
    assert_eq!(e2.status()["applied_writes"].as_u64().unwrap(), applied, "nothing sent without a lease");
    e1.call(json!({"lease": {"ms": 60_000}})).unwrap();
    w(3).unwrap();
    assert_eq!(e2.status()["applied_writes"].as_u64().unwrap(), applied + 1);
    assert!(e1.call(json!({"lease": {"ms": 0}})).is_err(), "a lease of 0 ms is refused");

    // Deactivation: a clean stop, both standby, and the other side can take over.
    e1.call(json!({"deactivate": {}})).unwrap();
    assert_eq!(e1.status()["role"], "standby");
    e2.call(json!({"activate": {"lease_ms": 60_000}})).unwrap();
    wait(10, "the link up the other way", || e2.status()["links_up"] == 1);
    assert_eq!(e2.status()["peer"], "synced", "nothing to copy after a clean stop");
    let back = e2.call(json!({"read": {"offset": 3 * 4096, "len": 4096}})).unwrap();
    assert_eq!(back.as_str().unwrap(), control::to_hex(&block(3)));
}

fn have(tool: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().is_ok_and(|o| o.status.success())
}

fn sh(cmd: &str, args: &[&std::ffi::OsStr]) -> Output {
    let o = Command::new(cmd).args(args).output().unwrap();
    assert!(o.status.success(), "{cmd} {args:?}: {}", text(&o));
    o
}

/// `/dev/loopN` still attached (its sysfs `loop` directory exists while it is).
fn attached(loop_dev: &str) -> bool {
    let name = Path::new(loop_dev).file_name().unwrap().to_str().unwrap().to_string();
    Path::new("/sys/block").join(name).join("loop").exists()
}

#[test]
fn the_active_engine_serves_a_device_that_ext4_writes_through_to_the_standby() {
    if !(baton_lab::is_root()
        && Path::new("/dev/fuse").exists()
        && have("losetup")
        && have("mkfs.ext4")
        && have("debugfs"))
    {
        println!("skipped: needs root, /dev/fuse, losetup, mkfs.ext4 and debugfs");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = cluster(dir.path(), None);
    for s in ["server1", "server2"] {
        let o = init(&cfg, s, &["--assume-identical"]);
        assert!(o.status.success(), "{}", text(&o));
    }
    let dev_dir = dir.path().join("dev");
    let front = |d: &Path| -> Vec<std::ffi::OsString> { vec!["--dev-dir".into(), d.into()] };
    let args1 = front(&dev_dir.join("s1"));
    let args1: Vec<&std::ffi::OsStr> = args1.iter().map(|a| a.as_os_str()).collect();
    let args2 = front(&dev_dir.join("s2"));
    let args2: Vec<&std::ffi::OsStr> = args2.iter().map(|a| a.as_os_str()).collect();
    let mut e1 = Engine::start_with(&cfg, "server1", &dir.path().join("state1"), &args1);
    let e2 = Engine::start_with(&cfg, "server2", &dir.path().join("state2"), &args2);
    let link = dev_dir.join("s1/md1");
    assert_eq!(e1.status()["device"], Value::Null, "the standby serves no device");

    e1.call(json!({"activate": {"lease_ms": 60_000}})).unwrap();
    let st = e1.status();
    assert_eq!(st["device"].as_str(), Some(link.to_str().unwrap()), "{st}");
    let loop_dev = st["loop_device"].as_str().unwrap().to_string();
    assert_eq!(std::fs::read_link(&link).unwrap(), PathBuf::from(&loop_dev));
    assert!(attached(&loop_dev));
    wait(10, "the link up", || e1.status()["links_up"] == 1);
    let o = run(&["mirror", "status", "md1", "--state-dir", e1.state.to_str().unwrap()]);
    assert!(text(&o).contains(&format!("device {} ({loop_dev})", link.display())), "{}", text(&o));

    // ext4 on the published name, a file written and fsynced.
    sh("mkfs.ext4", &["-q".as_ref(), "-E".as_ref(), "nodiscard".as_ref(), link.as_os_str()]);
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    sh("mount", &["-t".as_ref(), "ext4".as_ref(), link.as_os_str(), mnt.as_os_str()]);
    let payload: Vec<u8> = (0..3 * 1024 * 1024 + 123u64).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    {
        use std::io::Write;
        let mut f = std::fs::File::create(mnt.join("payload")).unwrap();
        f.write_all(&payload).unwrap();
        f.sync_all().unwrap();
    }
    // Deactivating under a mounted file system is refused: the device keeps serving.
    let e = e1.call(json!({"deactivate": {}})).unwrap_err();
    assert!(e.contains("still mounted"), "{e}");
    assert_eq!(e1.status()["role"], "active");
    assert_eq!(std::fs::read(mnt.join("payload")).unwrap(), payload, "still served");
    sh("umount", &[mnt.as_os_str()]);
    e1.call(json!({"deactivate": {}})).unwrap();
    let st = e1.status();
    assert_eq!((st["role"].as_str(), &st["device"]), (Some("standby"), &Value::Null), "{st}");
    assert!(!link.exists() && !attached(&loop_dev), "the device is taken down");

    // The standby's data: the same bytes, and the file in its ext4.
    let (d1, d2) =
        (std::fs::read(dir.path().join("s1.data")).unwrap(), std::fs::read(dir.path().join("s2.data")).unwrap());
    assert!(d1 == d2, "both sides' data identical after a clean deactivation");
    let s2 = dir.path().join("s2.data");
    let o = sh("debugfs", &["-R".as_ref(), "cat /payload".as_ref(), s2.as_os_str()]);
    assert!(o.stdout == payload, "the standby's file system holds the file ({} bytes read)", o.stdout.len());

    // An engine killed while active leaves a dead device; the next one removes it.
    e1.call(json!({"activate": {"lease_ms": 60_000}})).unwrap();
    let dead = e1.status()["loop_device"].as_str().unwrap().to_string();
    e1.child.kill().unwrap();
    e1.child.wait().unwrap();
    assert!(attached(&dead) && link.exists(), "left behind by the kill");
    let e1 = Engine::start_with(&cfg, "server1", &dir.path().join("state1"), &args1);
    assert!(!attached(&dead) && std::fs::symlink_metadata(&link).is_err(), "removed by the next engine");
    e1.call(json!({"activate": {"lease_ms": 60_000}})).unwrap();
    assert!(Path::new(e1.status()["device"].as_str().unwrap()).exists());
    e1.call(json!({"deactivate": {}})).unwrap();
    drop(e2);
}
