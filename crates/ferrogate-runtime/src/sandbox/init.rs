//! The sandbox init: PID 1 of a task.
//!
//! The agent starts it with `clone(CLONE_NEW{NS,PID,NET,IPC,UTS})` (see
//! `spawn`); it runs single-threaded, so it may fork and run ordinary code in
//! the children. It mounts the task volume *inside its own mount namespace*
//! (so no other namespace on the host can pin it), brings up loopback, sets
//! the hostname, starts each container in a child with its own mount
//! namespace, reaps everything, and reports over fd 3. If the agent goes away
//! (EOF on fd 3), it kills the task and exits: a task never runs unsupervised.

use std::collections::HashMap;
use std::ffi::CString;
use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsFd;
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
        .and_then(|()| {
            mount_volume_fs(&sys, &cfg.volume_device, &cfg.volume_mount).map_err(|e| e.to_string())
        });
    if let Err(error) = setup {
        let _ = ch.send(&FromInit::Fatal {
            error: error.clone(),
        });
        return Err(error);
    }
    send(&mut ch, &FromInit::VolumeMounted)?;
    match ch.recv::<ToInit>() {
        Ok(Some(ToInit::VolumeSealed)) => {}
        Ok(Some(ToInit::Unmount)) => return Ok(unmount_and_report(&mut ch, &cfg)),
        _ => {
            let _ = sys.umount(&cfg.volume_mount, libc::MNT_DETACH);
            return Ok(0);
        }
    }
    let sigfd = sys::process::sigchld_fd().map_err(|e| format!("signalfd: {e}"))?;
    let mut task = Task {
        running: HashMap::new(),
    };
    for c in &cfg.containers {
        match start_container(&cfg, c) {
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
                    ToInit::KillAll => {
                        kill_everything(&mut ch, &mut task)?;
                        send(&mut ch, &FromInit::Quiesced)?;
                    }
                    ToInit::Unmount => {
                        kill_everything(&mut ch, &mut task)?;
                        return Ok(unmount_and_report(&mut ch, &cfg));
                    }
                    ToInit::Config(_) | ToInit::VolumeSealed => {}
                }
            }
            if !open {
                // The agent is gone: never leave a task running unsupervised.
                let _ = kill_everything(&mut ch, &mut task);
                let _ = sys.umount(&cfg.volume_mount, libc::MNT_DETACH);
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

fn unmount_and_report(ch: &mut Chan, cfg: &InitConfig) -> i32 {
    let sys = LinuxSyscall;
    let mut error = None;
    for attempt in 0..100 {
        match sys.umount(&cfg.volume_mount, 0) {
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
        let _ = sys.umount(&cfg.volume_mount, libc::MNT_DETACH);
        e.push_str(" (detached lazily)");
    }
    let _ = ch.send(&FromInit::Unmounted { error });
    0
}

fn start_container(cfg: &InitConfig, c: &ContainerLaunch) -> Result<i32, String> {
    let data = cfg.volume_mount.join(DATA_DIR);
    let cdir = data.join("containers").join(&c.name);
    for d in ["upper", "work", "rootfs"] {
        fs::create_dir_all(cdir.join(d))
            .map_err(|e| format!("creating {d} dir on the volume: {e}"))?;
    }
    for v in &cfg.volumes {
        fs::create_dir_all(data.join("volumes").join(v))
            .map_err(|e| format!("creating volume {v}: {e}"))?;
    }
    let log = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o640)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&c.log_path)
        .map_err(|e| format!("opening log {}: {e}", c.log_path.display()))?;
    let devnull = fs::File::open("/dev/null").map_err(|e| format!("/dev/null: {e}"))?;
    let (mut rd, wr) = sys::process::pipe().map_err(|e| format!("pipe: {e}"))?;
    match sys::process::fork().map_err(|e| format!("fork: {e}"))? {
        Fork::Child => {
            drop(rd);
            let err = container_child(cfg, c, &cdir, &log, &devnull);
            let mut wr = wr;
            let _ = wr.write_all(err.as_bytes());
            sys::process::exit_now(127);
        }
        Fork::Parent(pid) => {
            drop(wr);
            let mut msg = String::new();
            let _ = rd.read_to_string(&mut msg);
            if msg.is_empty() {
                Ok(pid)
            } else {
                let _ = sys::process::wait_pid(pid);
                Err(msg)
            }
        }
    }
}

/// Runs in the forked child; returns only with an error message.
fn container_child(
    cfg: &InitConfig,
    c: &ContainerLaunch,
    cdir: &Path,
    log: &fs::File,
    devnull: &fs::File,
) -> String {
    match container_child_inner(cfg, c, cdir, log, devnull) {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

enum Never {}

fn container_child_inner(
    cfg: &InitConfig,
    c: &ContainerLaunch,
    cdir: &Path,
    log: &fs::File,
    devnull: &fs::File,
) -> Result<Never, String> {
    let sys = LinuxSyscall;
    let _ = sys::process::setsid();
    sys::process::dup2(devnull.as_fd(), 0).map_err(|e| format!("stdin: {e}"))?;
    sys::process::dup2(log.as_fd(), 1).map_err(|e| format!("stdout: {e}"))?;
    sys::process::dup2(log.as_fd(), 2).map_err(|e| format!("stderr: {e}"))?;
    for p in &c.cgroup_procs {
        fs::write(p, "0").map_err(|e| format!("joining cgroup {}: {e}", p.display()))?;
    }
    let _ = sys::process::set_oom_score_adj(0);
    sys::process::reset_signals();
    sys::close_fds_from(3, true).map_err(|e| format!("close_range: {e}"))?;
    let last_cap = caps::last_cap();
    let plan = RootfsPlan {
        layers_root: cfg.layers_root.clone(),
        layers: c.layers.clone(),
        upper: cdir.join("upper"),
        work: cdir.join("work"),
        rootfs: cdir.join("rootfs"),
        binds: c.binds.clone(),
        hostname: cfg.hostname.clone(),
        readonly_root: c.readonly_root,
    };
    setup_rootfs(&sys, &plan).map_err(|e| format!("setting up the root filesystem: {e}"))?;
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    let group = fs::read_to_string("/etc/group").unwrap_or_default();
    let creds = resolve_user(c.user.as_deref(), &passwd, &group)?;
    let mut env = c.env.clone();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", creds.home));
    }
    let cwd = Path::new(&c.cwd);
    if !cwd.is_dir() {
        fs::create_dir_all(cwd)
            .map_err(|e| format!("creating working directory {}: {e}", c.cwd))?;
    }
    std::env::set_current_dir(cwd).map_err(|e| format!("chdir {}: {e}", c.cwd))?;
    let path_var = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(super::command::DEFAULT_PATH);
    let argv0 = c
        .argv
        .first()
        .ok_or_else(|| "no command specified".to_string())?;
    let prog = find_executable(argv0, path_var)?;
    let cprog = CString::new(prog.as_os_str().as_encoded_bytes())
        .map_err(|_| "NUL in program path".to_string())?;
    let argv: Vec<CString> = c
        .argv
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<_, _>>()
        .map_err(|_| "NUL in argv".to_string())?;
    let envp: Vec<CString> = env
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<_, _>>()
        .map_err(|_| "NUL in environment".to_string())?;
    drop_privileges(&sys, &creds, last_cap).map_err(|e| format!("dropping privileges: {e}"))?;
    let e = sys::process::execve(&cprog, &argv, &envp);
    Err(format!("exec {argv0:?}: {e}"))
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
