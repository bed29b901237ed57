//! Runs one monitor check or one network-partition probe round, in the network namespace
//! of this process (tests run it under `ip netns exec NS`; an operator can try a target
//! with it):
//!
//! ```text
//! check [-t TIMEOUT_MS] ip ADDRESS...
//! check [-t TIMEOUT_MS] nic-link INTERFACE
//! check [-t TIMEOUT_MS] floating-ip ADDRESS/PREFIX
//! check [-t TIMEOUT_MS] http URL
//! check [-t TIMEOUT_MS] ping-any TARGET...
//! check [-t TIMEOUT_MS] http-any URL...
//! ```
//!
//! Monitors print `healthy: DETAIL` or `unhealthy: DETAIL`; probes print `answered` or
//! `no answer`, then each target's answer. Exit codes: 0 healthy / answered, 1 unhealthy
//! / no answer, 2 usage or a value that cannot be checked. The timeout defaults to
//! 1000 ms.

use std::process::ExitCode;
use std::time::Duration;

use baton_core::config::model::ResourceKind;
use baton_drivers::floating_ip::FloatingIpSpec;
use baton_drivers::http::HttpTarget;
use baton_drivers::monitor::{check, MonitorSpec};
use baton_drivers::probe;

const USAGE: &str = "usage: check [-t TIMEOUT_MS] ip ADDRESS... | nic-link INTERFACE | floating-ip ADDRESS/PREFIX | http URL | ping-any TARGET... | http-any URL...";

/// What to run.
enum Job {
    Monitor(MonitorSpec),
    PingAny(Vec<String>),
    HttpAny(Vec<HttpTarget>),
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut timeout_ms: u64 = 1000;
    if args.first().map(String::as_str) == Some("-t") {
        match args.get(1).and_then(|n| n.parse().ok()) {
            Some(n) => timeout_ms = n,
            None => return usage(),
        }
        args.drain(..2);
    }
    let job = match parse(&args) {
        Ok(Some(job)) => job,
        Ok(None) => return usage(),
        Err(why) => {
            eprintln!("check: {why}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("check: cannot start a runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let timeout = Duration::from_millis(timeout_ms);
    runtime.block_on(async {
        match job {
            Job::Monitor(spec) => {
                let outcome = check(&spec, timeout).await;
                let word = if outcome.healthy { "healthy" } else { "unhealthy" };
                println!("{word}: {}", outcome.detail);
                exit(outcome.healthy)
            }
            Job::PingAny(targets) => {
                let any = probe::ping_any(&targets, timeout).await;
                report_round(any, probe::ping_round(&targets, timeout).await)
            }
            Job::HttpAny(targets) => {
                let any = probe::http_any(&targets, timeout).await;
                report_round(any, probe::http_round(&targets, timeout).await)
            }
        }
    })
}

fn parse(args: &[String]) -> Result<Option<Job>, String> {
    let Some((kind, rest)) = args.split_first() else { return Ok(None) };
    let job = match (kind.as_str(), rest) {
        ("ip", targets) if !targets.is_empty() => {
            let targets = targets
                .iter()
                .map(|t| t.parse().map_err(|_| format!("{t:?} is not an IP address")))
                .collect::<Result<_, _>>()?;
            Job::Monitor(MonitorSpec::Ip { targets })
        }
        ("nic-link", [interface]) => Job::Monitor(MonitorSpec::NicLink { interface: interface.clone() }),
        ("floating-ip", [address]) => {
            let kind = ResourceKind::FloatingIp {
                address: address.clone(),
                interface: None,
                arp_count: 0,
                probe_window_ms: baton_core::config::DEFAULT_PROBE_WINDOW_MS,
            };
            Job::Monitor(MonitorSpec::FloatingIp(FloatingIpSpec::from_resource(&kind).map_err(|e| e.to_string())?))
        }
        ("http", [url]) => Job::Monitor(MonitorSpec::Http { target: HttpTarget::new(url, None)? }),
        ("ping-any", targets) if !targets.is_empty() => Job::PingAny(targets.to_vec()),
        ("http-any", targets) if !targets.is_empty() => {
            Job::HttpAny(targets.iter().map(|t| HttpTarget::new(t, None)).collect::<Result<_, _>>()?)
        }
        _ => return Ok(None),
    };
    Ok(Some(job))
}

/// Prints the verdict of [`probe::ping_any`] / [`probe::http_any`], then (from a second
/// round) each target's answer.
fn report_round(any: bool, round: Vec<probe::TargetAnswer>) -> ExitCode {
    println!("{}", if any { "answered" } else { "no answer" });
    for (target, answer) in round {
        match answer {
            Ok(what) => println!("  {target}: {what}"),
            Err(why) => println!("  {target}: {why}"),
        }
    }
    exit(any)
}

fn exit(good: bool) -> ExitCode {
    if good {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn usage() -> ExitCode {
    eprintln!("{USAGE}");
    ExitCode::from(2)
}
