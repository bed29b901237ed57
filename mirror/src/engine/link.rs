//! One authenticated TCP connection between the two sides, on one mirror connect
//! network, and the counters every link of an engine shares.
//!
//! In: an address to connect to or an accepted stream, the key, frames to send. Out:
//! frames received (sealed right), bytes counted, refusals counted. A link that times
//! out (no frame, not even a ping, for `dead_after_ms`) reads as closed.

use std::io::{self, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::protocol::{client_handshake, server_handshake, Frame, Opener, Refusal, Sealer, NONCE_BYTES};

/// Counters of every link of one engine (readable while it runs).
#[derive(Debug, Default)]
pub struct WireStats {
    pub sent_bytes: AtomicU64,
    pub received_bytes: AtomicU64,
    /// Payload bytes of rebuild frames sent.
    pub rebuild_sent_bytes: AtomicU64,
    /// Frames or handshakes refused: wrong key, forged, replayed, malformed.
    pub refused: AtomicU64,
    pub links_up: AtomicU64,
}

impl WireStats {
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

/// The sending half (shared by the threads that send on this link).
pub struct LinkTx {
    stream: TcpStream,
    sealer: Sealer,
    stats: Arc<WireStats>,
    /// The sealed frame, reused: no allocation per frame.
    buf: Vec<u8>,
}

impl LinkTx {
    pub fn send(&mut self, f: &Frame) -> io::Result<()> {
        self.sealer.seal_into(f, &mut self.buf);
        self.stream.write_all(&self.buf)?;
        self.stats.sent_bytes.fetch_add(self.buf.len() as u64, Ordering::Relaxed);
        if let Frame::Rebuild { data, .. } = f {
            self.stats.rebuild_sent_bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
        }
        Ok(())
    }
}

/// The receiving half (one reader thread).
pub struct LinkRx {
    reader: BufReader<TcpStream>,
    opener: Opener,
    stats: Arc<WireStats>,
}

impl LinkRx {
    pub fn recv(&mut self) -> Result<Frame, Refusal> {
        match self.opener.open(&mut self.reader) {
            Ok((f, n)) => {
                self.stats.received_bytes.fetch_add(n as u64, Ordering::Relaxed);
                Ok(f)
            }
            Err(e) => {
                if e.is_forgery() {
                    self.stats.refused.fetch_add(1, Ordering::Relaxed);
                }
                Err(e)
            }
        }
    }
}

/// A link once authenticated: its halves, its name (the client nonce) and a handle to
/// close it from any thread.
pub struct Link {
    pub tx: Mutex<LinkTx>,
    pub nonce: [u8; NONCE_BYTES],
    pub alive: AtomicBool,
    closer: TcpStream,
}

impl Link {
    /// Closes the connection: the reader sees the end, senders get errors.
    pub fn close(&self) {
        self.alive.store(false, Ordering::SeqCst);
        let _ = self.closer.shutdown(Shutdown::Both); // already closed: nothing to do
    }

    pub fn is_alive(&self) -> bool {
        self.alive.load(Ordering::SeqCst)
    }

    pub fn send(&self, f: &Frame) -> io::Result<()> {
        let r = self.tx.lock().unwrap_or_else(|p| p.into_inner()).send(f);
        if r.is_err() {
            self.close();
        }
        r
    }
}

fn setup(stream: &TcpStream, dead_after_ms: u64) -> io::Result<()> {
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_millis(dead_after_ms.max(1))))?;
    stream.set_write_timeout(Some(Duration::from_millis(dead_after_ms.max(1))))
}

fn split(
    stream: TcpStream,
    session: super::protocol::Session,
    stats: &Arc<WireStats>,
) -> io::Result<(Arc<Link>, LinkRx)> {
    let reader = BufReader::with_capacity(256 * 1024, stream.try_clone()?);
    let closer = stream.try_clone()?;
    let link = Arc::new(Link {
        tx: Mutex::new(LinkTx { stream, sealer: session.sealer, stats: stats.clone(), buf: Vec::new() }),
        nonce: session.client_nonce,
        alive: AtomicBool::new(true),
        closer,
    });
    Ok((link, LinkRx { reader, opener: session.opener, stats: stats.clone() }))
}

/// Connects to the peer at `addr` and runs the client handshake.
pub fn connect(
    addr: SocketAddr,
    key: &[u8],
    dead_after_ms: u64,
    stats: &Arc<WireStats>,
) -> io::Result<(Arc<Link>, LinkRx)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(dead_after_ms.max(1)))?;
    setup(&stream, dead_after_ms)?;
    let session = client_handshake(&mut stream, key).map_err(|e| {
        if e.is_forgery() {
            stats.refused.fetch_add(1, Ordering::Relaxed);
        }
        io::Error::from(e)
    })?;
    split(stream, session, stats)
}

/// Runs the server handshake on an accepted stream.
pub fn accept(
    mut stream: TcpStream,
    key: &[u8],
    dead_after_ms: u64,
    stats: &Arc<WireStats>,
) -> io::Result<(Arc<Link>, LinkRx)> {
    setup(&stream, dead_after_ms)?;
    let session = server_handshake(&mut stream, key).map_err(|e| {
        if e.is_forgery() {
            stats.refused.fetch_add(1, Ordering::Relaxed);
        }
        io::Error::from(e)
    })?;
    split(stream, session, stats)
}

/// Sends a ping every `interval_ms` while the link lives, so that the other end's read
/// timeout measures the peer's silence, not the application's.
pub fn spawn_pinger(link: Arc<Link>, interval_ms: u64) {
    std::thread::spawn(move || {
        while link.is_alive() {
            std::thread::sleep(Duration::from_millis(interval_ms.max(1)));
            if link.is_alive() && link.send(&Frame::Ping).is_err() {
                break;
            }
        }
    });
}
