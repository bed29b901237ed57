//! `baton-lab`: a throwaway cluster network in Linux network namespaces, for the
//! end-to-end tests (`cli/tests/e2e.rs`) and `baton demo`.
//!
//! In: a [`LabSpec`] (how many servers, which networks, the second octet of the
//! addresses). Out: a [`Lab`]: network namespaces joined by bridges that exist while
//! the `Lab` lives, commands to run inside them, faults to inject (a pulled cable, an
//! isolated or crashed server, UDP loss), a cluster file for these addresses
//! ([`Lab::write_config`], module [`config`]) and daemons started in the server
//! namespaces ([`Lab::start_daemon`], module [`daemon`]; [`Lab::start_daemon_with_binds`]
//! first bind-mounts paths in the daemon's own mount namespace, e.g. a per-server loop
//! device at the shared disk's device path). Dropping the `Lab` — also
//! while a test panics — kills every process left in its namespaces, deletes the
//! namespaces (and with them every link and bridge) and removes its directory.
//!
//! ```text
//!                       switch namespace  btPIDk-sw
//!          br-lan1                                   br-public
//!   s1-lan1  s2-lan1  s3-lan1  cl-lan1     s1-public  s2-public  s3-public  cl-public
//!      |        |        |        |            |          |          |          |
//!    lan1     lan1     lan1     lan1        public     public     public     public
//!  [btPIDk-s1][btPIDk-s2][btPIDk-s3][btPIDk-cl] (each namespace has one end per network)
//! ```
//!
//! * **Names.** Every namespace is named `bt<pid><k>-<role>`: this process's id, `k`
//!   a letter sequence counting the labs of this process (`a`, `b`, … `z`, `aa`, …) and
//!   the role `sw` (switch), `s1`… (servers), `cl` (client). So test binaries running
//!   at the same time, and the tests of one binary running on parallel threads, never
//!   collide, and every name stays within 15 characters. Interfaces live inside the
//!   lab's namespaces, so their names need no prefix: a member's end of a network is
//!   named after the network (`lan1`, `public`), the switch's end `s1-lan1`, the
//!   bridge `br-lan1`.
//! * **Addresses.** Network `k` (0-based, in [`LabSpec::networks`] order) is
//!   `10.<octet>.<k+1>.0/24`. Server `i` (1-based, `server1`…) is `.i` on every
//!   network, the client `.100` on every network. On the public network the client
//!   also answers at `.254`, the "router" that a `ping` network-partition resolver
//!   probes, and `.50` is the suggested floating IP.
//! * **Faults.** [`Lab::link`] is a cable pull: the switch's port goes down, so the
//!   server's interface loses its carrier and keeps its addresses, as with a real
//!   cable. [`Lab::isolate`] pulls every cable of a server, [`Lab::heal`] plugs them
//!   back. [`Lab::crash`] is a power loss: every cable pulled, then [`Lab::power_off`]:
//!   every process of the namespace killed with SIGKILL and every address the lab did
//!   not put there (a floating IP) removed, as a reboot would. [`Lab::loss`] drops UDP
//!   at random on a server's interface (an nftables rule in the server's namespace:
//!   `tc netem` is not available everywhere).
//! * **Looking.** [`Lab::cmd_in`] (`ip netns exec NS …`), [`Lab::ping`],
//!   [`Lab::holders`] (who holds an address), [`Lab::neighbour_mac`] (whose MAC a
//!   namespace uses for an address); [`in_namespace`] runs a closure on a thread inside
//!   a namespace (sockets opened there stay there), [`http_get`] asks a web server from
//!   a namespace, [`wait_for`] polls a condition against a deadline; a [`Witness`]
//!   (module [`witness`]) records, frame by frame, which MACs answer ARP and ICMP echo
//!   for an address, to catch two holders at once.
//! * **Leftovers.** A process killed with SIGKILL cannot run its destructors: the next
//!   [`Lab::new`] of any process deletes the namespaces and directories of labs whose
//!   process is gone (after killing what still runs in them).
//!
//! Everything here needs root (network namespaces), `ip` (iproute2), and for
//! [`Lab::loss`] `nft` (nftables). [`missing_prerequisite`] says what is missing.

mod cable;
pub mod config;
pub mod daemon;
mod loop_device;
pub mod witness;

pub use cable::Cable;
pub use config::{ClusterSpec, Service};
pub use daemon::Daemon;
pub use loop_device::LoopDevice;
pub use witness::Witness;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::fd::AsFd;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Where `ip netns` keeps the namespaces' names (bind mounts of the namespace files).
const NETNS_DIR: &str = "/run/netns";

/// Host part of the client on every network.
pub const CLIENT_HOST: u8 = 100;
/// Host part of the router (the ping target) on the public network.
pub const ROUTER_HOST: u8 = 254;
/// Host part of the suggested floating IP on the public network.
pub const FLOATING_HOST: u8 = 50;
/// The most servers a lab holds (the host parts stay below the floating IP's).
pub const MAX_SERVERS: usize = 32;
/// The longest network name: the switch's end of a link is `s32-<network>`, at most 15 characters.
pub const MAX_NETWORK_NAME: usize = 11;

/// The nftables table of [`Lab::loss`] in a server's namespace.
const LOSS_TABLE: &str = "baton_lab_loss";

/// Labs made by this process so far (the `k` of the names).
static LABS_MADE: AtomicU32 = AtomicU32::new(0);

/// What network to build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabSpec {
    /// Servers `server1` … `serverN` (1 to [`MAX_SERVERS`]).
    pub servers: usize,
    /// The networks, in order (network `k` is `10.<octet>.<k+1>.0/24`). Names of 1 to
    /// [`MAX_NETWORK_NAME`] letters, digits, `-` or `_`, starting with a letter.
    pub networks: Vec<String>,
    /// The network where the client, the router and the floating IP live (one of `networks`).
    pub public: String,
    /// The second octet of every address.
    pub octet: u8,
}

impl Default for LabSpec {
    /// Three servers on `lan1` (the interconnect, 10.77.1.0/24) and `public` (10.77.2.0/24).
    fn default() -> LabSpec {
        LabSpec { servers: 3, networks: vec!["lan1".into(), "public".into()], public: "public".into(), octet: 77 }
    }
}

/// Whether this process runs as root (effective user id 0).
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Why a lab cannot be built on this machine, if it cannot: not root, or `ip` missing.
pub fn missing_prerequisite() -> Option<String> {
    if !is_root() {
        return Some("needs root (network namespaces)".to_string());
    }
    if find_program("ip").is_none() {
        return Some("`ip` not found (Debian package iproute2)".to_string());
    }
    None
}

/// A program on `PATH` (or in the sbin directories, which a non-login root shell may lack).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into(), "/usr/bin".into()])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// An IPv4 address on an interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IfAddr {
    pub interface: String,
    pub address: Ipv4Addr,
    pub prefix_len: u8,
}

/// A built lab. See the module doc.
#[derive(Debug)]
pub struct Lab {
    id: String,
    spec: LabSpec,
    dir: PathBuf,
    switch: String,
    servers: Vec<String>,
    client: String,
    /// Namespaces created so far (all of them once built): what `Drop` deletes.
    created: Vec<String>,
    /// Per server (1-based) and network: the current [`Lab::loss`] percentage, when not 0.
    losses: Mutex<BTreeMap<(usize, String), u8>>,
    /// When the lab was built (the zero of daemon log time stamps).
    started: Instant,
}

/// `0 → a`, `25 → z`, `26 → aa`: letters only, so the name's pid digits end where they begin.
fn letters(mut n: u32) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'a' + u8::try_from(n % 26).unwrap_or(0));
        if n < 26 {
            break;
        }
        n = n / 26 - 1;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

fn valid_network_name(name: &str) -> bool {
    let mut chars = name.chars();
    (1..=MAX_NETWORK_NAME).contains(&name.len())
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Runs a command, Ok(stdout) on exit 0, else what failed with its stderr.
fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.stdin(Stdio::null()).output().map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!("{cmd:?} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim()))
    }
}

fn ip(args: &[&str]) -> Result<String, String> {
    run(Command::new("ip").args(args))
}

/// The pids of the processes in namespace `ns` (`ip netns pids`; none when it is gone).
pub fn pids_in(ns: &str) -> Vec<i32> {
    ip(&["netns", "pids", ns]).unwrap_or_default().split_whitespace().filter_map(|p| p.parse().ok()).collect()
}

/// Kills (SIGKILL) every process in namespace `ns` and waits, up to 3 s, until none is
/// left. Processes that re-appear (a parent forking while it dies) are killed again.
fn kill_all_in(ns: &str) {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let pids = pids_in(ns);
        if pids.is_empty() || Instant::now() >= deadline {
            return;
        }
        for pid in pids {
            if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                // Gone already is fine: it is what we want.
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Deletes the namespace (killing what runs in it first); a missing one is fine.
fn delete_namespace(ns: &str) -> Result<(), String> {
    if !Path::new(NETNS_DIR).join(ns).exists() {
        return Ok(());
    }
    kill_all_in(ns);
    ip(&["netns", "del", ns]).map(|_| ())
}

/// The pid in a lab name (`bt<pid><letters>…`), if it is one.
fn lab_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix("bt")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let after = rest[digits.len()..].chars().next()?;
    if digits.is_empty() || !after.is_ascii_lowercase() {
        return None;
    }
    digits.parse().ok()
}

fn temp_dir_of(id: &str) -> PathBuf {
    std::env::temp_dir().join(format!("baton-lab-{id}"))
}

/// Deletes the namespaces and directories of labs whose process is gone.
fn sweep_stale() {
    let alive = |pid: u32| Path::new("/proc").join(pid.to_string()).exists();
    if let Ok(entries) = std::fs::read_dir(NETNS_DIR) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if lab_pid(&name).is_some_and(|pid| !alive(pid)) {
                if let Err(e) = delete_namespace(&name) {
                    eprintln!("baton-lab: cannot delete the stale namespace {name}: {e}");
                }
            }
        }
    }
    if let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let stale = name.strip_prefix("baton-lab-").and_then(lab_pid).is_some_and(|pid| !alive(pid));
            if stale {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

impl Lab {
    /// Builds the lab: namespaces, bridges, links, addresses. On an error everything
    /// built so far is torn down again.
    pub fn new(spec: LabSpec) -> Result<Lab, String> {
        if let Some(why) = missing_prerequisite() {
            return Err(why);
        }
        if !(1..=MAX_SERVERS).contains(&spec.servers) {
            return Err(format!("a lab holds 1 to {MAX_SERVERS} servers, not {}", spec.servers));
        }
        if spec.networks.is_empty() {
            return Err("a lab needs at least one network".to_string());
        }
        for (i, n) in spec.networks.iter().enumerate() {
            if !valid_network_name(n) {
                return Err(format!(
                    "network name {n:?}: 1 to {MAX_NETWORK_NAME} letters, digits, - or _, starting with a letter \
                     (it names interfaces)"
                ));
            }
            if spec.networks[..i].contains(n) {
                return Err(format!("network {n:?} is listed twice"));
            }
        }
        if !spec.networks.contains(&spec.public) {
            return Err(format!("the public network {:?} is not one of the networks {:?}", spec.public, spec.networks));
        }
        if spec.networks.len() > 254 {
            return Err("at most 254 networks".to_string());
        }
        sweep_stale();
        let id = format!("bt{}{}", std::process::id(), letters(LABS_MADE.fetch_add(1, Ordering::Relaxed)));
        let dir = temp_dir_of(&id);
        // Left by an earlier process with the same id (a recycled pid): gone.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .recursive(true)
            .create(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let mut lab = Lab {
            switch: format!("{id}-sw"),
            servers: (1..=spec.servers).map(|i| format!("{id}-s{i}")).collect(),
            client: format!("{id}-cl"),
            id,
            spec,
            dir,
            created: Vec::new(),
            losses: Mutex::new(BTreeMap::new()),
            started: Instant::now(),
        };
        // On an error `lab` drops here, deleting what was created.
        lab.build()?;
        Ok(lab)
    }

    fn build(&mut self) -> Result<(), String> {
        let mut all = vec![self.switch.clone()];
        all.extend(self.servers.iter().cloned());
        all.push(self.client.clone());
        for ns in &all {
            // A namespace of a recycled pid's lab: gone first.
            delete_namespace(ns)?;
            ip(&["netns", "add", ns])?;
            self.created.push(ns.clone());
        }
        for network in &self.spec.networks {
            let bridge = format!("br-{network}");
            ip(&["-n", &self.switch, "link", "add", &bridge, "type", "bridge"])?;
            ip(&["-n", &self.switch, "link", "set", &bridge, "up"])?;
        }
        let mut members: Vec<(String, String, u8)> = Vec::new();
        for (i, ns) in self.servers.iter().enumerate() {
            members.push((ns.clone(), format!("s{}", i + 1), u8::try_from(i + 1).unwrap_or(0)));
        }
        members.push((self.client.clone(), "cl".to_string(), CLIENT_HOST));
        for (ns, tag, host) in &members {
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
            for (k, network) in self.spec.networks.iter().enumerate() {
                let port = format!("{tag}-{network}");
                ip(&[
                    "link",
                    "add",
                    network,
                    "netns",
                    ns,
                    "type",
                    "veth",
                    "peer",
                    "name",
                    &port,
                    "netns",
                    &self.switch,
                ])?;
                ip(&["-n", &self.switch, "link", "set", &port, "master", &format!("br-{network}"), "up"])?;
                let address = format!("{}/24", self.host(k, *host));
                ip(&["-n", ns, "addr", "add", &address, "dev", network])?;
                ip(&["-n", ns, "link", "set", network, "up"])?;
            }
        }
        let router = format!("{}/24", self.router_address());
        ip(&["-n", &self.client, "addr", "add", &router, "dev", &self.spec.public])?;
        Ok(())
    }

    fn network_index(&self, network: &str) -> usize {
        match self.spec.networks.iter().position(|n| n == network) {
            Some(k) => k,
            None => panic!("no network {network:?} in this lab (networks: {:?})", self.spec.networks),
        }
    }

    fn host(&self, network_index: usize, host: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, self.spec.octet, u8::try_from(network_index + 1).unwrap_or(255), host)
    }

    fn check_server(&self, server: usize) {
        assert!(
            (1..=self.servers.len()).contains(&server),
            "no server {server} in this lab (servers run from 1 to {})",
            self.servers.len()
        );
    }

    /// The lab's id (`bt<pid><k>`), the prefix of its namespaces.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The lab's private directory (mode 0700, removed on drop): cluster files, state
    /// directories, daemon logs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// When the lab was built: the zero of the time stamps in daemon logs.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// How many servers.
    pub fn servers(&self) -> usize {
        self.servers.len()
    }

    /// The networks, in order.
    pub fn networks(&self) -> &[String] {
        &self.spec.networks
    }

    /// The public network (client, router, floating IP).
    pub fn public_network(&self) -> &str {
        &self.spec.public
    }

    /// `server1` … : server `i`'s name in the cluster file. Servers are numbered from 1.
    pub fn server_name(&self, server: usize) -> String {
        self.check_server(server);
        format!("server{server}")
    }

    /// Server `i`'s namespace (servers are numbered from 1; panics on another number).
    pub fn server_ns(&self, server: usize) -> &str {
        self.check_server(server);
        &self.servers[server - 1]
    }

    /// The client's namespace (also the router's).
    pub fn client_ns(&self) -> &str {
        &self.client
    }

    /// The switch's namespace (one bridge per network).
    pub fn switch_ns(&self) -> &str {
        &self.switch
    }

    /// Every namespace of the lab: switch, servers, client.
    pub fn namespaces(&self) -> Vec<&str> {
        let mut all = vec![self.switch.as_str()];
        all.extend(self.servers.iter().map(String::as_str));
        all.push(&self.client);
        all
    }

    /// Server `server`'s address on `network` (panics on an unknown server or network).
    pub fn address(&self, server: usize, network: &str) -> Ipv4Addr {
        self.check_server(server);
        self.host(self.network_index(network), u8::try_from(server).unwrap_or(0))
    }

    /// The subnet of `network`: `10.<octet>.<k+1>.0/24`.
    pub fn subnet(&self, network: &str) -> String {
        format!("{}/24", self.host(self.network_index(network), 0))
    }

    /// The client's address on `network`.
    pub fn client_address(&self, network: &str) -> Ipv4Addr {
        self.host(self.network_index(network), CLIENT_HOST)
    }

    /// The router's address (the client's second address on the public network).
    pub fn router_address(&self) -> Ipv4Addr {
        self.host(self.network_index(&self.spec.public), ROUTER_HOST)
    }

    /// The suggested floating IP on the public network (no prefix).
    pub fn floating_address(&self) -> Ipv4Addr {
        self.host(self.network_index(&self.spec.public), FLOATING_HOST)
    }

    /// The suggested floating IP with its prefix length, as a `floating-ip` resource writes it.
    pub fn floating_cidr(&self) -> String {
        format!("{}/24", self.floating_address())
    }

    /// Server `server`'s state directory for its daemon (under [`Lab::dir`]; not created here).
    pub fn state_dir(&self, server: usize) -> PathBuf {
        self.dir.join(self.server_name(server)).join("state")
    }

    /// `ip netns exec NS`: add the program and its arguments.
    pub fn cmd_in(&self, ns: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns]);
        cmd
    }

    /// Runs `ip netns exec NS PROGRAM ARGS…` to completion.
    pub fn output_in(&self, ns: &str, program: &str, args: &[&str]) -> Result<Output, String> {
        self.cmd_in(ns)
            .arg(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {program} in {ns}: {e}"))
    }

    /// One ping (1 s wait) from namespace `ns` to `to`: did it answer?
    pub fn ping(&self, ns: &str, to: Ipv4Addr) -> bool {
        self.output_in(ns, "ping", &["-n", "-q", "-c", "1", "-W", "1", &to.to_string()])
            .is_ok_and(|o| o.status.success())
    }

    /// The IPv4 addresses on the interfaces of namespace `ns`.
    pub fn addresses_in(&self, ns: &str) -> Result<Vec<IfAddr>, String> {
        let text = ip(&["-n", ns, "-o", "-4", "addr", "show"])?;
        // `2: public    inet 10.77.2.1/24 brd … scope global public\ …`
        Ok(text
            .lines()
            .filter_map(|l| {
                let words: Vec<&str> = l.split_whitespace().collect();
                let at = words.iter().position(|w| *w == "inet")?;
                let (address, prefix) = words.get(at + 1)?.split_once('/')?;
                Some(IfAddr {
                    interface: words.get(1)?.to_string(),
                    address: address.parse().ok()?,
                    prefix_len: prefix.parse().ok()?,
                })
            })
            .collect())
    }

    /// The servers (1-based) whose namespace holds `address` on some interface.
    pub fn holders(&self, address: Ipv4Addr) -> Vec<usize> {
        (1..=self.servers.len())
            .filter(|&s| {
                self.addresses_in(self.server_ns(s)).is_ok_and(|list| list.iter().any(|a| a.address == address))
            })
            .collect()
    }

    /// The MAC address of `interface` in namespace `ns`.
    pub fn mac(&self, ns: &str, interface: &str) -> Result<String, String> {
        let text = ip(&["-n", ns, "-o", "link", "show", "dev", interface])?;
        let words: Vec<&str> = text.split_whitespace().collect();
        words
            .iter()
            .position(|w| *w == "link/ether")
            .and_then(|at| words.get(at + 1))
            .map(|m| m.to_string())
            .ok_or_else(|| format!("no MAC address for {interface} in {ns}: {text}"))
    }

    /// The MAC address namespace `ns` currently has for `address` in its neighbour
    /// table (`None` when there is no usable entry).
    pub fn neighbour_mac(&self, ns: &str, address: Ipv4Addr) -> Option<String> {
        let text = ip(&["-n", ns, "neigh", "show", &address.to_string()]).ok()?;
        let words: Vec<&str> = text.split_whitespace().collect();
        let mac = words.iter().position(|w| *w == "lladdr").and_then(|at| words.get(at + 1))?;
        let usable = !words.iter().any(|w| *w == "FAILED" || *w == "INCOMPLETE");
        usable.then(|| mac.to_string())
    }

    /// Pulls (`up = false`) or plugs back (`up = true`) server `server`'s cable on
    /// `network`: the switch's port goes down or up, so the server's interface loses or
    /// regains its carrier and keeps its addresses.
    pub fn link(&self, server: usize, network: &str, up: bool) -> Result<(), String> {
        self.check_server(server);
        self.network_index(network);
        let port = format!("s{server}-{network}");
        ip(&["-n", &self.switch, "link", "set", &port, if up { "up" } else { "down" }]).map(|_| ())
    }

    /// Pulls every cable of server `server`.
    pub fn isolate(&self, server: usize) -> Result<(), String> {
        for network in &self.spec.networks {
            self.link(server, network, false)?;
        }
        Ok(())
    }

    /// Plugs every cable of server `server` back.
    pub fn heal(&self, server: usize) -> Result<(), String> {
        for network in &self.spec.networks {
            self.link(server, network, true)?;
        }
        Ok(())
    }

    /// A power loss of server `server`: every cable pulled, then [`Lab::power_off`].
    /// [`Lab::heal`] brings the machine back, without a daemon.
    pub fn crash(&self, server: usize) -> Result<(), String> {
        self.isolate(server)?;
        self.power_off(server)
    }

    /// What is left of server `server` once its machine is off: every process in its
    /// namespace killed (SIGKILL: no stop script, no departure) and every address the
    /// lab did not put there (floating IPs) removed, as a reboot would. The cables stay
    /// as they are. Also the end of a daemon that fenced itself with `--fence exit`: it
    /// only drops its addresses and exits, while what its scripts started keeps running.
    pub fn power_off(&self, server: usize) -> Result<(), String> {
        let ns = self.server_ns(server);
        kill_all_in(ns);
        let own: Vec<Ipv4Addr> = self.spec.networks.iter().map(|n| self.address(server, n)).collect();
        for a in self.addresses_in(ns)? {
            if a.interface != "lo" && !own.contains(&a.address) {
                ip(&["-n", ns, "addr", "del", &format!("{}/{}", a.address, a.prefix_len), "dev", &a.interface])?;
            }
        }
        Ok(())
    }

    /// Drops `percent` % of the UDP packets leaving or arriving on server `server`'s
    /// interface on `network`, at random (each packet on its own); `0` removes the
    /// loss. An nftables table in the server's namespace, rewritten whole at each call.
    pub fn loss(&self, server: usize, network: &str, percent: u8) -> Result<(), String> {
        self.check_server(server);
        self.network_index(network);
        if percent > 100 {
            return Err(format!("loss of {percent} %: at most 100"));
        }
        if find_program("nft").is_none() {
            return Err("`nft` not found (Debian package nftables)".to_string());
        }
        let mut losses = self.losses.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if percent == 0 {
            losses.remove(&(server, network.to_string()));
        } else {
            losses.insert((server, network.to_string()), percent);
        }
        // Creating the table first makes the delete valid whether or not it existed:
        // the whole script is one atomic nftables transaction.
        let mut script = format!("table inet {LOSS_TABLE}\ndelete table inet {LOSS_TABLE}\n");
        let mine: Vec<(&str, u8)> =
            losses.iter().filter(|((s, _), _)| *s == server).map(|((_, n), p)| (n.as_str(), *p)).collect();
        if !mine.is_empty() {
            script.push_str(&format!("table inet {LOSS_TABLE} {{\n"));
            for (chain, hook, dir) in [("in", "input", "iifname"), ("out", "output", "oifname")] {
                script.push_str(&format!("  chain {chain} {{\n    type filter hook {hook} priority 0;\n"));
                for (net, p) in &mine {
                    // `numgen random mod 100` draws 0..=99, so `< 100` is out of its range: 100 % is a plain drop.
                    let draw = if *p >= 100 { String::new() } else { format!(" numgen random mod 100 < {p}") };
                    script.push_str(&format!("    {dir} \"{net}\" meta l4proto udp{draw} drop\n"));
                }
                script.push_str("  }\n");
            }
            script.push_str("}\n");
        }
        let mut child = self
            .cmd_in(self.server_ns(server))
            .args(["nft", "-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run nft: {e}"))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(script.as_bytes()).map_err(|e| format!("cannot write to nft: {e}"))?;
        }
        let out = child.wait_with_output().map_err(|e| format!("nft: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("nft failed ({}): {}\n{script}", out.status, String::from_utf8_lossy(&out.stderr).trim()))
        }
    }

    /// Writes the cluster file for this lab (see [`config`]); returns its path.
    pub fn write_config(&self, spec: &ClusterSpec) -> Result<PathBuf, String> {
        config::write(self, spec)
    }

    /// Starts `BATON daemon --config CONFIG --server serverN --state-dir DIR --fence
    /// exit` in server `server`'s namespace (see [`daemon`]).
    pub fn start_daemon(&self, baton: &Path, config: &Path, server: usize) -> Result<Daemon, String> {
        daemon::start(self, baton, config, server, &[])
    }

    /// [`Lab::start_daemon`] after bind mounts `(source, target)` in the daemon's own
    /// mount namespace (see [`daemon`]): a shared disk's device path, per server.
    pub fn start_daemon_with_binds(
        &self,
        baton: &Path,
        config: &Path,
        server: usize,
        binds: &[(PathBuf, PathBuf)],
    ) -> Result<Daemon, String> {
        daemon::start(self, baton, config, server, binds)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in self.created.iter().rev() {
            if let Err(e) = delete_namespace(ns) {
                eprintln!("baton-lab: cannot delete namespace {ns}: {e}");
            }
        }
        if std::env::var_os("BATON_LAB_KEEP").is_some() {
            eprintln!("baton-lab: BATON_LAB_KEEP is set: {} kept", self.dir.display());
        } else if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            if e.kind() != std::io::ErrorKind::NotFound {
                eprintln!("baton-lab: cannot remove {}: {e}", self.dir.display());
            }
        }
    }
}

/// Runs `f` on a new thread inside network namespace `ns` and returns its result.
/// Sockets opened by `f` stay in that namespace, whichever thread later uses them. A
/// panic in `f` is resumed in the caller.
pub fn in_namespace<T: Send>(ns: &str, f: impl FnOnce() -> T + Send) -> Result<T, String> {
    let path = Path::new(NETNS_DIR).join(ns);
    let file = std::fs::File::open(&path).map_err(|e| format!("namespace {ns}: {}: {e}", path.display()))?;
    std::thread::scope(|scope| {
        let worker = scope.spawn(move || {
            // setns(2) moves this thread only; it ends with `f`.
            rustix::thread::move_into_link_name_space(file.as_fd(), Some(rustix::thread::LinkNameSpaceType::Network))
                .map_err(|e| format!("cannot enter namespace {ns}: {e}"))?;
            Ok(f())
        });
        match worker.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// `GET /` on `http://ADDRESS:PORT/` from namespace `ns`: the body of a 200 answer,
/// else why not. Connecting and the whole exchange are each bounded by `timeout`.
pub fn http_get(ns: &str, address: Ipv4Addr, port: u16, timeout: Duration) -> Result<String, String> {
    in_namespace(ns, || {
        let to = SocketAddr::from((address, port));
        let mut stream = TcpStream::connect_timeout(&to, timeout).map_err(|e| format!("connect {to}: {e}"))?;
        let _ = stream.set_read_timeout(Some(timeout));
        let _ = stream.set_write_timeout(Some(timeout));
        stream
            .write_all(format!("GET / HTTP/1.0\r\nHost: {address}\r\n\r\n").as_bytes())
            .map_err(|e| format!("send to {to}: {e}"))?;
        let mut answer = Vec::new();
        stream.take(64 * 1024).read_to_end(&mut answer).map_err(|e| format!("read from {to}: {e}"))?;
        let text = String::from_utf8_lossy(&answer);
        let (head, body) = text.split_once("\r\n\r\n").ok_or_else(|| format!("not an HTTP answer: {text:?}"))?;
        if head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200") {
            Ok(body.to_string())
        } else {
            Err(format!("{to} answered {:?}", head.lines().next().unwrap_or_default()))
        }
    })?
}

/// Polls `ok` every 50 ms until it gives `Some`, or `within` has passed (`None`).
pub fn wait_for<T>(within: Duration, mut ok: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = ok() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lab_names_are_letters_after_the_pid() {
        assert_eq!(letters(0), "a");
        assert_eq!(letters(25), "z");
        assert_eq!(letters(26), "aa");
        assert_eq!(letters(27), "ab");
        assert_eq!(letters(26 + 26 * 26), "aaa");
        assert_eq!(lab_pid("bt1234a-s1"), Some(1234));
        assert_eq!(lab_pid("bt1234ab-sw"), Some(1234));
        assert_eq!(lab_pid("bt-s1"), None);
        assert_eq!(lab_pid("bt1234"), None);
        assert_eq!(lab_pid("other"), None);
        // The longest name: a 7-digit pid, two letters, `-s32`.
        assert!(format!("bt4194304{}-s32", letters(700)).len() <= 15);
    }

    #[test]
    fn network_names_fit_interface_names() {
        assert!(valid_network_name("lan1"));
        assert!(valid_network_name("public"));
        assert!(valid_network_name("abcdefghijk"));
        assert!(!valid_network_name("abcdefghijkl"));
        assert!(!valid_network_name("1lan"));
        assert!(!valid_network_name("a b"));
        assert!(!valid_network_name(""));
    }
}
