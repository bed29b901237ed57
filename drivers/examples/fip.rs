//! Runs the floating IP driver once, in the network namespace of this process (tests run
//! it under `ip netns exec NS`):
//!
//! ```text
//! fip [-c ARP_COUNT] activate|deactivate|present ADDRESS/PREFIX [IFACE]
//! ```
//!
//! Exit codes: 0 done (`present` prints `present` or `absent`), 3 the address is in use
//! elsewhere (activation refused), 1 any other failure, 2 usage.

use std::process::ExitCode;

use baton_drivers::floating_ip::{activate, deactivate, is_present, parse_address, FipError, FloatingIpSpec};

const USAGE: &str = "usage: fip [-c ARP_COUNT] activate|deactivate|present ADDRESS/PREFIX [IFACE]";

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut arp_count = 3;
    if args.first().map(String::as_str) == Some("-c") {
        match args.get(1).and_then(|n| n.parse().ok()) {
            Some(n) => arp_count = n,
            None => return usage(),
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
    let spec = FloatingIpSpec { address, prefix_len, interface, arp_count };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("fip: cannot start a runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        match command.as_str() {
            "activate" => activate(&spec).await.map(|()| None),
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

fn usage() -> ExitCode {
    eprintln!("{USAGE}");
    ExitCode::from(2)
}
