//! The real server in-process with an injected clock, driven by botocore's signer
//! (`tests/py/raw.py`), for behaviour that depends on time passing: session expiry.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use ferrogate_server::{App, DataDir, Listening};
use ferrogate_types::{AccountId, Clock, ManualClock, SystemClock};

fn raw_py() -> PathBuf {
    PathBuf::from(
        &std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
    )
    .join("../../tests/py/raw.py")
}

struct Caller {
    endpoint: String,
    key: String,
    secret: String,
    token: Option<String>,
}

impl Caller {
    /// A signed query call; `skew` minutes are added to the signer's clock.
    fn query(&self, service: &str, body: &str, skew: i64) -> (u16, String) {
        let mut cmd = Command::new("python3");
        cmd.arg(raw_py())
            .args([service, "query", body, "--skew-minutes", &skew.to_string()]);
        cmd.env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", &self.key)
            .env("AWS_SECRET_ACCESS_KEY", &self.secret)
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env_remove("AWS_SESSION_TOKEN");
        if let Some(t) = &self.token {
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

fn element(xml: &str, tag: &str) -> String {
    let start = xml
        .find(&format!("<{tag}>"))
        .unwrap_or_else(|| panic!("no <{tag}> in {xml}"))
        + tag.len()
        + 2;
    let end = xml[start..].find(&format!("</{tag}>")).unwrap() + start;
    xml[start..end]
        .replace("&#x2B;", "+")
        .replace("&#x2F;", "/")
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn session_credentials_expire() {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::open(&dir.path().join("data")).unwrap();
    let clock = ManualClock::new(SystemClock.now());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
    let endpoint = rt.block_on(async {
        let account = AccountId::parse("000000000000").unwrap();
        let (app, _) = App::open_with_clock(&data, &account, Arc::new(clock.clone()))
            .await
            .unwrap();
        let listening = Listening::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let endpoint = format!("http://{}", listening.local_addr);
        tokio::spawn(ferrogate_server::serve(app, listening, async {
            let _ = shutdown_rx.await;
        }));
        endpoint
    });
    let creds = data.read_credentials().unwrap();
    let root = Caller {
        endpoint: endpoint.clone(),
        key: creds.access_key_id.clone(),
        secret: creds.secret_access_key.to_string(),
        token: None,
    };
    let trust = encode(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"sts:AssumeRole"}]}"#,
    );
    let (status, body) = root.query(
        "iam",
        &format!(
            "Action=CreateRole&Version=2010-05-08&RoleName=r&AssumeRolePolicyDocument={trust}"
        ),
        0,
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = root.query(
        "sts",
        "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Arole%2Fr&RoleSessionName=s1&DurationSeconds=900",
        0,
    );
    assert_eq!(status, 200, "{body}");
    let session = Caller {
        endpoint,
        key: element(&body, "AccessKeyId"),
        secret: element(&body, "SecretAccessKey"),
        token: Some(element(&body, "SessionToken")),
    };
    let (status, body) = session.query("sts", "Action=GetCallerIdentity&Version=2011-06-15", 0);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("assumed-role/r/s1"), "{body}");

    // 14 minutes later the session still works; 16 minutes later it has expired. The signer's
    // clock moves with the server's, so only the session's expiry can refuse the call.
    clock.advance_millis(14 * 60 * 1000);
    let (status, _) = session.query("sts", "Action=GetCallerIdentity&Version=2011-06-15", 14);
    assert_eq!(status, 200);
    clock.advance_millis(2 * 60 * 1000);
    let (status, body) = session.query("sts", "Action=GetCallerIdentity&Version=2011-06-15", 16);
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("<Code>ExpiredToken</Code>"), "{body}");
    assert!(
        body.contains("The security token included in the request is expired"),
        "{body}"
    );
    // Long-term credentials are unaffected.
    let (status, _) = root.query("sts", "Action=GetCallerIdentity&Version=2011-06-15", 16);
    assert_eq!(status, 200);
    let _ = shutdown_tx.send(());
}
