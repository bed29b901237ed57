//! `baton bench`: placeholder replaced below.
use std::process::ExitCode;
pub fn run(_only: Option<&str>, _quick: bool) -> ExitCode {
    ExitCode::SUCCESS
}
