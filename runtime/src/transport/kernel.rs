//! What the kernel does with the transport's sockets before the daemon sees a datagram:
//! the receive buffer's size, and the datagrams it dropped because that buffer was full.
//!
//! In: a bound UDP socket and the topology (peers, heartbeat interval and timeout). Out:
//! the receive buffer set ([`size_receive_buffer`]) and the kernel's per-socket drop
//! counter ([`kernel_drops`], the `drops` column of `/proc/net/udp{,6}`), which status
//! shows next to the daemon's own drop counters.
//!
//! Why: under a flood of junk datagrams (issue 14: ~9% of 30,000), the default buffer
//! (net.core.rmem_default, ~208 KiB) fills faster than the read task empties it, and the
//! kernel drops datagrams, heartbeats among them, without the daemon counting anything.

use super::udp::Topology;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::MetadataExt;

/// The smallest receive buffer asked for (bytes).
pub const MIN_RECEIVE_BUFFER_BYTES: usize = 1 << 20;
/// The largest receive buffer asked for (bytes).
pub const MAX_RECEIVE_BUFFER_BYTES: usize = 16 << 20;

/// What one datagram costs in the receive buffer: a heartbeat or a message fits in an
/// Ethernet frame, and the kernel charges its bookkeeping (the socket buffer) as well.
const DATAGRAM_COST_BYTES: u64 = 2048;

/// The receive buffer for a topology: every datagram the peers may send on the socket's
/// paths in one `heartbeat_timeout` (heartbeats every interval, plus as many messages
/// and acknowledgements), so that a reader held up for as long as the core waits before
/// declaring a peer down loses nothing; bounded to 1–16 MiB (the floor leaves room for
/// junk: a flood is not bounded by the heartbeat rate).
pub fn receive_buffer_bytes(topology: &Topology) -> usize {
    let interval_ms = topology.retransmit_interval_ms.max(1);
    let per_path_and_timeout = (topology.heartbeat_timeout_ms / interval_ms).saturating_add(1).saturating_mul(3);
    let peers = topology.paths.len() as u64;
    let bytes = per_path_and_timeout.saturating_mul(peers).saturating_mul(DATAGRAM_COST_BYTES);
    usize::try_from(bytes).unwrap_or(usize::MAX).clamp(MIN_RECEIVE_BUFFER_BYTES, MAX_RECEIVE_BUFFER_BYTES)
}

/// Sets the socket's receive buffer to `bytes`, beyond net.core.rmem_max when allowed
/// (SO_RCVBUFFORCE, root), else as far as rmem_max lets (SO_RCVBUF). Returns the size
/// the kernel reports (twice the one asked for: it counts its bookkeeping), 0 if unknown.
pub fn size_receive_buffer(socket: impl AsFd, bytes: usize) -> usize {
    let fd = socket.as_fd();
    if rustix::net::sockopt::set_socket_recv_buffer_size_force(fd, bytes).is_err() {
        let _ = rustix::net::sockopt::set_socket_recv_buffer_size(fd, bytes);
    }
    rustix::net::sockopt::socket_recv_buffer_size(fd).unwrap_or(0)
}

/// The datagrams the kernel dropped on this socket (receive buffer full, checksum…),
/// from `/proc/net/udp` and `/proc/net/udp6` by the socket's inode; `None` when they
/// cannot be read.
pub fn kernel_drops(socket: impl AsFd) -> Option<u64> {
    let inode = std::fs::metadata(format!("/proc/self/fd/{}", socket.as_fd().as_raw_fd())).ok()?.ino();
    ["/proc/net/udp", "/proc/net/udp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .find_map(|text| drops_of(&text, inode))
}

/// The `drops` column of the row of `inode` in a `/proc/net/udp` table.
fn drops_of(table: &str, inode: u64) -> Option<u64> {
    table.lines().skip(1).find_map(|row| {
        // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
        let fields: Vec<&str> = row.split_whitespace().collect();
        match fields.as_slice() {
            [_, _, _, _, _, _, _, _, _, ino, _, _, drops, ..] if ino.parse() == Ok(inode) => drops.parse().ok(),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_drops_column_of_the_socket_s_row() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
             12: 0100007F:7148 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4242 2 0000000000000000 17\n\
             13: 0100007F:7149 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4243 2 0000000000000000 0\n";
        assert_eq!(drops_of(table, 4242), Some(17));
        assert_eq!(drops_of(table, 4243), Some(0));
        assert_eq!(drops_of(table, 1), None);
    }
}
