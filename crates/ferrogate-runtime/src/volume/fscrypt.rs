//! The fscrypt backend.

use std::path::{Path, PathBuf};

use super::{
    create_ext4_loop, destroy_ext4_loop, Seal, ShredReport, VolumeBackend, VolumeDevice,
    VolumeError, VolumeKind, VolumeRequest, DATA_DIR,
};
use crate::layout::DataLayout;
use crate::secret::DataKey;
use crate::sys::fscrypt::{REMOVAL_FLAG_FILES_BUSY, REMOVAL_FLAG_OTHER_USERS};
use crate::syscall::Syscall;

/// ext4 + fscrypt v2 on a loop device. The 64-byte data key is used directly
/// as the fscrypt v2 master key: the kernel derives per-file keys from it with
/// HKDF-SHA512, so a second derivation here would add nothing (and the key
/// identifier the kernel reports is itself an HKDF output, safe to store).
#[derive(Clone, Debug)]
pub struct FscryptVolume {
    mkfs: PathBuf,
    direct_io: bool,
}

impl FscryptVolume {
    /// A backend that formats with `mkfs` (e2fsprogs' `mkfs.ext4`).
    pub fn new(mkfs: PathBuf) -> Self {
        FscryptVolume {
            mkfs,
            direct_io: true,
        }
    }
}

impl VolumeBackend for FscryptVolume {
    fn kind(&self) -> VolumeKind {
        VolumeKind::Fscrypt
    }

    fn check_host(&self) -> Result<(), VolumeError> {
        crate::host::check_fscrypt_host(&self.mkfs).map_err(VolumeError::from)
    }

    fn create(
        &self,
        sys: &dyn Syscall,
        layout: &DataLayout,
        req: &VolumeRequest,
        _key: &DataKey,
    ) -> Result<VolumeDevice, VolumeError> {
        create_ext4_loop(sys, layout, req, &self.mkfs, true, self.direct_io)
    }

    fn seal(&self, sys: &dyn Syscall, fs_root: &Path, key: DataKey) -> Result<Seal, VolumeError> {
        let id = sys
            .fscrypt_add_key(fs_root, &key)
            .map_err(VolumeError::AddKey);
        // The kernel has its own copy now; ours is zeroized here, long before
        // the task ends.
        drop(key);
        let id = id?;
        let data = fs_root.join(DATA_DIR);
        let policy = sys
            .mkdir(&data, 0o700)
            .map_err(VolumeError::DataDir)
            .and_then(|()| {
                sys.fscrypt_set_policy(&data, &id)
                    .map_err(VolumeError::SetPolicy)
            });
        if let Err(e) = policy {
            // Never leave an unprotected data/ behind, nor the key.
            let _ = sys.remove_dir(&data);
            let _ = sys.fscrypt_remove_key(fs_root, &id);
            return Err(e);
        }
        Ok(Seal {
            key_identifier: Some(id),
        })
    }

    fn shred(
        &self,
        sys: &dyn Syscall,
        fs_root: &Path,
        seal: &Seal,
    ) -> Result<ShredReport, VolumeError> {
        let Some(id) = seal.key_identifier else {
            return Ok(ShredReport::default());
        };
        let flags = sys
            .fscrypt_remove_key(fs_root, &id)
            .map_err(VolumeError::RemoveKey)?;
        Ok(ShredReport {
            files_busy: flags & REMOVAL_FLAG_FILES_BUSY != 0,
            other_users: flags & REMOVAL_FLAG_OTHER_USERS != 0,
        })
    }

    fn destroy(&self, sys: &dyn Syscall, dev: VolumeDevice) -> Result<(), VolumeError> {
        destroy_ext4_loop(sys, dev)
    }
}
