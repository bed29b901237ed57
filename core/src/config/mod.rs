//! The cluster file (`config.md`): parsing, defaults, validation, rendering.
//!
//! In: the file's name and text. Out: a resolved [`Config`] plus warnings, or every
//! problem found, each as `FILE:LINE:COL: reason`. Pure: reading the file and checking
//! that scripts exist are the caller's business.
//!
//! The passes, in order: `outline` (tables and names), `read_top` (cluster, servers,
//! server groups, heartbeats, resolvers), `read_groups` + `mirror` (groups and
//! resources), `monitors` (written monitors), `implied` (B88), `validate` (cycles,
//! limits), `warnings` (B133). `toml_walk` gives them typed, positioned values;
//! `keys`, `words`, `defaults` and `ranges` hold the vocabulary and the default values that
//! `render` shares.

mod ctx;
mod defaults;
mod duration;
mod implied;
mod keys;
mod mirror;
pub mod model;
mod monitors;
mod net;
mod observe;
mod outline;
mod ranges;
mod read_groups;
mod read_top;
mod render;
mod targets;
pub mod timing;
mod toml_walk;
mod validate;
mod warnings;
mod words;

pub use defaults::PROBE_WINDOW_MS as DEFAULT_PROBE_WINDOW_MS;
pub use keys::known_keys;
pub use model::*;
pub use observe::{Alert, AlertSink, Observe, WebTls, ALERT_MAX_PER_MINUTE, ALERT_TIMEOUT_MS, SYSLOG_SOCKET};
pub use ranges::{DurationRange, ALL as DURATION_RANGES, LONGEST_MS};
pub use render::render;
pub use targets::{target_ip, RouteBasis, TargetOwner, TargetRoute};
pub use words::final_action as final_action_name;

use std::fmt;

/// Whether a diagnostic refuses the file or only warns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiagLevel {
    Error,
    Warning,
}

/// One problem (or warning) found in a cluster file, with its position (1-based).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub level: DiagLevel,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.level {
            DiagLevel::Error => write!(f, "{}:{}:{}: {}", self.file, self.line, self.col, self.message),
            DiagLevel::Warning => write!(f, "{}:{}:{}: warning: {}", self.file, self.line, self.col, self.message),
        }
    }
}

/// A configuration that passed every check, with the warnings found (B133).
#[derive(Clone, Debug)]
pub struct Checked {
    pub config: Config,
    pub warnings: Vec<Diagnostic>,
}

/// Parses and checks a cluster file. `file` is the name used in diagnostics.
/// On refusal the list holds every error (warnings left out), sorted by line and column.
pub fn parse(file: &str, text: &str) -> Result<Checked, Vec<Diagnostic>> {
    let doc = toml_edit::ImDocument::parse(text);
    let mut w = toml_walk::Walk::new(file, text);
    let doc = match doc {
        Ok(doc) => doc,
        Err(e) => {
            // A syntax error stops the reading: nothing after it can be trusted.
            let at = w.pos(e.span(), toml_walk::Pos::START);
            let reason: Vec<&str> = e.message().lines().map(str::trim).filter(|l| !l.is_empty()).collect();
            w.diags.error(at, format!("not valid TOML: {}", reason.join("; ")));
            return Err(w.diags.list);
        }
    };
    let outline = outline::outline(&mut w, doc.as_table());
    let mut cx = ctx::Ctx::new(w, outline);
    // Each pass reads what the earlier ones resolved (names, then servers, then
    // groups and resources, then monitors); all of them run even after errors so
    // that every problem is listed at once.
    read_top::read_cluster(&mut cx);
    read_top::read_servers(&mut cx);
    read_top::read_server_groups(&mut cx);
    read_top::read_heartbeats(&mut cx);
    read_top::read_nps(&mut cx);
    observe::read_web_listen(&mut cx);
    observe::read_web_console(&mut cx);
    observe::read_alerts(&mut cx);
    read_groups::read_groups(&mut cx);
    monitors::read_monitors(&mut cx);
    implied::add_implied(&mut cx);
    validate::validate(&mut cx);
    warnings::warn(&mut cx);
    let failed = cx.w.diags.has_errors();
    let mut list = cx.w.diags.list;
    list.sort_by_key(|d| (d.line, d.col));
    if failed {
        list.retain(|d| d.level == DiagLevel::Error);
        return Err(list);
    }
    let mut config = cx.cfg;
    config.warnings = list.iter().map(|d| d.message.clone()).collect();
    Ok(Checked { config, warnings: list })
}

/// Parses a duration with a unit: `"100ms"`, `"3s"`, `"5m"`, `"1h"`, `"2m30s"`.
pub fn parse_duration_ms(text: &str) -> Result<Ms, String> {
    duration::parse_duration_ms(text)
}

/// Writes a duration the way the file does (`"3s"`, `"100ms"`, `"2m30s"`); parses
/// back with [`parse_duration_ms`].
pub fn format_duration_ms(ms: Ms) -> String {
    duration::format_ms(ms)
}
