//! Happenings of the scenario language applied to the world: power, network cuts,
//! partitions, loss, targets, disks, the serial cable, injected failures, stalls,
//! writes and operator commands.
//!
//! In: a parsed statement (names already checked against the configuration). Out:
//! world changes and inputs to the nodes; `cmd` returns the command id for `expect
//! reply`.

use crate::engine::Sim;
use crate::scenario::{DiskAction, MonitorHealth, SerialAction, Stmt, Target, TargetState};
use baton_core::config::{ResId, ServerId};
use baton_core::io::{CommandId, Input};
use baton_core::Command;

impl Sim {
    fn sid(&self, name: &str) -> ServerId {
        self.world.cfg.server_id(name).unwrap_or_else(|| panic!("unknown server {name} (the checker runs first)"))
    }

    fn rid(&self, name: &str) -> ResId {
        self.world.cfg.resource_id(name).unwrap_or_else(|| panic!("unknown resource {name}"))
    }

    /// Applies one happening. Returns the id of an operator command, if it was one.
    pub fn happen(&mut self, stmt: &Stmt) -> Option<CommandId> {
        match stmt {
            Stmt::Boot(Target::All) => {
                for s in self.world.cfg.server_ids() {
                    self.world.machines[s.idx()].crash_point = None;
                    self.power_on(s);
                }
            }
            Stmt::Boot(Target::Server(s)) => {
                let s = self.sid(s);
                // A crash point not reached by the time the server is to be up is void.
                self.world.machines[s.idx()].crash_point = None;
                self.power_on(s);
            }
            Stmt::Crash { server } => self.power_off(self.sid(server)),
            Stmt::CrashAt { server, point } => {
                let s = self.sid(server);
                self.world.machines[s.idx()].crash_point = Some(*point);
            }
            Stmt::Shutdown { server } => {
                let s = self.sid(server);
                if self.world.service_running(s) {
                    self.handle(s, Input::ShutdownRequested);
                } else {
                    self.power_off(s);
                }
            }
            Stmt::Cut { network, server } => {
                let s = self.sid(server);
                self.world.nets.entry(network.clone()).or_default().down.insert(s);
            }
            Stmt::CutPair { network, a, b } => {
                let (a, b) = (self.sid(a), self.sid(b));
                let n = self.world.nets.entry(network.clone()).or_default();
                n.blocked.insert((a, b));
                n.blocked.insert((b, a));
            }
            Stmt::CutOneWay { network, from, to } => {
                let (a, b) = (self.sid(from), self.sid(to));
                self.world.nets.entry(network.clone()).or_default().blocked.insert((a, b));
            }
            Stmt::Heal { network, server } => {
                let s = self.sid(server);
                self.world.nets.entry(network.clone()).or_default().down.remove(&s);
            }
            Stmt::HealPair { network, a, b } => {
                let (a, b) = (self.sid(a), self.sid(b));
                let n = self.world.nets.entry(network.clone()).or_default();
                n.blocked.remove(&(a, b));
                n.blocked.remove(&(b, a));
            }
            Stmt::HealOneWay { network, from, to } => {
                let (a, b) = (self.sid(from), self.sid(to));
                self.world.nets.entry(network.clone()).or_default().blocked.remove(&(a, b));
            }
            Stmt::HealAll => {
                for n in self.world.nets.values_mut() {
                    n.down.clear();
                    n.blocked.clear();
                }
                self.world.isolated.clear();
                self.world.serial_cut.clear();
            }
            Stmt::Isolate { server } => {
                let s = self.sid(server);
                self.world.isolated.insert(s);
            }
            Stmt::Partition { left, right } => {
                let l: Vec<ServerId> = left.iter().map(|n| self.sid(n)).collect();
                let r: Vec<ServerId> = right.iter().map(|n| self.sid(n)).collect();
                for n in self.world.nets.values_mut() {
                    for a in &l {
                        for b in &r {
                            n.blocked.insert((*a, *b));
                            n.blocked.insert((*b, *a));
                        }
                    }
                }
                for a in &l {
                    for b in &r {
                        self.world.serial_cut.insert((*a, *b));
                    }
                }
            }
            Stmt::Loss { network, percent } => {
                self.world.nets.entry(network.clone()).or_default().loss_percent = *percent;
            }
            Stmt::Target { address, state, from } => {
                let down = matches!(state, TargetState::Down);
                match from {
                    None if down => {
                        self.world.targets_down.insert(address.clone());
                    }
                    None => {
                        self.world.targets_down.remove(address);
                        self.world.targets_down_from.retain(|(a, _)| a != address);
                    }
                    Some(s) => {
                        let key = (address.clone(), self.sid(s));
                        if down {
                            self.world.targets_down_from.insert(key);
                        } else {
                            self.world.targets_down_from.remove(&key);
                        }
                    }
                }
            }
            Stmt::Disk { device, action, server } => self.disk(device, *action, self.sid(server)),
            Stmt::Serial(a) => self.world.serial_failed = matches!(a, SerialAction::Fail),
            Stmt::FailActivation { resource, server, times } => {
                let key = (self.rid(resource), self.sid(server));
                self.world.fail_activation.insert(key, *times);
            }
            Stmt::FailDeactivation { resource, server, times } => {
                let key = (self.rid(resource), self.sid(server));
                self.world.fail_deactivation.insert(key, *times);
            }
            Stmt::Monitor { monitor, health, server } => {
                let m = self.world.cfg.monitor_id(monitor).expect("checked monitor");
                let s = self.sid(server);
                match health {
                    MonitorHealth::Fail => self.world.monitor_failing.insert((m, s)),
                    MonitorHealth::Ok => self.world.monitor_failing.remove(&(m, s)),
                };
            }
            Stmt::Clock { server, step_ms } => {
                let s = self.sid(server);
                self.world.machines[s.idx()].clock.step(*step_ms);
            }
            Stmt::Stall { server, duration_ms } => self.stall(self.sid(server), *duration_ms),
            Stmt::HangShutdown { server } => {
                self.world.shutdown_hangs.insert(self.sid(server));
            }
            Stmt::KillProcess { server, process } => {
                let s = self.sid(server);
                if self.world.service_running(s) {
                    let epoch = self.world.machines[s.idx()].epoch;
                    self.deliver_now(s, epoch, Input::ProcessDied { process: process.clone() });
                }
            }
            Stmt::Write { resource, bytes } => self.write(self.rid(resource), *bytes),
            Stmt::Cmd { on, words } => {
                let id = self.cmd(on.as_deref(), words);
                return Some(id);
            }
            Stmt::Expect(_) => unreachable!("expectations are checked by the player"),
        }
        self.sync_mirror_links();
        None
    }

    fn disk(&mut self, device: &str, action: DiskAction, s: ServerId) {
        let key = (device.to_string(), s);
        match action {
            DiskAction::Fail => {
                self.world.disk_failed.insert(key);
                // B116: the node of a mirror side on this device learns of the error.
                let mirrors: Vec<ResId> = self.mirrors_on_device(device, s);
                for res in mirrors {
                    if self.world.service_running(s) {
                        self.handle(s, Input::MirrorDiskError { res });
                    }
                }
            }
            DiskAction::Heal => {
                self.world.disk_failed.remove(&key);
                self.world.disk_slow_ms.remove(&key);
            }
            DiskAction::Replace => {
                self.world.disk_failed.remove(&key);
                for res in self.mirrors_on_device(device, s) {
                    let Some(side) = self.world.mirror_side(res, s) else { continue };
                    let d = self.world.mirrors.entry(res).or_default();
                    d.content[side as usize] = 0xB1A4C;
                    d.newest = Some(1 - side);
                    // A hybrid side is one device shared by its server group: every
                    // server of the side finds the blank device.
                    let side_servers = self.world.cfg.resource(res).kind.mirror().expect("mirror").sides[side as usize]
                        .servers
                        .clone();
                    for srv in side_servers {
                        if self.world.service_running(srv) {
                            self.handle(srv, Input::MirrorDiskError { res });
                        } else {
                            // Found by the mirror driver when the service next starts.
                            self.pending_disk_errors.insert((res, srv));
                        }
                    }
                }
            }
            DiskAction::Slow { duration_ms } => {
                self.world.disk_slow_ms.insert(key, duration_ms);
            }
        }
    }

    fn mirrors_on_device(&self, device: &str, s: ServerId) -> Vec<ResId> {
        self.world
            .cfg
            .mirror_ids()
            .filter(|r| {
                let m = self.world.cfg.resource(*r).kind.mirror().expect("mirror");
                m.sides.iter().any(|side| side.servers.contains(&s) && side.data == device)
            })
            .collect()
    }

    /// The application writes to a mirror (B101, B103).
    fn write(&mut self, res: ResId, bytes: u64) {
        let Some(s) = self.world.active.get(&res).and_then(|h| h.iter().next().copied()) else {
            return; // nothing online to write to
        };
        let Some(side) = self.world.mirror_side(res, s) else { return };
        let connected = self.world.mirror_connected(res);
        let broken = self.world.machines[s.idx()].node.as_ref().and_then(|n| n.mirror_record(res)).is_some_and(|r| {
            matches!(r, baton_core::io::MirrorRecord::Ahead { .. } | baton_core::io::MirrorRecord::Forced)
        });
        if !connected && !broken {
            // B101: with the connect down and no break yet, a write waits for the other
            // side and is not acknowledged: the application's write does not complete.
            return;
        }
        let asynchronous =
            self.world.cfg.resource(res).kind.mirror().is_some_and(|m| m.mode == baton_core::config::MirrorMode::Async);
        let bw = self.knobs.mirror_bandwidth_bytes_per_s.max(1);
        let now = self.now;
        let latency = self.knobs.network_latency_ms;
        let d = self.world.mirrors.entry(res).or_default();
        d.settle(now);
        let i = side as usize;
        d.content[i] = d.content[i].wrapping_mul(0x100_0000_01B3).wrapping_add(bytes ^ 0xCBF2_9CE4_8422_2325);
        if connected && asynchronous {
            // B101 async: acknowledged here, sent behind at the mirror bandwidth.
            d.unsent += bytes;
            d.async_from = side;
            d.async_done_ms = d.async_done_ms.max(now) + latency + (bytes.saturating_mul(1000)).div_ceil(bw);
        } else if connected {
            d.content[1 - i] = d.content[i];
        } else {
            d.dirty[i] += bytes;
            d.newest = Some(side);
        }
        if self.world.service_running(s) {
            self.handle(s, Input::MirrorWritten { res, bytes });
        }
    }

    /// An operator command (`cmd [on SERVER] WORDS`, B120).
    fn cmd(&mut self, on: Option<&str>, words: &[String]) -> CommandId {
        let cmd = match Command::parse_words(words, &self.world.cfg) {
            Ok(c) => c,
            Err(e) => return self.reply_now(Err(e)),
        };
        if cmd == Command::ClusterStart {
            return self.cluster_start();
        }
        let target = match on {
            Some(name) => Some(self.sid(name)),
            None => self.world.cfg.server_ids().find(|s| {
                self.world.service_running(*s) && self.server_state(*s) == baton_core::io::ServerState::Online
            }),
        };
        match target {
            Some(s) => self.command(s, cmd),
            None => self.reply_now(Err("no server is online to take the command".into())),
        }
    }

    /// `cluster start`: starts the service on every powered-on stopped server (B122).
    fn cluster_start(&mut self) -> CommandId {
        let stopped: Vec<ServerId> = self
            .world
            .cfg
            .server_ids()
            .filter(|s| {
                let m = &self.world.machines[s.idx()];
                m.power == crate::world::Power::On && !self.world.service_running(*s)
            })
            .collect();
        if stopped.is_empty() {
            return self.reply_now(Err("no powered-on server has its service stopped".into()));
        }
        for s in stopped {
            self.start_service_now(s);
        }
        self.reply_now(Ok(()))
    }
}
