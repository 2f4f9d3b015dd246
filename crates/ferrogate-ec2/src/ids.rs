//! Resource ids as EC2 shapes them: a prefix, a dash and 17 lowercase hex digits
//! (`vpc-0a1b2c3d4e5f60718`).

use crate::Ec2Error;

/// A new id with `prefix` (`vpc`, `subnet`, `sg`, `sgr`, `eni`, …).
pub fn new_id(prefix: &str) -> Result<String, Ec2Error> {
    let mut b = [0u8; 9];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| Ec2Error::RandomnessUnavailable)?;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!("{prefix}-{}", &hex[..17]))
}

/// Whether `id` has the shape of an id with `prefix` (8 or 17 hex digits, as EC2's old and
/// new ids).
pub fn is_id(prefix: &str, id: &str) -> bool {
    id.strip_prefix(prefix)
        .and_then(|r| r.strip_prefix('-'))
        .is_some_and(|h| {
            (h.len() == 8 || h.len() == 17)
                && h.bytes()
                    .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_ec2s_shape() {
        let a = new_id("vpc").unwrap();
        assert_eq!(a.len(), 4 + 17);
        assert!(is_id("vpc", &a), "{a}");
        assert_ne!(a, new_id("vpc").unwrap());
        assert!(is_id("sg", "sg-12345678"));
        assert!(!is_id("sg", "sg-1234567"));
        assert!(!is_id("sg", "sgr-12345678"));
        assert!(!is_id("sg", "sg-1234567G"));
    }
}
