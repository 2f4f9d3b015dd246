//! `ferrogate-bench`: signed API requests at a fixed concurrency for a fixed time, reporting
//! throughput and latency percentiles. Works against any AWS-compatible endpoint (Ferrogate,
//! moto's server) so that both are measured the same way in one run.
//!
//! ```text
//! ferrogate-bench --endpoint URL --access-key K --secret S --op OP --concurrency N --seconds T
//! ```
//! `--requests R` stops after R successful requests instead (loading a fixed amount of data).
//! `--server-pid PID` also reports CPU time per successful request: the server's (process
//! total, and by thread name), and the load generator's own. CPU per request is the measure
//! that holds on a shared, noisy machine, where requests per second do not.
//! OP: `get-caller-identity` (STS, awsQuery), `get-user:<name>` (IAM, awsQuery, authorized by
//! the policy engine), `lookup-events` (CloudTrail, awsJson1_1), or
//! `kms-encrypt:<key-id>`, `kms-decrypt:<base64 ciphertext>`, `kms-generate-data-key:<key-id>`,
//! `ecs-describe-tasks:<cluster>/<task id>`, `logs-put:<group>:<stream>` (PutLogEvents, a batch
//! of 1,000 events of 100 bytes), `logs-filter:<group>:<term>` (FilterLogEvents with a term).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrogate_types::Timestamp;
use ferrogate_wire::sigv4::{canonical, SecretKey};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

struct Args {
    endpoint: String,
    access_key: String,
    secret: String,
    op: String,
    concurrency: usize,
    seconds: u64,
    requests: Option<u64>,
    region: String,
    server_pid: Option<u32>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        endpoint: String::new(),
        access_key: String::new(),
        secret: String::new(),
        op: "get-caller-identity".into(),
        concurrency: 32,
        seconds: 10,
        requests: None,
        region: "us-east-1".into(),
        server_pid: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--endpoint" => a.endpoint = v,
            "--access-key" => a.access_key = v,
            "--secret" => a.secret = v,
            "--op" => a.op = v,
            "--concurrency" => a.concurrency = v.parse().map_err(|_| "bad --concurrency")?,
            "--seconds" => a.seconds = v.parse().map_err(|_| "bad --seconds")?,
            "--requests" => a.requests = Some(v.parse().map_err(|_| "bad --requests")?),
            "--region" => a.region = v,
            "--server-pid" => a.server_pid = Some(v.parse().map_err(|_| "bad --server-pid")?),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if a.endpoint.is_empty() || a.access_key.is_empty() {
        return Err("--endpoint and --access-key are required".into());
    }
    Ok(a)
}

/// (service, target or None for query, body)
fn operation(op: &str) -> Result<(&'static str, Option<&'static str>, String), String> {
    Ok(match op.split_once(':').unwrap_or((op, "")) {
        ("get-caller-identity", _) => (
            "sts",
            None,
            "Action=GetCallerIdentity&Version=2011-06-15".into(),
        ),
        ("get-user", name) => (
            "iam",
            None,
            format!("Action=GetUser&Version=2010-05-08&UserName={name}"),
        ),
        ("lookup-events", _) => (
            "cloudtrail",
            Some("com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"),
            r#"{"MaxResults":10}"#.into(),
        ),
        ("kms-encrypt", key) => (
            "kms",
            Some("TrentService.Encrypt"),
            format!(
                r#"{{"KeyId":"{key}","Plaintext":"aGVsbG8gd29ybGQ=","EncryptionContext":{{"purpose":"bench"}}}}"#
            ),
        ),
        ("kms-decrypt", blob) => (
            "kms",
            Some("TrentService.Decrypt"),
            format!(r#"{{"CiphertextBlob":"{blob}","EncryptionContext":{{"purpose":"bench"}}}}"#),
        ),
        ("kms-generate-data-key", key) => (
            "kms",
            Some("TrentService.GenerateDataKey"),
            format!(
                r#"{{"KeyId":"{key}","KeySpec":"AES_256","EncryptionContext":{{"purpose":"bench"}}}}"#
            ),
        ),
        ("ecs-describe-tasks", spec) => {
            // `<cluster>/<task id or ARN>`
            let (cluster, task) = spec.split_once('/').unwrap_or(("default", spec));
            (
                "ecs",
                Some("AmazonEC2ContainerServiceV20141113.DescribeTasks"),
                format!(r#"{{"cluster":"{cluster}","tasks":["{task}"]}}"#),
            )
        }
        ("logs-put", spec) => {
            let (group, stream) = spec.split_once(':').unwrap_or((spec, "bench"));
            (
                "logs",
                Some("Logs_20140328.PutLogEvents"),
                put_log_events(group, stream),
            )
        }
        ("logs-filter", spec) => {
            let (group, term) = spec.split_once(':').unwrap_or((spec, "NEEDLE"));
            (
                "logs",
                Some("Logs_20140328.FilterLogEvents"),
                format!(r#"{{"logGroupName":"{group}","filterPattern":"{term}"}}"#),
            )
        }
        ("secrets-get", id) => (
            "secretsmanager",
            Some("secretsmanager.GetSecretValue"),
            format!(r#"{{"SecretId":"{id}"}}"#),
        ),
        (other, _) => return Err(format!("unknown op {other}")),
    })
}

/// A PutLogEvents body: 1,000 events of 100-byte messages, stamped now (a run stays well
/// inside the 2 h AWS accepts ahead and the 14 days behind).
fn put_log_events(group: &str, stream: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let events: Vec<String> = (0..1000)
        .map(|i| {
            let head =
                format!("{now} INFO request {i:04} served path=/api/items status=200 bytes=");
            let message = format!("{head}{}", "x".repeat(100usize.saturating_sub(head.len())));
            format!(r#"{{"timestamp":{now},"message":"{message}"}}"#)
        })
        .collect();
    format!(
        r#"{{"logGroupName":"{group}","logStreamName":"{stream}","logEvents":[{}]}}"#,
        events.join(",")
    )
}

struct Signer {
    access_key: String,
    secret: SecretKey,
    region: String,
    service: &'static str,
    host: String,
}

impl Signer {
    fn sign(&self, target: Option<&str>, body: &str) -> http::Request<Full<Bytes>> {
        let now = {
            let d = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            Timestamp::from_millis(i64::try_from(d.as_millis()).unwrap_or(0))
        };
        let amz_date = now.amz_date();
        let content_type = if target.is_some() {
            "application/x-amz-json-1.1"
        } else {
            "application/x-www-form-urlencoded; charset=utf-8"
        };
        let mut headers: Vec<(&str, &str)> = vec![
            ("content-type", content_type),
            ("host", &self.host),
            ("x-amz-date", &amz_date),
        ];
        if let Some(t) = target {
            headers.push(("x-amz-target", t));
        }
        let signed: Vec<&str> = headers.iter().map(|(n, _)| *n).collect();
        let signed_str = signed.join(";");
        let ch = canonical::canonical_headers(headers.iter().copied(), &signed).unwrap_or_default();
        let creq = canonical::canonical_request(
            "POST",
            "/",
            "",
            &ch,
            &signed_str,
            &canonical::sha256_hex(body.as_bytes()),
        );
        let day = now.amz_day();
        let scope = format!("{day}/{}/{}/aws4_request", self.region, self.service);
        let sts = canonical::string_to_sign(&amz_date, &scope, &creq);
        let key = canonical::signing_key(&self.secret, &day, &self.region, self.service);
        let sig = canonical::hex(&canonical::signature(&key, &sts));
        let authz = format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_str}, Signature={sig}",
            self.access_key
        );
        let mut b = http::Request::builder().method("POST").uri("/");
        for (n, v) in &headers {
            b = b.header(*n, *v);
        }
        b.header("authorization", authz)
            .body(Full::new(Bytes::from(body.to_owned())))
            .unwrap_or_default()
    }
}

async fn connect(addr: &str) -> Option<hyper::client::conn::http1::SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(addr).await.ok()?;
    let _ = stream.set_nodelay(true);
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .ok()?;
    tokio::spawn(conn);
    Some(sender)
}

async fn worker(
    addr: String,
    signer: Arc<Signer>,
    target: Option<&'static str>,
    body: Arc<String>,
    stop: Arc<AtomicBool>,
    errors: Arc<AtomicU64>,
    quota: Option<Arc<AtomicU64>>,
) -> Vec<u32> {
    let mut lat = Vec::with_capacity(100_000);
    let mut sender = None;
    while !stop.load(Ordering::Relaxed) {
        // Servers that close connections after each response (moto's) are reconnected to;
        // the time to reconnect counts in that request's latency.
        let t = Instant::now();
        if sender
            .as_ref()
            .is_none_or(|s: &hyper::client::conn::http1::SendRequest<_>| s.is_closed())
        {
            sender = connect(&addr).await;
        }
        let Some(s) = sender.as_mut() else {
            errors.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        if s.ready().await.is_err() {
            sender = None;
            continue;
        }
        // A fixed number of requests: each worker takes one from the quota before sending.
        if let Some(q) = &quota {
            if q.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_err()
            {
                break;
            }
        }
        let req = signer.sign(target, &body);
        match s.send_request(req).await {
            Ok(resp) => {
                let ok = resp.status().is_success();
                let _ = resp.into_body().collect().await;
                if ok {
                    lat.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                    if let Some(q) = &quota {
                        q.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            Err(_) => {
                errors.fetch_add(1, Ordering::Relaxed);
                if let Some(q) = &quota {
                    q.fetch_add(1, Ordering::Relaxed);
                }
                sender = None;
            }
        }
    }
    lat
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

/// Linux reports `/proc` CPU times in USER_HZ, which is 100 on every architecture the
/// kernel's ABI fixes it for (x86, arm64), whatever the kernel's own tick rate.
const TICKS_PER_SEC: u64 = 100;

/// `(comm, utime + stime in ticks)` from a `/proc/.../stat` line. The name is between the
/// first `(` and the last `)` (it may itself hold spaces or parentheses).
fn cpu_ticks(stat: &str) -> Option<(String, u64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_owned();
    let rest: Vec<&str> = stat.get(close + 2..)?.split_whitespace().collect();
    // Fields 14 and 15 of stat(5); `rest` starts at field 3.
    let utime: u64 = rest.get(11)?.parse().ok()?;
    let stime: u64 = rest.get(12)?.parse().ok()?;
    Some((comm, utime + stime))
}

/// CPU ticks of a process: in total, and by thread name (tokio's workers share one name).
type Ticks = (u64, std::collections::BTreeMap<String, u64>);

/// The [`Ticks`] of process `pid` (`self` for this one).
fn process_ticks(pid: &str) -> Ticks {
    let total = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| cpu_ticks(&s))
        .map_or(0, |(_, t)| t);
    let mut threads = std::collections::BTreeMap::new();
    if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for e in dir.flatten() {
            let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            if let Some((comm, t)) = cpu_ticks(&stat) {
                *threads.entry(comm).or_insert(0) += t;
            }
        }
    }
    (total, threads)
}

/// Microseconds of CPU per request from two tick counts.
#[allow(clippy::cast_precision_loss)]
fn us_per_request(before: u64, after: u64, requests: usize) -> f64 {
    let ticks = after.saturating_sub(before);
    (ticks as f64) * 1e6 / (TICKS_PER_SEC as f64) / (requests.max(1) as f64)
}

/// The CPU report: server total, server by thread name (those that used any), load
/// generator.
fn cpu_report(server: Option<&(Ticks, String)>, client_before: u64, requests: usize) -> String {
    let client_after = process_ticks("self").0;
    let mut out = format!(
        " client_cpu_us={:.1}",
        us_per_request(client_before, client_after, requests)
    );
    if let Some(((total, threads), pid)) = server {
        let (total_after, threads_after) = process_ticks(pid);
        out.push_str(&format!(
            " server_cpu_us={:.1} threads=",
            us_per_request(*total, total_after, requests)
        ));
        let parts: Vec<String> = threads_after
            .iter()
            .filter_map(|(name, after)| {
                let before = threads.get(name).copied().unwrap_or(0);
                (*after > before)
                    .then(|| format!("{name}:{:.1}", us_per_request(before, *after, requests)))
            })
            .collect();
        out.push_str(&parts.join(",").replace(' ', "_"));
    }
    out
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("ferrogate-bench: {e}");
            std::process::exit(2);
        }
    };
    let (service, target, body) = match operation(&args.op) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("ferrogate-bench: {e}");
            std::process::exit(2);
        }
    };
    let host = args
        .endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let signer = Arc::new(Signer {
        access_key: args.access_key.clone(),
        secret: SecretKey::new(args.secret.clone()),
        region: args.region.clone(),
        service,
        host: host.clone(),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let body = Arc::new(body);
    let quota = args.requests.map(|r| Arc::new(AtomicU64::new(r)));
    let server_before = args
        .server_pid
        .map(|p| (process_ticks(&p.to_string()), p.to_string()));
    let client_before = process_ticks("self").0;
    let started = Instant::now();
    let handles: Vec<_> = (0..args.concurrency)
        .map(|_| {
            tokio::spawn(worker(
                host.clone(),
                signer.clone(),
                target,
                body.clone(),
                stop.clone(),
                errors.clone(),
                quota.clone(),
            ))
        })
        .collect();
    if args.requests.is_none() {
        tokio::time::sleep(Duration::from_secs(args.seconds)).await;
        stop.store(true, Ordering::Relaxed);
    }
    let mut all = Vec::new();
    for h in handles {
        if let Ok(l) = h.await {
            all.extend(l);
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_report(server_before.as_ref(), client_before, all.len());
    all.sort_unstable();
    #[allow(clippy::cast_precision_loss)]
    let rps = all.len() as f64 / elapsed;
    println!(
        "op={} concurrency={} requests={} errors={} req/s={:.0} p50_ms={:.2} p99_ms={:.2} max_ms={:.2}{cpu}",
        args.op,
        args.concurrency,
        all.len(),
        errors.load(Ordering::Relaxed),
        rps,
        percentile(&all, 0.50),
        percentile(&all, 0.99),
        percentile(&all, 1.0),
    );
}
