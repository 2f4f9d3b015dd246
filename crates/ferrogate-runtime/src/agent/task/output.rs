//! Container output. Each container's stdout and stderr are the write end of one pipe (so
//! their lines interleave as written); the agent reads the other end and appends what it
//! reads to the container's log file, with a fixed buffer and a cap on what one task may
//! write in all. Past the cap, output is read and dropped, so a container never blocks on
//! a full pipe and never fills the host's disk. The container never holds a descriptor of
//! the log file: it cannot `fallocate`, truncate, `chmod` or set attributes on it.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::pipe;
use tokio::task::JoinSet;

/// Bytes read from a pipe at once.
const CHUNK: usize = 64 * 1024;

/// Appended once, when a task's output reaches its cap.
pub(crate) fn cap_notice(cap: u64) -> String {
    format!(
        "\n[ferrogate: the task's output reached its limit of {cap} bytes; the rest is dropped]\n"
    )
}

/// One pipe per container: (read end for the agent, write end for the sandbox init).
pub(crate) fn pipes(n: usize) -> io::Result<Vec<(File, File)>> {
    (0..n).map(|_| crate::sys::process::pipe()).collect()
}

/// The readers of one task's output pipes.
pub(crate) struct Output {
    readers: JoinSet<()>,
}

/// What the readers of one task share.
struct Budget {
    cap: u64,
    written: AtomicU64,
    noticed: AtomicBool,
}

impl Output {
    /// Starts a reader per `(pipe read end, log file)`. Must be called inside the runtime.
    pub(crate) fn start(readers: Vec<(File, PathBuf)>, cap: u64) -> io::Result<Output> {
        let budget = Arc::new(Budget {
            cap,
            written: AtomicU64::new(0),
            noticed: AtomicBool::new(false),
        });
        let mut set = JoinSet::new();
        for (rd, log) in readers {
            let rx = pipe::Receiver::from_owned_fd(OwnedFd::from(rd))?;
            let file = OpenOptions::new()
                .append(true)
                .create(true)
                .mode(0o640)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(&log)?;
            let b = budget.clone();
            set.spawn(async move {
                if let Err(e) = pump(rx, tokio::fs::File::from_std(file), &b).await {
                    tracing::warn!(log = %log.display(), error = %e, "container output lost");
                }
            });
        }
        Ok(Output { readers: set })
    }

    /// Waits until every container's output is read to its end (all its writers are
    /// gone), at most `limit`; readers still running then are stopped.
    pub(crate) async fn finish(mut self, limit: Duration) {
        let all = async { while self.readers.join_next().await.is_some() {} };
        if tokio::time::timeout(limit, all).await.is_err() {
            self.readers.abort_all();
        }
    }
}

async fn pump(mut rx: pipe::Receiver, mut log: tokio::fs::File, budget: &Budget) -> io::Result<()> {
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = rx.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        let chunk = buf.get(..n).unwrap_or_default();
        let take = budget.reserve(chunk.len() as u64);
        let keep = usize::try_from(take).unwrap_or(0).min(chunk.len());
        if keep > 0 {
            log.write_all(chunk.get(..keep).unwrap_or_default()).await?;
        }
        if keep < chunk.len() && !budget.noticed.swap(true, Ordering::AcqRel) {
            log.write_all(cap_notice(budget.cap).as_bytes()).await?;
        }
    }
    log.flush().await
}

impl Budget {
    /// Takes up to `want` bytes of what is left; returns how many it got.
    fn reserve(&self, want: u64) -> u64 {
        let mut cur = self.written.load(Ordering::Acquire);
        loop {
            let take = want.min(self.cap.saturating_sub(cur));
            if take == 0 {
                return 0;
            }
            match self.written.compare_exchange_weak(
                cur,
                cur + take,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return take,
                Err(now) => cur = now,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn output_reaches_the_log_up_to_the_task_cap_and_the_rest_is_drained() {
        let d = tempfile::tempdir().unwrap();
        let mut p = pipes(2).unwrap();
        let (r2, mut w2) = p.pop().unwrap();
        let (r1, mut w1) = p.pop().unwrap();
        let (l1, l2) = (d.path().join("a.log"), d.path().join("b.log"));
        let out = Output::start(vec![(r1, l1.clone()), (r2, l2.clone())], 1000).unwrap();
        // More than a pipe holds, from both containers: a writer that is not drained
        // would block here forever.
        let big = vec![b'x'; 300 * 1024];
        let t1 = std::thread::spawn(move || {
            w1.write_all(b"first line\n").unwrap();
            w1.write_all(&big).unwrap();
        });
        let t2 = std::thread::spawn(move || w2.write_all(&[b'y'; 200 * 1024]).unwrap());
        tokio::task::spawn_blocking(move || {
            t1.join().unwrap();
            t2.join().unwrap();
        })
        .await
        .unwrap();
        out.finish(Duration::from_secs(10)).await;
        let a = std::fs::read(&l1).unwrap();
        let b = std::fs::read(&l2).unwrap();
        let notice = cap_notice(1000);
        let data = |v: &[u8]| {
            let s = String::from_utf8_lossy(v).replace(&notice, "");
            s.len()
        };
        assert_eq!(data(&a) + data(&b), 1000, "exactly the cap is kept");
        let notices = [&a, &b]
            .iter()
            .filter(|v| String::from_utf8_lossy(v).contains(&notice))
            .count();
        assert_eq!(notices, 1, "one notice per task");
    }
}
