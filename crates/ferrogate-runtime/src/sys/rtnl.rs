//! rtnetlink messages, built and parsed by hand (no `unsafe`: plain byte layout).
//!
//! Only what task networking needs: create a veth pair with its peer in another network
//! namespace, set a link's alias, per-interface IPv4 settings, IPv6 address generation
//! and state, add addresses and routes, look links up and list them, ask for a route.
//! Layouts are those of `linux/netlink.h`, `linux/rtnetlink.h`, `linux/if_link.h`,
//! `linux/if_addr.h`; integers are in host byte order except addresses, which are in
//! network byte order as the kernel stores them.

use std::net::Ipv4Addr;

// linux/netlink.h
pub const NLMSG_HDRLEN: usize = 16;
pub const NLM_F_REQUEST: u16 = 0x1;
pub const NLM_F_MULTI: u16 = 0x2;
pub const NLM_F_ACK: u16 = 0x4;
pub const NLM_F_ROOT: u16 = 0x100;
pub const NLM_F_MATCH: u16 = 0x200;
pub const NLM_F_DUMP: u16 = NLM_F_ROOT | NLM_F_MATCH;
pub const NLM_F_EXCL: u16 = 0x200;
pub const NLM_F_CREATE: u16 = 0x400;
pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
/// `NLMSGERR_ATTR_MSG`: the extended ack's text.
const NLMSGERR_ATTR_MSG: u16 = 1;
/// An acknowledgement carrying TLVs after the (capped) original header.
const NLM_F_ACK_TLVS: u16 = 0x200;

// linux/rtnetlink.h
pub const RTM_NEWLINK: u16 = 16;
pub const RTM_DELLINK: u16 = 17;
pub const RTM_GETLINK: u16 = 18;
pub const RTM_NEWADDR: u16 = 20;
pub const RTM_NEWROUTE: u16 = 24;
pub const RTM_GETROUTE: u16 = 26;
const RTN_UNICAST: u8 = 1;
pub const RTN_LOCAL: u8 = 2;
const RT_TABLE_MAIN: u8 = 254;
const RTPROT_STATIC: u8 = 4;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RT_SCOPE_LINK: u8 = 253;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PREFSRC: u16 = 7;
const RTA_TABLE: u16 = 15;
const RTNH_F_ONLINK: u32 = 4;

// linux/if_link.h, linux/veth.h
const IFLA_ADDRESS: u16 = 1;
pub const IFLA_IFNAME: u16 = 3;
const IFLA_LINKINFO: u16 = 18;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
pub const IFLA_IFALIAS: u16 = 20;
const IFLA_AF_SPEC: u16 = 26;
const IFLA_NET_NS_FD: u16 = 28;
const VETH_INFO_PEER: u16 = 1;
const IFLA_INET_CONF: u16 = 1;
const IFLA_INET6_ADDR_GEN_MODE: u16 = 8;
const IN6_ADDR_GEN_MODE_NONE: u8 = 1;
const IFF_UP: u32 = 1;

// linux/if_addr.h
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_FLAGS: u16 = 8;
const IFA_F_NOPREFIXROUTE: u32 = 0x200;

const AF_UNSPEC: u8 = 0;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;

/// Per-interface IPv4 settings (`linux/ip.h`, `IPV4_DEVCONF_*`), set through
/// `IFLA_AF_SPEC` instead of writing `/proc/sys/net/ipv4/conf/<if>/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
pub enum Ipv4Conf {
    /// Forward packets arriving on this interface.
    Forwarding = 1,
    /// Send ICMP redirects.
    SendRedirects = 6,
    /// Reverse-path filtering (1: strict).
    RpFilter = 8,
    /// Which local address to use as the sender of ARP requests (2: the best one on
    /// the interface).
    ArpAnnounce = 18,
    /// Which ARP requests to answer (1: only for addresses on the interface).
    ArpIgnore = 19,
}

/// One netlink message under construction.
#[derive(Clone, Debug)]
pub struct Msg {
    buf: Vec<u8>,
}

fn align(n: usize) -> usize {
    (n + 3) & !3
}

impl Msg {
    /// A message of type `ty` with `flags` (`NLM_F_REQUEST` is added) and the family
    /// header `header` (padded to 4 bytes).
    pub fn new(ty: u16, flags: u16, header: &[u8]) -> Self {
        let mut buf = vec![0u8; NLMSG_HDRLEN];
        buf[4..6].copy_from_slice(&ty.to_ne_bytes());
        buf[6..8].copy_from_slice(&(flags | NLM_F_REQUEST).to_ne_bytes());
        buf.extend_from_slice(header);
        buf.resize(align(buf.len()), 0);
        Msg { buf }
    }
    /// Appends an attribute.
    pub fn attr(&mut self, ty: u16, data: &[u8]) -> &mut Self {
        let len = u16::try_from(4 + data.len()).unwrap_or(u16::MAX);
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(data);
        self.buf.resize(align(self.buf.len()), 0);
        self
    }
    /// Appends a `u32` attribute.
    pub fn attr_u32(&mut self, ty: u16, v: u32) -> &mut Self {
        self.attr(ty, &v.to_ne_bytes())
    }
    /// Appends a NUL-terminated string attribute.
    pub fn attr_str(&mut self, ty: u16, s: &str) -> &mut Self {
        let mut b = s.as_bytes().to_vec();
        b.push(0);
        self.attr(ty, &b)
    }
    /// Appends an IPv4 address attribute (network byte order).
    pub fn attr_ip(&mut self, ty: u16, a: Ipv4Addr) -> &mut Self {
        self.attr(ty, &a.octets())
    }
    /// Opens a nested attribute; close it with [`Msg::end_nest`].
    pub fn nest(&mut self, ty: u16) -> usize {
        let at = self.buf.len();
        self.attr(ty, &[]);
        at
    }
    /// Closes the nested attribute opened at `at`.
    pub fn end_nest(&mut self, at: usize) -> &mut Self {
        let len = u16::try_from(self.buf.len() - at).unwrap_or(u16::MAX);
        self.buf[at..at + 2].copy_from_slice(&len.to_ne_bytes());
        self
    }
    /// Appends raw bytes inside the current nest (a family header in a nested message).
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self.buf.resize(align(self.buf.len()), 0);
        self
    }
    /// The finished bytes with sequence number `seq`.
    pub fn finish(mut self, seq: u32) -> Vec<u8> {
        let len = u32::try_from(self.buf.len()).unwrap_or(u32::MAX);
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        self.buf
    }
    /// The same message asking for an acknowledgement.
    pub fn with_ack(mut self) -> Self {
        let f = u16::from_ne_bytes([self.buf[6], self.buf[7]]) | NLM_F_ACK;
        self.buf[6..8].copy_from_slice(&f.to_ne_bytes());
        self
    }
}

/// `struct ifinfomsg`.
fn ifinfomsg(family: u8, index: i32, flags: u32, change: u32) -> [u8; 16] {
    let mut h = [0u8; 16];
    h[0] = family;
    h[4..8].copy_from_slice(&index.to_ne_bytes());
    h[8..12].copy_from_slice(&flags.to_ne_bytes());
    h[12..16].copy_from_slice(&change.to_ne_bytes());
    h
}

/// `struct ifaddrmsg`.
fn ifaddrmsg(prefix: u8, scope: u8, index: u32) -> [u8; 8] {
    let mut h = [0u8; 8];
    h[0] = AF_INET;
    h[1] = prefix;
    h[3] = scope;
    h[4..8].copy_from_slice(&index.to_ne_bytes());
    h
}

/// `struct rtmsg`.
fn rtmsg(dst_len: u8, scope: u8, kind: u8, flags: u32) -> [u8; 12] {
    let mut h = [0u8; 12];
    h[0] = AF_INET;
    h[1] = dst_len;
    h[4] = RT_TABLE_MAIN;
    h[5] = RTPROT_STATIC;
    h[6] = scope;
    h[7] = kind;
    h[8..12].copy_from_slice(&flags.to_ne_bytes());
    h
}

/// Creates the veth pair `host` (down, in the socket's namespace) and `peer` (down, with
/// `peer_mac`, created directly in the namespace open as descriptor `peer_netns`).
/// Exclusive: an existing `host` is an error, never reused.
pub fn new_veth(host: &str, peer: &str, peer_mac: [u8; 6], peer_netns: i32) -> Msg {
    let mut m = Msg::new(
        RTM_NEWLINK,
        NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK,
        &ifinfomsg(AF_UNSPEC, 0, 0, 0),
    );
    m.attr_str(IFLA_IFNAME, host);
    let info = m.nest(IFLA_LINKINFO);
    m.attr_str(IFLA_INFO_KIND, "veth");
    let data = m.nest(IFLA_INFO_DATA);
    let p = m.nest(VETH_INFO_PEER);
    m.raw(&ifinfomsg(AF_UNSPEC, 0, 0, 0));
    m.attr_str(IFLA_IFNAME, peer);
    m.attr(IFLA_ADDRESS, &peer_mac);
    m.attr_u32(
        IFLA_NET_NS_FD,
        u32::try_from(peer_netns).unwrap_or(u32::MAX),
    );
    m.end_nest(p);
    m.end_nest(data);
    m.end_nest(info);
    m
}

/// Deletes link `index` (a veth takes its peer with it).
pub fn del_link(index: u32) -> Msg {
    Msg::new(
        RTM_DELLINK,
        NLM_F_ACK,
        &ifinfomsg(AF_UNSPEC, to_i32(index), 0, 0),
    )
}

/// Deletes the link named `name`.
pub fn del_link_by_name(name: &str) -> Msg {
    let mut m = Msg::new(RTM_DELLINK, NLM_F_ACK, &ifinfomsg(AF_UNSPEC, 0, 0, 0));
    m.attr_str(IFLA_IFNAME, name);
    m
}

/// Asks for the link named `name`.
pub fn get_link(name: &str) -> Msg {
    let mut m = Msg::new(RTM_GETLINK, 0, &ifinfomsg(AF_UNSPEC, 0, 0, 0));
    m.attr_str(IFLA_IFNAME, name);
    m
}

/// Asks for every link.
pub fn dump_links() -> Msg {
    Msg::new(RTM_GETLINK, NLM_F_DUMP, &ifinfomsg(AF_UNSPEC, 0, 0, 0))
}

/// Sets link `index`'s alias, its IPv4 settings `conf`, and turns off IPv6 address
/// generation (no link-local address: tasks are IPv4 only, and the host end must not
/// offer the host to the task over IPv6). Set before the link goes up.
pub fn configure_link(index: u32, alias: Option<&str>, conf: &[(Ipv4Conf, u32)]) -> Msg {
    let mut m = Msg::new(
        RTM_NEWLINK,
        NLM_F_ACK,
        &ifinfomsg(AF_UNSPEC, to_i32(index), 0, 0),
    );
    if let Some(a) = alias {
        m.attr_str(IFLA_IFALIAS, a);
    }
    let spec = m.nest(IFLA_AF_SPEC);
    if !conf.is_empty() {
        let inet = m.nest(u16::from(AF_INET));
        let c = m.nest(IFLA_INET_CONF);
        for (k, v) in conf {
            m.attr_u32(*k as u16, *v);
        }
        m.end_nest(c);
        m.end_nest(inet);
    }
    let inet6 = m.nest(u16::from(AF_INET6));
    m.attr(IFLA_INET6_ADDR_GEN_MODE, &[IN6_ADDR_GEN_MODE_NONE]);
    m.end_nest(inet6);
    m.end_nest(spec);
    m
}

/// Brings link `index` up.
pub fn link_up(index: u32) -> Msg {
    Msg::new(
        RTM_NEWLINK,
        NLM_F_ACK,
        &ifinfomsg(AF_UNSPEC, to_i32(index), IFF_UP, IFF_UP),
    )
}

/// Adds `addr/prefix` to link `index` without the prefix route (`noprefixroute`): the
/// subnet is reached through the gateway, and several host links can carry the same
/// gateway address without competing connected routes.
pub fn add_address(index: u32, addr: Ipv4Addr, prefix: u8) -> Msg {
    let mut m = Msg::new(
        RTM_NEWADDR,
        NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK,
        &ifaddrmsg(prefix, RT_SCOPE_UNIVERSE, index),
    );
    m.attr_ip(IFA_LOCAL, addr);
    m.attr_ip(IFA_ADDRESS, addr);
    m.attr_u32(IFA_FLAGS, IFA_F_NOPREFIXROUTE);
    m
}

/// `default via gateway dev index onlink`.
pub fn add_default_route(index: u32, gateway: Ipv4Addr) -> Msg {
    let mut m = Msg::new(
        RTM_NEWROUTE,
        NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK,
        &rtmsg(0, RT_SCOPE_UNIVERSE, RTN_UNICAST, RTNH_F_ONLINK),
    );
    m.attr_u32(RTA_TABLE, u32::from(RT_TABLE_MAIN));
    m.attr_ip(RTA_GATEWAY, gateway);
    m.attr_u32(RTA_OIF, index);
    m
}

/// `dst/32 dev index scope link src src`: exclusive, so a `/32` someone else holds is an
/// error, not replaced.
pub fn add_host_route(index: u32, dst: Ipv4Addr, src: Ipv4Addr) -> Msg {
    let mut m = Msg::new(
        RTM_NEWROUTE,
        NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK,
        &rtmsg(32, RT_SCOPE_LINK, RTN_UNICAST, 0),
    );
    m.attr_u32(RTA_TABLE, u32::from(RT_TABLE_MAIN));
    m.attr_ip(RTA_DST, dst);
    m.attr_ip(RTA_PREFSRC, src);
    m.attr_u32(RTA_OIF, index);
    m
}

/// Asks which route the kernel would use for `dst`.
pub fn get_route(dst: Ipv4Addr) -> Msg {
    let mut m = Msg::new(RTM_GETROUTE, 0, &rtmsg(32, 0, 0, 0));
    m.attr_ip(RTA_DST, dst);
    m
}

fn to_i32(index: u32) -> i32 {
    i32::try_from(index).unwrap_or(i32::MAX)
}

/// One received message: its type, flags, sequence number and payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received<'a> {
    /// `nlmsg_type`.
    pub kind: u16,
    /// `nlmsg_flags`.
    pub flags: u16,
    /// `nlmsg_seq`.
    pub seq: u32,
    /// Everything after the header.
    pub payload: &'a [u8],
}

/// Splits a datagram into messages; a truncated one ends the list.
pub fn messages(buf: &[u8]) -> Vec<Received<'_>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + NLMSG_HDRLEN <= buf.len() {
        let h = &buf[at..];
        let len = u32::from_ne_bytes([h[0], h[1], h[2], h[3]]) as usize;
        if len < NLMSG_HDRLEN || at + len > buf.len() {
            break;
        }
        out.push(Received {
            kind: u16::from_ne_bytes([h[4], h[5]]),
            flags: u16::from_ne_bytes([h[6], h[7]]),
            seq: u32::from_ne_bytes([h[8], h[9], h[10], h[11]]),
            payload: &h[NLMSG_HDRLEN..len],
        });
        at += align(len);
    }
    out
}

/// The attributes after a family header of `skip` bytes: (type without flags, data).
pub fn attrs(payload: &[u8], skip: usize) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    let mut at = align(skip);
    while at + 4 <= payload.len() {
        let len = usize::from(u16::from_ne_bytes([payload[at], payload[at + 1]]));
        let ty = u16::from_ne_bytes([payload[at + 2], payload[at + 3]]) & 0x3fff;
        if len < 4 || at + len > payload.len() {
            break;
        }
        out.push((ty, &payload[at + 4..at + len]));
        at += align(len);
    }
    out
}

/// An `NLMSG_ERROR` payload: the errno (0 for an acknowledgement) and the kernel's
/// extended-ack text, if any.
pub fn ack(payload: &[u8], flags: u16) -> Option<(i32, Option<String>)> {
    if payload.len() < 4 {
        return None;
    }
    let err = i32::from_ne_bytes([payload[0], payload[1], payload[2], payload[3]]);
    // With NETLINK_CAP_ACK, only the original header follows; then the TLVs.
    let msg = if flags & NLM_F_ACK_TLVS != 0 {
        attrs(payload, 4 + NLMSG_HDRLEN)
            .into_iter()
            .find(|(t, _)| *t == NLMSGERR_ATTR_MSG)
            .map(|(_, d)| String::from_utf8_lossy(d).trim_end_matches('\0').to_owned())
    } else {
        None
    };
    Some((-err, msg))
}

/// A link from `RTM_NEWLINK`: (index, name, alias).
pub fn parse_link(payload: &[u8]) -> Option<(u32, String, Option<String>)> {
    if payload.len() < 16 {
        return None;
    }
    let index = u32::from_ne_bytes([payload[4], payload[5], payload[6], payload[7]]);
    let mut name = None;
    let mut alias = None;
    for (t, d) in attrs(payload, 16) {
        let s = || String::from_utf8_lossy(d).trim_end_matches('\0').to_owned();
        match t {
            IFLA_IFNAME => name = Some(s()),
            IFLA_IFALIAS => alias = Some(s()),
            _ => {}
        }
    }
    Some((index, name?, alias))
}

/// The type of a route from `RTM_NEWROUTE` (`RTN_LOCAL` for an address of the host) and
/// its output interface.
pub fn parse_route(payload: &[u8]) -> Option<(u8, Option<u32>)> {
    if payload.len() < 12 {
        return None;
    }
    let oif = attrs(payload, 12)
        .into_iter()
        .find(|(t, d)| *t == RTA_OIF && d.len() == 4)
        .map(|(_, d)| u32::from_ne_bytes([d[0], d[1], d[2], d[3]]));
    Some((payload[7], oif))
}

#[cfg(test)]
mod tests;
