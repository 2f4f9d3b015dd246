//! Shared fixtures: RSA wrapping keys are slow to generate, so each test binary makes one per
//! spec and shares it.

#![allow(dead_code)]

use std::sync::OnceLock;

use ferrogate_kms_crypto::{WrappingKeyPair, WrappingKeySpec};

pub const SPECS: [WrappingKeySpec; 3] = [
    WrappingKeySpec::Rsa2048,
    WrappingKeySpec::Rsa3072,
    WrappingKeySpec::Rsa4096,
];

/// One wrapping key pair per spec for this test binary.
pub fn wrapping_key(spec: WrappingKeySpec) -> &'static WrappingKeyPair {
    static KEYS: [OnceLock<WrappingKeyPair>; 3] =
        [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let slot = match spec {
        WrappingKeySpec::Rsa2048 => &KEYS[0],
        WrappingKeySpec::Rsa3072 => &KEYS[1],
        WrappingKeySpec::Rsa4096 => &KEYS[2],
    };
    slot.get_or_init(|| WrappingKeyPair::generate(spec).expect("RSA key generation"))
}
