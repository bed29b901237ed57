//! The standby's copy on a real block device (a loop device over a file): the engine
//! holds it exclusively, so nothing can mount or exclusively open it meanwhile, and the
//! writes it takes land on the device.
//!
//! Needs root and `losetup` (util-linux); otherwise the test prints `skipped: …` and
//! passes.

mod common;

use std::process::Command;

use baton_mirror::engine::metadata::open_data;
use baton_mirror::Volume;
use common::*;

const SIZE: u64 = 8 << 20;

struct Loop {
    path: String,
}

impl Loop {
    fn over(file: &std::path::Path) -> Loop {
        let out = Command::new("losetup").args(["--find", "--show"]).arg(file).output().expect("losetup");
        assert!(out.status.success(), "losetup: {}", String::from_utf8_lossy(&out.stderr));
        Loop { path: String::from_utf8_lossy(&out.stdout).trim().to_string() }
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["--detach", &self.path]).status();
    }
}

fn skip() -> bool {
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0"));
    let losetup = Command::new("losetup").arg("--version").output().is_ok_and(|o| o.status.success());
    if !(root && losetup) {
        eprintln!("skipped: needs root and losetup");
    }
    !(root && losetup)
}

#[test]
fn the_standby_holds_its_block_device_exclusively() {
    if skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (side(dir.path(), "a", SIZE, 1), side(dir.path(), "b", SIZE, 1));
    let dev = Loop::over(&b.data);
    let on_dev = Side { data: dev.path.clone().into(), meta: b.meta.clone() };
    let s = secondary(&on_dev, KEY, vec![listener()]);
    let e = open_data(on_dev.data.as_path()).expect_err("a second exclusive open");
    assert_eq!(e.kind(), std::io::ErrorKind::ResourceBusy, "EBUSY expected: {e}");
    let p = primary(&a, KEY, s.addrs().to_vec());
    wait_until(10, "a link", || p.status().links_up == 1);
    for n in 0..32u64 {
        p.write_at(&block(n, 65536), n * 65536).unwrap();
    }
    p.flush().unwrap();
    drop(p);
    s.stop();
    drop(s);
    // Released with the engine: the device opens again, and holds what was written.
    wait_until(10, "the device released", || open_data(on_dev.data.as_path()).is_ok());
    let mut got = vec![0u8; 65536];
    std::os::unix::fs::FileExt::read_exact_at(&open_data(on_dev.data.as_path()).unwrap(), &mut got, 31 * 65536)
        .unwrap();
    assert_eq!(got, block(31, 65536));
}
