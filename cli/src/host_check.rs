//! What `baton config check` checks on this machine, beyond the file itself: what the
//! daemon would refuse at start, and the scripts it would fail to run.
//!
//! In: the checked configuration, the cluster file's text and path. Out: diagnostics at
//! the line of the key they are about (`FILE:LINE:COL: reason`): an error for what makes
//! `baton daemon` refuse to start (the cluster secret, worded as the daemon words it:
//! both call `load_secret` on the same resolved path), a warning for an exec script that
//! is missing or not executable (B133: the activation or the check fails, the daemon
//! starts).
//!
//! Kinds this daemon has no driver for are reported by [`crate::kind_check`].
//!
//! Paths are resolved exactly as the daemon resolves them ([`config_dir`]): relative to
//! the cluster file's directory, made absolute once at load.

use baton_core::config::{Config, DiagLevel, Diagnostic, MonitorKind, ResourceKind};
use baton_runtime::transport::load_secret;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use toml_edit::{ImDocument, Item, Table};

/// The directory relative paths of the cluster file are taken from: the file's own
/// directory, absolute (so that a script started in its own directory, or a daemon that
/// changes directory, still finds every path).
pub fn config_dir(file: &Path) -> PathBuf {
    let absolute = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    let dir = absolute.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    dir.to_path_buf()
}

/// A path from the configuration: absolute stays, relative is from `config_dir`.
pub fn resolve(config_dir: &Path, path: &str) -> PathBuf {
    let p = Path::new(path);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        config_dir.join(p)
    }
}

/// Finds the line and column of keys in the cluster file's text.
pub(crate) struct Locator {
    text: String,
    doc: Option<ImDocument<String>>,
}

impl Locator {
    pub(crate) fn new(text: &str) -> Locator {
        Locator { text: text.to_string(), doc: ImDocument::parse(text.to_string()).ok() }
    }

    /// 1-based line and column of a byte offset.
    fn pos(&self, offset: usize) -> (usize, usize) {
        let before = self.text.get(..offset).unwrap_or("");
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    }

    /// Where `key` is in `[cluster]`, else where `[cluster]` is, else 1:1.
    fn cluster_key(&self, key: &str) -> (usize, usize) {
        let Some(doc) = &self.doc else { return (1, 1) };
        let Some(cluster) = doc.get("cluster").and_then(Item::as_table) else { return (1, 1) };
        let span = cluster.get(key).and_then(Item::span).or_else(|| cluster.span());
        span.map_or((1, 1), |s| self.pos(s.start))
    }

    /// Where `key` is in the table (at any depth: `[[group.resource]]`, `[[monitor]]`)
    /// whose `name` is `name`; 1:1 if it cannot be found.
    pub(crate) fn named_key(&self, name: &str, key: &str) -> (usize, usize) {
        let Some(doc) = &self.doc else { return (1, 1) };
        find_in(doc.as_table(), name, key).map_or((1, 1), |offset| self.pos(offset))
    }
}

/// The offset of `key` in the first table below `table` named `name`.
fn find_in(table: &Table, name: &str, key: &str) -> Option<usize> {
    if table.get("name").and_then(Item::as_str) == Some(name) {
        if let Some(start) = table.get(key).and_then(Item::span).map(|s| s.start) {
            return Some(start);
        }
    }
    table.iter().find_map(|(_, item)| match item {
        Item::Table(t) => find_in(t, name, key),
        Item::ArrayOfTables(a) => a.iter().find_map(|t| find_in(t, name, key)),
        Item::None | Item::Value(_) => None,
    })
}

/// Every problem of this machine with the configuration (see the module doc).
pub fn check(cfg: &Config, text: &str, file: &Path) -> Vec<Diagnostic> {
    let at = Locator::new(text);
    let dir = config_dir(file);
    let shown = file.display().to_string();
    let diag = |(line, col): (usize, usize), level: DiagLevel, message: String| Diagnostic {
        file: shown.clone(),
        line,
        col,
        level,
        message,
    };
    let mut out = crate::kind_check::check(cfg, &at, &shown);
    let secret_path = cfg.cluster.secret_file.as_deref().map(|s| resolve(&dir, s));
    match load_secret(secret_path.as_deref(), cfg.cluster.insecure) {
        Ok(secret) => {
            if let Some(w) = secret.warning {
                out.push(diag(at.cluster_key("secret_file"), DiagLevel::Warning, w));
            }
        }
        Err(e) => out.push(diag(
            at.cluster_key("secret_file"),
            DiagLevel::Error,
            format!("{e} (the daemon refuses to start)"),
        )),
    }
    for r in &cfg.resources {
        let ResourceKind::Exec { start, stop, .. } = &r.kind else { continue };
        for (key, script) in [("start", start), ("stop", stop)] {
            let Some(script) = script else { continue };
            if let Some(problem) = script_problem(&resolve(&dir, script)) {
                let message = format!("resource \"{}\": script {script} {problem} (activation will fail)", r.name);
                out.push(diag(at.named_key(&r.name, key), DiagLevel::Warning, message));
            }
        }
    }
    for m in &cfg.monitors {
        let MonitorKind::Exec { command } = &m.kind else { continue };
        if command.trim().is_empty() {
            continue;
        }
        if let Some(problem) = script_problem(&resolve(&dir, command)) {
            let message = format!("monitor \"{}\": command {command} {problem} (every check will fail)", m.name);
            out.push(diag(at.named_key(&m.name, "command"), DiagLevel::Warning, message));
        }
    }
    out
}

/// Why the daemon could not run this script, if it could not.
fn script_problem(path: &Path) -> Option<String> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some("does not exist".to_string()),
        Err(e) => Some(format!("cannot be read ({e})")),
        Ok(meta) if !meta.is_file() => Some("is not a regular file".to_string()),
        Ok(meta) if meta.permissions().mode() & 0o111 == 0 => {
            let mode = meta.permissions().mode() & 0o7777;
            Some(format!("is not executable (mode {mode:04o}, run chmod +x {})", path.display()))
        }
        Ok(_) => None,
    }
}
