//! Operator commands (B120–B122): the words of the `baton` command line after `baton`,
//! parsed into a typed [`Command`]. The same words serve the CLI and the scenario
//! language's `cmd` statement.
//!
//! In: words and the configuration (to resolve names). Out: a [`Command`] or a message
//! saying what is wrong with the words. Whether a valid command is accepted is decided
//! by the node (`node::command`), not here.

use crate::config::{Config, GroupId, MonId, ResId, ServerId};
use serde::{Deserialize, Serialize};

/// A typed operator command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    ClusterStart,
    ClusterStop,
    ClusterShutdown { reboot: bool },
    ClusterSuspend { force: bool },
    /// `--force` (X1): the servers that have not confirmed the resume count as heard now
    /// (B20 as written): judged lost a `heartbeat_timeout` later if still silent.
    ClusterResume { force: bool },
    ServerShutdown { server: ServerId, reboot: bool },
    ServerReturn { server: ServerId, force: bool },
    GroupStart { group: GroupId, on: Option<ServerId> },
    GroupStop { group: GroupId },
    GroupMove { group: GroupId, to: Option<ServerId> },
    MirrorRebuild { mirror: ResId },
    MirrorForce { mirror: ResId, on: ServerId },
    MonitorSuspend { monitor: MonId, on: Option<ServerId> },
    MonitorResume { monitor: MonId, on: Option<ServerId> },
    /// Pseudo-failure (issue 15): the monitor's checks on `on` (default: where the
    /// group it recovers is online) count as failed until `monitor ok`.
    MonitorFail { monitor: MonId, on: Option<ServerId> },
    /// Ends `monitor fail` on `on` (default: every server of the monitor).
    MonitorOk { monitor: MonId, on: Option<ServerId> },
    /// The next `times` activations of the resource on `on` (default: every server of
    /// its group's policy) fail without running its driver; 0 ends it.
    ResourceFailActivation { resource: ResId, times: u32, on: Option<ServerId> },
}

impl Command {
    /// The command's words, as an operator would type them (for events and logs).
    pub fn words(&self, cfg: &Config) -> String {
        let s = |id: ServerId| cfg.server(id).name.clone();
        let g = |id: GroupId| cfg.group(id).name.clone();
        match self {
            Command::ClusterStart => "cluster start".into(),
            Command::ClusterStop => "cluster stop".into(),
            Command::ClusterShutdown { reboot } => format!("cluster shutdown{}", flag(*reboot, " --reboot")),
            Command::ClusterSuspend { force } => format!("cluster suspend{}", flag(*force, " --force")),
            Command::ClusterResume { force } => format!("cluster resume{}", flag(*force, " --force")),
            Command::ServerShutdown { server, reboot } => {
                format!("server shutdown {}{}", s(*server), flag(*reboot, " --reboot"))
            }
            Command::ServerReturn { server, force } => {
                format!("server return {}{}", s(*server), flag(*force, " --force"))
            }
            Command::GroupStart { group, on } => {
                format!("group start {}{}", g(*group), on.map(|o| format!(" --on {}", s(o))).unwrap_or_default())
            }
            Command::GroupStop { group } => format!("group stop {}", g(*group)),
            Command::GroupMove { group, to } => {
                format!("group move {}{}", g(*group), to.map(|o| format!(" --to {}", s(o))).unwrap_or_default())
            }
            Command::MirrorRebuild { mirror } => format!("mirror rebuild {}", cfg.resource(*mirror).name),
            Command::MirrorForce { mirror, on } => {
                format!("mirror force {} --on {}", cfg.resource(*mirror).name, s(*on))
            }
            Command::MonitorSuspend { monitor, on } => format!(
                "monitor suspend {}{}",
                cfg.monitor(*monitor).name,
                on.map(|o| format!(" --on {}", s(o))).unwrap_or_default()
            ),
            Command::MonitorResume { monitor, on } => format!(
                "monitor resume {}{}",
                cfg.monitor(*monitor).name,
                on.map(|o| format!(" --on {}", s(o))).unwrap_or_default()
            ),
            Command::MonitorFail { monitor, on } => format!(
                "monitor fail {}{}",
                cfg.monitor(*monitor).name,
                on.map(|o| format!(" --on {}", s(o))).unwrap_or_default()
            ),
            Command::MonitorOk { monitor, on } => format!(
                "monitor ok {}{}",
                cfg.monitor(*monitor).name,
                on.map(|o| format!(" --on {}", s(o))).unwrap_or_default()
            ),
            Command::ResourceFailActivation { resource, times, on } => format!(
                "resource fail-activation {} --times {times}{}",
                cfg.resource(*resource).name,
                on.map(|o| format!(" --on {}", s(o))).unwrap_or_default()
            ),
        }
    }

    /// Parses the words after `baton`, resolving names against the configuration.
    pub fn parse_words<S: AsRef<str>>(words: &[S], cfg: &Config) -> Result<Command, String> {
        let w: Vec<&str> = words.iter().map(|s| s.as_ref()).collect();
        let mut p = Words { w: &w, pos: 0, cfg };
        let noun = p.next("a command (cluster, server, group, mirror, monitor, resource)")?;
        let cmd = match noun {
            "cluster" => {
                let verb = p.next("cluster start|stop|shutdown|suspend|resume")?;
                match verb {
                    "start" => Command::ClusterStart,
                    "stop" => Command::ClusterStop,
                    "shutdown" => Command::ClusterShutdown { reboot: p.flag("--reboot") },
                    "suspend" => Command::ClusterSuspend { force: p.flag("--force") },
                    "resume" => Command::ClusterResume { force: p.flag("--force") },
                    other => {
                        return Err(format!(
                            "unknown cluster command {other:?}: use start, stop, shutdown, suspend or resume"
                        ))
                    }
                }
            }
            "server" => {
                let verb = p.next("server shutdown|return SERVER")?;
                let server = p.server()?;
                match verb {
                    "shutdown" => Command::ServerShutdown { server, reboot: p.flag("--reboot") },
                    "return" => Command::ServerReturn { server, force: p.flag("--force") },
                    other => return Err(format!("unknown server command {other:?}: use shutdown or return")),
                }
            }
            "group" => {
                let verb = p.next("group start|stop|move GROUP")?;
                let group = p.group()?;
                match verb {
                    "start" => Command::GroupStart { group, on: p.option_server("--on")? },
                    "stop" => Command::GroupStop { group },
                    "move" => Command::GroupMove { group, to: p.option_server("--to")? },
                    other => return Err(format!("unknown group command {other:?}: use start, stop or move")),
                }
            }
            "mirror" => {
                let verb = p.next("mirror rebuild|force MIRROR")?;
                let mirror = p.mirror()?;
                match verb {
                    "rebuild" => Command::MirrorRebuild { mirror },
                    "force" => match p.option_server("--on")? {
                        Some(on) => Command::MirrorForce { mirror, on },
                        None => return Err("mirror force needs --on SERVER (the side to declare latest)".into()),
                    },
                    other => return Err(format!("unknown mirror command {other:?}: use rebuild or force")),
                }
            }
            "monitor" => {
                let verb = p.next("monitor suspend|resume|fail|ok MONITOR")?;
                let monitor = p.monitor()?;
                let on = p.option_server("--on")?;
                match verb {
                    "suspend" => Command::MonitorSuspend { monitor, on },
                    "resume" => Command::MonitorResume { monitor, on },
                    "fail" => Command::MonitorFail { monitor, on },
                    "ok" => Command::MonitorOk { monitor, on },
                    other => return Err(format!("unknown monitor command {other:?}: use suspend, resume, fail or ok")),
                }
            }
            "resource" => {
                let verb = p.next("resource fail-activation RESOURCE --times N")?;
                let resource = p.resource()?;
                match verb {
                    "fail-activation" => {
                        let times = p.times()?;
                        Command::ResourceFailActivation { resource, times, on: p.option_server("--on")? }
                    }
                    other => return Err(format!("unknown resource command {other:?}: use fail-activation")),
                }
            }
            other => {
                return Err(format!(
                    "unknown command {other:?}: use cluster, server, group, mirror, monitor or resource"
                ))
            }
        };
        match p.w.get(p.pos) {
            Some(extra) => Err(format!("unexpected word {extra:?} after `{}`", cmd.words(cfg))),
            None => Ok(cmd),
        }
    }
}

fn flag(on: bool, text: &str) -> &str {
    if on {
        text
    } else {
        ""
    }
}

/// A cursor over command words.
struct Words<'a> {
    w: &'a [&'a str],
    pos: usize,
    cfg: &'a Config,
}

impl<'a> Words<'a> {
    fn next(&mut self, what: &str) -> Result<&'a str, String> {
        let word = self.w.get(self.pos).copied().ok_or_else(|| format!("missing {what}"))?;
        self.pos += 1;
        Ok(word)
    }
    /// Consumes `name` if it is the next word.
    fn flag(&mut self, name: &str) -> bool {
        let present = self.w.get(self.pos) == Some(&name);
        if present {
            self.pos += 1;
        }
        present
    }
    fn option_server(&mut self, name: &str) -> Result<Option<ServerId>, String> {
        if self.flag(name) {
            self.server().map(Some)
        } else {
            Ok(None)
        }
    }
    fn server(&mut self) -> Result<ServerId, String> {
        let n = self.next("a server name")?;
        self.cfg.server_id(n).ok_or_else(|| {
            let known: Vec<&str> = self.cfg.servers.iter().map(|s| s.name.as_str()).collect();
            format!("no server {n:?} in the configuration (servers: {})", known.join(", "))
        })
    }
    fn group(&mut self) -> Result<GroupId, String> {
        let n = self.next("a group name")?;
        self.cfg.group_id(n).ok_or_else(|| format!("no group {n:?} in the configuration"))
    }
    fn mirror(&mut self) -> Result<ResId, String> {
        let n = self.next("a mirror or hybrid disk name")?;
        match self.cfg.resource_id(n) {
            Some(r) if self.cfg.resource(r).kind.mirror().is_some() => Ok(r),
            Some(_) => Err(format!("resource {n:?} is not a mirror or hybrid disk")),
            None => Err(format!("no mirror {n:?} in the configuration")),
        }
    }
    fn resource(&mut self) -> Result<ResId, String> {
        let n = self.next("a resource name")?;
        self.cfg.resource_id(n).ok_or_else(|| format!("no resource {n:?} in the configuration"))
    }
    /// `--times N`, N in 0..=MAX_FAIL_ACTIVATIONS.
    fn times(&mut self) -> Result<u32, String> {
        let max = crate::node::MAX_FAIL_ACTIVATIONS;
        if !self.flag("--times") {
            return Err(format!("missing --times N (how many activations fail, 0..={max}; 0 ends it)"));
        }
        let n = self.next("a count after --times")?;
        match n.parse::<u32>() {
            Ok(t) if t <= max => Ok(t),
            Ok(_) | Err(_) => Err(format!("--times {n:?}: give a whole number from 0 to {max}")),
        }
    }
    fn monitor(&mut self) -> Result<MonId, String> {
        let n = self.next("a monitor name")?;
        self.cfg.monitor_id(n).ok_or_else(|| format!("no monitor {n:?} in the configuration"))
    }
}
