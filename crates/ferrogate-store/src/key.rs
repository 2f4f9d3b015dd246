//! Order-preserving composite keys.
//!
//! Each string component is written with `0x00` escaped as `0x00 0xff` and terminated by
//! `0x00 0x00`, so that keys compare component by component: `("a", "b") < ("a0", …)` and
//! a prefix of components selects exactly the keys below it.

/// A composite key under construction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Key(Vec<u8>);

impl Key {
    /// An empty key.
    pub fn new() -> Self {
        Self(Vec::with_capacity(64))
    }

    /// Appends a string component.
    pub fn str(mut self, s: &str) -> Self {
        let bytes = s.as_bytes();
        if bytes.contains(&0) {
            for &b in bytes {
                self.0.push(b);
                if b == 0 {
                    self.0.push(0xff);
                }
            }
        } else {
            self.0.extend_from_slice(bytes);
        }
        self.0.extend_from_slice(&[0, 0]);
        self
    }

    /// Appends a big-endian integer (orders numerically for non-negative values; negative
    /// values are offset so they sort before positive ones).
    pub fn i64(mut self, v: i64) -> Self {
        self.0
            .extend_from_slice(&(u64::from_be_bytes(v.to_be_bytes()) ^ (1 << 63)).to_be_bytes());
        self
    }

    /// Appends raw bytes (last component only: they are not escaped).
    pub fn raw(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }

    /// The encoded bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    /// The encoded bytes, borrowed.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_by_component() {
        let k = |a: &str, b: &str| Key::new().str(a).str(b).into_bytes();
        assert!(k("a", "z") < k("a0", ""));
        assert!(k("a", "b") < k("a", "c"));
        assert!(k("a\0", "") > k("a", "zzz"));
        assert!(k("", "x") < k("a", ""));
        let prefix = Key::new().str("a").into_bytes();
        assert!(k("a", "anything").starts_with(&prefix));
        assert!(!k("ab", "x").starts_with(&prefix));
    }

    #[test]
    fn integers_order_numerically() {
        let k = |v: i64| Key::new().i64(v).into_bytes();
        assert!(k(-5) < k(0));
        assert!(k(0) < k(1));
        assert!(k(255) < k(256));
        assert!(k(i64::MIN) < k(i64::MAX));
    }
}
