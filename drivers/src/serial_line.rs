//! The `serial` resolver's line (B38): two servers joined by a null-modem cable exchange
//! short authenticated messages over a tty, and a check asks "does the peer answer on
//! the cable right now?".
//!
//! In: the tty's path on this server, this server's and the peer's indexes, the
//! cluster's name and a key derived from the cluster secret ([`LineKey`]). Out: a
//! [`SerialLine`] whose [`SerialLine::check`] sends a ping and waits for the peer's
//! authenticated answer to that ping (its round trip), or says why there was none; and
//! counters of what it refused.
//!
//! * **Line.** Opened with the `serialport` crate: raw, 8 data bits, no parity, one stop
//!   bit, no flow control, [`BAUD_RATE`], exclusive (nothing else on this host can open
//!   the tty while baton holds it). A line that cannot be opened, or that fails (a USB
//!   adapter unplugged, the far end of a pseudo-terminal gone: reads fail with `EIO`), is
//!   closed and opened again every [`REOPEN_EVERY`]; meanwhile checks fail with the
//!   reason.
//! * **Frames.** One text line each, so that a receiver that starts mid-frame or meets
//!   line noise finds the next frame at the next newline:
//!   `BSL1 <P|A> <from> <to> <nonce, 16 hex> <tag, 32 hex>\n`. `P` is a ping, `A` the
//!   answer to the ping of the same nonce. The tag is HMAC-SHA256 (first 16 bytes) under
//!   the line key of the cluster's name and every other field, so a frame of another
//!   cluster, of a forged sender or with a changed nonce is refused and counted, never
//!   taken for the peer. A line longer than [`MAX_FRAME_BYTES`] is dropped whole.
//! * **Answers.** A reader thread owns the line: it answers every authenticated ping
//!   addressed to this server by the peer, and hands an answer to the check waiting for
//!   its nonce. Nonces are unique per process (a counter from the start time), so an
//!   answer recorded earlier and replayed matches no check.
//!
//! The check is the whole of the resolver's watch round (B31): the core counts failed
//! rounds and decides (B38: the peer answered the latest check → partition, the master
//! survives; silent → the peer is down).

use std::io::{ErrorKind, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::oneshot;

type HmacSha256 = Hmac<Sha256>;

/// The line speed. Frames are about 70 bytes: some 18 ms each way at this speed, well
/// under a resolver's `timeout`; every null-modem cable and USB adapter carries it.
pub const BAUD_RATE: u32 = 38_400;
/// How often a closed or failed line is opened again.
pub const REOPEN_EVERY: Duration = Duration::from_millis(250);
/// The longest frame read; anything longer is noise.
pub const MAX_FRAME_BYTES: usize = 128;
/// How long one blocking read waits before the reader looks at its stop flag.
const READ_SLICE: Duration = Duration::from_millis(100);
const MAGIC: &str = "BSL1";
const TAG_BYTES: usize = 16;

/// The key of the line's frames: derived from the cluster secret for this use only.
#[derive(Clone)]
pub struct LineKey([u8; 32]);

impl LineKey {
    pub fn new(bytes: [u8; 32]) -> LineKey {
        LineKey(bytes)
    }

    fn tag(&self, cluster: &str, body: &str) -> [u8; TAG_BYTES] {
        let mut mac = match HmacSha256::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        mac.update(cluster.as_bytes());
        mac.update(b"\n");
        mac.update(body.as_bytes());
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; TAG_BYTES];
        tag.copy_from_slice(&full[..TAG_BYTES]);
        tag
    }
}

impl std::fmt::Debug for LineKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LineKey(<redacted>)")
    }
}

/// What a frame is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Ping,
    Answer,
}

/// A frame of the line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    pub kind: Kind,
    pub from: u16,
    pub to: u16,
    pub nonce: u64,
}

/// Why a frame read from the line was not taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Refusal {
    /// Not `BSL1 …` with six fields of the right form, or longer than the limit.
    Malformed,
    /// The tag does not match: another cluster, another secret, or forged.
    BadTag,
    /// Authenticated, but not from the peer to this server (a loop-back of our own
    /// frame, a miswired cable).
    NotForUs,
    /// An answer whose nonce no check waits for (late, or replayed).
    Unexpected,
}

impl Frame {
    fn body(&self) -> String {
        let k = match self.kind {
            Kind::Ping => 'P',
            Kind::Answer => 'A',
        };
        format!("{MAGIC} {k} {} {} {:016x}", self.from, self.to, self.nonce)
    }

    /// The frame as sent, newline included.
    pub fn encode(&self, key: &LineKey, cluster: &str) -> String {
        let body = self.body();
        let tag: String = key.tag(cluster, &body).iter().map(|b| format!("{b:02x}")).collect();
        format!("{body} {tag}\n")
    }

    /// A received line (without its newline), checked.
    pub fn decode(line: &str, key: &LineKey, cluster: &str) -> Result<Frame, Refusal> {
        let fields: Vec<&str> = line.trim_end_matches('\r').split(' ').collect();
        let [magic, kind, from, to, nonce, tag] = fields[..] else { return Err(Refusal::Malformed) };
        if magic != MAGIC || nonce.len() != 16 || tag.len() != 2 * TAG_BYTES {
            return Err(Refusal::Malformed);
        }
        let kind = match kind {
            "P" => Kind::Ping,
            "A" => Kind::Answer,
            _ => return Err(Refusal::Malformed),
        };
        let (Ok(from), Ok(to), Ok(nonce)) = (from.parse(), to.parse(), u64::from_str_radix(nonce, 16)) else {
            return Err(Refusal::Malformed);
        };
        let frame = Frame { kind, from, to, nonce };
        let mut got = [0u8; TAG_BYTES];
        for (i, b) in got.iter_mut().enumerate() {
            *b = u8::from_str_radix(tag.get(2 * i..2 * i + 2).unwrap_or("zz"), 16).map_err(|_| Refusal::Malformed)?;
        }
        // Compared in constant time by the MAC itself would need the full tag; these
        // 16 bytes are compared whole, without an early exit.
        let want = key.tag(cluster, &frame.body());
        let diff = want.iter().zip(got.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if diff != 0 {
            return Err(Refusal::BadTag);
        }
        Ok(frame)
    }
}

/// Counts of refused frames, by reason.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Refusals {
    pub malformed: u64,
    pub bad_tag: u64,
    pub not_for_us: u64,
    pub unexpected: u64,
}

/// The state shared by the reader thread and the checks.
struct Shared {
    path: String,
    me: u16,
    peer: u16,
    cluster: String,
    key: LineKey,
    /// The writing half of the open line; `None` while it is closed.
    writer: Mutex<Option<Box<dyn serialport::SerialPort>>>,
    /// Why the line is closed (for a check's reason).
    closed_why: Mutex<String>,
    /// The check waiting for an answer: its nonce and where to say it came.
    waiting: Mutex<Option<(u64, oneshot::Sender<()>)>>,
    refusals: Mutex<Refusals>,
    stop: AtomicBool,
    next_nonce: AtomicU64,
}

impl Shared {
    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn refuse(&self, why: Refusal) {
        let mut r = Self::lock(&self.refusals);
        let n = match why {
            Refusal::Malformed => &mut r.malformed,
            Refusal::BadTag => &mut r.bad_tag,
            Refusal::NotForUs => &mut r.not_for_us,
            Refusal::Unexpected => &mut r.unexpected,
        };
        *n = n.saturating_add(1);
    }

    fn send(&self, frame: Frame) -> Result<(), String> {
        let text = frame.encode(&self.key, &self.cluster);
        let mut writer = Self::lock(&self.writer);
        let Some(port) = writer.as_mut() else {
            return Err(format!("the line {} is not open: {}", self.path, Self::lock(&self.closed_why)));
        };
        match port.write_all(text.as_bytes()).and_then(|()| port.flush()) {
            Ok(()) => Ok(()),
            Err(e) => {
                *writer = None;
                let why = format!("writing to {}: {e}", self.path);
                *Self::lock(&self.closed_why) = why.clone();
                Err(why)
            }
        }
    }

    /// One received line.
    fn take(&self, line: &str) {
        let frame = match Frame::decode(line, &self.key, &self.cluster) {
            Ok(f) => f,
            Err(why) => return self.refuse(why),
        };
        if frame.from != self.peer || frame.to != self.me {
            return self.refuse(Refusal::NotForUs);
        }
        match frame.kind {
            Kind::Ping => {
                // The answer's failure shows in the peer's check; this side's own checks
                // see the closed line.
                let _ = self.send(Frame { kind: Kind::Answer, from: self.me, to: self.peer, nonce: frame.nonce });
            }
            Kind::Answer => {
                let mut waiting = Self::lock(&self.waiting);
                match waiting.take() {
                    Some((nonce, tx)) if nonce == frame.nonce => {
                        let _ = tx.send(());
                    }
                    other => {
                        *waiting = other;
                        drop(waiting);
                        self.refuse(Refusal::Unexpected);
                    }
                }
            }
        }
    }
}

/// The line of one `serial` resolver on this server. Dropping it stops its reader.
pub struct SerialLine {
    shared: Arc<Shared>,
}

impl Drop for SerialLine {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
    }
}

impl SerialLine {
    /// Starts the line's reader on `path` (opened now and again whenever it fails).
    /// `me` and `peer` are the two servers' indexes in the cluster file.
    pub fn start(path: &str, me: u16, peer: u16, cluster: &str, key: LineKey) -> SerialLine {
        let start_nonce = SystemTime::now().duration_since(UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64);
        let shared = Arc::new(Shared {
            path: path.to_string(),
            me,
            peer,
            cluster: cluster.to_string(),
            key,
            writer: Mutex::new(None),
            closed_why: Mutex::new("not opened yet".to_string()),
            waiting: Mutex::new(None),
            refusals: Mutex::new(Refusals::default()),
            stop: AtomicBool::new(false),
            next_nonce: AtomicU64::new(start_nonce),
        });
        let reader = Arc::clone(&shared);
        let spawned = std::thread::Builder::new().name(format!("serial {path}")).spawn(move || read_loop(&reader));
        if let Err(e) = spawned {
            *Shared::lock(&shared.closed_why) = format!("cannot start the reader thread: {e}");
        }
        SerialLine { shared }
    }

    /// Whether the line is open now.
    pub fn is_open(&self) -> bool {
        Shared::lock(&self.shared.writer).is_some()
    }

    /// The frames refused so far.
    pub fn refusals(&self) -> Refusals {
        Shared::lock(&self.shared.refusals).clone()
    }

    /// One check: a ping, and the peer's answer to it within `timeout` (its round trip),
    /// or why there was none. One check at a time (the core runs one watch round of a
    /// resolver at a time); a newer check replaces an older one's wait.
    pub async fn check(&self, timeout: Duration) -> Result<Duration, String> {
        let started = Instant::now();
        let nonce = self.shared.next_nonce.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        *Shared::lock(&self.shared.waiting) = Some((nonce, tx));
        let shared = Arc::clone(&self.shared);
        let frame = Frame { kind: Kind::Ping, from: shared.me, to: shared.peer, nonce };
        // A write to a tty can block (flow control, a full buffer): off the runtime.
        let sent = tokio::time::timeout(timeout, tokio::task::spawn_blocking(move || shared.send(frame))).await;
        match sent {
            Err(_) => return Err(format!("no answer within {} ms (the write did not finish)", timeout.as_millis())),
            Ok(Err(e)) => return Err(format!("the write task failed: {e}")),
            Ok(Ok(Err(why))) => return Err(why),
            Ok(Ok(Ok(()))) => {}
        }
        let left = timeout.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, rx).await {
            Ok(Ok(())) => Ok(started.elapsed()),
            Ok(Err(_)) | Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
        }
    }
}

/// The reader: opens the line, reads frames, answers pings; reopens after a failure;
/// ends when the [`SerialLine`] is dropped.
fn read_loop(shared: &Shared) {
    while !shared.stop.load(Ordering::Relaxed) {
        let port = serialport::new(shared.path.as_str(), BAUD_RATE)
            .data_bits(serialport::DataBits::Eight)
            .parity(serialport::Parity::None)
            .stop_bits(serialport::StopBits::One)
            .flow_control(serialport::FlowControl::None)
            .timeout(READ_SLICE)
            .open();
        let mut reader = match port.and_then(|p| p.try_clone().map(|w| (p, w))) {
            Ok((reader, writer)) => {
                *Shared::lock(&shared.writer) = Some(writer);
                reader
            }
            Err(e) => {
                *Shared::lock(&shared.closed_why) = format!("cannot open {}: {e}", shared.path);
                std::thread::sleep(REOPEN_EVERY);
                continue;
            }
        };
        let why = read_frames(shared, reader.as_mut());
        *Shared::lock(&shared.writer) = None;
        *Shared::lock(&shared.closed_why) = why;
        std::thread::sleep(REOPEN_EVERY);
    }
}

/// Reads lines until the line fails (the reason) or the reader is told to stop.
fn read_frames(shared: &Shared, port: &mut dyn serialport::SerialPort) -> String {
    let mut line: Vec<u8> = Vec::with_capacity(MAX_FRAME_BYTES);
    let mut overlong = false;
    let mut buf = [0u8; 256];
    while !shared.stop.load(Ordering::Relaxed) {
        let n = match port.read(&mut buf) {
            Ok(0) => return format!("{}: end of file", shared.path),
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock | ErrorKind::Interrupted) => {
                continue
            }
            Err(e) => return format!("reading {}: {e}", shared.path),
        };
        for &b in &buf[..n] {
            if b == b'\n' {
                if overlong {
                    shared.refuse(Refusal::Malformed);
                } else if !line.is_empty() {
                    shared.take(&String::from_utf8_lossy(&line));
                }
                line.clear();
                overlong = false;
            } else if line.len() < MAX_FRAME_BYTES {
                line.push(b);
            } else {
                overlong = true;
            }
        }
    }
    "stopped".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> LineKey {
        LineKey::new([b; 32])
    }

    #[test]
    fn frames_round_trip_and_forgeries_are_refused() {
        let f = Frame { kind: Kind::Ping, from: 0, to: 1, nonce: 0x0123_4567_89ab_cdef };
        let text = f.encode(&key(7), "c1");
        assert!(text.starts_with("BSL1 P 0 1 0123456789abcdef "), "{text}");
        assert!(text.ends_with('\n') && text.len() < MAX_FRAME_BYTES, "{text}");
        let line = text.trim_end();
        assert_eq!(Frame::decode(line, &key(7), "c1"), Ok(f));
        // Another secret, another cluster: refused.
        assert_eq!(Frame::decode(line, &key(8), "c1"), Err(Refusal::BadTag));
        assert_eq!(Frame::decode(line, &key(7), "c2"), Err(Refusal::BadTag));
        // A changed field under the old tag: refused.
        let forged = line.replacen("BSL1 P 0 1", "BSL1 A 0 1", 1);
        assert_eq!(Frame::decode(&forged, &key(7), "c1"), Err(Refusal::BadTag));
        let forged = line.replacen("0123456789abcdef", "0123456789abcdee", 1);
        assert_eq!(Frame::decode(&forged, &key(7), "c1"), Err(Refusal::BadTag));
        // Noise.
        for bad in ["", "BSL1", "hello world", "BSL1 X 0 1 0123456789abcdef 00", "BSL2 P 0 1 0 0"] {
            assert_eq!(Frame::decode(bad, &key(7), "c1"), Err(Refusal::Malformed), "{bad:?}");
        }
        let bad_hex = format!("BSL1 P 0 1 0123456789abcdef {}", "zz".repeat(TAG_BYTES));
        assert_eq!(Frame::decode(&bad_hex, &key(7), "c1"), Err(Refusal::Malformed));
    }

    #[tokio::test]
    async fn a_missing_device_fails_the_check_with_the_reason() {
        let line = SerialLine::start("/dev/baton-no-such-tty", 0, 1, "c1", key(1));
        let err = line.check(Duration::from_millis(300)).await.unwrap_err();
        assert!(err.contains("/dev/baton-no-such-tty is not open"), "{err}");
        assert!(!line.is_open());
    }
}
