//! Loading the cluster secret (`cluster.secret_file`).
//!
//! In: the secret file's path (if configured) and `cluster.insecure`. Out: the packet
//! [`Key`] and, when security is weakened, a warning for the daemon to log and show.
//!
//! Refused unless `insecure = true`: no path, a missing file, a file readable or
//! writable by group or others (`mode & 0o077 != 0`). Always refused: a path that is
//! not a regular file, an unreadable file, an empty secret. Trailing whitespace
//! (`\n`, `\r`, spaces, tabs) is not part of the secret, so a file written with `echo`
//! and one written with `printf` give the same key. With `insecure = true` and no
//! file, packets are tagged with the fixed all-zero key: authentication then proves
//! nothing, and the warning says so.

use super::packet::Key;
use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The key to tag packets with, and why it is weaker than it should be (if it is).
#[derive(Clone, Debug)]
pub struct Secret {
    pub key: Key,
    pub warning: Option<String>,
}

const INSECURE_KEY_WARNING: &str = "INSECURE: no cluster secret; packets are tagged with a fixed all-zero key, \
     so anyone on the heartbeat networks can forge heartbeats and cluster messages (insecure = true)";

/// The cluster key from `path` (see the module doc for what is refused).
pub fn load_secret(path: Option<&Path>, insecure: bool) -> Result<Secret, String> {
    let Some(path) = path else {
        return if insecure {
            Ok(Secret { key: Key::insecure(), warning: Some(INSECURE_KEY_WARNING.to_string()) })
        } else {
            Err("cluster.secret_file is not set (set it, or insecure = true for a test cluster)".to_string())
        };
    };
    let shown = path.display();
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == ErrorKind::NotFound && insecure => {
            return Ok(Secret {
                key: Key::insecure(),
                warning: Some(format!("secret file {shown} does not exist. {INSECURE_KEY_WARNING}")),
            });
        }
        Err(e) => return Err(format!("secret file {shown}: {e}")),
    };
    if !meta.is_file() {
        return Err(format!("secret file {shown} is not a regular file"));
    }
    let mode = meta.permissions().mode();
    let mut warning = None;
    if mode & 0o077 != 0 {
        let problem = format!("secret file {shown} has mode {:04o}: group or others can access it", mode & 0o7777);
        if insecure {
            warning = Some(format!("INSECURE: {problem} (allowed by insecure = true)"));
        } else {
            return Err(format!("{problem}; run chmod 600 {shown}"));
        }
    }
    let bytes = std::fs::read(path).map_err(|e| format!("secret file {shown}: {e}"))?;
    let end = bytes.iter().rposition(|b| !matches!(b, b'\n' | b'\r' | b' ' | b'\t')).map_or(0, |i| i + 1);
    if end == 0 {
        return Err(format!("secret file {shown} is empty"));
    }
    Ok(Secret { key: Key::from_secret(&bytes[..end]), warning })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn write(dir: &Path, name: &str, text: &[u8], mode: u32) -> std::path::PathBuf {
        let p = dir.join(name);
        fs::write(&p, text).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    #[test]
    fn mode_0600_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "s", b"hunter2\n", 0o600);
        let s = load_secret(Some(&p), false).unwrap();
        assert_eq!(s.key, Key::from_secret(b"hunter2"));
        assert!(s.warning.is_none());
    }

    #[test]
    fn mode_0644_is_refused_unless_insecure() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "s", b"hunter2", 0o644);
        let e = load_secret(Some(&p), false).unwrap_err();
        assert!(e.contains("0644"), "{e}");
        let s = load_secret(Some(&p), true).unwrap();
        assert_eq!(s.key, Key::from_secret(b"hunter2"));
        assert!(s.warning.unwrap().contains("INSECURE"));
    }

    #[test]
    fn missing_is_refused_unless_insecure() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("absent");
        assert!(load_secret(Some(&p), false).unwrap_err().contains("absent"));
        let s = load_secret(Some(&p), true).unwrap();
        assert_eq!(s.key, Key::insecure());
        assert!(s.warning.unwrap().contains("all-zero"));
        assert!(load_secret(None, false).is_err());
        assert_eq!(load_secret(None, true).unwrap().key, Key::insecure());
    }

    #[test]
    fn empty_and_directory_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "s", b" \n", 0o600);
        assert!(load_secret(Some(&p), true).unwrap_err().contains("empty"));
        assert!(load_secret(Some(dir.path()), true).unwrap_err().contains("regular"));
    }
}
