//! The scenario checker: every name of a parsed scenario against the cluster file.
//!
//! In: a parsed [`Scenario`], the scenario file's name (for messages) and the loaded
//! [`Config`]. Out: every problem found, each `FILE:LINE: reason` — unknown servers,
//! groups, resources, monitors, mirrors, networks, devices, targets and event names,
//! resources of the wrong kind, and `cmd` words that do not parse as a `baton`
//! command. An empty list means the player can resolve every name without failing.

use super::ast::{Expect, Scenario, ScenarioError, ScriptRun, Stmt, Target};
use baton_core::config::{Config, NpKind, ResourceKind, ServerId};
use baton_core::{Command, EventKind};
use std::collections::BTreeSet;

/// Checks every name of `sc` against `cfg`.
pub fn check(sc: &Scenario, file_name: &str, cfg: &Config) -> Vec<ScenarioError> {
    let known = Known::new(cfg);
    let mut errors = Vec::new();
    // Knob lines are not kept: an unknown server of a clock knob is reported at `config`.
    for name in sc.knobs.clocks.keys() {
        if cfg.server_id(name).is_none() {
            errors.push(ScenarioError::new(
                file_name,
                sc.config_line,
                format!("`set clock-offset|clock-drift {name} …`: no server {name:?} in the cluster file"),
            ));
        }
    }
    for step in &sc.steps {
        // Unlike the parser, report every problem of a line: two unknown names on one
        // line are two independent fixes.
        let mut problems = Vec::new();
        known.stmt(&step.stmt, &mut problems);
        errors.extend(problems.into_iter().map(|m| ScenarioError::new(file_name, step.line, m)));
    }
    errors
}

/// The names of the configuration that scenario statements may use.
struct Known<'a> {
    cfg: &'a Config,
    /// Keys of the servers' `addresses`.
    networks: BTreeSet<&'a str>,
    /// Every device named in the configuration (`Config::devices`).
    devices: BTreeSet<String>,
    /// Ping addresses and http URLs of resolvers and monitors (`Config::target_routes`).
    targets: BTreeSet<String>,
}

impl<'a> Known<'a> {
    fn new(cfg: &'a Config) -> Known<'a> {
        let networks = cfg.servers.iter().flat_map(|s| s.addresses.keys().map(String::as_str)).collect();
        Known {
            cfg,
            networks,
            devices: cfg.devices().into_iter().map(|(d, _)| d).collect(),
            targets: cfg.target_routes().into_iter().map(|r| r.target).collect(),
        }
    }

    fn stmt(&self, stmt: &Stmt, out: &mut Vec<String>) {
        match stmt {
            Stmt::Boot(Target::All) | Stmt::HealAll => {}
            Stmt::Boot(Target::Server(s))
            | Stmt::Crash { server: s }
            | Stmt::CrashAt { server: s, .. }
            | Stmt::Shutdown { server: s }
            | Stmt::Isolate { server: s }
            | Stmt::Clock { server: s, .. }
            | Stmt::Stall { server: s, .. }
            | Stmt::HangShutdown { server: s }
            | Stmt::KillProcess { server: s, .. } => {
                self.server(s, out);
            }
            Stmt::Cut { network, server } | Stmt::Heal { network, server } => self.link(network, &[server], out),
            Stmt::CutPair { network, a, b } | Stmt::HealPair { network, a, b } => self.link(network, &[a, b], out),
            Stmt::CutOneWay { network, from, to } | Stmt::HealOneWay { network, from, to } => {
                self.link(network, &[from, to], out)
            }
            Stmt::Partition { left, right } => {
                for s in left.iter().chain(right) {
                    self.server(s, out);
                }
                // A server on neither side would be ambiguous (which side keeps it?).
                let named: BTreeSet<&str> = left.iter().chain(right).map(String::as_str).collect();
                let missing: Vec<&str> =
                    self.cfg.servers.iter().map(|s| s.name.as_str()).filter(|n| !named.contains(n)).collect();
                if !missing.is_empty() {
                    out.push(format!(
                        "{} on neither side of the partition: list every server on one side",
                        missing.join(", ") + if missing.len() == 1 { " is" } else { " are" }
                    ));
                }
            }
            Stmt::Loss { network, .. } => {
                self.network(network, out);
            }
            Stmt::Target { address, from, .. } => {
                if !self.targets.contains(address.as_str()) {
                    out.push(unknown(
                        "ping or http target",
                        address,
                        self.targets.iter().map(String::as_str),
                        "targets are the ping addresses and http URLs of [[np]] resolvers and ip/http monitors",
                    ));
                }
                if let Some(s) = from {
                    self.server(s, out);
                }
            }
            Stmt::Disk { device, server, .. } => {
                if !self.devices.contains(device.as_str()) {
                    out.push(unknown(
                        "device",
                        device,
                        self.devices.iter().map(String::as_str),
                        "devices are those of disk, mirror and hybrid disk resources, disk resolvers, \
                         disk heartbeats and disk monitors",
                    ));
                }
                self.server(server, out);
            }
            Stmt::Serial(_) => {
                let has_serial = self.cfg.nps.iter().any(|np| match &np.kind {
                    NpKind::Serial { .. } => true,
                    NpKind::Ping { .. } | NpKind::Http { .. } | NpKind::Disk { .. } | NpKind::Majority => false,
                });
                if !has_serial {
                    out.push(
                        "`serial` needs a serial resolver ([[np]] with kind = \"serial\"); the configuration has none"
                            .into(),
                    );
                }
            }
            Stmt::FailActivation { resource, server, .. } | Stmt::FailDeactivation { resource, server, .. } => {
                self.resource(resource, out);
                self.server(server, out);
            }
            Stmt::Monitor { monitor, server, .. } => {
                self.monitor(monitor, out);
                self.server(server, out);
            }
            Stmt::Write { resource, .. } => {
                if let Some(kind) = self.resource(resource, out) {
                    match kind {
                        ResourceKind::MirrorDisk(_) | ResourceKind::HybridDisk(_) | ResourceKind::Disk { .. } => {}
                        ResourceKind::FloatingIp { .. }
                        | ResourceKind::VirtualIp { .. }
                        | ResourceKind::Exec { .. }
                        | ResourceKind::Service { .. } => out.push(format!(
                            "`write` needs a mirror, hybrid disk or disk resource; {resource:?} is a {} resource",
                            kind.name()
                        )),
                    }
                }
            }
            Stmt::Cmd { on, words } => {
                if let Some(s) = on {
                    self.server(s, out);
                }
                if let Err(e) = Command::parse_words(words, self.cfg) {
                    out.push(format!("cmd: {e}"));
                }
            }
            Stmt::Expect(e) => self.expect(e, out),
        }
    }

    fn expect(&self, e: &Expect, out: &mut Vec<String>) {
        match e {
            Expect::GroupOnline { group, server } => {
                self.group(group, out);
                self.server(server, out);
            }
            Expect::GroupOffline { group } | Expect::GroupError { group } | Expect::SplitBrain { group } => {
                self.group(group, out)
            }
            Expect::Resource { resource, server, .. } => {
                self.resource(resource, out);
                self.server(server, out);
            }
            Expect::Server { server, .. } => {
                self.server(server, out);
            }
            Expect::Monitor { monitor, server, .. } => {
                self.monitor(monitor, out);
                self.server(server, out);
            }
            Expect::Mirror { mirror, .. } | Expect::MirrorIdentical { mirror } => self.mirror(mirror, out),
            Expect::MirrorLatest { mirror, server } => {
                self.mirror(mirror, out);
                self.server(server, out);
            }
            Expect::Event { event, on, .. } | Expect::NoEvent { event, on, .. } => {
                if EventKind::from_name(event).is_none() {
                    out.push(unknown(
                        "event",
                        event,
                        EventKind::ALL.iter().map(|k| k.name()),
                        "see docs/events.md for the catalogue",
                    ));
                }
                if let Some(s) = on {
                    self.server(s, out);
                }
            }
            Expect::Script(run) | Expect::NoScript(run) => self.script(run, out),
            Expect::Reply(_) => {}
        }
    }

    fn script(&self, run: &ScriptRun, out: &mut Vec<String>) {
        if let Some(kind) = self.resource(&run.resource, out) {
            match kind {
                ResourceKind::Exec { .. } => {}
                ResourceKind::FloatingIp { .. }
                | ResourceKind::VirtualIp { .. }
                | ResourceKind::Service { .. }
                | ResourceKind::Disk { .. }
                | ResourceKind::MirrorDisk(_)
                | ResourceKind::HybridDisk(_) => out.push(format!(
                    "{:?} is a {} resource; only exec resources run scripts",
                    run.resource,
                    kind.name()
                )),
            }
        }
        self.server(&run.server, out);
    }

    /// A network and the servers using it: each must have an address on it.
    fn link(&self, network: &str, servers: &[&String], out: &mut Vec<String>) {
        let network_ok = self.network(network, out);
        for s in servers {
            if let Some(id) = self.server(s, out) {
                if network_ok && !self.cfg.server(id).addresses.contains_key(network) {
                    out.push(format!("server {s:?} has no address on network {network:?}"));
                }
            }
        }
    }

    /// Whether the network exists (reporting it when not).
    fn network(&self, network: &str, out: &mut Vec<String>) -> bool {
        let ok = self.networks.contains(network);
        if !ok {
            out.push(unknown(
                "network",
                network,
                self.networks.iter().copied(),
                "networks are the keys of the servers' addresses",
            ));
        }
        ok
    }

    fn server(&self, name: &str, out: &mut Vec<String>) -> Option<ServerId> {
        let id = self.cfg.server_id(name);
        if id.is_none() {
            out.push(unknown("server", name, self.cfg.servers.iter().map(|s| s.name.as_str()), ""));
        }
        id
    }

    fn group(&self, name: &str, out: &mut Vec<String>) {
        if self.cfg.group_id(name).is_none() {
            out.push(unknown("group", name, self.cfg.groups.iter().map(|g| g.name.as_str()), ""));
        }
    }

    fn resource(&self, name: &str, out: &mut Vec<String>) -> Option<&'a ResourceKind> {
        let cfg = self.cfg;
        match cfg.resource_id(name) {
            Some(id) => Some(&cfg.resource(id).kind),
            None => {
                out.push(unknown("resource", name, cfg.resources.iter().map(|r| r.name.as_str()), ""));
                None
            }
        }
    }

    fn monitor(&self, name: &str, out: &mut Vec<String>) {
        if self.cfg.monitor_id(name).is_none() {
            out.push(unknown("monitor", name, self.cfg.monitors.iter().map(|m| m.name.as_str()), ""));
        }
    }

    /// A mirror or hybrid disk resource.
    fn mirror(&self, name: &str, out: &mut Vec<String>) {
        let cfg = self.cfg;
        match cfg.resource_id(name) {
            Some(id) if cfg.resource(id).kind.mirror().is_some() => {}
            Some(id) => out
                .push(format!("{name:?} is a {} resource, not a mirror or hybrid disk", cfg.resource(id).kind.name())),
            None => {
                let mirrors = cfg.mirror_ids().map(|id| cfg.resource(id).name.as_str());
                out.push(unknown("mirror", name, mirrors, "mirrors are the mirror-disk and hybrid-disk resources"));
            }
        }
    }
}

/// `no KIND "name" in the configuration`, with the closest known name when one is
/// near (a typo), else the known names when they are few, else `note`.
fn unknown<'n>(kind: &str, name: &str, known: impl Iterator<Item = &'n str>, note: &str) -> String {
    let known: Vec<&str> = known.collect();
    let place = if kind == "event" { "the event catalogue" } else { "the configuration" };
    let mut msg = format!("no {kind} {name:?} in {place}");
    // A typo is within about a third of the name's length.
    let limit = (name.chars().count() / 3).max(2);
    let closest = known.iter().map(|k| (edit_distance(name, k), *k)).filter(|(d, _)| *d <= limit).min();
    if let Some((_, k)) = closest {
        msg.push_str(&format!(" (did you mean {k:?}?)"));
    } else if known.is_empty() {
        msg.push_str(&format!(" (it has no {kind})"));
    } else if known.len() <= 12 {
        msg.push_str(&format!(" (known: {})", known.join(", ")));
    } else if !note.is_empty() {
        msg.push_str(&format!(" ({note})"));
    }
    if known.is_empty() && !note.is_empty() {
        msg.push_str(&format!("; {note}"));
    }
    msg
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb { prev } else { 1 + prev.min(cur).min(row[j]) };
            prev = cur;
        }
    }
    row[b.len()]
}
