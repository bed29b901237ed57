//! Statement parsing: the words after `at TIME` to a [`Stmt`].
//!
//! In: the words of one statement (already split by the lexer, `at TIME` removed).
//! Out: the typed [`Stmt`] or the first problem, saying what was expected (each
//! form's usage line is quoted in its errors). The file-level rules (order of
//! `config`/`set`/`at`, time going forward) are [`parse`](super::parse())'s.

use super::ast::{
    CrashPoint, DiskAction, Expect, MirrorState, MonitorHealth, MonitorState, ReplyState, ResourceState, ScriptPhase,
    ScriptRun, SerialAction, ServerState, Stmt, Target, TargetState,
};
use super::lexer::{parse_number, parse_scenario_duration_ms, parse_signed_duration_ms, parse_size_bytes};

/// A cursor over the words of one statement; `usage` is quoted in every error.
struct Words<'a> {
    w: &'a [String],
    pos: usize,
    usage: &'static str,
}

impl<'a> Words<'a> {
    fn new(w: &'a [String], usage: &'static str) -> Words<'a> {
        Words { w, pos: 0, usage }
    }
    fn err(&self, problem: impl std::fmt::Display) -> String {
        format!("{problem}: expected `{}`", self.usage)
    }
    fn peek(&self) -> Option<&'a str> {
        self.w.get(self.pos).map(String::as_str)
    }
    /// The next word; `what` names it when it is missing (`SERVER`, `DURATION`).
    fn next(&mut self, what: &str) -> Result<&'a str, String> {
        let word = self.peek().ok_or_else(|| self.err(format!("missing {what}")))?;
        self.pos += 1;
        Ok(word)
    }
    fn name(&mut self, what: &str) -> Result<String, String> {
        self.next(what).map(str::to_string)
    }
    /// Consumes `kw` if it is the next word.
    fn eat(&mut self, kw: &str) -> bool {
        let present = self.peek() == Some(kw);
        if present {
            self.pos += 1;
        }
        present
    }
    fn expect(&mut self, kw: &str) -> Result<(), String> {
        match self.peek() {
            Some(w) if w == kw => {
                self.pos += 1;
                Ok(())
            }
            Some(w) => Err(self.err(format!("found `{w}` where `{kw}` belongs"))),
            None => Err(self.err(format!("missing `{kw}`"))),
        }
    }
    /// `on SERVER`.
    fn on(&mut self) -> Result<String, String> {
        self.expect("on")?;
        self.name("SERVER")
    }
    /// The next word as a keyword of `K`.
    fn keyword<K>(&mut self, from_name: fn(&str) -> Option<K>, choices: fn() -> String) -> Result<K, String> {
        let word = self.next(&format!("one of {}", choices()))?;
        from_name(word).ok_or_else(|| self.err(format!("found `{word}`, not one of {}", choices())))
    }
    fn duration(&mut self) -> Result<u64, String> {
        parse_scenario_duration_ms(self.next("DURATION")?)
    }
    fn rest(&mut self) -> &'a [String] {
        let rest = &self.w[self.pos..];
        self.pos = self.w.len();
        rest
    }
    fn end(&self) -> Result<(), String> {
        match self.peek() {
            None => Ok(()),
            Some(w) => Err(self.err(format!("unexpected `{w}`"))),
        }
    }
}

/// Parses the words after `at TIME`.
/// The process `kill-process SERVER` kills: the daemon's supervised core loop.
pub const DEFAULT_PROCESS: &str = "core";

pub(super) fn statement(words: &[String]) -> Result<Stmt, String> {
    let Some((head, rest)) = words.split_first() else {
        return Err("missing the statement after `at TIME` (e.g. `at 2m crash server1`)".into());
    };
    let stmt = match head.as_str() {
        "boot" => {
            let mut w = Words::new(rest, "boot SERVER|all");
            let target = match w.next("SERVER or all")? {
                "all" => Target::All,
                s => Target::Server(s.to_string()),
            };
            w.end()?;
            Stmt::Boot(target)
        }
        "crash" => crash(rest)?,
        "shutdown" => one_server(rest, "shutdown SERVER", |server| Stmt::Shutdown { server })?,
        "isolate" => one_server(rest, "isolate SERVER", |server| Stmt::Isolate { server })?,
        "cut" | "heal" => link(head == "cut", rest)?,
        "partition" => partition(rest)?,
        "loss" => {
            let mut w = Words::new(rest, "loss NETWORK PERCENT");
            let network = w.name("NETWORK")?;
            let text = w.next("PERCENT")?;
            let percent: u8 = parse_number(text.strip_suffix('%').unwrap_or(text), "a percentage from 0 to 100")?;
            if percent > 100 {
                return Err(format!("loss of {percent}% is more than 100%"));
            }
            w.end()?;
            Stmt::Loss { network, percent }
        }
        "target" => {
            let mut w = Words::new(rest, "target ADDRESS down|up [from SERVER]");
            let address = w.name("ADDRESS")?;
            let state = w.keyword(TargetState::from_name, TargetState::choices)?;
            let from = if w.eat("from") { Some(w.name("SERVER")?) } else { None };
            w.end()?;
            Stmt::Target { address, state, from }
        }
        "disk" => {
            let mut w = Words::new(rest, "disk DEVICE fail|heal|replace|slow DURATION on SERVER");
            let device = w.name("DEVICE")?;
            let action = match w.next("fail, heal, replace or slow")? {
                "fail" => DiskAction::Fail,
                "heal" => DiskAction::Heal,
                "replace" => DiskAction::Replace,
                "slow" => DiskAction::Slow { duration_ms: w.duration()? },
                other => return Err(w.err(format!("found `{other}`, not one of fail, heal, replace or slow"))),
            };
            let server = w.on()?;
            w.end()?;
            Stmt::Disk { device, action, server }
        }
        "serial" => {
            let mut w = Words::new(rest, "serial fail|heal");
            let action = w.keyword(SerialAction::from_name, SerialAction::choices)?;
            w.end()?;
            Stmt::Serial(action)
        }
        "fail" => {
            let mut w = Words::new(rest, "fail activation|deactivation RESOURCE on SERVER [times N]");
            let activation = match w.next("activation or deactivation")? {
                "activation" => true,
                "deactivation" => false,
                other => return Err(w.err(format!("found `{other}`, not activation or deactivation"))),
            };
            let resource = w.name("RESOURCE")?;
            let server = w.on()?;
            let times = if w.eat("times") {
                let n: u32 = parse_number(w.next("N")?, "the number of failures")?;
                if n == 0 {
                    return Err("`times 0` would fail nothing: give at least 1, or no `times` for every one".into());
                }
                Some(n)
            } else {
                None
            };
            w.end()?;
            if activation {
                Stmt::FailActivation { resource, server, times }
            } else {
                Stmt::FailDeactivation { resource, server, times }
            }
        }
        "monitor" => {
            let mut w = Words::new(rest, "monitor MONITOR fail|ok on SERVER");
            let monitor = w.name("MONITOR")?;
            let health = w.keyword(MonitorHealth::from_name, MonitorHealth::choices)?;
            let server = w.on()?;
            w.end()?;
            Stmt::Monitor { monitor, health, server }
        }
        "stall" => {
            let mut w = Words::new(rest, "stall SERVER DURATION");
            let server = w.name("SERVER")?;
            let duration_ms = w.duration()?;
            w.end()?;
            Stmt::Stall { server, duration_ms }
        }
        "clock" => {
            let mut w = Words::new(rest, "clock SERVER ±DURATION");
            let server = w.name("SERVER")?;
            let step_ms = parse_signed_duration_ms(w.next("±DURATION (e.g. +2s or -500ms)")?)?;
            w.end()?;
            Stmt::Clock { server, step_ms }
        }
        "hang-shutdown" => one_server(rest, "hang-shutdown SERVER", |server| Stmt::HangShutdown { server })?,
        "kill-process" => {
            let mut w = Words::new(rest, "kill-process SERVER [PROCESS]");
            let server = w.name("SERVER")?;
            let process = if w.peek().is_some() { w.name("PROCESS")? } else { DEFAULT_PROCESS.to_string() };
            w.end()?;
            Stmt::KillProcess { server, process }
        }
        "write" => {
            let mut w = Words::new(rest, "write MIRROR BYTES");
            let resource = w.name("MIRROR")?;
            let bytes = parse_size_bytes(w.next("BYTES (a size like 200MB)")?)?;
            w.end()?;
            Stmt::Write { resource, bytes }
        }
        "cmd" => {
            let mut w = Words::new(rest, "cmd [on SERVER] WORDS...");
            let on = if w.eat("on") { Some(w.name("SERVER")?) } else { None };
            let words = w.rest().to_vec();
            if words.is_empty() {
                return Err(w.err("missing the command words (e.g. `cmd group move failover1 --to server2`)"));
            }
            Stmt::Cmd { on, words }
        }
        "expect" => Stmt::Expect(expect(rest)?),
        "config" | "seed" | "set" => {
            return Err(format!("`{head}` cannot be timed: write it without `at`, before the first `at`"));
        }
        other => {
            return Err(format!(
                "unknown statement `{other}`: expected boot, crash, shutdown, cut, heal, isolate, partition, \
                 loss, target, disk, serial, fail, monitor, clock, stall, write, cmd or expect"
            ));
        }
    };
    Ok(stmt)
}

fn one_server(rest: &[String], usage: &'static str, make: fn(String) -> Stmt) -> Result<Stmt, String> {
    let mut w = Words::new(rest, usage);
    let server = w.name("SERVER")?;
    w.end()?;
    Ok(make(server))
}

/// `crash SERVER [after-persist|before-next]`.
fn crash(rest: &[String]) -> Result<Stmt, String> {
    let mut w = Words::new(rest, "crash SERVER");
    let server = w.name("SERVER")?;
    if w.peek().is_none() {
        return Ok(Stmt::Crash { server });
    }
    let point = w.keyword(CrashPoint::from_name, || "after-persist, before-next".to_string())?;
    w.end()?;
    Ok(Stmt::CrashAt { server, point })
}

/// `cut|heal NETWORK SERVER`, `… SERVER SERVER`, `… SERVER -> SERVER`, `heal all`.
fn link(cut: bool, rest: &[String]) -> Result<Stmt, String> {
    let usage = if cut {
        "cut NETWORK SERVER [SERVER | -> SERVER]"
    } else {
        "heal NETWORK SERVER [SERVER | -> SERVER]` or `heal all"
    };
    let w = Words::new(rest, usage);
    if let Some(joined) = rest.iter().find(|x| x.contains("->") && x.as_str() != "->") {
        return Err(w.err(format!("write `->` as a word of its own, with spaces around it (found `{joined}`)")));
    }
    let s = |x: &String| x.clone();
    let stmt = match rest {
        [all] if !cut && all == "all" => Stmt::HealAll,
        [network, server] if cut => Stmt::Cut { network: s(network), server: s(server) },
        [network, server] => Stmt::Heal { network: s(network), server: s(server) },
        [network, from, arrow, to] if arrow == "->" => {
            if from == to {
                return Err(format!("`{from} -> {to}` names the same server twice"));
            }
            if cut {
                Stmt::CutOneWay { network: s(network), from: s(from), to: s(to) }
            } else {
                Stmt::HealOneWay { network: s(network), from: s(from), to: s(to) }
            }
        }
        [network, a, b] if a != "->" && b != "->" => {
            if a == b {
                return Err(format!("`{a} {b}` names the same server twice"));
            }
            if cut {
                Stmt::CutPair { network: s(network), a: s(a), b: s(b) }
            } else {
                Stmt::HealPair { network: s(network), a: s(a), b: s(b) }
            }
        }
        [] => return Err(w.err("missing NETWORK")),
        [_] => return Err(w.err("missing SERVER")),
        _ => return Err(w.err(format!("wrong number of words ({})", rest.len()))),
    };
    Ok(stmt)
}

/// `partition SERVER... | SERVER...`.
fn partition(rest: &[String]) -> Result<Stmt, String> {
    let w = Words::new(rest, "partition SERVER... | SERVER...");
    if let Some(joined) = rest.iter().find(|x| x.contains('|') && x.as_str() != "|") {
        return Err(w.err(format!("write `|` as a word of its own, with spaces around it (found `{joined}`)")));
    }
    let bars = rest.iter().filter(|x| x.as_str() == "|").count();
    if bars != 1 {
        return Err(w.err(format!("one `|` between the two sides, found {bars}")));
    }
    let bar = rest.iter().position(|x| x == "|").unwrap_or(0);
    let (left, right) = (rest[..bar].to_vec(), rest[bar + 1..].to_vec());
    if left.is_empty() || right.is_empty() {
        return Err(w.err("each side needs at least one server"));
    }
    for (i, s) in left.iter().chain(&right).enumerate() {
        if left.iter().chain(&right).take(i).any(|t| t == s) {
            return Err(format!("server `{s}` is named twice in the partition"));
        }
    }
    Ok(Stmt::Partition { left, right })
}

/// The words after `expect`.
fn expect(rest: &[String]) -> Result<Expect, String> {
    let Some((head, rest)) = rest.split_first() else {
        return Err("missing what to expect: group, resource, server, monitor, mirror, event, no, \
                    script, reply or split-brain"
            .into());
    };
    let e = match head.as_str() {
        "group" => {
            let mut w = Words::new(rest, "expect group GROUP online on SERVER|offline|error");
            let group = w.name("GROUP")?;
            let e = match w.next("online, offline or error")? {
                "online" => Expect::GroupOnline { group, server: w.on()? },
                "offline" => Expect::GroupOffline { group },
                "error" => Expect::GroupError { group },
                other => return Err(w.err(format!("found `{other}`, not online, offline or error"))),
            };
            w.end()?;
            e
        }
        "resource" => {
            let mut w = Words::new(rest, "expect resource RESOURCE online|offline on SERVER");
            let resource = w.name("RESOURCE")?;
            let state = w.keyword(ResourceState::from_name, ResourceState::choices)?;
            let server = w.on()?;
            w.end()?;
            Expect::Resource { resource, state, server }
        }
        "server" => {
            let mut w = Words::new(rest, "expect server SERVER online|down|suspended|stopped|off");
            let server = w.name("SERVER")?;
            let state = w.keyword(ServerState::from_name, ServerState::choices)?;
            w.end()?;
            Expect::Server { server, state }
        }
        "monitor" => {
            let mut w = Words::new(rest, "expect monitor MONITOR ok|error|stopped on SERVER");
            let monitor = w.name("MONITOR")?;
            let state = w.keyword(MonitorState::from_name, MonitorState::choices)?;
            let server = w.on()?;
            w.end()?;
            Expect::Monitor { monitor, state, server }
        }
        "mirror" => {
            let mut w = Words::new(
                rest,
                "expect mirror MIRROR normal|degraded|rebuilding|error|identical` or `expect mirror MIRROR latest on SERVER",
            );
            let mirror = w.name("MIRROR")?;
            let e = match w.next("a mirror state, latest or identical")? {
                "latest" => Expect::MirrorLatest { mirror, server: w.on()? },
                "identical" => Expect::MirrorIdentical { mirror },
                other => match MirrorState::from_name(other) {
                    Some(state) => Expect::Mirror { mirror, state },
                    None => {
                        return Err(w.err(format!(
                            "found `{other}`, not {}, latest or identical",
                            MirrorState::ALL.iter().map(|s| s.name()).collect::<Vec<_>>().join(", ")
                        )))
                    }
                },
            };
            w.end()?;
            e
        }
        "event" => {
            let mut w = Words::new(rest, "expect event EVENT [on SERVER] [count N]");
            let event = w.name("EVENT")?;
            let on = if w.eat("on") { Some(w.name("SERVER")?) } else { None };
            let count = if w.eat("count") { Some(parse_number(w.next("N")?, "the count")?) } else { None };
            w.end()?;
            Expect::Event { event, on, count }
        }
        "script" => Expect::Script(script(rest, "expect script RESOURCE [start|stop] ran KEY=VALUE... on SERVER")?),
        "reply" => {
            let mut w = Words::new(rest, "expect reply ok|error");
            let state = w.keyword(ReplyState::from_name, ReplyState::choices)?;
            w.end()?;
            Expect::Reply(state)
        }
        "split-brain" => {
            let mut w = Words::new(rest, "expect split-brain GROUP");
            let group = w.name("GROUP")?;
            w.end()?;
            Expect::SplitBrain { group }
        }
        "no" => match rest.split_first() {
            Some((what, rest)) if what == "event" => {
                let mut w = Words::new(rest, "expect no event EVENT [on SERVER] [since TIME]");
                let event = w.name("EVENT")?;
                let on = if w.eat("on") { Some(w.name("SERVER")?) } else { None };
                let since_ms = if w.eat("since") { Some(w.duration()?) } else { None };
                w.end()?;
                Expect::NoEvent { event, on, since_ms }
            }
            Some((what, rest)) if what == "script" => {
                Expect::NoScript(script(rest, "expect no script RESOURCE [start|stop] ran KEY=VALUE... on SERVER")?)
            }
            _ => return Err("expected `expect no event ...` or `expect no script ...`".into()),
        },
        other => {
            return Err(format!(
                "unknown expectation `{other}`: expected group, resource, server, monitor, mirror, event, \
                 no event, script, no script, reply or split-brain"
            ));
        }
    };
    Ok(e)
}

/// `RESOURCE [start|stop] ran KEY=VALUE... on SERVER`.
fn script(rest: &[String], usage: &'static str) -> Result<ScriptRun, String> {
    let mut w = Words::new(rest, usage);
    let resource = w.name("RESOURCE")?;
    let phase = match w.peek() {
        Some("start") => Some(ScriptPhase::Start),
        Some("stop") => Some(ScriptPhase::Stop),
        _ => None,
    };
    if phase.is_some() {
        w.pos += 1;
    }
    w.expect("ran")?;
    // The pairs run up to the final `on SERVER`.
    let tail = w.rest();
    let [pairs @ .., on, server] = tail else {
        return Err(w.err("missing `on SERVER` at the end"));
    };
    if on != "on" {
        return Err(w.err("missing `on SERVER` at the end"));
    }
    let mut env: Vec<(String, String)> = Vec::with_capacity(pairs.len());
    for pair in pairs {
        let Some((key, value)) = pair.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            return Err(w.err(format!("`{pair}` is not KEY=VALUE")));
        };
        if env.iter().any(|(k, _)| k == key) {
            return Err(format!("{key} is given twice"));
        }
        env.push((key.to_string(), value.to_string()));
    }
    Ok(ScriptRun { resource, phase, env, server: server.clone() })
}
