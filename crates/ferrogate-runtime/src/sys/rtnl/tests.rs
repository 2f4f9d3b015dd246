//! The message builder against layouts written out by hand from the kernel headers.

use super::*;

/// `nlmsghdr` fields of a finished message.
fn header(b: &[u8]) -> (u32, u16, u16, u32, u32) {
    (
        u32::from_ne_bytes(b[0..4].try_into().unwrap()),
        u16::from_ne_bytes(b[4..6].try_into().unwrap()),
        u16::from_ne_bytes(b[6..8].try_into().unwrap()),
        u32::from_ne_bytes(b[8..12].try_into().unwrap()),
        u32::from_ne_bytes(b[12..16].try_into().unwrap()),
    )
}

#[test]
fn link_up_is_a_bare_ifinfomsg() {
    let b = link_up(7).finish(42);
    let mut want = Vec::new();
    want.extend_from_slice(&32u32.to_ne_bytes()); // nlmsg_len: 16 + 16
    want.extend_from_slice(&16u16.to_ne_bytes()); // RTM_NEWLINK
    want.extend_from_slice(&(0x1u16 | 0x4).to_ne_bytes()); // REQUEST | ACK
    want.extend_from_slice(&42u32.to_ne_bytes()); // seq
    want.extend_from_slice(&0u32.to_ne_bytes()); // pid: the kernel fills it
    want.extend_from_slice(&[0, 0]); // ifi_family AF_UNSPEC, pad
    want.extend_from_slice(&0u16.to_ne_bytes()); // ifi_type
    want.extend_from_slice(&7i32.to_ne_bytes()); // ifi_index
    want.extend_from_slice(&1u32.to_ne_bytes()); // ifi_flags IFF_UP
    want.extend_from_slice(&1u32.to_ne_bytes()); // ifi_change IFF_UP
    assert_eq!(b, want);
}

#[test]
fn an_address_is_an_ifaddrmsg_and_three_attributes() {
    let b = add_address(3, Ipv4Addr::new(10, 0, 1, 1), 24).finish(1);
    let (len, ty, flags, _, _) = header(&b);
    assert_eq!(len as usize, b.len());
    assert_eq!(len, 16 + 8 + 3 * 8);
    assert_eq!(ty, RTM_NEWADDR);
    assert_eq!(flags, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK);
    // ifaddrmsg: AF_INET, /24, no flags, scope universe, index 3.
    assert_eq!(&b[16..20], &[2, 24, 0, 0]);
    assert_eq!(&b[20..24], &3u32.to_ne_bytes());
    let a = attrs(&b[16..], 8);
    assert_eq!(
        a,
        vec![
            (IFA_LOCAL, &[10u8, 0, 1, 1][..]),
            (IFA_ADDRESS, &[10u8, 0, 1, 1][..]),
            (IFA_FLAGS, &IFA_F_NOPREFIXROUTE.to_ne_bytes()[..]),
        ]
    );
}

#[test]
fn a_veth_pair_nests_its_peer_with_name_mac_and_namespace() {
    let b = new_veth("fg0123abcdefghi", "eth0", [0x0a, 1, 2, 3, 4, 5], 9).finish(1);
    let (len, ty, flags, _, _) = header(&b);
    assert_eq!(len as usize, b.len());
    assert_eq!(ty, RTM_NEWLINK);
    assert_eq!(flags, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK);
    let top = attrs(&b[16..], 16);
    assert_eq!(top[0], (IFLA_IFNAME, &b"fg0123abcdefghi\0"[..]));
    assert_eq!(top[1].0, IFLA_LINKINFO);
    let info = attrs(top[1].1, 0);
    assert_eq!(info[0], (IFLA_INFO_KIND, &b"veth\0"[..]));
    assert_eq!(info[1].0, IFLA_INFO_DATA);
    let data = attrs(info[1].1, 0);
    assert_eq!(data.len(), 1);
    assert_eq!(data[0].0, VETH_INFO_PEER);
    // The peer: its own ifinfomsg, then name, MAC and namespace descriptor.
    let peer = data[0].1;
    assert_eq!(&peer[..16], &[0u8; 16]);
    let p = attrs(peer, 16);
    assert_eq!(
        p,
        vec![
            (IFLA_IFNAME, &b"eth0\0"[..]),
            (IFLA_ADDRESS, &[0x0au8, 1, 2, 3, 4, 5][..]),
            (IFLA_NET_NS_FD, &9u32.to_ne_bytes()[..]),
        ]
    );
}

#[test]
fn link_settings_go_through_af_spec() {
    let b = configure_link(
        5,
        Some("ferrogate x"),
        &[(Ipv4Conf::Forwarding, 1), (Ipv4Conf::RpFilter, 1)],
    )
    .finish(1);
    let top = attrs(&b[16..], 16);
    assert_eq!(top[0], (IFLA_IFALIAS, &b"ferrogate x\0"[..]));
    assert_eq!(top[1].0, IFLA_AF_SPEC);
    let spec = attrs(top[1].1, 0);
    assert_eq!(spec[0].0, u16::from(AF_INET));
    let conf = attrs(spec[0].1, 0);
    assert_eq!(conf[0].0, IFLA_INET_CONF);
    assert_eq!(
        attrs(conf[0].1, 0),
        vec![(1, &1u32.to_ne_bytes()[..]), (8, &1u32.to_ne_bytes()[..])]
    );
    assert_eq!(spec[1].0, u16::from(AF_INET6));
    assert_eq!(
        attrs(spec[1].1, 0),
        vec![(IFLA_INET6_ADDR_GEN_MODE, &[1u8][..])]
    );
    // An odd-length attribute is padded so the next one starts aligned.
    assert_eq!(b.len() % 4, 0);
}

#[test]
fn routes() {
    let b = add_host_route(4, Ipv4Addr::new(10, 0, 1, 4), Ipv4Addr::new(10, 0, 1, 1)).finish(1);
    // rtmsg: AF_INET, /32, src_len, tos, main table, static, scope link, unicast, flags.
    assert_eq!(&b[16..24], &[2, 32, 0, 0, 254, 4, 253, 1]);
    assert_eq!(
        attrs(&b[16..], 12),
        vec![
            (RTA_TABLE, &254u32.to_ne_bytes()[..]),
            (RTA_DST, &[10u8, 0, 1, 4][..]),
            (RTA_PREFSRC, &[10u8, 0, 1, 1][..]),
            (RTA_OIF, &4u32.to_ne_bytes()[..]),
        ]
    );
    let d = add_default_route(2, Ipv4Addr::new(10, 0, 1, 1)).finish(1);
    assert_eq!(&d[16..24], &[2, 0, 0, 0, 254, 4, 0, 1]);
    assert_eq!(&d[24..28], &RTNH_F_ONLINK.to_ne_bytes());
}

#[test]
fn answers_split_and_parse() {
    // Two messages in one datagram: a link, then an error with an extended ack.
    let mut link = Msg::new(RTM_NEWLINK, 0, &ifinfomsg(0, 12, 0, 0));
    link.attr_str(IFLA_IFNAME, "fgabc");
    link.attr_str(IFLA_IFALIAS, "ferrogate 0123 eni-1");
    let mut buf = link.finish(5);
    let mut err = Vec::new();
    err.extend_from_slice(&(-17i32).to_ne_bytes());
    err.extend_from_slice(&[0u8; 16]); // the capped original header
    let mut e = Msg::new(NLMSG_ERROR, NLM_F_ACK_TLVS, &err);
    e.attr_str(NLMSGERR_ATTR_MSG, "File exists");
    let eb = e.finish(6);
    buf.extend_from_slice(&eb);
    let m = messages(&buf);
    assert_eq!(m.len(), 2);
    assert_eq!((m[0].kind, m[0].seq), (RTM_NEWLINK, 5));
    assert_eq!(
        parse_link(m[0].payload),
        Some((12, "fgabc".into(), Some("ferrogate 0123 eni-1".into())))
    );
    assert_eq!((m[1].kind, m[1].seq), (NLMSG_ERROR, 6));
    assert_eq!(
        ack(m[1].payload, m[1].flags),
        Some((17, Some("File exists".into())))
    );
    // A truncated tail is dropped, not read past.
    assert_eq!(messages(&buf[..buf.len() - 3]).len(), 1);
    assert!(ack(&[0, 0], 0).is_none());
}
