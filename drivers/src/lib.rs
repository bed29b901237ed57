//! The real drivers of baton: what the decision core's `Execute` outputs do on a server.
//!
//! In: an action's description: an exec script ([`exec::ScriptSpec`], its `CLP_*`
//! environment and its timeout), a floating IP ([`floating_ip::FloatingIpSpec`]), a
//! systemd unit ([`service::ServiceSpec`]), a monitor ([`monitor::MonitorSpec`], for
//! `MonitorCheck`) or a resolver's targets ([`probe`], for `NpProbe`). Out: an outcome
//! that maps to the core's `ActionResult`, fed back as `Input::ActionDone`.
//! Environmental failures are outcomes, never errors or panics. See `docs/drivers.md`.
//!
//! [`icmp`] (echo over a raw or ping socket) and [`http`] (a minimal HTTP/1.1 client)
//! serve both the monitors and the probes; [`arp`] (native ARP on a packet socket) serves
//! the floating IP driver.

pub mod arp;
pub mod exec;
pub mod floating_ip;
pub mod http;
pub mod icmp;
pub mod margin_watch;
pub mod monitor;
pub mod output;
pub mod probe;
pub mod service;

pub use exec::{resolve, run_script, ScriptOutcome, ScriptResult, ScriptSpec};
pub use monitor::{check, CheckOutcome, MonitorSpec};
pub use service::ServiceSpec;
