//! Building a container's root filesystem inside its own mount namespace, and
//! dropping privileges before exec. Everything goes through [`Syscall`], so
//! the order is unit-tested with the recording fake.

use std::io;
use std::path::{Path, PathBuf};

use crate::caps;
use crate::seccomp;
use crate::syscall::Syscall;

use super::user::Creds;

/// A bind mount of a task volume into the container.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BindMount {
    /// Source directory (on the encrypted volume).
    pub source: PathBuf,
    /// Absolute path inside the container.
    pub container_path: String,
    /// Mount read-only.
    pub read_only: bool,
}

/// Everything needed to build one container's root filesystem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RootfsPlan {
    /// Directory holding the layer directories (overlay lowerdirs are given
    /// relative to it, keeping the mount option short).
    pub layers_root: PathBuf,
    /// Layer directory names, bottom first.
    pub layers: Vec<String>,
    /// Writable layer (on the encrypted volume).
    pub upper: PathBuf,
    /// overlayfs work dir (same filesystem as `upper`).
    pub work: PathBuf,
    /// Mount point of the merged root.
    pub rootfs: PathBuf,
    /// Task volumes to bind.
    pub binds: Vec<BindMount>,
    /// Hostname for /etc/hostname and /etc/hosts.
    pub hostname: String,
    /// `readonlyRootFilesystem`.
    pub readonly_root: bool,
}

const MS_RDONLY: u64 = libc::MS_RDONLY;
const MS_NOSUID: u64 = libc::MS_NOSUID;
const MS_NODEV: u64 = libc::MS_NODEV;
const MS_NOEXEC: u64 = libc::MS_NOEXEC;
const MS_BIND: u64 = libc::MS_BIND;
const MS_REC: u64 = libc::MS_REC;
const MS_REMOUNT: u64 = libc::MS_REMOUNT;
const MS_PRIVATE: u64 = libc::MS_PRIVATE;

/// /proc files hidden behind /dev/null (Docker's masked paths).
const MASKED: &[&str] = &[
    "proc/kcore",
    "proc/keys",
    "proc/timer_list",
    "proc/latency_stats",
    "proc/sched_debug",
];
/// /proc subtrees made read-only.
const READONLY: &[&str] = &[
    "proc/sys",
    "proc/sysrq-trigger",
    "proc/irq",
    "proc/bus",
    "proc/fs",
];

/// Character devices in the container's /dev: (name, major, minor).
pub const DEVICES: &[(&str, u32, u32)] = &[
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

fn ignore_missing(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

/// The overlay mount options.
pub fn overlay_options(plan: &RootfsPlan) -> String {
    let lower: Vec<&str> = plan.layers.iter().rev().map(String::as_str).collect();
    format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.join(":"),
        plan.upper.display(),
        plan.work.display()
    )
}

/// Builds the root filesystem and pivots into it. Call in a fresh child of
/// the sandbox init (single-threaded), before dropping privileges.
pub fn setup_rootfs(sys: &dyn Syscall, plan: &RootfsPlan) -> io::Result<()> {
    let root = &plan.rootfs;
    sys.unshare(libc::CLONE_NEWNS)?;
    sys.mount(None, Path::new("/"), None, MS_REC | MS_PRIVATE, None)?;
    // Relative lowerdirs resolve against the cwd at mount time.
    sys.chdir(&plan.layers_root)?;
    sys.mount(
        Some(Path::new("overlay")),
        root,
        Some("overlay"),
        MS_NODEV,
        Some(&overlay_options(plan)),
    )?;

    sys.mkdir_all(&root.join("proc"), 0o555)?;
    sys.mount(
        Some(Path::new("proc")),
        &root.join("proc"),
        Some("proc"),
        MS_NOSUID | MS_NODEV | MS_NOEXEC,
        None,
    )?;

    let dev = root.join("dev");
    sys.mkdir_all(&dev, 0o755)?;
    sys.mount(
        Some(Path::new("tmpfs")),
        &dev,
        Some("tmpfs"),
        MS_NOSUID | MS_NOEXEC,
        Some("mode=755,size=65536k"),
    )?;
    for (name, major, minor) in DEVICES {
        sys.mknod(&dev.join(name), libc::S_IFCHR | 0o666, *major, *minor)?;
        // mknod honours the umask; make the mode exact.
        sys.chmod(&dev.join(name), 0o666)?;
    }
    sys.mkdir(&dev.join("pts"), 0o755)?;
    sys.mount(
        Some(Path::new("devpts")),
        &dev.join("pts"),
        Some("devpts"),
        MS_NOSUID | MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620"),
    )?;
    sys.symlink(Path::new("pts/ptmx"), &dev.join("ptmx"))?;
    sys.mkdir(&dev.join("shm"), 0o1777)?;
    sys.mount(
        Some(Path::new("shm")),
        &dev.join("shm"),
        Some("tmpfs"),
        MS_NOSUID | MS_NODEV | MS_NOEXEC,
        Some("mode=1777,size=65536k"),
    )?;
    for (l, t) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        sys.symlink(Path::new(t), &dev.join(l))?;
    }

    sys.mkdir_all(&root.join("sys"), 0o555)?;
    sys.mount(
        Some(Path::new("sysfs")),
        &root.join("sys"),
        Some("sysfs"),
        MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
        None,
    )?;

    // /tmp lives in the overlay, whose upper layer is on the encrypted volume.
    sys.mkdir_all(&root.join("tmp"), 0o1777)?;
    sys.chmod(&root.join("tmp"), 0o1777)?;

    sys.mkdir_all(&root.join("etc"), 0o755)?;
    sys.write_file(
        &root.join("etc/hostname"),
        format!("{}\n", plan.hostname).as_bytes(),
        0o644,
    )?;
    sys.write_file(
        &root.join("etc/hosts"),
        format!(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t{}\n",
            plan.hostname
        )
        .as_bytes(),
        0o644,
    )?;

    for b in &plan.binds {
        let rel = b.container_path.trim_start_matches('/');
        if rel.is_empty() || rel.split('/').any(|c| c == "..") {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid containerPath {:?}", b.container_path),
            ));
        }
        let target = root.join(rel);
        sys.mkdir_all(&target, 0o755)?;
        sys.mount(Some(&b.source), &target, None, MS_BIND | MS_REC, None)?;
        let ro = if b.read_only { MS_RDONLY } else { 0 };
        sys.mount(
            None,
            &target,
            None,
            MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV | ro,
            None,
        )?;
    }

    for m in MASKED {
        ignore_missing(sys.mount(Some(&dev.join("null")), &root.join(m), None, MS_BIND, None))?;
    }
    for r in READONLY {
        let p = root.join(r);
        ignore_missing(sys.mount(Some(&p), &p, None, MS_BIND | MS_REC, None))?;
        ignore_missing(sys.mount(
            None,
            &p,
            None,
            MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
            None,
        ))?;
    }
    // Device nodes exist now; nothing may add more.
    sys.mount(
        None,
        &dev,
        None,
        MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC,
        Some("mode=755,size=65536k"),
    )?;

    sys.chdir(root)?;
    sys.pivot_root(Path::new("."), Path::new("."))?;
    sys.umount(Path::new("."), libc::MNT_DETACH)?;
    sys.chdir(Path::new("/"))?;
    if plan.readonly_root {
        sys.mount(
            None,
            Path::new("/"),
            None,
            MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NODEV,
            None,
        )?;
    }
    Ok(())
}

/// Drops to `creds` with Docker's default capabilities, sets
/// `no_new_privs` and installs the seccomp filter. The last step before exec.
pub fn drop_privileges(sys: &dyn Syscall, creds: &Creds, last_cap: u32) -> io::Result<()> {
    let keep = caps::default_mask();
    for c in caps::to_drop(keep, last_cap) {
        sys.prctl(libc::PR_CAPBSET_DROP, u64::from(c))?;
    }
    sys.prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL as u64)?;
    // Keep the permitted set across setuid so capset can set it exactly.
    sys.prctl(libc::PR_SET_KEEPCAPS, 1)?;
    sys.set_ids(creds.uid, creds.gid, &creds.groups)?;
    sys.prctl(libc::PR_SET_KEEPCAPS, 0)?;
    // For a non-root user, execve then leaves the permitted/effective sets
    // empty (no file capabilities under no_new_privs), as in Docker.
    sys.capset(keep, keep, keep)?;
    sys.prctl(libc::PR_SET_NO_NEW_PRIVS, 1)?;
    sys.seccomp(&seccomp::build_filter())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscall::RecordingSyscall;

    fn plan() -> RootfsPlan {
        RootfsPlan {
            layers_root: "/d/images/layers".into(),
            layers: vec!["aaa".into(), "bbb".into()],
            upper: "/v/data/containers/app/upper".into(),
            work: "/v/data/containers/app/work".into(),
            rootfs: "/v/data/containers/app/rootfs".into(),
            binds: vec![BindMount {
                source: "/v/data/volumes/shared".into(),
                container_path: "/shared".into(),
                read_only: true,
            }],
            hostname: "task-1".into(),
            readonly_root: false,
        }
    }

    fn index(ops: &[crate::syscall::Call], pred: impl Fn(&crate::syscall::Call) -> bool) -> usize {
        ops.iter().position(pred).expect("call present")
    }

    #[test]
    fn rootfs_setup_order_and_arguments() {
        let sys = RecordingSyscall::new();
        setup_rootfs(&sys, &plan()).unwrap();
        let c = sys.calls();
        assert_eq!(c[0].op, "unshare");
        assert_eq!(c[0].args, format!("{:#x}", libc::CLONE_NEWNS));
        assert_eq!(c[1].op, "mount");
        assert!(
            c[1].args.contains("-> / ")
                && c[1].args.contains(&format!("{:#x}", MS_REC | MS_PRIVATE))
        );
        assert_eq!((c[2].op, c[2].args.as_str()), ("chdir", "/d/images/layers"));
        // Top layer first in lowerdir; upper and work on the volume; nodev.
        assert!(c[3].args.contains("type=overlay"));
        assert!(c[3].args.contains("lowerdir=bbb:aaa,upperdir=/v/data/containers/app/upper,workdir=/v/data/containers/app/work"));
        assert!(c[3].args.contains(&format!("flags={MS_NODEV:#x}")));
        let overlay = 3;
        let proc_ = index(&c, |x| x.args.contains("type=proc"));
        let pivot = index(&c, |x| x.op == "pivot_root");
        let detach = index(&c, |x| x.op == "umount");
        let bind = index(&c, |x| {
            x.args
                .starts_with("/v/data/volumes/shared -> /v/data/containers/app/rootfs/shared")
        });
        let dev_ro = index(&c, |x| {
            x.op == "mount"
                && x.args.contains("-> /v/data/containers/app/rootfs/dev ")
                && x.args.contains(&format!(
                    "{:#x}",
                    MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC
                ))
        });
        assert!(
            overlay < proc_ && proc_ < bind && bind < dev_ro && dev_ro < pivot && pivot < detach
        );
        assert_eq!(c[pivot].args, ". .");
        assert_eq!(c[detach].args, format!(". flags={:#x}", libc::MNT_DETACH));
        assert_eq!(c.last().unwrap().args, "/");
        for (name, ma, mi) in DEVICES {
            assert!(c.iter().any(|x| x.op == "mknod"
                && x.args
                    == format!(
                        "/v/data/containers/app/rootfs/dev/{name} {:o} {ma}:{mi}",
                        libc::S_IFCHR | 0o666
                    )));
        }
        // The read-only bind is remounted read-only.
        assert!(c.iter().any(|x| x
            .args
            .starts_with("none -> /v/data/containers/app/rootfs/shared")
            && x.args.contains(&format!(
                "{:#x}",
                MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV | MS_RDONLY
            ))));
        assert!(c.iter().any(|x| x.op == "write_file"
            && x.args.contains("etc/hosts")
            && x.args.contains("task-1")));
        assert!(c
            .iter()
            .any(|x| x.op == "chmod" && x.args == "/v/data/containers/app/rootfs/tmp 1777"));
    }

    #[test]
    fn bind_paths_cannot_escape() {
        let sys = RecordingSyscall::new();
        let mut p = plan();
        p.binds[0].container_path = "/../../etc".into();
        assert!(setup_rootfs(&sys, &p).is_err());
        assert!(!sys.ops().contains(&"pivot_root"));
    }

    #[test]
    fn readonly_root_remounts_after_pivot() {
        let sys = RecordingSyscall::new();
        let mut p = plan();
        p.readonly_root = true;
        setup_rootfs(&sys, &p).unwrap();
        let c = sys.calls();
        assert_eq!(c.last().unwrap().op, "mount");
        assert!(c.last().unwrap().args.starts_with("none -> / "));
    }

    #[test]
    fn privileges_dropped_in_order() {
        let sys = RecordingSyscall::new();
        let creds = Creds {
            uid: 1000,
            gid: 1000,
            groups: vec![1000, 10],
            home: "/home/a".into(),
        };
        drop_privileges(&sys, &creds, 40).unwrap();
        let ops = sys.ops();
        let set_ids = ops.iter().position(|o| *o == "set_ids").unwrap();
        let capset = ops.iter().position(|o| *o == "capset").unwrap();
        let seccomp = ops.iter().position(|o| *o == "seccomp").unwrap();
        assert!(set_ids < capset && capset < seccomp);
        assert_eq!(seccomp, ops.len() - 1);
        let c = sys.calls();
        // 41 capabilities known, 14 kept: 27 bounding-set drops first.
        let drops = c
            .iter()
            .filter(|x| x.args.starts_with(&format!("{} ", libc::PR_CAPBSET_DROP)))
            .count();
        assert_eq!(drops, 41 - caps::DOCKER_DEFAULT_CAPS.len());
        assert!(c
            .iter()
            .any(|x| x.op == "prctl" && x.args == format!("{} 1", libc::PR_SET_NO_NEW_PRIVS)));
        assert_eq!(c[set_ids].args, "1000 1000 [1000, 10]");
        let nnp = c
            .iter()
            .position(|x| x.args == format!("{} 1", libc::PR_SET_NO_NEW_PRIVS))
            .unwrap();
        assert!(nnp < seccomp);
    }
}
