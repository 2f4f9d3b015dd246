//! AWS's own OpenSSL recipes for importing key material, run verbatim against our wrapping
//! keys, then unwrapped in Rust. Source: AWS KMS Developer Guide, "Importing key material",
//! step 2 (download the public key: `openssl enc -d -base64 -A -in PublicKey.b64 -out
//! WrappingPublicKey.bin`) and step 3, "Encrypt the key material"
//! (<https://docs.aws.amazon.com/kms/latest/developerguide/importing-keys-encrypt-key-material.html>),
//! plus the older revision of that page (`openssl rsautl ... -oaep`).
//!
//! Needs `openssl` (Debian package `openssl`) and, for the RSA_AES recipes, `xxd` (package
//! `xxd`). Missing tools print `SKIPPED` locally and FAIL when `CI=true`.

mod common;

use std::path::Path;
use std::process::Command;

#[path = "../../../tests/common/shell.rs"]
mod shell;
use shell::sh;

use base64::Engine;
use common::{wrapping_key, SPECS};
use ferrogate_kms_crypto::{
    wrap_key_material, CryptoError, KeyMaterial, WrappingAlgorithm, WrappingKeyPair,
    WrappingKeySpec,
};

/// True if every tool is on PATH. Otherwise panics under `CI=true`, or prints SKIPPED.
fn have_tools(test: &str, tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|tool| {
            let probe = if *tool == "openssl" { "version" } else { "-v" };
            !Command::new(tool)
                .arg(probe)
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    let msg = format!(
        "{test}: needs {missing:?} on PATH (Debian packages `openssl` and `xxd`: \
         apt-get install openssl xxd)"
    );
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{msg}; CI=true, so this is a failure, not a skip"
    );
    eprintln!("SKIPPED {msg}");
    false
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
}

/// Steps 2 and 3a: the public key as GetParametersForImport returns it (base64 in JSON, saved
/// by the user to PublicKey.b64), decoded with AWS's command; then the key material.
fn prepare(dir: &Path, pair: &WrappingKeyPair) {
    let b64 = base64::engine::general_purpose::STANDARD.encode(pair.public_key_der().unwrap());
    std::fs::write(dir.join("PublicKey.b64"), b64).unwrap();
    sh(
        dir,
        "openssl enc -d -base64 -A -in PublicKey.b64 -out WrappingPublicKey.bin\n\
         openssl rand -out PlaintextKeyMaterial.bin 32",
    );
}

/// The recipe of step 3 for each wrapping algorithm, as AWS prints it.
fn recipe(alg: WrappingAlgorithm) -> &'static str {
    match alg {
        WrappingAlgorithm::RsaesOaepSha1 => {
            r"openssl pkeyutl \
    -encrypt \
    -in PlaintextKeyMaterial.bin \
    -out EncryptedKeyMaterial.bin \
    -inkey WrappingPublicKey.bin \
    -keyform DER \
    -pubin \
    -pkeyopt rsa_padding_mode:oaep \
    -pkeyopt rsa_oaep_md:sha1"
        }
        WrappingAlgorithm::RsaesOaepSha256 => {
            r"openssl pkeyutl \
    -encrypt \
    -in PlaintextKeyMaterial.bin \
    -out EncryptedKeyMaterial.bin \
    -inkey WrappingPublicKey.bin \
    -keyform DER \
    -pubin \
    -pkeyopt rsa_padding_mode:oaep \
    -pkeyopt rsa_oaep_md:sha256 \
    -pkeyopt rsa_mgf1_md:sha256"
        }
        WrappingAlgorithm::RsaAesKeyWrapSha1 => {
            r#"# Generate a 32-byte AES symmetric encryption key
openssl rand -out aes-key.bin 32

# Encrypt your key material with the AES symmetric encryption key
openssl enc -id-aes256-wrap-pad \
        -K "$(xxd -p < aes-key.bin | tr -d '\n')" \
        -iv A65959A6 \
        -in PlaintextKeyMaterial.bin \
        -out key-material-wrapped.bin

# Encrypt your AES symmetric encryption key with the downloaded public key
openssl pkeyutl \
    -encrypt \
    -in aes-key.bin \
    -out aes-key-wrapped.bin \
    -inkey WrappingPublicKey.bin \
    -keyform DER \
    -pubin \
    -pkeyopt rsa_padding_mode:oaep \
    -pkeyopt rsa_oaep_md:sha1 \
    -pkeyopt rsa_mgf1_md:sha1

# Combine the encrypted AES key and encrypted key material in a file
cat aes-key-wrapped.bin key-material-wrapped.bin > EncryptedKeyMaterial.bin"#
        }
        WrappingAlgorithm::RsaAesKeyWrapSha256 => {
            r#"# Generate a 32-byte AES symmetric encryption key
openssl rand -out aes-key.bin 32

# Encrypt your key material with the AES symmetric encryption key
openssl enc -id-aes256-wrap-pad \
        -K "$(xxd -p < aes-key.bin | tr -d '\n')" \
        -iv A65959A6 \
        -in PlaintextKeyMaterial.bin \
        -out key-material-wrapped.bin

# Encrypt your AES symmetric encryption key with the downloaded public key
openssl pkeyutl \
    -encrypt \
    -in aes-key.bin \
    -out aes-key-wrapped.bin \
    -inkey WrappingPublicKey.bin \
    -keyform DER \
    -pubin \
    -pkeyopt rsa_padding_mode:oaep \
    -pkeyopt rsa_oaep_md:sha256 \
    -pkeyopt rsa_mgf1_md:sha256

# Combine the encrypted AES key and encrypted key material in a file
cat aes-key-wrapped.bin key-material-wrapped.bin > EncryptedKeyMaterial.bin"#
        }
    }
}

fn tools_for(alg: WrappingAlgorithm) -> &'static [&'static str] {
    match alg {
        WrappingAlgorithm::RsaesOaepSha1 | WrappingAlgorithm::RsaesOaepSha256 => &["openssl"],
        _ => &["openssl", "xxd"],
    }
}

fn run_recipe_and_unwrap(spec: WrappingKeySpec, alg: WrappingAlgorithm) {
    let pair = wrapping_key(spec);
    let dir = tempfile::tempdir().unwrap();
    prepare(dir.path(), pair);
    sh(dir.path(), recipe(alg));
    let plaintext = read(dir.path(), "PlaintextKeyMaterial.bin");
    let encrypted = read(dir.path(), "EncryptedKeyMaterial.bin");
    let material = pair
        .unwrap_key_material(alg, &encrypted)
        .unwrap_or_else(|e| panic!("{spec:?} {alg:?}: {e}"));
    assert!(
        material.ct_eq(&KeyMaterial::from_bytes(&plaintext).unwrap()),
        "{spec:?} {alg:?}: unwrapped material differs from PlaintextKeyMaterial.bin"
    );
    // Any other algorithm refuses the same bytes.
    for other in WrappingAlgorithm::ALL {
        if other != alg {
            assert_eq!(
                pair.unwrap_key_material(other, &encrypted).unwrap_err(),
                CryptoError::UnwrapFailed,
                "{spec:?}: wrapped with {alg:?}, unwrapped as {other:?}"
            );
        }
    }
}

fn recipe_test(alg: WrappingAlgorithm) {
    if !have_tools(alg.as_aws_name(), tools_for(alg)) {
        return;
    }
    for spec in SPECS {
        run_recipe_and_unwrap(spec, alg);
    }
}

#[test]
fn aws_recipe_rsaes_oaep_sha_1() {
    recipe_test(WrappingAlgorithm::RsaesOaepSha1);
}

#[test]
fn aws_recipe_rsaes_oaep_sha_256() {
    recipe_test(WrappingAlgorithm::RsaesOaepSha256);
}

#[test]
fn aws_recipe_rsa_aes_key_wrap_sha_1() {
    recipe_test(WrappingAlgorithm::RsaAesKeyWrapSha1);
}

#[test]
fn aws_recipe_rsa_aes_key_wrap_sha_256() {
    recipe_test(WrappingAlgorithm::RsaAesKeyWrapSha256);
}

/// The older revision of AWS's page (before `pkeyutl`): `rsautl -oaep`, i.e. RSAES_OAEP_SHA_1.
/// OpenSSL 3 still runs it, with a deprecation warning.
#[test]
fn aws_legacy_recipe_rsautl_oaep() {
    if !have_tools("rsautl recipe", &["openssl"]) {
        return;
    }
    let pair = wrapping_key(WrappingKeySpec::Rsa2048);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("PublicKey.bin"),
        pair.public_key_der().unwrap(),
    )
    .unwrap();
    sh(
        dir.path(),
        r"openssl rand -out PlaintextKeyMaterial.bin 32
openssl rsautl -encrypt \
                 -in PlaintextKeyMaterial.bin \
                 -oaep \
                 -inkey PublicKey.bin \
                 -keyform DER \
                 -pubin \
                 -out EncryptedKeyMaterial.bin",
    );
    let material = pair
        .unwrap_key_material(
            WrappingAlgorithm::RsaesOaepSha1,
            &read(dir.path(), "EncryptedKeyMaterial.bin"),
        )
        .unwrap();
    assert_eq!(
        &material.expose()[..],
        &read(dir.path(), "PlaintextKeyMaterial.bin")[..]
    );
}

/// RSAES_PKCS1_V1_5 (unsupported by AWS since 2023-10-10) is refused by name, and a PKCS#1
/// v1.5 ciphertext does not unwrap as any OAEP algorithm.
#[test]
fn pkcs1_v1_5_is_refused() {
    assert!(matches!(
        WrappingAlgorithm::from_aws_name("RSAES_PKCS1_V1_5"),
        Err(CryptoError::UnsupportedWrappingAlgorithm { .. })
    ));
    if !have_tools("RSAES_PKCS1_V1_5", &["openssl"]) {
        return;
    }
    let pair = wrapping_key(WrappingKeySpec::Rsa2048);
    let dir = tempfile::tempdir().unwrap();
    prepare(dir.path(), pair);
    sh(
        dir.path(),
        "openssl pkeyutl -encrypt -in PlaintextKeyMaterial.bin -out EncryptedKeyMaterial.bin \
         -inkey WrappingPublicKey.bin -keyform DER -pubin -pkeyopt rsa_padding_mode:pkcs1",
    );
    let encrypted = read(dir.path(), "EncryptedKeyMaterial.bin");
    for alg in WrappingAlgorithm::ALL {
        assert_eq!(
            pair.unwrap_key_material(alg, &encrypted).unwrap_err(),
            CryptoError::UnwrapFailed,
            "{alg:?}"
        );
    }
}

/// The other direction: what `wrap_key_material` produces, OpenSSL unwraps with the stored
/// PKCS#8 private key; and OpenSSL derives the same DER public key from it.
#[test]
fn openssl_unwraps_what_we_wrap_and_reads_our_keys() {
    if !have_tools("reverse direction", &["openssl", "xxd"]) {
        return;
    }
    let pair = wrapping_key(WrappingKeySpec::Rsa3072);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("WrappingPrivateKey.der"),
        pair.to_pkcs8_der().unwrap(),
    )
    .unwrap();
    sh(
        d,
        "openssl pkey -in WrappingPrivateKey.der -inform DER -pubout -outform DER -out Pub.der",
    );
    assert_eq!(read(d, "Pub.der"), pair.public_key_der().unwrap());

    let k = WrappingKeySpec::Rsa3072.bits() / 8;
    for alg in WrappingAlgorithm::ALL {
        let material = KeyMaterial::generate().unwrap();
        let wrapped =
            wrap_key_material(&pair.public_key_der().unwrap(), alg, material.expose()).unwrap();
        let md = match alg {
            WrappingAlgorithm::RsaesOaepSha1 | WrappingAlgorithm::RsaAesKeyWrapSha1 => "sha1",
            _ => "sha256",
        };
        let decrypt = |input: &str, output: &str| {
            format!(
                "openssl pkeyutl -decrypt -in {input} -out {output} -inkey WrappingPrivateKey.der \
                 -keyform DER -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:{md} \
                 -pkeyopt rsa_mgf1_md:{md}"
            )
        };
        match alg {
            WrappingAlgorithm::RsaesOaepSha1 | WrappingAlgorithm::RsaesOaepSha256 => {
                std::fs::write(d.join("Encrypted.bin"), &wrapped).unwrap();
                sh(d, &decrypt("Encrypted.bin", "Decrypted.bin"));
            }
            _ => {
                std::fs::write(d.join("aes-key-wrapped.bin"), &wrapped[..k]).unwrap();
                std::fs::write(d.join("key-material-wrapped.bin"), &wrapped[k..]).unwrap();
                sh(
                    d,
                    &format!(
                        "{}\nopenssl enc -d -id-aes256-wrap-pad \
                         -K \"$(xxd -p < aes-key.bin | tr -d '\\n')\" -iv A65959A6 \
                         -in key-material-wrapped.bin -out Decrypted.bin",
                        decrypt("aes-key-wrapped.bin", "aes-key.bin")
                    ),
                );
            }
        }
        assert_eq!(
            &read(d, "Decrypted.bin")[..],
            &material.expose()[..],
            "{alg:?}"
        );
    }
}

/// Wrapping keys generated by OpenSSL load as PKCS#8 if they have an AWS size, and are refused
/// otherwise (other sizes, EC keys). aws-lc also accepts the traditional PKCS#1
/// `RSAPrivateKey` form (what OpenSSL 3.0's `genpkey -outform DER` writes); we only ever write
/// PKCS#8.
#[test]
fn openssl_generated_private_keys() {
    if !have_tools("openssl keys", &["openssl"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    sh(
        d,
        "for k in 2048 1024; do\n\
           openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:$k -out k$k.pem 2>/dev/null\n\
           openssl pkcs8 -topk8 -nocrypt -in k$k.pem -outform DER -out k$k.p8.der\n\
         done\n\
         openssl rsa -in k2048.pem -outform DER -out k2048.pkcs1.der\n\
         openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.pem\n\
         openssl pkcs8 -topk8 -nocrypt -in ec.pem -outform DER -out ec.p8.der",
    );
    let pair = WrappingKeyPair::from_pkcs8_der(&read(d, "k2048.p8.der")).unwrap();
    assert_eq!(pair.spec(), WrappingKeySpec::Rsa2048);
    let material = KeyMaterial::generate().unwrap();
    let wrapped = wrap_key_material(
        &pair.public_key_der().unwrap(),
        WrappingAlgorithm::RsaesOaepSha256,
        material.expose(),
    )
    .unwrap();
    assert!(pair
        .unwrap_key_material(WrappingAlgorithm::RsaesOaepSha256, &wrapped)
        .unwrap()
        .ct_eq(&material));
    let pkcs1 = WrappingKeyPair::from_pkcs8_der(&read(d, "k2048.pkcs1.der")).unwrap();
    assert_eq!(
        pkcs1.public_key_der().unwrap(),
        pair.public_key_der().unwrap()
    );
    for refused in ["k1024.p8.der", "ec.p8.der"] {
        assert!(
            matches!(
                WrappingKeyPair::from_pkcs8_der(&read(d, refused)),
                Err(CryptoError::InvalidWrappingKey { .. })
            ),
            "{refused}"
        );
    }
}
