//! Building a container's root filesystem inside its own mount namespace, and
//! dropping privileges before exec. Everything goes through [`Syscall`], so
//! the order is unit-tested with the recording fake.

use std::io;
use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};

use crate::caps;
use crate::seccomp;
use crate::syscall::{Confined, Syscall};

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
    /// relative to it, keeping the mount option short): already id-mapped through the
    /// task's user namespace.
    pub layers_root: PathBuf,
    /// The task volume's data directory (holding `upper`, `work` and the task volumes):
    /// replaced, in the container's mount namespace, by an id-mapped copy of itself.
    pub data_dir: PathBuf,
    /// The host id of the container's root (uid and gid): what files are created as.
    pub host_root_id: u32,
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
    /// Hostname for /etc/hostname.
    pub hostname: String,
    /// `/etc/hosts`.
    pub hosts: String,
    /// `/etc/resolv.conf`, if the task has a network (otherwise the image's stays).
    pub resolv_conf: Option<String>,
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
/// Kernel directories hidden behind an empty read-only tmpfs (Docker's
/// masked directories): hardware and firmware details no task needs.
/// Also the block devices: the host's loop devices name their backing files
/// (`loop/backing_file`: the host data directory and every task's volume id), and their
/// uevents and statistics describe other tasks' storage.
const MASKED_DIRS: &[&str] = &[
    "proc/acpi",
    "proc/scsi",
    "proc/asound",
    "sys/firmware",
    "sys/devices/virtual/powercap",
    "sys/block",
    "sys/class/block",
    "sys/dev/block",
    "sys/devices/virtual/block",
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

/// Top-level directories of the container that hold kernel file systems; a
/// task volume may not be mounted into them.
const KERNEL_DIRS: &[&str] = &["proc", "sys", "dev"];

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// Where `target` (resolved inside the root) really is, relative to the
/// root. Errors if it is not strictly below the root.
fn rel_to_root(sys: &dyn Syscall, plan: &RootfsPlan, target: &Confined) -> io::Result<PathBuf> {
    let real = sys.real_path(target)?;
    match real.strip_prefix(&plan.rootfs) {
        Ok(rel) if rel.components().next().is_some() => Ok(rel.to_owned()),
        _ => Err(invalid(format!(
            "{} resolved to {}, outside the container root",
            target.path.display(),
            real.display()
        ))),
    }
}

/// Bind-mounts a task volume at `container_path`. The target is resolved
/// inside the root (a symlink planted on a shared volume by a running
/// container cannot redirect it to the host), must not land in /proc, /sys
/// or /dev, and is re-resolved and compared before the remount, so a
/// symlink swapped in between cannot move the flags onto another mount.
fn bind_volume(
    sys: &dyn Syscall,
    plan: &RootfsPlan,
    root: &Confined,
    b: &BindMount,
) -> io::Result<()> {
    let rel = b.container_path.trim_start_matches('/');
    if rel.is_empty() || rel.split('/').any(|c| c == "..") {
        return Err(invalid(format!(
            "invalid containerPath {:?}",
            b.container_path
        )));
    }
    let target = sys.mkdir_all_in(root, rel, 0o755)?;
    let real = rel_to_root(sys, plan, &target)?;
    if real
        .components()
        .next()
        .is_some_and(|c| KERNEL_DIRS.iter().any(|k| c.as_os_str() == *k))
    {
        return Err(invalid(format!(
            "containerPath {:?} resolves to /{}, inside a kernel file system",
            b.container_path,
            real.display()
        )));
    }
    sys.mount(
        Some(&b.source),
        &target.proc_path(),
        None,
        MS_BIND | MS_REC,
        None,
    )?;
    let mounted = sys.resolve_in(root, rel)?;
    if rel_to_root(sys, plan, &mounted)? != real {
        return Err(invalid(format!(
            "containerPath {:?} changed while it was being mounted",
            b.container_path
        )));
    }
    let ro = if b.read_only { MS_RDONLY } else { 0 };
    sys.mount(
        None,
        &mounted.proc_path(),
        None,
        MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV | ro,
        None,
    )
}

/// A hostname as an RFC 1123 name: dot-separated labels of 1 to 63 letters,
/// digits and hyphens, not starting or ending with a hyphen, at most 64
/// bytes in all (the kernel's limit).
pub fn check_hostname(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 64 {
        return Err(format!("hostname {name:?} must be 1 to 64 characters"));
    }
    for label in name.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok {
            return Err(format!(
                "hostname {name:?} is not an RFC 1123 name (labels of letters, digits and '-', not starting or ending with '-')"
            ));
        }
    }
    Ok(())
}

/// Builds the root filesystem and pivots into it. Call in a fresh child of
/// the sandbox init (single-threaded), before dropping privileges.
///
/// Until `pivot_root` the process root is still the init's, and the
/// image is untrusted: it may make `tmp`, `etc`, `proc`, ... absolute
/// symlinks. So no path under the container root is ever resolved by the
/// kernel against `/`: the root is opened once and everything below it is
/// resolved with `openat2(RESOLVE_IN_ROOT)`, created with `*at()` calls on
/// those descriptors and mounted on through `/proc/self/fd/N`.
///
/// Ownership: the layers come id-mapped through the task's user namespace `userns`, and
/// the volume's data directory is replaced by an id-mapped copy here, so files keep their
/// in-image owners inside the container (uid 0 on disk is the container's root) while, on
/// the host, they belong to the task's own id range. Everything from the overlay on is
/// created with the filesystem ids of the container's root as the host sees it
/// (`host_root_id`; host root has no mapping on those mounts), and overlayfs, which
/// acts on its layers with its mounter's credentials, is mounted with them.
pub fn setup_rootfs(
    sys: &dyn Syscall,
    plan: &RootfsPlan,
    userns: BorrowedFd<'_>,
) -> io::Result<()> {
    check_hostname(&plan.hostname).map_err(invalid)?;
    sys.unshare(libc::CLONE_NEWNS)?;
    sys.mount(None, Path::new("/"), None, MS_REC | MS_PRIVATE, None)?;
    let data = sys.idmapped_tree(&plan.data_dir, userns, false)?;
    sys.attach(&data, &plan.data_dir)?;
    drop(data);
    sys.set_fs_ids(plan.host_root_id, plan.host_root_id)?;
    // Relative lowerdirs resolve against the cwd at mount time.
    sys.chdir(&plan.layers_root)?;
    sys.mount(
        Some(Path::new("overlay")),
        &plan.rootfs,
        Some("overlay"),
        MS_NODEV,
        Some(&overlay_options(plan)),
    )?;
    let root = sys.open_root(&plan.rootfs)?;

    // Files first, while nothing is mounted below the root: whatever the
    // image's links say, these writes land in the overlay.
    // /tmp lives in the overlay, whose upper layer is on the encrypted volume.
    let tmp = sys.mkdir_all_in(&root, "tmp", 0o1777)?;
    sys.chmod_in(&tmp, 0o1777)?;
    let etc = sys.mkdir_all_in(&root, "etc", 0o755)?;
    // These three are the runtime's, whatever the image has there (a link included).
    sys.replace_file_in(
        &etc,
        "hostname",
        format!("{}\n", plan.hostname).as_bytes(),
        0o644,
    )?;
    sys.replace_file_in(&etc, "hosts", plan.hosts.as_bytes(), 0o644)?;
    if let Some(r) = &plan.resolv_conf {
        sys.replace_file_in(&etc, "resolv.conf", r.as_bytes(), 0o644)?;
    }

    let proc_ = sys.mkdir_all_in(&root, "proc", 0o555)?;
    sys.mount(
        Some(Path::new("proc")),
        &proc_.proc_path(),
        Some("proc"),
        MS_NOSUID | MS_NODEV | MS_NOEXEC,
        None,
    )?;

    let dev_mp = sys.mkdir_all_in(&root, "dev", 0o755)?;
    sys.mount(
        Some(Path::new("tmpfs")),
        &dev_mp.proc_path(),
        Some("tmpfs"),
        MS_NOSUID | MS_NOEXEC,
        Some("mode=755,size=65536k"),
    )?;
    // The fresh tmpfs: nothing of the image is in it.
    let dev = sys.resolve_in(&root, "dev")?;
    for (name, major, minor) in DEVICES {
        sys.mknod_in(&dev, name, libc::S_IFCHR | 0o666, *major, *minor)?;
        // mknod honours the umask; make the mode exact.
        sys.chmod_in(&sys.resolve_in(&dev, name)?, 0o666)?;
    }
    sys.mkdir_in(&dev, "pts", 0o755)?;
    sys.mount(
        Some(Path::new("devpts")),
        &sys.resolve_in(&dev, "pts")?.proc_path(),
        Some("devpts"),
        MS_NOSUID | MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620"),
    )?;
    sys.symlink_in("pts/ptmx", &dev, "ptmx")?;
    sys.mkdir_in(&dev, "shm", 0o1777)?;
    sys.mount(
        Some(Path::new("shm")),
        &sys.resolve_in(&dev, "shm")?.proc_path(),
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
        sys.symlink_in(t, &dev, l)?;
    }

    let sys_mp = sys.mkdir_all_in(&root, "sys", 0o555)?;
    sys.mount(
        Some(Path::new("sysfs")),
        &sys_mp.proc_path(),
        Some("sysfs"),
        MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
        None,
    )?;

    for b in &plan.binds {
        bind_volume(sys, plan, &root, b)?;
    }

    let null = sys.resolve_in(&dev, "null")?;
    for m in MASKED {
        if let Some(t) = found(sys.resolve_in(&root, m))? {
            sys.mount(Some(&null.proc_path()), &t.proc_path(), None, MS_BIND, None)?;
        }
    }
    for m in MASKED_DIRS {
        if let Some(t) = found(sys.resolve_in(&root, m))? {
            sys.mount(
                Some(Path::new("tmpfs")),
                &t.proc_path(),
                Some("tmpfs"),
                MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                Some("mode=555,size=4k"),
            )?;
        }
    }
    for r in READONLY {
        let Some(t) = found(sys.resolve_in(&root, r))? else {
            continue;
        };
        sys.mount(
            Some(&t.proc_path()),
            &t.proc_path(),
            None,
            MS_BIND | MS_REC,
            None,
        )?;
        sys.mount(
            None,
            &sys.resolve_in(&root, r)?.proc_path(),
            None,
            MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
            None,
        )?;
    }
    // Device nodes exist now; nothing may add more.
    sys.mount(
        None,
        &sys.resolve_in(&root, "dev")?.proc_path(),
        None,
        MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC,
        Some("mode=755,size=65536k"),
    )?;
    drop((null, dev, dev_mp, proc_, sys_mp, etc, tmp, root));

    sys.chdir(&plan.rootfs)?;
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

/// `Ok(None)` for a path that does not exist.
fn found(r: io::Result<Confined>) -> io::Result<Option<Confined>> {
    match r {
        Ok(c) => Ok(Some(c)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Drops to `creds` with Docker's default capabilities, sets
/// `no_new_privs` and installs the seccomp filter. The last step before exec.
pub fn drop_privileges(sys: &dyn Syscall, creds: &Creds, last_cap: u32) -> io::Result<()> {
    // No core dumps: the kernel writes them where the host's core_pattern
    // says (possibly a pipe to a host helper, or a file outside the
    // encrypted volume). Hard limit 0 too; raising it needs
    // CAP_SYS_RESOURCE, which containers do not get.
    sys.setrlimit(libc::RLIMIT_CORE, 0, 0)?;
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
    // empty (no file capabilities under no_new_privs), as in Docker. The
    // inheritable set stays empty: with it, a program carrying inheritable
    // file capabilities could regain them across execve.
    sys.capset(keep, keep, 0)?;
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
            data_dir: "/v/data".into(),
            host_root_id: 1 << 30,
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
            hosts: crate::net::files::loopback_hosts("task-1"),
            resolv_conf: Some("nameserver 10.0.0.2\n".into()),
            readonly_root: false,
        }
    }

    /// Any open descriptor stands for the user namespace: the fake never uses it.
    fn userns() -> std::fs::File {
        std::fs::File::open("/dev/null").unwrap()
    }

    fn setup(sys: &RecordingSyscall, plan: &RootfsPlan) -> io::Result<()> {
        use std::os::fd::AsFd;
        setup_rootfs(sys, plan, userns().as_fd())
    }

    fn index(ops: &[crate::syscall::Call], pred: impl Fn(&crate::syscall::Call) -> bool) -> usize {
        ops.iter().position(pred).expect("call present")
    }

    #[test]
    fn rootfs_setup_order_and_arguments() {
        let sys = RecordingSyscall::new();
        setup(&sys, &plan()).unwrap();
        let c = sys.calls();
        assert_eq!(c[0].op, "unshare");
        assert_eq!(c[0].args, format!("{:#x}", libc::CLONE_NEWNS));
        assert_eq!(c[1].op, "mount");
        assert!(
            c[1].args.contains("-> / ")
                && c[1].args.contains(&format!("{:#x}", MS_REC | MS_PRIVATE))
        );
        // The volume's data is replaced by an id-mapped copy, and everything from here on
        // is created as the container's root as the host sees it.
        assert_eq!(
            (c[2].op, c[2].args.as_str()),
            ("idmapped_tree", "/v/data ro=false")
        );
        assert_eq!(
            (c[3].op, c[3].args.as_str()),
            ("attach", "/v/data -> /v/data")
        );
        assert_eq!(
            (c[4].op, c[4].args.clone()),
            ("set_fs_ids", format!("{} {}", 1u32 << 30, 1u32 << 30))
        );
        assert_eq!((c[5].op, c[5].args.as_str()), ("chdir", "/d/images/layers"));
        // Top layer first in lowerdir; upper and work on the volume; nodev.
        assert!(c[6].args.contains("type=overlay"));
        assert!(c[6].args.contains("lowerdir=bbb:aaa,upperdir=/v/data/containers/app/upper,workdir=/v/data/containers/app/work"));
        assert!(c[6].args.contains(&format!("flags={MS_NODEV:#x}")));
        let overlay = 6;
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
            assert!(c.iter().any(|x| x.op == "mknod_in"
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
        assert!(c.iter().any(|x| x.op == "replace_file_in"
            && x.args.contains("etc/hosts")
            && x.args.contains("task-1")));
        assert!(c.iter().any(|x| x.op == "replace_file_in"
            && x.args.contains("etc/resolv.conf")
            && x.args.contains("nameserver 10.0.0.2")));
        assert!(c
            .iter()
            .any(|x| x.op == "chmod_in" && x.args == "/v/data/containers/app/rootfs/tmp 1777"));
        for m in MASKED_DIRS {
            let t = format!("-> /v/data/containers/app/rootfs/{m} type=tmpfs");
            let i = index(&c, |x| x.args.contains(&t));
            assert!(c[i].args.contains(&format!(
                "flags={:#x}",
                MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC
            )));
            assert!(i < pivot);
        }
        // Nothing below the root is touched through a host path.
        for x in &c[overlay + 1..pivot] {
            assert!(
                !matches!(
                    x.op,
                    "mkdir" | "mkdir_all" | "write_file" | "chmod" | "mknod" | "symlink"
                ),
                "{x:?}"
            );
        }
        // The files are written before anything is mounted below the root.
        let hosts = index(&c, |x| x.op == "replace_file_in");
        assert!(hosts < proc_);
        // The bind target is checked, re-resolved and checked again.
        let checks = c[..bind + 3]
            .iter()
            .filter(|x| x.op == "real_path" && x.args.ends_with("rootfs/shared"))
            .count();
        assert_eq!(checks, 2, "{c:#?}");
    }

    #[test]
    fn hostnames_are_rfc1123() {
        for ok in ["ip-t-1", "a", "web.internal", "A1-b2", &"a".repeat(63)] {
            assert!(check_hostname(ok).is_ok(), "{ok}");
        }
        let long = format!("{}.{}", "a".repeat(40), "b".repeat(30));
        for bad in [
            "",
            "-a",
            "a-",
            "a..b",
            "a b",
            "x\n127.0.0.1 evil",
            "a_b",
            "../x",
            &"a".repeat(64),
            &long,
        ] {
            assert!(check_hostname(bad).is_err(), "{bad:?}");
        }
        let sys = RecordingSyscall::new();
        let mut p = plan();
        p.hostname = "evil\n1.2.3.4 bank".into();
        assert!(setup(&sys, &p).is_err());
        assert!(sys.ops().is_empty());
    }

    #[test]
    fn volumes_cannot_be_bound_into_kernel_file_systems() {
        for path in ["/proc", "/proc/sys/kernel", "/sys/x", "/dev/shm"] {
            let sys = RecordingSyscall::new();
            let mut p = plan();
            p.binds[0].container_path = path.into();
            assert!(setup(&sys, &p).is_err(), "{path}");
            assert!(!sys.ops().contains(&"pivot_root"));
            assert!(!sys
                .calls()
                .iter()
                .any(|x| x.args.starts_with("/v/data/volumes/shared")));
        }
    }

    #[test]
    fn bind_paths_cannot_escape() {
        let sys = RecordingSyscall::new();
        let mut p = plan();
        p.binds[0].container_path = "/../../etc".into();
        assert!(setup(&sys, &p).is_err());
        assert!(!sys.ops().contains(&"pivot_root"));
    }

    #[test]
    fn readonly_root_remounts_after_pivot() {
        let sys = RecordingSyscall::new();
        let mut p = plan();
        p.readonly_root = true;
        setup(&sys, &p).unwrap();
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
        let keep = caps::default_mask();
        assert_eq!(c[capset].args, format!("{keep:#x} {keep:#x} 0x0"));
        let core = c
            .iter()
            .position(|x| x.op == "setrlimit" && x.args == format!("{} 0 0", libc::RLIMIT_CORE))
            .expect("RLIMIT_CORE set to 0 0");
        assert!(core < seccomp);
        let nnp = c
            .iter()
            .position(|x| x.args == format!("{} 1", libc::PR_SET_NO_NEW_PRIVS))
            .unwrap();
        assert!(nnp < seccomp);
    }
}
