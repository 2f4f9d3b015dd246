//! IPv4 and IPv6 CIDR blocks for `IpAddress` / `NotIpAddress`.
//!
//! "The value must be in the standard CIDR format (for example, 203.0.113.0/24 or
//! 2001:DB8:1234:5678::/64). If you specify an IP address without the associated routing prefix,
//! IAM uses the default prefix value of /32" (IAM User Guide, *Condition operators*, IP address
//! section). An IPv6 address without a prefix is a /128. Address parsing is `std::net`'s.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An address block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `a.b.c.d[/n]` or an IPv6 address with an optional `/n`. Host bits set beyond the
    /// prefix are ignored, as the network is what the block means.
    pub fn parse(text: &str) -> Option<Self> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(parse_prefix(p)?)),
            None => (text, None),
        };
        let network = IpAddr::from_str(addr).ok()?;
        let max = max_prefix(network);
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Cidr { network, prefix })
    }

    /// True if `ip` is inside the block. An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is
    /// compared as the IPv4 address it carries; otherwise families never match each other.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.network, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => same_v4(n, a, self.prefix),
            (IpAddr::V6(n), IpAddr::V6(a)) => same_v6(n, a, self.prefix),
            _ => false,
        }
    }
}

fn parse_prefix(p: &str) -> Option<u8> {
    if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    p.parse().ok()
}

fn max_prefix(ip: IpAddr) -> u8 {
    match ip {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

fn same_v4(n: Ipv4Addr, a: Ipv4Addr, prefix: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
    u32::from(n) & mask == u32::from(a) & mask
}

fn same_v6(n: Ipv6Addr, a: Ipv6Addr, prefix: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
    u128::from(n) & mask == u128::from(a) & mask
}

/// Parses a request-context address (no prefix).
pub fn parse_addr(text: &str) -> Option<IpAddr> {
    IpAddr::from_str(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        parse_addr(s).unwrap()
    }

    #[test]
    fn ipv4_blocks() {
        let c = Cidr::parse("203.0.113.0/24").unwrap();
        assert!(c.contains(ip("203.0.113.0")));
        assert!(c.contains(ip("203.0.113.255")));
        assert!(!c.contains(ip("203.0.114.0")));
        let host = Cidr::parse("192.0.2.7").unwrap();
        assert!(host.contains(ip("192.0.2.7")));
        assert!(!host.contains(ip("192.0.2.8")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(Cidr::parse("203.0.113.9/24")
            .unwrap()
            .contains(ip("203.0.113.1")));
    }

    #[test]
    fn ipv6_blocks() {
        let c = Cidr::parse("2001:DB8:1234:5678::/64").unwrap();
        assert!(c.contains(ip("2001:db8:1234:5678:ffff::1")));
        assert!(!c.contains(ip("2001:db8:1234:5679::1")));
        assert!(Cidr::parse("::/0").unwrap().contains(ip("::1")));
        assert!(Cidr::parse("::1").unwrap().contains(ip("::1")));
    }

    #[test]
    fn families_and_mapped_addresses() {
        let v4 = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(!v4.contains(ip("2001:db8::1")));
        assert!(v4.contains(ip("::ffff:10.1.2.3")));
        assert!(!Cidr::parse("::/0").unwrap().contains(ip("10.0.0.1")));
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "10.0.0.0/33",
            "10.0.0/8",
            "::/129",
            "10.0.0.0/",
            "10.0.0.0/-1",
            "x",
            "",
            "1.2.3.4/08a",
        ] {
            assert!(Cidr::parse(bad).is_none(), "{bad}");
        }
    }
}
