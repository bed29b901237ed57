//! The real drivers of baton: what the decision core's `Execute` outputs do on a server.
//!
//! In: an action's description (for now an exec script: [`exec::ScriptSpec`], its
//! `CLP_*` environment and its timeout). Out: an outcome that maps to the core's
//! `ActionResult`, fed back as `Input::ActionDone`. Environmental failures are outcomes,
//! never errors or panics. See `docs/drivers.md`.

pub mod exec;
pub mod floating_ip;
pub mod output;

pub use exec::{resolve, run_script, ScriptOutcome, ScriptResult, ScriptSpec};
