//! A closed stdout ends the command quietly (`baton log replay DIR | grep -q ok`,
//! `baton status | head -1`), as with every Unix tool.
//!
//! In: nothing (installed once at the start of `main`). Out: when a write to stdout
//! fails because the reader went away (EPIPE), the process exits 0 without a word.
//!
//! Why a panic hook: Rust ignores SIGPIPE, so the write fails with EPIPE and `print!`
//! panics with "failed printing to stdout: Broken pipe" (exit 101). Restoring SIGPIPE
//! needs `unsafe` (forbidden here), and the 70-odd `print!`s of the commands would each
//! need a checked write. The hook sees the panic before anything is printed and only
//! intercepts that one message; every other panic goes to the previous hook unchanged.
//! The exit status is 0: the reader asked for no more output, which is not a failure of
//! the command (`set -o pipefail` scripts keep working).

use std::panic;

/// What `print!`/`println!` panic with when stdout is a closed pipe.
const STDOUT_FAILED: &str = "failed printing to stdout";

/// Whether a panic message is a write to a closed stdout.
fn is_closed_stdout(message: &str) -> bool {
    message.starts_with(STDOUT_FAILED) && message.contains("Broken pipe")
}

/// Installs the hook (see the module doc).
pub fn exit_quietly_on_closed_stdout() {
    let previous = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if info.payload_as_str().is_some_and(is_closed_stdout) {
            std::process::exit(0);
        }
        previous(info);
    }));
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_a_broken_stdout_pipe_is_recognised() {
        assert!(super::is_closed_stdout("failed printing to stdout: Broken pipe (os error 32)"));
        assert!(!super::is_closed_stdout("failed printing to stdout: No space left on device (os error 28)"));
        assert!(!super::is_closed_stdout("index out of bounds: Broken pipe"));
    }
}
