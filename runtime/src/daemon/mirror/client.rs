//! One request to a mirror engine's control socket (docs/mirror.md, "The engine
//! process"): a JSON line out, a JSON line back, within a deadline.
//!
//! In: the socket's path, the request, a time bound. Out: the engine's `ok` value, or
//! why there is none: [`CallError::NoAnswer`] (no engine listens, or it did not answer
//! in time: the supervisor's "dead or starting") or [`CallError::Refused`] (the engine
//! answered `{"error": …}`: its own words, surfaced to the operator).

use serde_json::Value;
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

/// The longest answer read (a status is a few hundred bytes).
const MAX_ANSWER_BYTES: u64 = 1 << 20;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallError {
    /// Nothing answered on the socket within the bound.
    NoAnswer(String),
    /// The engine answered with an error.
    Refused(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::NoAnswer(why) => write!(f, "the engine did not answer: {why}"),
            CallError::Refused(why) => write!(f, "the engine refused: {why}"),
        }
    }
}

/// Sends `request` and returns the answer's `ok` value.
pub async fn call(socket: &Path, request: &Value, bound: Duration) -> Result<Value, CallError> {
    let exchange = async {
        let mut s = UnixStream::connect(socket).await.map_err(|e| format!("{}: {e}", socket.display()))?;
        let mut line = request.to_string();
        line.push('\n');
        s.write_all(line.as_bytes()).await.map_err(|e| format!("{}: {e}", socket.display()))?;
        let mut answer = String::new();
        BufReader::new(s)
            .take(MAX_ANSWER_BYTES)
            .read_line(&mut answer)
            .await
            .map_err(|e| format!("{}: {e}", socket.display()))?;
        Ok::<String, String>(answer)
    };
    let answer = match tokio::time::timeout(bound, exchange).await {
        Ok(Ok(a)) => a,
        Ok(Err(why)) => return Err(CallError::NoAnswer(why)),
        Err(_) => {
            return Err(CallError::NoAnswer(format!("{}: no answer within {} ms", socket.display(), bound.as_millis())))
        }
    };
    if answer.is_empty() {
        return Err(CallError::NoAnswer(format!("{}: closed without an answer", socket.display())));
    }
    let v: Value = serde_json::from_str(&answer)
        .map_err(|e| CallError::NoAnswer(format!("{}: unreadable answer ({e})", socket.display())))?;
    match (v.get("ok"), v.get("error")) {
        (Some(ok), _) => Ok(ok.clone()),
        (None, Some(e)) => Err(CallError::Refused(e.as_str().unwrap_or("?").to_string())),
        (None, None) => Err(CallError::NoAnswer(format!("unexpected answer {v}"))),
    }
}
