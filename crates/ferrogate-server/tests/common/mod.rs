//! What the in-process server tests share: the real server on an injected clock, and
//! botocore's signer (`tests/py/raw.py`) to call it with its own clock skewed.
#![allow(dead_code)]

#[path = "../../../../tests/common/shell.rs"]
pub mod shell;

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use ferrogate_server::{App, DataDir, Listening};
use ferrogate_types::{AccountId, Clock, ManualClock, SystemClock};

/// The real server on loopback, its clock a [`ManualClock`] started at the present.
pub struct ClockServer {
    pub clock: ManualClock,
    pub app: App,
    pub rt: tokio::runtime::Runtime,
    pub endpoint: String,
    /// The root user's access key id and secret.
    pub key: String,
    pub secret: String,
    _shutdown: tokio::sync::oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

impl ClockServer {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::open(&dir.path().join("data")).unwrap();
        let clock = ManualClock::new(SystemClock.now());
        let rt = tokio::runtime::Runtime::new().unwrap();
        let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let (app, endpoint) = rt.block_on(async {
            let account = AccountId::parse("000000000000").unwrap();
            let (app, _) = App::open_with_clock(&data, &account, Arc::new(clock.clone()))
                .await
                .unwrap();
            let listening = Listening::bind("127.0.0.1:0".parse().unwrap())
                .await
                .unwrap();
            let endpoint = format!("http://{}", listening.local_addr);
            tokio::spawn(ferrogate_server::serve(app.clone(), listening, async {
                let _ = shutdown_rx.await;
            }));
            (app, endpoint)
        });
        let creds = data.read_credentials().unwrap();
        Self {
            clock,
            app,
            rt,
            endpoint,
            key: creds.access_key_id.clone(),
            secret: creds.secret_access_key.to_string(),
            _shutdown: shutdown_tx,
            _dir: dir,
        }
    }
}

/// Whom `raw.py` signs as.
pub struct Signer<'a> {
    pub endpoint: &'a str,
    pub key: &'a str,
    pub secret: &'a str,
    pub token: Option<&'a str>,
}

impl Signer<'_> {
    /// Runs `raw.py` with `args` (`<service> query|json …`); the answer's status and body.
    pub fn run(&self, args: &[&str]) -> (u16, String) {
        let raw_py = PathBuf::from(
            &std::env::var("CARGO_MANIFEST_DIR")
                .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
        )
        .join("../../tests/py/raw.py");
        let mut cmd = Command::new("python3");
        cmd.arg(raw_py)
            .args(args)
            .env("AWS_ENDPOINT_URL", self.endpoint)
            .env("AWS_ACCESS_KEY_ID", self.key)
            .env("AWS_SECRET_ACCESS_KEY", self.secret)
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env_remove("AWS_SESSION_TOKEN");
        if let Some(t) = self.token {
            cmd.env("AWS_SESSION_TOKEN", t);
        }
        let out = cmd
            .output()
            .expect("python3 (run .ci/run to install boto3)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (
            u16::try_from(v["status"].as_u64().unwrap()).unwrap(),
            v["body"].as_str().unwrap().to_owned(),
        )
    }
}
