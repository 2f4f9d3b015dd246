//! The small on-disk record of a task the agent started, so that a restarted
//! agent can report it as stopped. It never contains key material.

use std::io::{self, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::ids::TaskId;
use crate::layout::DataLayout;

/// Version 1 of the record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRecord {
    /// Format version.
    pub version: u32,
    /// Task id.
    pub task_id: String,
    /// Volume id.
    pub volume_id: String,
    /// Image layer diff id hexes the task uses (the image store will not
    /// delete them while the record exists).
    pub layers: Vec<String>,
    /// The slot of the host id range the task's user namespace maps onto (see
    /// `idrange`): recorded so that what a crashed agent left can be matched to it.
    #[serde(default)]
    pub id_slot: Option<u32>,
    /// The host end of the task's veth pair, if it has a network.
    #[serde(default)]
    pub host_interface: Option<String>,
    /// Start time, seconds since the epoch.
    pub started_at: u64,
}

/// Writes the record atomically and durably.
pub fn write(layout: &DataLayout, rec: &TaskRecord) -> io::Result<()> {
    let dir = layout.task_records();
    let mut f = tempfile::NamedTempFile::new_in(&dir)?;
    f.write_all(&serde_json::to_vec(rec).map_err(io::Error::other)?)?;
    f.as_file().sync_all()?;
    let id = TaskId::new(rec.task_id.clone()).map_err(io::Error::other)?;
    f.persist(layout.task_record(&id)).map_err(|e| e.error)?;
    std::fs::File::open(&dir)?.sync_all()
}

/// Deletes the record.
pub fn remove(layout: &DataLayout, task: &TaskId) -> io::Result<()> {
    match std::fs::remove_file(layout.task_record(task)) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

/// All readable records (unreadable ones are returned as task ids from
/// their file names with empty fields, so they are still reported).
pub fn read_all(dir: &Path) -> Vec<TaskRecord> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".json") else {
            continue;
        };
        let rec = std::fs::read(e.path())
            .ok()
            .and_then(|b| serde_json::from_slice::<TaskRecord>(&b).ok())
            .unwrap_or_else(|| TaskRecord {
                version: 1,
                task_id: stem.to_owned(),
                volume_id: String::new(),
                layers: Vec::new(),
                id_slot: None,
                host_interface: None,
                started_at: 0,
            });
        out.push(rec);
    }
    out.sort_by(|a, b| a.task_id.cmp(&b.task_id));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_no_key_field() {
        let d = tempfile::tempdir().unwrap();
        let l = DataLayout::new(d.path());
        l.ensure().unwrap();
        let r = TaskRecord {
            version: 1,
            task_id: "t1".into(),
            volume_id: "v1".into(),
            layers: vec!["ab".into()],
            id_slot: Some(3),
            host_interface: Some("fg0123abcdefghi".into()),
            started_at: 5,
        };
        write(&l, &r).unwrap();
        assert_eq!(read_all(&l.task_records()), std::slice::from_ref(&r));
        let raw = std::fs::read_to_string(l.task_record(&TaskId::new("t1").unwrap())).unwrap();
        assert!(!raw.to_lowercase().contains("key"));
        remove(&l, &TaskId::new("t1").unwrap()).unwrap();
        assert!(read_all(&l.task_records()).is_empty());
    }
}
