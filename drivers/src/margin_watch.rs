//! The duplicate-address watch of floating IPs during a takeover margin (B44, revised).
//!
//! In: `AddressProbe` actions (a [`FloatingIpSpec`] and the margin up to T), from the
//! verdict V on. Out: for each, whether a host answered for the address in the last
//! probe window before T; and for the activation at T ([`crate::floating_ip`]), since
//! when the address has been quiet ([`MarginWatches::quiet_since`]), so that it adds the
//! address at once when nobody answered in the last window and the probe costs nothing
//! when the old owner is gone.
//!
//! A watch runs from V through T and one probe window past it, so that it still covers
//! the activation that starts at T. It sends an RFC 5227 probe every half window (no
//! neighbour's cache changes) and records every answer with its instant. The table is
//! shared by the daemon's drivers: the watch writes, the activation reads.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::arp::{self, ArpAnswer};
use crate::floating_ip::{FipError, FloatingIpSpec, Netlink};

/// One running watch of an address.
#[derive(Clone, Copy, Debug)]
struct Watch {
    since: Instant,
    until: Instant,
    /// The latest answer seen, and when.
    last_answer: Option<(Instant, ArpAnswer)>,
}

/// The running margin watches of this server, by address.
#[derive(Clone, Debug, Default)]
pub struct MarginWatches {
    table: Arc<Mutex<BTreeMap<Ipv4Addr, Watch>>>,
}

impl MarginWatches {
    pub fn new() -> MarginWatches {
        MarginWatches::default()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<Ipv4Addr, Watch>> {
        // A panic while holding the lock leaves plain data behind: still usable.
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Watches the link for another holder of the address from now through `margin`
    /// (to T) and one probe window past it. Answers the host that answered in the last
    /// window before T or after it, if one did. An address already on this server is not watched
    /// (we would not hear ourselves).
    pub async fn watch(&self, spec: &FloatingIpSpec, margin: Duration) -> Result<Option<ArpAnswer>, FipError> {
        let window = Duration::from_millis(spec.probe_wait_ms.max(1));
        let nl = Netlink::open()?;
        if !nl.addresses_of(spec.address).await?.is_empty() {
            return Ok(None);
        }
        let (_, interface) = nl.interface_for(spec).await?;
        drop(nl);
        let since = Instant::now();
        let t = since + margin;
        let until = t + window;
        let address = spec.address;
        self.lock().insert(address, Watch { since, until, last_answer: None });
        let table = self.table.clone();
        let record = move |answer: ArpAnswer, at: Instant| {
            let mut table = table.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(w) = table.get_mut(&address).filter(|w| w.since == since) {
                w.last_answer = Some((at, answer));
            }
        };
        let watched = arp::watch(&interface, address, window / arp::PROBE_COUNT, until, record).await;
        let ended = {
            let mut table = self.lock();
            let ours = table.get(&address).is_some_and(|w| w.since == since);
            if ours {
                table.remove(&address)
            } else {
                None
            }
        };
        watched.map_err(|e| FipError::Arp(format!("margin probe for {address} on {interface} failed: {e}")))?;
        Ok(ended.and_then(|w| w.last_answer).filter(|(at, _)| *at + window > t).map(|(_, a)| a))
    }

    /// Since when a running watch has heard nobody answer for `address` (its start, or
    /// its latest answer); `None` when no watch covers `now`.
    pub fn quiet_since(&self, address: Ipv4Addr, now: Instant) -> Option<Instant> {
        let table = self.lock();
        let w = table.get(&address)?;
        if now < w.since || now > w.until {
            return None;
        }
        Some(w.last_answer.map_or(w.since, |(at, _)| at.max(w.since)))
    }
}
