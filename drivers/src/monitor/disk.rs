//! The `disk` monitor: I/O through a path still works.
//!
//! In: the path, the I/O size and the timeout. Out: a [`CheckOutcome`].
//!
//! * A file or a block device: `io_size` bytes are read from its start (fewer if it is
//!   shorter: reaching its end is success). Nothing is written: the path holds
//!   someone's data.
//! * A directory (a mount point, as in the implied `R-diskw` monitor of a disk
//!   resource, B88): a scratch file `.baton-disk-check-PID` in it is written with
//!   `io_size` bytes, fsynced, its cached pages dropped (`posix_fadvise(DONTNEED)`,
//!   so the read comes from the disk, not from memory), read back and compared, then
//!   removed. This is the "write, read and fsync through the file system" of B82.
//! * With a device (the configuration records the `disk` resource whose mount point
//!   holds the path), the path must first be on that device's file system (`st_dev`
//!   of the path = the device's number): a disk unmounted behind baton's back leaves
//!   a bare directory on the root file system, which would pass every I/O.
//!
//! The I/O is buffered (no `O_DIRECT`) on tokio's blocking pool. A read stuck
//! in the kernel (a dead disk, a hung NFS server) cannot be cancelled: the check reports
//! unhealthy at the timeout and the thread stays blocked. While it is, later checks of
//! the same path report it at once instead of starting another blocked thread.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::CheckOutcome;

/// Size of each read or write.
const CHUNK_BYTES: usize = 64 * 1024;

/// Paths whose I/O is still running on a blocking thread.
static IN_FLIGHT: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

/// Removes its path from [`IN_FLIGHT`] when the I/O ends, however it ends.
struct InFlight(PathBuf);

impl InFlight {
    /// `None` when the path's earlier I/O is still running.
    fn claim(path: &Path) -> Option<InFlight> {
        let mut set = IN_FLIGHT.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        set.insert(path.to_path_buf()).then(|| InFlight(path.to_path_buf()))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        IN_FLIGHT.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&self.0);
    }
}

pub(super) async fn check(path: &Path, io_size_bytes: u64, device: Option<&Path>, timeout: Duration) -> CheckOutcome {
    let Some(claim) = InFlight::claim(path) else {
        return CheckOutcome::unhealthy(format!("{}: the I/O of an earlier check is still blocked", path.display()));
    };
    let owned = path.to_path_buf();
    let device = device.map(Path::to_path_buf);
    let work = tokio::task::spawn_blocking(move || {
        let _claim = claim;
        match device.as_deref().map(|d| on_device(&owned, d)) {
            Some(Err(why)) => CheckOutcome::unhealthy(format!("{}: {why}", owned.display())),
            Some(Ok(())) | None => io(&owned, io_size_bytes),
        }
    });
    match tokio::time::timeout(timeout, work).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(e)) => CheckOutcome::unhealthy(format!("{}: the check task failed: {e}", path.display())),
        Err(_) => CheckOutcome::unhealthy(format!(
            "{}: I/O did not complete within {} ms",
            path.display(),
            timeout.as_millis()
        )),
    }
}

/// Whether `path` is on the file system of block device `device`.
fn on_device(path: &Path, device: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let dev = crate::disk::mounts::block_device(device)?;
    let here = std::fs::metadata(path).map_err(|e| e.to_string())?.dev();
    let (major, minor) = crate::disk::holders::split_dev(here);
    if (major, minor) == (dev.major, dev.minor) {
        Ok(())
    } else {
        Err(format!("not on {} ({dev}) but on device {major}:{minor}: the disk is not mounted there", device.display()))
    }
}

fn io(path: &Path, io_size_bytes: u64) -> CheckOutcome {
    let started = Instant::now();
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => return CheckOutcome::unhealthy(format!("{}: {e}", path.display())),
    };
    let result = if meta.is_dir() { write_read_back(path, io_size_bytes) } else { read(path, io_size_bytes) };
    let ms = started.elapsed().as_secs_f64() * 1e3;
    match result {
        Ok(what) => CheckOutcome::healthy(format!("{}: {what} in {ms:.1} ms", path.display())),
        Err(why) => CheckOutcome::unhealthy(format!("{}: {why}", path.display())),
    }
}

/// Reads up to `size` bytes from the start.
fn read(path: &Path, size: u64) -> Result<String, String> {
    let mut file = File::open(path).map_err(|e| format!("open: {e}"))?;
    let mut buf = vec![0u8; CHUNK_BYTES];
    let mut done: u64 = 0;
    while done < size {
        let want = usize::try_from(size - done).unwrap_or(usize::MAX).min(CHUNK_BYTES);
        match file.read(&mut buf[..want]) {
            Ok(0) => break,
            Ok(n) => done += n as u64,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("read after {done} bytes: {e}")),
        }
    }
    Ok(format!("read {done} bytes"))
}

/// Writes a scratch file of `size` bytes in `dir`, fsyncs it, reads it back, compares,
/// removes it.
fn write_read_back(dir: &Path, size: u64) -> Result<String, String> {
    let scratch = dir.join(format!(".baton-disk-check-{}", std::process::id()));
    let result = write_read_back_at(&scratch, size);
    // Removed also after a failure; a failing removal only matters if all else went well.
    let removed = std::fs::remove_file(&scratch);
    let what = result?;
    removed.map_err(|e| format!("removing {}: {e}", scratch.display()))?;
    Ok(what)
}

/// The byte at `offset` of the scratch file: not constant, so a read returning stale or
/// zeroed blocks is caught.
fn pattern(offset: u64) -> u8 {
    (offset % 251) as u8
}

fn write_read_back_at(scratch: &Path, size: u64) -> Result<String, String> {
    let mut buf = vec![0u8; CHUNK_BYTES];
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(scratch)
        .map_err(|e| format!("creating {}: {e}", scratch.display()))?;
    let mut done: u64 = 0;
    while done < size {
        let n = usize::try_from(size - done).unwrap_or(usize::MAX).min(CHUNK_BYTES);
        for (i, b) in buf[..n].iter_mut().enumerate() {
            *b = pattern(done + i as u64);
        }
        file.write_all(&buf[..n]).map_err(|e| format!("write after {done} bytes: {e}"))?;
        done += n as u64;
    }
    file.sync_all().map_err(|e| format!("fsync: {e}"))?;
    // Clean pages after the fsync: dropping them makes the read below go to the disk.
    // Advice only (a file system may keep them): a refusal is not a disk failure.
    let _ = rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed);
    drop(file);

    let mut file = File::open(scratch).map_err(|e| format!("reopening {}: {e}", scratch.display()))?;
    let mut done: u64 = 0;
    while done < size {
        let n = usize::try_from(size - done).unwrap_or(usize::MAX).min(CHUNK_BYTES);
        file.read_exact(&mut buf[..n]).map_err(|e| format!("read back after {done} bytes: {e}"))?;
        if let Some(i) = buf[..n].iter().enumerate().position(|(i, b)| *b != pattern(done + i as u64)) {
            return Err(format!("read back differs from what was written at byte {}", done + i as u64));
        }
        done += n as u64;
    }
    Ok(format!("wrote, fsynced and read back {size} bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_claimed_once_at_a_time() {
        let p = Path::new("/nonexistent/baton-claim-test");
        let first = InFlight::claim(p).expect("free");
        assert!(InFlight::claim(p).is_none(), "claimed twice");
        drop(first);
        assert!(InFlight::claim(p).is_some(), "not released");
    }

    #[test]
    fn reads_stop_at_the_end_or_the_size() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("f");
        std::fs::write(&file, vec![7u8; 100_000]).expect("write");
        assert_eq!(read(&file, 10), Ok("read 10 bytes".into()));
        assert_eq!(read(&file, 70_000), Ok("read 70000 bytes".into()));
        assert_eq!(read(&file, 1_000_000), Ok("read 100000 bytes".into()));
        assert!(read(&dir.path().join("missing"), 10).unwrap_err().starts_with("open: "));
    }

    #[test]
    fn a_path_off_its_device_fails() {
        let dir = tempfile::tempdir().expect("tempdir");
        // /dev/null is no block device; a block device that does not hold the temporary
        // directory is not always there, so the refusal of a non-block device stands in.
        assert!(on_device(dir.path(), Path::new("/dev/null")).unwrap_err().contains("not a block device"));
        let root_dev = std::fs::read_to_string("/proc/self/mountinfo").ok().and_then(|t| {
            t.lines().find(|l| l.split_whitespace().nth(4) == Some("/")).and_then(|l| {
                let src = l.split(" - ").nth(1)?.split_whitespace().nth(1)?.to_string();
                src.starts_with("/dev/").then_some(src)
            })
        });
        if let Some(dev) = root_dev.filter(|d| Path::new(d).exists()) {
            // The root file system's device does not hold /proc.
            let err = on_device(Path::new("/proc"), Path::new(&dev)).unwrap_err();
            assert!(err.contains("the disk is not mounted there"), "{err}");
        }
    }

    #[test]
    fn directories_are_written_and_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(write_read_back(dir.path(), 100_000), Ok("wrote, fsynced and read back 100000 bytes".into()));
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 0, "scratch file left behind");
    }
}
