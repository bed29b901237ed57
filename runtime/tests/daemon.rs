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
