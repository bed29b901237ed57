//! Drawing a cluster configuration from a seed (`baton sim explore --generate`),
//! swarm style: the seed first draws which features are on (server groups, a shared
//! disk, more networks, mirrors, monitors, start dependencies, …), then a
//! configuration using only those, so that both two-server clusters with one exec
//! resource and six-server clusters with hybrid disks and ten monitors appear.
//!
//! In: a seed. Out: a [`Spec`] (see `gen_spec.rs`) that renders to a cluster file the
//! checker accepts (`tests` checks thousands of seeds); [`generate`] also returns
//! the parsed [`Config`]. The draw honours `config.md` and B131: mirror groups run
//! on exactly the mirror's two servers, hybrid groups on exactly its two server
//! groups, no `failback = "auto"` with a mirror, resolver units only in the B33
//! combinations (ping, http, majority on 3+ servers, disk, serial on 2 servers,
//! ping+disk, serial+disk, or none without a disk resource), resolver probes shorter
//! than the heartbeat timeout, final actions only where allowed.

use super::gen_spec::{Combo, GroupSpec, HbSpec, Ladder, MonKind, MonSpec, Policy, ResKind, ResSpec, Spec, UnitSpec};
use crate::world::Rng;
use baton_core::config::Config;

/// The features a seed enables.
#[derive(Clone, Copy, Debug, Default)]
struct Swarm {
    server_groups: bool,
    shared_disk: bool,
    more_networks: bool,
    disk_heartbeat: bool,
    second_unit: bool,
    mirrors: bool,
    many_groups: bool,
    group_options: bool,
    ladders: bool,
    monitors: bool,
    short_timing: bool,
    cluster_options: bool,
}

fn pick<'a, T>(rng: &mut Rng, items: &'a [T]) -> &'a T {
    &items[rng.below(items.len() as u64) as usize]
}

/// One of a list of file words.
fn word(rng: &mut Rng, items: &[&'static str]) -> &'static str {
    items[rng.below(items.len() as u64) as usize]
}

fn shuffled<T: Clone>(rng: &mut Rng, items: &[T]) -> Vec<T> {
    let mut v = items.to_vec();
    for i in (1..v.len()).rev() {
        v.swap(i, rng.below(i as u64 + 1) as usize);
    }
    v
}

/// A random non-empty ordered subset of at least `min` items (all of them when fewer).
fn subset(rng: &mut Rng, items: &[String], min: usize) -> Vec<String> {
    let order = shuffled(rng, items);
    let min = min.clamp(1, items.len().max(1));
    let k = min + rng.below((items.len() - min + 1) as u64) as usize;
    order[..k.min(order.len())].to_vec()
}

/// The seed's RNG, a stream distinct from the schedule's and the world's.
fn rng_of(seed: u64) -> Rng {
    Rng::new(seed.wrapping_mul(0xD1B5_4A32_D192_ED03) ^ 0xC0F1_6E4E_7A7E_D5EE)
}

/// Draws the configuration of `seed`.
pub fn draw_spec(seed: u64) -> Spec {
    let mut rng = rng_of(seed);
    let mut sw = Swarm::default();
    for f in [
        &mut sw.server_groups,
        &mut sw.shared_disk,
        &mut sw.more_networks,
        &mut sw.disk_heartbeat,
        &mut sw.second_unit,
        &mut sw.mirrors,
        &mut sw.many_groups,
        &mut sw.group_options,
        &mut sw.ladders,
        &mut sw.monitors,
        &mut sw.short_timing,
        &mut sw.cluster_options,
    ] {
        *f = rng.chance(50);
    }
    let n = *pick(&mut rng, &[2usize, 2, 2, 3, 3, 4, 5, 6]);
    let servers: Vec<String> = (1..=n).map(|i| format!("server{i}")).collect();
    let mut networks = vec!["lan1".to_string()];
    if sw.more_networks {
        networks.push("public".into());
        if rng.chance(40) {
            networks.push("lan2".into());
        }
    }
    let (heartbeat_interval_ms, heartbeat_timeout_ms) = if sw.short_timing {
        *pick(&mut rng, &[(500, 2_500), (1_000, 3_000), (1_000, 5_000), (2_000, 10_000)])
    } else {
        *pick(&mut rng, &[(3_000, 30_000), (3_000, 15_000), (5_000, 30_000), (1_000, 20_000)])
    };
    let mut spec = Spec {
        name: format!("gen{seed}"),
        heartbeat_interval_ms,
        heartbeat_timeout_ms,
        sync_wait_ms: *pick(&mut rng, &[10_000, 60_000, 300_000]),
        auto_return: sw.cluster_options && rng.chance(50),
        count_scope_cluster: sw.cluster_options && rng.chance(50),
        np_action: if sw.cluster_options {
            word(&mut rng, &["emergency-shutdown", "emergency-reboot", "stop-service", "panic"])
        } else {
            "emergency-shutdown"
        },
        counter_reset_ms: (sw.cluster_options && rng.chance(50)).then(|| *pick(&mut rng, &[600_000, 3_600_000])),
        servers: servers.clone(),
        networks: networks.clone(),
        server_groups: Vec::new(),
        shared: Vec::new(),
        heartbeats: Vec::new(),
        units: Vec::new(),
        groups: Vec::new(),
        monitors: Vec::new(),
    };
    if sw.server_groups {
        // Two disjoint server groups, each in a random priority order.
        let order = shuffled(&mut rng, &servers);
        let k = 1 + rng.below(n as u64 - 1) as usize;
        spec.server_groups = vec![("svg1".into(), order[..k].to_vec()), ("svg2".into(), order[k..].to_vec())];
    }
    if sw.shared_disk {
        // The shared disk: the first server group when it has two servers, else a random
        // set of at least two servers.
        spec.shared = match spec.server_groups.first() {
            Some((_, s)) if s.len() >= 2 => s.clone(),
            Some(_) | None => subset(&mut rng, &servers, 2),
        };
    }
    for net in &networks {
        if net == "lan1" || rng.chance(80) {
            spec.heartbeats.push((net.clone(), HbSpec::Lan { network: net.clone() }));
        }
    }
    if sw.disk_heartbeat && !spec.shared.is_empty() {
        spec.heartbeats
            .push(("diskhb".into(), HbSpec::Disk { device: "/dev/sdh1".into(), servers: spec.shared.clone() }));
    }
    draw_units(&mut rng, &mut spec, sw);
    draw_groups(&mut rng, &mut spec, sw);
    if sw.monitors {
        draw_monitors(&mut rng, &mut spec);
    }
    spec
}

/// Resolver units in the B33 combinations. A second unit gets a different server
/// set, so that the two never merge into a combination B33 does not name.
fn draw_units(rng: &mut Rng, spec: &mut Spec, sw: Swarm) {
    let n = spec.servers.len();
    let shared = spec.shared.clone();
    let usable = |c: Combo, set: &[String]| match c {
        Combo::Ping | Combo::Http => true,
        Combo::Majority => set.len() >= 3,
        Combo::Disk | Combo::PingDisk => set.len() >= 2 && set.iter().all(|s| shared.contains(s)),
        Combo::Serial => set.len() == 2,
        Combo::SerialDisk => set.len() == 2 && set.iter().all(|s| shared.contains(s)),
    };
    // Candidate server sets: everyone, the shared-disk servers, a pair.
    let mut sets: Vec<Option<Vec<String>>> = vec![None];
    if !shared.is_empty() && shared.len() < n {
        sets.push(Some(shared.clone()));
    }
    if n > 2 {
        let pair: Vec<String> = if shared.len() >= 2 { shared[..2].to_vec() } else { subset(rng, &spec.servers, 2) };
        let mut pair = pair[..2].to_vec();
        pair.sort_by_key(|s| spec.servers.iter().position(|x| x == s));
        sets.push(Some(pair));
    }
    // About one seed in eight runs without resolution (B43), unless disks need one.
    let wanted = if rng.chance(12) {
        0
    } else if sw.second_unit {
        2
    } else {
        1
    };
    let mut taken: Vec<Option<Vec<String>>> = Vec::new();
    for _ in 0..wanted {
        let mut options: Vec<(Combo, Option<Vec<String>>)> = Vec::new();
        for set in sets.iter().filter(|s| !taken.contains(s)) {
            let members = set.clone().unwrap_or_else(|| spec.servers.clone());
            for c in Combo::ALL {
                if usable(c, &members) {
                    options.push((c, set.clone()));
                }
            }
        }
        if options.is_empty() {
            break;
        }
        let (combo, servers) = pick(rng, &options).clone();
        taken.push(servers.clone());
        // B131 4: interval + timeout must stay below heartbeat_timeout (5 s + 5 s by default).
        let probe_ms = (spec.heartbeat_timeout_ms <= 10_000).then(|| (spec.heartbeat_timeout_ms / 4).max(100));
        let io_wait_ms = matches!(combo, Combo::Disk | Combo::PingDisk | Combo::SerialDisk)
            .then(|| *pick(rng, &[5_000, 20_000, 80_000]));
        spec.units.push(UnitSpec { combo, servers, probe_ms, io_wait_ms });
    }
}

const ACTIVATION_FINAL: &[&str] = &[
    "none",
    "none",
    "ignore",
    "stop-group",
    "stop-service",
    "stop-service-and-shutdown",
    "stop-service-and-reboot",
    "emergency-shutdown",
    "emergency-reboot",
    "panic",
];
const DEACTIVATION_FINAL: &[&str] = &[
    "none",
    "stop-service-and-shutdown",
    "stop-service-and-reboot",
    "emergency-shutdown",
    "emergency-reboot",
    "panic",
];
const MONITOR_FINAL: &[&str] = &[
    "none",
    "none",
    "stop-group",
    "stop-service",
    "stop-service-and-shutdown",
    "stop-service-and-reboot",
    "emergency-shutdown",
    "emergency-reboot",
    "panic",
];

/// What a group stores, which fixes its policy.
#[derive(Clone, Copy, PartialEq)]
enum Storage {
    None,
    Disk,
    Mirror,
    Hybrid,
}

fn draw_groups(rng: &mut Rng, spec: &mut Spec, sw: Swarm) {
    let count = if sw.many_groups { 2 + rng.below(3) as usize } else { 1 };
    let mut mirrors = 0usize;
    let mut fips = 0usize;
    let has_np = !spec.units.is_empty();
    for gi in 0..count {
        let mut storages = vec![Storage::None, Storage::None];
        if spec.shared.len() >= 2 && has_np {
            storages.push(Storage::Disk);
        }
        if sw.mirrors && mirrors < 8 {
            storages.extend([Storage::Mirror, Storage::Mirror]);
            if spec.server_groups.len() == 2 {
                storages.extend([Storage::Hybrid, Storage::Hybrid]);
            }
        }
        let storage = *pick(rng, &storages);
        let name = format!("g{}", gi + 1);
        let policy = match storage {
            Storage::Disk => Policy::Servers(subset(rng, &spec.shared, 1)),
            Storage::Mirror => Policy::Servers(subset(rng, &spec.servers, 2)[..2].to_vec()),
            Storage::Hybrid => {
                let names: Vec<String> = spec.server_groups.iter().map(|(n, _)| n.clone()).collect();
                Policy::ServerGroups(shuffled(rng, &names))
            }
            Storage::None => match rng.below(4) {
                0 => Policy::All,
                1 if !spec.server_groups.is_empty() => {
                    let names: Vec<String> = spec.server_groups.iter().map(|(n, _)| n.clone()).collect();
                    Policy::ServerGroups(subset(rng, &names, 1))
                }
                _ => Policy::Servers(subset(rng, &spec.servers, 1)),
            },
        };
        let opts = sw.group_options;
        let earlier: Vec<String> = spec.groups.iter().map(|g| g.name.clone()).collect();
        let start_after = if opts && !earlier.is_empty() && rng.chance(40) {
            let mut s = subset(rng, &earlier, 1);
            s.truncate(2);
            s
        } else {
            Vec::new()
        };
        let mut g = GroupSpec {
            name: name.clone(),
            policy,
            startup_manual: opts && rng.chance(15),
            failover_manual: opts && rng.chance(20),
            failback_auto: opts && matches!(storage, Storage::None | Storage::Disk) && rng.chance(30),
            stable: opts && rng.chance(30),
            exclusive: opts && rng.chance(30),
            start_after,
            resources: Vec::new(),
        };
        let mut kinds: Vec<&str> = Vec::new();
        match storage {
            Storage::None => {}
            Storage::Disk => kinds.push("disk"),
            Storage::Mirror | Storage::Hybrid => kinds.push("mirror"),
        }
        let extra = rng.below(if sw.many_groups { 3 } else { 5 }) as usize;
        for _ in 0..=extra {
            let mut k = *pick(rng, &["exec", "exec", "floating-ip", "virtual-ip", "service"]);
            if k == "floating-ip" && fips >= 60 {
                k = "exec";
            }
            kinds.push(k);
        }
        if storage != Storage::None && rng.chance(25) && mirrors + 1 < 8 {
            kinds.push(if storage == Storage::Disk { "disk" } else { "mirror" });
        }
        for (ri, k) in kinds.into_iter().enumerate() {
            let rname = format!("{name}r{}", ri + 1);
            let kind = match k {
                "disk" => ResKind::Disk { device: format!("/dev/sdd{}{}", gi + 1, ri + 1) },
                "mirror" => {
                    mirrors += 1;
                    let (hybrid, sides) = match &g.policy {
                        Policy::ServerGroups(s) if storage == Storage::Hybrid => (true, s.clone()),
                        Policy::Servers(s) => (false, s.clone()),
                        Policy::ServerGroups(_) | Policy::All => (false, spec.servers[..2].to_vec()),
                    };
                    let device = format!("/dev/vd{}", (b'a' + mirrors as u8) as char);
                    let mut networks = vec![pick(rng, &spec.networks).clone()];
                    if spec.networks.len() > 1 && rng.chance(30) {
                        let other = spec.networks.iter().find(|n| **n != networks[0]).cloned();
                        networks.extend(other);
                    }
                    ResKind::Mirror { hybrid, sides, device, metadata: rng.chance(60), networks, sync: rng.chance(60) }
                }
                "floating-ip" => {
                    fips += 1;
                    let subnet = if spec.networks.iter().any(|n| n == "public") { "10.0.0" } else { "192.168.0" };
                    ResKind::FloatingIp { address: format!("{subnet}.{}/24", 100 + fips) }
                }
                "virtual-ip" => ResKind::VirtualIp { address: format!("172.16.{}.{}", gi + 1, ri + 1) },
                "service" => ResKind::Service,
                _ => ResKind::Exec,
            };
            let ladders = sw.ladders;
            let activation = (ladders && rng.chance(60)).then(|| Ladder {
                retries: rng.below(3) as u32,
                failovers: Some(rng.below(3) as u32),
                final_action: word(rng, ACTIVATION_FINAL),
            });
            let deactivation = (ladders && rng.chance(50)).then(|| Ladder {
                retries: rng.below(3) as u32,
                failovers: None,
                final_action: word(rng, DEACTIVATION_FINAL),
            });
            // Explicit dependencies only on earlier resources of the same or a lower
            // default level: an earlier resource of a higher level depends on this one
            // by default, and naming it would form a cycle (B131 8).
            let before: Vec<String> =
                g.resources.iter().filter(|r| level(&r.kind) <= level(&kind)).map(|r| r.name.clone()).collect();
            let depends_on = (ladders && !before.is_empty() && rng.chance(30)).then(|| {
                let mut d = subset(rng, &before, 1);
                d.truncate(2);
                d
            });
            // Never below the longest activation time a schedule draws (10 s): a resource
            // whose every activation times out only proves an endless reboot or final
            // action loop, the same in every seed.
            let timeout_ms = (ladders && rng.chance(40)).then(|| *pick(rng, &[15_000, 20_000, 60_000, 180_000]));
            g.resources.push(ResSpec { name: rname, kind, depends_on, activation, deactivation, timeout_ms });
        }
        spec.groups.push(g);
    }
}

/// The default activation level of a kind (`config.md`, `depends_on`).
fn level(k: &ResKind) -> u8 {
    match k {
        ResKind::FloatingIp { .. } | ResKind::VirtualIp { .. } => 0,
        ResKind::Disk { .. } | ResKind::Mirror { .. } => 1,
        ResKind::Exec | ResKind::Service => 2,
    }
}

fn draw_monitors(rng: &mut Rng, spec: &mut Spec) {
    let resources: Vec<(String, ResKind)> =
        spec.groups.iter().flat_map(|g| g.resources.iter().map(|r| (r.name.clone(), r.kind.clone()))).collect();
    let names = |f: fn(&ResKind) -> bool| -> Vec<String> {
        resources.iter().filter(|(_, k)| f(k)).map(|(n, _)| n.clone()).collect()
    };
    let fips = names(|k| matches!(k, ResKind::FloatingIp { .. }));
    let mirrors = names(|k| matches!(k, ResKind::Mirror { .. }));
    let all_res = names(|_| true);
    let groups: Vec<String> = spec.groups.iter().map(|g| g.name.clone()).collect();
    let target = if spec.networks.iter().any(|n| n == "public") { "10.0.0.253" } else { "192.168.0.253" };
    let count = 1 + rng.below(5) as usize;
    for mi in 0..count {
        let mut kinds: Vec<MonKind> = vec![
            MonKind::Ip { target: target.into() },
            MonKind::Process,
            MonKind::Exec,
            MonKind::Disk,
            MonKind::NicLink,
            MonKind::Http { url: format!("http://{target}/app") },
        ];
        if !fips.is_empty() {
            kinds.push(MonKind::FloatingIp { resource: pick(rng, &fips).clone() });
        }
        if !mirrors.is_empty() {
            kinds.push(MonKind::MirrorDisk { resource: pick(rng, &mirrors).clone() });
            kinds.push(MonKind::MirrorConnect { resource: pick(rng, &mirrors).clone() });
        }
        if rng.chance(15) {
            // The watchdog acts on its own server: no group to stop (B131 10).
            let actions: Vec<&'static str> = MONITOR_FINAL.iter().copied().filter(|a| *a != "stop-group").collect();
            kinds.push(MonKind::UserSpace { stall_action: rng.chance(50).then(|| *pick(rng, &actions)) });
        }
        let kind = pick(rng, &kinds).clone();
        let user_space = matches!(kind, MonKind::UserSpace { .. });
        let recovery_target = if user_space {
            None
        } else {
            let mut targets = vec!["local-server".to_string(), "all-groups".to_string()];
            targets.extend(groups.iter().cloned());
            targets.extend(all_res.iter().cloned());
            Some(pick(rng, &targets).clone())
        };
        let active_with = (!user_space && !all_res.is_empty() && rng.chance(35)).then(|| match kind.resource() {
            Some(r) => r.to_string(),
            None => pick(rng, &all_res).clone(),
        });
        let servers = (rng.chance(20)).then(|| {
            let mut s = subset(rng, &spec.servers, 1);
            s.sort_by_key(|x| spec.servers.iter().position(|y| y == x));
            s
        });
        let final_action = rng.chance(60).then(|| {
            let local = recovery_target.as_deref() == Some("local-server") || user_space;
            let options: Vec<&'static str> =
                MONITOR_FINAL.iter().copied().filter(|a| !(local && *a == "stop-group")).collect();
            *pick(rng, &options)
        });
        spec.monitors.push(MonSpec {
            name: format!("mon{}", mi + 1),
            kind,
            interval_ms: *pick(rng, &[3_000, 10_000, 30_000]),
            timeout_ms: *pick(rng, &[2_000, 5_000, 60_000]),
            retries: rng.below(3) as u32,
            start_wait_ms: *pick(rng, &[0, 0, 20_000]),
            active_with,
            servers,
            recovery_target,
            reactivations: rng.below(4) as u32,
            failovers: rng.below(3) as u32,
            final_action,
        });
    }
}

/// A spec's cluster file, checked by the loader `baton config check` uses. `Err`
/// holds every problem: for a drawn spec that is a generator bug.
pub fn check(spec: &Spec) -> Result<(String, Config), Vec<String>> {
    let text = spec.render();
    match baton_core::config::parse(&format!("{}.toml", spec.name), &text) {
        Ok(c) => Ok((text, c.config)),
        Err(diags) => Err(diags.iter().map(|d| d.to_string()).collect()),
    }
}

/// Draws the configuration of `seed` and checks it.
pub fn generate(seed: u64) -> Result<(Spec, String, Config), Vec<String>> {
    let spec = draw_spec(seed);
    let (text, cfg) = check(&spec)?;
    Ok((spec, text, cfg))
}
