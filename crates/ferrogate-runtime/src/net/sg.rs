//! Security groups as the runtime enforces them: the rules of each group, valid by
//! construction (a port range whose start is above its end cannot be built).
//!
//! EC2's model (`AuthorizeSecurityGroupIngress`, `IpPermission`): a rule allows traffic of
//! one protocol, optionally a port range (TCP, UDP) or an ICMP type and code, from or to
//! one peer, an IPv4 CIDR block or the members of a security group. Groups only allow;
//! anything no rule of any of a task's groups allows is dropped, and replies to allowed
//! traffic are allowed back (rules are stateful). A new group has no ingress rule, so its
//! own members cannot reach each other until a rule says so (AWS's *default* group is
//! created with that rule, by the control plane, not implied here).

use serde::{Deserialize, Serialize};

use super::addr::Ipv4Net;
use super::error::NetworkError;
use crate::ids::{SecurityGroupId, VpcId};

/// A TCP or UDP port range, both ends included.
///
/// # Invariants
/// `from <= to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "(u16, u16)", into = "(u16, u16)")]
pub struct PortRange {
    from: u16,
    to: u16,
}

impl PortRange {
    /// Every port, 0 to 65535 (EC2's `-1` / `0-65535`).
    pub const ALL: PortRange = PortRange { from: 0, to: 65535 };

    /// `from..=to`; refused if `from > to`, as EC2 refuses it.
    pub fn new(from: u16, to: u16) -> Result<Self, NetworkError> {
        if from > to {
            return Err(NetworkError::InvalidPortRange { from, to });
        }
        Ok(PortRange { from, to })
    }
    /// One port.
    pub fn single(port: u16) -> Self {
        PortRange {
            from: port,
            to: port,
        }
    }
    /// The first port.
    pub fn from(&self) -> u16 {
        self.from
    }
    /// The last port.
    pub fn to(&self) -> u16 {
        self.to
    }
}

impl TryFrom<(u16, u16)> for PortRange {
    type Error = NetworkError;
    fn try_from((from, to): (u16, u16)) -> Result<Self, NetworkError> {
        PortRange::new(from, to)
    }
}

impl From<PortRange> for (u16, u16) {
    fn from(r: PortRange) -> (u16, u16) {
        (r.from, r.to)
    }
}

/// Which ICMP messages an ICMP rule allows (EC2: `FromPort` is the type, `ToPort` the
/// code, `-1` meaning any).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IcmpMatch {
    /// Every type and code.
    Any,
    /// One type, any code.
    Type(u8),
    /// One type and one code.
    TypeCode(u8, u8),
}

/// The protocol part of a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Protocol {
    /// Every protocol (EC2's `-1`); ports do not apply.
    All,
    /// TCP to these destination ports.
    Tcp(PortRange),
    /// UDP to these destination ports.
    Udp(PortRange),
    /// ICMP.
    Icmp(IcmpMatch),
    /// Any other IP protocol by number (EC2 accepts numbers, e.g. 47 for GRE); no ports.
    /// 6, 17 and 1 are refused here: use `Tcp`, `Udp` and `Icmp`, whose ports matter.
    Number(u8),
}

/// Who a rule allows: where ingress comes from, or where egress goes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Peer {
    /// An IPv4 CIDR block (`0.0.0.0/0` is everyone).
    Cidr(Ipv4Net),
    /// The addresses of the tasks in a security group (on this host).
    Group(SecurityGroupId),
}

/// One rule.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Rule {
    /// Protocol and ports.
    pub protocol: Protocol,
    /// Source (ingress) or destination (egress).
    pub peer: Peer,
}

/// A security group and all its rules: what `SetSecurityGroups` carries for each group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityGroupRules {
    /// The group.
    pub id: SecurityGroupId,
    /// Its VPC: a task may only use groups of its own VPC.
    pub vpc_id: VpcId,
    /// Inbound rules.
    pub ingress: Vec<Rule>,
    /// Outbound rules (a new EC2 group allows all outbound traffic: the control plane
    /// sends that rule; nothing is implied here).
    pub egress: Vec<Rule>,
}

/// Most rules per direction per group (EC2's default quota is 60; its hard limit 1000).
pub const MAX_RULES_PER_DIRECTION: usize = 1000;

impl SecurityGroupRules {
    /// Checks what the types cannot: protocol numbers that have their own variant, and
    /// the number of rules.
    pub fn validate(&self) -> Result<(), NetworkError> {
        for (direction, rules) in [("ingress", &self.ingress), ("egress", &self.egress)] {
            if rules.len() > MAX_RULES_PER_DIRECTION {
                return Err(NetworkError::TooManyRules {
                    group: self.id.clone(),
                    direction,
                    count: rules.len(),
                    max: MAX_RULES_PER_DIRECTION,
                });
            }
            for r in rules {
                if let Protocol::Number(n @ (1 | 6 | 17)) = r.protocol {
                    return Err(NetworkError::ProtocolNumberHasVariant {
                        group: self.id.clone(),
                        number: n,
                    });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_ranges_are_ordered() {
        assert!(PortRange::new(80, 80).is_ok());
        assert!(matches!(
            PortRange::new(90, 80),
            Err(NetworkError::InvalidPortRange { from: 90, to: 80 })
        ));
        assert!(serde_json::from_str::<PortRange>("[90,80]").is_err());
        let r: PortRange = serde_json::from_str("[80,90]").unwrap();
        assert_eq!((r.from(), r.to()), (80, 90));
    }

    #[test]
    fn protocol_numbers_with_ports_are_refused() {
        let mut g = SecurityGroupRules {
            id: SecurityGroupId::new("sg-1").unwrap(),
            vpc_id: VpcId::new("vpc-1").unwrap(),
            ingress: vec![Rule {
                protocol: Protocol::Number(47),
                peer: Peer::Cidr(Ipv4Net::ANY),
            }],
            egress: Vec::new(),
        };
        assert!(g.validate().is_ok());
        g.egress.push(Rule {
            protocol: Protocol::Number(6),
            peer: Peer::Cidr(Ipv4Net::ANY),
        });
        assert!(matches!(
            g.validate(),
            Err(NetworkError::ProtocolNumberHasVariant { number: 6, .. })
        ));
    }
}
