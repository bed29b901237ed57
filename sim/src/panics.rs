//! Core panics as run failures. A panic inside `Node::handle` is an assertion of the
//! decision core firing: the simulator reports it as a breach (with the assertion's
//! message and place) and ends the run, so `baton sim explore` writes and shrinks the
//! seed and `baton sim run` prints it, instead of the whole process dying.
//!
//! In: a closure that calls into a node. Out: `Err(text)`, `text` = where and what,
//! when it panicked. The message is captured by a panic hook installed once, which
//! stays silent for panics caught here and hands every other panic to the previous
//! hook.

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    /// Whether this thread is inside [`catch`] (its panics are reported, not printed).
    static CATCHING: Cell<bool> = const { Cell::new(false) };
    /// The caught panic's `location message`.
    static CAUGHT: RefCell<Option<String>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

fn install_hook() {
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !CATCHING.with(Cell::get) {
                previous(info);
                return;
            }
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(no message)".into());
            // One line: the assertion's own text, then its left/right values.
            let message = message.lines().map(str::trim).collect::<Vec<_>>().join(" ");
            let place = info.location().map_or("?".into(), |l| format!("{}:{}", l.file(), l.line()));
            CAUGHT.with(|c| *c.borrow_mut() = Some(format!("{place} {message}")));
        }));
    });
}

/// Runs `f`; a panic in it becomes `Err("FILE:LINE message")`.
pub fn catch<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    install_hook();
    let was = CATCHING.with(|c| c.replace(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(was));
    result.map_err(|_| CAUGHT.with(|c| c.borrow_mut().take()).unwrap_or_else(|| "? (no message)".into()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_panic_becomes_its_place_and_message_and_the_hook_stays_quiet() {
        let err = super::catch(|| -> u32 { panic!("boom\n  left: 1") }).unwrap_err();
        assert!(err.starts_with("sim/src/panics.rs:"), "{err}");
        assert!(err.ends_with(" boom left: 1"), "{err}");
        assert_eq!(super::catch(|| 7), Ok(7));
    }
}
