//! The console's live stream, `GET /api/events` (server-sent events).
//!
//! In: the daemon's status snapshots (a watch channel, published every 100 ms or after
//! an event) and the event feed (a broadcast of the records the loop emits). Out: a
//! `status` event with the console document ([`document`]) at once and whenever it
//! changes (looked at every [`STATUS_EVERY`]), an `event` event per emitted event (the
//! record as alerts get it), a `lagged` event when this stream fell more than the feed's
//! capacity behind (the page then reloads the timeline from the log), a comment every
//! [`KEEP_ALIVE`]. Bounds: [`MAX_STREAMS`] streams at once (one more is refused with
//! 503, and every stream is also one of the endpoint's connections), each at most
//! [`STREAM_LIFETIME`] (the browser's `EventSource` then reconnects by itself).

use super::{Ctx, Streaming};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use baton_runtime::daemon::observe::{EventRecord, Snapshot};
use serde_json::{json, Value};
use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;
use tokio::sync::OwnedSemaphorePermit;

/// Live streams at once.
pub const MAX_STREAMS: usize = 32;
/// A stream ends after this (the browser reconnects).
pub const STREAM_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// How often a stream looks for a changed status.
pub const STATUS_EVERY: Duration = Duration::from_millis(200);
/// A comment line this often keeps proxies and the browser from timing out.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// What the console shows of a snapshot: the status document (docs/status-json.md),
/// the daemon's counters per group, monitor and resolver verdict, and whether
/// operations are possible here.
pub fn document(snap: &Snapshot, operator: bool) -> Value {
    let mut doc = super::document(snap).unwrap_or_else(|e| json!({ "error": e }));
    let c = &snap.counts;
    let failovers: Vec<Value> =
        c.failovers.iter().map(|((g, cause), n)| json!({ "group": g, "cause": cause, "count": n })).collect();
    let recovery: Vec<Value> = c
        .recovery_actions
        .iter()
        .map(|((m, action), n)| json!({ "monitor": m, "action": action, "count": n }))
        .collect();
    let verdicts: Value = c.np_verdicts.iter().map(|(v, n)| ((*v).to_string(), json!(n))).collect();
    if let Value::Object(m) = &mut doc {
        m.insert("at_ms".into(), json!(snap.at_ms));
        m.insert("failovers".into(), Value::Array(failovers));
        m.insert("recovery_actions".into(), Value::Array(recovery));
        m.insert("np_verdicts".into(), verdicts);
        m.insert("operator".into(), json!(operator));
    }
    doc
}

struct Stream {
    cx: Ctx,
    events: broadcast::Receiver<Arc<EventRecord>>,
    tick: tokio::time::Interval,
    /// The last status document sent (sent again only when it changed).
    last: Option<String>,
    end: tokio::time::Instant,
    _permit: OwnedSemaphorePermit,
}

impl Stream {
    /// The status document if it changed since the last one sent (the node's time is
    /// left out of the comparison: it changes every publication).
    fn changed_status(&mut self) -> Option<Event> {
        let snap = self.cx.snapshot.borrow().clone()?;
        let mut doc = document(&snap, self.cx.console.token.is_some());
        let text = doc.to_string();
        if let Value::Object(m) = &mut doc {
            m.remove("at_ms");
        }
        let key = doc.to_string();
        if self.last.as_deref() == Some(key.as_str()) {
            return None;
        }
        self.last = Some(key);
        Some(Event::default().event("status").data(text))
    }

    async fn next(&mut self) -> Option<Event> {
        loop {
            if tokio::time::Instant::now() >= self.end {
                return None;
            }
            tokio::select! {
                r = self.events.recv() => match r {
                    Ok(e) => return Some(Event::default().event("event").data(serde_json::to_string(&*e).unwrap_or_default())),
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        return Some(Event::default().event("lagged").data(n.to_string()));
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                _ = self.tick.tick() => {
                    if let Some(e) = self.changed_status() {
                        return Some(e);
                    }
                }
                () = tokio::time::sleep_until(self.end) => return None,
            }
        }
    }
}

pub(super) async fn events(State(cx): State<Ctx>, Extension(streaming): Extension<Streaming>) -> Response {
    let Ok(permit) = Arc::clone(&cx.streams).try_acquire_owned() else {
        let msg = format!("too many live consoles (at most {MAX_STREAMS}); close one, or try again later\n");
        return (StatusCode::SERVICE_UNAVAILABLE, msg).into_response();
    };
    streaming.0.store(true, Ordering::Relaxed);
    let mut tick = tokio::time::interval(STATUS_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let events = cx.feed.subscribe();
    let end = tokio::time::Instant::now() + STREAM_LIFETIME;
    let state = Stream { cx, events, tick, last: None, end, _permit: permit };
    let stream = futures::stream::unfold(state, |mut s| async move {
        let e = s.next().await?;
        Some((Ok::<_, Infallible>(e), s))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)).into_response()
}
