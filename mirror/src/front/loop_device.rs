//! A loop device in direct-I/O mode over a file (here: the FUSE file that is the volume).
//!
//! In: the file's path. Out: `/dev/loopN`, attached with `losetup --direct-io=on`, and
//! checked in `/sys/block/loopN/loop/dio`: without direct I/O the loop device would keep
//! the volume's data in the page cache of the file and complete writes from there, which
//! would acknowledge data the volume never received.
//!
//! Attachments are found from sysfs (`/sys/block/loop*/loop/backing_file`), not with
//! `losetup -j`, because that stats the file, which fails when its FUSE server died.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// How long a detach may take to complete (the kernel finishes in-flight I/O first).
const DETACH_TIMEOUT: Duration = Duration::from_secs(10);
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// Extra attempts when another attach took the free device first.
const ATTACH_ATTEMPTS: usize = 10;

/// An attached loop device; [`LoopDevice::detach`] releases it.
#[derive(Debug)]
pub struct LoopDevice {
    /// `loopN`.
    name: String,
    device: PathBuf,
    attached: bool,
}

impl LoopDevice {
    /// Attaches a new loop device over `file` with direct I/O on, and checks that the
    /// kernel really uses direct I/O (it silently falls back otherwise).
    pub fn attach_direct_io(file: &Path) -> io::Result<LoopDevice> {
        let args = ["--direct-io=on".as_ref(), "--find".as_ref(), "--show".as_ref(), file.as_os_str()];
        // `--find` picks a free device that another process attaching at the same moment
        // may take first (EBUSY): try again, a bounded number of times.
        let mut output = run_losetup(&args);
        for _ in 0..ATTACH_ATTEMPTS {
            match &output {
                Err(e) if e.to_string().contains("Device or resource busy") => {
                    std::thread::sleep(POLL_INTERVAL);
                    output = run_losetup(&args);
                }
                Ok(_) | Err(_) => break,
            }
        }
        let output = output?;
        let device = PathBuf::from(output.trim());
        let Some(name) = device
            .file_name()
            .and_then(|name| name.to_str())
            .filter(|name| name.starts_with("loop"))
            .map(str::to_string)
        else {
            return Err(io::Error::other(format!(
                "losetup printed {output:?} instead of a loop device for {}",
                file.display()
            )));
        };
        let mut attached = LoopDevice { name, device, attached: true };
        match attached.direct_io() {
            Ok(true) => Ok(attached),
            Ok(false) => {
                let _ = attached.detach();
                Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!(
                        "the kernel refused direct I/O on {} over {} (its dio flag stays 0): \
                         a loop device with a page cache could acknowledge writes the volume never got",
                        attached.device.display(),
                        file.display()
                    ),
                ))
            }
            Err(e) => {
                let _ = attached.detach();
                Err(e)
            }
        }
    }

    /// `/dev/loopN`.
    pub fn device(&self) -> &Path {
        &self.device
    }

    /// Whether the kernel does direct I/O on this device (`/sys/block/loopN/loop/dio`).
    pub fn direct_io(&self) -> io::Result<bool> {
        let path = sys_loop_dir(&self.name).join("dio");
        let text = fs::read_to_string(&path)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot read {}: {e}", path.display())))?;
        Ok(text.trim() == "1")
    }

    /// Detaches the device and waits until the kernel has released it. Fails (and may be
    /// called again) while the device is still open, e.g. a file system on it still
    /// mounted: the kernel then only marks it to clear on last close.
    pub fn detach(&mut self) -> io::Result<()> {
        if !self.attached {
            return Ok(());
        }
        // The kernel may have cleared it already (autoclear after a lazy detach).
        if backing_file(&self.name)?.is_some() {
            run_losetup(&["--detach".as_ref(), self.device.as_os_str()])?;
        }
        wait_until_released(&self.name)?;
        self.attached = false;
        Ok(())
    }
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        let _ = self.detach();
    }
}

/// Detaches every loop device over `file` (left by a server that died) and waits until
/// they are released. Returns the devices detached.
pub fn detach_stale(file: &Path) -> io::Result<Vec<PathBuf>> {
    let mut detached = Vec::new();
    for name in attached_to(file)? {
        let mut stale = LoopDevice { device: PathBuf::from("/dev").join(&name), name, attached: true };
        stale.detach()?;
        detached.push(stale.device.clone());
    }
    Ok(detached)
}

/// The loop devices (`loopN`) whose backing file is `file`.
pub fn attached_to(file: &Path) -> io::Result<Vec<String>> {
    let wanted = file.to_string_lossy();
    let mut names = Vec::new();
    let entries = match fs::read_dir("/sys/block") {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(names),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if !name.starts_with("loop") {
            continue;
        }
        let Some(backing) = backing_file(&name)? else {
            continue;
        };
        // The kernel appends " (deleted)" when the file was removed.
        if backing == wanted || backing.strip_suffix(" (deleted)") == Some(&*wanted) {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

fn sys_loop_dir(name: &str) -> PathBuf {
    Path::new("/sys/block").join(name).join("loop")
}

/// The backing file of `loopN`, or `None` when it is not attached.
fn backing_file(name: &str) -> io::Result<Option<String>> {
    match fs::read_to_string(sys_loop_dir(name).join("backing_file")) {
        Ok(text) => Ok(Some(text.trim_end_matches('\n').to_string())),
        // The `loop` directory exists only while attached.
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn wait_until_released(name: &str) -> io::Result<()> {
    let deadline = Instant::now()
        .checked_add(DETACH_TIMEOUT)
        .ok_or_else(|| io::Error::other("detach deadline overflows the clock"))?;
    while backing_file(name)?.is_some() {
        if Instant::now() >= deadline {
            return Err(io::Error::new(
                io::ErrorKind::ResourceBusy,
                format!(
                    "/dev/{name} is still attached {} s after its detach: is a file system on it still mounted? \
                     (unmount it; the kernel then clears the device)",
                    DETACH_TIMEOUT.as_secs()
                ),
            ));
        }
        std::thread::sleep(POLL_INTERVAL);
    }
    Ok(())
}

fn run_losetup(args: &[&std::ffi::OsStr]) -> io::Result<String> {
    let output = Command::new("losetup").args(args).output().map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            io::Error::new(e.kind(), "losetup is not installed (Debian package `mount`)")
        } else {
            io::Error::new(e.kind(), format!("cannot run losetup: {e}"))
        }
    })?;
    if !output.status.success() {
        let shown: Vec<_> = args.iter().map(|arg| arg.to_string_lossy()).collect();
        return Err(io::Error::other(format!(
            "losetup {} failed ({}): {}",
            shown.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
