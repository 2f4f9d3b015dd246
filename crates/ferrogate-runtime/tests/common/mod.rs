//! Shared helpers for the root integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod fixture;

/// True if the test may run. Not root: prints why and returns false, unless
/// `CI=true`, where a skip would hide a broken pipeline, so it panics.
pub fn require_root(test: &str) -> bool {
    if ferrogate_runtime::host::is_root() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test}: needs root (loop devices, mounts, fscrypt, namespaces); CI=true, so this fails instead of skipping");
    }
    eprintln!("SKIPPED {test}: needs root (run as root, as CI does)");
    false
}

/// A data directory on the host disk (tmpfs cannot hold trusted xattrs for
/// image layers reliably, and /tmp may be tmpfs). Removed on drop.
pub fn data_dir() -> tempfile::TempDir {
    let base = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(base).unwrap();
    tempfile::Builder::new()
        .prefix("fg-")
        .tempdir_in(base)
        .unwrap()
}

/// Loop devices whose backing file is under `dir` (from sysfs).
pub fn loops_backed_under(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/sys/block") {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.starts_with("loop") {
                continue;
            }
            if let Ok(b) = std::fs::read_to_string(e.path().join("loop/backing_file")) {
                if b.trim().starts_with(&*dir.to_string_lossy()) {
                    out.push(format!("{name}: {}", b.trim()));
                }
            }
        }
    }
    out
}

/// Mount points (from our mountinfo) under `dir`.
pub fn mounts_under(dir: &std::path::Path) -> Vec<String> {
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    mi.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.starts_with(&*dir.to_string_lossy()))
        .map(str::to_owned)
        .collect()
}
