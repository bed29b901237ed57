//! Crash points of the real daemon loop in the madsim world (docs/event-log.md §
//! "Persist before acting"): a power loss after a step's log and state are on disk but
//! before any of its acts, and one after its acts but before the next input.
//!
//! In: the three-daemon cluster of `madsim.rs` (majority resolution: no resolver
//! checks, so the operator's command is server1's next step with something to lose),
//! `daemon::crash_point::arm`, a `group move` given on server1. Out: assertions on what
//! reached the world (`MockWorld` records, the command's answer), on server1's event
//! log and state on disk, and on the takeover that follows.

use super::*;
use baton_runtime::daemon::crash_point::{self, CrashPoint};
use baton_runtime::daemon::persist;

/// What a crash at `point` of server1's `group move g1 --to server2` step shows.
struct PointRun {
    /// The command's answer: `None` when server1 died without answering.
    answer: Option<Result<(), String>>,
    /// What server1 did to the world after the command.
    server1_acts: Vec<WorldRecord>,
    /// Whether server1's event log on disk holds its `group-stopping` of g1.
    stopping_logged: bool,
    /// The groups server1's stored state holds online.
    stored_online: usize,
    /// Where g1 ended up.
    settled: Seen,
}

async fn move_then_crash(point: CrashPoint) -> PointRun {
    let mut c = boot_on_server1(&config(Np::Majority)).await;
    let before = c.world.records().len();
    let from_ms = now_ms();
    let fired = crash_point::arm("server1", point);
    let words: Vec<String> = ["group", "move", GROUP, "--to", "server2"].iter().map(|w| w.to_string()).collect();
    let cmd = baton_core::Command::parse_words(&words, &c.cfg).expect("a valid command");
    let (answer_tx, answer_rx) = oneshot::channel();
    c.controls[0].send(ControlRequest::Command { cmd, answer: answer_tx }).await.expect("server1 takes commands");
    tokio::time::timeout(ANSWER_LIMIT, fired).await.expect("server1 reached the crash point").unwrap();
    // The power goes at the point: nothing more of server1 runs.
    c.crash("server1").await;
    let answer = answer_rx.await.ok();
    let server1_acts = c.world.records()[before..].iter().filter(|r| r.server == "server1").cloned().collect();
    let stopping_logged = read_log(&c.state_dirs[0].join("log")).iter().any(|r| {
        matches!(r, LogRecord::Output { at_ms, output: Output::Emit(e) }
            if *at_ms >= from_ms && e.kind == baton_core::EventKind::GroupStopping)
    });
    let stored_online = persist::load(&c.state_dirs[0]).unwrap().expect("a stored state").groups_online.len();
    let settled = |s: &Seen| s.holders.len() == 1 && s.online == s.holders && s.holders != only("server1");
    c.until(HEARTBEAT_TIMEOUT + TAKEOVER_BOUND, "g1 online on one survivor", settled).await;
    c.hold(Duration::from_secs(2), "g1 stays there", settled).await;
    PointRun { answer, server1_acts, stopping_logged, stored_online, settled: c.look().await }
}

#[test]
fn crash_after_persist_leaves_the_steps_log_and_state_on_disk_and_none_of_its_acts() {
    let run = simulate(seed(11), || move_then_crash(CrashPoint::AfterPersist));
    // Durable before the power went: the event and the state of the step.
    assert!(run.stopping_logged, "group-stopping is in server1's log on disk");
    assert_eq!(run.stored_online, 1, "the stored state holds g1 (stopping)");
    // Not done: no stop script, no answer to the operator.
    assert_eq!(run.server1_acts, [], "server1 acted after persisting");
    assert_eq!(run.answer, None, "an answer left server1");
    eprintln!("after-persist: g1 settled {:?}", run.settled);
}

#[test]
fn crash_before_next_has_carried_out_the_steps_acts() {
    let run = simulate(seed(12), || move_then_crash(CrashPoint::BeforeNext));
    assert!(run.stopping_logged, "group-stopping is in server1's log on disk");
    let stop = WorldRecord { server: "server1".into(), resource: "exec1".into(), what: "deactivate" };
    assert_eq!(run.server1_acts, [stop], "the first stop of the move ran, nothing after it");
    assert_eq!(run.answer, Some(Ok(())), "the answer left server1 with the step");
    eprintln!("before-next: g1 settled {:?}", run.settled);
}
