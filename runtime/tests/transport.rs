//! The UDP transport over real loopback sockets: two endpoints (servers 0 and 1) on
//! 127.0.0.1 at different ports, one lan path (two for the path tests). Every receive
//! is bounded by a timeout; a rejection is observed through the counters and through
//! the next good packet being the one received (datagrams on loopback keep their
//! order).
//!
//! Loss is simulated by a [`LossyLink`]: a relay between the two endpoints that each
//! endpoint's topology names as the other's address, dropping datagrams at a given
//! rate (seeded, so a run is repeatable) or all of them (a cut path).
//!
//! Real sockets only: not built for the simulated world (`--cfg madsim`).

#![cfg(not(madsim))]

use baton_core::config::{GroupId, PathId, ServerId};
use baton_core::io::{Heartbeat, Message, ServerState};
use baton_runtime::transport::packet::{self, Ack, Header, Sequenced};
use baton_runtime::transport::udp::{Datagram, PathAddrs};
use baton_runtime::transport::{bind, Body, Counters, Inbound, Inbox, Key, Payload, SendError, Topology, Transport};
use std::collections::BTreeMap;
use std::net::{SocketAddr, UdpSocket as StdUdpSocket};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::{sleep, timeout, Instant};

const A: ServerId = ServerId(0);
const B: ServerId = ServerId(1);
const PATH: PathId = PathId(0);
const PATH2: PathId = PathId(1);
const CLUSTER: &str = "test-cluster";
const RECV_TIMEOUT: Duration = Duration::from_secs(5);
const A_BOOT: u64 = 1;
/// Long enough that nothing is abandoned during a test.
const HEARTBEAT_TIMEOUT_MS: u64 = 30_000;
/// Long enough that no retransmission happens in a test that counts packets.
const SLOW_RETRANSMIT_MS: u64 = 10_000;
/// Retransmission in the loss tests.
const FAST_RETRANSMIT_MS: u64 = 10;

fn free_addr() -> SocketAddr {
    let s = StdUdpSocket::bind("127.0.0.1:0").unwrap();
    s.local_addr().unwrap()
}

/// One lan path as seen by one server: (path, priority, local address, the peer's address).
type PathSpec = (PathId, u32, SocketAddr, SocketAddr);

fn topology(me: ServerId, paths: &[PathSpec], retransmit_interval_ms: u64) -> Topology {
    let peer = if me == A { B } else { A };
    let paths = paths
        .iter()
        .map(|&(path, priority, local, remote)| {
            (path, PathAddrs { local, peers: BTreeMap::from([(peer, remote)]), priority })
        })
        .collect();
    Topology {
        me,
        cluster_id: packet::cluster_id(CLUSTER),
        paths,
        heartbeat_timeout_ms: HEARTBEAT_TIMEOUT_MS,
        retransmit_interval_ms,
    }
}

struct Pair {
    a: Transport,
    b: Transport,
    b_inbox: Inbox,
    _a_inbox: Inbox,
    a_addr: SocketAddr,
    b_addr: SocketAddr,
}

async fn pair(a_key: Key, b_key: Key, a_boot: u64) -> Pair {
    let a_addr = free_addr();
    let b_addr = free_addr();
    let (a, a_inbox) =
        bind(topology(A, &[(PATH, 1, a_addr, b_addr)], SLOW_RETRANSMIT_MS), a_key, a_boot).await.unwrap();
    let (b, b_inbox) = bind(topology(B, &[(PATH, 1, b_addr, a_addr)], SLOW_RETRANSMIT_MS), b_key, 77).await.unwrap();
    Pair { a, b, b_inbox, _a_inbox: a_inbox, a_addr, b_addr }
}

fn heartbeat(version: u64) -> Heartbeat {
    Heartbeat { run: 3, state: ServerState::Online, version, sent_ms: 1_000 }
}

fn hb(version: u64) -> Body {
    Body::Heartbeat(heartbeat(version))
}

fn hb_payload(version: u64) -> Payload {
    Payload::Heartbeat(heartbeat(version))
}

/// Message number `n` of a test stream.
fn numbered(n: u64) -> Message {
    Message::Hello { run: 9, state: ServerState::Online, version: n }
}

async fn recv(inbox: &mut Inbox) -> Inbound {
    timeout(RECV_TIMEOUT, inbox.recv()).await.expect("receive timed out").expect("inbox closed")
}

fn key() -> Key {
    Key::from_secret(b"cluster secret")
}

/// Only `f` of the drop counters is non-zero, and it is 1.
fn only(counters: Counters, f: fn(&Counters) -> u64) {
    assert_eq!(f(&counters), 1, "{counters:?}");
    assert_eq!(counters.dropped(), 1, "{counters:?}");
}

/// Receives on a task of its own, so the inbox also sends acknowledgements and applies
/// the ones it gets while the test does something else.
fn drive(mut inbox: Inbox) -> mpsc::UnboundedReceiver<Inbound> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(inbound) = inbox.recv().await {
            if tx.send(inbound).is_err() {
                return;
            }
        }
    });
    rx
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Inbound>) -> Inbound {
    timeout(RECV_TIMEOUT, rx.recv()).await.expect("receive timed out").expect("inbox task ended")
}

/// The next `n` messages from `rx` (heartbeats are not expected here).
async fn messages(rx: &mut mpsc::UnboundedReceiver<Inbound>, n: usize) -> Vec<(PathId, Message)> {
    let mut got = Vec::new();
    while got.len() < n {
        match next(rx).await {
            Inbound { from, path, body: Body::Message(msg) } => {
                assert_eq!(from, A);
                got.push((path, *msg));
            }
            other @ Inbound { body: Body::Heartbeat(_), .. } => panic!("unexpected {other:?}"),
        }
    }
    got
}

async fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + RECV_TIMEOUT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        sleep(Duration::from_millis(5)).await;
    }
}

/// A relay between servers A and B that drops a share of the datagrams in each
/// direction. A sends to `to_b` (B's address in A's topology); B sees the datagrams
/// come from `to_a` (A's address in B's topology), and the other way round.
struct LossyLink {
    /// B's address as A knows it.
    to_b: SocketAddr,
    /// A's address as B knows it.
    to_a: SocketAddr,
    /// Per cent of the datagrams dropped, A to B and B to A.
    loss_percent: [Arc<AtomicU32>; 2],
    dropped: Arc<AtomicU64>,
    forwarded: Arc<AtomicU64>,
}

impl LossyLink {
    async fn start(a: SocketAddr, b: SocketAddr, loss_percent: u32, seed: u64) -> LossyLink {
        let near_a = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let near_b = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let link = LossyLink {
            to_b: near_a.local_addr().unwrap(),
            to_a: near_b.local_addr().unwrap(),
            loss_percent: [Arc::new(AtomicU32::new(loss_percent)), Arc::new(AtomicU32::new(loss_percent))],
            dropped: Arc::new(AtomicU64::new(0)),
            forwarded: Arc::new(AtomicU64::new(0)),
        };
        // A → near_a → near_b → B, and B → near_b → near_a → A.
        for (i, (from, to, dest)) in [(&near_a, &near_b, b), (&near_b, &near_a, a)].into_iter().enumerate() {
            let (from, to) = (Arc::clone(from), Arc::clone(to));
            let loss = Arc::clone(&link.loss_percent[i]);
            let (dropped, forwarded) = (Arc::clone(&link.dropped), Arc::clone(&link.forwarded));
            let mut rng = seed.wrapping_add(i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65_536];
                loop {
                    let Ok((n, _)) = from.recv_from(&mut buf).await else { return };
                    // xorshift64: repeatable loss without a dependency.
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    if (rng % 100) < u64::from(loss.load(Ordering::Relaxed)) {
                        dropped.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    forwarded.fetch_add(1, Ordering::Relaxed);
                    let _ = to.send_to(&buf[..n], dest).await;
                }
            });
        }
        link
    }
}

#[tokio::test]
async fn heartbeat_and_message_round_trip() {
    let mut p = pair(key(), key(), 1).await;
    p.a.send(B, PATH, &hb(5)).await.unwrap();
    assert_eq!(recv(&mut p.b_inbox).await, Inbound { from: A, path: PATH, body: hb(5) });
    let msg = Body::Message(Box::new(Message::Departure { clean: true, power_off: false, groups: vec![GroupId(2)] }));
    p.a.send(B, PATH, &msg).await.unwrap();
    assert_eq!(recv(&mut p.b_inbox).await, Inbound { from: A, path: PATH, body: msg });
    let c = p.b.counters();
    assert_eq!((c.accepted, c.dropped(), c.acks_sent), (2, 0, 1), "{c:?}");
    assert_eq!(p.a.counters().sent, 2);
    // And back the other way; A's inbox applies B's ack on the way.
    let mut a_inbox = p._a_inbox;
    p.b.send(A, PATH, &hb(9)).await.unwrap();
    assert_eq!(recv(&mut a_inbox).await, Inbound { from: B, path: PATH, body: hb(9) });
    assert_eq!((p.a.unacked(B), p.a.counters().acks_received), (0, 1));
}

#[tokio::test]
async fn forged_packet_is_rejected_and_counted() {
    let mut p = pair(Key::from_secret(b"attacker"), key(), 1).await;
    p.a.send(B, PATH, &hb(1)).await.unwrap();
    // A well-keyed packet after it, to know the forged one has been judged.
    let good = packet::encode(
        &key(),
        &Header { cluster_id: packet::cluster_id(CLUSTER), from: A, path: PATH, boot_id: 1, seq: 100 },
        &hb_payload(2),
    )
    .unwrap();
    p.a.send_raw(B, PATH, &good).await.unwrap();
    assert_eq!(recv(&mut p.b_inbox).await.body, hb(2));
    only(p.b.counters(), |c| c.bad_tag);
}

#[tokio::test]
async fn replayed_packet_is_rejected_the_second_time() {
    let mut p = pair(key(), key(), 1).await;
    let bytes = p.a.seal(PATH, &hb_payload(1)).unwrap();
    p.a.send_raw(B, PATH, &bytes).await.unwrap();
    p.a.send_raw(B, PATH, &bytes).await.unwrap();
    p.a.send(B, PATH, &hb(2)).await.unwrap();
    assert_eq!(recv(&mut p.b_inbox).await.body, hb(1));
    assert_eq!(recv(&mut p.b_inbox).await.body, hb(2));
    only(p.b.counters(), |c| c.replayed);
}

#[tokio::test]
async fn reordered_pair_within_window_is_accepted() {
    let mut p = pair(key(), key(), 1).await;
    let first = p.a.seal(PATH, &hb_payload(1)).unwrap();
    let second = p.a.seal(PATH, &hb_payload(2)).unwrap();
    p.a.send_raw(B, PATH, &second).await.unwrap();
    p.a.send_raw(B, PATH, &first).await.unwrap();
    assert_eq!(recv(&mut p.b_inbox).await.body, hb(2));
    assert_eq!(recv(&mut p.b_inbox).await.body, hb(1));
    assert_eq!(p.b.counters().dropped(), 0);
}

#[tokio::test]
async fn garbage_is_malformed_and_receiver_keeps_working() {
    let mut p = pair(key(), key(), 1).await;
    let good = p.a.seal(PATH, &hb_payload(1)).unwrap();
    p.a.send_raw(B, PATH, &good[..good.len() - 1]).await.unwrap(); // truncated
    p.a.send_raw(B, PATH, b"hello").await.unwrap(); // garbage
    p.a.send_raw(B, PATH, &[]).await.unwrap(); // empty datagram
    p.a.send_raw(B, PATH, &vec![0xAB; packet::MAX_PACKET_BYTES + 100]).await.unwrap(); // oversized
    p.a.send(B, PATH, &hb(2)).await.unwrap();
    assert_eq!(recv(&mut p.b_inbox).await.body, hb(2));
    let c = p.b.counters();
    assert_eq!((c.malformed, c.too_large, c.dropped(), c.accepted), (3, 1, 4, 1), "{c:?}");
}

#[tokio::test]
async fn old_boot_after_new_one_is_rejected() {
    let mut p = pair(key(), key(), 2).await;
    let old = |seq| {
        let h = Header { cluster_id: packet::cluster_id(CLUSTER), from: A, path: PATH, boot_id: 1, seq };
        packet::encode(&key(), &h, &hb_payload(seq)).unwrap()
    };
    p.a.send_raw(B, PATH, &old(100)).await.unwrap(); // boot 1: first seen, accepted
    p.a.send(B, PATH, &hb(0)).await.unwrap(); // boot 2 (seq 0): the sender restarted
    p.a.send_raw(B, PATH, &old(101)).await.unwrap(); // boot 1 again: stale
    p.a.send(B, PATH, &hb(1)).await.unwrap();
    assert_eq!(recv(&mut p.b_inbox).await.body, hb(100));
    assert_eq!(recv(&mut p.b_inbox).await.body, hb(0));
    assert_eq!(recv(&mut p.b_inbox).await.body, hb(1));
    only(p.b.counters(), |c| c.replayed);
}

#[tokio::test]
async fn unexpected_source_address_is_rejected() {
    let mut p = pair(key(), key(), 1).await;
    // A validly tagged packet claiming to be A, sent from another socket.
    let bytes = p.a.seal(PATH, &hb_payload(1)).unwrap();
    let intruder = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    intruder.send_to(&bytes, p.b_addr).await.unwrap();
    // The genuine one from A's address still gets through afterwards (not burnt).
    p.a.send_raw(B, PATH, &bytes).await.unwrap();
    assert_eq!(recv(&mut p.b_inbox).await.body, hb(1));
    only(p.b.counters(), |c| c.spoofed_source);
    assert_ne!(intruder.local_addr().unwrap(), p.a_addr);
}

#[tokio::test]
async fn unknown_sender_and_wrong_cluster_are_counted() {
    let mut p = pair(key(), key(), 1).await;
    let cluster = packet::cluster_id(CLUSTER);
    let stranger = Header { cluster_id: cluster, from: ServerId(9), path: PATH, boot_id: 1, seq: 0 };
    p.a.send_raw(B, PATH, &packet::encode(&key(), &stranger, &hb_payload(1)).unwrap()).await.unwrap();
    let other = Header { cluster_id: packet::cluster_id("other"), from: A, path: PATH, boot_id: 1, seq: 0 };
    p.a.send_raw(B, PATH, &packet::encode(&key(), &other, &hb_payload(1)).unwrap()).await.unwrap();
    let wrong_path = Header { cluster_id: cluster, from: A, path: PathId(5), boot_id: 1, seq: 0 };
    p.a.send_raw(B, PATH, &packet::encode(&key(), &wrong_path, &hb_payload(1)).unwrap()).await.unwrap();
    p.a.send(B, PATH, &hb(2)).await.unwrap();
    assert_eq!(recv(&mut p.b_inbox).await.body, hb(2));
    let c = p.b.counters();
    assert_eq!((c.unknown_sender, c.wrong_cluster, c.wrong_path, c.dropped()), (1, 1, 1, 3), "{c:?}");
}

#[tokio::test]
async fn accept_judges_a_datagram_without_the_network() {
    let p = pair(key(), key(), 1).await;
    let mut inbox = p.b_inbox;
    let bytes = p.a.seal(PATH, &hb_payload(1)).unwrap();
    let d = Datagram { bytes, source: p.a_addr, local: p.b_addr };
    assert!(inbox.accept(&d));
    assert_eq!(inbox.next_ready().map(|i| i.body), Some(hb(1)));
    assert!(!inbox.accept(&d));
    assert_eq!(inbox.next_ready(), None);
    assert_eq!(inbox.counters().replayed, 1);
}

#[tokio::test]
async fn messages_arrive_once_and_in_order_over_a_lossy_path() {
    let (a_addr, b_addr) = (free_addr(), free_addr());
    let link = LossyLink::start(a_addr, b_addr, 50, 7).await;
    let (a, a_inbox) =
        bind(topology(A, &[(PATH, 1, a_addr, link.to_b)], FAST_RETRANSMIT_MS), key(), A_BOOT).await.unwrap();
    let (b, b_inbox) = bind(topology(B, &[(PATH, 1, b_addr, link.to_a)], FAST_RETRANSMIT_MS), key(), 2).await.unwrap();
    let _a_rx = drive(a_inbox);
    let mut b_rx = drive(b_inbox);
    const N: u64 = 100;
    for n in 0..N {
        a.send_message(B, Box::new(numbered(n))).await.unwrap();
    }
    let got = messages(&mut b_rx, N as usize).await;
    let expected: Vec<(PathId, Message)> = (0..N).map(|n| (PATH, numbered(n))).collect();
    assert_eq!(got, expected);
    // Every message acknowledged in the end, and none came twice.
    wait_until("A's queue is empty", || a.unacked(B) == 0).await;
    sleep(Duration::from_millis(5 * FAST_RETRANSMIT_MS)).await;
    assert!(b_rx.try_recv().is_err(), "a message was delivered twice");
    let (ac, bc) = (a.counters(), b.counters());
    assert!(link.dropped.load(Ordering::Relaxed) > 0 && link.forwarded.load(Ordering::Relaxed) > 0);
    assert!(ac.retransmitted > 0, "{ac:?}");
    assert_eq!((ac.abandoned, ac.unacked_overflow, ac.dropped()), (0, 0, 0), "{ac:?}");
    assert!(ac.acks_received > 0 && bc.acks_sent >= ac.acks_received, "{ac:?} {bc:?}");
    assert!(bc.out_of_order_buffered > 0, "with half the datagrams lost some arrive ahead of a gap: {bc:?}");
    assert_eq!((bc.skipped, bc.out_of_order_overflow, bc.dropped()), (0, 0, 0), "{bc:?}");
}

#[tokio::test]
async fn a_cut_path_does_not_hold_messages_up() {
    // Path 0 (priority 1, preferred) goes through a relay that drops everything; path 1
    // (priority 2) is direct.
    let (a0, b0, a1, b1) = (free_addr(), free_addr(), free_addr(), free_addr());
    let cut = LossyLink::start(a0, b0, 100, 1).await;
    let retransmit_ms = 200;
    let a_paths = [(PATH, 1, a0, cut.to_b), (PATH2, 2, a1, b1)];
    let b_paths = [(PATH, 1, b0, cut.to_a), (PATH2, 2, b1, a1)];
    let (a, a_inbox) = bind(topology(A, &a_paths, retransmit_ms), key(), A_BOOT).await.unwrap();
    let (_b, b_inbox) = bind(topology(B, &b_paths, retransmit_ms), key(), 2).await.unwrap();
    let _a_rx = drive(a_inbox);
    let mut b_rx = drive(b_inbox);
    // Nothing heard from B yet: the first copies go on the preferred, cut, path.
    assert_eq!(a.preferred_path(B), Some(PATH));
    for n in 0..10 {
        a.send_message(B, Box::new(numbered(n))).await.unwrap();
    }
    let got = messages(&mut b_rx, 10).await;
    assert_eq!(got, (0..10).map(|n| (PATH2, numbered(n))).collect::<Vec<_>>(), "all by retransmission on path 1");
    wait_until("A's queue is empty", || a.unacked(B) == 0).await;
    assert!(a.counters().retransmitted >= 10);
    // A has now heard B on path 1 only (its acks): the first copy goes there.
    assert_eq!(a.preferred_path(B), Some(PATH2));
    let before = a.counters().retransmitted;
    a.send_message(B, Box::new(numbered(10))).await.unwrap();
    assert_eq!(messages(&mut b_rx, 1).await, vec![(PATH2, numbered(10))]);
    assert_eq!(a.counters().retransmitted, before, "the first copy was enough");
    assert!(cut.dropped.load(Ordering::Relaxed) >= 10);
}

/// A heartbeat from B, received by A: A has judged what B sent before it.
async fn judged(b: &Transport, a_rx: &mut mpsc::UnboundedReceiver<Inbound>, marker: u64) {
    b.send(A, PATH, &hb(marker)).await.unwrap();
    assert_eq!(next(a_rx).await.body, hb(marker));
}

#[tokio::test]
async fn forged_replayed_and_stale_acks_release_nothing() {
    let a_addr = free_addr();
    let b_addr = free_addr();
    let (a, a_inbox) =
        bind(topology(A, &[(PATH, 1, a_addr, b_addr)], SLOW_RETRANSMIT_MS), key(), A_BOOT).await.unwrap();
    let (b, _b_inbox) = bind(topology(B, &[(PATH, 1, b_addr, a_addr)], SLOW_RETRANSMIT_MS), key(), 2).await.unwrap();
    let mut a_rx = drive(a_inbox);
    // B's inbox is not read: the message is never acknowledged by B itself.
    a.send_message(B, Box::new(numbered(0))).await.unwrap();
    assert_eq!(a.unacked(B), 1);
    let cluster = packet::cluster_id(CLUSTER);
    let ack = |boot_id| Payload::Ack(Ack { boot_id, cumulative: 1 });

    // Forged: tagged under another key.
    let forged_header = Header { cluster_id: cluster, from: B, path: PATH, boot_id: 2, seq: 1_000 };
    let forged = packet::encode(&Key::from_secret(b"attacker"), &forged_header, &ack(A_BOOT)).unwrap();
    b.send_raw(A, PATH, &forged).await.unwrap();
    judged(&b, &mut a_rx, 1).await;
    assert_eq!((a.unacked(B), a.counters().bad_tag, a.counters().acks_received), (1, 1, 0));

    // Genuine but for an earlier boot of A: accepted, releases nothing.
    b.send_raw(A, PATH, &b.seal(PATH, &ack(A_BOOT + 1)).unwrap()).await.unwrap();
    judged(&b, &mut a_rx, 2).await;
    assert_eq!((a.unacked(B), a.counters().acks_received), (1, 1));

    // Genuine: releases the message. Replayed: rejected and counted.
    let genuine = b.seal(PATH, &ack(A_BOOT)).unwrap();
    b.send_raw(A, PATH, &genuine).await.unwrap();
    judged(&b, &mut a_rx, 3).await;
    assert_eq!((a.unacked(B), a.counters().acks_received), (0, 2));
    a.send_message(B, Box::new(numbered(1))).await.unwrap();
    b.send_raw(A, PATH, &genuine).await.unwrap();
    judged(&b, &mut a_rx, 4).await;
    let c = a.counters();
    assert_eq!((a.unacked(B), c.acks_received, c.replayed, c.dropped()), (1, 2, 1, 2), "{c:?}");
}

#[tokio::test]
async fn a_new_boot_of_the_sender_starts_a_new_channel() {
    let mut p = pair(key(), key(), 1).await;
    let data = |boot_id, packet_seq, seq, n| {
        let h = Header { cluster_id: packet::cluster_id(CLUSTER), from: A, path: PATH, boot_id, seq: packet_seq };
        let m = Payload::Message(Sequenced { seq, low_water: 0, msg: Box::new(numbered(n)) });
        packet::encode(&key(), &h, &m).unwrap()
    };
    // Boot 10 sends messages 0 and 2 (1 is lost); boot 11 starts again from 0.
    p.a.send_raw(B, PATH, &data(10, 0, 0, 100)).await.unwrap();
    p.a.send_raw(B, PATH, &data(10, 1, 2, 102)).await.unwrap();
    p.a.send_raw(B, PATH, &data(11, 0, 0, 200)).await.unwrap();
    p.a.send_raw(B, PATH, &data(11, 1, 0, 200)).await.unwrap(); // a second copy
    p.a.send_raw(B, PATH, &data(11, 2, 1, 201)).await.unwrap();
    for n in [100, 200, 201] {
        assert_eq!(recv(&mut p.b_inbox).await.body, Body::Message(Box::new(numbered(n))));
    }
    let c = p.b.counters();
    assert_eq!((c.accepted, c.out_of_order_buffered, c.duplicate, c.acks_sent), (5, 1, 1, 5), "{c:?}");
}

#[tokio::test]
async fn messages_without_a_path_or_too_large_are_refused() {
    let p = pair(key(), key(), 1).await;
    assert!(matches!(p.a.send_message(ServerId(7), Box::new(numbered(0))).await, Err(SendError::NoPath(_))));
    let groups = (0..40_000u16).map(GroupId).collect();
    let huge = Message::Departure { clean: true, power_off: false, groups };
    assert!(matches!(p.a.send_message(B, Box::new(huge)).await, Err(SendError::Encode(_))));
    assert_eq!((p.a.unacked(B), p.a.counters().sent), (0, 0));
}
