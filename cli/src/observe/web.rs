//! The HTTP endpoint on `web_port` (issue 13): `GET /api/status` (the document of
//! `baton status --json`, docs/status-json.md) and `GET /metrics` (Prometheus text).
//!
//! In: the addresses of `web_listen` (default: this server's own addresses, never the
//! wildcard), `web_port` (0: off), and the status snapshot the daemon's loop publishes
//! on a watch channel (read, never waited for). Out: responses; everything else is
//! refused in words: 404 for another path, 405 (with `Allow`) for another method, 413
//! for a request with a body (this endpoint takes none), 431 for a request head over
//! [`MAX_HEAD_BYTES`]. Bounds: [`MAX_CONNECTIONS`] open connections (more are closed
//! at once, counted), [`HEAD_TIMEOUT`] to send a request head, [`CONNECTION_LIFETIME`]
//! per connection. Read-only: nothing here changes the cluster.

use super::{metrics, Stats};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use baton_core::config::Config;
use baton_runtime::daemon::observe::Snapshot;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

/// Open connections at most (each is a task with buffers; the daemon's own work is on
/// another thread, but memory is shared).
pub const MAX_CONNECTIONS: usize = 64;
/// A request head (request line and headers) larger than this is refused (431).
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// A client must send its request head within this.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// A connection is closed after this, whatever it is doing.
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);

type SnapshotRx = watch::Receiver<Option<Arc<Snapshot>>>;

#[derive(Clone)]
struct Ctx {
    snapshot: SnapshotRx,
    stats: Arc<Stats>,
}

/// The routes; also used by tests without a socket.
fn router(snapshot: SnapshotRx, stats: Arc<Stats>) -> Router {
    Router::new()
        .route("/api/status", get(status).fallback(method_refused))
        .route("/metrics", get(metrics_page).fallback(method_refused))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(Arc::clone(&stats), count_and_refuse_bodies))
        .with_state(Ctx { snapshot, stats })
}

/// Serves on every listening address until the process ends; returns at once when
/// `web_port` is 0 or no address could be bound.
pub async fn serve(cfg: Arc<Config>, me: &str, snapshot: SnapshotRx, stats: Arc<Stats>) {
    let port = cfg.cluster.web_port;
    let Some(server) = cfg.server_id(me).map(|s| cfg.server(s).clone()) else { return };
    if port == 0 {
        tracing::info!(target: "baton", server = me, "HTTP endpoint off (web_port = 0)");
        return;
    }
    let app = router(snapshot, Arc::clone(&stats));
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut tasks = Vec::new();
    for ip in cfg.observe.listen_addresses(&server) {
        let addr = SocketAddr::new(ip, port);
        match TcpListener::bind(addr).await {
            Ok(l) => {
                tracing::info!(target: "baton", server = me, "HTTP endpoint on http://{addr}/ (/api/status, /metrics)");
                tasks.push(tokio::spawn(accept(l, app.clone(), Arc::clone(&limit), Arc::clone(&stats))));
            }
            Err(e) => tracing::error!(
                target: "baton",
                server = me,
                "ERROR: HTTP endpoint: cannot listen on {addr}: {e} (web_listen, web_port); going on without it"
            ),
        }
    }
    for t in tasks {
        let _ = t.await;
    }
}

async fn accept(listener: TcpListener, app: Router, limit: Arc<Semaphore>, stats: Arc<Stats>) {
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                // Out of descriptors, mostly: wait a little rather than spin.
                tracing::warn!(target: "baton", "WARNING: HTTP endpoint: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&limit).try_acquire_owned() else {
            stats.update(|s| s.web_connections_refused += 1);
            drop(stream);
            continue;
        };
        let service = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new()).header_read_timeout(HEAD_TIMEOUT).max_buf_size(MAX_HEAD_BYTES);
            let conn = http.serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(CONNECTION_LIFETIME, conn).await;
            drop(permit);
        });
    }
}

/// Counts every response by code; refuses a request that carries a body (413).
async fn count_and_refuse_bodies(State(stats): State<Arc<Stats>>, req: Request, next: Next) -> Response {
    let length = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).map(str::trim);
    let has_body = length.is_some_and(|l| l != "0") || req.headers().contains_key(header::TRANSFER_ENCODING);
    let response = if has_body {
        (StatusCode::PAYLOAD_TOO_LARGE, "this endpoint takes no request body (GET /api/status, GET /metrics)\n")
            .into_response()
    } else {
        next.run(req).await
    };
    let code = response.status().as_u16();
    stats.update(|s| *s.web_responses.entry(code).or_default() += 1);
    response
}

fn not_ready() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, "the daemon has not published its status yet; try again in a moment\n")
        .into_response()
}

async fn status(State(cx): State<Ctx>) -> Response {
    let Some(snap) = cx.snapshot.borrow().clone() else { return not_ready() };
    match serde_json::to_value(&snap.status) {
        Ok(v) => {
            let body = serde_json::to_string_pretty(&crate::status_doc::document(&v)).unwrap_or_default() + "\n";
            ([(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("status not serialisable: {e}\n")).into_response(),
    }
}

async fn metrics_page(State(cx): State<Ctx>) -> Response {
    let Some(snap) = cx.snapshot.borrow().clone() else { return not_ready() };
    let text = metrics::render(&snap, &cx.stats.read());
    ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response()
}

async fn not_found(req: Request) -> Response {
    let msg = format!("no such page: {}; this endpoint serves GET /api/status and GET /metrics\n", req.uri().path());
    (StatusCode::NOT_FOUND, msg).into_response()
}

async fn method_refused(req: Request) -> Response {
    let msg =
        format!("{} is not allowed on {}: this endpoint is read-only (GET, HEAD)\n", req.method(), req.uri().path());
    let mut r = (StatusCode::METHOD_NOT_ALLOWED, msg).into_response();
    r.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    r
}
