//! Native ARP for the floating IP driver: duplicate address detection (an RFC 5227 ARP
//! probe) and gratuitous ARP, as raw Ethernet frames on a layer-2 channel of
//! `pnet_datalink` (an `AF_PACKET` socket bound to the interface; it needs `CAP_NET_RAW`,
//! which the daemon has as root). The socket itself is made with `socket2`, which can put
//! a kernel filter on it ([`ARP_ONLY`]) before `pnet_datalink` binds it.
//!
//! In: an interface name and an IPv4 address, and for [`probe`] how long to wait for an
//! answer. Out: [`probe`] gives `Some(`[`ArpAnswer`]`)` with the MAC address of a host that
//! uses the address, or `None` when nobody spoke for it within the wait; [`announce`]
//! gives `()` once the frame is handed to the interface. Failures (no such interface, no
//! permission, a send that does not go out) are plain reasons (`String`) for the caller to
//! wrap. Both run on tokio's blocking pool (`spawn_blocking`): the channel blocks in
//! `poll(2)`. The blocking versions are [`probe_blocking`] and [`announce_blocking`].
//! Each call opens its own socket (bound to the interface, filtered to ARP in the kernel)
//! and closes it after answering.
//!
//! Why not `arping`: iputils `arping` waits in whole seconds only, so detection cost at
//! least 2 s and every gratuitous ARP after the first one more second, while failover
//! aims at a median outage under 1 s. Here the probe waits as long as the caller says
//! (the resource's `probe_window`, default 20 ms) and an announcement is one frame.
//!
//! # Frame layout
//!
//! An ARP packet for IPv4 over Ethernet (RFC 826) in an Ethernet II frame, 42 bytes,
//! every number big-endian. Frames read from the wire may be longer (padded to the
//! Ethernet minimum of 60 bytes); the bytes after 42 are ignored. Frames we send are 42
//! bytes, as `arping` and the kernel send them: the driver pads them if the medium needs
//! it.
//!
//! | bytes  | field                              | probe        | announcement |
//! |--------|------------------------------------|--------------|--------------|
//! | 0..6   | Ethernet destination               | broadcast    | broadcast    |
//! | 6..12  | Ethernet source                    | our MAC      | our MAC      |
//! | 12..14 | EtherType `0x0806` (ARP)           |              |              |
//! | 14..16 | hardware type `1` (Ethernet)       |              |              |
//! | 16..18 | protocol type `0x0800` (IPv4)      |              |              |
//! | 18     | hardware address length `6`        |              |              |
//! | 19     | protocol address length `4`        |              |              |
//! | 20..22 | operation: `1` request, `2` reply  | request      | request      |
//! | 22..28 | sender MAC                         | our MAC      | our MAC      |
//! | 28..32 | sender IPv4                        | `0.0.0.0`    | the address  |
//! | 32..38 | target MAC                         | zero         | zero         |
//! | 38..42 | target IPv4                        | the address  | the address  |
//!
//! The probe's sender IP is `0.0.0.0` so that no neighbour puts the address into its
//! cache while we only ask (RFC 5227 § 2.1.1). The announcement is a request with the
//! address as both sender and target (RFC 5227 § 2.3): Linux and most hosts take it as a
//! gratuitous ARP and point an existing cache entry for the address at our MAC at once,
//! whatever the entry's state (unless it is a static one). Requests rather than replies,
//! because some hosts ignore unsolicited replies.

use std::fmt;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::IntoRawFd;
use std::time::{Duration, Instant};

use pnet_datalink::{Channel, Config, DataLinkReceiver, DataLinkSender};
use socket2::{Domain, SockFilter, Socket, Type};

/// Length of an Ethernet II frame carrying an ARP packet for IPv4, without padding.
pub const FRAME_LEN: usize = 42;

/// Probes sent per [`probe`]: at the start and half-way through the wait, so a single
/// lost frame (or a host that drops the first request of a burst) does not hide a holder.
pub const PROBE_COUNT: u32 = 2;

const ETHERTYPE_ARP: u16 = 0x0806;
const HARDWARE_ETHERNET: u16 = 1;
const PROTOCOL_IPV4: u16 = 0x0800;

/// How long one wait for a frame lasts when none comes: the probe wakes up this often to
/// send its second probe and to notice the end of its wait, so it overshoots the wait by
/// at most this much.
const POLL_SLICE: Duration = Duration::from_millis(5);

/// A frame that cannot be handed to the interface within this (a full queue that does not
/// drain) fails the call instead of blocking a thread of the pool for ever.
const SEND_TIMEOUT: Duration = Duration::from_secs(1);

/// The socket filter (classic BPF, run by the kernel on every frame of the interface):
/// keep ARP frames, drop the rest. Without it the socket would queue every frame the
/// interface sees during the probe's wait; on a busy link its buffer fills faster than it
/// is read and the one reply that matters could be dropped, which would let us take an
/// address another host holds.
pub const ARP_ONLY: [SockFilter; 4] = [
    // ldh [12]: the EtherType (a VLAN tag is not in the frame here: Linux strips it to
    // metadata before packet sockets see it)
    SockFilter::new(0x28, 0, 0, 12),
    // jeq #0x0806, next, skip one
    SockFilter::new(0x15, 0, 1, ETHERTYPE_ARP as u32),
    // ret #0xffff: keep the frame
    SockFilter::new(0x06, 0, 0, 0xffff),
    // ret #0: drop it
    SockFilter::new(0x06, 0, 0, 0),
];

/// An Ethernet MAC address.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    pub const BROADCAST: Mac = Mac([0xff; 6]);
    pub const ZERO: Mac = Mac([0; 6]);
}

impl fmt::Display for Mac {
    /// Lower-case hex with colons, as `ip link` and `ip neigh` print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl fmt::Debug for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The ARP operation (RFC 826 `ar$op`); the others (RARP, InARP) are not read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Request,
    Reply,
}

impl Operation {
    fn code(self) -> u16 {
        match self {
            Operation::Request => 1,
            Operation::Reply => 2,
        }
    }

    fn from_code(code: u16) -> Option<Operation> {
        match code {
            1 => Some(Operation::Request),
            2 => Some(Operation::Reply),
            _ => None,
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::Request => "request",
            Operation::Reply => "reply",
        })
    }
}

/// An Ethernet frame carrying an ARP packet for IPv4 (see the module's frame layout).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArpFrame {
    /// Ethernet destination.
    pub destination: Mac,
    /// Ethernet source.
    pub source: Mac,
    pub operation: Operation,
    pub sender_mac: Mac,
    pub sender_ip: Ipv4Addr,
    pub target_mac: Mac,
    pub target_ip: Ipv4Addr,
}

impl ArpFrame {
    /// The RFC 5227 probe for `address` from `our_mac`: who has `address`? (from 0.0.0.0).
    pub fn probe(our_mac: Mac, address: Ipv4Addr) -> ArpFrame {
        ArpFrame {
            destination: Mac::BROADCAST,
            source: our_mac,
            operation: Operation::Request,
            sender_mac: our_mac,
            sender_ip: Ipv4Addr::UNSPECIFIED,
            target_mac: Mac::ZERO,
            target_ip: address,
        }
    }

    /// The gratuitous ARP (RFC 5227 announcement) of `address` at `our_mac`.
    pub fn announcement(our_mac: Mac, address: Ipv4Addr) -> ArpFrame {
        ArpFrame {
            destination: Mac::BROADCAST,
            source: our_mac,
            operation: Operation::Request,
            sender_mac: our_mac,
            sender_ip: address,
            target_mac: Mac::ZERO,
            target_ip: address,
        }
    }

    /// The frame's 42 bytes.
    pub fn to_bytes(&self) -> [u8; FRAME_LEN] {
        let mut b = [0u8; FRAME_LEN];
        b[0..6].copy_from_slice(&self.destination.0);
        b[6..12].copy_from_slice(&self.source.0);
        b[12..14].copy_from_slice(&ETHERTYPE_ARP.to_be_bytes());
        b[14..16].copy_from_slice(&HARDWARE_ETHERNET.to_be_bytes());
        b[16..18].copy_from_slice(&PROTOCOL_IPV4.to_be_bytes());
        b[18] = 6;
        b[19] = 4;
        b[20..22].copy_from_slice(&self.operation.code().to_be_bytes());
        b[22..28].copy_from_slice(&self.sender_mac.0);
        b[28..32].copy_from_slice(&self.sender_ip.octets());
        b[32..38].copy_from_slice(&self.target_mac.0);
        b[38..42].copy_from_slice(&self.target_ip.octets());
        b
    }

    /// The ARP frame in `bytes`, if they are one for IPv4 over Ethernet (a request or a
    /// reply); anything else on the wire (other EtherTypes, other ARP flavours, short
    /// frames) is `None`. Bytes after the 42nd (padding) are ignored.
    pub fn parse(bytes: &[u8]) -> Option<ArpFrame> {
        let b: &[u8; FRAME_LEN] = bytes.get(..FRAME_LEN)?.try_into().ok()?;
        let u16_at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        let mac_at = |i: usize| Mac([b[i], b[i + 1], b[i + 2], b[i + 3], b[i + 4], b[i + 5]]);
        let ip_at = |i: usize| Ipv4Addr::new(b[i], b[i + 1], b[i + 2], b[i + 3]);
        let is_ipv4_over_ethernet = u16_at(12) == ETHERTYPE_ARP
            && u16_at(14) == HARDWARE_ETHERNET
            && u16_at(16) == PROTOCOL_IPV4
            && b[18] == 6
            && b[19] == 4;
        if !is_ipv4_over_ethernet {
            return None;
        }
        Some(ArpFrame {
            destination: mac_at(0),
            source: mac_at(6),
            operation: Operation::from_code(u16_at(20))?,
            sender_mac: mac_at(22),
            sender_ip: ip_at(28),
            target_mac: mac_at(32),
            target_ip: ip_at(38),
        })
    }
}

/// Another host speaks for the probed address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArpAnswer {
    /// Its MAC address (the ARP sender hardware address).
    pub mac: Mac,
    /// A reply to our probe, or a request of its own from the address (it uses it).
    pub operation: Operation,
}

impl fmt::Display for ArpAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ARP {} from {}", self.operation, self.mac)
    }
}

/// Whether `frame` shows another host using `address`: any ARP packet whose sender IP is
/// the address, from a MAC that is not `our_mac` (the socket also sees our own frames).
pub fn answer_for(frame: &ArpFrame, address: Ipv4Addr, our_mac: Mac) -> Option<ArpAnswer> {
    (frame.sender_ip == address && frame.sender_mac != our_mac)
        .then_some(ArpAnswer { mac: frame.sender_mac, operation: frame.operation })
}

/// RFC 5227 probe: is `address` used on the network of `interface`? Sends
/// [`PROBE_COUNT`] probes spread over `wait` and listens until `wait` has passed, or until
/// the first answer (returned at once).
pub async fn probe(interface: &str, address: Ipv4Addr, wait: Duration) -> Result<Option<ArpAnswer>, String> {
    on_a_link(interface, move |link| probe_on(link, address, wait)).await
}

/// The margin watch of a takeover (B44): probes for `address` on `interface` every
/// `every` until `until`, and calls `on_answer` with each answer and when it came.
/// Unlike [`probe`] it does not stop at the first answer: a holder that goes away
/// during the watch is told apart from one that stays.
pub async fn watch(
    interface: &str,
    address: Ipv4Addr,
    every: Duration,
    until: Instant,
    on_answer: impl FnMut(ArpAnswer, Instant) + Send + 'static,
) -> Result<(), String> {
    on_a_link(interface, move |link| watch_on(link, address, every, until, on_answer)).await
}

fn watch_on(
    link: &mut Link,
    address: Ipv4Addr,
    every: Duration,
    until: Instant,
    mut on_answer: impl FnMut(ArpAnswer, Instant),
) -> Result<(), String> {
    let frame = ArpFrame::probe(link.mac, address).to_bytes();
    let every = every.max(POLL_SLICE);
    let mut next_probe = Instant::now();
    loop {
        let now = Instant::now();
        if now >= until {
            return Ok(());
        }
        if now >= next_probe {
            link.send(&frame)?;
            next_probe = now + every;
        }
        match link.rx.next() {
            Ok(bytes) => {
                if let Some(answer) = ArpFrame::parse(bytes).and_then(|f| answer_for(&f, address, link.mac)) {
                    on_answer(answer, Instant::now());
                }
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::Interrupted) => {}
            Err(e) => return Err(format!("reading from {}: {e}", link.name)),
        }
    }
}

/// One gratuitous ARP for `address` on `interface`.
pub async fn announce(interface: &str, address: Ipv4Addr) -> Result<(), String> {
    on_a_link(interface, move |link| announce_on(link, address)).await
}

/// [`probe`], blocking the calling thread for up to `wait` (plus a poll slice, plus
/// closing the socket).
pub fn probe_blocking(interface: &str, address: Ipv4Addr, wait: Duration) -> Result<Option<ArpAnswer>, String> {
    probe_on(&mut Link::open(interface)?, address, wait)
}

/// [`announce`], blocking the calling thread until the frame is handed to the interface
/// (and the socket closed).
pub fn announce_blocking(interface: &str, address: Ipv4Addr) -> Result<(), String> {
    announce_on(&mut Link::open(interface)?, address)
}

fn probe_on(link: &mut Link, address: Ipv4Addr, wait: Duration) -> Result<Option<ArpAnswer>, String> {
    // The link's socket is bound before the first probe goes out, so no answer can come
    // before we listen.
    let frame = ArpFrame::probe(link.mac, address).to_bytes();
    let start = Instant::now();
    let mut probes_sent = 0;
    loop {
        let elapsed = start.elapsed();
        // Probe k goes out at k·wait/PROBE_COUNT: 0 and wait/2.
        while probes_sent < PROBE_COUNT && elapsed >= wait * probes_sent / PROBE_COUNT {
            link.send(&frame)?;
            probes_sent += 1;
        }
        if elapsed >= wait {
            return Ok(None);
        }
        match link.rx.next() {
            Ok(bytes) => {
                if let Some(answer) = ArpFrame::parse(bytes).and_then(|f| answer_for(&f, address, link.mac)) {
                    return Ok(Some(answer));
                }
            }
            // Nothing within the poll slice, or a signal: look at the clock again.
            Err(e) if matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::Interrupted) => {}
            Err(e) => return Err(format!("reading from {}: {e}", link.name)),
        }
    }
}

fn announce_on(link: &mut Link, address: Ipv4Addr) -> Result<(), String> {
    link.send(&ArpFrame::announcement(link.mac, address).to_bytes())
}

/// Runs `work` on a fresh link to `interface`, on tokio's blocking pool (the channel
/// blocks in `poll(2)`), and gives its result as soon as it has one: closing a packet
/// socket waits for a kernel RCU grace period (`synchronize_net` in `packet_release`,
/// about 15 ms measured here), which the caller, an activation in a failover, need not
/// wait for. The link is closed on the pool after the result is handed over.
async fn on_a_link<T: Send + 'static>(
    interface: &str,
    work: impl FnOnce(&mut Link) -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    let interface = interface.to_string();
    let (result_tx, result) = tokio::sync::oneshot::channel();
    // Detached: the task ends by itself once the link is closed.
    drop(tokio::task::spawn_blocking(move || {
        let mut link = match Link::open(&interface) {
            Ok(link) => link,
            Err(e) => {
                let _ = result_tx.send(Err(e));
                return;
            }
        };
        // The caller may have given up (its future dropped): nobody to tell then.
        let _ = result_tx.send(work(&mut link));
        drop(link);
    }));
    result.await.map_err(|_| "the ARP task ended without a result (it panicked)".to_string())?
}

/// A layer-2 channel on one interface, and the interface's MAC address.
struct Link {
    name: String,
    mac: Mac,
    tx: Box<dyn DataLinkSender>,
    rx: Box<dyn DataLinkReceiver>,
}

impl Link {
    fn open(interface: &str) -> Result<Link, String> {
        let iface = pnet_datalink::interfaces()
            .into_iter()
            .find(|i| i.name == interface)
            .ok_or_else(|| format!("no interface {interface:?}"))?;
        let mac = iface
            .mac
            .map(|m| Mac(m.octets()))
            .filter(|m| *m != Mac::ZERO)
            .ok_or_else(|| format!("{interface} has no Ethernet address (ARP needs one)"))?;
        // The socket is made here so that the filter is on it before it is bound to the
        // interface: with protocol 0 it receives nothing until `channel` binds it (for
        // all EtherTypes), and from then on only what the filter keeps.
        let socket = Socket::new(Domain::PACKET, Type::RAW, None).map_err(|e| {
            let hint = if e.kind() == io::ErrorKind::PermissionDenied { " (needs CAP_NET_RAW)" } else { "" };
            format!("opening a packet socket for {interface}: {e}{hint}")
        })?;
        socket.attach_filter(&ARP_ONLY).map_err(|e| format!("filtering ARP on {interface}: {e}"))?;
        let config = Config {
            // `channel` owns the socket from here (it closes it, also when it fails).
            socket_fd: Some(socket.into_raw_fd()),
            read_timeout: Some(POLL_SLICE),
            write_timeout: Some(SEND_TIMEOUT),
            // ARP requests are broadcast and replies to our probe come to our MAC: the
            // interface need not see other hosts' unicast traffic.
            promiscuous: false,
            ..Config::default()
        };
        let channel = pnet_datalink::channel(&iface, config)
            .map_err(|e| format!("binding a packet socket to {interface}: {e}"))?;
        // `Channel` is non-exhaustive; Linux's backend only makes Ethernet channels.
        let Channel::Ethernet(tx, rx) = channel else {
            return Err(format!("{interface}: not an Ethernet channel"));
        };
        Ok(Link { name: interface.to_string(), mac, tx, rx })
    }

    fn send(&mut self, frame: &[u8]) -> Result<(), String> {
        match self.tx.send_to(frame, None) {
            Some(Ok(())) => Ok(()),
            Some(Err(e)) => Err(format!("sending on {}: {e}", self.name)),
            None => Err(format!("sending on {}: frame larger than the write buffer", self.name)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OURS: Mac = Mac([0x02, 0x00, 0x5e, 0x10, 0x00, 0x01]);
    const THEIRS: Mac = Mac([0x4e, 0x15, 0x6c, 0x69, 0x3e, 0x91]);
    const ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 12);

    #[test]
    fn probe_frame_bytes_and_back() {
        let frame = ArpFrame::probe(OURS, ADDRESS);
        let bytes = frame.to_bytes();
        #[rustfmt::skip]
        let expected: [u8; FRAME_LEN] = [
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // Ethernet destination: broadcast
            0x02, 0x00, 0x5e, 0x10, 0x00, 0x01, // Ethernet source: ours
            0x08, 0x06,                         // ARP
            0x00, 0x01, 0x08, 0x00, 6, 4,       // Ethernet, IPv4, lengths
            0x00, 0x01,                         // request
            0x02, 0x00, 0x5e, 0x10, 0x00, 0x01, // sender MAC: ours
            0, 0, 0, 0,                         // sender IP: 0.0.0.0
            0, 0, 0, 0, 0, 0,                   // target MAC: zero
            10, 0, 0, 12,                       // target IP: the address
        ];
        assert_eq!(bytes, expected);
        assert_eq!(ArpFrame::parse(&bytes), Some(frame));
        // Our own probe, seen again on the socket, is no answer.
        assert_eq!(answer_for(&frame, ADDRESS, OURS), None);
    }

    #[test]
    fn announcement_frame() {
        let frame = ArpFrame::announcement(OURS, ADDRESS);
        let bytes = frame.to_bytes();
        assert_eq!(&bytes[20..22], &[0, 1], "a request");
        assert_eq!(&bytes[28..32], &[10, 0, 0, 12], "sender IP");
        assert_eq!(&bytes[38..42], &[10, 0, 0, 12], "target IP");
        assert_eq!(ArpFrame::parse(&bytes), Some(frame));
    }

    #[test]
    fn parses_a_captured_reply() {
        // A Linux host's reply to a probe for 10.0.0.12, as read from an AF_PACKET socket:
        // unicast to the prober, target IP 0.0.0.0 (the probe's sender), padded to 60 bytes.
        let mut wire = vec![
            0x02, 0x00, 0x5e, 0x10, 0x00, 0x01, 0x4e, 0x15, 0x6c, 0x69, 0x3e, 0x91, 0x08, 0x06, 0x00, 0x01, 0x08, 0x00,
            0x06, 0x04, 0x00, 0x02, 0x4e, 0x15, 0x6c, 0x69, 0x3e, 0x91, 0x0a, 0x00, 0x00, 0x0c, 0x02, 0x00, 0x5e, 0x10,
            0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
        ];
        wire.resize(60, 0);
        let frame = ArpFrame::parse(&wire).expect("an ARP reply");
        assert_eq!(
            frame,
            ArpFrame {
                destination: OURS,
                source: THEIRS,
                operation: Operation::Reply,
                sender_mac: THEIRS,
                sender_ip: ADDRESS,
                target_mac: OURS,
                target_ip: Ipv4Addr::UNSPECIFIED,
            }
        );
        let answer = answer_for(&frame, ADDRESS, OURS).expect("an answer");
        assert_eq!(answer, ArpAnswer { mac: THEIRS, operation: Operation::Reply });
        assert_eq!(answer.to_string(), "ARP reply from 4e:15:6c:69:3e:91");
        assert_eq!(answer_for(&frame, Ipv4Addr::new(10, 0, 0, 13), OURS), None, "another address");
    }

    #[test]
    fn a_request_from_the_address_is_an_answer() {
        // A host using the address asks for someone else: it speaks from the address.
        let mut frame = ArpFrame::announcement(THEIRS, ADDRESS);
        frame.target_ip = Ipv4Addr::new(10, 0, 0, 1);
        assert_eq!(answer_for(&frame, ADDRESS, OURS), Some(ArpAnswer { mac: THEIRS, operation: Operation::Request }));
        // Someone else probing for it (sender 0.0.0.0) does not use it.
        assert_eq!(answer_for(&ArpFrame::probe(THEIRS, ADDRESS), ADDRESS, OURS), None);
    }

    #[test]
    fn refuses_what_is_not_ipv4_arp_over_ethernet() {
        let good = ArpFrame::probe(OURS, ADDRESS).to_bytes();
        assert_eq!(ArpFrame::parse(&good[..41]), None, "short");
        for (at, value) in [(12, 0x86), (13, 0x00), (15, 6), (17, 0xdd), (18, 8), (19, 16), (21, 3)] {
            let mut bad = good;
            bad[at] = value;
            assert_eq!(ArpFrame::parse(&bad), None, "byte {at} = {value:#x}");
        }
    }

    #[test]
    fn mac_display() {
        assert_eq!(Mac::BROADCAST.to_string(), "ff:ff:ff:ff:ff:ff");
        assert_eq!(format!("{:?}", OURS), "02:00:5e:10:00:01");
    }
}
