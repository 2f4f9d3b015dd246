//! The real server in-process with an injected clock, driven by botocore's signer
//! (`tests/py/raw.py`), for behaviour that depends on time passing: session expiry.

mod common;

use common::{ClockServer, Signer};

struct Caller {
    endpoint: String,
    key: String,
    secret: String,
    token: Option<String>,
}

impl Caller {
    /// A signed query call; `skew` minutes are added to the signer's clock.
    fn query(&self, service: &str, body: &str, skew: i64) -> (u16, String) {
        let signer = Signer {
            endpoint: &self.endpoint,
            key: &self.key,
            secret: &self.secret,
            token: self.token.as_deref(),
        };
        signer.run(&[service, "query", body, "--skew-minutes", &skew.to_string()])
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
    let server = ClockServer::start();
    let (clock, endpoint) = (&server.clock, server.endpoint.clone());
    let root = Caller {
        endpoint: endpoint.clone(),
        key: server.key.clone(),
        secret: server.secret.clone(),
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
    drop(server); // stops the server
}
