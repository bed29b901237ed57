//! The `disk` resource driver on a real loop device with a real ext4 file system:
//! the read-only flag where the disk is offline, fsck and mount at activation, the disk
//! monitor on the mounted disk and on the bare mount point, unmount and the flag at
//! deactivation, a busy mount whose holders are ended, a failed
//! activation that leaves the device read-only.
//!
//! Each test makes its own backing file (32 MiB, `mkfs.ext4`), attaches it with
//! `losetup --direct-io=on` and mounts it under its temporary directory in this
//! process's mount namespace; a guard unmounts (lazily) and detaches it however the
//! test ends. Needs root, `losetup` and `blockdev` (util-linux), `mount`, `mkfs.ext4`
//! and `e2fsck` (e2fsprogs): otherwise each test prints `skipped: …` and passes.

mod common;

use baton_drivers::disk::{self, mounts, DiskSpec};
use baton_drivers::monitor::{self, MonitorSpec};
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(30);

fn skip() -> bool {
    let tools = [
        ("losetup", "mount"),
        ("blockdev", "util-linux"),
        ("mount", "mount"),
        ("mkfs.ext4", "e2fsprogs"),
        ("e2fsck", "e2fsprogs"),
    ];
    // No example binary is needed: "check" is built by every `cargo test` of the crate.
    match common::missing_prerequisite(&tools, "check") {
        Some(why) => {
            println!("skipped: {why}");
            true
        }
        None => false,
    }
}

/// A loop device over a fresh ext4 image, and a mount point beside it.
struct Loop {
    device: PathBuf,
    mount_point: PathBuf,
    _dir: tempfile::TempDir,
}

impl Loop {
    fn new() -> Loop {
        let dir = tempfile::tempdir().expect("tempdir");
        let image = dir.path().join("disk.img");
        std::fs::File::create(&image).and_then(|f| f.set_len(32 << 20)).expect("image");
        common::must("mkfs.ext4", &["-q", "-F", image.to_str().expect("utf-8")]);
        let device = common::must("losetup", &["-f", "--show", "--direct-io=on", image.to_str().expect("utf-8")]);
        let mount_point = dir.path().join("mnt");
        Loop { device: PathBuf::from(device.trim()), mount_point, _dir: dir }
    }

    fn spec(&self) -> DiskSpec {
        DiskSpec {
            device: self.device.clone(),
            mount_point: self.mount_point.clone(),
            fs_type: "ext4".into(),
            mount_options: Some("noatime".into()),
            fsck: true,
        }
    }

    fn dev(&self) -> mounts::DevNum {
        mounts::block_device(&self.device).expect("block device")
    }

    fn mounted(&self) -> bool {
        mounts::mounted_at(&self.mount_point).expect("mountinfo").is_some_and(|m| m.dev == self.dev())
    }

    fn read_only(&self) -> bool {
        mounts::read_only(self.dev()).expect("ro flag")
    }

    /// Whether a write of one block straight to the device fails.
    fn device_write_fails(&self) -> bool {
        match std::fs::OpenOptions::new().write(true).open(&self.device) {
            Err(_) => true,
            Ok(mut f) => f.write_all(&[0u8; 4096]).and_then(|()| f.sync_all()).is_err(),
        }
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let mp = self.mount_point.display().to_string();
        let _ = Command::new("umount").args(["-l", &mp]).stderr(Stdio::null()).status();
        let _ = Command::new("blockdev").args(["--setrw", &self.device.display().to_string()]).status();
        let _ = Command::new("losetup").args(["-d", &self.device.display().to_string()]).status();
    }
}

#[tokio::test]
async fn offline_read_only_online_mounted_and_back() {
    if skip() {
        return;
    }
    let disk = Loop::new();
    let spec = disk.spec();
    // Service start: read-only, and a raw write fails (EPERM).
    disk::make_read_only(&spec, TIMEOUT).await.expect("read-only");
    assert!(disk.read_only());
    assert!(disk.device_write_fails(), "a write on an offline disk must fail");

    let done = disk::activate(&spec, TIMEOUT).await.expect("activation");
    assert!(done.contains("e2fsck -p") && done.contains("mount -t ext4 -o noatime"), "{done}");
    assert!(disk.mounted(), "not mounted after activation");
    assert!(!disk.read_only(), "still read-only while online");
    std::fs::write(disk.mount_point.join("data"), b"written while online").expect("write through the mount");

    // The disk monitor (B82) on the mounted disk: write, fsync, read back, on the device.
    let monitor = MonitorSpec::Disk {
        path: disk.mount_point.clone(),
        io_size_bytes: 1_000_000,
        device: Some(disk.device.clone()),
    };
    let check = monitor::check(&monitor, TIMEOUT).await;
    assert!(check.healthy && check.detail.contains("wrote, fsynced and read back 1000000 bytes"), "{check:?}");

    // A repeated activation is a success that changes nothing.
    let again = disk::activate(&spec, TIMEOUT).await.expect("repeated activation");
    assert!(again.contains("already mounted"), "{again}");

    let done = disk::deactivate(&spec, TIMEOUT).await.expect("deactivation");
    assert!(done.starts_with("umount ") && done.ends_with("read-only"), "{done}");
    assert!(!disk.mounted() && disk.read_only());
    assert!(disk.device_write_fails());
    // The same monitor on the bare mount point: not the disk, however well I/O goes there.
    let check = monitor::check(&monitor, TIMEOUT).await;
    assert!(!check.healthy && check.detail.contains("the disk is not mounted there"), "{check:?}");
    // A repeated deactivation only sets the flag (B72).
    let again = disk::deactivate(&spec, TIMEOUT).await.expect("repeated deactivation");
    assert!(again.contains("not mounted"), "{again}");

    disk::activate(&spec, TIMEOUT).await.expect("second activation");
    let data = std::fs::read(disk.mount_point.join("data")).expect("the data written before");
    assert_eq!(data, b"written while online");
    disk::deactivate(&spec, TIMEOUT).await.expect("deactivation");
}

#[tokio::test]
async fn a_busy_mount_is_released_by_ending_its_holders() {
    if skip() {
        return;
    }
    let disk = Loop::new();
    let spec = disk.spec();
    disk::activate(&spec, TIMEOUT).await.expect("activation");
    let held = disk.mount_point.join("held");
    // One holder with an open file (ends on SIGTERM), one with its working directory
    // there that ignores SIGTERM (needs SIGKILL).
    let mut by_file =
        Command::new("sh").args(["-c", &format!("exec 3>{}; exec sleep 60", held.display())]).spawn().expect("sh");
    let mut by_cwd = Command::new("sh")
        .args(["-c", "trap '' TERM; sleep 60 & wait; sleep 60"])
        .current_dir(&disk.mount_point)
        .spawn()
        .expect("sh");
    // Both hold it before the deactivation starts.
    let fs_dev = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(&disk.mount_point).expect("stat").dev()
    };
    let wanted = [by_file.id() as i32, by_cwd.id() as i32];
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !wanted.iter().all(|p| disk::holders::find(fs_dev).iter().any(|h| h.pid == *p)) {
        assert!(std::time::Instant::now() < deadline, "the holders never held the mount");
        std::thread::sleep(Duration::from_millis(20));
    }

    let done = disk::deactivate(&spec, TIMEOUT).await.expect("deactivation of a busy mount");
    assert!(done.contains("busy; ended its holders") && done.contains("SIGKILL"), "{done}");
    assert!(done.contains(&format!("{} (sleep, fd 3)", by_file.id())), "{done}");
    assert!(!disk.mounted() && disk.read_only());
    let file_status = by_file.wait().expect("wait");
    assert_eq!(file_status.signal(), Some(15), "the file holder ends on SIGTERM");
    let cwd_status = by_cwd.wait().expect("wait");
    assert_eq!(cwd_status.signal(), Some(9), "the holder ignoring SIGTERM is killed");
}

#[tokio::test]
async fn a_failed_activation_leaves_the_device_read_only() {
    if skip() {
        return;
    }
    let disk = Loop::new();
    disk::make_read_only(&disk.spec(), TIMEOUT).await.expect("read-only");
    // ext4 on the device, mounted as ext2 with an option ext2 does not know.
    let wrong =
        DiskSpec { fs_type: "ext2".into(), mount_options: Some("data=journal".into()), fsck: false, ..disk.spec() };
    let err = disk::activate(&wrong, TIMEOUT).await.unwrap_err();
    assert!(err.starts_with("mount -t ext2 -o data=journal"), "{err}");
    assert!(!disk.mounted());
    assert!(disk.read_only(), "a disk that did not come online must stay read-only");

    let missing = DiskSpec { device: Path::new("/dev/baton-no-such-disk").into(), ..disk.spec() };
    let err = disk::activate(&missing, TIMEOUT).await.unwrap_err();
    assert!(err.contains("No such file"), "{err}");
}

/// Fencing (`release_all`): the flag at once, then a lazy unmount, even with a holder.
#[tokio::test]
async fn a_release_on_fencing_makes_the_device_read_only_and_detaches_the_mount() {
    if skip() {
        return;
    }
    let disk = Loop::new();
    let spec = disk.spec();
    disk::activate(&spec, TIMEOUT).await.expect("activation");
    let mut holder = Command::new("sleep").arg("60").current_dir(&disk.mount_point).spawn().expect("sleep");
    let done = disk::release(&spec, Duration::from_secs(5)).await.expect("release");
    assert!(done.starts_with("umount -l ") && done.ends_with("read-only"), "{done}");
    assert!(disk.read_only(), "no write of a fenced server may reach the disk");
    assert!(!disk.mounted(), "the mount is detached");
    assert!(disk.device_write_fails());
    let _ = holder.kill();
    let _ = holder.wait();
}
