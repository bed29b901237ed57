//! Waiting for an operator command's outcome (`baton group start|stop|move` without
//! `--no-wait`).
//!
//! In: the command's words, the daemon's status before the command (for a move without
//! `--to`: where the group was), then the daemon's status again and again. Out: an
//! [`Expect`]ation, and whether a status meets it. The daemon answers a command as soon
//! as the node accepts or refuses it; the group's scripts and addresses take their time
//! after that, on whichever server must act, and the status (each server's view,
//! `locations`) is where the outcome shows.
//!
//! Commands with no group outcome to watch (cluster, server, monitor, mirror commands)
//! return with the node's answer.

use baton_runtime::daemon::control::status_json::group_locations;
use serde_json::Value;

/// What a command's success looks like in the status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    /// The group is online on `on` (any server if `None`), and not on `not_on`.
    Online { group: String, on: Option<String>, not_on: Option<String> },
    /// The group is offline everywhere.
    Offline { group: String },
}

impl Expect {
    pub fn describe(&self) -> String {
        match self {
            Expect::Online { group, on: Some(s), .. } => format!("{group} online on {s}"),
            Expect::Online { group, on: None, not_on: Some(s) } => format!("{group} online on a server other than {s}"),
            Expect::Online { group, on: None, not_on: None } => format!("{group} online"),
            Expect::Offline { group } => format!("{group} offline everywhere"),
        }
    }
}

/// The value after `--name` in the words.
fn option<'a>(words: &'a [String], name: &str) -> Option<&'a String> {
    words.iter().position(|w| w == name).and_then(|i| words.get(i + 1))
}

/// The servers where `group`'s state on them satisfies `keep`, according to a status.
fn servers_where(status: &Value, group: &str, keep: impl Fn(&str) -> bool) -> Vec<String> {
    group_locations(status, group).into_iter().filter(|(_, st)| keep(st)).map(|(s, _)| s).collect()
}

/// The servers where `group` is in `state` ("Online", …) according to a status.
pub fn servers_in(status: &Value, group: &str, state: &str) -> Vec<String> {
    servers_where(status, group, |s| s == state)
}

/// Where a group is running or on its way (online, starting, stopping); a group in
/// error on a server holds nothing there any more that the outcome waits for.
fn servers_with(status: &Value, group: &str) -> Vec<String> {
    servers_where(status, group, |s| matches!(s, "Online" | "Starting" | "Stopping"))
}

/// The outcome to wait for after `words` (given `before`, the status just before).
pub fn expectation(words: &[String], before: &Value) -> Option<Expect> {
    let [noun, verb, group, ..] = words else {
        return None;
    };
    if noun != "group" {
        return None;
    }
    let group = group.clone();
    match verb.as_str() {
        "start" => Some(Expect::Online { group, on: option(words, "--on").cloned(), not_on: None }),
        "stop" => Some(Expect::Offline { group }),
        "move" => {
            let to = option(words, "--to").cloned();
            let from = servers_in(before, &group, "Online").into_iter().next();
            Some(Expect::Online { group, not_on: if to.is_none() { from } else { None }, on: to })
        }
        _ => None,
    }
}

/// Whether `status` shows the expected outcome.
pub fn met(expect: &Expect, status: &Value) -> bool {
    match expect {
        Expect::Online { group, on, not_on } => {
            let online = servers_in(status, group, "Online");
            let elsewhere = servers_with(status, group);
            let placed = match on {
                Some(s) => online.contains(s),
                None => !online.is_empty(),
            };
            // Settled: online on exactly the expected server, nowhere else in transit.
            placed && elsewhere.len() == 1 && not_on.as_ref().is_none_or(|s| !online.contains(s))
        }
        Expect::Offline { group } => servers_with(status, group).is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    fn status(at: &[(&str, &str)]) -> Value {
        let list: Vec<Value> = at.iter().map(|(s, st)| json!([s, st])).collect();
        json!({ "locations": [["g1", list], ["g2", []]] })
    }

    #[test]
    fn move_without_target_waits_to_leave_the_old_server() {
        let before = status(&[("server1", "Online")]);
        let e = expectation(&words("group move g1"), &before).unwrap();
        assert_eq!(e, Expect::Online { group: "g1".into(), on: None, not_on: Some("server1".into()) });
        assert!(!met(&e, &before));
        assert!(!met(&e, &status(&[("server1", "Stopping")])));
        assert!(!met(&e, &status(&[("server2", "Starting")])));
        assert!(met(&e, &status(&[("server2", "Online")])));
    }

    #[test]
    fn move_to_a_server_and_start_on_one() {
        let e = expectation(&words("group move g1 --to server3"), &status(&[])).unwrap();
        assert!(!met(&e, &status(&[("server2", "Online")])));
        assert!(!met(&e, &status(&[("server3", "Online"), ("server1", "Stopping")])));
        assert!(met(&e, &status(&[("server3", "Online")])));
        let s = expectation(&words("group start g1 --on server2"), &status(&[])).unwrap();
        assert!(met(&s, &status(&[("server2", "Online")])));
        assert!(!met(&s, &status(&[("server1", "Online")])));
    }

    #[test]
    fn stop_waits_for_offline_everywhere_and_other_commands_do_not_wait() {
        let e = expectation(&words("group stop g1"), &status(&[("server1", "Online")])).unwrap();
        assert!(!met(&e, &status(&[("server1", "Stopping")])));
        assert!(met(&e, &status(&[])));
        assert!(met(&e, &status(&[("server1", "Error")])));
        assert_eq!(expectation(&words("cluster suspend"), &status(&[])), None);
        assert_eq!(expectation(&words("server return server1"), &status(&[])), None);
    }
}
