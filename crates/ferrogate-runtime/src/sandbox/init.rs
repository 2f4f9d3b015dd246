//! The sandbox init: PID 1 of a task.
//!
//! The agent starts it with `clone(CLONE_NEW{NS,PID,NET,IPC,UTS})` (see
//! `spawn`); it runs single-threaded, so it may fork and run ordinary code in
//! the children. It brings up loopback, sets the hostname, creates the task's
//! **user namespace** (its ids 0..65535 are the task's own range of host ids),
//! opens what it needs from the host (an id-mapped, read-only copy of the layer
//! directory and the containers' cgroup files), then `pivot_root`s into a
//! minimal root: a read-only tmpfs holding only the task volume (at
//! [`INIT_VOLUME`], mounted *inside its own mount namespace*, so no other
//! namespace on the host can pin it) and the task's procfs. The host's `/` is
//! not reachable from the task's mount namespace, and its mount table shows
//! nothing of the host. It then starts each container in a child (see
//! `container`), reaps everything, and reports over fd 3. If the agent goes
//! away (EOF on fd 3), it kills the task and exits: a task never runs
//! unsupervised.
//!
//! The init itself stays host root in the host's user namespace (it mounts the
//! volume); no container process ever is: they enter the task's user namespace
//! before they exec, so their capabilities act only on what the task owns.
//!
//! Descriptors the init starts with: 0 an empty pipe, 1 and 2 its own log, 3
//! the control socket, 4 the lock of the task's id range (held, never used:
//! the range stays taken while the init lives), 5.. one pipe per container, in
//! configuration order, which becomes that container's stdout and stderr (the
//! agent reads the other end).

use std::collections::HashMap;
use std::fs;
use std::os::fd::{AsFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use super::container::{start_container, start_exec, ContainerFds, Held, Layers};
use super::error::{at, sys as sys_err, InitError};
use super::protocol::{FromInit, InitConfig, LineChannel, ToInit};
use crate::idrange::RANGE_SIZE;
use crate::sys;
use crate::sys::process::WaitStatus;
use crate::syscall::{Confined, LinuxSyscall, Syscall};
use crate::volume::mount_volume_fs;

/// The hidden first argument that turns an executable into the sandbox init.
pub const INIT_ARG: &str = "__ferrogate-sandbox-init";

/// Where the task volume is mounted in the init's minimal root (the agent
/// reaches it as `/proc/<init>/root/vol`).
pub const INIT_VOLUME: &str = "/vol";

/// Where the layer directory is attached in the init's minimal root on kernels
/// that cannot use a detached mount as an overlay layer.
pub const INIT_LAYERS: &str = "/layers";

/// The first descriptor after the control socket: the id-range lock.
const FIRST_INHERITED: RawFd = 4;

/// Per-namespace sysctls of the task's network namespace, as Docker sets them for
/// containers with their own network: container root no longer holds
/// `CAP_NET_BIND_SERVICE` or `CAP_NET_RAW` over the network namespace (the host's user
/// namespace owns it), so ports below 1024 are opened to every user of the task and
/// ICMP echo sockets to every group, instead.
const NET_SYSCTLS: &[(&str, &str)] = &[
    ("/proc/sys/net/ipv4/ip_unprivileged_port_start", "0"),
    ("/proc/sys/net/ipv4/ping_group_range", "0 2147483647"),
];

/// Opens what the init needs from the host before it leaves the host's root.
fn hold(cfg: &InitConfig, outputs: Vec<fs::File>) -> Result<Held, InitError> {
    let sys = LinuxSyscall;
    let userns = sys::userns::create(cfg.id_base, RANGE_SIZE)
        .map_err(sys_err("creating the task's user namespace"))?;
    // Overlayfs only reads its lower layers: the copy is read-only, so nothing that ever
    // reached it (it is a descriptor of the init) could change an image; and id-mapped,
    // so that inside the task files keep their in-image owners while on the host they
    // belong to the task's range.
    let tree = sys
        .idmapped_tree(&cfg.layers_root, userns.as_fd(), true)
        .map_err(at("id-mapping the image layers", &cfg.layers_root))?;
    let layers = if sys::mount::kernel_version().is_some_and(|v| v >= (6, 15)) {
        Layers::Detached(tree)
    } else {
        Layers::ToAttach(tree)
    };
    if outputs.len() != cfg.containers.len() {
        return Err(InitError::Descriptors {
            got: outputs.len() + 1,
            containers: cfg.containers.len(),
        });
    }
    let mut containers = HashMap::new();
    for (c, output) in cfg.containers.iter().zip(outputs) {
        let procs = c
            .cgroup_procs
            .iter()
            .map(|p| {
                fs::OpenOptions::new()
                    .write(true)
                    .custom_flags(libc::O_CLOEXEC)
                    .open(p)
                    .map_err(at("opening", p))
            })
            .collect::<Result<Vec<_>, _>>()?;
        containers.insert(
            c.name.clone(),
            ContainerFds {
                output: Some(output),
                procs,
            },
        );
    }
    let (empty, writer) = sys::process::pipe().map_err(sys_err("pipe"))?;
    drop(writer);
    Ok(Held {
        layers,
        userns,
        host_root_id: cfg.id_base,
        empty_stdin: empty,
        containers,
    })
}

/// Builds the init's minimal root on `staging` (the task's mount point on
/// the host, covered only in this mount namespace) and pivots into it:
/// a tmpfs with the volume at `vol/`, a procfs of the task's PID namespace
/// at `proc/` and, if `layers` is given, that detached tree attached at
/// `layers/`; made read-only. The old root is detached.
pub fn enter_minimal_root(
    sys: &dyn Syscall,
    staging: &Path,
    device: &Path,
    layers: Option<&Confined>,
) -> Result<(), InitError> {
    let nosuid = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    sys.mount(
        Some(Path::new("ferrogate")),
        staging,
        Some("tmpfs"),
        nosuid,
        Some("mode=755,size=64k"),
    )
    .map_err(sys_err("mounting the sandbox root"))?;
    let vol = staging.join(INIT_VOLUME.trim_start_matches('/'));
    let proc_ = staging.join("proc");
    sys.mkdir(&vol, 0o700)
        .map_err(sys_err("creating the volume mount point"))?;
    sys.mkdir(&proc_, 0o555)
        .map_err(sys_err("creating /proc"))?;
    mount_volume_fs(sys, device, &vol)?;
    sys.mount(Some(Path::new("proc")), &proc_, Some("proc"), nosuid, None)
        .map_err(sys_err("mounting /proc"))?;
    if let Some(tree) = layers {
        let dst = staging.join(INIT_LAYERS.trim_start_matches('/'));
        sys.mkdir(&dst, 0o700)
            .map_err(sys_err("creating /layers"))?;
        sys.attach(tree, &dst)
            .map_err(sys_err("attaching the image layers"))?;
    }
    sys.chdir(staging)
        .map_err(sys_err("entering the sandbox root"))?;
    sys.pivot_root(Path::new("."), Path::new("."))
        .map_err(sys_err("pivot_root"))?;
    sys.umount(Path::new("."), libc::MNT_DETACH)
        .map_err(sys_err("detaching the host root"))?;
    sys.chdir(Path::new("/")).map_err(sys_err("chdir /"))?;
    sys.mount(
        None,
        Path::new("/"),
        None,
        libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | nosuid,
        None,
    )
    .map_err(sys_err("making the sandbox root read-only"))
}

/// Call first thing in `main` of any binary used as `RuntimeConfig::init_exe`
/// (the `ferrogate` binary re-executes itself). If the process was started as
/// a sandbox init, this runs it and never returns; otherwise it returns at
/// once. Must run before any thread is spawned.
pub fn sandbox_init_main_if_requested() {
    let mut args = std::env::args_os().skip(1);
    if args.next().as_deref() == Some(std::ffi::OsStr::new(INIT_ARG)) {
        let inherited = args
            .next()
            .and_then(|a| a.to_str().and_then(|s| s.parse::<u16>().ok()))
            .unwrap_or(0);
        let code = match run(RawFd::from(inherited)) {
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

/// What runs in the task.
pub(super) struct Task {
    /// pid → container name, for running main processes.
    pub(super) running: HashMap<i32, String>,
    /// pid → id, for running `Exec`s (health checks).
    pub(super) execs: HashMap<i32, u64>,
}

/// Takes the descriptors inherited after the control socket: the id-range lock and the
/// containers' output pipes.
fn take_inherited(count: RawFd) -> Result<(OwnedFd, Vec<fs::File>), InitError> {
    if count < 1 {
        return Err(InitError::Descriptors {
            got: 0,
            containers: 0,
        });
    }
    let lock =
        sys::process::take_inherited_fd(FIRST_INHERITED).map_err(sys_err("the id-range lock"))?;
    let outputs = (FIRST_INHERITED + 1..FIRST_INHERITED + count)
        .map(|fd| {
            sys::process::take_inherited_fd(fd)
                .map(fs::File::from)
                .map_err(sys_err("a container output pipe"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((lock, outputs))
}

fn run(inherited: RawFd) -> Result<i32, InitError> {
    sys::close_fds_from(
        u32::try_from(FIRST_INHERITED + inherited).unwrap_or(u32::MAX),
        false,
    )
    .map_err(sys_err("close_range"))?;
    let ctrl = sys::process::take_inherited_fd(3).map_err(sys_err("control fd"))?;
    let mut ch: Chan = LineChannel::new(UnixStream::from(ctrl));
    let cfg = match ch.recv::<ToInit>() {
        Ok(Some(ToInit::Config(c))) => *c,
        Ok(None) => return Ok(0),
        Ok(Some(_)) => return Err(InitError::Protocol { expected: "Config" }),
        Err(e) => return Err(sys_err("reading the configuration")(e)),
    };
    let sys = LinuxSyscall;
    // Containers share the init's PID namespace: keep /proc/1/{mem,environ,
    // fd,...} closed to them. (exec resets this for the containers.)
    let _ = sys::process::prctl(libc::PR_SET_DUMPABLE, 0);
    // The init must survive OOM in its cgroup to report what happened.
    let _ = sys::process::set_oom_score_adj(-1000);
    let setup = take_inherited(inherited).and_then(|(lock, outputs)| {
        namespace_setup(&sys, &cfg)?;
        let held = hold(&cfg, outputs)?;
        let attach = match &held.layers {
            Layers::ToAttach(tree) => Some(tree),
            Layers::Detached(_) => None,
        };
        enter_minimal_root(&sys, &cfg.volume_mount, &cfg.volume_device, attach)?;
        Ok((lock, held))
    });
    let (_id_lock, mut held) = match setup {
        Ok(h) => h,
        Err(error) => {
            let _ = ch.send(&FromInit::Fatal {
                error: error.to_string(),
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
    let sigfd = sys::process::sigchld_fd().map_err(sys_err("signalfd"))?;
    let mut task = Task {
        running: HashMap::new(),
        execs: HashMap::new(),
    };
    for c in &cfg.containers {
        let started = start_container(&cfg, &held, c);
        // The init's copy of the output pipe goes: the agent sees end of file once the
        // container's own processes are gone.
        if let Some(fds) = held.containers.get_mut(&c.name) {
            fds.output = None;
        }
        let msg = match started {
            Ok(pid) => {
                task.running.insert(pid, c.name.clone());
                FromInit::ContainerStarted {
                    container: c.name.clone(),
                    pid,
                }
            }
            Err(error) => FromInit::ContainerFailed {
                container: c.name.clone(),
                error: error.to_string(),
            },
        };
        send(&mut ch, &msg)?;
    }
    supervise(&mut ch, &cfg, &held, &mut task, sigfd.as_fd())
}

/// The namespaces' own settings: `/` private, the hostname, loopback up, the network
/// sysctls.
fn namespace_setup(sys: &LinuxSyscall, cfg: &InitConfig) -> Result<(), InitError> {
    sys.mount(
        None,
        Path::new("/"),
        None,
        libc::MS_REC | libc::MS_PRIVATE,
        None,
    )
    .map_err(sys_err("making / private"))?;
    sys.sethostname(&cfg.hostname)
        .map_err(sys_err("setting the hostname"))?;
    sys.loopback_up().map_err(sys_err("bringing up loopback"))?;
    for (path, value) in NET_SYSCTLS {
        fs::write(path, value).map_err(at("writing", *path))?;
    }
    Ok(())
}

/// Runs until the agent asks to unmount or goes away.
fn supervise(
    ch: &mut Chan,
    cfg: &InitConfig,
    held: &Held,
    task: &mut Task,
    sigfd: std::os::fd::BorrowedFd<'_>,
) -> Result<i32, InitError> {
    let volume = Path::new(INIT_VOLUME);
    loop {
        let rev = sys::process::poll(
            &[(ch.get_ref().as_fd(), libc::POLLIN), (sigfd, libc::POLLIN)],
            -1,
        )
        .map_err(sys_err("poll"))?;
        if rev[1] != 0 {
            sys::process::drain_signalfd(sigfd);
            reap(ch, task, false)?;
        }
        if rev[0] == 0 {
            continue;
        }
        let open = ch.fill().unwrap_or(false);
        while let Some(msg) = ch
            .try_take::<ToInit>()
            .map_err(sys_err("reading a message"))?
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
                        (Some(pid), Some(c)) => start_exec(held, c, pid, &argv),
                        _ => Err((true, InitError::NotRunning(container))),
                    };
                    match started {
                        Ok(pid) => {
                            task.execs.insert(pid, id);
                        }
                        Err((container_gone, error)) => send(
                            ch,
                            &FromInit::ExecFailed {
                                id,
                                container_gone,
                                error: error.to_string(),
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
                    kill_everything(ch, task)?;
                    send(ch, &FromInit::Quiesced)?;
                }
                ToInit::Unmount => {
                    kill_everything(ch, task)?;
                    return Ok(unmount_and_report(ch));
                }
                ToInit::Config(_) | ToInit::VolumeSealed => {}
            }
        }
        if !open {
            // The agent is gone: never leave a task running unsupervised.
            let _ = kill_everything(ch, task);
            let _ = LinuxSyscall.umount(volume, libc::MNT_DETACH);
            return Ok(0);
        }
    }
}

fn send(ch: &mut Chan, m: &FromInit) -> Result<(), InitError> {
    ch.send(m).map_err(sys_err("control channel"))
}

/// Reaps exited children; reports container main processes.
fn reap(ch: &mut Chan, task: &mut Task, blocking: bool) -> Result<(), InitError> {
    loop {
        let r = if blocking {
            sys::process::reap_blocking()
        } else {
            sys::process::reap_any()
        };
        match r.map_err(sys_err("waitpid"))? {
            Some((pid, status)) => {
                if let Some(container) = task.running.remove(&pid) {
                    // The agent may be gone; keep reaping regardless.
                    let _ = ch.send(&FromInit::ContainerExited { container, status });
                } else if let Some(id) = task.execs.remove(&pid) {
                    let _ = ch.send(&FromInit::ExecExited { id, status });
                }
            }
            None => return Ok(()),
        }
    }
}

fn kill_everything(ch: &mut Chan, task: &mut Task) -> Result<(), InitError> {
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
    fn minimal_root_holds_only_the_volume_and_proc() {
        let tree = Confined {
            path: "/d/images/layers".into(),
            fd: None,
        };
        for layers in [None, Some(&tree)] {
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
                want.push("attach /d/images/layers -> /d/run/t/vol/layers".to_owned());
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
