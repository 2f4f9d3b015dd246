//! Importing key material (`GetParametersForImport` / `ImportKeyMaterial`).
//!
//! KMS hands out the public half of an RSA wrapping key; the customer encrypts ("wraps") their
//! key material under it with one of AWS's wrapping algorithms; KMS unwraps it with the private
//! half. Formats follow AWS's "Importing key material" guide, step 3 ("Encrypt the key
//! material"), and its OpenSSL recipes:
//!
//! - `RSAES_OAEP_SHA_1` / `RSAES_OAEP_SHA_256`: the material itself, RSA-OAEP encrypted
//!   (`openssl pkeyutl -encrypt ... -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256
//!   -pkeyopt rsa_mgf1_md:sha256`; MGF1 uses the same hash as OAEP). Exactly one RSA block.
//! - `RSA_AES_KEY_WRAP_SHA_1` / `RSA_AES_KEY_WRAP_SHA_256`: a 32-byte ephemeral AES key,
//!   RSA-OAEP encrypted (one RSA block, `k` bytes for a `k`-byte modulus), immediately
//!   followed by the material wrapped under that AES key with AES key wrap with padding,
//!   RFC 5649 (`openssl enc -id-aes256-wrap-pad -iv A65959A6`; `cat aes-key-wrapped.bin
//!   key-material-wrapped.bin > EncryptedKeyMaterial.bin`). 32 bytes of material wrap to 40.
//! - `RSAES_PKCS1_V1_5` is refused: AWS stopped supporting it on 2023-10-10. `SM2PKE` and the
//!   `SM2` wrapping key spec (China Regions only) are not supported.

use std::fmt;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::key_wrap::{AesKek, KeyWrapPadded, AES_256};
use aws_lc_rs::rand;
use aws_lc_rs::rsa::{
    KeySize, OaepAlgorithm, OaepPrivateDecryptingKey, OaepPublicEncryptingKey,
    PrivateDecryptingKey, PublicEncryptingKey, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256,
};
use zeroize::Zeroizing;

use crate::{CryptoError, KeyMaterial, MAX_CIPHERTEXT_BLOB_LEN};

/// Length of the ephemeral AES key of the `RSA_AES_KEY_WRAP_*` algorithms (AES-256).
pub const RSA_AES_EPHEMERAL_KEY_LEN: usize = 32;

/// `WrappingKeySpec` of `GetParametersForImport`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WrappingKeySpec {
    /// `RSA_2048`
    Rsa2048,
    /// `RSA_3072`
    Rsa3072,
    /// `RSA_4096`
    Rsa4096,
}

impl WrappingKeySpec {
    /// Parses the AWS name.
    ///
    /// # Errors
    /// [`CryptoError::UnsupportedWrappingKeySpec`] for `SM2` and anything unknown.
    pub fn from_aws_name(name: &str) -> Result<Self, CryptoError> {
        match name {
            "RSA_2048" => Ok(Self::Rsa2048),
            "RSA_3072" => Ok(Self::Rsa3072),
            "RSA_4096" => Ok(Self::Rsa4096),
            other => Err(CryptoError::UnsupportedWrappingKeySpec {
                spec: other.to_owned(),
            }),
        }
    }

    /// The AWS name.
    #[must_use]
    pub fn as_aws_name(self) -> &'static str {
        match self {
            Self::Rsa2048 => "RSA_2048",
            Self::Rsa3072 => "RSA_3072",
            Self::Rsa4096 => "RSA_4096",
        }
    }

    /// Modulus size in bits.
    #[must_use]
    pub fn bits(self) -> usize {
        match self {
            Self::Rsa2048 => 2048,
            Self::Rsa3072 => 3072,
            Self::Rsa4096 => 4096,
        }
    }

    fn key_size(self) -> KeySize {
        match self {
            Self::Rsa2048 => KeySize::Rsa2048,
            Self::Rsa3072 => KeySize::Rsa3072,
            Self::Rsa4096 => KeySize::Rsa4096,
        }
    }

    fn from_bits(bits: usize) -> Option<Self> {
        match bits {
            2048 => Some(Self::Rsa2048),
            3072 => Some(Self::Rsa3072),
            4096 => Some(Self::Rsa4096),
            _ => None,
        }
    }
}

/// `WrappingAlgorithm` of `GetParametersForImport` (the supported ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WrappingAlgorithm {
    /// `RSAES_OAEP_SHA_1`: RSA-OAEP, SHA-1, MGF1-SHA-1.
    RsaesOaepSha1,
    /// `RSAES_OAEP_SHA_256`: RSA-OAEP, SHA-256, MGF1-SHA-256.
    RsaesOaepSha256,
    /// `RSA_AES_KEY_WRAP_SHA_1`: RSA-OAEP (SHA-1) of an AES-256 key, then RFC 5649 key wrap.
    RsaAesKeyWrapSha1,
    /// `RSA_AES_KEY_WRAP_SHA_256`: RSA-OAEP (SHA-256) of an AES-256 key, then RFC 5649 key wrap.
    RsaAesKeyWrapSha256,
}

impl WrappingAlgorithm {
    /// Every supported algorithm.
    pub const ALL: [Self; 4] = [
        Self::RsaesOaepSha1,
        Self::RsaesOaepSha256,
        Self::RsaAesKeyWrapSha1,
        Self::RsaAesKeyWrapSha256,
    ];

    /// Parses the AWS name.
    ///
    /// # Errors
    /// [`CryptoError::UnsupportedWrappingAlgorithm`] for `RSAES_PKCS1_V1_5` (unsupported by AWS
    /// since 2023-10-10), `SM2PKE`, and anything unknown.
    pub fn from_aws_name(name: &str) -> Result<Self, CryptoError> {
        match name {
            "RSAES_OAEP_SHA_1" => Ok(Self::RsaesOaepSha1),
            "RSAES_OAEP_SHA_256" => Ok(Self::RsaesOaepSha256),
            "RSA_AES_KEY_WRAP_SHA_1" => Ok(Self::RsaAesKeyWrapSha1),
            "RSA_AES_KEY_WRAP_SHA_256" => Ok(Self::RsaAesKeyWrapSha256),
            other => Err(CryptoError::UnsupportedWrappingAlgorithm {
                algorithm: other.to_owned(),
            }),
        }
    }

    /// The AWS name.
    #[must_use]
    pub fn as_aws_name(self) -> &'static str {
        match self {
            Self::RsaesOaepSha1 => "RSAES_OAEP_SHA_1",
            Self::RsaesOaepSha256 => "RSAES_OAEP_SHA_256",
            Self::RsaAesKeyWrapSha1 => "RSA_AES_KEY_WRAP_SHA_1",
            Self::RsaAesKeyWrapSha256 => "RSA_AES_KEY_WRAP_SHA_256",
        }
    }

    fn oaep(self) -> &'static OaepAlgorithm {
        match self {
            Self::RsaesOaepSha1 | Self::RsaAesKeyWrapSha1 => &OAEP_SHA1_MGF1SHA1,
            Self::RsaesOaepSha256 | Self::RsaAesKeyWrapSha256 => &OAEP_SHA256_MGF1SHA256,
        }
    }

    fn is_rsa_aes(self) -> bool {
        matches!(self, Self::RsaAesKeyWrapSha1 | Self::RsaAesKeyWrapSha256)
    }
}

/// The RSA key pair of one `GetParametersForImport` response. The caller seals
/// [`Self::to_pkcs8_der`] under the root key, stores it with the import token for 24 hours,
/// and loads it back with [`Self::from_pkcs8_der`] for `ImportKeyMaterial`.
pub struct WrappingKeyPair {
    spec: WrappingKeySpec,
    private: PrivateDecryptingKey,
    oaep: OaepPrivateDecryptingKey,
}

impl WrappingKeyPair {
    /// A fresh RSA key pair (public exponent 65537) from aws-lc.
    ///
    /// # Errors
    /// [`CryptoError::Internal`] if key generation fails.
    pub fn generate(spec: WrappingKeySpec) -> Result<Self, CryptoError> {
        let private =
            PrivateDecryptingKey::generate(spec.key_size()).map_err(|_| CryptoError::Internal {
                operation: "RSA key generation",
            })?;
        Self::new(spec, private)
    }

    fn new(spec: WrappingKeySpec, private: PrivateDecryptingKey) -> Result<Self, CryptoError> {
        let oaep =
            OaepPrivateDecryptingKey::new(private.clone()).map_err(|_| CryptoError::Internal {
                operation: "RSA-OAEP key",
            })?;
        Ok(Self {
            spec,
            private,
            oaep,
        })
    }

    /// Loads a private key stored with [`Self::to_pkcs8_der`].
    ///
    /// # Errors
    /// [`CryptoError::InvalidWrappingKey`] unless `der` is a PKCS#8 RSA private key of 2048,
    /// 3072 or 4096 bits.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, CryptoError> {
        let private =
            PrivateDecryptingKey::from_pkcs8(der).map_err(|_| CryptoError::InvalidWrappingKey {
                reason: "not a PKCS#8 RSA private key",
            })?;
        let spec = WrappingKeySpec::from_bits(private.key_size_bits()).ok_or(
            CryptoError::InvalidWrappingKey {
                reason: "RSA key size is not 2048, 3072 or 4096 bits",
            },
        )?;
        Self::new(spec, private)
    }

    /// The private key as PKCS#8 (v1) DER, for the caller to seal and store. Secret.
    ///
    /// # Errors
    /// [`CryptoError::Internal`] if encoding fails.
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let der = self.private.as_der().map_err(|_| CryptoError::Internal {
            operation: "PKCS#8 encoding",
        })?;
        Ok(Zeroizing::new(der.as_ref().to_vec()))
    }

    /// The public key as DER `SubjectPublicKeyInfo`: the `PublicKey` blob of
    /// `GetParametersForImport` (what `openssl ... -keyform DER -pubin` reads).
    ///
    /// # Errors
    /// [`CryptoError::Internal`] if encoding fails.
    pub fn public_key_der(&self) -> Result<Vec<u8>, CryptoError> {
        let der = self
            .private
            .public_key()
            .as_der()
            .map_err(|_| CryptoError::Internal {
                operation: "SubjectPublicKeyInfo encoding",
            })?;
        Ok(der.as_ref().to_vec())
    }

    /// The key spec.
    #[must_use]
    pub fn spec(&self) -> WrappingKeySpec {
        self.spec
    }

    /// Unwraps `ImportKeyMaterial`'s `EncryptedKeyMaterial` into symmetric key material.
    ///
    /// # Errors
    /// - [`CryptoError::UnwrapFailed`] if it cannot be unwrapped (wrong wrapping key, wrong
    ///   algorithm, truncated or garbled), with no detail on which step failed;
    /// - [`CryptoError::InvalidKeyMaterial`] if it unwraps to anything but 32 bytes.
    pub fn unwrap_key_material(
        &self,
        algorithm: WrappingAlgorithm,
        encrypted: &[u8],
    ) -> Result<KeyMaterial, CryptoError> {
        let raw = self.unwrap_raw(algorithm, encrypted)?;
        KeyMaterial::from_bytes(&raw)
    }

    /// Unwraps to raw bytes of any length (for key types other than `SYMMETRIC_DEFAULT`,
    /// such as HMAC keys or asymmetric private keys, which have their own length rules).
    ///
    /// # Errors
    /// [`CryptoError::UnwrapFailed`] as in [`Self::unwrap_key_material`].
    pub fn unwrap_raw(
        &self,
        algorithm: WrappingAlgorithm,
        encrypted: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let k = self.oaep.key_size_bytes();
        if encrypted.len() > MAX_CIPHERTEXT_BLOB_LEN {
            return Err(CryptoError::UnwrapFailed);
        }
        if !algorithm.is_rsa_aes() {
            if encrypted.len() != k {
                return Err(CryptoError::UnwrapFailed);
            }
            return self.rsa_oaep_decrypt(algorithm.oaep(), encrypted);
        }
        // RSA-OAEP(ephemeral AES key) || AES-KWP(material)
        if encrypted.len() <= k {
            return Err(CryptoError::UnwrapFailed);
        }
        let (wrapped_aes_key, wrapped_material) = encrypted.split_at(k);
        let aes_key = self.rsa_oaep_decrypt(algorithm.oaep(), wrapped_aes_key)?;
        if aes_key.len() != RSA_AES_EPHEMERAL_KEY_LEN {
            return Err(CryptoError::UnwrapFailed);
        }
        let kek = AesKek::new(&AES_256, &aes_key).map_err(|_| CryptoError::UnwrapFailed)?;
        let mut out = Zeroizing::new(vec![0u8; wrapped_material.len()]);
        let len = kek
            .unwrap_with_padding(wrapped_material, &mut out[..])
            .map_err(|_| CryptoError::UnwrapFailed)?
            .len();
        out.truncate(len);
        Ok(out)
    }

    fn rsa_oaep_decrypt(
        &self,
        algorithm: &'static OaepAlgorithm,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let mut out = Zeroizing::new(vec![0u8; self.oaep.min_output_size()]);
        let len = self
            .oaep
            .decrypt(algorithm, ciphertext, &mut out[..], None)
            .map_err(|_| CryptoError::UnwrapFailed)?
            .len();
        out.truncate(len);
        Ok(out)
    }
}

impl fmt::Debug for WrappingKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WrappingKeyPair")
            .field("spec", &self.spec)
            .field("private", &"<redacted>")
            .finish()
    }
}

/// The client side of an import: wraps `material` under the public key from
/// `GetParametersForImport` exactly as AWS's OpenSSL recipes do. For tests and tools; the
/// server never needs it.
///
/// # Errors
/// - [`CryptoError::InvalidWrappingKey`] if `public_key_der` is not an RSA
///   `SubjectPublicKeyInfo`;
/// - [`CryptoError::OutOfRange`] if `material` is empty, or (for `RSAES_OAEP_*`) too long for
///   one RSA-OAEP block;
/// - [`CryptoError::Rng`], [`CryptoError::Internal`].
pub fn wrap_key_material(
    public_key_der: &[u8],
    algorithm: WrappingAlgorithm,
    material: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let public = PublicEncryptingKey::from_der(public_key_der)
        .ok()
        .and_then(|k| OaepPublicEncryptingKey::new(k).ok())
        .ok_or(CryptoError::InvalidWrappingKey {
            reason: "not an RSA SubjectPublicKeyInfo",
        })?;
    let oaep_encrypt = |plaintext: &[u8]| -> Result<Vec<u8>, CryptoError> {
        let max = public.max_plaintext_size(algorithm.oaep());
        if plaintext.is_empty() || plaintext.len() > max {
            return Err(CryptoError::OutOfRange {
                field: "KeyMaterial",
                min: 1,
                max,
                actual: plaintext.len(),
            });
        }
        let mut out = vec![0u8; public.ciphertext_size()];
        let len = public
            .encrypt(algorithm.oaep(), plaintext, &mut out, None)
            .map_err(|_| CryptoError::Internal {
                operation: "RSA-OAEP encrypt",
            })?
            .len();
        out.truncate(len);
        Ok(out)
    };
    if !algorithm.is_rsa_aes() {
        return oaep_encrypt(material);
    }
    if material.is_empty() {
        return Err(CryptoError::OutOfRange {
            field: "KeyMaterial",
            min: 1,
            max: MAX_CIPHERTEXT_BLOB_LEN,
            actual: 0,
        });
    }
    let mut aes_key = Zeroizing::new([0u8; RSA_AES_EPHEMERAL_KEY_LEN]);
    rand::fill(&mut aes_key[..]).map_err(|_| CryptoError::Rng)?;
    let mut out = oaep_encrypt(&aes_key[..])?;
    let kek = AesKek::new(&AES_256, &aes_key[..]).map_err(|_| CryptoError::Internal {
        operation: "AES key wrap key",
    })?;
    let mut wrapped = vec![0u8; material.len() + 15];
    let len = kek
        .wrap_with_padding(material, &mut wrapped)
        .map_err(|_| CryptoError::Internal {
            operation: "AES key wrap with padding",
        })?
        .len();
    out.extend_from_slice(&wrapped[..len]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for alg in WrappingAlgorithm::ALL {
            assert_eq!(WrappingAlgorithm::from_aws_name(alg.as_aws_name()), Ok(alg));
        }
        for spec in [
            WrappingKeySpec::Rsa2048,
            WrappingKeySpec::Rsa3072,
            WrappingKeySpec::Rsa4096,
        ] {
            assert_eq!(WrappingKeySpec::from_aws_name(spec.as_aws_name()), Ok(spec));
            assert_eq!(WrappingKeySpec::from_bits(spec.bits()), Some(spec));
        }
    }

    #[test]
    fn refused_names() {
        for name in ["RSAES_PKCS1_V1_5", "SM2PKE", "rsaes_oaep_sha_256", ""] {
            assert_eq!(
                WrappingAlgorithm::from_aws_name(name),
                Err(CryptoError::UnsupportedWrappingAlgorithm {
                    algorithm: name.to_owned()
                })
            );
        }
        for name in ["SM2", "RSA_1024", "RSA_8192"] {
            assert!(matches!(
                WrappingKeySpec::from_aws_name(name),
                Err(CryptoError::UnsupportedWrappingKeySpec { .. })
            ));
        }
    }

    #[test]
    fn debug_is_redacted() {
        let pair = WrappingKeyPair::generate(WrappingKeySpec::Rsa2048).unwrap();
        let s = format!("{pair:?}");
        assert_eq!(
            s,
            r#"WrappingKeyPair { spec: Rsa2048, private: "<redacted>" }"#
        );
    }
}
