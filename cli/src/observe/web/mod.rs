//! The HTTP endpoint on `web_port` (issue 13): the web console (`GET /`, [`page`]), its
//! live stream (`GET /api/events`, [`sse`]), its operations (`POST /api/op/…`, [`ops`]),
//! the event timeline and causal chains (`GET /api/log`, `GET /api/why`, [`log_api`]),
//! `GET /api/status` (the document of `baton status --json`, docs/status-json.md) and
//! `GET /metrics` (Prometheus text). docs/console.md says what the console shows.
//!
//! In: the addresses of `web_listen` (default: this server's own addresses, never the
//! wildcard), `web_port` (0: off), the [`Console`] settings (operator token, TLS), the
//! status snapshot the daemon's loop publishes on a watch channel (read, never waited
//! for) and the event feed. Out: responses; everything else is refused in words: 404
//! for another path, 405 (with `Allow`) for another method, 413 for a request with a
//! body (only an operation takes one, at most [`MAX_OP_BODY_BYTES`]), 431 for a request
//! head over [`MAX_HEAD_BYTES`]. Bounds: [`MAX_CONNECTIONS`] open connections (more are
//! closed at once, counted), [`HEAD_TIMEOUT`] to send a request head (and finish the TLS
//! handshake), [`CONNECTION_LIFETIME`] per connection — except a connection that became
//! a live stream, bounded instead by [`sse::MAX_STREAMS`] and [`sse::STREAM_LIFETIME`].
//! Only an operation changes the cluster, and only through the control socket with the
//! operator's credential ([`ops`]).

pub mod log_api;
pub mod ops;
pub mod page;
pub mod sse;
pub mod tls;

use super::{metrics, Stats};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use baton_core::config::Config;
use baton_runtime::daemon::observe::{EventRecord, Snapshot};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch, Semaphore};
use tokio_rustls::TlsAcceptor;

/// Open connections at most (each is a task with buffers; the daemon's own work is on
/// another thread, but memory is shared). Live streams count here too.
pub const MAX_CONNECTIONS: usize = 64;
/// A request head (request line and headers) larger than this is refused (431).
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// The largest body an operation may carry (a few names and flags).
pub const MAX_OP_BODY_BYTES: u64 = 4 * 1024;
/// A client must send its request head (and finish the TLS handshake) within this.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// A connection is closed after this, whatever it is doing, unless it is a live stream.
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);

type SnapshotRx = watch::Receiver<Option<Arc<Snapshot>>>;

/// The console's settings, read and checked before the daemon starts (a bad file is a
/// start-up error naming it, never a console that silently runs without TLS).
#[derive(Clone, Default)]
pub struct Console {
    /// The state directory: its control socket (operations) and event log (timeline).
    pub state_dir: PathBuf,
    /// The operator token (`web_token_file`); none: the console is read-only.
    pub token: Option<ops::Token>,
    /// `web_tls_cert` / `web_tls_key`.
    pub tls: Option<TlsAcceptor>,
}

impl Console {
    /// Reads the token and TLS files of `cfg` (relative to `config_dir`).
    pub fn load(cfg: &Config, config_dir: &Path, state_dir: &Path) -> Result<Console, String> {
        let resolve = |f: &str| crate::host_check::resolve(config_dir, f);
        let token = match &cfg.observe.web_token_file {
            Some(f) => Some(ops::Token::load(&resolve(f))?),
            None => None,
        };
        let tls = match &cfg.observe.web_tls {
            Some(t) => Some(tls::acceptor(&resolve(&t.cert), &resolve(&t.key))?),
            None => None,
        };
        Ok(Console { state_dir: state_dir.to_path_buf(), token, tls })
    }
}

#[derive(Clone)]
struct Ctx {
    snapshot: SnapshotRx,
    stats: Arc<Stats>,
    feed: broadcast::Sender<Arc<EventRecord>>,
    console: Arc<Console>,
    /// Live streams open (bounded by [`sse::MAX_STREAMS`]).
    streams: Arc<Semaphore>,
    /// Event-log reads running at once (each reads the log from disk).
    log_reads: Arc<Semaphore>,
}

/// Set on a connection that became a live stream: exempt from [`CONNECTION_LIFETIME`].
#[derive(Clone)]
struct Streaming(Arc<AtomicBool>);

/// The routes; also used by tests without a socket.
fn router(cx: Ctx) -> Router {
    let stats = Arc::clone(&cx.stats);
    Router::new()
        .route("/", get(page::page).fallback(method_refused))
        .route("/api/status", get(status).fallback(method_refused))
        .route("/api/events", get(sse::events).fallback(method_refused))
        .route("/api/log", get(log_api::recent).fallback(method_refused))
        .route("/api/why", get(log_api::why).fallback(method_refused))
        .route("/api/op/{noun}/{verb}", post(ops::operate).fallback(method_refused))
        .route("/metrics", get(metrics_page).fallback(method_refused))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(stats, count_and_refuse_bodies))
        .with_state(cx)
}

/// Serves on every listening address until the process ends; returns at once when
/// `web_port` is 0 or no address could be bound.
pub async fn serve(
    cfg: Arc<Config>,
    me: &str,
    console: Console,
    snapshot: SnapshotRx,
    feed: broadcast::Sender<Arc<EventRecord>>,
    stats: Arc<Stats>,
) {
    let port = cfg.cluster.web_port;
    let Some(server) = cfg.server_id(me).map(|s| cfg.server(s).clone()) else { return };
    if port == 0 {
        tracing::info!(target: "baton", server = me, "HTTP endpoint off (web_port = 0)");
        return;
    }
    let scheme = if console.tls.is_some() { "https" } else { "http" };
    let mode = if console.token.is_some() { "operations with the operator token" } else { "read-only" };
    let cx = Ctx {
        snapshot,
        stats: Arc::clone(&stats),
        feed,
        console: Arc::new(console),
        streams: Arc::new(Semaphore::new(sse::MAX_STREAMS)),
        log_reads: Arc::new(Semaphore::new(log_api::MAX_READS)),
    };
    let tls = cx.console.tls.clone();
    let app = router(cx);
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut tasks = Vec::new();
    for ip in cfg.observe.listen_addresses(&server) {
        let addr = SocketAddr::new(ip, port);
        match TcpListener::bind(addr).await {
            Ok(l) => {
                tracing::info!(
                    target: "baton",
                    server = me,
                    "HTTP endpoint on {scheme}://{addr}/ (console {mode}; /api/status, /metrics)"
                );
                let (app, limit, stats, tls) = (app.clone(), Arc::clone(&limit), Arc::clone(&stats), tls.clone());
                tasks.push(tokio::spawn(accept(l, app, limit, stats, tls)));
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

async fn accept(
    listener: TcpListener,
    app: Router,
    limit: Arc<Semaphore>,
    stats: Arc<Stats>,
    tls: Option<TlsAcceptor>,
) {
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
        let (app, tls) = (app.clone(), tls.clone());
        tokio::spawn(async move {
            match tls {
                None => serve_connection(stream, app).await,
                Some(acceptor) => {
                    // The handshake is part of the head: bounded the same way.
                    if let Ok(Ok(s)) = tokio::time::timeout(HEAD_TIMEOUT, acceptor.accept(stream)).await {
                        serve_connection(s, app).await;
                    }
                }
            }
            drop(permit);
        });
    }
}

/// One connection: closed after [`CONNECTION_LIFETIME`] unless it became a live stream,
/// then after [`sse::STREAM_LIFETIME`].
async fn serve_connection<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(stream: S, app: Router) {
    let streaming = Streaming(Arc::new(AtomicBool::new(false)));
    let service = TowerToHyperService::new(app.layer(Extension(streaming.clone())));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(HEAD_TIMEOUT).max_buf_size(MAX_HEAD_BYTES);
    let conn = http.serve_connection(TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        () = tokio::time::sleep(CONNECTION_LIFETIME) => {
            if streaming.0.load(Ordering::Relaxed) {
                let _ = tokio::time::timeout(sse::STREAM_LIFETIME.saturating_sub(CONNECTION_LIFETIME), conn).await;
            }
        }
    }
}

/// Counts every response by code; refuses a request that carries a body (413), except
/// an operation's small one.
async fn count_and_refuse_bodies(State(stats): State<Arc<Stats>>, req: Request, next: Next) -> Response {
    let length = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).map(str::trim);
    let chunked = req.headers().contains_key(header::TRANSFER_ENCODING);
    let has_body = length.is_some_and(|l| l != "0") || chunked;
    let op = req.method() == Method::POST && req.uri().path().starts_with("/api/op/");
    let op_body_ok = !chunked && length.is_none_or(|l| l.parse::<u64>().is_ok_and(|n| n <= MAX_OP_BODY_BYTES));
    let response = if op && !op_body_ok {
        let msg =
            format!("an operation's body is a JSON object of at most {MAX_OP_BODY_BYTES} bytes, with Content-Length\n");
        (StatusCode::PAYLOAD_TOO_LARGE, msg).into_response()
    } else if has_body && !op {
        (StatusCode::PAYLOAD_TOO_LARGE, "this request takes no body (only POST /api/op/… does)\n").into_response()
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

/// The status document (docs/status-json.md) of a snapshot.
fn document(snap: &Snapshot) -> Result<serde_json::Value, String> {
    serde_json::to_value(&snap.status)
        .map(|v| crate::status_doc::document(&v))
        .map_err(|e| format!("status not serialisable: {e}"))
}

async fn status(State(cx): State<Ctx>) -> Response {
    let Some(snap) = cx.snapshot.borrow().clone() else { return not_ready() };
    match document(&snap) {
        Ok(v) => {
            let body = serde_json::to_string_pretty(&v).unwrap_or_default() + "\n";
            ([(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e + "\n").into_response(),
    }
}

async fn metrics_page(State(cx): State<Ctx>) -> Response {
    let Some(snap) = cx.snapshot.borrow().clone() else { return not_ready() };
    let text = metrics::render(&snap, &cx.stats.read());
    ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response()
}

async fn not_found(req: Request) -> Response {
    let msg = format!(
        "no such page: {}; this endpoint serves GET / (the console), GET /api/status, GET /metrics (docs/console.md)\n",
        req.uri().path()
    );
    (StatusCode::NOT_FOUND, msg).into_response()
}

async fn method_refused(req: Request) -> Response {
    let (allow, what) = if req.uri().path().starts_with("/api/op/") {
        ("POST", "an operation is a POST")
    } else {
        ("GET, HEAD", "this page is read-only (GET, HEAD)")
    };
    let msg = format!("{} is not allowed on {}: {what}\n", req.method(), req.uri().path());
    let mut r = (StatusCode::METHOD_NOT_ALLOWED, msg).into_response();
    r.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
    r
}
