//! The network-partition watches of the `ping` and `http` resolvers (B31): one round
//! probes every target at once and succeeds if any target answers.
//!
//! In: the resolver's targets as written (`ping`: IPv4 addresses or host names; `http`:
//! `http://` URLs) and its `timeout`. Out: whether the round succeeded ([`ping_any`],
//! [`http_any`]), or every target's answer for the log ([`ping_round`], [`http_round`]).
//!
//! * `ping`: one ICMP echo per target ([`crate::icmp::echo`]). A host name is resolved
//!   first, to its first IPv4 address, within the same timeout.
//! * `http`: one `HEAD` per URL ([`crate::http`]); any HTTP answer counts, whatever its
//!   status (B31: the question is whether the network reaches the target, not whether
//!   the target is well).
//!
//! A target that cannot be probed (an IPv6 address, an `https://` URL, a name that does
//! not resolve) counts as not answering. Counting failed rounds (`retries`) and the
//! verdict are the core's. `majority` needs no probe; `disk` and `serial` are not
//! implemented here yet.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};

use crate::http::{self, HttpUrl, Method};
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
pub async fn http_any(targets: &[String], timeout: Duration) -> bool {
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
pub async fn http_round(targets: &[String], timeout: Duration) -> Vec<TargetAnswer> {
    let answers = futures::future::join_all(targets.iter().map(|t| head_one(t, timeout))).await;
    targets.iter().cloned().zip(answers).collect()
}

async fn ping_one(target: &str, timeout: Duration) -> Result<String, String> {
    let started = Instant::now();
    let address = resolve_v4(target.trim(), timeout).await?;
    // A name's resolution counts against the timeout; an address as written costs nothing
    // (and the reason then names the configured timeout, not what was left of it).
    let left =
        if target.trim().parse::<IpAddr>().is_ok() { timeout } else { timeout.saturating_sub(started.elapsed()) };
    let rtt = icmp::echo(address, left).await?;
    Ok(format!("echo reply from {address} in {:.3} ms", rtt.as_secs_f64() * 1e3))
}

async fn head_one(target: &str, timeout: Duration) -> Result<String, String> {
    let url = HttpUrl::parse(target)?;
    let r = http::request(Method::Head, &url, timeout).await?;
    Ok(format!("{} {}", r.status, r.reason))
}

/// An IPv4 address as written, or the first IPv4 address of a host name.
async fn resolve_v4(target: &str, timeout: Duration) -> Result<Ipv4Addr, String> {
    match target.parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) => return Ok(a),
        Ok(IpAddr::V6(_)) => return Err("IPv6 not supported yet".to_string()),
        Err(_) => {}
    }
    let found = tokio::time::timeout(timeout, tokio::net::lookup_host((target, 0)))
        .await
        .map_err(|_| format!("cannot resolve {target} within {} ms", timeout.as_millis()))?
        .map_err(|e| format!("cannot resolve {target}: {e}"))?;
    let mut any_v6 = false;
    for addr in found {
        match addr.ip() {
            IpAddr::V4(a) => return Ok(a),
            IpAddr::V6(_) => any_v6 = true,
        }
    }
    Err(if any_v6 {
        format!("{target} has only IPv6 addresses (IPv6 not supported yet)")
    } else {
        format!("{target} resolves to no address")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unusable_targets_do_not_answer() {
        let t = Duration::from_millis(500);
        assert_eq!(resolve_v4("::1", t).await, Err("IPv6 not supported yet".to_string()));
        assert_eq!(resolve_v4("10.1.2.3", t).await, Ok(Ipv4Addr::new(10, 1, 2, 3)));
        assert_eq!(resolve_v4("localhost", t).await, Ok(Ipv4Addr::LOCALHOST));
        // Nothing is sent for these: they fail before any probe.
        assert!(!ping_any(&["::1".to_string()], t).await);
        assert!(!http_any(&["https://127.0.0.1/".to_string(), "not a url".to_string()], t).await);
        assert!(!ping_any(&[], t).await);
        let round = http_round(&["https://127.0.0.1/".to_string()], t).await;
        assert!(
            matches!(&round[..], [(u, Err(e))] if u == "https://127.0.0.1/" && e.contains("https is not supported"))
        );
    }
}
