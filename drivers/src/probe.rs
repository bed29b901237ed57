//! The network-partition watches of the `ping` and `http` resolvers (B31): one round
//! probes every target at once and succeeds if any target answers.
//!
//! In: the resolver's targets as written (`ping`: IPv4 or IPv6 addresses or host names;
//! `http`: `http://` or `https://` URLs, built once into [`HttpTarget`]s) and its
//! `timeout`. Out: whether the round succeeded ([`ping_any`],
//! [`http_any`]), or every target's answer for the log ([`ping_round`], [`http_round`]).
//!
//! * `ping`: one ICMP echo per target ([`crate::icmp::echo`]). A host name is resolved
//!   first, to the first address the resolver gives (IPv4 or IPv6), within the same
//!   timeout.
//! * `http`: one `HEAD` per URL ([`crate::http`]); any HTTP answer counts, whatever its
//!   status (B31: the question is whether the network reaches the target, not whether
//!   the target is well). For `https://` the certificate must check out (an answer over
//!   an unverified connection could come from anyone on the path).
//!
//! A target that cannot be probed (a name that does not resolve, a certificate that does
//! not verify) counts as not answering. Counting failed rounds (`retries`) and the
//! verdict are the core's. `majority` needs no probe; `disk` and `serial` are not
//! implemented here yet.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};

use crate::http::{HttpTarget, Method};
use crate::icmp;

/// One target's answer in a round: what it said (`Ok`), or why it said nothing.
pub type TargetAnswer = (String, Result<String, String>);

/// True if any target answers an ICMP echo within `timeout`; stops at the first answer.
pub async fn ping_any(targets: &[String], timeout: Duration) -> bool {
    let mut pending: FuturesUnordered<_> = targets.iter().map(|t| ping_one(t, timeout)).collect();
    while let Some(answer) = pending.next().await {
        if answer.is_ok() {
            return true;
        }
    }
    false
}

/// True if any URL gives an HTTP answer to `HEAD` within `timeout`; stops at the first.
pub async fn http_any(targets: &[HttpTarget], timeout: Duration) -> bool {
    let mut pending: FuturesUnordered<_> = targets.iter().map(|t| head_one(t, timeout)).collect();
    while let Some(answer) = pending.next().await {
        if answer.is_ok() {
            return true;
        }
    }
    false
}

/// Every target's answer to one echo, in target order (waits for all).
pub async fn ping_round(targets: &[String], timeout: Duration) -> Vec<TargetAnswer> {
    let answers = futures::future::join_all(targets.iter().map(|t| ping_one(t, timeout))).await;
    targets.iter().cloned().zip(answers).collect()
}

/// Every URL's answer to one `HEAD`, in target order (waits for all).
pub async fn http_round(targets: &[HttpTarget], timeout: Duration) -> Vec<TargetAnswer> {
    let answers = futures::future::join_all(targets.iter().map(|t| head_one(t, timeout))).await;
    targets.iter().map(|t| t.to_string()).zip(answers).collect()
}

async fn ping_one(target: &str, timeout: Duration) -> Result<String, String> {
    let started = Instant::now();
    let address = resolve(target.trim(), timeout).await?;
    // A name's resolution counts against the timeout; an address as written costs nothing
    // (and the reason then names the configured timeout, not what was left of it).
    let left =
        if target.trim().parse::<IpAddr>().is_ok() { timeout } else { timeout.saturating_sub(started.elapsed()) };
    let rtt = icmp::echo(address, left).await?;
    Ok(format!("echo reply from {address} in {:.3} ms", rtt.as_secs_f64() * 1e3))
}

async fn head_one(target: &HttpTarget, timeout: Duration) -> Result<String, String> {
    let r = target.request(Method::Head, timeout).await?;
    Ok(format!("{} {}", r.status, r.reason))
}

/// An address as written (IPv4 or IPv6), or the first address of a host name.
async fn resolve(target: &str, timeout: Duration) -> Result<IpAddr, String> {
    if let Ok(a) = target.parse::<IpAddr>() {
        return Ok(a);
    }
    let found = tokio::time::timeout(timeout, tokio::net::lookup_host((target, 0)))
        .await
        .map_err(|_| format!("cannot resolve {target} within {} ms", timeout.as_millis()))?
        .map_err(|e| format!("cannot resolve {target}: {e}"))?;
    found.map(|a| a.ip()).next().ok_or_else(|| format!("{target} resolves to no address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn targets_resolve_to_either_family() {
        let t = Duration::from_millis(500);
        assert_eq!(resolve("::1", t).await, Ok("::1".parse().expect("v6")));
        assert_eq!(resolve("10.1.2.3", t).await, Ok("10.1.2.3".parse().expect("v4")));
        assert!(resolve("localhost", t).await.is_ok_and(|a| a.is_loopback()));
        assert!(resolve("no-such-host.invalid", t).await.is_err());
        assert!(!ping_any(&[], t).await);
        assert!(!http_any(&[], t).await);
    }
}
