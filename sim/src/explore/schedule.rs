//! Drawing a random fault schedule for one seed, swarm-testing style: the seed first
//! draws which fault kinds are enabled, their relative weights, the mean gap between
//! faults and the activation time, then the faults themselves. A seed that enables
//! only a few kinds hits their interactions far more often than a uniform mix would,
//! and a seed without partitions keeps split brain a failure on split-prone
//! configurations (see `faults.rs`).
//!
//! In: the configuration, its [`ConfigFacts`], the allowed kinds, the seed and the
//! [`Limits`]. Out: a [`Schedule`]: faults, each one happening plus, for lasting
//! faults, the step that undoes it, all as scenario statements at scenario times.

use super::faults::{ConfigFacts, FaultKind};
use crate::scenario::{CrashPoint, DiskAction, Knobs, MonitorHealth, SerialAction, Stmt, Target, TargetState};
use crate::world::Rng;
use baton_core::config::{Config, Ms, ServerId};

/// Time bounds of one run (simulated milliseconds).
#[derive(Clone, Debug)]
pub struct Limits {
    /// Faults start this long after `boot all` (some land during start-up on purpose).
    pub first_fault_ms: Ms,
    /// Faults are drawn until this instant; undo steps may come later.
    pub fault_window_end_ms: Ms,
    /// The longest a lasting fault lasts before its undo step.
    pub max_fault_duration_ms: Ms,
}

impl Default for Limits {
    fn default() -> Limits {
        // About 15 minutes of faults; with the heal and the liveness bound a run
        // covers 25-35 simulated minutes (see `docs/testing.md` for the CI budget).
        Limits { first_fault_ms: 30_000, fault_window_end_ms: 15 * 60_000, max_fault_duration_ms: 4 * 60_000 }
    }
}

/// One fault: its kind and its statements (the happening, then its undo if any).
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    pub kind: FaultKind,
    pub steps: Vec<(Ms, Stmt)>,
}

/// What the seed drew.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    /// Enabled kinds with their weights.
    pub swarm: Vec<(FaultKind, u32)>,
    pub mean_gap_ms: Ms,
    pub knobs: Knobs,
    pub faults: Vec<Fault>,
}

impl Schedule {
    /// Every step of the faults in time order; steps at the same instant keep the
    /// order in which they were drawn.
    pub fn steps(faults: &[Fault]) -> Vec<(Ms, Stmt)> {
        let mut all: Vec<(Ms, usize, usize, &Stmt)> = Vec::new();
        for (i, f) in faults.iter().enumerate() {
            for (j, (at, s)) in f.steps.iter().enumerate() {
                all.push((*at, i, j, s));
            }
        }
        all.sort_by_key(|(at, i, j, _)| (*at, *i, *j));
        all.into_iter().map(|(at, _, _, s)| (at, s.clone())).collect()
    }
}

/// The kinds that can do something on this configuration.
pub fn applicable(kind: FaultKind, cfg: &Config, facts: &ConfigFacts) -> bool {
    let servers = cfg.servers.len();
    match kind {
        FaultKind::Crash | FaultKind::Shutdown | FaultKind::Stall | FaultKind::Return => true,
        FaultKind::Partition | FaultKind::Isolate | FaultKind::OneWay | FaultKind::HbCut | FaultKind::Loss => {
            servers >= 2 && !facts.networks.is_empty()
        }
        FaultKind::Suspend => servers >= 2,
        FaultKind::Clock | FaultKind::KillProcess | FaultKind::HangShutdown => true,
        FaultKind::Target => !facts.targets.is_empty(),
        FaultKind::DiskFail | FaultKind::DiskSlow => !facts.devices.is_empty(),
        FaultKind::Activation | FaultKind::Deactivation => !facts.resources.is_empty(),
        FaultKind::Monitor | FaultKind::MonitorCmd => !facts.monitors.is_empty(),
        FaultKind::Serial => facts.serial,
        FaultKind::Write => !facts.writable.is_empty(),
        FaultKind::GroupCmd => !cfg.groups.is_empty(),
    }
}

/// Draws the schedule of `seed`. Only kinds in `allowed` that apply are used.
pub fn draw(cfg: &Config, facts: &ConfigFacts, allowed: &[FaultKind], seed: u64, limits: &Limits) -> Schedule {
    // Distinct from the world's stream (seeded with `seed` itself) so that the
    // packet-loss draws of the run do not mirror the schedule's draws.
    let mut rng = Rng::new(seed.wrapping_mul(0xA24B_AED4_963E_E407) ^ 0x5EED_E7F1_0E5E_ED00);
    // Where crashes strike within a step (see `FaultKind::Crash` below).
    let mut points = Rng::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xC4A5_4F01_D7C4_A54F);
    // Clock faults are drawn apart, from a stream of their own (`draw_clocks`), so that
    // every other draw of a seed is what it was before they existed.
    // Process deaths and shutdown stalls likewise (`draw_processes`).
    let mut usable: Vec<FaultKind> =
        allowed.iter().copied().filter(|k| !k.drawn_apart() && applicable(*k, cfg, facts)).collect();
    // On a split-prone configuration every run with a split-capable fault allows split
    // brain (a documented hazard); half the seeds leave those kinds out so that split
    // brain stays a failure in them.
    let splitting = |k: &FaultKind| k.can_split(facts);
    if !facts.split_prone.is_empty() && usable.iter().any(splitting) && !usable.iter().all(splitting) && rng.chance(50)
    {
        usable.retain(|k| !splitting(k));
    }
    let mut swarm: Vec<(FaultKind, u32)> = Vec::new();
    for k in &usable {
        if rng.chance(55) {
            swarm.push((*k, 1 + rng.below(4) as u32));
        }
    }
    if swarm.is_empty() && !usable.is_empty() {
        let k = usable[rng.below(usable.len() as u64) as usize];
        swarm.push((k, 1));
    }
    let mean_gap_ms = [20_000, 45_000, 90_000, 180_000][rng.below(4) as usize];
    let knobs = Knobs { activation_time_ms: [1_000, 1_000, 3_000, 10_000][rng.below(4) as usize], ..Knobs::default() };
    let total: u32 = swarm.iter().map(|(_, w)| w).sum();
    let mut faults = Vec::new();
    let mut t = limits.first_fault_ms;
    // `total` is 0 only when no kind applies: then the run is boot, heal and check.
    while total > 0 && t < limits.fault_window_end_ms {
        // Gaps in [mean/2, 3·mean/2), on a 100 ms grid: readable times, yet not all
        // aligned with heartbeats (which start at boot-time + latency).
        t += (mean_gap_ms / 2 + rng.below(mean_gap_ms)) / 100 * 100;
        if t >= limits.fault_window_end_ms {
            break;
        }
        let mut pick = rng.below(u64::from(total)) as u32;
        let kind = swarm
            .iter()
            .find(|(_, w)| {
                if pick < *w {
                    true
                } else {
                    pick -= w;
                    false
                }
            })
            .map(|(k, _)| *k)
            .expect("weights sum to total");
        faults.push(Fault { kind, steps: fault(kind, cfg, facts, &mut rng, &mut points, t, limits) });
    }
    let mut knobs = knobs;
    if allowed.contains(&FaultKind::Clock) {
        draw_clocks(cfg, seed, limits, &mut knobs, &mut faults);
    }
    draw_processes(cfg, allowed, seed, limits, &mut faults);
    Schedule { swarm, mean_gap_ms, knobs, faults }
}

/// The longest run whose clocks must stay within the bound: drift is drawn so that
/// it adds at most a quarter of a server's budget over this long (runs last 25-35
/// simulated minutes, see `Limits`).
const CLOCK_HORIZON_MS: i64 = 2 * 3_600_000;

/// Each server's share of the bound: two servers' clocks, each within this of the
/// true time, differ by less than `heartbeat_interval`, the skew baton tolerates
/// (`docs/scenarios.md` § Clocks).
fn clock_budget_ms(cfg: &Config) -> i64 {
    let interval_ms = i64::try_from(cfg.cluster.heartbeat_interval_ms).unwrap_or(i64::MAX);
    (interval_ms.saturating_sub(1) / 2).max(0)
}

/// Draws clock errors within the bound, for half the seeds: each server's offset
/// (within half its budget) and drift (at most a quarter over `CLOCK_HORIZON_MS`),
/// and for some servers one wall-clock step (at most a quarter, as NTP would step a
/// clock it found off). Offset, drift and step together stay within the budget, and
/// so does any subset of them (shrinking removes faults, never makes one bigger).
fn draw_clocks(cfg: &Config, seed: u64, limits: &Limits, knobs: &mut Knobs, faults: &mut Vec<Fault>) {
    let mut rng = Rng::new(seed.wrapping_mul(0x9FB2_1C65_1E98_DF25) ^ 0xC10C_C10C_C10C_C10C);
    if !rng.chance(50) {
        return;
    }
    let budget_ms = clock_budget_ms(cfg);
    let signed = |rng: &mut Rng, max: i64| -> i64 {
        let span = u64::try_from(max).unwrap_or(0).saturating_mul(2).saturating_add(1);
        i64::try_from(rng.below(span)).unwrap_or(0) - max
    };
    let max_drift_ppm = budget_ms / 4 * 1_000_000 / CLOCK_HORIZON_MS;
    for s in &cfg.servers {
        let offset_ms = signed(&mut rng, budget_ms / 2);
        let drift_ppm = signed(&mut rng, max_drift_ppm);
        if offset_ms != 0 || drift_ppm != 0 {
            knobs.clocks.insert(s.name.clone(), crate::scenario::ClockKnob { offset_ms, drift_ppm });
        }
    }
    for s in &cfg.servers {
        if rng.chance(50) {
            let span = limits.fault_window_end_ms.saturating_sub(limits.first_fault_ms).max(1);
            let t = (limits.first_fault_ms + rng.below(span)) / 100 * 100;
            let step_ms = signed(&mut rng, budget_ms / 4);
            if step_ms != 0 {
                faults.push(Fault {
                    kind: FaultKind::Clock,
                    steps: vec![(t, Stmt::Clock { server: s.name.clone(), step_ms })],
                });
            }
        }
    }
}

/// The processes a `kill-process` names: the simulator treats every one alike (B130 7
/// does not depend on which died), the names only vary the events' reasons.
const PROCESSES: &[&str] = &[crate::scenario::DEFAULT_PROCESS, "transport"];

/// Draws process deaths and shutdown stalls (B130 7, B130 6), for half the seeds, from
/// a stream of their own so that every other draw of a seed is what it was before
/// they existed (the failing-seed lists of earlier runs stay comparable). A death is
/// followed by a boot, like a crash; a stall only matters if a shutdown follows, so it
/// is drawn just before a drawn shutdown or death of the same server.
fn draw_processes(cfg: &Config, allowed: &[FaultKind], seed: u64, limits: &Limits, faults: &mut Vec<Fault>) {
    let kill = allowed.contains(&FaultKind::KillProcess);
    let hang = allowed.contains(&FaultKind::HangShutdown);
    let mut rng = Rng::new(seed.wrapping_mul(0xD6E8_FEB8_6659_FD93) ^ 0xB130_B130_B130_B130);
    if !(kill || hang) || !rng.chance(50) {
        return;
    }
    let servers: Vec<String> = cfg.servers.iter().map(|s| s.name.clone()).collect();
    // Where a server leaves by a shutdown already drawn: a stall there is reachable.
    let mut departures: Vec<(Ms, String)> = faults
        .iter()
        .filter(|f| f.kind == FaultKind::Shutdown)
        .filter_map(|f| f.steps.first())
        .filter_map(|(at, stmt)| shut_down_server(stmt).map(|s| (*at, s)))
        .collect();
    if kill {
        let span = limits.fault_window_end_ms.saturating_sub(limits.first_fault_ms).max(1);
        for _ in 0..1 + rng.below(3) {
            let t = (limits.first_fault_ms + rng.below(span)) / 100 * 100;
            let server = pick(&mut rng, &servers).clone();
            let process = pick(&mut rng, PROCESSES).to_string();
            let end = t.checked_add(duration(&mut rng, limits)).expect("fault end within u64");
            faults.push(Fault {
                kind: FaultKind::KillProcess,
                steps: vec![
                    (t, Stmt::KillProcess { server: server.clone(), process }),
                    (end, Stmt::Boot(Target::Server(server.clone()))),
                ],
            });
            departures.push((t, server));
        }
    }
    if hang {
        for (t, server) in departures {
            if rng.chance(40) {
                // 100 ms before, so that the stall is armed when the shutdown begins.
                let at = t.saturating_sub(100).max(limits.first_fault_ms.min(t));
                faults.push(Fault { kind: FaultKind::HangShutdown, steps: vec![(at, Stmt::HangShutdown { server })] });
            }
        }
    }
}

/// The server a drawn `Shutdown` fault's first statement shuts down.
fn shut_down_server(stmt: &Stmt) -> Option<String> {
    if let Stmt::Shutdown { server } = stmt {
        return Some(server.clone());
    }
    // `server shutdown S [--reboot]`, the other form `fault` draws.
    if let Stmt::Cmd { words, .. } = stmt {
        if words.len() >= 3 && words[0] == "server" && words[1] == "shutdown" {
            return Some(words[2].clone());
        }
    }
    None
}

fn pick<'a, T>(rng: &mut Rng, items: &'a [T]) -> &'a T {
    &items[rng.below(items.len() as u64) as usize]
}

/// How long a lasting fault lasts: mostly short, sometimes long.
fn duration(rng: &mut Rng, limits: &Limits) -> Ms {
    let d = [5_000, 15_000, 40_000, 90_000, 180_000, 240_000][rng.below(6) as usize];
    d.min(limits.max_fault_duration_ms)
}

/// The statements of one fault of `kind` starting at `t`.
fn fault(
    kind: FaultKind,
    cfg: &Config,
    facts: &ConfigFacts,
    rng: &mut Rng,
    points: &mut Rng,
    t: Ms,
    limits: &Limits,
) -> Vec<(Ms, Stmt)> {
    let name = |s: ServerId| cfg.server(s).name.clone();
    let servers: Vec<ServerId> = cfg.server_ids().collect();
    let server = |rng: &mut Rng| name(*pick(rng, &servers));
    let two = |rng: &mut Rng| {
        let a = *pick(rng, &servers);
        let others: Vec<ServerId> = servers.iter().copied().filter(|s| *s != a).collect();
        (name(a), name(*pick(rng, &others)))
    };
    let end = t + duration(rng, limits);
    let cmd = |words: &[&str]| Stmt::Cmd { on: None, words: words.iter().map(|w| w.to_string()).collect() };
    match kind {
        FaultKind::Crash => {
            let s = server(rng);
            // A third of the crashes are plain, the others wait at a crash point of the
            // server's next step with something to lose (the boot at `end` voids a point
            // not reached). Drawn from a stream of their own, so that every other draw
            // of a seed stays what it was before crash points existed.
            let crash = match points.below(3) {
                0 => Stmt::Crash { server: s.clone() },
                n => Stmt::CrashAt { server: s.clone(), point: CrashPoint::ALL[n as usize - 1] },
            };
            vec![(t, crash), (end, Stmt::Boot(Target::Server(s)))]
        }
        FaultKind::Shutdown => {
            let s = server(rng);
            let first = match rng.below(3) {
                0 => Stmt::Shutdown { server: s.clone() },
                1 => cmd(&["server", "shutdown", &s]),
                _ => cmd(&["server", "shutdown", &s, "--reboot"]),
            };
            vec![(t, first), (end, Stmt::Boot(Target::Server(s)))]
        }
        FaultKind::Partition => {
            // A random split with both sides non-empty, each side in server order.
            let mut order = servers.clone();
            for i in (1..order.len()).rev() {
                order.swap(i, rng.below(i as u64 + 1) as usize);
            }
            let k = 1 + rng.below(order.len() as u64 - 1) as usize;
            let mut left: Vec<ServerId> = order[..k].to_vec();
            let mut right: Vec<ServerId> = order[k..].to_vec();
            left.sort();
            right.sort();
            let left = left.into_iter().map(name).collect();
            let right = right.into_iter().map(name).collect();
            vec![(t, Stmt::Partition { left, right }), (end, Stmt::HealAll)]
        }
        FaultKind::Isolate => vec![(t, Stmt::Isolate { server: server(rng) }), (end, Stmt::HealAll)],
        FaultKind::OneWay => {
            let network = pick(rng, &facts.networks).clone();
            let (from, to) = two(rng);
            vec![
                (t, Stmt::CutOneWay { network: network.clone(), from: from.clone(), to: to.clone() }),
                (end, Stmt::HealOneWay { network, from, to }),
            ]
        }
        FaultKind::HbCut => {
            let network = pick(rng, &facts.networks).clone();
            if rng.chance(50) {
                let s = server(rng);
                vec![
                    (t, Stmt::Cut { network: network.clone(), server: s.clone() }),
                    (end, Stmt::Heal { network, server: s }),
                ]
            } else {
                let (a, b) = two(rng);
                vec![
                    (t, Stmt::CutPair { network: network.clone(), a: a.clone(), b: b.clone() }),
                    (end, Stmt::HealPair { network, a, b }),
                ]
            }
        }
        FaultKind::Loss => {
            let network = pick(rng, &facts.networks).clone();
            let percent = *pick(rng, &[5u8, 20, 50, 80, 100]);
            vec![(t, Stmt::Loss { network: network.clone(), percent }), (end, Stmt::Loss { network, percent: 0 })]
        }
        FaultKind::Target => {
            let address = pick(rng, &facts.targets).clone();
            let from = rng.chance(50).then(|| server(rng));
            vec![
                (t, Stmt::Target { address: address.clone(), state: TargetState::Down, from: from.clone() }),
                (end, Stmt::Target { address, state: TargetState::Up, from }),
            ]
        }
        FaultKind::DiskFail | FaultKind::DiskSlow => {
            let (device, users) = pick(rng, &facts.devices).clone();
            let s = name(*pick(rng, &users));
            let action = if kind == FaultKind::DiskSlow {
                DiskAction::Slow { duration_ms: *pick(rng, &[50, 2_000, 20_000, 90_000]) }
            } else if rng.chance(20) {
                DiskAction::Replace
            } else {
                DiskAction::Fail
            };
            let first = (t, Stmt::Disk { device: device.clone(), action, server: s.clone() });
            match action {
                DiskAction::Replace => vec![first],
                DiskAction::Fail | DiskAction::Slow { .. } | DiskAction::Heal => {
                    vec![first, (end, Stmt::Disk { device, action: DiskAction::Heal, server: s })]
                }
            }
        }
        FaultKind::Activation | FaultKind::Deactivation => {
            let (resource, policy) = pick(rng, &facts.resources).clone();
            let s = name(*pick(rng, &policy));
            // Always a bounded count: an injected failure cannot be healed, and one
            // that fails forever would only prove the same offline group every time.
            let times = Some(1 + rng.below(2) as u32);
            let stmt = if kind == FaultKind::Activation {
                Stmt::FailActivation { resource, server: s, times }
            } else {
                Stmt::FailDeactivation { resource, server: s, times }
            };
            vec![(t, stmt)]
        }
        FaultKind::Monitor => {
            let (monitor, on) = pick(rng, &facts.monitors).clone();
            let s = name(*pick(rng, &on));
            vec![
                (t, Stmt::Monitor { monitor: monitor.clone(), health: MonitorHealth::Fail, server: s.clone() }),
                (end, Stmt::Monitor { monitor, health: MonitorHealth::Ok, server: s }),
            ]
        }
        FaultKind::Stall => {
            let limit = cfg.cluster.heartbeat_timeout_ms;
            let d = *pick(rng, &[2_000, limit / 2, limit.saturating_sub(1_000).max(1_000), limit + 5_000]);
            vec![(t, Stmt::Stall { server: server(rng), duration_ms: d })]
        }
        FaultKind::Serial => vec![(t, Stmt::Serial(SerialAction::Fail)), (end, Stmt::Serial(SerialAction::Heal))],
        FaultKind::Write => {
            let resource = pick(rng, &facts.writable).clone();
            let bytes = *pick(rng, &[4_000u64, 1_000_000, 50_000_000]);
            vec![(t, Stmt::Write { resource, bytes })]
        }
        FaultKind::GroupCmd => {
            let g = &cfg.groups[rng.below(cfg.groups.len() as u64) as usize];
            let other = name(*pick(rng, &g.policy));
            let words: Vec<&str> = match rng.below(5) {
                0 => vec!["group", "move", &g.name],
                1 => vec!["group", "move", &g.name, "--to", &other],
                2 => vec!["group", "start", &g.name],
                3 => vec!["group", "start", &g.name, "--on", &other],
                _ => vec!["group", "stop", &g.name],
            };
            vec![(t, cmd(&words))]
        }
        FaultKind::Return => vec![(t, cmd(&["server", "return", &server(rng)]))],
        FaultKind::MonitorCmd => {
            let (m, _) = pick(rng, &facts.monitors).clone();
            vec![(t, cmd(&["monitor", "suspend", &m])), (end, cmd(&["monitor", "resume", &m]))]
        }
        FaultKind::Clock => {
            // Not drawn here (see `draw_clocks`); a step within the bound all the same.
            let step_ms = i64::try_from(rng.below(1 + clock_budget_ms(cfg).unsigned_abs() / 4)).unwrap_or(0);
            vec![(t, Stmt::Clock { server: server(rng), step_ms })]
        }
        FaultKind::KillProcess => {
            // Not drawn here (see `draw_processes`).
            let s = server(rng);
            vec![
                (t, Stmt::KillProcess { server: s.clone(), process: crate::scenario::DEFAULT_PROCESS.to_string() }),
                (end, Stmt::Boot(Target::Server(s))),
            ]
        }
        FaultKind::HangShutdown => {
            // Not drawn here (see `draw_processes`): armed just before a shutdown.
            let s = server(rng);
            vec![
                (t, Stmt::HangShutdown { server: s.clone() }),
                (t.checked_add(100).expect("instant overflow"), Stmt::Shutdown { server: s.clone() }),
                (end, Stmt::Boot(Target::Server(s))),
            ]
        }
        FaultKind::Suspend => {
            let first =
                if rng.chance(50) { cmd(&["cluster", "suspend"]) } else { cmd(&["cluster", "suspend", "--force"]) };
            vec![(t, first), (end, cmd(&["cluster", "resume"]))]
        }
    }
}
