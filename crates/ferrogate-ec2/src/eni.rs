//! The elastic network interfaces of tasks, as ECS asks EC2 for them: where a task may be
//! placed (its subnets and security groups checked against this account's VPCs), an
//! interface with an address of its subnet when the task launches, and its deletion when
//! the task stops.
//!
//! These are not operations of the EC2 API (ECS calls them in its own transactions, as
//! Fargate makes a task's interface with its service-linked role); the interface then shows
//! in `DescribeNetworkInterfaces` until it is deleted.
//!
//! # Invariants
//! - No two interfaces hold one address of a subnet: the address index
//!   (`tables::ADDRESSES`) is written with the interface, in the same transaction, and
//!   an address is taken only when the index has no entry for it.
//! - An address is never one EC2 reserves: the first four of a subnet (network, router,
//!   DNS, future use) and its last (broadcast).

use std::net::Ipv4Addr;

use ferrogate_store::{Direction, ReadTx, WriteTx};
use ferrogate_types::Timestamp;

use crate::cidr::Cidr;
use crate::model::{address_key, key, subnet_addresses, tables, Interface, InterfaceStatus};
use crate::model::{SecurityGroup, Subnet, Vpc};
use crate::{ids, Ec2Error};

/// The most subnets and security groups a task's `awsvpcConfiguration` names (ECS: 16
/// subnets, 5 security groups).
pub const MAX_SUBNETS: usize = 16;
/// See [`MAX_SUBNETS`].
pub const MAX_GROUPS: usize = 5;

/// Addresses EC2 reserves at the start of every subnet (network, router, DNS, future use).
const RESERVED_HEAD: u64 = 4;

/// Where a task may be placed: subnets of one VPC and security groups of that VPC.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    /// The VPC.
    pub vpc: Vpc,
    /// The subnets, in the order asked.
    pub subnets: Vec<Subnet>,
    /// The security groups: those asked, or the VPC's `default` group when none was.
    pub groups: Vec<SecurityGroup>,
}

/// Checks `subnets` and `groups` (ids) in an account and region: every one exists, the
/// subnets are of one VPC, the groups of that VPC. No group named: the VPC's default group.
pub fn place(
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
    subnets: &[String],
    groups: &[String],
) -> Result<Placement, Ec2Error> {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for id in subnets {
        match tables::SUBNETS.get(tx, &key(account, region, id))? {
            Some(s) => found.push(s),
            None => missing.push(id.clone()),
        }
    }
    if !missing.is_empty() {
        return Err(Ec2Error::InvalidSubnetIdNotFound(missing));
    }
    let Some(first) = found.first() else {
        return Err(Ec2Error::MissingParameter("subnets".into()));
    };
    if let Some(other) = found.iter().find(|s| s.vpc_id != first.vpc_id) {
        // ECS's wording is not documented; the check is AWS's (one ENI, one VPC).
        return Err(Ec2Error::InvalidParameterCombination(format!(
            "The subnets {} and {} belong to different VPCs ({} and {}): the subnets of a task must all be in one VPC.",
            first.id, other.id, first.vpc_id, other.vpc_id
        )));
    }
    let vpc = tables::VPCS
        .get(tx, &key(account, region, &first.vpc_id))?
        .ok_or_else(|| Ec2Error::InvalidVpcIdNotFound(vec![first.vpc_id.clone()]))?;
    let mut chosen = Vec::new();
    let mut missing = Vec::new();
    let wanted: Vec<String> = if groups.is_empty() {
        vec![vpc.default_group_id.clone()]
    } else {
        groups.to_vec()
    };
    for id in &wanted {
        match tables::GROUPS.get(tx, &key(account, region, id))? {
            Some(g) => chosen.push(g),
            None => missing.push(id.clone()),
        }
    }
    if !missing.is_empty() {
        return Err(Ec2Error::InvalidGroupNotFound(missing));
    }
    if chosen.iter().any(|g| g.vpc_id != vpc.id) {
        return Err(Ec2Error::InvalidGroupDifferentNetworks);
    }
    Ok(Placement {
        vpc,
        subnets: found,
        groups: chosen,
    })
}

/// A task's new interface and what its host side needs to know.
#[derive(Debug, Clone, PartialEq)]
pub struct Created {
    /// The interface as stored.
    pub interface: Interface,
    /// Its subnet's block.
    pub subnet_cidr: Cidr,
    /// Its subnet's router: the block's first address after the network address.
    pub gateway: Ipv4Addr,
    /// The VPC's blocks.
    pub vpc_cidrs: Vec<Cidr>,
}

/// What the interface is for: its description and who asked for it.
#[derive(Debug, Clone)]
pub struct Purpose<'a> {
    /// `description` (ECS: `arn:aws:ecs:<region>:<account>:attachment/<uuid>`).
    pub description: &'a str,
    /// `requesterId` (the service that manages it).
    pub requester_id: &'a str,
}

/// Makes an interface for `placement` in the first of its subnets with a free address
/// (the lowest free one), status `available`. `InsufficientFreeAddressesInSubnet` (naming
/// the last subnet tried) when none has one.
pub fn create(
    tx: &mut dyn WriteTx,
    placement: &Placement,
    purpose: &Purpose<'_>,
    now: Timestamp,
) -> Result<Created, Ec2Error> {
    let mut chosen = None;
    for s in &placement.subnets {
        if let Some(a) = free_address(tx, s)? {
            chosen = Some((s, a));
            break;
        }
    }
    let Some((s, address)) = chosen else {
        let last = placement
            .subnets
            .last()
            .map(|s| s.id.clone())
            .unwrap_or_default();
        return Err(Ec2Error::InsufficientFreeAddressesInSubnet(last));
    };
    let interface = Interface {
        account: s.account.clone(),
        region: s.region.clone(),
        id: ids::new_id("eni")?,
        subnet_id: s.id.clone(),
        vpc_id: s.vpc_id.clone(),
        az: s.az.clone(),
        az_id: s.az_id.clone(),
        address,
        mac: new_mac()?,
        groups: placement.groups.iter().map(|g| g.id.clone()).collect(),
        description: purpose.description.to_owned(),
        requester_id: purpose.requester_id.to_owned(),
        attachment_id: ids::new_id("eni-attach")?,
        status: InterfaceStatus::Available,
        created: now,
        tags: Vec::new(),
    };
    tables::ADDRESSES.put(
        tx,
        &address_key(&s.account, &s.region, &s.id, address),
        &crate::model::AddressUse {
            interface_id: interface.id.clone(),
        },
    )?;
    tables::INTERFACES.put(tx, &key(&s.account, &s.region, &interface.id), &interface)?;
    let gateway = s.cidr.nth(1).unwrap_or(s.cidr.base());
    Ok(Created {
        interface,
        subnet_cidr: s.cidr,
        gateway,
        vpc_cidrs: vec![placement.vpc.cidr],
    })
}

/// The lowest address of `s` neither reserved nor in use.
fn free_address(tx: &dyn ReadTx, s: &Subnet) -> Result<Option<Ipv4Addr>, Ec2Error> {
    let used = tables::ADDRESSES.scan(
        tx,
        &subnet_addresses(&s.account, &s.region, &s.id),
        None,
        Direction::Forward,
        crate::model::SCAN_LIMIT,
    )?;
    let mut taken: Vec<u64> = used
        .iter()
        .filter_map(|(k, _)| address_of_key(k))
        .filter_map(|a| s.cidr.offset(a))
        .collect();
    taken.sort_unstable();
    let last = s.cidr.size().saturating_sub(1);
    let mut candidate = RESERVED_HEAD;
    for t in taken {
        if t < candidate {
            continue;
        }
        if t > candidate {
            break;
        }
        candidate += 1;
    }
    Ok((candidate < last).then(|| s.cidr.nth(candidate)).flatten())
}

/// The address at the end of an address-index key (an `i64`, big-endian, sign-flipped:
/// see `ferrogate_store::Key::i64`).
fn address_of_key(k: &[u8]) -> Option<Ipv4Addr> {
    let tail: [u8; 8] = k.get(k.len().checked_sub(8)?..)?.try_into().ok()?;
    let v = u64::from_be_bytes(tail) ^ (1 << 63);
    u32::try_from(v).ok().map(Ipv4Addr::from)
}

/// A locally administered unicast MAC, `0a:` and five random bytes, as EC2 gives
/// interfaces.
fn new_mac() -> Result<String, Ec2Error> {
    let mut b = [0u8; 5];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| Ec2Error::RandomnessUnavailable)?;
    Ok(std::iter::once(0x0au8)
        .chain(b)
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":"))
}

/// An interface by id, with its key.
fn lookup(
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
    id: &str,
) -> Result<Option<(Vec<u8>, Interface)>, Ec2Error> {
    let k = key(account, region, id);
    Ok(tables::INTERFACES.get(tx, &k)?.map(|n| (k, n)))
}

/// Marks the interface attached to its running task (`in-use`); false if it is gone.
pub fn set_in_use(
    tx: &mut dyn WriteTx,
    account: &str,
    region: &str,
    id: &str,
) -> Result<bool, Ec2Error> {
    let Some((k, mut n)) = lookup(&*tx, account, region, id)? else {
        return Ok(false);
    };
    if n.status != InterfaceStatus::InUse {
        n.status = InterfaceStatus::InUse;
        tables::INTERFACES.put(tx, &k, &n)?;
    }
    Ok(true)
}

/// Deletes the interface and frees its address; false if it was already gone.
pub fn delete(
    tx: &mut dyn WriteTx,
    account: &str,
    region: &str,
    id: &str,
) -> Result<bool, Ec2Error> {
    let Some((k, n)) = lookup(&*tx, account, region, id)? else {
        return Ok(false);
    };
    let address = address_key(&n.account, &n.region, &n.subnet_id, n.address);
    tables::ADDRESSES.delete(tx, &address)?;
    tables::INTERFACES.delete(tx, &k)?;
    Ok(true)
}

/// A security group by id (what the host enforces for a task is read from here).
pub use crate::ops::find_group as group;

/// Makes the account's default VPC in `region` if it was never made (ECS needs it before
/// the account's first EC2 request: `run-task` with a default subnet found some other way).
pub fn ensure_defaults(
    tx: &mut dyn WriteTx,
    account: &str,
    region: &str,
    now: Timestamp,
) -> Result<(), Ec2Error> {
    if !crate::defaults::made(&*tx, account, region)? {
        let plan = crate::defaults::plan(account, region, now)?;
        crate::defaults::apply(tx, &plan)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrogate_store::Store;

    const A: &str = "111122223333";
    const R: &str = "eu-west-1";

    fn now() -> Timestamp {
        Timestamp::from_epoch_seconds_f64(0.0).unwrap()
    }

    /// A store with the default VPC and one extra /28 subnet (11 usable addresses) in
    /// it, and another VPC with a subnet and a group.
    fn setup() -> (tempfile::TempDir, Store, Subnet, Subnet, SecurityGroup) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let plan = crate::defaults::plan(A, R, now()).unwrap();
        let (vpc, other_group) =
            crate::defaults::new_vpc(A, R, "10.9.0.0/16".parse().unwrap(), false, now()).unwrap();
        let z = crate::defaults::zones(R)[0].clone();
        let other_sub =
            crate::defaults::new_subnet(&vpc, "10.9.1.0/24".parse().unwrap(), &z, false).unwrap();
        let (s2, g2) = (other_sub.clone(), other_group.clone());
        let small = run(&store, move |tx| {
            crate::defaults::apply(tx, &plan)?;
            tables::VPCS.put(tx, &key(A, R, &vpc.id), &vpc)?;
            tables::SUBNETS.put(tx, &key(A, R, &s2.id), &s2)?;
            tables::GROUPS.put(tx, &key(A, R, &g2.id), &g2)?;
            let d = crate::ops::default_vpc(tx, A, R)?.unwrap();
            let small =
                crate::defaults::new_subnet(&d, "172.31.200.0/28".parse().unwrap(), &z, false)?;
            tables::SUBNETS.put(tx, &key(A, R, &small.id), &small)?;
            Ok(small)
        })
        .unwrap();
        (dir, store, small, other_sub, other_group)
    }

    fn run<T: Send + 'static>(
        store: &Store,
        f: impl FnOnce(&mut dyn WriteTx) -> Result<T, Ec2Error> + Send + 'static,
    ) -> Result<T, Ec2Error> {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(store.write(f))
    }

    #[test]
    fn placement_checks_existence_and_networks() {
        let (_d, store, small, other_sub, other_group) = setup();
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let p = store
            .read(|tx| place(tx, A, R, &ids(&[&small.id]), &[]))
            .unwrap();
        assert_eq!(p.groups.len(), 1);
        assert!(
            p.groups[0].is_default(),
            "no group named: the VPC's default"
        );
        let e = store
            .read(|tx| place(tx, A, R, &ids(&["subnet-0000000000000000a"]), &[]))
            .unwrap_err();
        assert!(
            matches!(e, Ec2Error::InvalidSubnetIdNotFound(ref m) if m == &ids(&["subnet-0000000000000000a"]))
        );
        let e = store
            .read(|tx| {
                place(
                    tx,
                    A,
                    R,
                    &ids(&[&small.id]),
                    &ids(&["sg-0000000000000000a"]),
                )
            })
            .unwrap_err();
        assert!(matches!(e, Ec2Error::InvalidGroupNotFound(_)), "{e}");
        let e = store
            .read(|tx| place(tx, A, R, &ids(&[&small.id, &other_sub.id]), &[]))
            .unwrap_err();
        assert!(matches!(e, Ec2Error::InvalidParameterCombination(_)), "{e}");
        let e = store
            .read(|tx| place(tx, A, R, &ids(&[&small.id]), &ids(&[&other_group.id])))
            .unwrap_err();
        assert!(matches!(e, Ec2Error::InvalidGroupDifferentNetworks), "{e}");
        // Another account sees none of it.
        let e = store
            .read(|tx| place(tx, "444455556666", R, &ids(&[&small.id]), &[]))
            .unwrap_err();
        assert!(matches!(e, Ec2Error::InvalidSubnetIdNotFound(_)));
    }

    #[test]
    fn addresses_skip_the_reserved_ones_are_unique_and_are_reused() {
        let (_d, store, small, _, _) = setup();
        let sid = small.id.clone();
        let p = store.read(|tx| place(tx, A, R, &[sid], &[])).unwrap();
        let purpose = |p: Placement| {
            move |tx: &mut dyn WriteTx| {
                create(
                    tx,
                    &p,
                    &Purpose {
                        description: "d",
                        requester_id: "r",
                    },
                    now(),
                )
            }
        };
        // A /28 holds 16 addresses: .0-.3 and .15 are reserved, so .4 to .14 (11).
        let mut made = Vec::new();
        for _ in 0..11 {
            made.push(run(&store, purpose(p.clone())).unwrap());
        }
        let got: Vec<String> = made
            .iter()
            .map(|c| c.interface.address.to_string())
            .collect();
        let want: Vec<String> = (4..=14).map(|i| format!("172.31.200.{i}")).collect();
        assert_eq!(got, want);
        assert_eq!(made[0].gateway.to_string(), "172.31.200.1");
        assert!(made[0].interface.mac.starts_with("0a:"));
        let e = run(&store, purpose(p.clone())).unwrap_err();
        assert!(matches!(e, Ec2Error::InsufficientFreeAddressesInSubnet(ref s) if *s == small.id));
        // Freeing .7 makes .7 the next address.
        let id = made[3].interface.id.clone();
        assert!(run(&store, move |tx| delete(tx, A, R, &id)).unwrap());
        let again = run(&store, purpose(p.clone())).unwrap();
        assert_eq!(again.interface.address.to_string(), "172.31.200.7");
        let id = again.interface.id.clone();
        assert!(run(&store, move |tx| set_in_use(tx, A, R, &id)).unwrap());
        let (_, shown) = store
            .read(|tx| lookup(tx, A, R, &again.interface.id))
            .unwrap()
            .unwrap();
        assert_eq!(shown.status, InterfaceStatus::InUse);
    }
}
