//! Host uid/gid ranges for task user namespaces.
//!
//! Every task runs in its own user namespace whose ids `0..RANGE_SIZE` are a range of host
//! ids of its own (Kubernetes user namespaces and Podman's `--userns=auto` do the same), so
//! that container root is an unprivileged host user with no claim on any host file.
//!
//! Ranges are slots `first + i * RANGE_SIZE` of a pool. A slot is taken with an exclusive
//! `flock` on `<lock_dir>/<slot>`: the lock is what makes it taken, on the whole host, for
//! every agent (agents with different data directories share one pool) and it cannot leak:
//! the kernel drops it when the last descriptor of the lock file closes. The agent holds
//! one descriptor and the task's sandbox init inherits another, so a range stays taken
//! until the task's processes are gone, even if the agent dies first (its init then kills
//! the task and exits, see `sandbox::init`). The slot is also written in the task record.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

/// Ids per task: the 16-bit range every image expects (0 to 65535; `nobody` is 65534).
pub const RANGE_SIZE: u32 = 65536;

/// Where slots are locked by default: a tmpfs, cleared at boot like the processes that
/// held the locks.
pub const DEFAULT_LOCK_DIR: &str = "/run/ferrogate/id-ranges";

/// The first host id of the default pool (2^30): far above the ids distributions hand to
/// users and services, and below 2^31, so no tool that reads ids as signed numbers sees a
/// negative one.
pub const DEFAULT_FIRST_ID: u32 = 1 << 30;

/// Slots in the default pool: 2^30 .. 2^31.
pub const DEFAULT_SLOTS: u32 = 16384;

/// A pool of id ranges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdPool {
    /// Host id of slot 0.
    pub first_id: u32,
    /// Number of slots.
    pub slots: u32,
    /// Directory of the slot lock files.
    pub lock_dir: PathBuf,
}

impl Default for IdPool {
    fn default() -> Self {
        IdPool {
            first_id: DEFAULT_FIRST_ID,
            slots: DEFAULT_SLOTS,
            lock_dir: PathBuf::from(DEFAULT_LOCK_DIR),
        }
    }
}

impl IdPool {
    /// Checks that every slot's ids fit in a `u32` below `u32::MAX` (reserved: -1) and do
    /// not include host root.
    pub fn validate(&self) -> Result<(), String> {
        let end = u64::from(self.first_id) + u64::from(self.slots) * u64::from(RANGE_SIZE);
        if self.first_id == 0 || self.slots == 0 || end >= u64::from(u32::MAX) {
            return Err(format!(
                "id pool {} + {} x {RANGE_SIZE} must start above 0 and end below 2^32 - 1",
                self.first_id, self.slots
            ));
        }
        Ok(())
    }
}

/// A taken range: held while this value (or a descriptor inherited from [`IdLease::lock`])
/// is alive.
#[derive(Debug)]
pub struct IdLease {
    /// Slot number in the pool.
    pub slot: u32,
    /// Host id of the range's first id (container root).
    pub first_id: u32,
    lock: File,
}

impl IdLease {
    /// The locked file, for a child process to inherit (the lock is shared by every
    /// descriptor of this open file).
    pub fn lock(&self) -> std::os::fd::BorrowedFd<'_> {
        self.lock.as_fd()
    }
}

/// Takes free slots of one pool, round-robin, so a slot just released is the last to be
/// reused.
#[derive(Debug)]
pub struct IdAllocator {
    pool: IdPool,
    next: AtomicU32,
}

impl IdAllocator {
    /// An allocator over `pool` (its lock directory is created, 0700).
    pub fn new(pool: IdPool) -> io::Result<Self> {
        pool.validate()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&pool.lock_dir)?;
        // Start at a slot derived from the process id: agents starting together on one
        // host then rarely probe the same slots first.
        let start = std::process::id() % pool.slots;
        Ok(IdAllocator {
            pool,
            next: AtomicU32::new(start),
        })
    }

    /// Takes a free slot, or `None` when every slot of the pool is taken.
    pub fn take(&self) -> io::Result<Option<IdLease>> {
        let n = self.pool.slots;
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        for i in 0..n {
            let slot = (start + i) % n;
            let lock = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .mode(0o600)
                .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
                .open(self.pool.lock_dir.join(slot.to_string()))?;
            if crate::sys::try_flock_exclusive(lock.as_fd())? {
                self.next.store(slot + 1, Ordering::Relaxed);
                return Ok(Some(IdLease {
                    slot,
                    first_id: self.pool.first_id + slot * RANGE_SIZE,
                    lock,
                }));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(dir: &std::path::Path, slots: u32) -> IdPool {
        IdPool {
            first_id: 1 << 30,
            slots,
            lock_dir: dir.join("locks"),
        }
    }

    #[test]
    fn leases_never_overlap_and_come_back_when_dropped() {
        let d = tempfile::tempdir().unwrap();
        let a = IdAllocator::new(pool(d.path(), 3)).unwrap();
        // A second allocator (another agent on the same host) sees the same locks.
        let b = IdAllocator::new(pool(d.path(), 3)).unwrap();
        let l1 = a.take().unwrap().unwrap();
        let l2 = b.take().unwrap().unwrap();
        let l3 = a.take().unwrap().unwrap();
        let mut slots = vec![l1.slot, l2.slot, l3.slot];
        slots.sort_unstable();
        assert_eq!(slots, [0, 1, 2]);
        for l in [&l1, &l2, &l3] {
            assert_eq!(l.first_id, (1 << 30) + l.slot * RANGE_SIZE);
        }
        assert!(a.take().unwrap().is_none(), "pool exhausted");
        assert!(b.take().unwrap().is_none(), "pool exhausted");
        let freed = l2.slot;
        drop(l2);
        assert_eq!(a.take().unwrap().unwrap().slot, freed);
    }

    #[test]
    fn an_inherited_descriptor_keeps_the_slot_taken() {
        let d = tempfile::tempdir().unwrap();
        let a = IdAllocator::new(pool(d.path(), 1)).unwrap();
        let l = a.take().unwrap().unwrap();
        // What a child that inherited the lock holds: the same open file.
        let child_copy = l.lock().try_clone_to_owned().unwrap();
        drop(l);
        assert!(a.take().unwrap().is_none(), "still held through the copy");
        drop(child_copy);
        assert!(a.take().unwrap().is_some());
    }

    #[test]
    fn pools_that_overflow_or_start_at_root_are_refused() {
        let d = tempfile::tempdir().unwrap();
        for p in [
            IdPool {
                first_id: 0,
                ..pool(d.path(), 1)
            },
            IdPool {
                first_id: u32::MAX - RANGE_SIZE,
                ..pool(d.path(), 1)
            },
            IdPool {
                slots: 0,
                ..pool(d.path(), 1)
            },
        ] {
            assert!(p.validate().is_err(), "{p:?}");
        }
        assert!(IdPool::default().validate().is_ok());
    }
}
