//! The UDP transport over real loopback sockets: two endpoints (servers 0 and 1) on
//! 127.0.0.1 at different ports, one lan path. Every receive is bounded by a timeout;
//! a rejection is observed through the counters and through the next good packet
//! being the one received (datagrams on loopback keep their order).

use baton_core::config::{GroupId, PathId, ServerId};
use baton_core::io::{Heartbeat, Message, ServerState};
use baton_runtime::transport::packet::{self, Header};
use baton_runtime::transport::udp::{Datagram, PathAddrs};
use baton_runtime::transport::{bind, Body, Counters, Inbound, Inbox, Key, Topology, Transport};
use std::collections::BTreeMap;
use std::net::{SocketAddr, UdpSocket as StdUdpSocket};
use std::time::Duration;
use tokio::time::timeout;

const A: ServerId = ServerId(0);
const B: ServerId = ServerId(1);
const PATH: PathId = PathId(0);
const CLUSTER: &str = "test-cluster";
const RECV_TIMEOUT: Duration = Duration::from_secs(5);

fn free_addr() -> SocketAddr {
    let s = StdUdpSocket::bind("127.0.0.1:0").unwrap();
    s.local_addr().unwrap()
}

fn topology(me: ServerId, addrs: &[(ServerId, SocketAddr)]) -> Topology {
    let local = addrs.iter().find(|(s, _)| *s == me).unwrap().1;
    let peers: BTreeMap<_, _> = addrs.iter().filter(|(s, _)| *s != me).copied().collect();
    let paths = BTreeMap::from([(PATH, PathAddrs { local, peers })]);
    Topology { me, cluster_id: packet::cluster_id(CLUSTER), paths }
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
    let addrs = [(A, a_addr), (B, b_addr)];
    let (a, a_inbox) = bind(topology(A, &addrs), a_key, a_boot).await.unwrap();
    let (b, b_inbox) = bind(topology(B, &addrs), b_key, 77).await.unwrap();
    Pair { a, b, b_inbox, _a_inbox: a_inbox, a_addr, b_addr }
}

fn hb(version: u64) -> Body {
    Body::Heartbeat(Heartbeat { run: 3, state: ServerState::Online, version })
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

#[tokio::test]
async fn heartbeat_and_message_round_trip() {
    let mut p = pair(key(), key(), 1).await;
    p.a.send(B, PATH, &hb(5)).await.unwrap();
    assert_eq!(recv(&mut p.b_inbox).await, Inbound { from: A, path: PATH, body: hb(5) });
    let msg = Body::Message(Box::new(Message::Departure { clean: true, power_off: false, groups: vec![GroupId(2)] }));
    p.a.send(B, PATH, &msg).await.unwrap();
    assert_eq!(recv(&mut p.b_inbox).await, Inbound { from: A, path: PATH, body: msg });
    let c = p.b.counters();
    assert_eq!((c.accepted, c.dropped()), (2, 0));
    assert_eq!(p.a.counters().sent, 2);
    // And back the other way.
    let mut a_inbox = p._a_inbox;
    p.b.send(A, PATH, &hb(9)).await.unwrap();
    assert_eq!(recv(&mut a_inbox).await, Inbound { from: B, path: PATH, body: hb(9) });
}

#[tokio::test]
async fn forged_packet_is_rejected_and_counted() {
    let mut p = pair(Key::from_secret(b"attacker"), key(), 1).await;
    p.a.send(B, PATH, &hb(1)).await.unwrap();
    // A well-keyed packet after it, to know the forged one has been judged.
    let good = packet::encode(
        &key(),
        &Header { cluster_id: packet::cluster_id(CLUSTER), from: A, path: PATH, boot_id: 1, seq: 100 },
        &hb(2),
    )
    .unwrap();
    p.a.send_raw(B, PATH, &good).await.unwrap();
    assert_eq!(recv(&mut p.b_inbox).await.body, hb(2));
    only(p.b.counters(), |c| c.bad_tag);
}

#[tokio::test]
async fn replayed_packet_is_rejected_the_second_time() {
    let mut p = pair(key(), key(), 1).await;
    let bytes = p.a.seal(PATH, &hb(1)).unwrap();
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
    let first = p.a.seal(PATH, &hb(1)).unwrap();
    let second = p.a.seal(PATH, &hb(2)).unwrap();
    p.a.send_raw(B, PATH, &second).await.unwrap();
    p.a.send_raw(B, PATH, &first).await.unwrap();
    assert_eq!(recv(&mut p.b_inbox).await.body, hb(2));
    assert_eq!(recv(&mut p.b_inbox).await.body, hb(1));
    assert_eq!(p.b.counters().dropped(), 0);
}

#[tokio::test]
async fn garbage_is_malformed_and_receiver_keeps_working() {
    let mut p = pair(key(), key(), 1).await;
    let good = p.a.seal(PATH, &hb(1)).unwrap();
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
        packet::encode(&key(), &h, &hb(seq)).unwrap()
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
    let bytes = p.a.seal(PATH, &hb(1)).unwrap();
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
    p.a.send_raw(B, PATH, &packet::encode(&key(), &stranger, &hb(1)).unwrap()).await.unwrap();
    let other = Header { cluster_id: packet::cluster_id("other"), from: A, path: PATH, boot_id: 1, seq: 0 };
    p.a.send_raw(B, PATH, &packet::encode(&key(), &other, &hb(1)).unwrap()).await.unwrap();
    let wrong_path = Header { cluster_id: cluster, from: A, path: PathId(5), boot_id: 1, seq: 0 };
    p.a.send_raw(B, PATH, &packet::encode(&key(), &wrong_path, &hb(1)).unwrap()).await.unwrap();
    p.a.send(B, PATH, &hb(2)).await.unwrap();
    assert_eq!(recv(&mut p.b_inbox).await.body, hb(2));
    let c = p.b.counters();
    assert_eq!((c.unknown_sender, c.wrong_cluster, c.wrong_path, c.dropped()), (1, 1, 1, 3), "{c:?}");
}

#[tokio::test]
async fn accept_judges_a_datagram_without_the_network() {
    let p = pair(key(), key(), 1).await;
    let mut inbox = p.b_inbox;
    let bytes = p.a.seal(PATH, &hb(1)).unwrap();
    let d = Datagram { bytes, source: p.a_addr, local: p.b_addr };
    assert_eq!(inbox.accept(&d).map(|i| i.body), Some(hb(1)));
    assert_eq!(inbox.accept(&d), None);
    assert_eq!(inbox.counters().replayed, 1);
}
