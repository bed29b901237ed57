//! A witness on a lab network: who answers for an address, frame by frame.
//!
//! In: a namespace and one of its interfaces (the client's `public`), the address to
//! watch (the floating IP) and the witness's own address on that interface. Out: a
//! [`Witness`] that, on a thread of its own until [`Witness::stop`], sends a probe round
//! every [`ROUND`] on an `AF_PACKET` channel of `pnet_datalink` bound to the interface,
//! and records every answer for the address with its source MAC ([`Answer`]); then
//! [`double_owners`] and [`returns_after`] judge the record.
//!
//! A round is two frames, both to the Ethernet broadcast address, so that every host
//! holding the address answers, not only the one in the witness's neighbour cache:
//!
//! * an ARP request for the address (RFC 826, sender = the witness): each holder sends
//!   an ARP reply whose sender IP is the address;
//! * an ICMP echo request to the address (sequence = the round's number modulo 2^16, the
//!   identifier the witness's own): Linux delivers a unicast IP datagram that came in an
//!   Ethernet broadcast frame (only `drop_unicast_in_l2_multicast`, off by default, would
//!   drop it), so each holder sends an echo reply. The self-test in
//!   `cli/tests/partition_safety.rs` checks this: with the address on two servers by
//!   hand, both MACs answer both kinds.
//!
//! Recorded: ARP replies whose sender IP is the address, ARP announcements (gratuitous
//! requests, sender and target IP the address: a new holder claiming it), and echo
//! replies from the address to the witness carrying its identifier. Each answer is put
//! in a round: an echo reply in the round its sequence names (the latest round sent with
//! that sequence), an ARP frame in the latest round sent when it arrived. Two MACs in
//! one round are two holders within [`ROUND`] of each other.
//!
//! The frames are built by hand (42 bytes of ARP, 42 of IPv4 + ICMP with their
//! checksums) as `baton-drivers`' ARP module does; the channel needs `CAP_NET_RAW`.

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pnet_datalink::{Channel, Config, DataLinkReceiver, DataLinkSender};

/// The time between two probe rounds: the width of the instant window.
pub const ROUND: Duration = Duration::from_millis(5);

/// How long one read waits when no frame comes: the thread checks the clock this often.
const READ_SLICE: Duration = Duration::from_millis(1);

const ETHERTYPE_ARP: u16 = 0x0806;
const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERNET_HEADER: usize = 14;
const ARP_FRAME: usize = 42;
const ICMP_ECHO_REQUEST: u8 = 8;
const ICMP_ECHO_REPLY: u8 = 0;
const PROTOCOL_ICMP: u8 = 1;
/// The echo's payload: the round number, 8 bytes big-endian.
const ECHO_PAYLOAD: usize = 8;
const ECHO_FRAME: usize = ETHERNET_HEADER + 20 + 8 + ECHO_PAYLOAD;

/// An Ethernet MAC address.
pub type Mac = [u8; 6];

/// `aa:bb:…` in lower-case hex, as `ip link` prints it ([`crate::Lab::mac`]).
pub fn mac_text(mac: &Mac) -> String {
    mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// Which frame answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// An ARP reply with the address as sender IP.
    ArpReply,
    /// A gratuitous ARP request (sender and target IP the address).
    ArpAnnouncement,
    /// An ICMP echo reply from the address.
    EchoReply,
}

/// One answer for the watched address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// When the witness read it.
    pub at: Instant,
    /// The Ethernet source address.
    pub mac: Mac,
    pub kind: Kind,
    /// The probe round it belongs to (see the module doc).
    pub round: u64,
}

/// A round answered by more than one MAC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DoubleOwner {
    pub round: u64,
    /// The answers of that round, in arrival order.
    pub answers: Vec<Answer>,
}

/// Every round answered by two or more different MACs.
pub fn double_owners(answers: &[Answer]) -> Vec<DoubleOwner> {
    let mut by_round: std::collections::BTreeMap<u64, Vec<Answer>> = std::collections::BTreeMap::new();
    for a in answers {
        by_round.entry(a.round).or_default().push(a.clone());
    }
    by_round
        .into_iter()
        .filter(|(_, list)| list.iter().any(|a| a.mac != list[0].mac))
        .map(|(round, answers)| DoubleOwner { round, answers })
        .collect()
}

/// The first answer from `old` read after the first answer from `new`, if any: the
/// address went back to a holder that had lost it.
pub fn returns_after<'a>(answers: &'a [Answer], old: &Mac, new: &Mac) -> Option<&'a Answer> {
    let first_new = answers.iter().position(|a| a.mac == *new)?;
    answers[first_new..].iter().find(|a| a.mac == *old)
}

/// What the thread shares with the [`Witness`].
#[derive(Debug, Default)]
struct Shared {
    answers: Mutex<Vec<Answer>>,
    rounds: AtomicU64,
    stop: AtomicBool,
}

/// A running witness (see the module doc). Dropping it stops the thread.
#[derive(Debug)]
pub struct Witness {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<Result<(), String>>>,
    mac: Mac,
}

impl Witness {
    /// Opens the channel on `interface` in namespace `ns` and starts probing for
    /// `target`, from `own` (the witness's address on that interface).
    pub fn start(ns: &str, interface: &str, own: Ipv4Addr, target: Ipv4Addr) -> Result<Witness, String> {
        let (tx, rx, mac) = crate::in_namespace(ns, || open(interface))??;
        let shared = Arc::new(Shared::default());
        let probe = Probe {
            mac,
            own,
            target,
            // Told apart from other witnesses' echoes (another test binary's labs).
            id: u16::try_from(std::process::id() & 0xffff).unwrap_or(0),
        };
        let for_thread = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("baton-lab-witness".to_string())
            .spawn(move || run(&probe, tx, rx, &for_thread))
            .map_err(|e| format!("cannot start the witness thread: {e}"))?;
        Ok(Witness { shared, thread: Some(thread), mac })
    }

    /// The witness's own MAC address.
    pub fn mac(&self) -> Mac {
        self.mac
    }

    /// Probe rounds sent so far.
    pub fn rounds(&self) -> u64 {
        self.shared.rounds.load(Ordering::Relaxed)
    }

    /// The answers so far, in arrival order.
    pub fn answers(&self) -> Vec<Answer> {
        self.shared.answers.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Whether `mac` answered with `kind` since `since`.
    pub fn heard(&self, mac: &Mac, kind: Kind, since: Instant) -> bool {
        let answers = self.shared.answers.lock().unwrap_or_else(PoisonError::into_inner);
        answers.iter().any(|a| a.mac == *mac && a.kind == kind && a.at >= since)
    }

    /// Stops the thread; every answer, or why the witness failed (a send or a read that
    /// failed ends it: a silent witness must not pass for a clean record).
    pub fn stop(mut self) -> Result<Vec<Answer>, String> {
        self.halt()?;
        Ok(self.answers())
    }

    fn halt(&mut self) -> Result<(), String> {
        self.shared.stop.store(true, Ordering::Relaxed);
        match self.thread.take() {
            Some(t) => t.join().map_err(|_| "the witness thread panicked".to_string())?,
            None => Ok(()),
        }
    }
}

impl Drop for Witness {
    fn drop(&mut self) {
        let _ = self.halt();
    }
}

type Opened = (Box<dyn DataLinkSender>, Box<dyn DataLinkReceiver>, Mac);

/// The channel on `interface` (in the calling thread's namespace) and its MAC.
fn open(interface: &str) -> Result<Opened, String> {
    let iface = pnet_datalink::interfaces()
        .into_iter()
        .find(|i| i.name == interface)
        .ok_or_else(|| format!("no interface {interface:?}"))?;
    let mac = iface.mac.map(|m| m.octets()).filter(|m| *m != [0; 6]).ok_or_else(|| format!("{interface}: no MAC"))?;
    let config =
        Config { read_timeout: Some(READ_SLICE), write_timeout: Some(Duration::from_secs(1)), ..Config::default() };
    let channel = pnet_datalink::channel(&iface, config).map_err(|e| format!("a packet socket on {interface}: {e}"))?;
    // `Channel` is non-exhaustive; Linux's backend only makes Ethernet channels.
    let Channel::Ethernet(tx, rx) = channel else {
        return Err(format!("{interface}: not an Ethernet channel"));
    };
    Ok((tx, rx, mac))
}

/// What the probes say about the witness.
#[derive(Clone, Copy, Debug)]
struct Probe {
    mac: Mac,
    own: Ipv4Addr,
    target: Ipv4Addr,
    id: u16,
}

fn run(
    probe: &Probe,
    mut tx: Box<dyn DataLinkSender>,
    mut rx: Box<dyn DataLinkReceiver>,
    shared: &Shared,
) -> Result<(), String> {
    let mut round: u64 = 0;
    let mut next = Instant::now();
    while !shared.stop.load(Ordering::Relaxed) {
        if Instant::now() >= next {
            round += 1;
            shared.rounds.store(round, Ordering::Relaxed);
            for frame in [arp_request(probe), echo_request(probe, round)] {
                match tx.send_to(&frame, None) {
                    Some(Ok(())) => {}
                    Some(Err(e)) => return Err(format!("witness send: {e}")),
                    None => return Err("witness send: no room in the write buffer".to_string()),
                }
            }
            // A thread that fell behind (a loaded machine) skips rounds rather than bursting.
            next = (next + ROUND).max(Instant::now());
        }
        match rx.next() {
            Ok(frame) => {
                if let Some((mac, kind, seq)) = parse(probe, frame) {
                    let at = Instant::now();
                    let of = match seq {
                        // The latest round sent with this sequence number.
                        Some(seq) => round.saturating_sub(round.wrapping_sub(u64::from(seq)) & 0xffff),
                        None => round,
                    };
                    shared.answers.lock().unwrap_or_else(PoisonError::into_inner).push(Answer {
                        at,
                        mac,
                        kind,
                        round: of,
                    });
                }
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock) => {}
            Err(e) => return Err(format!("witness read: {e}")),
        }
    }
    Ok(())
}

/// A broadcast ARP request for the target, from the witness.
fn arp_request(p: &Probe) -> Vec<u8> {
    let mut f = Vec::with_capacity(ARP_FRAME);
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&p.mac);
    f.extend_from_slice(&ETHERTYPE_ARP.to_be_bytes());
    f.extend_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, 1]); // Ethernet, IPv4, lengths, request
    f.extend_from_slice(&p.mac);
    f.extend_from_slice(&p.own.octets());
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&p.target.octets());
    f
}

/// The Internet checksum (RFC 1071) of `bytes`.
fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !u16::try_from(sum).unwrap_or(0)
}

/// An ICMP echo request to the target in an Ethernet broadcast frame.
fn echo_request(p: &Probe, round: u64) -> Vec<u8> {
    let mut icmp = vec![ICMP_ECHO_REQUEST, 0, 0, 0];
    icmp.extend_from_slice(&p.id.to_be_bytes());
    icmp.extend_from_slice(&((round & 0xffff) as u16).to_be_bytes());
    icmp.extend_from_slice(&round.to_be_bytes());
    let c = checksum(&icmp).to_be_bytes();
    icmp[2..4].copy_from_slice(&c);
    let total = u16::try_from(20 + icmp.len()).unwrap_or(0);
    let mut ip = vec![0x45, 0];
    ip.extend_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&((round & 0xffff) as u16).to_be_bytes()); // identification
    ip.extend_from_slice(&[0x40, 0, 64, PROTOCOL_ICMP, 0, 0]); // don't fragment, TTL 64
    ip.extend_from_slice(&p.own.octets());
    ip.extend_from_slice(&p.target.octets());
    let c = checksum(&ip).to_be_bytes();
    ip[10..12].copy_from_slice(&c);
    let mut f = Vec::with_capacity(ECHO_FRAME);
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&p.mac);
    f.extend_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&icmp);
    f
}

/// An answer for the target in `frame`: (source MAC, kind, echo sequence).
fn parse(p: &Probe, frame: &[u8]) -> Option<(Mac, Kind, Option<u16>)> {
    let mac: Mac = frame.get(6..12)?.try_into().ok()?;
    let ethertype = u16::from_be_bytes(frame.get(12..14)?.try_into().ok()?);
    let body = frame.get(ETHERNET_HEADER..)?;
    match ethertype {
        ETHERTYPE_ARP => {
            let arp = body.get(..28)?;
            if arp[..6] != [0, 1, 0x08, 0x00, 6, 4] || arp[14..18] != p.target.octets() {
                return None;
            }
            match (arp[6], arp[7]) {
                (0, 2) => Some((mac, Kind::ArpReply, None)),
                (0, 1) if arp[24..28] == p.target.octets() => Some((mac, Kind::ArpAnnouncement, None)),
                _ => None,
            }
        }
        ETHERTYPE_IPV4 => {
            let header = usize::from(*body.first()? & 0x0f) * 4;
            if *body.first()? >> 4 != 4
                || header < 20
                || *body.get(9)? != PROTOCOL_ICMP
                || body.get(12..16)? != p.target.octets()
                || body.get(16..20)? != p.own.octets()
            {
                return None;
            }
            let icmp = body.get(header..header + 8)?;
            if icmp[0] != ICMP_ECHO_REPLY || icmp[4..6] != p.id.to_be_bytes() {
                return None;
            }
            Some((mac, Kind::EchoReply, Some(u16::from_be_bytes([icmp[6], icmp[7]]))))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROBE: Probe = Probe {
        mac: [2, 0, 0, 0, 0, 0x64],
        own: Ipv4Addr::new(10, 77, 2, 100),
        target: Ipv4Addr::new(10, 77, 2, 50),
        id: 0x1234,
    };
    const HOLDER: Mac = [2, 0, 0, 0, 0, 1];

    #[test]
    fn checksums_verify_to_zero() {
        let f = echo_request(&PROBE, 70_000);
        assert_eq!(f.len(), ECHO_FRAME);
        assert_eq!(checksum(&f[14..34]), 0, "IPv4 header");
        assert_eq!(checksum(&f[34..]), 0, "ICMP");
        // RFC 1071's example: 0x0001 0xf203 0xf4f5 0xf6f7 sums to 0xddf2.
        assert_eq!(checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]), !0xddf2);
        assert_eq!(arp_request(&PROBE).len(), ARP_FRAME);
    }

    /// A holder's answers, as its kernel would build them from our requests.
    fn reply_to(request: &[u8]) -> Vec<u8> {
        let mut r = request.to_vec();
        r[..6].copy_from_slice(&PROBE.mac);
        r[6..12].copy_from_slice(&HOLDER);
        if r[12..14] == ETHERTYPE_ARP.to_be_bytes() {
            r[21] = 2;
            r[22..28].copy_from_slice(&HOLDER);
            r[28..32].copy_from_slice(&PROBE.target.octets());
            r[32..38].copy_from_slice(&PROBE.mac);
            r[38..42].copy_from_slice(&PROBE.own.octets());
        } else {
            r[26..30].copy_from_slice(&PROBE.target.octets());
            r[30..34].copy_from_slice(&PROBE.own.octets());
            r[34] = ICMP_ECHO_REPLY;
        }
        r
    }

    #[test]
    fn answers_are_recognised_and_requests_are_not() {
        let arp = arp_request(&PROBE);
        let echo = echo_request(&PROBE, 65_537);
        assert_eq!(parse(&PROBE, &arp), None, "our own request, seen going out");
        assert_eq!(parse(&PROBE, &echo), None);
        assert_eq!(parse(&PROBE, &reply_to(&arp)), Some((HOLDER, Kind::ArpReply, None)));
        assert_eq!(parse(&PROBE, &reply_to(&echo)), Some((HOLDER, Kind::EchoReply, Some(1))));
        let mut other = reply_to(&echo);
        other[38] ^= 1;
        assert_eq!(parse(&PROBE, &other), None, "another witness's identifier");
        let mut announcement = arp.clone();
        announcement[6..12].copy_from_slice(&HOLDER);
        announcement[28..32].copy_from_slice(&PROBE.target.octets());
        assert_eq!(parse(&PROBE, &announcement), Some((HOLDER, Kind::ArpAnnouncement, None)));
        assert_eq!(parse(&PROBE, &arp[..20]), None, "a short frame");
    }

    fn answer(at: Instant, mac: u8, round: u64) -> Answer {
        Answer { at, mac: [2, 0, 0, 0, 0, mac], kind: Kind::ArpReply, round }
    }

    #[test]
    fn two_macs_in_one_round_are_a_double_owner_and_a_return_is_found() {
        let t = Instant::now();
        let clean = [answer(t, 1, 1), answer(t, 1, 2), answer(t, 2, 40), answer(t, 2, 41)];
        assert!(double_owners(&clean).is_empty());
        assert_eq!(returns_after(&clean, &[2, 0, 0, 0, 0, 1], &[2, 0, 0, 0, 0, 2]), None);
        let double = [answer(t, 1, 1), answer(t, 1, 2), answer(t, 2, 2), answer(t, 1, 3)];
        let found = double_owners(&double);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].round, 2);
        assert_eq!(returns_after(&double, &[2, 0, 0, 0, 0, 1], &[2, 0, 0, 0, 0, 2]), Some(&double[3]));
        assert_eq!(mac_text(&[0x0a, 0xbc, 0, 1, 2, 0xff]), "0a:bc:00:01:02:ff");
    }
}
