//! The purity lint of the core (core/clippy.toml) really fails when someone adds I/O, a clock,
//! a thread or a hashed collection to the core, and it applies to the core only.
//!
//! In: core/clippy.toml and the impure fixture `tests/fixtures/impure_core.rs`. The test builds a
//! throwaway crate from them under the test's temporary target directory (clippy.toml in the
//! crate's own directory, exactly where baton-core has it), runs `cargo clippy -- -D warnings` on
//! it as CI does on the workspace, and expects failure naming every forbidden use.
//! Out: pass/fail. Takes a few seconds (one tiny crate, no dependencies).

use baton_tests::root;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What clippy must report for the fixture, one entry per forbidden use.
const EXPECTED: [&str; 13] = [
    "disallowed method `std::time::Instant::now`",
    "disallowed method `std::time::Instant::elapsed`",
    "disallowed method `std::time::SystemTime::now`",
    "disallowed method `std::fs::read_to_string`",
    "disallowed method `std::fs::File::create`",
    "disallowed method `std::thread::spawn`",
    "disallowed method `std::thread::sleep`",
    "disallowed type `std::process::Command`",
    "disallowed type `std::net::UdpSocket`",
    "disallowed method `std::env::var`",
    "disallowed type `std::collections::HashMap`",
    "disallowed type `std::collections::HashSet`",
    "disallowed type `std::time::Instant`",
];

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

/// The fixture crate in `dir`: its own workspace (it lives under ours), the core's clippy.toml.
fn fixture_crate(dir: &Path) {
    let src = dir.join("src");
    std::fs::create_dir_all(&src).unwrap_or_else(|e| panic!("cannot create {}: {e}", src.display()));
    write(
        &dir.join("Cargo.toml"),
        "[package]\nname = \"impure-core\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n[workspace]\n",
    );
    let clippy_toml = std::fs::read_to_string(root().join("core/clippy.toml")).expect("core/clippy.toml");
    write(&dir.join("clippy.toml"), &clippy_toml);
    let lib = std::fs::read_to_string(root().join("tests/fixtures/impure_core.rs")).expect("impure_core.rs");
    write(&src.join("lib.rs"), &lib);
}

#[test]
fn the_core_lint_fails_on_io_clocks_threads_and_hashed_collections() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("impure-core");
    fixture_crate(&dir);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let output = Command::new(cargo)
        .current_dir(&dir)
        .args(["clippy", "--quiet", "--offline", "--", "-D", "warnings"])
        // The fixture's own target directory: never lock or rebuild the workspace's.
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .env_remove("CLIPPY_CONF_DIR")
        .env_remove("RUSTFLAGS")
        .output()
        .expect("cargo clippy runs (the toolchain has clippy: rust-toolchain.toml)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "clippy accepted the impure fixture:\n{stderr}");
    let missing: Vec<&str> = EXPECTED.iter().copied().filter(|e| !stderr.contains(e)).collect();
    assert!(missing.is_empty(), "clippy did not report {missing:?}; its output:\n{stderr}");
    assert!(!stderr.contains("fn pure"), "the pure control function was reported:\n{stderr}");
}

/// Clippy takes its configuration from the crate's directory or, failing that, the nearest
/// parent: a clippy.toml at the workspace root or in another crate would lint (or unlint) the
/// runtime, drivers and simulator, which need clocks and I/O.
#[test]
fn only_the_core_has_a_clippy_configuration() {
    let root = root();
    for name in ["clippy.toml", ".clippy.toml"] {
        assert!(!root.join(name).exists(), "{name} at the workspace root would apply to every crate");
        let parent = root.parent().map(|p| p.join(name));
        assert!(!parent.as_deref().is_some_and(Path::exists), "{name} above the workspace would apply to every crate");
        for member in ["sim", "cli", "tests", "log", "drivers", "runtime", "lab"] {
            assert!(!root.join(member).join(name).exists(), "{member}/{name}: the purity lint is the core's only");
        }
    }
    assert!(root.join("core/clippy.toml").exists(), "core/clippy.toml (the purity lint) is missing");
}
