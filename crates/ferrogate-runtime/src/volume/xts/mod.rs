//! The XTS backend: full-volume AES-256-XTS under ext4, in userspace.
//!
//! ```text
//!  task ──ext4──▶ /dev/loopN ──(direct I/O, 4 KiB)──▶ xts/<vol>/disk   plaintext, FUSE
//!                                                        │ agent threads: AES-256-XTS
//!                                                        ▼ (aws-lc), O_DIRECT
//!                                                  volumes/<vol>.img   ciphertext only
//! ```
//!
//! The key is derived from the data key in [`kdf`] and lives only in the
//! server's key slots; `destroy` frees it. A crash of the agent takes the
//! server (threads of the agent) and the key with it: the kernel aborts the
//! FUSE connection, the loop device gets I/O errors, and what is left on disk
//! is ciphertext whose key no longer exists anywhere.

pub mod disk;
pub mod kdf;
pub mod proto;
pub mod server;
mod worker;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use kdf::{KdfError, XtsKey, XTS_KDF_INFO};
pub use server::{ServeParams, ServerConfig, FUSE_FSTYPE};

use super::{
    check_size, seal_without_keyring, BlockCrypt, BlockShutdown, Seal, ShredReport, VolumeBackend,
    VolumeDevice, VolumeError, VolumeKind, VolumeRequest,
};
use crate::layout::DataLayout;
use crate::secret::DataKey;
use crate::syscall::Syscall;

/// Starts encryption servers. The real one mounts FUSE ([`FuseServers`]);
/// tests substitute a recording fake, as they do for [`Syscall`].
pub trait XtsServers: Send + Sync + std::fmt::Debug {
    /// Starts serving `p.backing` at `p.mountpoint` under `key`.
    fn start(&self, p: &ServeParams<'_>, key: XtsKey) -> io::Result<Box<dyn BlockCrypt>>;
}

/// The FUSE servers of [`server`].
#[derive(Clone, Copy, Debug, Default)]
pub struct FuseServers(pub ServerConfig);

impl XtsServers for FuseServers {
    fn start(&self, p: &ServeParams<'_>, key: XtsKey) -> io::Result<Box<dyn BlockCrypt>> {
        Ok(Box::new(server::start(p, key, &self.0)?))
    }
}

/// Full-volume AES-256-XTS (see the module docs).
#[derive(Clone, Debug)]
pub struct XtsVolume {
    mkfs: PathBuf,
    servers: Arc<dyn XtsServers>,
}

impl XtsVolume {
    /// A backend formatting with `mkfs`, default server tuning.
    pub fn new(mkfs: PathBuf) -> Self {
        Self::with_config(mkfs, ServerConfig::default())
    }

    /// A backend with explicit server tuning (benchmarks).
    pub fn with_config(mkfs: PathBuf, config: ServerConfig) -> Self {
        Self::with_servers(mkfs, Arc::new(FuseServers(config)))
    }

    /// A backend whose servers come from `servers` (tests).
    pub fn with_servers(mkfs: PathBuf, servers: Arc<dyn XtsServers>) -> Self {
        XtsVolume { mkfs, servers }
    }

    fn start_layer(
        &self,
        layout: &DataLayout,
        req: &VolumeRequest,
        key: &DataKey,
        backing: &Path,
    ) -> Result<Box<dyn BlockCrypt>, VolumeError> {
        let xts_key = XtsKey::derive(key)?;
        let mountpoint = layout.xts_mount(&req.volume_id);
        let params = ServeParams {
            volume_id: req.volume_id.as_str(),
            backing,
            mountpoint: &mountpoint,
            size: u64::from(req.size_gib) << 30,
        };
        self.servers
            .start(&params, xts_key)
            .map_err(|source| VolumeError::BlockLayer {
                path: mountpoint.clone(),
                source,
            })
    }
}

/// Undoes a partial `create`, newest first; the key dies with `block`.
fn undo(
    sys: &dyn Syscall,
    image: &Path,
    mountpoint: &Path,
    block: Option<Box<dyn BlockCrypt>>,
    e: VolumeError,
) -> VolumeError {
    if let Some(mut b) = block {
        let _ = b.shutdown();
    }
    let _ = sys.remove_dir(mountpoint);
    let _ = sys.remove_file(image);
    e
}

impl VolumeBackend for XtsVolume {
    fn kind(&self) -> VolumeKind {
        VolumeKind::Xts
    }

    fn check_host(&self) -> Result<(), VolumeError> {
        crate::host::check_xts_host(&self.mkfs).map_err(VolumeError::from)
    }

    fn create(
        &self,
        sys: &dyn Syscall,
        layout: &DataLayout,
        req: &VolumeRequest,
        key: &DataKey,
    ) -> Result<VolumeDevice, VolumeError> {
        check_size(req)?;
        let image = layout.volume_image(&req.volume_id);
        let mountpoint = layout.xts_mount(&req.volume_id);
        sys.create_sparse_file(&image, u64::from(req.size_gib) << 30)
            .map_err(|source| VolumeError::CreateImage {
                path: image.clone(),
                source,
            })?;
        if let Err(source) = sys.mkdir_all(&mountpoint, 0o700) {
            let e = VolumeError::BlockLayer {
                path: mountpoint.clone(),
                source,
            };
            return Err(undo(sys, &image, &mountpoint, None, e));
        }
        let block = match self.start_layer(layout, req, key, &image) {
            Ok(b) => b,
            Err(e) => return Err(undo(sys, &image, &mountpoint, None, e)),
        };
        let loop_file = block.device_file().to_owned();
        let loop_dev = match sys.loop_attach(&loop_file, true) {
            Ok(l) => l,
            Err(source) => {
                let e = VolumeError::LoopAttach {
                    path: loop_file,
                    source,
                };
                return Err(undo(sys, &image, &mountpoint, Some(block), e));
            }
        };
        if let Err(source) = sys.mkfs_ext4(&self.mkfs, &loop_dev.path(), false) {
            let _ = sys.loop_detach(&loop_dev);
            drop(loop_dev);
            let e = VolumeError::Mkfs {
                path: image.clone(),
                source,
            };
            return Err(undo(sys, &image, &mountpoint, Some(block), e));
        }
        Ok(VolumeDevice {
            volume_id: req.volume_id.clone(),
            image,
            loop_dev,
            loop_file,
            block: Some(block),
        })
    }

    fn seal(&self, sys: &dyn Syscall, fs_root: &Path, key: DataKey) -> Result<Seal, VolumeError> {
        // The whole filesystem is already encrypted under a key derived from
        // this one; the data key itself is no longer needed.
        seal_without_keyring(sys, fs_root, key)
    }

    fn shred(
        &self,
        _sys: &dyn Syscall,
        _fs_root: &Path,
        _seal: &Seal,
    ) -> Result<ShredReport, VolumeError> {
        // The unmount that follows still writes through the key; it is
        // destroyed in `destroy`.
        Ok(ShredReport::default())
    }

    fn destroy(&self, sys: &dyn Syscall, dev: VolumeDevice) -> Result<(), VolumeError> {
        let VolumeDevice {
            image,
            loop_dev,
            block,
            ..
        } = dev;
        let detach = sys.loop_detach(&loop_dev);
        let device = loop_dev.path();
        drop(loop_dev);
        // The key goes first, whatever happened to the loop device.
        let (shutdown, mountpoint) = match block {
            Some(mut b) => {
                let m = b.device_file().parent().map(Path::to_owned);
                (b.shutdown(), m)
            }
            None => (
                BlockShutdown {
                    key_destroyed: true,
                    unmounted: true,
                    workers_stopped: true,
                    error: None,
                },
                None,
            ),
        };
        let delete = sys.remove_file(&image);
        if let Some(m) = &mountpoint {
            let _ = sys.remove_dir(m);
        }
        if !shutdown.key_destroyed {
            return Err(VolumeError::KeyNotDestroyed);
        }
        detach.map_err(|source| VolumeError::LoopDetach { device, source })?;
        if let Some(e) = shutdown.error {
            return Err(VolumeError::BlockShutdown(e));
        }
        if !shutdown.workers_stopped {
            return Err(VolumeError::BlockShutdown(
                "worker threads did not exit (the key is destroyed)".into(),
            ));
        }
        delete.map_err(|source| VolumeError::DeleteImage {
            path: image,
            source,
        })
    }
}

#[cfg(test)]
mod tests;
