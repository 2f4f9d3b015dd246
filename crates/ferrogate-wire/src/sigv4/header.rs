//! The `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` header.

use super::canonical::ALGORITHM;
use super::secret::Signature;
use crate::error::AuthError;

/// A parsed `Authorization` header, borrowing from it.
#[derive(Debug)]
pub struct AuthorizationV4<'a> {
    /// The access key id of the credential.
    pub access_key_id: &'a str,
    /// The scope date, `YYYYMMDD`.
    pub day: &'a str,
    /// The scope region.
    pub region: &'a str,
    /// The scope service (signing name).
    pub service: &'a str,
    /// Signed header names, lowercase and sorted as the client sent them.
    pub signed_headers: Vec<&'a str>,
    /// `SignedHeaders` exactly as sent, for the canonical request.
    pub signed_headers_raw: &'a str,
    /// The presented signature.
    pub signature: Signature,
}

pub(super) fn missing_date_message(authz: &str) -> String {
    format!(
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization={authz}"
    )
}

/// Parses the header. Errors are `IncompleteSignatureException`s with AWS's wording.
pub fn parse_authorization(value: &str) -> Result<AuthorizationV4<'_>, AuthError> {
    let incomplete =
        |what: &str| AuthError::IncompleteSignature(format!("{what} Authorization={value}"));
    let rest = match value.trim_start().split_once(' ') {
        Some((alg, rest)) if alg == ALGORITHM => rest,
        _ => {
            return Err(AuthError::IncompleteSignature(format!(
                "Unsupported AWS 'algorithm': '{}'. Authorization={value}",
                value.split_whitespace().next().unwrap_or("")
            )))
        }
    };
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').ok_or_else(|| {
            incomplete(&format!(
                "'{part}' not a valid key=value pair (missing equal-sign) in Authorization header:"
            ))
        })?;
        match k {
            "Credential" => credential = Some(v),
            "SignedHeaders" => signed = Some(v),
            "Signature" => signature = Some(v),
            _ => {}
        }
    }
    let mut missing = Vec::new();
    if credential.is_none() {
        missing.push("Authorization header requires 'Credential' parameter.");
    }
    if signature.is_none() {
        missing.push("Authorization header requires 'Signature' parameter.");
    }
    if signed.is_none() {
        missing.push("Authorization header requires 'SignedHeaders' parameter.");
    }
    let (Some(credential), Some(signed), Some(signature)) = (credential, signed, signature) else {
        return Err(incomplete(&missing.join(" ")));
    };
    let fields: Vec<&str> = credential.split('/').collect();
    let [akid, day, region, service, terminator] = fields.as_slice() else {
        return Err(AuthError::IncompleteSignature(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{credential}'"
        )));
    };
    if *terminator != "aws4_request" {
        return Err(AuthError::SignatureMismatch(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'. "
        )));
    }
    if akid.is_empty()
        || day.len() != 8
        || !day.bytes().all(|b| b.is_ascii_digit())
        || region.is_empty()
        || service.is_empty()
    {
        return Err(incomplete(
            "Credential should be scoped to a valid region and service.",
        ));
    }
    let signature = Signature::from_hex(signature)
        .ok_or_else(|| AuthError::SignatureMismatch(super::canonical::MISMATCH_MESSAGE.into()))?;
    let signed_headers: Vec<&str> = signed.split(';').collect();
    let well_formed = signed_headers
        .iter()
        .all(|h| !h.is_empty() && !h.bytes().any(|b| b.is_ascii_uppercase()))
        && signed_headers.windows(2).all(|w| w[0] < w[1]);
    if !well_formed {
        return Err(AuthError::SignatureMismatch(
            super::canonical::MISMATCH_MESSAGE.into(),
        ));
    }
    Ok(AuthorizationV4 {
        access_key_id: akid,
        day,
        region,
        service,
        signed_headers,
        signed_headers_raw: signed,
        signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIG: &str = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";

    #[test]
    fn parses_a_well_formed_header() {
        let h = format!("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature={SIG}");
        let a = parse_authorization(&h).unwrap();
        assert_eq!(
            (a.access_key_id, a.day, a.region, a.service),
            ("AKIDEXAMPLE", "20150830", "us-east-1", "service")
        );
        assert_eq!(a.signed_headers, vec!["host", "x-amz-date"]);
        assert_eq!(a.signed_headers_raw, "host;x-amz-date");
    }

    #[test]
    fn reports_every_missing_parameter() {
        let err = parse_authorization("AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request")
            .unwrap_err();
        let AuthError::IncompleteSignature(m) = err else {
            panic!("{err:?}")
        };
        assert!(m.contains("requires 'Signature' parameter."), "{m}");
        assert!(m.contains("requires 'SignedHeaders' parameter."), "{m}");
        assert!(!m.contains("'Credential'"), "{m}");
    }

    #[test]
    fn refuses_other_algorithms_and_bad_scopes() {
        for h in [
            "AWS AKID:sig".to_string(),
            format!("AWS4-ECDSA-P256-SHA256 Credential=A/20150830/s/aws4_request, SignedHeaders=host, Signature={SIG}"),
            format!("AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws5_request, SignedHeaders=host, Signature={SIG}"),
            format!("AWS4-HMAC-SHA256 Credential=A/2015083/r/s/aws4_request, SignedHeaders=host, Signature={SIG}"),
            format!("AWS4-HMAC-SHA256 Credential=A/20150830/r/aws4_request, SignedHeaders=host, Signature={SIG}"),
            "AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request, SignedHeaders=host, Signature=xyz".to_string(),
            format!("AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request, SignedHeaders=x-amz-date;host, Signature={SIG}"),
            format!("AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request, SignedHeaders=Host, Signature={SIG}"),
            "AWS4-HMAC-SHA256 garbage".to_string(),
            String::new(),
        ] {
            assert!(parse_authorization(&h).is_err(), "{h}");
        }
    }
}
