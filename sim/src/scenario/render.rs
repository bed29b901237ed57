//! Rendering of the typed scenario back to scenario text.
//!
//! In: a [`Scenario`] or any of its parts. Out: their text, via `Display`, in the
//! canonical spelling (one space between words, quotes only where needed, durations
//! as `2m30s`, sizes as `200MB`). Parsing the rendering gives the same value, which
//! is how `baton sim explore` can write a failing run as a scenario file that replays
//! it, and how the timeline can print the statement of each step.

use super::ast::{DiskAction, Expect, Knob, Knobs, Scenario, ScriptRun, Step, Stmt, Target};
use super::lexer::{format_duration, format_ppm, format_signed_duration, format_size, quote_word};
use std::fmt;

/// Renders the scenario as a file: `config`, `seed` and knobs that differ from their
/// defaults, then one `at` line per step.
impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "config {}", quote_word(&self.config_path))?;
        if self.seed != 0 {
            writeln!(f, "seed {}", self.seed)?;
        }
        let defaults = Knobs::default();
        for &knob in Knob::ALL {
            if self.knobs.value_text(knob) != defaults.value_text(knob) {
                writeln!(f, "set {} {}", knob.name(), self.knobs.value_text(knob))?;
            }
        }
        for (server, c) in &self.knobs.clocks {
            if c.offset_ms != 0 {
                writeln!(f, "set clock-offset {} {}", quote_word(server), format_signed_duration(c.offset_ms))?;
            }
            if c.drift_ppm != 0 {
                writeln!(f, "set clock-drift {} {}", quote_word(server), format_ppm(c.drift_ppm))?;
            }
        }
        for step in &self.steps {
            writeln!(f, "{step}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at {} {}", format_duration(self.at_ms), self.stmt)
    }
}

/// Writes `words` separated by spaces, quoted where needed.
fn words(f: &mut fmt::Formatter<'_>, words: &[String]) -> fmt::Result {
    for (i, w) in words.iter().enumerate() {
        if i > 0 {
            f.write_str(" ")?;
        }
        f.write_str(&quote_word(w))?;
    }
    Ok(())
}

impl fmt::Display for Stmt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let q = |s: &str| quote_word(s);
        match self {
            Stmt::Boot(Target::All) => write!(f, "boot all"),
            Stmt::Boot(Target::Server(s)) => write!(f, "boot {}", q(s)),
            Stmt::Crash { server } => write!(f, "crash {}", q(server)),
            Stmt::CrashAt { server, point } => write!(f, "crash {} {}", q(server), point.name()),
            Stmt::Shutdown { server } => write!(f, "shutdown {}", q(server)),
            Stmt::Cut { network, server } => write!(f, "cut {} {}", q(network), q(server)),
            Stmt::CutPair { network, a, b } => write!(f, "cut {} {} {}", q(network), q(a), q(b)),
            Stmt::CutOneWay { network, from, to } => write!(f, "cut {} {} -> {}", q(network), q(from), q(to)),
            Stmt::Heal { network, server } => write!(f, "heal {} {}", q(network), q(server)),
            Stmt::HealPair { network, a, b } => write!(f, "heal {} {} {}", q(network), q(a), q(b)),
            Stmt::HealOneWay { network, from, to } => write!(f, "heal {} {} -> {}", q(network), q(from), q(to)),
            Stmt::HealAll => write!(f, "heal all"),
            Stmt::Isolate { server } => write!(f, "isolate {}", q(server)),
            Stmt::Partition { left, right } => {
                f.write_str("partition ")?;
                words(f, left)?;
                f.write_str(" | ")?;
                words(f, right)
            }
            Stmt::Loss { network, percent } => write!(f, "loss {} {percent}%", q(network)),
            Stmt::Target { address, state, from } => {
                write!(f, "target {} {state}", q(address))?;
                match from {
                    Some(s) => write!(f, " from {}", q(s)),
                    None => Ok(()),
                }
            }
            Stmt::Disk { device, action, server } => {
                write!(f, "disk {} ", q(device))?;
                match action {
                    DiskAction::Fail => f.write_str("fail")?,
                    DiskAction::Heal => f.write_str("heal")?,
                    DiskAction::Replace => f.write_str("replace")?,
                    DiskAction::Slow { duration_ms } => write!(f, "slow {}", format_duration(*duration_ms))?,
                }
                write!(f, " on {}", q(server))
            }
            Stmt::Serial(action) => write!(f, "serial {action}"),
            Stmt::FailActivation { resource, server, times } => fail(f, "activation", resource, server, *times),
            Stmt::FailDeactivation { resource, server, times } => fail(f, "deactivation", resource, server, *times),
            Stmt::Monitor { monitor, health, server } => write!(f, "monitor {} {health} on {}", q(monitor), q(server)),
            Stmt::Clock { server, step_ms } => write!(f, "clock {} {}", q(server), format_signed_duration(*step_ms)),
            Stmt::Stall { server, duration_ms } => write!(f, "stall {} {}", q(server), format_duration(*duration_ms)),
            Stmt::HangShutdown { server } => write!(f, "hang-shutdown {}", q(server)),
            Stmt::KillProcess { server, process } => write!(f, "kill-process {} {}", q(server), q(process)),
            Stmt::Write { resource, bytes } => write!(f, "write {} {}", q(resource), format_size(*bytes)),
            Stmt::Cmd { on, words: w } => {
                f.write_str("cmd ")?;
                if let Some(s) = on {
                    write!(f, "on {} ", q(s))?;
                }
                words(f, w)
            }
            Stmt::Expect(e) => write!(f, "expect {e}"),
        }
    }
}

fn fail(f: &mut fmt::Formatter<'_>, what: &str, resource: &str, server: &str, times: Option<u32>) -> fmt::Result {
    write!(f, "fail {what} {} on {}", quote_word(resource), quote_word(server))?;
    match times {
        Some(n) => write!(f, " times {n}"),
        None => Ok(()),
    }
}

impl fmt::Display for ScriptRun {
    /// `RESOURCE [start|stop] ran KEY=VALUE... on SERVER` (after `script` / `no script`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", quote_word(&self.resource))?;
        if let Some(phase) = self.phase {
            write!(f, " {phase}")?;
        }
        f.write_str(" ran")?;
        for (k, v) in &self.env {
            write!(f, " {}", quote_word(&format!("{k}={v}")))?;
        }
        write!(f, " on {}", quote_word(&self.server))
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let q = |s: &str| quote_word(s);
        match self {
            Expect::GroupOnline { group, server } => write!(f, "group {} online on {}", q(group), q(server)),
            Expect::GroupOffline { group } => write!(f, "group {} offline", q(group)),
            Expect::GroupError { group } => write!(f, "group {} error", q(group)),
            Expect::Resource { resource, state, server } => {
                write!(f, "resource {} {state} on {}", q(resource), q(server))
            }
            Expect::Server { server, state } => write!(f, "server {} {state}", q(server)),
            Expect::Monitor { monitor, state, server } => write!(f, "monitor {} {state} on {}", q(monitor), q(server)),
            Expect::Mirror { mirror, state } => write!(f, "mirror {} {state}", q(mirror)),
            Expect::MirrorLatest { mirror, server } => write!(f, "mirror {} latest on {}", q(mirror), q(server)),
            Expect::MirrorIdentical { mirror } => write!(f, "mirror {} identical", q(mirror)),
            Expect::Event { event, on, count } => {
                write!(f, "event {}", q(event))?;
                if let Some(s) = on {
                    write!(f, " on {}", q(s))?;
                }
                match count {
                    Some(n) => write!(f, " count {n}"),
                    None => Ok(()),
                }
            }
            Expect::NoEvent { event, on, since_ms } => {
                write!(f, "no event {}", q(event))?;
                if let Some(s) = on {
                    write!(f, " on {}", q(s))?;
                }
                match since_ms {
                    Some(t) => write!(f, " since {}", format_duration(*t)),
                    None => Ok(()),
                }
            }
            Expect::Script(run) => write!(f, "script {run}"),
            Expect::NoScript(run) => write!(f, "no script {run}"),
            Expect::Reply(state) => write!(f, "reply {state}"),
            Expect::SplitBrain { group } => write!(f, "split-brain {}", q(group)),
        }
    }
}
