//! TaskNetwork validation, conflicts between tasks on one host, and host object names.

use super::manager::check_conflicts;
use super::*;
use crate::ids::TaskId;
use std::collections::BTreeMap;

fn base() -> TaskNetwork {
    TaskNetwork {
        interface_id: InterfaceId::new("eni-0a1b2c3d4e5f60718").unwrap(),
        vpc_id: VpcId::new("vpc-1").unwrap(),
        vpc_cidrs: vec!["10.0.0.0/16".parse().unwrap()],
        subnet_id: SubnetId::new("subnet-1").unwrap(),
        subnet_cidr: "10.0.1.0/24".parse().unwrap(),
        gateway: "10.0.1.1".parse().unwrap(),
        address: "10.0.1.4".parse().unwrap(),
        mac: "0a:1b:2c:3d:4e:5f".parse().unwrap(),
        security_groups: vec![SecurityGroupId::new("sg-1").unwrap()],
        egress: false,
        hostname: "ip-10-0-1-4.ec2.internal".into(),
        dns_servers: vec![],
        dns_search: vec!["ec2.internal".into()],
    }
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

#[test]
fn validation_refuses_each_kind_of_bad_input() {
    assert!(base().validate().is_ok());
    type Case = (fn(&mut TaskNetwork), &'static str);
    let cases: Vec<Case> = vec![
        (|n| n.address = ip("10.0.2.4"), "address 10.0.2.4 is not in subnet subnet-1 (10.0.1.0/24)"),
        (|n| n.gateway = ip("10.0.2.1"), "gateway 10.0.2.1 is not in subnet subnet-1 (10.0.1.0/24)"),
        (|n| n.address = ip("10.0.1.0"), "address 10.0.1.0 is the network address of subnet 10.0.1.0/24 and cannot be a task's"),
        (|n| n.address = ip("10.0.1.255"), "address 10.0.1.255 is the broadcast address of subnet 10.0.1.0/24 and cannot be a task's"),
        (|n| n.address = ip("10.0.1.1"), "address 10.0.1.1 is the gateway address of subnet 10.0.1.0/24 and cannot be a task's"),
        (|n| n.gateway = ip("10.0.1.255"), "gateway 10.0.1.255 is the broadcast address of subnet 10.0.1.0/24"),
        (|n| n.subnet_cidr = "10.0.1.0/29".parse().unwrap(), "subnet CIDR block 10.0.1.0/29 must be between /16 and /28"),
        (|n| n.vpc_cidrs = vec!["10.0.0.0/8".parse().unwrap()], "VPC CIDR block 10.0.0.0/8 must be between /16 and /28"),
        (|n| n.vpc_cidrs = vec!["10.1.0.0/16".parse().unwrap()], "subnet subnet-1 (10.0.1.0/24) is not inside a CIDR block of vpc-1"),
        (|n| n.vpc_cidrs = vec![], "vpc-1 has 0 CIDR blocks; 1 to 5 are allowed"),
        (|n| n.security_groups = vec![], "a task network interface needs 1 to 5 security groups; 0 given"),
        (|n| n.security_groups = (0..6).map(|i| SecurityGroupId::new(format!("sg-{i}")).unwrap()).collect(), "a task network interface needs 1 to 5 security groups; 6 given"),
        (|n| n.security_groups.push(SecurityGroupId::new("sg-1").unwrap()), "security group sg-1 is given twice"),
        (|n| n.hostname = "bad name".into(), "hostname \"bad name\" is not an RFC 1123 name"),
        (|n| n.dns_servers = vec![ip("1.1.1.1"); 4], "4 DNS servers given; a resolv.conf holds at most 3"),
        (|n| n.dns_search = vec!["x y".into()], "invalid DNS search list entry \"x y\""),
    ];
    for (change, want) in cases {
        let mut n = base();
        change(&mut n);
        let e = n.validate().expect_err(want);
        assert!(e.to_string().starts_with(want), "{e} (wanted {want})");
        assert!(e.is_invalid_input(), "{e}");
    }
    // A secondary block of the VPC holds the subnet: fine.
    let mut n = base();
    n.vpc_cidrs = vec![
        "10.1.0.0/16".parse().unwrap(),
        "10.0.0.0/16".parse().unwrap(),
    ];
    assert!(n.validate().is_ok());
}

fn groups(vpc: &str) -> BTreeMap<SecurityGroupId, SecurityGroupRules> {
    ["sg-1", "sg-2"]
        .iter()
        .map(|g| {
            let id = SecurityGroupId::new(*g).unwrap();
            let r = SecurityGroupRules {
                id: id.clone(),
                vpc_id: VpcId::new(vpc).unwrap(),
                ingress: vec![],
                egress: vec![],
            };
            (id, r)
        })
        .collect()
}

/// Checks `n` against one task already here holding `base()`.
fn against_base(n: &TaskNetwork) -> Result<(), NetworkError> {
    let t = TaskId::new("t-1").unwrap();
    let b = base();
    let bif = host_interface_name("0123456789ab", &b.interface_id);
    let nif = host_interface_name("0123456789ab", &n.interface_id);
    let mut gs = groups("vpc-1");
    gs.extend(groups("vpc-2").into_iter().map(|(k, mut v)| {
        v.id = SecurityGroupId::new(format!("{k}-b")).unwrap();
        (v.id.clone(), v)
    }));
    check_conflicts(&gs, std::iter::once((&t, &b, &bif)), n, &nif)
}

fn other() -> TaskNetwork {
    let mut n = base();
    n.interface_id = InterfaceId::new("eni-other").unwrap();
    n.address = ip("10.0.1.5");
    n
}

#[test]
fn conflicts_with_tasks_already_on_the_host() {
    assert!(against_base(&other()).is_ok());
    let mut n = other();
    n.address = ip("10.0.1.4");
    assert!(matches!(
        against_base(&n),
        Err(NetworkError::AddressInUse { .. })
    ));
    let mut n = other();
    n.interface_id = base().interface_id;
    assert!(matches!(
        against_base(&n),
        Err(NetworkError::InterfaceInUse { .. })
    ));
    // Another VPC may not overlap: one routing table.
    let mut n = other();
    n.vpc_id = VpcId::new("vpc-2").unwrap();
    n.security_groups = vec![SecurityGroupId::new("sg-1-b").unwrap()];
    let e = against_base(&n).unwrap_err();
    assert!(matches!(e, NetworkError::VpcOverlap { .. }), "{e}");
    assert!(!e.is_invalid_input());
    // ...and is fine elsewhere.
    n.vpc_cidrs = vec!["10.1.0.0/16".parse().unwrap()];
    n.subnet_cidr = "10.1.1.0/24".parse().unwrap();
    n.gateway = ip("10.1.1.1");
    n.address = ip("10.1.1.4");
    assert!(against_base(&n).is_ok());
    // One subnet id, two definitions; two subnets of a VPC overlapping.
    let mut n = other();
    n.gateway = ip("10.0.1.254");
    assert!(matches!(
        against_base(&n),
        Err(NetworkError::SubnetConflict { .. })
    ));
    let mut n = other();
    n.subnet_id = SubnetId::new("subnet-2").unwrap();
    n.subnet_cidr = "10.0.0.0/20".parse().unwrap();
    assert!(matches!(
        against_base(&n),
        Err(NetworkError::SubnetConflict { .. })
    ));
    // Groups: known, and of the task's VPC.
    let mut n = other();
    n.security_groups = vec![SecurityGroupId::new("sg-9").unwrap()];
    assert!(matches!(
        against_base(&n),
        Err(NetworkError::UnknownSecurityGroup { .. })
    ));
    n.security_groups = vec![SecurityGroupId::new("sg-1-b").unwrap()];
    let e = against_base(&n).unwrap_err();
    assert!(
        matches!(e, NetworkError::SecurityGroupOfOtherVpc { .. }),
        "{e}"
    );
}

#[test]
fn host_objects_are_named_for_their_instance() {
    let a = host_interface_name("0123456789ab", &InterfaceId::new("eni-1").unwrap());
    let b = host_interface_name("0123456789ab", &InterfaceId::new("eni-2").unwrap());
    let c = host_interface_name("fedcba987654", &InterfaceId::new("eni-1").unwrap());
    assert_eq!(a.len(), 15, "{a}");
    assert!(a.starts_with("fg012345") && c.starts_with("fgfedcba"));
    assert!(a
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
    assert_ne!(a, b);
    assert_eq!(a[8..], c[8..]);
    // Stable: recovery and records rely on it.
    assert_eq!(
        a,
        host_interface_name("0123456789ab", &InterfaceId::new("eni-1").unwrap())
    );
    assert_eq!(table_name("0123456789ab"), "ferrogate_0123456789ab");
}

#[test]
fn hosts_files() {
    let n = base();
    assert_eq!(
        files::task_hosts(&n, "ip-10-0-1-4.ec2.internal"),
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n10.0.1.4\tip-10-0-1-4.ec2.internal ip-10-0-1-4\n"
    );
    assert!(files::task_hosts(&n, "web")
        .ends_with("10.0.1.4\tip-10-0-1-4.ec2.internal ip-10-0-1-4 web\n"));
}
