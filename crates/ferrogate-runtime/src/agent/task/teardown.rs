//! DEPROVISIONING: the teardown of one task, in order, every step checked.

use std::os::fd::AsFd;
use std::path::Path;
use std::time::Duration;

use tokio::time::Instant;

use super::{blocking, record, timeout_at, TaskRun, TEARDOWN_STEP_TIMEOUT};
use crate::agent::TeardownReport;
use crate::sandbox::protocol::{FromInit, ToInit};
use crate::sys::process::pidfd_signal;
use crate::syscall::LinuxSyscall;
use crate::volume::VolumeError;

impl TaskRun {
    /// DEPROVISIONING: key, unmount, init, loop, image, cgroups, records.
    pub(super) async fn teardown(&mut self) -> TeardownReport {
        // A block layer (XTS) holds the key until the device is destroyed.
        let block_key = self.device.as_ref().is_some_and(|d| d.block.is_some());
        let mut r = TeardownReport {
            key_removed: self.seal.is_none() && !block_key,
            ..TeardownReport::nothing_left()
        };
        if let Some(mut init) = self.init.take() {
            let alive = init.wait_exit(Duration::ZERO).await.is_none();
            if let Some(seal) = self.seal.take() {
                if alive {
                    let fs_root = init.volume_root();
                    let backend = self.ctx.backend.clone();
                    match blocking(move || backend.shred(&LinuxSyscall, &fs_root, &seal)).await {
                        Ok(Ok(s)) => {
                            r.key_removed = !block_key;
                            r.files_busy = s.files_busy;
                            if s.files_busy {
                                r.errors
                                    .push("fscrypt key removal reported files still busy".into());
                            }
                        }
                        Ok(Err(e)) => r.errors.push(e.to_string()),
                        Err(e) => r.errors.push(e),
                    }
                } else {
                    // The init's mount namespace died with it, and with the
                    // last reference the superblock and its keyring.
                    r.key_removed = !block_key;
                }
            }
            if alive {
                r.unmounted = false;
                if init.send(&ToInit::Unmount).await.is_ok() {
                    let deadline = Instant::now() + TEARDOWN_STEP_TIMEOUT;
                    loop {
                        match timeout_at(deadline, init.msgs.recv()).await {
                            Some(Some(FromInit::Unmounted { error })) => {
                                match error {
                                    None => r.unmounted = true,
                                    Some(e) => r.errors.push(format!("unmount: {e}")),
                                }
                                break;
                            }
                            Some(Some(_)) => {}
                            _ => {
                                r.errors
                                    .push("sandbox init did not confirm the unmount".into());
                                break;
                            }
                        }
                    }
                }
            }
            if init.wait_exit(TEARDOWN_STEP_TIMEOUT).await.is_none() {
                let _ = pidfd_signal(init.pidfd.get_ref().as_fd(), libc::SIGKILL);
                if init.wait_exit(TEARDOWN_STEP_TIMEOUT).await.is_none() {
                    r.errors
                        .push(format!("sandbox init {} did not exit", init.pid));
                }
            }
        }
        // No process of the task is left (or the init is gone): its interface can go,
        // then its rules.
        self.release_network(&mut r).await;
        if let Some(dev) = self.device.take() {
            let backend = self.ctx.backend.clone();
            let image = dev.loop_file.clone();
            let number = dev.loop_dev.number;
            let dev_image = dev.image.clone();
            let res = blocking(move || {
                let res = backend.destroy(&LinuxSyscall, dev);
                let key_kept = matches!(res, Err(VolumeError::KeyNotDestroyed));
                let detached = wait_loop_released(number, &image);
                let deleted = !dev_image.exists();
                (res.map_err(|e| e.to_string()), detached, deleted, key_kept)
            })
            .await;
            match res {
                Ok((res, detached, deleted, key_kept)) => {
                    if block_key {
                        r.key_removed = !key_kept;
                    }
                    if let Err(e) = res {
                        r.errors.push(e);
                    }
                    r.loop_detached = detached;
                    r.image_deleted = deleted;
                    if !detached {
                        r.errors
                            .push(format!("/dev/loop{number} still bound to the volume image"));
                    }
                }
                Err(e) => {
                    r.loop_detached = false;
                    r.image_deleted = false;
                    r.errors.push(e);
                }
            }
        }
        if let Some(cg) = self.cgroup.take() {
            match blocking(move || {
                cg.kill_all();
                cg.remove()
            })
            .await
            {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    r.cgroup_removed = false;
                    r.errors.push(e.to_string());
                }
                Err(e) => {
                    r.cgroup_removed = false;
                    r.errors.push(e);
                }
            }
        }
        let _ = std::fs::remove_dir(&self.mount);
        let _ = std::fs::remove_dir(self.ctx.layout.task_run(&self.id));
        if self.record_written {
            if let Err(e) = record::remove(&self.ctx.layout, &self.id) {
                r.errors.push(format!("removing task record: {e}"));
            }
        }
        r
    }
}

/// Polls sysfs until `/dev/loopN` no longer serves `image` (autoclear and
/// LOOP_CLR_FD complete asynchronously after the last close).
fn wait_loop_released(number: u32, image: &Path) -> bool {
    let f = format!("/sys/block/loop{number}/loop/backing_file");
    let img = image.to_string_lossy().into_owned();
    for _ in 0..400 {
        match std::fs::read_to_string(&f) {
            Ok(b) if b.trim().trim_end_matches(" (deleted)") == img => {
                std::thread::sleep(Duration::from_millis(5))
            }
            _ => return true,
        }
    }
    false
}
