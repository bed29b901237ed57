//! Live fault verification (issue 15 item 2; the manuals' pseudo-failure, `clpmonctrl
//! -f`): `monitor fail M` makes the real monitor's next checks on a server count as
//! failed until `monitor ok M`; `resource fail-activation R --times N` makes the next N
//! activations of R on a server fail without running its driver. The real recovery
//! ladder (B81–B84, B70) then runs on those failures, as it would on a real fault.
//!
//! In: the accepted commands (checked here: [`Node::check_pseudo_fault`]), each check
//! result and each activation about to run. Out: the failure substituted for the
//! check's result (`monitor-check-failed`/`monitor-error` say `pseudo-failure`), an
//! activation failure instead of the driver's run (`resource-activation-failed` says
//! so), and the active faults for `status`.
//!
//! Safety rule (docs/day-two.md): a fault is injected only while the test is safe to
//! run: every server of the failover policy of each group the fault can make fail over
//! is an online member, no group is starting or stopping anywhere this server sees,
//! and the cluster is not suspended (checked for every command). Turning a fault off
//! (`monitor ok`, `--times 0`) is never refused for health. The faults live in the
//! running service only: a restart of the service ends them.

use super::Node;
use crate::command::Command;
use crate::config::{GroupId, MonId, RecoveryTarget, ResId, ServerId};
use crate::event::{Event, EventKind};
use crate::io::GroupState;
use std::collections::{BTreeMap, BTreeSet};

/// The detail of a check failed by `monitor fail`.
pub const PSEUDO_CHECK: &str = "pseudo-failure (baton monitor fail)";

/// The most activations one `fail-activation` may fail (a bound on the input).
pub const MAX_FAIL_ACTIVATIONS: u32 = 100;

/// The pseudo-failures active on this server.
#[derive(Clone, Debug, Default)]
pub(super) struct PseudoFaults {
    /// Monitors whose checks count as failed here.
    monitors: BTreeSet<MonId>,
    /// Resources whose next activations here fail: how many are left.
    activations: BTreeMap<ResId, u32>,
}

impl Node {
    /// Where an accepted pseudo-fault command goes, or why it is refused.
    pub(super) fn check_pseudo_fault(&self, cmd: &Command) -> Result<Vec<ServerId>, String> {
        match cmd {
            Command::MonitorFail { monitor, on } => {
                let targets = self.monitor_fault_targets(*monitor, *on)?;
                if targets.contains(&self.me) && self.pseudo.monitors.contains(monitor) {
                    return Err(format!("monitor {} is already failing (pseudo-failure)", self.mon_name(*monitor)));
                }
                self.check_safe(&self.monitor_groups(*monitor))?;
                Ok(targets)
            }
            Command::MonitorOk { monitor, on } => {
                let targets = match on {
                    Some(s) => vec![*s],
                    None => self.cfg.monitor(*monitor).servers.clone(),
                };
                if targets == [self.me] && !self.pseudo.monitors.contains(monitor) {
                    return Err(format!("monitor {} is not failing (no pseudo-failure here)", self.mon_name(*monitor)));
                }
                Ok(targets)
            }
            Command::ResourceFailActivation { resource, times, on } => {
                let g = self.cfg.resource(*resource).group;
                let policy = &self.cfg.group(g).policy;
                let targets = match on {
                    Some(s) if policy.contains(s) => vec![*s],
                    Some(s) => {
                        return Err(format!(
                            "server {} is not in the failover policy of group {}",
                            self.cfg.server(*s).name,
                            self.cfg.group(g).name
                        ))
                    }
                    None => policy.clone(),
                };
                if *times > 0 {
                    self.check_safe(&[g])?;
                }
                Ok(targets)
            }
            Command::ClusterStart
            | Command::ClusterStop
            | Command::ClusterShutdown { .. }
            | Command::ClusterSuspend { .. }
            | Command::ClusterResume { .. }
            | Command::ServerShutdown { .. }
            | Command::ServerReturn { .. }
            | Command::GroupStart { .. }
            | Command::GroupStop { .. }
            | Command::GroupMove { .. }
            | Command::MirrorRebuild { .. }
            | Command::MirrorForce { .. }
            | Command::MonitorSuspend { .. }
            | Command::MonitorResume { .. } => unreachable!("not a pseudo-fault command"),
        }
    }

    /// Carries out an accepted pseudo-fault command on this server. Taken on another
    /// server, it is recorded here too (`command-accepted`, "from S"), so this server's
    /// log shows what its failures follow from (`baton log why`).
    pub(super) fn apply_pseudo_fault(&mut self, from: ServerId, cmd: &Command) {
        if from != self.me {
            let words = format!("{} (from {})", cmd.words(&self.cfg), self.cfg.server(from).name);
            self.emit(Event::new(EventKind::CommandAccepted).reason(words));
        }
        match cmd {
            Command::MonitorFail { monitor, .. } => {
                if self.cfg.monitor(*monitor).servers.contains(&self.me) {
                    self.pseudo.monitors.insert(*monitor);
                }
            }
            Command::MonitorOk { monitor, .. } => {
                self.pseudo.monitors.remove(monitor);
            }
            Command::ResourceFailActivation { resource, times: 0, .. } => {
                self.pseudo.activations.remove(resource);
            }
            Command::ResourceFailActivation { resource, times, .. } => {
                self.pseudo.activations.insert(*resource, (*times).min(MAX_FAIL_ACTIVATIONS));
            }
            Command::ClusterStart
            | Command::ClusterStop
            | Command::ClusterShutdown { .. }
            | Command::ClusterSuspend { .. }
            | Command::ClusterResume { .. }
            | Command::ServerShutdown { .. }
            | Command::ServerReturn { .. }
            | Command::GroupStart { .. }
            | Command::GroupStop { .. }
            | Command::GroupMove { .. }
            | Command::MirrorRebuild { .. }
            | Command::MirrorForce { .. }
            | Command::MonitorSuspend { .. }
            | Command::MonitorResume { .. } => {}
        }
    }

    /// A check's result as the recovery ladder reads it: failed while `monitor fail`
    /// is active here, whatever the monitor found.
    pub(super) fn pseudo_check_result(&self, m: MonId, healthy: bool, detail: String) -> (bool, String) {
        if self.pseudo_failing(m) {
            (false, PSEUDO_CHECK.to_string())
        } else {
            (healthy, detail)
        }
    }

    /// Whether `monitor fail` is active here for `m`: its failures follow from the
    /// `command-accepted` of that command (`baton log why` walks back to it).
    pub(super) fn pseudo_failing(&self, m: MonId) -> bool {
        self.pseudo.monitors.contains(&m)
    }

    /// Takes one pseudo activation failure of `r`: `Some(reason)` if this activation
    /// must fail without running the driver.
    pub(super) fn take_pseudo_activation_failure(&mut self, r: ResId) -> Option<String> {
        let left = self.pseudo.activations.get_mut(&r)?;
        *left = left.saturating_sub(1);
        let remaining = *left;
        if remaining == 0 {
            self.pseudo.activations.remove(&r);
        }
        Some(format!("pseudo-failure (baton resource fail-activation; {remaining} more to fail)"))
    }

    /// The pseudo-failures active on this server, as `status` lists them.
    pub(super) fn pseudo_fault_lines(&self) -> Vec<String> {
        let mons =
            self.pseudo.monitors.iter().map(|m| format!("monitor {}: checks fail (monitor fail)", self.mon_name(*m)));
        let acts = self.pseudo.activations.iter().map(|(r, n)| {
            format!("resource {}: next {n} activation(s) fail (fail-activation)", self.cfg.resource(*r).name)
        });
        mons.chain(acts).collect()
    }

    fn mon_name(&self, m: MonId) -> &str {
        &self.cfg.monitor(m).name
    }

    /// Where `monitor fail` goes: `--on S` (a server of the monitor), else the servers
    /// of the monitor where the group it recovers is online.
    fn monitor_fault_targets(&self, m: MonId, on: Option<ServerId>) -> Result<Vec<ServerId>, String> {
        let mon = self.cfg.monitor(m);
        if let Some(s) = on {
            if !mon.servers.contains(&s) {
                return Err(format!("monitor {} does not run on {}", mon.name, self.cfg.server(s).name));
            }
            return Ok(vec![s]);
        }
        let groups = match mon.recovery_target {
            RecoveryTarget::Resource(r) => vec![self.cfg.resource(r).group],
            RecoveryTarget::Group(g) => vec![g],
            RecoveryTarget::LocalServer | RecoveryTarget::AllGroups => {
                return Err(format!("monitor {} recovers a whole server: give --on SERVER", mon.name))
            }
        };
        let at: Vec<ServerId> = mon
            .servers
            .iter()
            .copied()
            .filter(|s| groups.iter().any(|g| self.group_state_on(*g, *s) == GroupState::Online))
            .collect();
        if at.is_empty() {
            return Err(format!(
                "the group monitor {} recovers is not online on any of its servers: give --on SERVER",
                mon.name
            ));
        }
        Ok(at)
    }

    /// The groups a failing monitor can make fail over (or stop).
    fn monitor_groups(&self, m: MonId) -> Vec<GroupId> {
        match self.cfg.monitor(m).recovery_target {
            RecoveryTarget::Resource(r) => vec![self.cfg.resource(r).group],
            RecoveryTarget::Group(g) => vec![g],
            RecoveryTarget::LocalServer | RecoveryTarget::AllGroups => self.cfg.group_ids().collect(),
        }
    }

    /// The safety rule of the module doc.
    fn check_safe(&self, groups: &[GroupId]) -> Result<(), String> {
        for g in groups {
            if let Some(s) = self.cfg.group(*g).policy.iter().find(|s| !self.is_member(**s)) {
                return Err(format!(
                    "not safe to test: server {} of group {}'s failover policy is not online",
                    self.cfg.server(*s).name,
                    self.cfg.group(*g).name
                ));
            }
        }
        let busy = self.cfg.group_ids().find(|g| {
            self.cfg
                .server_ids()
                .any(|s| matches!(self.group_state_on(*g, s), GroupState::Starting | GroupState::Stopping))
        });
        match busy {
            Some(g) => {
                Err(format!("not safe to test: group {} is starting, stopping or moving", self.cfg.group(g).name))
            }
            None => Ok(()),
        }
    }
}
