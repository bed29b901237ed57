//! The console's event timeline and causal chains, read from this server's event log
//! (`STATE_DIR/log`) with the code of `baton log show` and `baton log why`.
//!
//! In: `GET /api/log?limit=N` (default [`DEFAULT_EVENTS`], at most [`MAX_EVENTS`]) and
//! `GET /api/why?seq=N`, or `?event=NAME&at_ms=MS` for an event the live stream
//! delivered (no record number yet). Out: JSON: the last events, oldest first
//! (`[{seq, at_ms, event, severity, text, because}]`), or the chain, the event first
//! (`{"steps": [{seq, at, server, event, because, input_seq, input}]}`). Bounds: at
//! most [`MAX_READS`] log reads at once, on blocking threads, never on the loop's.

use super::Ctx;
use crate::log_cmd;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use baton_core::replay::Target;
use baton_core::EventKind;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// Log reads at once (each reads the whole log).
pub const MAX_READS: usize = 2;
/// Events in a timeline unless asked otherwise.
pub const DEFAULT_EVENTS: usize = 200;
/// Events in a timeline at most.
pub const MAX_EVENTS: usize = 2_000;
/// How long a request may wait for its turn to read.
const QUEUE_WAIT: Duration = Duration::from_secs(5);

fn json(code: StatusCode, v: &impl serde::Serialize) -> Response {
    let body = serde_json::to_string(v).unwrap_or_default() + "\n";
    (code, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn error(code: StatusCode, msg: String) -> Response {
    json(code, &serde_json::json!({ "error": msg }))
}

/// Runs `read` on the log directory on a blocking thread, one of [`MAX_READS`].
async fn read_log<T: Send + 'static>(
    cx: &Ctx,
    read: impl FnOnce(PathBuf) -> Result<T, String> + Send + 'static,
) -> Result<T, Response> {
    let busy = || error(StatusCode::SERVICE_UNAVAILABLE, "the event log is being read by others; try again".into());
    let permit = match tokio::time::timeout(QUEUE_WAIT, std::sync::Arc::clone(&cx.log_reads).acquire_owned()).await {
        Ok(Ok(p)) => p,
        Ok(Err(_)) | Err(_) => return Err(busy()),
    };
    let dir = cx.console.state_dir.join("log");
    let done = tokio::task::spawn_blocking(move || {
        let r = read(dir);
        drop(permit);
        r
    })
    .await;
    match done {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, e)),
        Err(e) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, format!("reading the log failed: {e}"))),
    }
}

#[derive(Deserialize)]
pub(super) struct RecentQuery {
    limit: Option<usize>,
}

pub(super) async fn recent(State(cx): State<Ctx>, Query(q): Query<RecentQuery>) -> Response {
    let limit = q.limit.unwrap_or(DEFAULT_EVENTS).min(MAX_EVENTS);
    match read_log(&cx, move |dir| log_cmd::recent_events(&dir, limit)).await {
        Ok(events) => json(StatusCode::OK, &events),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
pub(super) struct WhyQuery {
    seq: Option<u64>,
    event: Option<String>,
    at_ms: Option<u64>,
}

pub(super) async fn why(State(cx): State<Ctx>, Query(q): Query<WhyQuery>) -> Response {
    let find = match (q.seq, q.event, q.at_ms) {
        (Some(seq), None, None) => Find::Seq(seq),
        (None, Some(name), Some(at_ms)) => match EventKind::from_name(&name) {
            Some(kind) => Find::At(kind, at_ms),
            None => return error(StatusCode::BAD_REQUEST, format!("{name:?} is not an event name (docs/events.md)")),
        },
        _ => return error(StatusCode::BAD_REQUEST, "ask ?seq=N, or ?event=NAME&at_ms=MS".into()),
    };
    let chain = read_log(&cx, move |dir| {
        let seq = match find {
            Find::Seq(seq) => Some(seq),
            Find::At(kind, at_ms) => log_cmd::recent_events(&dir, usize::MAX)?
                .iter()
                .rev()
                .find(|e| e.event == kind.name() && e.at_ms == at_ms)
                .map(|e| e.seq),
        };
        match seq {
            Some(seq) => log_cmd::why_chain(Target::Seq(seq), &dir, None, false).map(Some),
            None => Ok(None),
        }
    })
    .await;
    match chain {
        Ok(Some(c)) if !c.steps.is_empty() => {
            json(StatusCode::OK, &serde_json::json!({ "steps": c.steps, "cut": c.cut }))
        }
        Ok(Some(_) | None) => error(StatusCode::NOT_FOUND, "no such event in this server's log".into()),
        Err(r) => r,
    }
}

enum Find {
    Seq(u64),
    At(EventKind, u64),
}
