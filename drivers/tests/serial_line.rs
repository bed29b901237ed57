//! The serial resolver's line over a real pseudo-terminal pair joined by `socat`, which
//! stands in for the null-modem cable: both ends answer each other's checks; stopping
//! `socat` cuts the cable (checks fail with the reason); starting it again heals it (the
//! lines open again by themselves); a peer with another secret is refused and counted.
//! Skipped, with the reason printed, where `socat` (Debian package socat) is missing.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use baton_drivers::serial_line::{LineKey, SerialLine};

const CHECK: Duration = Duration::from_millis(1_000);

fn socat_missing() -> bool {
    let found = Command::new("socat").arg("-V").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
    if !found {
        println!("SKIPPED serial line test: `socat` not found (Debian package socat)");
    }
    !found
}

/// A cable: `socat` joining two pseudo-terminals linked at `a` and `b`; killed on drop.
struct Cable {
    child: Child,
}

impl Cable {
    fn plug(a: &Path, b: &Path) -> Cable {
        let _ = std::fs::remove_file(a);
        let _ = std::fs::remove_file(b);
        let child = Command::new("socat")
            .arg(format!("pty,raw,echo=0,link={}", a.display()))
            .arg(format!("pty,raw,echo=0,link={}", b.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("socat");
        let deadline = Instant::now() + Duration::from_secs(5);
        while !(a.exists() && b.exists()) {
            assert!(Instant::now() < deadline, "socat made no pty pair within 5 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        Cable { child }
    }

    fn cut(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Cable {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn paths(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.join("ttyA"), dir.join("ttyB"))
}

/// Checks `line` until one succeeds (`want_ok`) or fails, against a deadline; the last
/// outcome.
async fn check_until(line: &SerialLine, want_ok: bool, within: Duration) -> Result<Duration, String> {
    let deadline = Instant::now() + within;
    loop {
        let got = line.check(CHECK).await;
        if got.is_ok() == want_ok || Instant::now() >= deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn two_ends_answer_each_other_and_a_cut_cable_is_seen() {
    if socat_missing() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = paths(dir.path());
    let cable = Cable::plug(&a, &b);
    let key = LineKey::new([3; 32]);
    let s1 = SerialLine::start(a.to_str().expect("utf-8"), 0, 1, "lab", key.clone());
    let s2 = SerialLine::start(b.to_str().expect("utf-8"), 1, 0, "lab", key.clone());

    // Both ends open and answer (the first check may meet a line still opening).
    let rtt = check_until(&s1, true, Duration::from_secs(5)).await.expect("server1 hears server2 on the cable");
    assert!(rtt < CHECK, "{rtt:?}");
    check_until(&s2, true, Duration::from_secs(5)).await.expect("server2 hears server1 on the cable");
    assert_eq!(s1.refusals(), Default::default());
    assert_eq!(s2.refusals(), Default::default());

    // The cable cut: no answer, with a reason (the pty's far end is gone: the write or
    // the read fails, or nothing answers).
    cable.cut();
    let err = check_until(&s1, false, Duration::from_secs(5)).await.expect_err("no answer on a cut cable");
    assert!(err.contains("/ttyA") || err.contains("no answer within"), "{err}");
    let err = check_until(&s2, false, Duration::from_secs(5)).await.expect_err("no answer on a cut cable");
    assert!(err.contains("/ttyB") || err.contains("no answer within"), "{err}");

    // Plugged again (a new pty pair at the same links): both lines open again by
    // themselves and answer.
    let _cable = Cable::plug(&a, &b);
    check_until(&s1, true, Duration::from_secs(10)).await.expect("answers again after the cable is back");
    check_until(&s2, true, Duration::from_secs(10)).await.expect("answers again after the cable is back");
}

#[tokio::test]
async fn a_peer_with_another_secret_is_refused_and_counted() {
    if socat_missing() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = paths(dir.path());
    let _cable = Cable::plug(&a, &b);
    let s1 = SerialLine::start(a.to_str().expect("utf-8"), 0, 1, "lab", LineKey::new([3; 32]));
    let s2 = SerialLine::start(b.to_str().expect("utf-8"), 1, 0, "lab", LineKey::new([4; 32]));
    let deadline = Instant::now() + Duration::from_secs(5);
    while !(s1.is_open() && s2.is_open()) {
        assert!(Instant::now() < deadline, "the lines did not open");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let err = s1.check(Duration::from_millis(500)).await.expect_err("a forged peer is no answer");
    assert!(err.contains("no answer within 500 ms"), "{err}");
    assert!(s2.refusals().bad_tag >= 1, "{:?}", s2.refusals());

    // A peer of another cluster name under the same secret: refused too.
    drop(s2);
    // The old reader lets go of the tty within one read slice.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let s3 = SerialLine::start(b.to_str().expect("utf-8"), 1, 0, "other", LineKey::new([3; 32]));
    let deadline = Instant::now() + Duration::from_secs(5);
    while !s3.is_open() {
        assert!(Instant::now() < deadline, "the line did not open again");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(s1.check(Duration::from_millis(500)).await.is_err());
    assert!(s3.refusals().bad_tag >= 1, "{:?}", s3.refusals());
}
