//! cgroup limits per task: cgroup v2 when its root has the cpu, memory and
//! pids controllers, otherwise cgroup v1 (this project's hosts: v1).
//!
//! Layout (per controller hierarchy in v1, once in v2):
//! `ferrogate/<instance>/<task_id>/{init, c-<container>}`. The task cgroup
//! carries the task's `cpu` and `memory`; each container gets a leaf so OOM
//! kills are attributed to the right container (and can carry the
//! container-level memory limit). `<instance>` is derived from the data
//! directory, so two agents with different data directories never sweep each
//! other's cgroups.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::host::{HostError, Requirement};
use crate::ids::TaskId;

/// CFS period used for the quota (100 ms, the kernel default).
pub const CFS_PERIOD_US: u64 = 100_000;
/// Default `pids.max` per task (threads count): enough for a database or a JVM with many
/// threads, and 28 tasks' worth fit in the 32768 process ids of a default kernel with
/// 4096 kept for the host (admission control reserves each task's `pids.max`).
pub const DEFAULT_PIDS_MAX: u32 = 1024;

/// Which cgroup version is in use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CgroupVersion {
    /// v1: one mount per controller.
    V1 {
        /// cpu controller mount.
        cpu: PathBuf,
        /// memory controller mount.
        memory: PathBuf,
        /// pids controller mount.
        pids: PathBuf,
        /// devices controller mount, if any.
        devices: Option<PathBuf>,
    },
    /// v2: the unified hierarchy root.
    V2 {
        /// Mount point.
        root: PathBuf,
    },
}

/// Limits for one task.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// ECS cpu units (1024 = one vCPU). `None`: no CPU limit.
    pub cpu_units: Option<u32>,
    /// Memory in MiB. `None`: no memory limit.
    pub memory_mib: Option<u32>,
    /// Max processes.
    pub pids_max: Option<u32>,
}

/// cgroup errors.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// Host has no usable controllers.
    #[error(transparent)]
    Host(#[from] HostError),
    /// A cgroup file operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What.
        op: &'static str,
        /// Where.
        path: PathBuf,
        /// Cause.
        source: io::Error,
    },
}

fn ioe(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> CgroupError {
    let path = path.to_owned();
    move |source| CgroupError::Io { op, path, source }
}

/// True if `/proc/swaps` (its contents) lists an active swap area.
pub fn swap_active(proc_swaps: &str) -> bool {
    proc_swaps.lines().skip(1).any(|l| !l.trim().is_empty())
}

fn unaccounted_swap(detail: &str) -> HostError {
    crate::host::missing(crate::host::Requirement::SwapControl, detail)
}

/// The cgroup subtree of one agent instance.
#[derive(Clone, Debug)]
pub struct Cgroups {
    version: CgroupVersion,
    instance: String,
}

/// Derives the instance name from the data directory (first 12 hex digits of
/// its sha256).
pub fn instance_for(data_dir: &Path) -> String {
    let d = crate::image::Digest::of(data_dir.as_os_str().as_encoded_bytes());
    d.hex()[..12].to_owned()
}

impl Cgroups {
    /// Detects the host's cgroup setup from `/proc/self/mountinfo`.
    pub fn detect(instance: &str) -> Result<Self, CgroupError> {
        let mi = fs::read_to_string("/proc/self/mountinfo")
            .map_err(ioe("reading", Path::new("/proc/self/mountinfo")))?;
        Ok(Self::with_version(detect_version(&mi)?, instance))
    }

    /// An explicit setup (tests use a temporary directory as the root).
    pub fn with_version(version: CgroupVersion, instance: &str) -> Self {
        Cgroups {
            version,
            instance: instance.to_owned(),
        }
    }

    /// The detected version.
    pub fn version(&self) -> &CgroupVersion {
        &self.version
    }

    /// `ferrogate/<instance>` in each hierarchy.
    pub fn instance_dirs(&self) -> Vec<PathBuf> {
        let rel = Path::new("ferrogate").join(&self.instance);
        match &self.version {
            CgroupVersion::V1 {
                cpu,
                memory,
                pids,
                devices,
            } => {
                let mut v = vec![cpu.join(&rel), memory.join(&rel), pids.join(&rel)];
                if let Some(d) = devices {
                    v.push(d.join(&rel));
                }
                v
            }
            CgroupVersion::V2 { root } => vec![root.join(rel)],
        }
    }

    /// Refuses a host where task memory could reach swap: cgroup v1 has no
    /// hard swap limit (`memory.swappiness=0`, which the agent sets, does not
    /// stop global reclaim from swapping), so with v1 any active swap area
    /// is refused. cgroup v2 gets `memory.swap.max=0` on every task (see
    /// [`Cgroups::create_task`]).
    pub fn check_swap(&self, proc_swaps: &str) -> Result<(), HostError> {
        match self.version {
            CgroupVersion::V1 { .. } if swap_active(proc_swaps) => Err(unaccounted_swap(
                "swap is active (/proc/swaps) and cgroup v1 cannot keep task memory off it, where it would be written in clear; disable swap (swapoff -a) or use cgroup v2 with swap accounting",
            )),
            _ => Ok(()),
        }
    }

    /// Creates the task's cgroups with `limits`.
    pub fn create_task(&self, task: &TaskId, limits: &Limits) -> Result<TaskCgroup, CgroupError> {
        let tc = TaskCgroup {
            version: self.version.clone(),
            dirs: self
                .instance_dirs()
                .iter()
                .map(|d| d.join(task.as_str()))
                .collect(),
        };
        match &self.version {
            CgroupVersion::V1 { .. } => {
                for d in &tc.dirs {
                    fs::create_dir_all(d).map_err(ioe("creating", d))?;
                }
                let [cpu, mem, pids] = [&tc.dirs[0], &tc.dirs[1], &tc.dirs[2]];
                if let Some(units) = limits.cpu_units {
                    write(&cpu.join("cpu.cfs_period_us"), &CFS_PERIOD_US.to_string())?;
                    write(
                        &cpu.join("cpu.cfs_quota_us"),
                        &cfs_quota_us(units).to_string(),
                    )?;
                }
                if let Some(m) = limits.memory_mib {
                    let bytes = (u64::from(m) << 20).to_string();
                    write(&mem.join("memory.limit_in_bytes"), &bytes)?;
                    let memsw = mem.join("memory.memsw.limit_in_bytes");
                    if memsw.exists() {
                        write(&memsw, &bytes)?;
                    }
                }
                // Best effort only (global reclaim may still swap), hence
                // `check_swap`; leaves created below inherit it.
                write(&mem.join("memory.swappiness"), "0")?;
                write(
                    &pids.join("pids.max"),
                    &limits.pids_max.unwrap_or(DEFAULT_PIDS_MAX).to_string(),
                )?;
            }
            CgroupVersion::V2 { root } => {
                let inst = &self.instance_dirs()[0];
                // Enable controllers down to the task level.
                let mut cur = root.clone();
                for part in [
                    Path::new("ferrogate"),
                    Path::new(&self.instance),
                    Path::new(task.as_str()),
                ] {
                    let _ = write(&cur.join("cgroup.subtree_control"), "+cpu +memory +pids");
                    cur = cur.join(part);
                    fs::create_dir_all(&cur).map_err(ioe("creating", &cur))?;
                }
                let _ = inst;
                let d = &tc.dirs[0];
                write(&d.join("cgroup.subtree_control"), "+cpu +memory +pids")?;
                if let Some(units) = limits.cpu_units {
                    write(
                        &d.join("cpu.max"),
                        &format!("{} {CFS_PERIOD_US}", cfs_quota_us(units)),
                    )?;
                }
                if let Some(m) = limits.memory_mib {
                    write(&d.join("memory.max"), &(u64::from(m) << 20).to_string())?;
                }
                // Task memory never goes to swap, where it would be in clear,
                // with or without a memory limit.
                let swap = d.join("memory.swap.max");
                if swap.exists() {
                    write(&swap, "0")?;
                } else if swap_active(&fs::read_to_string("/proc/swaps").unwrap_or_default()) {
                    return Err(CgroupError::Host(unaccounted_swap(
                        "swap is active (/proc/swaps) and cgroup v2 has no memory.swap.max (swap accounting off): task memory could be written to swap in clear",
                    )));
                }
                write(
                    &d.join("pids.max"),
                    &limits.pids_max.unwrap_or(DEFAULT_PIDS_MAX).to_string(),
                )?;
            }
        }
        Ok(tc)
    }

    /// Task ids that have a cgroup under this instance (for recovery).
    pub fn task_ids(&self) -> Vec<String> {
        let mut ids = std::collections::BTreeSet::new();
        for d in self.instance_dirs() {
            if let Ok(rd) = fs::read_dir(&d) {
                for e in rd.flatten() {
                    if e.path().is_dir() {
                        ids.insert(e.file_name().to_string_lossy().into_owned());
                    }
                }
            }
        }
        ids.into_iter().collect()
    }

    /// Removes this instance's (empty) directories; a no-op while any task
    /// cgroup exists.
    pub fn remove_instance_dirs(&self) {
        for d in self.instance_dirs() {
            let _ = fs::remove_dir(d);
        }
    }

    /// The cgroup of a task that may or may not exist (recovery).
    pub fn existing_task(&self, task: &str) -> TaskCgroup {
        TaskCgroup {
            version: self.version.clone(),
            dirs: self.instance_dirs().iter().map(|d| d.join(task)).collect(),
        }
    }
}

/// ECS cpu units → CFS quota: 1024 units = one CPU = one full period.
pub fn cfs_quota_us(units: u32) -> u64 {
    (u64::from(units) * CFS_PERIOD_US / 1024).max(1000)
}

/// Device cgroup (v1) allow-list for containers: the nodes the sandbox
/// creates in /dev, plus mknod (Docker's default set).
const DEVICE_ALLOW: &[&str] = &[
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",
    "c 1:5 rwm",
    "c 1:7 rwm",
    "c 1:8 rwm",
    "c 1:9 rwm",
    "c 5:0 rwm",
    "c 5:2 rwm",
    "c 136:* rwm",
];

fn write(p: &Path, v: &str) -> Result<(), CgroupError> {
    fs::write(p, v).map_err(ioe("writing", p))
}

fn detect_version(mountinfo: &str) -> Result<CgroupVersion, CgroupError> {
    let mut v1: std::collections::HashMap<&str, PathBuf> = std::collections::HashMap::new();
    let mut v2: Option<PathBuf> = None;
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mount_point = left.split(' ').nth(4).unwrap_or("");
        let mut r = right.split(' ');
        let fstype = r.next().unwrap_or("");
        let _src = r.next();
        let opts = r.next().unwrap_or("");
        match fstype {
            "cgroup" => {
                for o in opts.split(',') {
                    if matches!(o, "cpu" | "memory" | "pids" | "devices") {
                        v1.entry(o).or_insert_with(|| PathBuf::from(mount_point));
                    }
                }
            }
            "cgroup2" => {
                let ctrls = fs::read_to_string(Path::new(mount_point).join("cgroup.controllers"))
                    .unwrap_or_default();
                let have: Vec<&str> = ctrls.split_whitespace().collect();
                if ["cpu", "memory", "pids"].iter().all(|c| have.contains(c)) {
                    v2 = Some(PathBuf::from(mount_point));
                }
            }
            _ => {}
        }
    }
    if let Some(root) = v2 {
        return Ok(CgroupVersion::V2 { root });
    }
    match (v1.get("cpu"), v1.get("memory"), v1.get("pids")) {
        (Some(c), Some(m), Some(p)) => Ok(CgroupVersion::V1 {
            cpu: c.clone(),
            memory: m.clone(),
            pids: p.clone(),
            devices: v1.get("devices").cloned(),
        }),
        _ => Err(HostError {
            requirement: Requirement::Cgroups,
            detail:
                "no cgroup2 mount with cpu, memory and pids, and no cgroup v1 mounts for all three"
                    .into(),
        }
        .into()),
    }
}

/// One task's cgroups.
#[derive(Clone, Debug)]
pub struct TaskCgroup {
    version: CgroupVersion,
    /// v1: cpu, memory, pids[, devices]; v2: one directory.
    dirs: Vec<PathBuf>,
}

impl TaskCgroup {
    /// Creates a leaf (`init` or `c-<container>`), optionally with its own
    /// memory limit, and returns its `cgroup.procs` files (one per hierarchy).
    /// With `restrict_devices` (containers), the v1 devices controller allows
    /// only the nodes the sandbox creates; the init is left unrestricted
    /// because it must mount the task's loop device.
    pub fn create_leaf(
        &self,
        leaf: &str,
        memory_mib: Option<u32>,
        restrict_devices: bool,
    ) -> Result<Vec<PathBuf>, CgroupError> {
        let mut procs = Vec::new();
        for (i, d) in self.dirs.iter().enumerate() {
            let l = d.join(leaf);
            fs::create_dir_all(&l).map_err(ioe("creating", &l))?;
            if restrict_devices && i == 3 {
                write(&l.join("devices.deny"), "a")?;
                for rule in DEVICE_ALLOW {
                    write(&l.join("devices.allow"), rule)?;
                }
            }
            if let Some(m) = memory_mib {
                let bytes = (u64::from(m) << 20).to_string();
                match &self.version {
                    CgroupVersion::V1 { .. } if i == 1 => {
                        write(&l.join("memory.limit_in_bytes"), &bytes)?;
                    }
                    CgroupVersion::V2 { .. } => write(&l.join("memory.max"), &bytes)?,
                    CgroupVersion::V1 { .. } => {}
                }
            }
            if matches!(self.version, CgroupVersion::V1 { .. }) && i == 1 {
                write(&l.join("memory.swappiness"), "0")?;
            }
            procs.push(l.join("cgroup.procs"));
        }
        Ok(procs)
    }

    /// Leaf `cgroup.procs` paths without creating anything.
    pub fn leaf_procs(&self, leaf: &str) -> Vec<PathBuf> {
        self.dirs
            .iter()
            .map(|d| d.join(leaf).join("cgroup.procs"))
            .collect()
    }

    fn memory_dir(&self) -> &Path {
        match self.version {
            CgroupVersion::V1 { .. } => &self.dirs[1],
            CgroupVersion::V2 { .. } => &self.dirs[0],
        }
    }

    /// OOM kills recorded in a leaf (v1 `memory.oom_control`, v2
    /// `memory.events`, line `oom_kill N`).
    pub fn oom_kills(&self, leaf: &str) -> u64 {
        let dir = self.memory_dir().join(leaf);
        let file = match self.version {
            CgroupVersion::V1 { .. } => dir.join("memory.oom_control"),
            CgroupVersion::V2 { .. } => dir.join("memory.events"),
        };
        parse_oom_kill(&fs::read_to_string(file).unwrap_or_default())
    }

    /// Every pid in the task's subtree (host pid namespace).
    pub fn pids(&self) -> Vec<i32> {
        let mut out = Vec::new();
        // The pids hierarchy (v1) or the only one (v2) sees every process.
        let base = match self.version {
            CgroupVersion::V1 { .. } => &self.dirs[2],
            CgroupVersion::V2 { .. } => &self.dirs[0],
        };
        collect_pids(base, &mut out);
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Pids in one leaf.
    pub fn leaf_pids(&self, leaf: &str) -> Vec<i32> {
        let base = match self.version {
            CgroupVersion::V1 { .. } => &self.dirs[2],
            CgroupVersion::V2 { .. } => &self.dirs[0],
        };
        let mut out = Vec::new();
        collect_pids(&base.join(leaf), &mut out);
        out
    }

    /// SIGKILLs every process in the subtree until it is empty (bounded).
    pub fn kill_all(&self) -> usize {
        let mut killed = 0;
        for _ in 0..200 {
            let pids = self.pids();
            if pids.is_empty() {
                return killed;
            }
            for p in pids {
                if crate::sys::process::kill(p, libc::SIGKILL).is_ok() {
                    killed += 1;
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        killed
    }

    /// Removes the leaves and the task cgroups. Fails if processes remain.
    pub fn remove(&self) -> Result<(), CgroupError> {
        let mut first: Option<CgroupError> = None;
        for d in &self.dirs {
            if let Err(e) = remove_tree(d) {
                first.get_or_insert(e);
            }
        }
        match first {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// True if no task cgroup directory remains.
    pub fn is_gone(&self) -> bool {
        self.dirs.iter().all(|d| !d.exists())
    }
}

fn collect_pids(dir: &Path, out: &mut Vec<i32>) {
    if let Ok(s) = fs::read_to_string(dir.join("cgroup.procs")) {
        out.extend(s.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    }
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                collect_pids(&e.path(), out);
            }
        }
    }
}

/// rmdir depth-first (cgroup directories only contain control files, which
/// rmdir removes with the directory).
fn remove_tree(dir: &Path) -> Result<(), CgroupError> {
    if !dir.exists() {
        return Ok(());
    }
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&e.path())?;
            }
        }
    }
    let mut last = None;
    for _ in 0..50 {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            // EBUSY right after the last process exits: the kernel releases
            // the css asynchronously.
            Err(e) => last = Some(e),
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Err(CgroupError::Io {
        op: "removing",
        path: dir.to_owned(),
        source: last.unwrap_or_else(|| io::Error::other("busy")),
    })
}

fn parse_oom_kill(s: &str) -> u64 {
    s.lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_units_to_quota() {
        assert_eq!(cfs_quota_us(1024), 100_000);
        assert_eq!(cfs_quota_us(256), 25_000);
        assert_eq!(cfs_quota_us(4096), 400_000);
        assert_eq!(cfs_quota_us(1), 1000);
    }

    #[test]
    fn detects_v1_when_v2_has_no_controllers() {
        let mi = "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n\
                  32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n\
                  35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n\
                  36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices\n\
                  39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n\
                  41 31 0:38 / /nonexistent/unified rw,relatime - cgroup2 cgroup2 rw\n";
        match detect_version(mi).unwrap() {
            CgroupVersion::V1 {
                cpu,
                memory,
                pids,
                devices,
            } => {
                assert_eq!(cpu, Path::new("/sys/fs/cgroup/cpu"));
                assert_eq!(memory, Path::new("/sys/fs/cgroup/memory"));
                assert_eq!(pids, Path::new("/sys/fs/cgroup/pids"));
                assert_eq!(
                    devices.as_deref(),
                    Some(Path::new("/sys/fs/cgroup/devices"))
                );
            }
            v => panic!("{v:?}"),
        }
        assert!(detect_version("41 31 0:38 / /x rw - cgroup2 cgroup2 rw\n").is_err());
    }

    #[test]
    fn detects_v2_with_controllers() {
        let d = tempfile::tempdir().unwrap();
        fs::write(
            d.path().join("cgroup.controllers"),
            "cpuset cpu io memory pids\n",
        )
        .unwrap();
        let mi = format!(
            "41 31 0:38 / {} rw - cgroup2 cgroup2 rw\n",
            d.path().display()
        );
        assert_eq!(
            detect_version(&mi).unwrap(),
            CgroupVersion::V2 {
                root: d.path().to_owned()
            }
        );
    }

    fn v1_in(d: &Path) -> CgroupVersion {
        CgroupVersion::V1 {
            cpu: d.join("cpu"),
            memory: d.join("memory"),
            pids: d.join("pids"),
            devices: Some(d.join("devices")),
        }
    }

    #[test]
    fn v1_files_written() {
        let d = tempfile::tempdir().unwrap();
        let cg = Cgroups::with_version(v1_in(d.path()), "inst");
        let t = TaskId::new("t1").unwrap();
        let tc = cg
            .create_task(
                &t,
                &Limits {
                    cpu_units: Some(512),
                    memory_mib: Some(64),
                    pids_max: None,
                },
            )
            .unwrap();
        let r = |p: &str| fs::read_to_string(d.path().join(p)).unwrap();
        assert_eq!(r("cpu/ferrogate/inst/t1/cpu.cfs_quota_us"), "50000");
        assert_eq!(r("cpu/ferrogate/inst/t1/cpu.cfs_period_us"), "100000");
        assert_eq!(
            r("memory/ferrogate/inst/t1/memory.limit_in_bytes"),
            (64u64 << 20).to_string()
        );
        assert_eq!(r("pids/ferrogate/inst/t1/pids.max"), "1024");
        assert_eq!(r("memory/ferrogate/inst/t1/memory.swappiness"), "0");
        let procs = tc.create_leaf("c-app", Some(32), true).unwrap();
        // devices.allow is written once per rule; a plain file keeps the last.
        assert_eq!(r("devices/ferrogate/inst/t1/c-app/devices.deny"), "a");
        tc.create_leaf("init", None, false).unwrap();
        assert!(!d
            .path()
            .join("devices/ferrogate/inst/t1/init/devices.deny")
            .exists());
        assert_eq!(procs.len(), 4);
        assert_eq!(
            r("memory/ferrogate/inst/t1/c-app/memory.limit_in_bytes"),
            (32u64 << 20).to_string()
        );
        assert_eq!(r("memory/ferrogate/inst/t1/c-app/memory.swappiness"), "0");
        assert_eq!(r("memory/ferrogate/inst/t1/init/memory.swappiness"), "0");
        assert_eq!(cg.task_ids(), ["t1"]);
        fs::write(
            d.path()
                .join("memory/ferrogate/inst/t1/c-app/memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
        )
        .unwrap();
        assert_eq!(tc.oom_kills("c-app"), 2);
        fs::write(
            d.path().join("pids/ferrogate/inst/t1/c-app/cgroup.procs"),
            "12\n13\n",
        )
        .unwrap();
        assert_eq!(tc.pids(), [12, 13]);
    }

    #[test]
    fn active_swap_is_refused_where_task_memory_could_reach_it() {
        let none = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n";
        let some =
            format!("{none}/swapfile                               file\t\t1048572\t\t0\t\t-2\n");
        assert!(!swap_active(none) && !swap_active("") && swap_active(&some));
        let d = tempfile::tempdir().unwrap();
        let v1 = Cgroups::with_version(v1_in(d.path()), "inst");
        assert!(v1.check_swap(none).is_ok());
        let e = v1.check_swap(&some).unwrap_err();
        assert_eq!(e.requirement, crate::host::Requirement::SwapControl);
        let v2 = Cgroups::with_version(
            CgroupVersion::V2 {
                root: d.path().to_owned(),
            },
            "inst",
        );
        assert!(v2.check_swap(&some).is_ok());
    }

    #[test]
    fn v2_files_written() {
        let d = tempfile::tempdir().unwrap();
        // Present on a kernel with swap accounting.
        fs::create_dir_all(d.path().join("ferrogate/inst/t2")).unwrap();
        fs::write(d.path().join("ferrogate/inst/t2/memory.swap.max"), "max").unwrap();
        let cg = Cgroups::with_version(
            CgroupVersion::V2 {
                root: d.path().to_owned(),
            },
            "inst",
        );
        let tc = cg
            .create_task(
                &TaskId::new("t2").unwrap(),
                &Limits {
                    cpu_units: Some(2048),
                    memory_mib: Some(512),
                    pids_max: Some(100),
                },
            )
            .unwrap();
        let r = |p: &str| fs::read_to_string(d.path().join(p)).unwrap();
        assert_eq!(r("ferrogate/inst/t2/cpu.max"), "200000 100000");
        assert_eq!(
            r("ferrogate/inst/t2/memory.max"),
            (512u64 << 20).to_string()
        );
        assert_eq!(r("ferrogate/inst/t2/pids.max"), "100");
        assert_eq!(
            r("ferrogate/inst/cgroup.subtree_control"),
            "+cpu +memory +pids"
        );
        assert_eq!(r("ferrogate/inst/t2/memory.swap.max"), "0");
        // No memory limit: swap is still forbidden.
        fs::create_dir_all(d.path().join("ferrogate/inst/t3")).unwrap();
        fs::write(d.path().join("ferrogate/inst/t3/memory.swap.max"), "max").unwrap();
        cg.create_task(
            &TaskId::new("t3").unwrap(),
            &Limits {
                cpu_units: None,
                memory_mib: None,
                pids_max: None,
            },
        )
        .unwrap();
        assert_eq!(r("ferrogate/inst/t3/memory.swap.max"), "0");
        fs::create_dir_all(d.path().join("ferrogate/inst/t2/c-x")).unwrap();
        fs::write(
            d.path().join("ferrogate/inst/t2/c-x/memory.events"),
            "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n",
        )
        .unwrap();
        assert_eq!(tc.oom_kills("c-x"), 1);
    }
}
