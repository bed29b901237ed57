//! `baton mirror init|status` and the hidden `baton mirror-engine`: the mirror disk's
//! commands that work on this server's side directly, without the daemon
//! (docs/mirror.md, "Initial construction", "The engine process", "Status").
//!
//! In: the cluster file (the `mirror-disk` resource's `data` and `metadata` for this
//! server, `fs_type`, `network`, `mode`; the cluster secret), or the engines' control
//! sockets under the state directory. Out: a side's metadata written (`init`, and its
//! file system with `--mkfs`), an engine process serving the side (`mirror-engine`), the
//! engines' status (`status`). Exit 0, 1 when the operation failed on the machine
//! (a device, an engine), 2 for bad input with a message saying what to do.

use std::io::IsTerminal;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use baton_core::config::{Config, MirrorMode};
use baton_mirror::engine::metadata::{self, InitRole};
use baton_mirror::engine::Mode;
use baton_mirror::process::{self, control, EngineSpec};
use serde_json::{json, Value};

use crate::host_check;

/// The first mirror's port is the cluster `port` plus this; the n-th mirror (file
/// order) adds n. Default 29102, 29103, … (docs/mirror.md, "The engine process").
pub const MIRROR_PORT_OFFSET: u16 = 100;
/// How long `mirror status` waits for an engine's answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// `baton mirror …`: the commands on this server's side, and the daemon's.
#[derive(clap::Subcommand, Clone, Debug)]
pub enum MirrorCmd {
    /// Write this server's side's metadata before the mirror's first use (run on each
    /// server): --primary (its data counts), --secondary (a full copy is due from the
    /// peer) or --assume-identical (on both sides, for blank or cloned devices).
    #[command(group(clap::ArgGroup::new("role").required(true).args(["primary", "secondary", "assume_identical"])))]
    Init {
        /// The mirror-disk resource's name in the cluster file.
        #[arg(value_name = "MIRROR")]
        mirror: String,
        /// The cluster file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// This server's name in the file.
        #[arg(long, value_name = "NAME")]
        server: String,
        /// This side's data counts: the peer is copied from it.
        #[arg(long)]
        primary: bool,
        /// With --primary: create the `fs_type` file system when the data device holds
        /// none (a device that holds one is never formatted).
        #[arg(long)]
        mkfs: bool,
        /// This side starts behind: the peer's data is copied to it in full.
        #[arg(long)]
        secondary: bool,
        /// Both sides' devices are identical (blank or cloned): the pair starts synced.
        #[arg(long)]
        assume_identical: bool,
        /// Overwrite metadata that already exists (this side's record is forgotten:
        /// only for a side being rebuilt from scratch).
        #[arg(long)]
        force: bool,
    },
    /// The mirror engines' status on this server: role, record, links, lag, lease,
    /// rebuild progress (a progress bar on a terminal while a rebuild runs).
    Status {
        /// One mirror (default: every engine running on this server).
        #[arg(value_name = "MIRROR")]
        mirror: Option<String>,
        /// One JSON document: `{"mirrors": [status, …]}`.
        #[arg(long)]
        json: bool,
        /// The daemon's state directory (the engines' sockets are DIR/mirror/NAME.sock).
        #[arg(long, value_name = "DIR", default_value = crate::daemon_cmd::DEFAULT_STATE_DIR)]
        state_dir: PathBuf,
    },
    #[command(flatten)]
    Daemon(crate::control_cmd::MirrorCmd),
}

fn bad(what: &str, msg: &str) -> ExitCode {
    eprintln!("baton mirror {what}: {msg}");
    ExitCode::from(2)
}

fn failed(what: &str, msg: &str) -> ExitCode {
    eprintln!("baton mirror {what}: {msg}");
    ExitCode::from(1)
}

pub fn run(c: &MirrorCmd) -> ExitCode {
    match c {
        MirrorCmd::Init { mirror, config, server, primary, mkfs, secondary: _, assume_identical, force } => {
            // Checked here: clap's `requires` takes a flag's default `false` for present.
            if *mkfs && !*primary {
                return bad("init", "--mkfs goes with --primary only (the side whose data counts)");
            }
            let role = if *primary {
                InitRole::Primary
            } else if *assume_identical {
                InitRole::AssumeIdentical
            } else {
                InitRole::Secondary
            };
            init(mirror, config, server, role, *mkfs, *force)
        }
        MirrorCmd::Status { mirror, json, state_dir } => status(mirror.as_deref(), *json, state_dir),
        MirrorCmd::Daemon(d) => crate::control_cmd::mirror(d),
    }
}

/// This server's side of a mirror, as the cluster file gives it.
struct SideOf {
    cfg: Config,
    config_dir: PathBuf,
    data: PathBuf,
    meta: PathBuf,
    fs_type: String,
    mode: MirrorMode,
    /// This server's and the peer's addresses on each connect network, with the port.
    listen: Vec<SocketAddr>,
    peers: Vec<SocketAddr>,
    hybrid: bool,
}

fn side_of(file: &Path, server: &str, mirror: &str) -> Result<SideOf, String> {
    let text = baton_sim::input_file::read_text(file)?;
    let name = file.display().to_string();
    let cfg = match baton_core::config::parse(&name, &text) {
        Ok(c) => c.config,
        Err(problems) => {
            for p in &problems {
                eprintln!("{p}");
            }
            return Err(format!("{name}: invalid configuration (run `baton config check {name}`)"));
        }
    };
    let me = cfg.server_id(server).ok_or_else(|| {
        let known: Vec<&str> = cfg.servers.iter().map(|s| s.name.as_str()).collect();
        format!("server {server} is not in {name} (servers: {})", known.join(", "))
    })?;
    let mirrors: Vec<_> = cfg.mirror_ids().collect();
    let Some(ordinal) = mirrors.iter().position(|r| cfg.resource(*r).name == mirror) else {
        let known: Vec<&str> = mirrors.iter().map(|r| cfg.resource(*r).name.as_str()).collect();
        return Err(format!("{name} has no mirror-disk or hybrid-disk named {mirror} (mirrors: {})", known.join(", ")));
    };
    let res = cfg.resource(mirrors[ordinal]);
    let m = res.kind.mirror().ok_or("not a mirror")?.clone();
    let hybrid = matches!(res.kind, baton_core::config::ResourceKind::HybridDisk(_));
    let Some(mine) = m.sides.iter().position(|s| s.servers.contains(&me)) else {
        return Err(format!("server {server} holds no side of mirror {mirror} in {name}"));
    };
    let config_dir = host_check::config_dir(file);
    let side = &m.sides[mine];
    let meta = side.metadata.as_deref().ok_or_else(|| {
        format!("mirror {mirror} names no `metadata` device for server {server} in {name}: add it (a device or file of this server)")
    })?;
    let port = cfg
        .cluster
        .port
        .checked_add(MIRROR_PORT_OFFSET)
        .and_then(|p| p.checked_add(u16::try_from(ordinal).ok()?))
        .ok_or_else(|| {
            format!("cluster port {} + {MIRROR_PORT_OFFSET} + {ordinal} is past 65535: lower `port`", cfg.cluster.port)
        })?;
    let addr = |s: baton_core::config::ServerId, net: &str| -> Result<SocketAddr, String> {
        let sv = cfg.server(s);
        let a = sv.addresses.get(net).ok_or_else(|| format!("server {} has no address on {net}", sv.name))?;
        let ip: IpAddr =
            a.parse().map_err(|_| format!("server {}: {net} address {a} is not an IP address", sv.name))?;
        Ok(SocketAddr::new(ip, port))
    };
    let peer = m.sides[1 - mine].servers.first().copied().ok_or("the other side has no server")?;
    let listen = m.networks.iter().map(|n| addr(me, n)).collect::<Result<Vec<_>, _>>()?;
    let peers = m.networks.iter().map(|n| addr(peer, n)).collect::<Result<Vec<_>, _>>()?;
    Ok(SideOf {
        data: host_check::resolve(&config_dir, &side.data),
        meta: host_check::resolve(&config_dir, meta),
        fs_type: m.fs_type.clone(),
        mode: m.mode,
        listen,
        peers,
        hybrid,
        cfg,
        config_dir,
    })
}

fn init(mirror: &str, file: &Path, server: &str, role: InitRole, mkfs: bool, force: bool) -> ExitCode {
    let side = match side_of(file, server, mirror) {
        Ok(s) => s,
        Err(e) => return bad("init", &e),
    };
    // Refused before anything is written or formatted.
    if !force && metadata::MetaStore::open(&side.meta).is_ok() {
        return bad(
            "init",
            &format!(
                "{}: already holds this side's metadata; initialising again forgets its record \
                 (pass --force only to rebuild this side from scratch)",
                side.meta.display()
            ),
        );
    }
    let size_bytes = match device_bytes(&side.data) {
        Ok(n) => n,
        Err(e) => return failed("init", &format!("{}: {e}", side.data.display())),
    };
    if mkfs {
        match holds_filesystem(&side.data) {
            Ok(Some(kind)) => {
                println!("{}: holds a {kind} file system already: not formatted", side.data.display());
            }
            Ok(None) => {
                let out = Command::new(format!("mkfs.{}", side.fs_type)).arg("-q").arg(&side.data).output();
                match out {
                    Ok(o) if o.status.success() => {
                        println!("{}: {} file system created", side.data.display(), side.fs_type);
                    }
                    Ok(o) => {
                        let why = String::from_utf8_lossy(&o.stderr);
                        return failed(
                            "init",
                            &format!("mkfs.{} {}: {}", side.fs_type, side.data.display(), why.trim()),
                        );
                    }
                    Err(e) => {
                        return failed("init", &format!("cannot run mkfs.{} (is it installed?): {e}", side.fs_type));
                    }
                }
            }
            Err(e) => return failed("init", &e),
        }
    }
    match metadata::init_side(&side.meta, size_bytes, role, mirror, force) {
        Ok(m) => {
            let what = match role {
                InitRole::Primary => "primary: synced, its data counts",
                InitRole::Secondary => "secondary: behind, a full copy from the peer is due",
                InitRole::AssumeIdentical => "assumed identical: synced",
            };
            println!(
                "{mirror} on {server}: metadata written to {} ({what}; volume {} bytes, generation {:016x})",
                side.meta.display(),
                m.header().size_bytes,
                m.header().current_gen
            );
            ExitCode::SUCCESS
        }
        Err(e) => failed("init", &format!("{}: {e}", side.meta.display())),
    }
}

/// The data device's size (a block device's or a file's).
fn device_bytes(path: &Path) -> std::io::Result<u64> {
    use std::io::{Seek, SeekFrom};
    let mut f = std::fs::File::open(path)?;
    f.seek(SeekFrom::End(0))
}

/// `Some(type)` when `blkid -p` (a low-level probe of the device itself, not the cache)
/// finds a file system or any other signature; `None` when it finds nothing. Anything
/// else (no blkid, an unreadable device) is an error: a device is never formatted on a
/// guess.
fn holds_filesystem(path: &Path) -> Result<Option<String>, String> {
    let out = Command::new("blkid")
        .args(["-p", "-o", "value", "-s", "TYPE"])
        .arg(path)
        .output()
        .map_err(|e| format!("cannot run blkid (util-linux) to look for a file system: {e}; not formatting"))?;
    match out.status.code() {
        Some(0) => {
            let t = String::from_utf8_lossy(&out.stdout).trim().to_string();
            Ok(Some(if t.is_empty() { "signature (partition table or other)".to_string() } else { t }))
        }
        // blkid: 2 means no signature was found.
        Some(2) => Ok(None),
        _ => {
            Err(format!("blkid -p {}: {}; not formatting", path.display(), String::from_utf8_lossy(&out.stderr).trim()))
        }
    }
}

/// Where the active side's device is published (`/dev/baton/MIRROR`).
pub const DEFAULT_DEV_DIR: &str = "/dev/baton";

/// The hidden `baton mirror-engine MIRROR --config FILE --server NAME`; `dev_dir`: the
/// front end's device is published there (`None`: `--no-front`).
pub fn engine(
    mirror: &str,
    file: &Path,
    server: &str,
    state_dir: &Path,
    test_io: bool,
    dev_dir: Option<&Path>,
) -> ExitCode {
    let what = "engine";
    let side = match side_of(file, server, mirror) {
        Ok(s) => s,
        Err(e) => return bad(what, &e),
    };
    if side.hybrid {
        return bad(what, &format!("{mirror} is a hybrid-disk: its engine process is not implemented yet"));
    }
    let secret_path = side.cfg.cluster.secret_file.as_deref().map(|s| host_check::resolve(&side.config_dir, s));
    let secret = match baton_runtime::transport::load_secret(secret_path.as_deref(), side.cfg.cluster.insecure) {
        Ok(s) => s,
        Err(e) => return bad(what, &e),
    };
    if let Some(w) = &secret.warning {
        eprintln!("baton mirror-engine: WARNING: {w}");
    }
    let key = secret.key.derive(baton_runtime::transport::packet::MIRROR_LINK_LABEL).to_vec();
    let spec = EngineSpec {
        mirror: mirror.to_string(),
        data: side.data,
        meta: side.meta,
        listen: side.listen,
        peers: side.peers,
        key,
        mode: match side.mode {
            MirrorMode::Sync => Mode::Sync,
            MirrorMode::Async => Mode::Async,
        },
        socket: socket_path(state_dir, mirror),
        test_io,
        front: dev_dir.map(|d| process::FrontSpec {
            dir: state_dir.join("mirror").join(format!("{mirror}.front")),
            link: d.join(mirror),
        }),
    };
    match process::run(spec) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => failed(what, &e.to_string()),
    }
}

/// Where the engine of `mirror` answers.
pub fn socket_path(state_dir: &Path, mirror: &str) -> PathBuf {
    state_dir.join("mirror").join(format!("{mirror}.sock"))
}

fn status(mirror: Option<&str>, as_json: bool, state_dir: &Path) -> ExitCode {
    let what = "status";
    let names: Vec<String> = match mirror {
        Some(m) => vec![m.to_string()],
        None => {
            let mut v: Vec<String> = std::fs::read_dir(state_dir.join("mirror"))
                .map(|d| {
                    d.filter_map(Result::ok)
                        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".sock").map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            v.sort();
            v
        }
    };
    if names.is_empty() {
        return bad(what, &format!("no mirror engine runs under {} (is --state-dir right?)", state_dir.display()));
    }
    let ask = |name: &str| -> Result<Value, String> {
        let path = socket_path(state_dir, name);
        match control::call(&path, &json!({"status": {}}), ANSWER_TIMEOUT) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(format!("{name}: the engine answered: {e}")),
            Err(e) => Err(format!("{name}: no engine answers on {} ({e})", path.display())),
        }
    };
    let mut docs = Vec::new();
    for n in &names {
        match ask(n) {
            Ok(v) => docs.push(v),
            Err(e) => return bad(what, &e),
        }
    }
    if as_json {
        println!("{}", json!({"mirrors": docs}));
        return ExitCode::SUCCESS;
    }
    for d in &docs {
        print!("{}", text(d));
    }
    // On a terminal, follow a running rebuild with a progress bar until it ends.
    if std::io::stdout().is_terminal() {
        for (n, d) in names.iter().zip(&docs) {
            if d["rebuild"]["running"].as_bool() == Some(true) {
                follow_rebuild(n, d, &ask);
            }
        }
    }
    ExitCode::SUCCESS
}

fn follow_rebuild(name: &str, first: &Value, ask: &dyn Fn(&str) -> Result<Value, String>) {
    let bar = indicatif::ProgressBar::new(first["rebuild"]["total_bytes"].as_u64().unwrap_or(0));
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:40}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message(format!("{name} rebuild"));
    let mut last = first.clone();
    let started = Instant::now();
    while last["rebuild"]["running"].as_bool() == Some(true) && started.elapsed() < Duration::from_secs(24 * 3600) {
        bar.set_length(last["rebuild"]["total_bytes"].as_u64().unwrap_or(0));
        bar.set_position(last["rebuild"]["done_bytes"].as_u64().unwrap_or(0));
        std::thread::sleep(Duration::from_millis(200));
        match ask(name) {
            Ok(v) => last = v,
            Err(e) => {
                bar.abandon_with_message(e);
                return;
            }
        }
    }
    bar.finish_and_clear();
    println!("{name}: rebuild {}", outcome(&last["rebuild"]["outcome"]));
}

fn outcome(o: &Value) -> String {
    if o.is_null() {
        return "not run".into();
    }
    if let Some(s) = o.as_str() {
        return s.to_string();
    }
    o["failed"].as_str().map_or_else(|| o.to_string(), |w| format!("failed: {w}"))
}

fn record_text(r: &Value) -> String {
    if let Some(s) = r.as_str() {
        s.to_string()
    } else if r.get("behind").is_some() {
        if r["behind"]["full"].as_bool() == Some(true) {
            "behind (full copy due)".into()
        } else {
            "behind".into()
        }
    } else if r.get("ahead").is_some() {
        format!("ahead (break at {} ms)", r["ahead"]["break_ms"])
    } else {
        r.to_string()
    }
}

/// One engine's status in words.
fn text(d: &Value) -> String {
    let mut s = format!(
        "{}: {} ({}), record {}, links {}/{}",
        d["mirror"].as_str().unwrap_or("?"),
        d["role"].as_str().unwrap_or("?"),
        d["mode"].as_str().unwrap_or("?"),
        record_text(&d["record"]),
        d["links_up"],
        d["links_configured"],
    );
    if d["role"] == "active" {
        s += &format!(
            ", peer {}, lease {} ms, lag {} bytes ({} writes), dirty regions {}",
            d["peer"].as_str().unwrap_or("?"),
            d["lease_ms_left"],
            d["lag_bytes"],
            d["lag_writes"],
            d["dirty_regions"]
        );
        if let (Some(dev), Some(lo)) = (d["device"].as_str(), d["loop_device"].as_str()) {
            s += &format!(", device {dev} ({lo})");
        }
        let r = &d["rebuild"];
        if r["running"].as_bool() == Some(true) {
            s += &format!(
                "\n  rebuild ({}): {} / {} bytes, {} bytes/s, ETA {} s",
                if r["full"].as_bool() == Some(true) { "full" } else { "differential" },
                r["done_bytes"],
                r["total_bytes"],
                r["rate_bytes_per_s"],
                r["eta_s"].as_u64().map_or_else(|| "?".into(), |e| e.to_string())
            );
        } else if !r["outcome"].is_null() {
            s += &format!("\n  last rebuild: {}", outcome(&r["outcome"]));
        }
    } else if d["role"] == "standby" {
        s += &format!(", applied writes {}, disk error {}", d["applied_writes"], d["disk_error"]);
    }
    s + "\n"
}
