//! The floating IP driver: brings an IPv4 address of a `floating-ip` resource up on this
//! server and down again, and tells whether it is here (for the floating-ip monitor).
//!
//! In: a [`FloatingIpSpec`] (the address and its prefix length, the interface or `None`
//! for "the interface holding an address in the same subnet", and how many gratuitous
//! ARPs to send), made from the resource with [`FloatingIpSpec::from_resource`].
//! Out: `Ok` or a [`FipError`]; [`action_result`] turns the result into the core's
//! [`ActionResult`].
//!
//! Addresses are read, added and removed through rtnetlink (the `rtnetlink` crate), in the
//! network namespace of the calling process. ARP goes through `arping` from Debian's
//! `iputils-arping` (a raw `AF_PACKET` socket needs `unsafe` or a heavy crate):
//!
//! * [`activate`]: if the address is already on this server, only announce it again.
//!   Otherwise, duplicate address detection first (`arping -D`: an ARP probe from
//!   `0.0.0.0`, so no neighbour's cache changes): if any host answers for the address,
//!   refuse with [`FipError::InUse`]. Then add the address, then send
//!   [`FloatingIpSpec::arp_count`] gratuitous ARPs (`arping -U`, one a second) so that
//!   neighbours update their caches to this server's MAC address.
//! * [`deactivate`]: remove the address from every interface holding it; an absent
//!   address is success (idempotent).
//! * [`is_present`]: whether an interface of this server holds the address.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::process::Stdio;
use std::time::Duration;

use baton_core::config::model::ResourceKind;
use baton_core::io::ActionResult;
use futures::TryStreamExt;
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::LinkAttribute;
use netlink_packet_route::AddressFamily;
use tokio::process::Command;

/// Probes sent by the duplicate address detection (one a second).
pub const DAD_PROBES: u32 = 2;

/// How long the duplicate address detection waits for an answer, in seconds.
pub const DAD_WAIT_SECS: u32 = 2;

/// Slack on top of `arping`'s own deadline before it is given up on (killed).
const ARPING_SLACK: Duration = Duration::from_secs(3);

/// `errno` values seen in netlink answers (the kernel sends them negated).
const EEXIST: i32 = 17;
const ENODEV: i32 = 19;
const EADDRNOTAVAIL: i32 = 99;

/// A floating IP, as the driver needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FloatingIpSpec {
    pub address: Ipv4Addr,
    pub prefix_len: u8,
    /// `None`: the interface holding an address in the same subnet.
    pub interface: Option<String>,
    /// Gratuitous ARPs sent after adding the address (0: none).
    pub arp_count: u32,
}

/// Why an operation failed. Its `Display` is the reason given to the core.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FipError {
    /// The resource is of another kind (its kind name).
    NotFloatingIp(&'static str),
    /// The address is not `A.B.C.D/N` with an IPv4 address and `N` ≤ 32.
    BadAddress(String),
    /// No interface was named and none holds an address in the address's subnet.
    NoInterface { address: Ipv4Addr, prefix_len: u8 },
    /// The named interface does not exist.
    UnknownInterface(String),
    /// Another host answered the ARP probe for the address (duplicate address detection).
    InUse { address: Ipv4Addr, interface: String, answer: String },
    /// A netlink request failed.
    Netlink(String),
    /// `arping` could not be run or failed (not an answer to the probe).
    Arping(String),
}

impl fmt::Display for FipError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FipError::NotFloatingIp(kind) => write!(f, "not a floating-ip resource but {kind}"),
            FipError::BadAddress(a) => write!(f, "bad floating address {a:?}: expected A.B.C.D/N"),
            FipError::NoInterface { address, prefix_len } => {
                write!(f, "no interface holds an address in the subnet of {address}/{prefix_len}; name one with `interface`")
            }
            FipError::UnknownInterface(name) => write!(f, "no interface {name:?}"),
            FipError::InUse { address, interface, answer } => {
                write!(f, "{address} is in use: another host answered the ARP probe on {interface} ({answer})")
            }
            FipError::Netlink(why) => write!(f, "netlink: {why}"),
            FipError::Arping(why) => write!(f, "arping: {why}"),
        }
    }
}

impl std::error::Error for FipError {}

impl FloatingIpSpec {
    /// The spec of a `floating-ip` resource.
    pub fn from_resource(kind: &ResourceKind) -> Result<FloatingIpSpec, FipError> {
        match kind {
            ResourceKind::FloatingIp { address, interface, arp_count } => {
                let (address, prefix_len) = parse_address(address)?;
                Ok(FloatingIpSpec { address, prefix_len, interface: interface.clone(), arp_count: *arp_count })
            }
            ResourceKind::VirtualIp { .. }
            | ResourceKind::Exec { .. }
            | ResourceKind::Service { .. }
            | ResourceKind::Disk { .. }
            | ResourceKind::MirrorDisk(_)
            | ResourceKind::HybridDisk(_) => Err(FipError::NotFloatingIp(kind.name())),
        }
    }
}

/// `"10.0.0.12/24"` → `(10.0.0.12, 24)`. A missing prefix length is refused: the subnet
/// decides the interface and the prefix route.
pub fn parse_address(text: &str) -> Result<(Ipv4Addr, u8), FipError> {
    let bad = || FipError::BadAddress(text.to_string());
    let (addr, prefix) = text.trim().split_once('/').ok_or_else(bad)?;
    let addr: Ipv4Addr = addr.parse().map_err(|_| bad())?;
    let prefix: u8 = prefix.parse().map_err(|_| bad())?;
    if prefix > 32 {
        return Err(bad());
    }
    Ok((addr, prefix))
}

/// Whether `a` and `b` are in the same subnet of `prefix_len` bits.
pub fn same_subnet(a: Ipv4Addr, b: Ipv4Addr, prefix_len: u8) -> bool {
    let mask = if prefix_len == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix_len.min(32))) };
    (u32::from(a) & mask) == (u32::from(b) & mask)
}

/// The core's view of a driver result: `Ok`, or `Failed` with the error as reason.
pub fn action_result(result: &Result<(), FipError>) -> ActionResult {
    match result {
        Ok(()) => ActionResult::Ok,
        Err(e) => ActionResult::Failed(e.to_string()),
    }
}

/// Brings the address up here: duplicate address detection, add, gratuitous ARP.
pub async fn activate(spec: &FloatingIpSpec) -> Result<(), FipError> {
    let nl = Netlink::open()?;
    let held = nl.addresses_of(spec.address).await?;
    let interface = if let Some(msg) = held.first() {
        // Already here (a repeated activation): do not probe (we would not see ourselves
        // answer), only announce it again.
        nl.link_name(msg.header.index).await?
    } else {
        let (index, name) = nl.interface_for(spec).await?;
        probe(spec.address, &name).await?;
        let added = nl.handle.address().add(index, IpAddr::V4(spec.address), spec.prefix_len).execute().await;
        match added {
            Ok(()) => {}
            Err(e) if errno(&e) == Some(EEXIST) => {}
            Err(e) => return Err(FipError::Netlink(format!("adding {}/{} on {name}: {e}", spec.address, spec.prefix_len))),
        }
        name
    };
    announce(spec.address, &interface, spec.arp_count).await
}

/// Takes the address down here, from every interface holding it; absent is success.
pub async fn deactivate(spec: &FloatingIpSpec) -> Result<(), FipError> {
    let nl = Netlink::open()?;
    for msg in nl.addresses_of(spec.address).await? {
        let index = msg.header.index;
        match nl.handle.address().del(msg).execute().await {
            Ok(()) => {}
            Err(e) if matches!(errno(&e), Some(EADDRNOTAVAIL | ENODEV)) => {}
            Err(e) => return Err(FipError::Netlink(format!("removing {} from interface #{index}: {e}", spec.address))),
        }
    }
    Ok(())
}

/// Whether an interface of this server holds the address.
pub async fn is_present(spec: &FloatingIpSpec) -> Result<bool, FipError> {
    let nl = Netlink::open()?;
    Ok(!nl.addresses_of(spec.address).await?.is_empty())
}

/// The positive `errno` of a netlink error answer, if it is one.
fn errno(e: &rtnetlink::Error) -> Option<i32> {
    if let rtnetlink::Error::NetlinkError(msg) = e {
        Some(msg.raw_code().abs())
    } else {
        None
    }
}

/// The IPv4 address of an address message (`IFA_LOCAL`, else `IFA_ADDRESS`).
fn ipv4_of(msg: &AddressMessage) -> Option<Ipv4Addr> {
    if msg.header.family != AddressFamily::Inet {
        return None;
    }
    let mut address = None;
    for attr in &msg.attributes {
        if let AddressAttribute::Local(IpAddr::V4(a)) = attr {
            return Some(*a);
        }
        if let AddressAttribute::Address(IpAddr::V4(a)) = attr {
            address = Some(*a);
        }
    }
    address
}

/// A netlink connection; its background task ends with it.
struct Netlink {
    handle: rtnetlink::Handle,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Netlink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Netlink {
    fn open() -> Result<Netlink, FipError> {
        let (conn, handle, _) =
            rtnetlink::new_connection().map_err(|e| FipError::Netlink(format!("opening a socket: {e}")))?;
        Ok(Netlink { handle, task: tokio::spawn(conn) })
    }

    /// Every IPv4 address of every interface.
    async fn all_ipv4(&self) -> Result<Vec<(Ipv4Addr, AddressMessage)>, FipError> {
        let mut out = Vec::new();
        let mut stream = self.handle.address().get().execute();
        while let Some(msg) = stream.try_next().await.map_err(|e| FipError::Netlink(format!("listing addresses: {e}")))? {
            if let Some(a) = ipv4_of(&msg) {
                out.push((a, msg));
            }
        }
        Ok(out)
    }

    /// The address messages holding `address`, on any interface.
    async fn addresses_of(&self, address: Ipv4Addr) -> Result<Vec<AddressMessage>, FipError> {
        Ok(self.all_ipv4().await?.into_iter().filter(|(a, _)| *a == address).map(|(_, m)| m).collect())
    }

    /// The interface to add the address on: the named one, or the one holding an
    /// address (other than the floating one) in its subnet.
    async fn interface_for(&self, spec: &FloatingIpSpec) -> Result<(u32, String), FipError> {
        if let Some(name) = &spec.interface {
            let mut stream = self.handle.link().get().match_name(name.clone()).execute();
            return match stream.try_next().await {
                Ok(Some(link)) => Ok((link.header.index, name.clone())),
                Ok(None) => Err(FipError::UnknownInterface(name.clone())),
                Err(e) if errno(&e) == Some(ENODEV) => Err(FipError::UnknownInterface(name.clone())),
                Err(e) => Err(FipError::Netlink(format!("looking up interface {name}: {e}"))),
            };
        }
        let found = self
            .all_ipv4()
            .await?
            .into_iter()
            .find(|(a, _)| *a != spec.address && same_subnet(*a, spec.address, spec.prefix_len));
        match found {
            Some((_, msg)) => Ok((msg.header.index, self.link_name(msg.header.index).await?)),
            None => Err(FipError::NoInterface { address: spec.address, prefix_len: spec.prefix_len }),
        }
    }

    async fn link_name(&self, index: u32) -> Result<String, FipError> {
        let mut stream = self.handle.link().get().match_index(index).execute();
        let link = stream
            .try_next()
            .await
            .map_err(|e| FipError::Netlink(format!("looking up interface #{index}: {e}")))?
            .ok_or_else(|| FipError::Netlink(format!("no interface #{index}")))?;
        link.attributes
            .iter()
            .find_map(|a| if let LinkAttribute::IfName(n) = a { Some(n.clone()) } else { None })
            .ok_or_else(|| FipError::Netlink(format!("interface #{index} has no name")))
    }
}

/// What `arping` did.
struct ArpingRun {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

async fn arping(args: &[String], deadline_secs: u32) -> Result<ArpingRun, FipError> {
    let mut cmd = Command::new("arping");
    cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    let child = cmd.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            FipError::Arping("not found (install Debian's iputils-arping)".to_string())
        } else {
            FipError::Arping(format!("cannot start: {e}"))
        }
    })?;
    let limit = Duration::from_secs(u64::from(deadline_secs)) + ARPING_SLACK;
    let out = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .map_err(|_| FipError::Arping(format!("still running after {}s; killed", limit.as_secs())))?
        .map_err(|e| FipError::Arping(format!("waiting: {e}")))?;
    Ok(ArpingRun {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// The number in `arping`'s `Received N response(s)` line.
fn responses(stdout: &str) -> Option<u32> {
    stdout.lines().find_map(|l| l.trim().strip_prefix("Received ")?.split_whitespace().next()?.parse().ok())
}

/// Duplicate address detection: `Err(InUse)` if a host answers an ARP probe for `address`.
async fn probe(address: Ipv4Addr, interface: &str) -> Result<(), FipError> {
    let args = ["-D", "-I", interface, "-c", &DAD_PROBES.to_string(), "-w", &DAD_WAIT_SECS.to_string(), &address.to_string()]
        .map(str::to_string);
    let run = arping(&args, DAD_WAIT_SECS).await?;
    match (run.code, responses(&run.stdout)) {
        (Some(0), _) => Ok(()),
        (Some(1), Some(n)) if n > 0 => {
            let answer = run.stdout.lines().find(|l| l.contains("reply from")).unwrap_or("").trim().to_string();
            Err(FipError::InUse { address, interface: interface.to_string(), answer })
        }
        (code, _) => Err(FipError::Arping(format!(
            "probe on {interface} failed (exit {code:?}): {}",
            run.stderr.trim()
        ))),
    }
}

/// Gratuitous ARP: `count` unsolicited ARP requests for `address` from `address`.
async fn announce(address: Ipv4Addr, interface: &str, count: u32) -> Result<(), FipError> {
    if count == 0 {
        return Ok(());
    }
    let a = address.to_string();
    let args = ["-U", "-I", interface, "-c", &count.to_string(), "-s", &a, &a].map(str::to_string);
    let run = arping(&args, count).await?;
    match run.code {
        Some(0) => Ok(()),
        code => Err(FipError::Arping(format!(
            "gratuitous ARP on {interface} failed (exit {code:?}; the address stays): {}",
            run.stderr.trim()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_resource() {
        let kind = ResourceKind::FloatingIp { address: "10.0.0.12/24".into(), interface: Some("eth1".into()), arp_count: 3 };
        let spec = FloatingIpSpec::from_resource(&kind).unwrap();
        assert_eq!(
            spec,
            FloatingIpSpec { address: Ipv4Addr::new(10, 0, 0, 12), prefix_len: 24, interface: Some("eth1".into()), arp_count: 3 }
        );
        let other = ResourceKind::VirtualIp { address: "10.0.0.1".into() };
        assert_eq!(FloatingIpSpec::from_resource(&other), Err(FipError::NotFloatingIp("virtual-ip")));
    }

    #[test]
    fn refuses_bad_addresses() {
        for bad in ["10.0.0.12", "10.0.0.12/33", "10.0.0/24", "fe80::1/64", "10.0.0.12/x", ""] {
            assert_eq!(parse_address(bad), Err(FipError::BadAddress(bad.to_string())), "{bad}");
        }
        assert_eq!(parse_address(" 192.168.1.5/32 "), Ok((Ipv4Addr::new(192, 168, 1, 5), 32)));
    }

    #[test]
    fn subnets() {
        let a = Ipv4Addr::new(10, 0, 0, 12);
        assert!(same_subnet(a, Ipv4Addr::new(10, 0, 0, 1), 24));
        assert!(!same_subnet(a, Ipv4Addr::new(10, 0, 1, 1), 24));
        assert!(same_subnet(a, Ipv4Addr::new(10, 0, 1, 1), 16));
        assert!(same_subnet(a, Ipv4Addr::new(192, 0, 0, 1), 0));
        assert!(!same_subnet(a, Ipv4Addr::new(10, 0, 0, 13), 32));
    }

    #[test]
    fn reads_arping_counts() {
        let out = "ARPING 10.0.0.5 from 0.0.0.0 eth0\nUnicast reply from 10.0.0.5 [4E:15:6C:69:3E:91]  0.563ms\nSent 1 probes (1 broadcast(s))\nReceived 1 response(s)\n";
        assert_eq!(responses(out), Some(1));
        assert_eq!(responses("Sent 2 probes (2 broadcast(s))\nReceived 0 response(s)\n"), Some(0));
        assert_eq!(responses("arping: Device nope not available.\n"), None);
    }

    #[test]
    fn reasons() {
        let e = FipError::InUse { address: Ipv4Addr::new(10, 0, 0, 5), interface: "eth0".into(), answer: "x".into() };
        assert_eq!(
            action_result(&Err(e)),
            ActionResult::Failed("10.0.0.5 is in use: another host answered the ARP probe on eth0 (x)".into())
        );
        assert_eq!(action_result(&Ok(())), ActionResult::Ok);
    }
}
