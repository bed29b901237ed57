//! Front ends: serve a [`Volume`] to the kernel as a block device for a file system.
//!
//! In: a volume and a working directory. Out: a block device (`/dev/loopN`) whose every
//! write, read and flush is a call on the volume. The stack, top to bottom:
//!
//! ```text
//! ext4 (the application's file system, mounted by the caller)
//!   -> loop device, direct I/O (loop_device.rs): no page cache of the volume's data
//!   -> the file `volume` in a FUSE mount at `dir` (fuse.rs): direct_io, concurrent
//!   -> Volume::{read_at, write_at, flush} (the engine, or FileVolume)
//! ```
//!
//! An `fsync` in ext4 becomes a flush of the loop device, an `fsync` of the FUSE file,
//! then [`Volume::flush`]; its error comes back the same way as EIO.
//!
//! The ublk front end of production hosts will replace the two middle layers and keep
//! the same [`Volume`].

pub mod file_volume;
pub mod fuse;
pub mod loop_device;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::Volume;
pub use file_volume::FileVolume;
pub use fuse::{FuseMount, FuseStats};
pub use loop_device::LoopDevice;

/// How a front end serves its volume.
#[derive(Debug, Clone)]
pub struct FrontOptions {
    /// FUSE session threads: the volume calls that can run at once. A loop device keeps
    /// up to its queue depth of requests in flight; more threads than that only idle.
    pub threads: usize,
}

impl Default for FrontOptions {
    fn default() -> Self {
        FrontOptions { threads: 32 }
    }
}

/// A volume being served: the block device, and what [`Served::stop`] takes down.
#[derive(Debug)]
pub struct Served {
    device: PathBuf,
    // Fields drop in order: the loop device before the FUSE mount under it.
    loop_device: LoopDevice,
    fuse: FuseMount,
}

/// Serves `volume` as a block device: a FUSE mount at `dir` (created if missing) and a
/// direct-I/O loop device over its file. Stale layers of an earlier server at `dir` (a
/// crash) are removed first.
pub fn serve(volume: Arc<dyn Volume>, dir: &Path, options: &FrontOptions) -> io::Result<Served> {
    clean_stale(dir)?;
    let fuse = FuseMount::mount(volume, dir, options.threads)?;
    let loop_device = LoopDevice::attach_direct_io(fuse.file())?;
    Ok(Served { device: loop_device.device().to_path_buf(), loop_device, fuse })
}

/// Removes what a server that died left at `dir`: loop devices over its file, then the
/// FUSE mount. Returns the loop devices detached.
pub fn clean_stale(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let file = match dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.canonicalize()?,
        Some(_) | None => std::env::current_dir()?,
    };
    let file = match dir.file_name() {
        Some(name) => file.join(name).join(fuse::VOLUME_FILE_NAME),
        None => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a usable mount point", dir.display()),
            ))
        }
    };
    let detached = loop_device::detach_stale(&file)?;
    fuse::unmount_stale(dir)?;
    Ok(detached)
}

impl Served {
    /// The block device to put the file system on (`/dev/loopN`).
    pub fn device(&self) -> &Path {
        &self.device
    }

    /// The FUSE file under the loop device.
    pub fn file(&self) -> &Path {
        self.fuse.file()
    }

    /// Counters of the requests the volume served.
    pub fn stats(&self) -> &FuseStats {
        self.fuse.stats()
    }

    /// Takes the layers down, top first: detaches the loop device, then unmounts FUSE.
    /// Unmounting the file system on the device is the caller's, before this; if it is
    /// still mounted this fails, leaves everything serving, and may be called again.
    pub fn stop(&mut self) -> io::Result<()> {
        self.loop_device.detach()?;
        self.fuse.unmount()
    }
}
