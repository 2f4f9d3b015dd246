//! A task's interface on the host, through rtnetlink (no `ip` process per task).
//!
//! Host side: the veth's host end carries the subnet's gateway address
//! (`gateway/prefix noprefixroute`: several host ends share it without competing subnet
//! routes) and a `/32` route to the task whose preferred source is the gateway; it
//! forwards (per interface: the host-wide `ip_forward` is not needed between tasks),
//! filters reverse paths strictly, answers ARP only for its own address, sends no
//! redirects and has no IPv6 address. Task side: `eth0` with the task's MAC and
//! `address/prefix noprefixroute`, no IPv6 address, and `default via gateway onlink`:
//! every destination, the task's own subnet included, goes through the host, which is
//! where security groups are enforced.

use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;

use super::error::{netlink, NetworkError};
use super::TaskNetwork;
use crate::sys::netlink::{errno, Netlink};
use crate::sys::rtnl::{self, Ipv4Conf};

/// The task end's name, as on Fargate.
pub const TASK_INTERFACE: &str = "eth0";

/// Settings of the host end (see the module docs).
const HOST_END: &[(Ipv4Conf, u32)] = &[
    (Ipv4Conf::Forwarding, 1),
    (Ipv4Conf::RpFilter, 1),
    (Ipv4Conf::SendRedirects, 0),
    (Ipv4Conf::ArpIgnore, 1),
    (Ipv4Conf::ArpAnnounce, 2),
];

/// Refuses an address the host already answers for (one of its own addresses).
pub(super) fn check_host_address(address: Ipv4Addr) -> Result<(), NetworkError> {
    let mut nl = Netlink::route().map_err(netlink("opening a netlink socket"))?;
    let routes = match nl.request(rtnl::get_route(address), rtnl::RTM_NEWROUTE) {
        Ok(r) => r,
        // No route at all (an isolated host): nothing owns the address.
        Err(e) if matches!(errno(&e), Some(libc::ENETUNREACH | libc::EHOSTUNREACH)) => {
            return Ok(())
        }
        Err(e) => return Err(netlink(format!("looking up the route to {address}"))(e)),
    };
    let local = routes
        .iter()
        .filter_map(|r| rtnl::parse_route(r))
        .any(|(kind, _)| kind == rtnl::RTN_LOCAL);
    if local {
        return Err(NetworkError::HostAddressConflict {
            address,
            detail: "it is an address of the host itself".into(),
        });
    }
    Ok(())
}

/// Creates and configures the pair for `net` into the network namespace of process
/// `pid` (the task's sandbox init). On failure nothing of it is left.
pub(super) fn create(
    host_if: &str,
    alias: &str,
    net: &TaskNetwork,
    pid: i32,
) -> Result<(), NetworkError> {
    let netns = std::fs::File::open(format!("/proc/{pid}/ns/net")).map_err(netlink(format!(
        "opening the network namespace of process {pid}"
    )))?;
    let mut host = Netlink::route().map_err(netlink("opening a netlink socket"))?;
    let mac = net.mac.octets();
    match host.transact(vec![rtnl::new_veth(
        host_if,
        TASK_INTERFACE,
        mac,
        netns.as_raw_fd(),
    )]) {
        Ok(()) => {}
        Err(e) if errno(&e) == Some(libc::EEXIST) => {
            return Err(NetworkError::InterfaceNameTaken {
                name: host_if.to_owned(),
                interface_id: net.interface_id.clone(),
            })
        }
        Err(e) => return Err(netlink(format!("creating veth pair {host_if}"))(e)),
    }
    let configured =
        index(&mut host, host_if).and_then(|hi| configure(&mut host, hi, alias, net, &netns));
    if let Err(e) = configured {
        let _ = delete(host_if);
        return Err(e);
    }
    Ok(())
}

fn configure(
    host: &mut Netlink,
    hi: u32,
    alias: &str,
    net: &TaskNetwork,
    netns: &std::fs::File,
) -> Result<(), NetworkError> {
    let prefix = net.subnet_cidr.prefix();
    host.transact(vec![
        rtnl::configure_link(hi, Some(alias), HOST_END),
        rtnl::add_address(hi, net.gateway, prefix),
        rtnl::link_up(hi),
    ])
    .map_err(netlink("configuring the host end"))?;
    match host.transact(vec![rtnl::add_host_route(hi, net.address, net.gateway)]) {
        Ok(()) => {}
        Err(e) if errno(&e) == Some(libc::EEXIST) => {
            return Err(NetworkError::HostAddressConflict {
                address: net.address,
                detail: "the host already has a route for it".into(),
            })
        }
        Err(e) => return Err(netlink(format!("adding the route to {}", net.address))(e)),
    }
    let mut task = Netlink::route_in(std::os::fd::AsFd::as_fd(netns))
        .map_err(netlink("opening a netlink socket in the task's namespace"))?;
    let ti = index(&mut task, TASK_INTERFACE)?;
    task.transact(vec![
        rtnl::configure_link(ti, None, &[]),
        rtnl::add_address(ti, net.address, prefix),
        rtnl::link_up(ti),
        rtnl::add_default_route(ti, net.gateway),
    ])
    .map_err(netlink("configuring eth0 in the task"))
}

/// The index of link `name`.
fn index(nl: &mut Netlink, name: &str) -> Result<u32, NetworkError> {
    nl.request(rtnl::get_link(name), rtnl::RTM_NEWLINK)
        .map_err(netlink(format!("looking up link {name}")))?
        .iter()
        .find_map(|p| rtnl::parse_link(p))
        .map(|(i, _, _)| i)
        .ok_or_else(|| {
            netlink(format!("looking up link {name}"))(std::io::Error::from_raw_os_error(
                libc::ENODEV,
            ))
        })
}

/// Deletes host link `name` (and with it its peer). `Ok(false)` if it did not exist.
pub(super) fn delete(name: &str) -> Result<bool, NetworkError> {
    let mut nl = Netlink::route().map_err(netlink("opening a netlink socket"))?;
    match nl.transact(vec![rtnl::del_link_by_name(name)]) {
        Ok(()) => Ok(true),
        Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(false),
        Err(e) => Err(netlink(format!("deleting link {name}"))(e)),
    }
}

/// True if link `name` exists.
pub(super) fn exists(name: &str) -> Result<bool, NetworkError> {
    let mut nl = Netlink::route().map_err(netlink("opening a netlink socket"))?;
    match nl.request(rtnl::get_link(name), rtnl::RTM_NEWLINK) {
        Ok(l) => Ok(!l.is_empty()),
        Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(false),
        Err(e) => Err(netlink(format!("looking up link {name}"))(e)),
    }
}

/// Every link: (index, name, alias).
pub(super) fn links() -> Result<Vec<(u32, String, Option<String>)>, NetworkError> {
    let mut nl = Netlink::route().map_err(netlink("opening a netlink socket"))?;
    Ok(nl
        .request(rtnl::dump_links(), rtnl::RTM_NEWLINK)
        .map_err(netlink("listing links"))?
        .iter()
        .filter_map(|p| rtnl::parse_link(p))
        .collect())
}

/// Deletes link `index`. `Ok(false)` if it did not exist.
pub(super) fn delete_index(index: u32) -> Result<bool, NetworkError> {
    let mut nl = Netlink::route().map_err(netlink("opening a netlink socket"))?;
    match nl.transact(vec![rtnl::del_link(index)]) {
        Ok(()) => Ok(true),
        Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(false),
        Err(e) => Err(netlink(format!("deleting link {index}"))(e)),
    }
}

/// Deletes every conntrack entry with `address` in either direction, so that a later
/// task with the same address inherits no flow its own rules would not allow (an entry
/// accepted for the old task would otherwise count as an established connection of the
/// new one). Returns how many were deleted.
pub(super) fn forget_connections(address: Ipv4Addr) -> Result<usize, NetworkError> {
    use crate::sys::conntrack;
    let mut nl = Netlink::netfilter().map_err(netlink("opening a conntrack socket"))?;
    let entries: Vec<conntrack::Entry> = nl
        .request(conntrack::dump(), conntrack::CT_NEW)
        .map_err(netlink("listing conntrack entries"))?
        .iter()
        .filter_map(|p| conntrack::parse(p))
        .filter(|e| e.involves(address))
        .collect();
    for chunk in entries.chunks(64) {
        match nl.transact(chunk.iter().map(conntrack::delete).collect()) {
            Ok(()) => {}
            // Expired meanwhile.
            Err(e) if errno(&e) == Some(libc::ENOENT) => {}
            Err(e) => {
                return Err(netlink(format!("deleting conntrack entries of {address}"))(
                    e,
                ))
            }
        }
    }
    Ok(entries.len())
}
