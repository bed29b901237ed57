//! The `nic-link` and `floating-ip` monitors: link state and addresses through netlink.
//!
//! In: an interface name, or a floating IP. Out: a [`CheckOutcome`].
//!
//! A link is up when its operational state (`IFLA_OPERSTATE`, `ip link`'s `state`) is
//! `UP`. Drivers that do not track it (loopback, dummy, some tunnels) report `UNKNOWN`:
//! such a link counts as up when it is administratively up (`IFF_UP`) and has a carrier
//! (`IFF_LOWER_UP`). An interface that is administratively down is down whatever its
//! state. A floating IP is healthy when an interface of this server holds it and that
//! interface's link is up.

use futures::TryStreamExt;
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage, State};

use super::CheckOutcome;
use crate::floating_ip::{errno, FloatingIpSpec, Netlink, ENODEV};

/// `IF_OPER_*` of `linux/if.h` (`State` is non-exhaustive: compared as numbers).
const IF_OPER_UNKNOWN: u8 = 0;
const IF_OPER_UP: u8 = 6;

pub(super) async fn nic_link(interface: &str) -> CheckOutcome {
    let nl = match Netlink::open() {
        Ok(nl) => nl,
        Err(e) => return CheckOutcome::unhealthy(e.to_string()),
    };
    let mut stream = nl.handle.link().get().match_name(interface.to_string()).execute();
    match stream.try_next().await {
        Ok(Some(link)) => verdict(interface, &link),
        Ok(None) => CheckOutcome::unhealthy(format!("no interface {interface}")),
        Err(e) if errno(&e) == Some(ENODEV) => CheckOutcome::unhealthy(format!("no interface {interface}")),
        Err(e) => CheckOutcome::unhealthy(format!("netlink: looking up interface {interface}: {e}")),
    }
}

pub(super) async fn floating_ip(spec: &FloatingIpSpec) -> CheckOutcome {
    let nl = match Netlink::open() {
        Ok(nl) => nl,
        Err(e) => return CheckOutcome::unhealthy(e.to_string()),
    };
    let held = match nl.addresses_of(spec.address).await {
        Ok(held) => held,
        Err(e) => return CheckOutcome::unhealthy(e.to_string()),
    };
    if held.is_empty() {
        return CheckOutcome::unhealthy(format!("{} is not on this server", spec.address));
    }
    // Normally one interface; if several hold it, one with its link up is enough.
    let mut downs = Vec::new();
    for msg in held {
        let index = msg.header.index;
        let mut stream = nl.handle.link().get().match_index(index).execute();
        let outcome = match stream.try_next().await {
            Ok(Some(link)) => verdict(&name_of(&link).unwrap_or_else(|| format!("interface #{index}")), &link),
            Ok(None) => CheckOutcome::unhealthy(format!("no interface #{index}")),
            Err(e) => CheckOutcome::unhealthy(format!("netlink: looking up interface #{index}: {e}")),
        };
        if outcome.healthy {
            return CheckOutcome::healthy(format!("{} is on {}", spec.address, outcome.detail));
        }
        downs.push(outcome.detail);
    }
    CheckOutcome::unhealthy(format!("{} is here but its interface is down: {}", spec.address, downs.join("; ")))
}

fn name_of(link: &LinkMessage) -> Option<String> {
    link.attributes.iter().find_map(|a| if let LinkAttribute::IfName(n) = a { Some(n.clone()) } else { None })
}

fn verdict(name: &str, link: &LinkMessage) -> CheckOutcome {
    let oper = link.attributes.iter().find_map(|a| if let LinkAttribute::OperState(s) = a { Some(*s) } else { None });
    decide(name, oper, link.header.flags)
}

/// The rule of the module doc, on what netlink said.
fn decide(name: &str, oper: Option<State>, flags: LinkFlags) -> CheckOutcome {
    if !flags.contains(LinkFlags::Up) {
        return CheckOutcome::unhealthy(format!("{name}: link administratively down"));
    }
    let carrier = flags.contains(LinkFlags::LowerUp);
    match oper.map(u8::from) {
        Some(IF_OPER_UP) => CheckOutcome::healthy(format!("{name}: link up")),
        Some(IF_OPER_UNKNOWN) | None if carrier => {
            CheckOutcome::healthy(format!("{name}: link up (state UNKNOWN, carrier)"))
        }
        Some(IF_OPER_UNKNOWN) | None => CheckOutcome::unhealthy(format!("{name}: no carrier (state UNKNOWN)")),
        Some(_) => {
            let state = oper.map(|s| s.to_string()).unwrap_or_default();
            let why = if carrier { "" } else { ", no carrier" };
            CheckOutcome::unhealthy(format!("{name}: link down (state {state}{why})"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_rules() {
        let up = LinkFlags::Up | LinkFlags::LowerUp | LinkFlags::Running;
        assert!(decide("eth0", Some(State::Up), up).healthy);
        // Loopback and dummy links: state UNKNOWN, but up with a carrier.
        assert!(decide("lo", Some(State::Unknown), up).healthy);
        assert!(decide("lo", None, up).healthy);
        let no_carrier = LinkFlags::Up;
        assert_eq!(
            decide("tun0", Some(State::Unknown), no_carrier),
            CheckOutcome::unhealthy("tun0: no carrier (state UNKNOWN)")
        );
        // A veth whose peer is down; a VLAN whose parent is down.
        assert_eq!(
            decide("veth0", Some(State::Down), no_carrier),
            CheckOutcome::unhealthy("veth0: link down (state DOWN, no carrier)")
        );
        assert_eq!(
            decide("eth0.10", Some(State::LowerLayerDown), no_carrier),
            CheckOutcome::unhealthy("eth0.10: link down (state LOWERLAYERDOWN, no carrier)")
        );
        assert_eq!(
            decide("eth0", Some(State::Dormant), up),
            CheckOutcome::unhealthy("eth0: link down (state DORMANT)")
        );
        // `ip link set eth0 down`: down, even if the kernel still says UP for a moment.
        assert_eq!(
            decide("eth0", Some(State::Up), LinkFlags::LowerUp),
            CheckOutcome::unhealthy("eth0: link administratively down")
        );
    }
}
