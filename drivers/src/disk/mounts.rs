//! What the kernel says about a device and a mount point: the device's numbers, what
//! is mounted at a path in this process's mount namespace, and the device's read-only
//! flag.
//!
//! In: paths. Out: plain values read from `stat`, `/proc/self/mountinfo` and
//! `/sys/dev/block/MAJOR:MINOR/ro`; nothing is changed here.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use super::holders::split_dev;

/// A block device's `major:minor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DevNum {
    pub major: u64,
    pub minor: u64,
}

impl std::fmt::Display for DevNum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.major, self.minor)
    }
}

/// The numbers of the block device at `device` (a symlink is followed).
pub fn block_device(device: &Path) -> Result<DevNum, String> {
    let meta = std::fs::metadata(device).map_err(|e| format!("{}: {e}", device.display()))?;
    if !meta.file_type().is_block_device() {
        return Err(format!("{} is not a block device", device.display()));
    }
    let (major, minor) = split_dev(meta.rdev());
    Ok(DevNum { major, minor })
}

/// The file system mounted at a path (the top one when mounts are stacked).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mounted {
    pub dev: DevNum,
    pub fs_type: String,
    pub source: String,
}

/// `\040` and the other octal escapes of mountinfo paths.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 3 < bytes.len() && bytes[i + 1..i + 4].iter().all(|b| (b'0'..=b'7').contains(b)) {
            let v = (bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What `mountinfo` (its text) says is mounted at `mount_point`.
pub(crate) fn mounted_in(mountinfo: &str, mount_point: &Path) -> Option<Mounted> {
    let wanted = mount_point.to_string_lossy();
    let mut found = None;
    for line in mountinfo.lines() {
        // ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL…] - FSTYPE SOURCE SUPER_OPTIONS
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(dev), Some(at)) = (fields.get(2), fields.get(4)) else { continue };
        if unescape(at) != wanted {
            continue;
        }
        let Some(dash) = fields.iter().position(|f| *f == "-") else { continue };
        let Some((ma, mi)) = dev.split_once(':') else { continue };
        let (Ok(major), Ok(minor)) = (ma.parse(), mi.parse()) else { continue };
        found = Some(Mounted {
            dev: DevNum { major, minor },
            fs_type: fields.get(dash + 1).map_or_else(String::new, |s| (*s).to_string()),
            source: fields.get(dash + 2).map_or_else(String::new, |s| unescape(s)),
        });
    }
    found
}

/// What is mounted at `mount_point` in this mount namespace, if anything.
pub fn mounted_at(mount_point: &Path) -> Result<Option<Mounted>, String> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| format!("/proc/self/mountinfo: {e}"))?;
    Ok(mounted_in(&text, mount_point))
}

/// The device's read-only flag, from sysfs (what `BLKROGET` answers).
pub fn read_only(dev: DevNum) -> Result<bool, String> {
    let path = format!("/sys/dev/block/{dev}/ro");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    match text.trim() {
        "0" => Ok(false),
        "1" => Ok(true),
        other => Err(format!("{path}: unexpected {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw
90 22 7:5 / /mnt/disk\\0401 rw,relatime - ext4 /dev/loop5 rw
91 22 7:6 / /mnt/disk1 rw,relatime shared:7 - xfs /dev/loop6 rw
92 91 7:7 / /mnt/disk1 rw,relatime - ext4 /dev/loop7 rw
";

    #[test]
    fn mountinfo_is_read_with_escapes_and_stacking() {
        let top = mounted_in(MOUNTINFO, Path::new("/mnt/disk1")).expect("mounted");
        assert_eq!(
            top,
            Mounted { dev: DevNum { major: 7, minor: 7 }, fs_type: "ext4".into(), source: "/dev/loop7".into() }
        );
        let spaced = mounted_in(MOUNTINFO, Path::new("/mnt/disk 1")).expect("mounted");
        assert_eq!(spaced.dev, DevNum { major: 7, minor: 5 });
        assert_eq!(mounted_in(MOUNTINFO, Path::new("/mnt")), None);
    }

    #[test]
    fn non_block_devices_are_refused() {
        assert!(block_device(Path::new("/dev/null")).unwrap_err().ends_with("is not a block device"));
        assert!(block_device(Path::new("/nonexistent/dev")).is_err());
    }
}
