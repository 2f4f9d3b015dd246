//! AWS's published SigV4 test suite, asserted literally: canonical request, string to sign,
//! signature, and then the whole `verify` path on the signed request (see
//! `tests/fixtures/sigv4/README.md` for sources and per-case notes).

use std::fs;
use std::path::{Path, PathBuf};

use ferrogate_types::Timestamp;
use ferrogate_wire::sigv4::{
    canonical, verify, CredentialLookup, LookupError, RequestParts, SecretKey,
};
use ferrogate_wire::AuthError;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

struct Fixed;

impl CredentialLookup for Fixed {
    type Identity = ();
    fn lookup(
        &self,
        akid: &str,
        _token: Option<&str>,
        _now: Timestamp,
    ) -> Result<(SecretKey, ()), LookupError> {
        if akid == "AKIDEXAMPLE" {
            Ok((SecretKey::new(SECRET.into()), ()))
        } else {
            Err(LookupError::UnknownAccessKey)
        }
    }
}

struct Req {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Parses a classic `.req`: LF line endings, folded header lines, body after a blank line.
fn parse_req(text: &str) -> Req {
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut lines = head.lines();
    let request_line = lines.next().unwrap();
    let method = request_line.split(' ').next().unwrap().to_owned();
    let target = request_line[method.len() + 1..request_line.rfind(" HTTP/").unwrap()].to_owned();
    let (path, query) = target
        .split_once('?')
        .map(|(p, q)| (p.to_owned(), q.to_owned()))
        .unwrap_or((target, String::new()));
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with(' ') || line.starts_with('\t') {
            let last = headers.last_mut().unwrap();
            last.1.push(' ');
            last.1.push_str(line.trim());
        } else if let Some((n, v)) = line.split_once(':') {
            headers.push((n.to_owned(), v.to_owned()));
        }
    }
    Req {
        method,
        path,
        query,
        headers,
        body: body.as_bytes().to_vec(),
    }
}

fn cases(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() && p.file_name().unwrap() != "aws-signing-test-suite" {
            if fs::read_dir(&p)
                .unwrap()
                .any(|e| e.unwrap().path().extension().is_some_and(|x| x == "req"))
            {
                out.push(p.clone());
            }
            cases(&p, out);
        }
    }
}

fn read(dir: &Path, ext: &str) -> String {
    let name = dir.file_name().unwrap().to_str().unwrap();
    fs::read_to_string(dir.join(format!("{name}.{ext}"))).unwrap()
}

fn fixtures() -> PathBuf {
    Path::new(
        &std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
    )
    .join("tests/fixtures/sigv4")
}

fn now() -> Timestamp {
    Timestamp::parse_amz_date("20150830T123600Z").unwrap()
}

#[test]
fn classic_suite_canonical_request_string_to_sign_and_signature() {
    let mut dirs = Vec::new();
    cases(&fixtures(), &mut dirs);
    dirs.sort();
    assert!(
        dirs.len() >= 34,
        "expected the classic suite, found {} cases",
        dirs.len()
    );
    for dir in &dirs {
        let name = dir.strip_prefix(fixtures()).unwrap().display().to_string();
        let req = parse_req(&read(dir, "req"));
        let authz = read(dir, "authz");
        let auth = ferrogate_wire::sigv4::parse_authorization(&authz)
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        // Signers add the session token after reading `.req`; take it from the `.creq`.
        let creq_expected = read(dir, "creq");
        let mut headers = req.headers.clone();
        for line in creq_expected
            .lines()
            .filter(|l| l.starts_with("x-amz-security-token:"))
        {
            if !headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("x-amz-security-token"))
            {
                headers.push((
                    "X-Amz-Security-Token".into(),
                    line["x-amz-security-token:".len()..].into(),
                ));
            }
        }
        let pairs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let ch = canonical::canonical_headers(pairs.iter().copied(), &auth.signed_headers).unwrap();
        let creq = canonical::canonical_request(
            &req.method,
            &canonical::canonical_uri(&req.path),
            &canonical::canonical_query(&req.query),
            &ch,
            auth.signed_headers_raw,
            &canonical::sha256_hex(&req.body),
        );
        assert_eq!(creq, creq_expected, "{name}: canonical request");
        let sts = canonical::string_to_sign(
            "20150830T123600Z",
            "20150830/us-east-1/service/aws4_request",
            &creq,
        );
        assert_eq!(sts, read(dir, "sts"), "{name}: string to sign");
        let key = canonical::signing_key(
            &SecretKey::new(SECRET.into()),
            "20150830",
            "us-east-1",
            "service",
        );
        let sig = canonical::hex(&canonical::signature(&key, &sts));
        assert!(
            authz.ends_with(&format!("Signature={sig}")),
            "{name}: signature {sig} vs {authz}"
        );

        // The same request through the full verifier, as the server sees it.
        let mut signed = pairs.clone();
        signed.push(("Authorization", authz.as_str()));
        let parts = RequestParts {
            method: &req.method,
            path: &req.path,
            query: &req.query,
            headers: &signed,
            body: &req.body,
        };
        verify(&parts, "service", &Fixed, now())
            .unwrap_or_else(|e| panic!("{name}: verify: {e:?}"));

        // One flipped bit in the body or a header must fail.
        let mut tampered_body = req.body.clone();
        tampered_body.push(b'x');
        let parts = RequestParts {
            body: &tampered_body,
            ..parts
        };
        assert!(
            matches!(
                verify(&parts, "service", &Fixed, now()),
                Err(AuthError::SignatureMismatch(_))
            ),
            "{name}"
        );
    }
}

#[test]
fn double_encoding_for_non_s3_services() {
    let dir = fixtures().join("aws-signing-test-suite/v4");
    for case in ["double-url-encode", "double-encode-path"] {
        let req = fs::read_to_string(dir.join(case).join("request.txt")).unwrap();
        let path = req.lines().next().unwrap().split(' ').nth(1).unwrap();
        let creq = fs::read_to_string(dir.join(case).join("header-canonical-request.txt")).unwrap();
        assert_eq!(
            canonical::canonical_uri(path),
            creq.lines().nth(1).unwrap(),
            "{case}"
        );
    }
    // And the signature of the Lambda case through the verifier.
    let case = dir.join("double-url-encode");
    let signed = fs::read_to_string(case.join("header-signed-request.txt")).unwrap();
    let authz = signed
        .lines()
        .find_map(|l| l.strip_prefix("Authorization: "))
        .unwrap();
    let req = parse_req(&fs::read_to_string(case.join("request.txt")).unwrap());
    let mut pairs: Vec<(&str, &str)> = req
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    pairs.push(("Authorization", authz));
    let parts = RequestParts {
        method: &req.method,
        path: &req.path,
        query: &req.query,
        headers: &pairs,
        body: &req.body,
    };
    let at = Timestamp::parse_amz_date("20210511T154045Z").unwrap();
    verify(&parts, "lambda", &Fixed, at).unwrap();
}

fn vanilla() -> (Req, String) {
    let dir = fixtures().join("get-vanilla");
    (parse_req(&read(&dir, "req")), read(&dir, "authz"))
}

fn verify_with(headers: &[(&str, &str)], service: &str, at: Timestamp) -> Result<(), AuthError> {
    let parts = RequestParts {
        method: "GET",
        path: "/",
        query: "",
        headers,
        body: b"",
    };
    verify(&parts, service, &Fixed, at).map(|_| ())
}

#[test]
fn refusals() {
    let (req, authz) = vanilla();
    let base: Vec<(&str, &str)> = req
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let mut good = base.clone();
    good.push(("Authorization", &authz));
    assert_eq!(verify_with(&good, "service", now()), Ok(()));

    // Unsigned.
    assert_eq!(
        verify_with(&base, "service", now()),
        Err(AuthError::MissingAuthenticationToken)
    );
    // Unknown access key.
    let other = authz.replace("AKIDEXAMPLE", "AKIDOTHER");
    let mut h = base.clone();
    h.push(("Authorization", &other));
    assert_eq!(
        verify_with(&h, "service", now()),
        Err(AuthError::UnrecognizedClient)
    );
    // Wrong service in the scope.
    assert!(
        matches!(verify_with(&good, "kms", now()), Err(AuthError::SignatureMismatch(m)) if m.contains("correct service: 'kms'"))
    );
    // Skew: 16 minutes late and early; 14 minutes is fine.
    let late = now().plus_millis(16 * 60 * 1000);
    assert!(
        matches!(verify_with(&good, "service", late), Err(AuthError::SignatureExpired(m)) if m.starts_with("Signature expired: 20150830T123600Z is now earlier than 20150830T123700Z (20150830T125200Z - 15 min.)"))
    );
    let early = now().plus_millis(-16 * 60 * 1000);
    assert!(
        matches!(verify_with(&good, "service", early), Err(AuthError::SignatureExpired(m)) if m.starts_with("Signature not yet current"))
    );
    assert_eq!(
        verify_with(&good, "service", now().plus_millis(14 * 60 * 1000)),
        Ok(())
    );
    // Missing date header.
    let no_date: Vec<(&str, &str)> = good
        .iter()
        .copied()
        .filter(|(n, _)| !n.eq_ignore_ascii_case("x-amz-date"))
        .collect();
    assert!(matches!(
        verify_with(&no_date, "service", now()),
        Err(AuthError::IncompleteSignature(_))
    ));
    // A different signature.
    let flipped = authz.replace("Signature=5", "Signature=6");
    let mut h = base.clone();
    h.push(("Authorization", &flipped));
    assert!(matches!(
        verify_with(&h, "service", now()),
        Err(AuthError::SignatureMismatch(_))
    ));
    // Host must be signed.
    let unsigned_host = authz.replace("SignedHeaders=host;x-amz-date", "SignedHeaders=x-amz-date");
    let mut h = base.clone();
    h.push(("Authorization", &unsigned_host));
    assert!(
        matches!(verify_with(&h, "service", now()), Err(AuthError::SignatureMismatch(m)) if m.contains("'Host'"))
    );
    // An unsigned X-Amz-Target (which names the operation) is refused, even though the
    // signature over the other headers is valid.
    let mut h = good.clone();
    h.push(("X-Amz-Target", "TrentService.ScheduleKeyDeletion"));
    assert!(
        matches!(verify_with(&h, "service", now()), Err(AuthError::SignatureMismatch(m)) if m.contains("'X-Amz-Target'"))
    );
    // Region names must look like AWS's (they end up in ARNs and audit records).
    for (region, ok) in [
        ("us-east-1", true),
        ("us-gov-west-1", true),
        ("eu-central-2", true),
        ("../../etc", false),
        ("US-EAST-1", false),
        ("useast1", false),
        ("us-east-123", false),
        ("", false),
    ] {
        assert_eq!(
            ferrogate_wire::sigv4::is_region_name(region),
            ok,
            "{region}"
        );
    }
    let bad_region = authz.replace("/us-east-1/", "/x/");
    let mut h = base.clone();
    h.push(("Authorization", &bad_region));
    assert!(
        matches!(verify_with(&h, "service", now()), Err(AuthError::SignatureMismatch(m)) if m.contains("valid region, not 'x'"))
    );
    // A body hash header that lies about the body.
    let mut h = good.clone();
    h.push(("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD"));
    assert!(matches!(
        verify_with(&h, "service", now()),
        Err(AuthError::SignatureMismatch(_))
    ));
}
