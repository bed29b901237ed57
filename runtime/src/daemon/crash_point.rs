//! Crash points of the daemon loop in the madsim world (built only with `--cfg madsim`).
//!
//! In: a test arms a point for a server ([`arm`]): after persisting (the step's log and
//! state are on disk, none of its acts happened) or before the next input (every act
//! of the step happened). Out: at the server's next step with something to lose
//! ([`baton_core::Ready::is_consequential`]) the loop reaches the point, tells the test
//! through the returned receiver, and never goes on: the test then kills the node (a
//! power loss), so nothing more of the step is carried out.
//!
//! The arming is per thread: madsim runs one simulated world per thread, so parallel
//! tests with the same server names do not see each other's points.

use std::cell::RefCell;
use std::collections::BTreeMap;
use tokio::sync::oneshot;

/// Where in a step the power goes (the simulator's `crash SERVER POINT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashPoint {
    /// The step's log and state are durable; none of its acts happened.
    AfterPersist,
    /// Every act of the step happened; the next input is never handled.
    BeforeNext,
}

thread_local! {
    static ARMED: RefCell<BTreeMap<String, (CrashPoint, oneshot::Sender<()>)>> = const { RefCell::new(BTreeMap::new()) };
}

/// Arms `point` for `server`'s next consequential step; the receiver fires when the
/// loop stands at the point (kill the node then).
pub fn arm(server: &str, point: CrashPoint) -> oneshot::Receiver<()> {
    let (tx, rx) = oneshot::channel();
    ARMED.with(|a| a.borrow_mut().insert(server.to_string(), (point, tx)));
    rx
}

/// Called by the loop at `point` of a step of `server`: if that point is armed and the
/// step is consequential, tells the test and waits for the power loss for ever.
pub async fn reached(server: &str, point: CrashPoint, consequential: bool) {
    if !consequential {
        return;
    }
    let fired = ARMED.with(|a| {
        let mut a = a.borrow_mut();
        match a.get(server) {
            Some((p, _)) if *p == point => a.remove(server).map(|(_, tx)| tx),
            Some(_) | None => None,
        }
    });
    if let Some(tx) = fired {
        let _ = tx.send(());
        std::future::pending::<()>().await;
    }
}
