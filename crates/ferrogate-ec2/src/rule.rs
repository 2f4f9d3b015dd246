//! Security group rules: how `IpPermissions` are read, checked and stored, and how EC2
//! describes a rule in its errors.
//!
//! One `IpPermission` with several peers (CIDR ranges, groups) is several rules, one per
//! peer, each with its own `sgr-` id; `DescribeSecurityGroups` groups them back by
//! protocol and ports.

use serde::{Deserialize, Serialize};

use ferrogate_wire::ec2::Ec2Params;

use crate::cidr::Cidr;
use crate::model::Tag;
use crate::params;
use crate::Ec2Error;

/// Inbound or outbound rules per security group (EC2 quota).
pub const MAX_RULES: usize = 60;

/// Whom a rule allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Peer {
    /// An IPv4 block.
    Cidr(Cidr),
    /// The members of a security group of the same VPC.
    Group {
        /// `sg-…`.
        group_id: String,
        /// Its owner.
        user_id: String,
    },
}

impl Peer {
    /// As EC2 names it in its messages.
    pub fn label(&self) -> String {
        match self {
            Peer::Cidr(c) => c.to_string(),
            Peer::Group { group_id, .. } => group_id.clone(),
        }
    }
}

/// A rule's traffic: protocol and ports, normalized as EC2 answers them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Traffic {
    /// `-1` (all), `tcp`, `udp`, `icmp`, `icmpv6`, or a protocol number.
    pub protocol: String,
    /// First port, or ICMP type; `-1` when the protocol has no ports.
    pub from: i32,
    /// Last port, or ICMP code; `-1` when the protocol has no ports.
    pub to: i32,
}

impl Traffic {
    /// Whether ports (or ICMP type and code) are part of the rule.
    pub fn has_ports(&self) -> bool {
        matches!(self.protocol.as_str(), "tcp" | "udp" | "icmp" | "icmpv6")
    }

    /// Reads and checks a protocol and its ports.
    pub fn parse(protocol: &str, from: Option<i64>, to: Option<i64>) -> Result<Self, Ec2Error> {
        let protocol = normalize_protocol(protocol)?;
        let (from, to) = match protocol.as_str() {
            "tcp" | "udp" => {
                let (Some(f), Some(t)) = (from, to) else {
                    return Err(Ec2Error::invalid(
                        "Invalid value 'Must specify both from and to ports with TCP/UDP.' for portRange.",
                    ));
                };
                for p in [f, t] {
                    if !(0..=65535).contains(&p) {
                        return Err(Ec2Error::InvalidPermissionMalformed(format!(
                            "TCP/UDP port ({p}) out of range"
                        )));
                    }
                }
                if f > t {
                    return Err(Ec2Error::invalid(format!(
                        "Invalid TCP/UDP port range: from port {f} is greater than to port {t}"
                    )));
                }
                (f, t)
            }
            "icmp" | "icmpv6" => {
                let (Some(f), Some(t)) = (from, to) else {
                    return Err(Ec2Error::invalid(
                        "Invalid value 'Must specify both from and to ports with ICMP.' for portRange.",
                    ));
                };
                for (p, what) in [(f, "type"), (t, "code")] {
                    if !(-1..=255).contains(&p) {
                        return Err(Ec2Error::InvalidPermissionMalformed(format!(
                            "ICMP {what} ({p}) out of range"
                        )));
                    }
                }
                (f, t)
            }
            // All traffic of the protocol: EC2 ignores the ports.
            _ => (-1, -1),
        };
        Ok(Self {
            protocol,
            from: i32::try_from(from).unwrap_or(-1),
            to: i32::try_from(to).unwrap_or(-1),
        })
    }

    /// `TCP, from port: 22, to port: 22` as EC2 words it in `InvalidPermission.Duplicate`.
    pub fn label(&self) -> String {
        match self.protocol.as_str() {
            "-1" => "ALL".to_owned(),
            "tcp" | "udp" => format!(
                "{}, from port: {}, to port: {}",
                self.protocol.to_uppercase(),
                self.from,
                self.to
            ),
            "icmp" | "icmpv6" => format!(
                "{}, type: {}, code: {}",
                self.protocol.to_uppercase(),
                self.from,
                self.to
            ),
            n => format!("protocol: {n}"),
        }
    }
}

/// `-1`/`all`, a name (`tcp`, `udp`, `icmp`, `icmpv6`, any case) or a number 0–255; the
/// numbers of the named protocols become their names, as EC2 answers them.
fn normalize_protocol(p: &str) -> Result<String, Ec2Error> {
    let lower = p.to_ascii_lowercase();
    let named = match lower.as_str() {
        "-1" | "all" => Some("-1"),
        "tcp" | "6" => Some("tcp"),
        "udp" | "17" => Some("udp"),
        "icmp" | "1" => Some("icmp"),
        "icmpv6" | "58" => Some("icmpv6"),
        _ => None,
    };
    if let Some(n) = named {
        return Ok(n.to_owned());
    }
    match lower.parse::<u8>() {
        Ok(n) if !lower.starts_with('+') && (lower == "0" || !lower.starts_with('0')) => {
            Ok(n.to_string())
        }
        _ => Err(Ec2Error::invalid(format!(
            "Invalid value '{p}' for IP protocol. Unknown protocol."
        ))),
    }
}

/// A stored rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRule {
    /// `sgr-…`.
    pub id: String,
    /// Protocol and ports.
    pub traffic: Traffic,
    /// Whom it allows.
    pub peer: Peer,
    /// Its description.
    pub description: Option<String>,
    /// Its tags.
    pub tags: Vec<Tag>,
}

/// A rule as a request gives it, before it has an id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Permission {
    /// Protocol and ports.
    pub traffic: Traffic,
    /// Whom it allows.
    pub peer: Peer,
    /// Its description.
    pub description: Option<String>,
}

impl Permission {
    /// Whether `r` is this rule (descriptions aside).
    pub fn same(&self, r: &GroupRule) -> bool {
        self.traffic == r.traffic && self.peer == r.peer
    }

    /// `peer: 0.0.0.0/0, TCP, from port: 22, to port: 22, ALLOW`.
    pub fn label(&self) -> String {
        format!(
            "peer: {}, {}, ALLOW",
            self.peer.label(),
            self.traffic.label()
        )
    }
}

fn description(p: &Ec2Params<'_>, name: &str) -> Result<Option<String>, Ec2Error> {
    let d = p.get(name).map(str::to_owned);
    if let Some(d) = &d {
        // "Constraints: Up to 255 characters in length. Allowed characters are a-z, A-Z,
        // 0-9, spaces, and ._-:/()#,@[]+=&;{}!$*" (EC2 API reference, IpRange).
        let ok = d.chars().count() <= 255
            && d.chars()
                .all(|c| c.is_ascii_alphanumeric() || " ._-:/()#,@[]+=&;{}!$*".contains(c));
        if !ok {
            return Err(Ec2Error::invalid(format!(
                "Invalid rule description. Valid descriptions are strings less than 256 characters from the following set:  a-zA-Z0-9. _-:/()#,@[]+=&;{{}}!$*: {d}"
            )));
        }
    }
    Ok(d)
}

/// The rules of `IpPermissions.N`, and of the older top-level form (`IpProtocol`,
/// `FromPort`, `ToPort`, `CidrIp`) that the aws CLI's `--protocol/--port/--cidr` and old SDKs
/// send. A group peer names an `sg-` id and its owner as given (empty when not: see
/// [`owned`]). IPv6 ranges and prefix lists are refused.
pub fn permissions(p: &Ec2Params<'_>) -> Result<Vec<Permission>, Ec2Error> {
    Ok(read_permissions(p, false)?.0)
}

/// The permissions of a revocation, and how many of its peers are IPv6 ranges or prefix
/// lists: no rule here has such a peer, so those match nothing (Terraform revokes AWS's
/// default IPv6 egress rule of every new group and expects `InvalidPermission.NotFound`
/// when there is none).
pub fn revoked_permissions(p: &Ec2Params<'_>) -> Result<(Vec<Permission>, usize), Ec2Error> {
    read_permissions(p, true)
}

fn read_permissions(
    p: &Ec2Params<'_>,
    revoking: bool,
) -> Result<(Vec<Permission>, usize), Ec2Error> {
    let mut foreign = 0;
    let mut out = Vec::new();
    if let Some(proto) = p.get("IpProtocol") {
        let traffic = Traffic::parse(
            proto,
            params::int(p, "FromPort")?,
            params::int(p, "ToPort")?,
        )?;
        let cidr = params::required(p, "CidrIp")?;
        out.push(Permission {
            traffic,
            peer: Peer::Cidr(parse_cidr(cidr)?),
            description: None,
        });
    }
    for perm in p.structs("IpPermissions") {
        let proto = params::required(p, &format!("{perm}.IpProtocol"))?;
        let traffic = Traffic::parse(
            proto,
            params::int(p, &format!("{perm}.FromPort"))?,
            params::int(p, &format!("{perm}.ToPort"))?,
        )?;
        let before = out.len() + foreign;
        for (unsupported, member) in [
            ("Ipv6Ranges", "CidrIpv6"),
            ("PrefixListIds", "PrefixListId"),
        ] {
            let entries = p.structs(&format!("{perm}.{unsupported}"));
            if entries.is_empty() {
                continue;
            }
            if !revoking {
                return Err(Ec2Error::UnsupportedOperation(format!(
                    "{unsupported} are not supported by this endpoint: rules take IPv4 ranges and security groups."
                )));
            }
            for e in entries {
                params::required(p, &format!("{e}.{member}"))?;
                let _ = p.get(&format!("{e}.Description"));
                foreign += 1;
            }
        }
        for r in p.structs(&format!("{perm}.IpRanges")) {
            let cidr = params::required(p, &format!("{r}.CidrIp"))?;
            out.push(Permission {
                traffic: traffic.clone(),
                peer: Peer::Cidr(parse_cidr(cidr)?),
                description: description(p, &format!("{r}.Description"))?,
            });
        }
        for g in p.structs(&format!("{perm}.Groups")) {
            let group_id = params::required(p, &format!("{g}.GroupId"))?;
            if !crate::ids::is_id("sg", group_id) {
                return Err(Ec2Error::InvalidGroupIdMalformed(group_id.to_owned()));
            }
            let user_id = p.get(&format!("{g}.UserId")).unwrap_or_default();
            out.push(Permission {
                traffic: traffic.clone(),
                peer: Peer::Group {
                    group_id: group_id.to_owned(),
                    user_id: user_id.to_owned(),
                },
                description: description(p, &format!("{g}.Description"))?,
            });
        }
        if out.len() + foreign == before {
            return Err(Ec2Error::MissingParameter(
                "IpPermissions.IpRanges or IpPermissions.Groups".into(),
            ));
        }
    }
    if out.is_empty() && foreign == 0 {
        return Err(Ec2Error::MissingParameter("IpPermissions".into()));
    }
    Ok((out, foreign))
}

/// The permissions with each group peer's owner set to `account`; a peer owned by another
/// account is refused (VPC peering is not provided, so no such group can be referenced).
pub fn owned(perms: &[Permission], account: &str) -> Result<Vec<Permission>, Ec2Error> {
    perms
        .iter()
        .map(|p| {
            let mut p = p.clone();
            if let Peer::Group { group_id, user_id } = &mut p.peer {
                if user_id.is_empty() {
                    account.clone_into(user_id);
                } else if user_id != account {
                    return Err(Ec2Error::InvalidGroupNotFound(vec![group_id.clone()]));
                }
            }
            Ok(p)
        })
        .collect()
}

fn parse_cidr(s: &str) -> Result<Cidr, Ec2Error> {
    s.parse()
        .map_err(|_| Ec2Error::invalid(format!("CIDR block {s} is malformed")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrogate_wire::query::QueryParams;

    fn perms(q: &str) -> Result<Vec<Permission>, Ec2Error> {
        let q = QueryParams::parse(&[q.as_bytes()]);
        owned(&permissions(&Ec2Params::new(&q))?, "111122223333")
    }

    #[test]
    fn one_permission_is_one_rule_per_peer() {
        let p = perms("IpPermissions.1.IpProtocol=6&IpPermissions.1.FromPort=22&IpPermissions.1.ToPort=22&IpPermissions.1.IpRanges.1.CidrIp=10.0.0.0/8&IpPermissions.1.IpRanges.2.CidrIp=0.0.0.0/0&IpPermissions.1.Groups.1.GroupId=sg-12345678").unwrap();
        assert_eq!(p.len(), 3);
        assert!(p.iter().all(|r| r.traffic.protocol == "tcp"));
        assert_eq!(
            p[1].label(),
            "peer: 0.0.0.0/0, TCP, from port: 22, to port: 22, ALLOW"
        );
        assert_eq!(p[2].peer.label(), "sg-12345678");
    }

    #[test]
    fn bad_rules_get_ec2s_errors() {
        let code = |q: &str| {
            let e = perms(q).unwrap_err();
            let api = ferrogate_wire::ApiError::from_error(&e, ferrogate_wire::Protocol::Ec2);
            (api.code, api.message)
        };
        let (c, m) = code("IpPermissions.1.IpProtocol=tcp&IpPermissions.1.ToPort=22&IpPermissions.1.IpRanges.1.CidrIp=0.0.0.0/0");
        assert_eq!(c, "InvalidParameterValue");
        assert_eq!(
            m,
            "Invalid value 'Must specify both from and to ports with TCP/UDP.' for portRange."
        );
        let (c, m) = code("IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=-1&IpPermissions.1.ToPort=22&IpPermissions.1.IpRanges.1.CidrIp=0.0.0.0/0");
        assert_eq!(
            (c, m.as_str()),
            (
                "InvalidPermission.Malformed",
                "TCP/UDP port (-1) out of range"
            )
        );
        let (c, _) = code("IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=80&IpPermissions.1.ToPort=22&IpPermissions.1.IpRanges.1.CidrIp=0.0.0.0/0");
        assert_eq!(c, "InvalidParameterValue");
        let (c, m) =
            code("IpPermissions.1.IpProtocol=foo&IpPermissions.1.IpRanges.1.CidrIp=0.0.0.0/0");
        assert_eq!(
            (c, m.as_str()),
            (
                "InvalidParameterValue",
                "Invalid value 'foo' for IP protocol. Unknown protocol."
            )
        );
        let (c, _) =
            code("IpPermissions.1.IpProtocol=-1&IpPermissions.1.IpRanges.1.CidrIp=10.0.0.1/8");
        assert_eq!(c, "InvalidParameterValue");
        let (c, _) = code("IpPermissions.1.IpProtocol=-1&IpPermissions.1.Groups.1.GroupId=web");
        assert_eq!(c, "InvalidGroupId.Malformed");
        let (c, _) =
            code("IpPermissions.1.IpProtocol=-1&IpPermissions.1.Ipv6Ranges.1.CidrIpv6=::/0");
        assert_eq!(c, "UnsupportedOperation");
        let (c, _) = code("IpPermissions.1.IpProtocol=-1");
        assert_eq!(c, "MissingParameter");
    }

    #[test]
    fn ipv6_peers_are_refused_when_added_and_match_nothing_when_revoked() {
        let q = QueryParams::parse(&[
            b"IpPermissions.1.IpProtocol=-1&IpPermissions.1.Ipv6Ranges.1.CidrIpv6=::/0".as_slice(),
        ]);
        let p = Ec2Params::new(&q);
        assert!(matches!(
            permissions(&p),
            Err(Ec2Error::UnsupportedOperation(_))
        ));
        let p = Ec2Params::new(&q);
        let (perms, foreign) = revoked_permissions(&p).unwrap();
        assert!(perms.is_empty() && foreign == 1);
        assert!(p.finish().is_ok());
    }

    #[test]
    fn protocols_without_ports_ignore_them() {
        let p = perms("IpProtocol=all&FromPort=5&ToPort=9&CidrIp=10.0.0.0/8").unwrap();
        assert_eq!(
            p[0].traffic,
            Traffic {
                protocol: "-1".into(),
                from: -1,
                to: -1
            }
        );
        assert_eq!(p[0].label(), "peer: 10.0.0.0/8, ALL, ALLOW");
        let t = Traffic::parse("47", None, None).unwrap();
        assert_eq!((t.protocol.as_str(), t.has_ports()), ("47", false));
        assert!(Traffic::parse("256", None, None).is_err());
        assert!(Traffic::parse("017", None, None).is_err());
    }
}
