//! Day-two operations against real daemons (issue 15): three `baton daemon` processes in
//! the namespaces of a `baton-lab` network, driven with the real command line.
//!
//! * `monitor fail` on a real (always healthy) exec monitor makes the group fail over
//!   for real; the command is in the event log; `status` lists the pseudo-failure while
//!   it is active; `monitor ok` ends it and the group runs on its home server again.
//!
//! Needs root and `ip` (iproute2): otherwise each test prints `skipped: …` and passes.
//! One cluster at a time ([`SERIAL`]), every wait has a deadline, a failure prints every
//! daemon's log.

use baton_lab::daemon::{group_locations, logs_of, status, wait_or_panic, Daemon};
use baton_lab::{ClusterSpec, Lab, LabSpec};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::Duration;

static SERIAL: Mutex<()> = Mutex::new(());

const GROUP: &str = "failover1";
const WITHIN: Duration = Duration::from_secs(20);

/// A real monitor that always finds the service healthy: only a pseudo-failure fails it.
const MONITOR: &str = "
[[monitor]]
name = \"appw\"
kind = \"exec\"
command = \"/bin/true\"
interval = \"300ms\"
timeout = \"3s\"
retries = 1
recovery_target = \"failover1\"
reactivations = 0
failovers = 1
final_action = \"none\"
";

fn baton() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_baton"))
}

fn skip() -> bool {
    if !baton_lab::is_root() {
        println!("skipped: needs root");
        return true;
    }
    if let Some(why) = baton_lab::missing_prerequisite() {
        println!("skipped: {why}");
        return true;
    }
    false
}

/// Field order: the daemons are killed before the lab deletes their namespaces.
struct Cluster {
    daemons: Vec<Daemon>,
    lab: Lab,
}

impl Cluster {
    fn start(extra: &str) -> Cluster {
        let lab = Lab::new(LabSpec::default()).expect("lab");
        let spec = ClusterSpec { extra: extra.to_string(), ..ClusterSpec::default() };
        let config = lab.write_config(&spec).expect("cluster file");
        let daemons = (1..=lab.servers()).map(|s| lab.start_daemon(&baton(), &config, s).expect("daemon")).collect();
        Cluster { daemons, lab }
    }

    fn status(&self, server: usize) -> Value {
        status(&baton(), &self.lab.state_dir(server)).unwrap_or(Value::Null)
    }

    fn wait(&self, what: &str, ok: impl FnMut() -> bool) {
        wait_or_panic(&self.daemons, what, WITHIN, ok);
    }

    fn wait_online_on(&self, server: usize) {
        let want = vec![(format!("server{server}"), "online".to_string())];
        self.wait(&format!("{GROUP} online on server{server} only"), || {
            group_locations(&self.status(1), GROUP) == want && group_locations(&self.status(server), GROUP) == want
        });
    }

    /// `baton WORDS --state-dir` of `server`.
    fn baton(&self, server: usize, words: &[&str]) -> Output {
        Command::new(baton())
            .args(words)
            .arg("--state-dir")
            .arg(self.lab.state_dir(server))
            .stdin(Stdio::null())
            .output()
            .expect("run baton")
    }

    #[track_caller]
    fn accepted(&self, server: usize, words: &[&str]) {
        let out = self.baton(server, words);
        assert!(
            out.status.success(),
            "baton {words:?}: {}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            logs_of(&self.daemons)
        );
    }
}

fn pseudo_faults(status: &Value) -> Vec<String> {
    status["pseudo_faults"].as_array().into_iter().flatten().filter_map(|f| f.as_str().map(String::from)).collect()
}

fn log_show(dir: &Path) -> String {
    let out = Command::new(baton()).args(["log", "show"]).arg(dir).output().expect("baton log show");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn monitor_fail_fails_the_group_over_for_real_and_monitor_ok_ends_it() {
    if skip() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let c = Cluster::start(MONITOR);
    c.wait_online_on(1);
    c.wait("appw ok on server1", || c.status(1)["monitors"]["appw"] == "ok");

    c.accepted(2, &["monitor", "fail", "appw"]); // asked on server2, routed to server1
                                                 // The real ladder: two failed checks (retries = 1), no reactivation, failover.
    c.wait_online_on(2);
    let faults = pseudo_faults(&c.status(1));
    assert_eq!(faults, vec!["monitor appw: checks fail (monitor fail)".to_string()], "{}", c.status(1));
    let log = log_show(&c.lab.state_dir(1).join("log"));
    assert!(log.contains("monitor fail appw"), "the command is in server1's event log:\n{log}");
    assert!(log.contains("pseudo-failure"), "the failed checks say why:\n{log}");

    // Ending the test is never refused; then back to normal.
    c.accepted(3, &["monitor", "ok", "appw"]);
    c.wait("server1 lists no pseudo-failure", || pseudo_faults(&c.status(1)).is_empty());
    c.accepted(1, &["group", "move", GROUP, "--to", "server1"]);
    c.wait_online_on(1);
    // The monitor's state stays `error` from the pseudo-failure until its next real check
    // passes on server1 (the group may be online before that check).
    c.wait("appw ok again on server1", || c.status(1)["monitors"]["appw"] == "ok");
    // The real checks (healthy) hold the group home: watched over five intervals.
    let until = std::time::Instant::now() + Duration::from_millis(1500);
    while std::time::Instant::now() < until {
        let s = c.status(1);
        assert_eq!(group_locations(&s, GROUP), vec![("server1".to_string(), "online".to_string())], "{s}");
        assert_eq!(s["monitors"]["appw"], "ok", "{s}");
    }
}

#[test]
fn monitor_fail_is_refused_while_a_server_of_the_policy_is_down() {
    if skip() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut c = Cluster::start(MONITOR);
    c.wait_online_on(1);
    c.daemons[2].kill();
    c.wait("server1 sees server3 down", || c.status(1)["peers"]["server3"].as_str().is_some_and(|s| s != "online"));
    let out = c.baton(1, &["monitor", "fail", "appw"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "refused: {err}");
    assert!(err.contains("not safe to test") && err.contains("server3"), "{err}");
    assert!(pseudo_faults(&c.status(1)).is_empty());
}
