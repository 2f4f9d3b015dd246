//! Identifier and secret generation, in IAM's formats: unique ids are a four-letter
//! prefix and 17 characters of `[A-Z2-7]`; access key ids `AKIA` (long-term) or `ASIA`
//! (temporary) and 16 such characters; secrets 40 characters of base64.

use base64::Engine as _;
use zeroize::Zeroizing;

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// `n` random characters of `[A-Z2-7]`; `None` when the CSPRNG fails (an unfilled buffer
/// would give every user, role and key the same id).
fn base32(n: usize) -> Option<String> {
    let mut b = [0u8; 32];
    aws_lc_rs::rand::fill(&mut b).ok()?;
    Some(
        b.iter()
            .take(n)
            .map(|b| BASE32[usize::from(b & 31)] as char)
            .collect(),
    )
}

/// `AIDA…` (user), `AROA…` (role), `ANPA…` (managed policy), `AGPA…` (group).
pub fn unique_id(prefix: &str) -> Option<String> {
    Some(format!("{prefix}{}", base32(17)?))
}

/// A long-term access key id, `AKIA` + 16.
pub fn access_key_id() -> Option<String> {
    Some(format!("AKIA{}", base32(16)?))
}

/// A temporary access key id, `ASIA` + 16.
pub fn temporary_access_key_id() -> Option<String> {
    Some(format!("ASIA{}", base32(16)?))
}

/// A 40-character secret access key from 30 bytes of CSPRNG output.
pub fn secret_access_key() -> Option<Zeroizing<String>> {
    let mut b = Zeroizing::new([0u8; 30]);
    aws_lc_rs::rand::fill(b.as_mut()).ok()?;
    Some(Zeroizing::new(
        base64::engine::general_purpose::STANDARD.encode(b.as_ref()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let u = unique_id("AIDA").unwrap();
        assert_eq!(u.len(), 21);
        assert!(u[4..].bytes().all(|b| BASE32.contains(&b)));
        let k = access_key_id().unwrap();
        assert_eq!(k.len(), 20);
        assert!(k.starts_with("AKIA"));
        assert!(temporary_access_key_id().unwrap().starts_with("ASIA"));
        let s = secret_access_key().unwrap();
        assert_eq!(s.len(), 40);
        assert_ne!(*s, *secret_access_key().unwrap());
    }
}
