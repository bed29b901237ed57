//! ICMP echo ("ping") without running `ping`, over IPv4 (ICMPv4) and IPv6 (ICMPv6): for
//! the `ip` monitor and the `ping` network-partition probe.
//!
//! In: an IPv4 or IPv6 address and a timeout. Out: the round trip of one echo request, or why
//! there was none (`"no echo reply within 1000 ms"`, `"destination unreachable (host
//! unreachable)"`, a socket error).
//!
//! The socket is a raw ICMP socket of the address's family (needs root or
//! `CAP_NET_RAW`: the daemon's case). When the kernel refuses it, an unprivileged ping
//! socket (`SOCK_DGRAM`, allowed by `net.ipv4.ping_group_range`, which covers both
//! families) is used instead. The two differ in what they hand back: a raw socket
//! delivers every ICMP packet reaching the host (our own echo requests on loopback,
//! other processes' replies, for IPv6 neighbour discovery too), so replies are matched on
//! type, identifier and sequence; a ping socket delivers only the replies to its own
//! identifier, which the kernel picks (the socket's "port"). A raw ICMPv4 socket hands
//! the IPv4 header in front of each message; ICMPv6 sockets never do (RFC 3542). The
//! kernel fills in the ICMPv6 checksum (it covers a pseudo-header with the source
//! address, which only the kernel knows); the ICMPv4 one is ours.
//!
//! The socket is blocking with a read timeout, so one echo runs on tokio's blocking pool
//! ([`tokio::task::spawn_blocking`]); it never outlives its timeout by more than a
//! scheduling delay.

use std::io::{ErrorKind, Read};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

/// The message types of one ICMP version that an echo needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Types {
    echo_request: u8,
    echo_reply: u8,
    unreachable: u8,
    time_exceeded: u8,
}

/// ICMPv4 (RFC 792).
const V4: Types = Types { echo_request: 8, echo_reply: 0, unreachable: 3, time_exceeded: 11 };
/// ICMPv6 (RFC 4443).
const V6: Types = Types { echo_request: 128, echo_reply: 129, unreachable: 1, time_exceeded: 3 };

/// The fixed IPv6 header an ICMPv6 error quotes before the offending packet's start.
const IPV6_HEADER_BYTES: usize = 40;

/// After the 8-byte ICMP header: recognisable in captures, and long enough to be
/// echoed intact.
const PAYLOAD: &[u8; 16] = b"baton-ip-monitor";

/// Makes identifier and sequence of concurrent echoes of this process differ.
static NEXT_ECHO: AtomicU32 = AtomicU32::new(0);

/// Sends one echo request to `target` and waits for its reply until `timeout`.
/// Returns the round trip.
pub async fn echo(target: IpAddr, timeout: Duration) -> Result<Duration, String> {
    match tokio::task::spawn_blocking(move || echo_blocking(target, timeout)).await {
        Ok(result) => result,
        Err(e) => Err(format!("the echo task failed: {e}")),
    }
}

/// Which kind of socket carries the echo.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flavour {
    /// `SOCK_RAW`: every ICMP packet of the host (ICMPv4: with its IPv4 header in front).
    Raw,
    /// `SOCK_DGRAM` ping socket: only our replies, no IP header, kernel-chosen identifier.
    Ping,
}

fn open(target: IpAddr) -> Result<(Socket, Flavour), String> {
    let (domain, protocol) = match target {
        IpAddr::V4(_) => (Domain::IPV4, Protocol::ICMPV4),
        IpAddr::V6(_) => (Domain::IPV6, Protocol::ICMPV6),
    };
    match Socket::new(domain, Type::RAW, Some(protocol)) {
        Ok(s) => Ok((s, Flavour::Raw)),
        Err(raw) => match Socket::new(domain, Type::DGRAM, Some(protocol)) {
            Ok(s) => Ok((s, Flavour::Ping)),
            Err(ping) => Err(format!(
                "cannot open an ICMP socket: raw: {raw}; ping socket: {ping} (run as root or widen net.ipv4.ping_group_range)"
            )),
        },
    }
}

fn echo_blocking(target: IpAddr, timeout: Duration) -> Result<Duration, String> {
    let started = Instant::now();
    let deadline = started + timeout;
    let types = match target {
        IpAddr::V4(_) => V4,
        IpAddr::V6(_) => V6,
    };
    let (socket, flavour) = open(target)?;
    // Connected: the kernel then hands back only packets from `target` (both flavours),
    // and `send`/`read` need no address.
    socket
        .connect(&SockAddr::from(SocketAddr::new(target, 0)))
        .map_err(|e| format!("{target}: cannot connect the ICMP socket: {e}"))?;

    let n = NEXT_ECHO.fetch_add(1, Ordering::Relaxed);
    // Truncations wanted: 16-bit fields.
    let ident = (std::process::id() as u16) ^ ((n >> 16) as u16);
    let seq = n as u16;
    let request = echo_request(types, ident, seq, PAYLOAD);
    socket.send(&request).map_err(|e| format!("{target}: sending the echo request: {e}"))?;

    // A ping socket's replies carry the identifier the kernel gave the socket (its local
    // "port"), not ours; it already filters on it, so `None` matches any.
    let want_ident = match flavour {
        Flavour::Raw => Some(ident),
        Flavour::Ping => socket.local_addr().ok().and_then(|a| a.as_socket()).map(|a| a.port()),
    };

    let mut buf = [0u8; 1500];
    loop {
        let now = Instant::now();
        let Some(left) = deadline.checked_duration_since(now).filter(|d| !d.is_zero()) else {
            return Err(no_reply(timeout));
        };
        socket.set_read_timeout(Some(left)).map_err(|e| format!("setting the read timeout: {e}"))?;
        let len = match (&socket).read(&mut buf) {
            Ok(len) => len,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => return Err(no_reply(timeout)),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            // A ping socket reports ICMP errors this way (host unreachable, …).
            Err(e) => return Err(e.to_string()),
        };
        let packet = match (flavour, types == V4) {
            (Flavour::Raw, true) => strip_ipv4_header(&buf[..len]),
            (Flavour::Raw, false) | (Flavour::Ping, _) => Some(&buf[..len]),
        };
        match packet.map(|p| classify(types, p, want_ident, seq)) {
            Some(Seen::Reply) => return Ok(started.elapsed()),
            Some(Seen::Error(why)) => return Err(why),
            Some(Seen::Other) | None => {}
        }
    }
}

fn no_reply(timeout: Duration) -> String {
    format!("no echo reply within {} ms", timeout.as_millis())
}

/// An echo request: type, code 0, checksum, identifier, sequence, payload. The ICMPv6
/// checksum is left at zero: the kernel computes it (RFC 3542 §3.1).
fn echo_request(types: Types, ident: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(8 + payload.len());
    p.extend_from_slice(&[types.echo_request, 0, 0, 0]);
    p.extend_from_slice(&ident.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(payload);
    if types == V4 {
        let sum = checksum(&p);
        p[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    p
}

/// The Internet checksum (RFC 1071): one's complement of the one's complement sum of
/// the 16-bit words, an odd last byte padded with zero.
fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut words = data.chunks_exact(2);
    for w in &mut words {
        sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        sum += u32::from(*last) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The ICMP message of a raw socket's packet: the IPv4 header (IHL × 4 bytes) skipped.
fn strip_ipv4_header(packet: &[u8]) -> Option<&[u8]> {
    let first = *packet.first()?;
    if first >> 4 != 4 {
        return None;
    }
    let header_len = usize::from(first & 0x0f) * 4;
    if header_len < 20 {
        return None;
    }
    packet.get(header_len..)
}

/// What an ICMP message means for our echo.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    /// The reply to our request.
    Reply,
    /// An ICMP error about our request.
    Error(String),
    /// Anything else (our own request looping back, others' traffic): keep waiting.
    Other,
}

/// Reads an ICMP message of version `types` (no IP header). `ident` `None`: any
/// identifier.
fn classify(types: Types, icmp: &[u8], ident: Option<u16>, seq: u16) -> Seen {
    let ours = |id: u16, sq: u16| sq == seq && ident.is_none_or(|want| want == id);
    let (Some(&kind), Some(&code)) = (icmp.first(), icmp.get(1)) else { return Seen::Other };
    let field = |at: usize, p: &[u8]| p.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
    if kind == types.echo_reply {
        return match (field(4, icmp), field(6, icmp)) {
            (Some(id), Some(sq)) if ours(id, sq) => Seen::Reply,
            _ => Seen::Other,
        };
    }
    if kind != types.unreachable && kind != types.time_exceeded {
        return Seen::Other;
    }
    // The error quotes our request: its IP header, then (at least) its first 8 bytes.
    let quoted =
        icmp.get(8..).and_then(|q| if types == V4 { strip_ipv4_header(q) } else { q.get(IPV6_HEADER_BYTES..) });
    let Some(quoted) = quoted else { return Seen::Other };
    match (quoted.first(), field(4, quoted), field(6, quoted)) {
        (Some(&request), Some(id), Some(sq)) if request == types.echo_request && ours(id, sq) => {
            Seen::Error(icmp_error(types, kind, code))
        }
        _ => Seen::Other,
    }
}

fn icmp_error(types: Types, kind: u8, code: u8) -> String {
    if kind == types.time_exceeded {
        return "time exceeded (TTL ran out on the way)".to_string();
    }
    let what = match (types == V4, code) {
        (true, 0) | (false, 0) => "network unreachable",
        (true, 1) | (false, 3) => "host unreachable",
        (true, 3) | (false, 4) => "port unreachable",
        (true, 9 | 10 | 13) | (false, 1) => "administratively prohibited",
        _ => "unreachable",
    };
    format!("destination unreachable ({what}, code {code})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_of_known_packets() {
        // RFC 1071's example words: 0001 f203 f4f5 f6f7 sum to ddf2, complement 220d.
        assert_eq!(checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]), 0x220d);
        // A packet with its checksum in place sums to zero.
        let p = echo_request(V4, 0x1234, 7, b"abc");
        assert_eq!(checksum(&p), 0);
        assert_eq!(&p[..2], &[V4.echo_request, 0]);
        assert_eq!(&p[4..8], &[0x12, 0x34, 0, 7]);
        assert_eq!(&p[8..], b"abc");
    }

    fn ipv4_header(ihl_words: u8) -> Vec<u8> {
        let mut h = vec![0u8; usize::from(ihl_words) * 4];
        h[0] = 0x40 | ihl_words;
        h
    }

    #[test]
    fn raw_packets_lose_their_header() {
        let mut p = ipv4_header(6); // 24 bytes: with options
        p.extend_from_slice(&[V4.echo_reply, 0, 0, 0]);
        assert_eq!(strip_ipv4_header(&p), Some(&[V4.echo_reply, 0, 0, 0][..]));
        assert_eq!(strip_ipv4_header(&[0x60, 0, 0, 0]), None, "IPv6");
        assert_eq!(strip_ipv4_header(&[0x44, 0, 0, 0]), None, "IHL below 5");
        assert_eq!(strip_ipv4_header(&[]), None);
    }

    #[test]
    fn replies_are_matched_on_identifier_and_sequence() {
        for types in [V4, V6] {
            let mut reply = echo_request(types, 0x1234, 7, PAYLOAD);
            reply[0] = types.echo_reply;
            assert_eq!(classify(types, &reply, Some(0x1234), 7), Seen::Reply);
            assert_eq!(classify(types, &reply, None, 7), Seen::Reply, "ping socket: any identifier");
            assert_eq!(classify(types, &reply, Some(0x1235), 7), Seen::Other, "another process's reply");
            assert_eq!(classify(types, &reply, Some(0x1234), 8), Seen::Other, "an older echo");
            // Our own request, looping back on a raw socket.
            assert_eq!(classify(types, &echo_request(types, 0x1234, 7, PAYLOAD), Some(0x1234), 7), Seen::Other);
            assert_eq!(classify(types, &reply[..5], Some(0x1234), 7), Seen::Other, "truncated");
        }
        // An ICMPv6 neighbour solicitation (type 135) on a raw socket is not ours.
        assert_eq!(classify(V6, &[135, 0, 0, 0, 0x12, 0x34, 0, 7], Some(0x1234), 7), Seen::Other);
        // An ICMPv4 reply type read as ICMPv6 is not a reply.
        let mut v4_reply = echo_request(V4, 0x1234, 7, PAYLOAD);
        v4_reply[0] = V4.echo_reply;
        assert_eq!(classify(V6, &v4_reply, Some(0x1234), 7), Seen::Other);
    }

    #[test]
    fn icmpv6_requests_leave_the_checksum_to_the_kernel() {
        let p = echo_request(V6, 0x1234, 7, b"abc");
        assert_eq!(&p[..4], &[128, 0, 0, 0]);
        assert_eq!(&p[4..8], &[0x12, 0x34, 0, 7]);
    }

    #[test]
    fn icmpv6_errors_quoting_our_request_end_the_wait() {
        // Destination unreachable, code 3 (address unreachable): 8-byte header, the
        // 40-byte IPv6 header of our request, then the request itself.
        let mut error = vec![V6.unreachable, 3, 0, 0, 0, 0, 0, 0];
        error.extend([0x60u8; 1].iter().chain([0u8; IPV6_HEADER_BYTES - 1].iter()));
        error.extend_from_slice(&echo_request(V6, 0x1234, 7, b"")[..8]);
        assert_eq!(
            classify(V6, &error, Some(0x1234), 7),
            Seen::Error("destination unreachable (host unreachable, code 3)".to_string())
        );
        assert_eq!(classify(V6, &error, Some(0x9999), 7), Seen::Other, "about someone else's echo");
        error[0] = V6.time_exceeded;
        assert!(matches!(classify(V6, &error, Some(0x1234), 7), Seen::Error(e) if e.starts_with("time exceeded")));
    }

    #[test]
    fn errors_quoting_our_request_end_the_wait() {
        let mut error = vec![V4.unreachable, 1, 0, 0, 0, 0, 0, 0];
        error.extend(ipv4_header(5));
        error.extend_from_slice(&echo_request(V4, 0x1234, 7, b"")[..8]);
        assert_eq!(
            classify(V4, &error, Some(0x1234), 7),
            Seen::Error("destination unreachable (host unreachable, code 1)".to_string())
        );
        assert_eq!(classify(V4, &error, Some(0x9999), 7), Seen::Other, "about someone else's echo");
        error[0] = V4.time_exceeded;
        assert!(matches!(classify(V4, &error, Some(0x1234), 7), Seen::Error(e) if e.starts_with("time exceeded")));
    }
}
