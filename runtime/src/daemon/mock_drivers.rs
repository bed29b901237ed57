//! Mock [`Drivers`] for tests and the madsim world: a shared model of the machines
//! instead of the machines.
//!
//! In: actions of several daemons in one process, each through its own [`MockDrivers`]
//! over one shared [`MockWorld`]; the test's faults (a monitor that fails, a server that
//! cannot reach the resolver targets). Out: each action's result after a short
//! (virtual, under madsim) delay, and the world's record: which server holds each
//! floating address now, every script run in order, and every activation refused
//! because another server still held the address (what the real driver's ARP probe
//! refuses) — the split-brain witness the tests assert on.

use super::drivers::{DriverFuture, Drivers, UnitFuture};
use baton_core::config::model::ResourceKind;
use baton_core::config::{Config, MonId, NpKind, ResId, ServerId};
use baton_core::io::{Action, ActionResult, ProbeResult};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// How long a mock action takes.
pub const MOCK_ACTION_MS: u64 = 20;

/// One script run (or address change) seen by the world.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorldRecord {
    pub server: String,
    pub resource: String,
    /// `activate`, `deactivate`, `recover`.
    pub what: &'static str,
}

#[derive(Debug, Default)]
struct WorldState {
    /// Floating address → servers holding it (more than one is a split brain).
    addresses: BTreeMap<String, BTreeSet<String>>,
    /// Every activation/deactivation/RECOVER run, in order.
    records: Vec<WorldRecord>,
    /// Activations refused because another server held the address.
    conflicts: u64,
    /// (server, monitor name) pairs whose checks fail.
    failing_monitors: BTreeSet<(String, String)>,
    /// Servers that cannot reach the ping/http resolver targets.
    unreachable: BTreeSet<String>,
    /// Servers whose drivers were released (fenced / powered off).
    released: BTreeSet<String>,
}

/// The machines of a mock cluster, shared by every daemon of a test.
#[derive(Debug, Default)]
pub struct MockWorld {
    state: Mutex<WorldState>,
}

impl MockWorld {
    pub fn new() -> Arc<MockWorld> {
        Arc::new(MockWorld::default())
    }

    fn lock(&self) -> MutexGuard<'_, WorldState> {
        // A test thread that panicked while holding the lock already failed the test.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The servers holding `address` now, in name order.
    pub fn holders(&self, address: &str) -> Vec<String> {
        self.lock().addresses.get(address).map(|s| s.iter().cloned().collect()).unwrap_or_default()
    }

    /// The activations refused so far because another server held the address.
    pub fn conflicts(&self) -> u64 {
        self.lock().conflicts
    }

    pub fn records(&self) -> Vec<WorldRecord> {
        self.lock().records.clone()
    }

    pub fn released(&self, server: &str) -> bool {
        self.lock().released.contains(server)
    }

    /// Makes monitor `monitor` on `server` fail (or succeed again).
    pub fn set_monitor_failing(&self, server: &str, monitor: &str, failing: bool) {
        let key = (server.to_string(), monitor.to_string());
        let mut w = self.lock();
        if failing {
            w.failing_monitors.insert(key);
        } else {
            w.failing_monitors.remove(&key);
        }
    }

    /// Cuts (or restores) `server`'s reach to the resolver targets.
    pub fn set_reachable(&self, server: &str, reachable: bool) {
        let mut w = self.lock();
        if reachable {
            w.unreachable.remove(server);
        } else {
            w.unreachable.insert(server.to_string());
        }
    }
}

/// One server's drivers in a [`MockWorld`].
pub struct MockDrivers {
    world: Arc<MockWorld>,
    cfg: Arc<Config>,
    me: ServerId,
}

impl MockDrivers {
    pub fn new(world: Arc<MockWorld>, cfg: Arc<Config>, me: ServerId) -> MockDrivers {
        MockDrivers { world, cfg, me }
    }

    fn name(&self) -> String {
        self.cfg.server(self.me).name.clone()
    }

    fn after_delay(result: ActionResult) -> DriverFuture {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(MOCK_ACTION_MS)).await;
            result
        })
    }
}

impl Drivers for MockDrivers {
    fn run(&self, action: Action) -> (DriverFuture, Option<Duration>) {
        let me = self.name();
        let result = match action {
            Action::Activate { res, .. } => self.resource(res, "activate", Some(true)),
            Action::Deactivate { res, .. } => self.resource(res, "deactivate", Some(false)),
            Action::RecoverRun { res, .. } => self.resource(res, "recover", None),
            Action::MonitorCheck { mon } => self.check(mon, &me),
            Action::NpProbe { np } => {
                let reachable = !self.world.lock().unreachable.contains(&me);
                match &self.cfg.nps[np.idx()].kind {
                    NpKind::Disk { .. } => {
                        ActionResult::Probe(ProbeResult::Disk { io_ok: true, io_ms: 1, slots: Vec::new() })
                    }
                    NpKind::Ping { .. } | NpKind::Http { .. } | NpKind::Serial { .. } | NpKind::Majority => {
                        ActionResult::Probe(ProbeResult::Answered(reachable))
                    }
                }
            }
            // The mock world has no link to listen on: nobody answers the margin probe
            // (an address held twice shows in the world's own checks).
            Action::AddressProbe { .. } => ActionResult::Probe(ProbeResult::Answered(false)),
            Action::MirrorCopy { .. } => ActionResult::Ok,
            Action::Power(p) => ActionResult::Failed(format!("power action {p:?} reached the drivers")),
        };
        (MockDrivers::after_delay(result), Some(Duration::from_millis(MOCK_ACTION_MS)))
    }

    fn release_all(&self) -> UnitFuture {
        let me = self.name();
        let mut w = self.world.lock();
        for holders in w.addresses.values_mut() {
            holders.remove(&me);
        }
        w.released.insert(me);
        Box::pin(async {})
    }
}

impl MockDrivers {
    /// A resource action: recorded; a floating address is taken (`up = Some(true)`),
    /// refused if another server holds it, or given back (`Some(false)`).
    fn resource(&self, res: ResId, what: &'static str, up: Option<bool>) -> ActionResult {
        let me = self.name();
        let resource = self.cfg.resource(res);
        let mut w = self.world.lock();
        w.records.push(WorldRecord { server: me.clone(), resource: resource.name.clone(), what });
        let ResourceKind::FloatingIp { address, .. } = &resource.kind else {
            return ActionResult::Ok;
        };
        match up {
            Some(true) => {
                let holders = w.addresses.entry(address.clone()).or_default();
                let others: Vec<String> = holders.iter().filter(|s| **s != me).cloned().collect();
                if others.is_empty() {
                    holders.insert(me);
                    ActionResult::Ok
                } else {
                    w.conflicts += 1;
                    ActionResult::Failed(format!("{address} is in use: {} answered the ARP probe", others.join(", ")))
                }
            }
            Some(false) => {
                if let Some(h) = w.addresses.get_mut(address) {
                    h.remove(&me);
                }
                ActionResult::Ok
            }
            None => ActionResult::Ok,
        }
    }

    fn check(&self, mon: MonId, me: &str) -> ActionResult {
        let name = &self.cfg.monitor(mon).name;
        let failing = self.world.lock().failing_monitors.contains(&(me.to_string(), name.clone()));
        ActionResult::Check {
            healthy: !failing,
            detail: if failing { "mock: failing".to_string() } else { "mock: ok".to_string() },
        }
    }
}
