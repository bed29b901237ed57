//! The UDP endpoint of the cluster transport.
//!
//! In: a [`Topology`] (this server's address on each `lan` heartbeat path and every
//! peer's, at `cluster.port`; the paths' priorities; the heartbeat timeout and the
//! retransmission interval), the cluster [`Key`] and this daemon start's boot id; then
//! heartbeats to [`Transport::send`], cluster messages to [`Transport::send_message`],
//! and datagrams from the network. Out: [`Inbox::recv`] yields accepted heartbeats and,
//! exactly once and in order per sender boot, cluster messages; acknowledgements and
//! retransmissions go out on their own; everything dropped, sent again or given up is
//! counted ([`Transport::counters`]).
//!
//! One socket per distinct local address (paths on the same network share it). A
//! reader task per socket forwards raw datagrams to the [`Inbox`], which judges them
//! in this order, counting the first failure: decode (size, structure, version,
//! cluster, tag, body) → the path is a lan path on the socket it arrived on
//! (`wrong_path`) → the claimed sender is a peer of that path (`unknown_sender`) → the
//! source address is the claimed sender's address on that path (`spoofed_source`) →
//! replay guard (`replayed`). The sender keeps one packet sequence counter for all
//! paths and kinds, and seals each copy just before sending it, so that copies leave in
//! about the order of their sequence numbers (the replay window tolerates only 64 of
//! reordering).
//!
//! Cluster messages travel on the reliable channel (`reliable`, `docs/transport.md`):
//!
//! * [`Transport::send_message`] queues the message on the peer's channel and sends its
//!   first copy at once on the preferred path: of the lan paths shared with the peer,
//!   the one with the lowest `priority` value on which a packet from the peer was
//!   accepted within `heartbeat_timeout`; if none was, the lowest `priority` value
//!   (ties: file order).
//! * A task spawned by [`bind`] sends every unacknowledged message again each
//!   `retransmit_interval_ms` on *every* lan path shared with the peer, so that a cut
//!   path does not hold delivery up, and abandons it `heartbeat_timeout` after its first
//!   send. It ends once the transport and the inbox are gone.
//! * The inbox acknowledges every accepted message packet at once (cumulatively, on
//!   the path it came on), hands the messages on in order, and releases the sender's
//!   queue on every accepted acknowledgement.
//!
//! Only tokio's tasks, timers (`tokio::time::Instant`), channels and UDP sockets: no
//! thread and no std clock, so that the endpoint can run on a simulated runtime.

use super::counters::{Counters, DropReason};
use super::packet::{self, Ack, Body, EncodeError, Header, Key, MessageBytes, Packet, Payload, Sequenced};
use super::reliable::{self, Arrival, ReceiverState, SenderState, Settings};
use super::replay::ReplayGuard;
use baton_core::config::{Config, HeartbeatKind, PathId, ServerId};
use baton_core::io::Message;
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Datagrams buffered between the reader tasks and the inbox.
const INBOX_DATAGRAMS: usize = 1024;
/// Pause after a socket receive error, so a persistent error cannot spin.
const RECEIVE_ERROR_PAUSE_MS: u64 = 10;
/// The retransmission task sleeps at least this long between rounds, so messages that
/// fall due a few ms apart go in one round rather than one wake-up each.
const RETRANSMIT_BATCH_MS: u64 = 5;

/// The addresses of one `lan` path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathAddrs {
    /// Where this server binds for the path.
    pub local: SocketAddr,
    /// Every other server of the path, at its address on the path's network.
    pub peers: BTreeMap<ServerId, SocketAddr>,
    /// The heartbeat's `priority`: the lowest value is preferred for the first copy of
    /// a cluster message (B12).
    pub priority: u32,
}

/// Who this server is and where everyone is, on each `lan` path it is on; and the
/// timing of the reliable channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topology {
    pub me: ServerId,
    pub cluster_id: u32,
    pub paths: BTreeMap<PathId, PathAddrs>,
    /// `cluster.heartbeat_timeout`: a path on which the peer was not heard for this
    /// long is not preferred; a message unacknowledged this long after its first send is
    /// abandoned (the core has then declared the peer down, and repairs state when it is
    /// back).
    pub heartbeat_timeout_ms: u64,
    /// Unacknowledged messages go again this often ([`reliable::retransmit_interval_ms`]
    /// of `cluster.heartbeat_interval`).
    pub retransmit_interval_ms: u64,
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
            paths.insert(path, PathAddrs { local, peers, priority: hb.priority });
        }
        Ok(Topology {
            me,
            cluster_id: packet::cluster_id(&config.cluster.name),
            paths,
            heartbeat_timeout_ms: config.cluster.heartbeat_timeout_ms,
            retransmit_interval_ms: reliable::retransmit_interval_ms(config.cluster.heartbeat_interval_ms),
        })
    }

    /// Per peer, the lan paths shared with it, preferred first: lowest `priority` value,
    /// ties in file order.
    pub fn routes(&self) -> BTreeMap<ServerId, Vec<PathId>> {
        let mut routes: BTreeMap<ServerId, Vec<PathId>> = BTreeMap::new();
        for (&path, addrs) in &self.paths {
            for &peer in addrs.peers.keys() {
                routes.entry(peer).or_default().push(path);
            }
        }
        for paths in routes.values_mut() {
            paths.sort_by_key(|p| (self.paths.get(p).map_or(u32::MAX, |a| a.priority), *p));
        }
        routes
    }
}

/// The path for the first copy of a message: the first of `routes` (preferred first)
/// on which the peer was heard (`heard_ms`) at most `timeout_ms` before `now_ms`; if
/// none, the first. `None` if there is no route.
fn first_path(
    routes: &[PathId],
    heard_ms: impl Fn(PathId) -> Option<u64>,
    now_ms: u64,
    timeout_ms: u64,
) -> Option<PathId> {
    let working = |&p: &PathId| heard_ms(p).is_some_and(|at| now_ms.saturating_sub(at) <= timeout_ms);
    routes.iter().copied().find(working).or_else(|| routes.first().copied())
}

/// What the inbox hands on: an authenticated, fresh heartbeat, or the next cluster
/// message of a sender's channel (`path`: where its accepted copy came).
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
    /// This server shares no lan path with that server (a message cannot reach it).
    NoPath(ServerId),
    Encode(EncodeError),
    Io(io::Error),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::UnknownPath(p) => write!(f, "not on lan path {}", p.0),
            SendError::UnknownPeer(s, p) => write!(f, "server {} is not a peer on path {}", s.0, p.0),
            SendError::NoPath(s) => write!(f, "no lan path shared with server {}", s.0),
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

/// The sending side of the reliable channels, shared by the transport (new messages),
/// the retransmission task and the inbox (acknowledgements; where peers are heard).
#[derive(Default)]
struct Channels {
    senders: BTreeMap<ServerId, SenderState<Arc<MessageBytes>>>,
    /// When a packet from the peer was last accepted on the path (ms since `epoch`).
    heard_ms: BTreeMap<(ServerId, PathId), u64>,
}

/// A message copy due again, sealed just before it is sent.
struct Resend {
    to: ServerId,
    seq: u64,
    low_water: u64,
    msg: Arc<MessageBytes>,
}

struct Shared {
    topology: Topology,
    key: Key,
    boot_id: u64,
    next_seq: AtomicU64,
    sockets: BTreeMap<SocketAddr, Arc<UdpSocket>>,
    /// Never locked while `channels` is held by the same code path, nor the reverse.
    counters: Mutex<Counters>,
    /// Per peer, the lan paths shared with it, preferred first.
    routes: BTreeMap<ServerId, Vec<PathId>>,
    settings: Settings,
    /// The zero of the reliable channel's millisecond times.
    epoch: Instant,
    channels: Mutex<Channels>,
}

impl Shared {
    /// The daemon's counters, with what the kernel reports of the sockets (its drops,
    /// the receive buffers) read now.
    fn snapshot(&self) -> Counters {
        let c = *self.counters();
        #[cfg(not(madsim))]
        let c = self.sockets.values().fold(c, |mut c, socket| {
            c.kernel_drops = c.kernel_drops.saturating_add(super::kernel::kernel_drops(&**socket).unwrap_or(0));
            let buffer = rustix::net::sockopt::socket_recv_buffer_size(&**socket).unwrap_or(0);
            c.receive_buffer_bytes = c.receive_buffer_bytes.max(buffer as u64);
            c
        });
        c
    }

    fn counters(&self) -> MutexGuard<'_, Counters> {
        // Counters stay meaningful even if a holder panicked: never propagate poison.
        self.counters.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn channels(&self) -> MutexGuard<'_, Channels> {
        // Every update of the channels is a few field writes that cannot panic half-way.
        self.channels.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The header of the next packet on `path` (draws a packet sequence number).
    fn header(&self, path: PathId) -> Header {
        Header {
            cluster_id: self.topology.cluster_id,
            from: self.topology.me,
            path,
            boot_id: self.boot_id,
            seq: self.next_seq.fetch_add(1, Ordering::Relaxed),
        }
    }

    fn seal(&self, path: PathId, payload: &Payload) -> Result<Vec<u8>, EncodeError> {
        packet::encode(&self.key, &self.header(path), payload)
    }

    fn seal_message(&self, path: PathId, seq: u64, low_water: u64, msg: &MessageBytes) -> Vec<u8> {
        packet::encode_message(&self.key, &self.header(path), seq, low_water, msg)
    }

    async fn send_bytes(&self, to: ServerId, path: PathId, bytes: &[u8]) -> Result<(), SendError> {
        let addrs = self.topology.paths.get(&path).ok_or(SendError::UnknownPath(path))?;
        let dest = *addrs.peers.get(&to).ok_or(SendError::UnknownPeer(to, path))?;
        let socket = self.sockets.get(&addrs.local).ok_or(SendError::UnknownPath(path))?;
        match send_datagram(socket, bytes, dest).await {
            Ok(()) => {
                self.counters().sent += 1;
                Ok(())
            }
            Err(e) => {
                self.counters().send_errors += 1;
                Err(SendError::Io(e))
            }
        }
    }

    /// At `now_ms`: abandons what is past its deadline and takes the copies due. Also
    /// returns when a channel next needs a round (`None`: nothing is queued).
    fn due_copies(&self, now_ms: u64) -> (Vec<Resend>, Option<u64>) {
        let mut resend = Vec::new();
        let mut abandoned = 0;
        let mut next_due_ms: Option<u64> = None;
        {
            let mut channels = self.channels();
            for (&to, sender) in channels.senders.iter_mut() {
                let poll = sender.poll(now_ms);
                abandoned += poll.abandoned.end - poll.abandoned.start;
                let low_water = poll.low_water;
                for (seq, msg) in poll.resend {
                    resend.push(Resend { to, seq, low_water, msg: Arc::clone(msg) });
                }
                if let Some(due) = sender.next_due_ms() {
                    next_due_ms = Some(next_due_ms.map_or(due, |d| d.min(due)));
                }
            }
        }
        if abandoned > 0 {
            let mut c = self.counters();
            c.abandoned = c.abandoned.saturating_add(abandoned);
        }
        (resend, next_due_ms)
    }

    /// One retransmission round: every due message goes on every lan path shared with
    /// its peer. Returns when the next round is due.
    async fn retransmit(&self) -> Instant {
        let now_ms = self.now_ms();
        let (resend, next_due_ms) = self.due_copies(now_ms);
        for r in &resend {
            for &path in self.routes.get(&r.to).map_or(&[][..], Vec::as_slice) {
                let bytes = self.seal_message(path, r.seq, r.low_water, &r.msg);
                self.counters().retransmitted += 1;
                // A failed copy is counted (`send_errors`) and goes again next round.
                let _ = self.send_bytes(r.to, path, &bytes).await;
            }
        }
        // With nothing queued, look again after one interval: a message queued meanwhile
        // is not due before that.
        let idle_ms = now_ms.saturating_add(self.settings.retransmit_interval_ms);
        let at_ms = next_due_ms.unwrap_or(idle_ms).min(idle_ms).max(now_ms.saturating_add(RETRANSMIT_BATCH_MS));
        self.epoch
            .checked_add(Duration::from_millis(at_ms))
            .unwrap_or_else(|| Instant::now() + Duration::from_millis(RETRANSMIT_BATCH_MS))
    }
}

/// The sending half (cheap to clone).
#[derive(Clone)]
pub struct Transport {
    shared: Arc<Shared>,
}

/// The receiving half: owns the replay state and the receiving side of the reliable
/// channels; ends the reader tasks when dropped.
pub struct Inbox {
    shared: Arc<Shared>,
    rx: mpsc::Receiver<Datagram>,
    guard: ReplayGuard,
    readers: Vec<JoinHandle<()>>,
    /// The reliable channel from each peer; items carry the path of their copy.
    receivers: BTreeMap<ServerId, ReceiverState<(PathId, Box<Message>)>>,
    /// Accepted, in order, not yet handed on.
    ready: VecDeque<Inbound>,
    /// Acknowledgements to send, the latest per (peer, path).
    acks: BTreeMap<(ServerId, PathId), Ack>,
}

/// Bind a socket per distinct local address of `topology`, start reading, and start
/// the retransmission task. Must be called inside a tokio runtime.
pub async fn bind(topology: Topology, key: Key, boot_id: u64) -> io::Result<(Transport, Inbox)> {
    let mut sockets = BTreeMap::new();
    for path in topology.paths.values() {
        if let Entry::Vacant(slot) = sockets.entry(path.local) {
            let socket = UdpSocket::bind(path.local).await?;
            #[cfg(not(madsim))]
            super::kernel::size_receive_buffer(&socket, super::kernel::receive_buffer_bytes(&topology));
            slot.insert(Arc::new(socket));
        }
    }
    let settings = Settings::new(
        topology.retransmit_interval_ms.max(reliable::MIN_RETRANSMIT_INTERVAL_MS),
        topology.heartbeat_timeout_ms,
    );
    let shared = Arc::new(Shared {
        routes: topology.routes(),
        topology,
        key,
        boot_id,
        next_seq: AtomicU64::new(0),
        sockets,
        counters: Mutex::new(Counters::default()),
        settings,
        epoch: Instant::now(),
        channels: Mutex::new(Channels::default()),
    });
    let (tx, rx) = mpsc::channel(INBOX_DATAGRAMS);
    let readers = shared
        .sockets
        .iter()
        .map(|(&local, socket)| tokio::spawn(read_loop(Arc::clone(&shared), local, Arc::clone(socket), tx.clone())))
        .collect();
    // The task holds the endpoint weakly, so it does not keep the sockets open.
    tokio::spawn(retransmit_loop(Arc::downgrade(&shared)));
    let inbox = Inbox {
        shared: Arc::clone(&shared),
        rx,
        guard: ReplayGuard::new(),
        readers,
        receivers: BTreeMap::new(),
        ready: VecDeque::new(),
        acks: BTreeMap::new(),
    };
    Ok((Transport { shared }, inbox))
}

/// One datagram to `dest` (madsim's `send_to` takes its arguments the other way round).
#[cfg(not(madsim))]
async fn send_datagram(socket: &UdpSocket, bytes: &[u8], dest: SocketAddr) -> io::Result<()> {
    socket.send_to(bytes, dest).await.map(|_| ())
}
#[cfg(madsim)]
async fn send_datagram(socket: &UdpSocket, bytes: &[u8], dest: SocketAddr) -> io::Result<()> {
    socket.send_to(dest, bytes).await
}

async fn read_loop(shared: Arc<Shared>, local: SocketAddr, socket: Arc<UdpSocket>, tx: mpsc::Sender<Datagram>) {
    // One byte more than accepted, so an oversized datagram shows as such.
    let mut buf = vec![0u8; packet::MAX_PACKET_BYTES + 1];
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

async fn retransmit_loop(shared: Weak<Shared>) {
    loop {
        let next = match shared.upgrade() {
            Some(shared) => shared.retransmit().await,
            None => return, // the transport and the inbox are gone
        };
        tokio::time::sleep_until(next).await;
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
        self.shared.snapshot()
    }
    /// The addresses actually bound (differs from the topology for port 0).
    pub fn local_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        self.shared.sockets.values().map(|s| s.local_addr()).collect()
    }

    /// Messages to `to` sent and neither acknowledged nor abandoned yet.
    pub fn unacked(&self, to: ServerId) -> usize {
        self.shared.channels().senders.get(&to).map_or(0, SenderState::unacked)
    }

    /// The path the first copy of a message to `to` would take now.
    pub fn preferred_path(&self, to: ServerId) -> Option<PathId> {
        let routes = self.shared.routes.get(&to)?;
        let now_ms = self.shared.now_ms();
        let channels = self.shared.channels();
        let heard = |p: PathId| channels.heard_ms.get(&(to, p)).copied();
        first_path(routes, heard, now_ms, self.shared.topology.heartbeat_timeout_ms)
    }

    /// The packet for `payload` on `path`, with the next packet sequence number of this
    /// boot (diagnostics and tests: the reliable channel seals its own).
    pub fn seal(&self, path: PathId, payload: &Payload) -> Result<Vec<u8>, EncodeError> {
        self.shared.seal(path, payload)
    }

    /// Send `body` to `to` on `path`: a heartbeat once (fire and forget); a message on
    /// the reliable channel, its first copy on `path` (see [`send_message`](Self::send_message)).
    pub async fn send(&self, to: ServerId, path: PathId, body: &Body) -> Result<(), SendError> {
        match body {
            Body::Heartbeat(hb) => {
                let bytes = self.shared.seal(path, &Payload::Heartbeat(*hb)).map_err(SendError::Encode)?;
                self.shared.send_bytes(to, path, &bytes).await
            }
            Body::Message(msg) => self.queue_message(to, Some(path), msg).await,
        }
    }

    /// Send `msg` to `to` reliably: queued on the peer's channel, first copy at once on
    /// the preferred path, then again on every shared lan path until acknowledged or
    /// `heartbeat_timeout` after now. Errors: no shared lan path, or a message too large
    /// for a packet; nothing is queued then. A failed first copy is not an error (it is
    /// counted, and the retransmissions carry the message).
    pub async fn send_message(&self, to: ServerId, msg: Box<Message>) -> Result<(), SendError> {
        self.queue_message(to, None, &msg).await
    }

    async fn queue_message(&self, to: ServerId, path: Option<PathId>, msg: &Message) -> Result<(), SendError> {
        let shared = &self.shared;
        let routes = shared.routes.get(&to).ok_or(SendError::NoPath(to))?;
        if let Some(p) = path {
            if !shared.topology.paths.contains_key(&p) {
                return Err(SendError::UnknownPath(p));
            }
            if !routes.contains(&p) {
                return Err(SendError::UnknownPeer(to, p));
            }
        }
        let bytes = Arc::new(MessageBytes::new(msg).map_err(SendError::Encode)?);
        let now_ms = shared.now_ms();
        let (path, packet, evicted) = {
            let mut channels = shared.channels();
            let path = match path {
                Some(p) => p,
                None => {
                    let heard = |p: PathId| channels.heard_ms.get(&(to, p)).copied();
                    first_path(routes, heard, now_ms, shared.topology.heartbeat_timeout_ms)
                        .ok_or(SendError::NoPath(to))?
                }
            };
            let sender = channels.senders.entry(to).or_insert_with(|| SenderState::new(shared.settings));
            let (pushed, msg) = sender.push(now_ms, bytes);
            (path, shared.seal_message(path, pushed.seq, pushed.low_water, msg), pushed.evicted.is_some())
        };
        if evicted {
            shared.counters().unacked_overflow += 1;
        }
        // Queued: if this first copy fails, the retransmissions carry the message.
        let _ = shared.send_bytes(to, path, &packet).await;
        Ok(())
    }

    /// Send bytes as they are to `to` on `path`, from this server's socket of that path
    /// (diagnostics and tests: a packet re-sent this way is a replay).
    pub async fn send_raw(&self, to: ServerId, path: PathId, bytes: &[u8]) -> Result<(), SendError> {
        self.shared.send_bytes(to, path, bytes).await
    }
}

impl Inbox {
    /// The next accepted heartbeat or in-order message; dropped datagrams are counted
    /// and skipped, acknowledgements are sent first. `None` only if every reader task
    /// has ended.
    ///
    /// Cancel-safe for what it yields (as in a `select!`): a datagram is judged, and its
    /// messages queued, without an await in between. Cancelling during an
    /// acknowledgement's send loses that acknowledgement only; the message's next copy
    /// draws another.
    pub async fn recv(&mut self) -> Option<Inbound> {
        loop {
            self.send_acks().await;
            if let Some(inbound) = self.ready.pop_front() {
                return Some(inbound);
            }
            let datagram = self.rx.recv().await?;
            self.accept(&datagram);
        }
    }

    /// Judge one datagram: `true` if accepted. What it brings to hand on is queued
    /// ([`next_ready`](Self::next_ready)), its acknowledgement is queued for the next
    /// [`recv`](Self::recv), an acknowledgement it carries is applied; a drop is counted.
    pub fn accept(&mut self, datagram: &Datagram) -> bool {
        match self.judge(datagram) {
            Ok(packet) => {
                self.shared.counters().accepted += 1;
                self.take(packet);
                true
            }
            Err(why) => {
                self.shared.counters().count(why);
                false
            }
        }
    }

    /// The next accepted heartbeat or in-order message, if one is queued (without the
    /// network: see [`accept`](Self::accept)).
    pub fn next_ready(&mut self) -> Option<Inbound> {
        self.ready.pop_front()
    }

    fn judge(&mut self, d: &Datagram) -> Result<Packet, DropReason> {
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
        Ok(p)
    }

    /// An accepted packet: note where its sender was heard, then hand on, deliver or
    /// apply it.
    fn take(&mut self, packet: Packet) {
        let Header { from, path, boot_id, .. } = packet.header;
        let now_ms = self.shared.now_ms();
        self.shared.channels().heard_ms.insert((from, path), now_ms);
        match packet.payload {
            Payload::Heartbeat(hb) => self.ready.push_back(Inbound { from, path, body: Body::Heartbeat(hb) }),
            Payload::Message(message) => self.take_message(from, path, boot_id, message),
            Payload::Ack(ack) => {
                // An ack meant for an earlier boot of this daemon acknowledges another channel.
                if ack.boot_id == self.shared.boot_id {
                    if let Some(sender) = self.shared.channels().senders.get_mut(&from) {
                        sender.ack(ack.cumulative);
                    }
                }
                self.shared.counters().acks_received += 1;
            }
        }
    }

    fn take_message(&mut self, from: ServerId, path: PathId, boot_id: u64, message: Sequenced) {
        let max_out_of_order = self.shared.settings.max_out_of_order;
        let receiver = self.receivers.entry(from).or_insert_with(|| ReceiverState::new(max_out_of_order));
        let mut delivered = Vec::new();
        let got = receiver.on_data(boot_id, message.seq, message.low_water, (path, message.msg), &mut delivered);
        self.ready.extend(delivered.into_iter().map(|(path, msg)| Inbound { from, path, body: Body::Message(msg) }));
        // Impossible numbers are not acknowledged: the boot id they claim may be false.
        if got.arrival != Arrival::BadSequence {
            self.acks.insert((from, path), Ack { boot_id, cumulative: got.ack });
        }
        let mut c = self.shared.counters();
        match got.arrival {
            Arrival::Delivered => {}
            Arrival::Buffered => c.out_of_order_buffered += 1,
            Arrival::Duplicate => c.duplicate += 1,
            Arrival::Overflow => c.out_of_order_overflow += 1,
            Arrival::BadSequence => c.bad_sequence = c.bad_sequence.saturating_add(1),
        }
        c.skipped = c.skipped.saturating_add(got.skipped);
    }

    /// Send the queued acknowledgements, each sealed just before it goes.
    async fn send_acks(&mut self) {
        while let Some(((to, path), ack)) = self.acks.pop_first() {
            let Ok(bytes) = self.shared.seal(path, &Payload::Ack(ack)) else {
                continue; // a 16-byte body always fits
            };
            if self.shared.send_bytes(to, path, &bytes).await.is_ok() {
                self.shared.counters().acks_sent += 1;
            }
        }
    }

    /// A snapshot of the counters (same as the transport's).
    pub fn counters(&self) -> Counters {
        self.shared.snapshot()
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
        assert_eq!(first.priority, config.heartbeats[0].priority);
        assert_eq!(t.heartbeat_timeout_ms, config.cluster.heartbeat_timeout_ms);
        assert_eq!(t.retransmit_interval_ms, reliable::retransmit_interval_ms(config.cluster.heartbeat_interval_ms));
    }

    #[test]
    fn routes_prefer_the_lowest_priority_value() {
        let text = include_str!("../../../examples/configs/2node-mirror.toml");
        let cfg = baton_core::config::parse("2node-mirror.toml", text).unwrap().config;
        let t = Topology::from_config(&cfg, ServerId(0)).unwrap();
        let routes = t.routes();
        let to_peer = &routes[&ServerId(1)];
        let min = cfg.heartbeats.iter().map(|h| h.priority).min().unwrap();
        assert_eq!(cfg.heartbeats[to_peer[0].idx()].priority, min);
        assert!(to_peer.windows(2).all(|w| t.paths[&w[0]].priority <= t.paths[&w[1]].priority));
        assert!(!routes.contains_key(&ServerId(0)), "no route to oneself");
    }

    #[test]
    fn first_path_is_the_best_working_one() {
        let routes = [PathId(2), PathId(0), PathId(1)]; // preferred first
        let heard = |at: &[(u16, u64)]| {
            let at: BTreeMap<PathId, u64> = at.iter().map(|&(p, t)| (PathId(p), t)).collect();
            move |p: PathId| at.get(&p).copied()
        };
        // Nothing heard: the preferred one.
        assert_eq!(first_path(&routes, heard(&[]), 1_000, 500), Some(PathId(2)));
        // Heard on 0 and 1 recently, on 2 too long ago: 0.
        assert_eq!(first_path(&routes, heard(&[(2, 100), (0, 900), (1, 950)]), 1_000, 500), Some(PathId(0)));
        assert_eq!(
            first_path(&routes, heard(&[(1, 500)]), 1_000, 500),
            Some(PathId(1)),
            "at the timeout: still working"
        );
        assert_eq!(first_path(&[], heard(&[]), 0, 500), None);
    }
}
