//! The FUSE + loop front end for real (issue 10, "The data path"): ext4 on the served
//! loop device, fsync reaching `Volume::flush`, volume errors reaching the application as
//! EIO, concurrent requests, and a stop that leaves no loop device or mount behind.
//!
//! Needs root, /dev/fuse, losetup, mkfs.ext4 and mount; each test says why it skips
//! when one is missing.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use baton_mirror::front::{self, loop_device, FileVolume, FrontOptions, FuseMount, Served};
use baton_mirror::Volume;

const VOLUME_BYTES: u64 = 64 << 20;
const EIO: i32 = 5;

/// Why this machine cannot run the front end, if it cannot.
fn missing_tools() -> Option<String> {
    if !rustix::process::geteuid().is_root() {
        return Some("not root".into());
    }
    if !Path::new("/dev/fuse").exists() {
        return Some("/dev/fuse is missing".into());
    }
    for tool in ["losetup", "mkfs.ext4", "mount", "umount"] {
        if Command::new(tool).arg("--version").output().is_err() {
            return Some(format!("{tool} is not installed"));
        }
    }
    None
}

macro_rules! require_tools {
    () => {
        if let Some(why) = missing_tools() {
            eprintln!("skipped: {why} (the front end needs root, /dev/fuse, losetup, mkfs.ext4)");
            return;
        }
    };
}

fn run(cmd: &str, args: &[&str]) {
    let output = Command::new(cmd).args(args).output().unwrap();
    assert!(output.status.success(), "{cmd} {args:?}: {}", String::from_utf8_lossy(&output.stderr));
}

fn mkfs_and_mount(device: &Path, mnt: &Path) {
    // nodiscard: the front end does not serve discards (the volume has none).
    run("mkfs.ext4", &["-q", "-F", "-E", "nodiscard", device.to_str().unwrap()]);
    mount(device, mnt);
}

fn mount(device: &Path, mnt: &Path) {
    fs::create_dir_all(mnt).unwrap();
    run("mount", &["-t", "ext4", device.to_str().unwrap(), mnt.to_str().unwrap()]);
}

fn umount(mnt: &Path) {
    run("umount", &[mnt.to_str().unwrap()]);
}

fn mounts_at(dir: &Path) -> usize {
    let dir = dir.to_string_lossy().into_owned();
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|line| line.split(' ').nth(4) == Some(dir.as_str()))
        .count()
}

fn is_mount_point(dir: &Path) -> bool {
    mounts_at(dir) > 0
}

/// Asserts that nothing of the front end at `fuse_dir` is left.
fn assert_nothing_left(fuse_dir: &Path) {
    let file = fuse_dir.join("volume");
    assert_eq!(
        loop_device::attached_to(&file).unwrap(),
        Vec::<String>::new(),
        "a loop device is left over {}",
        file.display()
    );
    assert!(!is_mount_point(fuse_dir), "the FUSE mount at {} is left", fuse_dir.display());
}

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        Setup { dir: tempfile::tempdir().unwrap() }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().canonicalize().unwrap().join(name)
    }
    fn file_volume(&self) -> FileVolume {
        FileVolume::create(&self.path("backing.img"), VOLUME_BYTES).unwrap()
    }
    fn serve(&self, volume: Arc<dyn Volume>) -> Served {
        front::serve(volume, &self.path("fuse"), &FrontOptions::default()).unwrap()
    }
}

#[test]
fn ext4_on_the_served_device_keeps_its_files_across_remounts_and_stop_leaves_nothing() {
    require_tools!();
    let setup = Setup::new();
    let mut served = setup.serve(Arc::new(setup.file_volume()));
    let mnt = setup.path("mnt");
    mkfs_and_mount(served.device(), &mnt);
    let mut expected = Vec::new();
    for i in 0..20u32 {
        let data: Vec<u8> = (0..(i * 7919 + 100)).map(|b| (b.wrapping_mul(31) ^ i) as u8).collect();
        let path = mnt.join(format!("file-{i}"));
        let mut file = File::create(&path).unwrap();
        file.write_all(&data).unwrap();
        file.sync_all().unwrap();
        expected.push((path, data));
    }
    umount(&mnt);
    mount(served.device(), &mnt);
    for (path, data) in &expected {
        assert_eq!(&fs::read(path).unwrap(), data, "{} after a remount", path.display());
    }
    let stats = served.stats();
    assert!(stats.writes.load(Ordering::Relaxed) > 0 && stats.flushes.load(Ordering::Relaxed) > 0);
    assert_eq!(stats.errors.load(Ordering::Relaxed), 0);

    // Stopping under a mounted file system fails and keeps serving; after unmount it works.
    let err = served.stop().unwrap_err();
    assert!(err.to_string().contains("still attached"), "{err}");
    umount(&mnt);
    served.stop().unwrap();
    assert_nothing_left(&setup.path("fuse"));

    // The data went to the volume itself: served again from the same backing file.
    let mut again = setup.serve(Arc::new(FileVolume::open(&setup.path("backing.img")).unwrap()));
    mount(again.device(), &mnt);
    for (path, data) in &expected {
        assert_eq!(&fs::read(path).unwrap(), data, "{} served again", path.display());
    }
    umount(&mnt);
    again.stop().unwrap();
    assert_nothing_left(&setup.path("fuse"));
}

/// A volume whose flushes can be held at a gate, to see who waits for them.
struct GatedVolume {
    inner: FileVolume,
    flushes: AtomicU64,
    held: Mutex<bool>,
    released: Condvar,
}

impl Volume for GatedVolume {
    fn size_bytes(&self) -> u64 {
        self.inner.size_bytes()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.inner.read_at(buf, offset)
    }
    fn write_at(&self, data: &[u8], offset: u64) -> io::Result<()> {
        self.inner.write_at(data, offset)
    }
    fn flush(&self) -> io::Result<()> {
        self.flushes.fetch_add(1, Ordering::SeqCst);
        let held = self.held.lock().unwrap();
        let _released = self.released.wait_while(held, |held| *held).unwrap();
        self.inner.flush()
    }
}

#[test]
fn an_application_fsync_waits_for_volume_flush() {
    require_tools!();
    let setup = Setup::new();
    let volume = Arc::new(GatedVolume {
        inner: setup.file_volume(),
        flushes: AtomicU64::new(0),
        held: Mutex::new(false),
        released: Condvar::new(),
    });
    let mut served = setup.serve(volume.clone());
    let mnt = setup.path("mnt");
    mkfs_and_mount(served.device(), &mnt);
    let mut file = File::create(mnt.join("record")).unwrap();
    file.write_all(b"acknowledged once durable").unwrap();

    *volume.held.lock().unwrap() = true;
    let flushes_before = volume.flushes.load(Ordering::SeqCst);
    let fsync_done = Arc::new(AtomicBool::new(false));
    let fsync = {
        let fsync_done = fsync_done.clone();
        std::thread::spawn(move || {
            let result = file.sync_all();
            fsync_done.store(true, Ordering::SeqCst);
            result
        })
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while volume.flushes.load(Ordering::SeqCst) == flushes_before {
        assert!(Instant::now() < deadline, "the application's fsync never reached Volume::flush");
        std::thread::sleep(Duration::from_millis(10));
    }
    // The flush is held: the fsync must not have returned.
    std::thread::sleep(Duration::from_millis(200));
    assert!(!fsync_done.load(Ordering::SeqCst), "fsync returned before Volume::flush did");
    *volume.held.lock().unwrap() = false;
    volume.released.notify_all();
    fsync.join().unwrap().unwrap();

    umount(&mnt);
    served.stop().unwrap();
    assert_nothing_left(&setup.path("fuse"));
}

/// A volume that fails writes or flushes on demand.
struct FailingVolume {
    inner: FileVolume,
    fail_writes: AtomicBool,
    fail_flushes: AtomicBool,
}

impl Volume for FailingVolume {
    fn size_bytes(&self) -> u64 {
        self.inner.size_bytes()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.inner.read_at(buf, offset)
    }
    fn write_at(&self, data: &[u8], offset: u64) -> io::Result<()> {
        if self.fail_writes.load(Ordering::SeqCst) {
            return Err(io::Error::other("injected write failure"));
        }
        self.inner.write_at(data, offset)
    }
    fn flush(&self) -> io::Result<()> {
        if self.fail_flushes.load(Ordering::SeqCst) {
            return Err(io::Error::other("injected flush failure"));
        }
        self.inner.flush()
    }
}

fn failing_setup(setup: &Setup) -> (Arc<FailingVolume>, Served, PathBuf) {
    let volume = Arc::new(FailingVolume {
        inner: setup.file_volume(),
        fail_writes: AtomicBool::new(false),
        fail_flushes: AtomicBool::new(false),
    });
    let served = setup.serve(volume.clone());
    let mnt = setup.path("mnt");
    mkfs_and_mount(served.device(), &mnt);
    (volume, served, mnt)
}

fn write_and_fsync(path: &Path) -> io::Result<()> {
    let mut file = File::create(path)?;
    file.write_all(&vec![0xA5; 256 << 10])?;
    file.sync_all()
}

#[test]
fn a_volume_that_fails_writes_makes_the_application_fsync_see_eio() {
    require_tools!();
    let setup = Setup::new();
    let (volume, mut served, mnt) = failing_setup(&setup);
    write_and_fsync(&mnt.join("before")).unwrap();
    volume.fail_writes.store(true, Ordering::SeqCst);
    let err = write_and_fsync(&mnt.join("during")).expect_err("an fsync over failed writes returned success");
    assert_eq!(err.raw_os_error(), Some(EIO), "{err}");
    assert!(served.stats().errors.load(Ordering::Relaxed) > 0);
    // The FUSE file says the same to a direct writer.
    let file = OpenOptions::new().write(true).open(served.file()).unwrap();
    let err = file.write_at(&[1u8; 4096], 0).expect_err("a failed write was acknowledged");
    assert_eq!(err.raw_os_error(), Some(EIO), "{err}");
    drop(file);
    volume.fail_writes.store(false, Ordering::SeqCst);
    umount(&mnt);
    served.stop().unwrap();
    assert_nothing_left(&setup.path("fuse"));
}

#[test]
fn a_volume_that_fails_flushes_makes_the_application_fsync_see_eio() {
    require_tools!();
    let setup = Setup::new();
    let (volume, mut served, mnt) = failing_setup(&setup);
    volume.fail_flushes.store(true, Ordering::SeqCst);
    let err = write_and_fsync(&mnt.join("unflushed")).expect_err("an fsync whose flush failed returned success");
    assert_eq!(err.raw_os_error(), Some(EIO), "{err}");
    volume.fail_flushes.store(false, Ordering::SeqCst);
    umount(&mnt);
    served.stop().unwrap();
    assert_nothing_left(&setup.path("fuse"));
}

/// A volume whose writes wait until `needed` of them are inside at once: it only
/// succeeds when the front end serves requests concurrently.
struct RendezvousVolume {
    inner: FileVolume,
    needed: usize,
    inside: Mutex<usize>,
    all_in: Condvar,
}

impl Volume for RendezvousVolume {
    fn size_bytes(&self) -> u64 {
        self.inner.size_bytes()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.inner.read_at(buf, offset)
    }
    fn write_at(&self, data: &[u8], offset: u64) -> io::Result<()> {
        let mut inside = self.inside.lock().unwrap();
        *inside += 1;
        self.all_in.notify_all();
        let (_inside, timeout) =
            self.all_in.wait_timeout_while(inside, Duration::from_secs(10), |inside| *inside < self.needed).unwrap();
        if timeout.timed_out() {
            return Err(io::Error::other("writes were serialized"));
        }
        self.inner.write_at(data, offset)
    }
    fn flush(&self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[test]
fn writes_are_served_concurrently() {
    if !rustix::process::geteuid().is_root() || !Path::new("/dev/fuse").exists() {
        eprintln!("skipped: needs root and /dev/fuse");
        return;
    }
    let setup = Setup::new();
    const WRITERS: usize = 8;
    let volume = Arc::new(RendezvousVolume {
        inner: setup.file_volume(),
        needed: WRITERS,
        inside: Mutex::new(0),
        all_in: Condvar::new(),
    });
    let mut fuse = FuseMount::mount(volume, &setup.path("fuse"), 16).unwrap();
    let writers: Vec<_> = (0..WRITERS)
        .map(|i| {
            let file = OpenOptions::new().write(true).open(fuse.file()).unwrap();
            std::thread::spawn(move || file.write_at(&[i as u8; 4096], i as u64 * 4096))
        })
        .collect();
    for writer in writers {
        assert_eq!(writer.join().unwrap().unwrap(), 4096);
    }
    assert!(fuse.stats().max_in_flight.load(Ordering::Relaxed) >= WRITERS as u64);
    fuse.unmount().unwrap();
    assert!(!is_mount_point(&setup.path("fuse")));
}

#[test]
fn a_server_left_behind_is_cleaned_before_serving_again() {
    require_tools!();
    let setup = Setup::new();
    let first = setup.serve(Arc::new(setup.file_volume()));
    let stale_device = first.device().to_path_buf();
    // As if the process had died: nothing stops it.
    std::mem::forget(first);
    let mut second = front::serve(
        Arc::new(FileVolume::open(&setup.path("backing.img")).unwrap()),
        &setup.path("fuse"),
        &FrontOptions::default(),
    )
    .unwrap();
    // Only the new device is over the file, and only one FUSE mount is at the directory.
    let attached = loop_device::attached_to(second.file()).unwrap();
    assert_eq!(
        attached.len(),
        1,
        "stale loop devices are left: {attached:?} (the stale one was {})",
        stale_device.display()
    );
    assert_eq!(Path::new("/dev").join(&attached[0]), second.device());
    assert_eq!(mounts_at(&setup.path("fuse")), 1, "the stale FUSE mount is left");
    mkfs_and_mount(second.device(), &setup.path("mnt"));
    umount(&setup.path("mnt"));
    second.stop().unwrap();
    assert_nothing_left(&setup.path("fuse"));
}
