//! What the host must provide, checked up front with errors that name the
//! missing piece. There is no degraded mode: without FUSE the XTS backend is
//! unavailable and the default falls back to fscrypt; without fscrypt either
//! there is no volume, never a plaintext one.

use std::path::{Path, PathBuf};

/// One host requirement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requirement {
    /// Running as root (loop devices, mounts, fscrypt keys, namespaces).
    Root,
    /// `/dev/loop-control` (CONFIG_BLK_DEV_LOOP).
    LoopControl,
    /// ext4 with encryption support (CONFIG_FS_ENCRYPTION).
    Ext4Encryption,
    /// FUSE (`/dev/fuse`, CONFIG_FUSE_FS), for the XTS volume backend.
    Fuse,
    /// e2fsprogs' `mkfs.ext4`.
    MkfsExt4,
    /// overlayfs (CONFIG_OVERLAY_FS).
    Overlayfs,
    /// cgroup v1 cpu/memory/pids controllers, or cgroup v2 with them.
    Cgroups,
    /// Task memory kept off swap: no active swap area, or cgroup v2 with
    /// swap accounting (`memory.swap.max`). Swapped-out pages would be
    /// written to the swap device in clear.
    SwapControl,
}

impl std::fmt::Display for Requirement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Requirement::Root => "root privileges",
            Requirement::LoopControl => "loop devices (/dev/loop-control)",
            Requirement::Ext4Encryption => "ext4 encryption (fscrypt)",
            Requirement::Fuse => "FUSE (/dev/fuse)",
            Requirement::MkfsExt4 => "mkfs.ext4 (e2fsprogs)",
            Requirement::Overlayfs => "overlayfs",
            Requirement::Cgroups => "cgroup cpu, memory and pids controllers",
            Requirement::SwapControl => {
                "swap control (no active swap, or cgroup v2 memory.swap.max)"
            }
        })
    }
}

/// A missing requirement.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("host is missing {requirement}: {detail}")]
pub struct HostError {
    /// What is missing.
    pub requirement: Requirement,
    /// How we found out.
    pub detail: String,
}

/// Raises this process's soft limit on open files to its hard limit (a server accepts
/// more connections than the usual soft limit of 1024). Failure is logged, not fatal.
pub fn raise_open_file_limit() {
    match crate::sys::process::raise_nofile_limit() {
        Ok(n) => tracing::debug!(limit = n, "open file limit"),
        Err(e) => tracing::warn!(error = %e, "cannot raise the open file limit"),
    }
}

pub(crate) fn missing(requirement: Requirement, detail: impl Into<String>) -> HostError {
    HostError {
        requirement,
        detail: detail.into(),
    }
}

/// True if the effective uid is 0.
pub fn is_root() -> bool {
    crate::sys::geteuid() == 0
}

/// For a root-only unit test named `test`: true if it may run. Otherwise it
/// is skipped with a note, or fails when `CI=true` (CI runs as root).
#[cfg(test)]
pub(crate) fn test_may_run_as_root(test: &str) -> bool {
    if is_root() {
        return true;
    }
    assert_ne!(
        std::env::var("CI").as_deref(),
        Ok("true"),
        "{test} needs root; CI=true, so this fails instead of skipping"
    );
    eprintln!("SKIPPED {test}: needs root");
    false
}

/// Requirements of the fscrypt volume backend.
pub fn check_fscrypt_host(mkfs: &Path) -> Result<(), HostError> {
    check_loop_host(mkfs)?;
    if !Path::new("/sys/fs/ext4/features/encryption").exists() {
        return Err(missing(
            Requirement::Ext4Encryption,
            "/sys/fs/ext4/features/encryption does not exist (kernel built without CONFIG_FS_ENCRYPTION)",
        ));
    }
    Ok(())
}

/// Requirements of the XTS volume backend: loop devices, `mkfs.ext4` and a
/// FUSE device this process can open.
pub fn check_xts_host(mkfs: &Path) -> Result<(), HostError> {
    check_loop_host(mkfs)?;
    let fs = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
    if !fs
        .lines()
        .any(|l| l.split_whitespace().last() == Some("fuse"))
    {
        return Err(missing(
            Requirement::Fuse,
            "fuse is not in /proc/filesystems (kernel built without CONFIG_FUSE_FS)",
        ));
    }
    crate::sys::fuse::open_dev()
        .map(drop)
        .map_err(|e| missing(Requirement::Fuse, format!("opening /dev/fuse: {e}")))
}

/// Requirements shared by every ext4-on-loop volume.
pub fn check_loop_host(mkfs: &Path) -> Result<(), HostError> {
    if !is_root() {
        return Err(missing(
            Requirement::Root,
            format!("effective uid is {}, need 0", crate::sys::geteuid()),
        ));
    }
    if !Path::new("/dev/loop-control").exists() {
        return Err(missing(
            Requirement::LoopControl,
            "/dev/loop-control does not exist",
        ));
    }
    if !is_executable(mkfs) {
        return Err(missing(
            Requirement::MkfsExt4,
            format!(
                "{} is not an executable file (install e2fsprogs)",
                mkfs.display()
            ),
        ));
    }
    Ok(())
}

/// Requirements of the sandbox (namespaces are assumed on any 5.x+ kernel).
pub fn check_sandbox_host() -> Result<(), HostError> {
    if !is_root() {
        return Err(missing(Requirement::Root, "sandboxes need root"));
    }
    let fs = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
    if !fs
        .lines()
        .any(|l| l.split_whitespace().last() == Some("overlay"))
    {
        return Err(missing(
            Requirement::Overlayfs,
            "overlay is not in /proc/filesystems",
        ));
    }
    Ok(())
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Finds `mkfs.ext4` in the usual places.
pub fn find_mkfs_ext4() -> PathBuf {
    for d in ["/usr/sbin", "/sbin", "/usr/bin", "/bin"] {
        let p = Path::new(d).join("mkfs.ext4");
        if is_executable(&p) {
            return p;
        }
    }
    PathBuf::from("/usr/sbin/mkfs.ext4")
}
