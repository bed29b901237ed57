//! ICMPv4 echo ("ping") without running `ping`: for the `ip` monitor and the `ping`
//! network-partition probe.
//!
//! In: an IPv4 address and a timeout. Out: the round trip of one echo request, or why
//! there was none (`"no echo reply within 1000 ms"`, `"destination unreachable (host
//! unreachable)"`, a socket error).
//!
//! The socket is a raw ICMPv4 socket (needs root or `CAP_NET_RAW`: the daemon's case).
//! When the kernel refuses it, an unprivileged ping socket (`SOCK_DGRAM`, allowed by
//! `net.ipv4.ping_group_range`) is used instead. The two differ in what they hand back:
//! a raw socket delivers every ICMP packet reaching the host with its IPv4 header in
//! front (our own echo requests on loopback, other processes' replies), so replies are
//! matched on identifier and sequence; a ping socket delivers only the replies to its
//! own identifier, which the kernel picks (the socket's "port"), without the IPv4 header.
//!
//! The socket is blocking with a read timeout, so one echo runs on tokio's blocking pool
//! ([`tokio::task::spawn_blocking`]); it never outlives its timeout by more than a
//! scheduling delay.

use std::io::{ErrorKind, Read};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

const ECHO_REPLY: u8 = 0;
const DEST_UNREACHABLE: u8 = 3;
const ECHO_REQUEST: u8 = 8;
const TIME_EXCEEDED: u8 = 11;

/// After the 8-byte ICMP header: recognisable in captures, and long enough to be
/// echoed intact.
const PAYLOAD: &[u8; 16] = b"baton-ip-monitor";

/// Makes identifier and sequence of concurrent echoes of this process differ.
static NEXT_ECHO: AtomicU32 = AtomicU32::new(0);

/// Sends one echo request to `target` and waits for its reply until `timeout`.
/// Returns the round trip.
pub async fn echo(target: Ipv4Addr, timeout: Duration) -> Result<Duration, String> {
    match tokio::task::spawn_blocking(move || echo_blocking(target, timeout)).await {
        Ok(result) => result,
        Err(e) => Err(format!("the echo task failed: {e}")),
    }
}

/// Which kind of socket carries the echo.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flavour {
    /// `SOCK_RAW`: IPv4 header in front, every ICMP packet of the host.
    Raw,
    /// `SOCK_DGRAM` ping socket: only our replies, no IPv4 header, kernel-chosen identifier.
    Ping,
}

fn open() -> Result<(Socket, Flavour), String> {
    match Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4)) {
        Ok(s) => Ok((s, Flavour::Raw)),
        Err(raw) => match Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::ICMPV4)) {
            Ok(s) => Ok((s, Flavour::Ping)),
            Err(ping) => Err(format!(
                "cannot open an ICMP socket: raw: {raw}; ping socket: {ping} (run as root or widen net.ipv4.ping_group_range)"
            )),
        },
    }
}

fn echo_blocking(target: Ipv4Addr, timeout: Duration) -> Result<Duration, String> {
    let started = Instant::now();
    let deadline = started + timeout;
    let (socket, flavour) = open()?;
    // Connected: the kernel then hands back only packets from `target` (both flavours),
    // and `send`/`read` need no address.
    socket
        .connect(&SockAddr::from(SocketAddrV4::new(target, 0)))
        .map_err(|e| format!("{target}: cannot connect the ICMP socket: {e}"))?;

    let n = NEXT_ECHO.fetch_add(1, Ordering::Relaxed);
    // Truncations wanted: 16-bit fields.
    let ident = (std::process::id() as u16) ^ ((n >> 16) as u16);
    let seq = n as u16;
    let request = echo_request(ident, seq, PAYLOAD);
    socket.send(&request).map_err(|e| format!("{target}: sending the echo request: {e}"))?;

    // A ping socket's replies carry the identifier the kernel gave the socket (its local
    // "port"), not ours; it already filters on it, so `None` matches any.
    let want_ident = match flavour {
        Flavour::Raw => Some(ident),
        Flavour::Ping => socket.local_addr().ok().and_then(|a| a.as_socket_ipv4()).map(|a| a.port()),
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
        let packet = match flavour {
            Flavour::Raw => strip_ipv4_header(&buf[..len]),
            Flavour::Ping => Some(&buf[..len]),
        };
        match packet.map(|p| classify(p, want_ident, seq)) {
            Some(Seen::Reply) => return Ok(started.elapsed()),
            Some(Seen::Error(why)) => return Err(why),
            Some(Seen::Other) | None => {}
        }
    }
}

fn no_reply(timeout: Duration) -> String {
    format!("no echo reply within {} ms", timeout.as_millis())
}

/// An echo request: type 8, code 0, checksum, identifier, sequence, payload.
fn echo_request(ident: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(8 + payload.len());
    p.extend_from_slice(&[ECHO_REQUEST, 0, 0, 0]);
    p.extend_from_slice(&ident.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(payload);
    let sum = checksum(&p);
    p[2..4].copy_from_slice(&sum.to_be_bytes());
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

/// Reads an ICMP message (no IPv4 header). `ident` `None`: any identifier.
fn classify(icmp: &[u8], ident: Option<u16>, seq: u16) -> Seen {
    let ours = |id: u16, sq: u16| sq == seq && ident.is_none_or(|want| want == id);
    let (Some(&kind), Some(&code)) = (icmp.first(), icmp.get(1)) else { return Seen::Other };
    let field = |at: usize, p: &[u8]| p.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
    match kind {
        ECHO_REPLY => match (field(4, icmp), field(6, icmp)) {
            (Some(id), Some(sq)) if ours(id, sq) => Seen::Reply,
            _ => Seen::Other,
        },
        DEST_UNREACHABLE | TIME_EXCEEDED => {
            // The error quotes our request: its IPv4 header, then its first 8 bytes.
            let Some(quoted) = icmp.get(8..).and_then(strip_ipv4_header) else { return Seen::Other };
            match (quoted.first(), field(4, quoted), field(6, quoted)) {
                (Some(&ECHO_REQUEST), Some(id), Some(sq)) if ours(id, sq) => Seen::Error(icmp_error(kind, code)),
                _ => Seen::Other,
            }
        }
        _ => Seen::Other,
    }
}

fn icmp_error(kind: u8, code: u8) -> String {
    if kind == TIME_EXCEEDED {
        return "time exceeded (TTL ran out on the way)".to_string();
    }
    let what = match code {
        0 => "network unreachable",
        1 => "host unreachable",
        3 => "port unreachable",
        9 | 10 | 13 => "administratively prohibited",
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
        let p = echo_request(0x1234, 7, b"abc");
        assert_eq!(checksum(&p), 0);
        assert_eq!(&p[..2], &[ECHO_REQUEST, 0]);
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
        p.extend_from_slice(&[ECHO_REPLY, 0, 0, 0]);
        assert_eq!(strip_ipv4_header(&p), Some(&[ECHO_REPLY, 0, 0, 0][..]));
        assert_eq!(strip_ipv4_header(&[0x60, 0, 0, 0]), None, "IPv6");
        assert_eq!(strip_ipv4_header(&[0x44, 0, 0, 0]), None, "IHL below 5");
        assert_eq!(strip_ipv4_header(&[]), None);
    }

    #[test]
    fn replies_are_matched_on_identifier_and_sequence() {
        let mut reply = echo_request(0x1234, 7, PAYLOAD);
        reply[0] = ECHO_REPLY;
        assert_eq!(classify(&reply, Some(0x1234), 7), Seen::Reply);
        assert_eq!(classify(&reply, None, 7), Seen::Reply, "ping socket: any identifier");
        assert_eq!(classify(&reply, Some(0x1235), 7), Seen::Other, "another process's reply");
        assert_eq!(classify(&reply, Some(0x1234), 8), Seen::Other, "an older echo");
        // Our own request, looping back on a raw socket.
        assert_eq!(classify(&echo_request(0x1234, 7, PAYLOAD), Some(0x1234), 7), Seen::Other);
        assert_eq!(classify(&reply[..5], Some(0x1234), 7), Seen::Other, "truncated");
    }

    #[test]
    fn errors_quoting_our_request_end_the_wait() {
        let mut error = vec![DEST_UNREACHABLE, 1, 0, 0, 0, 0, 0, 0];
        error.extend(ipv4_header(5));
        error.extend_from_slice(&echo_request(0x1234, 7, b"")[..8]);
        assert_eq!(
            classify(&error, Some(0x1234), 7),
            Seen::Error("destination unreachable (host unreachable, code 1)".to_string())
        );
        assert_eq!(classify(&error, Some(0x9999), 7), Seen::Other, "about someone else's echo");
        error[0] = TIME_EXCEEDED;
        assert!(matches!(classify(&error, Some(0x1234), 7), Seen::Error(e) if e.starts_with("time exceeded")));
    }
}
