//! The disk slots on a real block device: a loop device over a file, written and read
//! with direct I/O by two servers' [`SlotDevice`]s, forged and replayed slots put there
//! with ordinary writes, and two ways of making the device hang for the `io_wait` bound:
//! a device-mapper device suspended under the I/O (`dmsetup suspend`: every I/O waits
//! until `resume`), and, where the kernel has no device-mapper, a loop device whose
//! backing file lives on a frozen file system (`fsfreeze --freeze`: every write waits
//! until `--unfreeze`).
//!
//! Needs root, `losetup` (util-linux) and, for the hangs, `dmsetup` and the kernel's
//! device-mapper, or `mkfs.ext4`, `mount` and `fsfreeze`; otherwise each test prints
//! `skipped: …` and passes.

use baton_core::io::{Heartbeat, ServerState};
use baton_drivers::disk_slot::{self, PeerTrack, Reject, Seen, Slot, SlotKey, SLOT_BYTES};
use baton_drivers::slot_device::{OwnIo, SlotDevice, SlotDeviceSpec};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const CLUSTER: u32 = 0x0BA7_0001;

fn have(tool: &str) -> bool {
    Command::new(tool).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
}

fn skip(tools: &[&str]) -> bool {
    if !rustix::process::geteuid().is_root() {
        println!("skipped: needs root (loop devices)");
        return true;
    }
    for t in tools {
        if !have(t) {
            println!("skipped: needs {t}");
            return true;
        }
    }
    false
}

/// A loop device over a zeroed file (1 MiB unless sized), detached when dropped.
struct Loop {
    path: String,
    _dir: tempfile::TempDir,
}

impl Loop {
    fn new() -> Loop {
        Loop::sized(1 << 20)
    }

    fn sized(bytes: u64) -> Loop {
        // The loop device takes direct I/O whatever file system holds the file.
        let dir = tempfile::tempdir().expect("tempdir");
        let backing = dir.path().join("disk.img");
        std::fs::File::create(&backing).and_then(|f| f.set_len(bytes)).expect("backing file");
        let out = Command::new("losetup").args(["--find", "--show"]).arg(&backing).output().expect("losetup");
        assert!(out.status.success(), "losetup: {}", String::from_utf8_lossy(&out.stderr));
        Loop { path: String::from_utf8_lossy(&out.stdout).trim().to_string(), _dir: dir }
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["--detach", &self.path]).status();
    }
}

fn spec(device: &str, me: u16) -> SlotDeviceSpec {
    SlotDeviceSpec { device: PathBuf::from(device), me, slots: 3, cluster_id: CLUSTER }
}

fn key() -> SlotKey {
    SlotKey::new([0x5A; 32])
}

fn hb(run: u64, sent_ms: u64) -> Heartbeat {
    Heartbeat { run, state: ServerState::Online, version: 1, sent_ms }
}

fn read_block(device: &str, index: u16) -> Vec<u8> {
    let f = std::fs::File::open(device).expect("open");
    let mut b = vec![0u8; SLOT_BYTES];
    f.read_exact_at(&mut b, u64::from(index) * SLOT_BYTES as u64).expect("read");
    b
}

fn write_block(device: &str, index: u16, block: &[u8]) {
    let f = std::fs::OpenOptions::new().write(true).open(device).expect("open");
    f.write_all_at(block, u64::from(index) * SLOT_BYTES as u64).expect("write");
    f.sync_all().expect("sync");
}

const BOUND: Duration = Duration::from_secs(5);

#[tokio::test]
async fn two_servers_see_each_others_slots_advance() {
    if skip(&["losetup"]) {
        return;
    }
    let dev = Loop::new();
    let (one, two) = (SlotDevice::new(spec(&dev.path, 0), key()), SlotDevice::new(spec(&dev.path, 1), key()));
    let c = two.cycle(None, BOUND).await;
    assert!(matches!(c.own, OwnIo::Ok(_)), "{c:?}");
    // Server 1 never wrote yet; slot 2 belongs to nobody: both empty.
    assert_eq!(c.peers.get(&0), Some(&Err(Reject::Empty)));
    assert_eq!(c.peers.get(&2), Some(&Err(Reject::Empty)));

    let mut track = PeerTrack::default();
    let c = one.cycle(Some(hb(7, 100)), BOUND).await;
    assert!(matches!(c.own, OwnIo::Ok(_)), "{c:?}");
    let first = *c.peers[&1].as_ref().expect("server 2's slot is valid");
    assert_eq!(one.observe(&mut track, &first), Seen::First);
    two.cycle(Some(hb(9, 200)), BOUND).await;
    let c = one.cycle(None, BOUND).await;
    let next = c.peers[&1].expect("valid");
    assert_eq!(one.observe(&mut track, &next), Seen::Advanced { beat: true });
    assert_eq!(next.heartbeat, hb(9, 200));
    // A resolver's write (no new heartbeat) advances the counter only.
    two.cycle(None, BOUND).await;
    let c = one.cycle(None, BOUND).await;
    assert_eq!(one.observe(&mut track, &c.peers[&1].expect("valid")), Seen::Advanced { beat: false });
    // Nobody wrote: unchanged.
    let c = one.cycle(None, BOUND).await;
    assert_eq!(one.observe(&mut track, &c.peers[&1].expect("valid")), Seen::Unchanged);
    assert_eq!(one.refusals().rejected.keys().filter(|(_, r)| *r != Reject::Empty).count(), 0);
}

#[tokio::test]
async fn a_restarted_writer_continues_its_counter() {
    if skip(&["losetup"]) {
        return;
    }
    let dev = Loop::new();
    let reader = SlotDevice::new(spec(&dev.path, 0), key());
    let first = SlotDevice::new(spec(&dev.path, 1), key());
    for _ in 0..3 {
        first.cycle(Some(hb(1, 1)), BOUND).await;
    }
    let before = reader.cycle(None, BOUND).await.peers[&1].expect("valid");
    drop(first);
    // The daemon restarts: a new SlotDevice, same slot; its first write must be news.
    let again = SlotDevice::new(spec(&dev.path, 1), key());
    again.cycle(Some(hb(2, 2)), BOUND).await;
    let after = reader.cycle(None, BOUND).await.peers[&1].expect("valid");
    assert!(after.counter > before.counter && after.beat > before.beat, "{before:?} then {after:?}");
}

#[tokio::test]
async fn forged_foreign_torn_and_replayed_slots_are_refused_and_counted() {
    if skip(&["losetup"]) {
        return;
    }
    let dev = Loop::new();
    let me = SlotDevice::new(spec(&dev.path, 0), key());
    let peer = SlotDevice::new(spec(&dev.path, 1), key());
    peer.cycle(Some(hb(3, 3)), BOUND).await;
    let old = read_block(&dev.path, 1);
    let mut track = PeerTrack::default();
    let c = me.cycle(None, BOUND).await;
    me.observe(&mut track, &c.peers[&1].expect("valid"));
    peer.cycle(Some(hb(3, 4)), BOUND).await;
    let c = me.cycle(None, BOUND).await;
    assert_eq!(me.observe(&mut track, &c.peers[&1].expect("valid")), Seen::Advanced { beat: true });

    // The old record put back (a restored image, a replay): valid, but stale.
    write_block(&dev.path, 1, &old);
    let c = me.cycle(None, BOUND).await;
    assert_eq!(me.observe(&mut track, &c.peers[&1].expect("a genuine old record")), Seen::Stale);
    assert_eq!(me.refusals().stale.get(&1), Some(&1));

    // Forged: a counter raised by someone without the key.
    let mut forged = old.clone();
    forged[23] ^= 0x40;
    write_block(&dev.path, 1, &forged);
    assert_eq!(me.cycle(None, BOUND).await.peers[&1], Err(Reject::Forged));

    // Another cluster's record under the same secret, in slot 2.
    let foreign = Slot {
        cluster_id: CLUSTER ^ 1,
        server: 2,
        counter: u64::MAX - 1,
        written_ms: 0,
        beat: u64::MAX - 1,
        heartbeat: hb(1, 1),
    };
    let mut block = vec![0u8; SLOT_BYTES];
    disk_slot::encode(&foreign, &key(), &mut block);
    write_block(&dev.path, 2, &block);
    // Torn: the first bytes of a newer record over the old one.
    let mut torn = old.clone();
    torn[..20].copy_from_slice(&read_block(&dev.path, 2)[..20]);
    write_block(&dev.path, 1, &torn);
    let c = me.cycle(None, BOUND).await;
    assert_eq!(c.peers[&2], Err(Reject::Foreign));
    assert!(c.peers[&1].is_err(), "{:?}", c.peers[&1]);

    let counted = me.refusals().rejected;
    // The forged record, then the torn one: both fail the tag.
    assert_eq!(counted.get(&(1, Reject::Forged)), Some(&2), "{counted:?}");
    assert_eq!(counted.get(&(2, Reject::Foreign)), Some(&1), "{counted:?}");
    assert_eq!(counted.values().sum::<u64>(), 3, "{counted:?}");
    // Reported once each.
    let reported = me.new_refusals();
    assert!(reported.contains(&(2, Reject::Foreign)), "{reported:?}");
    me.cycle(None, BOUND).await;
    assert!(!me.new_refusals().contains(&(2, Reject::Foreign)));
}

/// A device-mapper device over the loop device, resumed and removed when dropped.
struct Mapped {
    name: String,
}

impl Mapped {
    fn new(under: &str) -> Mapped {
        let name = format!("btslot{}", std::process::id());
        let sectors = (1u64 << 20) / 512;
        let table = format!("0 {sectors} linear {under} 0");
        let ok = Command::new("dmsetup").args(["create", &name, "--table", &table]).status().expect("dmsetup");
        assert!(ok.success(), "dmsetup create");
        Mapped { name }
    }
    fn path(&self) -> String {
        format!("/dev/mapper/{}", self.name)
    }
    fn dmsetup(&self, verb: &str) {
        let ok = Command::new("dmsetup").args([verb, &self.name]).status().expect("dmsetup");
        assert!(ok.success(), "dmsetup {verb}");
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        let _ = Command::new("dmsetup").args(["resume", &self.name]).status();
        let _ = Command::new("dmsetup").args(["remove", "--retry", &self.name]).status();
    }
}

fn exists(path: &Path) -> bool {
    path.exists()
}

#[tokio::test]
async fn a_hung_device_fails_the_check_at_the_bound_and_works_again_after() {
    if skip(&["losetup", "dmsetup"]) {
        return;
    }
    // dmsetup without the kernel's device-mapper (a container, a minimal kernel).
    if !Command::new("dmsetup")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        println!("skipped: the kernel has no device-mapper (dmsetup version fails)");
        return;
    }
    let dev = Loop::new();
    let mapped = Mapped::new(&dev.path);
    assert!(exists(Path::new(&mapped.path())));
    hangs_at_the_bound_and_serves_again(&mapped.path(), || mapped.dmsetup("suspend"), || mapped.dmsetup("resume"))
        .await;
}

/// The device at `path` serves a cycle; after `hang` its own I/O fails at the bound
/// (`OwnIo::Timeout`), and the stuck I/O, still holding the device, makes the next
/// cycle wait for it and fail too, without a second call piling up in the kernel; after
/// `unhang` it serves again.
async fn hangs_at_the_bound_and_serves_again(path: &str, hang: impl FnOnce(), unhang: impl FnOnce()) {
    let me = SlotDevice::new(spec(path, 0), key());
    assert!(matches!(me.cycle(Some(hb(1, 1)), BOUND).await.own, OwnIo::Ok(_)));

    hang();
    let bound = Duration::from_millis(300);
    let c = me.cycle(Some(hb(1, 2)), bound).await;
    assert!(matches!(c.own, OwnIo::Timeout(d) if d >= bound && d < bound * 3), "{c:?}");
    assert!(c.peers.is_empty());
    let c = me.cycle(None, bound).await;
    assert!(matches!(c.own, OwnIo::Timeout(_)), "{c:?}");

    unhang();
    let c = me.cycle(None, BOUND).await;
    assert!(matches!(c.own, OwnIo::Ok(_)), "{c:?}");
}

/// A loop device over a file on an ext4 file system that is itself on a loop device:
/// freezing that file system (`fsfreeze`) makes every write to the inner device wait,
/// as a hung SAN path does, with no device-mapper. Unfrozen, unmounted and detached
/// when dropped.
struct Frozen {
    outer: Loop,
    mount: PathBuf,
    inner: String,
}

impl Frozen {
    fn new() -> Frozen {
        let outer = Loop::sized(16 << 20);
        let ok = Command::new("mkfs.ext4").args(["-q", "-F", &outer.path]).status().expect("mkfs.ext4");
        assert!(ok.success(), "mkfs.ext4");
        let mount = outer._dir.path().join("fs");
        std::fs::create_dir_all(&mount).expect("mount point");
        let ok = Command::new("mount").arg(&outer.path).arg(&mount).status().expect("mount");
        assert!(ok.success(), "mount");
        let backing = mount.join("slots.img");
        std::fs::File::create(&backing).and_then(|f| f.set_len(1 << 20)).expect("backing file");
        let out = Command::new("losetup")
            .args(["--find", "--show", "--direct-io=on"])
            .arg(&backing)
            .output()
            .expect("losetup");
        assert!(out.status.success(), "losetup: {}", String::from_utf8_lossy(&out.stderr));
        Frozen { outer, mount, inner: String::from_utf8_lossy(&out.stdout).trim().to_string() }
    }

    fn fsfreeze(&self, how: &str) {
        let ok = Command::new("fsfreeze").arg(how).arg(&self.mount).status().expect("fsfreeze");
        assert!(ok.success(), "fsfreeze {how}");
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        let _ = Command::new("fsfreeze").arg("--unfreeze").arg(&self.mount).stderr(Stdio::null()).status();
        let _ = Command::new("losetup").args(["--detach", &self.inner]).status();
        let _ = Command::new("umount").arg(&self.mount).status();
        let _ = &self.outer;
    }
}

/// The hang without device-mapper: the slot device's writes wait on a frozen file
/// system, and the device serves again once thawed.
#[tokio::test]
async fn a_frozen_device_fails_the_check_at_the_bound_and_works_again_after() {
    if skip(&["losetup", "mkfs.ext4", "fsfreeze"]) {
        return;
    }
    let dev = Frozen::new();
    hangs_at_the_bound_and_serves_again(&dev.inner, || dev.fsfreeze("--freeze"), || dev.fsfreeze("--unfreeze")).await;
}

/// Without device-mapper, the same bound on a healthy device with a bound shorter than
/// any I/O: the check fails as a timeout, and the device serves the next cycle once the
/// late I/O is done.
#[tokio::test]
async fn a_cycle_longer_than_its_bound_is_a_timeout() {
    if skip(&["losetup"]) {
        return;
    }
    let dev = Loop::new();
    let me = SlotDevice::new(spec(&dev.path, 0), key());
    let c = me.cycle(Some(hb(1, 1)), Duration::from_nanos(1)).await;
    assert!(matches!(c.own, OwnIo::Timeout(_)), "{c:?}");
    let c = me.cycle(None, BOUND).await;
    assert!(matches!(c.own, OwnIo::Ok(_)), "{c:?}");
}
