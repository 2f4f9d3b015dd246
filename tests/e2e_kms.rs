//! The KMS service end to end with real clients (issue 4): every operation and the
//! (operation × key state) matrix through boto3, import with AWS's documented openssl recipe,
//! grants, key-policy authorization, cross-account use, restart and crash, the audit records,
//! and a scan of the data directory for key material in clear.
//! Time-dependent behaviour (deletion, automatic rotation, material expiry) is in
//! `crates/ferrogate-server/tests/kms_clock.rs`, which injects a clock.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::shell::sh;
use common::{
    create_key, create_organization, fails_with, json, lookup_events, member_account, member_admin,
    put_user_policy, record_of, Server,
};
use serde_json::Value;

// --- small helpers --------------------------------------------------------------------------

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn b64e(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn b64d(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|c| *c != b'=' && !c.is_ascii_whitespace()) {
        let v = B64
            .iter()
            .position(|x| *x == c)
            .unwrap_or_else(|| panic!("not base64: {s}"));
        acc = (acc << 6) | u32::try_from(v).unwrap();
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).unwrap());
        }
    }
    out
}

fn hex(bytes: &[u8], upper: bool) -> String {
    bytes
        .iter()
        .map(|b| {
            if upper {
                format!("{b:02X}")
            } else {
                format!("{b:02x}")
            }
        })
        .collect()
}

/// A scratch directory for client-side files, outside the server's data directory.
fn scratch(s: &Server, name: &str) -> PathBuf {
    let d = s.dir.path().join(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn fileb(p: &Path) -> String {
    format!("fileb://{}", p.display())
}

fn str_of<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("no string {field} in {v}"))
}

fn key_state(s: &Server, key: &str) -> String {
    let d = json(&s.aws(&["kms", "describe-key", "--key-id", key]));
    str_of(&d["KeyMetadata"], "KeyState").to_owned()
}

/// Encrypts `plaintext` under `key` with the aws CLI; returns the ciphertext file.
fn encrypt_to_file(s: &Server, dir: &Path, key: &str, plaintext: &[u8], name: &str) -> PathBuf {
    let pt = dir.join(format!("{name}.pt"));
    std::fs::write(&pt, plaintext).unwrap();
    let out = json(&s.aws(&[
        "kms",
        "encrypt",
        "--key-id",
        key,
        "--plaintext",
        &fileb(&pt),
    ]));
    let ct = dir.join(format!("{name}.ct"));
    std::fs::write(&ct, b64d(str_of(&out, "CiphertextBlob"))).unwrap();
    ct
}

/// Decrypts a ciphertext file with the aws CLI, as `run` does it.
fn decrypt_file(out: Output) -> Vec<u8> {
    b64d(str_of(&json(&out), "Plaintext"))
}

fn decrypt(s: &Server, ct: &Path) -> Output {
    s.aws(&["kms", "decrypt", "--ciphertext-blob", &fileb(ct)])
}

fn user_with_key(s: &Server, name: &str) -> (String, String, String) {
    let (id, secret) = common::user_with_key(s, name);
    let u = json(&s.aws(&["iam", "get-user", "--user-name", name]));
    (id, secret, str_of(&u["User"], "Arn").to_owned())
}

fn python_ok(out: &Output) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.trim_end().ends_with("ok"),
        "python failed ({}):\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

// --- 1. every operation, and the (operation × key state) matrix --------------------------

#[test]
fn every_operation_and_the_operation_by_key_state_matrix() {
    let s = Server::start();
    python_ok(&s.python("kms_ops.py", &[]));
}

// --- 2. import with AWS's openssl recipe ------------------------------------------------------

/// GetParametersForImport with the aws CLI, then AWS's documented steps: decode the public key
/// and import token (`openssl enc -d -base64 -A`), wrap `PlaintextKeyMaterial.bin` with the
/// recipe for `alg`, and `aws kms import-key-material` with `fileb://`. Returns the CLI's output.
fn import(s: &Server, dir: &Path, key: &str, alg: &str, spec: &str, extra: &[&str]) -> Output {
    let p = json(&s.aws(&[
        "kms",
        "get-parameters-for-import",
        "--key-id",
        key,
        "--wrapping-algorithm",
        alg,
        "--wrapping-key-spec",
        spec,
    ]));
    assert!(p["KeyId"].as_str().unwrap().ends_with(key), "{p}");
    assert!(p["ParametersValidTo"].as_f64().is_some(), "{p}");
    std::fs::write(dir.join("PublicKey.b64"), str_of(&p, "PublicKey")).unwrap();
    std::fs::write(dir.join("ImportToken.b64"), str_of(&p, "ImportToken")).unwrap();
    sh(
        dir,
        "openssl enc -d -base64 -A -in PublicKey.b64 -out PublicKey.bin\n\
         openssl enc -d -base64 -A -in ImportToken.b64 -out ImportToken.bin\n\
         rm -f EncryptedKeyMaterial.bin aes-key.bin aes-key-wrapped.bin key-material-wrapped.bin",
    );
    let recipe = match alg {
        "RSAES_OAEP_SHA_256" => {
            "openssl pkeyutl -encrypt -in PlaintextKeyMaterial.bin -out EncryptedKeyMaterial.bin \
             -inkey PublicKey.bin -keyform DER -pubin -pkeyopt rsa_padding_mode:oaep \
             -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256"
        }
        "RSAES_OAEP_SHA_1" => {
            "openssl pkeyutl -encrypt -in PlaintextKeyMaterial.bin -out EncryptedKeyMaterial.bin \
             -inkey PublicKey.bin -keyform DER -pubin -pkeyopt rsa_padding_mode:oaep \
             -pkeyopt rsa_oaep_md:sha1"
        }
        "RSA_AES_KEY_WRAP_SHA_256" => {
            "openssl rand -out aes-key.bin 32\n\
             openssl enc -id-aes256-wrap-pad -K \"$(xxd -p < aes-key.bin | tr -d '\\n')\" \
             -iv A65959A6 -in PlaintextKeyMaterial.bin -out key-material-wrapped.bin\n\
             openssl pkeyutl -encrypt -in aes-key.bin -out aes-key-wrapped.bin \
             -inkey PublicKey.bin -keyform DER -pubin -pkeyopt rsa_padding_mode:oaep \
             -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256\n\
             cat aes-key-wrapped.bin key-material-wrapped.bin > EncryptedKeyMaterial.bin"
        }
        other => panic!("no recipe for {other}"),
    };
    sh(dir, recipe);
    let mut args = vec![
        "kms".to_owned(),
        "import-key-material".to_owned(),
        "--key-id".to_owned(),
        key.to_owned(),
        "--encrypted-key-material".to_owned(),
        fileb(&dir.join("EncryptedKeyMaterial.bin")),
        "--import-token".to_owned(),
        fileb(&dir.join("ImportToken.bin")),
    ];
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    s.aws(&args)
}

const NO_EXPIRY: &[&str] = &["--expiration-model", "KEY_MATERIAL_DOES_NOT_EXPIRE"];

#[test]
fn import_with_the_documented_openssl_recipe() {
    let s = Server::start();
    let dir = scratch(&s, "import");
    let (kid, arn) = create_key(&s, &["--origin", "EXTERNAL", "--description", "byok"]);
    assert_eq!(key_state(&s, &kid), "PendingImport");
    let one_byte = dir.join("one-byte");
    std::fs::write(&one_byte, b"x").unwrap();
    let e = fails_with(
        &s.aws(&[
            "kms",
            "encrypt",
            "--key-id",
            &kid,
            "--plaintext",
            &fileb(&one_byte),
        ]),
        "KMSInvalidStateException",
    );
    assert!(e.contains(&format!("{arn} is pending import.")), "{e}");
    // Importing into an AWS_KMS key is refused.
    let (native, _) = create_key(&s, &[]);
    fails_with(
        &s.aws(&[
            "kms",
            "get-parameters-for-import",
            "--key-id",
            &native,
            "--wrapping-algorithm",
            "RSAES_OAEP_SHA_256",
            "--wrapping-key-spec",
            "RSA_2048",
        ]),
        "UnsupportedOperationException",
    );

    sh(&dir, "openssl rand -out PlaintextKeyMaterial.bin 32");
    let material = std::fs::read(dir.join("PlaintextKeyMaterial.bin")).unwrap();
    std::fs::copy(dir.join("PlaintextKeyMaterial.bin"), dir.join("backup.bin")).unwrap();
    let imported = json(&import(
        &s,
        &dir,
        &kid,
        "RSAES_OAEP_SHA_256",
        "RSA_2048",
        NO_EXPIRY,
    ));
    assert_eq!(imported["KeyId"], arn.as_str());
    let material_id = str_of(&imported, "KeyMaterialId").to_owned();
    let d = json(&s.aws(&["kms", "describe-key", "--key-id", &kid]));
    assert_eq!(d["KeyMetadata"]["KeyState"], "Enabled");
    assert_eq!(d["KeyMetadata"]["Origin"], "EXTERNAL");
    assert_eq!(
        d["KeyMetadata"]["ExpirationModel"],
        "KEY_MATERIAL_DOES_NOT_EXPIRE"
    );
    let ct = encrypt_to_file(&s, &dir, &kid, b"imported secret", "one");
    assert_eq!(decrypt_file(decrypt(&s, &ct)), b"imported secret");

    // Different material, properly wrapped, is refused.
    sh(&dir, "openssl rand -out PlaintextKeyMaterial.bin 32");
    let e = fails_with(
        &import(&s, &dir, &kid, "RSAES_OAEP_SHA_256", "RSA_2048", NO_EXPIRY),
        "IncorrectKeyMaterialException",
    );
    assert!(
        e.contains("different from the key material previously imported"),
        "{e}"
    );
    // Material wrapped with another algorithm than the parameters name does not unwrap.
    std::fs::copy(dir.join("backup.bin"), dir.join("PlaintextKeyMaterial.bin")).unwrap();
    let p = json(&s.aws(&[
        "kms",
        "get-parameters-for-import",
        "--key-id",
        &kid,
        "--wrapping-algorithm",
        "RSAES_OAEP_SHA_256",
        "--wrapping-key-spec",
        "RSA_2048",
    ]));
    std::fs::write(dir.join("PublicKey.b64"), str_of(&p, "PublicKey")).unwrap();
    std::fs::write(dir.join("ImportToken.b64"), str_of(&p, "ImportToken")).unwrap();
    sh(
        &dir,
        "openssl enc -d -base64 -A -in PublicKey.b64 -out PublicKey.bin\n\
         openssl enc -d -base64 -A -in ImportToken.b64 -out ImportToken.bin\n\
         openssl pkeyutl -encrypt -in PlaintextKeyMaterial.bin -out Sha1Wrapped.bin \
         -inkey PublicKey.bin -keyform DER -pubin -pkeyopt rsa_padding_mode:oaep \
         -pkeyopt rsa_oaep_md:sha1",
    );
    fails_with(
        &s.aws(&[
            "kms",
            "import-key-material",
            "--key-id",
            &kid,
            "--encrypted-key-material",
            &fileb(&dir.join("Sha1Wrapped.bin")),
            "--import-token",
            &fileb(&dir.join("ImportToken.bin")),
            "--expiration-model",
            "KEY_MATERIAL_DOES_NOT_EXPIRE",
        ]),
        "InvalidCiphertextException",
    );

    // Deleting the material leaves the key PendingImport: nothing encrypts or decrypts.
    let del = json(&s.aws(&["kms", "delete-imported-key-material", "--key-id", &kid]));
    assert_eq!(del["KeyId"], arn.as_str());
    assert_eq!(key_state(&s, &kid), "PendingImport");
    let e = fails_with(
        &s.aws(&[
            "kms",
            "encrypt",
            "--key-id",
            &kid,
            "--plaintext",
            &fileb(&ct),
        ]),
        "KMSInvalidStateException",
    );
    assert!(e.contains("is pending import."), "{e}");
    fails_with(&decrypt(&s, &ct), "KMSInvalidStateException");
    // Re-importing the backed-up material restores the key; old ciphertexts decrypt.
    let again = json(&import(
        &s,
        &dir,
        &kid,
        "RSAES_OAEP_SHA_256",
        "RSA_2048",
        NO_EXPIRY,
    ));
    assert_eq!(again["KeyMaterialId"], material_id.as_str());
    assert_eq!(key_state(&s, &kid), "Enabled");
    assert_eq!(decrypt_file(decrypt(&s, &ct)), b"imported secret");
    let ct2 = encrypt_to_file(&s, &dir, &arn, b"after re-import", "two");
    assert_eq!(decrypt_file(decrypt(&s, &ct2)), b"after re-import");
    assert_eq!(material.len(), 32);

    // The two-step RSA_AES_KEY_WRAP_SHA_256 recipe with a 4096-bit wrapping key, and material
    // that expires (ValidTo 30 days away).
    let (k2, _) = create_key(&s, &["--origin", "EXTERNAL"]);
    sh(&dir, "openssl rand -out PlaintextKeyMaterial.bin 32");
    let valid_to = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 30 * 86_400;
    json(&import(
        &s,
        &dir,
        &k2,
        "RSA_AES_KEY_WRAP_SHA_256",
        "RSA_4096",
        &[
            "--expiration-model",
            "KEY_MATERIAL_EXPIRES",
            "--valid-to",
            &valid_to.to_string(),
        ],
    ));
    let d = json(&s.aws(&["kms", "describe-key", "--key-id", &k2]));
    assert_eq!(d["KeyMetadata"]["KeyState"], "Enabled");
    assert_eq!(d["KeyMetadata"]["ExpirationModel"], "KEY_MATERIAL_EXPIRES");
    let shown = d["KeyMetadata"]["ValidTo"].as_f64().unwrap();
    assert!((shown - valid_to as f64).abs() < 1.0, "{d}");
    let ct3 = encrypt_to_file(&s, &dir, &k2, b"aes-wrapped", "three");
    assert_eq!(decrypt_file(decrypt(&s, &ct3)), b"aes-wrapped");
    // And RSAES_OAEP_SHA_1 with a 3072-bit key.
    let (k3, _) = create_key(&s, &["--origin", "EXTERNAL"]);
    json(&import(
        &s,
        &dir,
        &k3,
        "RSAES_OAEP_SHA_1",
        "RSA_3072",
        NO_EXPIRY,
    ));
    let ct4 = encrypt_to_file(&s, &dir, &k3, b"sha1-wrapped", "four");
    assert_eq!(decrypt_file(decrypt(&s, &ct4)), b"sha1-wrapped");
}

// --- 3. grants ----------------------------------------------------------------------------------

#[test]
fn grants_allow_exactly_what_they_grant() {
    let s = Server::start();
    python_ok(&s.python("kms_grants.py", &[]));
}

// --- 3b. no stale authorization on the cached request path (issue 16) -------------------------

/// A key disabled or scheduled for deletion, a key policy changed, a grant created, retired or
/// revoked, an IAM policy changed, an access key deactivated or deleted, an alias moved: each
/// is obeyed by the very next request after the change is acknowledged, although keys,
/// aliases, grants, policies and credentials are cached on the path. Each change follows
/// requests that fill every cache and is repeated, so that a cache with a time-to-live fails.
#[test]
fn every_change_is_obeyed_by_the_very_next_request() {
    let s = Server::start();
    python_ok(&s.python("kms_fresh.py", &[]));
}

// --- 4. key policies decide; IAM policies count only where the key policy delegates ----------

fn key_policy(statements: &str) -> String {
    format!(r#"{{"Version":"2012-10-17","Id":"custom","Statement":[{statements}]}}"#)
}

#[test]
fn iam_policies_count_only_where_the_key_policy_delegates_to_the_account() {
    let s = Server::start();
    let acct = s.account.clone();
    let (ak, asec, _) = user_with_key(&s, "alice");
    put_user_policy(
        &s,
        "alice",
        "kms-all",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#,
    );
    let (kk, ksec, karn_user) = user_with_key(&s, "keyadmin");
    let dir = scratch(&s, "authz");
    let pt = dir.join("pt");
    std::fs::write(&pt, b"x").unwrap();
    let enc = |key: &str, id: &str, secret: &str| {
        s.aws_as(
            id,
            secret,
            &[
                "kms",
                "encrypt",
                "--key-id",
                key,
                "--plaintext",
                &fileb(&pt),
            ],
        )
    };

    // The default key policy delegates to the account: alice's IAM policy allows her.
    let (a, a_arn) = create_key(&s, &[]);
    json(&enc(&a_arn, &ak, &asec));
    json(&s.aws_as(&ak, &asec, &["kms", "describe-key", "--key-id", &a]));
    // keyadmin has no IAM policy: denied, though the key policy delegates.
    fails_with(&enc(&a_arn, &kk, &ksec), "AccessDeniedException");

    // A key policy that names only keyadmin: it does not delegate to the account.
    let only_admin = key_policy(&format!(
        r#"{{"Sid":"admin","Effect":"Allow","Principal":{{"AWS":"{karn_user}"}},"Action":"kms:*","Resource":"*"}}"#
    ));
    let (b, b_arn) = create_key(
        &s,
        &[
            "--policy",
            &only_admin,
            "--bypass-policy-lockout-safety-check",
        ],
    );
    let e = fails_with(&enc(&b_arn, &ak, &asec), "AccessDeniedException");
    assert!(
        e.contains(&format!(
            "User: arn:aws:iam::{acct}:user/alice is not authorized to perform: kms:Encrypt on resource: {b_arn} because no resource-based policy allows the kms:Encrypt action"
        )),
        "{e}"
    );
    fails_with(
        &s.aws_as(&ak, &asec, &["kms", "describe-key", "--key-id", &b]),
        "AccessDeniedException",
    );
    // Not even the account's root user may use it: key policies bind root too.
    fails_with(
        &s.aws(&["kms", "encrypt", "--key-id", &b, "--plaintext", &fileb(&pt)]),
        "AccessDeniedException",
    );
    // The principal the key policy names needs no IAM policy.
    json(&enc(&b_arn, &kk, &ksec));
    let got = json(&s.aws_as(
        &kk,
        &ksec,
        &[
            "kms",
            "get-key-policy",
            "--key-id",
            &b,
            "--policy-name",
            "default",
        ],
    ));
    assert_eq!(got["Policy"], only_admin.as_str());

    // PutKeyPolicy replaces the delegation on key A: alice loses access at once.
    json(&s.aws(&[
        "kms",
        "put-key-policy",
        "--key-id",
        &a,
        "--policy-name",
        "default",
        "--policy",
        &only_admin,
        "--bypass-policy-lockout-safety-check",
    ]));
    fails_with(&enc(&a_arn, &ak, &asec), "AccessDeniedException");
    json(&enc(&a_arn, &kk, &ksec));
    // keyadmin restores the delegation; alice is allowed again.
    let delegating = key_policy(&format!(
        r#"{{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{acct}:root"}},"Action":"kms:*","Resource":"*"}}"#
    ));
    json(&s.aws_as(
        &kk,
        &ksec,
        &[
            "kms",
            "put-key-policy",
            "--key-id",
            &a,
            "--policy-name",
            "default",
            "--policy",
            &delegating,
        ],
    ));
    json(&enc(&a_arn, &ak, &asec));

    // An explicit Deny in the key policy beats alice's IAM allow.
    let deny = key_policy(&format!(
        r#"{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{acct}:root"}},"Action":"kms:*","Resource":"*"}},
           {{"Effect":"Deny","Principal":{{"AWS":"arn:aws:iam::{acct}:user/alice"}},"Action":"kms:Encrypt","Resource":"*"}}"#
    ));
    let (c, c_arn) = create_key(&s, &["--policy", &deny]);
    fails_with(&enc(&c_arn, &ak, &asec), "AccessDeniedException");
    json(&s.aws_as(&ak, &asec, &["kms", "describe-key", "--key-id", &c]));

    // kms:EncryptionContext:* conditions in the key policy (case-sensitive, unlike grants).
    let ec = key_policy(&format!(
        r#"{{"Effect":"Allow","Principal":{{"AWS":"{karn_user}"}},"Action":"kms:*","Resource":"*","Condition":{{"StringEquals":{{"kms:EncryptionContext:team":"blue"}}}}}},
           {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{acct}:root"}},"Action":"kms:PutKeyPolicy","Resource":"*"}}"#
    ));
    let (d, _) = create_key(&s, &["--policy", &ec]);
    let with_ec = |ctx: &str| {
        s.aws_as(
            &kk,
            &ksec,
            &[
                "kms",
                "encrypt",
                "--key-id",
                &d,
                "--plaintext",
                &fileb(&pt),
                "--encryption-context",
                ctx,
            ],
        )
    };
    json(&with_ec("team=blue"));
    fails_with(&with_ec("team=Blue"), "AccessDeniedException");
    fails_with(&with_ec("other=blue"), "AccessDeniedException");
}

#[test]
fn a_key_policy_that_would_lock_out_its_author_is_refused_without_bypass() {
    let s = Server::start();
    let (_, _, admin) = user_with_key(&s, "keyadmin");
    let only_admin = key_policy(&format!(
        r#"{{"Effect":"Allow","Principal":{{"AWS":"{admin}"}},"Action":"kms:*","Resource":"*"}}"#
    ));
    let e = fails_with(
        &s.aws(&["kms", "create-key", "--policy", &only_admin]),
        "MalformedPolicyDocumentException",
    );
    assert!(
        e.contains("The new key policy will not allow you to update the key policy in the future."),
        "{e}"
    );
    let (a, _) = create_key(&s, &[]);
    fails_with(
        &s.aws(&[
            "kms",
            "put-key-policy",
            "--key-id",
            &a,
            "--policy-name",
            "default",
            "--policy",
            &only_admin,
        ]),
        "MalformedPolicyDocumentException",
    );
    // The default policy is still in force.
    let p = json(&s.aws(&[
        "kms",
        "get-key-policy",
        "--key-id",
        &a,
        "--policy-name",
        "default",
    ]));
    assert!(str_of(&p, "Policy").contains("key-default-1"), "{p}");
}

#[test]
fn the_fargate_key_policy_of_the_docs_is_accepted_and_enforced() {
    let s = Server::start();
    let acct = s.account.clone();
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{acct}:root"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    json(&s.aws(&[
        "iam",
        "create-role",
        "--role-name",
        "cluster-operator",
        "--assume-role-policy-document",
        &trust,
    ]));
    // Spec §4.2 (DOC-CREATE), verbatim, plus the usual key administrator statement.
    let policy = format!(
        r#"{{"Version":"2012-10-17","Id":"fargate","Statement":[
{{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{acct}:root"}},"Action":"kms:*","Resource":"*"}},
{{"Sid":"Allow generate data key access for Fargate tasks.","Effect":"Allow","Principal":{{"Service":"fargate.amazonaws.com"}},
  "Action":["kms:GenerateDataKeyWithoutPlaintext"],
  "Condition":{{"StringEquals":{{"kms:EncryptionContext:aws:ecs:clusterAccount":["{acct}"],"kms:EncryptionContext:aws:ecs:clusterName":["prod"]}}}},
  "Resource":"*"}},
{{"Sid":"Allow grant creation permission for Fargate tasks.","Effect":"Allow","Principal":{{"Service":"fargate.amazonaws.com"}},
  "Action":["kms:CreateGrant"],
  "Condition":{{"StringEquals":{{"kms:EncryptionContext:aws:ecs:clusterAccount":["{acct}"],"kms:EncryptionContext:aws:ecs:clusterName":["prod"]}},
               "ForAllValues:StringEquals":{{"kms:GrantOperations":["Decrypt"]}}}},
  "Resource":"*"}},
{{"Sid":"Allow describe key permission for cluster operator - CreateCluster and UpdateCluster.","Effect":"Allow",
  "Principal":{{"AWS":"arn:aws:iam::{acct}:role/cluster-operator"}},"Action":["kms:DescribeKey"],"Resource":"*"}}]}}"#
    );
    let (k, arn) = create_key(&s, &["--policy", &policy]);
    let got = json(&s.aws(&[
        "kms",
        "get-key-policy",
        "--key-id",
        &k,
        "--policy-name",
        "default",
    ]));
    assert_eq!(got["Policy"], policy.as_str());
    // The operator role (no IAM policy) may describe the key, through the key policy alone, and
    // do nothing else.
    let role = format!("arn:aws:iam::{acct}:role/cluster-operator");
    let op = s
        .assume_role(&s.access_key_id, &s.secret_access_key, &role, "op")
        .unwrap();
    let d = json(&s.aws_session(&op, &["kms", "describe-key", "--key-id", &arn]));
    assert_eq!(d["KeyMetadata"]["KeyState"], "Enabled");
    fails_with(
        &s.aws_session(
            &op,
            &[
                "kms",
                "generate-data-key-without-plaintext",
                "--key-id",
                &arn,
                "--number-of-bytes",
                "64",
            ],
        ),
        "AccessDeniedException",
    );
    // A malformed policy is refused.
    fails_with(
        &s.aws(&["kms", "create-key", "--policy", r#"{"Statement":"nope"}"#]),
        "MalformedPolicyDocumentException",
    );
}

// --- 5. cross-account ---------------------------------------------------------------------------

#[test]
fn cross_account_use_by_arn_only_where_the_key_policy_allows_the_account() {
    let s = Server::start();
    let acct = s.account.clone();
    create_organization(&s);
    let member = member_account(&s, "member@example.com", "member");
    assert_ne!(member, acct);
    let shared_policy = key_policy(&format!(
        r#"{{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{acct}:root"}},"Action":"kms:*","Resource":"*"}},
           {{"Sid":"Allow use of the key by the member account","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{member}:root"}},
             "Action":["kms:Encrypt","kms:Decrypt","kms:GenerateDataKey","kms:DescribeKey"],"Resource":"*"}}"#
    ));
    let (shared, shared_arn) = create_key(&s, &["--policy", &shared_policy]);
    let (_, private_arn) = create_key(&s, &[]);
    json(&s.aws(&[
        "kms",
        "create-alias",
        "--alias-name",
        "alias/shared",
        "--target-key-id",
        &shared,
    ]));

    let admin = member_admin(&s, &member);
    let dir = scratch(&s, "xacct");
    let pt = dir.join("pt");
    std::fs::write(&pt, b"across accounts").unwrap();

    // The member's administrator uses the shared key by ARN.
    let enc = json(&s.aws_session(
        &admin,
        &[
            "kms",
            "encrypt",
            "--key-id",
            &shared_arn,
            "--plaintext",
            &fileb(&pt),
        ],
    ));
    assert_eq!(enc["KeyId"], shared_arn.as_str());
    let ct = dir.join("ct");
    std::fs::write(&ct, b64d(str_of(&enc, "CiphertextBlob"))).unwrap();
    let dec = json(&s.aws_session(
        &admin,
        &["kms", "decrypt", "--ciphertext-blob", &fileb(&ct)],
    ));
    assert_eq!(b64d(str_of(&dec, "Plaintext")), b"across accounts");
    assert_eq!(dec["KeyId"], shared_arn.as_str());
    let d = json(&s.aws_session(&admin, &["kms", "describe-key", "--key-id", &shared_arn]));
    assert_eq!(d["KeyMetadata"]["AWSAccountId"], acct.as_str());
    // The owner decrypts what the member encrypted.
    assert_eq!(decrypt_file(decrypt(&s, &ct)), b"across accounts");
    // Only the granted actions.
    fails_with(
        &s.aws_session(&admin, &["kms", "disable-key", "--key-id", &shared_arn]),
        "AccessDeniedException",
    );
    // By key id or alias, the name resolves in the caller's own account: not found.
    fails_with(
        &s.aws_session(
            &admin,
            &[
                "kms",
                "encrypt",
                "--key-id",
                &shared,
                "--plaintext",
                &fileb(&pt),
            ],
        ),
        "NotFoundException",
    );
    fails_with(
        &s.aws_session(
            &admin,
            &[
                "kms",
                "encrypt",
                "--key-id",
                "alias/shared",
                "--plaintext",
                &fileb(&pt),
            ],
        ),
        "NotFoundException",
    );
    // A key whose policy does not name the member account is denied.
    let e = fails_with(
        &s.aws_session(
            &admin,
            &[
                "kms",
                "encrypt",
                "--key-id",
                &private_arn,
                "--plaintext",
                &fileb(&pt),
            ],
        ),
        "AccessDeniedException",
    );
    assert!(e.contains(&private_arn), "{e}");
    // The owner sees nothing of the member's keys either: the member's own key is private.
    let mk = json(&s.aws_session(&admin, &["kms", "create-key"]));
    let mk_arn = str_of(&mk["KeyMetadata"], "Arn").to_owned();
    assert!(mk_arn.contains(&format!(":{member}:key/")), "{mk_arn}");
    fails_with(
        &s.aws(&[
            "kms",
            "encrypt",
            "--key-id",
            &mk_arn,
            "--plaintext",
            &fileb(&pt),
        ]),
        "AccessDeniedException",
    );
    // A member principal without an identity policy is denied even on the shared key:
    // cross-account use needs the key policy and the caller's own account to allow it.
    json(&s.aws_session(&admin, &["iam", "create-user", "--user-name", "nobody"]));
    let k = json(&s.aws_session(
        &admin,
        &["iam", "create-access-key", "--user-name", "nobody"],
    ));
    let (nk, ns) = (
        str_of(&k["AccessKey"], "AccessKeyId").to_owned(),
        str_of(&k["AccessKey"], "SecretAccessKey").to_owned(),
    );
    fails_with(
        &s.aws_as(
            &nk,
            &ns,
            &[
                "kms",
                "encrypt",
                "--key-id",
                &shared_arn,
                "--plaintext",
                &fileb(&pt),
            ],
        ),
        "AccessDeniedException",
    );
}

// --- 6. restart and crash -------------------------------------------------------------------

#[test]
fn keys_aliases_and_rotation_survive_restart_and_kill9() {
    let s = Server::start();
    let dir = scratch(&s, "restart");
    let (kid, arn) = create_key(&s, &[]);
    json(&s.aws(&[
        "kms",
        "create-alias",
        "--alias-name",
        "alias/durable",
        "--target-key-id",
        &kid,
    ]));
    json(&s.aws(&[
        "kms",
        "enable-key-rotation",
        "--key-id",
        &kid,
        "--rotation-period-in-days",
        "180",
    ]));
    let before_rotation = encrypt_to_file(&s, &dir, "alias/durable", b"first", "first");
    json(&s.aws(&["kms", "rotate-key-on-demand", "--key-id", &kid]));
    let after_rotation = encrypt_to_file(&s, &dir, &arn, b"second", "second");
    let status = json(&s.aws(&["kms", "get-key-rotation-status", "--key-id", &kid]));

    let s = s.restart();
    assert_eq!(decrypt_file(decrypt(&s, &before_rotation)), b"first");
    assert_eq!(decrypt_file(decrypt(&s, &after_rotation)), b"second");
    let d = json(&s.aws(&["kms", "describe-key", "--key-id", "alias/durable"]));
    assert_eq!(d["KeyMetadata"]["KeyId"], kid.as_str());
    let again = json(&s.aws(&["kms", "get-key-rotation-status", "--key-id", &kid]));
    assert_eq!(again, status);
    assert_eq!(again["KeyRotationEnabled"], true);
    assert_eq!(again["RotationPeriodInDays"], 180);
    let rot = json(&s.aws(&["kms", "list-key-rotations", "--key-id", &kid]));
    assert_eq!(rot["Rotations"].as_array().unwrap().len(), 1, "{rot}");

    // A crash right after acknowledged writes loses none of them.
    let (k2, _) = create_key(&s, &[]);
    json(&s.aws(&["kms", "disable-key", "--key-id", &kid]));
    let third = encrypt_to_file(&s, &dir, &k2, b"third", "third");
    let mut s = s;
    s.kill9();
    let s = s.restart();
    assert_eq!(decrypt_file(decrypt(&s, &third)), b"third");
    assert_eq!(key_state(&s, &kid), "Disabled");
    fails_with(&decrypt(&s, &before_rotation), "DisabledException");
    json(&s.aws(&["kms", "enable-key", "--key-id", &kid]));
    assert_eq!(decrypt_file(decrypt(&s, &before_rotation)), b"first");
}

// --- 7. audit ---------------------------------------------------------------------------------

#[test]
fn kms_calls_are_audited_without_plaintext_or_ciphertext() {
    let s = Server::start();
    let dir = scratch(&s, "audit");
    let (kid, arn) = create_key(&s, &[]);
    let plaintext = b"audit-me-plaintext-0d1e";
    let pt = dir.join("pt");
    std::fs::write(&pt, plaintext).unwrap();
    let enc = json(&s.aws(&[
        "kms",
        "encrypt",
        "--key-id",
        &kid,
        "--plaintext",
        &fileb(&pt),
        "--encryption-context",
        "purpose=audit",
    ]));
    let ct_b64 = str_of(&enc, "CiphertextBlob").to_owned();
    let ct = dir.join("ct");
    std::fs::write(&ct, b64d(&ct_b64)).unwrap();
    json(&s.aws(&[
        "kms",
        "decrypt",
        "--ciphertext-blob",
        &fileb(&ct),
        "--encryption-context",
        "purpose=audit",
    ]));
    let dk = json(&s.aws(&[
        "kms",
        "generate-data-key",
        "--key-id",
        &kid,
        "--key-spec",
        "AES_256",
    ]));
    let dk_plain = str_of(&dk, "Plaintext").to_owned();
    let dk_ct = str_of(&dk, "CiphertextBlob").to_owned();

    let events = lookup_events(&s, "ResourceName", &arn);
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["EventName"].as_str().unwrap())
        .collect();
    for want in ["GenerateDataKey", "Decrypt", "Encrypt", "CreateKey"] {
        assert!(names.contains(&want), "{want} not in {names:?}");
    }
    for e in &events {
        let text = str_of(e, "CloudTrailEvent");
        for secret in [
            b64e(plaintext).as_str(),
            "audit-me-plaintext",
            ct_b64.as_str(),
            dk_plain.as_str(),
            dk_ct.as_str(),
        ] {
            assert!(
                !text.contains(secret),
                "a secret in the audit record: {text}"
            );
        }
        let rec: Value = serde_json::from_str(text).unwrap();
        assert_eq!(rec["eventSource"], "kms.amazonaws.com");
        assert_eq!(rec["eventType"], "AwsApiCall");
        let res = rec["resources"].as_array().unwrap();
        assert!(
            res.iter()
                .any(|r| r["ARN"] == arn.as_str() && r["type"] == "AWS::KMS::Key"),
            "{rec}"
        );
        assert_eq!(e["Resources"][0]["ResourceName"], arn.as_str());
        for part in ["requestParameters", "responseElements"] {
            if let Some(obj) = rec[part].as_object() {
                for k in obj.keys() {
                    let k = k.to_ascii_lowercase();
                    assert!(
                        !k.contains("plaintext") && !k.contains("ciphertext"),
                        "{part} has {k}: {rec}"
                    );
                }
            }
        }
        match e["EventName"].as_str().unwrap() {
            "Encrypt" => {
                assert_eq!(rec["requestParameters"]["keyId"], kid.as_str(), "{rec}");
                assert_eq!(
                    rec["requestParameters"]["encryptionContext"]["purpose"], "audit",
                    "{rec}"
                );
                assert_eq!(
                    rec["requestParameters"]["encryptionAlgorithm"],
                    "SYMMETRIC_DEFAULT"
                );
                assert_eq!(rec["readOnly"], true);
                assert!(rec["responseElements"].is_null(), "{rec}");
            }
            "Decrypt" => {
                assert_eq!(
                    rec["requestParameters"]["encryptionContext"]["purpose"], "audit",
                    "{rec}"
                );
                assert!(rec["responseElements"].is_null(), "{rec}");
            }
            "GenerateDataKey" => {
                assert_eq!(rec["requestParameters"]["keySpec"], "AES_256", "{rec}");
                assert!(rec["responseElements"].is_null(), "{rec}");
            }
            _ => {}
        }
    }
    // The KMS event source filter finds them too.
    let by_source = lookup_events(&s, "EventSource", "kms.amazonaws.com");
    let n = by_source
        .iter()
        .filter(|e| e["EventName"] == "Encrypt" || e["EventName"] == "GenerateDataKey")
        .count();
    assert_eq!(n, 2, "{by_source:?}");
    // Denied calls are audited with the error.
    let (uk, us, _) = user_with_key(&s, "outsider");
    fails_with(
        &s.aws_as(
            &uk,
            &us,
            &[
                "kms",
                "encrypt",
                "--key-id",
                &arn,
                "--plaintext",
                &fileb(&pt),
            ],
        ),
        "AccessDeniedException",
    );
    let denied = lookup_events(&s, "Username", "outsider");
    let rec = record_of(
        denied
            .iter()
            .find(|e| e["EventName"] == "Encrypt")
            .unwrap_or_else(|| panic!("no denied Encrypt: {denied:?}")),
    );
    assert_eq!(rec["errorCode"], "AccessDenied".to_owned() + "Exception");
}

// --- 8. no key material in clear on disk -----------------------------------------------------

fn assert_nowhere(root: &Path, needles: &[(String, Vec<u8>)]) -> usize {
    let mut files = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
            continue;
        }
        files += 1;
        let bytes = std::fs::read(&p).unwrap();
        for (what, needle) in needles {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_slice()),
                "{what} is in clear in {}",
                p.display()
            );
        }
    }
    files
}

fn forms(what: &str, secret: &[u8]) -> Vec<(String, Vec<u8>)> {
    vec![
        (format!("{what} (raw)"), secret.to_vec()),
        (format!("{what} (base64)"), b64e(secret).into_bytes()),
        (format!("{what} (hex)"), hex(secret, false).into_bytes()),
        (format!("{what} (HEX)"), hex(secret, true).into_bytes()),
    ]
}

#[test]
fn no_key_material_or_data_key_in_clear_anywhere_in_the_data_dir() {
    let s = Server::start();
    let dir = scratch(&s, "scan");
    let (kid, _) = create_key(&s, &["--origin", "EXTERNAL"]);
    sh(&dir, "openssl rand -out PlaintextKeyMaterial.bin 32");
    let material = std::fs::read(dir.join("PlaintextKeyMaterial.bin")).unwrap();
    json(&import(
        &s,
        &dir,
        &kid,
        "RSAES_OAEP_SHA_256",
        "RSA_2048",
        NO_EXPIRY,
    ));
    let mut needles = forms("imported key material", &material);
    let ct = encrypt_to_file(&s, &dir, &kid, b"scan", "scan");
    assert_eq!(decrypt_file(decrypt(&s, &ct)), b"scan");
    let (native, _) = create_key(&s, &[]);
    for (i, key) in [&kid, &native, &kid].iter().enumerate() {
        let dk = json(&s.aws(&[
            "kms",
            "generate-data-key",
            "--key-id",
            key,
            "--number-of-bytes",
            "32",
        ]));
        let plain = b64d(str_of(&dk, "Plaintext"));
        assert_eq!(plain.len(), 32);
        needles.extend(forms(&format!("data key {i}"), &plain));
    }
    // Material that was deleted and re-imported, and rotated material, are covered too.
    json(&s.aws(&["kms", "delete-imported-key-material", "--key-id", &kid]));
    json(&import(
        &s,
        &dir,
        &kid,
        "RSAES_OAEP_SHA_256",
        "RSA_2048",
        NO_EXPIRY,
    ));
    json(&s.aws(&["kms", "rotate-key-on-demand", "--key-id", &native]));
    let mut s = s;
    s.stop();
    let files = assert_nowhere(&s.data_dir(), &needles);
    assert!(files >= 2, "only {files} files under the data dir");
    let printed = s.output();
    for (what, needle) in &needles {
        if let Ok(text) = std::str::from_utf8(needle) {
            assert!(!printed.contains(text), "the server printed {what}");
        }
    }
}
