//! Processes: spawning into new namespaces, pidfds, waiting, signals,
//! credentials and capabilities.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};

use super::{cvt, cvt_long};

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum WaitStatus {
    /// Exited with this code.
    Exited(i32),
    /// Killed by this signal.
    Signaled(i32),
}

impl WaitStatus {
    fn from_raw(status: libc::c_int) -> Self {
        if libc::WIFEXITED(status) {
            WaitStatus::Exited(libc::WEXITSTATUS(status))
        } else {
            WaitStatus::Signaled(libc::WTERMSIG(status))
        }
    }
}

/// What to spawn with [`spawn_in_namespaces`]. Every descriptor is borrowed
/// and must stay open until the call returns.
pub struct SpawnRequest<'a> {
    /// Absolute path of the executable.
    pub program: &'a CStr,
    /// argv, including argv\[0\].
    pub argv: &'a [CString],
    /// The complete environment.
    pub envp: &'a [CString],
    /// Becomes fd 0.
    pub stdin: BorrowedFd<'a>,
    /// Becomes fd 1.
    pub stdout: BorrowedFd<'a>,
    /// Becomes fd 2.
    pub stderr: BorrowedFd<'a>,
    /// Becomes fd 3 (the control socket).
    pub fd3: BorrowedFd<'a>,
    /// Become fds 4, 5, ... in order.
    pub extra: &'a [BorrowedFd<'a>],
    /// `cgroup.procs` files opened for writing; the child writes "0" to each
    /// before exec, so it starts inside its cgroups.
    pub cgroup_procs: &'a [BorrowedFd<'a>],
    /// `CLONE_NEW*` flags.
    pub namespaces: i32,
}

/// A spawned child: its pid (in our namespace) and a pidfd for it.
#[derive(Debug)]
pub struct Spawned {
    /// Host pid.
    pub pid: i32,
    /// pidfd (`CLONE_PIDFD`).
    pub pidfd: OwnedFd,
}

#[repr(C)]
struct ChildCtx {
    program: *const libc::c_char,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
    moves: *const (RawFd, RawFd),
    n_moves: usize,
    cgroup_fds: *const RawFd,
    n_cgroup: usize,
    errno: AtomicI32,
    step: AtomicI32,
}

const STEP_CGROUP: i32 = 1;
const STEP_DUP: i32 = 2;
const STEP_EXEC: i32 = 3;

/// Runs in the child created by `clone(CLONE_VM | CLONE_VFORK)`. It shares
/// the parent's memory, so it must only make raw system calls: no allocation,
/// no locks, no panics (this mirrors what glibc's posix_spawn does).
extern "C" fn spawn_child(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` points to a `ChildCtx` owned by the parent, which is
    // suspended (CLONE_VFORK) until we exec or exit.
    let ctx = unsafe { &*(arg as *const ChildCtx) };
    let fail = |step: i32| -> libc::c_int {
        ctx.errno.store(
            io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO),
            Ordering::SeqCst,
        );
        ctx.step.store(step, Ordering::SeqCst);
        // SAFETY: _exit is async-signal-safe and never returns.
        unsafe { libc::_exit(127) }
    };
    // Reset every signal disposition (ignored ones survive exec; Rust's
    // runtime ignores SIGPIPE) and unblock everything: only sigaction and
    // sigprocmask, which are async-signal-safe.
    reset_signals();
    for i in 0..ctx.n_cgroup {
        // SAFETY: `cgroup_fds` has `n_cgroup` valid entries (parent-owned).
        let fd = unsafe { *ctx.cgroup_fds.add(i) };
        // SAFETY: writing 1 byte from a static buffer.
        if unsafe { libc::write(fd, b"0".as_ptr().cast(), 1) } != 1 {
            return fail(STEP_CGROUP);
        }
    }
    for i in 0..ctx.n_moves {
        // SAFETY: `moves` has `n_moves` valid entries (parent-owned).
        let (src, dst) = unsafe { *ctx.moves.add(i) };
        if src == dst {
            // SAFETY: clears FD_CLOEXEC on an fd we own.
            if unsafe { libc::fcntl(dst, libc::F_SETFD, 0) } == -1 {
                return fail(STEP_DUP);
            }
        // SAFETY: dup2 on descriptors kept open by the parent.
        } else if unsafe { libc::dup2(src, dst) } == -1 {
            return fail(STEP_DUP);
        }
    }
    // SAFETY: program/argv/envp are NUL-terminated arrays of C strings owned
    // by the parent for the duration of the call.
    unsafe { libc::execve(ctx.program, ctx.argv, ctx.envp) };
    fail(STEP_EXEC)
}

fn ptr_array(v: &[CString]) -> Vec<*const libc::c_char> {
    let mut out: Vec<*const libc::c_char> = v.iter().map(|c| c.as_ptr()).collect();
    out.push(std::ptr::null());
    out
}

/// Spawns `req.program` as the first process of new namespaces, like
/// `posix_spawn` but with `CLONE_NEW*` flags and a pidfd. Safe to call from a
/// multi-threaded process: the child only makes raw system calls before exec.
pub fn spawn_in_namespaces(req: &SpawnRequest<'_>) -> io::Result<Spawned> {
    let argv = ptr_array(req.argv);
    let envp = ptr_array(req.envp);
    let cg: Vec<RawFd> = req.cgroup_procs.iter().map(|f| f.as_raw_fd()).collect();
    // Every source is first duplicated above the highest target, so that no move can
    // overwrite a source a later move still needs. The copies close when this returns
    // (close-on-exec in the child: dup2 clears the flag on the targets only).
    let sources: Vec<BorrowedFd<'_>> = [req.stdin, req.stdout, req.stderr, req.fd3]
        .into_iter()
        .chain(req.extra.iter().copied())
        .collect();
    let above = RawFd::try_from(sources.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "too many descriptors"))?;
    let copies: Vec<OwnedFd> = sources
        .iter()
        .map(|fd| dup_above(*fd, above))
        .collect::<io::Result<_>>()?;
    let moves: Vec<(RawFd, RawFd)> = copies
        .iter()
        .zip(0..)
        .map(|(c, target)| (c.as_raw_fd(), target))
        .collect();
    let ctx = ChildCtx {
        program: req.program.as_ptr(),
        argv: argv.as_ptr(),
        envp: envp.as_ptr(),
        moves: moves.as_ptr(),
        n_moves: moves.len(),
        cgroup_fds: cg.as_ptr(),
        n_cgroup: cg.len(),
        errno: AtomicI32::new(0),
        step: AtomicI32::new(0),
    };
    const STACK: usize = 128 * 1024;
    let mut stack = vec![0u8; STACK];
    // SAFETY: offset within the allocation (one past the end is allowed).
    let top = unsafe { stack.as_mut_ptr().add(STACK) };
    let top = ((top as usize) & !15usize) as *mut libc::c_void;
    let flags =
        req.namespaces | libc::CLONE_VM | libc::CLONE_VFORK | libc::CLONE_PIDFD | libc::SIGCHLD;
    let mut pidfd: libc::c_int = -1;
    // SAFETY: block every signal in this thread so no handler runs on the
    // child's stack while it shares our memory; restored right after.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above; `all` and `old` are valid sigsets.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
    }
    // SAFETY: `spawn_child` only performs raw syscalls; `ctx`, `argv`, `envp`,
    // `cg` and `stack` outlive the call because CLONE_VFORK suspends us until
    // the child has exec'd or exited. `pidfd` receives the CLONE_PIDFD result.
    let pid = unsafe {
        libc::clone(
            spawn_child,
            top,
            flags,
            &ctx as *const ChildCtx as *mut libc::c_void,
            &mut pidfd as *mut libc::c_int,
        )
    };
    let clone_err = io::Error::last_os_error();
    // SAFETY: restores the mask saved above.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
    drop(stack);
    if pid == -1 {
        return Err(clone_err);
    }
    // SAFETY: CLONE_PIDFD stored a fresh descriptor that we now own.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    let errno = ctx.errno.load(Ordering::SeqCst);
    if errno != 0 {
        let _ = wait_pidfd(pidfd.as_fd_borrowed(), false);
        let step = match ctx.step.load(Ordering::SeqCst) {
            STEP_CGROUP => "joining cgroup",
            STEP_DUP => "setting up descriptors",
            _ => "exec",
        };
        return Err(io::Error::new(
            io::Error::from_raw_os_error(errno).kind(),
            format!(
                "spawn failed while {step}: {}",
                io::Error::from_raw_os_error(errno)
            ),
        ));
    }
    Ok(Spawned { pid, pidfd })
}

trait AsFdBorrowed {
    fn as_fd_borrowed(&self) -> BorrowedFd<'_>;
}
impl AsFdBorrowed for OwnedFd {
    fn as_fd_borrowed(&self) -> BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(self)
    }
}

/// `fcntl(F_DUPFD_CLOEXEC, min)`: a close-on-exec copy of `fd` numbered `min` or above.
pub fn dup_above(fd: BorrowedFd<'_>, min: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC on a valid descriptor returns a new one we own.
    let n = cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, min) })?;
    // SAFETY: `n` is a fresh descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(n) })
}

/// `waitid(P_PIDFD, ..., WEXITED)`. With `nohang`, `Ok(None)` means still running.
pub fn wait_pidfd(pidfd: BorrowedFd<'_>, nohang: bool) -> io::Result<Option<WaitStatus>> {
    // SAFETY: a zeroed siginfo_t is a valid output buffer.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let mut flags = libc::WEXITED;
    if nohang {
        flags |= libc::WNOHANG;
    }
    let id = libc::id_t::try_from(pidfd.as_raw_fd()).map_err(|_| io::Error::other("bad pidfd"))?;
    loop {
        // SAFETY: `info` is a valid siginfo_t buffer.
        let r = unsafe { libc::waitid(libc::P_PIDFD, id, &mut info, flags) };
        if r == -1 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        break;
    }
    // SAFETY: waitid filled `info`; si_pid is valid for SIGCHLD-style infos.
    let pid = unsafe { info.si_pid() };
    if pid == 0 {
        return Ok(None);
    }
    // SAFETY: as above.
    let status = unsafe { info.si_status() };
    Ok(Some(if info.si_code == libc::CLD_EXITED {
        WaitStatus::Exited(status)
    } else {
        WaitStatus::Signaled(status)
    }))
}

/// `pidfd_send_signal(2)`. `ESRCH` (already exited) is success.
pub fn pidfd_signal(pidfd: BorrowedFd<'_>, sig: i32) -> io::Result<()> {
    // SAFETY: no pointers except a null siginfo.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    match cvt_long(r) {
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
        other => other.map(drop),
    }
}

/// `kill(2)`. `ESRCH` is success.
pub fn kill(pid: i32, sig: i32) -> io::Result<()> {
    // SAFETY: kill has no memory preconditions.
    match cvt(unsafe { libc::kill(pid, sig) }) {
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
        other => other.map(drop),
    }
}

/// Result of [`fork`].
pub enum Fork {
    /// In the parent, with the child's pid.
    Parent(i32),
    /// In the child.
    Child,
}

/// `fork(2)`. Only call from a single-threaded process (the sandbox init).
pub fn fork() -> io::Result<Fork> {
    // SAFETY: the caller guarantees the process is single-threaded, so the
    // child may run arbitrary code (no lock can be held by a vanished thread).
    let pid = cvt(unsafe { libc::fork() })?;
    Ok(if pid == 0 {
        Fork::Child
    } else {
        Fork::Parent(pid)
    })
}

/// `fchdir(2)`.
pub fn fchdir(fd: std::os::fd::BorrowedFd<'_>) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: `fd` is a valid open descriptor for the duration of the call.
    cvt(unsafe { libc::fchdir(fd.as_raw_fd()) }).map(drop)
}

/// `setns(2)`: joins the namespace `fd` refers to (`nstype` one `CLONE_NEW*`).
pub fn setns(fd: std::os::fd::BorrowedFd<'_>, nstype: i32) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: `fd` is a valid open descriptor for the duration of the call.
    cvt(unsafe { libc::setns(fd.as_raw_fd(), nstype) }).map(drop)
}

/// `waitpid(-1, WNOHANG)`: one exited child, if any.
pub fn reap_any() -> io::Result<Option<(i32, WaitStatus)>> {
    let mut status: libc::c_int = 0;
    // SAFETY: `status` is a valid out pointer.
    let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
    if pid == -1 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ECHILD) {
            return Ok(None);
        }
        return Err(e);
    }
    if pid == 0 {
        return Ok(None);
    }
    Ok(Some((pid, WaitStatus::from_raw(status))))
}

/// Blocks `SIGCHLD` and returns a non-blocking signalfd for it.
pub fn sigchld_fd() -> io::Result<OwnedFd> {
    // SAFETY: sigset manipulation on a local; signalfd returns a new fd.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGCHLD);
        cvt(libc::sigprocmask(
            libc::SIG_BLOCK,
            &set,
            std::ptr::null_mut(),
        ))?;
        let fd = cvt(libc::signalfd(
            -1,
            &set,
            libc::SFD_CLOEXEC | libc::SFD_NONBLOCK,
        ))?;
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

/// Drains a signalfd (non-blocking).
pub fn drain_signalfd(fd: BorrowedFd<'_>) {
    let mut buf = [0u8; 128];
    loop {
        // SAFETY: `buf` is writable for its length.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break;
        }
    }
}

/// Unblocks every signal and resets dispositions to default (container
/// processes must not inherit the init's blocked SIGCHLD). Raw system calls
/// only, no allocation: [`spawn_child`] calls it between clone and exec.
pub fn reset_signals() {
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: a zeroed sigaction with SIG_DFL is valid; errors for the
        // signals glibc reserves are ignored on purpose.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
    // SAFETY: local sigset.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
}

/// `poll(2)` on (fd, events) pairs; returns revents per entry.
pub fn poll(fds: &[(BorrowedFd<'_>, i16)], timeout_ms: i32) -> io::Result<Vec<i16>> {
    let mut p: Vec<libc::pollfd> = fds
        .iter()
        .map(|(fd, ev)| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: *ev,
            revents: 0,
        })
        .collect();
    // SAFETY: `p` is a valid array of `p.len()` pollfds.
    let r = unsafe { libc::poll(p.as_mut_ptr(), p.len() as libc::nfds_t, timeout_ms) };
    if r == -1 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(vec![0; p.len()]);
        }
        return Err(e);
    }
    Ok(p.iter().map(|x| x.revents).collect())
}

/// `execve(2)`. Returns only on failure.
pub fn execve(program: &CStr, argv: &[CString], envp: &[CString]) -> io::Error {
    let a = ptr_array(argv);
    let e = ptr_array(envp);
    // SAFETY: NUL-terminated arrays of valid C strings that outlive the call.
    unsafe { libc::execve(program.as_ptr(), a.as_ptr(), e.as_ptr()) };
    io::Error::last_os_error()
}

/// `_exit(2)`.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and has no preconditions.
    unsafe { libc::_exit(code) }
}

/// `setsid(2)`.
pub fn setsid() -> io::Result<()> {
    // SAFETY: no preconditions.
    cvt(unsafe { libc::setsid() }).map(drop)
}

/// `dup2(2)`.
pub fn dup2(src: BorrowedFd<'_>, dst: RawFd) -> io::Result<()> {
    // SAFETY: dup2 on a valid fd; `dst` is a small fixed number (0..=2).
    cvt(unsafe { libc::dup2(src.as_raw_fd(), dst) }).map(drop)
}

/// `setgroups`, `setresgid`, `setresuid`, in that order.
pub fn set_ids(uid: u32, gid: u32, groups: &[u32]) -> io::Result<()> {
    // SAFETY: `groups` is a valid slice of gid_t.
    cvt(unsafe { libc::setgroups(groups.len(), groups.as_ptr()) })?;
    // SAFETY: no pointers.
    cvt(unsafe { libc::setresgid(gid, gid, gid) })?;
    // SAFETY: no pointers.
    cvt(unsafe { libc::setresuid(uid, uid, uid) })?;
    Ok(())
}

/// `prctl(2)` with integer arguments.
pub fn prctl(option: i32, arg2: u64) -> io::Result<i32> {
    // SAFETY: the options we use take integer arguments only.
    cvt(unsafe {
        libc::prctl(
            option,
            arg2 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    })
}

/// `capset(2)` for all three sets (64-bit masks, version 3).
pub fn capset(effective: u64, permitted: u64, inheritable: u64) -> io::Result<()> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let lo = |m: u64| (m & 0xffff_ffff) as u32;
    let hi = |m: u64| (m >> 32) as u32;
    let hdr = Header {
        version: 0x2008_0522,
        pid: 0,
    };
    let data = [
        Data {
            effective: lo(effective),
            permitted: lo(permitted),
            inheritable: lo(inheritable),
        },
        Data {
            effective: hi(effective),
            permitted: hi(permitted),
            inheritable: hi(inheritable),
        },
    ];
    // SAFETY: header and 2-element data array as required by version 3.
    cvt_long(unsafe { libc::syscall(libc::SYS_capset, &hdr as *const Header, data.as_ptr()) })
        .map(drop)
}

/// `capget(2)` for this process: (permitted, effective) as 64-bit masks.
pub fn capget() -> io::Result<(u64, u64)> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let mut hdr = Header {
        version: 0x2008_0522,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: header and a writable 2-element data array as required by version 3.
    cvt_long(unsafe {
        libc::syscall(libc::SYS_capget, &mut hdr as *mut Header, data.as_mut_ptr())
    })?;
    let join = |lo: u32, hi: u32| u64::from(lo) | (u64::from(hi) << 32);
    Ok((
        join(data[0].permitted, data[1].permitted),
        join(data[0].effective, data[1].effective),
    ))
}

/// `setrlimit(2)`.
pub fn setrlimit(resource: u32, soft: u64, hard: u64) -> io::Result<()> {
    let lim = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: `lim` is a valid `struct rlimit` the kernel only reads.
    cvt(unsafe { libc::setrlimit(resource as _, &lim) }).map(drop)
}

/// Raises the soft limit on open files to the hard limit; returns the new limit.
pub fn raise_nofile_limit() -> io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable `struct rlimit`.
    cvt(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) })?;
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: as above; the kernel only reads it.
        cvt(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) })?;
    }
    Ok(lim.rlim_cur)
}

/// Writes `value` to `/proc/self/oom_score_adj`.
pub fn set_oom_score_adj(value: i32) -> io::Result<()> {
    std::fs::write("/proc/self/oom_score_adj", value.to_string())
}

/// Blocking `waitpid(-1, 0)`. `Ok(None)` when there are no children left.
pub fn reap_blocking() -> io::Result<Option<(i32, WaitStatus)>> {
    let mut status: libc::c_int = 0;
    loop {
        // SAFETY: `status` is a valid out pointer.
        let pid = unsafe { libc::waitpid(-1, &mut status, 0) };
        if pid == -1 {
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::ECHILD) => return Ok(None),
                _ => return Err(e),
            }
        }
        return Ok(Some((pid, WaitStatus::from_raw(status))));
    }
}

/// `waitpid(pid, 0)`.
pub fn wait_pid(pid: i32) -> io::Result<WaitStatus> {
    let mut status: libc::c_int = 0;
    loop {
        // SAFETY: `status` is a valid out pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == -1 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        return Ok(WaitStatus::from_raw(status));
    }
}

/// Takes ownership of an inherited descriptor by number (the init's fd 3).
/// Fails if it is not open.
pub fn take_inherited_fd(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_GETFD only queries the descriptor table.
    cvt(unsafe { libc::fcntl(fd, libc::F_GETFD) })?;
    // SAFETY: the descriptor is open (checked above), was inherited across
    // exec for exactly this purpose, and nothing else in this process owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Registers a pidfd with the tokio reactor (readable = the process exited).
/// Must be called inside a tokio runtime.
pub fn async_pidfd(pidfd: OwnedFd) -> io::Result<tokio::io::unix::AsyncFd<OwnedFd>> {
    // SAFETY: an `OwnedFd` is open for its whole life and always reports the
    // same descriptor; the AsyncFd owns it from here on.
    unsafe {
        tokio::io::unix::AsyncFd::register_with_interest(pidfd, tokio::io::Interest::READABLE)
    }
    .map_err(|e| io::Error::other(e.to_string()))
}

/// `pipe2(O_CLOEXEC)`: (read end, write end).
pub fn pipe() -> io::Result<(std::fs::File, std::fs::File)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: pipe2 just returned these two fresh descriptors; we own them.
    Ok(unsafe {
        (
            std::fs::File::from_raw_fd(fds[0]),
            std::fs::File::from_raw_fd(fds[1]),
        )
    })
}
