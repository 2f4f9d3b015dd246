//! The unencrypted control.

use std::path::{Path, PathBuf};

use super::{
    create_ext4_loop, destroy_ext4_loop, Seal, ShredReport, VolumeBackend, VolumeDevice,
    VolumeError, VolumeKind, VolumeRequest, DATA_DIR,
};
use crate::layout::DataLayout;
use crate::secret::DataKey;
use crate::syscall::Syscall;

/// **Test control only: no encryption.** The same ext4-on-loop volume as
/// [`super::FscryptVolume`] without the key and policy. It exists so the
/// plaintext-scan test can prove that its scan finds a marker when one is
/// there, and so the benchmark can measure the cost of encryption. The agent
/// never uses it: `RuntimeConfig` has no way to select a backend.
#[derive(Clone, Debug)]
pub struct PlaintextControlVolume {
    mkfs: PathBuf,
}

impl PlaintextControlVolume {
    /// A control backend formatting with `mkfs`.
    pub fn new(mkfs: PathBuf) -> Self {
        PlaintextControlVolume { mkfs }
    }
}

impl VolumeBackend for PlaintextControlVolume {
    fn kind(&self) -> VolumeKind {
        VolumeKind::PlaintextControl
    }
    fn check_host(&self) -> Result<(), VolumeError> {
        crate::host::check_loop_host(&self.mkfs).map_err(VolumeError::from)
    }
    fn create(
        &self,
        sys: &dyn Syscall,
        layout: &DataLayout,
        req: &VolumeRequest,
        _key: &DataKey,
    ) -> Result<VolumeDevice, VolumeError> {
        create_ext4_loop(sys, layout, req, &self.mkfs, false, true)
    }
    fn seal(&self, sys: &dyn Syscall, fs_root: &Path, key: DataKey) -> Result<Seal, VolumeError> {
        drop(key);
        sys.mkdir(&fs_root.join(DATA_DIR), 0o700)
            .map_err(VolumeError::DataDir)?;
        Ok(Seal {
            key_identifier: None,
        })
    }
    fn shred(
        &self,
        _sys: &dyn Syscall,
        _fs_root: &Path,
        _seal: &Seal,
    ) -> Result<ShredReport, VolumeError> {
        Ok(ShredReport::default())
    }
    fn destroy(&self, sys: &dyn Syscall, dev: VolumeDevice) -> Result<(), VolumeError> {
        destroy_ext4_loop(sys, dev)
    }
}
