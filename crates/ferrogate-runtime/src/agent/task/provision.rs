//! PROVISIONING and PENDING: everything a task needs before its containers run, in order,
//! each step checked, nothing created for a task that cannot run (images are resolved
//! first). A failure at any step leaves what was made so far to the teardown.

use std::collections::HashMap;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::health::Health;
use super::record::{self, TaskRecord};
use super::{blocking, connect, fail, output, recv, Failure, TaskCmd, TaskRun, INIT_REPLY_TIMEOUT};
use crate::agent::state::TaskEvent;
use crate::agent::{ContainerSpec, EventKind};
use crate::cgroup::Limits;
use crate::ids::{ContainerName, TaskId};
use crate::image::{ImageStore, ResolvedImage};
use crate::sandbox::command::{merge_argv, merge_env, working_dir};
use crate::sandbox::init::INIT_VOLUME;
use crate::sandbox::protocol::{ContainerLaunch, FromInit, InitConfig, ToInit};
use crate::sandbox::rootfs::BindMount;
use crate::sandbox::spawn::spawn_init;
use crate::secret::DataKey;
use crate::syscall::LinuxSyscall;
use crate::volume::{VolumeRequest, DATA_DIR};

/// What provisioning needs besides the task's containers.
pub(super) struct Provision {
    pub(super) req: VolumeRequest,
    pub(super) key: DataKey,
    pub(super) limits: Limits,
    pub(super) hostname: String,
    pub(super) volumes: Vec<String>,
    pub(super) network: Option<crate::net::TaskNetwork>,
}

/// `cgroup.procs` files: the init's, and each container leaf's.
type CgroupProcs = (Vec<PathBuf>, HashMap<String, Vec<PathBuf>>);

impl TaskRun {
    pub(super) async fn provision(
        &mut self,
        p: Provision,
        rx: &mut mpsc::Receiver<TaskCmd>,
    ) -> Result<(), Failure> {
        validate(&self.containers.iter().map(|c| &c.spec).collect::<Vec<_>>())?;
        crate::sandbox::rootfs::check_hostname(&p.hostname)
            .map_err(|e| fail(format!("CannotStartContainerError: {e}")))?;
        // The network is checked against the host's other tasks before anything exists.
        if let Some(n) = &p.network {
            self.reserve_network(n)?;
        }
        let (etc_hosts, resolv_conf) = self.etc_files(p.network.as_ref(), &p.hostname);
        let (store, mut launches) = self.images_and_record(&p).await?;
        self.check_stop(rx)?;
        let (init_procs, mut leaf_procs) = self.create_cgroups(p.limits).await?;
        let (device, key) = self.create_volume(p.req, p.key).await?;
        self.check_stop(rx)?;
        let writers = self.start_output(&launches)?;
        self.start_init(init_procs, writers).await?;
        for l in &mut launches {
            l.cgroup_procs = leaf_procs
                .remove(&format!("c-{}", l.name))
                .unwrap_or_default();
        }
        let cfg = InitConfig {
            task_id: self.id.to_string(),
            hostname: p.hostname,
            etc_hosts,
            resolv_conf,
            volume_device: device,
            volume_mount: self.mount.clone(),
            layers_root: store.layers_root(),
            id_base: self.ids.as_ref().map_or(0, |l| l.first_id),
            volumes: p.volumes,
            containers: launches,
        };
        self.configure_init(cfg).await?;
        // PENDING (after the seal) means the task's interface is attached: ECS shows the
        // ENI ATTACHED from there on.
        self.finish_attach().await?;
        self.seal_volume(key).await?;
        self.check_stop(rx)?;
        self.start_containers().await
    }

    /// Resolves the images (the shared store lock is held until the task record pinning
    /// their layers is written, so a concurrent `images rm` cannot delete them), takes the
    /// task's host id range and writes the task record.
    async fn images_and_record(
        &mut self,
        p: &Provision,
    ) -> Result<(ImageStore, Vec<ContainerLaunch>), Failure> {
        let ctx = self.ctx.clone();
        let store = ImageStore::open(&ctx.layout)
            .map_err(|e| fail(format!("CannotPullContainerError: {e}")))?;
        let refs: Vec<String> = self
            .containers
            .iter()
            .map(|c| c.spec.image.clone())
            .collect();
        let st = store.clone();
        let (images, pin) = blocking(move || {
            let pin = st.read_lock()?;
            let imgs = refs
                .iter()
                .map(|r| st.resolve(r))
                .collect::<Result<Vec<ResolvedImage>, _>>()?;
            Ok::<_, crate::image::ImageError>((imgs, pin))
        })
        .await
        .map_err(fail)?
        .map_err(|e| fail(format!("CannotPullContainerError: {e}")))?;
        let launches = self.launches(&images, &store, &p.hostname, &p.volumes)?;
        let ids = ctx
            .ids
            .take()
            .map_err(|e| fail(format!("ResourceInitializationError: taking a user id range: {e}")))?
            .ok_or_else(|| {
                fail("ResourceInitializationError: RESOURCE:USER_NAMESPACE (every host id range for task user namespaces is in use)")
            })?;
        let rec = TaskRecord {
            version: 1,
            task_id: self.id.to_string(),
            volume_id: p.req.volume_id.to_string(),
            layers: images
                .iter()
                .flat_map(|i| i.diff_ids.iter().map(|d| d.hex().to_owned()))
                .collect(),
            id_slot: Some(ids.slot),
            host_interface: self.net.as_ref().map(|l| l.host_if.clone()),
            started_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        };
        self.ids = Some(ids);
        let layout = ctx.layout.clone();
        blocking(move || record::write(&layout, &rec))
            .await
            .map_err(fail)?
            .map_err(|e| {
                fail(format!(
                    "ResourceInitializationError: writing task record: {e}"
                ))
            })?;
        drop(pin);
        self.record_written = true;
        Ok((store, launches))
    }

    /// The task's cgroups: the task, the init's leaf and one leaf per container.
    async fn create_cgroups(&mut self, limits: Limits) -> Result<CgroupProcs, Failure> {
        let cg = self.ctx.cgroups.clone();
        let id = self.id.clone();
        let leaves: Vec<(String, Option<u32>)> = self
            .containers
            .iter()
            .map(|c| (c.leaf.clone(), c.spec.memory_mib))
            .collect();
        let (tc, init_procs, leaf_procs) = blocking(move || {
            let tc = cg.create_task(&id, &limits)?;
            let init_procs = tc.create_leaf("init", None, false)?;
            let mut leaf_procs = HashMap::new();
            for (leaf, mem) in leaves {
                leaf_procs.insert(leaf.clone(), tc.create_leaf(&leaf, mem, true)?);
            }
            Ok::<_, crate::cgroup::CgroupError>((tc, init_procs, leaf_procs))
        })
        .await
        .map_err(fail)?
        .map_err(|e| {
            fail(format!(
                "ResourceInitializationError: creating cgroups: {e}"
            ))
        })?;
        self.cgroup = Some(tc);
        Ok((init_procs, leaf_procs))
    }

    /// The volume: image file, loop device, mkfs (XTS: its server, keyed from
    /// the data key). Returns the device, and the key for the seal.
    async fn create_volume(
        &mut self,
        req: VolumeRequest,
        key: DataKey,
    ) -> Result<(PathBuf, DataKey), Failure> {
        let ctx = self.ctx.clone();
        let run_dir = ctx.layout.task_run(&self.id);
        let mount = self.mount.clone();
        let logs = ctx.layout.task_logs(&self.id);
        let backend = ctx.backend.clone();
        let layout = ctx.layout.clone();
        let dev = blocking(move || {
            for d in [&run_dir, &mount, &logs] {
                std::fs::create_dir_all(d).map_err(|e| format!("creating {}: {e}", d.display()))?;
            }
            backend
                .create(&LinuxSyscall, &layout, &req, &key)
                .map(|dev| (dev, key))
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(fail)?
        .map_err(|e| {
            fail(format!(
                "ResourceInitializationError: failed to provision ephemeral storage: {e}"
            ))
        })?;
        let (dev, key) = dev;
        let path = dev.loop_dev.path();
        self.device = Some(dev);
        Ok((path, key))
    }

    /// The containers' output pipes: read here, their write ends returned for the init.
    fn start_output(
        &mut self,
        launches: &[ContainerLaunch],
    ) -> Result<Vec<std::fs::File>, Failure> {
        let pipes = output::pipes(launches.len()).map_err(|e| {
            fail(format!(
                "ResourceInitializationError: creating output pipes: {e}"
            ))
        })?;
        let (readers, writers): (Vec<_>, Vec<_>) = pipes
            .into_iter()
            .zip(launches)
            .map(|((rd, wr), l)| {
                let name = ContainerName::new(l.name.clone()).map_err(|e| fail(e.to_string()));
                name.map(|n| ((rd, self.ctx.config.outputs.open(&self.id, &n)), wr))
            })
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .unzip();
        self.output = Some(output::Output::start(readers).map_err(|e| {
            fail(format!(
                "ResourceInitializationError: container output: {e}"
            ))
        })?);
        Ok(writers)
    }

    /// The sandbox init. It inherits the id range's lock (the range stays taken while it
    /// lives) and the output pipes' write ends.
    async fn start_init(
        &mut self,
        init_procs: Vec<PathBuf>,
        writers: Vec<std::fs::File>,
    ) -> Result<(), Failure> {
        let init_log = self.ctx.layout.init_log(&self.id);
        let exe = self.ctx.config.init_exe.clone();
        let lock = self
            .ids
            .as_ref()
            .map(|l| l.lock().try_clone_to_owned())
            .transpose()
            .map_err(|e| fail(format!("ResourceInitializationError: {e}")))?
            .ok_or_else(|| fail("internal: no id range"))?;
        let spawned = blocking(move || {
            let mut inherited = vec![lock.as_fd()];
            inherited.extend(writers.iter().map(AsFd::as_fd));
            spawn_init(&exe, &init_log, &init_procs, &inherited)
        })
        .await
        .map_err(fail)?
        .map_err(|e| {
            fail(format!(
                "ResourceInitializationError: starting the sandbox: {e}"
            ))
        })?;
        let pid = spawned.pid;
        self.init = Some(connect(spawned).map_err(|e| {
            fail(format!(
                "ResourceInitializationError: sandbox control channel: {e}"
            ))
        })?);
        // The init's network namespace exists now: its interface is made while the init
        // mounts the volume.
        self.start_attach(pid);
        Ok(())
    }

    /// Sends the init its configuration and waits until it mounted the volume.
    async fn configure_init(&mut self, cfg: InitConfig) -> Result<(), Failure> {
        let init = self
            .init
            .as_mut()
            .ok_or_else(|| fail("internal: no init"))?;
        init.send(&ToInit::Config(Box::new(cfg)))
            .await
            .map_err(fail)?;
        match recv(init, INIT_REPLY_TIMEOUT).await {
            Some(FromInit::VolumeMounted) => Ok(()),
            Some(FromInit::Fatal { error }) => {
                Err(fail(format!("ResourceInitializationError: {error}")))
            }
            other => Err(fail(format!(
                "ResourceInitializationError: sandbox did not mount the volume ({other:?})"
            ))),
        }
    }

    /// Key into the kernel, key zeroized, policy on `data/`; VolumeReady.
    async fn seal_volume(&mut self, key: DataKey) -> Result<(), Failure> {
        let init = self
            .init
            .as_ref()
            .ok_or_else(|| fail("internal: no init"))?;
        let fs_root = init.volume_root();
        let backend = self.ctx.backend.clone();
        let seal = blocking(move || backend.seal(&LinuxSyscall, &fs_root, key))
            .await
            .map_err(fail)?
            .map_err(|e| {
                fail(format!(
                    "ResourceInitializationError: failed to encrypt ephemeral storage: {e}"
                ))
            })?;
        self.seal = Some(seal);
        let volume_id = self
            .device
            .as_ref()
            .map(|d| d.volume_id.clone())
            .ok_or_else(|| fail("internal: no device"))?;
        let size_gib = self.size_gib;
        self.ctx
            .emit(
                &self.id,
                EventKind::VolumeReady {
                    volume_id,
                    size_gib,
                },
            )
            .await;
        self.set_state(TaskEvent::VolumeReady).await;
        Ok(())
    }

    /// Lets the init start the containers and records each start or failure.
    async fn start_containers(&mut self) -> Result<(), Failure> {
        let init = self
            .init
            .as_mut()
            .ok_or_else(|| fail("internal: no init"))?;
        init.send(&ToInit::VolumeSealed).await.map_err(fail)?;
        let mut first_failure = None;
        for i in 0..self.containers.len() {
            let init = self
                .init
                .as_mut()
                .ok_or_else(|| fail("internal: no init"))?;
            match recv(init, INIT_REPLY_TIMEOUT).await {
                Some(FromInit::ContainerStarted { container, pid }) => {
                    self.container_started(&container, pid).await;
                }
                Some(FromInit::ContainerFailed { container, error }) => {
                    let reason = format!("CannotStartContainerError: {error}");
                    self.container_failed(&container, &reason).await;
                    first_failure.get_or_insert(reason);
                }
                other => {
                    first_failure.get_or_insert(format!("CannotStartContainerError: sandbox stopped answering ({other:?}) at container {i}"));
                    break;
                }
            }
        }
        if let Some(r) = first_failure {
            self.set_state(TaskEvent::StartFailed).await;
            return Err(fail(r));
        }
        self.set_state(TaskEvent::AllContainersStarted).await;
        Ok(())
    }

    async fn container_started(&mut self, container: &str, pid: i32) {
        let Some(c) = self.container_mut(container) else {
            return;
        };
        c.started = true;
        c.health = c
            .spec
            .health_check
            .clone()
            .map(|h| Health::new(h, Instant::now()));
        let name = c.spec.name.clone();
        self.ctx
            .emit(
                &self.id,
                EventKind::ContainerStarted {
                    container: name,
                    pid,
                },
            )
            .await;
    }

    async fn container_failed(&mut self, container: &str, reason: &str) {
        let Some(c) = self.container_mut(container) else {
            return;
        };
        c.exited = true;
        let name = c.spec.name.clone();
        self.ctx
            .emit(
                &self.id,
                EventKind::ContainerFailedToStart {
                    container: name,
                    reason: reason.to_owned(),
                },
            )
            .await;
    }

    fn launches(
        &self,
        images: &[ResolvedImage],
        store: &ImageStore,
        hostname: &str,
        volumes: &[String],
    ) -> Result<Vec<ContainerLaunch>, Failure> {
        let data = Path::new(INIT_VOLUME).join(DATA_DIR);
        let mut out = Vec::new();
        for (c, img) in self.containers.iter().zip(images) {
            let s = &c.spec;
            let argv = merge_argv(&img.config, s.entry_point.as_deref(), s.command.as_deref())
                .map_err(|e| {
                    fail(format!(
                        "CannotStartContainerError: container {}: {e}",
                        s.name
                    ))
                })?;
            let mut binds = Vec::new();
            for m in &s.mount_points {
                if !volumes.iter().any(|v| v == m.source_volume.as_str()) {
                    return Err(fail(format!(
                        "CannotStartContainerError: container {} mounts unknown volume {}",
                        s.name, m.source_volume
                    )));
                }
                binds.push(BindMount {
                    source: data.join("volumes").join(m.source_volume.as_str()),
                    container_path: m.container_path.clone(),
                    read_only: m.read_only,
                });
            }
            out.push(ContainerLaunch {
                name: s.name.to_string(),
                argv,
                env: merge_env(&img.config, &s.environment, hostname),
                cwd: working_dir(&img.config, s.working_directory.as_deref()),
                user: s
                    .user
                    .clone()
                    .or_else(|| img.config.user.clone())
                    .filter(|u| !u.is_empty()),
                layers: img
                    .layer_dirs
                    .iter()
                    .filter_map(|d| d.strip_prefix(store.layers_root()).ok())
                    .map(|p| p.display().to_string())
                    .collect(),
                cgroup_procs: Vec::new(),
                binds,
                readonly_root: s.readonly_root_filesystem,
            });
        }
        Ok(out)
    }
}

/// `ip-` and the start of the task id, as an RFC 1123 label.
pub(super) fn default_hostname(task_id: &TaskId) -> String {
    let id: String = task_id
        .as_str()
        .chars()
        .take(12)
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("ip-{}", id.trim_end_matches('-'))
}

/// ECS-level checks the API normally does; repeated here so the runtime never
/// starts a task it could not supervise.
fn validate(containers: &[&ContainerSpec]) -> Result<(), Failure> {
    if containers.is_empty() {
        return Err(fail(
            "CannotStartContainerError: the task has no containers",
        ));
    }
    if !containers.iter().any(|c| c.essential) {
        return Err(fail(
            "CannotStartContainerError: the task has no essential container",
        ));
    }
    let mut names = std::collections::HashSet::new();
    for c in containers {
        if !names.insert(c.name.as_str()) {
            return Err(fail(format!(
                "CannotStartContainerError: duplicate container name {}",
                c.name
            )));
        }
    }
    Ok(())
}
