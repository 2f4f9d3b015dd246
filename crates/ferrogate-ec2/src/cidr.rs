//! IPv4 CIDR blocks as EC2 takes them: `a.b.c.d/n` with no host bits set.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An IPv4 block.
///
/// # Invariants
/// `prefix <= 32` and no bit below the prefix is set in `base`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cidr {
    base: u32,
    prefix: u8,
}

/// Why a text is not a CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotACidr;

impl Cidr {
    /// `0.0.0.0/0`.
    pub const ANY: Cidr = Cidr { base: 0, prefix: 0 };

    /// The block of `base/prefix`; refused when host bits are set.
    pub fn new(base: Ipv4Addr, prefix: u8) -> Result<Self, NotACidr> {
        if prefix > 32 {
            return Err(NotACidr);
        }
        let b = u32::from(base);
        if b & !Self::mask(prefix) != 0 {
            return Err(NotACidr);
        }
        Ok(Self { base: b, prefix })
    }

    fn mask(prefix: u8) -> u32 {
        if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(prefix))
        }
    }

    /// The network address.
    pub fn base(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.base)
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// How many addresses the block holds.
    pub fn size(&self) -> u64 {
        1u64 << (32 - u32::from(self.prefix))
    }

    /// The `i`-th address of the block (`None` past its end).
    pub fn nth(&self, i: u64) -> Option<Ipv4Addr> {
        if i >= self.size() {
            return None;
        }
        u32::try_from(i)
            .ok()
            .and_then(|i| self.base.checked_add(i))
            .map(Ipv4Addr::from)
    }

    /// The offset of `a` in the block.
    pub fn offset(&self, a: Ipv4Addr) -> Option<u64> {
        self.contains(a)
            .then(|| u64::from(u32::from(a) - self.base))
    }

    /// Whether `a` is in the block.
    pub fn contains(&self, a: Ipv4Addr) -> bool {
        u32::from(a) & Self::mask(self.prefix) == self.base
    }

    /// Whether `other` lies entirely inside this block.
    pub fn contains_block(&self, other: &Cidr) -> bool {
        other.prefix >= self.prefix && self.contains(other.base())
    }

    /// Whether the two blocks share an address.
    pub fn overlaps(&self, other: &Cidr) -> bool {
        self.contains_block(other) || other.contains_block(self)
    }
}

impl FromStr for Cidr {
    type Err = NotACidr;

    fn from_str(s: &str) -> Result<Self, NotACidr> {
        let (a, p) = s.split_once('/').ok_or(NotACidr)?;
        // `Ipv4Addr` refuses leading zeros and signs; the prefix is plain digits.
        if p.is_empty() || p.len() > 2 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NotACidr);
        }
        let prefix: u8 = p.parse().map_err(|_| NotACidr)?;
        Cidr::new(a.parse().map_err(|_| NotACidr)?, prefix)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.base(), self.prefix)
    }
}

impl TryFrom<String> for Cidr {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse().map_err(|_| format!("not a CIDR block: {s}"))
    }
}

impl From<Cidr> for String {
    fn from(c: Cidr) -> String {
        c.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_blocks_without_host_bits() {
        let c: Cidr = "10.0.0.0/16".parse().unwrap();
        assert_eq!(
            (c.base(), c.prefix(), c.size()),
            ("10.0.0.0".parse().unwrap(), 16, 65536)
        );
        assert_eq!(c.to_string(), "10.0.0.0/16");
        for bad in [
            "10.0.0.1/16",
            "10.0.0.0",
            "10.0.0.0/33",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "010.0.0.0/8",
            "10.0.0/8",
            "::/0",
            "10.0.0.0/016",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
        assert_eq!("0.0.0.0/0".parse::<Cidr>().unwrap(), Cidr::ANY);
        assert_eq!("10.1.2.3/32".parse::<Cidr>().unwrap().size(), 1);
    }

    #[test]
    fn containment_and_overlap() {
        let vpc: Cidr = "10.0.0.0/16".parse().unwrap();
        let a: Cidr = "10.0.1.0/24".parse().unwrap();
        let b: Cidr = "10.0.1.128/25".parse().unwrap();
        let c: Cidr = "10.1.0.0/24".parse().unwrap();
        assert!(vpc.contains_block(&a) && vpc.contains_block(&b) && !vpc.contains_block(&c));
        assert!(a.overlaps(&b) && b.overlaps(&a) && !a.overlaps(&c));
        assert!(Cidr::ANY.contains_block(&c));
        assert_eq!(a.nth(4), Some("10.0.1.4".parse().unwrap()));
        assert_eq!(a.nth(256), None);
        assert_eq!(a.offset("10.0.1.255".parse().unwrap()), Some(255));
        assert_eq!(a.offset("10.0.2.0".parse().unwrap()), None);
    }
}
