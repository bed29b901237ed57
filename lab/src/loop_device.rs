//! A loop device over a zeroed backing file, for the tests' shared disks (a disk
//! heartbeat's or a disk resolver's slots): attached with `losetup --find --show`,
//! detached when dropped. In: a backing path and a size. Out: the device path.

use std::path::Path;
use std::process::Command;

/// A loop device over a zeroed backing file, detached when dropped.
pub struct LoopDevice {
    path: String,
}

impl LoopDevice {
    /// Creates `backing` (`bytes` of zeros) and attaches a loop device over it.
    pub fn zeroed(backing: &Path, bytes: u64) -> Result<LoopDevice, String> {
        let file = std::fs::File::create(backing).map_err(|e| format!("{}: {e}", backing.display()))?;
        file.set_len(bytes).map_err(|e| format!("{}: {e}", backing.display()))?;
        let out = Command::new("losetup")
            .args(["--find", "--show"])
            .arg(backing)
            .output()
            .map_err(|e| format!("losetup: {e}"))?;
        if !out.status.success() {
            return Err(format!("losetup: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
        Ok(LoopDevice { path: String::from_utf8_lossy(&out.stdout).trim().to_string() })
    }

    /// The device, e.g. `/dev/loop3`.
    pub fn path(&self) -> &str {
        &self.path
    }
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["--detach", &self.path]).status();
    }
}
