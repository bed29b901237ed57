//! Serves a [`Volume`] as one regular file, `volume`, in a FUSE mount (the `fuser` crate).
//!
//! In: the kernel's FUSE requests on that file (the loop device above sends them).
//! Out: [`Volume`] calls, one per request, at the same offsets: a `write` becomes
//! [`Volume::write_at`], `fsync` and `flush` become [`Volume::flush`], and any error of
//! the volume becomes EIO for the kernel (a failed write is never acknowledged).
//!
//! Why these settings:
//! - the file is opened with `FOPEN_DIRECT_IO`: the kernel keeps no page cache of it, so
//!   nothing is acknowledged from a cache the volume never saw;
//! - `FUSE_ASYNC_DIO` lets the loop device's direct I/O reach us as many requests in
//!   flight at once, and a pool of session threads (each with its own cloned `/dev/fuse`
//!   descriptor) serves them concurrently, so a queue depth of 32 is not serialized;
//! - `max_write` is 1 MiB, so a 1 MiB write of the file system is one volume write.
//!
//! fuser's pure-Rust mount calls mount(2) itself when it runs as root (no `fusermount3`
//! binary); unmounting is an umount(2) too.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use fuser::{
    BackgroundSession, Config, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, INodeNo, InitFlags,
    KernelConfig, LockOwner, MountOption, OpenFlags, ReplyAttr, ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry,
    ReplyOpen, ReplyWrite, Request, SessionACL, WriteFlags,
};

use crate::Volume;

/// The name of the one file in the mount.
pub const VOLUME_FILE_NAME: &str = "volume";
/// The source of our mounts in /proc/self/mountinfo (type `fuse`), to find stale ones.
pub const FUSE_SOURCE: &str = "baton-mirror";
/// The largest write the kernel sends in one request (its default page limit allows 1 MiB).
pub const MAX_WRITE_BYTES: u32 = 1 << 20;
/// Background (async direct I/O) requests the kernel keeps in flight; above a loop device's
/// queue depth of 32 with room for readahead.
const MAX_BACKGROUND_REQUESTS: u16 = 64;
/// Stale mounts of ours removed at one directory before giving up.
const MAX_STALE_MOUNTS: usize = 16;
const VOLUME_INO: INodeNo = INodeNo(2);
/// The attributes never change while mounted (fixed size), so the kernel may keep them long.
const ATTR_TTL: Duration = Duration::from_secs(3600);

/// Counters of the requests served, for tests and the benchmark's explanations.
#[derive(Debug, Default)]
pub struct FuseStats {
    /// Reads, writes and flushes (`fsync` or `flush`) served.
    pub reads: AtomicU64,
    pub writes: AtomicU64,
    pub flushes: AtomicU64,
    pub bytes_read: AtomicU64,
    pub bytes_written: AtomicU64,
    /// Volume calls that failed (each answered EIO) or requests refused as out of range.
    pub errors: AtomicU64,
    /// Volume calls in progress now, and the most ever at once (the concurrency reached).
    pub in_flight: AtomicU64,
    pub max_in_flight: AtomicU64,
}

/// Counts one volume call in flight for as long as it lives.
struct InFlight<'a>(&'a FuseStats);

impl<'a> InFlight<'a> {
    fn enter(stats: &'a FuseStats) -> InFlight<'a> {
        let now = stats.in_flight.fetch_add(1, Ordering::Relaxed).saturating_add(1);
        stats.max_in_flight.fetch_max(now, Ordering::Relaxed);
        InFlight(stats)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The FUSE file system: a root directory holding the file `volume`.
struct VolumeFs {
    volume: Arc<dyn Volume>,
    stats: Arc<FuseStats>,
    /// Times reported for both inodes: the mount's start.
    mounted_at: SystemTime,
}

impl VolumeFs {
    fn attr(&self, ino: INodeNo) -> FileAttr {
        let (kind, perm, size, nlink) = if ino == VOLUME_INO {
            (FileType::RegularFile, 0o600, self.volume.size_bytes(), 1)
        } else {
            (FileType::Directory, 0o700, 0, 2)
        };
        FileAttr {
            ino,
            size,
            blocks: size.div_ceil(512),
            atime: self.mounted_at,
            mtime: self.mounted_at,
            ctime: self.mounted_at,
            crtime: self.mounted_at,
            kind,
            perm,
            nlink,
            uid: 0,
            gid: 0,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        }
    }

    /// The length of a request at `offset` that stays inside the volume, if any byte does.
    fn len_inside(&self, offset: u64, len: u64) -> Option<u64> {
        let remaining = self.volume.size_bytes().checked_sub(offset)?;
        Some(len.min(remaining))
    }

    fn fail(&self, errno: Errno) -> Errno {
        self.stats.errors.fetch_add(1, Ordering::Relaxed);
        errno
    }

    fn flush_volume(&self, reply: ReplyEmpty) {
        let result = {
            let _in_flight = InFlight::enter(&self.stats);
            self.volume.flush()
        };
        self.stats.flushes.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(()) => reply.ok(),
            Err(_) => reply.error(self.fail(Errno::EIO)),
        }
    }
}

impl Filesystem for VolumeFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> io::Result<()> {
        // Each setting is best effort: an older kernel serves smaller or fewer requests,
        // which is slower but still correct.
        let _ = config.set_max_write(MAX_WRITE_BYTES);
        let _ = config.add_capabilities(InitFlags::FUSE_ASYNC_DIO);
        let _ = config.set_max_background(MAX_BACKGROUND_REQUESTS);
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        if parent == INodeNo::ROOT && name == VOLUME_FILE_NAME {
            reply.entry(&ATTR_TTL, &self.attr(VOLUME_INO), fuser::Generation(0));
        } else {
            reply.error(Errno::ENOENT);
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        if ino == INodeNo::ROOT || ino == VOLUME_INO {
            reply.attr(&ATTR_TTL, &self.attr(ino));
        } else {
            reply.error(Errno::ENOENT);
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        _mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<fuser::TimeOrNow>,
        _mtime: Option<fuser::TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        // The volume's size is fixed: a truncate (O_TRUNC included) is refused rather than
        // pretended; owner, mode and times are accepted and stay as they are.
        if size.is_some_and(|size| ino != VOLUME_INO || size != self.volume.size_bytes()) {
            reply.error(Errno::EPERM);
        } else {
            reply.attr(&ATTR_TTL, &self.attr(ino));
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        if ino != VOLUME_INO {
            reply.error(Errno::EISDIR);
            return;
        }
        // No page cache (see the module doc); concurrent direct writes need no inode lock
        // between them: the volume orders what it must.
        reply.opened(FileHandle(0), FopenFlags::FOPEN_DIRECT_IO | FopenFlags::FOPEN_PARALLEL_DIRECT_WRITES);
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        // A read from the end on is an empty read (end of file), as for any file.
        let len = self.len_inside(offset, u64::from(size)).unwrap_or(0);
        let Ok(len) = usize::try_from(len) else {
            reply.error(self.fail(Errno::EINVAL));
            return;
        };
        let mut buf = vec![0u8; len];
        let result = {
            let _in_flight = InFlight::enter(&self.stats);
            self.volume.read_at(&mut buf, offset)
        };
        self.stats.reads.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(()) => {
                self.stats.bytes_read.fetch_add(len as u64, Ordering::Relaxed);
                reply.data(&buf);
            }
            Err(_) => reply.error(self.fail(Errno::EIO)),
        }
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let len = data.len() as u64;
        // A write must fit whole: a volume does not grow, and a partly done write would
        // look like success to a caller that does not check the count.
        let (Some(true), Ok(written)) =
            (self.len_inside(offset, len).map(|inside| inside == len), u32::try_from(data.len()))
        else {
            reply.error(self.fail(Errno::ENOSPC));
            return;
        };
        let result = {
            let _in_flight = InFlight::enter(&self.stats);
            self.volume.write_at(data, offset)
        };
        self.stats.writes.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(()) => {
                self.stats.bytes_written.fetch_add(len, Ordering::Relaxed);
                reply.written(written);
            }
            Err(_) => reply.error(self.fail(Errno::EIO)),
        }
    }

    fn flush(&self, _req: &Request, _ino: INodeNo, _fh: FileHandle, _lock_owner: LockOwner, reply: ReplyEmpty) {
        // close(2): its error is the caller's last chance to learn of a failure.
        self.flush_volume(reply);
    }

    fn fsync(&self, _req: &Request, _ino: INodeNo, _fh: FileHandle, _datasync: bool, reply: ReplyEmpty) {
        // The loop device turns a flush of the block device (an fsync in the file system
        // above) into an fsync of this file: this is where it becomes durable.
        self.flush_volume(reply);
    }

    fn readdir(&self, _req: &Request, ino: INodeNo, _fh: FileHandle, offset: u64, mut reply: ReplyDirectory) {
        if ino != INodeNo::ROOT {
            reply.error(Errno::ENOTDIR);
            return;
        }
        let entries = [
            (INodeNo::ROOT, FileType::Directory, "."),
            (INodeNo::ROOT, FileType::Directory, ".."),
            (VOLUME_INO, FileType::RegularFile, VOLUME_FILE_NAME),
        ];
        for (index, (entry_ino, kind, name)) in entries.iter().enumerate().skip(offset as usize) {
            // The offset of an entry is where the next readdir starts.
            if reply.add(*entry_ino, index as u64 + 1, *kind, name) {
                break;
            }
        }
        reply.ok();
    }
}

/// A mounted FUSE file system serving one volume; [`FuseMount::unmount`] ends it.
pub struct FuseMount {
    dir: PathBuf,
    file: PathBuf,
    stats: Arc<FuseStats>,
    session: Option<BackgroundSession>,
}

impl std::fmt::Debug for FuseMount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FuseMount").field("dir", &self.dir).field("mounted", &self.session.is_some()).finish()
    }
}

impl FuseMount {
    /// Mounts `volume` at `dir` (created if missing) as `dir/volume`, served by `threads`
    /// session threads. A stale mount of ours at `dir` (a previous server that died) must
    /// have been cleaned first ([`unmount_stale`]).
    pub fn mount(volume: Arc<dyn Volume>, dir: &Path, threads: usize) -> io::Result<FuseMount> {
        if !Path::new("/dev/fuse").exists() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "FUSE is not available: /dev/fuse is missing (load the module with \
                 `modprobe fuse`; in a container, pass the device /dev/fuse)",
            ));
        }
        if threads == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "a FUSE mount needs at least one thread"));
        }
        fs::create_dir_all(dir)?;
        let dir = dir.canonicalize()?;
        let stats = Arc::new(FuseStats::default());
        let filesystem = VolumeFs { volume, stats: Arc::clone(&stats), mounted_at: SystemTime::now() };
        let mut config = Config::default();
        config.mount_options = vec![
            MountOption::FSName(FUSE_SOURCE.to_string()),
            MountOption::NoSuid,
            MountOption::NoDev,
            MountOption::NoExec,
        ];
        config.acl = SessionACL::Owner;
        config.n_threads = Some(threads);
        config.clone_fd = true;
        let session = fuser::Session::new(filesystem, &dir, &config)
            .and_then(fuser::Session::spawn)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot mount FUSE at {}: {e}", dir.display())))?;
        Ok(FuseMount { file: dir.join(VOLUME_FILE_NAME), dir, stats, session: Some(session) })
    }

    /// The file that is the volume.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The mount point.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Counters of the requests served so far.
    pub fn stats(&self) -> &FuseStats {
        &self.stats
    }

    /// Unmounts and waits for the session threads to end. Fails, leaving the mount in
    /// place (so the call can be repeated), while the file is still open (a loop device
    /// still attached). Unmounting twice is fine.
    pub fn unmount(&mut self) -> io::Result<()> {
        let Some(session) = self.session.take() else {
            return Ok(());
        };
        // umount(2) ourselves first: on EBUSY fuser would drop its handle of the mount
        // and we could not try again.
        if let Err(e) = rustix::mount::unmount(&self.dir, rustix::mount::UnmountFlags::empty()) {
            if e != rustix::io::Errno::INVAL {
                self.session = Some(session);
                return Err(io::Error::new(
                    io::Error::from(e).kind(),
                    format!("cannot unmount the FUSE file system at {}: {e} (is its file still open, a loop device still attached?)", self.dir.display()),
                ));
            }
            // EINVAL: not a mount point any more (someone unmounted it).
        }
        // The kernel ended the connection with the mount: the session threads read ENODEV
        // and return. (fuser's own unmount would now fail with EINVAL.)
        session.join()
    }
}

impl Drop for FuseMount {
    fn drop(&mut self) {
        // Best effort; a lazy unmount so that a process ending never leaves a dead mount
        // that blocks every stat of the directory.
        if self.session.is_some() && self.unmount().is_err() {
            let _ = rustix::mount::unmount(&self.dir, rustix::mount::UnmountFlags::DETACH);
        }
    }
}

/// Mounts of ours at `dir` (from /proc/self/mountinfo), lazily unmounted: what a crashed
/// server leaves. Returns how many were removed. Run after detaching any loop device
/// over the file.
pub fn unmount_stale(dir: &Path) -> io::Result<usize> {
    let dir = canonical_mount_point(dir)?;
    // Mounts can stack at one point; remove ours until none is left (bounded).
    for removed in 0..MAX_STALE_MOUNTS {
        let mountinfo = fs::read_to_string("/proc/self/mountinfo")?;
        if !fuse_mounts_of_source_at(&mountinfo, &dir, FUSE_SOURCE) {
            return Ok(removed);
        }
        rustix::mount::unmount(&dir, rustix::mount::UnmountFlags::DETACH).map_err(|e| {
            io::Error::new(
                io::Error::from(e).kind(),
                format!("cannot remove the stale FUSE mount at {}: {e}", dir.display()),
            )
        })?;
    }
    Err(io::Error::other(format!("more than {MAX_STALE_MOUNTS} stale FUSE mounts at {}", dir.display())))
}

/// `dir` made absolute without touching `dir` itself (a dead FUSE mount fails every stat).
fn canonical_mount_point(dir: &Path) -> io::Result<PathBuf> {
    let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a usable mount point", dir.display()),
        ));
    };
    let parent = if parent.as_os_str().is_empty() { Path::new(".") } else { parent };
    Ok(parent.canonicalize()?.join(name))
}

/// Whether mountinfo lists a FUSE mount (type `fuse` or `fuse.*`) from `source` at `dir`.
pub(crate) fn fuse_mounts_of_source_at(mountinfo: &str, dir: &Path, source: &str) -> bool {
    mountinfo.lines().any(|line| {
        let fields: Vec<&str> = line.split(' ').collect();
        // id parent major:minor root mount_point options [optional...] - fs_type source ...
        let Some(separator) = fields.iter().position(|field| *field == "-") else {
            return false;
        };
        let is_fuse =
            fields.get(separator + 1).is_some_and(|fs_type| *fs_type == "fuse" || fs_type.starts_with("fuse."));
        is_fuse
            && fields.get(separator + 2) == Some(&source)
            && fields.get(4).map(|point| unescape_octal(point)) == Some(dir.to_string_lossy().into_owned())
    })
}

/// Undoes mountinfo's escapes (`\040` for a space, and so on).
fn unescape_octal(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|digits| {
            let text = std::str::from_utf8(digits).ok()?;
            u8::from_str_radix(text, 8).ok()
        });
        match (bytes[i], octal) {
            (b'\\', Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_our_mount_in_mountinfo_with_escaped_spaces() {
        let mountinfo = "22 1 0:21 / /proc rw - proc proc rw\n\
            90 22 0:50 / /tmp/a\\040b rw,nosuid shared:1 - fuse baton-mirror rw\n\
            91 22 0:51 / /tmp/other rw - fuse sshfs rw\n";
        assert!(fuse_mounts_of_source_at(mountinfo, Path::new("/tmp/a b"), FUSE_SOURCE));
        assert!(!fuse_mounts_of_source_at(mountinfo, Path::new("/tmp/a"), FUSE_SOURCE));
        assert!(!fuse_mounts_of_source_at(mountinfo, Path::new("/proc"), FUSE_SOURCE));
        assert!(!fuse_mounts_of_source_at(mountinfo, Path::new("/tmp/other"), FUSE_SOURCE));
    }
}
