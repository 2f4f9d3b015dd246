//! Ciphertext blobs through the public API: round trips, context binding, tampering, bounds,
//! and properties over arbitrary input (never a panic, never a forged decryption).

use ferrogate_kms_crypto::{
    decrypt, encrypt, parse_blob, CryptoError, EncryptionContext, KeyMaterial, MaterialId,
    FORMAT_VERSION, MAX_CIPHERTEXT_BLOB_LEN, MAX_KEY_ARN_LEN, MAX_PLAINTEXT_LEN, NONCE_LEN,
    TAG_LEN,
};
use proptest::prelude::*;

const KEY_ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";
const ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

fn fargate_context() -> EncryptionContext {
    [
        ("aws:ecs:clusterAccount", "111122223333"),
        ("aws:ecs:clusterName", "prod"),
        ("aws:ebs:id", "vol-0123456789abcdef0"),
    ]
    .into_iter()
    .collect()
}

fn key() -> (KeyMaterial, MaterialId) {
    let material = KeyMaterial::generate().unwrap();
    let id = material.material_id(KEY_ID);
    (material, id)
}

#[test]
fn round_trip_at_every_interesting_length() {
    let (material, id) = key();
    let ctx = fargate_context();
    for len in [0, 1, 15, 16, 17, 32, 64, 1024, MAX_PLAINTEXT_LEN] {
        let plaintext: Vec<u8> = (0..len)
            .map(|i| u8::try_from(i * 7 % 251).unwrap())
            .collect();
        let blob = encrypt(&material, ARN, &id, &plaintext, &ctx).unwrap();
        assert_eq!(
            blob.len(),
            3 + ARN.len() + 32 + NONCE_LEN + len + TAG_LEN,
            "len {len}"
        );
        assert_eq!(
            &decrypt(&material, &blob, &ctx).unwrap()[..],
            &plaintext[..]
        );
    }
}

#[test]
fn header_names_key_and_material() {
    let (material, id) = key();
    let blob = encrypt(&material, ARN, &id, b"x", &EncryptionContext::new()).unwrap();
    let header = parse_blob(&blob).unwrap();
    assert_eq!(header.key_arn, ARN);
    assert_eq!(header.material_id, id);
    assert_eq!(blob[0], FORMAT_VERSION);
}

#[test]
fn every_encryption_uses_a_fresh_nonce() {
    let (material, id) = key();
    let ctx = fargate_context();
    let a = encrypt(&material, ARN, &id, b"same", &ctx).unwrap();
    let b = encrypt(&material, ARN, &id, b"same", &ctx).unwrap();
    assert_ne!(a, b);
    let nonce = |blob: &[u8]| blob[3 + ARN.len() + 32..3 + ARN.len() + 32 + NONCE_LEN].to_vec();
    assert_ne!(nonce(&a), nonce(&b));
}

#[test]
fn context_order_does_not_matter() {
    let (material, id) = key();
    let forwards: EncryptionContext = [("a", "1"), ("b", "2"), ("c", "3")].into_iter().collect();
    let backwards: EncryptionContext = [("c", "3"), ("b", "2"), ("a", "1")].into_iter().collect();
    let blob = encrypt(&material, ARN, &id, b"secret", &forwards).unwrap();
    assert_eq!(
        &decrypt(&material, &blob, &backwards).unwrap()[..],
        b"secret"
    );
}

#[test]
fn any_other_context_is_invalid_ciphertext() {
    let (material, id) = key();
    let ctx = fargate_context();
    let blob = encrypt(&material, ARN, &id, b"secret", &ctx).unwrap();

    let missing: EncryptionContext = ctx.iter().skip(1).collect();
    let mut extra = ctx.clone();
    extra.insert("aws:ecs:extra", "1");
    let mut value_case = ctx.clone();
    value_case.insert("aws:ecs:clusterName", "Prod");
    let mut key_case: EncryptionContext = ctx
        .iter()
        .filter(|(k, _)| *k != "aws:ecs:clusterName")
        .collect();
    key_case.insert("aws:ecs:ClusterName", "prod");
    let mut empty_value = ctx.clone();
    empty_value.insert("aws:ecs:clusterName", "");

    for wrong in [
        EncryptionContext::new(),
        missing,
        extra,
        value_case,
        key_case,
        empty_value,
    ] {
        assert_eq!(
            decrypt(&material, &blob, &wrong),
            Err(CryptoError::InvalidCiphertext),
            "{wrong:?}"
        );
    }

    // And a blob made without a context needs none.
    let bare = encrypt(&material, ARN, &id, b"secret", &EncryptionContext::new()).unwrap();
    assert!(decrypt(&material, &bare, &EncryptionContext::new()).is_ok());
    assert_eq!(
        decrypt(&material, &bare, &ctx),
        Err(CryptoError::InvalidCiphertext)
    );
}

#[test]
fn other_material_is_invalid_ciphertext() {
    let (material, id) = key();
    let (other, _) = key();
    let ctx = fargate_context();
    let blob = encrypt(&material, ARN, &id, b"secret", &ctx).unwrap();
    assert_eq!(
        decrypt(&other, &blob, &ctx),
        Err(CryptoError::InvalidCiphertext)
    );
}

#[test]
fn every_single_bit_flip_is_rejected() {
    let (material, id) = key();
    let ctx = fargate_context();
    let blob = encrypt(&material, ARN, &id, b"0123456789abcdef", &ctx).unwrap();
    for i in 0..blob.len() {
        for bit in 0..8 {
            let mut tampered = blob.clone();
            tampered[i] ^= 1 << bit;
            let result = decrypt(&material, &tampered, &ctx);
            assert!(
                matches!(
                    result,
                    Err(CryptoError::InvalidCiphertext | CryptoError::MalformedCiphertext { .. })
                ),
                "byte {i} bit {bit}: {result:?}"
            );
        }
    }
}

#[test]
fn truncated_or_extended_blobs_are_rejected() {
    let (material, id) = key();
    let ctx = fargate_context();
    let blob = encrypt(&material, ARN, &id, b"secret", &ctx).unwrap();
    for len in 0..blob.len() {
        assert!(decrypt(&material, &blob[..len], &ctx).is_err(), "len {len}");
    }
    let mut longer = blob.clone();
    longer.push(0);
    assert_eq!(
        decrypt(&material, &longer, &ctx),
        Err(CryptoError::InvalidCiphertext)
    );
}

#[test]
fn parse_blob_rejects_malformed_headers() {
    let (material, id) = key();
    let blob = encrypt(&material, ARN, &id, b"", &EncryptionContext::new()).unwrap();
    let malformed =
        |b: &[u8]| matches!(parse_blob(b), Err(CryptoError::MalformedCiphertext { .. }));

    assert!(malformed(&[]));
    assert!(malformed(&[FORMAT_VERSION]));
    assert!(malformed(&[FORMAT_VERSION, 0]));
    for version in [0x00, 0x02, 0xff] {
        let mut b = blob.clone();
        b[0] = version;
        assert!(malformed(&b), "version {version}");
    }
    // ARN length 0, over the maximum, and past the end.
    for len in [0u16, 257, u16::MAX] {
        let mut b = blob.clone();
        b[1..3].copy_from_slice(&len.to_be_bytes());
        assert!(malformed(&b), "arn len {len}");
    }
    // ARN not UTF-8.
    let mut b = blob.clone();
    b[3] = 0xff;
    assert!(malformed(&b));
    // Too short for nonce and tag.
    assert!(malformed(&blob[..blob.len() - 1]));
    // Longer than AWS's CiphertextBlob maximum.
    let mut b = blob.clone();
    b.resize(MAX_CIPHERTEXT_BLOB_LEN + 1, 0);
    assert!(malformed(&b));
    // An empty-plaintext blob is exactly header + nonce + tag, and parses.
    assert_eq!(blob.len(), 3 + ARN.len() + 32 + NONCE_LEN + TAG_LEN);
    assert!(parse_blob(&blob).is_ok());
}

#[test]
fn encrypt_bounds() {
    let (material, id) = key();
    let ctx = EncryptionContext::new();
    assert_eq!(
        encrypt(&material, ARN, &id, &[0; MAX_PLAINTEXT_LEN + 1], &ctx),
        Err(CryptoError::OutOfRange {
            field: "Plaintext",
            min: 0,
            max: MAX_PLAINTEXT_LEN,
            actual: MAX_PLAINTEXT_LEN + 1
        })
    );
    assert!(matches!(
        encrypt(&material, "", &id, b"x", &ctx),
        Err(CryptoError::InvalidKeyArn { .. })
    ));
    let too_long = "a".repeat(MAX_KEY_ARN_LEN + 1);
    assert!(matches!(
        encrypt(&material, &too_long, &id, b"x", &ctx),
        Err(CryptoError::InvalidKeyArn { .. })
    ));
    // The largest blob stays within AWS's CiphertextBlob limit and still decrypts.
    let longest = "é".repeat(MAX_KEY_ARN_LEN / 2);
    let blob = encrypt(&material, &longest, &id, &[1; MAX_PLAINTEXT_LEN], &ctx).unwrap();
    assert!(blob.len() <= MAX_CIPHERTEXT_BLOB_LEN);
    assert_eq!(parse_blob(&blob).unwrap().key_arn, longest);
    assert_eq!(
        decrypt(&material, &blob, &ctx).unwrap().len(),
        MAX_PLAINTEXT_LEN
    );
}

#[test]
fn errors_carry_no_secret() {
    let material = KeyMaterial::from_bytes(&[0x5a; 32]).unwrap();
    let id = material.material_id(KEY_ID);
    let blob = encrypt(
        &material,
        ARN,
        &id,
        b"TOPSECRETPLAINTEXT",
        &fargate_context(),
    )
    .unwrap();
    let err = decrypt(&material, &blob, &EncryptionContext::new()).unwrap_err();
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains("TOPSECRET"));
        assert!(!text.contains("5a5a") && !text.contains("90, 90"));
    }
    assert_eq!(err.aws_code(), "InvalidCiphertextException");
    assert_eq!(err.status(), 400);
}

fn context_strategy() -> impl Strategy<Value = EncryptionContext> {
    proptest::collection::btree_map(".{0,12}", ".{0,24}", 0..6).prop_map(EncryptionContext::from)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_and_decrypt_never_panic_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let material = KeyMaterial::from_bytes(&[3; 32]).unwrap();
        let _ = parse_blob(&bytes);
        prop_assert!(decrypt(&material, &bytes, &EncryptionContext::new()).is_err());
    }

    #[test]
    fn parse_and_decrypt_never_panic_on_plausible_headers(
        arn_len in any::<u16>(),
        body in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        let material = KeyMaterial::from_bytes(&[3; 32]).unwrap();
        let mut bytes = vec![FORMAT_VERSION];
        bytes.extend_from_slice(&arn_len.to_be_bytes());
        bytes.extend_from_slice(&body);
        let _ = parse_blob(&bytes);
        prop_assert!(decrypt(&material, &bytes, &EncryptionContext::new()).is_err());
    }

    #[test]
    fn round_trip(plaintext in proptest::collection::vec(any::<u8>(), 0..600), ctx in context_strategy(), arn in "[ -~]{1,256}") {
        let material = KeyMaterial::generate().unwrap();
        let id = material.material_id("k");
        let blob = encrypt(&material, &arn, &id, &plaintext, &ctx).unwrap();
        let header = parse_blob(&blob).unwrap();
        prop_assert_eq!(header.key_arn, arn);
        prop_assert_eq!(header.material_id, id);
        prop_assert_eq!(&decrypt(&material, &blob, &ctx).unwrap()[..], &plaintext[..]);
    }

    #[test]
    fn mutated_blobs_never_decrypt(
        plaintext in proptest::collection::vec(any::<u8>(), 0..64),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..4),
    ) {
        let material = KeyMaterial::from_bytes(&[9; 32]).unwrap();
        let id = material.material_id("k");
        let ctx = fargate_context();
        let original = encrypt(&material, ARN, &id, &plaintext, &ctx).unwrap();
        let mut blob = original.clone();
        for (index, xor) in &edits {
            let i = index.index(blob.len());
            blob[i] ^= xor;
        }
        // Edits at the same position can cancel out; only a changed blob must fail.
        prop_assume!(blob != original);
        prop_assert!(decrypt(&material, &blob, &ctx).is_err());
    }

    #[test]
    fn canonical_encoding_is_injective(a in context_strategy(), b in context_strategy()) {
        let ea = a.canonical_bytes().unwrap();
        let eb = b.canonical_bytes().unwrap();
        prop_assert_eq!(a == b, ea == eb);
    }

    #[test]
    fn decrypt_with_a_different_context_fails(a in context_strategy(), b in context_strategy()) {
        prop_assume!(a != b);
        let material = KeyMaterial::from_bytes(&[1; 32]).unwrap();
        let id = material.material_id("k");
        let blob = encrypt(&material, ARN, &id, b"p", &a).unwrap();
        prop_assert_eq!(decrypt(&material, &blob, &b), Err(CryptoError::InvalidCiphertext));
    }
}
