//! The cluster file of a lab.
//!
//! In: a [`Lab`] (its servers, networks and addresses) and a [`ClusterSpec`] (timing,
//! security, the group's service, resolution). Out: `LAB_DIR/etc/cluster.toml`, its
//! start and stop scripts and, unless insecure, its secret file (`cluster.key`, mode
//! 0600, 32 random bytes in hex); the file is checked with `baton_core::config::parse`
//! before it is handed out, so a test never starts daemons on a file they would refuse.
//!
//! What the file holds:
//!
//! * `[cluster]`: the spec's heartbeat interval and timeout (100 ms / 500 ms by
//!   default), `sync_wait`, `auto_return`, `port`, and `secret_file = "cluster.key"` or
//!   `insecure = true`;
//! * one `[[server]]` per lab server, with its address on every network;
//! * one `lan` `[[heartbeat]]` per network, named after it, in lab order (so the first
//!   network, the interconnect, carries the cluster messages);
//! * with [`ClusterSpec::ping_np`], a `ping` `[[np]]` named `ping1` probing the lab's
//!   router;
//! * one `[[group]]` (all servers, server order) holding a `floating-ip` resource
//!   `fip1` at [`Lab::floating_cidr`] (one gratuitous ARP, so failovers are quick) and
//!   an `exec` resource `exec1` running the [`Service`]'s scripts;
//! * [`ClusterSpec::extra`] verbatim at the end (monitors, more groups).

use crate::Lab;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// What the group's `exec` resource runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Service {
    /// Scripts that only record their runs: `serverN start|stop CLP_EVENT` lines appended
    /// to [`Lab::script_runs_path`].
    Record,
    /// A tiny web service answering `hello from serverN` on `PORT` in the server's
    /// namespace: the start script launches `BATON demo-http --port PORT --name serverN
    /// --pid-file …` in the background and waits until it listens (its pid file is
    /// written after the bind), except for a RECOVER run (B93: the start script run when
    /// a server rejoins, with no group to start); the stop script kills it. Both also
    /// record their runs as [`Service::Record`] does.
    Http { baton: PathBuf, port: u16 },
    /// These script texts; one without a `#!` line gets the lab's preamble (`#!/bin/sh`,
    /// then `$server` set to this server's name: `CLP_SERVER` only says `HOME` or `OTHER`).
    Scripts { start: String, stop: String },
}

/// What to put in the cluster file (see the module doc).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterSpec {
    /// `cluster.name`.
    pub name: String,
    /// A secret file (mode 0600) when true; `insecure = true` without a secret when false.
    pub secret: bool,
    pub heartbeat_interval_ms: u64,
    pub heartbeat_timeout_ms: u64,
    pub sync_wait_ms: u64,
    pub auto_return: bool,
    /// The heartbeat UDP port (every server is in its own namespace: the default port is fine).
    pub port: u16,
    /// The failover group's name.
    pub group: String,
    pub service: Service,
    /// A `ping` resolver probing [`Lab::router_address`].
    pub ping_np: bool,
    /// The resolver's `interval` and `timeout`: their sum must stay below the heartbeat timeout.
    pub np_interval_ms: u64,
    pub np_timeout_ms: u64,
    /// Appended to the file as is.
    pub extra: String,
}

impl Default for ClusterSpec {
    fn default() -> ClusterSpec {
        ClusterSpec {
            name: "lab".to_string(),
            secret: true,
            heartbeat_interval_ms: 100,
            heartbeat_timeout_ms: 500,
            sync_wait_ms: 10_000,
            auto_return: false,
            port: 29002,
            group: "failover1".to_string(),
            service: Service::Record,
            ping_np: false,
            np_interval_ms: 200,
            np_timeout_ms: 200,
            extra: String::new(),
        }
    }
}

/// The cluster file's name in `LAB_DIR/etc`.
pub const CONFIG_FILE: &str = "cluster.toml";
/// The secret file's name beside it.
pub const SECRET_FILE: &str = "cluster.key";

/// A shell word: single quotes, with embedded single quotes escaped.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

fn write_file(path: &Path, text: &str, mode: u32) -> Result<(), String> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    f.write_all(text.as_bytes()).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    // `mode` applies at creation only: an existing file gets it here.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("cannot chmod {}: {e}", path.display()))
}

fn random_hex(bytes: usize) -> Result<String, String> {
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(|e| format!("cannot read /dev/urandom: {e}"))?;
    Ok(buf.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    }))
}

/// The first lines of every script the lab writes: `$server` is this server's name.
/// `CLP_SERVER` says `HOME` or `OTHER` (B91), not the name, and every server runs the
/// same scripts, so the name comes from the lab namespace the script runs in
/// (`btPIDk-sN` is `serverN`).
const PREAMBLE: &str = "#!/bin/sh\n\
    # This server's name, from the lab namespace (btPIDk-sN is serverN): CLP_SERVER is HOME or OTHER.\n\
    ns=$(ip netns identify $$ 2>/dev/null)\n\
    server=\"server${ns##*-s}\"\n";

/// The (start, stop) script texts of a service.
fn scripts(lab: &Lab, service: &Service) -> (String, String) {
    let runs = quote(&lab.script_runs_path().display().to_string());
    let record = |what: &str| format!("echo \"$server {what} $CLP_EVENT\" >> {runs}\n");
    match service {
        Service::Record => (format!("{PREAMBLE}{}", record("start")), format!("{PREAMBLE}{}", record("stop"))),
        Service::Http { baton, port } => {
            let run_dir = quote(&lab.dir().join("run").display().to_string());
            let baton = quote(&baton.display().to_string());
            let start = format!(
                "{PREAMBLE}\
                 {record}\
                 # A RECOVER run (a server rejoining) starts nothing: the group is not here.\n\
                 [ \"$CLP_EVENT\" = RECOVER ] && exit 0\n\
                 # The web service, in the background; ready once its pid file exists (written\n\
                 # after the bind). Its output goes to a file: the daemon's pipes must not stay open.\n\
                 mkdir -p {run_dir}\n\
                 pidfile={run_dir}/\"$server-http.pid\"\n\
                 rm -f \"$pidfile\"\n\
                 {baton} demo-http --port {port} --name \"$server\" --pid-file \"$pidfile\" \
                 >{run_dir}/\"$server-http.log\" 2>&1 </dev/null &\n\
                 i=0\n\
                 while [ ! -s \"$pidfile\" ]; do\n\
                 \x20 i=$((i + 1))\n\
                 \x20 [ $i -gt 100 ] && echo 'demo-http did not start' >&2 && exit 1\n\
                 \x20 sleep 0.05\n\
                 done\n",
                record = record("start"),
            );
            let stop = format!(
                "{PREAMBLE}\
                 {record}\
                 pidfile={run_dir}/\"$server-http.pid\"\n\
                 if [ -s \"$pidfile\" ]; then kill \"$(cat \"$pidfile\")\" 2>/dev/null; fi\n\
                 rm -f \"$pidfile\"\n\
                 exit 0\n",
                record = record("stop"),
            );
            (start, stop)
        }
        Service::Scripts { start, stop } => {
            let with_preamble = |s: &str| if s.starts_with("#!") { s.to_string() } else { format!("{PREAMBLE}{s}") };
            (with_preamble(start), with_preamble(stop))
        }
    }
}

/// The file's text (pure: no files written).
pub fn render(lab: &Lab, spec: &ClusterSpec) -> String {
    let mut t = String::new();
    let nets: Vec<String> = lab.networks().iter().map(|n| format!("{n} {}", lab.subnet(n))).collect();
    let _ = writeln!(
        t,
        "# Written by baton-lab for lab {}: {} servers; networks {}.",
        lab.id(),
        lab.servers(),
        nets.join(", ")
    );
    let _ = writeln!(t, "\n[cluster]\nname = \"{}\"", spec.name);
    let _ = writeln!(t, "heartbeat_interval = \"{}ms\"", spec.heartbeat_interval_ms);
    let _ = writeln!(t, "heartbeat_timeout = \"{}ms\"", spec.heartbeat_timeout_ms);
    let _ = writeln!(t, "sync_wait = \"{}ms\"", spec.sync_wait_ms);
    let _ = writeln!(t, "auto_return = {}", spec.auto_return);
    let _ = writeln!(t, "port = {}", spec.port);
    let _ = writeln!(t, "web_port = {}", if spec.port == u16::MAX { spec.port - 1 } else { spec.port + 1 });
    if spec.secret {
        let _ = writeln!(t, "secret_file = \"{SECRET_FILE}\"");
    } else {
        let _ = writeln!(t, "insecure = true");
    }
    for s in 1..=lab.servers() {
        let addresses: Vec<String> =
            lab.networks().iter().map(|n| format!("{n} = \"{}\"", lab.address(s, n))).collect();
        let _ =
            writeln!(t, "\n[[server]]\nname = \"{}\"\naddresses = {{ {} }}", lab.server_name(s), addresses.join(", "));
    }
    for (i, n) in lab.networks().iter().enumerate() {
        let _ = writeln!(t, "\n[[heartbeat]]\nname = \"{n}\"\nkind = \"lan\"\npriority = {}", i + 1);
    }
    if spec.ping_np {
        let _ = writeln!(
            t,
            "\n[[np]]\nname = \"ping1\"\nkind = \"ping\"\ntargets = [\"{}\"]\ninterval = \"{}ms\"\ntimeout = \"{}ms\"",
            lab.router_address(),
            spec.np_interval_ms,
            spec.np_timeout_ms
        );
    }
    let servers: Vec<String> = (1..=lab.servers()).map(|s| format!("\"{}\"", lab.server_name(s))).collect();
    let _ = writeln!(t, "\n[[group]]\nname = \"{}\"\nservers = [{}]", spec.group, servers.join(", "));
    let _ = writeln!(
        t,
        "\n[[group.resource]]\nname = \"fip1\"\nkind = \"floating-ip\"\naddress = \"{}\"\narp_count = 1",
        lab.floating_cidr()
    );
    let _ = writeln!(
        t,
        "\n[[group.resource]]\nname = \"exec1\"\nkind = \"exec\"\nstart = \"start.sh\"\nstop = \"stop.sh\"\ntimeout = \"10s\""
    );
    if !spec.extra.is_empty() {
        let _ = writeln!(t, "\n{}", spec.extra);
    }
    t
}

/// Writes the file, its scripts and its secret; checks the file; returns its path.
pub fn write(lab: &Lab, spec: &ClusterSpec) -> Result<PathBuf, String> {
    let etc = lab.dir().join("etc");
    std::fs::create_dir_all(&etc).map_err(|e| format!("cannot create {}: {e}", etc.display()))?;
    let text = render(lab, spec);
    let path = etc.join(CONFIG_FILE);
    let shown = path.display().to_string();
    if let Err(problems) = baton_core::config::parse(&shown, &text) {
        let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
        return Err(format!("the lab's cluster file is refused:\n{}\n--- file ---\n{text}", list.join("\n")));
    }
    let (start, stop) = scripts(lab, &spec.service);
    write_file(&etc.join("start.sh"), &start, 0o755)?;
    write_file(&etc.join("stop.sh"), &stop, 0o755)?;
    if spec.secret {
        write_file(&etc.join(SECRET_FILE), &format!("{}\n", random_hex(32)?), 0o600)?;
    }
    write_file(&path, &text, 0o644)?;
    Ok(path)
}

impl Lab {
    /// Where the scripts of [`Service::Record`] and [`Service::Http`] append their runs.
    pub fn script_runs_path(&self) -> PathBuf {
        self.dir().join("script-runs.log")
    }

    /// The script runs so far, one `serverN start|stop CLP_EVENT` line each.
    pub fn script_runs(&self) -> Vec<String> {
        std::fs::read_to_string(self.script_runs_path()).unwrap_or_default().lines().map(str::to_string).collect()
    }

    /// The secret of the file written last with `secret = true`, without its final
    /// newline (the bytes the daemons derive their key from), if any.
    pub fn secret(&self) -> Option<Vec<u8>> {
        let text = std::fs::read_to_string(self.dir().join("etc").join(SECRET_FILE)).ok()?;
        Some(text.trim_end().as_bytes().to_vec())
    }
}
