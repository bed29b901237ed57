//! The control socket of three loopback daemons (127.0.0.11–13, as in `daemon.rs`):
//! through server2's `STATE_DIR/control.sock`, `status` shows the group online on
//! server1; `group move failover1 --to server3` is accepted and the group moves; a
//! refused command returns the reason; words that do not parse and a garbage line
//! return an error and the connection keeps serving.

use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;
use tokio::time::{sleep, timeout, Instant};

mod common;
use common::*;

struct Client {
    read: BufReader<OwnedReadHalf>,
    write: OwnedWriteHalf,
}

impl Client {
    async fn connect(path: &Path, deadline: Instant) -> Client {
        loop {
            match UnixStream::connect(path).await {
                Ok(s) => {
                    let (read, write) = s.into_split();
                    return Client { read: BufReader::new(read), write };
                }
                Err(e) => assert!(Instant::now() < deadline, "cannot connect to {}: {e}", path.display()),
            }
            sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sends one line, reads one answer line.
    async fn line(&mut self, line: &str) -> Value {
        self.write.write_all(format!("{line}\n").as_bytes()).await.unwrap();
        let mut answer = String::new();
        timeout(Duration::from_secs(5), self.read.read_line(&mut answer)).await.expect("an answer in time").unwrap();
        serde_json::from_str(&answer).unwrap_or_else(|e| panic!("unreadable answer {answer:?}: {e}"))
    }

    async fn ask(&mut self, request: Value) -> Value {
        self.line(&request.to_string()).await
    }

    async fn command(&mut self, words: &[&str]) -> Value {
        self.ask(json!({"command": {"words": words, "wait": true}})).await
    }

    /// Polls `status` until `group` is online exactly on `server`.
    async fn wait_online_on(&mut self, group: &str, server: &str, deadline: Instant) -> Value {
        loop {
            let answer = self.ask(json!({"status": {}})).await;
            let status = &answer["status"];
            let at =
                status["locations"].as_array().and_then(|l| l.iter().find(|g| g[0] == group)).map(|g| g[1].clone());
            if at == Some(json!([[server, "Online"]])) {
                return answer;
            }
            assert!(Instant::now() < deadline, "{group} never online (only) on {server}: {answer}");
            sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test]
async fn control_socket_status_and_commands() {
    let deadline = Instant::now() + Duration::from_secs(20);
    let tmp = tempfile::tempdir().unwrap();
    let events = tmp.path().join("events.txt");
    // A port per test process (and apart from daemon.rs's range).
    let port = 40000 + u16::try_from(std::process::id() % 20000).unwrap();
    let text = config(port, "controltest", "failover1");
    let (tasks, state_dirs) = start_daemons(tmp.path(), &text, &events);

    let started = wait_for(&events, deadline, |l| l.contains(" start ")).await;
    assert_eq!(started, "server1 start START", "the group must first start on its home server");

    let sock = state_dirs[1].join("control.sock");
    let mut c = Client::connect(&sock, deadline).await;
    let mode = std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the control socket is for its owner only");

    // status: the group online on server1, as server2 sees it.
    let answer = c.wait_online_on("failover1", "server1", deadline).await;
    let status = &answer["status"];
    assert_eq!(status["cluster"], "controltest");
    assert_eq!(status["server"], "server2");
    assert_eq!(status["groups"], json!([["failover1", "Offline"]]), "offline on server2 itself: {answer}");
    assert!(status["transport"]["accepted"].as_u64().unwrap() > 0, "{answer}");
    assert_eq!(status["transport"]["bad_tag"], 0);

    // An accepted move, carried out on server1 and server3.
    let answer = c.command(&["group", "move", "failover1", "--to", "server3"]).await;
    assert_eq!(answer, json!({"ok": true}));
    wait_for(&events, deadline, |l| l.starts_with("server1 stop ")).await;
    wait_for(&events, deadline, |l| l.starts_with("server3 start ")).await;
    c.wait_online_on("failover1", "server3", deadline).await;

    // Refused: the group already runs there.
    let answer = c.command(&["group", "move", "failover1", "--to", "server3"]).await;
    let reason = answer["refused"].as_str().unwrap_or_else(|| panic!("not refused: {answer}"));
    assert!(reason.contains("already online on server3"), "{reason}");

    // Words that do not parse.
    let answer = c.command(&["group", "move", "nosuch"]).await;
    assert!(answer["error"].as_str().unwrap().contains("no group \"nosuch\""), "{answer}");
    let answer = c.command(&["group", "move", "failover1", "--to", "server3", "extra"]).await;
    assert!(answer["error"].is_string(), "{answer}");

    // A garbage line, then the same connection still serves; a second connection too.
    let answer = c.line("this is not json").await;
    assert!(answer["error"].as_str().unwrap().contains("one JSON"), "{answer}");
    let answer = c.line(r#"{"status": {}, "extra": 1}"#).await;
    assert!(answer["error"].is_string(), "{answer}");
    let answer = c.ask(json!({"status": {}})).await;
    assert_eq!(answer["status"]["server"], "server2");
    let mut c2 = Client::connect(&sock, deadline).await;
    assert_eq!(c2.ask(json!({"status": {}})).await["status"]["server"], "server2");

    let text = std::fs::read_to_string(&events).unwrap();
    assert_eq!(text.lines().filter(|l| l.contains(" start ")).count(), 2, "exactly two start runs:\n{text}");

    for task in &tasks {
        task.abort();
    }
    for task in tasks {
        let _ = task.await;
    }
    assert!(!sock.exists(), "the socket is removed when the daemon ends");
    assert!(Instant::now() < deadline);
}
