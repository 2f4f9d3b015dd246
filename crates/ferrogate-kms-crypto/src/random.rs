//! Data keys (`GenerateDataKey*`) and `GenerateRandom`: bytes from the aws-lc CSPRNG.

use aws_lc_rs::rand;
use zeroize::Zeroizing;

use crate::CryptoError;

/// Smallest `NumberOfBytes` of `GenerateDataKey*` and `GenerateRandom` (botocore
/// `NumberOfBytesType`).
pub const MIN_NUMBER_OF_BYTES: usize = 1;
/// Largest `NumberOfBytes` of `GenerateDataKey*` and `GenerateRandom`.
pub const MAX_NUMBER_OF_BYTES: usize = 1024;

/// `KeySpec` of `GenerateDataKey*` (botocore `DataKeySpec`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataKeySpec {
    /// `AES_128`: 16 bytes.
    Aes128,
    /// `AES_256`: 32 bytes.
    Aes256,
}

impl DataKeySpec {
    /// Parses the AWS name (`AES_128`, `AES_256`).
    #[must_use]
    pub fn from_aws_name(name: &str) -> Option<Self> {
        match name {
            "AES_128" => Some(Self::Aes128),
            "AES_256" => Some(Self::Aes256),
            _ => None,
        }
    }

    /// The AWS name.
    #[must_use]
    pub fn as_aws_name(self) -> &'static str {
        match self {
            Self::Aes128 => "AES_128",
            Self::Aes256 => "AES_256",
        }
    }

    /// Key length in bytes.
    #[must_use]
    pub fn len_bytes(self) -> usize {
        match self {
            Self::Aes128 => 16,
            Self::Aes256 => 32,
        }
    }
}

/// How long a data key should be: AWS takes exactly one of `NumberOfBytes` or `KeySpec`
/// (the caller rejects both or neither with AWS's message).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataKeyLength {
    /// `NumberOfBytes`: 1..=1024.
    NumberOfBytes(usize),
    /// `KeySpec`.
    KeySpec(DataKeySpec),
}

impl DataKeyLength {
    /// Length in bytes, checked against AWS's range.
    ///
    /// # Errors
    /// [`CryptoError::OutOfRange`] (field `NumberOfBytes`) outside 1..=1024.
    pub fn len_bytes(self) -> Result<usize, CryptoError> {
        match self {
            Self::KeySpec(spec) => Ok(spec.len_bytes()),
            Self::NumberOfBytes(n) => check_number_of_bytes(n),
        }
    }
}

fn check_number_of_bytes(n: usize) -> Result<usize, CryptoError> {
    if (MIN_NUMBER_OF_BYTES..=MAX_NUMBER_OF_BYTES).contains(&n) {
        Ok(n)
    } else {
        Err(CryptoError::OutOfRange {
            field: "NumberOfBytes",
            min: MIN_NUMBER_OF_BYTES,
            max: MAX_NUMBER_OF_BYTES,
            actual: n,
        })
    }
}

fn random_bytes(n: usize) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let mut out = Zeroizing::new(vec![0u8; n]);
    rand::fill(&mut out[..]).map_err(|_| CryptoError::Rng)?;
    Ok(out)
}

/// A fresh plaintext data key. The caller encrypts it with [`crate::encrypt`] for the
/// `CiphertextBlob` and returns (or, for `WithoutPlaintext`, drops) the plaintext.
///
/// # Errors
/// [`CryptoError::OutOfRange`] for a bad `NumberOfBytes`; [`CryptoError::Rng`].
pub fn generate_data_key(length: DataKeyLength) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    random_bytes(length.len_bytes()?)
}

/// `GenerateRandom`: `number_of_bytes` (1..=1024) random bytes.
///
/// # Errors
/// [`CryptoError::OutOfRange`] outside 1..=1024; [`CryptoError::Rng`].
pub fn generate_random(number_of_bytes: usize) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    random_bytes(check_number_of_bytes(number_of_bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths() {
        assert_eq!(
            generate_data_key(DataKeyLength::KeySpec(DataKeySpec::Aes256))
                .unwrap()
                .len(),
            32
        );
        assert_eq!(
            generate_data_key(DataKeyLength::KeySpec(DataKeySpec::Aes128))
                .unwrap()
                .len(),
            16
        );
        for n in [1, 64, 1024] {
            assert_eq!(
                generate_data_key(DataKeyLength::NumberOfBytes(n))
                    .unwrap()
                    .len(),
                n
            );
            assert_eq!(generate_random(n).unwrap().len(), n);
        }
    }

    #[test]
    fn out_of_range() {
        for n in [0, 1025, usize::MAX] {
            let want = Err(CryptoError::OutOfRange {
                field: "NumberOfBytes",
                min: 1,
                max: 1024,
                actual: n,
            });
            assert_eq!(generate_data_key(DataKeyLength::NumberOfBytes(n)), want);
            assert_eq!(generate_random(n), want);
        }
    }

    #[test]
    fn random_output_differs() {
        let a = generate_random(32).unwrap();
        let b = generate_random(32).unwrap();
        assert_ne!(a, b);
        assert!(a.iter().any(|&x| x != 0));
    }

    #[test]
    fn spec_names() {
        for spec in [DataKeySpec::Aes128, DataKeySpec::Aes256] {
            assert_eq!(DataKeySpec::from_aws_name(spec.as_aws_name()), Some(spec));
        }
        assert_eq!(DataKeySpec::from_aws_name("aes_256"), None);
    }
}
