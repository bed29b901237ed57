//! The control socket's bounds (issue 14), on a real Unix socket: an empty line is
//! answered an error and the connection keeps serving; connections over the limit are
//! answered `too many connections` and closed, and a slot is free again once a
//! connection closes; a connection that sends nothing is answered an error and closed
//! after the idle time.

use baton_runtime::daemon::control::{socket_path, start_with, Limits};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::time::{timeout, Instant};

mod common;

/// Reads one answer line (within 5 s); `None` at the end of the stream.
async fn answer(read: &mut BufReader<tokio::net::unix::OwnedReadHalf>) -> Option<Value> {
    let mut line = String::new();
    let n = timeout(Duration::from_secs(5), read.read_line(&mut line)).await.expect("an answer in time").unwrap();
    (n > 0).then(|| serde_json::from_str(&line).unwrap_or_else(|e| panic!("unreadable answer {line:?}: {e}")))
}

async fn connect(
    path: &std::path::Path,
) -> (BufReader<tokio::net::unix::OwnedReadHalf>, tokio::net::unix::OwnedWriteHalf) {
    let (read, write) = UnixStream::connect(path).await.expect("connect").into_split();
    (BufReader::new(read), write)
}

fn error_of(v: &Option<Value>) -> String {
    v.as_ref().and_then(|v| v["error"].as_str()).unwrap_or_else(|| panic!("an error answer, got {v:?}")).to_string()
}

#[tokio::test]
async fn empty_lines_busy_and_idle_connections_are_answered_and_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = baton_core::config::parse("c.toml", &common::config(29999, "limits", "g1")).unwrap().config;
    let limits = Limits { max_connections: 2, idle_ms: 300 };
    let (_server, _requests) = start_with(tmp.path(), Arc::new(cfg), limits).unwrap();
    let path = socket_path(tmp.path());

    // An empty line: an error, and the connection keeps serving.
    let (mut read_a, mut write_a) = connect(&path).await;
    write_a.write_all(b"\n").await.unwrap();
    let e = error_of(&answer(&mut read_a).await);
    assert!(e.contains("empty request") && e.contains("{\"status\": {}}"), "{e}");
    write_a.write_all(b"nonsense\n").await.unwrap();
    assert!(error_of(&answer(&mut read_a).await).contains("unreadable request"));

    // A second connection takes the last slot; a third is refused and closed.
    let (mut read_b, mut write_b) = connect(&path).await;
    write_b.write_all(b"\n").await.unwrap();
    assert!(error_of(&answer(&mut read_b).await).contains("empty request"));
    let (mut read_c, _write_c) = connect(&path).await;
    let e = error_of(&answer(&mut read_c).await);
    assert!(e.contains("too many connections") && e.contains("the limit is 2"), "{e}");
    assert_eq!(answer(&mut read_c).await, None, "closed after the refusal");

    // Closing one frees its slot: a new connection is served again.
    drop((read_a, write_a));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (mut read, mut write) = connect(&path).await;
        write.write_all(b"\n").await.unwrap();
        let e = error_of(&answer(&mut read).await);
        if e.contains("empty request") {
            break;
        }
        assert!(e.contains("too many connections"), "{e}");
        assert!(Instant::now() < deadline, "the closed connection's slot never came back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // A connection that sends nothing (b, after its first request) is closed after the
    // idle time, with the reason.
    let started = Instant::now();
    let e = error_of(&answer(&mut read_b).await);
    assert!(e.contains("no complete request line in 300 ms"), "{e}");
    assert_eq!(answer(&mut read_b).await, None, "closed after the idle time");
    assert!(started.elapsed() < Duration::from_secs(5));
}
