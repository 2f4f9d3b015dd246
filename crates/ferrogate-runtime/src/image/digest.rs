//! sha256 digests and a hashing reader.

use std::io::{self, Read};

use aws_lc_rs::digest::{Context, SHA256};

/// A `sha256:<64 lowercase hex>` digest.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct Digest(String);

impl Digest {
    /// Parses `sha256:<hex>`; other algorithms are refused.
    pub fn parse(s: &str) -> Result<Self, String> {
        let hex = s
            .strip_prefix("sha256:")
            .ok_or_else(|| format!("unsupported digest {s:?} (only sha256)"))?;
        if hex.len() != 64
            || !hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(format!("malformed sha256 digest {s:?}"));
        }
        Ok(Digest(s.to_owned()))
    }
    /// From 64 hex characters.
    pub fn from_hex(hex: &str) -> Result<Self, String> {
        Self::parse(&format!("sha256:{hex}"))
    }
    /// The hex part (safe as a file name).
    pub fn hex(&self) -> &str {
        &self.0[7..]
    }
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        let mut c = Context::new(&SHA256);
        c.update(bytes);
        Self::from_context(c)
    }
    fn from_context(c: Context) -> Self {
        let d = c.finish();
        let mut s = String::with_capacity(71);
        s.push_str("sha256:");
        for b in d.as_ref() {
            s.push_str(&format!("{b:02x}"));
        }
        Digest(s)
    }
}

impl TryFrom<String> for Digest {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Digest::parse(&s)
    }
}
impl From<Digest> for String {
    fn from(d: Digest) -> String {
        d.0
    }
}
impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Hashes everything read through it.
pub struct HashingReader<R> {
    inner: R,
    ctx: Context,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            ctx: Context::new(&SHA256),
            count: 0,
        }
    }
    /// Reads to the end (so the digest covers all of it) and returns the
    /// digest and the byte count.
    pub fn finish(mut self) -> io::Result<(Digest, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok((Digest::from_context(self.ctx), self.count))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.ctx.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector() {
        assert_eq!(
            Digest::of(b"abc").to_string(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let h = HashingReader::new(&b"abc"[..]);
        assert_eq!(h.finish().unwrap().0, Digest::of(b"abc"));
    }

    #[test]
    fn parse_rejects_bad() {
        assert!(Digest::parse("sha256:ABC").is_err());
        assert!(Digest::parse(&format!("sha512:{}", "a".repeat(64))).is_err());
        assert!(Digest::parse(&format!("sha256:{}", "A".repeat(64))).is_err());
        assert!(Digest::parse(&format!("sha256:{}", "a".repeat(64))).is_ok());
    }
}
