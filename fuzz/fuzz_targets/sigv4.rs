//! SigV4 input parsing and verification (`ferrogate_wire::sigv4`): the `Authorization`
//! header parser, the canonicalization of path, query and headers, the date parser, and
//! `verify` end to end with a fixed secret.
//!
//! Input: lines. The first is the `Authorization` value, the second the path, the third the
//! query; then `name: value` header lines up to an empty line; the rest is the body.
#![no_main]

use ferrogate_types::Timestamp;
use ferrogate_wire::sigv4::{
    self, canonical, CredentialLookup, LookupError, RequestParts, SecretKey,
};
use libfuzzer_sys::fuzz_target;

struct Fixed;

impl CredentialLookup for Fixed {
    type Identity = ();
    fn lookup(
        &self,
        _: &str,
        _: Option<&str>,
        _: Timestamp,
    ) -> Result<(SecretKey, ()), LookupError> {
        Ok((
            SecretKey::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into()),
            (),
        ))
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let authz = lines.next().unwrap_or_default();
    let path = lines.next().unwrap_or_default();
    let query = lines.next().unwrap_or_default();
    let mut headers = vec![("Authorization", authz)];
    for l in lines.by_ref() {
        let Some((n, v)) = l.split_once(':') else {
            break;
        };
        headers.push((n, v));
    }
    let body: Vec<&str> = lines.collect();
    let body = body.join("\n");

    let _ = sigv4::parse_authorization(authz);
    let _ = canonical::canonical_uri(path);
    let _ = canonical::canonical_query(query);
    let _ = canonical::percent_decode(query);
    let _ = canonical::uri_encode(path, true);
    let names: Vec<&str> = headers.iter().map(|(n, _)| *n).collect();
    let _ = canonical::canonical_headers(headers.iter().copied(), &names);
    for (_, v) in &headers {
        let _ = canonical::normalize_header_value(v);
        let _ = Timestamp::parse_amz_date(v.trim());
        let _ = Timestamp::parse_iso8601(v.trim());
        let _ = sigv4::is_region_name(v);
    }
    // `now` = the request's own date when it parses, so the skew check passes and verification
    // reaches the signature.
    let now = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("x-amz-date"))
        .and_then(|(_, v)| Timestamp::parse_amz_date(v.trim()).ok())
        .unwrap_or(Timestamp::from_millis(1_440_938_160_000));
    let req = RequestParts {
        method: "POST",
        path,
        query,
        headers: &headers,
        body: body.as_bytes(),
    };
    let _ = sigv4::verify(&req, "kms", &Fixed, now);
});
