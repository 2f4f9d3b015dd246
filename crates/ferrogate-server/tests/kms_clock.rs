//! KMS behaviour that depends on time passing, with the real server in-process on an injected
//! clock and botocore's signer (`tests/py/raw.py`, its clock skewed by as much as the server's
//! was advanced): scheduled deletion, automatic rotation, expiry of imported material, and the
//! `AwsServiceEvent` records maintenance writes.

mod common;

use std::path::Path;

use common::shell::sh;
use common::{ClockServer, Signer};
use ferrogate_types::Clock;
use serde_json::{json, Value};

const MINUTE: u64 = 60 * 1000;
const DAY: u64 = 24 * 60 * MINUTE;

struct Caller {
    endpoint: String,
    key: String,
    secret: String,
    /// Minutes the server's clock has been advanced; the signer's clock follows.
    skew_minutes: std::cell::Cell<u64>,
}

impl Caller {
    fn call(&self, service: &str, target: &str, body: &Value) -> (u16, Value) {
        let signer = Signer {
            endpoint: &self.endpoint,
            key: &self.key,
            secret: &self.secret,
            token: None,
        };
        let skew = self.skew_minutes.get().to_string();
        let (status, body) = signer.run(&[
            service,
            "json",
            target,
            &body.to_string(),
            "--skew-minutes",
            &skew,
        ]);
        (
            status,
            serde_json::from_str(&body).unwrap_or_else(|_| json!({ "raw": body })),
        )
    }

    fn kms(&self, op: &str, body: Value) -> (u16, Value) {
        self.call("kms", &format!("TrentService.{op}"), &body)
    }

    fn kms_ok(&self, op: &str, body: Value) -> Value {
        let (status, v) = self.kms(op, body);
        assert_eq!(status, 200, "{op}: {v}");
        v
    }

    fn kms_err(&self, op: &str, body: Value) -> (String, String) {
        let (status, v) = self.kms(op, body);
        assert_eq!(status, 400, "{op} succeeded: {v}");
        (
            v["__type"].as_str().unwrap_or_default().to_owned(),
            v["message"].as_str().unwrap_or_default().to_owned(),
        )
    }

    fn events(&self, name: &str) -> Vec<Value> {
        let (status, v) = self.call(
            "cloudtrail",
            "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents",
            &json!({ "LookupAttributes": [{ "AttributeKey": "EventName", "AttributeValue": name }] }),
        );
        assert_eq!(status, 200, "{v}");
        v["Events"].as_array().cloned().unwrap_or_default()
    }
}

struct Fixture {
    server: ClockServer,
    caller: Caller,
}

impl Fixture {
    fn start() -> Self {
        let server = ClockServer::start();
        let caller = Caller {
            endpoint: server.endpoint.clone(),
            key: server.key.clone(),
            secret: server.secret.clone(),
            skew_minutes: std::cell::Cell::new(0),
        };
        Self { server, caller }
    }

    /// Moves the server's clock (and the signer's) forward to `total_ms` after the start.
    fn advance_to(&self, total_ms: u64) {
        let now_ms = self.caller.skew_minutes.get() * MINUTE;
        assert!(total_ms >= now_ms && total_ms % MINUTE == 0);
        self.server
            .clock
            .advance_millis(i64::try_from(total_ms - now_ms).unwrap());
        self.caller.skew_minutes.set(total_ms / MINUTE);
    }

    fn maintain(&self) -> usize {
        self.server
            .rt
            .block_on(self.server.app.run_maintenance())
            .unwrap()
    }
}

/// Imports fresh material into `key` with AWS's openssl recipe; material expires at `valid_to`.
fn import(c: &Caller, dir: &Path, key: &str, valid_to: f64) {
    let p = c.kms_ok(
        "GetParametersForImport",
        json!({ "KeyId": key, "WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048" }),
    );
    std::fs::write(dir.join("PublicKey.b64"), p["PublicKey"].as_str().unwrap()).unwrap();
    sh(
        dir,
        "openssl enc -d -base64 -A -in PublicKey.b64 -out PublicKey.bin\n\
         openssl rand -out PlaintextKeyMaterial.bin 32\n\
         openssl pkeyutl -encrypt -in PlaintextKeyMaterial.bin -out EncryptedKeyMaterial.bin \
         -inkey PublicKey.bin -keyform DER -pubin -pkeyopt rsa_padding_mode:oaep \
         -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256\n\
         openssl enc -base64 -A -in EncryptedKeyMaterial.bin -out EncryptedKeyMaterial.b64",
    );
    let wrapped = std::fs::read_to_string(dir.join("EncryptedKeyMaterial.b64")).unwrap();
    c.kms_ok(
        "ImportKeyMaterial",
        json!({ "KeyId": key, "ImportToken": p["ImportToken"], "EncryptedKeyMaterial": wrapped.trim(),
                "ExpirationModel": "KEY_MATERIAL_EXPIRES", "ValidTo": valid_to }),
    );
}

fn state(c: &Caller, key: &str) -> String {
    c.kms_ok("DescribeKey", json!({ "KeyId": key }))["KeyMetadata"]["KeyState"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn arn_of(v: &Value) -> String {
    v["KeyMetadata"]["Arn"].as_str().unwrap().to_owned()
}

/// The service events for `arn` named `name`: exactly one, AwsServiceEvent, naming the key.
fn assert_service_event(c: &Caller, name: &str, arn: &str) {
    let events: Vec<Value> = c
        .events(name)
        .into_iter()
        .filter(|e| e["Resources"].to_string().contains(arn))
        .collect();
    assert_eq!(events.len(), 1, "{name} events for {arn}: {events:?}");
    let rec: Value = serde_json::from_str(events[0]["CloudTrailEvent"].as_str().unwrap()).unwrap();
    assert_eq!(rec["eventType"], "AwsServiceEvent", "{rec}");
    assert_eq!(rec["eventSource"], "kms.amazonaws.com", "{rec}");
    assert_eq!(rec["eventName"], name, "{rec}");
    assert_eq!(rec["resources"][0]["ARN"], arn, "{rec}");
    assert_eq!(rec["resources"][0]["type"], "AWS::KMS::Key", "{rec}");
    assert_eq!(rec["recipientAccountId"], "000000000000", "{rec}");
}

#[test]
fn deletion_rotation_and_material_expiry_follow_the_clock() {
    let f = Fixture::start();
    let c = &f.caller;
    let dir = tempfile::tempdir().unwrap();

    // The key to delete, with a ciphertext.
    let doomed = c.kms_ok("CreateKey", json!({ "Description": "doomed" }));
    let doomed_arn = arn_of(&doomed);
    let doomed_ct = c.kms_ok(
        "Encrypt",
        json!({ "KeyId": doomed_arn, "Plaintext": "ZG9vbWVk" }),
    )["CiphertextBlob"]
        .clone();
    let sched = c.kms_ok(
        "ScheduleKeyDeletion",
        json!({ "KeyId": doomed_arn, "PendingWindowInDays": 7 }),
    );
    assert_eq!(sched["PendingWindowInDays"], 7);
    let deletion_date = sched["DeletionDate"].as_f64().unwrap();
    let start = f.server.clock.now().millis() as f64 / 1000.0;
    assert!(
        (deletion_date - (start + 7.0 * 86_400.0)).abs() < 2.0,
        "{sched}"
    );

    // The key to rotate automatically every 90 days, with a ciphertext.
    let rotating = c.kms_ok("CreateKey", json!({}));
    let rotating_arn = arn_of(&rotating);
    c.kms_ok(
        "EnableKeyRotation",
        json!({ "KeyId": rotating_arn, "RotationPeriodInDays": 90 }),
    );
    let old_ct = c.kms_ok(
        "Encrypt",
        json!({ "KeyId": rotating_arn, "Plaintext": "b2xk" }),
    );
    let old_material = old_ct["KeyId"].clone();
    assert_eq!(old_material, rotating_arn.as_str());

    // The imported key whose material expires in 2 days.
    let imported = c.kms_ok("CreateKey", json!({ "Origin": "EXTERNAL" }));
    let imported_arn = arn_of(&imported);
    import(c, dir.path(), &imported_arn, start + 2.0 * 86_400.0);
    assert_eq!(state(c, &imported_arn), "Enabled");
    c.kms_ok(
        "Encrypt",
        json!({ "KeyId": imported_arn, "Plaintext": "aW1w" }),
    );

    // One day later: nothing is due.
    f.advance_to(DAY);
    assert_eq!(f.maintain(), 0);
    assert_eq!(state(c, &imported_arn), "Enabled");

    // Three days: the imported material has expired.
    f.advance_to(3 * DAY);
    assert_eq!(f.maintain(), 1);
    assert_eq!(state(c, &imported_arn), "PendingImport");
    let (code, message) = c.kms_err(
        "Encrypt",
        json!({ "KeyId": imported_arn, "Plaintext": "aW1w" }),
    );
    assert_eq!(code, "KMSInvalidStateException");
    assert_eq!(message, format!("{imported_arn} is pending import."));
    let d = c.kms_ok("DescribeKey", json!({ "KeyId": imported_arn }));
    assert!(d["KeyMetadata"].get("ValidTo").is_none(), "{d}");
    assert_service_event(c, "DeleteExpiredKeyMaterial", &imported_arn);

    // Six days: the doomed key is still pending deletion, and refuses to decrypt.
    f.advance_to(6 * DAY);
    assert_eq!(f.maintain(), 0);
    assert_eq!(state(c, &doomed_arn), "PendingDeletion");
    let (code, _) = c.kms_err("Decrypt", json!({ "CiphertextBlob": doomed_ct }));
    assert_eq!(code, "KMSInvalidStateException");

    // Seven days and a minute: it is gone, and so is everything it encrypted.
    f.advance_to(7 * DAY + MINUTE);
    assert_eq!(f.maintain(), 1);
    let (code, message) = c.kms_err("DescribeKey", json!({ "KeyId": doomed_arn }));
    assert_eq!(code, "NotFoundException");
    assert_eq!(message, format!("Key '{doomed_arn}' does not exist"));
    let (code, _) = c.kms_err("Decrypt", json!({ "CiphertextBlob": doomed_ct }));
    assert_eq!(code, "NotFoundException");
    let keys = c.kms_ok("ListKeys", json!({}));
    assert!(!keys.to_string().contains(&doomed_arn), "{keys}");
    assert_service_event(c, "DeleteKey", &doomed_arn);

    // 89 days: no rotation yet.
    f.advance_to(89 * DAY);
    assert_eq!(f.maintain(), 0);
    let rot = c.kms_ok("ListKeyRotations", json!({ "KeyId": rotating_arn }));
    assert_eq!(rot["Rotations"], json!([]), "{rot}");

    // 91 days: rotated automatically; the old ciphertext still decrypts; new ones use the new
    // material; the next rotation is 90 days later.
    f.advance_to(91 * DAY);
    assert_eq!(f.maintain(), 1);
    let rot = c.kms_ok("ListKeyRotations", json!({ "KeyId": rotating_arn }));
    let rotations = rot["Rotations"].as_array().unwrap();
    assert_eq!(rotations.len(), 1, "{rot}");
    assert_eq!(rotations[0]["RotationType"], "AUTOMATIC");
    let new_material = rotations[0]["KeyMaterialId"].as_str().unwrap().to_owned();
    let dec = c.kms_ok(
        "Decrypt",
        json!({ "CiphertextBlob": old_ct["CiphertextBlob"] }),
    );
    assert_eq!(dec["Plaintext"], "b2xk");
    assert_ne!(dec["KeyMaterialId"], new_material.as_str());
    let fresh = c.kms_ok(
        "Encrypt",
        json!({ "KeyId": rotating_arn, "Plaintext": "bmV3" }),
    );
    let dec = c.kms_ok(
        "Decrypt",
        json!({ "CiphertextBlob": fresh["CiphertextBlob"] }),
    );
    assert_eq!(dec["KeyMaterialId"], new_material.as_str());
    let status = c.kms_ok("GetKeyRotationStatus", json!({ "KeyId": rotating_arn }));
    let next = status["NextRotationDate"].as_f64().unwrap();
    let now = f.server.clock.now().millis() as f64 / 1000.0;
    assert!(
        next > now + 88.0 * 86_400.0 && next < now + 91.0 * 86_400.0,
        "{status}"
    );
    assert_service_event(c, "RotateKey", &rotating_arn);
    // Running maintenance again does nothing more.
    assert_eq!(f.maintain(), 0);
}
