//! The nftables ruleset of one agent instance, as text for `nft -f`.
//!
//! Two parts. The **skeleton** (tables, chains, sets, one chain per security group and
//! direction) depends only on the security groups; it is replaced as a whole, in one
//! transaction, when they change. The **elements** (which interfaces, addresses, MACs,
//! VPC blocks and group memberships exist) depend on the tasks; a task's start or stop
//! adds or deletes just its elements. Both are pure functions of the desired state, so
//! the text for any change is the difference between two renderings.
//!
//! How a packet is judged (IPv4; `P` is the instance's interface prefix, so any
//! interface named like ours is judged here, known to a task or not):
//!
//! - **prerouting, before conntrack** (`spoof`): from a `P*` interface only IPv4 whose
//!   (interface, source address, source MAC) is a task's own; ARP likewise in the `arp`
//!   table. Everything else a task sends is dropped.
//! - **task → host** (`input`, `task_to_host`): replies, and DNS to the task's resolvers
//!   when they are host addresses; nothing else: the host offers no service to tasks.
//! - **host → task** (`output`, `host_to_task`): replies, else the task's ingress rules.
//! - **task → elsewhere** (`forward`, `from_task`): replies; DNS to its resolvers (EC2
//!   does not filter traffic to its DNS server with security groups); inside its own
//!   VPC only to another task, as the sender's egress rules and then the receiver's
//!   ingress rules allow (`within_vpc`); never to a task of another VPC; outside the VPC
//!   only for egress tasks, as their egress rules allow, masqueraded.
//! - **elsewhere → task** (`forward`, `to_task`): replies; new connections only to egress
//!   (public) tasks, as their ingress rules allow.
//!
//! A rule of group `g` is in `in_g` (ingress, accepts), `out_g` (egress leaving the VPC,
//! accepts) and `vpc_g` (egress inside the VPC, continues with the receiver's ingress);
//! a chain returns when none of its rules matches, and the dispatching chains
//! (`ingress`, `egress`, `within_vpc`) try the groups the address belongs to and drop
//! when none allowed the packet. Group peers are sets of member addresses (`m_g`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::Ipv4Addr;

use super::addr::{Ipv4Net, MacAddr};
use super::sg::{IcmpMatch, Peer, PortRange, Protocol, Rule, SecurityGroupRules};
use crate::ids::SecurityGroupId;

/// An nftables family of the instance's tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    /// IPv4 and IPv6 filtering and NAT.
    Inet,
    /// ARP.
    Arp,
}

impl Family {
    fn name(self) -> &'static str {
        match self {
            Family::Inet => "inet",
            Family::Arp => "arp",
        }
    }
}

/// One set element.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Element {
    /// Table family.
    pub family: Family,
    /// Set name.
    pub set: String,
    /// The element in nft syntax (built only from typed, validated values).
    pub key: String,
}

/// What the rules of one attached task need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskRules {
    /// The host end of its veth pair.
    pub host_if: String,
    /// Its address.
    pub address: Ipv4Addr,
    /// Its MAC.
    pub mac: MacAddr,
    /// Its VPC's blocks.
    pub vpc_cidrs: Vec<Ipv4Net>,
    /// Its groups.
    pub groups: Vec<SecurityGroupId>,
    /// Egress (NAT) allowed.
    pub egress: bool,
    /// Its resolvers.
    pub resolvers: Vec<Ipv4Addr>,
}

/// The instance's table name and interface prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Names {
    /// Table name (both families).
    pub table: String,
    /// Host interface name prefix.
    pub prefix: String,
}

impl Names {
    /// The names of agent instance `instance`.
    pub fn for_instance(instance: &str) -> Self {
        Names {
            table: super::table_name(instance),
            prefix: super::interface_prefix(instance),
        }
    }
}

/// The name of group `g`'s member set and chains (`m_g`, `in_g`, `out_g`, `vpc_g`): ids
/// hold only letters, digits, '-' and '_', which nft names allow after a letter.
fn members(g: &SecurityGroupId) -> String {
    format!("m_{g}")
}

/// The skeleton for `groups`: every table, set (empty) and chain. Replacing it drops
/// every element; elements follow in the same transaction (see [`full`]).
pub fn skeleton(names: &Names, groups: &BTreeMap<SecurityGroupId, SecurityGroupRules>) -> String {
    let t = &names.table;
    let p = &names.prefix;
    let mut referenced: BTreeSet<&SecurityGroupId> = groups.keys().collect();
    for g in groups.values() {
        for r in g.ingress.iter().chain(&g.egress) {
            if let Peer::Group(id) = &r.peer {
                referenced.insert(id);
            }
        }
    }
    let mut s = String::new();
    let _ = writeln!(s, "table inet {t} {{");
    for (set, ty) in [
        ("ifaces", "ifname"),
        ("addrs", "ipv4_addr"),
        ("src_ok", "ifname . ipv4_addr . ether_addr"),
        ("public", "ipv4_addr"),
        ("dns", "ipv4_addr . ipv4_addr"),
    ] {
        let _ = writeln!(s, "  set {set} {{ type {ty}; }}");
    }
    let _ = writeln!(
        s,
        "  set vpc {{ type ipv4_addr . ipv4_addr; flags interval; }}"
    );
    for g in &referenced {
        let _ = writeln!(s, "  set {} {{ type ipv4_addr; }}", members(g));
    }
    let dns = "ip saddr . ip daddr @dns meta l4proto { tcp, udp } th dport 53 accept";
    let chains: [(&str, Vec<String>); 8] = [
        (
            "spoof",
            vec![
                "type filter hook prerouting priority raw; policy accept;".into(),
                format!("iifname \"{p}*\" meta nfproto != ipv4 drop"),
                format!("iifname \"{p}*\" iifname . ip saddr . ether saddr != @src_ok drop"),
            ],
        ),
        (
            "input",
            vec![
                "type filter hook input priority filter; policy accept;".into(),
                format!("iifname \"{p}*\" jump task_to_host"),
            ],
        ),
        (
            "task_to_host",
            vec![
                "ct state established,related accept".into(),
                dns.into(),
                "drop".into(),
            ],
        ),
        (
            "output",
            vec![
                "type filter hook output priority filter; policy accept;".into(),
                format!("oifname \"{p}*\" jump host_to_task"),
            ],
        ),
        (
            "host_to_task",
            vec![
                "ct state established,related accept".into(),
                "ct state invalid drop".into(),
                "goto ingress".into(),
            ],
        ),
        (
            "forward",
            vec![
                "type filter hook forward priority filter; policy accept;".into(),
                format!("iifname \"{p}*\" jump from_task"),
                format!("oifname \"{p}*\" jump to_task"),
            ],
        ),
        (
            "from_task",
            vec![
                "ct state established,related accept".into(),
                "ct state invalid drop".into(),
                dns.into(),
                "ip saddr . ip daddr @vpc goto within_vpc".into(),
                format!("oifname \"{p}*\" drop"),
                "ip saddr != @public drop".into(),
                "goto egress".into(),
            ],
        ),
        (
            "to_task",
            vec![
                "ct state established,related accept".into(),
                "ct state invalid drop".into(),
                "ip daddr != @public drop".into(),
                "goto ingress".into(),
            ],
        ),
    ];
    for (name, body) in chains {
        chain(&mut s, name, &body);
    }
    let dispatch = |field: &str, prefix: &str, first: Option<&str>| {
        let mut body: Vec<String> = first.into_iter().map(str::to_owned).collect();
        body.extend(
            groups
                .keys()
                .map(|g| format!("ip {field} @{} jump {prefix}_{g}", members(g))),
        );
        body.push("drop".into());
        body
    };
    chain(&mut s, "ingress", &dispatch("daddr", "in", None));
    chain(&mut s, "egress", &dispatch("saddr", "out", None));
    chain(
        &mut s,
        "within_vpc",
        &dispatch("saddr", "vpc", Some("oifname != @ifaces drop")),
    );
    for (id, g) in groups {
        let rules = |rs: &[Rule], ingress: bool, verdict: &str| -> Vec<String> {
            rs.iter()
                .map(|r| format!("{}{verdict}", rule_match(r, ingress)))
                .collect()
        };
        chain(
            &mut s,
            &format!("in_{id}"),
            &rules(&g.ingress, true, "accept"),
        );
        chain(
            &mut s,
            &format!("out_{id}"),
            &rules(&g.egress, false, "accept"),
        );
        chain(
            &mut s,
            &format!("vpc_{id}"),
            &rules(&g.egress, false, "goto ingress"),
        );
    }
    chain(
        &mut s,
        "nat",
        &[
            "type nat hook postrouting priority srcnat; policy accept;".into(),
            format!("ip saddr @addrs oifname != \"{p}*\" masquerade"),
        ],
    );
    s.push_str("}\n");
    let _ = writeln!(s, "table arp {t} {{");
    let _ = writeln!(
        s,
        "  set src_ok {{ type ifname . ipv4_addr . ether_addr; }}"
    );
    chain(
        &mut s,
        "spoof",
        &[
            "type filter hook input priority filter; policy accept;".into(),
            format!("iifname \"{p}*\" iifname . arp saddr ip . arp saddr ether != @src_ok drop"),
        ],
    );
    s.push_str("}\n");
    s
}

fn chain(s: &mut String, name: &str, body: &[String]) {
    let _ = writeln!(s, "  chain {name} {{");
    for l in body {
        let _ = writeln!(s, "    {l}");
    }
    s.push_str("  }\n");
}

/// The match part of a rule (ending in a space, or empty for "everything").
fn rule_match(r: &Rule, ingress: bool) -> String {
    let dir = if ingress { "saddr" } else { "daddr" };
    let mut m = match &r.peer {
        Peer::Cidr(c) if *c == Ipv4Net::ANY => String::new(),
        Peer::Cidr(c) => format!("ip {dir} {c} "),
        Peer::Group(g) => format!("ip {dir} @{} ", members(g)),
    };
    let ports = |proto: &str, p: &PortRange| {
        if *p == PortRange::ALL {
            format!("meta l4proto {proto} ")
        } else if p.from() == p.to() {
            format!("{proto} dport {} ", p.from())
        } else {
            format!("{proto} dport {}-{} ", p.from(), p.to())
        }
    };
    m.push_str(&match r.protocol {
        Protocol::All => String::new(),
        Protocol::Tcp(p) => ports("tcp", &p),
        Protocol::Udp(p) => ports("udp", &p),
        Protocol::Icmp(IcmpMatch::Any) => "meta l4proto icmp ".into(),
        Protocol::Icmp(IcmpMatch::Type(t)) => format!("icmp type {t} "),
        Protocol::Icmp(IcmpMatch::TypeCode(t, c)) => format!("icmp type {t} icmp code {c} "),
        Protocol::Number(n) => format!("meta l4proto {n} "),
    });
    m
}

/// Every element the tasks need. Membership is written only for groups the skeleton
/// has (a group removed while a task uses it allows that task nothing).
pub fn elements(
    groups: &BTreeMap<SecurityGroupId, SecurityGroupRules>,
    tasks: &[TaskRules],
) -> BTreeSet<Element> {
    let mut out = BTreeSet::new();
    let mut add = |family, set: &str, key: String| {
        out.insert(Element {
            family,
            set: set.to_owned(),
            key,
        });
    };
    for t in tasks {
        let (i, a, m) = (&t.host_if, t.address, t.mac);
        add(Family::Inet, "ifaces", format!("\"{i}\""));
        add(Family::Inet, "addrs", a.to_string());
        add(Family::Inet, "src_ok", format!("\"{i}\" . {a} . {m}"));
        add(Family::Arp, "src_ok", format!("\"{i}\" . {a} . {m}"));
        for c in &t.vpc_cidrs {
            add(Family::Inet, "vpc", format!("{a} . {c}"));
        }
        if t.egress {
            add(Family::Inet, "public", a.to_string());
        }
        for r in &t.resolvers {
            add(Family::Inet, "dns", format!("{a} . {r}"));
        }
        for g in t.groups.iter().filter(|g| groups.contains_key(*g)) {
            add(Family::Inet, &members(g), a.to_string());
        }
    }
    out
}

/// `add element` (or `delete element`) lines, one per set.
fn element_lines(s: &mut String, verb: &str, table: &str, els: &[&Element]) {
    let mut by_set: BTreeMap<(Family, &str), Vec<&str>> = BTreeMap::new();
    for e in els {
        by_set
            .entry((e.family, e.set.as_str()))
            .or_default()
            .push(e.key.as_str());
    }
    for ((f, set), keys) in by_set {
        let _ = writeln!(
            s,
            "{verb} element {} {table} {set} {{ {} }}",
            f.name(),
            keys.join(", ")
        );
    }
}

/// Both tables, replaced atomically: created if absent, deleted, created again from
/// `skeleton`, and filled with `elements`; `nft -f` runs it as one transaction.
pub fn full(names: &Names, skeleton: &str, elements: &BTreeSet<Element>) -> String {
    let mut s = removal(names);
    s.push_str(skeleton);
    element_lines(
        &mut s,
        "add",
        &names.table,
        &elements.iter().collect::<Vec<_>>(),
    );
    s
}

/// Removes both tables (absent ones included).
pub fn removal(names: &Names) -> String {
    let t = &names.table;
    format!("table inet {t}\ndelete table inet {t}\ntable arp {t}\ndelete table arp {t}\n")
}

/// From `before` to `after` by elements only: deletions first (an address moving from
/// one task to another is deleted, then added), `None` when nothing changes.
pub fn delta(
    names: &Names,
    before: &BTreeSet<Element>,
    after: &BTreeSet<Element>,
) -> Option<String> {
    let gone: Vec<&Element> = before.difference(after).collect();
    let new: Vec<&Element> = after.difference(before).collect();
    if gone.is_empty() && new.is_empty() {
        return None;
    }
    let mut s = String::new();
    element_lines(&mut s, "delete", &names.table, &gone);
    element_lines(&mut s, "add", &names.table, &new);
    Some(s)
}

#[cfg(test)]
#[path = "ruleset_tests.rs"]
mod tests;
