//! The end-to-end harness: starts the real `ferrogate` binary on a free loopback port with
//! a fresh data directory, and drives it with real clients (the `aws` CLI, boto3).
#![allow(dead_code)]

pub mod shell;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Fails loudly when a client the tests need is missing (`.ci/run` installs them).
fn require(tool: &str) {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .map(|o| o.status.success());
    assert!(
        found.unwrap_or(false),
        "`{tool}` is not installed: run .ci/run (it installs the aws CLI and boto3)"
    );
}

pub struct Server {
    child: Option<Child>,
    /// Everything the server printed (stdout and stderr), for tests of what it logs.
    output: std::sync::Arc<std::sync::Mutex<String>>,
    log_level: String,
    /// `--volume-backend` given at start, kept by [`Server::restart`].
    volume_backend: Option<String>,
    pub dir: tempfile::TempDir,
    pub endpoint: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub account: String,
}

fn read_credentials(dir: &Path) -> (String, String, String) {
    let text = std::fs::read_to_string(dir.join("credentials")).expect("credentials file");
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_default()
            .to_owned()
    };
    (
        get("aws_access_key_id"),
        get("aws_secret_access_key"),
        get("account_id"),
    )
}

impl Server {
    pub fn start() -> Self {
        Self::start_in(tempfile::tempdir().expect("tempdir"), &[], "warn")
    }

    pub fn start_with(args: &[&str]) -> Self {
        Self::start_in(tempfile::tempdir().expect("tempdir"), args, "warn")
    }

    /// Starts with `RUST_LOG` set to `level` (e.g. `trace`).
    pub fn start_logging(level: &str) -> Self {
        Self::start_in(tempfile::tempdir().expect("tempdir"), &[], level)
    }

    /// What the server printed so far, stdout and stderr.
    pub fn output(&self) -> String {
        self.output.lock().map(|o| o.clone()).unwrap_or_default()
    }

    fn start_in(dir: tempfile::TempDir, extra: &[&str], log_level: &str) -> Self {
        let data = dir.path().join("data");
        // Task volumes are sparse and the tests write little to them, but admission control
        // reserves their full size against the free disk, which a fresh CI machine may not
        // have for a 50 GiB task beside a build: a fixed allowance, unless the test sets one.
        let disk: &[&str] = if extra.contains(&"--allocatable-disk") {
            &[]
        } else {
            &["--allocatable-disk", "4096"]
        };
        // `FERROGATE_E2E_VOLUME_BACKEND=xts|fscrypt|auto` runs the whole suite on one volume
        // backend (restarts keep it, as they keep a `--volume-backend` given here); unset, the
        // server's default (`auto`: XTS where the host has FUSE) applies.
        let backend: Vec<String> = match std::env::var("FERROGATE_E2E_VOLUME_BACKEND") {
            Ok(b) if !extra.contains(&"--volume-backend") => vec!["--volume-backend".into(), b],
            _ => Vec::new(),
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_ferrogate"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data)
            .args(disk)
            .args(extra)
            .args(&backend)
            .env("RUST_LOG", log_level)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ferrogate");
        let output = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("stderr");
        let sink = output.clone();
        // Drain stderr (the log) into `output`, echoing warnings and errors for the test log.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("WARN") || line.contains("ERROR") {
                    eprintln!("[ferrogate] {line}");
                }
                if let Ok(mut o) = sink.lock() {
                    o.push_str(&line);
                    o.push('\n');
                }
            }
        });
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let endpoint = loop {
            let line = lines
                .next()
                .expect("ferrogate exited before listening")
                .expect("read stdout");
            if let Ok(mut o) = output.lock() {
                o.push_str(&line);
                o.push('\n');
            }
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest.trim().to_owned();
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        let sink = output.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if let Ok(mut o) = sink.lock() {
                    o.push_str(&line);
                    o.push('\n');
                }
            }
        });
        let (access_key_id, secret_access_key, account) = read_credentials(&data);
        Self {
            child: Some(child),
            output,
            log_level: log_level.to_owned(),
            volume_backend: extra
                .iter()
                .position(|a| *a == "--volume-backend")
                .and_then(|i| extra.get(i + 1))
                .map(|b| (*b).to_owned()),
            dir,
            endpoint,
            access_key_id,
            secret_access_key,
            account,
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Stops with SIGTERM (graceful) and waits.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
            panic!("ferrogate did not stop within 15 s of SIGTERM");
        }
    }

    /// Kills with SIGKILL (a crash).
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts again on the same data directory.
    pub fn restart(mut self) -> Self {
        self.stop();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("tempdir"));
        let level = self.log_level.clone();
        match self.volume_backend.take() {
            Some(b) => Self::start_in(dir, &["--volume-backend", &b], &level),
            None => Self::start_in(dir, &[], &level),
        }
    }

    fn client_env(&self, cmd: &mut Command, key: &str, secret: &str) {
        cmd.env_remove("AWS_SESSION_TOKEN");
        cmd.env("AWS_ACCESS_KEY_ID", key)
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_MAX_ATTEMPTS", "1")
            .env("AWS_RETRY_MODE", "standard")
            .env("AWS_PAGER", "")
            .env_remove("AWS_PROFILE")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
    }

    /// Runs the `aws` CLI as the root user.
    pub fn aws(&self, args: &[&str]) -> Output {
        self.aws_as(
            &self.access_key_id.clone(),
            &self.secret_access_key.clone(),
            args,
        )
    }

    /// Runs the `aws` CLI with the given credentials.
    pub fn aws_as(&self, key: &str, secret: &str, args: &[&str]) -> Output {
        require("aws");
        let mut cmd = Command::new("aws");
        self.client_env(&mut cmd, key, secret);
        cmd.args(args).args(["--output", "json"]);
        cmd.output().expect("run aws")
    }

    /// Runs the `aws` CLI with temporary credentials.
    pub fn aws_session(&self, creds: &Session, args: &[&str]) -> Output {
        require("aws");
        let mut cmd = Command::new("aws");
        self.client_env(&mut cmd, &creds.key, &creds.secret);
        cmd.env("AWS_SESSION_TOKEN", &creds.token);
        cmd.args(args).args(["--output", "json"]);
        cmd.output().expect("run aws")
    }

    /// Assumes `role_arn` with the given credentials (a session when `token` is set).
    pub fn assume_role(
        &self,
        key: &str,
        secret: &str,
        role_arn: &str,
        session: &str,
    ) -> Result<Session, String> {
        let out = self.aws_as(
            key,
            secret,
            &[
                "sts",
                "assume-role",
                "--role-arn",
                role_arn,
                "--role-session-name",
                session,
            ],
        );
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        let v = json(&out);
        let c = &v["Credentials"];
        Ok(Session {
            key: c["AccessKeyId"].as_str().unwrap_or_default().to_owned(),
            secret: c["SecretAccessKey"].as_str().unwrap_or_default().to_owned(),
            token: c["SessionToken"].as_str().unwrap_or_default().to_owned(),
        })
    }

    /// Runs `tests/py/<script>` with boto3, as root unless credentials are given.
    pub fn python(&self, script: &str, args: &[&str]) -> Output {
        self.python_as(
            &self.access_key_id.clone(),
            &self.secret_access_key.clone(),
            script,
            args,
        )
    }

    pub fn python_as(&self, key: &str, secret: &str, script: &str, args: &[&str]) -> Output {
        require("python3");
        let path = Path::new(
            &std::env::var("CARGO_MANIFEST_DIR")
                .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
        )
        .join("tests/py")
        .join(script);
        let mut cmd = Command::new("python3");
        self.client_env(&mut cmd, key, secret);
        cmd.arg(path).args(args);
        cmd.output().expect("run python3")
    }
}

/// Temporary credentials.
#[derive(Debug)]
pub struct Session {
    pub key: String,
    pub secret: String,
    pub token: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
        // A crashed server's XTS volumes leave their FUSE mounts (dead: no server, no key) in
        // this namespace until the next server on the data directory recovers them; none comes,
        // so they are detached here, or they would outlive the test's temporary directory.
        let root = format!("{}/", self.dir.path().display());
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        for point in mountinfo.lines().filter_map(|l| l.split(' ').nth(4)) {
            if point.starts_with(&root) {
                let _ = Command::new("umount").args(["-l", point]).status();
            }
        }
        // Its nftables tables (named after the data directory, as the runtime canonicalizes
        // it) likewise stay until a server on that directory recovers them. Left behind, every
        // later `nft` run on the host reads them all: after one CI run's ~180 servers, a
        // task's start took 290 ms instead of 45.
        if ferrogate_runtime::host::is_root() {
            if let Ok(dir) = std::fs::canonicalize(self.data_dir()) {
                let table = ferrogate_runtime::net::table_name(
                    &ferrogate_runtime::cgroup::instance_for(&dir),
                );
                for family in ["inet", "arp"] {
                    let _ = Command::new(ferrogate_runtime::net::find_nft())
                        .args(["delete", "table", family, &table])
                        .stderr(Stdio::null())
                        .status();
                }
            }
        }
    }
}

/// Parses stdout as JSON, failing with the whole output when the command failed.
pub fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "command failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.stdout.iter().all(u8::is_ascii_whitespace) {
        return serde_json::Value::Null;
    }
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

/// Asserts the command failed with `code` in its error text, returning stderr.
pub fn fails_with(out: &Output, code: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "expected {code}, but the command succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        err.contains(&format!("({code})")),
        "expected ({code}) in: {err}"
    );
    err
}

// --- ECS task helpers (root tests) ---------------------------------------------------------

pub fn require_root(test: &str) -> bool {
    if ferrogate_runtime::host::is_root() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test}: needs root (loop devices, mounts, fscrypt, namespaces); CI=true, so this fails instead of skipping");
    }
    eprintln!("SKIPPED {test}: needs root (run as root, as CI does)");
    false
}

/// Builds the busybox image and loads it into the server's data directory.
pub fn load_busybox(s: &Server) {
    assert!(
        Path::new("/bin/busybox").exists(),
        "busybox-static is not installed: run .ci/run"
    );
    let archive = s.dir.path().join("busybox.tar");
    let script = Path::new(
        &std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
    )
    .join("tests/py/mkimage.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(&archive)
        .arg("busybox:latest")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let out = Command::new(env!("CARGO_BIN_EXE_ferrogate"))
        .args(["images", "load", "--data-dir"])
        .arg(s.data_dir())
        .arg(&archive)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

/// The key policy of shared/spec/aws-behaviour.md §4.2 for `cluster`, plus the account's
/// administration.
pub fn fargate_key(s: &Server, cluster: &str) -> String {
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
        {{"Sid":"Enable IAM policies","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::000000000000:root"}},"Action":"kms:*","Resource":"*"}},
        {{"Sid":"Allow generate data key access for Fargate tasks.","Effect":"Allow","Principal":{{"Service":"fargate.amazonaws.com"}},
          "Action":["kms:GenerateDataKeyWithoutPlaintext"],
          "Condition":{{"StringEquals":{{"kms:EncryptionContext:aws:ecs:clusterAccount":["000000000000"],"kms:EncryptionContext:aws:ecs:clusterName":["{cluster}"]}}}},
          "Resource":"*"}},
        {{"Sid":"Allow grant creation permission for Fargate tasks.","Effect":"Allow","Principal":{{"Service":"fargate.amazonaws.com"}},
          "Action":["kms:CreateGrant"],
          "Condition":{{"StringEquals":{{"kms:EncryptionContext:aws:ecs:clusterAccount":["000000000000"],"kms:EncryptionContext:aws:ecs:clusterName":["{cluster}"]}},
                       "ForAllValues:StringEquals":{{"kms:GrantOperations":["Decrypt"]}}}},
          "Resource":"*"}}]}}"#
    );
    let k = json(&s.aws(&["kms", "create-key", "--policy", &policy]));
    k["KeyMetadata"]["Arn"].as_str().unwrap().to_owned()
}

// --- IAM, KMS and CloudTrail helpers ---------------------------------------------------------

/// Creates IAM user `name` with an access key; returns (access key id, secret access key).
pub fn user_with_key(s: &Server, name: &str) -> (String, String) {
    json(&s.aws(&["iam", "create-user", "--user-name", name]));
    let k = json(&s.aws(&["iam", "create-access-key", "--user-name", name]));
    let field = |f: &str| k["AccessKey"][f].as_str().unwrap().to_owned();
    (field("AccessKeyId"), field("SecretAccessKey"))
}

/// Puts the inline policy `name` (a whole JSON document) on `user`, replacing one of that name.
pub fn put_user_policy(s: &Server, user: &str, name: &str, document: &str) {
    json(&s.aws(&[
        "iam",
        "put-user-policy",
        "--user-name",
        user,
        "--policy-name",
        name,
        "--policy-document",
        document,
    ]));
}

/// Puts the inline policy `p` of `statements` (JSON objects separated by commas) on `user`.
pub fn allow(s: &Server, user: &str, statements: &str) {
    put_user_policy(s, user, "p", &policy_doc(statements));
}

/// Creates user `name` with an access key and the inline policy `p` of `statements`; returns
/// (access key id, secret access key).
pub fn allowed_user(s: &Server, name: &str, statements: &str) -> (String, String) {
    let key = user_with_key(s, name);
    allow(s, name, statements);
    key
}

/// The member account's administrator: a session of its `OrganizationAccountAccessRole`,
/// assumed by the management account's root, checked to be in `member`.
pub fn member_admin(s: &Server, member: &str) -> Session {
    let role = format!("arn:aws:iam::{member}:role/OrganizationAccountAccessRole");
    let session = s
        .assume_role(&s.access_key_id, &s.secret_access_key, &role, "admin")
        .unwrap();
    let who = json(&s.aws_session(&session, &["sts", "get-caller-identity"]));
    assert_eq!(who["Account"], member);
    session
}

/// `kms create-key` with `extra` arguments; returns (key id, key ARN).
pub fn create_key(s: &Server, extra: &[&str]) -> (String, String) {
    let mut args = vec!["kms", "create-key"];
    args.extend_from_slice(extra);
    let k = json(&s.aws(&args));
    let field = |f: &str| k["KeyMetadata"][f].as_str().unwrap().to_owned();
    (field("KeyId"), field("Arn"))
}

/// A cluster configuration whose managed storage is encrypted under `key`.
pub fn storage_conf(key: &str) -> String {
    format!(r#"{{"managedStorageConfiguration":{{"fargateEphemeralStorageKmsKeyId":"{key}"}}}}"#)
}

/// The events (`EventName`, `CloudTrailEvent`, …) whose attribute `key` is `value`, newest
/// first (LookupEvents).
pub fn lookup_events(s: &Server, key: &str, value: &str) -> Vec<serde_json::Value> {
    let ev = json(&s.aws(&[
        "cloudtrail",
        "lookup-events",
        "--lookup-attributes",
        &format!("AttributeKey={key},AttributeValue={value}"),
    ]));
    ev["Events"].as_array().unwrap().clone()
}

/// The CloudTrail record of `event` (its `CloudTrailEvent`, parsed).
pub fn record_of(event: &serde_json::Value) -> serde_json::Value {
    serde_json::from_str(event["CloudTrailEvent"].as_str().unwrap()).unwrap()
}

/// The CloudTrail records of every event named `name`, newest first (LookupEvents).
pub fn trail_records(s: &Server, name: &str) -> Vec<serde_json::Value> {
    lookup_events(s, "EventName", name)
        .iter()
        .map(record_of)
        .collect()
}

/// A policy document (version 2012-10-17) of `statements`, JSON objects separated by commas.
pub fn policy_doc(statements: &str) -> String {
    format!(r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#)
}

// --- Organizations helpers -------------------------------------------------------------------

/// `organizations create-organization --feature-set ALL`; returns the answer.
pub fn create_organization(s: &Server) -> serde_json::Value {
    json(&s.aws(&[
        "organizations",
        "create-organization",
        "--feature-set",
        "ALL",
    ]))
}

/// Enables service control policies in the organization's root; returns the root id.
pub fn enable_scps(s: &Server) -> String {
    let roots = json(&s.aws(&["organizations", "list-roots"]));
    let root_id = roots["Roots"][0]["Id"].as_str().unwrap().to_owned();
    json(&s.aws(&[
        "organizations",
        "enable-policy-type",
        "--root-id",
        &root_id,
        "--policy-type",
        "SERVICE_CONTROL_POLICY",
    ]));
    root_id
}

/// Creates the member account `name` (email `email`) and returns its id; the creation must
/// have succeeded.
pub fn member_account(s: &Server, email: &str, name: &str) -> String {
    let created = json(&s.aws(&[
        "organizations",
        "create-account",
        "--email",
        email,
        "--account-name",
        name,
    ]));
    assert_eq!(created["CreateAccountStatus"]["State"], "SUCCEEDED");
    created["CreateAccountStatus"]["AccountId"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Creates the service control policy `name` with `content` and attaches it to `target`;
/// returns its id.
pub fn attach_scp(s: &Server, name: &str, content: &str, target: &str) -> String {
    let p = json(&s.aws(&[
        "organizations",
        "create-policy",
        "--name",
        name,
        "--description",
        "d",
        "--type",
        "SERVICE_CONTROL_POLICY",
        "--content",
        content,
    ]));
    let id = p["Policy"]["PolicySummary"]["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    json(&s.aws(&[
        "organizations",
        "attach-policy",
        "--policy-id",
        &id,
        "--target-id",
        target,
    ]));
    id
}

// --- Task networking (root tests) ----------------------------------------------------------

/// A new VPC `10.<n>.0.0/16` with the subnet `10.<n>.0.0/<prefix>`, `n` unique in this test
/// process: tasks of servers running at the same time (each test has its own) never share
/// an address on the host. Returns `(vpc id, subnet id, "10.<n>.0")`.
pub fn task_vpc(s: &Server, prefix: u8) -> (String, String, String) {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = 100 + std::process::id() % 100 + NEXT.fetch_add(1, Ordering::Relaxed);
    assert!(n < 256, "too many test VPCs in one process");
    let vpc = json(&s.aws(&[
        "ec2",
        "create-vpc",
        "--cidr-block",
        &format!("10.{n}.0.0/16"),
    ]))["Vpc"]["VpcId"]
        .as_str()
        .unwrap()
        .to_owned();
    let subnet = json(&s.aws(&[
        "ec2",
        "create-subnet",
        "--vpc-id",
        &vpc,
        "--cidr-block",
        &format!("10.{n}.0.0/{prefix}"),
    ]))["Subnet"]["SubnetId"]
        .as_str()
        .unwrap()
        .to_owned();
    (vpc, subnet, format!("10.{n}.0"))
}

/// `--network-configuration` for a task in a [`task_vpc`] /24 (its default group), made on
/// the server's first call.
pub fn task_net(s: &Server) -> String {
    use std::collections::HashMap;
    use std::sync::Mutex;
    static MADE: Mutex<Option<HashMap<String, String>>> = Mutex::new(None);
    if let Some(n) = MADE
        .lock()
        .unwrap()
        .get_or_insert_with(HashMap::new)
        .get(&s.endpoint)
    {
        return n.clone();
    }
    let (_, subnet, _) = task_vpc(s, 24);
    let n = format!("awsvpcConfiguration={{subnets=[{subnet}]}}");
    MADE.lock()
        .unwrap()
        .get_or_insert_with(HashMap::new)
        .insert(s.endpoint.clone(), n.clone());
    n
}

/// `aws ecs register-task-definition` of a 256/512 Fargate `awsvpc` definition with these
/// containers (JSON) and `extra` arguments; the CLI's output, to check.
pub fn register_fargate_def(s: &Server, family: &str, containers: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "ecs",
        "register-task-definition",
        "--family",
        family,
        "--requires-compatibilities",
        "FARGATE",
        "--network-mode",
        "awsvpc",
        "--cpu",
        "256",
        "--memory",
        "512",
        "--container-definitions",
        containers,
    ];
    args.extend_from_slice(extra);
    s.aws(&args)
}

// --- plaintext scans -------------------------------------------------------------------------

/// Every file under `root` with its bytes.
pub fn files_under(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).unwrap().map(Result::unwrap) {
            let p = entry.path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap();
                out.push((p, bytes));
            }
        }
    }
    out
}

/// Asserts that no file under `root` holds any of `needles` (`(what, bytes)`); returns how
/// many files were scanned.
pub fn assert_not_in_clear(root: &Path, needles: &[(&str, &[u8])]) -> usize {
    let all = files_under(root);
    for (path, bytes) in &all {
        for (what, needle) in needles {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == *needle),
                "{what} is in clear in {}",
                path.display()
            );
        }
    }
    all.len()
}
