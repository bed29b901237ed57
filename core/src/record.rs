//! What a server's event log holds (architecture § The event log): every input,
//! appended before it is handled, then the outputs it produced, in order; and at each
//! service start the configuration the run uses, so a log replays on its own.
//!
//! In: nothing (plain data, serialised with MessagePack by the log writer). Out:
//! [`LogRecord`]. Replaying the `Input` records of a run through a fresh `Node` must
//! give exactly its `Output` records: that is what `baton log replay` checks.

use crate::config::Ms;
use crate::io::{Input, Output};
use serde::{Deserialize, Serialize};

/// One record of a server's log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum LogRecord {
    /// A run of the cluster service begins on `server` with this configuration.
    RunStart { server: String, config_name: String, config_text: String, at_ms: Ms },
    /// An input, logged before the node handles it.
    Input { at_ms: Ms, input: Input },
    /// An output of the input logged last.
    Output { at_ms: Ms, output: Output },
}

impl LogRecord {
    /// The instant of the record.
    pub fn at_ms(&self) -> Ms {
        match self {
            LogRecord::RunStart { at_ms, .. } | LogRecord::Input { at_ms, .. } | LogRecord::Output { at_ms, .. } => {
                *at_ms
            }
        }
    }
}
