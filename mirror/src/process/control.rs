//! The engine's control socket: `STATE_DIR/mirror/NAME.sock`, for the daemon (role,
//! lease) and `baton mirror status`.
//!
//! In: connections on the Unix socket (mode 0600 in a 0700 directory: only the daemon's
//! user), one JSON request per line. Out: one JSON response per line, in order:
//! `{"ok": …}` or `{"error": "what is wrong"}`.
//!
//! | request | answer (`ok`) |
//! |---|---|
//! | `{"status": {}}` | the side's status (role, record, links, lag, lease, rebuild progress) |
//! | `{"activate": {"lease_ms": N}}` | `true` once active under a lease of N ms |
//! | `{"lease": {"ms": N}}` | `true`: the lease runs N ms from now (active only) |
//! | `{"deactivate": {}}` | `true` once the standby again (after a clean stop) |
//! | `{"rebuild": {"full": B}}` | `true` once the rebuild started (active only) |
//! | `{"write": {"offset": N, "hex": "…"}}`, `{"read": {"offset": N, "len": L}}`, `{"flush": {}}` | tests only (`--test-io`): through the leased volume |
//!
//! Bounds (the daemon's control socket's): at most [`MAX_CONNECTIONS`] at once, lines of
//! at most [`MAX_LINE`] bytes, a connection idle for [`IDLE_MS`] is closed.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

use super::Engine;
use crate::Volume;

pub const MAX_LINE: usize = 64 * 1024;
pub const MAX_CONNECTIONS: usize = 16;
pub const IDLE_MS: u64 = 60_000;
/// The largest test write or read (bytes).
const MAX_TEST_IO_BYTES: u64 = 1 << 20;

#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    Status {},
    Activate { lease_ms: u64 },
    Lease { ms: u64 },
    Deactivate {},
    Rebuild { full: bool },
    Write { offset: u64, hex: String },
    Read { offset: u64, len: u64 },
    Flush {},
}

/// Binds the socket (refusing to start while another engine answers on it), then
/// serves connections until the process ends.
pub fn serve(path: &Path, engine: Arc<Engine>, test_io: bool) -> io::Result<()> {
    let listener = bind(path)?;
    let active = Arc::new(AtomicUsize::new(0));
    for conn in listener.incoming() {
        let Ok(mut s) = conn else { continue };
        if active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            active.fetch_sub(1, Ordering::SeqCst);
            let _ = writeln!(s, "{}", json!({"error": format!("too many connections (at most {MAX_CONNECTIONS})")}));
            continue;
        }
        let (engine, active) = (engine.clone(), active.clone());
        std::thread::spawn(move || {
            let _ = connection(s, &engine, test_io);
            active.fetch_sub(1, Ordering::SeqCst);
        });
    }
    Ok(())
}

fn bind(path: &Path) -> io::Result<UnixListener> {
    let dir = path.parent().ok_or_else(|| io::Error::other(format!("{}: no directory", path.display())))?;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    if UnixStream::connect(path).is_ok() {
        return Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("{}: another mirror engine answers there", path.display()),
        ));
    }
    // A stale socket of an engine that died: replaced. Bound under a temporary name
    // and given mode 0600 before it takes the real name, so it is never reachable wider.
    let tmp = path.with_extension("sock.new");
    let _ = std::fs::remove_file(&tmp);
    let l = UnixListener::bind(&tmp)?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
    std::fs::rename(&tmp, path)?;
    Ok(l)
}

fn connection(s: UnixStream, engine: &Engine, test_io: bool) -> io::Result<()> {
    s.set_read_timeout(Some(Duration::from_millis(IDLE_MS)))?;
    let mut out = s.try_clone()?;
    let mut r = BufReader::new(s);
    loop {
        let mut line = Vec::new();
        let n = (&mut r).take(MAX_LINE as u64 + 1).read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(());
        }
        if line.last() != Some(&b'\n') {
            let msg = if line.len() > MAX_LINE { "request line too long" } else { "request line not ended" };
            writeln!(out, "{}", json!({"error": msg}))?;
            return Ok(());
        }
        let answer = match serde_json::from_slice::<Request>(&line) {
            Ok(req) => match handle(engine, req, test_io) {
                Ok(v) => json!({"ok": v}),
                Err(e) => json!({"error": e}),
            },
            Err(e) => json!({"error": format!("unreadable request ({e}): see docs/mirror.md, \"The engine process\"")}),
        };
        writeln!(out, "{answer}")?;
    }
}

fn handle(engine: &Engine, req: Request, test_io: bool) -> Result<Value, String> {
    let io_only = |engine: &Engine| -> Result<Arc<super::lease::Leased<crate::engine::Primary>>, String> {
        if !test_io {
            return Err("write, read and flush are served only with --test-io".into());
        }
        engine.volume().ok_or_else(|| "this side is not active".to_string())
    };
    match req {
        Request::Status {} => Ok(engine.status()),
        Request::Activate { lease_ms } => engine.activate(lease_ms).map(|()| json!(true)),
        Request::Lease { ms } => engine.renew(ms).map(|()| json!(true)),
        Request::Deactivate {} => engine.deactivate().map(|()| json!(true)),
        Request::Rebuild { full } => engine.rebuild(full).map(|()| json!(true)),
        Request::Write { offset, hex } => {
            let v = io_only(engine)?;
            let data = from_hex(&hex)?;
            check_range(&*v, offset, data.len() as u64)?;
            v.write_at(&data, offset).map(|()| json!(true)).map_err(|e| e.to_string())
        }
        Request::Read { offset, len } => {
            let v = io_only(engine)?;
            check_range(&*v, offset, len)?;
            let mut buf = vec![0u8; len as usize];
            v.read_at(&mut buf, offset).map_err(|e| e.to_string())?;
            Ok(json!(to_hex(&buf)))
        }
        Request::Flush {} => io_only(engine)?.flush().map(|()| json!(true)).map_err(|e| e.to_string()),
    }
}

fn check_range(v: &dyn Volume, offset: u64, len: u64) -> Result<(), String> {
    let end = offset.checked_add(len).ok_or("offset + length overflows")?;
    if len == 0 || len > MAX_TEST_IO_BYTES || end > v.size_bytes() {
        return Err(format!("{len} bytes at {offset}: outside the volume ({} bytes) or over 1 MiB", v.size_bytes()));
    }
    Ok(())
}

pub fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn from_hex(s: &str) -> Result<Vec<u8>, String> {
    if !s.len().is_multiple_of(2) {
        return Err("hex of odd length".into());
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2).unwrap_or("x"), 16).map_err(|_| format!("not hex at {i}")))
        .collect()
}

/// One request and its answer over a fresh connection (the CLI's and the tests' client).
pub fn call(path: &Path, request: &Value, timeout: Duration) -> io::Result<Result<Value, String>> {
    let s = UnixStream::connect(path)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    let mut w = s.try_clone()?;
    writeln!(w, "{request}")?;
    let mut line = String::new();
    BufReader::new(s).take(16 << 20).read_line(&mut line)?;
    let v: Value = serde_json::from_str(&line).map_err(|e| io::Error::other(format!("unreadable answer: {e}")))?;
    Ok(match (v.get("ok"), v.get("error")) {
        (Some(ok), _) => Ok(ok.clone()),
        (None, Some(e)) => Err(e.as_str().unwrap_or("?").to_string()),
        (None, None) => Err(format!("unexpected answer: {v}")),
    })
}
