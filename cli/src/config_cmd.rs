//! `baton config check` and `baton config show`.
//!
//! In: a cluster file path. Out: diagnostics (`FILE:LINE:COL: reason`) and exit 2, or
//! a summary / the resolved configuration and exit 0. Also checks what the pure core
//! cannot: that exec scripts exist (B133, a warning).

use baton_core::config::{self, Checked, Config, DiagLevel, Diagnostic, ResourceKind, RouteBasis, TargetOwner};
use std::path::Path;
use std::process::ExitCode;

/// Reads and checks a cluster file; on failure prints every problem.
pub fn load(file: &Path) -> Result<Checked, ExitCode> {
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
            c.warnings.extend(missing_scripts(&c.config, file));
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

/// B133: exec scripts that do not exist (paths relative to the config file).
fn missing_scripts(cfg: &Config, file: &Path) -> Vec<Diagnostic> {
    let dir = file.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    for r in &cfg.resources {
        if let ResourceKind::Exec { start, stop, .. } = &r.kind {
            for p in [start, stop].into_iter().flatten() {
                if !dir.join(p).exists() {
                    out.push(Diagnostic {
                        file: file.display().to_string(),
                        line: 1,
                        col: 1,
                        level: DiagLevel::Warning,
                        message: format!("resource \"{}\": script {p} does not exist (activation will fail)", r.name),
                    });
                }
            }
        }
    }
    out
}

pub fn check(file: &Path) -> ExitCode {
    let c = match load(file) {
        Ok(c) => c,
        Err(code) => return code,
    };
    for w in &c.warnings {
        eprintln!("{w}");
    }
    let cfg = &c.config;
    println!(
        "{}: ok: cluster {}, {} servers, {} groups, {} resources, {} monitors ({} implied), {} resolvers, {} warning(s)",
        file.display(),
        cfg.cluster.name,
        cfg.servers.len(),
        cfg.groups.len(),
        cfg.resources.len(),
        cfg.monitors.len(),
        cfg.monitors.iter().filter(|m| m.implied).count(),
        cfg.nps.len(),
        c.warnings.len()
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
    match load(file) {
        Ok(c) => {
            print!("{}", config::render(&c.config));
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}
