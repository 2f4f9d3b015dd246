//! The processes the sandbox init forks: each container's main process and the health
//! checks run inside a running container.
//!
//! Both end the same way ([`become_container_process`]): they enter the task's user
//! namespace as its root, resolve the user from the container's own account files, enter
//! the working directory, drop privileges and exec. Before that, as host root, a container
//! builds its root filesystem (`rootfs`) and a health check joins the running container's
//! cgroup, cgroup namespace and mount namespace. No descriptor of a host file reaches
//! either: stdin is an empty pipe, a container's stdout and stderr are its output pipe (read
//! by the agent), a check's are the container's own `/dev/null`.

use std::collections::HashMap;
use std::ffi::CString;
use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::error::{sys as sys_err, AccountFileProblem, InitError};
use super::init::{INIT_LAYERS, INIT_VOLUME};
use super::protocol::{ContainerLaunch, InitConfig};
use super::rootfs::{drop_privileges, setup_rootfs, RootfsPlan};
use super::user::resolve_user;
use crate::caps;
use crate::sys;
use crate::sys::process::Fork;
use crate::syscall::{Confined, LinuxSyscall, Syscall};
use crate::volume::DATA_DIR;

/// How containers reach the image layers once the init left the host's root: an
/// id-mapped, read-only detached copy of the layer directory.
pub(super) enum Layers {
    /// Used as it is: overlayfs accepts a detached mount as a layer since Linux 6.15, and
    /// nothing of it appears in the task's mount table.
    Detached(Confined),
    /// Linux before 6.15: attached at [`INIT_LAYERS`] in the init's minimal root.
    ToAttach(Confined),
}

/// A container's descriptors, opened by the init before it leaves the host's root.
pub(super) struct ContainerFds {
    /// The write end of its output pipe, until the container is started.
    pub(super) output: Option<fs::File>,
    /// Its `cgroup.procs` files.
    pub(super) procs: Vec<fs::File>,
}

/// What the init holds for the task's processes.
pub(super) struct Held {
    /// The layer directories.
    pub(super) layers: Layers,
    /// The task's user namespace.
    pub(super) userns: OwnedFd,
    /// The host id of container root (the first id of the task's range).
    pub(super) host_root_id: u32,
    /// The read end of a pipe with no writer: every process's stdin.
    pub(super) empty_stdin: fs::File,
    /// Per container.
    pub(super) containers: HashMap<String, ContainerFds>,
}

/// A value that cannot exist: what a function that only returns by failing returns.
pub(super) enum Never {}

/// How long a forked child may take to exec before it is killed.
const EXEC_DEADLINE_MS: u64 = 10_000;

/// Largest `/etc/passwd` or `/etc/group` read from an image.
pub const MAX_ACCOUNT_FILE: u64 = 1 << 20;

/// Forks container `c`'s main process. Returns its pid once it exec'd.
pub(super) fn start_container(
    cfg: &InitConfig,
    held: &Held,
    c: &ContainerLaunch,
) -> Result<i32, InitError> {
    let data = Path::new(INIT_VOLUME).join(DATA_DIR);
    let cdir = data.join("containers").join(&c.name);
    for d in ["upper", "work", "rootfs"] {
        let p = cdir.join(d);
        fs::create_dir_all(&p).map_err(super::error::at("creating", p))?;
    }
    for v in &cfg.volumes {
        let p = data.join("volumes").join(v);
        fs::create_dir_all(&p).map_err(super::error::at("creating", p))?;
    }
    let fds = held
        .containers
        .get(&c.name)
        .ok_or_else(|| InitError::NotRunning(c.name.clone()))?;
    let output = fds
        .output
        .as_ref()
        .ok_or_else(|| InitError::NotRunning(c.name.clone()))?;
    let (rd, wr) = sys::process::pipe().map_err(sys_err("pipe"))?;
    match sys::process::fork().map_err(sys_err("fork"))? {
        Fork::Child => {
            drop(rd);
            let keep = wr.as_raw_fd().unsigned_abs();
            let err = match container_child(cfg, held, c, &cdir, output, &fds.procs, keep) {
                Ok(never) => match never {},
                Err(e) => e,
            };
            report_and_exit(wr, &err)
        }
        Fork::Parent(pid) => {
            drop(wr);
            wait_for_exec(rd, pid).map(|()| pid)
        }
    }
}

/// In a forked child: writes why it failed to the error pipe and exits 127.
fn report_and_exit(mut wr: fs::File, err: &InitError) -> ! {
    let _ = wr.write_all(err.to_string().as_bytes());
    sys::process::exit_now(127)
}

/// Runs in the forked child; returns only with why it could not exec.
fn container_child(
    cfg: &InitConfig,
    held: &Held,
    c: &ContainerLaunch,
    cdir: &Path,
    output: &fs::File,
    procs: &[fs::File],
    keep_fd: u32,
) -> Result<Never, InitError> {
    let sys = LinuxSyscall;
    let _ = sys::process::setsid();
    sys::process::dup2(held.empty_stdin.as_fd(), 0).map_err(sys_err("stdin"))?;
    sys::process::dup2(output.as_fd(), 1).map_err(sys_err("stdout"))?;
    sys::process::dup2(output.as_fd(), 2).map_err(sys_err("stderr"))?;
    join_cgroups(c, procs)?;
    // Its own cgroup namespace, rooted at its cgroup: /proc/self/cgroup shows "/", not
    // the host's hierarchy.
    sys.unshare(libc::CLONE_NEWCGROUP)
        .map_err(sys_err("creating the cgroup namespace"))?;
    let _ = sys::process::set_oom_score_adj(0);
    sys::process::reset_signals();
    sys::close_fds_from(3, true).map_err(sys_err("close_range"))?;
    let last_cap = caps::last_cap();
    let plan = RootfsPlan {
        // Relative lowerdirs resolve against the cwd: the detached copy of
        // the layer directory (through its descriptor), or where it is attached.
        layers_root: match &held.layers {
            Layers::Detached(tree) => tree.proc_path(),
            Layers::ToAttach(_) => PathBuf::from(INIT_LAYERS),
        },
        data_dir: Path::new(INIT_VOLUME).join(DATA_DIR),
        host_root_id: held.host_root_id,
        layers: c.layers.clone(),
        upper: cdir.join("upper"),
        work: cdir.join("work"),
        rootfs: cdir.join("rootfs"),
        binds: c.binds.clone(),
        hostname: cfg.hostname.clone(),
        hosts: cfg.etc_hosts.clone(),
        resolv_conf: cfg.resolv_conf.clone(),
        readonly_root: c.readonly_root,
    };
    setup_rootfs(&sys, &plan, held.userns.as_fd())
        .map_err(sys_err("setting up the root filesystem"))?;
    become_container_process(&sys, held, c, &c.argv, true, last_cap, keep_fd)
}

fn join_cgroups(c: &ContainerLaunch, procs: &[fs::File]) -> Result<(), InitError> {
    for (mut f, p) in procs.iter().zip(&c.cgroup_procs) {
        f.write_all(b"0")
            .map_err(super::error::at("joining cgroup", p))?;
    }
    Ok(())
}

/// The last steps of a container's process and of a health check in it, once the process
/// has the container's root: it enters the task's user namespace as its root (from here
/// on its capabilities act only inside the task), then the user from the image's account
/// files, `HOME`, the working directory (created when `create`), the program on the
/// container's `PATH`, then privileges dropped, every descriptor but `keep_fd` (the error
/// pipe) closed, and exec. Returns only with why it could not.
fn become_container_process(
    sys: &LinuxSyscall,
    held: &Held,
    c: &ContainerLaunch,
    argv: &[String],
    create: bool,
    last_cap: u32,
    keep_fd: u32,
) -> Result<Never, InitError> {
    sys::userns::enter_as_root(held.userns.as_fd())
        .map_err(sys_err("entering the task's user namespace"))?;
    let passwd = read_account_file("/etc/passwd")?;
    let group = read_account_file("/etc/group")?;
    let creds = resolve_user(c.user.as_deref(), &passwd, &group)?;
    let mut env = c.env.clone();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", creds.home));
    }
    enter_working_dir(sys, &c.cwd, create)?;
    let path_var = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(super::command::DEFAULT_PATH);
    let argv0 = argv.first().ok_or(InitError::NoCommand)?;
    let prog = find_executable(argv0, path_var)?;
    let cprog = CString::new(prog.as_os_str().as_encoded_bytes())
        .map_err(|_| InitError::Nul("the program path"))?;
    let cargv: Vec<CString> = argv
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<_, _>>()
        .map_err(|_| InitError::Nul("an argument"))?;
    let envp: Vec<CString> = env
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<_, _>>()
        .map_err(|_| InitError::Nul("the environment"))?;
    drop_privileges(sys, &creds, last_cap).map_err(sys_err("dropping privileges"))?;
    sys::close_fds_except(keep_fd).map_err(sys_err("close_range"))?;
    let source = sys::process::execve(&cprog, &cargv, &envp);
    Err(InitError::Exec {
        program: argv0.clone(),
        source,
    })
}

/// Enters the working directory `cwd`, resolved inside the root the process now has (the
/// container's) with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` and entered with
/// `fchdir`: the image and the container choose the path and may have made any component a
/// symlink, and the process still holds every capability here, so a plain `chdir` could be
/// led through `/proc/<pid>/root` or `/proc/self/fd/N` out of the container (the runc
/// "Leaky Vessels" escape). `create` makes missing directories (container start, as Docker
/// does for a missing working directory); otherwise a missing one means `/`.
fn enter_working_dir(sys: &LinuxSyscall, cwd: &str, create: bool) -> Result<(), InitError> {
    let root = sys
        .open_root(Path::new("/"))
        .map_err(sys_err("opening the container root"))?;
    let rel = cwd.trim_start_matches('/');
    let dir = if create {
        sys.mkdir_all_in(&root, rel, 0o755)
    } else {
        match sys.resolve_in(&root, rel) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => sys.resolve_in(&root, ""),
            other => other,
        }
    }
    .map_err(super::error::at("working directory", cwd))?;
    let fd = dir
        .fd
        .as_ref()
        .ok_or_else(|| sys_err("working directory")(std::io::Error::other("no descriptor")))?;
    sys::process::fchdir(fd.as_fd()).map_err(super::error::at("chdir", cwd))
}

/// Waits until the forked child `pid` has exec'd (its close-on-exec error pipe `rd` reads
/// EOF) or reported why it could not. The child runs as the container's user before exec,
/// so the container could stop it (SIGSTOP): after [`EXEC_DEADLINE_MS`] it is killed and
/// reported as not started, and the init goes on supervising the task.
fn wait_for_exec(mut rd: fs::File, pid: i32) -> Result<(), InitError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(EXEC_DEADLINE_MS);
    let mut msg = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let ms = i32::try_from(left.as_millis()).unwrap_or(i32::MAX);
        let ready = ms > 0
            && sys::process::poll(&[(rd.as_fd(), libc::POLLIN)], ms)
                .map(|r| r[0] != 0)
                .unwrap_or(false);
        if !ready {
            let _ = sys::process::kill(pid, libc::SIGKILL);
            let _ = sys::process::wait_pid(pid);
            return Err(InitError::StartTimeout {
                ms: EXEC_DEADLINE_MS,
            });
        }
        match rd.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => msg.extend_from_slice(&chunk[..n.min(chunk.len())]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    if msg.is_empty() {
        Ok(())
    } else {
        let _ = sys::process::wait_pid(pid);
        Err(InitError::Child(String::from_utf8_lossy(&msg).into_owned()))
    }
}

/// Starts `argv` inside the running container `c` whose main process is `target` (a pid
/// in the task's PID namespace): a forked child joins the container's cgroup, cgroup
/// namespace and mount namespace (and so its root filesystem, binds and read-only root),
/// and then becomes what the container's own process became: the same user namespace,
/// user, environment, working directory, capabilities, `no_new_privs` and seccomp filter.
/// stdin is an empty pipe; stdout and stderr are the container's own `/dev/null`. Returns
/// the child's pid, or why it could not exec (with whether the container is gone).
pub(super) fn start_exec(
    held: &Held,
    c: &ContainerLaunch,
    target: i32,
    argv: &[String],
) -> Result<i32, (bool, InitError)> {
    let procs = &held
        .containers
        .get(&c.name)
        .ok_or_else(|| (false, InitError::NotRunning(c.name.clone())))?
        .procs;
    // Opened by the init, through its own /proc, before forking: the container cannot
    // substitute anything here.
    let ns = |kind: &'static str| {
        OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(format!("/proc/{target}/ns/{kind}"))
            .map_err(|e| (true, sys_err("opening the container's namespace")(e)))
    };
    let (mnt, cgroup) = (ns("mnt")?, ns("cgroup")?);
    let (rd, wr) = sys::process::pipe().map_err(|e| (false, sys_err("pipe")(e)))?;
    match sys::process::fork().map_err(|e| (false, sys_err("fork")(e)))? {
        Fork::Child => {
            drop(rd);
            let keep = wr.as_raw_fd().unsigned_abs();
            let err = match exec_child(held, c, procs, &mnt, &cgroup, argv, keep) {
                Ok(never) => match never {},
                Err(e) => e,
            };
            report_and_exit(wr, &err)
        }
        Fork::Parent(pid) => {
            drop(wr);
            drop((mnt, cgroup));
            wait_for_exec(rd, pid).map(|()| pid).map_err(|e| (false, e))
        }
    }
}

fn exec_child(
    held: &Held,
    c: &ContainerLaunch,
    procs: &[fs::File],
    mnt: &fs::File,
    cgroup: &fs::File,
    argv: &[String],
    keep_fd: u32,
) -> Result<Never, InitError> {
    let sys = LinuxSyscall;
    let _ = sys::process::setsid();
    sys::process::dup2(held.empty_stdin.as_fd(), 0).map_err(sys_err("stdin"))?;
    join_cgroups(c, procs)?;
    let _ = sys::process::set_oom_score_adj(0);
    sys::process::reset_signals();
    sys::process::setns(cgroup.as_fd(), libc::CLONE_NEWCGROUP)
        .map_err(sys_err("entering the container's cgroup namespace"))?;
    sys::process::setns(mnt.as_fd(), libc::CLONE_NEWNS)
        .map_err(sys_err("entering the container"))?;
    let null = container_dev_null(&sys)?;
    for fd in [1, 2] {
        sys::process::dup2(null.as_fd(), fd).map_err(sys_err("stdout"))?;
    }
    drop(null);
    sys::close_fds_from(3, true).map_err(sys_err("close_range"))?;
    let last_cap = caps::last_cap();
    become_container_process(&sys, held, c, argv, false, last_cap, keep_fd)
}

/// The container's own `/dev/null` (in its read-only `/dev` tmpfs), opened read-write
/// inside its root without following links, and checked to be the null device.
fn container_dev_null(sys: &LinuxSyscall) -> Result<fs::File, InitError> {
    let root = sys
        .open_root(Path::new("/"))
        .map_err(sys_err("opening the container root"))?;
    let fd = root
        .fd
        .as_ref()
        .ok_or_else(|| sys_err("/dev/null")(std::io::Error::other("no descriptor")))?;
    let null = sys::at::openat2(
        fd.as_fd(),
        "dev/null",
        libc::O_RDWR | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        0,
        sys::at::RESOLVE_CONFINED,
    )
    .map_err(sys_err("opening the container's /dev/null"))?;
    let rdev = sys::fstat_rdev(null.as_fd()).map_err(sys_err("/dev/null"))?;
    if rdev != Some((1, 3)) {
        return Err(sys_err("the container's /dev/null")(std::io::Error::other(
            "not the null device",
        )));
    }
    Ok(fs::File::from(null))
}

/// Reads the image's `/etc/passwd` or `/etc/group` (after the pivot, as
/// root, before dropping privileges). The image is untrusted: the file must
/// be a regular file (not a symlink, FIFO or device, which could block or
/// never end) of at most [`MAX_ACCOUNT_FILE`] bytes. Missing reads as empty.
pub fn read_account_file(path: &'static str) -> Result<String, InitError> {
    let problem = |problem| InitError::AccountFile { path, problem };
    // Resolved inside the current root (the container's), never through a symlink or a
    // magic link out of it: the caller still holds every capability.
    let root = sys::at::open(
        Path::new("/"),
        libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
    )
    .map_err(sys_err("opening /"))?;
    let fd = match sys::at::openat2(
        root.as_fd(),
        path.trim_start_matches('/'),
        libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK,
        0,
        sys::at::RESOLVE_CONFINED,
    ) {
        Ok(fd) => fd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(String::new()),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(problem(AccountFileProblem::Symlink))
        }
        Err(e) => return Err(super::error::at("opening", path)(e)),
    };
    let (mode, size) = sys::at::fstat(fd.as_fd()).map_err(super::error::at("stat", path))?;
    if mode & libc::S_IFMT != libc::S_IFREG {
        return Err(problem(AccountFileProblem::NotRegular));
    }
    let too_large = |size| {
        problem(AccountFileProblem::TooLarge {
            size,
            max: MAX_ACCOUNT_FILE,
        })
    };
    if size > MAX_ACCOUNT_FILE {
        return Err(too_large(size));
    }
    let mut buf = Vec::new();
    fs::File::from(fd)
        .take(MAX_ACCOUNT_FILE + 1)
        .read_to_end(&mut buf)
        .map_err(super::error::at("reading", path))?;
    if buf.len() as u64 > MAX_ACCOUNT_FILE {
        return Err(too_large(buf.len() as u64));
    }
    String::from_utf8(buf).map_err(|_| problem(AccountFileProblem::NotUtf8))
}

/// `execvp`'s search, done before exec so errors are precise.
pub fn find_executable(name: &str, path_var: &str) -> Result<PathBuf, InitError> {
    if name.is_empty() {
        return Err(InitError::NoCommand);
    }
    if name.contains('/') {
        return Ok(PathBuf::from(name));
    }
    for dir in path_var.split(':').filter(|d| !d.is_empty()) {
        let p = Path::new(dir).join(name);
        if let Ok(m) = fs::metadata(&p) {
            if m.is_file() && m.permissions().mode() & 0o111 != 0 {
                return Ok(p);
            }
        }
    }
    Err(InitError::NotFound(name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_files_must_be_small_regular_files() {
        // Paths are resolved inside "/" (the test's root): use absolute temp paths leaked
        // to 'static for the test.
        let d = tempfile::tempdir().unwrap();
        let p = |n: &str| -> &'static str {
            Box::leak(
                d.path()
                    .join(n)
                    .to_string_lossy()
                    .into_owned()
                    .into_boxed_str(),
            )
        };
        assert_eq!(read_account_file(p("missing")).unwrap(), "");
        fs::write(d.path().join("passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
        assert!(read_account_file(p("passwd")).unwrap().starts_with("root:"));
        std::os::unix::fs::symlink("/dev/zero", d.path().join("link")).unwrap();
        assert!(matches!(
            read_account_file(p("link")),
            Err(InitError::AccountFile {
                problem: AccountFileProblem::Symlink,
                ..
            })
        ));
        sys::mknod(&d.path().join("fifo"), libc::S_IFIFO | 0o644, 0, 0).unwrap();
        assert!(matches!(
            read_account_file(p("fifo")),
            Err(InitError::AccountFile {
                problem: AccountFileProblem::NotRegular,
                ..
            })
        ));
        let big = fs::File::create(d.path().join("big")).unwrap();
        big.set_len(MAX_ACCOUNT_FILE + 1).unwrap();
        assert!(read_account_file(p("big"))
            .unwrap_err()
            .to_string()
            .contains("bytes, more than"));
        fs::write(d.path().join("bin"), [0xff, 0xfe]).unwrap();
        assert!(matches!(
            read_account_file(p("bin")),
            Err(InitError::AccountFile {
                problem: AccountFileProblem::NotUtf8,
                ..
            })
        ));
    }

    #[test]
    fn executables_are_found_on_the_path_with_dockers_message_otherwise() {
        let d = tempfile::tempdir().unwrap();
        let exe = d.path().join("tool");
        fs::write(&exe, "#!/bin/sh\n").unwrap();
        fs::set_permissions(&exe, fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(d.path().join("data"), "").unwrap();
        let path = format!("/nonexistent:{}", d.path().display());
        assert_eq!(find_executable("tool", &path).unwrap(), exe);
        assert_eq!(
            find_executable("data", &path).unwrap_err().to_string(),
            "exec: \"data\": executable file not found in $PATH"
        );
        assert!(matches!(
            find_executable("", &path),
            Err(InitError::NoCommand)
        ));
        assert_eq!(
            find_executable("/abs/prog", "").unwrap(),
            PathBuf::from("/abs/prog")
        );
    }
}
