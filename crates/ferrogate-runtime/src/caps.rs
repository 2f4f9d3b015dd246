//! Capabilities: Docker's default set.

/// Docker's default capability set (moby `oci/caps/defaults.go`).
pub const DOCKER_DEFAULT_CAPS: &[(&str, u32)] = &[
    ("CAP_CHOWN", 0),
    ("CAP_DAC_OVERRIDE", 1),
    ("CAP_FOWNER", 3),
    ("CAP_FSETID", 4),
    ("CAP_KILL", 5),
    ("CAP_SETGID", 6),
    ("CAP_SETUID", 7),
    ("CAP_SETPCAP", 8),
    ("CAP_NET_BIND_SERVICE", 10),
    ("CAP_NET_RAW", 13),
    ("CAP_SYS_CHROOT", 18),
    ("CAP_MKNOD", 27),
    ("CAP_AUDIT_WRITE", 29),
    ("CAP_SETFCAP", 31),
];

/// The default set as a 64-bit mask.
pub fn default_mask() -> u64 {
    DOCKER_DEFAULT_CAPS
        .iter()
        .fold(0u64, |m, (_, c)| m | (1u64 << c))
}

/// Highest capability number the kernel knows.
pub fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

/// Capabilities to drop from the bounding set: everything not in `keep`.
pub fn to_drop(keep: u64, last: u32) -> Vec<u32> {
    (0..=last.min(63))
        .filter(|c| keep & (1u64 << c) == 0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_set_has_no_admin_powers() {
        let m = default_mask();
        for forbidden in [
            21u32, /* SYS_ADMIN */
            16,    /* SYS_MODULE */
            19,    /* SYS_PTRACE */
            12,    /* NET_ADMIN */
            2,     /* DAC_READ_SEARCH */
            17,    /* SYS_RAWIO */
            24,    /* SYS_RESOURCE */
        ] {
            assert_eq!(m & (1 << forbidden), 0, "cap {forbidden}");
        }
        assert_eq!(m.count_ones() as usize, DOCKER_DEFAULT_CAPS.len());
        let drop = to_drop(m, 40);
        assert_eq!(drop.len(), 41 - DOCKER_DEFAULT_CAPS.len());
        assert!(drop.contains(&21) && !drop.contains(&0));
    }
}
