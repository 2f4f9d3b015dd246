//! Conntrack entries over `NETLINK_NETFILTER`: list the IPv4 ones and delete one by its
//! original tuple (`linux/netfilter/nfnetlink_conntrack.h`). No `unsafe`.

use std::net::Ipv4Addr;

use super::rtnl::{attrs, Msg, NLM_F_DUMP};

const NFNL_SUBSYS_CTNETLINK: u16 = 1;
const IPCTNL_MSG_CT_NEW: u16 = 0;
const IPCTNL_MSG_CT_GET: u16 = 1;
const IPCTNL_MSG_CT_DELETE: u16 = 2;
const CTA_TUPLE_ORIG: u16 = 1;
const CTA_TUPLE_REPLY: u16 = 2;
const CTA_ZONE: u16 = 18;
const CTA_TUPLE_IP: u16 = 1;
const CTA_IP_V4_SRC: u16 = 1;
const CTA_IP_V4_DST: u16 = 2;
const NLA_F_NESTED: u16 = 0x8000;
const AF_INET: u8 = 2;

/// `struct nfgenmsg` for IPv4, version 0.
const NFGENMSG: [u8; 4] = [AF_INET, 0, 0, 0];

/// The message type of conntrack answers (`IPCTNL_MSG_CT_NEW`).
pub const CT_NEW: u16 = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;

/// Asks for every IPv4 entry.
pub fn dump() -> Msg {
    Msg::new(
        (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET,
        NLM_F_DUMP,
        &NFGENMSG,
    )
}

/// One entry: the addresses of both directions, and what identifies it for deletion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// (source, destination) of the original direction.
    pub orig: (Ipv4Addr, Ipv4Addr),
    /// (source, destination) of the reply direction.
    pub reply: (Ipv4Addr, Ipv4Addr),
    /// `CTA_TUPLE_ORIG` as received (data only).
    tuple: Vec<u8>,
    /// `CTA_ZONE` as received, if any.
    zone: Option<Vec<u8>>,
}

impl Entry {
    /// True if `a` is an address of either direction.
    pub fn involves(&self, a: Ipv4Addr) -> bool {
        [self.orig.0, self.orig.1, self.reply.0, self.reply.1].contains(&a)
    }
}

fn v4(d: &[u8]) -> Option<Ipv4Addr> {
    <[u8; 4]>::try_from(d).ok().map(Ipv4Addr::from)
}

fn ips(tuple: &[u8]) -> Option<(Ipv4Addr, Ipv4Addr)> {
    let ip = attrs(tuple, 0)
        .into_iter()
        .find(|(t, _)| *t == CTA_TUPLE_IP)?
        .1;
    let a = attrs(ip, 0);
    let get = |ty| a.iter().find(|(t, _)| *t == ty).and_then(|(_, d)| v4(d));
    Some((get(CTA_IP_V4_SRC)?, get(CTA_IP_V4_DST)?))
}

/// Parses one `IPCTNL_MSG_CT_NEW` payload; `None` for anything but an IPv4 entry.
pub fn parse(payload: &[u8]) -> Option<Entry> {
    if payload.first() != Some(&AF_INET) {
        return None;
    }
    let a = attrs(payload, NFGENMSG.len());
    let get = |ty| a.iter().find(|(t, _)| *t == ty).map(|(_, d)| *d);
    let orig = get(CTA_TUPLE_ORIG)?;
    Some(Entry {
        orig: ips(orig)?,
        reply: ips(get(CTA_TUPLE_REPLY)?)?,
        tuple: orig.to_vec(),
        zone: get(CTA_ZONE).map(<[u8]>::to_vec),
    })
}

/// Deletes `e` (by its original tuple, in its zone).
pub fn delete(e: &Entry) -> Msg {
    let mut m = Msg::new(
        (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE,
        0,
        &NFGENMSG,
    );
    m.attr(CTA_TUPLE_ORIG | NLA_F_NESTED, &e.tuple);
    if let Some(z) = &e.zone {
        m.attr(CTA_ZONE, z);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An answer as the kernel builds it: nfgenmsg, then nested tuples.
    fn answer(src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
        let mut m = Msg::new(CT_NEW, 0, &NFGENMSG);
        for (ty, (s, d)) in [(CTA_TUPLE_ORIG, (src, dst)), (CTA_TUPLE_REPLY, (dst, src))] {
            let t = m.nest(ty | NLA_F_NESTED);
            let i = m.nest(CTA_TUPLE_IP | NLA_F_NESTED);
            m.attr(CTA_IP_V4_SRC, &s);
            m.attr(CTA_IP_V4_DST, &d);
            m.end_nest(i);
            let p = m.nest(2 | NLA_F_NESTED);
            m.attr(1, &[6]);
            m.end_nest(p);
            m.end_nest(t);
        }
        m.attr(CTA_ZONE, &[0, 7]);
        m.finish(1)[16..].to_vec()
    }

    #[test]
    fn entries_parse_and_delete_by_their_original_tuple() {
        let p = answer([10, 0, 1, 1], [10, 0, 1, 4]);
        let e = parse(&p).unwrap();
        assert_eq!(
            e.orig,
            (Ipv4Addr::new(10, 0, 1, 1), Ipv4Addr::new(10, 0, 1, 4))
        );
        assert_eq!(
            e.reply,
            (Ipv4Addr::new(10, 0, 1, 4), Ipv4Addr::new(10, 0, 1, 1))
        );
        assert!(e.involves(Ipv4Addr::new(10, 0, 1, 4)));
        assert!(!e.involves(Ipv4Addr::new(10, 0, 1, 5)));
        let d = delete(&e).finish(9);
        assert_eq!(
            u16::from_ne_bytes([d[4], d[5]]),
            (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE
        );
        let a = attrs(&d[16..], 4);
        // The tuple goes back exactly as it came, and the zone with it.
        assert_eq!(a[0], (CTA_TUPLE_ORIG, e.tuple.as_slice()));
        assert_eq!(a[1], (CTA_ZONE, &[0u8, 7][..]));
        // IPv6 entries are not ours to parse.
        let mut v6 = p.clone();
        v6[0] = 10;
        assert!(parse(&v6).is_none());
    }
}
