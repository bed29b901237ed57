//! The active side's block device: the leased volume served by the front end
//! (`front::serve`: FUSE + a direct-I/O loop device) and published under a stable name,
//! `/dev/baton/MIRROR`, a symlink to the loop device (issue 10: "a stable name such as
//! /dev/baton/md1"), which the daemon mounts.
//!
//! In: the volume at activation, the front end's directory and the link's path. Out: the
//! published device; at deactivation, the layers taken down after checking that nothing
//! holds the device (a mounted file system is refused, never yanked); at start-up, what
//! an engine that died left behind (loop device, FUSE mount, link) removed.

use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::front::{self, FrontOptions, Served};
use crate::Volume;

/// Where the front end lives and where its device is published.
#[derive(Clone, Debug)]
pub struct FrontSpec {
    /// The FUSE mount point (`STATE_DIR/mirror/MIRROR.front`).
    pub dir: PathBuf,
    /// The stable name (`/dev/baton/MIRROR`).
    pub link: PathBuf,
}

/// A served, published volume.
pub struct Published {
    served: Served,
    link: PathBuf,
}

impl Published {
    /// Serves `volume` and publishes its device. Any failure takes down what came up and
    /// says why (an activation never succeeds without its device).
    pub fn start(volume: Arc<dyn Volume>, spec: &FrontSpec) -> io::Result<Published> {
        let mut served = front::serve(volume, &spec.dir, &FrontOptions::default())
            .map_err(|e| io::Error::new(e.kind(), format!("serving the volume at {}: {e}", spec.dir.display())))?;
        if let Err(e) = link(served.device(), &spec.link) {
            let _ = served.stop();
            return Err(e);
        }
        Ok(Published { served, link: spec.link.clone() })
    }

    /// The stable name.
    pub fn link(&self) -> &Path {
        &self.link
    }

    /// `/dev/loopN`.
    pub fn loop_device(&self) -> &Path {
        self.served.device()
    }

    /// Takes the device down. Refused, with everything left serving, while anything holds
    /// the device (a mounted file system: the caller unmounts first).
    pub fn stop(&mut self) -> Result<(), String> {
        let dev = self.served.device().to_path_buf();
        match held(&dev) {
            Ok(false) => {}
            Ok(true) => {
                return Err(format!(
                    "{} ({}) is still mounted or held open: unmount it before deactivating",
                    self.link.display(),
                    dev.display()
                ))
            }
            Err(e) => return Err(format!("cannot tell whether {} is in use: {e}", dev.display())),
        }
        remove_link(&self.link).map_err(|e| format!("removing {}: {e}", self.link.display()))?;
        self.served.stop().map_err(|e| format!("taking down {}: {e}", dev.display()))
    }
}

/// Removes what an engine that died left: the loop device over its FUSE file, the FUSE
/// mount, the link. A device still mounted cannot be detached: the error says so.
pub fn clean_stale(spec: &FrontSpec) -> io::Result<()> {
    remove_link(&spec.link)?;
    // Not `dir.exists()`: a dead FUSE mount fails every stat of `dir` (ENOTCONN).
    if spec.dir.parent().is_some_and(Path::exists) {
        front::clean_stale(&spec.dir)?;
    }
    Ok(())
}

/// Whether someone holds `dev`: an exclusive open fails with EBUSY while a file system
/// is mounted on it (in any mount namespace) or another opener holds it exclusively.
fn held(dev: &Path) -> io::Result<bool> {
    let excl = rustix::fs::OFlags::EXCL.bits() as i32;
    match OpenOptions::new().read(true).custom_flags(excl).open(dev) {
        Ok(_) => Ok(false),
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::BUSY.raw_os_error()) => Ok(true),
        Err(e) => Err(e),
    }
}

/// Points `link` at `device`, replacing any earlier link atomically (made under a
/// temporary name, then renamed).
fn link(device: &Path, link: &Path) -> io::Result<()> {
    let err =
        |e: io::Error| io::Error::new(e.kind(), format!("publishing {} as {}: {e}", device.display(), link.display()));
    let dir = link.parent().ok_or_else(|| err(io::Error::other("no directory")))?;
    std::fs::create_dir_all(dir).map_err(err)?;
    let mut tmp = link.as_os_str().to_owned();
    tmp.push(".new");
    let tmp = PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(device, &tmp).map_err(err)?;
    std::fs::rename(&tmp, link).map_err(err)
}

/// Removes `link` if it is a symlink (never a file or device someone put there).
fn remove_link(link: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(link) {
        Ok(m) if m.file_type().is_symlink() => std::fs::remove_file(link),
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} exists and is not a symlink: not touching it", link.display()),
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}
