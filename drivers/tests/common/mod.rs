//! What the namespace tests of the drivers share: the prerequisite check (root, tools,
//! the example binary run inside a namespace) and running a command that must succeed.

#![allow(dead_code)] // each test file uses its own subset

use std::path::PathBuf;
use std::process::{Command, Output};

/// Why a namespace test cannot run here, if it cannot: not root, one of `tools`
/// (name, Debian package) missing, or the example `example` not built.
pub fn missing_prerequisite(tools: &[(&str, &str)], example: &str) -> Option<String> {
    if !rustix::process::geteuid().is_root() {
        return Some("not root (network namespaces need it)".to_string());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path).chain(["/usr/sbin".into(), "/sbin".into()]).collect();
    for (tool, package) in tools {
        if !dirs.iter().any(|d| d.join(tool).is_file()) {
            return Some(format!("`{tool}` not found (Debian package {package})"));
        }
    }
    let built = example_path(example);
    if !built.is_file() {
        return Some(format!("the {example} example is not built ({}); run plain `cargo test`", built.display()));
    }
    None
}

/// `target/<profile>/examples/<name>`, beside `target/<profile>/deps/<this test>`.
pub fn example_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>");
    profile_dir.join("examples").join(name)
}

pub fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program).args(args).output().unwrap_or_else(|e| panic!("cannot run {program} {args:?}: {e}"))
}

/// Runs a command that must succeed; its standard output.
pub fn must(program: &str, args: &[&str]) -> String {
    let out = run(program, args);
    assert!(out.status.success(), "{program} {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}
