//! Messages between the agent and a task's sandbox init, one JSON object per
//! line over a socketpair (fd 3 in the init). No secret ever crosses it: the
//! agent adds the volume key itself, through `/proc/<init>/root`.

use std::io::{self, Read, Write};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::rootfs::BindMount;
use crate::sys::process::WaitStatus;

/// Everything the init needs, sent once at start.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InitConfig {
    /// Task id (for messages).
    pub task_id: String,
    /// UTS hostname.
    pub hostname: String,
    /// Every container's `/etc/hosts`.
    pub etc_hosts: String,
    /// Every container's `/etc/resolv.conf`; `None` leaves the image's (a task without
    /// a network has no resolver to reach).
    pub resolv_conf: Option<String>,
    /// `/dev/loopN` of the task volume.
    pub volume_device: PathBuf,
    /// The task's mount point on the host: the init mounts its minimal root
    /// there (inside its own mount namespace only) and pivots into it; the
    /// volume ends up at `INIT_VOLUME` in that root.
    pub volume_mount: PathBuf,
    /// Parent of the layer directories.
    pub layers_root: PathBuf,
    /// The first host id of the task's id range: container root as the host sees it
    /// (the task's user namespace maps its ids 0..65535 onto `id_base..id_base + 65536`).
    pub id_base: u32,
    /// Task volume names (directories under `data/volumes/`).
    pub volumes: Vec<String>,
    /// Containers, in start order.
    pub containers: Vec<ContainerLaunch>,
}

/// One container, fully resolved by the agent.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ContainerLaunch {
    /// Container name.
    pub name: String,
    /// argv.
    pub argv: Vec<String>,
    /// `KEY=value` environment.
    pub env: Vec<String>,
    /// Working directory inside the container.
    pub cwd: String,
    /// ECS `user`, resolved against the image's /etc/passwd at start.
    pub user: Option<String>,
    /// Layer directory names under `layers_root`, bottom first.
    pub layers: Vec<String>,
    /// `cgroup.procs` of the container leaf, one per hierarchy.
    pub cgroup_procs: Vec<PathBuf>,
    /// Task volumes bound into the container (`source` relative to the
    /// volume's `data/volumes/`).
    pub binds: Vec<BindMount>,
    /// `readonlyRootFilesystem`.
    pub readonly_root: bool,
}

/// Agent → init.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum ToInit {
    /// The configuration (first message).
    Config(Box<InitConfig>),
    /// Key and policy are in place: start the containers.
    VolumeSealed,
    /// Send a signal to a container's main process.
    Signal {
        /// Container name.
        container: String,
        /// Signal number.
        signal: i32,
    },
    /// Run `argv` inside a running container (its mount namespace, cgroup, user,
    /// environment, working directory, capabilities and seccomp filter), with no input
    /// or output: a health check. Answered by `ExecExited` or `ExecFailed`.
    Exec {
        /// Chosen by the agent, echoed in the answer.
        id: u64,
        /// Container name.
        container: String,
        /// argv.
        argv: Vec<String>,
    },
    /// SIGKILL an `Exec` (its whole process group) that is still running.
    KillExec {
        /// Its id.
        id: u64,
    },
    /// SIGKILL every process of the task and reap them; answer `Quiesced`.
    KillAll,
    /// Unmount the volume, answer `Unmounted`, exit.
    Unmount,
}

/// Init → agent.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum FromInit {
    /// The volume filesystem is mounted at `volume_mount`.
    VolumeMounted,
    /// A container's process exec'd.
    ContainerStarted {
        /// Name.
        container: String,
        /// Pid inside the task's PID namespace.
        pid: i32,
    },
    /// A container could not be started.
    ContainerFailed {
        /// Name.
        container: String,
        /// Why.
        error: String,
    },
    /// A container's main process ended.
    ContainerExited {
        /// Name.
        container: String,
        /// How.
        status: WaitStatus,
    },
    /// An `Exec` ended.
    ExecExited {
        /// Its id.
        id: u64,
        /// How.
        status: WaitStatus,
    },
    /// An `Exec` could not start.
    ExecFailed {
        /// Its id.
        id: u64,
        /// The container's main process is gone (its exit is being reported): the failure
        /// says nothing of the container's health. Otherwise the check itself could not
        /// start (program missing, say), which counts as a failed check.
        container_gone: bool,
        /// Why.
        error: String,
    },
    /// No process of the task is left except the init.
    Quiesced,
    /// Result of `Unmount`.
    Unmounted {
        /// Error text, if unmounting failed.
        error: Option<String>,
    },
    /// The init cannot continue.
    Fatal {
        /// Why.
        error: String,
    },
}

/// Encodes one message as a line.
pub fn encode<T: Serialize>(msg: &T) -> io::Result<Vec<u8>> {
    let mut v = serde_json::to_vec(msg).map_err(io::Error::other)?;
    v.push(b'\n');
    Ok(v)
}

/// A blocking line channel (the init side).
pub struct LineChannel<S> {
    stream: S,
    buf: Vec<u8>,
}

impl<S: Read + Write> LineChannel<S> {
    /// Wraps a stream.
    pub fn new(stream: S) -> Self {
        LineChannel {
            stream,
            buf: Vec::new(),
        }
    }
    /// The stream (for polling).
    pub fn get_ref(&self) -> &S {
        &self.stream
    }
    /// Sends one message.
    pub fn send<T: Serialize>(&mut self, msg: &T) -> io::Result<()> {
        self.stream.write_all(&encode(msg)?)
    }
    /// A complete buffered message, if any.
    pub fn try_take<T: for<'de> Deserialize<'de>>(&mut self) -> io::Result<Option<T>> {
        let Some(nl) = self.buf.iter().position(|b| *b == b'\n') else {
            return Ok(None);
        };
        let line: Vec<u8> = self.buf.drain(..=nl).collect();
        serde_json::from_slice(&line[..line.len() - 1])
            .map(Some)
            .map_err(io::Error::other)
    }
    /// Reads once from the stream into the buffer. `Ok(false)` on EOF.
    pub fn fill(&mut self) -> io::Result<bool> {
        let mut chunk = [0u8; 8192];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
    /// Blocks for the next message. `Ok(None)` on EOF.
    pub fn recv<T: for<'de> Deserialize<'de>>(&mut self) -> io::Result<Option<T>> {
        loop {
            if let Some(m) = self.try_take()? {
                return Ok(Some(m));
            }
            if !self.fill()? {
                return Ok(None);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_over_a_socketpair() {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let mut ca = LineChannel::new(a);
        let mut cb = LineChannel::new(b);
        ca.send(&ToInit::Signal {
            container: "x".into(),
            signal: 15,
        })
        .unwrap();
        ca.send(&ToInit::KillAll).unwrap();
        assert!(matches!(
            cb.recv::<ToInit>().unwrap(),
            Some(ToInit::Signal { signal: 15, .. })
        ));
        assert!(matches!(
            cb.recv::<ToInit>().unwrap(),
            Some(ToInit::KillAll)
        ));
        cb.send(&FromInit::ContainerExited {
            container: "x".into(),
            status: WaitStatus::Exited(3),
        })
        .unwrap();
        match ca.recv::<FromInit>().unwrap() {
            Some(FromInit::ContainerExited { status, .. }) => {
                assert_eq!(status, WaitStatus::Exited(3))
            }
            m => panic!("{m:?}"),
        }
        drop(ca);
        assert!(cb.recv::<ToInit>().unwrap().is_none());
    }
}
