//! The `disk` resource: a shared disk's file system, mounted on the server where the
//! resource is online and read-only at the block layer everywhere else.
//!
//! In: a [`DiskSpec`] (device, mount point, file system type, mount options, `fsck`),
//! made from the resource with [`DiskSpec::from_resource`], and the resource's
//! `timeout`. Out: `Ok(what was done)` for the log, or the reason of the failure;
//! [`action_result`] gives the core's `ActionResult`. Every step runs a system tool
//! through [`command::run`] against one deadline (now + timeout): past it the tool is
//! killed and the step fails.
//!
//! * [`activate`]: the device must be a block device; if it is already mounted at the
//!   mount point, done. Otherwise: clear the read-only flag (`blockdev --setrw`, checked
//!   in sysfs), drop the device's cached blocks (`blockdev --flushbufs`: the other
//!   server wrote since this one last read), `fsck` when configured ([`fsck_args`]:
//!   `-p`, then `-y` when preening cannot fix it, for ext2/3/4; nothing for xfs and
//!   btrfs, whose logs replay at mount; `fsck -t TYPE -y` otherwise), create the mount
//!   point if missing, `mount -t TYPE [-o OPTIONS] DEVICE MOUNT_POINT`, and check in
//!   `/proc/self/mountinfo` that the device is what is mounted there. A failure after
//!   the flag was cleared sets it again: a resource that did not come online leaves
//!   its device read-only.
//! * [`deactivate`]: `umount MOUNT_POINT` if the device is mounted there; when that
//!   fails and the mount is still there, the processes holding it are ended
//!   ([`holders::end`]: `SIGTERM`, a grace of [`KILL_GRACE`] at most, `SIGKILL`) and
//!   `umount` runs once more. Then the read-only flag is set (`blockdev --setro`,
//!   checked). Deactivating what is not mounted only sets the flag (B72: a repeated
//!   stop does not fail). Any step failing fails the deactivation, and the core's
//!   ladder (retries, then the final action, B72) takes over.
//! * [`make_read_only`]: the flag alone, at service start for every disk this server
//!   may run (nothing is online at start) and from [`release`].
//! * [`release`]: on fencing: the flag first (at once, no more writes reach the disk),
//!   then a lazy unmount (`umount -l`), all bounded.
//!
//! The flag is set and cleared with `blockdev` (util-linux), which issues the
//! `BLKROSET` ioctl: the workspace forbids `unsafe` code, and an ioctl is unsafe in
//! every Rust binding. It is read back from `/sys/dev/block/MAJ:MIN/ro`.

pub(crate) mod command;
pub mod holders;
pub mod mounts;

use std::path::{Path, PathBuf};
use std::time::Duration;

use baton_core::config::model::ResourceKind;
use baton_core::io::ActionResult;
use tokio::time::Instant;

use mounts::{block_device, mounted_at, read_only, DevNum};

/// The longest wait between `SIGTERM` and `SIGKILL` for the holders of a busy mount
/// (a third of what is left of the deadline when that is shorter).
pub const KILL_GRACE: Duration = Duration::from_secs(3);

/// The bound on setting the flag again after a failed activation, past the deadline
/// if need be (within the executor's 5 s of slack over the resource's timeout).
const RESTORE_FLAG_BOUND: Duration = Duration::from_secs(3);

/// A `disk` resource, as the driver needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskSpec {
    pub device: PathBuf,
    pub mount_point: PathBuf,
    pub fs_type: String,
    pub mount_options: Option<String>,
    pub fsck: bool,
}

impl DiskSpec {
    /// The spec of a `disk` resource: absolute paths, a file system type and options
    /// that cannot be taken for options of the tools.
    pub fn from_resource(kind: &ResourceKind) -> Result<DiskSpec, String> {
        let ResourceKind::Disk { device, mount_point, fs_type, mount_options, fsck } = kind else {
            return Err(format!("not a disk resource but {}", kind.name()));
        };
        let device = PathBuf::from(device.trim());
        let mount_point = PathBuf::from(mount_point.trim());
        for (what, p) in [("device", &device), ("mount_point", &mount_point)] {
            if !p.is_absolute() {
                return Err(format!("`{what}` = {:?} is not an absolute path", p.display()));
            }
        }
        if mount_point == Path::new("/") {
            return Err("`mount_point` = \"/\" would hide the whole system".to_string());
        }
        let fs_type = fs_type.trim().to_string();
        if fs_type.is_empty() || !fs_type.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_') {
            return Err(format!("`fs_type` = {fs_type:?} is not a file system type"));
        }
        let mount_options = mount_options.as_ref().map(|o| o.trim().to_string()).filter(|o| !o.is_empty());
        if let Some(o) = &mount_options {
            if o.starts_with('-') || o.chars().any(char::is_whitespace) {
                return Err(format!(
                    "`mount_options` = {o:?}: a comma-separated list without spaces, as mount -o takes"
                ));
            }
        }
        Ok(DiskSpec { device, mount_point, fs_type, mount_options, fsck: *fsck })
    }

    fn device_arg(&self) -> String {
        self.device.display().to_string()
    }

    fn mount_point_arg(&self) -> String {
        self.mount_point.display().to_string()
    }
}

/// The core's view: `Ok`, or `Failed` with the reason.
pub fn action_result(result: &Result<String, String>) -> ActionResult {
    match result {
        Ok(_) => ActionResult::Ok,
        Err(why) => ActionResult::Failed(why.clone()),
    }
}

/// Whether `dev` is mounted at the mount point; `Err` when something else is.
fn mounted_here(spec: &DiskSpec, dev: DevNum) -> Result<bool, String> {
    match mounted_at(&spec.mount_point)? {
        None => Ok(false),
        Some(m) if m.dev == dev => Ok(true),
        Some(m) => Err(format!(
            "{} holds another file system ({} {}, device {}), not {} ({dev})",
            spec.mount_point.display(),
            m.fs_type,
            m.source,
            m.dev,
            spec.device.display()
        )),
    }
}

/// `blockdev --setro|--setrw DEVICE`, checked in sysfs.
async fn set_flag(spec: &DiskSpec, dev: DevNum, ro: bool, deadline: Instant) -> Result<(), String> {
    let verb = if ro { "--setro" } else { "--setrw" };
    let run = command::run("blockdev", &[verb, &spec.device_arg()], deadline).await?;
    if !run.ok() {
        return Err(run.failure());
    }
    match read_only(dev)? {
        now if now == ro => Ok(()),
        now => Err(format!("{}: read-only flag is {} after blockdev {verb}", spec.device.display(), u8::from(now))),
    }
}

/// How a file system type is checked before mounting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FsckPlan {
    pub program: &'static str,
    /// Options of the first run (before the device).
    pub first: &'static [&'static str],
    /// Options of the run after the first one left errors (exit 4 or more), if any.
    pub then: Option<&'static [&'static str]>,
}

/// The `fsck` plan for a file system type: `None` for types checked at mount.
/// ext2/3/4 preen (`-p`) first, then repair (`-y`) when preening gave up.
pub fn fsck_args(fs_type: &str) -> Option<FsckPlan> {
    match fs_type {
        "ext2" | "ext3" | "ext4" => Some(FsckPlan { program: "e2fsck", first: &["-p"], then: Some(&["-y"]) }),
        "xfs" | "btrfs" => None,
        _ => Some(FsckPlan { program: "fsck", first: &["-y"], then: None }),
    }
}

/// fsck's exit code: 0 clean, 1 fixed, 2 fixed (reboot advised, for a mounted root
/// file system only); 4 and above: errors left, or fsck itself failed.
fn fsck_passed(code: Option<i32>) -> bool {
    matches!(code, Some(0..=2))
}

async fn fsck(spec: &DiskSpec, deadline: Instant) -> Result<String, String> {
    let Some(FsckPlan { program, first, then }) = fsck_args(&spec.fs_type) else {
        return Ok(format!("no fsck for {} (its log replays at mount)", spec.fs_type));
    };
    let dev = spec.device_arg();
    let mut args: Vec<&str> = Vec::new();
    if program == "fsck" {
        args.extend(["-t", spec.fs_type.as_str()]);
    }
    args.extend(first);
    args.push(&dev);
    let run = command::run(program, &args, deadline).await?;
    if fsck_passed(run.code) {
        return Ok(format!("{} (exit {})", run.shown, run.code.unwrap_or(0)));
    }
    let Some(then) = then else { return Err(run.failure()) };
    let mut args: Vec<&str> = then.to_vec();
    args.push(&dev);
    let again = command::run(program, &args, deadline).await?;
    if fsck_passed(again.code) {
        Ok(format!("{}, then {} (exit {})", run.failure(), again.shown, again.code.unwrap_or(0)))
    } else {
        Err(format!("{}; then {}", run.failure(), again.failure()))
    }
}

/// Activation (see the module doc).
pub async fn activate(spec: &DiskSpec, timeout: Duration) -> Result<String, String> {
    let deadline = Instant::now() + timeout;
    let dev = block_device(&spec.device)?;
    if mounted_here(spec, dev)? {
        // Online already (a repeated activation): the flag was cleared when it was mounted.
        return Ok(format!("{} already mounted at {}", spec.device.display(), spec.mount_point.display()));
    }
    set_flag(spec, dev, false, deadline).await?;
    match bring_online(spec, dev, deadline).await {
        Ok(done) => Ok(done),
        Err(why) => {
            // Offline again: read-only again. Its own short bound, the deadline may be spent.
            let again = Instant::now() + RESTORE_FLAG_BOUND;
            match set_flag(spec, dev, true, deadline.max(again)).await {
                Ok(()) => Err(why),
                Err(e) => Err(format!("{why}; and the read-only flag could not be set again: {e}")),
            }
        }
    }
}

async fn bring_online(spec: &DiskSpec, dev: DevNum, deadline: Instant) -> Result<String, String> {
    let mut done = Vec::new();
    let run = command::run("blockdev", &["--flushbufs", &spec.device_arg()], deadline).await?;
    if !run.ok() {
        return Err(run.failure());
    }
    if spec.fsck {
        done.push(fsck(spec, deadline).await?);
    }
    if !spec.mount_point.is_dir() {
        std::fs::create_dir_all(&spec.mount_point)
            .map_err(|e| format!("cannot create the mount point {}: {e}", spec.mount_point.display()))?;
        done.push(format!("created {}", spec.mount_point.display()));
    }
    let mut args = vec!["-t", spec.fs_type.as_str()];
    if let Some(o) = &spec.mount_options {
        args.extend(["-o", o.as_str()]);
    }
    let (device, mount_point) = (spec.device_arg(), spec.mount_point_arg());
    args.extend([device.as_str(), mount_point.as_str()]);
    let run = command::run("mount", &args, deadline).await?;
    if !run.ok() {
        return Err(run.failure());
    }
    if !mounted_here(spec, dev)? {
        return Err(format!("{} succeeded, but {} is not mounted at {}", run.shown, device, mount_point));
    }
    done.push(run.shown);
    Ok(done.join("; "))
}

/// Deactivation (see the module doc).
pub async fn deactivate(spec: &DiskSpec, timeout: Duration) -> Result<String, String> {
    let deadline = Instant::now() + timeout;
    let dev = block_device(&spec.device)?;
    let mut done = Vec::new();
    if mounted_here(spec, dev)? {
        done.push(unmount(spec, dev, deadline).await?);
    } else {
        done.push(format!("{} not mounted at {}", spec.device.display(), spec.mount_point.display()));
    }
    set_flag(spec, dev, true, deadline).await?;
    done.push("read-only".to_string());
    Ok(done.join("; "))
}

async fn unmount(spec: &DiskSpec, dev: DevNum, deadline: Instant) -> Result<String, String> {
    let mount_point = spec.mount_point_arg();
    // The file system's own device number (what its files' st_dev say), for the holders.
    let fs_dev = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(&spec.mount_point).map_err(|e| format!("{mount_point}: {e}"))?.dev()
    };
    let first = command::run("umount", &[&mount_point], deadline).await?;
    if first.ok() {
        return Ok(first.shown);
    }
    if !mounted_here(spec, dev)? {
        return Ok(format!("{} (gone meanwhile)", first.failure()));
    }
    let left = deadline.saturating_duration_since(Instant::now());
    let ended = holders::end(fs_dev, KILL_GRACE.min(left / 3), deadline)
        .await
        .map_err(|e| format!("{}; the holders of {mount_point} could not be ended: {e}", first.failure()))?;
    let again = command::run("umount", &[&mount_point], deadline).await?;
    let names = |hs: &[holders::Holder]| hs.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
    let what = format!(
        "{} busy; ended its holders (SIGTERM: {}{})",
        mount_point,
        if ended.terminated.is_empty() { "none".to_string() } else { names(&ended.terminated) },
        if ended.killed.is_empty() { String::new() } else { format!("; SIGKILL: {}", names(&ended.killed)) }
    );
    if again.ok() {
        Ok(format!("{what}; {}", again.shown))
    } else {
        Err(format!("{what}; {}", again.failure()))
    }
}

/// Sets the read-only flag of an offline disk (service start).
pub async fn make_read_only(spec: &DiskSpec, timeout: Duration) -> Result<String, String> {
    let deadline = Instant::now() + timeout;
    let dev = block_device(&spec.device)?;
    let mounted = mounted_here(spec, dev).unwrap_or(false);
    set_flag(spec, dev, true, deadline).await?;
    Ok(if mounted {
        format!(
            "{} read-only (it was still mounted at {}: writes now fail)",
            spec.device.display(),
            spec.mount_point.display()
        )
    } else {
        format!("{} read-only", spec.device.display())
    })
}

/// On fencing: the flag, then a lazy unmount (see the module doc).
pub async fn release(spec: &DiskSpec, timeout: Duration) -> Result<String, String> {
    let deadline = Instant::now() + timeout;
    let dev = block_device(&spec.device)?;
    let flag = set_flag(spec, dev, true, deadline).await;
    let mut done = Vec::new();
    if mounted_here(spec, dev).unwrap_or(false) {
        let run = command::run("umount", &["-l", &spec.mount_point_arg()], deadline).await?;
        if !run.ok() {
            return Err(run.failure());
        }
        done.push(run.shown);
    }
    flag?;
    done.push(format!("{} read-only", spec.device.display()));
    Ok(done.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disk(device: &str, mount_point: &str, fs_type: &str, options: Option<&str>) -> ResourceKind {
        ResourceKind::Disk {
            device: device.into(),
            mount_point: mount_point.into(),
            fs_type: fs_type.into(),
            mount_options: options.map(str::to_string),
            fsck: true,
        }
    }

    #[test]
    fn specs_of_disk_resources() {
        let spec =
            DiskSpec::from_resource(&disk("/dev/sdb2", "/mnt/disk1", "ext4", Some("noatime,nodev"))).expect("spec");
        assert_eq!(
            spec,
            DiskSpec {
                device: "/dev/sdb2".into(),
                mount_point: "/mnt/disk1".into(),
                fs_type: "ext4".into(),
                mount_options: Some("noatime,nodev".into()),
                fsck: true
            }
        );
        for (bad, why) in [
            (disk("sdb2", "/mnt/d", "ext4", None), "not an absolute path"),
            (disk("/dev/sdb2", "/", "ext4", None), "would hide the whole system"),
            (disk("/dev/sdb2", "/mnt/d", "-x", None), "is not a file system type"),
            (disk("/dev/sdb2", "/mnt/d", "ext4", Some("ro, sync")), "without spaces"),
            (disk("/dev/sdb2", "/mnt/d", "ext4", Some("-n")), "without spaces"),
        ] {
            let err = DiskSpec::from_resource(&bad).unwrap_err();
            assert!(err.contains(why), "{err}");
        }
        let other = ResourceKind::Service { unit: "a".into() };
        assert_eq!(DiskSpec::from_resource(&other), Err("not a disk resource but service".into()));
    }

    #[test]
    fn fsck_by_file_system() {
        assert_eq!(fsck_args("ext4"), Some(FsckPlan { program: "e2fsck", first: &["-p"], then: Some(&["-y"]) }));
        assert_eq!(fsck_args("xfs"), None);
        assert_eq!(fsck_args("vfat"), Some(FsckPlan { program: "fsck", first: &["-y"], then: None }));
        assert!(fsck_passed(Some(1)) && fsck_passed(Some(2)) && !fsck_passed(Some(4)) && !fsck_passed(None));
    }
}
