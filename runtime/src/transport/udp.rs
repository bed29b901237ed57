//! The UDP endpoint of the cluster transport.
//!
//! In: a [`Topology`] (this server's address on each `lan` heartbeat path and every
//! peer's, at `cluster.port`), the cluster [`Key`] and this daemon start's boot id;
//! then `(to, path, Body)` to [`Transport::send`], and datagrams from the network.
//! Out: [`Inbox::recv`] yields accepted `(from, path, Body)`; everything else is dropped
//! and counted ([`Transport::counters`]).
//!
//! One socket per distinct local address (paths on the same network share it). A
//! reader task per socket forwards raw datagrams to the [`Inbox`], which judges them
//! in this order, counting the first failure: decode (size, structure, version,
//! cluster, tag, body) → the path is a lan path on the socket it arrived on
//! (`wrong_path`) → the claimed sender is a peer of that path (`unknown_sender`) → the
//! source address is the claimed sender's address on that path (`spoofed_source`) →
//! replay guard (`replayed`). The sender keeps one sequence counter for all paths.

use super::counters::{Counters, DropReason};
use super::packet::{self, Body, EncodeError, Header, Key, MAX_PACKET_BYTES};
use super::replay::ReplayGuard;
use baton_core::config::{Config, HeartbeatKind, PathId, ServerId};
use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Datagrams buffered between the reader tasks and the inbox.
const INBOX_DATAGRAMS: usize = 1024;
/// Pause after a socket receive error, so a persistent error cannot spin.
const RECEIVE_ERROR_PAUSE_MS: u64 = 10;

/// The addresses of one `lan` path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathAddrs {
    /// Where this server binds for the path.
    pub local: SocketAddr,
    /// Every other server of the path, at its address on the path's network.
    pub peers: BTreeMap<ServerId, SocketAddr>,
}

/// Who this server is and where everyone is, on each `lan` path it is on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topology {
    pub me: ServerId,
    pub cluster_id: u32,
    pub paths: BTreeMap<PathId, PathAddrs>,
}

fn parse_address(text: &str) -> Result<IpAddr, String> {
    let ip = text.split_once('/').map_or(text, |(ip, _)| ip);
    ip.parse().map_err(|_| format!("\"{text}\" is not an IP address"))
}

impl Topology {
    /// The lan paths of `config` that `me` is on, at `cluster.port`.
    pub fn from_config(config: &Config, me: ServerId) -> Result<Topology, String> {
        let port = config.cluster.port;
        let address = |server: ServerId, network: &str| -> Result<SocketAddr, String> {
            let s = config.servers.get(server.idx()).ok_or_else(|| format!("no server {}", server.0))?;
            let text = s
                .addresses
                .get(network)
                .ok_or_else(|| format!("server {} has no address on network {network}", s.name))?;
            Ok(SocketAddr::new(parse_address(text)?, port))
        };
        let mut paths = BTreeMap::new();
        for (i, hb) in config.heartbeats.iter().enumerate() {
            let network = match &hb.kind {
                HeartbeatKind::Lan { network } => network,
                HeartbeatKind::Disk { .. } => continue,
            };
            if !hb.servers.contains(&me) {
                continue;
            }
            let path = PathId(u16::try_from(i).map_err(|_| "too many heartbeat paths".to_string())?);
            let local = address(me, network)?;
            let mut peers = BTreeMap::new();
            for &s in hb.servers.iter().filter(|&&s| s != me) {
                peers.insert(s, address(s, network)?);
            }
            paths.insert(path, PathAddrs { local, peers });
        }
        Ok(Topology { me, cluster_id: packet::cluster_id(&config.cluster.name), paths })
    }
}

/// What the inbox hands on: an authenticated, fresh packet from a known peer.
#[derive(Clone, Debug, PartialEq)]
pub struct Inbound {
    pub from: ServerId,
    pub path: PathId,
    pub body: Body,
}

/// Why a send did not happen.
#[derive(Debug)]
pub enum SendError {
    /// This server is not on that lan path.
    UnknownPath(PathId),
    /// The server is not a peer on that path.
    UnknownPeer(ServerId, PathId),
    Encode(EncodeError),
    Io(io::Error),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::UnknownPath(p) => write!(f, "not on lan path {}", p.0),
            SendError::UnknownPeer(s, p) => write!(f, "server {} is not a peer on path {}", s.0, p.0),
            SendError::Encode(e) => write!(f, "{e}"),
            SendError::Io(e) => write!(f, "send failed: {e}"),
        }
    }
}

/// A received datagram, before judgement.
#[derive(Clone, Debug)]
pub struct Datagram {
    pub bytes: Vec<u8>,
    pub source: SocketAddr,
    /// The local address of the socket it arrived on.
    pub local: SocketAddr,
}

struct Shared {
    topology: Topology,
    key: Key,
    boot_id: u64,
    next_seq: AtomicU64,
    sockets: BTreeMap<SocketAddr, Arc<UdpSocket>>,
    counters: Mutex<Counters>,
}

impl Shared {
    fn counters(&self) -> MutexGuard<'_, Counters> {
        // Counters stay meaningful even if a holder panicked: never propagate poison.
        self.counters.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The sending half (cheap to clone).
#[derive(Clone)]
pub struct Transport {
    shared: Arc<Shared>,
}

/// The receiving half: owns the replay state; ends the reader tasks when dropped.
pub struct Inbox {
    shared: Arc<Shared>,
    rx: mpsc::Receiver<Datagram>,
    guard: ReplayGuard,
    readers: Vec<JoinHandle<()>>,
}

/// Bind a socket per distinct local address of `topology` and start reading.
/// Must be called inside a tokio runtime.
pub async fn bind(topology: Topology, key: Key, boot_id: u64) -> io::Result<(Transport, Inbox)> {
    let mut sockets = BTreeMap::new();
    for path in topology.paths.values() {
        if let Entry::Vacant(slot) = sockets.entry(path.local) {
            slot.insert(Arc::new(UdpSocket::bind(path.local).await?));
        }
    }
    let shared = Arc::new(Shared {
        topology,
        key,
        boot_id,
        next_seq: AtomicU64::new(0),
        sockets,
        counters: Mutex::new(Counters::default()),
    });
    let (tx, rx) = mpsc::channel(INBOX_DATAGRAMS);
    let readers = shared
        .sockets
        .iter()
        .map(|(&local, socket)| tokio::spawn(read_loop(Arc::clone(&shared), local, Arc::clone(socket), tx.clone())))
        .collect();
    Ok((Transport { shared: Arc::clone(&shared) }, Inbox { shared, rx, guard: ReplayGuard::new(), readers }))
}

async fn read_loop(shared: Arc<Shared>, local: SocketAddr, socket: Arc<UdpSocket>, tx: mpsc::Sender<Datagram>) {
    // One byte more than accepted, so an oversized datagram shows as such.
    let mut buf = vec![0u8; MAX_PACKET_BYTES + 1];
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((n, source)) => {
                let datagram = Datagram { bytes: buf[..n].to_vec(), source, local };
                if tx.send(datagram).await.is_err() {
                    return; // the inbox is gone
                }
            }
            Err(_) => {
                shared.counters().receive_errors += 1;
                tokio::time::sleep(Duration::from_millis(RECEIVE_ERROR_PAUSE_MS)).await;
            }
        }
    }
}

impl Transport {
    pub fn me(&self) -> ServerId {
        self.shared.topology.me
    }
    pub fn boot_id(&self) -> u64 {
        self.shared.boot_id
    }
    pub fn topology(&self) -> &Topology {
        &self.shared.topology
    }
    /// A snapshot of the counters (sent and received).
    pub fn counters(&self) -> Counters {
        *self.shared.counters()
    }
    /// The addresses actually bound (differs from the topology for port 0).
    pub fn local_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        self.shared.sockets.values().map(|s| s.local_addr()).collect()
    }

    /// The packet for `body` on `path`, with the next sequence number of this boot.
    pub fn seal(&self, path: PathId, body: &Body) -> Result<Vec<u8>, EncodeError> {
        let header = Header {
            cluster_id: self.shared.topology.cluster_id,
            from: self.shared.topology.me,
            path,
            boot_id: self.shared.boot_id,
            seq: self.shared.next_seq.fetch_add(1, Ordering::Relaxed),
        };
        packet::encode(&self.shared.key, &header, body)
    }

    /// Send `body` to `to` on `path`. Fire and forget: retransmission of messages is
    /// the caller's business.
    pub async fn send(&self, to: ServerId, path: PathId, body: &Body) -> Result<(), SendError> {
        let bytes = self.seal(path, body).map_err(SendError::Encode)?;
        self.send_raw(to, path, &bytes).await
    }

    /// Send bytes as they are to `to` on `path`, from this server's socket of that path
    /// (diagnostics and tests: a packet re-sent this way is a replay).
    pub async fn send_raw(&self, to: ServerId, path: PathId, bytes: &[u8]) -> Result<(), SendError> {
        let addrs = self.shared.topology.paths.get(&path).ok_or(SendError::UnknownPath(path))?;
        let dest = *addrs.peers.get(&to).ok_or(SendError::UnknownPeer(to, path))?;
        let socket = self.shared.sockets.get(&addrs.local).ok_or(SendError::UnknownPath(path))?;
        match socket.send_to(bytes, dest).await {
            Ok(_) => {
                self.shared.counters().sent += 1;
                Ok(())
            }
            Err(e) => {
                self.shared.counters().send_errors += 1;
                Err(SendError::Io(e))
            }
        }
    }
}

impl Inbox {
    /// The next accepted packet; dropped datagrams are counted and skipped. `None` only
    /// if every reader task has ended.
    pub async fn recv(&mut self) -> Option<Inbound> {
        while let Some(datagram) = self.rx.recv().await {
            if let Some(inbound) = self.accept(&datagram) {
                return Some(inbound);
            }
        }
        None
    }

    /// Judge one datagram: the accepted packet, or `None` (counted).
    pub fn accept(&mut self, datagram: &Datagram) -> Option<Inbound> {
        let verdict = self.judge(datagram);
        let mut counters = self.shared.counters();
        match verdict {
            Ok(inbound) => {
                counters.accepted += 1;
                Some(inbound)
            }
            Err(why) => {
                counters.count(why);
                None
            }
        }
    }

    fn judge(&mut self, d: &Datagram) -> Result<Inbound, DropReason> {
        let shared = &self.shared;
        let p =
            packet::decode(&shared.key, shared.topology.cluster_id, &d.bytes).map_err(|r| DropReason::of_reject(&r))?;
        let h = p.header;
        let addrs = shared.topology.paths.get(&h.path).ok_or(DropReason::WrongPath)?;
        if addrs.local != d.local {
            return Err(DropReason::WrongPath);
        }
        let expected = addrs.peers.get(&h.from).ok_or(DropReason::UnknownSender)?;
        if *expected != d.source {
            return Err(DropReason::SpoofedSource);
        }
        if let Some(why) = DropReason::of_verdict(self.guard.check(h.from, h.boot_id, h.seq)) {
            return Err(why);
        }
        Ok(Inbound { from: h.from, path: h.path, body: p.body })
    }

    /// A snapshot of the counters (same as the transport's).
    pub fn counters(&self) -> Counters {
        *self.shared.counters()
    }
}

impl Drop for Inbox {
    fn drop(&mut self) {
        for reader in &self.readers {
            reader.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topology_from_config() {
        let text = include_str!("../../../examples/configs/3node-hybrid.toml");
        let config = baton_core::config::parse("3node-hybrid.toml", text).unwrap().config;
        let port = config.cluster.port;
        let t = Topology::from_config(&config, ServerId(1)).unwrap();
        assert_eq!(t.me, ServerId(1));
        assert_eq!(t.cluster_id, packet::cluster_id("cluster3"));
        let lan = config.heartbeats.iter().filter(|h| matches!(h.kind, HeartbeatKind::Lan { .. })).count();
        assert_eq!(t.paths.len(), lan);
        let first = &t.paths[&PathId(0)];
        assert_eq!(first.local, SocketAddr::new("192.168.0.2".parse().unwrap(), port));
        assert_eq!(first.peers[&ServerId(0)], SocketAddr::new("192.168.0.1".parse().unwrap(), port));
        assert!(!first.peers.contains_key(&ServerId(1)));
    }
}
