//! The floating IP driver: brings an IPv4 address of a `floating-ip` resource up on this
//! server and down again, and tells whether it is here (for the floating-ip monitor).
//!
//! In: a [`FloatingIpSpec`] (the address and its prefix length, the interface or `None`
//! for "the interface holding an address in the same subnet", how many gratuitous ARPs to
//! send and how long the duplicate address detection waits), made from the resource with
//! [`FloatingIpSpec::from_resource`]. Out: `Ok` or a [`FipError`]; [`action_result`] turns
//! the result into the core's [`ActionResult`]. [`activate_with_follow_up`] also gives the
//! [`FollowUp`] of the gratuitous ARPs still to send, and in the end how they went
//! ([`FollowUpEnd`]).
//!
//! Addresses are read, added and removed through rtnetlink (the `rtnetlink` crate), in the
//! network namespace of the calling process. ARP is sent and read natively on a packet
//! socket ([`crate::arp`]), so detection costs [`FloatingIpSpec::probe_wait_ms`] and not
//! the whole seconds `arping` counts in:
//!
//! * [`activate`]: if the address is already on this server, only announce it again.
//!   Otherwise, duplicate address detection first (an RFC 5227 ARP probe from `0.0.0.0`,
//!   so no neighbour's cache changes, waiting `probe_wait_ms`): if any host speaks for the
//!   address, refuse with [`FipError::InUse`]. Then add the address and send the first
//!   gratuitous ARP, so that neighbours point the address at this server's MAC address,
//!   and return. The other `arp_count - 1` follow one a second from a spawned task, which
//!   stops early if the address leaves the interface.
//! * [`activate_after_margin`]: the same at a takeover's T (B44), when a
//!   [`MarginWatches`] watch has probed the address since the verdict V: the address is
//!   added at once if nobody answered in the last probe window, else as soon as a window
//!   passes quiet; still answered one window after the start, it is refused.
//! * [`deactivate`]: remove the address from every interface holding it; an absent
//!   address is success (idempotent).
//! * [`is_present`]: whether an interface of this server holds the address.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use baton_core::config::model::ResourceKind;
use baton_core::io::ActionResult;
use futures::TryStreamExt;
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::LinkAttribute;
use netlink_packet_route::AddressFamily;
use tokio::task::JoinHandle;

use crate::arp;
use crate::margin_watch::MarginWatches;

/// How long the duplicate address detection listens for another holder of the address,
/// in milliseconds, unless the resource's `probe_window` says otherwise: the core's
/// default (20 ms; a host on the LAN answers an ARP probe in well under a millisecond,
/// the kernel answers, not a process).
pub const DEFAULT_PROBE_WAIT_MS: u64 = baton_core::config::DEFAULT_PROBE_WINDOW_MS;

/// Time between two gratuitous ARPs of one activation (the usual cadence of `arping -U`
/// and of the kernel's own announcements): the later ones catch a neighbour that missed
/// the first without flooding the segment.
pub const ANNOUNCE_INTERVAL: Duration = Duration::from_secs(1);

/// `errno` values seen in netlink answers (the kernel sends them negated).
const EEXIST: i32 = 17;
pub(crate) const ENODEV: i32 = 19;
const EADDRNOTAVAIL: i32 = 99;

/// A floating IP, as the driver needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FloatingIpSpec {
    pub address: Ipv4Addr,
    pub prefix_len: u8,
    /// `None`: the interface holding an address in the same subnet.
    pub interface: Option<String>,
    /// Gratuitous ARPs sent after adding the address (0: none): the first at once, the
    /// others one a second in the background.
    pub arp_count: u32,
    /// How long the duplicate address detection waits for another holder to answer.
    pub probe_wait_ms: u64,
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
    /// Sending or reading ARP failed (not an answer to the probe).
    Arp(String),
}

impl fmt::Display for FipError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FipError::NotFloatingIp(kind) => write!(f, "not a floating-ip resource but {kind}"),
            FipError::BadAddress(a) => write!(f, "bad floating address {a:?}: expected A.B.C.D/N"),
            FipError::NoInterface { address, prefix_len } => {
                write!(
                    f,
                    "no interface holds an address in the subnet of {address}/{prefix_len}; name one with `interface`"
                )
            }
            FipError::UnknownInterface(name) => write!(f, "no interface {name:?}"),
            FipError::InUse { address, interface, answer } => {
                write!(f, "{address} is in use: another host answered the ARP probe on {interface} ({answer})")
            }
            FipError::Netlink(why) => write!(f, "netlink: {why}"),
            FipError::Arp(why) => write!(f, "ARP: {why}"),
        }
    }
}

impl std::error::Error for FipError {}

impl FloatingIpSpec {
    /// The spec of a `floating-ip` resource.
    pub fn from_resource(kind: &ResourceKind) -> Result<FloatingIpSpec, FipError> {
        match kind {
            ResourceKind::FloatingIp { address, interface, arp_count, probe_window_ms } => {
                let (address, prefix_len) = parse_address(address)?;
                Ok(FloatingIpSpec {
                    address,
                    prefix_len,
                    interface: interface.clone(),
                    arp_count: *arp_count,
                    probe_wait_ms: *probe_window_ms,
                })
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

/// Brings the address up here: duplicate address detection, add, the first gratuitous
/// ARP. The other gratuitous ARPs go on in the background (a spawned task, so this must
/// run inside a tokio runtime that outlives them; see [`activate_with_follow_up`]).
pub async fn activate(spec: &FloatingIpSpec) -> Result<(), FipError> {
    // Dropping the follow-up detaches its task: the announcements go on.
    activate_with_follow_up(spec).await.map(drop)
}

/// [`activate`], giving the [`FollowUp`] of the gratuitous ARPs still to send: a process
/// that exits after activating (the `fip` example) waits for it, or they die with its
/// runtime.
pub async fn activate_with_follow_up(spec: &FloatingIpSpec) -> Result<FollowUp, FipError> {
    activate_inner(spec, None).await
}

/// [`activate`] at a takeover's T (B44): when a margin watch of `watches` has covered
/// the address up to now, the address is added as soon as nobody answered for it in the
/// last probe window (at once when the old owner has been gone that long); an address
/// still answered a probe window after the activation began fails it (B70). Without a
/// covering watch, as [`activate`].
pub async fn activate_after_margin(spec: &FloatingIpSpec, watches: &MarginWatches) -> Result<(), FipError> {
    activate_after_margin_with_follow_up(spec, watches).await.map(drop)
}

/// [`activate_after_margin`], giving the [`FollowUp`] of the later gratuitous ARPs.
pub async fn activate_after_margin_with_follow_up(
    spec: &FloatingIpSpec,
    watches: &MarginWatches,
) -> Result<FollowUp, FipError> {
    activate_inner(spec, Some(watches)).await
}

/// Waits, probing, until nobody has answered for the address during one probe window
/// counted from `quiet_since` (B44); an answer later than one window after the start
/// refuses the address.
async fn await_quiet(spec: &FloatingIpSpec, interface: &str, mut quiet_since: Instant) -> Result<(), FipError> {
    let window = Duration::from_millis(spec.probe_wait_ms);
    let start = Instant::now();
    loop {
        let add_at = quiet_since + window;
        let now = Instant::now();
        if add_at <= now {
            return Ok(());
        }
        let answer = arp::probe(interface, spec.address, add_at - now)
            .await
            .map_err(|e| FipError::Arp(format!("probe for {} on {interface} failed: {e}", spec.address)))?;
        let Some(answer) = answer else { return Ok(()) };
        let at = Instant::now();
        if at > start + window {
            return Err(FipError::InUse {
                address: spec.address,
                interface: interface.to_string(),
                answer: answer.to_string(),
            });
        }
        quiet_since = at;
    }
}

async fn activate_inner(spec: &FloatingIpSpec, watches: Option<&MarginWatches>) -> Result<FollowUp, FipError> {
    let nl = Netlink::open()?;
    let held = nl.addresses_of(spec.address).await?;
    let (index, interface) = if let Some(msg) = held.first() {
        // Already here (a repeated activation): do not probe (we would not see ourselves
        // answer), only announce it again.
        (msg.header.index, nl.link_name(msg.header.index).await?)
    } else {
        let (index, name) = nl.interface_for(spec).await?;
        match watches.and_then(|w| w.quiet_since(spec.address, Instant::now())) {
            Some(quiet_since) => await_quiet(spec, &name, quiet_since).await?,
            None => {
                let wait = Duration::from_millis(spec.probe_wait_ms);
                let answer = arp::probe(&name, spec.address, wait)
                    .await
                    .map_err(|e| FipError::Arp(format!("probe for {} on {name} failed: {e}", spec.address)))?;
                if let Some(answer) = answer {
                    return Err(FipError::InUse { address: spec.address, interface: name, answer: answer.to_string() });
                }
            }
        }
        let added = nl.handle.address().add(index, IpAddr::V4(spec.address), spec.prefix_len).execute().await;
        match added {
            Ok(()) => {}
            Err(e) if errno(&e) == Some(EEXIST) => {}
            Err(e) => {
                return Err(FipError::Netlink(format!("adding {}/{} on {name}: {e}", spec.address, spec.prefix_len)))
            }
        }
        (index, name)
    };
    drop(nl);
    if spec.arp_count == 0 {
        return Ok(FollowUp { task: None, planned: 0 });
    }
    arp::announce(&interface, spec.address).await.map_err(|e| {
        FipError::Arp(format!("gratuitous ARP for {} on {interface} failed (the address stays): {e}", spec.address))
    })?;
    let remaining = spec.arp_count - 1;
    if remaining == 0 {
        return Ok(FollowUp { task: None, planned: 0 });
    }
    let first_sent_at = tokio::time::Instant::now();
    let task = tokio::spawn(announce_later(spec.address, index, interface, remaining, first_sent_at));
    Ok(FollowUp { task: Some(task), planned: remaining })
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
pub(crate) fn errno(e: &rtnetlink::Error) -> Option<i32> {
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

/// A netlink connection; its background task ends with it. The monitors use it too.
pub(crate) struct Netlink {
    pub(crate) handle: rtnetlink::Handle,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Netlink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Netlink {
    pub(crate) fn open() -> Result<Netlink, FipError> {
        let (conn, handle, _) =
            rtnetlink::new_connection().map_err(|e| FipError::Netlink(format!("opening a socket: {e}")))?;
        Ok(Netlink { handle, task: tokio::spawn(conn) })
    }

    /// Every IPv4 address of every interface.
    async fn all_ipv4(&self) -> Result<Vec<(Ipv4Addr, AddressMessage)>, FipError> {
        let mut out = Vec::new();
        let mut stream = self.handle.address().get().execute();
        while let Some(msg) =
            stream.try_next().await.map_err(|e| FipError::Netlink(format!("listing addresses: {e}")))?
        {
            if let Some(a) = ipv4_of(&msg) {
                out.push((a, msg));
            }
        }
        Ok(out)
    }

    /// The address messages holding `address`, on any interface.
    pub(crate) async fn addresses_of(&self, address: Ipv4Addr) -> Result<Vec<AddressMessage>, FipError> {
        Ok(self.all_ipv4().await?.into_iter().filter(|(a, _)| *a == address).map(|(_, m)| m).collect())
    }

    /// The interface to add the address on: the named one, or the one holding an
    /// address (other than the floating one) in its subnet.
    pub(crate) async fn interface_for(&self, spec: &FloatingIpSpec) -> Result<(u32, String), FipError> {
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

/// The gratuitous ARPs an activation left to send (the 2nd to the `arp_count`-th, one a
/// second). Dropping it leaves them going; [`FollowUp::finished`] waits for them.
#[derive(Debug)]
pub struct FollowUp {
    /// `None`: nothing was left to send.
    task: Option<JoinHandle<FollowUpEnd>>,
    /// How many the task was to send.
    planned: u32,
}

/// How the background gratuitous ARPs of an activation ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FollowUpEnd {
    /// All were sent (`sent` of them; 0 when none were left after the first).
    AllSent { sent: u32 },
    /// The address left the interface (deactivated, or removed by hand), so announcing
    /// it stopped after `sent` of `planned`: announcing an address we no longer hold
    /// would pull its traffic to us from the server that took it.
    AddressGone { sent: u32, planned: u32 },
    /// Checking the address or sending failed; announcing stopped after `sent` of
    /// `planned`. The address stays: the first announcement went out, and neighbours
    /// that missed it learn the MAC address when their cache entry expires.
    Failed { sent: u32, planned: u32, error: FipError },
}

impl FollowUp {
    /// Waits until the background announcements are over.
    pub async fn finished(self) -> FollowUpEnd {
        let Some(task) = self.task else {
            return FollowUpEnd::AllSent { sent: 0 };
        };
        match task.await {
            Ok(end) => end,
            // Only a panic or a runtime shutting down: how many went out is unknown.
            Err(e) => FollowUpEnd::Failed {
                sent: 0,
                planned: self.planned,
                error: FipError::Arp(format!("the gratuitous ARP task did not finish: {e}")),
            },
        }
    }
}

/// The background part of an activation: `planned` gratuitous ARPs for `address` on
/// `interface` (index `index`), [`ANNOUNCE_INTERVAL`] apart counting from the first one
/// (sent by the activation at `first_sent_at`). Before each, the address must still be on
/// that interface.
async fn announce_later(
    address: Ipv4Addr,
    index: u32,
    interface: String,
    planned: u32,
    first_sent_at: tokio::time::Instant,
) -> FollowUpEnd {
    let mut sent = 0;
    while sent < planned {
        // A fixed cadence from the first announcement: slow checks do not add up.
        tokio::time::sleep_until(first_sent_at + ANNOUNCE_INTERVAL * (sent + 1)).await;
        let still_here = match Netlink::open() {
            Ok(nl) => nl.addresses_of(address).await.map(|held| held.iter().any(|m| m.header.index == index)),
            Err(e) => Err(e),
        };
        match still_here {
            Ok(true) => {}
            Ok(false) => return FollowUpEnd::AddressGone { sent, planned },
            Err(error) => return FollowUpEnd::Failed { sent, planned, error },
        }
        if let Err(e) = arp::announce(&interface, address).await {
            let error = FipError::Arp(format!("gratuitous ARP for {address} on {interface} failed: {e}"));
            return FollowUpEnd::Failed { sent, planned, error };
        }
        sent += 1;
    }
    FollowUpEnd::AllSent { sent }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_resource() {
        let kind = ResourceKind::FloatingIp {
            address: "10.0.0.12/24".into(),
            interface: Some("eth1".into()),
            arp_count: 3,
            probe_window_ms: 35,
        };
        let spec = FloatingIpSpec::from_resource(&kind).unwrap();
        assert_eq!(
            spec,
            FloatingIpSpec {
                address: Ipv4Addr::new(10, 0, 0, 12),
                prefix_len: 24,
                interface: Some("eth1".into()),
                arp_count: 3,
                probe_wait_ms: 35,
            }
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
    fn reasons() {
        let answer =
            arp::ArpAnswer { mac: arp::Mac([0x4e, 0x15, 0x6c, 0x69, 0x3e, 0x91]), operation: arp::Operation::Reply };
        let e = FipError::InUse {
            address: Ipv4Addr::new(10, 0, 0, 5),
            interface: "eth0".into(),
            answer: answer.to_string(),
        };
        assert_eq!(
            action_result(&Err(e)),
            ActionResult::Failed(
                "10.0.0.5 is in use: another host answered the ARP probe on eth0 (ARP reply from 4e:15:6c:69:3e:91)"
                    .into()
            )
        );
        assert_eq!(action_result(&Err(FipError::Arp("x".into()))), ActionResult::Failed("ARP: x".into()));
        assert_eq!(action_result(&Ok(())), ActionResult::Ok);
    }
}
