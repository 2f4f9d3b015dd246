//! The sandbox init: PID 1 of a task.
//!
//! The agent starts it with `clone(CLONE_NEW{NS,PID,NET,IPC,UTS})` (see
//! `spawn`); it runs single-threaded, so it may fork and run ordinary code in
//! the children. It brings up loopback, sets the hostname, opens what it
//! needs from the host (layer directory, log files, cgroup files,
//! `/dev/null`), then `pivot_root`s into a minimal root: a read-only tmpfs
//! holding only the task volume (at [`INIT_VOLUME`], mounted *inside its own
//! mount namespace*, so no other namespace on the host can pin it) and the
//! task's procfs. The host's `/` is not reachable from the task's mount
//! namespace, and its mount table shows nothing of the host. It then starts
//! each container in a child with its own mount namespace, reaps
//! everything, and reports over fd 3. If the agent goes away (EOF on fd 3),
//! it kills the task and exits: a task never runs unsupervised.

use std::collections::HashMap;
use std::ffi::CString;
use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::protocol::{ContainerLaunch, FromInit, InitConfig, LineChannel, ToInit};
use super::rootfs::{drop_privileges, setup_rootfs, RootfsPlan};
use super::user::resolve_user;
use crate::caps;
use crate::sys;
use crate::sys::process::{Fork, WaitStatus};
use crate::syscall::{LinuxSyscall, Syscall};
use crate::volume::{mount_volume_fs, DATA_DIR};

/// The hidden first argument that turns an executable into the sandbox init.
pub const INIT_ARG: &str = "__ferrogate-sandbox-init";

/// Where the task volume is mounted in the init's minimal root (the agent
/// reaches it as `/proc/<init>/root/vol`).
pub const INIT_VOLUME: &str = "/vol";

/// Where the layer directory is bound in the init's minimal root on kernels
/// that cannot use a detached mount as an overlay layer.
pub const INIT_LAYERS: &str = "/layers";

/// How containers reach the image layers once the init left the host's root.
enum Layers {
    /// A detached copy of the layer directory's mount (`open_tree`), which
    /// overlayfs accepts as a layer since Linux 6.15: nothing of it appears
    /// in the task's mount table.
    Detached(OwnedFd),
    /// Linux before 6.15: a read-only bind at [`INIT_LAYERS`] (its mountinfo
    /// line shows the directory's path inside its host file system).
    Bound,
}

/// Descriptors the init opens on the host before it leaves the host's root.
struct Held {
    /// The layer directories.
    layers: Layers,
    /// For every container's stdin.
    devnull: fs::File,
    /// Per container: its log file (append) and its `cgroup.procs` files.
    containers: HashMap<String, (fs::File, Vec<fs::File>)>,
}

fn hold(cfg: &InitConfig) -> Result<Held, String> {
    let layers = if sys::mount::kernel_version().is_some_and(|v| v >= (6, 15)) {
        let tree = sys::mount::open_tree_clone(&cfg.layers_root)
            .map_err(|e| format!("open_tree {}: {e}", cfg.layers_root.display()))?;
        // Overlayfs only reads its lower layers: the copy is made read-only, so nothing that
        // ever reached it (it is a descriptor of the init) could change an image.
        sys::mount::make_tree_readonly(tree.as_fd())
            .map_err(|e| format!("making the layer tree read-only: {e}"))?;
        Layers::Detached(tree)
    } else {
        Layers::Bound
    };
    // Read-write: it is the stdin of containers and all three of health checks, whose
    // output is not kept.
    let devnull = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open("/dev/null")
        .map_err(|e| format!("/dev/null: {e}"))?;
    let mut containers = HashMap::new();
    for c in &cfg.containers {
        let log = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o640)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&c.log_path)
            .map_err(|e| format!("opening log {}: {e}", c.log_path.display()))?;
        let procs = c
            .cgroup_procs
            .iter()
            .map(|p| {
                OpenOptions::new()
                    .write(true)
                    .custom_flags(libc::O_CLOEXEC)
                    .open(p)
                    .map_err(|e| format!("opening {}: {e}", p.display()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        containers.insert(c.name.clone(), (log, procs));
    }
    Ok(Held {
        layers,
        devnull,
        containers,
    })
}

/// Builds the init's minimal root on `staging` (the task's mount point on
/// the host, covered only in this mount namespace) and pivots into it:
/// a tmpfs with the volume at `vol/`, a procfs of the task's PID namespace
/// at `proc/` and, if `layers` is given, that directory bound read-only at
/// `layers/`; made read-only. The old root is detached.
pub fn enter_minimal_root(
    sys: &dyn Syscall,
    staging: &Path,
    device: &Path,
    layers: Option<&Path>,
) -> Result<(), String> {
    let step = |what: &str, r: std::io::Result<()>| r.map_err(|e| format!("{what}: {e}"));
    let nosuid = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    step(
        "mounting the sandbox root",
        sys.mount(
            Some(Path::new("ferrogate")),
            staging,
            Some("tmpfs"),
            nosuid,
            Some("mode=755,size=64k"),
        ),
    )?;
    let vol = staging.join(INIT_VOLUME.trim_start_matches('/'));
    let proc_ = staging.join("proc");
    step("creating the volume mount point", sys.mkdir(&vol, 0o700))?;
    step("creating /proc", sys.mkdir(&proc_, 0o555))?;
    mount_volume_fs(sys, device, &vol).map_err(|e| e.to_string())?;
    step(
        "mounting /proc",
        sys.mount(Some(Path::new("proc")), &proc_, Some("proc"), nosuid, None),
    )?;
    if let Some(src) = layers {
        let dst = staging.join(INIT_LAYERS.trim_start_matches('/'));
        step("creating /layers", sys.mkdir(&dst, 0o700))?;
        step(
            "binding the image layers",
            sys.mount(Some(src), &dst, None, libc::MS_BIND, None),
        )?;
        step(
            "making the image layers read-only",
            sys.mount(
                None,
                &dst,
                None,
                libc::MS_BIND
                    | libc::MS_REMOUNT
                    | libc::MS_RDONLY
                    | libc::MS_NOSUID
                    | libc::MS_NODEV,
                None,
            ),
        )?;
    }
    step("entering the sandbox root", sys.chdir(staging))?;
    step("pivot_root", sys.pivot_root(Path::new("."), Path::new(".")))?;
    step(
        "detaching the host root",
        sys.umount(Path::new("."), libc::MNT_DETACH),
    )?;
    step("chdir /", sys.chdir(Path::new("/")))?;
    step(
        "making the sandbox root read-only",
        sys.mount(
            None,
            Path::new("/"),
            None,
            libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | nosuid,
            None,
        ),
    )
}

/// Call first thing in `main` of any binary used as `RuntimeConfig::init_exe`
/// (the `ferrogate` binary re-executes itself). If the process was started as
/// a sandbox init, this runs it and never returns; otherwise it returns at
/// once. Must run before any thread is spawned.
pub fn sandbox_init_main_if_requested() {
    if std::env::args_os().nth(1).as_deref() == Some(std::ffi::OsStr::new(INIT_ARG)) {
        let code = match run() {
            Ok(c) => c,
            Err(e) => {
                eprintln!("ferrogate-init: {e}");
                1
            }
        };
        std::process::exit(code);
    }
}

type Chan = LineChannel<UnixStream>;

struct Task {
    /// pid → container name, for running main processes.
    running: HashMap<i32, String>,
    /// pid → id, for running `Exec`s (health checks).
    execs: HashMap<i32, u64>,
}

fn run() -> Result<i32, String> {
    sys::close_fds_from(4, false).map_err(|e| format!("close_range: {e}"))?;
    let ctrl = sys::process::take_inherited_fd(3).map_err(|e| format!("control fd: {e}"))?;
    let mut ch: Chan = LineChannel::new(UnixStream::from(ctrl));
    let cfg = match ch.recv::<ToInit>() {
        Ok(Some(ToInit::Config(c))) => *c,
        Ok(None) => return Ok(0),
        Ok(Some(m)) => return Err(format!("expected Config, got {m:?}")),
        Err(e) => return Err(format!("reading config: {e}")),
    };
    let sys = LinuxSyscall;
    // Containers share the init's PID namespace: keep /proc/1/{mem,environ,
    // fd,...} closed to them. (exec resets this for the containers.)
    let _ = sys::process::prctl(libc::PR_SET_DUMPABLE, 0);
    // The init must survive OOM in its cgroup to report what happened.
    let _ = sys::process::set_oom_score_adj(-1000);
    let setup = sys
        .mount(
            None,
            Path::new("/"),
            None,
            libc::MS_REC | libc::MS_PRIVATE,
            None,
        )
        .and_then(|()| sys.sethostname(&cfg.hostname))
        .and_then(|()| sys.loopback_up())
        .map_err(|e| format!("namespace setup: {e}"))
        .and_then(|()| hold(&cfg))
        .and_then(|held| {
            let bind = matches!(held.layers, Layers::Bound).then_some(cfg.layers_root.as_path());
            enter_minimal_root(&sys, &cfg.volume_mount, &cfg.volume_device, bind).map(|()| held)
        });
    let held = match setup {
        Ok(h) => h,
        Err(error) => {
            let _ = ch.send(&FromInit::Fatal {
                error: error.clone(),
            });
            return Err(error);
        }
    };
    let volume = Path::new(INIT_VOLUME);
    send(&mut ch, &FromInit::VolumeMounted)?;
    match ch.recv::<ToInit>() {
        Ok(Some(ToInit::VolumeSealed)) => {}
        Ok(Some(ToInit::Unmount)) => return Ok(unmount_and_report(&mut ch)),
        _ => {
            let _ = sys.umount(volume, libc::MNT_DETACH);
            return Ok(0);
        }
    }
    let sigfd = sys::process::sigchld_fd().map_err(|e| format!("signalfd: {e}"))?;
    let mut task = Task {
        running: HashMap::new(),
        execs: HashMap::new(),
    };
    for c in &cfg.containers {
        match start_container(&cfg, &held, c) {
            Ok(pid) => {
                task.running.insert(pid, c.name.clone());
                send(
                    &mut ch,
                    &FromInit::ContainerStarted {
                        container: c.name.clone(),
                        pid,
                    },
                )?;
            }
            Err(error) => send(
                &mut ch,
                &FromInit::ContainerFailed {
                    container: c.name.clone(),
                    error,
                },
            )?,
        }
    }
    loop {
        let rev = sys::process::poll(
            &[
                (ch.get_ref().as_fd(), libc::POLLIN),
                (sigfd.as_fd(), libc::POLLIN),
            ],
            -1,
        )
        .map_err(|e| format!("poll: {e}"))?;
        if rev[1] != 0 {
            sys::process::drain_signalfd(sigfd.as_fd());
            reap(&mut ch, &mut task, false)?;
        }
        if rev[0] != 0 {
            let open = ch.fill().unwrap_or(false);
            while let Some(msg) = ch
                .try_take::<ToInit>()
                .map_err(|e| format!("bad message: {e}"))?
            {
                match msg {
                    ToInit::Signal { container, signal } => {
                        for (pid, name) in &task.running {
                            if *name == container {
                                let _ = sys::process::kill(*pid, signal);
                            }
                        }
                    }
                    ToInit::Exec {
                        id,
                        container,
                        argv,
                    } => {
                        let target = task
                            .running
                            .iter()
                            .find(|(_, n)| **n == container)
                            .map(|(pid, _)| *pid);
                        let launch = cfg.containers.iter().find(|c| c.name == container);
                        let started = match (target, launch) {
                            (Some(pid), Some(c)) => start_exec(&held, c, pid, &argv),
                            _ => Err((true, format!("container {container} is not running"))),
                        };
                        match started {
                            Ok(pid) => {
                                task.execs.insert(pid, id);
                            }
                            Err((container_gone, error)) => send(
                                &mut ch,
                                &FromInit::ExecFailed {
                                    id,
                                    container_gone,
                                    error,
                                },
                            )?,
                        }
                    }
                    ToInit::KillExec { id } => {
                        for (pid, e) in &task.execs {
                            if *e == id {
                                // Its own process group (setsid): whatever it started too.
                                let _ = sys::process::kill(-*pid, libc::SIGKILL);
                                let _ = sys::process::kill(*pid, libc::SIGKILL);
                            }
                        }
                    }
                    ToInit::KillAll => {
                        kill_everything(&mut ch, &mut task)?;
                        send(&mut ch, &FromInit::Quiesced)?;
                    }
                    ToInit::Unmount => {
                        kill_everything(&mut ch, &mut task)?;
                        return Ok(unmount_and_report(&mut ch));
                    }
                    ToInit::Config(_) | ToInit::VolumeSealed => {}
                }
            }
            if !open {
                // The agent is gone: never leave a task running unsupervised.
                let _ = kill_everything(&mut ch, &mut task);
                let _ = sys.umount(volume, libc::MNT_DETACH);
                return Ok(0);
            }
        }
    }
}

fn send(ch: &mut Chan, m: &FromInit) -> Result<(), String> {
    ch.send(m).map_err(|e| format!("control channel: {e}"))
}

/// Reaps exited children; reports container main processes.
fn reap(ch: &mut Chan, task: &mut Task, blocking: bool) -> Result<(), String> {
    loop {
        let r = if blocking {
            sys::process::reap_blocking()
        } else {
            sys::process::reap_any()
        };
        match r {
            Ok(Some((pid, status))) => {
                if let Some(container) = task.running.remove(&pid) {
                    // The agent may be gone; keep reaping regardless.
                    let _ = ch.send(&FromInit::ContainerExited { container, status });
                } else if let Some(id) = task.execs.remove(&pid) {
                    let _ = ch.send(&FromInit::ExecExited { id, status });
                }
            }
            Ok(None) => return Ok(()),
            Err(e) => return Err(format!("waitpid: {e}")),
        }
    }
}

fn kill_everything(ch: &mut Chan, task: &mut Task) -> Result<(), String> {
    // As PID 1 of the namespace, kill(-1) reaches every other process in it.
    let _ = sys::process::kill(-1, libc::SIGKILL);
    reap(ch, task, true)
}

fn unmount_and_report(ch: &mut Chan) -> i32 {
    let sys = LinuxSyscall;
    let volume = Path::new(INIT_VOLUME);
    let mut error = None;
    for attempt in 0..100 {
        match sys.umount(volume, 0) {
            Ok(()) => {
                error = None;
                break;
            }
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && attempt < 99 => {
                error = Some(e.to_string());
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => {
                error = Some(e.to_string());
                break;
            }
        }
    }
    if let Some(e) = &mut error {
        let _ = sys.umount(volume, libc::MNT_DETACH);
        e.push_str(" (detached lazily)");
    }
    let _ = ch.send(&FromInit::Unmounted { error });
    0
}

fn start_container(cfg: &InitConfig, held: &Held, c: &ContainerLaunch) -> Result<i32, String> {
    let data = Path::new(INIT_VOLUME).join(DATA_DIR);
    let cdir = data.join("containers").join(&c.name);
    for d in ["upper", "work", "rootfs"] {
        fs::create_dir_all(cdir.join(d))
            .map_err(|e| format!("creating {d} dir on the volume: {e}"))?;
    }
    for v in &cfg.volumes {
        fs::create_dir_all(data.join("volumes").join(v))
            .map_err(|e| format!("creating volume {v}: {e}"))?;
    }
    let (log, procs) = held
        .containers
        .get(&c.name)
        .ok_or_else(|| format!("internal: nothing opened for container {}", c.name))?;
    let (rd, wr) = sys::process::pipe().map_err(|e| format!("pipe: {e}"))?;
    match sys::process::fork().map_err(|e| format!("fork: {e}"))? {
        Fork::Child => {
            drop(rd);
            let keep = wr.as_raw_fd().unsigned_abs();
            let err = container_child(cfg, held, c, &cdir, log, procs, keep);
            let mut wr = wr;
            let _ = wr.write_all(err.as_bytes());
            sys::process::exit_now(127);
        }
        Fork::Parent(pid) => {
            drop(wr);
            wait_for_exec(rd, pid).map(|()| pid)
        }
    }
}

/// Runs in the forked child; returns only with an error message.
fn container_child(
    cfg: &InitConfig,
    held: &Held,
    c: &ContainerLaunch,
    cdir: &Path,
    log: &fs::File,
    procs: &[fs::File],
    keep_fd: u32,
) -> String {
    match container_child_inner(cfg, held, c, cdir, log, procs, keep_fd) {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

enum Never {}

fn container_child_inner(
    cfg: &InitConfig,
    held: &Held,
    c: &ContainerLaunch,
    cdir: &Path,
    log: &fs::File,
    procs: &[fs::File],
    keep_fd: u32,
) -> Result<Never, String> {
    let sys = LinuxSyscall;
    let _ = sys::process::setsid();
    sys::process::dup2(held.devnull.as_fd(), 0).map_err(|e| format!("stdin: {e}"))?;
    sys::process::dup2(log.as_fd(), 1).map_err(|e| format!("stdout: {e}"))?;
    sys::process::dup2(log.as_fd(), 2).map_err(|e| format!("stderr: {e}"))?;
    for (mut f, p) in procs.iter().zip(&c.cgroup_procs) {
        f.write_all(b"0")
            .map_err(|e| format!("joining cgroup {}: {e}", p.display()))?;
    }
    let _ = sys::process::set_oom_score_adj(0);
    sys::process::reset_signals();
    sys::close_fds_from(3, true).map_err(|e| format!("close_range: {e}"))?;
    let last_cap = caps::last_cap();
    let plan = RootfsPlan {
        // Relative lowerdirs resolve against the cwd: the detached copy of
        // the layer directory (through its descriptor), or its bind.
        layers_root: match &held.layers {
            Layers::Detached(fd) => PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd())),
            Layers::Bound => PathBuf::from(INIT_LAYERS),
        },
        layers: c.layers.clone(),
        upper: cdir.join("upper"),
        work: cdir.join("work"),
        rootfs: cdir.join("rootfs"),
        binds: c.binds.clone(),
        hostname: cfg.hostname.clone(),
        readonly_root: c.readonly_root,
    };
    setup_rootfs(&sys, &plan).map_err(|e| format!("setting up the root filesystem: {e}"))?;
    become_container_process(&sys, c, &c.argv, true, last_cap, keep_fd)
}

/// The last steps of a container's process and of a health check in it, once the process
/// has the container's root: the user from the image's account files, `HOME`, the working
/// directory (created when `create`), the program on the container's `PATH`, then
/// privileges dropped, every descriptor but `keep_fd` (the error pipe) closed, and exec.
/// Returns only with why it could not.
fn become_container_process(
    sys: &LinuxSyscall,
    c: &ContainerLaunch,
    argv: &[String],
    create: bool,
    last_cap: u32,
    keep_fd: u32,
) -> Result<Never, String> {
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
    let argv0 = argv
        .first()
        .ok_or_else(|| "no command specified".to_string())?;
    let prog = find_executable(argv0, path_var)?;
    let cprog = CString::new(prog.as_os_str().as_encoded_bytes())
        .map_err(|_| "NUL in program path".to_string())?;
    let cargv: Vec<CString> = argv
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<_, _>>()
        .map_err(|_| "NUL in argv".to_string())?;
    let envp: Vec<CString> = env
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<_, _>>()
        .map_err(|_| "NUL in environment".to_string())?;
    drop_privileges(sys, &creds, last_cap).map_err(|e| format!("dropping privileges: {e}"))?;
    sys::close_fds_except(keep_fd).map_err(|e| format!("close_range: {e}"))?;
    let e = sys::process::execve(&cprog, &cargv, &envp);
    Err(format!("exec {argv0:?}: {e}"))
}

/// Enters the working directory `cwd`, resolved inside the root the process now has (the
/// container's) with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` and entered with
/// `fchdir`: the image and the container choose the path and may have made any component a
/// symlink, and the process still holds every capability here, so a plain `chdir` could be
/// led through `/proc/<pid>/root` or `/proc/self/fd/N` out of the container (the runc
/// "Leaky Vessels" escape). `create` makes missing directories (container start, as Docker
/// does for a missing working directory); otherwise a missing one means `/`.
fn enter_working_dir(sys: &LinuxSyscall, cwd: &str, create: bool) -> Result<(), String> {
    let root = sys
        .open_root(Path::new("/"))
        .map_err(|e| format!("opening the container root: {e}"))?;
    let rel = cwd.trim_start_matches('/');
    let dir = if create {
        sys.mkdir_all_in(&root, rel, 0o755)
    } else {
        match sys.resolve_in(&root, rel) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => sys.resolve_in(&root, ""),
            other => other,
        }
    }
    .map_err(|e| format!("working directory {cwd}: {e}"))?;
    let fd = dir
        .fd
        .as_ref()
        .ok_or_else(|| "internal: no descriptor".to_string())?;
    sys::process::fchdir(fd.as_fd()).map_err(|e| format!("chdir {cwd}: {e}"))
}

/// Waits until the forked child `pid` has exec'd (its close-on-exec error pipe `rd` reads
/// EOF) or reported why it could not. The child runs as the container's user before exec,
/// so the container could stop it (SIGSTOP): after [`EXEC_DEADLINE_MS`] it is killed and
/// reported as not started, and the init goes on supervising the task.
fn wait_for_exec(mut rd: fs::File, pid: i32) -> Result<(), String> {
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
            return Err(format!(
                "the process did not start within {EXEC_DEADLINE_MS} ms"
            ));
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
        Err(String::from_utf8_lossy(&msg).into_owned())
    }
}

/// How long a forked child may take to exec before it is killed.
const EXEC_DEADLINE_MS: u64 = 10_000;

/// Starts `argv` inside the running container `c` whose main process is `target` (a pid
/// in the task's PID namespace): a forked child joins the container's mount namespace
/// (and so its root filesystem, binds and read-only root), its cgroup, and then becomes
/// what the container's own process became: the same user, environment, working
/// directory, capabilities, `no_new_privs` and seccomp filter. stdin, stdout and stderr are
/// `/dev/null`. Returns the child's pid, or why it could not exec.
fn start_exec(
    held: &Held,
    c: &ContainerLaunch,
    target: i32,
    argv: &[String],
) -> Result<i32, (bool, String)> {
    let procs = &held
        .containers
        .get(&c.name)
        .ok_or_else(|| {
            (
                false,
                format!("internal: nothing opened for container {}", c.name),
            )
        })?
        .1;
    // Opened by the init, through its own /proc, before forking: the container cannot
    // substitute anything here.
    let ns = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(format!("/proc/{target}/ns/mnt"))
        .map_err(|e| {
            (
                true,
                format!("container {}: its mount namespace: {e}", c.name),
            )
        })?;
    let (rd, wr) = sys::process::pipe().map_err(|e| (false, format!("pipe: {e}")))?;
    match sys::process::fork().map_err(|e| (false, format!("fork: {e}")))? {
        Fork::Child => {
            drop(rd);
            let keep = wr.as_raw_fd().unsigned_abs();
            let err = match exec_child(held, c, procs, &ns, argv, keep) {
                Ok(never) => match never {},
                Err(e) => e,
            };
            let mut wr = wr;
            let _ = wr.write_all(err.as_bytes());
            sys::process::exit_now(127);
        }
        Fork::Parent(pid) => {
            drop(wr);
            drop(ns);
            wait_for_exec(rd, pid).map(|()| pid).map_err(|e| (false, e))
        }
    }
}

fn exec_child(
    held: &Held,
    c: &ContainerLaunch,
    procs: &[fs::File],
    ns: &fs::File,
    argv: &[String],
    keep_fd: u32,
) -> Result<Never, String> {
    let sys = LinuxSyscall;
    let _ = sys::process::setsid();
    for fd in 0..3 {
        sys::process::dup2(held.devnull.as_fd(), fd).map_err(|e| format!("stdio: {e}"))?;
    }
    for (mut f, p) in procs.iter().zip(&c.cgroup_procs) {
        f.write_all(b"0")
            .map_err(|e| format!("joining cgroup {}: {e}", p.display()))?;
    }
    let _ = sys::process::set_oom_score_adj(0);
    sys::process::reset_signals();
    sys::process::setns(ns.as_fd(), libc::CLONE_NEWNS)
        .map_err(|e| format!("entering the container: {e}"))?;
    sys::close_fds_from(3, true).map_err(|e| format!("close_range: {e}"))?;
    let last_cap = caps::last_cap();
    become_container_process(&sys, c, argv, false, last_cap, keep_fd)
}

/// Largest `/etc/passwd` or `/etc/group` read from an image.
pub const MAX_ACCOUNT_FILE: u64 = 1 << 20;

/// Reads the image's `/etc/passwd` or `/etc/group` (after the pivot, as
/// root, before dropping privileges). The image is untrusted: the file must
/// be a regular file (not a symlink, FIFO or device, which could block or
/// never end) of at most [`MAX_ACCOUNT_FILE`] bytes. Missing reads as empty.
pub fn read_account_file(path: &str) -> Result<String, String> {
    // Resolved inside the current root (the container's), never through a symlink or a
    // magic link out of it: the caller still holds every capability.
    let root = sys::at::open(
        Path::new("/"),
        libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
    )
    .map_err(|e| format!("opening /: {e}"))?;
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
            return Err(format!("{path} is a symbolic link, not a regular file"))
        }
        Err(e) => return Err(format!("opening {path}: {e}")),
    };
    let (mode, size) = sys::at::fstat(fd.as_fd()).map_err(|e| format!("{path}: {e}"))?;
    if mode & libc::S_IFMT != libc::S_IFREG {
        return Err(format!("{path} is not a regular file"));
    }
    if size > MAX_ACCOUNT_FILE {
        return Err(format!(
            "{path} is {size} bytes, more than {MAX_ACCOUNT_FILE}"
        ));
    }
    let mut buf = Vec::new();
    fs::File::from(fd)
        .take(MAX_ACCOUNT_FILE + 1)
        .read_to_end(&mut buf)
        .map_err(|e| format!("reading {path}: {e}"))?;
    if buf.len() as u64 > MAX_ACCOUNT_FILE {
        return Err(format!("{path} grew past {MAX_ACCOUNT_FILE} bytes"));
    }
    String::from_utf8(buf).map_err(|_| format!("{path} is not UTF-8"))
}

/// `execvp`'s search, done before exec so errors are precise.
pub fn find_executable(name: &str, path_var: &str) -> Result<PathBuf, String> {
    if name.is_empty() {
        return Err("empty command".into());
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
    Err(format!(
        "exec: \"{name}\": executable file not found in $PATH"
    ))
}

/// Status → (exit code as ECS reports it, signal).
pub fn exit_code(status: WaitStatus) -> i32 {
    match status {
        WaitStatus::Exited(c) => c,
        WaitStatus::Signaled(s) => 128 + s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscall::RecordingSyscall;

    #[test]
    fn account_files_must_be_small_regular_files() {
        let d = tempfile::tempdir().unwrap();
        let p = |n: &str| d.path().join(n).to_string_lossy().into_owned();
        assert_eq!(read_account_file(&p("missing")).unwrap(), "");
        fs::write(d.path().join("passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
        assert!(read_account_file(&p("passwd"))
            .unwrap()
            .starts_with("root:"));
        std::os::unix::fs::symlink("/dev/zero", d.path().join("link")).unwrap();
        assert!(read_account_file(&p("link"))
            .unwrap_err()
            .contains("symbolic link"));
        sys::mknod(&d.path().join("fifo"), libc::S_IFIFO | 0o644, 0, 0).unwrap();
        assert!(read_account_file(&p("fifo"))
            .unwrap_err()
            .contains("not a regular file"));
        let big = fs::File::create(d.path().join("big")).unwrap();
        big.set_len(MAX_ACCOUNT_FILE + 1).unwrap();
        assert!(read_account_file(&p("big")).unwrap_err().contains("bytes"));
        fs::write(d.path().join("bin"), [0xff, 0xfe]).unwrap();
        assert!(read_account_file(&p("bin")).is_err());
    }

    #[test]
    fn minimal_root_holds_only_the_volume_and_proc() {
        for layers in [None, Some(Path::new("/d/images/layers"))] {
            let sys = RecordingSyscall::new();
            enter_minimal_root(
                &sys,
                Path::new("/d/run/t/vol"),
                Path::new("/dev/loop7"),
                layers,
            )
            .unwrap();
            let c: Vec<String> = sys
                .calls()
                .iter()
                .map(|x| format!("{} {}", x.op, x.args))
                .collect();
            let nosuid = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
            let mut want = vec![
                format!("mount ferrogate -> /d/run/t/vol type=tmpfs flags={nosuid:#x} data=mode=755,size=64k"),
                "mkdir /d/run/t/vol/vol 700".to_owned(),
                "mkdir /d/run/t/vol/proc 555".to_owned(),
                format!(
                    "mount /dev/loop7 -> /d/run/t/vol/vol type=ext4 flags={:#x} data=noinit_itable",
                    crate::volume::VOLUME_MOUNT_FLAGS
                ),
                format!("mount proc -> /d/run/t/vol/proc type=proc flags={nosuid:#x} data="),
            ];
            if layers.is_some() {
                want.push("mkdir /d/run/t/vol/layers 700".to_owned());
                want.push(format!(
                    "mount /d/images/layers -> /d/run/t/vol/layers type=none flags={:#x} data=",
                    libc::MS_BIND
                ));
                want.push(format!(
                    "mount none -> /d/run/t/vol/layers type=none flags={:#x} data=",
                    libc::MS_BIND
                        | libc::MS_REMOUNT
                        | libc::MS_RDONLY
                        | libc::MS_NOSUID
                        | libc::MS_NODEV
                ));
            }
            want.extend([
                "chdir /d/run/t/vol".to_owned(),
                "pivot_root . .".to_owned(),
                format!("umount . flags={:#x}", libc::MNT_DETACH),
                "chdir /".to_owned(),
                format!(
                    "mount none -> / type=none flags={:#x} data=",
                    libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | nosuid
                ),
            ]);
            assert_eq!(c, want);
        }
    }
}
