//! Authentication over real TCP: a peer without the key can neither write nor read the
//! copy; forged and replayed frames from a peer that passed the handshake are refused,
//! counted, and never applied.

mod common;

use std::io::Write;
use std::net::TcpStream;

use baton_core::io::MirrorRecord;
use baton_mirror::engine::protocol::{client_handshake, Frame};
use baton_mirror::Volume;
use common::*;

const SIZE: u64 = 4 << 20;

#[test]
fn an_active_side_with_the_wrong_key_never_reaches_the_copy() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (side(dir.path(), "a", SIZE, 1), side(dir.path(), "b", SIZE, 1));
    let s = secondary(&b, KEY, vec![listener()]);
    let before = sha256_file(&b.data);
    let p = primary(&a, b"another cluster's secret", s.addrs().to_vec());
    // The connecting side checks the standby's proof first: the standby (with the right
    // key) proves itself, and the active side finds the proof wrong for its key.
    wait_until(10, "refused handshakes", || p.status().refused_frames >= 2);
    assert_eq!(p.status().links_up, 0);
    assert_eq!(s.connections(), 0);
    p.write_at(&block(1, 4096), 0).unwrap();
    assert!(matches!(p.status().record, MirrorRecord::Ahead { .. }), "written without the peer");
    assert_eq!(s.applied_writes(), 0);
    assert_eq!(sha256_file(&b.data), before);
}

#[test]
fn a_standby_with_the_wrong_key_gets_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (side(dir.path(), "a", SIZE, 1), side(dir.path(), "b", SIZE, 1));
    let s = secondary(&b, b"not the key", vec![listener()]);
    let p = primary(&a, KEY, s.addrs().to_vec());
    wait_until(10, "refused handshakes", || p.status().refused_frames >= 2);
    let sent_before = p.status().sent_bytes;
    p.write_at(&block(7, 4096), 8192).unwrap();
    assert_eq!(p.status().sent_bytes, sent_before, "not one frame to an unproven peer");
    assert_eq!(s.applied_writes(), 0);
}

#[test]
fn forged_and_replayed_frames_are_refused_and_never_applied() {
    let dir = tempfile::tempdir().unwrap();
    let b = side(dir.path(), "b", SIZE, 1);
    let s = secondary(&b, KEY, vec![listener()]);
    let refused = || s.stats().refused.load(std::sync::atomic::Ordering::Relaxed);
    let before = sha256_file(&b.data);

    // A forged frame: right handshake, one bit of the body flipped.
    let mut c = TcpStream::connect(s.addrs()[0]).unwrap();
    let mut sess = client_handshake(&mut c, KEY).unwrap();
    let mut bytes = sess.sealer.seal(&Frame::Write { id: 1, offset: 0, data: vec![0xEE; 4096] });
    bytes[100] ^= 1;
    c.write_all(&bytes).unwrap();
    wait_until(10, "the forged frame refused", || refused() == 1);

    // A replay: a valid frame sent twice on one connection.
    let mut c = TcpStream::connect(s.addrs()[0]).unwrap();
    let mut sess = client_handshake(&mut c, KEY).unwrap();
    let ok = sess.sealer.seal(&Frame::Ping);
    c.write_all(&ok).unwrap();
    c.write_all(&ok).unwrap();
    wait_until(10, "the replay refused", || refused() == 2);

    // A frame recorded on one connection replayed on another (fresh nonces: new keys).
    let mut c2 = TcpStream::connect(s.addrs()[0]).unwrap();
    let _sess2 = client_handshake(&mut c2, KEY).unwrap();
    let recorded = sess.sealer.seal(&Frame::Write { id: 2, offset: 0, data: vec![0xEE; 4096] });
    c2.write_all(&recorded).unwrap();
    wait_until(10, "the cross-connection replay refused", || refused() == 3);

    // An oversized length is refused before any allocation.
    let mut c3 = TcpStream::connect(s.addrs()[0]).unwrap();
    let mut sess3 = client_handshake(&mut c3, KEY).unwrap();
    let mut huge = sess3.sealer.seal(&Frame::Ping);
    huge[16..20].copy_from_slice(&(64u32 << 20).to_le_bytes());
    c3.write_all(&huge).unwrap();
    wait_until(10, "the oversized frame refused", || refused() == 4);

    assert_eq!(s.applied_writes(), 0);
    assert_eq!(sha256_file(&b.data), before);
}
