//! Start-up recovery: destroy everything a previous agent left behind.
//!
//! The agent runs this before it accepts commands, so no live task exists
//! yet and everything found is an orphan:
//! 1. processes in our cgroups (`ferrogate/<instance>/*`), inits included,
//!    are SIGKILLed; when a task's init dies, its mount namespace dies, and
//!    with it the volume mount, the filesystem and its fscrypt keyring;
//! 2. mounts Ferrogate made under the data directory and visible here
//!    (standalone volumes, leftovers; see [`ferrogate_mounts`]) get their
//!    fscrypt key removed (identifier read from the policy on `data/`) and
//!    are unmounted, deepest first; other mounts are left alone;
//! 3. loop devices backed by files in `volumes/`, or by the plaintext file
//!    of an XTS volume (`xts/<volume>/disk`), are detached;
//! 4. the XTS volumes' FUSE mounts (`fuse.ferrogate-xts` on `xts/<volume>`)
//!    are unmounted: their server died with the previous agent, so they only
//!    answer `ENOTCONN`, and the key died with it;
//! 5. every image file in `volumes/` is deleted;
//! 6. the cgroups are removed;
//! 7. task records are turned into the list of lost tasks and deleted.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::agent::record;
use crate::cgroup::Cgroups;
use crate::layout::DataLayout;
use crate::syscall::{LinuxSyscall, LoopDevice, Syscall};
use crate::volume::inspect::encryption_policy;
use crate::volume::xts::FUSE_FSTYPE;
use crate::volume::DATA_DIR;

/// What recovery found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RecoveryReport {
    /// Tasks the previous agent started and never finished (their records).
    pub lost_tasks: Vec<String>,
    /// (task id, volume id) of each lost task.
    pub lost_volumes: Vec<(String, String)>,
    /// Processes killed.
    pub killed_processes: usize,
    /// Mount points unmounted.
    pub unmounted: Vec<PathBuf>,
    /// fscrypt keys removed explicitly.
    pub keys_removed: usize,
    /// Loop devices detached.
    pub loops_detached: Vec<String>,
    /// FUSE connections of dead XTS servers aborted.
    pub fuse_aborted: usize,
    /// Volume images deleted.
    pub images_deleted: Vec<PathBuf>,
    /// Task cgroups removed.
    pub cgroups_removed: Vec<String>,
    /// Problems (recovery continues past each).
    pub errors: Vec<String>,
    /// Host interfaces and nftables tables of tasks' networks.
    pub network: crate::net::NetRecovery,
}

/// Runs recovery for one data directory and cgroup instance.
pub fn recover(layout: &DataLayout, cgroups: &Cgroups) -> RecoveryReport {
    let mut r = RecoveryReport::default();
    let records = record::read_all(&layout.task_records());
    r.lost_tasks = records.iter().map(|t| t.task_id.clone()).collect();
    r.lost_volumes = records
        .iter()
        .map(|t| (t.task_id.clone(), t.volume_id.clone()))
        .collect();

    // A dead agent's XTS connections may be alive: a thread of it blocked in a FUSE request
    // to its own (killed) workers, e.g. the loop device's fsync or the flush of a FUSE file
    // closed while it exits, keeps the process's descriptors, `/dev/fuse` included, open, so
    // nobody ever answers; it and every task process waiting on the loop device hang in D
    // state. Aborting the connection fails those requests. No server of ours is alive (the
    // data directory is locked), so every such connection is dead.
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let conns = xts_connections(&mountinfo, layout);
    if !conns.is_empty() {
        crate::volume::xts::server::ensure_fusectl();
    }
    for c in conns {
        match fs::write(format!("/sys/fs/fuse/connections/{c}/abort"), b"1") {
            Ok(()) => r.fuse_aborted += 1,
            // Gone meanwhile: its last descriptor closed.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => r.errors.push(format!("aborting FUSE connection {c}: {e}")),
        }
    }

    let tasks = cgroups.task_ids();
    for t in &tasks {
        r.killed_processes += cgroups.existing_task(t).kill_all();
    }

    let sys = LinuxSyscall;
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let our_loops = volume_loops(layout);
    for m in ferrogate_mounts(&mountinfo, layout, &our_loops) {
        if let Ok(Some(p)) = encryption_policy(&m.join(DATA_DIR)) {
            if sys.fscrypt_remove_key(&m, &p.master_key_identifier).is_ok() {
                r.keys_removed += 1;
            }
        }
        match sys
            .umount(&m, 0)
            .or_else(|_| sys.umount(&m, libc::MNT_DETACH))
        {
            Ok(()) => r.unmounted.push(m),
            Err(e) => r.errors.push(format!("unmounting {}: {e}", m.display())),
        }
    }

    for (number, backing) in volume_loops(layout) {
        let dev = LoopDevice { number, fd: None };
        match sys.loop_detach(&dev) {
            Ok(()) => r
                .loops_detached
                .push(format!("/dev/loop{number} ({})", backing.display())),
            Err(e) => r.errors.push(format!("detaching /dev/loop{number}: {e}")),
        }
    }

    for m in xts_mounts(&mountinfo, layout) {
        match unmount_dead_fuse(&sys, &m) {
            Ok(()) => r.unmounted.push(m),
            Err(e) => r.errors.push(format!("unmounting {}: {e}", m.display())),
        }
    }
    if let Ok(rd) = fs::read_dir(layout.xts()) {
        for e in rd.flatten() {
            // Only empty mount points live here; never recurse.
            let _ = fs::remove_dir(e.path());
        }
    }

    if let Ok(rd) = fs::read_dir(layout.volumes()) {
        for e in rd.flatten() {
            let p = e.path();
            match fs::remove_file(&p) {
                Ok(()) => r.images_deleted.push(p),
                Err(err) => r.errors.push(format!("deleting {}: {err}", p.display())),
            }
        }
    }

    for t in tasks {
        let tc = cgroups.existing_task(&t);
        // Killed processes leave their cgroup asynchronously.
        let mut res = tc.remove();
        for _ in 0..100 {
            if res.is_ok() {
                break;
            }
            tc.kill_all();
            std::thread::sleep(Duration::from_millis(10));
            res = tc.remove();
        }
        match res {
            Ok(()) => r.cgroups_removed.push(t),
            Err(e) => r.errors.push(e.to_string()),
        }
    }

    if let Ok(rd) = fs::read_dir(layout.run()) {
        for e in rd.flatten() {
            let p = e.path();
            // Only empty mount-point directories live here; never recurse
            // into something that might still be a mount.
            let _ = fs::remove_dir(p.join("vol"));
            let _ = fs::remove_dir(&p);
        }
    }
    for t in &records {
        let _ = fs::remove_file(layout.task_records().join(format!("{}.json", t.task_id)));
    }
    r
}

/// Loop devices bound to a volume image or to an XTS volume's plaintext file.
fn volume_loops(layout: &DataLayout) -> Vec<(u32, PathBuf)> {
    let mut v = loops_backed_under(&layout.volumes());
    v.extend(loops_backed_under(&layout.xts()));
    v
}

/// Unmounts an XTS volume's FUSE mount whose server is gone. A loop device
/// that was just detached lets go of the file asynchronously (autoclear), so
/// `EBUSY` is retried for a while before the mount is detached lazily.
fn unmount_dead_fuse(sys: &LinuxSyscall, m: &Path) -> std::io::Result<()> {
    for _ in 0..200 {
        match sys.umount(m, 0) {
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                std::thread::sleep(Duration::from_millis(10));
            }
            r => return r,
        }
    }
    sys.umount(m, libc::MNT_DETACH)
}

/// FUSE mounts of XTS volume servers (`fuse.ferrogate-xts` on
/// `<data>/xts/<volume>`) in `mountinfo`.
pub fn xts_mounts(mountinfo: &str, layout: &DataLayout) -> Vec<PathBuf> {
    let dir = layout.xts();
    let mut v: Vec<PathBuf> = mountinfo
        .lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let point = PathBuf::from(unescape_mountinfo(left.split(' ').nth(4)?));
            let fstype = right.split(' ').next()?;
            (fstype == FUSE_FSTYPE && point.parent() == Some(dir.as_path())).then_some(point)
        })
        .collect();
    v.dedup();
    v
}

/// The FUSE connections (fusectl names: the mount's device number, `major << 20 | minor`)
/// of the XTS mounts [`xts_mounts`] finds.
pub fn xts_connections(mountinfo: &str, layout: &DataLayout) -> Vec<u64> {
    let dir = layout.xts();
    mountinfo
        .lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let mut f = left.split(' ');
            let dev = f.nth(2)?;
            let point = PathBuf::from(unescape_mountinfo(f.nth(1)?));
            let fstype = right.split(' ').next()?;
            if fstype != FUSE_FSTYPE || point.parent() != Some(dir.as_path()) {
                return None;
            }
            let (major, minor) = dev.split_once(':')?;
            Some((major.parse::<u64>().ok()? << 20) | minor.parse::<u64>().ok()?)
        })
        .collect()
}

/// What is left of one volume on the host: (a loop device bound to its image
/// or plaintext file, its XTS server's mount).
pub fn volume_leftovers(layout: &DataLayout, volume: &str) -> (bool, bool) {
    let image = layout.volumes().join(format!("{volume}.img"));
    let mount = layout.xts().join(volume);
    let file = mount.join("disk");
    let loop_attached = volume_loops(layout)
        .iter()
        .any(|(_, p)| *p == image || *p == file);
    let mi = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mounted = xts_mounts(&mi, layout).contains(&mount);
    (loop_attached, mounted)
}

/// Mount points under `root` in this mount namespace, deepest first.
pub fn mounts_under(root: &Path) -> Vec<PathBuf> {
    let mi = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut v: Vec<PathBuf> = mi
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(unescape_mountinfo)
        .map(PathBuf::from)
        .filter(|p| p.starts_with(root) && p != root)
        .collect();
    v.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    v.dedup();
    v
}

/// Mounts under the data directory that Ferrogate made, deepest first: a
/// task volume mount point (`run/<task>/vol`), a standalone volume
/// (`run/standalone-<volume>`), or anything whose source is a loop device
/// backed by a `volumes/*.img` file (`loops`, from [`loops_backed_under`]).
/// Anything else an operator mounted under the data directory is not ours
/// to unmount, let alone lazily detach.
pub fn ferrogate_mounts(
    mountinfo: &str,
    layout: &DataLayout,
    loops: &[(u32, PathBuf)],
) -> Vec<PathBuf> {
    let volumes = layout.volumes();
    let xts = layout.xts();
    let our_devices: Vec<String> = loops
        .iter()
        .filter(|(_, b)| {
            (b.parent() == Some(volumes.as_path()) && b.extension().is_some_and(|e| e == "img"))
                || (b.parent().and_then(Path::parent) == Some(xts.as_path())
                    && b.file_name().is_some_and(|n| n == "disk"))
        })
        .map(|(n, _)| format!("/dev/loop{n}"))
        .collect();
    let run = layout.run();
    let is_our_path = |p: &Path| {
        let Ok(rel) = p.strip_prefix(&run) else {
            return false;
        };
        let c: Vec<&std::ffi::OsStr> = rel.iter().collect();
        match c.as_slice() {
            [_task, vol] => *vol == "vol",
            [one] => one.to_string_lossy().starts_with("standalone-"),
            _ => false,
        }
    };
    let mut v: Vec<PathBuf> = mountinfo
        .lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let point = PathBuf::from(unescape_mountinfo(left.split(' ').nth(4)?));
            let source = unescape_mountinfo(right.split(' ').nth(1)?);
            let ours = is_our_path(&point) || our_devices.contains(&source);
            (ours && point.starts_with(layout.root()) && point != layout.root()).then_some(point)
        })
        .collect();
    v.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    v.dedup();
    v
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
pub fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..=i + 3].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (u32::from(b[i + 1] - b'0') << 6)
                | (u32::from(b[i + 2] - b'0') << 3)
                | u32::from(b[i + 3] - b'0');
            out.push(u8::try_from(v).unwrap_or(b'?'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Loop devices whose backing file lies under `dir` (sysfs).
pub fn loops_backed_under(dir: &Path) -> Vec<(u32, PathBuf)> {
    let mut out = Vec::new();
    let Ok(rd) = fs::read_dir("/sys/block") else {
        return out;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(n) = name
            .strip_prefix("loop")
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if let Ok(b) = fs::read_to_string(e.path().join("loop/backing_file")) {
            let p = PathBuf::from(b.trim().trim_end_matches(" (deleted)"));
            if p.starts_with(dir) {
                out.push((n, p));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ferrogate_mounts_are_recovered() {
        let layout = DataLayout::new("/var/lib/fg");
        let mi = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
30 22 0:40 / /var/lib/fg/logs rw shared:7 - tmpfs logs rw
31 22 0:41 / /var/lib/fg/images/layers/x rw - overlay overlay rw
32 22 7:3 / /var/lib/fg/run/t-1/vol rw,nosuid - ext4 /dev/loop3 rw
33 22 7:4 / /var/lib/fg/run/standalone-vol-2 rw - ext4 /dev/loop4 rw
34 22 7:5 / /var/lib/fg/elsewhere rw - ext4 /dev/loop5 rw
35 22 7:6 / /var/lib/fg/other rw - ext4 /dev/loop6 rw
36 22 0:42 / /var/lib/fg/run/t-1/vol/deeper rw - tmpfs x rw
37 22 0:43 / /var/lib/fg/run/t\\0401/vol rw - tmpfs x rw
38 22 0:44 / /var/lib/fg/run rw - tmpfs x rw
39 22 0:45 / /var/lib/fg/run/x/y/vol rw - tmpfs x rw
40 22 7:7 / /mnt/elsewhere rw - ext4 /dev/loop7 rw
41 22 7:8 / /var/lib/fg/notimg rw - ext4 /dev/loop8 rw
42 22 7:9 / /var/lib/fg/run/standalone-x rw - ext4 /dev/loop9 rw
43 22 7:10 / /var/lib/fg/viaxts rw - ext4 /dev/loop10 rw
44 22 0:46 / /var/lib/fg/xts/vol-3 rw,nosuid - fuse.ferrogate-xts xts:vol-3 rw
";
        let loops = vec![
            (3, PathBuf::from("/var/lib/fg/volumes/vol-1.img")),
            (4, PathBuf::from("/var/lib/fg/volumes/vol-2.img")),
            (5, PathBuf::from("/var/lib/fg/volumes/vol-5.img")),
            (7, PathBuf::from("/var/lib/fg/volumes/vol-7.img")),
            (8, PathBuf::from("/var/lib/fg/volumes/sub/vol-8.img")),
            (10, PathBuf::from("/var/lib/fg/xts/vol-3/disk")),
        ];
        let got = ferrogate_mounts(mi, &layout, &loops);
        let want: Vec<PathBuf> = [
            "/var/lib/fg/run/t 1/vol",
            "/var/lib/fg/run/t-1/vol",
            "/var/lib/fg/run/standalone-vol-2",
            "/var/lib/fg/run/standalone-x",
            "/var/lib/fg/elsewhere",
            "/var/lib/fg/viaxts",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        let mut g = got.clone();
        g.sort();
        let mut w = want.clone();
        w.sort();
        assert_eq!(g, w, "{got:?}");
        // Deepest first.
        let depth: Vec<usize> = got.iter().map(|p| p.components().count()).collect();
        assert!(depth.windows(2).all(|w| w[0] >= w[1]), "{got:?}");
    }

    #[test]
    fn xts_fuse_mounts_are_found_by_type_and_place() {
        let layout = DataLayout::new("/var/lib/fg");
        let mi = "\
44 22 0:46 / /var/lib/fg/xts/vol-3 rw,nosuid - fuse.ferrogate-xts xts:vol-3 rw
45 22 0:47 / /var/lib/fg/xts/vol-4 rw - fuse.sshfs x rw
46 22 0:48 / /var/lib/fg/elsewhere/vol-5 rw - fuse.ferrogate-xts xts:vol-5 rw
47 22 0:49 / /var/lib/fg/xts/a/b rw - fuse.ferrogate-xts xts:b rw
";
        assert_eq!(
            xts_mounts(mi, &layout),
            [PathBuf::from("/var/lib/fg/xts/vol-3")]
        );
        assert_eq!(xts_connections(mi, &layout), [46]);
        let other_major =
            "50 22 3:7 / /var/lib/fg/xts/vol-9 rw - fuse.ferrogate-xts xts:vol-9 rw\n";
        assert_eq!(xts_connections(other_major, &layout), [(3 << 20) | 7]);
    }

    #[test]
    fn mountinfo_unescaping() {
        assert_eq!(unescape_mountinfo("/a\\040b"), "/a b");
        assert_eq!(unescape_mountinfo("/a\\134b"), "/a\\b");
        assert_eq!(unescape_mountinfo("/plain"), "/plain");
        assert_eq!(unescape_mountinfo("/x\\04"), "/x\\04");
    }
}
