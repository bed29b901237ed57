//! `baton config check` and `baton config show`.
//!
//! In: a cluster file path. Out: diagnostics (`FILE:LINE:COL: reason`) and exit 2, or
//! a summary / the resolved configuration and exit 0. `check` also checks what the pure
//! core cannot, on this machine, unless `--file-only` ([`crate::host_check`]): what the
//! daemon would refuse (the cluster secret: an error), the kinds it has no driver for
//! ([`crate::kind_check`]: an error or a warning, by its table) and exec scripts that are
//! missing or not executable (B133: a warning).

use crate::host_check;
use baton_core::config::{self, Checked, Config, DiagLevel, RouteBasis, TargetOwner};
use std::path::Path;
use std::process::ExitCode;

/// Reads and checks a cluster file, and with `host` what this machine's daemon would
/// make of it (errors among the warnings); on failure prints every problem.
pub fn load(file: &Path, host: bool) -> Result<Checked, ExitCode> {
    let name = file.display().to_string();
    let text = match baton_sim::input_file::read_text(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e} (the cluster file)");
            return Err(ExitCode::from(2));
        }
    };
    match config::parse(&name, &text) {
        Ok(mut c) => {
            if host {
                c.warnings.extend(host_check::check(&c.config, &text, file));
            }
            Ok(c)
        }
        Err(diags) => {
            for d in &diags {
                eprintln!("{d}");
            }
            eprintln!("{name}: {} problem(s); the file is refused as a whole", diags.len());
            Err(ExitCode::from(2))
        }
    }
}

/// `count` things, in the singular for one: `1 group`, `2 groups`.
pub fn plural(count: usize, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

/// `baton config check [--file-only] FILE`.
pub fn check(file: &Path, file_only: bool) -> ExitCode {
    let c = match load(file, !file_only) {
        Ok(c) => c,
        Err(code) => return code,
    };
    for w in &c.warnings {
        eprintln!("{w}");
    }
    let refused = c.warnings.iter().filter(|d| d.level == DiagLevel::Error).count();
    if refused > 0 {
        eprintln!(
            "{}: {} on this machine: the daemon would refuse to start (`--file-only` checks the file alone)",
            file.display(),
            plural(refused, "problem", "problems")
        );
        return ExitCode::from(2);
    }
    let cfg = &c.config;
    println!(
        "{}: ok: cluster {}, {}, {}, {}, {} ({} implied), {}, {}",
        file.display(),
        cfg.cluster.name,
        plural(cfg.servers.len(), "server", "servers"),
        plural(cfg.groups.len(), "group", "groups"),
        plural(cfg.resources.len(), "resource", "resources"),
        plural(cfg.monitors.len(), "monitor", "monitors"),
        cfg.monitors.iter().filter(|m| m.implied).count(),
        plural(cfg.nps.len(), "resolver", "resolvers"),
        plural(c.warnings.len(), "warning", "warnings")
    );
    print_routes(cfg);
    ExitCode::SUCCESS
}

/// Which network each ping/http target is reached over (docs/configuration.md,
/// "Targets and networks"): one line per target.
fn print_routes(cfg: &Config) {
    for r in cfg.target_routes() {
        let owner = match r.owner {
            TargetOwner::Np(i) => format!("np \"{}\"", cfg.nps[i].name),
            TargetOwner::Monitor(m) => format!("monitor \"{}\"", cfg.monitor(m).name),
        };
        let how = match (&r.basis, &r.network) {
            (RouteBasis::Named, Some(n)) => format!("network {n} (named by `network`)"),
            (RouteBasis::Subnet, Some(n)) => format!("network {n} (subnet of the servers' addresses)"),
            (RouteBasis::Ambiguous(nets), _) => format!("no network (as close to {} each)", nets.join(", ")),
            (RouteBasis::Unbound, _) | (RouteBasis::Named | RouteBasis::Subnet, None) => {
                "no network (unbound: only isolate and target down reach it)".to_string()
            }
        };
        println!("  target {} of {owner}: {how}", r.target);
    }
}

pub fn show(file: &Path) -> ExitCode {
    match load(file, false) {
        Ok(c) => {
            print!("{}", config::render(&c.config));
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}
