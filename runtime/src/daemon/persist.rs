//! What the node persists between runs (`Output::Persist`, read back for `Input::Boot`).
//!
//! In: the state directory and a `Persisted`. Out: `STATE_DIR/persisted.msgpack`
//! (MessagePack with named fields), written atomically: a temporary file in the same
//! directory, fsynced, renamed over the old one, then the directory fsynced. A missing
//! file is a first start (`None`); an unreadable or undecodable one refuses the start,
//! saying which file to inspect.

use baton_core::io::Persisted;
use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

/// The file name under the state directory.
pub const FILE_NAME: &str = "persisted.msgpack";

pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(FILE_NAME)
}

/// What the previous run left, or `None` at a first start.
pub fn load(state_dir: &Path) -> Result<Option<Persisted>, String> {
    let p = path(state_dir);
    let bytes = match fs::read(&p) {
        Ok(b) => b,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", p.display())),
    };
    rmp_serde::from_slice(&bytes).map(Some).map_err(|e| {
        format!("{}: cannot decode the persisted state ({e}); move the file away to start as a new server", p.display())
    })
}

/// Replaces the persisted state atomically.
pub fn store(state_dir: &Path, persisted: &Persisted) -> Result<(), String> {
    let p = path(state_dir);
    let tmp = state_dir.join(format!("{FILE_NAME}.tmp"));
    let bytes = rmp_serde::to_vec_named(persisted).map_err(|e| format!("encode persisted state: {e}"))?;
    let write = || -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, &p)?;
        File::open(state_dir)?.sync_all()
    };
    write().map_err(|e| format!("{}: {e}", p.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_core::config::{GroupId, ServerId};

    #[test]
    fn store_then_load_round_trips_and_missing_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap(), None);
        let p = Persisted {
            runs: 3,
            last_end_clean: Some(false),
            groups_online: vec![GroupId(0)],
            stop_record: vec![(GroupId(0), ServerId(1))],
            ..Persisted::default()
        };
        store(dir.path(), &p).unwrap();
        assert_eq!(load(dir.path()).unwrap(), Some(p));
        assert!(!dir.path().join(format!("{FILE_NAME}.tmp")).exists());
    }

    #[test]
    fn garbage_refuses_the_start() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(path(dir.path()), b"\xc1garbage").unwrap();
        assert!(load(dir.path()).unwrap_err().contains("move the file away"));
    }
}
