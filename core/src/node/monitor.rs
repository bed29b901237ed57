//! Monitors on this server (B80–B82, B86): when each runs, its check schedule, and the
//! counting of failed checks up to `monitor-error`.
//!
//! In: changes of membership and resource states (via `reevaluate`), the monitor check
//! timers and check results, `monitor suspend`/`resume`. Out: `MonitorCheck` actions,
//! monitor events, and `monitor-error` into the recovery ladder.

use super::group::ResState;
use super::Node;
use crate::config::{MonId, MonitorKind, Ms};
use crate::event::{Event, EventKind};
use crate::io::{Action, ActionResult, Timer};

/// A monitor's state as `expect monitor` and status report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MonitorStatus {
    Stopped,
    Ok,
    Error,
}

impl MonitorStatus {
    pub fn name(self) -> &'static str {
        match self {
            MonitorStatus::Stopped => "stopped",
            MonitorStatus::Ok => "ok",
            MonitorStatus::Error => "error",
        }
    }
}

#[derive(Clone, Debug)]
pub(super) struct MonitorRun {
    pub status: MonitorStatus,
    pub running: bool,
    /// Suspended by `monitor suspend` (B86); counters are kept.
    pub suspended: bool,
    pub failures: u32,
    pub in_flight: bool,
    pub check_started_ms: Ms,
}

impl Default for MonitorRun {
    fn default() -> Self {
        MonitorRun {
            status: MonitorStatus::Stopped,
            running: false,
            suspended: false,
            failures: 0,
            in_flight: false,
            check_started_ms: 0,
        }
    }
}

impl Node {
    /// Whether monitor `m` should be running here now (B80, B86, B122 suspend).
    fn monitor_should_run(&self, m: MonId) -> bool {
        let mon = self.cfg.monitor(m);
        if !mon.servers.contains(&self.me) || self.monitors[m.idx()].suspended || self.cluster_suspended {
            return false;
        }
        let user_space = matches!(mon.kind, MonitorKind::UserSpace { .. });
        let service_ok = self.phase.is_member() || (user_space && self.phase.is_suspended());
        if !service_ok {
            return false;
        }
        match mon.active_with {
            Some(r) => self.res_state(r) == ResState::Online,
            None => true,
        }
    }

    /// Starts and stops monitors to match the current state (B80).
    pub(super) fn reevaluate_monitors(&mut self) {
        for m in self.cfg.monitor_ids() {
            let should = self.monitor_should_run(m);
            let run = &self.monitors[m.idx()];
            if should && !run.running {
                self.start_monitor(m);
            } else if !should && run.running {
                self.stop_monitor(m);
            }
        }
    }

    fn start_monitor(&mut self, m: MonId) {
        let run = &mut self.monitors[m.idx()];
        run.running = true;
        run.status = MonitorStatus::Ok;
        run.failures = 0;
        run.in_flight = false;
        self.emit(Event::new(EventKind::MonitorStarted).monitor(m));
        let start_wait = self.cfg.monitor(m).start_wait_ms;
        self.set_timer(Timer::MonitorCheck(m), self.now.saturating_add(start_wait));
    }

    fn stop_monitor(&mut self, m: MonId) {
        let run = &mut self.monitors[m.idx()];
        run.running = false;
        run.status = MonitorStatus::Stopped;
        run.in_flight = false;
        run.failures = 0;
        self.cancel_timer(Timer::MonitorCheck(m));
        // A check still running belongs to the monitoring that ends here. Left in flight,
        // its late result was taken for the first check of the next start (which then
        // ran a second check at once, whose own result was dropped): a failure from
        // before a suspend or a stop counted after it (B81, B86, B122).
        let stale: Vec<crate::io::ActionId> = self
            .pending
            .iter()
            .filter(|(_, p)| matches!(p, super::Pending::MonitorCheck { mon } if *mon == m))
            .map(|(id, _)| *id)
            .collect();
        for id in stale {
            self.pending.remove(&id);
            self.cancel_timer(Timer::ActionTimeout(id));
            self.out.push(crate::io::Output::Cancel { id });
        }
        self.emit(Event::new(EventKind::MonitorStopped).monitor(m));
    }

    /// Stops every monitor (the service is leaving).
    pub(super) fn stop_monitors_all(&mut self) {
        for m in self.cfg.monitor_ids() {
            if self.monitors[m.idx()].running {
                self.stop_monitor(m);
            }
        }
    }

    pub(super) fn on_monitor_due(&mut self, m: MonId) {
        let run = &mut self.monitors[m.idx()];
        if !run.running || run.in_flight {
            return; // a running check delays the next (B81)
        }
        run.in_flight = true;
        run.check_started_ms = self.now;
        let timeout = self.cfg.monitor(m).timeout_ms;
        self.execute(Action::MonitorCheck { mon: m }, super::Pending::MonitorCheck { mon: m }, Some(timeout));
    }

    pub(super) fn on_monitor_result(&mut self, m: MonId, result: ActionResult) {
        let run = &mut self.monitors[m.idx()];
        if !run.running || !run.in_flight {
            return; // stopped meanwhile: the result concerns nobody
        }
        run.in_flight = false;
        let (healthy, detail) = match result {
            ActionResult::Check { healthy, detail } => (healthy, detail),
            ActionResult::Ok => (true, String::new()),
            ActionResult::Failed(reason) => (false, reason),
            ActionResult::Probe(_) => (false, "unexpected probe result".to_string()),
        };
        let next = run.check_started_ms.saturating_add(self.cfg.monitor(m).interval_ms).max(self.now);
        self.set_timer(Timer::MonitorCheck(m), next);
        let (healthy, detail) = self.pseudo_check_result(m, healthy, detail);
        let retries = self.cfg.monitor(m).retries;
        let run = &mut self.monitors[m.idx()];
        if healthy {
            run.failures = 0;
            if run.status == MonitorStatus::Error {
                run.status = MonitorStatus::Ok;
                self.counters.final_done.remove(&m); // B84: a new fault climbs the ladder again
                self.emit(Event::new(EventKind::MonitorRecovered).monitor(m));
            }
            return;
        }
        run.failures += 1;
        if run.failures <= retries {
            let n = run.failures;
            self.emit(
                Event::new(EventKind::MonitorCheckFailed)
                    .monitor(m)
                    .reason(format!("failure {n} of {}: {detail}", retries + 1)),
            );
            return;
        }
        // B81, B84: failure retries + 1 is an error; the count starts again.
        run.failures = 0;
        run.status = MonitorStatus::Error;
        self.emit(
            Event::new(EventKind::MonitorError)
                .monitor(m)
                .reason(detail)
                .because(
                    self.pseudo_failing(m).then_some(EventKind::CommandAccepted),
                    format!("{} failed checks in a row (retries = {retries})", retries + 1),
                ),
        );
        self.monitor_recovery(m);
    }

    /// `monitor suspend`/`resume` on this server (B86).
    pub(super) fn set_monitor_suspended(&mut self, m: MonId, suspended: bool) {
        if !self.cfg.monitor(m).servers.contains(&self.me) || self.monitors[m.idx()].suspended == suspended {
            return;
        }
        self.monitors[m.idx()].suspended = suspended;
        self.recheck = true;
        let kind = if suspended { EventKind::MonitorSuspended } else { EventKind::MonitorResumed };
        self.emit(Event::new(kind).monitor(m));
    }

    pub(super) fn monitor_status(&self, m: MonId) -> MonitorStatus {
        self.monitors[m.idx()].status
    }
}
