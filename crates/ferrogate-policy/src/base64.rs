//! A small standard-alphabet base64 decoder for `BinaryEquals`.
//!
//! "It compares the value of the specified key byte for byte against a base-64 encoded
//! representation of the binary value in the policy" (IAM User Guide, *Condition operators*,
//! Binary section). Both the policy value and the request value arrive base64-encoded; comparing
//! decoded bytes makes `QQ==` and `QQ` equal. Padding is optional; any other character is an error.

/// Decodes RFC 4648 base64 (standard alphabet), with or without `=` padding.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let body = trim_padding(bytes)?;
    if body.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    for chunk in body.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= u32::from(sextet(c)?) << (18 - 6 * i);
        }
        let [_, b0, b1, b2] = acc.to_be_bytes();
        out.push(b0);
        if chunk.len() > 2 {
            out.push(b1);
        }
        if chunk.len() > 3 {
            out.push(b2);
        }
    }
    Some(out)
}

/// Strips up to two `=` from the end; padding must make the total a multiple of four.
fn trim_padding(bytes: &[u8]) -> Option<&[u8]> {
    let pad = bytes.iter().rev().take_while(|&&b| b == b'=').count();
    if pad == 0 {
        return Some(bytes);
    }
    (pad <= 2 && bytes.len() % 4 == 0).then(|| &bytes[..bytes.len() - pad])
}

fn sextet(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("Zg==", "f"),
            ("Zm8=", "fo"),
            ("Zm9v", "foo"),
            ("Zm9vYg==", "foob"),
            ("Zm9vYmE=", "fooba"),
            ("Zm9vYmFy", "foobar"),
        ];
        for (enc, dec) in cases {
            assert_eq!(decode(enc).unwrap(), dec.as_bytes(), "{enc}");
        }
    }

    #[test]
    fn padding_is_optional() {
        assert_eq!(decode("Zg").unwrap(), b"f");
        assert_eq!(decode("Zm8").unwrap(), b"fo");
        // The IAM User Guide's example value.
        assert_eq!(
            decode("QmluYXJ5VmFsdWVJbkJhc2U2NA==").unwrap(),
            b"BinaryValueInBase64"
        );
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["Z", "Zm9v!", "Zg===", "Z===", "Zm 9v", "Zg=a", "=Zg="] {
            assert!(decode(bad).is_none(), "{bad}");
        }
    }
}
