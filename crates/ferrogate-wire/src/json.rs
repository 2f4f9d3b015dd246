//! awsJson1_1: decoding input members and encoding outputs and errors.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{ApiError, WireError};

/// The content type of requests and responses.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// Decodes a request body into an operation's input. An empty body is `{}`, as the SDKs
/// send for operations without members.
///
/// Unknown members are accepted and ignored: newer CLIs and SDKs add members before the
/// server knows them, and AWS itself ignores them (decided once, here).
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, WireError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| classify(&e))
}

/// Maps serde's error to AWS's: a missing required member is a validation error naming the
/// member the way AWS does (first letter lowercased); everything else is a
/// `SerializationException`. Values are never echoed, so a mistyped secret cannot reach a
/// log line through the error text.
fn classify(e: &serde_json::Error) -> WireError {
    use serde_json::error::Category;
    let text = e.to_string();
    if let Some(rest) = text.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or_default();
        return WireError::MissingParameter(format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
            lower_first(name)
        ));
    }
    let at = format!("line {}, column {}", e.line(), e.column());
    match e.classify() {
        Category::Data => {
            let expected = text
                .split("expected ")
                .nth(1)
                .and_then(|r| r.split(" at line").next())
                .unwrap_or("another type");
            WireError::Serialization(format!(
                "Invalid value for a member ({at}): expected {expected}."
            ))
        }
        Category::Syntax | Category::Eof | Category::Io => {
            WireError::Serialization(format!("The request body is not valid JSON ({at})."))
        }
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_lowercase().chain(c).collect())
        .unwrap_or_default()
}

/// Encodes an output.
pub fn encode<T: Serialize>(output: &T) -> Vec<u8> {
    // Serializing plain data structures into a Vec cannot fail; an empty object is the
    // safe answer if a bug ever makes it.
    serde_json::to_vec(output).unwrap_or_else(|_| b"{}".to_vec())
}

/// The error body `{"__type": code, "message": message}`.
pub fn error_body(e: &ApiError) -> Vec<u8> {
    let v = serde_json::json!({ "__type": e.code, "message": e.message });
    encode(&v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(rename_all = "PascalCase")]
    struct In {
        key_id: String,
        #[serde(default)]
        limit: Option<u32>,
    }

    #[test]
    fn decode_table() {
        let ok: In = decode(br#"{"KeyId":"k","Limit":5,"Unknown":true}"#).unwrap();
        assert_eq!((ok.key_id.as_str(), ok.limit), ("k", Some(5)));
        let cases: [(&[u8], &str); 5] = [
            (b"{", "not valid JSON"),
            (b"not json", "not valid JSON"),
            (br#"{"KeyId":5}"#, "expected a string"),
            (br#"{"KeyId":"k","Limit":"secret"}"#, "expected u32"),
            (
                br#"{"Limit":1}"#,
                "Value null at 'keyId' failed to satisfy constraint: Member must not be null",
            ),
        ];
        for (body, want) in cases {
            let e = decode::<In>(body).unwrap_err();
            let m = e.to_string();
            assert!(
                m.contains(want),
                "{:?} -> {m}",
                String::from_utf8_lossy(body)
            );
            assert!(!m.contains("secret"), "{m}");
        }
    }

    #[test]
    fn empty_body_is_empty_object() {
        #[derive(serde::Deserialize)]
        struct Empty {}
        assert!(decode::<Empty>(b"").is_ok());
        assert!(decode::<Empty>(b"  ").is_ok());
    }

    #[test]
    fn error_shape() {
        let e = ApiError {
            code: "NotFoundException",
            status: 400,
            message: "m \"q\"".into(),
            internal: false,
        };
        let v: serde_json::Value = serde_json::from_slice(&error_body(&e)).unwrap();
        assert_eq!(v["__type"], "NotFoundException");
        assert_eq!(v["message"], "m \"q\"");
    }
}
