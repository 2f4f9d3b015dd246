//! SigV4 canonicalization as pure functions, checked against AWS's published test suite
//! (`tests/fixtures/sigv4`). Reference:
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html>.

use aws_lc_rs::{digest, hmac};

use super::secret::SecretKey;

/// AWS's message when a computed signature differs from the one presented.
pub const MISMATCH_MESSAGE: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

/// The only algorithm Ferrogate accepts. SigV4a (`AWS4-ECDSA-P256-SHA256`) is refused.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Percent-encodes everything except the unreserved characters `A-Z a-z 0-9 - _ . ~`
/// (and `/` when `keep_slash`), with uppercase hex, as SigV4 requires.
pub fn uri_encode(input: &str, keep_slash: bool) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(input.len());
    for &b in input.as_bytes() {
        let unreserved = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~');
        if unreserved || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 0xf)] as char);
        }
    }
    out
}

/// Decodes `%XX` escapes; `+` stays `+`. Invalid escapes are kept literally, as AWS does.
pub fn percent_decode(input: &str) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The canonical URI of a non-S3 request.
///
/// Every service except S3 normalizes the path (removes `.`/`..` segments and empty
/// segments) and URI-encodes it *again*, on top of the encoding the client already applied
/// for the request line. So `/a%20b` on the wire becomes `/a%2520b` here; with the test
/// suite's unencoded `.req` paths this yields its single-encoded `.creq` form. See
/// garage `src/api/common/signature/payload.rs` and botocore `auth.py` (`_normalize_url_path`).
pub fn canonical_uri(raw_path: &str) -> String {
    let path = if raw_path.is_empty() { "/" } else { raw_path };
    let mut segments: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut normalized = String::with_capacity(path.len());
    for seg in &segments {
        normalized.push('/');
        normalized.push_str(seg);
    }
    if normalized.is_empty() || (path.ends_with('/') && !segments.is_empty()) {
        normalized.push('/');
    }
    uri_encode(&normalized, true)
}

/// The canonical query string: each name and value decoded, re-encoded with
/// [`uri_encode`], sorted by name then value, joined with `&`.
pub fn canonical_query(raw_query: &str) -> String {
    let mut pairs: Vec<(String, String)> = raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                uri_encode(&percent_decode(k), false),
                uri_encode(&percent_decode(v), false),
            )
        })
        .collect();
    pairs.sort();
    let mut out = String::with_capacity(raw_query.len() + 8);
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// Trims a header value and collapses runs of spaces (and folded line breaks) to one space.
pub fn normalize_header_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for word in v.split([' ', '\t', '\n', '\r']).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// The canonical headers block (each line `name:value\n`) for the signed header names, in
/// the order given (which must be sorted and lowercase). Values of repeated headers are
/// joined with `,` in request order. `None` if a signed header is absent from the request.
pub fn canonical_headers<'a, I>(headers: I, signed: &[&str]) -> Option<String>
where
    I: Iterator<Item = (&'a str, &'a str)> + Clone,
{
    let mut out = String::new();
    for name in signed {
        let mut values = headers
            .clone()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .peekable();
        values.peek()?;
        out.push_str(name);
        out.push(':');
        for (i, (_, v)) in values.enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&normalize_header_value(v));
        }
        out.push('\n');
    }
    Some(out)
}

/// The canonical request.
pub fn canonical_request(
    method: &str,
    canonical_uri: &str,
    canonical_query: &str,
    canonical_headers: &str,
    signed_headers: &str,
    payload_hash: &str,
) -> String {
    format!("{method}\n{canonical_uri}\n{canonical_query}\n{canonical_headers}\n{signed_headers}\n{payload_hash}")
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(digest::digest(&digest::SHA256, data).as_ref())
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 0xf)] as char);
    }
    s
}

/// The string to sign.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    )
}

/// The derived signing key: HMAC chain over date, region, service and `aws4_request`.
pub fn signing_key(secret: &SecretKey, day: &str, region: &str, service: &str) -> hmac::Key {
    let mut k = Vec::with_capacity(4 + secret.expose().len());
    k.extend_from_slice(b"AWS4");
    k.extend_from_slice(secret.expose().as_bytes());
    let k_date = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &k), day.as_bytes());
    zeroize::Zeroize::zeroize(&mut k);
    let k_region = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, k_date.as_ref()),
        region.as_bytes(),
    );
    let k_service = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, k_region.as_ref()),
        service.as_bytes(),
    );
    let k_signing = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, k_service.as_ref()),
        b"aws4_request",
    );
    hmac::Key::new(hmac::HMAC_SHA256, k_signing.as_ref())
}

/// Derived signing keys beyond this many are dropped wholesale (they are re-derived on use).
const MAX_SIGNING_KEYS: usize = 4096;

/// [`signing_key`], remembered: the four HMACs of the derivation were a tenth of a small
/// request's SigV4 cost, and a client signs with the same key all day. Entries are found by
/// a SHA-256 of the inputs (so the map holds no secret, only the derived keys, which are
/// as sensitive as what each request derives anyway) and the derivation is deterministic,
/// so a cached key is exactly what [`signing_key`] would return: a changed or revoked secret
/// simply no longer finds its entry (credential validity is the lookup's business, checked
/// on every request before this).
pub fn signing_key_cached(secret: &SecretKey, day: &str, region: &str, service: &str) -> hmac::Key {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static KEYS: OnceLock<Mutex<HashMap<[u8; 32], hmac::Key>>> = OnceLock::new();
    let mut ctx = digest::Context::new(&digest::SHA256);
    for part in [secret.expose(), day, region, service] {
        ctx.update(&u64::try_from(part.len()).unwrap_or(u64::MAX).to_be_bytes());
        ctx.update(part.as_bytes());
    }
    let mut id = [0u8; 32];
    id.copy_from_slice(ctx.finish().as_ref());
    let keys = KEYS.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(k) = keys.lock().ok().and_then(|m| m.get(&id).cloned()) {
        return k;
    }
    let key = signing_key(secret, day, region, service);
    if let Ok(mut m) = keys.lock() {
        if m.len() >= MAX_SIGNING_KEYS {
            m.clear();
        }
        m.insert(id, key.clone());
    }
    key
}

/// The signature of a string to sign, as raw bytes.
pub fn signature(key: &hmac::Key, string_to_sign: &str) -> [u8; 32] {
    let tag = hmac::sign(key, string_to_sign.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cached_signing_key_is_the_derived_one_for_exactly_its_inputs() {
        let a = SecretKey::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into());
        let b = SecretKey::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEZ".into());
        for _ in 0..2 {
            for (secret, day, region) in [
                (&a, "20150830", "us-east-1"),
                (&b, "20150830", "us-east-1"),
                (&a, "20150831", "us-east-1"),
                (&a, "20150830", "eu-west-1"),
            ] {
                let want = signature(&signing_key(secret, day, region, "iam"), "x");
                let got = signature(&signing_key_cached(secret, day, region, "iam"), "x");
                assert_eq!(got, want);
            }
        }
        let sa = signature(&signing_key_cached(&a, "20150830", "us-east-1", "iam"), "x");
        let sb = signature(&signing_key_cached(&b, "20150830", "us-east-1", "iam"), "x");
        assert_ne!(sa, sb);
    }

    #[test]
    fn encodes_like_aws() {
        assert_eq!(uri_encode("a b/c~d", true), "a%20b/c~d");
        assert_eq!(uri_encode("a b/c", false), "a%20b%2Fc");
        assert_eq!(uri_encode("ሴ", false), "%E1%88%B4");
        assert_eq!(uri_encode("+*=", false), "%2B%2A%3D");
    }

    #[test]
    fn decodes_escapes_and_keeps_bad_ones() {
        assert_eq!(percent_decode("a%20b"), "a b");
        assert_eq!(percent_decode("a+b"), "a+b");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%41%42"), "AB");
    }

    #[test]
    fn uri_is_normalized_then_encoded_again() {
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/"), "/");
        assert_eq!(canonical_uri("//example//"), "/example/");
        assert_eq!(canonical_uri("/example1/example2/../.."), "/");
        assert_eq!(canonical_uri("/./example"), "/example");
        assert_eq!(canonical_uri("/a%20b"), "/a%2520b");
    }

    #[test]
    fn query_is_sorted_and_reencoded() {
        assert_eq!(canonical_query("b=2&a=1&a=0"), "a=0&a=1&b=2");
        assert_eq!(canonical_query("Param1=value%201"), "Param1=value%201");
        assert_eq!(canonical_query("k"), "k=");
        assert_eq!(canonical_query(""), "");
    }

    #[test]
    fn header_values_are_trimmed_and_joined() {
        let h = [
            ("My-Header1", "  a   b  "),
            ("host", "x"),
            ("my-header1", "c"),
        ];
        let got = canonical_headers(h.iter().copied(), &["host", "my-header1"]);
        assert_eq!(got.as_deref(), Some("host:x\nmy-header1:a b,c\n"));
        assert_eq!(canonical_headers(h.iter().copied(), &["absent"]), None);
    }
}
