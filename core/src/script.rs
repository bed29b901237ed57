//! Exec script environments (B90–B96): the `CLP_*` variables a start, stop or RECOVER
//! run receives.
//!
//! In: why the script runs (start kind, stop factor, the executing server's rank, the
//! group's disk outcome). Out: a [`ScriptEnv`], rendered as `KEY=VALUE` pairs by
//! [`ScriptEnv::vars`] for drivers and for `expect script`.

use serde::{Deserialize, Serialize};

/// `CLP_EVENT` (B92).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClpEvent {
    Start,
    Failover,
    Recover,
}

/// `CLP_FACTOR` (B95): why a group stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClpFactor {
    ClusterShutdown,
    ServerShutdown,
    ClusterLeave,
    GroupStop,
    GroupMove,
    GroupFailover,
    GroupRestart,
    ResourceRestart,
}

impl ClpEvent {
    pub fn name(self) -> &'static str {
        match self {
            ClpEvent::Start => "START",
            ClpEvent::Failover => "FAILOVER",
            ClpEvent::Recover => "RECOVER",
        }
    }
}

impl ClpFactor {
    pub fn name(self) -> &'static str {
        match self {
            ClpFactor::ClusterShutdown => "CLUSTERSHUTDOWN",
            ClpFactor::ServerShutdown => "SERVERSHUTDOWN",
            ClpFactor::ClusterLeave => "CLUSTERLEAVE",
            ClpFactor::GroupStop => "GROUPSTOP",
            ClpFactor::GroupMove => "GROUPMOVE",
            ClpFactor::GroupFailover => "GROUPFAILOVER",
            ClpFactor::GroupRestart => "GROUPRESTART",
            ClpFactor::ResourceRestart => "RESOURCERESTART",
        }
    }
}

/// The environment of one script run (B91).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptEnv {
    pub event: ClpEvent,
    /// Set on stop scripts only.
    pub factor: Option<ClpFactor>,
    /// Rank in the group's policy of the server the start ran on (1 = HOME).
    pub priority: usize,
    pub disk_ok: bool,
    pub group: String,
    pub resource: String,
}

impl ScriptEnv {
    /// The environment of a start script (or RECOVER run, with `ClpEvent::Recover`).
    pub fn start(event: ClpEvent, priority: usize, disk_ok: bool, group: &str, resource: &str) -> ScriptEnv {
        assert!(priority >= 1, "ranks are 1-based");
        ScriptEnv { event, factor: None, priority, disk_ok, group: group.into(), resource: resource.into() }
    }

    /// The environment of a stop script: the activating start's values plus the factor (B94).
    pub fn stop(activating: &ScriptEnv, factor: ClpFactor) -> ScriptEnv {
        assert!(activating.event != ClpEvent::Recover, "RECOVER runs never activate (B94)");
        ScriptEnv { factor: Some(factor), ..activating.clone() }
    }

    /// `HOME` or `OTHER`.
    pub fn server_word(&self) -> &'static str {
        if self.priority == 1 {
            "HOME"
        } else {
            "OTHER"
        }
    }

    /// The `CLP_*` variables in a fixed order.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        let mut v = vec![
            ("CLP_EVENT", self.event.name().to_string()),
            ("CLP_SERVER", self.server_word().to_string()),
            ("CLP_PRIORITY", self.priority.to_string()),
            ("CLP_DISK", if self.disk_ok { "SUCCESS" } else { "FAILURE" }.to_string()),
            ("CLP_GROUPNAME", self.group.clone()),
            ("CLP_RESOURCENAME", self.resource.clone()),
        ];
        if let Some(f) = self.factor {
            v.push(("CLP_FACTOR", f.name().to_string()));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_echoes_the_activating_start() {
        let start = ScriptEnv::start(ClpEvent::Failover, 2, true, "A", "exec1");
        let stop = ScriptEnv::stop(&start, ClpFactor::GroupMove);
        let vars = stop.vars();
        assert!(vars.contains(&("CLP_EVENT", "FAILOVER".into())));
        assert!(vars.contains(&("CLP_SERVER", "OTHER".into())));
        assert!(vars.contains(&("CLP_PRIORITY", "2".into())));
        assert!(vars.contains(&("CLP_FACTOR", "GROUPMOVE".into())));
    }

    #[test]
    fn start_has_no_factor() {
        let start = ScriptEnv::start(ClpEvent::Start, 1, true, "A", "exec1");
        assert!(start.vars().iter().all(|(k, _)| *k != "CLP_FACTOR"));
        assert_eq!(start.server_word(), "HOME");
    }
}
