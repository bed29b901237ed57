//! The lease under which the active side acknowledges writes (docs/mirror.md, "The
//! engine process").
//!
//! In: grants from the daemon (`lease` and `activate` on the control socket), each
//! valid for a bounded time from its arrival. Out: whether a write may be acknowledged
//! now; a [`Leased`] volume that acknowledges nothing while the lease has lapsed.
//!
//! Why: the engine runs apart from the daemon. If the daemon dies and stays dead, the
//! peer judges this server down after `heartbeat_timeout` and takes over; by then the
//! lease (shorter than that) has lapsed and this side acknowledges nothing more, so two
//! sides never take writes at once. The lease is checked before a write starts and again
//! before it is acknowledged: a write that completes after the lease lapsed (the peer
//! may already be active and this side recording a break alone) fails instead.

use std::io;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::Volume;

/// The longest lease the daemon may grant at once: a lease must stay shorter than the
/// peer's takeover time, and no heartbeat timeout baton accepts is longer than this.
pub const MAX_LEASE_MS: u64 = 600_000;

/// A deadline renewed by the daemon (monotonic clock: a wall-clock step cannot extend it).
#[derive(Default)]
pub struct Lease {
    until: Mutex<Option<Instant>>,
    renewed: Condvar,
}

impl Lease {
    /// Grants the lease for `ms` from now (replacing any earlier deadline, so that a
    /// daemon can also shorten it). `ms` outside 1..=[`MAX_LEASE_MS`] is refused.
    pub fn grant(&self, ms: u64) -> Result<(), String> {
        if !(1..=MAX_LEASE_MS).contains(&ms) {
            return Err(format!("lease of {ms} ms: give 1..={MAX_LEASE_MS} ms"));
        }
        let until = Instant::now().checked_add(Duration::from_millis(ms)).ok_or("lease deadline overflows")?;
        *self.until.lock().unwrap_or_else(|p| p.into_inner()) = Some(until);
        self.renewed.notify_all();
        Ok(())
    }

    /// Ends the lease now (deactivation).
    pub fn revoke(&self) {
        *self.until.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Milliseconds left (0: lapsed or never granted).
    pub fn remaining_ms(&self) -> u64 {
        let until = *self.until.lock().unwrap_or_else(|p| p.into_inner());
        until.map_or(0, |u| u.saturating_duration_since(Instant::now()).as_millis() as u64)
    }

    pub fn valid(&self) -> bool {
        self.remaining_ms() > 0
    }

    /// Waits up to `max_wait` for the lease to be valid (a renewal late by a moment
    /// delays writes instead of failing them). False when it stayed lapsed.
    pub fn wait_valid(&self, max_wait: Duration) -> bool {
        let give_up = Instant::now().checked_add(max_wait);
        let mut until = self.until.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let now = Instant::now();
            if until.is_some_and(|u| u > now) {
                return true;
            }
            let Some(left) = give_up.and_then(|g| g.checked_duration_since(now)).filter(|d| !d.is_zero()) else {
                return false;
            };
            until = self.renewed.wait_timeout(until, left).unwrap_or_else(|p| p.into_inner()).0;
        }
    }
}

/// A volume whose writes and flushes are acknowledged only under a valid lease.
/// Reads are served regardless (they change nothing the peer must hold).
pub struct Leased<V> {
    pub volume: V,
    pub lease: std::sync::Arc<Lease>,
    /// How long a write waits for a lapsed lease to be renewed before failing.
    pub wait: Duration,
}

impl<V: Volume> Leased<V> {
    fn check(&self, before: bool) -> io::Result<()> {
        let ok = if before { self.lease.wait_valid(self.wait) } else { self.lease.valid() };
        if ok {
            return Ok(());
        }
        Err(io::Error::other(
            "the mirror engine's lease from the daemon has lapsed: the write is not acknowledged \
             (is `baton daemon` running on this server?)",
        ))
    }
}

impl<V: Volume> Volume for Leased<V> {
    fn size_bytes(&self) -> u64 {
        self.volume.size_bytes()
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.volume.read_at(buf, offset)
    }

    fn write_at(&self, data: &[u8], offset: u64) -> io::Result<()> {
        self.check(true)?;
        self.volume.write_at(data, offset)?;
        self.check(false)
    }

    fn flush(&self) -> io::Result<()> {
        self.check(true)?;
        self.volume.flush()?;
        self.check(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    /// Counts the writes that reached it.
    struct Counting(AtomicU64);
    impl Volume for Counting {
        fn size_bytes(&self) -> u64 {
            1 << 20
        }
        fn read_at(&self, _: &mut [u8], _: u64) -> io::Result<()> {
            Ok(())
        }
        fn write_at(&self, _: &[u8], _: u64) -> io::Result<()> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
        fn flush(&self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn nothing_is_acknowledged_without_a_valid_lease() {
        let lease = Arc::new(Lease::default());
        let v = Leased { volume: Counting(AtomicU64::new(0)), lease: lease.clone(), wait: Duration::from_millis(20) };
        assert!(v.write_at(b"x", 0).is_err(), "never granted");
        assert_eq!(v.volume.0.load(Ordering::SeqCst), 0, "not even started");
        lease.grant(200).unwrap();
        v.write_at(b"x", 0).unwrap();
        v.flush().unwrap();
        let t = Instant::now();
        while lease.valid() {
            assert!(t.elapsed() < Duration::from_secs(5), "the lease never lapsed");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(v.write_at(b"x", 0).is_err(), "lapsed");
        assert!(v.flush().is_err());
        assert_eq!(v.volume.0.load(Ordering::SeqCst), 1);
        lease.grant(10_000).unwrap();
        v.write_at(b"x", 0).unwrap();
        lease.revoke();
        assert!(v.write_at(b"x", 0).is_err(), "revoked");
        assert!(lease.grant(0).is_err() && lease.grant(MAX_LEASE_MS + 1).is_err());
    }

    #[test]
    fn a_write_waiting_on_a_lapsed_lease_proceeds_when_it_is_renewed() {
        let lease = Arc::new(Lease::default());
        let v = Arc::new(Leased {
            volume: Counting(AtomicU64::new(0)),
            lease: lease.clone(),
            wait: Duration::from_secs(30),
        });
        let w = {
            let v = v.clone();
            std::thread::spawn(move || v.write_at(b"x", 0))
        };
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(v.volume.0.load(Ordering::SeqCst), 0, "waits for the lease");
        lease.grant(10_000).unwrap();
        w.join().unwrap().unwrap();
        assert_eq!(v.volume.0.load(Ordering::SeqCst), 1);
    }
}
