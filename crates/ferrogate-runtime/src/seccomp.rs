//! The container seccomp filter: a Docker-like denylist as a hand-built
//! classic BPF program.
//!
//! Denied with `EPERM`: loading code into the kernel or rebooting it (kexec,
//! modules, bpf, reboot), keyrings (add_key, keyctl, request_key: the volume
//! key lives in a filesystem keyring, and session keyrings are not
//! namespaced), mounting and the new mount API, namespace creation and entry
//! (unshare/clone with `CLONE_NEW*`, setns), handle-based opens
//! (open_by_handle_at, the "shocker" escape), ptrace and cross-process memory
//! access, swap, clock and time changes, accounting, quotas, perf, userfaultfd,
//! io_uring (outside seccomp's view), iopl and ioperm.
//! `clone3` answers `ENOSYS` so libc falls back to `clone`, whose flags a
//! classic filter can inspect (Docker does the same).
//! `ioctl` is denied for the fscrypt key requests (add, remove, remove for
//! all users, key status): container root could otherwise remove the
//! volume's key (root's claim is the agent's) or probe it.
//! Syscalls of another ABI (x32, or a foreign architecture) are killed.
//! Sockets are an allowlist of families: `AF_UNIX`, `AF_INET`, `AF_INET6`, and
//! `AF_NETLINK` for `NETLINK_ROUTE` and `NETLINK_SOCK_DIAG` only (what `ip` and `ss`
//! use); anything else answers `EAFNOSUPPORT` (`EPROTONOSUPPORT` for another netlink
//! protocol), as if the kernel lacked it, so programs fall back. That keeps out
//! `AF_VSOCK` (which ignores network namespaces and reaches the hypervisor host),
//! `NETLINK_KOBJECT_UEVENT` (every device event of the host), `NETLINK_AUDIT`,
//! `AF_PACKET`, `AF_ALG`, Bluetooth and the rest of the kernel's rarely used socket
//! code. `socketpair` is `AF_UNIX` only. `personality` takes only the values
//! Docker's default profile allows (Linux, `PER_LINUX32`, `UNAME26`, and the query).

use crate::sys::seccomp::SockFilter;

// BPF opcodes (linux/bpf_common.h, linux/filter.h).
const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JMP_JEQ_K: u16 = 0x15;
const BPF_JMP_JGE_K: u16 = 0x35;
const BPF_JMP_JSET_K: u16 = 0x45;
const BPF_RET_K: u16 = 0x06;

const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;

// struct seccomp_data offsets.
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const OFF_ARG0_LO: u32 = 16;
const OFF_ARG1_LO: u32 = 24;
const OFF_ARG2_LO: u32 = 32;

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;

/// All `CLONE_NEW*` flags (including CLONE_NEWTIME and CLONE_NEWCGROUP).
pub const CLONE_NEW_MASK: u32 = 0x7E02_0080;

/// `ioctl` requests denied (compared on the low 32 bits of the argument: the
/// kernel truncates the request to `unsigned int`, so upper bits cannot
/// smuggle one past the filter): the fscrypt key ioctls, `'f'` 23 to 26.
pub fn denied_ioctls() -> [(&'static str, u32); 4] {
    use crate::sys::fscrypt as f;
    let w = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
    [
        ("FS_IOC_ADD_ENCRYPTION_KEY", w(f::FS_IOC_ADD_ENCRYPTION_KEY)),
        (
            "FS_IOC_REMOVE_ENCRYPTION_KEY",
            w(f::FS_IOC_REMOVE_ENCRYPTION_KEY),
        ),
        (
            "FS_IOC_REMOVE_ENCRYPTION_KEY_ALL_USERS",
            w(f::FS_IOC_REMOVE_ENCRYPTION_KEY_ALL_USERS),
        ),
        (
            "FS_IOC_GET_ENCRYPTION_KEY_STATUS",
            w(f::FS_IOC_GET_ENCRYPTION_KEY_STATUS),
        ),
    ]
}

/// Syscalls denied outright.
pub fn denied_syscalls() -> Vec<(&'static str, i64)> {
    use libc::*;
    let mut v: Vec<(&'static str, i64)> = vec![
        ("acct", SYS_acct),
        ("add_key", SYS_add_key),
        ("bpf", SYS_bpf),
        ("clock_adjtime", SYS_clock_adjtime),
        ("clock_settime", SYS_clock_settime),
        ("delete_module", SYS_delete_module),
        ("finit_module", SYS_finit_module),
        ("fsconfig", SYS_fsconfig),
        ("fsmount", SYS_fsmount),
        ("fsopen", SYS_fsopen),
        ("fspick", SYS_fspick),
        ("init_module", SYS_init_module),
        ("io_uring_enter", SYS_io_uring_enter),
        ("io_uring_register", SYS_io_uring_register),
        ("io_uring_setup", SYS_io_uring_setup),
        ("kcmp", SYS_kcmp),
        ("kexec_file_load", SYS_kexec_file_load),
        ("kexec_load", SYS_kexec_load),
        ("keyctl", SYS_keyctl),
        ("mount", SYS_mount),
        ("mount_setattr", SYS_mount_setattr),
        ("move_mount", SYS_move_mount),
        ("name_to_handle_at", SYS_name_to_handle_at),
        ("open_by_handle_at", SYS_open_by_handle_at),
        ("open_tree", SYS_open_tree),
        ("perf_event_open", SYS_perf_event_open),
        ("pidfd_getfd", SYS_pidfd_getfd),
        ("pivot_root", SYS_pivot_root),
        ("process_vm_readv", SYS_process_vm_readv),
        ("process_vm_writev", SYS_process_vm_writev),
        ("ptrace", SYS_ptrace),
        ("quotactl", SYS_quotactl),
        ("quotactl_fd", SYS_quotactl_fd),
        ("reboot", SYS_reboot),
        ("request_key", SYS_request_key),
        ("setns", SYS_setns),
        ("settimeofday", SYS_settimeofday),
        ("swapoff", SYS_swapoff),
        ("swapon", SYS_swapon),
        ("syslog", SYS_syslog),
        ("umount2", SYS_umount2),
        ("userfaultfd", SYS_userfaultfd),
        ("lookup_dcookie", SYS_lookup_dcookie),
        ("nfsservctl", SYS_nfsservctl),
    ];
    #[cfg(target_arch = "x86_64")]
    v.extend_from_slice(&[
        ("ioperm", SYS_ioperm),
        ("iopl", SYS_iopl),
        ("sysfs", SYS_sysfs),
        ("_sysctl", SYS__sysctl),
        ("uselib", SYS_uselib),
        ("ustat", SYS_ustat),
    ]);
    v
}

fn stmt(code: u16, k: u32) -> SockFilter {
    SockFilter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}
fn jump(code: u16, k: u32, jt: u8, jf: u8) -> SockFilter {
    SockFilter { code, jt, jf, k }
}

fn nr(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// `personality` values allowed (Docker's default profile): `PER_LINUX`, `PER_LINUX32`,
/// `UNAME26`, `UNAME26 | PER_LINUX32`, and `0xffffffff`, which only queries.
pub const ALLOWED_PERSONALITIES: [u32; 5] = [0x0, 0x8, 0x0002_0000, 0x0002_0008, 0xffff_ffff];

/// Socket families allowed outright.
pub const ALLOWED_FAMILIES: [u32; 3] = [
    libc::AF_UNIX as u32,
    libc::AF_INET as u32,
    libc::AF_INET6 as u32,
];

/// Netlink protocols allowed: `NETLINK_ROUTE` and `NETLINK_SOCK_DIAG`.
pub const ALLOWED_NETLINK: [u32; 2] = [libc::NETLINK_ROUTE as u32, libc::NETLINK_SOCK_DIAG as u32];

fn errno(e: i32) -> u32 {
    SECCOMP_RET_ERRNO | u32::try_from(e).unwrap_or(1)
}

/// `if nr == sys { if arg(off) in values { ALLOW } else { deny } }`; the accumulator
/// holds the syscall number on entry, and every path inside ends in a return.
fn allow_values(p: &mut Vec<SockFilter>, sys: i64, off: u32, values: &[u32], deny: u32) {
    let len = values.len();
    p.push(jump(
        BPF_JMP_JEQ_K,
        nr(sys),
        0,
        u8::try_from(len + 3).unwrap_or(u8::MAX),
    ));
    p.push(stmt(BPF_LD_W_ABS, off));
    for (i, v) in values.iter().enumerate() {
        p.push(jump(
            BPF_JMP_JEQ_K,
            *v,
            u8::try_from(len - i).unwrap_or(u8::MAX),
            0,
        ));
    }
    p.push(stmt(BPF_RET_K, deny));
    p.push(stmt(BPF_RET_K, SECCOMP_RET_ALLOW));
}

/// `socket(domain, type, protocol)`: the family allowlist, and netlink protocols.
fn socket_block(p: &mut Vec<SockFilter>) {
    let fam = ALLOWED_FAMILIES.len();
    let nl = ALLOWED_NETLINK.len();
    // Layout after the first two instructions: the family checks, the netlink check,
    // the protocol load and checks, then EPROTONOSUPPORT, EAFNOSUPPORT, ALLOW.
    let body = fam + 1 + 1 + nl + 3;
    p.push(jump(
        BPF_JMP_JEQ_K,
        nr(libc::SYS_socket),
        0,
        u8::try_from(body + 1).unwrap_or(u8::MAX),
    ));
    p.push(stmt(BPF_LD_W_ABS, OFF_ARG0_LO));
    let jt = |from_end: usize| u8::try_from(from_end).unwrap_or(u8::MAX);
    for (i, f) in ALLOWED_FAMILIES.iter().enumerate() {
        // To ALLOW, the last instruction of the block.
        p.push(jump(BPF_JMP_JEQ_K, *f, jt(body - 1 - i - 1), 0));
    }
    // Netlink: go on to the protocol; anything else: EAFNOSUPPORT (second to last).
    p.push(jump(
        BPF_JMP_JEQ_K,
        libc::AF_NETLINK as u32,
        0,
        jt(body - 1 - fam - 2),
    ));
    p.push(stmt(BPF_LD_W_ABS, OFF_ARG2_LO));
    for (i, proto) in ALLOWED_NETLINK.iter().enumerate() {
        p.push(jump(BPF_JMP_JEQ_K, *proto, jt(nl - i + 1), 0));
    }
    p.push(stmt(BPF_RET_K, errno(libc::EPROTONOSUPPORT)));
    p.push(stmt(BPF_RET_K, errno(libc::EAFNOSUPPORT)));
    p.push(stmt(BPF_RET_K, SECCOMP_RET_ALLOW));
}

/// Builds the filter program.
pub fn build_filter() -> Vec<SockFilter> {
    let eperm = SECCOMP_RET_ERRNO | u32::try_from(libc::EPERM).unwrap_or(1);
    let enosys = SECCOMP_RET_ERRNO | u32::try_from(libc::ENOSYS).unwrap_or(38);
    let mut p = vec![
        stmt(BPF_LD_W_ABS, OFF_ARCH),
        jump(BPF_JMP_JEQ_K, AUDIT_ARCH, 1, 0),
        stmt(BPF_RET_K, SECCOMP_RET_KILL_PROCESS),
        stmt(BPF_LD_W_ABS, OFF_NR),
    ];
    // x32 ABI numbers have bit 30 set.
    #[cfg(target_arch = "x86_64")]
    {
        p.push(jump(BPF_JMP_JGE_K, 0x4000_0000, 0, 1));
        p.push(stmt(BPF_RET_K, SECCOMP_RET_KILL_PROCESS));
    }
    // clone/unshare: inspect flags (arg0 low word; CLONE_NEW* all fit).
    for (sys, off) in [
        (libc::SYS_clone, OFF_ARG0_LO),
        (libc::SYS_unshare, OFF_ARG0_LO),
    ] {
        // if nr == sys: load arg, test mask, then reload nr
        p.push(jump(BPF_JMP_JEQ_K, nr(sys), 0, 4));
        p.push(stmt(BPF_LD_W_ABS, off));
        p.push(jump(BPF_JMP_JSET_K, CLONE_NEW_MASK, 0, 1));
        p.push(stmt(BPF_RET_K, eperm));
        p.push(stmt(BPF_RET_K, SECCOMP_RET_ALLOW));
    }
    p.push(jump(BPF_JMP_JEQ_K, nr(libc::SYS_clone3), 0, 1));
    p.push(stmt(BPF_RET_K, enosys));
    // ioctl: deny the fscrypt key requests, allow the rest.
    let ioctls = denied_ioctls();
    let k = ioctls.len();
    p.push(jump(
        BPF_JMP_JEQ_K,
        nr(libc::SYS_ioctl),
        0,
        u8::try_from(k + 3).unwrap_or(u8::MAX),
    ));
    p.push(stmt(BPF_LD_W_ABS, OFF_ARG1_LO));
    for (i, (_, req)) in ioctls.iter().enumerate() {
        p.push(jump(
            BPF_JMP_JEQ_K,
            *req,
            u8::try_from(k - i).unwrap_or(u8::MAX),
            0,
        ));
    }
    p.push(stmt(BPF_RET_K, SECCOMP_RET_ALLOW));
    p.push(stmt(BPF_RET_K, eperm));
    socket_block(&mut p);
    allow_values(
        &mut p,
        libc::SYS_socketpair,
        OFF_ARG0_LO,
        &[libc::AF_UNIX as u32],
        errno(libc::EAFNOSUPPORT),
    );
    allow_values(
        &mut p,
        libc::SYS_personality,
        OFF_ARG0_LO,
        &ALLOWED_PERSONALITIES,
        eperm,
    );
    let denied = denied_syscalls();
    let n = denied.len();
    for (i, (_, sys)) in denied.iter().enumerate() {
        // Jump over the remaining comparisons and the ALLOW to the EPERM.
        let to_deny = u8::try_from(n - i).unwrap_or(u8::MAX);
        p.push(jump(BPF_JMP_JEQ_K, nr(*sys), to_deny, 0));
    }
    p.push(stmt(BPF_RET_K, SECCOMP_RET_ALLOW));
    p.push(stmt(BPF_RET_K, eperm));
    p
}

/// Evaluates the program for a syscall (the tests' interpreter).
#[cfg(test)]
fn eval(p: &[SockFilter], arch: u32, sysno: u32, arg0: u64) -> u32 {
    eval_args(p, arch, sysno, [arg0, 0, 0])
}

/// [`eval`] with the first three arguments.
#[cfg(test)]
fn eval_args(p: &[SockFilter], arch: u32, sysno: u32, args: [u64; 3]) -> u32 {
    let arg0 = args[0];
    let mut acc = 0u32;
    let mut pc = 0usize;
    loop {
        let ins = p[pc];
        match ins.code {
            BPF_LD_W_ABS => {
                acc = match ins.k {
                    OFF_NR => sysno,
                    OFF_ARCH => arch,
                    OFF_ARG0_LO => (arg0 & 0xffff_ffff) as u32,
                    OFF_ARG1_LO => (args[1] & 0xffff_ffff) as u32,
                    OFF_ARG2_LO => (args[2] & 0xffff_ffff) as u32,
                    _ => panic!("offset"),
                };
                pc += 1;
            }
            BPF_RET_K => return ins.k,
            BPF_JMP_JEQ_K | BPF_JMP_JGE_K | BPF_JMP_JSET_K => {
                let t = match ins.code {
                    BPF_JMP_JEQ_K => acc == ins.k,
                    BPF_JMP_JGE_K => acc >= ins.k,
                    _ => acc & ins.k != 0,
                };
                pc += 1 + usize::from(if t { ins.jt } else { ins.jf });
            }
            c => panic!("opcode {c:#x}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(sys: i64, arg0: u64) -> u32 {
        eval(&build_filter(), AUDIT_ARCH, nr(sys), arg0)
    }
    const EPERM: u32 = SECCOMP_RET_ERRNO | 1;

    #[test]
    fn every_denied_syscall_gets_eperm() {
        for (name, sys) in denied_syscalls() {
            assert_eq!(run(sys, 0), EPERM, "{name}");
        }
    }

    #[test]
    fn ordinary_syscalls_are_allowed() {
        for sys in [
            libc::SYS_read,
            libc::SYS_write,
            libc::SYS_openat,
            libc::SYS_execve,
            libc::SYS_exit_group,
            libc::SYS_mmap,
        ] {
            assert_eq!(run(sys, 0), SECCOMP_RET_ALLOW, "{sys}");
        }
    }

    #[test]
    fn namespace_flags_on_clone_and_unshare_are_denied() {
        let fork_flags =
            (libc::SIGCHLD | libc::CLONE_CHILD_SETTID | libc::CLONE_CHILD_CLEARTID) as u64;
        assert_eq!(run(libc::SYS_clone, fork_flags), SECCOMP_RET_ALLOW);
        let thread = (libc::CLONE_VM
            | libc::CLONE_THREAD
            | libc::CLONE_SIGHAND
            | libc::CLONE_FS
            | libc::CLONE_FILES) as u64;
        assert_eq!(run(libc::SYS_clone, thread), SECCOMP_RET_ALLOW);
        for f in [
            libc::CLONE_NEWNS,
            libc::CLONE_NEWUSER,
            libc::CLONE_NEWPID,
            libc::CLONE_NEWNET,
            libc::CLONE_NEWCGROUP,
            libc::CLONE_NEWTIME,
            libc::CLONE_NEWIPC,
            libc::CLONE_NEWUTS,
        ] {
            assert_eq!(
                run(libc::SYS_clone, u64::from(f.unsigned_abs()) | fork_flags),
                EPERM,
                "clone {f:#x}"
            );
            assert_eq!(
                run(libc::SYS_unshare, u64::from(f.unsigned_abs())),
                EPERM,
                "unshare {f:#x}"
            );
        }
        assert_eq!(
            run(libc::SYS_unshare, libc::CLONE_FILES as u64),
            SECCOMP_RET_ALLOW
        );
        assert_eq!(
            run(libc::SYS_clone3, 0),
            SECCOMP_RET_ERRNO | libc::ENOSYS as u32
        );
    }

    #[test]
    fn fscrypt_key_ioctls_are_denied_other_ioctls_allowed() {
        let p = build_filter();
        let ioctl = |req: u64| eval_args(&p, AUDIT_ARCH, nr(libc::SYS_ioctl), [3, req, 0]);
        let want = [
            0xc050_6617u32, // _IOWR('f', 23, 80)
            0xc040_6618,    // _IOWR('f', 24, 64)
            0xc040_6619,    // _IOWR('f', 25, 64)
            0xc080_661a,    // _IOWR('f', 26, 128)
        ];
        let got: Vec<u32> = denied_ioctls().iter().map(|(_, r)| *r).collect();
        assert_eq!(got, want);
        for req in want {
            assert_eq!(ioctl(u64::from(req)), EPERM, "{req:#x}");
            // The kernel truncates the request to 32 bits: so does the check.
            assert_eq!(ioctl(u64::from(req) | 0xdead_0000_0000), EPERM, "{req:#x}");
        }
        for req in [
            libc::TCGETS,
            libc::FIONREAD,
            crate::sys::fscrypt::FS_IOC_GET_ENCRYPTION_POLICY_EX,
            0xc050_6616,
        ] {
            assert_eq!(ioctl(req), SECCOMP_RET_ALLOW, "{req:#x}");
        }
        // Other syscalls do not look at the second argument.
        assert_eq!(
            eval_args(
                &p,
                AUDIT_ARCH,
                nr(libc::SYS_read),
                [3, u64::from(want[0]), 0]
            ),
            SECCOMP_RET_ALLOW
        );
    }

    #[test]
    fn sockets_are_an_allowlist_of_families_and_netlink_protocols() {
        let p = build_filter();
        let socket = |fam: i32, proto: i32| {
            eval_args(
                &p,
                AUDIT_ARCH,
                nr(libc::SYS_socket),
                [
                    u64::from(fam.unsigned_abs()),
                    1,
                    u64::from(proto.unsigned_abs()),
                ],
            )
        };
        let eafnosupport = SECCOMP_RET_ERRNO | libc::EAFNOSUPPORT as u32;
        let eprotonosupport = SECCOMP_RET_ERRNO | libc::EPROTONOSUPPORT as u32;
        for fam in [libc::AF_UNIX, libc::AF_INET, libc::AF_INET6] {
            assert_eq!(socket(fam, 0), SECCOMP_RET_ALLOW, "{fam}");
            // The protocol of other families is not looked at.
            assert_eq!(socket(fam, 99), SECCOMP_RET_ALLOW, "{fam}");
        }
        for fam in [
            libc::AF_VSOCK,
            libc::AF_PACKET,
            libc::AF_ALG,
            libc::AF_BLUETOOTH,
            libc::AF_KEY,
            libc::AF_XDP,
            libc::AF_TIPC,
            0,
            255,
        ] {
            assert_eq!(socket(fam, 0), eafnosupport, "{fam}");
        }
        // The kernel reads the family as an int: upper bits cannot smuggle AF_VSOCK in.
        assert_eq!(
            eval_args(
                &p,
                AUDIT_ARCH,
                nr(libc::SYS_socket),
                [(1u64 << 32) | libc::AF_VSOCK as u64, 1, 0]
            ),
            eafnosupport
        );
        assert_eq!(
            socket(libc::AF_NETLINK, libc::NETLINK_ROUTE),
            SECCOMP_RET_ALLOW
        );
        assert_eq!(
            socket(libc::AF_NETLINK, libc::NETLINK_SOCK_DIAG),
            SECCOMP_RET_ALLOW
        );
        for proto in [
            libc::NETLINK_KOBJECT_UEVENT,
            libc::NETLINK_AUDIT,
            libc::NETLINK_NETFILTER,
            libc::NETLINK_XFRM,
            libc::NETLINK_GENERIC,
            libc::NETLINK_CONNECTOR,
        ] {
            assert_eq!(socket(libc::AF_NETLINK, proto), eprotonosupport, "{proto}");
        }
        let pair = |fam: i32| {
            eval(
                &p,
                AUDIT_ARCH,
                nr(libc::SYS_socketpair),
                u64::from(fam.unsigned_abs()),
            )
        };
        assert_eq!(pair(libc::AF_UNIX), SECCOMP_RET_ALLOW);
        assert_eq!(pair(libc::AF_INET), eafnosupport);
        assert_eq!(pair(libc::AF_VSOCK), eafnosupport);
    }

    #[test]
    fn personality_takes_only_dockers_values() {
        for v in ALLOWED_PERSONALITIES {
            assert_eq!(
                run(libc::SYS_personality, u64::from(v)),
                SECCOMP_RET_ALLOW,
                "{v:#x}"
            );
        }
        for v in [
            0x0040_0000u64, // ADDR_NO_RANDOMIZE
            0x0100_0000,    // READ_IMPLIES_EXEC
            0x0800_0000,    // ADDR_LIMIT_3GB
            0x0001,
        ] {
            assert_eq!(run(libc::SYS_personality, v), EPERM, "{v:#x}");
        }
    }

    #[test]
    fn foreign_arch_and_x32_are_killed() {
        let p = build_filter();
        assert_eq!(eval(&p, 0x4000_0003, 1, 0), SECCOMP_RET_KILL_PROCESS);
        #[cfg(target_arch = "x86_64")]
        assert_eq!(
            eval(&p, AUDIT_ARCH, 0x4000_0001, 0),
            SECCOMP_RET_KILL_PROCESS
        );
    }

    #[test]
    fn program_fits_classic_bpf_limits() {
        assert!(build_filter().len() < 4096);
    }
}
