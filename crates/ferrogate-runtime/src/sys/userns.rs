//! User namespaces: creating one with a fixed id mapping, and entering it.

use std::fs::OpenOptions;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;

use super::cvt;
use super::process::{fork, pipe, wait_pid, Fork};

/// Creates a user namespace whose ids `0..count` are the host's `base..base + count` (uids
/// and gids alike) and returns a descriptor of it (`/proc/<pid>/ns/user`).
///
/// A helper child unshares `CLONE_NEWUSER` and waits; this process (root in the parent
/// namespace) writes the child's `uid_map` and `gid_map`, opens the namespace, and lets the
/// child exit. The namespace lives as long as the descriptor. Only call from a
/// single-threaded process (the sandbox init): it forks.
///
/// The child tells its pid as the mounted `/proc` numbers it (`/proc/self`): the sandbox
/// init runs in a PID namespace of its own while `/proc` is still the host's, so the pid
/// `fork` returns would name another process there.
pub fn create(base: u32, count: u32) -> io::Result<OwnedFd> {
    let (ready_rd, ready_wr) = pipe()?;
    let (go_rd, go_wr) = pipe()?;
    match fork()? {
        Fork::Child => {
            drop(ready_rd);
            drop(go_wr);
            let code = match super::mount::unshare(libc::CLONE_NEWUSER) {
                Ok(()) => {
                    let mut w = ready_wr;
                    let me = std::fs::read_link("/proc/self").unwrap_or_default();
                    let _ = w.write_all(me.as_os_str().as_encoded_bytes());
                    // Wait for the parent to be done with us (EOF).
                    let mut b = [0u8; 1];
                    let mut go = go_rd;
                    let _ = go.read(&mut b);
                    0
                }
                Err(_) => 1,
            };
            super::process::exit_now(code);
        }
        Fork::Parent(pid) => {
            drop(ready_wr);
            drop(go_rd);
            let result = map_child(ready_rd, base, count);
            drop(go_wr);
            let _ = wait_pid(pid);
            result
        }
    }
}

fn map_child(mut ready: std::fs::File, base: u32, count: u32) -> io::Result<OwnedFd> {
    let mut b = [0u8; 16];
    let n = ready.read(&mut b)?;
    let pid: u32 = std::str::from_utf8(b.get(..n).unwrap_or_default())
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other("the user namespace helper could not unshare"))?;
    base.checked_add(count)
        .filter(|_| count > 0)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "id range out of bounds"))?;
    let line = format!("0 {base} {count}\n");
    for file in ["uid_map", "gid_map"] {
        let mut f = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
            .open(format!("/proc/{pid}/{file}"))?;
        // One write: the kernel takes the whole map from a single write(2).
        f.write_all(line.as_bytes())?;
    }
    let ns = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(format!("/proc/{pid}/ns/user"))?;
    Ok(OwnedFd::from(ns))
}

/// Enters the user namespace `ns` and becomes its root (`setresgid(0)`, `setresuid(0)`, no
/// supplementary groups): from here on this process's capabilities act only on what that
/// namespace owns or maps. Single-threaded callers only (setns(2)).
pub fn enter_as_root(ns: std::os::fd::BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: `ns` is a valid open descriptor for the duration of the call.
    cvt(unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWUSER) })?;
    // SAFETY: an empty list; no pointer is read.
    cvt(unsafe { libc::setgroups(0, std::ptr::null()) })?;
    // SAFETY: no pointers.
    cvt(unsafe { libc::setresgid(0, 0, 0) })?;
    // SAFETY: no pointers.
    cvt(unsafe { libc::setresuid(0, 0, 0) })?;
    Ok(())
}

/// Sets the filesystem uid and gid (the ids new files get and permission checks use) to
/// `uid`/`gid` and raises every permitted capability again (changing the fsuid from 0
/// clears the file capabilities from the effective set). Used to build a container's root
/// filesystem as the container's root as the host sees it, through id-mapped mounts on
/// which host uid 0 has no mapping.
pub fn set_fs_ids(uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: setfsuid/setfsgid take plain integers; they cannot fail in a way errno
    // reports, so the result is checked by reading the value back.
    unsafe {
        libc::setfsgid(gid);
        libc::setfsuid(uid);
    }
    // SAFETY: as above; -1 is an invalid id, so this only reads the current value.
    let (now_uid, now_gid) = unsafe { (libc::setfsuid(u32::MAX), libc::setfsgid(u32::MAX)) };
    if u32::try_from(now_uid).ok() != Some(uid) || u32::try_from(now_gid).ok() != Some(gid) {
        return Err(io::Error::from_raw_os_error(libc::EPERM));
    }
    let (permitted, _) = super::process::capget()?;
    super::process::capset(permitted, permitted, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A namespace made here maps its root to the base of the range and nothing else.
    #[test]
    fn a_created_namespace_maps_exactly_the_range() {
        if !crate::host::test_may_run_as_root("a_created_namespace_maps_exactly_the_range") {
            return;
        }
        // The test harness is multi-threaded: fork a single-threaded child to do it.
        let (mut rd, wr) = pipe().unwrap();
        match fork().unwrap() {
            Fork::Child => {
                let out = (|| -> io::Result<String> {
                    let ns = create(1_500_000_000, 65536)?;
                    let me = std::fs::read_link("/proc/self/ns/user")?;
                    let it = std::fs::read_link(format!("/proc/self/fd/{}", ns.as_raw_fd()))?;
                    // Enter it in a grandchild and report the ids the host sees.
                    let (mut r2, w2) = pipe()?;
                    match fork()? {
                        Fork::Child => {
                            drop(r2);
                            let mut w2 = w2;
                            let msg = match enter_as_root(std::os::fd::AsFd::as_fd(&ns)) {
                                Ok(()) => std::fs::read_to_string("/proc/self/uid_map")
                                    .unwrap_or_default(),
                                Err(e) => format!("error {e}"),
                            };
                            let _ = w2.write_all(msg.as_bytes());
                            super::super::process::exit_now(0);
                        }
                        Fork::Parent(p) => {
                            drop(w2);
                            let mut s = String::new();
                            r2.read_to_string(&mut s)?;
                            let _ = wait_pid(p);
                            Ok(format!("{}|{s}", me != it))
                        }
                    }
                })()
                .unwrap_or_else(|e| format!("error {e}"));
                let mut wr = wr;
                let _ = wr.write_all(out.as_bytes());
                super::super::process::exit_now(0);
            }
            Fork::Parent(p) => {
                drop(wr);
                let mut s = String::new();
                rd.read_to_string(&mut s).unwrap();
                let _ = wait_pid(p);
                let (distinct, map) = s.split_once('|').unwrap_or((&s, ""));
                assert_eq!(distinct, "true", "{s}");
                let fields: Vec<&str> = map.split_whitespace().collect();
                assert_eq!(fields, ["0", "1500000000", "65536"], "{s}");
            }
        }
    }
}
