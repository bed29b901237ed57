//! The engine process (`baton mirror-engine`): one per mirror and server, supervised by
//! the daemon (docs/mirror.md, "The engine process").
//!
//! In: an [`EngineSpec`] (the devices, this server's listen addresses and the peer's on
//! the mirror connect networks, the key, the mode, the control socket's path), then
//! requests on the control socket ([`control`]): `status`, `activate`, `deactivate`,
//! `lease`, `rebuild`. Out: the side served as the role says (standby: a [`Secondary`]
//! listening; active: a [`Primary`] connecting, behind a [`Leased`] volume), and its
//! status.
//!
//! The engine starts as the standby: it becomes active only when the daemon says so
//! (`activate`, with a lease), because only the core decides which side may be active
//! (B100–B117).

pub mod control;
pub mod lease;
pub mod publish;
mod role;

use std::net::SocketAddr;
use std::path::PathBuf;

pub use publish::FrontSpec;
pub use role::{Engine, Role};

use crate::engine::Mode;

/// Everything one engine process needs, resolved from the cluster file by the caller.
#[derive(Clone, Debug)]
pub struct EngineSpec {
    /// The mirror resource's name.
    pub mirror: String,
    pub data: PathBuf,
    pub meta: PathBuf,
    /// This server's address on each mirror connect network, with the mirror's port:
    /// where the standby listens.
    pub listen: Vec<SocketAddr>,
    /// The peer's, same order: where the active side connects.
    pub peers: Vec<SocketAddr>,
    /// Derived from the cluster secret (`MIRROR_LINK_LABEL` in the runtime's transport).
    pub key: Vec<u8>,
    pub mode: Mode,
    /// The control socket (`STATE_DIR/mirror/NAME.sock`).
    pub socket: PathBuf,
    /// Serve `write`, `read` and `flush` on the control socket (tests only: the
    /// application's path is the front end).
    pub test_io: bool,
    /// Where the active side serves its volume as a block device (the front end) and
    /// publishes it; `None`: no device (tests that write through the control socket).
    pub front: Option<FrontSpec>,
}

/// Serves the engine until the process is killed: binds the control socket, starts as
/// the standby, answers requests. Returns only on a start-up error.
pub fn run(spec: EngineSpec) -> std::io::Result<()> {
    let socket = spec.socket.clone();
    let test_io = spec.test_io;
    let engine = std::sync::Arc::new(Engine::start(spec)?);
    control::serve(&socket, engine, test_io)
}
