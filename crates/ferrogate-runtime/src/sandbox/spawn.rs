//! Starting a task's sandbox init from the (multi-threaded) agent.

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use super::init::INIT_ARG;
use crate::sys::process::{spawn_in_namespaces, SpawnRequest};

/// Namespaces of a task: mount, PID, network, IPC, UTS.
pub const TASK_NAMESPACES: i32 = libc::CLONE_NEWNS
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUTS;

/// A started init.
#[derive(Debug)]
pub struct SpawnedInit {
    /// Host pid.
    pub pid: i32,
    /// pidfd.
    pub pidfd: OwnedFd,
    /// Agent end of the control socket.
    pub control: UnixStream,
}

/// Starts `init_exe __ferrogate-sandbox-init N` as PID 1 of new namespaces,
/// already inside the cgroups whose `cgroup.procs` files are given, with its
/// stdout/stderr appended to `log`, its stdin an empty pipe, the control socket as fd 3
/// and the `inherited` descriptors (N of them) as fds 4, 5, ...
pub fn spawn_init(
    init_exe: &Path,
    log: &Path,
    cgroup_procs: &[PathBuf],
    inherited: &[BorrowedFd<'_>],
) -> io::Result<SpawnedInit> {
    let program = CString::new(init_exe.as_os_str().as_encoded_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in init path"))?;
    // argv[0] is a fixed name: containers see PID 1's command line, and the
    // host path of the executable is none of their business.
    let argv = [
        CString::new("ferrogate-init").map_err(io::Error::other)?,
        CString::new(INIT_ARG).map_err(io::Error::other)?,
        CString::new(inherited.len().to_string()).map_err(io::Error::other)?,
    ];
    let envp = [CString::new("PATH=/usr/sbin:/usr/bin:/sbin:/bin").map_err(io::Error::other)?];
    // An empty pipe: reads see end of file, and no host file is handed over.
    let (stdin, stdin_writer) = crate::sys::process::pipe()?;
    drop(stdin_writer);
    let logf = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o640)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(log)?;
    let (agent_end, init_end) = UnixStream::pair()?;
    let cg_files: Vec<File> = cgroup_procs
        .iter()
        .map(|p| {
            OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_CLOEXEC)
                .open(p)
        })
        .collect::<io::Result<_>>()?;
    let cg_fds: Vec<BorrowedFd<'_>> = cg_files.iter().map(AsFd::as_fd).collect();
    let req = SpawnRequest {
        program: &program,
        argv: &argv,
        envp: &envp,
        stdin: stdin.as_fd(),
        stdout: logf.as_fd(),
        stderr: logf.as_fd(),
        fd3: init_end.as_fd(),
        extra: inherited,
        cgroup_procs: &cg_fds,
        namespaces: TASK_NAMESPACES,
    };
    let s = spawn_in_namespaces(&req)?;
    Ok(SpawnedInit {
        pid: s.pid,
        pidfd: s.pidfd,
        control: agent_end,
    })
}
