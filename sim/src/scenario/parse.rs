//! The scenario parser: text to [`Scenario`], syntax only.
//!
//! In: the file's name (for messages) and its text. Out: the typed [`Scenario`], or
//! every problem found, each `FILE:LINE: reason`. Names are not resolved here (see
//! [`check`](super::check())): this pass needs no cluster file, so a scenario's syntax
//! can be reported even when its configuration is broken.
//!
//! Each line yields at most one error (its first problem): later words of a broken
//! line would only produce noise. Every line is parsed, so all broken lines are
//! reported in one go.

use super::ast::{Expect, Knob, Knobs, Scenario, ScenarioError, Step, Stmt};
use super::lexer::{
    format_duration, parse_bandwidth, parse_number, parse_ppm, parse_scenario_duration_ms, parse_signed_duration_ms,
    parse_size_bytes, split_words,
};
use super::stmt::statement;
use crate::clock::{MAX_DRIFT_PPM, MAX_OFFSET_MS};
use std::collections::BTreeMap;

/// Parses a scenario file. `file_name` is used in the errors.
pub fn parse(file_name: &str, text: &str) -> Result<Scenario, Vec<ScenarioError>> {
    let mut p = Parser::default();
    let mut errors = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let result = split_words(raw).and_then(|words| match words.split_first() {
            None => Ok(()),
            Some((head, rest)) => p.statement(line, head, rest),
        });
        if let Err(message) = result {
            errors.push(ScenarioError::new(file_name, line, message));
        }
    }
    let Some((config_path, config_line)) = p.config.clone() else {
        // A malformed `config` line was reported on its own line already.
        if p.config_tried {
            return Err(errors);
        }
        // A statement before `config` was not refused on its own line (it may be
        // fine once `config` is added): say here where `config` is missing.
        let line = p.first_line.unwrap_or(1);
        errors.push(ScenarioError::new(
            file_name,
            line,
            "missing `config PATH` (the cluster file, relative to this file): it must be the first statement",
        ));
        errors.sort_by_key(|e| e.line);
        return Err(errors);
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Scenario { config_path, config_line, seed: p.seed.map_or(0, |(s, _)| s), knobs: p.knobs, steps: p.steps })
}

/// What the file has said so far.
#[derive(Default)]
struct Parser {
    /// `config PATH` and its line.
    config: Option<(String, usize)>,
    /// Whether a `config` statement was seen, well formed or not.
    config_tried: bool,
    /// The line of the first statement of any kind.
    first_line: Option<usize>,
    seed: Option<(u64, usize)>,
    knobs: Knobs,
    /// The line where each knob was set (a second `set` of the same knob is refused).
    knob_lines: BTreeMap<Knob, usize>,
    /// The line where each (clock knob, server) was set.
    clock_lines: BTreeMap<(&'static str, String), usize>,
    steps: Vec<Step>,
    /// The line of the first `at` (`set` must come before it).
    first_at: Option<usize>,
    /// The time and line of the latest well-timed `at`.
    last_at: Option<(u64, usize)>,
    /// The line of the latest `cmd`, for `expect reply`.
    last_cmd: Option<usize>,
}

/// The per-server clock knobs (`set KNOB SERVER VALUE`).
pub const CLOCK_OFFSET: &str = "clock-offset";
pub const CLOCK_DRIFT: &str = "clock-drift";
const CLOCK_KNOBS: [&str; 2] = [CLOCK_OFFSET, CLOCK_DRIFT];

/// Keywords of timed statements: used to say `at TIME` is missing rather than
/// "unknown statement" when a line starts with one.
const TIMED: &[&str] = &[
    "boot",
    "crash",
    "shutdown",
    "cut",
    "heal",
    "isolate",
    "partition",
    "loss",
    "target",
    "disk",
    "serial",
    "fail",
    "monitor",
    "clock",
    "stall",
    "hang-shutdown",
    "kill-process",
    "write",
    "cmd",
    "expect",
];

impl Parser {
    fn statement(&mut self, line: usize, head: &str, rest: &[String]) -> Result<(), String> {
        let first = *self.first_line.get_or_insert(line);
        match head {
            "config" => {
                self.config_tried = true;
                if let Some((_, at)) = &self.config {
                    return Err(format!("`config` given twice (first at line {at})"));
                }
                let [path] = rest else {
                    return Err("expected `config PATH` (one path; quote it if it has spaces)".into());
                };
                // Record the path even when misplaced so that the end of the file does
                // not also report it missing.
                self.config = Some((path.clone(), line));
                if first != line {
                    return Err(format!("`config PATH` must be the first statement (line {first} comes before it)"));
                }
                Ok(())
            }
            "seed" => {
                if let Some((_, at)) = self.seed {
                    return Err(format!("`seed` given twice (first at line {at})"));
                }
                let [n] = rest else {
                    return Err("expected `seed N` (one whole number)".into());
                };
                self.seed = Some((parse_number(n, "the seed")?, line));
                Ok(())
            }
            "set" => self.set(line, rest),
            "at" => self.at(line, rest),
            other if TIMED.contains(&other) => {
                Err(format!("`{other}` needs a time: write `at TIME {other} ...` (e.g. `at 2m {other} ...`)"))
            }
            other => Err(format!("unknown statement `{other}`: expected config, seed, set or at")),
        }
    }

    fn set(&mut self, line: usize, rest: &[String]) -> Result<(), String> {
        if let Some(at_line) = self.first_at {
            return Err(format!("`set` must come before the first `at` (line {at_line} is an `at`)"));
        }
        if let [name, server, value] = rest {
            if let Some(knob) = CLOCK_KNOBS.iter().copied().find(|k| *k == name) {
                return self.set_clock(line, knob, server, value);
            }
        }
        let [name, value] = rest else {
            return Err(format!(
                "expected `set KNOB VALUE`, KNOB one of {}, or `set clock-offset|clock-drift SERVER VALUE`",
                Knob::choices()
            ));
        };
        let knob = Knob::from_name(name)
            .ok_or_else(|| format!("unknown knob {name:?}: expected one of {}", Knob::choices()))?;
        if let Some(at) = self.knob_lines.get(&knob) {
            return Err(format!("knob {knob} set twice (first at line {at})"));
        }
        let k = &mut self.knobs;
        match knob {
            Knob::ActivationTime => k.activation_time_ms = parse_scenario_duration_ms(value)?,
            Knob::BootTime => k.boot_time_ms = parse_scenario_duration_ms(value)?,
            Knob::NetworkLatency => k.network_latency_ms = parse_scenario_duration_ms(value)?,
            Knob::DiskLatency => k.disk_latency_ms = parse_scenario_duration_ms(value)?,
            Knob::MirrorBandwidth => {
                let bw = parse_bandwidth(value)?;
                // A zero bandwidth would make every rebuild last forever.
                if bw == 0 {
                    return Err("mirror-bandwidth must be more than 0B/s".into());
                }
                k.mirror_bandwidth_bytes_per_s = bw;
            }
            Knob::MirrorSize => k.mirror_size_bytes = parse_size_bytes(value)?,
        }
        self.knob_lines.insert(knob, line);
        Ok(())
    }

    /// `set clock-offset SERVER ±DURATION`, `set clock-drift SERVER ±Nppm`.
    fn set_clock(&mut self, line: usize, knob: &'static str, server: &str, value: &str) -> Result<(), String> {
        if let Some(at) = self.clock_lines.get(&(knob, server.to_string())) {
            return Err(format!("{knob} of {server} set twice (first at line {at})"));
        }
        let c = self.knobs.clocks.entry(server.to_string()).or_default();
        if knob == CLOCK_OFFSET {
            let ms = parse_signed_duration_ms(value)?;
            if ms.unsigned_abs() > MAX_OFFSET_MS.unsigned_abs() {
                return Err(format!("clock-offset {value} is beyond one year"));
            }
            c.offset_ms = ms;
        } else {
            let ppm = parse_ppm(value)?;
            if ppm.unsigned_abs() > MAX_DRIFT_PPM.unsigned_abs() {
                return Err(format!("clock-drift {value} is beyond ±{MAX_DRIFT_PPM}ppm"));
            }
            c.drift_ppm = ppm;
        }
        self.clock_lines.insert((knob, server.to_string()), line);
        Ok(())
    }

    fn at(&mut self, line: usize, rest: &[String]) -> Result<(), String> {
        let Some((time, words)) = rest.split_first() else {
            return Err("expected `at TIME STATEMENT` (e.g. `at 2m crash server1`)".into());
        };
        self.first_at.get_or_insert(line);
        let at_ms = parse_scenario_duration_ms(time)?;
        // Compare with the latest time so far (kept when a line goes backwards, so
        // that every line before it in time is reported, not only the first).
        if let Some((prev_ms, prev_line)) = self.last_at {
            if at_ms < prev_ms {
                return Err(format!(
                    "time goes backwards: {time} is before {} (line {prev_line})",
                    format_duration(prev_ms)
                ));
            }
        }
        self.last_at = Some((at_ms, line));
        let stmt = statement(words)?;
        // Checks that need the statements before this one or this line's time.
        if let Stmt::Cmd { .. } = &stmt {
            self.last_cmd = Some(line);
        }
        if let Stmt::Expect(Expect::Reply(_)) = &stmt {
            if self.last_cmd.is_none() {
                return Err("`expect reply` needs an earlier `cmd` whose reply it checks".into());
            }
        }
        if let Stmt::Expect(Expect::NoEvent { since_ms: Some(since), .. }) = &stmt {
            if *since > at_ms {
                return Err(format!(
                    "`since {}` is after this statement's time {time}: nothing can have happened yet",
                    format_duration(*since)
                ));
            }
        }
        self.steps.push(Step { at_ms, line, stmt });
        Ok(())
    }
}
