//! Ephemeral task volumes.
//!
//! A volume is a sparse image file of `sizeInGiB` under `volumes/`, with ext4
//! on a loop device. The [`VolumeBackend`] decides how it is protected:
//!
//! - [`XtsVolume`] (the default where FUSE is available): the **whole**
//!   filesystem image is AES-256-XTS encrypted, 4 KiB sectors, tweak = sector
//!   number, key derived from the data key with HKDF-SHA-512. A FUSE server
//!   made of threads of the agent process serves the plaintext as one file,
//!   `xts/<volume_id>/disk`; the loop device sits on that file and the image
//!   under `volumes/` holds only ciphertext. Metadata (names, sizes, the tree,
//!   timestamps, xattrs, the superblock) is hidden too. The key lives only in
//!   that server ([`BlockCrypt`]) and dies at [`VolumeBackend::destroy`].
//! - [`FscryptVolume`]: the 64-byte data key is added to the filesystem
//!   (`FS_IOC_ADD_ENCRYPTION_KEY`) and `data/` gets an fscrypt v2 policy
//!   (AES-256-XTS contents, AES-256-CTS names). The policy cannot go on the
//!   filesystem root (EPERM), hence the subdirectory. Metadata stays in clear.
//! - [`PlaintextControlVolume`]: the same, with no encryption. It exists as the
//!   positive control of the plaintext-scan test and for the throughput
//!   benchmark; the agent's configuration cannot select it.
//!
//! Lifecycle, in this order (each step is a trait method so the order is
//! tested with the recording `Syscall` fake):
//! 1. [`VolumeBackend::create`]: image file, (XTS: key derived, server
//!    started), loop device, mkfs.
//! 2. mount (by the sandbox init, inside the task's mount namespace; or by
//!    [`MountedVolume`] in the caller's namespace).
//! 3. [`VolumeBackend::seal`]: `data/` created; fscrypt: key into the kernel,
//!    policy set. The data key is consumed (zeroized) here.
//! 4. ... task runs ...
//! 5. [`VolumeBackend::shred`]: fscrypt: `FS_IOC_REMOVE_ENCRYPTION_KEY`; busy
//!    files are reported, not ignored. XTS: nothing yet (the unmount still
//!    writes through the key).
//! 6. unmount.
//! 7. [`VolumeBackend::destroy`]: loop detach; XTS: key schedules freed,
//!    FUSE unmounted, workers joined; image deleted.
//!
//! A dm-crypt backend (hosts whose kernel has `CONFIG_DM_CRYPT`) fits the same
//! shape: `create` would set up a mapping over the loop device and hold it as
//! the [`BlockCrypt`]; see docs/configuration.md.

mod fscrypt;
pub mod inspect;
mod plaintext;
mod standalone;
pub mod xts;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use fscrypt::FscryptVolume;
pub use plaintext::PlaintextControlVolume;
pub use standalone::MountedVolume;
pub use xts::XtsVolume;

use crate::host::HostError;
use crate::ids::VolumeId;
use crate::layout::DataLayout;
use crate::secret::DataKey;
use crate::syscall::{LoopDevice, Syscall};

/// Smallest ephemeral storage Fargate allows (also the default).
pub const MIN_SIZE_GIB: u32 = 20;
/// Largest ephemeral storage Fargate allows.
pub const MAX_SIZE_GIB: u32 = 200;

/// Name of the protected directory at the root of every volume filesystem.
pub const DATA_DIR: &str = "data";

/// Flags of the volume filesystem mount: nothing on it is meant to be
/// executed set-uid or opened as a device from the host side.
pub const VOLUME_MOUNT_FLAGS: u64 = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOATIME;
/// The image is fresh and sparse: uninitialised inode tables read as zeros,
/// so the background zeroing thread would only burn I/O.
pub const VOLUME_MOUNT_DATA: &str = "noinit_itable";

/// Which protection a backend gives the volume.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum VolumeKind {
    /// The whole filesystem image AES-256-XTS encrypted (FUSE block layer).
    Xts,
    /// fscrypt v2 on `data/`, AES-256-XTS / AES-256-CTS.
    Fscrypt,
    /// No encryption. Test control only.
    PlaintextControl,
}

/// Which backend the agent uses (`RuntimeConfig::volume_backend`, server
/// option `--volume-backend`). There is no plaintext choice.
///
/// The default is `Auto`: the whole volume encrypted (XTS) wherever the host has FUSE, since
/// fscrypt leaves the filesystem's metadata (sizes, the tree's shape, timestamps, xattrs) in
/// clear and is ten times slower here.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BackendChoice {
    /// [`XtsVolume`] if the host has FUSE, else [`FscryptVolume`].
    #[default]
    Auto,
    /// [`XtsVolume`]; the agent refuses to start without FUSE.
    Xts,
    /// [`FscryptVolume`].
    Fscrypt,
}

impl std::str::FromStr for BackendChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(BackendChoice::Auto),
            "xts" => Ok(BackendChoice::Xts),
            "fscrypt" => Ok(BackendChoice::Fscrypt),
            other => Err(format!(
                "unknown volume backend {other:?} (expected auto, xts or fscrypt)"
            )),
        }
    }
}

impl std::fmt::Display for BackendChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BackendChoice::Auto => "auto",
            BackendChoice::Xts => "xts",
            BackendChoice::Fscrypt => "fscrypt",
        })
    }
}

/// The backend for `choice`: `Auto` takes XTS when the host passes its
/// check (root, loop devices, `mkfs.ext4`, FUSE), fscrypt otherwise; never a
/// plaintext one. An explicit choice is returned as is and checked by the
/// agent at start (`VolumeBackend::check_host`).
pub fn select_backend(choice: BackendChoice, mkfs: &Path) -> Arc<dyn VolumeBackend> {
    let xts = || Arc::new(XtsVolume::new(mkfs.to_owned())) as Arc<dyn VolumeBackend>;
    let fscrypt = || Arc::new(FscryptVolume::new(mkfs.to_owned())) as Arc<dyn VolumeBackend>;
    match choice {
        BackendChoice::Xts => xts(),
        BackendChoice::Fscrypt => fscrypt(),
        BackendChoice::Auto => {
            let x = xts();
            if x.check_host().is_ok() {
                x
            } else {
                fscrypt()
            }
        }
    }
}

/// What ECS asks for: a volume id (bound into the KMS encryption context),
/// a size, and the plaintext data key.
#[derive(Debug)]
pub struct VolumeSpec {
    /// The volume id.
    pub volume_id: VolumeId,
    /// `ephemeralStorage.sizeInGiB`, 20..=200.
    pub size_gib: u32,
    /// Plaintext of the KMS data key (64 bytes).
    pub data_key: DataKey,
}

/// The non-secret part of a [`VolumeSpec`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeRequest {
    /// The volume id.
    pub volume_id: VolumeId,
    /// Size in GiB.
    pub size_gib: u32,
}

/// A created, not yet mounted volume.
#[derive(Debug)]
pub struct VolumeDevice {
    /// The volume id.
    pub volume_id: VolumeId,
    /// Backing image file (ciphertext for XTS).
    pub image: PathBuf,
    /// The loop device.
    pub loop_dev: LoopDevice,
    /// The file the loop device is bound to: the image itself, or the
    /// plaintext view served by the block layer.
    pub loop_file: PathBuf,
    /// The block-encryption layer between the loop device and the image, if
    /// the backend has one. It holds the volume key until `destroy`.
    pub block: Option<Box<dyn BlockCrypt>>,
}

/// A block-encryption layer under a volume's filesystem (the XTS FUSE server
/// today; a dm-crypt mapping would be another). It holds the key.
pub trait BlockCrypt: Send + std::fmt::Debug {
    /// The plaintext block file the loop device is attached to.
    fn device_file(&self) -> &Path;
    /// Destroys the key, then stops serving. Idempotent. The key is destroyed
    /// whatever else fails (`key_destroyed` says so).
    fn shutdown(&mut self) -> BlockShutdown;
    /// Counters so far.
    fn stats(&self) -> BlockStats;
}

/// What [`BlockCrypt::shutdown`] achieved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockShutdown {
    /// No copy of the key is left in the layer.
    pub key_destroyed: bool,
    /// Unmounted cleanly (false: detached lazily, or failed, see `error`).
    pub unmounted: bool,
    /// Every worker thread has exited.
    pub workers_stopped: bool,
    /// What went wrong, if anything.
    pub error: Option<String>,
}

/// Counters of a block layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockStats {
    /// READ requests served.
    pub reads: u64,
    /// WRITE requests served.
    pub writes: u64,
    /// Plaintext bytes read.
    pub bytes_read: u64,
    /// Plaintext bytes written.
    pub bytes_written: u64,
    /// FSYNC/FLUSH requests, each an `fdatasync` of the image.
    pub syncs: u64,
    /// Requests answered with an I/O error.
    pub io_errors: u64,
    /// Worker threads.
    pub workers: usize,
    /// Workers that could mark themselves `PR_SET_IO_FLUSHER`.
    pub io_flushers: u64,
    /// Bytes of request buffers.
    pub buffer_bytes: u64,
    /// Of which locked in memory.
    pub locked_bytes: u64,
}

/// What sealing produced (kept to shred later).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seal {
    /// fscrypt key identifier (not secret: it is stored in the policy on disk).
    pub key_identifier: Option<[u8; 16]>,
}

/// Outcome of removing the key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ShredReport {
    /// Some files were still open: the key is only "incompletely removed"
    /// until they are closed.
    pub files_busy: bool,
    /// Other users still had claims on the key.
    pub other_users: bool,
}

/// Errors of volume operations, one variant per step.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    /// The host cannot provide this kind of volume.
    #[error(transparent)]
    Host(#[from] HostError),
    /// Size outside 20..=200 GiB.
    #[error(
        "ephemeral storage size must be between {MIN_SIZE_GIB} and {MAX_SIZE_GIB} GiB, got {0}"
    )]
    InvalidSize(u32),
    /// Creating the image file failed (exists already, no space, ...).
    #[error("creating volume image {path}: {source}")]
    CreateImage {
        /// Image path.
        path: PathBuf,
        /// Cause.
        source: io::Error,
    },
    /// mkfs.ext4 failed.
    #[error("formatting volume image {path}: {source}")]
    Mkfs {
        /// Image path.
        path: PathBuf,
        /// Cause (includes mkfs's stderr).
        source: io::Error,
    },
    /// No loop device could be attached.
    #[error("attaching a loop device to {path}: {source}")]
    LoopAttach {
        /// Image path.
        path: PathBuf,
        /// Cause.
        source: io::Error,
    },
    /// Mounting failed.
    #[error("mounting volume at {target}: {source}")]
    Mount {
        /// Mount point.
        target: PathBuf,
        /// Cause.
        source: io::Error,
    },
    /// Starting the XTS server (or another block layer) failed.
    #[error("starting the volume's encryption layer at {path}: {source}")]
    BlockLayer {
        /// Its mount point.
        path: PathBuf,
        /// Cause.
        source: io::Error,
    },
    /// Stopping the block layer did not go cleanly (the key is destroyed
    /// regardless; this is about the mount and the threads).
    #[error("stopping the volume's encryption layer: {0}")]
    BlockShutdown(String),
    /// A block layer could not destroy its key (the only error `destroy`
    /// reports about the key itself).
    #[error("the volume's encryption layer still holds its key")]
    KeyNotDestroyed,
    /// Deriving the volume's XTS key failed.
    #[error(transparent)]
    KeyDerivation(#[from] xts::KdfError),
    /// `FS_IOC_ADD_ENCRYPTION_KEY` failed.
    #[error("adding the fscrypt key: {0}")]
    AddKey(io::Error),
    /// Creating `data/` failed.
    #[error("creating the volume data directory: {0}")]
    DataDir(io::Error),
    /// `FS_IOC_SET_ENCRYPTION_POLICY` failed.
    #[error("setting the fscrypt policy: {0}")]
    SetPolicy(io::Error),
    /// `FS_IOC_REMOVE_ENCRYPTION_KEY` failed.
    #[error("removing the fscrypt key: {0}")]
    RemoveKey(io::Error),
    /// Unmounting failed.
    #[error("unmounting volume at {target}: {source}")]
    Umount {
        /// Mount point.
        target: PathBuf,
        /// Cause.
        source: io::Error,
    },
    /// Detaching the loop device failed.
    #[error("detaching {device}: {source}")]
    LoopDetach {
        /// `/dev/loopN`.
        device: PathBuf,
        /// Cause.
        source: io::Error,
    },
    /// Deleting the image failed.
    #[error("deleting volume image {path}: {source}")]
    DeleteImage {
        /// Image path.
        path: PathBuf,
        /// Cause.
        source: io::Error,
    },
}

/// One way of protecting a task volume. See the module docs for the order.
pub trait VolumeBackend: Send + Sync + std::fmt::Debug {
    /// Which protection this is.
    fn kind(&self) -> VolumeKind;
    /// Checks the host up front; the error names what is missing.
    fn check_host(&self) -> Result<(), VolumeError>;
    /// Creates the image, attaches a loop device and formats it. A block
    /// layer (XTS) derives its key from `key` here; fscrypt ignores it until
    /// `seal`.
    fn create(
        &self,
        sys: &dyn Syscall,
        layout: &DataLayout,
        req: &VolumeRequest,
        key: &DataKey,
    ) -> Result<VolumeDevice, VolumeError>;
    /// With the filesystem mounted at `fs_root`: creates and protects
    /// `data/`. Consumes (and so zeroizes) the key.
    fn seal(&self, sys: &dyn Syscall, fs_root: &Path, key: DataKey) -> Result<Seal, VolumeError>;
    /// Before unmount: removes the key.
    fn shred(
        &self,
        sys: &dyn Syscall,
        fs_root: &Path,
        seal: &Seal,
    ) -> Result<ShredReport, VolumeError>;
    /// After unmount: detaches the loop device, destroys a block layer's key
    /// (always, even if a later step fails) and deletes the image.
    fn destroy(&self, sys: &dyn Syscall, dev: VolumeDevice) -> Result<(), VolumeError>;
}

/// `seal` of a backend whose filesystem keyring holds no key (XTS encrypts below the
/// filesystem; the plaintext control encrypts nothing): the data key is dropped and `data/`
/// is made.
pub(crate) fn seal_without_keyring(
    sys: &dyn Syscall,
    fs_root: &Path,
    key: DataKey,
) -> Result<Seal, VolumeError> {
    drop(key);
    sys.mkdir(&fs_root.join(DATA_DIR), 0o700)
        .map_err(VolumeError::DataDir)?;
    Ok(Seal {
        key_identifier: None,
    })
}

/// Shared by both backends: validate, create sparse image, mkfs, attach.
pub(crate) fn create_ext4_loop(
    sys: &dyn Syscall,
    layout: &DataLayout,
    req: &VolumeRequest,
    mkfs: &Path,
    encrypt: bool,
    direct_io: bool,
) -> Result<VolumeDevice, VolumeError> {
    check_size(req)?;
    let image = layout.volume_image(&req.volume_id);
    let size = u64::from(req.size_gib) << 30;
    sys.create_sparse_file(&image, size)
        .map_err(|source| VolumeError::CreateImage {
            path: image.clone(),
            source,
        })?;
    let cleanup = |e: VolumeError| {
        let _ = sys.remove_file(&image);
        e
    };
    sys.mkfs_ext4(mkfs, &image, encrypt).map_err(|source| {
        cleanup(VolumeError::Mkfs {
            path: image.clone(),
            source,
        })
    })?;
    let loop_dev = sys.loop_attach(&image, direct_io).map_err(|source| {
        cleanup(VolumeError::LoopAttach {
            path: image.clone(),
            source,
        })
    })?;
    Ok(VolumeDevice {
        volume_id: req.volume_id.clone(),
        loop_file: image.clone(),
        image,
        loop_dev,
        block: None,
    })
}

/// Refuses sizes outside Fargate's 20..=200 GiB before anything is touched.
pub(crate) fn check_size(req: &VolumeRequest) -> Result<(), VolumeError> {
    if (MIN_SIZE_GIB..=MAX_SIZE_GIB).contains(&req.size_gib) {
        Ok(())
    } else {
        Err(VolumeError::InvalidSize(req.size_gib))
    }
}

/// Shared by both backends: detach, then delete.
pub(crate) fn destroy_ext4_loop(sys: &dyn Syscall, dev: VolumeDevice) -> Result<(), VolumeError> {
    let detach = sys.loop_detach(&dev.loop_dev);
    let device = dev.loop_dev.path();
    drop(dev.loop_dev);
    // Delete the image even if detaching failed: the inode lives on while
    // the loop device holds it, but nothing can reopen it by name.
    let delete = sys.remove_file(&dev.image);
    detach.map_err(|source| VolumeError::LoopDetach { device, source })?;
    delete.map_err(|source| VolumeError::DeleteImage {
        path: dev.image,
        source,
    })
}

/// Mounts a volume filesystem (used by the sandbox init and [`MountedVolume`]).
pub fn mount_volume_fs(sys: &dyn Syscall, device: &Path, target: &Path) -> Result<(), VolumeError> {
    sys.mount(
        Some(device),
        target,
        Some("ext4"),
        VOLUME_MOUNT_FLAGS,
        Some(VOLUME_MOUNT_DATA),
    )
    .map_err(|source| VolumeError::Mount {
        target: target.to_owned(),
        source,
    })
}

/// Unmounts a volume filesystem.
pub fn unmount_volume_fs(sys: &dyn Syscall, target: &Path) -> Result<(), VolumeError> {
    sys.umount(target, 0).map_err(|source| VolumeError::Umount {
        target: target.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscall::RecordingSyscall;

    fn key() -> DataKey {
        DataKey::from_slice(&[9; 64]).unwrap()
    }

    fn req(size: u32) -> VolumeRequest {
        VolumeRequest {
            volume_id: VolumeId::new("vol-1").unwrap(),
            size_gib: size,
        }
    }

    #[test]
    fn fscrypt_lifecycle_order() {
        let sys = RecordingSyscall::new();
        let b = FscryptVolume::new("/sbin/mkfs.ext4".into());
        let layout = DataLayout::new("/d");
        let dev = b.create(&sys, &layout, &req(20), &key()).unwrap();
        mount_volume_fs(&sys, &dev.loop_dev.path(), Path::new("/m")).unwrap();
        let seal = b
            .seal(
                &sys,
                Path::new("/m"),
                DataKey::from_slice(&[9; 64]).unwrap(),
            )
            .unwrap();
        let report = b.shred(&sys, Path::new("/m"), &seal).unwrap();
        assert_eq!(report, ShredReport::default());
        unmount_volume_fs(&sys, Path::new("/m")).unwrap();
        b.destroy(&sys, dev).unwrap();
        assert_eq!(
            sys.ops(),
            [
                "create_sparse_file",
                "mkfs_ext4",
                "loop_attach",
                "mount",
                "fscrypt_add_key",
                "mkdir",
                "fscrypt_set_policy",
                "fscrypt_remove_key",
                "umount",
                "loop_detach",
                "remove_file"
            ]
        );
        let calls = sys.calls();
        assert_eq!(
            calls[0].args,
            format!("/d/volumes/vol-1.img {}", 20u64 << 30)
        );
        assert!(calls[1].args.ends_with("encrypt=true"));
        assert!(calls[2].args.ends_with("dio=true"));
        assert_eq!(calls[5].args, "/m/data 700");
        assert!(calls[6].args.starts_with("/m/data "));
        assert!(calls[3].args.contains("type=ext4"));
    }

    #[test]
    fn sizes_outside_fargate_range_are_refused_before_touching_disk() {
        let sys = RecordingSyscall::new();
        let b = FscryptVolume::new("/sbin/mkfs.ext4".into());
        for s in [0, 19, 201] {
            assert!(matches!(
                b.create(&sys, &DataLayout::new("/d"), &req(s), &key()),
                Err(VolumeError::InvalidSize(_))
            ));
        }
        assert!(sys.ops().is_empty());
        assert!(b
            .create(&sys, &DataLayout::new("/d"), &req(200), &key())
            .is_ok());
    }

    #[test]
    fn failed_mkfs_removes_image() {
        let sys = RecordingSyscall::new();
        sys.fail_on("mkfs_ext4", libc::EIO);
        let b = FscryptVolume::new("/sbin/mkfs.ext4".into());
        assert!(matches!(
            b.create(&sys, &DataLayout::new("/d"), &req(20), &key()),
            Err(VolumeError::Mkfs { .. })
        ));
        assert_eq!(
            sys.ops(),
            ["create_sparse_file", "mkfs_ext4", "remove_file"]
        );
    }

    #[test]
    fn failed_policy_is_an_error_never_a_plaintext_volume() {
        let sys = RecordingSyscall::new();
        sys.fail_on("fscrypt_set_policy", libc::EPERM);
        let b = FscryptVolume::new("/sbin/mkfs.ext4".into());
        let r = b.seal(
            &sys,
            Path::new("/m"),
            DataKey::from_slice(&[1; 64]).unwrap(),
        );
        assert!(matches!(r, Err(VolumeError::SetPolicy(_))));
        // The key was added; it is removed again, and data/ is deleted so
        // nothing can be written to it unencrypted.
        assert_eq!(
            sys.ops(),
            [
                "fscrypt_add_key",
                "mkdir",
                "fscrypt_set_policy",
                "remove_dir",
                "fscrypt_remove_key"
            ]
        );
    }

    #[test]
    fn plaintext_control_never_touches_keys() {
        let sys = RecordingSyscall::new();
        let b = PlaintextControlVolume::new("/sbin/mkfs.ext4".into());
        let dev = b
            .create(&sys, &DataLayout::new("/d"), &req(20), &key())
            .unwrap();
        let seal = b
            .seal(
                &sys,
                Path::new("/m"),
                DataKey::from_slice(&[9; 64]).unwrap(),
            )
            .unwrap();
        assert_eq!(seal.key_identifier, None);
        b.shred(&sys, Path::new("/m"), &seal).unwrap();
        b.destroy(&sys, dev).unwrap();
        assert!(!sys.ops().iter().any(|o| o.starts_with("fscrypt")));
        assert!(sys.calls()[1].args.ends_with("encrypt=false"));
    }

    #[test]
    fn teardown_deletes_image_even_if_detach_fails() {
        let sys = RecordingSyscall::new();
        sys.fail_on("loop_detach", libc::EBUSY);
        let b = FscryptVolume::new("/sbin/mkfs.ext4".into());
        let dev = b
            .create(&sys, &DataLayout::new("/d"), &req(20), &key())
            .unwrap();
        assert!(matches!(
            b.destroy(&sys, dev),
            Err(VolumeError::LoopDetach { .. })
        ));
        assert_eq!(sys.ops().last(), Some(&"remove_file"));
    }
}
