//! The real drivers of baton: what the decision core's `Execute` outputs do on a server.
//!
//! In: an action's description: an exec script ([`exec::ScriptSpec`], its `CLP_*`
//! environment and its timeout), a floating IP ([`floating_ip::FloatingIpSpec`]), a
//! systemd unit ([`service::ServiceSpec`]), a shared disk ([`disk::DiskSpec`]), a monitor ([`monitor::MonitorSpec`], for
//! `MonitorCheck`) or a resolver's targets ([`probe`], for `NpProbe`). Out: an outcome
//! that maps to the core's `ActionResult`, fed back as `Input::ActionDone`.
//! Environmental failures are outcomes, never errors or panics. See `docs/drivers.md`.
//!
//! [`icmp`] (echo over a raw or ping socket) and [`http`] (a minimal HTTP/1.1 client)
//! serve both the monitors and the probes; [`arp`] (native ARP on a packet socket) serves
//! the floating IP driver. [`disk_slot`] (the slot format) and [`slot_device`] (direct
//! I/O on the shared device under a deadline) serve the disk heartbeat and the `disk`
//! resolver.

pub mod arp;
pub mod disk;
pub mod disk_slot;
pub mod exec;
pub mod floating_ip;
pub mod http;
pub mod icmp;
pub mod margin_watch;
pub mod monitor;
pub mod output;
pub mod probe;
pub mod serial_line;
pub mod service;
pub mod slot_device;

pub use exec::{resolve, run_script, ScriptOutcome, ScriptResult, ScriptSpec};
pub use monitor::{check, CheckOutcome, MonitorSpec};
pub use service::ServiceSpec;
