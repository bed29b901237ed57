//! Runs the floating IP driver once, in the network namespace of this process (tests run
//! it under `ip netns exec NS`):
//!
//! ```text
//! fip [-c ARP_COUNT] [-w PROBE_WAIT_MS] [-m MARGIN_MS] activate|deactivate|present ADDRESS/PREFIX [IFACE]
//! ```
//!
//! With `-m`, `activate` is a takeover as the daemon does it (B44): a margin watch of the
//! address starts at once (the verdict V), and the activation begins `MARGIN_MS` later
//! (T) and reads what the watch heard; it prints `activated N ms after T`.
//!
//! `activate` returns once the address is up and the first gratuitous ARP is out, as the
//! driver does, but the process stays until the other `ARP_COUNT - 1` are sent (one a
//! second; they would die with the process): it prints `activated in N ms` on stdout at
//! once, and on stderr how the later announcements ended if not all went out.
//!
//! Exit codes: 0 done (`present` prints `present` or `absent`), 3 the address is in use
//! elsewhere (activation refused), 1 any other failure, 2 usage.

use std::process::ExitCode;

use std::io::Write;

use baton_drivers::floating_ip::{
    activate_after_margin_with_follow_up, activate_with_follow_up, deactivate, is_present, parse_address, FipError,
    FloatingIpSpec, FollowUpEnd, DEFAULT_PROBE_WAIT_MS,
};
use baton_drivers::margin_watch::MarginWatches;

const USAGE: &str =
    "usage: fip [-c ARP_COUNT] [-w PROBE_WAIT_MS] [-m MARGIN_MS] activate|deactivate|present ADDRESS/PREFIX [IFACE]";

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut arp_count = 3;
    let mut probe_wait_ms = DEFAULT_PROBE_WAIT_MS;
    let mut margin_ms: Option<u64> = None;
    while let Some(option) = args.first().cloned() {
        match option.as_str() {
            "-c" => match args.get(1).and_then(|n| n.parse().ok()) {
                Some(n) => arp_count = n,
                None => return usage(),
            },
            "-w" => match args.get(1).and_then(|n| n.parse().ok()) {
                Some(n) => probe_wait_ms = n,
                None => return usage(),
            },
            "-m" => match args.get(1).and_then(|n| n.parse().ok()) {
                Some(n) => margin_ms = Some(n),
                None => return usage(),
            },
            _ => break,
        }
        args.drain(..2);
    }
    let (command, address, interface) = match args.as_slice() {
        [c, a] => (c.clone(), a.clone(), None),
        [c, a, i] => (c.clone(), a.clone(), Some(i.clone())),
        _ => return usage(),
    };
    let (address, prefix_len) = match parse_address(&address) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("fip: {e}");
            return ExitCode::from(2);
        }
    };
    let spec = FloatingIpSpec { address, prefix_len, interface, arp_count, probe_wait_ms };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("fip: cannot start a runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        match command.as_str() {
            "activate" if margin_ms.is_some() => {
                let margin = std::time::Duration::from_millis(margin_ms.unwrap_or(0));
                let watches = MarginWatches::new();
                let t = tokio::time::Instant::now() + margin;
                let (w, s) = (watches.clone(), spec.clone());
                // Detached: it ends one probe window after T, or with the process.
                drop(tokio::spawn(async move { w.watch(&s, margin).await }));
                tokio::time::sleep_until(t).await;
                let start = std::time::Instant::now();
                let follow_up = activate_after_margin_with_follow_up(&spec, &watches).await?;
                println!("activated {} ms after T", start.elapsed().as_millis());
                let _ = std::io::stdout().flush();
                report(follow_up.finished().await);
                Ok(None)
            }
            "activate" => {
                let start = std::time::Instant::now();
                let follow_up = activate_with_follow_up(&spec).await?;
                // Activation is done here: say so before waiting for the later announcements.
                println!("activated in {} ms", start.elapsed().as_millis());
                let _ = std::io::stdout().flush();
                report(follow_up.finished().await);
                Ok(None)
            }
            "deactivate" => deactivate(&spec).await.map(|()| None),
            "present" => is_present(&spec).await.map(Some),
            _ => Err(FipError::BadAddress(String::new())),
        }
    });
    match (command.as_str(), result) {
        ("activate" | "deactivate" | "present", Ok(present)) => {
            if let Some(p) = present {
                println!("{}", if p { "present" } else { "absent" });
            }
            ExitCode::SUCCESS
        }
        ("activate" | "deactivate" | "present", Err(e @ FipError::InUse { .. })) => {
            eprintln!("fip: {e}");
            ExitCode::from(3)
        }
        ("activate" | "deactivate" | "present", Err(e)) => {
            eprintln!("fip: {e}");
            ExitCode::from(1)
        }
        _ => usage(),
    }
}

/// Says on stderr how the later gratuitous ARPs ended, unless all went out.
fn report(end: FollowUpEnd) {
    match end {
        FollowUpEnd::AllSent { .. } => {}
        FollowUpEnd::AddressGone { sent, planned } => {
            eprintln!("fip: later gratuitous ARPs stopped after {sent} of {planned}: the address left the interface")
        }
        FollowUpEnd::Failed { sent, planned, error } => {
            eprintln!("fip: later gratuitous ARPs stopped after {sent} of {planned}: {error}")
        }
    }
}

fn usage() -> ExitCode {
    eprintln!("{USAGE}");
    ExitCode::from(2)
}
