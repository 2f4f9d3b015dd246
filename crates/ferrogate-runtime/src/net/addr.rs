//! IPv4 networks and MAC addresses, parsed once and valid by construction.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why an address or network was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} {value:?}: {reason}")]
pub struct InvalidAddress {
    /// `CIDR block` or `MAC address`.
    pub kind: &'static str,
    /// The text given.
    pub value: String,
    /// What is wrong.
    pub reason: &'static str,
}

/// An IPv4 network in CIDR form, `10.0.1.0/24`.
///
/// # Invariants
/// `prefix <= 32` and no host bit of `base` is set (`10.0.1.1/24` is refused, as EC2
/// refuses it for VPCs and subnets): two equal networks are equal values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Ipv4Net {
    base: Ipv4Addr,
    prefix: u8,
}

impl Ipv4Net {
    /// The network `base/prefix`; refused if `prefix > 32` or host bits are set.
    pub fn new(base: Ipv4Addr, prefix: u8) -> Result<Self, InvalidAddress> {
        let err = |reason| InvalidAddress {
            kind: "CIDR block",
            value: format!("{base}/{prefix}"),
            reason,
        };
        if prefix > 32 {
            return Err(err("the prefix length is above 32"));
        }
        if u32::from(base) & !mask(prefix) != 0 {
            return Err(err("host bits are set below the prefix"));
        }
        Ok(Ipv4Net { base, prefix })
    }

    /// `0.0.0.0/0`.
    pub const ANY: Ipv4Net = Ipv4Net {
        base: Ipv4Addr::UNSPECIFIED,
        prefix: 0,
    };

    /// The network address.
    pub fn base(&self) -> Ipv4Addr {
        self.base
    }
    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }
    /// The last address (the broadcast address of a subnet).
    pub fn last(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.base) | !mask(self.prefix))
    }
    /// True if `addr` lies in the network.
    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        u32::from(addr) & mask(self.prefix) == u32::from(self.base)
    }
    /// True if every address of `other` lies in this network.
    pub fn contains_net(&self, other: &Ipv4Net) -> bool {
        other.prefix >= self.prefix && self.contains(other.base)
    }
    /// True if the two networks share an address.
    pub fn overlaps(&self, other: &Ipv4Net) -> bool {
        self.contains_net(other) || other.contains_net(self)
    }
    /// The address `n` steps above the base, if it is still in the network.
    pub fn nth(&self, n: u32) -> Option<Ipv4Addr> {
        let a = u32::from(self.base).checked_add(n)?;
        let a = Ipv4Addr::from(a);
        self.contains(a).then_some(a)
    }
}

fn mask(prefix: u8) -> u32 {
    match prefix {
        0 => 0,
        p => u32::MAX << (32 - u32::from(p.min(32))),
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

impl FromStr for Ipv4Net {
    type Err = InvalidAddress;
    fn from_str(s: &str) -> Result<Self, InvalidAddress> {
        let err = |reason| InvalidAddress {
            kind: "CIDR block",
            value: s.to_owned(),
            reason,
        };
        let (a, p) = s
            .split_once('/')
            .ok_or_else(|| err("no '/' before a prefix length"))?;
        let base: Ipv4Addr = a.parse().map_err(|_| err("not an IPv4 address"))?;
        // Digits only: `u8::from_str` would take "+8".
        if p.is_empty() || p.len() > 2 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err("the prefix length is not a number from 0 to 32"));
        }
        let prefix: u8 = p
            .parse()
            .map_err(|_| err("the prefix length is not a number"))?;
        Ipv4Net::new(base, prefix).map_err(|e| InvalidAddress {
            value: s.to_owned(),
            ..e
        })
    }
}

impl TryFrom<String> for Ipv4Net {
    type Error = InvalidAddress;
    fn try_from(s: String) -> Result<Self, InvalidAddress> {
        s.parse()
    }
}

impl From<Ipv4Net> for String {
    fn from(n: Ipv4Net) -> String {
        n.to_string()
    }
}

/// An Ethernet MAC address, `0a:1b:2c:3d:4e:5f`.
///
/// # Invariants
/// Unicast (the group bit of the first octet is clear) and not all zeros: an interface
/// cannot carry anything else.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MacAddr([u8; 6]);

impl MacAddr {
    /// Wraps six octets; refused if multicast or all zeros.
    pub fn new(octets: [u8; 6]) -> Result<Self, InvalidAddress> {
        let err = |reason| InvalidAddress {
            kind: "MAC address",
            value: MacAddr(octets).to_string(),
            reason,
        };
        if octets[0] & 1 != 0 {
            return Err(err("a multicast address cannot name an interface"));
        }
        if octets == [0; 6] {
            return Err(err("the all-zero address cannot name an interface"));
        }
        Ok(MacAddr(octets))
    }
    /// The octets.
    pub fn octets(&self) -> [u8; 6] {
        self.0
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            o[0], o[1], o[2], o[3], o[4], o[5]
        )
    }
}

impl FromStr for MacAddr {
    type Err = InvalidAddress;
    fn from_str(s: &str) -> Result<Self, InvalidAddress> {
        let err = |reason| InvalidAddress {
            kind: "MAC address",
            value: s.to_owned(),
            reason,
        };
        let mut o = [0u8; 6];
        let parts: Vec<&str> = s.split(':').collect();
        if parts.len() != 6 {
            return Err(err("not six ':'-separated octets"));
        }
        for (slot, p) in o.iter_mut().zip(parts) {
            if p.len() != 2 || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(err("an octet is not two hex digits"));
            }
            *slot = u8::from_str_radix(p, 16).map_err(|_| err("an octet is not hex"))?;
        }
        MacAddr::new(o).map_err(|e| InvalidAddress {
            value: s.to_owned(),
            ..e
        })
    }
}

impl TryFrom<String> for MacAddr {
    type Error = InvalidAddress;
    fn try_from(s: String) -> Result<Self, InvalidAddress> {
        s.parse()
    }
}

impl From<MacAddr> for String {
    fn from(m: MacAddr) -> String {
        m.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn cidr_blocks_parse_strictly() {
        assert_eq!(net("10.0.1.0/24").to_string(), "10.0.1.0/24");
        assert_eq!(net("0.0.0.0/0"), Ipv4Net::ANY);
        assert_eq!(
            net("10.0.1.7/32").last(),
            "10.0.1.7".parse::<Ipv4Addr>().unwrap()
        );
        for bad in [
            "10.0.1.1/24",
            "10.0.1.0/33",
            "10.0.1.0",
            "10.0.1.0/",
            "10.0.1.0/+8",
            "10.0.1.0/024",
            "10.0.1/24",
            "::1/128",
            "10.0.1.0/24 ",
        ] {
            assert!(bad.parse::<Ipv4Net>().is_err(), "{bad}");
        }
        let e = "10.0.1.1/24".parse::<Ipv4Net>().unwrap_err();
        assert_eq!(e.reason, "host bits are set below the prefix");
        assert_eq!(e.value, "10.0.1.1/24");
    }

    #[test]
    fn containment_and_overlap() {
        let vpc = net("10.0.0.0/16");
        let sub = net("10.0.1.0/24");
        assert!(vpc.contains_net(&sub) && !sub.contains_net(&vpc));
        assert!(vpc.overlaps(&sub) && sub.overlaps(&vpc));
        assert!(!sub.overlaps(&net("10.0.2.0/24")));
        assert!(Ipv4Net::ANY.contains("192.0.2.1".parse().unwrap()));
        assert!(sub.contains("10.0.1.255".parse().unwrap()));
        assert!(!sub.contains("10.0.2.0".parse().unwrap()));
        assert_eq!(sub.nth(1), Some("10.0.1.1".parse().unwrap()));
        assert_eq!(sub.nth(256), None);
        assert_eq!(net("255.255.255.255/32").nth(1), None);
        assert_eq!(sub.last(), "10.0.1.255".parse::<Ipv4Addr>().unwrap());
    }

    #[test]
    fn mac_addresses_are_unicast() {
        let m: MacAddr = "0a:1B:2c:3d:4e:5f".parse().unwrap();
        assert_eq!(m.to_string(), "0a:1b:2c:3d:4e:5f");
        for bad in [
            "01:00:5e:00:00:01",
            "ff:ff:ff:ff:ff:ff",
            "00:00:00:00:00:00",
            "0a:1b:2c:3d:4e",
            "0a:1b:2c:3d:4e:5f:60",
            "0a-1b-2c-3d-4e-5f",
            "0a:1b:2c:3d:4e:5",
            "0a:1b:2c:3d:4e:+f",
        ] {
            assert!(bad.parse::<MacAddr>().is_err(), "{bad}");
        }
        let j = serde_json::to_string(&m).unwrap();
        assert_eq!(j, "\"0a:1b:2c:3d:4e:5f\"");
        assert!(serde_json::from_str::<MacAddr>("\"01:00:00:00:00:00\"").is_err());
    }
}
