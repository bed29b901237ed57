//! Shared parts of the engine's integration tests: tempfile-backed devices, a started
//! pair over real TCP on 127.0.0.1, a cuttable TCP relay standing for one connect
//! network, and waiting on a condition with a deadline.

#![allow(dead_code)] // each test file uses its own subset

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use baton_core::io::MirrorRecord;
use baton_mirror::engine::metadata::{Header, MetaStore, DEFAULT_REGION_BYTES};
use baton_mirror::engine::{Primary, PrimaryConfig, Secondary, SecondaryConfig};
use sha2::{Digest, Sha256};

pub const KEY: &[u8] = b"derived-from-the-cluster-secret";

/// One side's devices.
#[derive(Clone, Debug)]
pub struct Side {
    pub data: PathBuf,
    pub meta: PathBuf,
}

/// Creates a side's data file of `size` bytes and its metadata, as `baton mirror init
/// --assume-identical` would (both sides the same generation).
pub fn side(dir: &Path, name: &str, size: u64, gen: u64) -> Side {
    let data = dir.join(format!("{name}.data"));
    let meta = dir.join(format!("{name}.meta"));
    std::fs::File::create(&data).unwrap().set_len(size).unwrap();
    MetaStore::create(&meta, Header::new(size, DEFAULT_REGION_BYTES, MirrorRecord::Synced, gen)).unwrap();
    Side { data, meta }
}

pub fn listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").unwrap()
}

pub fn secondary(s: &Side, key: &[u8], listeners: Vec<TcpListener>) -> Secondary {
    let mut cfg = SecondaryConfig::new(s.data.clone(), s.meta.clone(), key.to_vec());
    cfg.dead_after_ms = 2000;
    cfg.ping_interval_ms = 200;
    Secondary::start(cfg, listeners).unwrap()
}

pub fn primary_cfg(s: &Side, key: &[u8], peers: Vec<SocketAddr>) -> PrimaryConfig {
    let mut cfg = PrimaryConfig::new(s.data.clone(), s.meta.clone(), peers, key.to_vec());
    cfg.dead_after_ms = 2000;
    cfg.ping_interval_ms = 200;
    cfg.reconnect_ms = 20;
    cfg
}

pub fn primary(s: &Side, key: &[u8], peers: Vec<SocketAddr>) -> Primary {
    Primary::open(primary_cfg(s, key, peers)).unwrap()
}

/// Waits until `cond` holds, failing the test with `what` after `secs` seconds.
pub fn wait_until(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out after {secs} s waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

pub fn sha256_file(p: &Path) -> String {
    let bytes = std::fs::read(p).unwrap();
    format!("{:x}", Sha256::digest(&bytes))
}

/// A block whose content names its number (and differs from every other block's).
pub fn block(n: u64, len: usize) -> Vec<u8> {
    let mut b = Vec::with_capacity(len);
    while b.len() < len {
        b.extend_from_slice(&n.to_le_bytes());
        b.extend_from_slice(&(!n).to_le_bytes());
    }
    b.truncate(len);
    b
}

/// A TCP relay standing for one connect network: `cut` closes every connection through
/// it and refuses new ones until `heal`.
pub struct Relay {
    pub addr: SocketAddr,
    up: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
}

impl Relay {
    pub fn start(target: SocketAddr) -> Relay {
        let l = listener();
        let addr = l.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (up2, conns2) = (up.clone(), conns.clone());
        std::thread::spawn(move || {
            for c in l.incoming() {
                let Ok(c) = c else { continue };
                if !up2.load(Ordering::SeqCst) {
                    continue; // dropped: refused
                }
                let Ok(t) = TcpStream::connect(target) else { continue };
                let _ = (c.set_nodelay(true), t.set_nodelay(true));
                conns2.lock().unwrap().extend([c.try_clone().unwrap(), t.try_clone().unwrap()]);
                pipe(c.try_clone().unwrap(), t.try_clone().unwrap());
                pipe(t, c);
            }
        });
        Relay { addr, up, conns }
    }

    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
    }

    pub fn heal(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}
