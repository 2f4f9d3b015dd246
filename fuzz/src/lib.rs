//! Shared by the fuzz targets: a scratch directory and, when the fuzzer runs as root (as CI
//! does), a per-thread drop of privileges around the code under test.
//!
//! The unpacker's whole point is that an archive cannot touch anything outside its
//! destination. Fuzzing it as root would let a regression in exactly that property change
//! host files (a generated `x -> /etc` symlink followed by a write). So the file system work of
//! each input runs with this thread's effective uid and gid set to `nobody` (raw `setresuid`
//! and `setresgid`, which change only the calling thread, unlike libc's wrappers), which drops
//! the thread's capabilities: it can write only the scratch directory. The real ids stay 0 in
//! the saved set, so the thread gets root back afterwards (for cleanup, and before libFuzzer
//! writes a crash file: see [`install_panic_hook`]).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The unprivileged ids the code under test runs as, when the fuzzer is root.
const NOBODY: libc::uid_t = 65534;

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn set_thread_ids(uid: libc::uid_t, gid: libc::gid_t) {
    let keep = libc::uid_t::MAX; // -1: leave unchanged
                                 // SAFETY: raw setresgid/setresuid on the calling thread; arguments are plain integers.
                                 // Order: the gid while the thread still has CAP_SETGID, then the uid; back: uid first.
    unsafe {
        if uid != 0 {
            assert_eq!(
                libc::syscall(libc::SYS_setresgid, keep, gid, keep),
                0,
                "setresgid"
            );
            assert_eq!(
                libc::syscall(libc::SYS_setresuid, keep, uid, keep),
                0,
                "setresuid"
            );
        } else {
            assert_eq!(
                libc::syscall(libc::SYS_setresuid, keep, uid, keep),
                0,
                "setresuid"
            );
            assert_eq!(
                libc::syscall(libc::SYS_setresgid, keep, gid, keep),
                0,
                "setresgid"
            );
        }
    }
}

/// Restores root on the panicking thread before the previous hook (libFuzzer's, which aborts
/// and writes the crash input) runs.
fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if is_root_saved() {
            set_thread_ids(0, 0);
        }
        previous(info);
    }));
}

fn is_root_saved() -> bool {
    let (mut r, mut e, mut s) = (0, 0, 0);
    // SAFETY: getresuid writes three uid_t through valid pointers.
    unsafe { libc::getresuid(&mut r, &mut e, &mut s) };
    r == 0 || s == 0
}

static SCRATCH: OnceLock<PathBuf> = OnceLock::new();

/// Removes the scratch directory when libFuzzer exits (it calls `exit`, which runs no Rust
/// destructors but does run `atexit` handlers).
extern "C" fn remove_scratch() {
    if let Some(d) = SCRATCH.get() {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// The scratch directory of this process (created once; owned by `nobody` when root).
pub fn scratch() -> &'static Path {
    SCRATCH.get_or_init(|| {
        let d = tempfile::Builder::new()
            .prefix("ferrogate-fuzz-")
            .tempdir()
            .expect("scratch dir")
            .keep();
        if is_root() {
            std::os::unix::fs::chown(&d, Some(NOBODY), Some(NOBODY)).expect("chown scratch");
            install_panic_hook();
        }
        // SAFETY: registers a plain function with no preconditions.
        unsafe { libc::atexit(remove_scratch) };
        d
    })
}

/// Runs `f` with a fresh, empty directory inside [`scratch`], unprivileged when the fuzzer is
/// root, and removes the directory afterwards (as root again: a layer may leave mode 000
/// directories behind).
pub fn in_fresh_dir<T>(f: impl FnOnce(&Path) -> T) -> T {
    let base = scratch();
    let dir = base.join("run");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).expect("run dir");
    let root = is_root();
    if root {
        std::os::unix::fs::chown(&dir, Some(NOBODY), Some(NOBODY)).expect("chown run dir");
        set_thread_ids(NOBODY, NOBODY);
    }
    let out = f(&dir);
    if root {
        set_thread_ids(0, 0);
    }
    let _ = std::fs::remove_dir_all(&dir);
    out
}
