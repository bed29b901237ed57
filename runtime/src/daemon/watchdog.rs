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
    /// Starts the watching thread (disarmed). `timeout_ms`: `heartbeat_timeout`.
    pub fn start(
        cfg: &Config,
        me: ServerId,
        mode: FenceMode,
        drivers: Arc<dyn Drivers>,
        logger: Logger,
    ) -> Result<Watchdog, String> {
        let shared = Arc::new(Shared { base: Instant::now(), kicked_ms: AtomicU64::new(0), armed: AtomicBool::new(false), ended: AtomicBool::new(false) });
        let timeout_ms = cfg.cluster.heartbeat_timeout_ms;
        let (stall_action, power_action, _) = baton_core::node::stall_power(cfg, me);
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
                if frozen_ms < timeout_ms {
                    continue;
                }
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
