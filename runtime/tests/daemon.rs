//! Three daemons in one process on loopback (127.0.0.11–13, all routed to `lo` on
//! Linux): the group starts on server1 (CLP_EVENT=START); server1's daemon is aborted
//! (a crash); the group fails over to server2 or server3 (CLP_EVENT=FAILOVER); the
//! survivor's event log replays.

use baton_core::record::LogRecord;
use std::path::Path;
use std::time::Duration;
use tokio::time::Instant;

mod common;
use common::*;

fn read_log(dir: &Path) -> Vec<(u64, LogRecord)> {
    baton_log::Reader::open(dir)
        .unwrap()
        .map(|r| {
            let r = r.unwrap();
            (r.seq, r.decode().unwrap())
        })
        .collect()
}

#[tokio::test]
async fn three_daemons_fail_over_after_a_crash() {
    let deadline = Instant::now() + Duration::from_secs(20);
    let tmp = tempfile::tempdir().unwrap();
    let events = tmp.path().join("events.txt");
    // A port per test process, so parallel runs of the suite do not collide.
    let port = 20000 + u16::try_from(std::process::id() % 20000).unwrap();
    let text = config(port, "daemontest", "g1");
    let (mut tasks, state_dirs) = start_daemons(tmp.path(), &text, &events);

    let started = wait_for(&events, deadline, |l| l.contains(" start ")).await;
    assert_eq!(started, "server1 start START", "the group must first start on its home server");

    tasks[0].abort(); // a crash: no departure, no stop script
    let err = (&mut tasks[0]).await.unwrap_err();
    assert!(err.is_cancelled());

    let failover = wait_for(&events, deadline, |l| l.ends_with(" start FAILOVER")).await;
    let survivor = if failover.starts_with("server2") { 1 } else { 2 };
    assert!(failover.starts_with("server2") || failover.starts_with("server3"), "{failover}");

    for task in &tasks[1..] {
        task.abort();
    }
    for task in tasks.into_iter().skip(1) {
        let _ = task.await;
    }
    let text = std::fs::read_to_string(&events).unwrap();
    assert_eq!(text.lines().filter(|l| l.contains(" start ")).count(), 2, "exactly two start runs:\n{text}");

    let records = read_log(&state_dirs[survivor].join("log"));
    assert!(matches!(records.first(), Some((_, LogRecord::RunStart { .. }))));
    let replayed = baton_core::replay::replay(records).expect("the survivor's log replays");
    assert_eq!(replayed.runs, 1);
    assert!(replayed.inputs > 10 && replayed.outputs > 10, "{replayed:?}");
    let persisted = baton_runtime::daemon::persist::load(&state_dirs[survivor]).unwrap().unwrap();
    assert_eq!(persisted.groups_online.len(), 1, "{persisted:?}");
    assert!(Instant::now() < deadline);
}

/// The real monitor driver inside the daemon: an `exec` monitor whose check script
/// fails once a flag file exists moves the group away from server1 (B83.4: no
/// reactivation, one failover: stop on server1, its start scripts with
/// CLP_EVENT=RECOVER there, then CLP_EVENT=FAILOVER on the target).
#[tokio::test]
async fn a_failing_exec_monitor_moves_the_group() {
    let deadline = Instant::now() + Duration::from_secs(30);
    let tmp = tempfile::tempdir().unwrap();
    let events = tmp.path().join("events.txt");
    let port = 20000 + u16::try_from((std::process::id() + 7919) % 20000).unwrap();
    let mut text = config(port, "monitortest", "g1");
    text.push_str(
        r#"
[[monitor]]
name = "appw"
kind = "exec"
command = "check.sh"
interval = "200ms"
timeout = "2s"
retries = 0
active_with = "exec1"
recovery_target = "g1"
reactivations = 0
failovers = 1
final_action = "none"
"#,
    );
    for server in SERVERS {
        let dir = tmp.path().join(server).join("etc");
        std::fs::create_dir_all(&dir).unwrap();
        let flag = tmp.path().join(format!("fail-{server}"));
        let check = dir.join("check.sh");
        std::fs::write(&check, format!("#!/bin/sh\ntest ! -e '{}'\n", flag.display())).unwrap();
        std::fs::set_permissions(&check, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    let (tasks, _state_dirs) = start_daemons(tmp.path(), &text, &events);

    let started = wait_for(&events, deadline, |l| l.contains(" start ")).await;
    assert_eq!(started, "server1 start START");
    std::fs::write(tmp.path().join("fail-server1"), b"").unwrap();

    let stopped = wait_for(&events, deadline, |l| l.starts_with("server1 stop")).await;
    assert!(stopped.starts_with("server1 stop"), "{stopped}");
    let moved = wait_for(&events, deadline, |l| !l.starts_with("server1") && l.contains(" start ")).await;
    assert!(moved == "server2 start FAILOVER" || moved == "server3 start FAILOVER", "{moved}");
    for task in &tasks {
        task.abort();
    }
    for task in tasks {
        let _ = task.await;
    }
    let text = std::fs::read_to_string(&events).unwrap();
    let starts: Vec<&str> = text.lines().filter(|l| l.contains(" start ")).collect();
    assert_eq!(starts, ["server1 start START", "server1 start RECOVER", moved.as_str()], "{text}");
}

/// Persist before acting (docs/event-log.md § "A failed store"): server1's state store
/// fails for real (a directory where the store writes its temporary file: `open` says
/// EISDIR, whoever the test runs as); at its next step with a state to store (server2
/// crashes: server1 judges it lost) server1 carries out none of that step's acts and
/// ends its run as an emergency shutdown; the state on disk is the one before; server3
/// takes the group over.
#[tokio::test]
async fn a_failed_state_store_ends_the_run_without_acting() {
    let deadline = Instant::now() + Duration::from_secs(20);
    let tmp = tempfile::tempdir().unwrap();
    let events = tmp.path().join("events.txt");
    let port = 20000 + u16::try_from((std::process::id() + 3001) % 20000).unwrap();
    let text = config(port, "storetest", "g1");
    let (mut tasks, state_dirs) = start_daemons(tmp.path(), &text, &events);
    let started = wait_for(&events, deadline, |l| l.contains(" start ")).await;
    assert_eq!(started, "server1 start START");
    // Once the start is stored, break server1's store.
    let before = wait_for_stored_group(&state_dirs[0], deadline).await;
    std::fs::create_dir(state_dirs[0].join("persisted.msgpack.tmp")).unwrap();

    tasks[1].abort(); // server2 crashes: server1 and server3 judge it lost
    let ending = tokio::time::timeout_at(deadline, &mut tasks[0]).await.expect("server1 ends its run").unwrap();
    let ending = ending.expect("an ending, not an error");
    assert_eq!(ending.power, baton_core::io::PowerAction::EmergencyShutdown);
    assert_eq!(ending.machine, baton_runtime::daemon::power::Machine::Untouched, "--fence=exit");
    let after = baton_runtime::daemon::persist::load(&state_dirs[0]).unwrap().expect("a stored state");
    assert_eq!(after, before, "nothing was stored after the fault");

    let moved = wait_for(&events, deadline, |l| l.starts_with("server3 start")).await;
    assert_eq!(moved, "server3 start FAILOVER");
    tasks[2].abort();
    let _ = (&mut tasks[2]).await;
    // The failed step is in server1's log (committed before the store), and it is the
    // last step: the run ended there.
    let records = read_log(&state_dirs[0].join("log"));
    let last_input = records.iter().rposition(|(_, r)| matches!(r, LogRecord::Input { .. })).unwrap();
    let outputs = &records[last_input + 1..];
    assert!(
        outputs.iter().any(|(_, r)| matches!(r, LogRecord::Output { output: baton_core::io::Output::Persist(_), .. })),
        "the last input is the one whose state could not be stored: {:?}",
        records[last_input]
    );
    baton_core::replay::replay(records).expect("server1's log replays");
}

/// The event log's failure path (docs/event-log.md § "A failed store"): server1's log
/// cannot open its next segment (a directory already holds the name, a structural
/// failure root cannot override). The append of the next input fails, so that input is
/// not handled: server1 ends its run at once with an emergency shutdown, without
/// stopping its group, and server3 takes the group over as from a lost server (B44).
#[tokio::test]
async fn a_failed_event_log_append_ends_the_run_without_acting() {
    let deadline = Instant::now() + Duration::from_secs(20);
    let tmp = tempfile::tempdir().unwrap();
    let events = tmp.path().join("events.txt");
    let port = 20000 + u16::try_from((std::process::id() + 55_001) % 20000).unwrap();
    let text = config(port, "logtest", "g1");
    // Segments of one byte: every record of server1 opens a new segment.
    let (mut tasks, state_dirs) = start_daemons_segmented(tmp.path(), &text, &events, 1);
    let started = wait_for(&events, deadline, |l| l.contains(" start ")).await;
    assert_eq!(started, "server1 start START");
    wait_for_stored_group(&state_dirs[0], deadline).await;
    // Block the names of the next segments (named for their first sequence number, 20
    // digits). The daemons share this test's thread, so none appends while this loop
    // runs; a few names ahead would do, and the loop stays short (a long one would
    // freeze the daemons' loops into their watchdogs).
    let log_dir = state_dirs[0].join("log");
    let last = std::fs::read_dir(&log_dir)
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().to_str()?.strip_suffix(".log")?.parse::<u64>().ok())
        .max()
        .expect("a segment");
    for seq in last + 1..last + 100 {
        match std::fs::create_dir(log_dir.join(format!("{seq:020}.log"))) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => panic!("cannot block segment {seq}: {e}"),
        }
    }

    tasks[1].abort(); // server2 crashes: its silence is server1's next input at the latest
    let ending = tokio::time::timeout_at(deadline, &mut tasks[0]).await.expect("server1 ends its run").unwrap();
    let ending = ending.expect("an ending, not an error");
    assert_eq!(ending.power, baton_core::io::PowerAction::EmergencyShutdown);
    assert_eq!(ending.machine, baton_runtime::daemon::power::Machine::Untouched, "--fence=exit");
    let moved = wait_for(&events, deadline, |l| l.starts_with("server3 start")).await;
    assert_eq!(moved, "server3 start FAILOVER");
    tasks[2].abort();
    let _ = (&mut tasks[2]).await;
    // Nothing was written after the failure: with a record per segment, the log ends
    // with the record of segment `last` (the input whose append needed the next segment
    // is not in it), and what it holds replays. Server1 never ran its group's stop
    // script: it did not act on that input.
    for seq in last + 1..last + 100 {
        std::fs::remove_dir(log_dir.join(format!("{seq:020}.log"))).unwrap();
    }
    let records = read_log(&log_dir);
    assert_eq!(records.last().map(|(seq, _)| *seq), Some(last), "the log ends where the segments were blocked");
    baton_core::replay::replay(records).expect("server1's log replays");
    let text = std::fs::read_to_string(&events).unwrap();
    assert!(!text.lines().any(|l| l.starts_with("server1 stop")), "server1 acted:\n{text}");
}

/// B130 7: server1's control server ends (its channel closes, as when that supervised
/// task dies). The daemon gives the node `ProcessDied`: `process-died`, the group's stop
/// script runs on server1, the group starts on another server at once (a departure,
/// CLP_EVENT=FAILOVER) and server1's daemon ends with a failure shutdown.
#[tokio::test]
async fn a_dead_control_server_stops_the_groups_and_shuts_down() {
    let deadline = Instant::now() + Duration::from_secs(30);
    let tmp = tempfile::tempdir().unwrap();
    let events = tmp.path().join("events.txt");
    let port = 20000 + u16::try_from((std::process::id() + 104_729) % 20000).unwrap();
    let text = config(port, "supervisetest", "g1");
    let (mut tasks, state_dirs, control) = start_daemons_controlled(tmp.path(), &text, &events, true);
    let started = wait_for(&events, deadline, |l| l.contains(" start ")).await;
    assert_eq!(started, "server1 start START");

    drop(control); // the only sender: server1's control channel closes
    let ending = tokio::time::timeout(Duration::from_secs(20), &mut tasks[0]).await.expect("server1 ends");
    let ending = ending.unwrap().expect("a clean end of the loop");
    assert_eq!(ending.power, baton_core::io::PowerAction::FailureShutdown, "{ending:?}");
    let moved = wait_for(&events, deadline, |l| !l.starts_with("server1") && l.contains(" start ")).await;
    assert!(moved == "server2 start FAILOVER" || moved == "server3 start FAILOVER", "{moved}");
    for task in &tasks[1..] {
        task.abort();
    }
    for task in tasks.into_iter().skip(1) {
        let _ = task.await;
    }
    let text = std::fs::read_to_string(&events).unwrap();
    assert!(text.lines().any(|l| l.starts_with("server1 stop")), "the group stopped first:\n{text}");
    let kinds: Vec<String> = read_log(&state_dirs[0].join("log"))
        .into_iter()
        .filter_map(|(_, r)| match r {
            LogRecord::Output { output: baton_core::io::Output::Emit(e), .. } => Some(e.kind.name().to_string()),
            LogRecord::Output { .. } | LogRecord::Input { .. } | LogRecord::RunStart { .. } => None,
        })
        .collect();
    assert!(kinds.iter().any(|k| k == "process-died"), "{kinds:?}");
}
