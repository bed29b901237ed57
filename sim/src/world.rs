//! The simulated world around the nodes: machines (power, service, local disk),
//! networks (cuts, one-way blocks, loss), ping/http targets, the serial cable, disks
//! (failed or slow per server), which server physically holds each resource, mirror
//! data, injected failures, and the seeded random source.
//!
//! In: happenings (from `happen`) and the physical effects of actions (from
//! `actions`). Out: facts the engine asks about: can a packet go from A to B on this
//! network, does a target answer this server, what is this device's state.

use baton_core::config::{Config, HeartbeatKind, Ms, NpKind, ResId, ServerId, TargetOwner};
use baton_core::io::Persisted;
use baton_core::Node;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// A deterministic random source (SplitMix64): the only randomness of a run.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u8) -> bool {
        percent > 0 && self.next_u64() % 100 < u64::from(percent)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
}

/// How a machine is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Power {
    Off,
    /// Powered on, booting; the service starts at the instant given.
    Booting,
    On,
}

/// One machine.
pub struct Machine {
    pub power: Power,
    /// The cluster service, while it runs.
    pub node: Option<Node>,
    /// Bumped at every power change and service start: events of an older epoch are void.
    pub epoch: u64,
    /// The local disk: what the node persisted.
    pub disk: Option<Persisted>,
    /// Frozen until this instant (user-space stall, B19); inputs wait in `stall_queue`.
    pub stalled_until: Option<Ms>,
    /// When the current freeze began: back-to-back stalls are one freeze for the
    /// watchdog (B87), which times it from its start.
    pub stalled_since: Option<Ms>,
    /// When the service last kicked its watchdog (handled a heartbeat tick, B87), in
    /// simulated time: the watchdog times a freeze from here, not from the freeze's
    /// start, since peers time their heartbeat timeout from the last heartbeat sent.
    pub watchdog_kick_ms: Option<Ms>,
    pub stall_queue: VecDeque<baton_core::Input>,
    /// A crash point armed by `crash SERVER POINT`: the power goes at that point of the
    /// next step with something to persist or an act that leaves the server.
    pub crash_point: Option<crate::scenario::CrashPoint>,
    /// The machine's clock: what time its service sees (`crate::clock`).
    pub clock: crate::clock::MachineClock,
}

/// Link state of one network.
#[derive(Clone, Debug, Default)]
pub struct Net {
    /// Servers whose link to this network is down.
    pub down: BTreeSet<ServerId>,
    /// Directed (from, to) pairs whose traffic is lost.
    pub blocked: BTreeSet<(ServerId, ServerId)>,
    pub loss_percent: u8,
}

/// A mirror's two copies, as bytes would be.
#[derive(Clone, Debug, Default)]
pub struct MirrorData {
    /// Content fingerprint of each side.
    pub content: [u64; 2],
    /// Bytes written on each side since its copies last matched.
    pub dirty: [u64; 2],
    /// The side holding the newest acknowledged write, if the copies differ.
    pub newest: Option<u8>,
    /// An operator forced a side (invariant 2 then accepts it).
    pub forced: Option<u8>,
    /// async mode: bytes acknowledged on `async_from` but not yet sent, sent by `async_done_ms`.
    pub unsent: u64,
    pub async_from: u8,
    pub async_done_ms: Ms,
    /// async mode: bytes lost when the sending side failed, reported at the next activation.
    pub lost_unsent: Option<u64>,
}

impl MirrorData {
    /// async mode: what has been sent by `now` has reached the other side.
    pub fn settle(&mut self, now: Ms) {
        if self.unsent > 0 && now >= self.async_done_ms {
            let i = self.async_from as usize;
            self.content[1 - i] = self.content[i];
            self.unsent = 0;
        }
    }
}

/// The whole world.
pub struct World {
    pub cfg: std::sync::Arc<Config>,
    pub machines: Vec<Machine>,
    /// Networks by name (every network of `server.addresses`).
    pub nets: BTreeMap<String, Net>,
    /// Servers whose next OS shutdown or reboot stalls (`hang-shutdown`, B130 6).
    pub shutdown_hangs: BTreeSet<ServerId>,
    /// Servers cut off from everything (isolate).
    pub isolated: BTreeSet<ServerId>,
    /// The network each target of each resolver and monitor is reached over
    /// (`Config::target_routes`); absent or `None`: unbound, on no network.
    pub target_nets: BTreeMap<(TargetOwner, String), Option<String>>,
    /// Targets down everywhere, and as seen from a server.
    pub targets_down: BTreeSet<String>,
    pub targets_down_from: BTreeSet<(String, ServerId)>,
    /// Serial cable: failed, or split between these server pairs.
    pub serial_failed: bool,
    pub serial_cut: BTreeSet<(ServerId, ServerId)>,
    /// Failed and slow devices per server.
    pub disk_failed: BTreeSet<(String, ServerId)>,
    pub disk_slow_ms: BTreeMap<(String, ServerId), Ms>,
    /// Disk-np slot counters per (device, server).
    pub slots: BTreeMap<(String, ServerId), u64>,
    /// Servers physically holding each resource (address up, disk mounted, …).
    pub active: BTreeMap<ResId, BTreeSet<ServerId>>,
    pub mirrors: BTreeMap<ResId, MirrorData>,
    /// Injected failures: remaining count (None = every time) per (resource, server).
    pub fail_activation: BTreeMap<(ResId, ServerId), Option<u32>>,
    pub fail_deactivation: BTreeMap<(ResId, ServerId), Option<u32>>,
    /// Monitors made unhealthy per server.
    pub monitor_failing: BTreeSet<(baton_core::config::MonId, ServerId)>,
    pub rng: Rng,
}

impl World {
    pub fn new(cfg: std::sync::Arc<Config>, seed: u64) -> World {
        let mut nets = BTreeMap::new();
        for s in &cfg.servers {
            for n in s.addresses.keys() {
                nets.entry(n.clone()).or_insert_with(Net::default);
            }
        }
        let machines = cfg
            .servers
            .iter()
            .map(|_| Machine {
                power: Power::Off,
                node: None,
                epoch: 0,
                disk: None,
                stalled_until: None,
                stalled_since: None,
                watchdog_kick_ms: None,
                stall_queue: VecDeque::new(),
                crash_point: None,
                clock: crate::clock::MachineClock::default(),
            })
            .collect();
        let mirrors = cfg.mirror_ids().map(|r| (r, MirrorData::default())).collect();
        let target_nets = cfg.target_routes().into_iter().map(|r| ((r.owner, r.target), r.network)).collect();
        World {
            cfg,
            machines,
            nets,
            shutdown_hangs: BTreeSet::new(),
            isolated: BTreeSet::new(),
            target_nets,
            targets_down: BTreeSet::new(),
            targets_down_from: BTreeSet::new(),
            serial_failed: false,
            serial_cut: BTreeSet::new(),
            disk_failed: BTreeSet::new(),
            disk_slow_ms: BTreeMap::new(),
            slots: BTreeMap::new(),
            active: BTreeMap::new(),
            mirrors,
            fail_activation: BTreeMap::new(),
            fail_deactivation: BTreeMap::new(),
            monitor_failing: BTreeSet::new(),
            rng: Rng::new(seed),
        }
    }

    /// Whether the service of `s` runs (and is not frozen).
    pub fn service_running(&self, s: ServerId) -> bool {
        self.machines[s.idx()].node.as_ref().is_some_and(|n| !n.is_gone())
    }

    /// Whether a packet can go from `a` to `b` on `network` right now.
    pub fn link_up(&self, network: &str, a: ServerId, b: ServerId) -> bool {
        if self.isolated.contains(&a) || self.isolated.contains(&b) {
            return false;
        }
        match self.nets.get(network) {
            Some(n) => !n.down.contains(&a) && !n.down.contains(&b) && !n.blocked.contains(&(a, b)),
            None => false,
        }
    }

    /// Whether heartbeat path `path` carries packets from `a` to `b`.
    pub fn path_up(&self, path: usize, a: ServerId, b: ServerId) -> bool {
        match &self.cfg.heartbeats[path].kind {
            HeartbeatKind::Lan { network } => self.link_up(network, a, b),
            HeartbeatKind::Disk { device } => {
                !self.disk_failed.contains(&(device.clone(), a)) && !self.disk_failed.contains(&(device.clone(), b))
            }
        }
    }

    /// Random loss on the path's network for one heartbeat.
    pub fn lose_packet(&mut self, path: usize) -> bool {
        let percent = match &self.cfg.heartbeats[path].kind {
            HeartbeatKind::Lan { network } => self.nets.get(network).map_or(0, |n| n.loss_percent),
            HeartbeatKind::Disk { .. } => 0,
        };
        percent > 0 && self.rng.chance(percent)
    }

    /// The lan path with the lowest priority that carries a message from `a` to `b` (B12).
    pub fn message_path(&self, a: ServerId, b: ServerId) -> Option<usize> {
        let mut paths: Vec<(u32, usize)> = self
            .cfg
            .heartbeats
            .iter()
            .enumerate()
            .filter(|(_, h)| {
                matches!(h.kind, HeartbeatKind::Lan { .. }) && h.servers.contains(&a) && h.servers.contains(&b)
            })
            .map(|(i, h)| (h.priority, i))
            .collect();
        paths.sort();
        paths.into_iter().map(|(_, i)| i).find(|i| self.path_up(*i, a, b))
    }

    /// Whether target `address` of `owner` answers one probe from server `s` (ping or
    /// http). Targets sit on the switch of their network, outside every server: a
    /// `cut` of `s`'s link to that network or `isolate s` silences them for `s`, the
    /// network's `loss` drops the probe at its rate (drawn from the seed), and a
    /// `partition` (which splits server pairs) leaves them reachable from both sides
    /// (scenario.md). An unbound target (on no network) only follows `isolate` and
    /// `target … down`.
    pub fn target_answers(&mut self, owner: TargetOwner, address: &str, s: ServerId) -> bool {
        if self.isolated.contains(&s)
            || self.targets_down.contains(address)
            || self.targets_down_from.contains(&(address.to_string(), s))
        {
            return false;
        }
        let network = self.target_nets.get(&(owner, address.to_string())).cloned().flatten();
        let Some(net) = network.and_then(|n| self.nets.get(&n)) else { return true };
        if net.down.contains(&s) {
            return false;
        }
        let percent = net.loss_percent;
        !(percent > 0 && self.rng.chance(percent))
    }

    /// Whether the serial cable carries traffic between `a` and `b`.
    pub fn serial_up(&self, a: ServerId, b: ServerId) -> bool {
        !self.serial_failed
            && !self.isolated.contains(&a)
            && !self.isolated.contains(&b)
            && !self.serial_cut.contains(&(a, b))
            && !self.serial_cut.contains(&(b, a))
    }

    pub fn device_failed(&self, device: &str, s: ServerId) -> bool {
        self.disk_failed.contains(&(device.to_string(), s))
    }

    /// I/O duration on a device for server `s`.
    pub fn io_ms(&self, device: &str, s: ServerId, latency_ms: Ms) -> Ms {
        self.disk_slow_ms.get(&(device.to_string(), s)).copied().unwrap_or(latency_ms)
    }

    /// The peer of `s` in a serial resolver.
    pub fn serial_peer(&self, np: usize, s: ServerId) -> Option<ServerId> {
        match self.cfg.nps[np].kind {
            NpKind::Serial { .. } => self.cfg.nps[np].servers.iter().copied().find(|p| *p != s),
            NpKind::Ping { .. } | NpKind::Http { .. } | NpKind::Disk { .. } | NpKind::Majority => None,
        }
    }

    /// Whether the mirror connect between the sides of `res` carries traffic.
    pub fn mirror_connected(&self, res: ResId) -> bool {
        let m = self.cfg.resource(res).kind.mirror().expect("mirror");
        m.sides[0].servers.iter().any(|a| {
            m.sides[1].servers.iter().any(|b| {
                self.service_running(*a)
                    && self.service_running(*b)
                    && m.networks.iter().any(|n| self.link_up(n, *a, *b) && self.link_up(n, *b, *a))
            })
        })
    }

    /// The side of `res` that `s` belongs to.
    pub fn mirror_side(&self, res: ResId, s: ServerId) -> Option<u8> {
        let m = self.cfg.resource(res).kind.mirror()?;
        m.sides.iter().position(|side| side.servers.contains(&s)).map(|i| i as u8)
    }

    /// Releases every resource `s` holds (power loss, emergency action). In async mode,
    /// what the mirror had not yet sent from `s` is lost (B101).
    pub fn release_all(&mut self, s: ServerId, now: Ms) {
        for (res, d) in self.mirrors.iter_mut() {
            d.settle(now);
            let held = self.active.get(res).is_some_and(|h| h.contains(&s));
            if held && d.unsent > 0 {
                d.lost_unsent = Some(d.unsent);
                d.unsent = 0;
                // The loss is the documented price of async mode: not a stale activation.
                d.newest = None;
            }
        }
        for holders in self.active.values_mut() {
            holders.remove(&s);
        }
    }

    /// Takes one injected failure, if any applies.
    pub fn take_failure(map: &mut BTreeMap<(ResId, ServerId), Option<u32>>, key: (ResId, ServerId)) -> bool {
        match map.get_mut(&key) {
            None => false,
            Some(None) => true,
            Some(Some(n)) => {
                *n -= 1;
                if *n == 0 {
                    map.remove(&key);
                }
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_core::config::MonId;

    fn world() -> World {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/configs/2node-ping.toml");
        let text = std::fs::read_to_string(path).unwrap();
        let cfg = baton_core::config::parse("2node-ping.toml", &text).unwrap().config;
        World::new(std::sync::Arc::new(cfg), 7)
    }

    /// Targets follow their network's cuts and loss, not pair cuts (issue 9 §3).
    #[test]
    fn targets_follow_their_network() {
        let mut w = world();
        let (s1, s2) = (ServerId(0), ServerId(1));
        let np = TargetOwner::Np(0);
        let ipw = TargetOwner::Monitor(MonId(0));
        assert!(w.target_answers(np, "10.0.0.254", s1));
        // A pair cut (what a partition does) leaves the switch reachable.
        w.nets.get_mut("public").unwrap().blocked.insert((s1, s2));
        assert!(w.target_answers(np, "10.0.0.254", s1));
        // A cut of the link on another network does nothing; on the target's, it silences.
        w.nets.get_mut("lan1").unwrap().down.insert(s1);
        assert!(w.target_answers(ipw, "10.0.0.253", s1));
        w.nets.get_mut("public").unwrap().down.insert(s1);
        assert!(!w.target_answers(ipw, "10.0.0.253", s1));
        assert!(!w.target_answers(np, "10.0.0.254", s1));
        assert!(w.target_answers(np, "10.0.0.254", s2));
        // Loss drops probes at its rate: 100 % every one, 50 % some but not all.
        w.nets.get_mut("public").unwrap().loss_percent = 100;
        assert!(!w.target_answers(np, "10.0.0.254", s2));
        w.nets.get_mut("public").unwrap().loss_percent = 50;
        let answered = (0..200).filter(|_| w.target_answers(np, "10.0.0.254", s2)).count();
        assert!((50..150).contains(&answered), "{answered}");
    }
}
