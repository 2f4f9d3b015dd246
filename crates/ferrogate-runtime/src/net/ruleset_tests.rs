//! The ruleset generator: rules to match text, a whole skeleton, elements and deltas.

use super::*;
use crate::ids::VpcId;

fn id(s: &str) -> SecurityGroupId {
    SecurityGroupId::new(s).unwrap()
}

fn cidr(s: &str) -> Ipv4Net {
    s.parse().unwrap()
}

fn r(protocol: Protocol, peer: Peer) -> Rule {
    Rule { protocol, peer }
}

fn groups(gs: Vec<SecurityGroupRules>) -> BTreeMap<SecurityGroupId, SecurityGroupRules> {
    gs.into_iter().map(|g| (g.id.clone(), g)).collect()
}

fn names() -> Names {
    Names::for_instance("0123456789ab")
}

/// One group: its members reach each other on TCP 80; all egress.
fn web() -> SecurityGroupRules {
    SecurityGroupRules {
        id: id("sg-a"),
        vpc_id: VpcId::new("vpc-1").unwrap(),
        ingress: vec![r(
            Protocol::Tcp(PortRange::single(80)),
            Peer::Group(id("sg-a")),
        )],
        egress: vec![r(Protocol::All, Peer::Cidr(Ipv4Net::ANY))],
    }
}

#[test]
fn each_rule_becomes_one_match() {
    let tcp = |a, b| Protocol::Tcp(PortRange::new(a, b).unwrap());
    let udp = |a, b| Protocol::Udp(PortRange::new(a, b).unwrap());
    let net = Peer::Cidr(cidr("10.0.0.0/16"));
    let table: Vec<(Rule, bool, &str)> = vec![
        (r(Protocol::All, Peer::Cidr(Ipv4Net::ANY)), true, ""),
        (r(Protocol::All, net.clone()), true, "ip saddr 10.0.0.0/16 "),
        (
            r(Protocol::All, net.clone()),
            false,
            "ip daddr 10.0.0.0/16 ",
        ),
        (
            r(tcp(80, 80), Peer::Group(id("sg-x"))),
            true,
            "ip saddr @m_sg-x tcp dport 80 ",
        ),
        (
            r(tcp(80, 80), Peer::Group(id("sg-x"))),
            false,
            "ip daddr @m_sg-x tcp dport 80 ",
        ),
        (
            r(tcp(8000, 8080), net.clone()),
            true,
            "ip saddr 10.0.0.0/16 tcp dport 8000-8080 ",
        ),
        (
            r(tcp(0, 65535), Peer::Cidr(Ipv4Net::ANY)),
            true,
            "meta l4proto tcp ",
        ),
        (
            r(udp(53, 53), Peer::Cidr(cidr("192.0.2.0/24"))),
            false,
            "ip daddr 192.0.2.0/24 udp dport 53 ",
        ),
        (
            r(udp(0, 65535), Peer::Cidr(Ipv4Net::ANY)),
            false,
            "meta l4proto udp ",
        ),
        (
            r(Protocol::Icmp(IcmpMatch::Any), Peer::Cidr(Ipv4Net::ANY)),
            true,
            "meta l4proto icmp ",
        ),
        (
            r(Protocol::Icmp(IcmpMatch::Type(8)), Peer::Cidr(Ipv4Net::ANY)),
            true,
            "icmp type 8 ",
        ),
        (
            r(Protocol::Icmp(IcmpMatch::TypeCode(3, 4)), net.clone()),
            true,
            "ip saddr 10.0.0.0/16 icmp type 3 icmp code 4 ",
        ),
        (
            r(Protocol::Number(47), net),
            true,
            "ip saddr 10.0.0.0/16 meta l4proto 47 ",
        ),
    ];
    for (rule, ingress, want) in table {
        assert_eq!(rule_match(&rule, ingress), want, "{rule:?}");
    }
}

/// The whole skeleton of one group, as `nft -f` reads it (checked by hand against the
/// module docs: every hook, the dispatch chains, one chain per group and direction).
const GOLDEN: &str = r#"table inet ferrogate_0123456789ab {
  set ifaces { type ifname; }
  set addrs { type ipv4_addr; }
  set src_ok { type ifname . ipv4_addr . ether_addr; }
  set public { type ipv4_addr; }
  set dns { type ipv4_addr . ipv4_addr; }
  set vpc { type ipv4_addr . ipv4_addr; flags interval; }
  set m_sg-a { type ipv4_addr; }
  chain spoof {
    type filter hook prerouting priority raw; policy accept;
    iifname "fg012345*" meta nfproto != ipv4 drop
    iifname "fg012345*" iifname . ip saddr . ether saddr != @src_ok drop
  }
  chain input {
    type filter hook input priority filter; policy accept;
    iifname "fg012345*" jump task_to_host
  }
  chain task_to_host {
    ct state established,related accept
    ip saddr . ip daddr @dns meta l4proto { tcp, udp } th dport 53 accept
    drop
  }
  chain output {
    type filter hook output priority filter; policy accept;
    oifname "fg012345*" jump host_to_task
  }
  chain host_to_task {
    ct state established,related accept
    ct state invalid drop
    goto ingress
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname "fg012345*" jump from_task
    oifname "fg012345*" jump to_task
  }
  chain from_task {
    ct state established,related accept
    ct state invalid drop
    ip saddr . ip daddr @dns meta l4proto { tcp, udp } th dport 53 accept
    ip saddr . ip daddr @vpc goto within_vpc
    oifname "fg012345*" drop
    ip saddr != @public drop
    goto egress
  }
  chain to_task {
    ct state established,related accept
    ct state invalid drop
    ip daddr != @public drop
    goto ingress
  }
  chain ingress {
    ip daddr @m_sg-a jump in_sg-a
    drop
  }
  chain egress {
    ip saddr @m_sg-a jump out_sg-a
    drop
  }
  chain within_vpc {
    oifname != @ifaces drop
    ip saddr @m_sg-a jump vpc_sg-a
    drop
  }
  chain in_sg-a {
    ip saddr @m_sg-a tcp dport 80 accept
  }
  chain out_sg-a {
    accept
  }
  chain vpc_sg-a {
    goto ingress
  }
  chain nat {
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr @addrs oifname != "fg012345*" masquerade
  }
}
table arp ferrogate_0123456789ab {
  set src_ok { type ifname . ipv4_addr . ether_addr; }
  chain spoof {
    type filter hook input priority filter; policy accept;
    iifname "fg012345*" iifname . arp saddr ip . arp saddr ether != @src_ok drop
  }
}
"#;

#[test]
fn the_skeleton_of_one_group() {
    assert_eq!(skeleton(&names(), &groups(vec![web()])), GOLDEN);
}

#[test]
fn groups_named_only_as_peers_get_an_empty_member_set_and_no_chain() {
    let mut g = web();
    g.ingress
        .push(r(Protocol::All, Peer::Group(id("sg-elsewhere"))));
    let s = skeleton(&names(), &groups(vec![g]));
    assert!(
        s.contains("  set m_sg-elsewhere { type ipv4_addr; }\n"),
        "{s}"
    );
    assert!(!s.contains("chain in_sg-elsewhere"), "{s}");
    assert!(!s.contains("jump in_sg-elsewhere"), "{s}");
    assert!(s.contains("    ip saddr @m_sg-elsewhere accept\n"), "{s}");
}

#[test]
fn several_groups_are_tried_in_turn_then_dropped() {
    let mut b = web();
    b.id = id("sg-b");
    b.egress = vec![];
    let s = skeleton(&names(), &groups(vec![web(), b]));
    assert!(s.contains(
        "  chain ingress {\n    ip daddr @m_sg-a jump in_sg-a\n    ip daddr @m_sg-b jump in_sg-b\n    drop\n  }\n"
    ), "{s}");
    // A group with no egress rule has empty egress chains: it allows nothing out.
    assert!(s.contains("  chain out_sg-b {\n  }\n"), "{s}");
    assert!(s.contains("  chain vpc_sg-b {\n  }\n"), "{s}");
}

fn task(if_: &str, addr: &str, groups: &[&str], egress: bool) -> TaskRules {
    TaskRules {
        host_if: if_.into(),
        address: addr.parse().unwrap(),
        mac: "0a:00:00:00:00:04".parse().unwrap(),
        vpc_cidrs: vec![cidr("10.0.0.0/16"), cidr("10.5.0.0/16")],
        groups: groups.iter().map(|g| id(g)).collect(),
        egress,
        resolvers: vec!["192.0.2.53".parse().unwrap()],
    }
}

fn keys(els: &BTreeSet<Element>) -> Vec<String> {
    els.iter()
        .map(|e| format!("{:?} {} {}", e.family, e.set, e.key))
        .collect()
}

#[test]
fn a_task_is_its_elements() {
    let gs = groups(vec![web()]);
    let els = elements(
        &gs,
        &[task(
            "fg012345abcdefg",
            "10.0.1.4",
            &["sg-a", "sg-gone"],
            true,
        )],
    );
    assert_eq!(
        keys(&els),
        [
            "Inet addrs 10.0.1.4",
            "Inet dns 10.0.1.4 . 192.0.2.53",
            "Inet ifaces \"fg012345abcdefg\"",
            "Inet m_sg-a 10.0.1.4",
            "Inet public 10.0.1.4",
            "Inet src_ok \"fg012345abcdefg\" . 10.0.1.4 . 0a:00:00:00:00:04",
            "Inet vpc 10.0.1.4 . 10.0.0.0/16",
            "Inet vpc 10.0.1.4 . 10.5.0.0/16",
            "Arp src_ok \"fg012345abcdefg\" . 10.0.1.4 . 0a:00:00:00:00:04",
        ]
    );
    // Without egress it is not public; a group the skeleton lacks gets no member.
    let els = elements(
        &gs,
        &[task("fg012345abcdefg", "10.0.1.4", &["sg-gone"], false)],
    );
    assert!(!keys(&els)
        .iter()
        .any(|k| k.contains("public") || k.contains("m_")));
}

#[test]
fn starts_and_stops_are_deltas_of_elements() {
    let gs = groups(vec![web()]);
    let one = elements(
        &gs,
        &[task("fg012345aaaaaaa", "10.0.1.4", &["sg-a"], false)],
    );
    let two = elements(
        &gs,
        &[
            task("fg012345aaaaaaa", "10.0.1.4", &["sg-a"], false),
            task("fg012345bbbbbbb", "10.0.1.5", &["sg-a"], false),
        ],
    );
    assert_eq!(delta(&names(), &one, &one), None);
    let t = "ferrogate_0123456789ab";
    let start = delta(&names(), &one, &two).unwrap();
    assert_eq!(
        start,
        format!(
            "add element inet {t} addrs {{ 10.0.1.5 }}\n\
             add element inet {t} dns {{ 10.0.1.5 . 192.0.2.53 }}\n\
             add element inet {t} ifaces {{ \"fg012345bbbbbbb\" }}\n\
             add element inet {t} m_sg-a {{ 10.0.1.5 }}\n\
             add element inet {t} src_ok {{ \"fg012345bbbbbbb\" . 10.0.1.5 . 0a:00:00:00:00:04 }}\n\
             add element inet {t} vpc {{ 10.0.1.5 . 10.0.0.0/16, 10.0.1.5 . 10.5.0.0/16 }}\n\
             add element arp {t} src_ok {{ \"fg012345bbbbbbb\" . 10.0.1.5 . 0a:00:00:00:00:04 }}\n"
        )
    );
    let stop = delta(&names(), &two, &one).unwrap();
    assert_eq!(stop, start.replace("add element", "delete element"));
    // The same address on a new interface: the old elements go before the new come.
    let moved = elements(
        &gs,
        &[task("fg012345ccccccc", "10.0.1.4", &["sg-a"], false)],
    );
    let d = delta(&names(), &one, &moved).unwrap();
    let del = d
        .find("delete element inet ferrogate_0123456789ab ifaces { \"fg012345aaaaaaa\" }")
        .unwrap();
    let add = d
        .find("add element inet ferrogate_0123456789ab ifaces { \"fg012345ccccccc\" }")
        .unwrap();
    assert!(del < add, "{d}");
}

#[test]
fn a_full_replacement_is_one_transaction_that_starts_from_nothing() {
    let gs = groups(vec![web()]);
    let sk = skeleton(&names(), &gs);
    let els = elements(
        &gs,
        &[task("fg012345aaaaaaa", "10.0.1.4", &["sg-a"], false)],
    );
    let f = full(&names(), &sk, &els);
    let t = "ferrogate_0123456789ab";
    assert!(f.starts_with(&format!(
        "table inet {t}\ndelete table inet {t}\ntable arp {t}\ndelete table arp {t}\ntable inet {t} {{\n"
    )));
    assert!(f.contains(&sk));
    let after = &f[f.find(&sk).unwrap() + sk.len()..];
    assert_eq!(after.lines().count(), 7, "{after}");
    assert!(after.lines().all(|l| l.starts_with("add element ")));
}
