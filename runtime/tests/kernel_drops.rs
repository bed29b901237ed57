//! The kernel's side of the transport on real loopback UDP (issue 14): the receive
//! buffer is sized for the heartbeat rate (at least 1 MiB, where the default is about
//! 208 KiB), and datagrams the kernel drops because it is full, before the daemon reads
//! them, are counted as `kernel_drops`, apart from the daemon's own drop counters.

use baton_core::config::{PathId, ServerId};
use baton_runtime::transport::kernel::{receive_buffer_bytes, MIN_RECEIVE_BUFFER_BYTES};
use baton_runtime::transport::packet;
use baton_runtime::transport::udp::PathAddrs;
use baton_runtime::transport::{bind, Key, Topology};
use std::collections::BTreeMap;
use std::net::{SocketAddr, UdpSocket};

fn free_addr() -> SocketAddr {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

#[tokio::test]
async fn a_flood_the_reader_cannot_keep_up_with_shows_as_kernel_drops() {
    let (local, peer) = (free_addr(), free_addr());
    let topology = Topology {
        me: ServerId(0),
        cluster_id: packet::cluster_id("kernel-drops"),
        paths: BTreeMap::from([(
            PathId(0),
            PathAddrs { local, peers: BTreeMap::from([(ServerId(1), peer)]), priority: 1 },
        )]),
        heartbeat_timeout_ms: 30_000,
        retransmit_interval_ms: 1_000,
    };
    assert_eq!(receive_buffer_bytes(&topology), MIN_RECEIVE_BUFFER_BYTES, "a small cluster asks for the floor");
    let (transport, _inbox) = bind(topology, Key::from_secret(b"k"), 1).await.unwrap();
    let before = transport.counters();
    // The kernel reports twice the size asked for (its bookkeeping); without sizing, the
    // default (net.core.rmem_default) is about 208 KiB.
    assert!(before.receive_buffer_bytes >= MIN_RECEIVE_BUFFER_BYTES as u64, "{before:?}");
    assert_eq!(before.kernel_drops, 0, "{before:?}");
    // This test's runtime has one thread, and the flood is sent without yielding to it:
    // the transport's read task cannot run, so the buffer fills and the kernel drops.
    let junk = UdpSocket::bind("127.0.0.1:0").unwrap();
    let datagram = vec![0x5a; 1200];
    let total = 8 * before.receive_buffer_bytes as usize;
    for _ in 0..total / datagram.len() {
        junk.send_to(&datagram, local).unwrap();
    }
    let after = transport.counters();
    assert!(after.kernel_drops > 0, "the kernel's drops must show: {after:?}");
    assert_eq!(after.dropped(), 0, "nothing read yet, so nothing dropped by the daemon: {after:?}");
}
