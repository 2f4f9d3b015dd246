//! A volume mounted in the caller's own mount namespace.
//!
//! The agent never uses this: task volumes are mounted inside the task's mount
//! namespace so that no other namespace can pin them. This exists for the
//! plaintext-scan control test and the throughput benchmark.

use std::path::{Path, PathBuf};

use super::{
    mount_volume_fs, unmount_volume_fs, Seal, ShredReport, VolumeBackend, VolumeDevice,
    VolumeError, VolumeRequest, VolumeSpec, DATA_DIR,
};
use crate::layout::DataLayout;
use crate::syscall::{LinuxSyscall, Syscall};

/// A provisioned, mounted and sealed volume. [`MountedVolume::destroy`] tears
/// it down in order; dropping it without that does the same, best effort.
#[derive(Debug)]
pub struct MountedVolume {
    backend: Box<dyn VolumeBackend>,
    dev: Option<VolumeDevice>,
    mount_point: PathBuf,
    seal: Seal,
    mounted: bool,
}

impl MountedVolume {
    /// Creates, mounts (at `<data_dir>/run/standalone-<volume_id>`) and seals.
    pub fn provision(
        backend: Box<dyn VolumeBackend>,
        layout: &DataLayout,
        spec: VolumeSpec,
    ) -> Result<Self, VolumeError> {
        backend.check_host()?;
        let sys = LinuxSyscall;
        let req = VolumeRequest {
            volume_id: spec.volume_id.clone(),
            size_gib: spec.size_gib,
        };
        let mount_point = layout.run().join(format!("standalone-{}", spec.volume_id));
        sys.mkdir_all(&mount_point, 0o700)
            .map_err(|source| VolumeError::Mount {
                target: mount_point.clone(),
                source,
            })?;
        let dev = backend.create(&sys, layout, &req, &spec.data_key)?;
        let mut v = MountedVolume {
            backend,
            dev: Some(dev),
            mount_point,
            seal: Seal {
                key_identifier: None,
            },
            mounted: false,
        };
        let device = v.device_path();
        mount_volume_fs(&sys, &device, &v.mount_point)?;
        v.mounted = true;
        v.seal = v.backend.seal(&sys, &v.mount_point, spec.data_key)?;
        Ok(v)
    }

    fn device_path(&self) -> PathBuf {
        self.dev
            .as_ref()
            .map(|d| d.loop_dev.path())
            .unwrap_or_default()
    }

    /// The protected directory (encrypted for fscrypt).
    pub fn data_dir(&self) -> PathBuf {
        self.mount_point.join(DATA_DIR)
    }

    /// The backing image file.
    pub fn image_path(&self) -> Option<&Path> {
        self.dev.as_ref().map(|d| d.image.as_path())
    }

    /// `/dev/loopN`.
    pub fn loop_device(&self) -> PathBuf {
        self.device_path()
    }

    /// The file the loop device is bound to (the image, or the XTS server's
    /// plaintext view of it).
    pub fn loop_file(&self) -> Option<&Path> {
        self.dev.as_ref().map(|d| d.loop_file.as_path())
    }

    /// Counters of the block-encryption layer, if the backend has one.
    pub fn block_stats(&self) -> Option<super::BlockStats> {
        self.dev
            .as_ref()
            .and_then(|d| d.block.as_ref())
            .map(|b| b.stats())
    }

    /// Where the filesystem is mounted.
    pub fn mount_point(&self) -> &Path {
        &self.mount_point
    }

    /// Removes the key, unmounts, detaches, deletes.
    pub fn destroy(mut self) -> Result<ShredReport, VolumeError> {
        self.teardown()
    }

    fn teardown(&mut self) -> Result<ShredReport, VolumeError> {
        let sys = LinuxSyscall;
        let mut report = ShredReport::default();
        let mut first_err = None;
        if self.mounted {
            match self.backend.shred(&sys, &self.mount_point, &self.seal) {
                Ok(r) => report = r,
                Err(e) => first_err = Some(e),
            }
            match unmount_volume_fs(&sys, &self.mount_point) {
                Ok(()) => self.mounted = false,
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        if let Some(dev) = self.dev.take() {
            if let Err(e) = self.backend.destroy(&sys, dev) {
                first_err.get_or_insert(e);
            }
        }
        let _ = std::fs::remove_dir(&self.mount_point);
        match first_err {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }
}

impl Drop for MountedVolume {
    fn drop(&mut self) {
        if self.mounted || self.dev.is_some() {
            let _ = self.teardown();
        }
    }
}
