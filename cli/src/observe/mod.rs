//! What a daemon shows and tells outside its decision loop (issue 13): structured logs
//! ([`logging`]), the HTTP endpoint on `web_port` ([`web`]: the web console,
//! `/api/status`, `/metrics` by [`metrics`]) and the alerts ([`alerts`]). The event
//! records fan out ([`fan_out`]) to the alerts and to the console's live streams.
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
use baton_runtime::daemon::observe::{self, EventRecord, Observed, Observer};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::{broadcast, mpsc};

/// How many event records may wait for the alert dispatcher.
pub const EVENT_QUEUE: usize = 1_024;
/// How many event records a slow console stream may fall behind before it is told it
/// lagged (it then reloads the timeline from the log).
pub const FEED_CAPACITY: usize = 256;

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
pub fn start(cfg: &Arc<Config>, me: &str, console: web::Console) -> Result<Observer, String> {
    let (observer, observed) = observe::observer(EVENT_QUEUE);
    let Observed { snapshot, events } = observed;
    let (feed, _) = broadcast::channel(FEED_CAPACITY);
    let (to_alerts, alert_events) = mpsc::channel(EVENT_QUEUE);
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
                let fan = fan_out(events, to_alerts, feed.clone());
                let web = web::serve(Arc::clone(&cfg), &me, console, snapshot, feed, Arc::clone(&stats));
                let alerts = alerts::dispatch(cfg, me.clone(), alert_events, stats);
                tokio::join!(fan, web, alerts);
                // Both ended (no endpoint, no alerts): park until the process ends.
                std::future::pending::<()>().await;
            });
        })
        .map_err(|e| format!("cannot start the observation thread: {e}"))?;
    Ok(observer)
}

/// Passes every event record to the alert dispatcher (waiting for room: a full queue
/// holds the records back to the daemon's own bounded queue, which counts what it could
/// not queue) and to the console's live streams (never waiting: a stream that falls
/// behind is told so).
async fn fan_out(
    mut events: mpsc::Receiver<EventRecord>,
    alerts: mpsc::Sender<EventRecord>,
    feed: broadcast::Sender<Arc<EventRecord>>,
) {
    while let Some(e) = events.recv().await {
        // No receiver (no console open) is not an error.
        let _ = feed.send(Arc::new(e.clone()));
        if alerts.send(e).await.is_err() {
            break;
        }
    }
}
