//! The local control socket: `STATE_DIR/control.sock`, for `baton status`, `baton group
//! move …` and the other operator commands.
//!
//! In: connections on the Unix socket (mode 0600: only the daemon's user, root in
//! production), one JSON [`Request`] per line. Out: one JSON [`Response`] per line, in
//! order. Connections are served concurrently by their own tasks; they never touch the
//! node: each request goes to the daemon loop as a [`ControlRequest`] over an mpsc
//! channel and the loop answers through a oneshot.
//!
//! | request | response |
//! |---|---|
//! | `{"status": {}}` | `{"status": {"cluster": …, …Node::status()…, "locations": […], "transport": {…counters…}}}` |
//! | `{"command": {"words": ["group","move","g1","--to","server2"], "wait": true}}` | `{"ok": true}` or `{"refused": "reason"}` |
//! | anything unreadable, words that do not parse | `{"error": "what is wrong and what to do"}` |
//!
//! `wait` (default true) is meant to wait for the command's outcome (the group online on
//! its new server, …). In this slice both values answer with the node's `Reply`, i.e.
//! whether the command was accepted; completion tracking comes later.
//!
//! `locations` lists, per group, the servers where it is not offline as this server
//! knows it: itself from the node, peers from their last `Message::State` (only while
//! the node sees the peer online). The daemon observes those messages on their way into
//! the node ([`PeerGroups`]).
//!
//! Bounds (issue 14): at most [`Limits::max_connections`] connections are served at once
//! (one more is answered `{"error": "too many connections …"}` and closed, so a stuck or
//! greedy client cannot exhaust the daemon's tasks and descriptors); a connection that
//! sends no complete line for [`Limits::idle_ms`] is answered an error and closed (a
//! forgotten `socat`, a client writing one byte a minute); an empty line is answered an
//! error (a client waiting for an answer to it would otherwise wait forever).
//!
//! The socket is bound under a fresh private directory, given mode 0600, then renamed to
//! `control.sock` (which replaces a stale socket), so it is never reachable with a wider
//! mode. If a daemon already answers on `control.sock`, the start fails.

use baton_core::command::Command;
use baton_core::config::{Config, ServerId};
use baton_core::io::{GroupState, Message, ServerState};
use baton_core::node::Status;
use baton_core::Node;
use serde::{Deserialize, Serialize};
#[cfg(not(madsim))]
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
#[cfg(not(madsim))]
use std::sync::Arc;
#[cfg(not(madsim))]
use std::time::Duration;
#[cfg(not(madsim))]
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
#[cfg(not(madsim))]
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::oneshot;
#[cfg(not(madsim))]
use tokio::sync::{mpsc, Semaphore};
#[cfg(not(madsim))]
use tokio::task::JoinHandle;

/// The socket's file name in the state directory.
pub const SOCKET_NAME: &str = "control.sock";

/// The longest request line accepted (bytes, newline excluded).
pub const MAX_LINE: usize = 64 * 1024;

/// How many requests may wait for the daemon loop.
#[cfg(not(madsim))]
const QUEUE: usize = 64;

/// How much the control socket serves (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once.
    pub max_connections: usize,
    /// How long a connection may go without sending a complete request line.
    pub idle_ms: u64,
}

impl Default for Limits {
    /// 16 connections (operators and scripts on one server; every CLI call is one
    /// connection for one or two requests); 60 s idle (`baton` sends its request at once).
    fn default() -> Limits {
        Limits { max_connections: 16, idle_ms: 60_000 }
    }
}

/// The control socket's path for a state directory.
pub fn socket_path(state_dir: &Path) -> PathBuf {
    state_dir.join(SOCKET_NAME)
}

/// One request line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Request {
    /// This server's view of the cluster and the transport counters.
    Status {},
    /// An operator command, as the words after `baton`.
    Command {
        words: Vec<String>,
        /// Wait for the outcome (this slice: the node's reply; see the module doc).
        #[serde(default = "yes")]
        wait: bool,
    },
}

fn yes() -> bool {
    true
}

/// One response line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Response {
    /// The command was accepted (always `true`).
    Ok(bool),
    /// The node refused the command: the reason.
    Refused(String),
    /// The request could not be served: what is wrong and what to do.
    Error(String),
    /// A [`StatusReply`] as JSON.
    Status(serde_json::Value),
}

/// Readers of a `status` answer as JSON (what `baton status --json` prints), for
/// clients that hold it as a `serde_json::Value`: the CLI's table and outcome waits, the
/// lab's end-to-end checks.
pub mod status_json {
    use serde_json::Value;

    /// A string as itself, anything else as its JSON text.
    pub fn text(v: &Value) -> String {
        match v {
            Value::String(s) => s.clone(),
            Value::Null | Value::Bool(_) | Value::Number(_) | Value::Array(_) | Value::Object(_) => v.to_string(),
        }
    }

    /// `[["name", value], …]` as pairs (other shapes are skipped).
    pub fn pairs(v: &Value) -> Vec<(String, &Value)> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| match p.as_array().map(Vec::as_slice) {
                        Some([name, value]) => Some((text(name), value)),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Where `group` is not offline, as `(server, state)` (`"Online"`, `"Starting"`, …).
    pub fn group_locations(status: &Value, group: &str) -> Vec<(String, String)> {
        pairs(&status["locations"])
            .into_iter()
            .filter(|(g, _)| g == group)
            .flat_map(|(_, at)| pairs(at).into_iter().map(|(s, st)| (s, text(st))).collect::<Vec<_>>())
            .collect()
    }
}

/// The `status` answer.
#[derive(Clone, Debug, Serialize)]
pub struct StatusReply {
    /// The cluster's name in the configuration.
    pub cluster: String,
    #[serde(flatten)]
    pub status: Status,
    /// Per group (configuration order): the servers where it is not offline, with its state there.
    pub locations: Vec<(String, Vec<(String, GroupState)>)>,
    pub transport: crate::transport::Counters,
    /// Slots refused on the shared devices of the disk heartbeat and resolver.
    pub disk_slots: Vec<DiskSlotRefusals>,
}

/// The slots of one server on one shared device that were refused (never taken for
/// a live server), counted since the daemon started.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DiskSlotRefusals {
    pub device: String,
    /// The server whose slot it is (`slot N` beyond the configured servers).
    pub server: String,
    /// Per reason (`bad-tag`, `foreign-cluster`, `misplaced`, …): how many reads.
    pub refused: std::collections::BTreeMap<String, u64>,
    /// Valid slots with a lower counter than one already accepted (replayed, restored).
    pub stale: u64,
}

/// What a connection asks of the daemon loop.
#[derive(Debug)]
pub enum ControlRequest {
    Status { answer: oneshot::Sender<StatusReply> },
    Command { cmd: Command, answer: oneshot::Sender<Result<(), String>> },
}

/// The groups peers last reported (from their `Message::State`), for `locations`.
#[derive(Clone, Debug, Default)]
pub struct PeerGroups {
    /// Per server index: what it last reported.
    seen: Vec<Option<Reported>>,
}

/// A peer's last `Message::State`, as far as `locations` needs it.
#[derive(Clone, Debug)]
struct Reported {
    run: u64,
    version: u64,
    /// (group index, state) of the groups not offline there.
    groups: Vec<(usize, GroupState)>,
}

impl PeerGroups {
    /// Notes a message on its way into the node.
    pub fn observe(&mut self, from: ServerId, msg: &Message) {
        let Message::State(s) = msg else { return };
        let i = from.idx();
        if self.seen.len() <= i {
            self.seen.resize(i + 1, None);
        }
        let newer = match &self.seen[i] {
            Some(r) => r.run != s.run || s.version >= r.version,
            None => true,
        };
        if newer {
            let groups = s.groups.iter().map(|(g, st)| (g.idx(), *st)).collect();
            self.seen[i] = Some(Reported { run: s.run, version: s.version, groups });
        }
    }

    /// Per group, where it is not offline as this server knows it.
    pub fn locations(&self, cfg: &Config, node: &Node) -> Vec<(String, Vec<(String, GroupState)>)> {
        let me = node.me();
        cfg.group_ids()
            .map(|g| {
                let mut at = Vec::new();
                for s in cfg.server_ids() {
                    let state = if s == me {
                        Some(node.group_state(g))
                    } else if peer_running(node.peer_state(s)) {
                        self.seen
                            .get(s.idx())
                            .and_then(Option::as_ref)
                            .and_then(|r| r.groups.iter().find(|(gi, _)| *gi == g.idx()).map(|(_, st)| *st))
                    } else {
                        None
                    };
                    match state {
                        Some(GroupState::Offline) | None => {}
                        Some(
                            st @ (GroupState::Starting | GroupState::Online | GroupState::Stopping | GroupState::Error),
                        ) => {
                            at.push((cfg.server(s).name.clone(), st));
                        }
                    }
                }
                (cfg.group(g).name.clone(), at)
            })
            .collect()
    }
}

fn peer_running(s: ServerState) -> bool {
    match s {
        ServerState::Online | ServerState::Syncing => true,
        ServerState::Suspended | ServerState::Down | ServerState::Stopped | ServerState::Off => false,
    }
}

#[cfg(not(madsim))]
/// The listening socket and its accept task; dropping it stops accepting and removes
/// the socket file.
pub struct ControlServer {
    path: PathBuf,
    accept: JoinHandle<()>,
}

#[cfg(not(madsim))]
impl Drop for ControlServer {
    fn drop(&mut self) {
        self.accept.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(not(madsim))]
/// Binds `STATE_DIR/control.sock` (mode 0600) and starts accepting; requests arrive on
/// the returned receiver.
pub fn start(state_dir: &Path, cfg: Arc<Config>) -> Result<(ControlServer, mpsc::Receiver<ControlRequest>), String> {
    start_with(state_dir, cfg, Limits::default())
}

#[cfg(not(madsim))]
/// [`start`] with other [`Limits`] (tests).
pub fn start_with(
    state_dir: &Path,
    cfg: Arc<Config>,
    limits: Limits,
) -> Result<(ControlServer, mpsc::Receiver<ControlRequest>), String> {
    assert!(limits.max_connections > 0 && limits.idle_ms > 0, "control socket limits must be positive: {limits:?}");
    let path = socket_path(state_dir);
    if std::os::unix::net::UnixStream::connect(&path).is_ok() {
        return Err(format!(
            "{}: another daemon answers on this control socket (stop it, or use another --state-dir)",
            path.display()
        ));
    }
    let listener = bind_private(state_dir, &path)?;
    let (tx, rx) = mpsc::channel(QUEUE);
    let accept = tokio::spawn(accept_loop(listener, cfg, tx, limits));
    Ok((ControlServer { path, accept }, rx))
}

#[cfg(not(madsim))]
/// Binds in a fresh 0700 directory, sets 0600, renames into place.
fn bind_private(state_dir: &Path, path: &Path) -> Result<UnixListener, String> {
    let tmp_dir = state_dir.join(format!(".control-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp_dir);
    let fail = |what: &str, e: std::io::Error| format!("control socket {}: {what}: {e}", path.display());
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&tmp_dir)
        .map_err(|e| fail("cannot create a private directory", e))?;
    let tmp = tmp_dir.join("s");
    let result = (|| {
        let listener = UnixListener::bind(&tmp).map_err(|e| fail("cannot bind", e))?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| fail("cannot set mode 0600", e))?;
        std::fs::rename(&tmp, path).map_err(|e| fail("cannot move into place", e))?;
        Ok(listener)
    })();
    let _ = std::fs::remove_dir_all(&tmp_dir);
    result
}

#[cfg(not(madsim))]
async fn accept_loop(listener: UnixListener, cfg: Arc<Config>, tx: mpsc::Sender<ControlRequest>, limits: Limits) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        match listener.accept().await {
            Ok((stream, _)) => match Arc::clone(&slots).try_acquire_owned() {
                Ok(slot) => {
                    let (cfg, tx) = (Arc::clone(&cfg), tx.clone());
                    tokio::spawn(async move {
                        serve(stream, cfg, tx, limits.idle_ms).await;
                        // The slot is free again once the connection is closed.
                        drop(slot);
                    });
                }
                Err(_) => {
                    // Answered by its own task: a client that does not read must not
                    // stall the accepting.
                    tokio::spawn(refuse_busy(stream, limits));
                }
            },
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
}

#[cfg(not(madsim))]
/// Answers a connection over the limit and closes it (bounded in time as well: the
/// answer fits in the socket buffer, but a full one must not keep the task).
async fn refuse_busy(stream: UnixStream, limits: Limits) {
    let (_, mut write) = stream.into_split();
    let busy = Response::Error(format!(
        "too many connections to the control socket (the limit is {}): try again in a moment, and look for \
         clients that keep their connection open",
        limits.max_connections
    ));
    let _ = tokio::time::timeout(Duration::from_millis(limits.idle_ms), write_response(&mut write, &busy)).await;
}

#[cfg(not(madsim))]
/// Serves one connection until it closes, or sends no complete line for `idle_ms`.
async fn serve(stream: UnixStream, cfg: Arc<Config>, tx: mpsc::Sender<ControlRequest>, idle_ms: u64) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let idle = Duration::from_millis(idle_ms);
    loop {
        let line = match tokio::time::timeout(idle, read_line(&mut reader)).await {
            Ok(Ok(Some(line))) => line,
            Ok(Ok(None)) => return,
            Ok(Err(e)) => {
                let _ = write_response(&mut write, &Response::Error(e)).await;
                return;
            }
            Err(_elapsed) => {
                let e = format!("no complete request line in {} ms: closing the connection", idle_ms);
                let _ = tokio::time::timeout(idle, write_response(&mut write, &Response::Error(e))).await;
                return;
            }
        };
        let response = if line.trim().is_empty() {
            Response::Error(format!("empty request: {HOW}"))
        } else {
            answer(&line, &cfg, &tx).await
        };
        // A client that stops reading must not keep the task either.
        match tokio::time::timeout(idle, write_response(&mut write, &response)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) | Err(_) => return,
        }
    }
}

#[cfg(not(madsim))]
/// What a request looks like, for the errors.
const HOW: &str =
    r#"send one JSON object per line, {"status": {}} or {"command": {"words": ["group", "move", "G"], "wait": true}}"#;

#[cfg(not(madsim))]
/// One line without its newline; `None` at the end of the stream.
async fn read_line<R: AsyncRead + Unpin>(reader: &mut BufReader<R>) -> Result<Option<String>, String> {
    let mut buf = Vec::new();
    let limit = u64::try_from(MAX_LINE).unwrap_or(u64::MAX) + 1;
    let n =
        reader.take(limit).read_until(b'\n', &mut buf).await.map_err(|e| format!("cannot read the request: {e}"))?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
    } else if buf.len() > MAX_LINE {
        return Err(format!("request longer than {MAX_LINE} bytes: send one JSON request per line"));
    }
    String::from_utf8(buf).map(Some).map_err(|_| "the request is not UTF-8: send one JSON request per line".to_string())
}

#[cfg(not(madsim))]
async fn write_response<W: tokio::io::AsyncWrite + Unpin>(w: &mut W, r: &Response) -> std::io::Result<()> {
    let mut text =
        serde_json::to_string(r).unwrap_or_else(|e| format!("{{\"error\":\"cannot encode the answer: {e}\"}}"));
    text.push('\n');
    w.write_all(text.as_bytes()).await
}

#[cfg(not(madsim))]
const GONE: &str = "the daemon is stopping: check its log, start it again with `baton daemon --config …`";

#[cfg(not(madsim))]
async fn answer(line: &str, cfg: &Config, tx: &mpsc::Sender<ControlRequest>) -> Response {
    let request: Request = match serde_json::from_str(line) {
        Ok(r) => r,
        Err(e) => return Response::Error(format!("unreadable request ({e}): {HOW}")),
    };
    match request {
        Request::Status {} => {
            let (answer, rx) = oneshot::channel();
            if tx.send(ControlRequest::Status { answer }).await.is_err() {
                return Response::Error(GONE.into());
            }
            match rx.await {
                Ok(reply) => match serde_json::to_value(&reply) {
                    Ok(v) => Response::Status(v),
                    Err(e) => Response::Error(format!("cannot encode the status: {e}")),
                },
                Err(_) => Response::Error(GONE.into()),
            }
        }
        Request::Command { words, wait: _ } => {
            let cmd = match Command::parse_words(&words, cfg) {
                Ok(c) => c,
                Err(e) => return Response::Error(format!("{e} (see `baton --help`)")),
            };
            let (answer, rx) = oneshot::channel();
            if tx.send(ControlRequest::Command { cmd, answer }).await.is_err() {
                return Response::Error(GONE.into());
            }
            match rx.await {
                Ok(Ok(())) => Response::Ok(true),
                Ok(Err(reason)) => Response::Refused(reason),
                Err(_) => Response::Error("the node gave no answer to the command: check the daemon's log".into()),
            }
        }
    }
}

#[cfg(all(test, not(madsim)))]
mod tests {
    use super::*;

    #[test]
    fn request_and_response_shapes() {
        let r: Request = serde_json::from_str(r#"{"status": {}}"#).unwrap();
        assert_eq!(r, Request::Status {});
        let r: Request = serde_json::from_str(r#"{"command": {"words": ["cluster", "stop"]}}"#).unwrap();
        assert_eq!(r, Request::Command { words: vec!["cluster".into(), "stop".into()], wait: true });
        assert!(serde_json::from_str::<Request>(r#"{"nope": 1}"#).is_err());
        assert_eq!(serde_json::to_string(&Response::Ok(true)).unwrap(), r#"{"ok":true}"#);
        assert_eq!(serde_json::to_string(&Response::Refused("x".into())).unwrap(), r#"{"refused":"x"}"#);
        assert_eq!(serde_json::to_string(&Response::Error("y".into())).unwrap(), r#"{"error":"y"}"#);
    }
}
