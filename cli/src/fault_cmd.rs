//! `baton resource fail-activation R --times N [--on S]` (issue 15 item 2): the next N
//! activations of a resource fail without running its driver, so the operator sees the
//! real activation ladder (retry, failover, final action) run. The monitor side (`baton
//! monitor fail|ok`) lives with the other monitor commands in `control_cmd`.
//!
//! In: the words. Out: an operator command to the local daemon (the node checks the
//! safety rule and routes it; docs/day-two.md); exit 0 accepted, 1 refused, 2 unusable.

use crate::control_cmd::{opt, send, w, Ctl};
use std::process::ExitCode;

/// `baton resource …`.
#[derive(clap::Subcommand, Clone, Debug)]
pub enum ResourceCmd {
    /// Pseudo-failure: the resource's next N activations fail (N = 0 ends it); refused
    /// unless every server of its group's policy is online and no group is in an operation.
    FailActivation {
        /// The resource's name in the cluster file.
        #[arg(value_name = "RESOURCE")]
        resource: String,
        /// How many activations fail (0 to 100; 0 ends the test).
        #[arg(long, value_name = "N")]
        times: u32,
        /// Only on this server (default: every server of the group's policy).
        #[arg(long, value_name = "SERVER")]
        on: Option<String>,
        #[command(flatten)]
        ctl: Ctl,
    },
}

pub fn run(c: &ResourceCmd) -> ExitCode {
    match c {
        ResourceCmd::FailActivation { resource, times, on, ctl } => {
            let mut words = w(&["resource", "fail-activation", resource, "--times", &times.to_string()]);
            opt(&mut words, "--on", on.as_ref());
            send(words, ctl)
        }
    }
}
