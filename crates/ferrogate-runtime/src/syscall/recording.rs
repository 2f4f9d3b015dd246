//! [`RecordingSyscall`]: the fake behind the unit tests of provisioning and sandbox setup.

use std::io;
use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{rel_components, single_name, Confined, LoopDevice, Syscall};
use crate::secret::DataKey;
use crate::sys;

/// One recorded call: the operation and its arguments, rendered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// Operation name (the trait method).
    pub op: &'static str,
    /// Arguments, rendered for assertions.
    pub args: String,
}

/// A fake that records every call and succeeds (or fails on request).
/// Never touches the system.
#[derive(Debug, Default)]
pub struct RecordingSyscall {
    calls: Mutex<Vec<Call>>,
    fail: Mutex<Vec<(&'static str, i32)>>,
}

impl RecordingSyscall {
    /// A fresh recorder.
    pub fn new() -> Self {
        Self::default()
    }
    /// Makes every later call of `op` fail with `errno`.
    pub fn fail_on(&self, op: &'static str, errno: i32) {
        self.fail
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((op, errno));
    }
    /// Everything recorded so far.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
    /// Only the operation names, in order.
    pub fn ops(&self) -> Vec<&'static str> {
        self.calls().into_iter().map(|c| c.op).collect()
    }
    fn rec(&self, op: &'static str, args: String) -> io::Result<()> {
        self.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Call { op, args });
        let fail = self.fail.lock().unwrap_or_else(|e| e.into_inner());
        match fail.iter().find(|(o, _)| *o == op) {
            Some((_, errno)) => Err(io::Error::from_raw_os_error(*errno)),
            None => Ok(()),
        }
    }
    /// Records a file written in `dir`: its path, mode and contents.
    fn rec_file(
        &self,
        op: &'static str,
        dir: &Confined,
        name: &str,
        contents: &[u8],
        mode: u32,
    ) -> io::Result<()> {
        self.rec(
            op,
            format!(
                "{} {mode:o} {}",
                p(&dir.path.join(single_name(name)?)),
                String::from_utf8_lossy(contents)
            ),
        )
    }
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

impl Syscall for RecordingSyscall {
    fn create_sparse_file(&self, path: &Path, size: u64) -> io::Result<()> {
        self.rec("create_sparse_file", format!("{} {size}", p(path)))
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.rec("remove_file", p(path))
    }
    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        self.rec("remove_dir", p(path))
    }
    fn mkdir(&self, path: &Path, mode: u32) -> io::Result<()> {
        self.rec("mkdir", format!("{} {mode:o}", p(path)))
    }
    fn mkdir_all(&self, path: &Path, mode: u32) -> io::Result<()> {
        self.rec("mkdir_all", format!("{} {mode:o}", p(path)))
    }
    fn write_file(&self, path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
        self.rec(
            "write_file",
            format!("{} {mode:o} {}", p(path), String::from_utf8_lossy(contents)),
        )
    }
    fn symlink(&self, target: &Path, link: &Path) -> io::Result<()> {
        self.rec("symlink", format!("{} -> {}", p(link), p(target)))
    }
    fn mknod(&self, path: &Path, mode: u32, major: u32, minor: u32) -> io::Result<()> {
        self.rec("mknod", format!("{} {mode:o} {major}:{minor}", p(path)))
    }
    fn chmod(&self, path: &Path, mode: u32) -> io::Result<()> {
        self.rec("chmod", format!("{} {mode:o}", p(path)))
    }
    fn chdir(&self, path: &Path) -> io::Result<()> {
        self.rec("chdir", p(path))
    }
    fn mkfs_ext4(&self, mkfs: &Path, image: &Path, encrypt: bool) -> io::Result<()> {
        self.rec(
            "mkfs_ext4",
            format!("{} {} encrypt={encrypt}", p(mkfs), p(image)),
        )
    }
    fn loop_attach(&self, image: &Path, direct_io: bool) -> io::Result<LoopDevice> {
        self.rec("loop_attach", format!("{} dio={direct_io}", p(image)))?;
        Ok(LoopDevice {
            number: 7,
            fd: None,
        })
    }
    fn loop_detach(&self, dev: &LoopDevice) -> io::Result<()> {
        self.rec("loop_detach", p(&dev.path()))
    }
    fn fscrypt_add_key(&self, fs_root: &Path, _key: &DataKey) -> io::Result<[u8; 16]> {
        self.rec("fscrypt_add_key", p(fs_root))?;
        Ok([0x11; 16])
    }
    fn fscrypt_set_policy(&self, dir: &Path, identifier: &[u8; 16]) -> io::Result<()> {
        self.rec(
            "fscrypt_set_policy",
            format!("{} {:02x}", p(dir), identifier[0]),
        )
    }
    fn fscrypt_remove_key(&self, fs_root: &Path, identifier: &[u8; 16]) -> io::Result<u32> {
        self.rec(
            "fscrypt_remove_key",
            format!("{} {:02x}", p(fs_root), identifier[0]),
        )?;
        Ok(0)
    }
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: u64,
        data: Option<&str>,
    ) -> io::Result<()> {
        self.rec(
            "mount",
            format!(
                "{} -> {} type={} flags={flags:#x} data={}",
                source.map(p).unwrap_or_else(|| "none".into()),
                p(target),
                fstype.unwrap_or("none"),
                data.unwrap_or("")
            ),
        )
    }
    fn umount(&self, target: &Path, flags: i32) -> io::Result<()> {
        self.rec("umount", format!("{} flags={flags:#x}", p(target)))
    }
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> io::Result<()> {
        self.rec("pivot_root", format!("{} {}", p(new_root), p(put_old)))
    }
    fn unshare(&self, flags: i32) -> io::Result<()> {
        self.rec("unshare", format!("{flags:#x}"))
    }
    fn sethostname(&self, name: &str) -> io::Result<()> {
        self.rec("sethostname", name.to_owned())
    }
    fn loopback_up(&self) -> io::Result<()> {
        self.rec("loopback_up", String::new())
    }
    fn set_ids(&self, uid: u32, gid: u32, groups: &[u32]) -> io::Result<()> {
        self.rec("set_ids", format!("{uid} {gid} {groups:?}"))
    }
    fn prctl(&self, option: i32, arg: u64) -> io::Result<i32> {
        self.rec("prctl", format!("{option} {arg}"))?;
        Ok(0)
    }
    fn capset(&self, effective: u64, permitted: u64, inheritable: u64) -> io::Result<()> {
        self.rec(
            "capset",
            format!("{effective:#x} {permitted:#x} {inheritable:#x}"),
        )
    }
    fn setrlimit(&self, resource: u32, soft: u64, hard: u64) -> io::Result<()> {
        self.rec("setrlimit", format!("{resource} {soft} {hard}"))
    }
    fn seccomp(&self, program: &[sys::seccomp::SockFilter]) -> io::Result<()> {
        self.rec("seccomp", format!("{} instructions", program.len()))
    }
    fn open_root(&self, root: &Path) -> io::Result<Confined> {
        self.rec("open_root", p(root))?;
        Ok(Confined {
            path: root.to_owned(),
            fd: None,
        })
    }
    fn resolve_in(&self, root: &Confined, rel: &str) -> io::Result<Confined> {
        let path = root.path.join(rel_components(rel)?.join("/"));
        self.rec("resolve_in", p(&path))?;
        Ok(Confined { path, fd: None })
    }
    fn mkdir_all_in(&self, root: &Confined, rel: &str, mode: u32) -> io::Result<Confined> {
        let path = root.path.join(rel_components(rel)?.join("/"));
        self.rec("mkdir_all_in", format!("{} {mode:o}", p(&path)))?;
        Ok(Confined { path, fd: None })
    }
    fn mkdir_in(&self, dir: &Confined, name: &str, mode: u32) -> io::Result<()> {
        self.rec(
            "mkdir_in",
            format!("{} {mode:o}", p(&dir.path.join(single_name(name)?))),
        )
    }
    fn mknod_in(
        &self,
        dir: &Confined,
        name: &str,
        mode: u32,
        major: u32,
        minor: u32,
    ) -> io::Result<()> {
        self.rec(
            "mknod_in",
            format!(
                "{} {mode:o} {major}:{minor}",
                p(&dir.path.join(single_name(name)?))
            ),
        )
    }
    fn symlink_in(&self, target: &str, dir: &Confined, name: &str) -> io::Result<()> {
        self.rec(
            "symlink_in",
            format!("{} -> {target}", p(&dir.path.join(single_name(name)?))),
        )
    }
    fn write_file_in(
        &self,
        dir: &Confined,
        name: &str,
        contents: &[u8],
        mode: u32,
    ) -> io::Result<()> {
        self.rec_file("write_file_in", dir, name, contents, mode)
    }
    fn replace_file_in(
        &self,
        dir: &Confined,
        name: &str,
        contents: &[u8],
        mode: u32,
    ) -> io::Result<()> {
        self.rec_file("replace_file_in", dir, name, contents, mode)
    }
    fn chmod_in(&self, target: &Confined, mode: u32) -> io::Result<()> {
        self.rec("chmod_in", format!("{} {mode:o}", p(&target.path)))
    }
    fn real_path(&self, target: &Confined) -> io::Result<PathBuf> {
        self.rec("real_path", p(&target.path))?;
        Ok(target.path.clone())
    }
    fn idmapped_tree(
        &self,
        source: &Path,
        _userns: BorrowedFd<'_>,
        read_only: bool,
    ) -> io::Result<Confined> {
        self.rec("idmapped_tree", format!("{} ro={read_only}", p(source)))?;
        Ok(Confined {
            path: source.to_owned(),
            fd: None,
        })
    }
    fn attach(&self, tree: &Confined, target: &Path) -> io::Result<()> {
        self.rec("attach", format!("{} -> {}", p(&tree.path), p(target)))
    }
    fn set_fs_ids(&self, uid: u32, gid: u32) -> io::Result<()> {
        self.rec("set_fs_ids", format!("{uid} {gid}"))
    }
}
