//! baton-sim: the deterministic simulator. A discrete-event world of servers,
//! networks, disks, resources and ping targets drives one `baton_core::Node` per
//! server; scenario files script the world and state expectations; invariants are
//! checked as the run goes.
//!
//! Modules: `world` (the simulated environment), `clock` (each machine's clock and
//! the time its node sees), `engine` (the event loop and the
//! nodes' outputs), `actions` (what actions do in the world), `happen` (scenario
//! happenings), `invariants` (checks as the run goes), `panics` (core panics as run
//! failures), `input_file` (reading operator files, bounded), `expect` (expectations), `player` (running a scenario, the report),
//! `scenario` (the language).

mod actions;
pub mod clock;
pub mod engine;
mod expect;
pub mod explore;
mod happen;
pub mod input_file;
mod invariants;
mod panics;
pub mod player;
pub mod scenario;
pub mod world;

pub use player::{load, play, play_with, run_file, run_file_traced, Report};
