//! Address arithmetic for the checker.
//!
//! In: address strings of the file (`"10.0.0.12/24"`, `"192.168.0.1"`). Out: parsed
//! addresses and prefixes, and whether two IPv4 addresses share a subnet (the
//! floating-IP warning of B133). Uses only `std::net`: no I/O.

use core::net::{IpAddr, Ipv4Addr};

/// `ADDRESS/PREFIX` (`prefix_required`) or `ADDRESS[/PREFIX]`.
pub fn parse_cidr(text: &str, prefix_required: bool) -> Result<(IpAddr, Option<u8>), String> {
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let ip: IpAddr = addr.parse().map_err(|_| format!("\"{addr}\" is not an IP address"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        Some(p) => match p.parse::<u8>() {
            Ok(n) if n <= max => Some(n),
            Ok(_) | Err(_) => return Err(format!("\"/{p}\" is not a prefix length from 0 to {max}")),
        },
        None if prefix_required => return Err("missing prefix length (write e.g. \"10.0.0.12/24\")".into()),
        None => None,
    };
    Ok((ip, prefix))
}

/// Whether two IPv4 addresses agree on their first `prefix` bits.
pub fn same_subnet_v4(a: Ipv4Addr, b: Ipv4Addr, prefix: u8) -> bool {
    let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix.min(32))) };
    u32::from(a) & mask == u32::from(b) & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_and_subnets() {
        let (ip, p) = parse_cidr("10.0.0.12/24", true).unwrap();
        assert_eq!(p, Some(24));
        let IpAddr::V4(v4) = ip else { panic!("v4") };
        assert!(same_subnet_v4(v4, "10.0.0.1".parse().unwrap(), 24));
        assert!(!same_subnet_v4(v4, "10.0.1.1".parse().unwrap(), 24));
        assert!(same_subnet_v4(v4, "99.1.1.1".parse().unwrap(), 0));
        assert!(parse_cidr("10.0.0.12", true).is_err());
        assert!(parse_cidr("10.0.0.12/33", true).is_err());
        assert!(parse_cidr("fe80::1/64", true).is_ok());
        assert!(parse_cidr("nope/24", false).is_err());
    }
}
