//! Key import in Rust alone: every algorithm with every wrapping key spec, PKCS#8 storage of
//! the wrapping key, and every way an unwrap can go wrong (an error, never a panic).

mod common;

use common::{wrapping_key, SPECS};
use ferrogate_kms_crypto::{
    wrap_key_material, CryptoError, KeyMaterial, WrappingAlgorithm, WrappingKeyPair,
    WrappingKeySpec,
};
use proptest::prelude::*;

/// DER prefix of an RSA SubjectPublicKeyInfo's AlgorithmIdentifier: OID 1.2.840.113549.1.1.1
/// (rsaEncryption) followed by NULL parameters.
const RSA_ENCRYPTION_ALGID: [u8; 15] = [
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];

fn expected_len(spec: WrappingKeySpec, alg: WrappingAlgorithm, material_len: usize) -> usize {
    let k = spec.bits() / 8;
    match alg {
        WrappingAlgorithm::RsaesOaepSha1 | WrappingAlgorithm::RsaesOaepSha256 => k,
        // RFC 5649: the padded length plus the 8-byte integrity block.
        _ => k + material_len.div_ceil(8) * 8 + 8,
    }
}

#[test]
fn every_algorithm_with_every_spec_round_trips() {
    for spec in SPECS {
        let pair = wrapping_key(spec);
        assert_eq!(pair.spec(), spec);
        let public = pair.public_key_der().unwrap();
        for alg in WrappingAlgorithm::ALL {
            let material = KeyMaterial::generate().unwrap();
            let wrapped = wrap_key_material(&public, alg, material.expose()).unwrap();
            assert_eq!(
                wrapped.len(),
                expected_len(spec, alg, 32),
                "{spec:?} {alg:?}"
            );
            let unwrapped = pair.unwrap_key_material(alg, &wrapped).unwrap();
            assert!(unwrapped.ct_eq(&material), "{spec:?} {alg:?}");
        }
    }
}

#[test]
fn public_key_is_der_subject_public_key_info() {
    for spec in SPECS {
        let der = wrapping_key(spec).public_key_der().unwrap();
        assert_eq!(der[0], 0x30, "SEQUENCE");
        let body = match der[1] {
            0x82 => &der[4..],
            0x81 => &der[3..],
            _ => &der[2..],
        };
        assert!(body.starts_with(&RSA_ENCRYPTION_ALGID), "{spec:?}");
        // The modulus is spec.bits() long: the DER grows with it.
        assert!(der.len() > spec.bits() / 8 && der.len() < spec.bits() / 8 + 64);
    }
}

#[test]
fn pkcs8_storage_round_trip() {
    let pair = wrapping_key(WrappingKeySpec::Rsa2048);
    let pkcs8 = pair.to_pkcs8_der().unwrap();
    let loaded = WrappingKeyPair::from_pkcs8_der(&pkcs8).unwrap();
    assert_eq!(loaded.spec(), WrappingKeySpec::Rsa2048);
    assert_eq!(
        loaded.public_key_der().unwrap(),
        pair.public_key_der().unwrap()
    );
    // What was wrapped for the original unwraps with the reloaded key.
    let material = KeyMaterial::generate().unwrap();
    let wrapped = wrap_key_material(
        &pair.public_key_der().unwrap(),
        WrappingAlgorithm::RsaAesKeyWrapSha256,
        material.expose(),
    )
    .unwrap();
    assert!(loaded
        .unwrap_key_material(WrappingAlgorithm::RsaAesKeyWrapSha256, &wrapped)
        .unwrap()
        .ct_eq(&material));
}

#[test]
fn pkcs8_of_every_spec_reloads_with_its_spec() {
    for spec in SPECS {
        let pkcs8 = wrapping_key(spec).to_pkcs8_der().unwrap();
        assert_eq!(
            WrappingKeyPair::from_pkcs8_der(&pkcs8).unwrap().spec(),
            spec
        );
    }
}

#[test]
fn garbage_pkcs8_is_refused() {
    let pkcs8 = wrapping_key(WrappingKeySpec::Rsa2048)
        .to_pkcs8_der()
        .unwrap();
    for bad in [
        &[][..],
        &[0x30, 0x00][..],
        &pkcs8[..pkcs8.len() / 2],
        &wrapping_key(WrappingKeySpec::Rsa2048)
            .public_key_der()
            .unwrap()[..],
    ] {
        assert!(matches!(
            WrappingKeyPair::from_pkcs8_der(bad),
            Err(CryptoError::InvalidWrappingKey { .. })
        ));
    }
}

#[test]
fn wrong_wrapping_key_fails() {
    let a = wrapping_key(WrappingKeySpec::Rsa2048);
    let b = WrappingKeyPair::generate(WrappingKeySpec::Rsa2048).unwrap();
    let material = KeyMaterial::generate().unwrap();
    for alg in WrappingAlgorithm::ALL {
        let wrapped =
            wrap_key_material(&a.public_key_der().unwrap(), alg, material.expose()).unwrap();
        assert_eq!(
            b.unwrap_key_material(alg, &wrapped).unwrap_err(),
            CryptoError::UnwrapFailed,
            "{alg:?}"
        );
    }
}

#[test]
fn wrong_algorithm_fails() {
    let pair = wrapping_key(WrappingKeySpec::Rsa2048);
    let public = pair.public_key_der().unwrap();
    let material = KeyMaterial::generate().unwrap();
    for wrapped_with in WrappingAlgorithm::ALL {
        let wrapped = wrap_key_material(&public, wrapped_with, material.expose()).unwrap();
        for unwrapped_with in WrappingAlgorithm::ALL {
            if unwrapped_with == wrapped_with {
                continue;
            }
            let result = pair.unwrap_key_material(unwrapped_with, &wrapped);
            assert_eq!(
                result.unwrap_err(),
                CryptoError::UnwrapFailed,
                "wrapped with {wrapped_with:?}, unwrapped with {unwrapped_with:?}"
            );
        }
    }
}

#[test]
fn truncated_extended_and_garbled_input_fails() {
    let pair = wrapping_key(WrappingKeySpec::Rsa2048);
    let public = pair.public_key_der().unwrap();
    let material = KeyMaterial::generate().unwrap();
    for alg in WrappingAlgorithm::ALL {
        let wrapped = wrap_key_material(&public, alg, material.expose()).unwrap();
        for len in [0, 1, 8, 255, 256, 257, wrapped.len() - 8, wrapped.len() - 1] {
            if len >= wrapped.len() {
                continue;
            }
            assert_eq!(
                pair.unwrap_key_material(alg, &wrapped[..len]).unwrap_err(),
                CryptoError::UnwrapFailed,
                "{alg:?} truncated to {len}"
            );
        }
        let mut longer = wrapped.clone();
        longer.extend_from_slice(&[0; 8]);
        assert_eq!(
            pair.unwrap_key_material(alg, &longer).unwrap_err(),
            CryptoError::UnwrapFailed,
            "{alg:?} extended"
        );
        // A flipped byte in the RSA block, and (for RSA_AES) in the key-wrapped part.
        for i in [0, 100, wrapped.len() - 1] {
            let mut garbled = wrapped.clone();
            garbled[i] ^= 0x01;
            assert_eq!(
                pair.unwrap_key_material(alg, &garbled).unwrap_err(),
                CryptoError::UnwrapFailed,
                "{alg:?} byte {i}"
            );
        }
        assert_eq!(
            pair.unwrap_key_material(alg, &vec![0xff; 6145])
                .unwrap_err(),
            CryptoError::UnwrapFailed
        );
    }
}

#[test]
fn material_must_be_32_bytes() {
    let pair = wrapping_key(WrappingKeySpec::Rsa2048);
    let public = pair.public_key_der().unwrap();
    for alg in WrappingAlgorithm::ALL {
        for len in [1, 16, 31, 33, 48, 64] {
            let wrapped = wrap_key_material(&public, alg, &vec![7u8; len]).unwrap();
            assert!(
                matches!(
                    pair.unwrap_key_material(alg, &wrapped),
                    Err(CryptoError::InvalidKeyMaterial { .. })
                ),
                "{alg:?} {len}"
            );
            // The raw unwrap gives other key types their bytes back.
            assert_eq!(
                &pair.unwrap_raw(alg, &wrapped).unwrap()[..],
                &vec![7u8; len][..]
            );
        }
    }
}

#[test]
fn rsa_aes_wraps_material_too_long_for_one_rsa_block() {
    // The reason RSA_AES_KEY_WRAP exists: material larger than an OAEP block (e.g. an RSA
    // private key). 2048-bit OAEP-SHA-256 holds at most 190 bytes.
    let pair = wrapping_key(WrappingKeySpec::Rsa2048);
    let public = pair.public_key_der().unwrap();
    let big = vec![0x11u8; 1217];
    assert!(matches!(
        wrap_key_material(&public, WrappingAlgorithm::RsaesOaepSha256, &big),
        Err(CryptoError::OutOfRange { max: 190, .. })
    ));
    let wrapped = wrap_key_material(&public, WrappingAlgorithm::RsaAesKeyWrapSha256, &big).unwrap();
    assert_eq!(
        &pair
            .unwrap_raw(WrappingAlgorithm::RsaAesKeyWrapSha256, &wrapped)
            .unwrap()[..],
        &big[..]
    );
}

#[test]
fn wrap_refuses_a_bad_public_key() {
    assert!(matches!(
        wrap_key_material(b"not a key", WrappingAlgorithm::RsaesOaepSha256, &[0; 32]),
        Err(CryptoError::InvalidWrappingKey { .. })
    ));
}

#[test]
fn unwrap_errors_say_nothing_specific() {
    let pair = wrapping_key(WrappingKeySpec::Rsa2048);
    let err = pair
        .unwrap_key_material(WrappingAlgorithm::RsaesOaepSha256, &[0u8; 256])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "encrypted key material could not be unwrapped"
    );
    assert_eq!(err.aws_code(), "InvalidCiphertextException");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn unwrap_never_panics(
        alg in prop::sample::select(WrappingAlgorithm::ALL.to_vec()),
        bytes in proptest::collection::vec(any::<u8>(), 0..700),
    ) {
        let pair = wrapping_key(WrappingKeySpec::Rsa2048);
        prop_assert!(pair.unwrap_key_material(alg, &bytes).is_err());
        let _ = pair.unwrap_raw(alg, &bytes);
    }

    #[test]
    fn unwrap_never_panics_on_a_valid_rsa_block_with_garbage_after(
        tail in proptest::collection::vec(any::<u8>(), 0..120),
        sha256 in any::<bool>(),
    ) {
        // A valid RSA-OAEP block carrying a 32-byte AES key, then arbitrary "key wrap" bytes.
        let pair = wrapping_key(WrappingKeySpec::Rsa2048);
        let (oaep, rsa_aes) = if sha256 {
            (WrappingAlgorithm::RsaesOaepSha256, WrappingAlgorithm::RsaAesKeyWrapSha256)
        } else {
            (WrappingAlgorithm::RsaesOaepSha1, WrappingAlgorithm::RsaAesKeyWrapSha1)
        };
        let mut input = wrap_key_material(&pair.public_key_der().unwrap(), oaep, &[5; 32]).unwrap();
        input.extend_from_slice(&tail);
        prop_assert!(pair.unwrap_key_material(rsa_aes, &input).is_err());
    }
}
