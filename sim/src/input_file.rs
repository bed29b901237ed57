//! Reading a whole text file given by the operator: the cluster file, a scenario.
//!
//! In: a path. Out: its text, or one sentence saying why it was refused. Bounded on
//! purpose (issue 14 §7): `/dev/zero` would be read until memory runs out and a FIFO
//! would block the reader forever, so only regular files are read, at most
//! [`MAX_INPUT_BYTES`]; a file that is not UTF-8 is refused with the byte offset (and
//! line and column) of its first bad byte, so the operator can find it.

use std::io::Read;
use std::path::Path;

/// The largest file read whole: 4 MiB. The largest example cluster file is a few KiB
/// and a long generated scenario a few tens of KiB; anything near this is a mistake.
pub const MAX_INPUT_BYTES: u64 = 4 * 1024 * 1024;

/// Reads `path` as UTF-8 text if it is a regular file of at most [`MAX_INPUT_BYTES`].
/// The error names the file: `FILE: not a regular file (a FIFO)`.
pub fn read_text(path: &Path) -> Result<String, String> {
    read_text_capped(path, MAX_INPUT_BYTES)
}

/// [`read_text`] with another cap (tests).
pub fn read_text_capped(path: &Path, max_bytes: u64) -> Result<String, String> {
    let name = path.display();
    // Checked before opening: opening a FIFO for reading blocks until a writer comes.
    let meta = std::fs::metadata(path).map_err(|e| format!("{name}: cannot read: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{name}: not a regular file ({}); give the path of a file", kind_of(&meta)));
    }
    let file = std::fs::File::open(path).map_err(|e| format!("{name}: cannot read: {e}"))?;
    // Checked again on the open file: the path may have been replaced in between.
    let meta = file.metadata().map_err(|e| format!("{name}: cannot read: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{name}: not a regular file ({})", kind_of(&meta)));
    }
    let too_large = |n: u64| format!("{name}: {n} bytes or more, larger than the limit of {max_bytes} bytes");
    if meta.len() > max_bytes {
        return Err(too_large(meta.len()));
    }
    // `take` bounds the read even if the file grows after the size check.
    let mut bytes = Vec::new();
    let limit = max_bytes.saturating_add(1);
    file.take(limit).read_to_end(&mut bytes).map_err(|e| format!("{name}: cannot read: {e}"))?;
    if bytes.len() as u64 > max_bytes {
        return Err(too_large(bytes.len() as u64));
    }
    String::from_utf8(bytes).map_err(|e| not_utf8(&name.to_string(), e.as_bytes(), e.utf8_error().valid_up_to()))
}

/// `FILE: not UTF-8: byte 0xff at offset 12 (line 2, column 3)`.
fn not_utf8(name: &str, bytes: &[u8], offset: usize) -> String {
    let before = &bytes[..offset];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let line_start = before.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    // The column counts characters; everything before `offset` is valid UTF-8.
    let col = String::from_utf8_lossy(&before[line_start..]).chars().count() + 1;
    let byte = bytes.get(offset).copied().unwrap_or(0);
    format!(
        "{name}: not UTF-8: byte 0x{byte:02x} at offset {offset} (line {line}, column {col}); save the file as UTF-8"
    )
}

fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("baton-input-file-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("temp dir");
        d
    }

    #[test]
    fn reads_a_regular_utf8_file() {
        let p = dir().join("ok.toml");
        std::fs::write(&p, "a = \"é\"\n").expect("write");
        assert_eq!(read_text(&p), Ok("a = \"é\"\n".to_string()));
    }

    #[test]
    fn refuses_devices_and_directories() {
        let e = read_text(Path::new("/dev/zero")).expect_err("a device");
        assert!(e.contains("not a regular file (a character device)"), "{e}");
        let e = read_text(&dir()).expect_err("a directory");
        assert!(e.contains("not a regular file (a directory)"), "{e}");
    }

    #[test]
    fn refuses_a_fifo_without_blocking() {
        let p = dir().join("fifo");
        let _ = std::fs::remove_file(&p);
        let made = std::process::Command::new("mkfifo").arg(&p).status().expect("mkfifo runs");
        assert!(made.success());
        // No writer ever opens it: reading it would block forever.
        let e = read_text(&p).expect_err("a FIFO");
        assert!(e.contains("not a regular file (a FIFO)"), "{e}");
    }

    #[test]
    fn refuses_a_file_over_the_cap() {
        let p = dir().join("big.toml");
        std::fs::write(&p, vec![b'#'; 101]).expect("write");
        let e = read_text_capped(&p, 100).expect_err("too large");
        assert!(e.contains("larger than the limit of 100 bytes"), "{e}");
        assert!(read_text_capped(&p, 101).is_ok());
    }

    #[test]
    fn names_the_offset_of_the_first_bad_byte() {
        let p = dir().join("latin1.toml");
        std::fs::write(&p, b"a = 1\nb\xc3\xa9 = \"\xff\"\n").expect("write");
        let e = read_text(&p).expect_err("not UTF-8");
        assert!(e.ends_with("not UTF-8: byte 0xff at offset 13 (line 2, column 7); save the file as UTF-8"), "{e}");
    }
}
