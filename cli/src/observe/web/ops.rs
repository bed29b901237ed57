//! The console's operations (`POST /api/op/NOUN/VERB`): group start/stop/move, server
//! return, monitor suspend/resume, cluster suspend/resume.
//!
//! In: the request's headers (the CSRF guard, the credential) and a small JSON body
//! naming what to act on (`{"target": "g1", "to": "server2"}`; `on`, `force` where the
//! CLI has them). Out: the words of the same `baton` command sent to the daemon over its
//! control socket, exactly as `baton group move …` sends them, so the node's checks are
//! the same ones; 200 `{"ok": true}`, 409 `{"refused": "… (Bnn)"}` with the node's reason
//! (which names the refusing rule), or an error in words. Every operation is logged.
//!
//! Refused before anything is sent: a POST without the `X-Baton-Console` header or
//! with an `Origin` other than this console's own (403: a page of another site cannot
//! set that header without a CORS preflight, which this endpoint never grants, and a
//! browser always sends `Origin` on a cross-site POST); any operation when no
//! `web_token_file` is configured (403: read-only console); a missing or wrong
//! `Authorization: Bearer TOKEN` (401).

use super::Ctx;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use baton_runtime::daemon::control::{self, Request, Response as Answer};
use serde::Deserialize;
use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// The header a console page sets on every operation (the CSRF guard).
pub const CSRF_HEADER: &str = "x-baton-console";
/// How long the daemon may take to answer an operation.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);

/// The operator token of `web_token_file`.
#[derive(Clone)]
pub struct Token(Vec<u8>);

impl Token {
    /// Reads the token; refused like the cluster secret: not a regular file, group or
    /// others may access it (`mode & 0o077`), empty. Trailing whitespace is not part of it.
    pub fn load(path: &std::path::Path) -> Result<Token, String> {
        let shown = path.display();
        let meta = std::fs::metadata(path).map_err(|e| format!("web_token_file {shown}: {e}"))?;
        if !meta.is_file() {
            return Err(format!("web_token_file {shown} is not a regular file"));
        }
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(format!(
                "web_token_file {shown} has mode {:04o}: group or others can access it; run chmod 600 {shown}",
                mode & 0o7777
            ));
        }
        let bytes = std::fs::read(path).map_err(|e| format!("web_token_file {shown}: {e}"))?;
        let end = bytes.iter().rposition(|b| !matches!(b, b'\n' | b'\r' | b' ' | b'\t')).map_or(0, |i| i + 1);
        if end == 0 {
            return Err(format!("web_token_file {shown} is empty"));
        }
        Ok(Token(bytes[..end].to_vec()))
    }

    /// Compares in time independent of where the first difference is.
    fn matches(&self, given: &[u8]) -> bool {
        let diff = self.0.iter().zip(given).fold(0u8, |acc, (a, b)| acc | (a ^ b));
        diff == 0 && self.0.len() == given.len()
    }
}

/// What an operation acts on.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    target: Option<String>,
    to: Option<String>,
    on: Option<String>,
    #[serde(default)]
    force: bool,
}

fn answer(code: StatusCode, v: serde_json::Value) -> Response {
    (code, [(header::CONTENT_TYPE, "application/json")], v.to_string() + "\n").into_response()
}

fn error(code: StatusCode, msg: String) -> Response {
    answer(code, json!({ "error": msg }))
}

/// The `baton` words of an operation (the same the CLI sends), or why there are none.
fn words(noun: &str, verb: &str, b: &Body) -> Result<Vec<String>, String> {
    let target = || b.target.clone().ok_or_else(|| format!("{noun} {verb} needs \"target\" in the body"));
    let mut w = vec![noun.to_string(), verb.to_string()];
    let opt = |w: &mut Vec<String>, name: &str, v: &Option<String>| {
        if let Some(v) = v {
            w.extend([name.to_string(), v.clone()]);
        }
    };
    match (noun, verb) {
        ("group", "start") => {
            w.push(target()?);
            opt(&mut w, "--on", &b.on);
        }
        ("group", "stop") => w.push(target()?),
        ("group", "move") => {
            w.push(target()?);
            opt(&mut w, "--to", &b.to);
        }
        ("server", "return") => w.push(target()?),
        ("monitor", "suspend" | "resume") => {
            w.push(target()?);
            opt(&mut w, "--on", &b.on);
        }
        ("cluster", "suspend" | "resume") => {}
        _ => {
            return Err(format!(
                "no operation {noun} {verb}: the console does group start|stop|move, server return, \
                 monitor suspend|resume, cluster suspend|resume"
            ))
        }
    }
    if b.force && matches!((noun, verb), ("server", "return") | ("cluster", "suspend" | "resume")) {
        w.push("--force".into());
    }
    Ok(w)
}

/// The CSRF guard and the credential; `Err` is the refusal to send.
fn admit(cx: &Ctx, headers: &HeaderMap) -> Result<(), Response> {
    if !headers.contains_key(CSRF_HEADER) {
        let msg = format!(
            "refused: an operation needs the {CSRF_HEADER} header (the console's guard against cross-site requests)"
        );
        return Err(error(StatusCode::FORBIDDEN, msg));
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let scheme = if cx.console.tls.is_some() { "https" } else { "http" };
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
        let own = format!("{scheme}://{host}");
        if origin.as_bytes() != own.as_bytes() {
            let shown = String::from_utf8_lossy(origin.as_bytes()).into_owned();
            let msg =
                format!("refused: Origin {shown} is not this console's ({own}); open the console from its own address");
            return Err(error(StatusCode::FORBIDDEN, msg));
        }
    }
    let Some(token) = &cx.console.token else {
        let msg =
            "refused: this console is read-only (no web_token_file in the cluster file; docs/console.md)".to_string();
        return Err(error(StatusCode::FORBIDDEN, msg));
    };
    let given = headers.get(header::AUTHORIZATION).and_then(|v| v.as_bytes().strip_prefix(b"Bearer "));
    if !given.is_some_and(|g| token.matches(g)) {
        let what = if given.is_some() { "the operator token is wrong" } else { "no operator token given" };
        let mut r =
            error(StatusCode::UNAUTHORIZED, format!("refused: {what} (Authorization: Bearer TOKEN of web_token_file)"));
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"baton\""));
        return Err(r);
    }
    Ok(())
}

pub(super) async fn operate(
    State(cx): State<Ctx>,
    Path((noun, verb)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refused) = admit(&cx, &headers) {
        tracing::warn!(target: "baton", "web console: {noun} {verb} refused before sending (status {})", refused.status());
        return refused;
    }
    let parsed: Body = if body.iter().all(u8::is_ascii_whitespace) {
        Body::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(b) => b,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("unreadable body ({e}): send {{\"target\": NAME, \"to\"|\"on\": SERVER, \"force\": BOOL}}"),
                )
            }
        }
    };
    let words = match words(&noun, &verb, &parsed) {
        Ok(w) => w,
        Err(e) => return error(StatusCode::NOT_FOUND, e),
    };
    let shown = words.join(" ");
    let result = tokio::time::timeout(ANSWER_TIMEOUT, send(&cx.console.state_dir, &words)).await;
    let r = match result {
        Ok(Ok(Answer::Ok(_))) => answer(StatusCode::OK, json!({ "ok": true, "command": shown })),
        Ok(Ok(Answer::Refused(reason))) => answer(StatusCode::CONFLICT, json!({ "refused": reason, "command": shown })),
        Ok(Ok(Answer::Error(e))) => error(StatusCode::BAD_REQUEST, e),
        Ok(Ok(Answer::Status(_))) => error(StatusCode::BAD_GATEWAY, "the daemon answered a status to a command".into()),
        Ok(Err(e)) => error(StatusCode::SERVICE_UNAVAILABLE, e),
        Err(_) => error(StatusCode::GATEWAY_TIMEOUT, format!("the daemon did not answer within {ANSWER_TIMEOUT:?}")),
    };
    tracing::info!(target: "baton", "web console: `baton {shown}` by the operator: {}", r.status());
    r
}

/// One command over the control socket, as the CLI sends it.
async fn send(state_dir: &std::path::Path, words: &[String]) -> Result<Answer, String> {
    let path = control::socket_path(state_dir);
    let stream = tokio::net::UnixStream::connect(&path)
        .await
        .map_err(|e| format!("cannot reach the daemon's control socket {}: {e}", path.display()))?;
    let (read, mut write) = stream.into_split();
    let request = Request::Command { words: words.to_vec(), wait: true };
    let mut line = serde_json::to_string(&request).map_err(|e| format!("cannot encode the command: {e}"))?;
    line.push('\n');
    write.write_all(line.as_bytes()).await.map_err(|e| format!("cannot send the command: {e}"))?;
    let mut reply = String::new();
    let limit = u64::try_from(control::MAX_LINE).unwrap_or(u64::MAX);
    BufReader::new(read.take(limit))
        .read_line(&mut reply)
        .await
        .map_err(|e| format!("cannot read the daemon's answer: {e}"))?;
    serde_json::from_str(&reply).map_err(|e| format!("unreadable answer from the daemon ({e}): {reply}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_the_cli_words() {
        let b = Body { target: Some("g1".into()), to: Some("s2".into()), ..Body::default() };
        assert_eq!(words("group", "move", &b).unwrap(), ["group", "move", "g1", "--to", "s2"]);
        let b = Body { force: true, ..Body::default() };
        assert_eq!(words("cluster", "suspend", &b).unwrap(), ["cluster", "suspend", "--force"]);
        assert!(words("group", "stop", &Body::default()).unwrap_err().contains("target"));
        assert!(words("cluster", "shutdown", &Body::default()).unwrap_err().contains("no operation"));
        let t = Token(b"abc".to_vec());
        assert!(t.matches(b"abc") && !t.matches(b"abd") && !t.matches(b"ab") && !t.matches(b"abcd"));
    }
}
