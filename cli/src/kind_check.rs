//! `baton config check` on this machine: the kinds of the file this daemon has no
//! driver for (issue 11 item 8).
//!
//! In: the checked configuration and a locator on the file's text. Out: one diagnostic
//! per gap of `baton_runtime::daemon::kind_support` (the one table of them), at the
//! line and column of the `kind` key of the table it is about, as an error (the daemon
//! refuses the file with the same words) or a warning (the daemon starts and logs it).

use crate::host_check::Locator;
use baton_core::config::{Config, DiagLevel, Diagnostic};
use baton_runtime::daemon::kind_support::{gaps, GapLevel};

pub(crate) fn check(cfg: &Config, at: &Locator, file: &str) -> Vec<Diagnostic> {
    gaps(cfg)
        .into_iter()
        .map(|gap| {
            let (line, col) = at.named_key(&gap.name, "kind");
            let (level, message) = match gap.level {
                GapLevel::Error => (DiagLevel::Error, format!("{gap} (the daemon refuses to start)")),
                GapLevel::Warning => (DiagLevel::Warning, gap.to_string()),
            };
            Diagnostic { file: file.to_string(), line, col, level, message }
        })
        .collect()
}
