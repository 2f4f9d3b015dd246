//! Resolving a container `user` ("uid", "uid:gid", "name", "name:group")
//! against the image's /etc/passwd and /etc/group, as Docker does.

/// Resolved credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Creds {
    /// uid.
    pub uid: u32,
    /// Primary gid.
    pub gid: u32,
    /// Supplementary gids.
    pub groups: Vec<u32>,
    /// Home directory (for `HOME` when unset).
    pub home: String,
}

struct PwEnt<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

fn passwd_entries(passwd: &str) -> impl Iterator<Item = PwEnt<'_>> {
    passwd.lines().filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 7 || l.starts_with('#') {
            return None;
        }
        Some(PwEnt {
            name: f[0],
            uid: f[2].parse().ok()?,
            gid: f[3].parse().ok()?,
            home: f[5],
        })
    })
}

fn group_entries(group: &str) -> impl Iterator<Item = (&str, u32, Vec<&str>)> {
    group.lines().filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 4 || l.starts_with('#') {
            return None;
        }
        let members = f[3].split(',').filter(|m| !m.is_empty()).collect();
        Some((f[0], f[2].parse().ok()?, members))
    })
}

/// Why a container `user` does not resolve (Docker's messages).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    /// A user name absent from the image's /etc/passwd.
    #[error("unable to find user {0}: no matching entries in passwd file")]
    NoSuchUser(String),
    /// A group name absent from the image's /etc/group.
    #[error("unable to find group {0}: no matching entries in group file")]
    NoSuchGroup(String),
    /// An id the task's user namespace does not map.
    #[error("{kind} id {id} is outside the ids a task can use (0 to {max})", max = crate::idrange::RANGE_SIZE - 1)]
    OutOfRange {
        /// "user" or "group".
        kind: &'static str,
        /// The id.
        id: u32,
    },
}

/// Resolves `spec` (None or empty: root). Every id must fall in the task's user
/// namespace (0 to 65535).
pub fn resolve_user(spec: Option<&str>, passwd: &str, group: &str) -> Result<Creds, UserError> {
    let c = resolve_any(spec, passwd, group)?;
    let max = crate::idrange::RANGE_SIZE;
    if c.uid >= max {
        return Err(UserError::OutOfRange {
            kind: "user",
            id: c.uid,
        });
    }
    if let Some(g) = c.groups.iter().chain([&c.gid]).find(|g| **g >= max) {
        return Err(UserError::OutOfRange {
            kind: "group",
            id: *g,
        });
    }
    Ok(c)
}

fn resolve_any(spec: Option<&str>, passwd: &str, group: &str) -> Result<Creds, UserError> {
    let spec = spec.unwrap_or("").trim();
    let (u, g) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let u = if u.is_empty() { "0" } else { u };
    let ent = match u.parse::<u32>() {
        Ok(uid) => passwd_entries(passwd).find(|e| e.uid == uid),
        Err(_) => Some(
            passwd_entries(passwd)
                .find(|e| e.name == u)
                .ok_or_else(|| UserError::NoSuchUser(u.to_owned()))?,
        ),
    };
    let uid = match (&ent, u.parse::<u32>()) {
        (Some(e), _) => e.uid,
        (None, Ok(n)) => n,
        (None, Err(_)) => return Err(UserError::NoSuchUser(u.to_owned())),
    };
    let mut gid = ent.as_ref().map_or(0, |e| e.gid);
    if let Some(g) = g.filter(|g| !g.is_empty()) {
        gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => group_entries(group)
                .find(|(n, _, _)| *n == g)
                .map(|(_, id, _)| id)
                .ok_or_else(|| UserError::NoSuchGroup(g.to_owned()))?,
        };
    }
    let mut groups: Vec<u32> = match &ent {
        Some(e) => group_entries(group)
            .filter(|(_, _, members)| members.contains(&e.name))
            .map(|(_, id, _)| id)
            .collect(),
        None => Vec::new(),
    };
    groups.retain(|x| *x != gid);
    groups.insert(0, gid);
    groups.dedup();
    let home = ent
        .as_ref()
        .map(|e| e.home.to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| if uid == 0 { "/root".into() } else { "/".into() });
    Ok(Creds {
        uid,
        gid,
        groups,
        home,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\napp:x:1000:1000::/home/app:/bin/sh\n";
    const GROUP: &str =
        "root:x:0:\nwheel:x:10:root,app\nnogroup:x:65534:\napp:x:1000:\nstaff:x:50:app\n";

    #[test]
    fn forms() {
        let r = resolve_user(None, PASSWD, GROUP).unwrap();
        assert_eq!((r.uid, r.gid, r.home.as_str()), (0, 0, "/root"));
        assert_eq!(r.groups, [0, 10]);
        let a = resolve_user(Some("app"), PASSWD, GROUP).unwrap();
        assert_eq!((a.uid, a.gid, a.home.as_str()), (1000, 1000, "/home/app"));
        assert_eq!(a.groups, [1000, 10, 50]);
        assert_eq!(resolve_user(Some("1000"), PASSWD, GROUP).unwrap().gid, 1000);
        let n = resolve_user(Some("4242"), PASSWD, GROUP).unwrap();
        assert_eq!((n.uid, n.gid, n.home.as_str()), (4242, 0, "/"));
        let ug = resolve_user(Some("1000:50"), PASSWD, GROUP).unwrap();
        assert_eq!((ug.uid, ug.gid), (1000, 50));
        let ng = resolve_user(Some("nobody:nogroup"), PASSWD, GROUP).unwrap();
        assert_eq!((ng.uid, ng.gid), (65534, 65534));
        assert_eq!(
            resolve_user(Some("ghost"), PASSWD, GROUP)
                .unwrap_err()
                .to_string(),
            "unable to find user ghost: no matching entries in passwd file"
        );
        assert!(resolve_user(Some("app:ghosts"), PASSWD, GROUP).is_err());
        // No passwd file at all (scratch images): numeric users still work.
        assert_eq!(resolve_user(Some("5:6"), "", "").unwrap().groups, [6]);
        // Ids the task's user namespace cannot map are refused up front.
        assert_eq!(
            resolve_user(Some("65536"), PASSWD, GROUP).unwrap_err(),
            UserError::OutOfRange {
                kind: "user",
                id: 65536
            }
        );
        assert_eq!(
            resolve_user(Some("1:70000"), PASSWD, GROUP)
                .unwrap_err()
                .to_string(),
            "group id 70000 is outside the ids a task can use (0 to 65535)"
        );
        assert!(resolve_user(Some("65535:65535"), PASSWD, GROUP).is_ok());
    }
}
