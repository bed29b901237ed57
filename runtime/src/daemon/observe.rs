//! What the daemon publishes for the world outside its loop (issue 13): the HTTP
//! endpoint, `/metrics` and the alerts (cli/src/observe/) read it on their own thread.
//!
//! In: every event the node emits (with the names of what it is about), the time each
//! input took the node, and after a step the server's status. Out: an [`EventRecord`]
//! per event into a bounded queue (`try_send`: a full queue counts the record as not
//! queued and never waits), and a [`Snapshot`] (status plus [`Counts`]) on a watch
//! channel, replaced at most every [`PUBLISH_EVERY`] unless the step emitted events.
//! Nothing here can block or fail the decision loop; without an [`Observer`] (tests,
//! the simulated world) the loop does none of it.

use super::control::StatusReply;
use baton_core::config::{Config, Ms};
use baton_core::event::{Event, EventKind, Severity};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// The longest a published status may lag the node when no event happens.
pub const PUBLISH_EVERY: Duration = Duration::from_millis(100);

/// One emitted event with names instead of ids: a structured log record, an alert's
/// payload, a count in `/metrics`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EventRecord {
    pub cluster: String,
    /// The server that emitted it.
    pub server: String,
    /// The node's time (epoch ms).
    pub at_ms: Ms,
    /// The catalogue name (`group-failover`).
    pub event: &'static str,
    /// The catalogue id (docs/events.md).
    pub id: u16,
    pub severity: Severity,
    pub group: Option<String>,
    pub resource: Option<String>,
    pub monitor: Option<String>,
    pub peer: Option<String>,
    pub reason: Option<String>,
    /// The earlier event it follows from and the deciding rule (`after server-lost: …`).
    pub cause: Option<String>,
    #[serde(skip)]
    pub kind: EventKind,
}

impl EventRecord {
    pub fn new(cfg: &Config, server: &str, at_ms: Ms, e: &Event) -> EventRecord {
        let cause = e.cause.as_ref().map(|c| match c.after {
            Some(after) if c.rule.is_empty() => format!("after {}", after.name()),
            Some(after) => format!("after {}: {}", after.name(), c.rule),
            None => c.rule.clone(),
        });
        EventRecord {
            cluster: cfg.cluster.name.clone(),
            server: server.to_string(),
            at_ms,
            event: e.kind.name(),
            id: e.kind.id(),
            severity: e.kind.severity(),
            group: e.group.map(|g| cfg.group(g).name.clone()),
            resource: e.resource.map(|r| cfg.resource(r).name.clone()),
            monitor: e.monitor.map(|m| cfg.monitor(m).name.clone()),
            peer: e.peer.map(|p| cfg.server(p).name.clone()),
            reason: e.reason.clone(),
            cause: cause.filter(|c| !c.is_empty()),
            kind: e.kind,
        }
    }
}

/// The upper bounds (µs) of the buckets of the input processing time.
pub const STEP_BUCKETS_US: [u64; 12] = [5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 50_000];

/// A histogram of durations (the Prometheus kind: cumulative on output).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Histogram {
    /// Per bucket of [`STEP_BUCKETS_US`], then one for larger values (not cumulative).
    pub buckets: [u64; STEP_BUCKETS_US.len() + 1],
    pub count: u64,
    pub sum_us: u64,
}

impl Histogram {
    pub fn observe(&mut self, took: Duration) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let i = STEP_BUCKETS_US.iter().position(|b| us <= *b).unwrap_or(STEP_BUCKETS_US.len());
        self.buckets[i] = self.buckets[i].saturating_add(1);
        self.count = self.count.saturating_add(1);
        self.sum_us = self.sum_us.saturating_add(us);
    }
}

/// The recovery actions of a monitor's error (B83), by event.
const RECOVERY_ACTIONS: [(EventKind, &str); 5] = [
    (EventKind::RecoveryReactivate, "reactivate"),
    (EventKind::RecoveryFailover, "failover"),
    (EventKind::RecoveryFinalAction, "final-action"),
    (EventKind::RecoverySkipped, "skipped"),
    (EventKind::RecoveryFailed, "failed"),
];

/// The verdicts of network-partition resolution (B44–B46), by event.
const NP_VERDICTS: [(EventKind, &str); 8] = [
    (EventKind::NpResolvedPeerDown, "peer-down"),
    (EventKind::NpLostSelfIsolated, "lost-self-isolated"),
    (EventKind::NpLostMinority, "lost-minority"),
    (EventKind::NpLostTieBreak, "lost-tie-break"),
    (EventKind::NpResolutionFailed, "failed"),
    (EventKind::NpResolutionTimeout, "timeout"),
    (EventKind::NpUnresolved, "unresolved"),
    (EventKind::NpFallbackDisk, "fallback-disk"),
];

/// Why a group failed over, from the rule its `group-failover` names (B55, B70, B83).
fn failover_cause(e: &EventRecord) -> &'static str {
    let rule = e.cause.as_deref().unwrap_or_default();
    if rule.contains("B55") {
        "server-down"
    } else if rule.contains("B70") {
        "activation-failed"
    } else if rule.contains("B83") {
        "monitor-error"
    } else {
        "other"
    }
}

/// Counters of this daemon's run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Events by (name, severity).
    pub events: BTreeMap<(&'static str, Severity), u64>,
    /// `group-failover` by (group, cause).
    pub failovers: BTreeMap<(String, &'static str), u64>,
    /// Recovery actions by (monitor, action).
    pub recovery_actions: BTreeMap<(String, &'static str), u64>,
    /// Resolver verdicts by verdict.
    pub np_verdicts: BTreeMap<&'static str, u64>,
    /// Time the node took per input.
    pub step: Histogram,
    /// Event records the full queue did not take (no alert for them).
    pub events_not_queued: u64,
}

impl Counts {
    pub fn count(&mut self, e: &EventRecord) {
        *self.events.entry((e.event, e.severity)).or_default() += 1;
        if e.kind == EventKind::GroupFailover {
            let group = e.group.clone().unwrap_or_default();
            *self.failovers.entry((group, failover_cause(e))).or_default() += 1;
        }
        if let Some((_, action)) = RECOVERY_ACTIONS.iter().find(|(k, _)| *k == e.kind) {
            let monitor = e.monitor.clone().unwrap_or_default();
            *self.recovery_actions.entry((monitor, action)).or_default() += 1;
        }
        if let Some((_, verdict)) = NP_VERDICTS.iter().find(|(k, _)| *k == e.kind) {
            *self.np_verdicts.entry(verdict).or_default() += 1;
        }
    }
}

/// What the observers read: the status as `baton status` gets it, and the counters.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// The node's time when it was taken.
    pub at_ms: Ms,
    pub status: StatusReply,
    pub counts: Counts,
}

/// The daemon's side: given in `DaemonOptions::observer`.
#[derive(Clone, Debug)]
pub struct Observer {
    snapshot: Arc<watch::Sender<Option<Arc<Snapshot>>>>,
    events: mpsc::Sender<EventRecord>,
}

/// The observers' side.
#[derive(Debug)]
pub struct Observed {
    /// `None` until the daemon's first step.
    pub snapshot: watch::Receiver<Option<Arc<Snapshot>>>,
    pub events: mpsc::Receiver<EventRecord>,
}

/// A connected pair; `events_capacity` bounds the event queue.
pub fn observer(events_capacity: usize) -> (Observer, Observed) {
    let (stx, srx) = watch::channel(None);
    let (etx, erx) = mpsc::channel(events_capacity.max(1));
    (Observer { snapshot: Arc::new(stx), events: etx }, Observed { snapshot: srx, events: erx })
}

/// The loop's part: counts, the event queue, when to publish.
#[derive(Debug)]
pub(crate) struct Publisher {
    observer: Observer,
    counts: Counts,
    last: Option<std::time::Instant>,
    dirty: bool,
}

impl Publisher {
    pub fn new(observer: Observer) -> Publisher {
        Publisher { observer, counts: Counts::default(), last: None, dirty: true }
    }

    pub fn stepped(&mut self, took: Duration) {
        self.counts.step.observe(took);
    }

    /// Counts the event and queues it for the alerts, never waiting.
    pub fn event(&mut self, record: EventRecord) {
        self.counts.count(&record);
        self.dirty = true;
        if self.observer.events.try_send(record).is_err() {
            self.counts.events_not_queued = self.counts.events_not_queued.saturating_add(1);
        }
    }

    /// Whether a snapshot is due (an event since the last one, or [`PUBLISH_EVERY`] passed).
    pub fn due(&self) -> bool {
        self.dirty || self.last.is_none_or(|t| t.elapsed() >= PUBLISH_EVERY)
    }

    pub fn publish(&mut self, at_ms: Ms, status: StatusReply) {
        let snapshot = Snapshot { at_ms, status, counts: self.counts.clone() };
        self.observer.snapshot.send_replace(Some(Arc::new(snapshot)));
        self.last = Some(std::time::Instant::now());
        self.dirty = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_by_upper_bound() {
        let mut h = Histogram::default();
        h.observe(Duration::from_micros(5));
        h.observe(Duration::from_micros(6));
        h.observe(Duration::from_secs(1));
        assert_eq!((h.buckets[0], h.buckets[1], h.buckets[STEP_BUCKETS_US.len()]), (1, 1, 1));
        assert_eq!((h.count, h.sum_us), (3, 1_000_011));
    }

    #[test]
    fn a_full_queue_counts_and_never_waits() {
        let (observer, _observed) = observer(1);
        let mut p = Publisher::new(observer);
        let text = include_str!("../../../examples/configs/2node-ping.toml");
        let cfg = baton_core::config::parse("2node-ping.toml", text).unwrap().config;
        let e = Event::new(EventKind::GroupFailover).because(None, "its server was judged down or departed (B55)");
        let record = EventRecord::new(&cfg, "server1", 7, &e);
        p.event(record.clone());
        p.event(record);
        assert_eq!(p.counts.events_not_queued, 1);
        assert_eq!(p.counts.events[&("group-failover", Severity::Warning)], 2);
        assert_eq!(p.counts.failovers[&(String::new(), "server-down")], 2);
    }
}
