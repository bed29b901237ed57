//! baton-core: the pure decision core of baton.
//!
//! Everything a server's cluster service decides is decided here, as a function of
//! the configuration, the inputs so far and a seed. No I/O, no clock, no randomness,
//! no threads, no `HashMap` iteration order: time arrives with each input, effects
//! leave as outputs. The runtime daemon and the simulator drive the same [`Node`].

pub mod command;
pub mod config;
pub mod event;
mod event_kind;
pub mod io;
pub mod node;
pub mod ready;
pub mod record;
pub mod replay;
pub mod script;

pub use command::Command;
pub use config::Config;
pub use event::{Event, EventKind, Severity};
pub use io::{Action, ActionResult, Input, Output};
pub use node::Node;
pub use ready::{Act, Durable, Ready};
