//! The scenario language (`scenario.md`): timed scripts of what happens to a cluster
//! and what must be true afterwards.
//!
//! In: a scenario file's name and text, then the cluster file it names. Out: a typed
//! [`Scenario`] for the player, or every problem as a [`ScenarioError`]
//! (`FILE:LINE: reason`). Two passes, so syntax errors show even when the cluster
//! file is broken:
//!
//! 1. [`parse()`]: syntax only (words, times, sizes, knobs, statement shapes);
//! 2. [`check()`]: every name resolved against the loaded [`baton_core::Config`].
//!
//! ```text
//! let sc = scenario::parse("fail.scenario", &text)?;          // syntax
//! let cfg = /* load sc.config_file(path) */;
//! let errors = scenario::check(&sc, "fail.scenario", &cfg);    // names
//! ```
//!
//! Files: `lexer` (words, durations, sizes), `parse` (file-level rules), `stmt` (one
//! statement), `ast` (the types), `render` (back to text), `check` (names). The user
//! guide is `docs/scenarios.md`.

mod ast;
mod check;
mod lexer;
mod parse;
mod render;
mod stmt;
#[cfg(test)]
mod tests;

pub use ast::{
    ClockKnob, CrashPoint, DiskAction, Expect, Knob, Knobs, MirrorState, MonitorHealth, MonitorState, ReplyState,
    ResourceState, Scenario, ScenarioError, ScriptPhase, ScriptRun, SerialAction, ServerState, Step, Stmt, Target,
    TargetState,
};
pub use check::check;
pub use lexer::{
    format_bandwidth, format_duration, format_ppm, format_signed_duration, format_size, parse_bandwidth,
    parse_duration_ms, parse_ppm, parse_scenario_duration_ms, parse_signed_duration_ms, parse_size_bytes,
    MAX_SCENARIO_MS,
};
pub use parse::parse;
pub use stmt::DEFAULT_PROCESS;
