//! Volume backends side by side, in one run: the unencrypted loop device
//! (control), fscrypt, and full-volume AES-256-XTS. Each volume is a 20 GiB
//! `MountedVolume` in the benchmark's own mount namespace, so the three go
//! through exactly the same code path above the backend; a second table
//! measures sequential I/O inside a real task (busybox `dd`).

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{ms, pct};
use ferrogate_runtime::agent::{Agent, MountPoint, RuntimeCommand};
use ferrogate_runtime::volume::inspect::drop_caches;
use ferrogate_runtime::volume::xts::ServerConfig;
use ferrogate_runtime::volume::{
    FscryptVolume, MountedVolume, PlaintextControlVolume, VolumeBackend, VolumeSpec, XtsVolume,
};
use ferrogate_runtime::{DataKey, DataLayout, VolumeId, VolumeName};

const ALL: [&str; 3] = ["plain loop (control)", "fscrypt", "xts"];

/// `FG_BENCH_BACKENDS=xts,plain` narrows the list (experiments).
fn backends() -> Vec<&'static str> {
    match std::env::var("FG_BENCH_BACKENDS") {
        Ok(v) => ALL
            .into_iter()
            .filter(|b| v.split(',').any(|w| b.starts_with(w)))
            .collect(),
        Err(_) => ALL.to_vec(),
    }
}

/// The XTS server's tuning: the defaults, or `FG_XTS_THREADS`,
/// `FG_XTS_MAX_WRITE` (bytes) and `FG_XTS_DIRECT` (0/1) for experiments.
fn xts_config() -> ServerConfig {
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
    let mut c = ServerConfig::default();
    if let Some(t) = env("FG_XTS_THREADS") {
        c.threads = usize::try_from(t).unwrap();
    }
    if let Some(m) = env("FG_XTS_MAX_WRITE") {
        c.max_write = u32::try_from(m).unwrap();
    }
    if let Some(d) = env("FG_XTS_DIRECT") {
        c.direct_backing = d != 0;
    }
    c
}

fn backend(name: &str) -> Box<dyn VolumeBackend> {
    let mkfs = ferrogate_runtime::host::find_mkfs_ext4();
    match name {
        "fscrypt" => Box::new(FscryptVolume::new(mkfs)),
        "xts" => Box::new(XtsVolume::with_config(mkfs, xts_config())),
        _ => Box::new(PlaintextControlVolume::new(mkfs)),
    }
}

fn provision(name: &str, layout: &DataLayout, id: &str) -> MountedVolume {
    let v = provision_only(name, layout, id);
    if let Ok(ra) = std::env::var("FG_READAHEAD_KB") {
        let dev = v.loop_device();
        let n = dev.file_name().unwrap().to_string_lossy().into_owned();
        std::fs::write(format!("/sys/block/{n}/queue/read_ahead_kb"), ra).unwrap();
    }
    v
}

fn provision_only(name: &str, layout: &DataLayout, id: &str) -> MountedVolume {
    MountedVolume::provision(
        backend(name),
        layout,
        VolumeSpec {
            volume_id: VolumeId::new(id).unwrap(),
            size_gib: 20,
            data_key: DataKey::generate().unwrap(),
        },
    )
    .unwrap()
}

/// User + system CPU of this process so far (all threads: the XTS server's
/// workers are threads of this process).
fn cpu() -> Duration {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = s.rsplit_once(") ").map_or("", |(_, r)| r);
    let f: Vec<u64> = after
        .split(' ')
        .skip(11)
        .take(2)
        .filter_map(|x| x.parse().ok())
        .collect();
    // USER_HZ is 100 on Linux.
    Duration::from_millis(f.iter().sum::<u64>() * 10)
}

fn status_kib(key: &str) -> u64 {
    super::status_kib("self", "status", key)
}

/// Everything standalone: provisioning, sequential, random, memory.
/// `FG_BENCH_ONLY=seq` (or prov, rand, mem) runs one part.
pub fn run(data_dir: &Path, mib: usize, runs: usize, iops_secs: u64) {
    let layout = DataLayout::new(data_dir);
    layout.ensure().unwrap();
    match std::env::var("FG_BENCH_ONLY").as_deref() {
        Ok("seq") => return sequential(&layout, mib),
        Ok("prov") => return provisioning(&layout, runs),
        Ok("rand") => return random(&layout, iops_secs),
        Ok("mem") => return memory(&layout),
        _ => {}
    }
    provisioning(&layout, runs);
    sequential(&layout, mib);
    random(&layout, iops_secs);
    memory(&layout);
}

fn provisioning(layout: &DataLayout, runs: usize) {
    println!("### Provisioning a 20 GiB volume ({runs} runs each)\n");
    println!("Sparse image, (XTS: key derivation, FUSE server start), loop device, `mkfs.ext4`, mount, seal; then teardown.\n");
    println!("| volume | provision p50 | p99 | teardown p50 | p99 |\n|---|---|---|---|---|");
    for name in backends() {
        let (mut up, mut down) = (Vec::new(), Vec::new());
        for i in 0..runs + 1 {
            let t = Instant::now();
            let v = provision(name, layout, &format!("prov-{i}"));
            let u = t.elapsed();
            let t = Instant::now();
            v.destroy().unwrap();
            // The first run warms caches (mkfs binary, libraries).
            if i > 0 {
                up.push(u);
                down.push(t.elapsed());
            }
        }
        println!(
            "| {name} | {} | {} | {} | {} |",
            ms(pct(&mut up, 50)),
            ms(pct(&mut up, 99)),
            ms(pct(&mut down, 50)),
            ms(pct(&mut down, 99))
        );
    }
    println!();
}

fn mbps(mib: usize, d: Duration) -> f64 {
    (mib as f64) * 1.048_576 / d.as_secs_f64()
}

fn sequential(layout: &DataLayout, mib: usize) {
    println!("### Sequential throughput, {mib} MiB, 1 MiB `write`s + `fsync`, then `read`s after `drop_caches`\n");
    println!("CPU is this process's user+system time (the XTS server's threads included) per GiB; kernel work done in other threads (loop workers, fscrypt's crypto in the writer) is partly outside it.\n");
    println!("| volume | write | read | CPU s/GiB write | read |\n|---|---|---|---|---|");
    for name in backends() {
        let v = provision(name, layout, &format!("seq-{}", name.len()));
        let f = v.data_dir().join("big");
        let buf = vec![0x5au8; 1 << 20];
        drop_caches().unwrap();
        let (c0, t) = (cpu(), Instant::now());
        let mut w = File::create(&f).unwrap();
        for _ in 0..mib {
            w.write_all(&buf).unwrap();
        }
        w.sync_all().unwrap();
        drop(w);
        let (wt, wc) = (t.elapsed(), cpu() - c0);
        drop_caches().unwrap();
        let (c0, t) = (cpu(), Instant::now());
        let mut r = File::open(&f).unwrap();
        let mut rb = vec![0u8; 1 << 20];
        let mut total = 0usize;
        loop {
            let n = r.read(&mut rb).unwrap();
            if n == 0 {
                break;
            }
            total += n;
        }
        let (rt, rc) = (t.elapsed(), cpu() - c0);
        drop(r);
        assert_eq!(total, mib << 20);
        let gib = mib as f64 / 1024.0;
        println!(
            "| {name} | {:.0} MB/s | {:.0} MB/s | {:.2} | {:.2} |",
            mbps(mib, wt),
            mbps(mib, rt),
            wc.as_secs_f64() / gib,
            rc.as_secs_f64() / gib
        );
        v.destroy().unwrap();
    }
    println!();
}

/// `threads` threads doing 4 KiB `pread`/`pwrite` at random aligned offsets
/// of `f` for `secs`; with `sync_every`, an `fdatasync` after that many
/// writes per thread. Returns operations per second.
fn hammer(
    f: &Arc<File>,
    size: u64,
    write: bool,
    threads: usize,
    secs: u64,
    sync_every: u64,
) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(AtomicU64::new(0));
    let hs: Vec<_> = (0..threads)
        .map(|t| {
            let (f, stop, ops) = (f.clone(), stop.clone(), ops.clone());
            std::thread::spawn(move || {
                let mut buf = AlignedBlock::new();
                let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ (t as u64 + 1);
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let off = (x % (size / 4096)) * 4096;
                    if write {
                        f.write_all_at(buf.as_mut(), off).unwrap();
                        n += 1;
                        if sync_every > 0 && n % sync_every == 0 {
                            f.sync_data().unwrap();
                        }
                    } else {
                        f.read_exact_at(buf.as_mut(), off).unwrap();
                        n += 1;
                    }
                }
                ops.fetch_add(n, Ordering::Relaxed);
            })
        })
        .collect();
    let t = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    for h in hs {
        h.join().unwrap();
    }
    ops.load(Ordering::Relaxed) as f64 / t.elapsed().as_secs_f64()
}

/// A 4 KiB buffer aligned for `O_DIRECT`.
struct AlignedBlock(Vec<u8>, usize);

impl AlignedBlock {
    fn new() -> Self {
        let v = vec![0xA5u8; 8192];
        let off = v.as_ptr().align_offset(4096);
        AlignedBlock(v, off)
    }
    fn as_mut(&mut self) -> &mut [u8] {
        let o = self.1;
        &mut self.0[o..o + 4096]
    }
}

fn random(layout: &DataLayout, secs: u64) {
    const FILE: u64 = 1 << 30;
    println!("### 4 KiB random I/O on a 1 GiB file, {secs} s each\n");
    println!("`O_DIRECT`, 16 threads (queue depth 16), page cache dropped first. fscrypt without inline-encryption hardware silently turns `O_DIRECT` into buffered I/O, so its direct figures measure the page cache; the durable column (4 threads, buffered writes, `fdatasync` every 16 writes per thread) compares like with like.\n");
    println!(
        "| volume | randread IOPS | randwrite IOPS | durable randwrite IOPS |\n|---|---|---|---|"
    );
    for name in backends() {
        let v = provision(name, layout, &format!("rnd-{}", name.len()));
        let p = v.data_dir().join("rand");
        {
            let mut w = File::create(&p).unwrap();
            let buf = vec![0x33u8; 1 << 20];
            for _ in 0..FILE >> 20 {
                w.write_all(&buf).unwrap();
            }
            w.sync_all().unwrap();
        }
        let direct = || {
            Arc::new(
                OpenOptions::new()
                    .read(true)
                    .write(true)
                    .custom_flags(libc::O_DIRECT)
                    .open(&p)
                    .unwrap(),
            )
        };
        drop_caches().unwrap();
        let rr = hammer(&direct(), FILE, false, 16, secs, 0);
        let rw = hammer(&direct(), FILE, true, 16, secs, 0);
        direct().sync_all().unwrap();
        let buffered = Arc::new(OpenOptions::new().read(true).write(true).open(&p).unwrap());
        let dw = hammer(&buffered, FILE, true, 4, secs, 16);
        println!("| {name} | {rr:.0} | {rw:.0} | {dw:.0} |");
        drop(buffered);
        v.destroy().unwrap();
    }
    println!();
}

fn memory(layout: &DataLayout) {
    const N: usize = 8;
    println!("### Memory of the XTS backend per volume\n");
    let (rss0, lck0) = (status_kib("VmRSS:"), status_kib("VmLck:"));
    let vols: Vec<MountedVolume> = (0..N)
        .map(|i| provision("xts", layout, &format!("mem-{i}")))
        .collect();
    let (rss1, lck1) = (status_kib("VmRSS:"), status_kib("VmLck:"));
    for v in &vols {
        let mut f = File::create(v.data_dir().join("w")).unwrap();
        f.write_all(&vec![1u8; 64 << 20]).unwrap();
        f.sync_all().unwrap();
    }
    let rss2 = status_kib("VmRSS:");
    let s = vols[0].block_stats().unwrap();
    for v in vols {
        v.destroy().unwrap();
    }
    let per = |a: u64, b: u64| (b.saturating_sub(a)) as f64 / N as f64 / 1024.0;
    println!("{N} XTS volumes provisioned in this process; each server: {} workers, {} KiB of request buffers ({} KiB locked).\n", s.workers, s.buffer_bytes / 1024, s.locked_bytes / 1024);
    println!("| measure | per volume |\n|---|---|");
    println!("| RSS growth, idle | {:.1} MiB |", per(rss0, rss1));
    println!(
        "| locked memory (VmLck) growth | {:.1} MiB |",
        per(lck0, lck1)
    );
    println!(
        "| RSS growth after 64 MiB written to each | {:.1} MiB |\n",
        per(rss0, rss2)
    );
}

fn wait_log(path: &Path, needle: &str, secs: u64) -> String {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(secs) {
        if let Ok(s) = std::fs::read_to_string(path) {
            if s.contains(needle) {
                return s;
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("{needle} not in {}", path.display());
}

/// busy box `time` prints `real\t0m 1.23s`.
fn real_secs(log: &str, nth: usize) -> f64 {
    log.lines()
        .filter_map(|l| l.strip_prefix("real"))
        .nth(nth)
        .and_then(|r| {
            let r = r.trim();
            let (m, s) = r.split_once('m')?;
            Some(
                m.trim().parse::<f64>().ok()? * 60.0
                    + s.trim().trim_end_matches('s').parse::<f64>().ok()?,
            )
        })
        .unwrap_or(f64::NAN)
}

/// Sequential write (`dd conv=fsync`) and read (page cache dropped by the
/// host in between) of `mib` MiB inside a task, on a task volume.
pub async fn in_task(
    agent: &mut Agent,
    data_dir: &Path,
    mib: usize,
    spec: impl Fn(&str) -> ferrogate_runtime::agent::TaskSpec,
) -> (f64, f64) {
    let id = "dd";
    let mut s = spec(id);
    s.volumes = vec![VolumeName::new("scratch").unwrap()];
    s.containers[0].mount_points = vec![MountPoint {
        source_volume: VolumeName::new("scratch").unwrap(),
        container_path: "/scratch".into(),
        read_only: false,
    }];
    // The whole host: a 0.25 vCPU task would measure its CPU quota (fscrypt
    // encrypts in the writer's context; everyone copies through the page cache).
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    s.cpu_units = Some(1024 * u32::try_from(cpus).unwrap_or(1));
    s.memory_mib = Some(2048);
    let script = format!(
        "time dd if=/dev/zero of=/scratch/f bs=1M count={mib} conv=fsync; echo WROTE; sleep 3; time dd if=/scratch/f of=/dev/null bs=1M; echo READ; exec sleep 1000"
    );
    s.containers[0].command = Some(vec!["sh".into(), "-c".into(), script]);
    agent
        .commands
        .send(RuntimeCommand::StartTask(Box::new(s)))
        .await
        .unwrap();
    let log = data_dir.join(format!("logs/{id}/main.log"));
    let l = log.clone();
    tokio::task::spawn_blocking(move || wait_log(&l, "WROTE", 300))
        .await
        .unwrap();
    drop_caches().unwrap();
    let l = log.clone();
    let out = tokio::task::spawn_blocking(move || wait_log(&l, "READ", 300))
        .await
        .unwrap();
    super::stop_task(agent, id).await;
    eprintln!("in-task dd log:\n{out}");
    let _ = std::fs::remove_dir_all(data_dir.join(format!("logs/{id}")));
    let mb = mib as f64 * 1.048_576;
    (mb / real_secs(&out, 0), mb / real_secs(&out, 1))
}
