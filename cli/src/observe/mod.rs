//! What a daemon shows and tells outside its decision loop (issue 13): structured logs
//! ([`logging`]), the HTTP endpoint on `web_port` ([`web`]: `/api/status`, `/metrics`
//! by [`metrics`]) and the alerts ([`alerts`]).
//!
//! In: the cluster file, this server's name, and the daemon's [`Observed`] side (the
//! status snapshot and the event records the loop publishes,
//! `baton_runtime::daemon::observe`). Out: a thread of its own, with its own tokio
//! runtime, that serves HTTP and delivers alerts: nothing it does (a slow client, a
//! webhook that hangs, a thousand connections) runs on the loop's thread or holds
//! anything the loop waits for. It ends with the process.

pub mod alerts;
pub mod logging;
pub mod metrics;
pub mod web;

use baton_core::config::Config;
use baton_runtime::daemon::observe::{self, Observed, Observer};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

/// How many event records may wait for the alert dispatcher.
pub const EVENT_QUEUE: usize = 1_024;

/// Counters of the observation side, shown in `/metrics`.
#[derive(Debug, Default)]
pub struct Stats {
    inner: Mutex<StatsInner>,
}

#[derive(Clone, Debug, Default)]
pub struct StatsInner {
    /// Alerts delivered, by (alert, sink).
    pub alerts_sent: BTreeMap<(String, &'static str), u64>,
    /// Alerts whose delivery failed, by (alert, sink).
    pub alerts_failed: BTreeMap<(String, &'static str), u64>,
    /// Alerts not sent because of `max_per_minute`, by alert.
    pub alerts_suppressed: BTreeMap<String, u64>,
    /// Alerts dropped because the alert's queue was full, by alert.
    pub alerts_dropped: BTreeMap<String, u64>,
    /// HTTP connections closed at once because [`web::MAX_CONNECTIONS`] were open.
    pub web_connections_refused: u64,
    /// HTTP responses by status code.
    pub web_responses: BTreeMap<u16, u64>,
}

impl Stats {
    pub fn update(&self, f: impl FnOnce(&mut StatsInner)) {
        f(&mut self.inner.lock().unwrap_or_else(PoisonError::into_inner));
    }

    pub fn read(&self) -> StatsInner {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// Starts the observation thread for server `me` of `cfg`; returns the daemon's side.
/// The HTTP endpoint is off when `web_port` is 0; the alert dispatcher runs when the
/// file has `[[alert]]` tables. A listening address that cannot be bound is logged
/// and left out (the cluster service goes on without it).
pub fn start(cfg: &Arc<Config>, me: &str) -> Result<Observer, String> {
    let (observer, observed) = observe::observer(EVENT_QUEUE);
    let Observed { snapshot, events } = observed;
    let cfg = Arc::clone(cfg);
    let me = me.to_string();
    let stats = Arc::new(Stats::default());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the observation runtime: {e}"))?;
    std::thread::Builder::new()
        .name("baton-observe".to_string())
        .spawn(move || {
            runtime.block_on(async move {
                let web = web::serve(Arc::clone(&cfg), &me, snapshot, Arc::clone(&stats));
                let alerts = alerts::dispatch(cfg, me.clone(), events, stats);
                tokio::join!(web, alerts);
                // Both ended (no endpoint, no alerts): park until the process ends.
                std::future::pending::<()>().await;
            });
        })
        .map_err(|e| format!("cannot start the observation thread: {e}"))?;
    Ok(observer)
}
