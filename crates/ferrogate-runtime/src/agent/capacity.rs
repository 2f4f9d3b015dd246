//! Admission control: what the host can give tasks, and what live tasks hold.
//!
//! Fargate never overcommits a task's resources, and neither does the agent: a task starts
//! only if its CPU, memory, process ids and **all** of its ephemeral storage fit in what is
//! left, and a task that does not fit fails to start with a reason naming the resource, in
//! ECS's placement vocabulary (`RESOURCE:CPU`, `RESOURCE:MEMORY`, ...).
//!
//! Disk is counted as promised, not as used: a volume is a sparse file that may grow to its
//! full size at any time, so what a live task could still write (its size minus what its
//! file already occupies) is held back from the free space of the data directory's file
//! system, checked at each launch, together with a reserve for the host.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::ids::TaskId;

/// Limits and reserves. `None` means "detect from the host".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CapacityConfig {
    /// CPU units (1024 per vCPU) tasks may reserve in all; default every CPU of the host.
    pub cpu_units: Option<u64>,
    /// Memory (MiB) tasks may reserve in all; default the host's memory minus
    /// `reserved_memory_mib`.
    pub memory_mib: Option<u64>,
    /// Memory kept for the host (MiB); default 1024 or a tenth of the memory, the larger.
    pub reserved_memory_mib: Option<u64>,
    /// Ephemeral storage (GiB) tasks may reserve in all; default: what the data
    /// directory's file system has free (checked at each launch) minus `reserved_disk_gib`.
    pub disk_gib: Option<u64>,
    /// Disk kept free for the host (GiB); default 2.
    pub reserved_disk_gib: Option<u64>,
    /// Process ids tasks may reserve in all (each task reserves its `pids.max`); default
    /// the kernel's `pid_max` minus `reserved_pids`.
    pub pids: Option<u64>,
    /// Process ids kept for the host; default 4096.
    pub reserved_pids: Option<u64>,
}

/// A resource tasks reserve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    /// CPU units.
    Cpu,
    /// Memory (MiB).
    Memory,
    /// Ephemeral storage (GiB).
    Disk,
    /// Process ids.
    Pids,
}

impl Resource {
    /// ECS's name of the resource in placement failures.
    pub fn ecs_name(self) -> &'static str {
        match self {
            Resource::Cpu => "RESOURCE:CPU",
            Resource::Memory => "RESOURCE:MEMORY",
            Resource::Disk => "RESOURCE:EPHEMERAL_STORAGE",
            Resource::Pids => "RESOURCE:PIDS",
        }
    }
    fn unit(self) -> &'static str {
        match self {
            Resource::Cpu => "CPU units",
            Resource::Memory => "MiB of memory",
            Resource::Disk => "GiB of ephemeral storage",
            Resource::Pids => "process ids",
        }
    }
}

/// What one task reserves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    /// CPU units.
    pub cpu_units: u64,
    /// Memory, MiB.
    pub memory_mib: u64,
    /// Ephemeral storage, GiB.
    pub disk_gib: u64,
    /// Its `pids.max`.
    pub pids: u64,
}

/// Why a task does not fit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shortfall {
    /// Which resource.
    pub resource: Resource,
    /// What the task asks for.
    pub requested: u64,
    /// What is left for tasks now.
    pub available: u64,
    /// What the host gives tasks in all (for disk: what is free now, reserve deducted).
    pub total: u64,
}

impl fmt::Display for Shortfall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (the task needs {} {}; {} of the {} this host gives tasks are unreserved)",
            self.resource.ecs_name(),
            self.requested,
            self.resource.unit(),
            self.available,
            self.total,
        )
    }
}

/// The host's totals, resolved once at start (disk is looked at per launch unless fixed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capacity {
    /// CPU units.
    pub cpu_units: u64,
    /// Memory, MiB.
    pub memory_mib: u64,
    /// A fixed disk allowance in GiB, or `None` to use free space minus the reserve.
    pub disk_gib: Option<u64>,
    /// Disk reserve, bytes.
    pub reserved_disk_bytes: u64,
    /// Process ids.
    pub pids: u64,
}

const GIB: u64 = 1 << 30;

impl Capacity {
    /// Resolves `cfg` against the host.
    pub fn resolve(cfg: &CapacityConfig) -> Capacity {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
        let mem_total = mem_total_mib().unwrap_or(0);
        let reserved_mem = cfg
            .reserved_memory_mib
            .unwrap_or_else(|| (mem_total / 10).max(1024));
        let pid_max = std::fs::read_to_string("/proc/sys/kernel/pid_max")
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(32768);
        Capacity {
            cpu_units: cfg.cpu_units.unwrap_or(cpus * 1024),
            memory_mib: cfg
                .memory_mib
                .unwrap_or_else(|| mem_total.saturating_sub(reserved_mem)),
            disk_gib: cfg.disk_gib,
            reserved_disk_bytes: cfg.reserved_disk_gib.unwrap_or(2).saturating_mul(GIB),
            pids: cfg
                .pids
                .unwrap_or_else(|| pid_max.saturating_sub(cfg.reserved_pids.unwrap_or(4096))),
        }
    }
}

fn mem_total_mib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: u64 = s
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024)
}

/// What the host looks like now, for the disk check.
pub trait DiskProbe {
    /// Bytes free for unprivileged use on the file system holding the data directory.
    fn free_bytes(&self) -> u64;
    /// Bytes the file at `path` occupies on disk (0 if it does not exist yet).
    fn allocated_bytes(&self, path: &Path) -> u64;
}

/// The real host.
pub struct HostDisk<'a>(pub &'a Path);

impl DiskProbe for HostDisk<'_> {
    fn free_bytes(&self) -> u64 {
        crate::sys::statvfs_available(self.0).unwrap_or(0)
    }
    fn allocated_bytes(&self, path: &Path) -> u64 {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).map_or(0, |m| m.blocks().saturating_mul(512))
    }
}

/// Live tasks' reservations.
#[derive(Debug)]
pub struct Ledger {
    capacity: Capacity,
    live: HashMap<TaskId, (Request, PathBuf)>,
}

impl Ledger {
    /// An empty ledger.
    pub fn new(capacity: Capacity) -> Self {
        Ledger {
            capacity,
            live: HashMap::new(),
        }
    }

    /// The totals.
    pub fn capacity(&self) -> &Capacity {
        &self.capacity
    }

    /// Reserves `req` for `task` (whose volume image will be `image`), or says what does
    /// not fit. Nothing is reserved on failure.
    pub fn admit(
        &mut self,
        task: &TaskId,
        req: Request,
        image: PathBuf,
        disk: &dyn DiskProbe,
    ) -> Result<(), Shortfall> {
        let sum = |f: fn(&Request) -> u64| self.live.values().map(|(r, _)| f(r)).sum::<u64>();
        let c = &self.capacity;
        for (resource, requested, total, used) in [
            (
                Resource::Cpu,
                req.cpu_units,
                c.cpu_units,
                sum(|r| r.cpu_units),
            ),
            (
                Resource::Memory,
                req.memory_mib,
                c.memory_mib,
                sum(|r| r.memory_mib),
            ),
            (Resource::Pids, req.pids, c.pids, sum(|r| r.pids)),
        ] {
            let available = total.saturating_sub(used);
            if requested > available {
                return Err(Shortfall {
                    resource,
                    requested,
                    available,
                    total,
                });
            }
        }
        self.check_disk(req.disk_gib, disk)?;
        self.live.insert(task.clone(), (req, image));
        Ok(())
    }

    fn check_disk(&self, gib: u64, disk: &dyn DiskProbe) -> Result<(), Shortfall> {
        let short = |available, total| Shortfall {
            resource: Resource::Disk,
            requested: gib,
            available,
            total,
        };
        match self.capacity.disk_gib {
            Some(total) => {
                let used: u64 = self.live.values().map(|(r, _)| r.disk_gib).sum();
                let available = total.saturating_sub(used);
                if gib > available {
                    return Err(short(available, total));
                }
            }
            None => {
                // What live volumes may still grow by is already spoken for.
                let promised: u64 = self
                    .live
                    .values()
                    .map(|(r, img)| {
                        r.disk_gib
                            .saturating_mul(GIB)
                            .saturating_sub(disk.allocated_bytes(img))
                    })
                    .sum();
                let usable = disk
                    .free_bytes()
                    .saturating_sub(self.capacity.reserved_disk_bytes);
                let available = usable.saturating_sub(promised);
                if gib.saturating_mul(GIB) > available {
                    return Err(short(available / GIB, usable / GIB));
                }
            }
        }
        Ok(())
    }

    /// Releases `task`'s reservation.
    pub fn release(&mut self, task: &TaskId) {
        self.live.remove(task);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct FakeDisk {
        free: u64,
        used: HashMap<PathBuf, u64>,
    }
    impl DiskProbe for FakeDisk {
        fn free_bytes(&self) -> u64 {
            self.free
        }
        fn allocated_bytes(&self, path: &Path) -> u64 {
            self.used.get(path).copied().unwrap_or(0)
        }
    }

    fn cap(disk_gib: Option<u64>) -> Capacity {
        Capacity {
            cpu_units: 2048,
            memory_mib: 8192,
            disk_gib,
            reserved_disk_bytes: 2 * GIB,
            pids: 4096,
        }
    }
    fn req(cpu: u64, mem: u64, disk: u64, pids: u64) -> Request {
        Request {
            cpu_units: cpu,
            memory_mib: mem,
            disk_gib: disk,
            pids,
        }
    }
    fn id(s: &str) -> TaskId {
        TaskId::new(s).unwrap()
    }

    #[test]
    fn tasks_are_admitted_until_a_resource_runs_out_and_nothing_is_held_on_refusal() {
        let disk = FakeDisk {
            free: 1000 * GIB,
            used: HashMap::new(),
        };
        let mut l = Ledger::new(cap(None));
        l.admit(&id("a"), req(1024, 4096, 20, 1024), "a".into(), &disk)
            .unwrap();
        l.admit(&id("b"), req(1024, 2048, 20, 1024), "b".into(), &disk)
            .unwrap();
        let e = l
            .admit(&id("c"), req(256, 512, 20, 1024), "c".into(), &disk)
            .unwrap_err();
        assert_eq!(
            (e.resource, e.requested, e.available, e.total),
            (Resource::Cpu, 256, 0, 2048)
        );
        assert_eq!(
            e.to_string(),
            "RESOURCE:CPU (the task needs 256 CPU units; 0 of the 2048 this host gives tasks are unreserved)"
        );
        l.release(&id("a"));
        let e = l
            .admit(&id("c"), req(1024, 8192, 20, 1024), "c".into(), &disk)
            .unwrap_err();
        assert_eq!((e.resource, e.available), (Resource::Memory, 6144));
        let e = l
            .admit(&id("c"), req(1024, 1024, 20, 4000), "c".into(), &disk)
            .unwrap_err();
        assert_eq!((e.resource, e.available), (Resource::Pids, 3072));
        l.admit(&id("c"), req(1024, 6144, 20, 3072), "c".into(), &disk)
            .unwrap();
    }

    #[test]
    fn disk_counts_what_live_volumes_may_still_grow_by() {
        let mut disk = FakeDisk {
            free: 60 * GIB,
            used: HashMap::new(),
        };
        let mut l = Ledger::new(cap(None));
        // 60 free - 2 reserve = 58 usable.
        l.admit(&id("a"), req(1, 1, 50, 1), "a.img".into(), &disk)
            .unwrap();
        let e = l
            .admit(&id("b"), req(1, 1, 20, 1), "b.img".into(), &disk)
            .unwrap_err();
        assert_eq!((e.resource, e.available, e.total), (Resource::Disk, 8, 58));
        // Task a wrote 30 GiB: free space shrank by as much, and its promise with it.
        disk.free = 30 * GIB;
        disk.used.insert("a.img".into(), 30 * GIB);
        let e = l
            .admit(&id("b"), req(1, 1, 20, 1), "b.img".into(), &disk)
            .unwrap_err();
        assert_eq!(e.available, 8, "{e}");
        l.release(&id("a"));
        disk.free = 60 * GIB;
        l.admit(&id("b"), req(1, 1, 20, 1), "b.img".into(), &disk)
            .unwrap();
    }

    #[test]
    fn a_fixed_disk_allowance_counts_volume_sizes() {
        let disk = FakeDisk {
            free: 0,
            used: HashMap::new(),
        };
        let mut l = Ledger::new(cap(Some(100)));
        l.admit(&id("a"), req(1, 1, 60, 1), "a".into(), &disk)
            .unwrap();
        let e = l
            .admit(&id("b"), req(1, 1, 50, 1), "b".into(), &disk)
            .unwrap_err();
        assert_eq!(
            (e.resource, e.available, e.total),
            (Resource::Disk, 40, 100)
        );
        l.admit(&id("b"), req(1, 1, 40, 1), "b".into(), &disk)
            .unwrap();
    }

    #[test]
    fn defaults_come_from_the_host() {
        let c = Capacity::resolve(&CapacityConfig::default());
        assert!(c.cpu_units >= 1024);
        assert!(c.memory_mib > 0);
        assert!(c.pids > 0);
        assert_eq!(c.disk_gib, None);
        let fixed = Capacity::resolve(&CapacityConfig {
            cpu_units: Some(1),
            memory_mib: Some(2),
            disk_gib: Some(3),
            pids: Some(4),
            ..CapacityConfig::default()
        });
        assert_eq!(
            (
                fixed.cpu_units,
                fixed.memory_mib,
                fixed.disk_gib,
                fixed.pids
            ),
            (1, 2, Some(3), 4)
        );
    }
}
