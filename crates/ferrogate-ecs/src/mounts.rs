//! Task volumes and container mounts. A Fargate task's bind volumes (task-level `volumes`
//! with only a `name`) live on the task's encrypted ephemeral volume; a container's
//! `mountPoints` bind them at a path, and `volumesFrom` gives a container every mount of
//! another container (transitively, as Docker does), read-only when asked.
//!
//! Checked at RegisterTaskDefinition (AWS's `Unknown volume 'x'.`) and resolved again when a
//! task is built, so a definition stored by an older version cannot slip past.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cluster::is_name;
use crate::EcsError;

/// One bind of a task volume into a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    /// The task volume's name.
    pub volume: String,
    /// Absolute path in the container.
    pub path: String,
    /// Mounted read-only.
    pub read_only: bool,
}

/// A container definition's `mountPoints` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MountPointIn {
    /// `sourceVolume`.
    #[serde(default)]
    pub source_volume: Option<String>,
    /// `containerPath`.
    #[serde(default)]
    pub container_path: Option<String>,
    /// `readOnly` (default false).
    #[serde(default)]
    pub read_only: Option<bool>,
}

/// A container definition's `volumesFrom` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeFromIn {
    /// `sourceContainer`.
    #[serde(default)]
    pub source_container: Option<String>,
    /// `readOnly` (default false).
    #[serde(default)]
    pub read_only: Option<bool>,
}

fn client(m: impl Into<String>) -> EcsError {
    EcsError::client(m)
}

/// The names of a definition's task-level `volumes`, checked: each an object with a valid,
/// unique `name`.
pub fn volume_names(volumes: &[Value]) -> Result<Vec<String>, EcsError> {
    let mut names: Vec<String> = Vec::with_capacity(volumes.len());
    for v in volumes {
        let name = v.get("name").and_then(Value::as_str).unwrap_or_default();
        if !is_name(name) {
            return Err(client(
                "Volume name can have up to 255 characters; valid characters are letters (uppercase and lowercase), numbers, hyphens and underscores.",
            ));
        }
        // The host runtime names directories after volumes; a leading '-' is refused here,
        // where AWS accepts it, rather than at every launch.
        if name.starts_with('-') {
            return Err(client(format!(
                "Volume name '{name}' must start with a letter, number or underscore."
            )));
        }
        if names.iter().any(|n| n == name) {
            return Err(client(format!(
                "Volume names must be unique within a task definition: {name}."
            )));
        }
        names.push(name.to_owned());
    }
    Ok(names)
}

/// A `containerPath` checked and normalised: absolute, no `.` or `..` component, not `/` and
/// not under `/proc`, `/sys` or `/dev` (the runtime's own mounts); repeated and trailing
/// slashes dropped.
fn container_path(container: &str, path: &str) -> Result<String, EcsError> {
    let bad = |why: &str| {
        client(format!(
            "Invalid 'mountPoints' setting for container '{container}': containerPath {why}."
        ))
    };
    if !path.starts_with('/') || path.contains('\0') {
        return Err(bad("must be an absolute path"));
    }
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if parts.is_empty() {
        return Err(bad("must be an absolute path other than '/'"));
    }
    if parts.iter().any(|p| *p == "." || *p == "..") {
        return Err(bad("may not contain '.' or '..'"));
    }
    if matches!(parts[0], "proc" | "sys" | "dev") {
        return Err(bad("may not be under /proc, /sys or /dev"));
    }
    Ok(format!("/{}", parts.join("/")))
}

/// What [`resolve`] needs of a container definition.
pub trait Mounting {
    /// `name`.
    fn name(&self) -> Option<&str>;
    /// `mountPoints`.
    fn mount_points(&self) -> &[MountPointIn];
    /// `volumesFrom`.
    fn volumes_from(&self) -> &[VolumeFromIn];
}

/// Each container's mounts, in definition order: its own `mountPoints`, then those it gets
/// through `volumesFrom`. Unknown volumes or containers, relative or duplicate paths and
/// `volumesFrom` cycles are refused.
pub fn resolve<D: Mounting>(defs: &[D], volumes: &[String]) -> Result<Vec<Vec<Mount>>, EcsError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Seen {
        No,
        Visiting,
        Done,
    }
    fn visit<D: Mounting>(
        i: usize,
        defs: &[D],
        volumes: &[String],
        seen: &mut [Seen],
        out: &mut [Vec<Mount>],
    ) -> Result<(), EcsError> {
        let name = defs[i].name().unwrap_or_default();
        match seen[i] {
            Seen::Done => return Ok(()),
            Seen::Visiting => {
                return Err(client(format!(
                    "The volumesFrom of container '{name}' form a cycle."
                )))
            }
            Seen::No => seen[i] = Seen::Visiting,
        }
        let mut mounts = Vec::new();
        for m in defs[i].mount_points() {
            let volume = m.source_volume.clone().unwrap_or_default();
            if !volumes.contains(&volume) {
                return Err(client(format!("Unknown volume '{volume}'.")));
            }
            let path = container_path(name, m.container_path.as_deref().unwrap_or_default())?;
            mounts.push(Mount {
                volume,
                path,
                read_only: m.read_only.unwrap_or(false),
            });
        }
        for vf in defs[i].volumes_from() {
            let source = vf.source_container.as_deref().unwrap_or_default();
            let j = defs
                .iter()
                .position(|d| d.name() == Some(source))
                .filter(|j| *j != i)
                .ok_or_else(|| {
                    client(format!(
                        "Invalid 'volumesFrom' setting for container '{name}': unknown container '{source}'."
                    ))
                })?;
            visit(j, defs, volumes, seen, out)?;
            let ro = vf.read_only.unwrap_or(false);
            mounts.extend(out[j].iter().map(|m| Mount {
                read_only: m.read_only || ro,
                ..m.clone()
            }));
        }
        // Parents before children (as Docker mounts them), so no mount hides another.
        mounts.sort_by_key(|m| m.path.split('/').count());
        for (k, m) in mounts.iter().enumerate() {
            if mounts[..k].iter().any(|o| o.path == m.path) {
                return Err(client(format!(
                    "Invalid 'mountPoints' setting for container '{name}': duplicate mount point '{}'.",
                    m.path
                )));
            }
        }
        out[i] = mounts;
        seen[i] = Seen::Done;
        Ok(())
    }
    let mut seen = vec![Seen::No; defs.len()];
    let mut out = vec![Vec::new(); defs.len()];
    for i in 0..defs.len() {
        visit(i, defs, volumes, &mut seen, &mut out)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A container definition as far as mounts go.
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Def {
        name: Option<String>,
        #[serde(default)]
        mount_points: Vec<MountPointIn>,
        #[serde(default)]
        volumes_from: Vec<VolumeFromIn>,
    }

    impl Mounting for Def {
        fn name(&self) -> Option<&str> {
            self.name.as_deref()
        }
        fn mount_points(&self) -> &[MountPointIn] {
            &self.mount_points
        }
        fn volumes_from(&self) -> &[VolumeFromIn] {
            &self.volumes_from
        }
    }

    fn defs(v: Value) -> Vec<Def> {
        serde_json::from_value(v).unwrap()
    }

    fn err(r: Result<Vec<Vec<Mount>>, EcsError>) -> String {
        match r {
            Err(EcsError::ClientException(m)) => m,
            other => panic!("expected ClientException, got {other:?}"),
        }
    }

    #[test]
    fn mounts_and_volumes_from_resolve_transitively() {
        let d = defs(json!([
            {"name": "a", "image": "x", "mountPoints": [{"sourceVolume": "data", "containerPath": "/data"}]},
            {"name": "b", "image": "x", "volumesFrom": [{"sourceContainer": "c", "readOnly": true}]},
            {"name": "c", "image": "x", "volumesFrom": [{"sourceContainer": "a"}],
             "mountPoints": [{"sourceVolume": "cache", "containerPath": "/cache", "readOnly": false}]},
        ]));
        let vols = vec!["data".to_owned(), "cache".to_owned()];
        let m = resolve(&d, &vols).unwrap();
        let mount = |v: &str, p: &str, ro| Mount {
            volume: v.into(),
            path: p.into(),
            read_only: ro,
        };
        assert_eq!(m[0], vec![mount("data", "/data", false)]);
        assert_eq!(
            m[2],
            vec![
                mount("cache", "/cache", false),
                mount("data", "/data", false)
            ]
        );
        assert_eq!(
            m[1],
            vec![mount("cache", "/cache", true), mount("data", "/data", true)]
        );
    }

    #[test]
    fn bad_mounts_are_refused() {
        let vols = vec!["data".to_owned()];
        assert_eq!(
            err(resolve(
                &defs(
                    json!([{"name": "a", "image": "x", "mountPoints": [{"sourceVolume": "nope", "containerPath": "/d"}]}])
                ),
                &vols
            )),
            "Unknown volume 'nope'."
        );
        for path in [
            "d", "", "/", "//", "/a/../b", "/a/./b", "/proc/x", "/sys", "/dev/shm", "..",
        ] {
            let d = defs(
                json!([{"name": "a", "image": "x", "mountPoints": [{"sourceVolume": "data", "containerPath": path}]}]),
            );
            assert!(err(resolve(&d, &vols)).contains("containerPath"), "{path}");
        }
        let ok = defs(json!([{"name": "a", "image": "x", "mountPoints": [
            {"sourceVolume": "data", "containerPath": "/srv//data/cache/"},
            {"sourceVolume": "data", "containerPath": "/srv"}]}]));
        let m = resolve(&ok, &vols).unwrap();
        let paths: Vec<&str> = m[0].iter().map(|m| m.path.as_str()).collect();
        assert_eq!(
            paths,
            ["/srv", "/srv/data/cache"],
            "parents first, normalised"
        );
        let dup = defs(json!([{"name": "a", "image": "x", "mountPoints": [
            {"sourceVolume": "data", "containerPath": "/d"},
            {"sourceVolume": "data", "containerPath": "//d/"}]}]));
        assert!(err(resolve(&dup, &vols)).contains("duplicate"));
        let cycle = defs(json!([
            {"name": "a", "image": "x", "volumesFrom": [{"sourceContainer": "b"}]},
            {"name": "b", "image": "x", "volumesFrom": [{"sourceContainer": "a"}]},
        ]));
        assert!(err(resolve(&cycle, &vols)).contains("cycle"));
        let own =
            defs(json!([{"name": "a", "image": "x", "volumesFrom": [{"sourceContainer": "a"}]}]));
        assert!(err(resolve(&own, &vols)).contains("unknown container 'a'"));
        let missing =
            defs(json!([{"name": "a", "image": "x", "volumesFrom": [{"sourceContainer": "z"}]}]));
        assert!(err(resolve(&missing, &vols)).contains("unknown container 'z'"));
    }

    #[test]
    fn volume_names_are_checked() {
        assert_eq!(
            volume_names(&[json!({"name": "a"}), json!({"name": "b", "host": {}})]).unwrap(),
            vec!["a", "b"]
        );
        assert!(volume_names(&[json!({"name": "a"}), json!({"name": "a"})]).is_err());
        assert!(volume_names(&[json!({"name": "a b"})]).is_err());
        assert!(volume_names(&[json!({"name": "-a"})]).is_err());
        assert!(volume_names(&[json!({})]).is_err());
        assert!(volume_names(&[json!("a")]).is_err());
    }
}
