//! A null-modem cable for the serial resolver's tests: `socat` joining two
//! pseudo-terminals, linked at `tty-server1` and `tty-server2` in a directory (each
//! server names its own end). Cut by stopping `socat`; cut when dropped. In: a
//! directory. Out: the two ends' paths.

use crate::wait_for;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The null-modem cable: `socat` joining two pseudo-terminals linked at `ends`.
pub struct Cable {
    child: Option<Child>,
    ends: [PathBuf; 2],
}

impl Cable {
    /// Links a pty pair at `DIR/tty-server1` and `DIR/tty-server2`; waits up to 5 s
    /// for both links.
    pub fn plug(dir: &Path) -> Result<Cable, String> {
        let ends = [dir.join("tty-server1"), dir.join("tty-server2")];
        for e in &ends {
            let _ = std::fs::remove_file(e);
        }
        let child = Command::new("socat")
            .arg(format!("pty,raw,echo=0,link={}", ends[0].display()))
            .arg(format!("pty,raw,echo=0,link={}", ends[1].display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("socat: {e}"))?;
        let mut cable = Cable { child: Some(child), ends };
        if wait_for(Duration::from_secs(5), || cable.ends.iter().all(|e| e.exists()).then_some(())).is_none() {
            cable.cut();
            return Err("socat made no pty pair within 5 s".into());
        }
        Ok(cable)
    }

    /// Server `server`'s end (1 or 2).
    pub fn end(&self, server: usize) -> &Path {
        &self.ends[server - 1]
    }

    /// Pulls the cable: both ends stop carrying anything.
    pub fn cut(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Cable {
    fn drop(&mut self) {
        self.cut();
    }
}
