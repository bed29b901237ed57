//! The user-space watchdog (B87): a thread outside the daemon's event loop that acts
//! when the loop stops turning.
//!
//! In: kicks from the loop (after every input it handles, and at least every
//! `heartbeat_interval` since the heartbeat timer fires that often); whether the
//! `user-space` monitor runs now ([`Watchdog::arm`]). Out: nothing while kicks come; if
//! the armed loop has not kicked for `heartbeat_timeout`, a `user-space-stall` line, the
//! release of every address and the stall action (B87: emergency reboot by default)
//! carried out from this thread — the loop is frozen and cannot do it — then the
//! process exits.
//!
//! Why a thread: the loop runs on a single-threaded tokio runtime; a blocked loop (a
//! stuck system call, a livelock, a bug) must not be able to block its own watchdog.
//! Kicks are one atomic store, so watching costs the loop nothing.

use super::drivers::Drivers;
use super::eventlog::Logger;
use super::power::{self, FenceMode};
use baton_core::config::{Config, Ms, ServerId};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The loop's side of the watchdog. Dropping it (the loop ended, or its task was
/// aborted) ends the watching thread: only a live, frozen loop is a stall.
pub struct Watchdog {
    shared: Arc<Shared>,
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.shared.ended.store(true, Ordering::Release);
    }
}

struct Shared {
    base: Instant,
    kicked_ms: AtomicU64,
    armed: AtomicBool,
    ended: AtomicBool,
}

impl Shared {
    fn elapsed_ms(&self) -> Ms {
        Ms::try_from(self.base.elapsed().as_millis()).unwrap_or(Ms::MAX)
    }
}

impl Watchdog {
    /// Starts the watching thread (disarmed) of server `me`: on a stall it releases the
    /// addresses, carries out the stall action as `mode` says and exits the process.
    pub fn start(
        cfg: &Config,
        me: ServerId,
        mode: FenceMode,
        drivers: Arc<dyn Drivers>,
        logger: Logger,
    ) -> Result<Watchdog, String> {
        let timeout_ms = cfg.cluster.heartbeat_timeout_ms;
        let (stall_action, power_action, _) = baton_core::node::stall_power(cfg, me);
        Watchdog::start_with(
            timeout_ms,
            Box::new(move |frozen_ms| {
                logger.line(&format!(
                    "event=user-space-stall the daemon loop has been frozen for {frozen_ms} ms \
                     (heartbeat_timeout {timeout_ms} ms): stall_action {stall_action:?} → {power_action:?} (B87)"
                ));
                let step = power::plan(power_action, mode, false);
                if step.release {
                    release(&drivers, &logger);
                }
                if let Err(e) = power::carry_out(&step.machine) {
                    logger.line(&format!("ERROR: {e}"));
                }
                std::process::exit(1);
            }),
        )
    }

    /// Starts a watching thread that calls `on_stall(frozen_ms)` once, when the armed
    /// loop has not kicked for `timeout_ms`, and then ends.
    pub fn start_with(timeout_ms: Ms, on_stall: Box<dyn FnOnce(Ms) + Send>) -> Result<Watchdog, String> {
        let shared = Arc::new(Shared {
            base: Instant::now(),
            kicked_ms: AtomicU64::new(0),
            armed: AtomicBool::new(false),
            ended: AtomicBool::new(false),
        });
        let watched = Arc::clone(&shared);
        // Check four times per timeout: a stall is acted on within 1.25 × timeout.
        let period = Duration::from_millis((timeout_ms / 4).max(5));
        std::thread::Builder::new()
            .name("baton-watchdog".to_string())
            .spawn(move || loop {
                std::thread::sleep(period);
                if watched.ended.load(Ordering::Acquire) {
                    return;
                }
                if !watched.armed.load(Ordering::Acquire) {
                    continue;
                }
                let frozen_ms = watched.elapsed_ms().saturating_sub(watched.kicked_ms.load(Ordering::Acquire));
                if frozen_ms >= timeout_ms {
                    on_stall(frozen_ms);
                    return;
                }
            })
            .map_err(|e| format!("cannot start the watchdog thread: {e}"))?;
        Ok(Watchdog { shared })
    }

    /// The loop is alive.
    pub fn kick(&self) {
        self.shared.kicked_ms.store(self.shared.elapsed_ms(), Ordering::Release);
    }

    /// Watches (the user-space monitor runs) or not. Arming counts as a kick, so a
    /// long disarmed period is not taken for a stall.
    pub fn arm(&self, armed: bool) {
        if armed && !self.shared.armed.load(Ordering::Acquire) {
            self.kick();
        }
        self.shared.armed.store(armed, Ordering::Release);
    }
}

/// Drops the addresses from this thread, on a runtime of its own (the loop's is frozen).
fn release(drivers: &Arc<dyn Drivers>, logger: &Logger) {
    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => {
            let release = drivers.release_all();
            if rt.block_on(async { tokio::time::timeout(Duration::from_secs(2), release).await }).is_err() {
                logger.line("ERROR: releasing the addresses took over 2 s; going on");
            }
        }
        Err(e) => logger.line(&format!("ERROR: no runtime to release the addresses: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn watchdog(timeout_ms: Ms) -> (Watchdog, mpsc::Receiver<Ms>) {
        let (tx, rx) = mpsc::channel();
        let w = Watchdog::start_with(
            timeout_ms,
            Box::new(move |frozen| {
                let _ = tx.send(frozen);
            }),
        )
        .unwrap();
        (w, rx)
    }

    #[test]
    fn an_armed_loop_that_stops_kicking_is_a_stall() {
        let (w, rx) = watchdog(100);
        w.arm(true);
        let frozen = rx.recv_timeout(Duration::from_secs(10)).expect("the stall is acted on");
        assert!(frozen >= 100, "{frozen}");
    }

    #[test]
    fn kicks_and_disarming_keep_it_quiet() {
        // A timeout far above a test thread's scheduling delays on a loaded machine.
        let (w, rx) = watchdog(300);
        w.arm(true);
        // Kicking more often than the timeout, for several timeouts: no stall.
        let until = Instant::now() + Duration::from_millis(1200);
        while Instant::now() < until {
            w.kick();
            assert!(rx.recv_timeout(Duration::from_millis(20)).is_err(), "a kicked loop was taken for a stall");
        }
        // Disarmed (the user-space monitor stopped): silence is no stall.
        w.arm(false);
        assert!(rx.recv_timeout(Duration::from_millis(900)).is_err());
        // Dropped (the loop ended): the thread ends without acting.
        w.arm(true);
        drop(w);
        assert!(rx.recv_timeout(Duration::from_millis(900)).is_err());
    }
}
