//! Typed outputs on the wire: awsJson1_1 bodies, awsQuery XML documents, and the errors of
//! both protocols. Every 4xx and 5xx carries its protocol's own error body.

use ferrogate_wire::ec2::{self, Ec2Writer};
use ferrogate_wire::query::XmlWriter;
use ferrogate_wire::{json, query, ApiError, Protocol};
use serde::Serialize;

/// An answer, ready for HTTP. `Debug` leaves the body out (it may hold a secret).
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(&'static str, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Answer")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// A successful answer.
pub fn ok(protocol: Protocol, body: Vec<u8>, request_id: &str) -> Answer {
    let ct = match protocol {
        Protocol::Json11 => json::CONTENT_TYPE,
        Protocol::Query => query::XML_CONTENT_TYPE,
        Protocol::Ec2 => ec2::XML_CONTENT_TYPE,
    };
    Answer {
        status: 200,
        headers: vec![
            ("x-amzn-RequestId", request_id.to_owned()),
            ("content-type", ct.to_owned()),
        ],
        body,
    }
}

/// An error in `protocol`'s shape: `{"__type","message"}` with `x-amzn-ErrorType` for
/// awsJson1_1, `<ErrorResponse>` in `xmlns` for awsQuery, `<Response><Errors>` for EC2.
pub fn error(e: &ApiError, protocol: Protocol, xmlns: &str, request_id: &str) -> Answer {
    let mut headers = vec![("x-amzn-RequestId", request_id.to_owned())];
    let body = match protocol {
        Protocol::Json11 => {
            headers.push(("content-type", json::CONTENT_TYPE.to_owned()));
            headers.push(("x-amzn-ErrorType", e.code.to_owned()));
            json::error_body(e)
        }
        Protocol::Query => {
            headers.push(("content-type", query::XML_CONTENT_TYPE.to_owned()));
            query::error_body(e, xmlns, request_id).into_bytes()
        }
        Protocol::Ec2 => {
            headers.push(("content-type", ec2::XML_CONTENT_TYPE.to_owned()));
            ec2::error_body(e, request_id).into_bytes()
        }
    };
    Answer {
        status: e.status,
        headers,
        body,
    }
}

/// A growable buffer that wipes every allocation it leaves behind: answers may hold a
/// plaintext (Decrypt, GenerateDataKey), and a plain `Vec` would leave copies of it in
/// freed memory each time it grows.
struct WipingBuf(Vec<u8>);

impl std::io::Write for WipingBuf {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.0.len() + data.len() > self.0.capacity() {
            let want = (self.0.len() + data.len()).max(2 * self.0.capacity());
            let mut grown = Vec::with_capacity(want);
            grown.extend_from_slice(&self.0);
            zeroize::Zeroize::zeroize(&mut self.0);
            self.0 = grown;
        }
        self.0.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Encodes a JSON output. Serializing plain data into memory cannot fail; should a bug make
/// it, the answer is `{}` rather than a partial document.
pub fn json_body<T: Serialize>(output: &T) -> Vec<u8> {
    let mut buf = WipingBuf(Vec::with_capacity(1024));
    if serde_json::to_writer(&mut buf, output).is_err() {
        zeroize::Zeroize::zeroize(&mut buf.0);
        return b"{}".to_vec();
    }
    buf.0
}

/// An awsQuery output: what goes inside `<{Operation}Result>`.
pub trait XmlOutput {
    /// False for operations whose answer has no `Result` element (`DeleteUser`).
    const HAS_RESULT: bool;
    /// Writes the members.
    fn write(&self, w: &mut XmlWriter);
}

/// The output of an awsQuery operation that answers with `ResponseMetadata` only.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoResult;

impl XmlOutput for NoResult {
    const HAS_RESULT: bool = false;
    fn write(&self, _: &mut XmlWriter) {}
}

/// The whole document of an awsQuery answer.
pub fn xml_body<T: XmlOutput>(
    operation: &str,
    xmlns: &str,
    output: &T,
    request_id: &str,
) -> Vec<u8> {
    let mut w = if T::HAS_RESULT {
        XmlWriter::response(operation, xmlns)
    } else {
        XmlWriter::response_without_result(operation, xmlns)
    };
    output.write(&mut w);
    w.finish(request_id).into_bytes()
}

/// An EC2 output: the members of `<{Operation}Response>` after `<requestId>`.
pub trait Ec2Output {
    /// Writes the members.
    fn write(&self, w: &mut Ec2Writer);
}

/// The whole document of an EC2 answer.
pub fn ec2_body<T: Ec2Output>(
    operation: &str,
    xmlns: &str,
    output: &T,
    request_id: &str,
) -> Vec<u8> {
    let mut w = Ec2Writer::response(operation, xmlns, request_id);
    output.write(&mut w);
    w.finish().into_bytes()
}

/// The output of an EC2 operation that answers `<return>true</return>` (DeleteVpc,
/// CreateTags, …).
#[derive(Debug, Clone, Copy, Default)]
pub struct Ec2Return;

impl Ec2Output for Ec2Return {
    fn write(&self, w: &mut Ec2Writer) {
        w.flag("return", true);
    }
}

/// The output of a JSON operation that answers `{}`.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Empty {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_bodies_survive_growth() {
        let big = "x".repeat(10_000);
        let v = serde_json::json!({ "Plaintext": big });
        let out: serde_json::Value = serde_json::from_slice(&json_body(&v)).unwrap();
        assert_eq!(out, v);
        assert_eq!(json_body(&Empty {}), b"{}");
    }

    #[test]
    fn errors_have_the_protocols_shape() {
        let e = ApiError {
            code: "ValidationError",
            status: 400,
            message: "bad <thing>".into(),
            internal: false,
        };
        let j = error(&e, Protocol::Json11, "", "rid");
        assert_eq!(j.status, 400);
        let v: serde_json::Value = serde_json::from_slice(&j.body).unwrap();
        assert_eq!(v["__type"], "ValidationError");
        assert!(j
            .headers
            .iter()
            .any(|(k, v)| *k == "x-amzn-ErrorType" && v == "ValidationError"));
        let q = error(
            &e,
            Protocol::Query,
            "https://iam.amazonaws.com/doc/2010-05-08/",
            "rid",
        );
        let body = String::from_utf8(q.body).unwrap();
        assert!(body.contains("<Code>ValidationError</Code>"), "{body}");
        assert!(body.contains("bad &lt;thing&gt;"), "{body}");
        let e2 = error(&e, Protocol::Ec2, "", "rid");
        assert_eq!(e2.status, 400);
        let body = String::from_utf8(e2.body).unwrap();
        assert!(body.contains("<Response><Errors><Error><Code>ValidationError</Code><Message>bad &lt;thing&gt;</Message></Error></Errors><RequestID>rid</RequestID></Response>"), "{body}");
        assert!(e2
            .headers
            .iter()
            .any(|(k, v)| *k == "content-type" && v.starts_with("text/xml")));
    }
}
