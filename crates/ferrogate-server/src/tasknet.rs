//! Task networking between the control plane and the host runtime: a task's interface
//! (as ECS recorded it at launch) as the runtime's [`TaskNetwork`], and the security
//! groups of every task on the host, read from EC2's tables, as the runtime's
//! [`SecurityGroupRules`], pushed whenever they change.
//!
//! The runtime holds the complete set of groups; [`GroupSync::push`] sends it again (one
//! `SetSecurityGroups`) when what the store says differs from what was last sent: before a
//! networked task starts (its groups must be known to the runtime first), after each
//! committed change to a group (EC2 wakes the launcher) and once a second otherwise.

use std::collections::BTreeSet;

use ferrogate_ec2::model::SecurityGroup;
use ferrogate_ec2::rule::{GroupRule, Peer as Ec2Peer};
use ferrogate_ecs::task::{tables, Task};
use ferrogate_runtime::agent::RuntimeCommand;
use ferrogate_runtime::ids::{InterfaceId, SecurityGroupId, SubnetId, VpcId};
use ferrogate_runtime::net::{
    files, IcmpMatch, Peer, PortRange, Protocol, Rule, SecurityGroupRules, TaskNetwork,
};
use ferrogate_store::Direction;
use tokio::sync::mpsc;

use crate::App;

/// `t`'s interface as the runtime takes it; `None` for a task without one.
pub(crate) fn task_network(t: &Task) -> Result<Option<TaskNetwork>, String> {
    let Some(e) = t.eni.as_ref().filter(|e| !e.deleted) else {
        return Ok(None);
    };
    let bad = |what: &str, e: &dyn std::fmt::Display| {
        format!(
            "ResourceInitializationError: the task's network interface has an invalid {what}: {e}"
        )
    };
    let vpc_cidrs = e
        .vpc_cidrs
        .iter()
        .map(|c| c.parse().map_err(|x| bad("VPC block", &x)))
        .collect::<Result<Vec<_>, String>>()?;
    let security_groups = e
        .groups
        .iter()
        .map(|g| SecurityGroupId::new(g.clone()).map_err(|x| bad("security group", &x)))
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Some(TaskNetwork {
        interface_id: InterfaceId::new(e.interface_id.clone()).map_err(|x| bad("id", &x))?,
        vpc_id: VpcId::new(e.vpc_id.clone()).map_err(|x| bad("VPC", &x))?,
        vpc_cidrs,
        subnet_id: SubnetId::new(e.subnet_id.clone()).map_err(|x| bad("subnet", &x))?,
        subnet_cidr: e.subnet_cidr.parse().map_err(|x| bad("subnet block", &x))?,
        gateway: e.gateway,
        address: e.address,
        mac: e.mac.parse().map_err(|x| bad("MAC address", &x))?,
        security_groups,
        egress: e.public,
        hostname: files::private_dns_name(e.address, &t.region),
        dns_servers: Vec::new(),
        dns_search: vec![files::search_domain(&t.region)],
    }))
}

/// One EC2 rule as the runtime enforces it; `None` for what IPv4 filtering cannot match
/// (`icmpv6`, IPv6 peers are not stored), which then allows nothing.
fn rule(r: &GroupRule) -> Option<Rule> {
    let t = &r.traffic;
    let ports = || {
        let from = u16::try_from(t.from).ok()?;
        let to = u16::try_from(t.to).ok()?;
        PortRange::new(from, to).ok()
    };
    let protocol = match t.protocol.as_str() {
        "-1" => Protocol::All,
        "tcp" => Protocol::Tcp(ports()?),
        "udp" => Protocol::Udp(ports()?),
        "icmp" => Protocol::Icmp(match (u8::try_from(t.from).ok(), u8::try_from(t.to).ok()) {
            (None, _) => IcmpMatch::Any,
            (Some(ty), None) => IcmpMatch::Type(ty),
            (Some(ty), Some(code)) => IcmpMatch::TypeCode(ty, code),
        }),
        "icmpv6" => return None,
        n => match n.parse::<u8>().ok()? {
            6 => Protocol::Tcp(PortRange::ALL),
            17 => Protocol::Udp(PortRange::ALL),
            1 => Protocol::Icmp(IcmpMatch::Any),
            58 => return None,
            n => Protocol::Number(n),
        },
    };
    let peer = match &r.peer {
        Ec2Peer::Cidr(c) => Peer::Cidr(c.to_string().parse().ok()?),
        Ec2Peer::Group { group_id, .. } => {
            Peer::Group(SecurityGroupId::new(group_id.clone()).ok()?)
        }
    };
    Some(Rule { protocol, peer })
}

/// A group with its rules, as the runtime enforces it.
pub(crate) fn group_rules(g: &SecurityGroup) -> Result<SecurityGroupRules, String> {
    Ok(SecurityGroupRules {
        id: SecurityGroupId::new(g.id.clone()).map_err(|e| e.to_string())?,
        vpc_id: VpcId::new(g.vpc_id.clone()).map_err(|e| e.to_string())?,
        ingress: g.ingress.iter().filter_map(rule).collect(),
        egress: g.egress.iter().filter_map(rule).collect(),
    })
}

/// Every group of every live task with an interface, read from the store.
fn current(app: &App) -> Result<Vec<SecurityGroupRules>, String> {
    app.store
        .read(|tx| {
            let live = tables::LIVE.scan(tx, &[], None, Direction::Forward, 1_000_000)?;
            let mut wanted = BTreeSet::new();
            for (_, r) in live {
                let Some(t) = tables::TASKS.get(tx, &r.key())? else {
                    continue;
                };
                if let Some(e) = t.eni.as_ref().filter(|e| !e.deleted) {
                    for g in &e.groups {
                        wanted.insert((t.account.clone(), t.region.clone(), g.clone()));
                    }
                }
            }
            let mut out = Vec::new();
            for (account, region, id) in wanted {
                let found = ferrogate_ecs::network::groups(tx, &account, &region, &[id])
                    .map_err(|e| ferrogate_store::StoreError::Unavailable(e.to_string()))?;
                out.extend(found);
            }
            Ok::<_, ferrogate_store::StoreError>(out)
        })
        .map_err(|e| e.to_string())?
        .iter()
        .map(group_rules)
        .collect()
}

/// What was last sent to the runtime; pushes serialize on it.
#[derive(Default)]
pub(crate) struct GroupSync {
    last: tokio::sync::Mutex<Option<Vec<SecurityGroupRules>>>,
}

impl GroupSync {
    /// Sends the groups of every live task if they differ from what was last sent. Returns
    /// once the command is queued: the runtime stores the groups before it reads the next
    /// command, so a `StartTask` sent after this sees them.
    pub(crate) async fn push(
        &self,
        app: &App,
        commands: &mpsc::Sender<RuntimeCommand>,
    ) -> Result<(), String> {
        let mut last = self.last.lock().await;
        let now = current(app)?;
        if last.as_ref() == Some(&now) {
            return Ok(());
        }
        commands
            .send(RuntimeCommand::SetSecurityGroups {
                groups: now.clone(),
                done: None,
            })
            .await
            .map_err(|_| "the host runtime has stopped".to_owned())?;
        *last = Some(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrogate_ec2::rule::Traffic;

    fn r(protocol: &str, from: i32, to: i32, peer: Ec2Peer) -> GroupRule {
        GroupRule {
            id: "sgr-1".into(),
            traffic: Traffic {
                protocol: protocol.into(),
                from,
                to,
            },
            peer,
            description: None,
            tags: Vec::new(),
        }
    }

    #[test]
    fn ec2_rules_become_runtime_rules() {
        let any = Ec2Peer::Cidr("0.0.0.0/0".parse().unwrap());
        let g = Ec2Peer::Group {
            group_id: "sg-0123456789abcdef0".into(),
            user_id: "111122223333".into(),
        };
        assert_eq!(
            rule(&r("tcp", 80, 90, any.clone())).unwrap().protocol,
            Protocol::Tcp(PortRange::new(80, 90).unwrap())
        );
        assert_eq!(
            rule(&r("-1", -1, -1, g.clone())).unwrap().protocol,
            Protocol::All
        );
        assert_eq!(
            rule(&r("-1", -1, -1, g)).unwrap().peer,
            Peer::Group(SecurityGroupId::new("sg-0123456789abcdef0").unwrap())
        );
        assert_eq!(
            rule(&r("icmp", 8, -1, any.clone())).unwrap().protocol,
            Protocol::Icmp(IcmpMatch::Type(8))
        );
        assert_eq!(
            rule(&r("icmp", -1, -1, any.clone())).unwrap().protocol,
            Protocol::Icmp(IcmpMatch::Any)
        );
        assert_eq!(
            rule(&r("47", -1, -1, any.clone())).unwrap().protocol,
            Protocol::Number(47)
        );
        assert!(rule(&r("icmpv6", -1, -1, any)).is_none());
    }
}
