//! Sequence arithmetic on authenticated input (issue 14 §8), over real loopback UDP: a
//! peer holding the key sends a message packet with a low-water mark of 2^64 − 1; the
//! receiver drops it (`bad_sequence`), its `skipped` counter stays 0, and the sender's
//! real messages that follow are still delivered in order. Every wait is bounded.

#![cfg(not(madsim))]

use baton_core::config::{PathId, ServerId};
use baton_core::io::{Message, ServerState};
use baton_runtime::transport::packet::{self, Sequenced};
use baton_runtime::transport::udp::PathAddrs;
use baton_runtime::transport::{bind, Body, Key, Payload, Topology};
use std::collections::BTreeMap;
use std::net::{SocketAddr, UdpSocket as StdUdpSocket};
use std::time::Duration;
use tokio::time::timeout;

const A: ServerId = ServerId(0);
const B: ServerId = ServerId(1);
const PATH: PathId = PathId(0);

fn free_addr() -> SocketAddr {
    let s = StdUdpSocket::bind("127.0.0.1:0").expect("bind");
    s.local_addr().expect("addr")
}

fn topology(me: ServerId, local: SocketAddr, peer: SocketAddr) -> Topology {
    let other = if me == A { B } else { A };
    let path = PathAddrs { local, peers: BTreeMap::from([(other, peer)]), priority: 1 };
    Topology {
        me,
        cluster_id: packet::cluster_id("bounds"),
        paths: BTreeMap::from([(PATH, path)]),
        heartbeat_timeout_ms: 30_000,
        retransmit_interval_ms: 10_000,
    }
}

fn hello(n: u64) -> Message {
    Message::Hello { run: 9, state: ServerState::Online, version: n }
}

#[tokio::test]
async fn a_low_water_mark_of_u64_max_is_dropped_and_pins_nothing() {
    let key = || Key::from_secret(b"cluster secret");
    let (a_addr, b_addr) = (free_addr(), free_addr());
    let (a, _a_inbox) = bind(topology(A, a_addr, b_addr), key(), 1).await.expect("bind A");
    let (b, mut b_inbox) = bind(topology(B, b_addr, a_addr), key(), 2).await.expect("bind B");
    a.send_message(B, Box::new(hello(0))).await.expect("send");
    let hostile = Payload::Message(Sequenced { seq: u64::MAX, low_water: u64::MAX, msg: Box::new(hello(666)) });
    let bytes = a.seal(PATH, &hostile).expect("seal");
    a.send_raw(B, PATH, &bytes).await.expect("send raw");
    a.send_message(B, Box::new(hello(1))).await.expect("send");
    let mut got = Vec::new();
    while got.len() < 2 {
        let inbound = timeout(Duration::from_secs(5), b_inbox.recv()).await.expect("receive timed out").expect("inbox");
        if let Body::Message(m) = inbound.body {
            got.push(*m);
        }
    }
    assert_eq!(got, vec![hello(0), hello(1)]);
    let c = b.counters();
    assert_eq!((c.skipped, c.bad_sequence, c.accepted), (0, 1, 3), "{c:?}");
}
