//! `/etc/hosts` and `/etc/resolv.conf` of a task's containers, and the host's resolvers.

use std::net::Ipv4Addr;
use std::path::Path;

use super::error::NetworkError;
use super::{TaskNetwork, MAX_DNS_SEARCH, MAX_DNS_SERVERS};

/// The host's resolver list.
pub const HOST_RESOLV_CONF: &str = "/etc/resolv.conf";
/// Where systemd-resolved lists the servers behind its loopback stub (Docker reads the
/// same file when the host's own list holds only a loopback stub).
pub const RESOLVED_UPSTREAM: &str = "/run/systemd/resolve/resolv.conf";

/// The private DNS name EC2 gives `address` in `region`: `ip-10-0-1-4.ec2.internal` in
/// us-east-1, `ip-10-0-1-4.<region>.compute.internal` elsewhere (the name `DescribeTasks`
/// shows as `privateDnsName`, and the task's hostname).
pub fn private_dns_name(address: Ipv4Addr, region: &str) -> String {
    let o = address.octets();
    format!(
        "ip-{}-{}-{}-{}.{}",
        o[0],
        o[1],
        o[2],
        o[3],
        search_domain(region)
    )
}

/// The search domain of EC2's DNS in `region`: `ec2.internal` in us-east-1,
/// `<region>.compute.internal` elsewhere.
pub fn search_domain(region: &str) -> String {
    if region == "us-east-1" {
        "ec2.internal".to_owned()
    } else {
        format!("{region}.compute.internal")
    }
}

/// `/etc/hosts` of a task without networking: loopback, and the hostname on 127.0.1.1
/// as Debian does.
pub fn loopback_hosts(hostname: &str) -> String {
    format!(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t{hostname}\n"
    )
}

/// `/etc/hosts` of a networked task: loopback, and the task's address with its private
/// DNS name, that name's first label and the task's hostname if it differs (as an EC2
/// instance resolves its own name).
pub fn task_hosts(net: &TaskNetwork, hostname: &str) -> String {
    let mut names = vec![net.hostname.as_str()];
    if let Some((short, _)) = net.hostname.split_once('.') {
        names.push(short);
    }
    if !names.contains(&hostname) {
        names.push(hostname);
    }
    format!(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n{}\t{}\n",
        net.address,
        names.join(" ")
    )
}

/// `/etc/resolv.conf` for `servers` and `search`. With no server (the host lists only
/// loopback resolvers, which a task cannot reach) the file says so instead of pointing
/// at a resolver that does not answer; lookups then fail at once.
pub fn resolv_conf(servers: &[Ipv4Addr], search: &[String]) -> String {
    let mut s = String::from("# Written by Ferrogate for this task.\n");
    if servers.is_empty() {
        s.push_str(
            "# No resolver: the host lists only loopback resolvers, which tasks cannot reach.\n",
        );
    }
    for a in servers {
        s.push_str(&format!("nameserver {a}\n"));
    }
    if !search.is_empty() {
        s.push_str(&format!("search {}\n", search.join(" ")));
    }
    s
}

/// The IPv4 `nameserver` lines of a resolv.conf, without loopback ones (a loopback
/// resolver of the host is not reachable from a task's namespace), at most three.
pub fn parse_resolvers(text: &str) -> Vec<Ipv4Addr> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut w = line.split_whitespace();
        if w.next() != Some("nameserver") {
            continue;
        }
        let Some(Ok(a)) = w.next().map(str::parse::<Ipv4Addr>) else {
            continue;
        };
        if !a.is_loopback() && !a.is_unspecified() && !out.contains(&a) {
            out.push(a);
        }
    }
    out.truncate(MAX_DNS_SERVERS);
    out
}

/// The resolvers a task gets when the control plane names none: the host's
/// `/etc/resolv.conf` without loopback addresses; if that leaves none (a host running a
/// local stub such as systemd-resolved's 127.0.0.53), the servers behind the stub from
/// [`RESOLVED_UPSTREAM`]; otherwise none. Read at each task start, so a change on the
/// host applies to the tasks started after it.
pub fn host_resolvers() -> Vec<Ipv4Addr> {
    for f in [HOST_RESOLV_CONF, RESOLVED_UPSTREAM] {
        let servers = std::fs::read_to_string(Path::new(f))
            .map(|t| parse_resolvers(&t))
            .unwrap_or_default();
        if !servers.is_empty() {
            return servers;
        }
    }
    Vec::new()
}

/// At most three IPv4 servers, none loopback or unspecified; at most six search
/// domains, each a DNS name of at most 253 bytes, 256 bytes in all (glibc's limits).
pub fn validate_dns(servers: &[Ipv4Addr], search: &[String]) -> Result<(), NetworkError> {
    if servers.len() > MAX_DNS_SERVERS {
        return Err(NetworkError::TooManyDnsServers {
            count: servers.len(),
            max: MAX_DNS_SERVERS,
        });
    }
    if let Some(a) = servers
        .iter()
        .find(|a| a.is_loopback() || a.is_unspecified() || a.is_broadcast())
    {
        return Err(NetworkError::InvalidDnsSearch {
            domain: a.to_string(),
            reason: "a loopback, unspecified or broadcast address cannot be a task's resolver",
        });
    }
    let bad = |d: &str, reason| {
        Err(NetworkError::InvalidDnsSearch {
            domain: d.to_owned(),
            reason,
        })
    };
    if search.len() > MAX_DNS_SEARCH {
        return bad(&search.join(" "), "more than six search domains");
    }
    if search.iter().map(|d| d.len() + 1).sum::<usize>() > 256 {
        return bad(
            &search.join(" "),
            "the search list is longer than 256 bytes",
        );
    }
    for d in search {
        if !is_dns_name(d) {
            return bad(d, "not a DNS name (labels of letters, digits and '-')");
        }
    }
    Ok(())
}

/// Dot-separated labels of 1 to 63 letters, digits and '-' (not at either end), at most
/// 253 bytes in all.
fn is_dns_name(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_resolvers_are_dropped() {
        let text = "# comment\nnameserver 127.0.0.53\nnameserver 10.255.255.53\noptions edns0\nnameserver ::1\nnameserver 192.0.2.1 \n nameserver 192.0.2.2\nnameserver 192.0.2.3\nnameserver 10.255.255.53\nnameserver 192.0.2.4\n";
        let got = parse_resolvers(text);
        let want: Vec<Ipv4Addr> = ["10.255.255.53", "192.0.2.1", "192.0.2.2"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(got, want);
        assert!(parse_resolvers("nameserver 127.0.0.53\n").is_empty());
    }

    #[test]
    fn ec2_names() {
        let a: Ipv4Addr = "10.0.1.4".parse().unwrap();
        assert_eq!(private_dns_name(a, "us-east-1"), "ip-10-0-1-4.ec2.internal");
        assert_eq!(
            private_dns_name(a, "eu-west-1"),
            "ip-10-0-1-4.eu-west-1.compute.internal"
        );
        assert_eq!(search_domain("eu-west-1"), "eu-west-1.compute.internal");
    }

    #[test]
    fn resolv_conf_text() {
        let s = resolv_conf(&["10.0.0.2".parse().unwrap()], &["ec2.internal".into()]);
        assert_eq!(
            s,
            "# Written by Ferrogate for this task.\nnameserver 10.0.0.2\nsearch ec2.internal\n"
        );
        let none = resolv_conf(&[], &[]);
        assert!(!none.contains("nameserver"), "{none}");
        assert!(none.contains("No resolver"));
    }

    #[test]
    fn dns_limits() {
        let a = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert!(validate_dns(&[a("10.0.0.2")], &["ec2.internal".into()]).is_ok());
        assert!(matches!(
            validate_dns(&[a("1.1.1.1"); 4], &[]),
            Err(NetworkError::TooManyDnsServers { count: 4, max: 3 })
        ));
        assert!(validate_dns(&[a("127.0.0.1")], &[]).is_err());
        assert!(validate_dns(&[], &["bad domain".into()]).is_err());
        assert!(validate_dns(&[], &["x\nnameserver 6.6.6.6".into()]).is_err());
        assert!(validate_dns(&[], &vec!["a.b".to_string(); 7]).is_err());
    }
}
