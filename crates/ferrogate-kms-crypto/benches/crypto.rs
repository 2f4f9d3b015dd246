//! Benchmark of the KMS cryptographic core alone (no storage, no HTTP, one thread).
//!
//! Run: `CARGO_TARGET_DIR=/work/target-kmscrypto cargo bench -p ferrogate-kms-crypto --bench crypto`
//!
//! Each operation is timed on its own with `Instant` (which adds some tens of nanoseconds);
//! ops/s is the number of operations divided by the total time of the timed loop.

use std::hint::black_box;
use std::time::{Duration, Instant};

use aws_lc_rs::{aead, rand};
use ferrogate_kms_crypto::{
    decrypt, encrypt, generate_data_key, parse_blob, wrap_key_material, DataKeyLength, DataKeySpec,
    EncryptionContext, KeyMaterial, WrappingAlgorithm, WrappingKeyPair, WrappingKeySpec,
};

const ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

fn bench(name: &str, iterations: usize, mut op: impl FnMut()) {
    for _ in 0..iterations.div_ceil(10) {
        op();
    }
    let mut samples = Vec::with_capacity(iterations);
    let start = Instant::now();
    for _ in 0..iterations {
        let t = Instant::now();
        op();
        samples.push(t.elapsed());
    }
    let total = start.elapsed();
    samples.sort_unstable();
    let pct = |p: usize| samples[(samples.len() * p / 100).min(samples.len() - 1)];
    #[allow(clippy::cast_precision_loss)]
    let ops = iterations as f64 / total.as_secs_f64();
    println!(
        "{name:<52} {ops:>12.0} ops/s   p50 {:>10}   p99 {:>10}",
        fmt(pct(50)),
        fmt(pct(99))
    );
}

fn fmt(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns >= 1_000_000 {
        format!("{:.2} ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{:.2} µs", d.as_secs_f64() * 1e6)
    }
}

fn main() {
    let material = KeyMaterial::generate().unwrap();
    let id = material.material_id("1234abcd-12ab-34cd-56ef-1234567890ab");
    let ctx: EncryptionContext = [
        ("aws:ecs:clusterAccount", "111122223333"),
        ("aws:ecs:clusterName", "prod"),
        ("aws:ebs:id", "vol-0123456789abcdef0"),
    ]
    .into_iter()
    .collect();
    let plaintext = vec![0x5au8; 1024];
    let blob = encrypt(&material, ARN, &id, &plaintext, &ctx).unwrap();

    println!("ferrogate-kms-crypto, single thread");
    bench("encrypt 1 KiB, 3-pair context", 200_000, || {
        black_box(encrypt(&material, ARN, &id, black_box(&plaintext), &ctx).unwrap());
    });
    bench("decrypt 1 KiB, 3-pair context", 200_000, || {
        black_box(decrypt(&material, black_box(&blob), &ctx).unwrap());
    });
    // Reference for the per-message key derivation's cost: the same seal under a key set up
    // once, with a random 96-bit IV (the design the v1 format chose not to use).
    let fixed = aead::LessSafeKey::new(
        aead::UnboundKey::new(&aead::AES_256_GCM, material.expose()).unwrap(),
    );
    bench(
        "reference: AES-256-GCM seal 1 KiB, long-lived key",
        200_000,
        || {
            let mut iv = [0u8; 12];
            rand::fill(&mut iv).unwrap();
            let mut buf = plaintext.clone();
            let tag = fixed
                .seal_in_place_separate_tag(
                    aead::Nonce::assume_unique_for_key(iv),
                    aead::Aad::from(&b"aad"[..]),
                    &mut buf,
                )
                .unwrap();
            black_box(&buf);
            black_box(tag.as_ref()[0]);
        },
    );
    bench("parse_blob (header only)", 1_000_000, || {
        black_box(parse_blob(black_box(&blob)).unwrap());
    });
    bench(
        "generate_data_key(AES_256): 32 random bytes",
        1_000_000,
        || {
            black_box(generate_data_key(DataKeyLength::KeySpec(DataKeySpec::Aes256)).unwrap());
        },
    );
    bench(
        "GenerateDataKey crypto: 32-byte key + encrypt it",
        200_000,
        || {
            let key = generate_data_key(DataKeyLength::NumberOfBytes(32)).unwrap();
            black_box(encrypt(&material, ARN, &id, &key, &ctx).unwrap());
        },
    );
    bench("material_id", 1_000_000, || {
        black_box(material.material_id(black_box("1234abcd-12ab-34cd-56ef-1234567890ab")));
    });

    for (spec, iterations) in [
        (WrappingKeySpec::Rsa2048, 2_000),
        (WrappingKeySpec::Rsa4096, 300),
    ] {
        let pair = WrappingKeyPair::generate(spec).unwrap();
        let public = pair.public_key_der().unwrap();
        for alg in [
            WrappingAlgorithm::RsaesOaepSha256,
            WrappingAlgorithm::RsaAesKeyWrapSha256,
        ] {
            let wrapped = wrap_key_material(&public, alg, material.expose()).unwrap();
            bench(
                &format!("unwrap {} {}", spec.as_aws_name(), alg.as_aws_name()),
                iterations,
                || {
                    black_box(pair.unwrap_key_material(alg, black_box(&wrapped)).unwrap());
                },
            );
        }
    }
    for (spec, iterations) in [
        (WrappingKeySpec::Rsa2048, 20),
        (WrappingKeySpec::Rsa3072, 10),
        (WrappingKeySpec::Rsa4096, 5),
    ] {
        bench(
            &format!("WrappingKeyPair::generate {}", spec.as_aws_name()),
            iterations,
            || {
                black_box(WrappingKeyPair::generate(spec).unwrap());
            },
        );
    }
}
