//! Installing a classic-BPF seccomp filter.

use std::io;

use super::cvt;

/// One BPF instruction (`struct sock_filter`).
pub type SockFilter = libc::sock_filter;

/// Installs `program` as a seccomp filter for this thread (inherited across
/// fork and exec). Requires `no_new_privs` or `CAP_SYS_ADMIN`.
pub fn install(program: &[SockFilter]) -> io::Result<()> {
    let len = u16::try_from(program.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "BPF program too long"))?;
    let prog = libc::sock_fprog {
        len,
        filter: program.as_ptr().cast_mut(),
    };
    // SAFETY: `prog` points to `len` valid instructions that outlive the call;
    // the kernel copies the program.
    cvt(unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::c_ulong::from(libc::SECCOMP_MODE_FILTER),
            &prog as *const libc::sock_fprog,
        )
    })
    .map(drop)
}
