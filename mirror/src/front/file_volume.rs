//! [`FileVolume`]: a [`Volume`] over one plain file or block device, with no peer.
//!
//! In: reads, writes and flushes at byte offsets. Out: `pread`/`pwrite` on the file, and
//! `fdatasync` for a flush. It is the front end's test volume and the benchmark's
//! baseline path (the front end's own cost, without replication).
//!
//! Writes go through the page cache of the file's own file system and are durable only
//! after [`Volume::flush`]; that is exactly the `Volume` contract for a flush, and the
//! kernel above (ext4 on the loop device) sends one for every `fsync`.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::Volume;

/// A volume over a file or block device, opened read-write.
#[derive(Debug)]
pub struct FileVolume {
    file: File,
    size_bytes: u64,
}

impl FileVolume {
    /// Opens `path` (a regular file or a block device) read-write. The volume's size is
    /// the file's size now (a block device's by seeking to its end); it must be above zero.
    pub fn open(path: &Path) -> io::Result<FileVolume> {
        let mut file = OpenOptions::new().read(true).write(true).open(path).map_err(|e| annotate(e, path, "open"))?;
        // A block device's metadata reports size 0; seeking to the end works for both.
        let size_bytes = file.seek(SeekFrom::End(0)).map_err(|e| annotate(e, path, "find the size of"))?;
        if size_bytes == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is empty: a volume needs a size above zero", path.display()),
            ));
        }
        Ok(FileVolume { file, size_bytes })
    }

    /// Creates (or truncates) a regular file of `size_bytes` at `path` and opens it.
    pub fn create(path: &Path, size_bytes: u64) -> io::Result<FileVolume> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(|e| annotate(e, path, "create"))?;
        file.set_len(size_bytes).map_err(|e| annotate(e, path, "size"))?;
        drop(file);
        FileVolume::open(path)
    }

    fn check_range(&self, len: usize, offset: u64) {
        let end = u64::try_from(len).ok().and_then(|len| offset.checked_add(len));
        assert!(
            end.is_some_and(|end| end <= self.size_bytes),
            "request {offset}+{len} outside the volume of {} bytes (the front end checks)",
            self.size_bytes
        );
    }
}

fn annotate(e: io::Error, path: &Path, what: &str) -> io::Error {
    io::Error::new(e.kind(), format!("cannot {what} {}: {e}", path.display()))
}

impl Volume for FileVolume {
    fn size_bytes(&self) -> u64 {
        self.size_bytes
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.check_range(buf.len(), offset);
        self.file.read_exact_at(buf, offset)
    }

    fn write_at(&self, data: &[u8], offset: u64) -> io::Result<()> {
        self.check_range(data.len(), offset);
        self.file.write_all_at(data, offset)
    }

    fn flush(&self) -> io::Result<()> {
        self.file.sync_data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_read_back_at_their_offsets_and_flush_succeeds() {
        let dir = tempfile::tempdir().unwrap();
        let volume = FileVolume::create(&dir.path().join("v"), 1 << 20).unwrap();
        assert_eq!(volume.size_bytes(), 1 << 20);
        volume.write_at(b"abc", 4096).unwrap();
        volume.flush().unwrap();
        let mut buf = [0u8; 5];
        volume.read_at(&mut buf, 4095).unwrap();
        assert_eq!(&buf, b"\0abc\0");
    }

    #[test]
    fn an_empty_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty");
        std::fs::write(&path, b"").unwrap();
        let err = FileVolume::open(&path).unwrap_err();
        assert!(err.to_string().contains("is empty"), "{err}");
    }

    #[test]
    #[should_panic(expected = "outside the volume")]
    fn a_request_past_the_end_is_a_front_end_bug() {
        let dir = tempfile::tempdir().unwrap();
        let volume = FileVolume::create(&dir.path().join("v"), 4096).unwrap();
        let _ = volume.write_at(b"x", 4096);
    }
}
