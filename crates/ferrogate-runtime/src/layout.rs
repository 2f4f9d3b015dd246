//! Where everything lives under the data directory.
//!
//! ```text
//! <data_dir>/                 0700
//!   images/                   image store (see `image`)
//!   volumes/<volume_id>.img   sparse backing files of live task volumes
//!   xts/<volume_id>/disk      plaintext view of an XTS volume (FUSE mount of
//!                             the agent's own server, in the agent's namespace)
//!   run/<task_id>/vol         mount point of a task volume (mounted only
//!                             inside the task's own mount namespace)
//!   runtime/agent.lock        held by the running agent
//!   runtime/tasks/<id>.json   record of tasks the agent started (no key)
//!   logs/<task_id>/ferrogate.init.log   the sandbox init's own diagnostics (container
//!                             output is never written here: see `agent::sink`)
//! ```

use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::ids::{TaskId, VolumeId};

/// Paths under one data directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataLayout {
    root: PathBuf,
}

impl DataLayout {
    /// A layout rooted at `root` (not created yet; see [`DataLayout::ensure`]).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DataLayout { root: root.into() }
    }
    /// The data directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// Image store root.
    pub fn images(&self) -> PathBuf {
        self.root.join("images")
    }
    /// Directory of volume images.
    pub fn volumes(&self) -> PathBuf {
        self.root.join("volumes")
    }
    /// Backing file of one volume.
    pub fn volume_image(&self, id: &VolumeId) -> PathBuf {
        self.volumes().join(format!("{id}.img"))
    }
    /// Mount points of the XTS volumes' FUSE servers.
    pub fn xts(&self) -> PathBuf {
        self.root.join("xts")
    }
    /// Mount point of one XTS volume's server.
    pub fn xts_mount(&self, id: &VolumeId) -> PathBuf {
        self.xts().join(id.as_str())
    }
    /// Per-task runtime directories.
    pub fn run(&self) -> PathBuf {
        self.root.join("run")
    }
    /// One task's runtime directory.
    pub fn task_run(&self, task: &TaskId) -> PathBuf {
        self.run().join(task.as_str())
    }
    /// Mount point of a task's volume.
    pub fn task_mount(&self, task: &TaskId) -> PathBuf {
        self.task_run(task).join("vol")
    }
    /// Agent state.
    pub fn runtime(&self) -> PathBuf {
        self.root.join("runtime")
    }
    /// Records of started tasks.
    pub fn task_records(&self) -> PathBuf {
        self.runtime().join("tasks")
    }
    /// One task record.
    pub fn task_record(&self, task: &TaskId) -> PathBuf {
        self.task_records().join(format!("{task}.json"))
    }
    /// Logs root.
    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }
    /// One task's log directory.
    pub fn task_logs(&self, task: &TaskId) -> PathBuf {
        self.logs().join(task.as_str())
    }
    /// The sandbox init's own diagnostics for a task. The name contains a
    /// '.', which container names cannot, so it never collides.
    pub fn init_log(&self, task: &TaskId) -> PathBuf {
        self.task_logs(task).join("ferrogate.init.log")
    }

    /// Creates the directory tree with owner-only permissions. Image layers
    /// may contain setuid binaries; 0700 keeps host users away from them.
    pub fn ensure(&self) -> io::Result<()> {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true).mode(0o700);
        for d in [
            self.root.clone(),
            self.images(),
            self.volumes(),
            self.xts(),
            self.run(),
            self.runtime(),
            self.task_records(),
            self.logs(),
        ] {
            b.create(&d)?;
        }
        std::fs::set_permissions(&self.root, std::fs::Permissions::from_mode(0o700))?;
        Ok(())
    }
}
