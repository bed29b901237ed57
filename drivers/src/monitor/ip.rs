//! The `ip` monitor: one ICMP echo (IPv4 or IPv6) to every target at once; healthy as soon as one
//! answers, unhealthy only when every target failed (CLUSTERPRO's IP monitor).
//!
//! In: the targets and the timeout. Out: a [`CheckOutcome`] naming the target that
//! answered and its round trip, or every target's failure.

use std::net::IpAddr;
use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};

use super::CheckOutcome;
use crate::icmp;

pub(super) async fn check(targets: &[IpAddr], timeout: Duration) -> CheckOutcome {
    let mut pending: FuturesUnordered<_> = targets.iter().enumerate().map(|(i, t)| echo(i, *t, timeout)).collect();
    let mut failures: Vec<(usize, String)> = Vec::with_capacity(targets.len());
    while let Some((i, target, result)) = pending.next().await {
        match result {
            // The others are dropped: their blocking reads end at their own timeout.
            Ok(rtt) => {
                return CheckOutcome::healthy(format!("{target}: echo reply in {:.3} ms", rtt.as_secs_f64() * 1e3))
            }
            Err(why) => failures.push((i, format!("{target}: {why}"))),
        }
    }
    if failures.is_empty() {
        return CheckOutcome::unhealthy("no targets");
    }
    // In target order, not in the order the failures came in.
    failures.sort();
    CheckOutcome::unhealthy(failures.into_iter().map(|(_, f)| f).collect::<Vec<_>>().join("; "))
}

async fn echo(i: usize, target: IpAddr, timeout: Duration) -> (usize, IpAddr, Result<Duration, String>) {
    (i, target, icmp::echo(target, timeout).await)
}
