//! The unencrypted control.

use std::path::{Path, PathBuf};

use super::{
    create_ext4_loop, destroy_ext4_loop, seal_without_keyring, Seal, ShredReport, VolumeBackend,
    VolumeDevice, VolumeError, VolumeKind, VolumeRequest,
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
        seal_without_keyring(sys, fs_root, key)
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
