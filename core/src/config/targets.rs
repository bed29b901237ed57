//! Which network each ping/http target is reached over (issue 9 §3).
//!
//! In: the resolved model (server addresses per network, resolver and monitor
//! targets, the optional `network` key of `[[np]]` ping/http and `[[monitor]]`
//! ip/http tables). Out: a [`TargetRoute`] per target, which the simulator uses to
//! make `cut`, `isolate` and `loss` reach targets as they reach heartbeats, and which
//! `baton config check` prints. Pure: address arithmetic only.
//!
//! The rule (documented in docs/configuration.md, "Targets and networks"):
//! 1. `network = "NAME"` on the resolver or monitor names the network of every one of
//!    its targets (an extension; it must be a network of `server.addresses`);
//! 2. otherwise a target whose host is an IP address belongs to the network on which
//!    some server's address shares the most leading bits with it, at least a /24
//!    (IPv4) or /64 (IPv6): `server.addresses` carry no prefix length, so the subnet
//!    of a network is taken as the usual /24 (/64) around its servers' addresses;
//! 3. a host name, an address in no such subnet, or a tie between networks leaves the
//!    target **unbound**: a warning (B133) lists the networks, and only `isolate` and
//!    `target … down` affect it in the simulator.

use super::ctx::Ctx;
use super::toml_walk::Obj;
use super::{Config, MonId, MonitorKind, NpKind};
use core::net::IpAddr;

/// Shortest shared prefix that puts a target in a network's subnet.
const SUBNET_BITS_V4: u32 = 24;
const SUBNET_BITS_V6: u32 = 64;

/// Who probes a target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TargetOwner {
    /// A `[[np]]` resolver, by file order.
    Np(usize),
    Monitor(MonId),
}

/// How the network of a target was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteBasis {
    /// `network = "…"` on the owner.
    Named,
    /// The subnet of the servers' addresses on that network.
    Subnet,
    /// No network: a host name, or an address in no network's subnet.
    Unbound,
    /// Several networks share equally many bits with the address.
    Ambiguous(Vec<String>),
}

/// One target and the network it is reached over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetRoute {
    pub owner: TargetOwner,
    /// As written in the config: an address, or a URL for http.
    pub target: String,
    /// `Some` exactly when `basis` is `Named` or `Subnet`.
    pub network: Option<String>,
    pub basis: RouteBasis,
}

impl Config {
    /// Every ping/http target of every resolver and monitor, with its network.
    pub fn target_routes(&self) -> Vec<TargetRoute> {
        let mut out = Vec::new();
        for (i, np) in self.nps.iter().enumerate() {
            let targets: &[String] = match &np.kind {
                NpKind::Ping { targets } | NpKind::Http { targets, .. } => targets,
                NpKind::Disk { .. } | NpKind::Majority | NpKind::Serial { .. } => &[],
            };
            for t in targets {
                out.push(self.route(TargetOwner::Np(i), np.network.as_deref(), t));
            }
        }
        for (i, m) in self.monitors.iter().enumerate() {
            let targets: Vec<&String> = match &m.kind {
                MonitorKind::Ip { targets } => targets.iter().collect(),
                MonitorKind::Http { url, .. } => vec![url],
                MonitorKind::FloatingIp { .. }
                | MonitorKind::Process { .. }
                | MonitorKind::Exec { .. }
                | MonitorKind::Disk { .. }
                | MonitorKind::NicLink { .. }
                | MonitorKind::MirrorDisk { .. }
                | MonitorKind::MirrorConnect { .. }
                | MonitorKind::UserSpace { .. } => Vec::new(),
            };
            for t in targets {
                out.push(self.route(TargetOwner::Monitor(MonId(i as u16)), m.network.as_deref(), t));
            }
        }
        out
    }

    /// The network of one target of `owner` (see the module doc).
    pub fn route(&self, owner: TargetOwner, named: Option<&str>, target: &str) -> TargetRoute {
        let route = |network: Option<String>, basis| TargetRoute { owner, target: target.to_string(), network, basis };
        if let Some(n) = named {
            return route(Some(n.to_string()), RouteBasis::Named);
        }
        let Some(ip) = target_ip(target) else { return route(None, RouteBasis::Unbound) };
        let mut best: Vec<String> = Vec::new();
        let mut best_bits = 0;
        for (net, bits) in self.network_names().into_iter().map(|n| {
            let bits = self.shared_bits(&n, ip);
            (n, bits)
        }) {
            let enough = if ip.is_ipv4() { SUBNET_BITS_V4 } else { SUBNET_BITS_V6 };
            if bits < enough || bits < best_bits {
                continue;
            }
            if bits > best_bits {
                best.clear();
                best_bits = bits;
            }
            best.push(net);
        }
        match best.len() {
            0 => route(None, RouteBasis::Unbound),
            1 => route(best.pop(), RouteBasis::Subnet),
            _ => route(None, RouteBasis::Ambiguous(best)),
        }
    }

    /// Every network named in `server.addresses`, sorted.
    pub fn network_names(&self) -> Vec<String> {
        let mut nets: Vec<String> = self.servers.iter().flat_map(|s| s.addresses.keys().cloned()).collect();
        nets.sort();
        nets.dedup();
        nets
    }

    /// The most leading bits `ip` shares with a server's address on `net`.
    fn shared_bits(&self, net: &str, ip: IpAddr) -> u32 {
        self.servers
            .iter()
            .filter_map(|s| s.addresses.get(net)?.parse::<IpAddr>().ok())
            .map(|a| match (a, ip) {
                (IpAddr::V4(a), IpAddr::V4(b)) => (u32::from(a) ^ u32::from(b)).leading_zeros(),
                (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a) ^ u128::from(b)).leading_zeros(),
                (IpAddr::V4(_), IpAddr::V6(_)) | (IpAddr::V6(_), IpAddr::V4(_)) => 0,
            })
            .max()
            .unwrap_or(0)
    }
}

/// The `network` key of a resolver or monitor: a network of `server.addresses`
/// (B131 3 applies to it as to a `lan` heartbeat's network).
pub(crate) fn read_network<'a>(cx: &mut Ctx<'a>, o: &Obj<'a>) -> Option<String> {
    let n = cx.w.string(o, "network")?;
    let known = cx.cfg.network_names();
    if !known.contains(&n.v) {
        let msg = format!(
            "{}: `network` = \"{}\" is no network of `server.addresses` (known: {})",
            o.label,
            n.v,
            known.join(", ")
        );
        cx.w.diags.error(n.at, msg);
    }
    Some(n.v)
}

/// B133: targets reached over no network, or over which of several is unclear.
pub(crate) fn warn_unbound(cx: &mut Ctx<'_>) {
    let known = cx.cfg.network_names().join(", ");
    for r in cx.cfg.target_routes() {
        let (at, label) = match r.owner {
            TargetOwner::Np(i) => match cx.o.nps.get(i) {
                Some(np) => (np.obj.pos, np.obj.label.clone()),
                None => continue,
            },
            TargetOwner::Monitor(m) => match cx.o.monitors.get(m.idx()) {
                Some(mon) => (mon.obj.pos, mon.obj.label.clone()),
                // Implied monitors have no ip/http targets.
                None => continue,
            },
        };
        let why = match &r.basis {
            RouteBasis::Named | RouteBasis::Subnet => continue,
            RouteBasis::Unbound => format!("is in the subnet of no network ({known})"),
            RouteBasis::Ambiguous(nets) => format!("is as close to networks {} as to each other", nets.join(", ")),
        };
        let msg = format!(
            "{label}: target {} {why}: only `isolate` and `target … down` reach it in the simulator; \
             add `network = \"…\"` to say which network leads to it",
            r.target
        );
        cx.w.diags.warn(at, msg);
    }
}

/// The IP address of a target: the address itself, or the host of an http(s) URL
/// when it is written as an address (`http://10.0.0.254:8080/health`, `http://[fe80::1]/`).
pub fn target_ip(target: &str) -> Option<IpAddr> {
    let rest = target.strip_prefix("http://").or_else(|| target.strip_prefix("https://"));
    let Some(rest) = rest else { return target.parse().ok() };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = host.strip_prefix('[') {
        return v6.split(']').next()?.parse().ok();
    }
    host.split(':').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> Config {
        crate::config::parse("t.toml", text).map_err(|d| format!("{d:?}")).unwrap().config
    }

    const BASE: &str = r#"
[cluster]
name = "c"
insecure = true
[[server]]
name = "s1"
addresses = { lan1 = "192.168.0.1", public = "10.0.0.1" }
[[server]]
name = "s2"
addresses = { lan1 = "192.168.0.2", public = "10.0.0.2" }
[[heartbeat]]
name = "lan1"
kind = "lan"
priority = 1
"#;

    #[test]
    fn target_hosts() {
        assert_eq!(target_ip("10.0.0.254"), "10.0.0.254".parse().ok());
        assert_eq!(target_ip("http://10.0.0.254:8080/health"), "10.0.0.254".parse().ok());
        assert_eq!(target_ip("https://[fe80::1]:443/x"), "fe80::1".parse().ok());
        assert_eq!(target_ip("http://gw/health"), None);
        assert_eq!(target_ip("gateway"), None);
    }

    #[test]
    fn subnet_named_and_unbound() {
        let text = format!(
            "{BASE}\n[[np]]\nname = \"p\"\nkind = \"ping\"\ntargets = [\"10.0.0.254\", \"172.16.0.1\"]\n\
             [[np]]\nname = \"h\"\nkind = \"http\"\ntargets = [\"http://gw/health\"]\nnetwork = \"lan1\"\n\
             [[monitor]]\nname = \"ipw\"\nkind = \"ip\"\ntargets = [\"192.168.0.254\"]\nrecovery_target = \"local-server\"\n"
        );
        let c = cfg(&text);
        let r = c.target_routes();
        let net = |i: usize| (r[i].network.clone(), r[i].basis.clone());
        assert_eq!(net(0), (Some("public".into()), RouteBasis::Subnet));
        assert_eq!(net(1), (None, RouteBasis::Unbound));
        assert_eq!(net(2), (Some("lan1".into()), RouteBasis::Named));
        assert_eq!(net(3), (Some("lan1".into()), RouteBasis::Subnet));
        assert_eq!(r[3].owner, TargetOwner::Monitor(MonId(0)));
        // The unbound target is a warning that lists the networks.
        assert!(c.warnings.iter().any(|w| w.contains("172.16.0.1") && w.contains("lan1, public")), "{:?}", c.warnings);
    }

    #[test]
    fn unknown_network_is_refused() {
        let text =
            format!("{BASE}\n[[np]]\nname = \"p\"\nkind = \"ping\"\ntargets = [\"10.0.0.254\"]\nnetwork = \"wan\"\n");
        let errs = crate::config::parse("t.toml", &text).unwrap_err();
        assert!(errs.iter().any(|d| d.message.contains("\"wan\"")), "{errs:?}");
    }
}
